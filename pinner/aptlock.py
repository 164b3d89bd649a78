"""Resolve the packages a stage installs to the versions a snapshot serves, per architecture."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from pinner.apt import sourceslist
from pinner.apt.commands import PackageArg
from pinner.apt.packages import PackageEntry, PackageIndex
from pinner.apt.policy import (
    PRIORITY_BUT_AUTOMATIC_UPGRADES,
    PRIORITY_DEFAULT,
    PRIORITY_NOT_AUTOMATIC,
    Missing,
    Policy,
    Suite,
)
from pinner.apt.release import Release
from pinner.baseimage import BaseImage
from pinner.errors import MirrorError, PackageError
from pinner.lockfile import LockedPackage, LockedStage, UnpinnedPackage, checked_package
from pinner.outcome import SIGNATURE_UNCHECKED, SIGNATURE_VERIFIED
from pinner.remote.snapshot import SnapshotMirror


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
    names: Sequence[str | PackageArg],
    notes: Sequence[str] = (),
    foreign: Sequence[str] = (),
) -> LockedStage:
    """What apt installs for each package word at the snapshot, for every architecture of bases.

    A word with no package on some architectures is locked where it has one and recorded as
    unpinned on the others (an install inside `if [ "$dpkgArch" = arm64 ]`); only a word no
    architecture serves is refused, unless the stage adds foreign architectures (`dpkg
    --add-architecture i386`): apt then installs a name only they have (steamcmd), unlocked.
    """
    first = next(iter(bases.values()))
    requests = [PackageArg(n, None, 0, 0) if isinstance(n, str) else n for n in names]
    locked: list[LockedPackage] = []
    unpinned: list[UnpinnedPackage] = []
    missing: dict[str, list[tuple[str, str]]] = {}
    signatures: set[bool] = set()
    for arch, base in sorted(bases.items()):
        policy, checked = await arch_policy(mirror, snapshot, base, arch)
        signatures |= checked
        for request in requests:
            if policy.foreign(request):
                reason = f"not pinned: packages for {request.arch} are not locked"
                unpinned.append(UnpinnedPackage(request.name, reason, arch))
                continue
            try:
                choice = policy.choose(request, request.target_release)
            except MirrorError as exc:
                raise PackageError(request.name, str(exc)) from None
            if isinstance(choice, Missing):
                missing.setdefault(request.name, []).append((arch, choice.reason))
                continue
            entry = choice.entry
            package = LockedPackage(
                request.name, arch, entry.version, entry.sha256, entry.filename, choice.provider
            )
            try:
                # The index is signed, yet its fields become Dockerfile text (--pin-versions)
                # and lock text: check them as the lock reader does.
                locked.append(checked_package(package))
            except ValueError as exc:
                raise PackageError(request.name, f"snapshot index at {snapshot}: {exc}") from None
    found = {p.name for p in locked} | {u.name for u in unpinned}
    for name, where in missing.items():
        if name not in found and foreign:
            also = f"apt may install it for {', '.join(foreign)}, whose packages are not locked"
            unpinned.extend(
                UnpinnedPackage(name, f"not pinned: {reason} at {snapshot}; {also}", arch)
                for arch, reason in where
            )
            continue
        if name not in found:
            _, reason = where[0]
            raise PackageError(name, f"{_word(requests, name)}: {reason} at {snapshot}")
        unpinned.extend(
            UnpinnedPackage(name, f"not pinned: {reason} at {snapshot}", arch)
            for arch, reason in where
        )
    return LockedStage(
        stage=label,
        distro=first.distro,
        release=first.codename,
        package_manager="apt",
        snapshot=snapshot,
        signature=SIGNATURE_VERIFIED if signatures == {True} else SIGNATURE_UNCHECKED,
        packages=tuple(locked),
        notes=tuple(notes),
        unpinned=tuple(unpinned),
    )


def _word(requests: Sequence[PackageArg], name: str) -> str:
    """A package word as apt reads it: name, then any =version or /release."""
    request = next(r for r in requests if r.name == name)
    if request.version is not None:
        return f"{name}={request.version}"
    if request.release is not None:
        return f"{name}/{request.release}"
    return name


def _priority(release: Release) -> int:
    if not release.not_automatic:
        return PRIORITY_DEFAULT
    if release.but_automatic_upgrades:
        return PRIORITY_BUT_AUTOMATIC_UPGRADES
    return PRIORITY_NOT_AUTOMATIC


async def arch_policy(
    mirror: SnapshotMirror, snapshot: str, base: BaseImage, arch: str
) -> tuple[Policy, set[bool]]:
    """apt's view of the snapshot for one architecture: every suite of the image's sources."""
    sources = [s for f in base.sources for s in sourceslist.parse(f.text)]
    if not sources:
        raise MirrorError(f"{base.distro} image: no {base.distro} archive in its apt sources")
    suites: list[Suite] = []
    checked: set[bool] = set()
    with tempfile.TemporaryDirectory(prefix="pinner-keyrings-") as folder:
        keyrings = _keyring_files(base, Path(folder))
        for archive, suite in dict.fromkeys((s.archive, s.suite) for s in sources):
            signed, verified = await mirror.release(archive, snapshot, suite, keyrings)
            checked.add(verified)
            components = dict.fromkeys(
                c for s in sources if (s.archive, s.suite) == (archive, suite) for c in s.components
            )
            entries: list[PackageEntry] = []
            for component in components:
                entries += await mirror.packages(archive, snapshot, suite, component, arch, signed)
            index = PackageIndex(entries)
            names = frozenset(n for n in (suite, signed.suite, signed.codename) if n)
            suites.append(Suite(suite, names, _priority(signed), index))
    return Policy(arch, suites), checked


async def verify_stage(
    mirror: SnapshotMirror, stage: LockedStage, bases: Mapping[str, BaseImage]
) -> list[str]:
    """What the snapshot's signed indexes contradict in a locked stage's package entries."""
    # Each entry must be in the indexes for its architecture at the locked snapshot with the
    # version, .deb hash and file name the lock records: a version edited by hand is caught.
    # Existence, not apt's choice, is checked, so a name=version pin stays valid.
    problems: list[str] = []
    if stage.snapshot is None:
        return problems
    for arch, base in sorted(bases.items()):
        policy, _ = await arch_policy(mirror, stage.snapshot, base, arch)
        for package in sorted(p for p in stage.packages if p.architecture == arch):
            name = package.provider or package.name
            served = [
                entry
                for suite in policy.suites
                for entry in suite.packages.entries(name)
                if entry.architecture in (arch, "all") and entry.version == package.version
            ]
            what = f"stage {stage.stage}: {name} {package.version} ({arch})"
            if not served:
                problems.append(f"{what}: not in the snapshot's indexes at {stage.snapshot}")
            elif not any(
                (e.sha256, e.filename) == (package.sha256, package.filename) for e in served
            ):
                problems.append(f"{what}: sha256 or file name differs from the snapshot's index")
    return problems
