"""What `apt-get install WORD` takes from a snapshot's suites: pin priorities, releases, Provides.

The rules follow apt's own code: apt-pkg/policy.cc (a suite's default priority, 990 for the
-t release), apt-pkg/versionmatch.cc (`pkg=version`, `pkg/release`), apt-pkg/pkgcache.cc
(`pkg:native`, `pkg:all`) and apt-private/private-cacheset.cc (a pure virtual package is
installed through its one provider; with several, apt-get stops and names them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pinner.apt.commands import PackageArg
from pinner.apt.debversion import VersionKey, version_key
from pinner.apt.packages import PackageEntry, PackageIndex
from pinner.errors import MirrorError

# apt_preferences(5): the priority of a suite's versions when nothing pins them.
PRIORITY_DEFAULT = 500
PRIORITY_NOT_AUTOMATIC = 1
PRIORITY_BUT_AUTOMATIC_UPGRADES = 100
PRIORITY_TARGET_RELEASE = 990
# Qualifiers that name the native architecture (pkgCache::GrpIterator::FindPkg).
_NATIVE = frozenset(["native", "all", "any"])


class Suite(NamedTuple):
    """One suite's packages for one architecture, with its names and default priority."""

    suite: str  # as the image's sources name it
    names: frozenset[str]  # what `-t` and `pkg/release` match: Release's Suite and Codename too
    priority: int
    packages: PackageIndex


class Choice(NamedTuple):
    """The package apt installs for a word; provider is set when the word names a virtual one."""

    entry: PackageEntry
    provider: str | None = None


class Missing(NamedTuple):
    """The word has no package for this architecture: why, in one phrase."""

    reason: str


class Policy:
    """apt's choice for install words, over the suites of one architecture."""

    def __init__(self, arch: str, suites: Sequence[Suite]) -> None:
        self.arch = arch
        self.suites = tuple(suites)

    def foreign(self, package: PackageArg) -> bool:
        """Whether the word asks for another architecture (`pkg:arm64` on amd64)."""
        return package.arch is not None and package.arch not in _NATIVE | {self.arch}

    def choose(self, package: PackageArg, target_release: str | None = None) -> Choice | Missing:
        """The package and version `apt-get install [-t target_release] word` installs."""
        if target_release is not None and not any(
            _in_release(s, target_release) for s in self.suites
        ):
            # apt-get: "The value '...' is invalid for APT::Default-Release as such a release
            # is not available in the sources".
            raise MirrorError(f"-t {target_release}: no such release in {self._names()}")
        name = package.name
        if package.release is not None:
            suites = [s for s in self.suites if _in_release(s, package.release)]
            entry = _highest(self._entries(name, suites))
            if entry is not None:
                return Choice(entry)
            # apt-get (2.6, checked in tests/apt/test_policy.py) installs a pure virtual name's
            # one provider from that release.
            offers = {e.name: e for s in suites for e in s.packages.providers(name)}
            if len(offers) == 1 and not self._entries(name, self.suites):
                (provider,) = offers
                chosen = _highest(e for e in self._entries(provider, suites) if name in e.provides)
                if chosen is not None:
                    return Choice(chosen, provider)
            return Missing(f"no {self.arch} package in release {package.release}")
        if package.version is not None:
            entry = _highest(
                e for e in self._entries(name, self.suites) if _version_is(e, package.version)
            )
            if entry is None:
                return Missing(f"no {self.arch} package of version {package.version}")
            return Choice(entry)
        entry = self.candidate(name, target_release)
        if entry is not None:
            return Choice(entry)
        # A pure virtual package: the providers whose candidate version provides it.
        providers: dict[str, PackageEntry] = {}
        for suite in self.suites:
            for offer in suite.packages.providers(name):
                if offer.name not in providers:
                    candidate = self.candidate(offer.name, target_release)
                    if candidate is not None and name in candidate.provides:
                        providers[offer.name] = candidate
        if len(providers) == 1:
            ((provider, chosen),) = providers.items()
            return Choice(chosen, provider)
        if providers:
            listed = ", ".join(f"{p} {e.version}" for p, e in sorted(providers.items()))
            raise MirrorError(
                f"{name}: a virtual package provided by: {listed};"
                " you should explicitly select one to install"
            )
        return Missing(f"no {self.arch} package in {self._names()}")

    def candidate(self, name: str, target_release: str | None = None) -> PackageEntry | None:
        """apt's candidate: the highest priority, then the highest version; ties to the first."""
        best: PackageEntry | None = None
        best_key: tuple[int, VersionKey] | None = None
        for suite in self.suites:
            priority = suite.priority
            if target_release is not None and _in_release(suite, target_release):
                priority = PRIORITY_TARGET_RELEASE
            for entry in suite.packages.entries(name):
                if entry.architecture not in (self.arch, "all"):
                    continue
                key = (priority, _key(entry))
                if best_key is None or key > best_key:
                    best, best_key = entry, key
        return best

    def _entries(self, name: str, suites: Sequence[Suite]) -> list[PackageEntry]:
        return [
            e
            for s in suites
            for e in s.packages.entries(name)
            if e.architecture in (self.arch, "all")
        ]

    def _names(self) -> str:
        return ", ".join(dict.fromkeys(s.suite for s in self.suites))


def _in_release(suite: Suite, release: str) -> bool:
    """pkgVersionMatch's release test: the suite (Archive) or its codename."""
    return release in suite.names


def _version_is(entry: PackageEntry, wanted: str) -> bool:
    """pkgVersionMatch's version test: equal, or a prefix when the word ends in `*`."""
    if wanted.endswith("*"):
        return entry.version.startswith(wanted[:-1])
    return entry.version == wanted


def _highest(entries: Iterable[PackageEntry]) -> PackageEntry | None:
    best: PackageEntry | None = None
    for entry in entries:
        if best is None or _key(entry) > _key(best):
            best = entry
    return best


def _key(entry: PackageEntry) -> VersionKey:
    try:
        return version_key(entry.version)
    except ValueError as exc:
        raise MirrorError(f"{entry.filename}: {exc}") from None
