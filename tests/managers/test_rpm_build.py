"""A dnf stage pinner locked with --pin-versions, built for real: buildah builds the rewritten
Dockerfile on an image holding Debian's dnf and rpm with a CentOS Stream 9 os-release, an rpmdb
at CentOS's path and a .repo file whose baseurl is a stand-in serving RPMs that rpmbuild made,
indexed by createrepo_c.

What is relaxed: the .repo file says gpgcheck=0, as the test RPMs are unsigned (rpmbuild signs
nothing, and no distribution key can sign them here). That line is the test's base image's
configuration; pinner writes nothing about signatures into the Dockerfile.

The FROM is fully qualified, as CentOS documents it: buildah resolves the short name `centos`
through containers-common's aliases to quay.io, not to docker.io where pinner (as Docker) looks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

import pytest
from buildah import Buildah, BuildahError
from debian_image import push_oci_image
from leftover_roots import present
from manager_image import overlaid
from registryd import Registry, push_image
from rpmrepo import Spec, build_repo, dnf_install, modular_repo, modulemd, rpmdb_path
from shell_syntax import run_errors
from stand_in import Mirror, build_marks, locked_folder

from pinner import lockfile
from pinner.managers.rpmcommands import _DNF4

pytestmark = build_marks("rpmbuild", "createrepo_c")

OS_RELEASE = (
    b'NAME="CentOS Stream"\nVERSION="9"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\n'
    b'PLATFORM_ID="platform:el9"\nPRETTY_NAME="CentOS Stream 9"\n'
)
# Debian's rpm keeps its database in ~/.rpmdb; CentOS's is /var/lib/rpm, where pinner reads it.
MACROS = b"%_dbpath /var/lib/rpm\n"
BASEOS = [
    Spec("base", "1.0"),
    Spec("lib", "1.5"),
    Spec("lib", "2.1"),
    Spec("app", "1.0", requires=("lib >= 2.0", "/usr/bin/tool"), recommends=("weak",)),
    Spec("toolpkg", "1.0", files=("/usr/bin/tool",)),
    Spec("weak", "1.0"),
    Spec("extra", "1.0", epoch=2, requires=("base",), recommends=("weak",)),
]
INSTALLED = ["base", "lib-1.5"]  # in the base image's rpmdb
DOCKERFILE = """\
FROM quay.io/centos/centos:stream9
RUN dnf install -y --setopt=install_weak_deps=False app \\
    && dnf clean all
RUN dnf install -y extra
"""


# An AppStream in small: a plain nodejs beside the modular builds of streams 18 and 20, neither
# of them default (as on EL 9).
APPSTREAM = [
    Spec("nodejs", "16.0"),
    Spec("nodejs", "18.0", "1.module_el9", epoch=1),
    Spec("nodejs", "20.0", "1.module_el9", epoch=1),
]
APPSTREAM_MODULES = "".join(
    modulemd("nodejs", s, 9000020240101, "c9a", "el9", [f"nodejs-1:{s}.0-1.module_el9.noarch"])
    for s in ("18", "20")
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A served folder: baseos/ with Packages/ and repodata/, and appstream/repo/ with a
    modules.yaml."""
    root = tmp_path_factory.mktemp("served")
    build_repo(BASEOS, root / "baseos")
    modular_repo(APPSTREAM, APPSTREAM_MODULES, root / "appstream")
    return root


@pytest.fixture(scope="module")
def mirror(repo: Path) -> Iterator[Mirror]:
    with Mirror(root=repo) as served:
        yield served


@pytest.fixture(scope="module")
def hub(
    registry: Registry, repo: Path, mirror: Mirror, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The test registry as quay.io and Docker Hub: centos/centos:stream9, a Dockerfile frontend."""
    installed = tmp_path_factory.mktemp("installed")
    dnf_install(installed, repo / "baseos", INSTALLED)
    stand_in = (
        "[baseos]\n"
        "name=CentOS Stream 9 - BaseOS (stand-in)\n"
        f"baseurl={mirror.url}/baseos/\n"
        "gpgcheck=0\n"
        "enabled=1\n"
    )
    files = {
        "/etc/os-release": OS_RELEASE,
        "/etc/rpm/macros": MACROS,
        "/etc/yum.repos.d/centos.repo": stand_in.encode(),
        "/var/lib/rpm/rpmdb.sqlite": rpmdb_path(installed).read_bytes(),
    }
    image = overlaid(files, tmp_path_factory.mktemp("centos-stream9"))
    push_oci_image(image, registry.url, "centos/centos", "stream9")
    appstream = f"[appstream]\nbaseurl={mirror.url}/appstream/repo/\ngpgcheck=0\nenabled=1\n"
    files["/etc/yum.repos.d/appstream.repo"] = appstream.encode()
    image = overlaid(files, tmp_path_factory.mktemp("centos-stream9-appstream"))
    push_oci_image(image, registry.url, "centos/centos", "stream9-appstream")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


@pytest.fixture(scope="module")
def locked(hub: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding DOCKERFILE, locked with --pin-versions."""
    quay = f"quay.io=http://{hub}"
    return locked_folder(
        tmp_path_factory, DOCKERFILE, hub, "--pin-versions", "--registry-mirror", quay
    )


@pytest.fixture(scope="module")
def builder(hub: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    with Buildah(tmp_path_factory.mktemp("buildah"), hub, mirrored=("docker.io", "quay.io")) as b:
        yield b


class Built(NamedTuple):
    """The locked stage, the .rpm files dnf fetched during the build, what rpm -qa lists after."""

    stage: lockfile.LockedStage
    fetched: set[str]
    installed: set[str]


@pytest.fixture(scope="module")
def built(locked: Path, mirror: Mirror, builder: Buildah) -> Built:
    text = (locked / "Dockerfile").read_text()
    assert run_errors(text) == []
    lock = lockfile.parse((locked / "Dockerfile.lock").read_text(), "Dockerfile.lock")
    (stage,) = lock.stages
    mirror.log.clear()
    builder.bud(locked, "localhost/pinned-centos")
    fetched = {unquote(p) for p in mirror.log if p.endswith(".rpm")}
    query = "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\\n"
    rows = builder.run_in("localhost/pinned-centos", "rpm", "-qa", "--qf", query)
    # Once in five runs rpm -qa printed nothing here (rc 0); its database then, for the message.
    if not rows.strip():
        script = "ls -la /var/lib/rpm; rpm -qa 2>&1; echo rc=$?"
        rows = "rpm -qa printed nothing:\n" + builder.run_in(
            "localhost/pinned-centos", "sh", "-c", script
        )
    return Built(stage, fetched, set(rows.splitlines()))


def nevra(package: lockfile.LockedPackage) -> str:
    """`name [epoch:]version-release.arch` as rpm -qa prints it here, from a lock's package."""
    return f"{package.name} {package.version}.{package.filename.rsplit('.', 2)[1]}"


def test_the_pinned_dockerfile_builds_with_the_lock_s_versions(
    locked: Path, repo: Path, built: Built
) -> None:
    stage = built.stage
    assert (stage.package_manager, stage.distro, stage.release) == ("dnf", "centos", "9")
    text = (locked / "Dockerfile").read_text()
    assert "install_weak_deps=False app-1.0-1 \\\n" in text
    assert "dnf install -y extra-2:1.0-1 \\\n" in text
    # The pinned words built: every package dnf installed (beyond the image's rpmdb) is in the
    # lock at the NEVRA dnf installed, fetched as the file whose sha256 the lock records.
    assert "base 1.0-1.noarch" in built.installed, built.installed
    added = built.installed - {"base 1.0-1.noarch"}
    recorded = {nevra(p): p for p in stage.packages}
    assert added <= set(recorded), added - set(recorded)
    assert {nevra(p) for p in stage.packages if p.name in ("app", "lib", "toolpkg", "extra")} == {
        "app 1.0-1.noarch",
        "lib 2.1-1.noarch",
        "toolpkg 1.0-1.noarch",
        "extra 2:1.0-1.noarch",
    }
    assert built.fetched == {f"/baseos/{recorded[n].filename}" for n in added}
    for row in added:
        package = recorded[row]
        data = (repo / "baseos" / package.filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == package.sha256


def test_the_lock_records_nothing_dnf_did_not_install(built: Built) -> None:
    # app (RUN 1, weak deps off) recommends weak, so RUN 2's extra does not pull weak in:
    # dnf's exclude_from_weak_autodetect.
    assert {nevra(p) for p in built.stage.packages} == built.installed - {"base 1.0-1.noarch"}


def test_the_cleanup_left_no_history_log_or_ldconfig_cache(built: Built, builder: Buildah) -> None:
    left = builder.run_in("localhost/pinned-centos", "sh", "-c", present(_DNF4))
    assert left == ""


# dnf -C installs only what the cache holds: RUN 1 downloads weak into it, RUN 2 installs it.
CACHE_DOCKERFILE = """\
FROM quay.io/centos/centos:stream9
RUN dnf install -y toolpkg && dnf install -y --downloadonly weak
RUN dnf -C install -y weak
"""


@pytest.fixture(scope="module")
def cache_locked(hub: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding CACHE_DOCKERFILE, locked with --pin-versions."""
    quay = f"quay.io=http://{hub}"
    return locked_folder(
        tmp_path_factory, CACHE_DOCKERFILE, hub, "--pin-versions", "--registry-mirror", quay
    )


def test_a_later_cacheonly_run_installs_from_the_cache_the_first_run_keeps(
    cache_locked: Path, mirror: Mirror, builder: Buildah
) -> None:
    text = (cache_locked / "Dockerfile").read_text()
    assert run_errors(text) == []
    first, second = (line for line in text.split("\nRUN ")[1:])
    assert "dnf clean all" not in first
    assert "rm -rf /var/lib/dnf/history.*" in first
    assert second.startswith("dnf -C install -y weak-1.0-1 \\\n    && dnf clean all && rm -rf ")
    mirror.log.clear()
    builder.bud(cache_locked, "localhost/pinned-centos-cache")
    # RUN 2 fetched nothing: weak's file came once, into the cache RUN 1 left.
    fetched = [unquote(p) for p in mirror.log if p.endswith(".rpm")]
    assert [p.rpartition("/")[2] for p in fetched if "weak" in p] == ["weak-1.0-1.noarch.rpm"]
    rows = builder.run_in("localhost/pinned-centos-cache", "rpm", "-q", "weak", "toolpkg")
    assert rows.split() == ["weak-1.0-1.noarch", "toolpkg-1.0-1.noarch"]


def test_the_same_build_fails_where_the_first_run_cleans_the_cache(
    cache_locked: Path, builder: Buildah, tmp_path: Path
) -> None:
    """What pinner wrote before it kept the cache: `dnf clean all` after RUN 1 leaves RUN 2's
    dnf -C no cache to read, and the build fails."""
    text = (cache_locked / "Dockerfile").read_text()
    cleaned = text.replace("\n    && rm -rf ", "\n    && dnf clean all && rm -rf ", 1)
    assert cleaned.count("dnf clean all") == 2
    (tmp_path / "Dockerfile").write_text(cleaned)
    with pytest.raises(BuildahError, match="Cache-only enabled but no cache for 'baseos'"):
        builder.bud(tmp_path, "localhost/cleaned-centos-cache")


# The stream the RUN enables decides which nodejs dnf installs; pinner pins that stream's build.
MODULE_DOCKERFILE = """\
FROM quay.io/centos/centos:stream9-appstream
RUN dnf -y module enable nodejs:18 && dnf install -y nodejs
"""


def test_a_word_after_a_module_enable_builds_pinned_to_the_stream(
    hub: str, mirror: Mirror, builder: Buildah, tmp_path_factory: pytest.TempPathFactory
) -> None:
    quay = f"quay.io=http://{hub}"
    folder = locked_folder(
        tmp_path_factory, MODULE_DOCKERFILE, hub, "--pin-versions", "--registry-mirror", quay
    )
    text = (folder / "Dockerfile").read_text()
    assert "dnf -y module enable nodejs:18 && dnf install -y nodejs-1:18.0-1.module_el9" in text
    assert run_errors(text) == []
    (stage,) = lockfile.parse((folder / "Dockerfile.lock").read_text(), "lock").stages
    assert [nevra(p) for p in stage.packages if p.name == "nodejs"] == [
        "nodejs 1:18.0-1.module_el9.noarch"
    ]
    mirror.log.clear()
    builder.bud(folder, "localhost/pinned-centos-module")
    fetched = [unquote(p).rpartition("/")[2] for p in mirror.log if p.endswith(".rpm")]
    assert fetched == ["nodejs-18.0-1.module_el9.noarch.rpm"]
    rows = builder.run_in("localhost/pinned-centos-module", "rpm", "-q", "nodejs")
    assert rows.split() == ["nodejs-18.0-1.module_el9.noarch"]
