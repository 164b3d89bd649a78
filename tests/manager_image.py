"""Base images for real builds of pacman, dnf and zypper stages: Debian's own builds of those
package managers (mmdebstrap, cached) with another distribution's files laid over the root.

No Arch, CentOS or openSUSE image can be pulled here, but Debian ships the real package managers.
`overlaid` rewrites the cached one-layer root with the distribution's configuration files (its
os-release, pacman.conf or .repo files, keyrings, local databases) into a new one-layer image, so
pinner reads them as it reads a real image's only layer, and buildah builds on top of it.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from debian_image import (
    DebianImageSpec,
    OciImage,
    build_debian_image,
    default_cache_dir,
    gzip_layer,
    write_layout,
)

# pacman-package-manager brings libgpgme, which needs gpg to check package signatures.
MANAGERS = DebianImageSpec(
    sources="deb822", include=("pacman-package-manager", "gpg", "dnf", "rpm", "zypper")
)
MTIME = 1_700_000_000


def managers_image() -> OciImage:
    """Debian bookworm minbase with pacman, dnf, rpm and zypper installed (built once, cached)."""
    return build_debian_image(default_cache_dir() / "images", MANAGERS)


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def overlaid(
    files: Mapping[str, bytes], dest: Path, modes: Mapping[str, int] | None = None
) -> OciImage:
    """managers_image() with files (absolute path -> bytes) replacing or adding root entries.

    Written as an OCI layout under dest with one gzip layer, as a distribution's base image is.
    A symlink at a replaced path (Debian's /etc/os-release) goes; missing parents are added.
    """
    base = managers_image()
    layout = dest / "layout"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    source = base.blob_path(base.manifest()["layers"][0]["digest"])
    read_end, write_end = os.pipe()
    failed: list[BaseException] = []

    def write() -> None:
        try:
            _write_tar(source, files, modes or {}, os.fdopen(write_end, "wb"))
        except BaseException as error:  # a truncated layer must not pass for a whole one
            failed.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    layer_file = dest / "layer.tar.gz"
    with os.fdopen(read_end, "rb") as stream:
        layer = gzip_layer(stream, layer_file)
    writer.join()
    if failed:
        raise failed[0]
    layer_file.rename(layout / "blobs" / "sha256" / layer.digest.split(":")[1])
    return write_layout(layout, MANAGERS, layer)


def _write_tar(
    source: Path, files: Mapping[str, bytes], modes: Mapping[str, int], out: BinaryIO
) -> None:
    """Copy source's tar into out, leaving out the paths of files, then append files."""
    wanted = {"./" + path.lstrip("/"): data for path, data in files.items()}
    with (
        out,
        tarfile.open(source, "r:gz") as old,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as new,
    ):
        seen: set[str] = set()
        for member in old:
            if member.name in wanted:
                continue
            seen.add(member.name.rstrip("/"))
            new.addfile(member, old.extractfile(member) if member.isreg() else None)
        for name, data in sorted(wanted.items()):
            for parent in _parents(name[2:]):
                if f"./{parent}" not in seen:
                    seen.add(f"./{parent}")
                    info = tarfile.TarInfo(f"./{parent}")
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
                    new.addfile(info)
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), MTIME
            info.mode = modes.get("/" + name[2:], 0o644)
            new.addfile(info, io.BytesIO(data))
