"""Fixtures the apt tests share."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def debian_root(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A real bookworm minbase root filesystem (tests/debian_image.py), extracted for chroot."""
    if os.geteuid() != 0 or not shutil.which("mmdebstrap") or not shutil.which("chroot"):
        pytest.skip("needs root, mmdebstrap and chroot")
    debian_image = pytest.importorskip("debian_image")
    spec = debian_image.DebianImageSpec(sources=request.param)
    image = debian_image.build_debian_image(debian_image.default_cache_dir(), spec)
    root = tmp_path / "rootfs"
    with tarfile.open(image.blob_path(image.manifest()["layers"][0]["digest"])) as layer:
        layer.extractall(root, filter="fully_trusted")
    os.mknod(root / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    (root / "dev/null").chmod(0o666)  # mknod applies the umask
    if request.param == "one-line":  # mmdebstrap writes only the release line: add the others
        with (root / "etc/apt/sources.list").open("a") as listing:
            listing.write(
                "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
                " http://deb.debian.org/debian-security bookworm-security main\n"
                "deb http://deb.debian.org/debian/ bookworm-updates main\n"
            )
    yield root
