"""Resolve the packages a stage installs to the versions a snapshot serves, per architecture."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from pinner.apt import sourceslist
from pinner.apt.packages import PackageEntry, PackageIndex
from pinner.baseimage import BaseImage
from pinner.errors import MirrorError
from pinner.lockfile import LockedPackage, LockedStage
from pinner.snapshot import SnapshotMirror

# containerd platform -> dpkg architecture
DPKG_ARCH = {
    "linux/amd64": "amd64",
    "linux/arm64": "arm64",
    "linux/arm/v7": "armhf",
    "linux/arm/v6": "armel",
    "linux/arm/v5": "armel",
    "linux/386": "i386",
    "linux/ppc64le": "ppc64el",
    "linux/s390x": "s390x",
    "linux/mips64le": "mips64el",
    "linux/riscv64": "riscv64",
}
SIGNATURE_VERIFIED = "verified"
SIGNATURE_UNCHECKED = "not checked: gpgv is not installed"


def _keyring_files(base: BaseImage, folder: Path) -> list[Path]:
    """Write the image's binary keyrings to folder, for gpgv."""
    paths = []
    for n, keyring in enumerate(base.keyrings):
        if keyring.path.endswith(".asc"):
            continue
        path = folder / f"{n}-{Path(keyring.path).name}"
        path.write_bytes(keyring.data)
        paths.append(path)
    return paths


async def resolve_stage(
    mirror: SnapshotMirror,
    label: str,
    snapshot: str,
    bases: Mapping[str, BaseImage],
    names: Sequence[str],
    notes: Sequence[str] = (),
) -> LockedStage:
    """Each named package's candidate at the snapshot, for every architecture of bases."""
    first = next(iter(bases.values()))
    locked: list[LockedPackage] = []
    signatures: set[bool] = set()
    for arch, base in sorted(bases.items()):
        found, checked = await _resolve_arch(mirror, snapshot, base, arch, names)
        locked.extend(found)
        signatures |= checked
    return LockedStage(
        stage=label,
        distro=first.distro,
        release=first.codename,
        package_manager="apt",
        snapshot=snapshot,
        signature=SIGNATURE_VERIFIED if signatures == {True} else SIGNATURE_UNCHECKED,
        packages=tuple(sorted(locked)),
        notes=tuple(notes),
    )


async def _resolve_arch(
    mirror: SnapshotMirror, snapshot: str, base: BaseImage, arch: str, names: Sequence[str]
) -> tuple[list[LockedPackage], set[bool]]:
    sources = [s for f in base.sources for s in sourceslist.parse(f.text)]
    if not sources:
        raise MirrorError(f"{base.distro} image: no {base.distro} archive in its apt sources")
    indexes: list[list[PackageEntry]] = []
    fallbacks: list[list[PackageEntry]] = []
    checked: set[bool] = set()
    with tempfile.TemporaryDirectory(prefix="pinner-keyrings-") as folder:
        keyrings = _keyring_files(base, Path(folder))
        for archive, suite in dict.fromkeys((s.archive, s.suite) for s in sources):
            signed, verified = await mirror.release(archive, snapshot, suite, keyrings)
            checked.add(verified)
            components = dict.fromkeys(
                c for s in sources if (s.archive, s.suite) == (archive, suite) for c in s.components
            )
            for component in components:
                entries = await mirror.packages(archive, snapshot, suite, component, arch, signed)
                (fallbacks if signed.not_automatic else indexes).append(entries)
    index, fallback = PackageIndex(*indexes), PackageIndex(*fallbacks)
    locked = []
    for name in names:
        # As apt: a NotAutomatic suite's version only where no other suite has the package.
        entry = index.candidate(name, arch) or fallback.candidate(name, arch)
        if entry is None:
            suites = ", ".join(dict.fromkeys(s.suite for s in sources))
            raise MirrorError(f"{name}: no {arch} package in {suites} at {snapshot}")
        locked.append(LockedPackage(name, arch, entry.version, entry.sha256, entry.filename))
    return locked, checked
