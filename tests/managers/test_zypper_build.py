"""A zypper stage pinner locked, built for real: buildah builds the rewritten Dockerfile on an
image holding Debian's zypper (libzypp) and rpm with openSUSE Tumbleweed's os-release and
repo-oss.repo, against a stand-in download.opensuse.org/history holding two released snapshots
whose repodata createrepo_c made from RPMs rpmbuild built.

What is relaxed: repo-oss.repo says gpgcheck=0 (Tumbleweed's says gpgcheck=1): the test's
repomd.xml and RPMs are unsigned, and no openSUSE key can sign them here. That line is the test's
base image's configuration; pinner's step only re-points the baseurl.

The FROM is fully qualified: buildah resolves the short name `opensuse/tumbleweed` through
containers-common's aliases to registry.opensuse.org, not to docker.io where pinner looks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from buildah import Buildah
from debian_image import push_oci_image
from leftover_roots import present
from manager_image import overlaid
from registryd import Registry, push_image
from rpmrepo import Spec, build_repo
from shell_syntax import run_errors
from stand_in import Mirror, build_marks, locked_folder

from pinner import lockfile
from pinner.managers import zypper

pytestmark = build_marks("rpmbuild", "createrepo_c")

REGISTRY = "registry.opensuse.org"
OS_RELEASE = (
    b'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n'
    b'VERSION_ID="20261125"\nPRETTY_NAME="openSUSE Tumbleweed"\n'
)
REPO_OSS = b"""[repo-oss]
name=openSUSE-Tumbleweed-Oss
enabled=1
autorefresh=1
baseurl=http://download.opensuse.org/tumbleweed/repo/oss/
path=/
type=rpm-md
keeppackages=0
gpgcheck=0
"""
# Debian's rpm keeps its database in ~/.rpmdb; openSUSE's is /usr/lib/sysimage/rpm.
MACROS = b"%_dbpath /usr/lib/sysimage/rpm\n"
SNAPSHOT = "20261201T101500Z"  # history date 20261128
SNAPSHOTS = {
    "20261128": [
        Spec("curl", "8.10.1", requires=("libcurl4",)),
        Spec("libcurl4", "8.10.1", recommends=("ca-certificates",)),
        Spec("ca-certificates", "2024.1"),
    ],
    "20261208": [
        Spec("curl", "8.11.0", requires=("libcurl4",)),
        Spec("libcurl4", "8.11.0", recommends=("ca-certificates",)),
        Spec("ca-certificates", "2024.2"),
    ],
}
DOCKERFILE = f"""\
FROM {REGISTRY}/opensuse/tumbleweed
RUN zypper --non-interactive install --no-recommends curl
"""


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mirror, Path]]:
    root = tmp_path_factory.mktemp("opensuse")
    for date, specs in SNAPSHOTS.items():
        build_repo(specs, root / "history" / date / "tumbleweed" / "repo" / "oss")
    (root / "history" / "list").write_text("20261120\n" + "\n".join(SNAPSHOTS) + "\n")
    with Mirror(root=root) as served:
        yield served, root


@pytest.fixture(scope="module")
def hub(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test registry as registry.opensuse.org and Docker Hub."""
    files = {
        "/etc/os-release": OS_RELEASE,
        "/etc/rpm/macros": MACROS,
        "/etc/zypp/repos.d/repo-oss.repo": REPO_OSS,
    }
    image = overlaid(files, tmp_path_factory.mktemp("tumbleweed"))
    push_oci_image(image, registry.url, "opensuse/tumbleweed", "latest")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


@pytest.fixture(scope="module")
def locked(
    hub: str, history: tuple[Mirror, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A folder holding DOCKERFILE, locked at SNAPSHOT against the stand-in history."""
    mirrors = [f"--snapshot-mirror=opensuse={history[0].url}/history"]
    mirrors.append(f"--registry-mirror={REGISTRY}=http://{hub}")
    return locked_folder(tmp_path_factory, DOCKERFILE, hub, "--snapshot", SNAPSHOT, *mirrors)


@pytest.fixture(scope="module")
def builder(hub: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    with Buildah(tmp_path_factory.mktemp("buildah"), hub, mirrored=("docker.io", REGISTRY)) as b:
        yield b


def test_the_locked_dockerfile_builds_and_installs_exactly_the_lock(
    locked: Path, history: tuple[Mirror, Path], builder: Buildah
) -> None:
    served, root = history
    text = (locked / "Dockerfile").read_text()
    assert run_errors(text) == []
    assert f"baseurl={served.url}/history/20261128/tumbleweed/#'" in text
    lock = lockfile.parse((locked / "Dockerfile.lock").read_text(), "Dockerfile.lock")
    (stage,) = lock.stages
    assert {p.name: p.version for p in stage.packages} == {
        "curl": "8.10.1-1",
        "libcurl4": "8.10.1-1",
    }

    served.log.clear()
    builder.bud(locked, "localhost/pinned-tumbleweed")
    fetched = [unquote(p) for p in served.log]

    # zypper read only the snapshot's tree and fetched exactly the lock's files.
    day = "/history/20261128/tumbleweed/repo/oss/"
    assert fetched and all(p.startswith(day) for p in fetched), fetched
    assert {p for p in fetched if p.endswith(".rpm")} == {day + p.filename for p in stage.packages}
    for package in stage.packages:
        data = (root / day.strip("/") / package.filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == package.sha256

    # libzypp picks the rpm database's folder itself, whatever the macros say: ask each.
    script = (
        "for db in /usr/lib/sysimage/rpm /var/lib/rpm /root/.rpmdb; do"
        ' [ -e "$db/rpmdb.sqlite" ] && rpm -qa --dbpath "$db" --qf "$db %{NAME} %{VERSION}-%{RELEASE}\\n";'
        " done; true"
    )
    rows = builder.run_in("localhost/pinned-tumbleweed", "sh", "-c", script).splitlines()
    assert len({row.split()[0] for row in rows}) == 1, rows
    installed = sorted(row.split(" ", 1)[1] for row in rows)
    assert installed == sorted(f"{p.name} {p.version}" for p in stage.packages)
    # The cleanup removed zypper's logs and libzypp's id (which zypper wrote, on root /).
    left = builder.run_in("localhost/pinned-tumbleweed", "sh", "-c", present(zypper._LEFTOVERS))
    assert left == ""
