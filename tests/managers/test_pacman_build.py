"""A pacman stage pinner locked, built for real: buildah builds the rewritten Dockerfile on an
image holding Debian's pacman with Arch's own pacman.conf, mirrorlist and os-release, against a
stand-in archive.archlinux.org holding two days of repositories that repo-add made.

Signatures: pacman.conf stays Arch's (`SigLevel = Required DatabaseOptional`). The test packages
are signed by a key the test makes, and the image's keyring (/etc/pacman.d/gnupg) trusts that key
instead of Arch's packagers' keys; nothing is relaxed. The negative control proves it: the same
packages without signatures make the build fail.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

import pytest
from arch_repo import Pkg, local_desc, packager_key, pacman_keyring, repo_add, stop_agent
from buildah import Buildah, BuildahError
from debian_image import push_oci_image
from leftover_roots import present
from manager_image import overlaid
from registryd import Registry, push_image
from shell_syntax import run_errors
from stand_in import Mirror, build_marks, locked_folder

from pinner import lockfile
from pinner.managers import pacman

pytestmark = build_marks("repo-add", "gpg")

ARCH = Path(__file__).resolve().parents[2] / "testdata" / "arch"
SNAPSHOT = "20261201T101500Z"  # archive day 2026/11/30
DAY = "2026/11/30"
# What archlinux:base has installed already (its local database); the repositories serve them too.
# Each test package holds /usr/share/doc/NAME, so no name may be one of Debian's doc folders in
# the base image (bash's is, and is in the local database, so pacman installs it never).
INSTALLED = [Pkg("glibc", "2.40-1"), Pkg("bash", "5.2.026-2", depends=["glibc"], provides=["sh"])]
DAYS = {
    DAY: {
        "core": [
            *INSTALLED,
            Pkg("curl", "8.10.1-1", depends=["glibc", "openssl"]),
            Pkg("openssl", "3.4.0-1", depends=["glibc"]),
            Pkg("zlib", "1:1.3.1-2", depends=["glibc"]),
        ],
        "extra": [Pkg("git", "2.47.0-1", depends=["curl", "pcre2", "sh"])],
        "community": [Pkg("pcre2", "10.44-1", depends=["glibc"])],
    },
    "2026/12/09": {
        "core": [
            *INSTALLED,
            Pkg("curl", "8.11.0-1", depends=["glibc", "openssl"]),
            Pkg("openssl", "3.4.0-1", depends=["glibc"]),
            Pkg("zlib", "1:1.3.1-2", depends=["glibc"]),
        ],
        "extra": [Pkg("git", "2.47.1-1", depends=["curl", "pcre2", "sh"])],
        "community": [Pkg("pcre2", "10.44-1", depends=["glibc"])],
    },
}
# `pacman -Scc --noconfirm` is a common last line, but --noconfirm answers "remove ALL files from
# cache? [y/N]" with its default, no: the cache stays unless pinner's cleanup is appended.
DOCKERFILE = """\
FROM archlinux:base
RUN pacman -Syu --noconfirm --needed git
RUN pacman -S --noconfirm --needed curl zlib \\
    && pacman -Scc --noconfirm
"""


class Archive(NamedTuple):
    """The stand-in archive.archlinux.org: served over HTTP from root/repos/YYYY/MM/DD/."""

    mirror: Mirror
    root: Path
    unsigned: Path  # the same packages without signatures, for the negative control


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """The packager's gpg home and the files of a pacman keyring that trusts its key."""
    folder = tmp_path_factory.mktemp("gpg")
    fingerprint = packager_key(folder / "packager")
    keyring = pacman_keyring(folder / "packager", fingerprint, folder / "keyring")
    yield folder / "packager", keyring
    for home in ("packager", "keyring"):
        stop_agent(folder / home)


@pytest.fixture(scope="module")
def archive(
    keys: tuple[Path, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Archive]:
    root = tmp_path_factory.mktemp("archive")
    unsigned = tmp_path_factory.mktemp("unsigned")
    for day, repos in DAYS.items():
        for name, pkgs in repos.items():
            repo_add(root / "repos" / day / name / "os" / "x86_64", name, pkgs, gnupghome=keys[0])
    for name, pkgs in DAYS[DAY].items():
        repo_add(unsigned / name / "os" / "x86_64", name, pkgs)
    with Mirror(root=root) as served:
        yield Archive(served, root, unsigned)


@pytest.fixture(scope="module")
def hub(
    registry: Registry,
    keys: tuple[Path, dict[str, bytes]],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The test registry as Docker Hub: archlinux:base and a Dockerfile frontend."""
    files = {
        "/etc/os-release": (ARCH / "os-release").read_bytes(),
        "/etc/pacman.conf": (ARCH / "pacman.conf-docker-rootfs").read_bytes(),
        "/etc/pacman.d/mirrorlist": (ARCH / "mirrorlist").read_bytes(),
        "/var/lib/pacman/local/ALPM_DB_VERSION": b"9\n",
        **{f"/etc/pacman.d/gnupg/{name}": data for name, data in keys[1].items()},
    }
    for pkg in INSTALLED:
        entry = f"/var/lib/pacman/local/{pkg.name}-{pkg.version}"
        files[f"{entry}/desc"] = local_desc(pkg).encode()
        files[f"{entry}/files"] = b"%FILES%\n\n"
    image = overlaid(files, tmp_path_factory.mktemp("archlinux-base"))
    push_oci_image(image, registry.url, "library/archlinux", "base")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


@pytest.fixture(scope="module")
def locked(hub: str, archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding DOCKERFILE, locked at SNAPSHOT against the stand-in archive."""
    mirror = f"arch={archive.mirror.url}/repos"
    return locked_folder(
        tmp_path_factory, DOCKERFILE, hub, "--snapshot", SNAPSHOT, "--snapshot-mirror", mirror
    )


@pytest.fixture(scope="module")
def builder(hub: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    with Buildah(tmp_path_factory.mktemp("buildah"), docker_io_mirror=hub) as b:
        yield b


def test_the_locked_dockerfile_builds_and_installs_exactly_the_lock(
    locked: Path, archive: Archive, builder: Buildah
) -> None:
    text = (locked / "Dockerfile").read_text()
    assert run_errors(text) == []
    assert (
        f"# pinner: pacman snapshot {SNAPSHOT}\n"
        f"RUN echo 'Server = {archive.mirror.url}/repos/{DAY}/$repo/os/$arch'"
        " > /etc/pacman.d/mirrorlist\n"
    ) in text
    lock = lockfile.parse((locked / "Dockerfile.lock").read_text(), "Dockerfile.lock")
    (stage,) = lock.stages
    recorded = {p.name: p for p in stage.packages}
    assert sorted(recorded) == ["curl", "git", "openssl", "pcre2", "zlib"]

    archive.mirror.log.clear()
    builder.bud(locked, "localhost/pinned-arch")
    fetched = list(archive.mirror.log)

    # Every file pacman asked for is the snapshot day's; the packages are the lock's files.
    assert fetched and all(path.startswith(f"/repos/{DAY}/") for path in fetched), fetched
    # The lock names each file by its path under the day (core/os/x86_64/...); zlib's epoch puts
    # a colon in its name, which pacman may send percent-encoded.
    packages = {unquote(p) for p in fetched if p.endswith(".pkg.tar.gz")}
    assert packages == {f"/repos/{DAY}/{p.filename}" for p in stage.packages}
    day = archive.root / "repos" / DAY
    for package in stage.packages:
        data = (day / package.filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == package.sha256

    # pacman -Q: what the image had, plus the lock's packages at the lock's versions.
    installed = builder.run_in("localhost/pinned-arch", "pacman", "-Q").splitlines()
    expected = {f"{p.name} {p.version}" for p in INSTALLED}
    expected |= {f"{p.name} {p.version}" for p in stage.packages}
    assert sorted(installed) == sorted(expected)

    # Signature checking is as Arch's pacman.conf says, and the cleanup pinner added worked.
    conf = builder.run_in("localhost/pinned-arch", "cat", "/etc/pacman.conf")
    assert conf == (ARCH / "pacman.conf-docker-rootfs").read_text()
    cache = builder.run_in("localhost/pinned-arch", "ls", "-A", "/var/cache/pacman/pkg")
    assert cache == ""
    left = builder.run_in("localhost/pinned-arch", "sh", "-c", present(pacman._LEFTOVERS))
    assert left == ""


def test_negative_control_unsigned_packages_fail_the_build(
    locked: Path, archive: Archive, builder: Buildah
) -> None:
    """The keyring is what lets the build pass: the day's packages unsigned are refused."""
    day = archive.root / "repos" / DAY
    signed = day.with_name("signed")
    day.rename(signed)
    shutil.copytree(archive.unsigned, day)
    try:
        with pytest.raises(BuildahError) as failed:
            builder.bud(locked, "localhost/unsigned-arch")
    finally:
        shutil.rmtree(day)
        signed.rename(day)
    assert "missing required signature" in str(failed.value) or ".sig" in str(failed.value)
