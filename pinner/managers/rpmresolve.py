"""Which packages `dnf install` adds to an image: the named ones and their dependency closure.

A small, deterministic reading of what libsolv decides for an install into a known system: each
package word is matched as dnf matches it (NEVRA forms, then provides, then files), the newest
build wins, and every requirement the installed set and the chosen packages leave open is filled
from the repositories. Among several providers the one libsolv's policy puts first is taken
(`_Resolver.pick`), among those that conflict with nothing installed or chosen so far, as
libsolv never offers a candidate its conflict rules have already ruled out; where none is left
the requirement is missing, as dnf refuses the transaction.
Obsoletes are followed as dnf's install follows them: a bare package name an available package
obsoletes installs that package (unless dnf's obsoletes option is off), and a provider another
provider obsoletes is not chosen. Boolean Recommends are weighed as boolean Requires.
Supplements are weighed as libsolv weighs them for dnf (weak dependencies on): a package whose
Supplements the transaction meets, with at least one package the transaction adds, is added
(one supplement met by the installed set alone adds nothing); every boolean form is weighed as
libsolv's solver_dep_fulfilled_alreadyinstalled weighs it.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cmp_to_key
from itertools import pairwise
from typing import NamedTuple

from pinner.managers.repodata import Dep, RpmPackage
from pinner.managers.rpmdb import Installed, Provide
from pinner.managers.rpmversion import (
    EVR,
    Nevra,
    evr_key,
    parse_evr,
    pin_word,
    rpmvercmp,
    subject_forms,
)

_LESS, _GREATER, _EQUAL = 1, 2, 4
_BITS = {"LT": _LESS, "GT": _GREATER, "EQ": _EQUAL, "LE": _LESS | _EQUAL, "GE": _GREATER | _EQUAL}


def overlaps(provide: Provide, dep: Dep) -> bool:
    """Whether a provide satisfies a requirement's range (rpmio/rpmver.c rpmverOverlap)."""
    if provide.name != dep.name:
        return False
    if provide.flags is None or dep.flags is None or provide.evr is None or dep.evr is None:
        return True  # an unversioned side matches any version
    a, b = provide.evr, dep.evr
    fa, fb = _BITS[provide.flags], _BITS[dep.flags]
    sense = (a.epoch > b.epoch) - (a.epoch < b.epoch)
    if sense == 0:
        sense = rpmvercmp(a.version, b.version)
        if sense == 0:
            if a.release and b.release:
                sense = rpmvercmp(a.release, b.release)
            elif (a.release and fb & _EQUAL) or (b.release and fa & _EQUAL):
                return True  # the side without a release matches any release
    if sense < 0:
        return bool(fa & _GREATER or fb & _LESS)
    if sense > 0:
        return bool(fa & _LESS or fb & _GREATER)
    return bool(fa & fb & (_EQUAL | _LESS | _GREATER))


class Missing(NamedTuple):
    """A package word, or a requirement of a package it brings, that nothing provides."""

    name: str  # the word as given, or the required name
    text: str  # as the error shows it: the word, or "requirement (needed by package)"
    why: str = ""  # why it cannot be installed where something provides it


class Resolution(NamedTuple):
    """What an install adds, the pin of each package word, and what pinner could not follow."""

    chosen: tuple[RpmPackage, ...]  # what the install adds
    pins: dict[str, str]  # package word as written -> the word that asks for the chosen build
    notes: tuple[str, ...]
    missing: tuple[Missing, ...]


class Pool:
    """The repositories' packages for one architecture, and the image's installed set."""

    def __init__(
        self,
        packages: Iterable[RpmPackage],
        installed: Sequence[Installed],
        basearch: str,
        hidden: Iterable[RpmPackage] = (),
    ) -> None:
        """hidden: builds modular filtering hides, which still make older builds of their name
        old (libdnf sets POOL_FLAG_WHATPROVIDESWITHDISABLED)."""
        self.basearch = basearch
        self.hidden: dict[str, list[RpmPackage]] = defaultdict(list)
        for package in hidden:
            self.hidden[package.name].append(package)
        self.by_name: dict[str, list[RpmPackage]] = defaultdict(list)
        self.by_provide: dict[str, list[tuple[RpmPackage, Provide]]] = defaultdict(list)
        self.by_file: dict[str, list[RpmPackage]] = defaultdict(list)
        self.by_obsoleted: dict[str, list[tuple[RpmPackage, Dep]]] = defaultdict(list)
        self.supplementing: list[RpmPackage] = []
        for package in packages:
            if package.arch not in (basearch, "noarch"):
                continue
            self.by_name[package.name].append(package)
            if package.supplements:
                self.supplementing.append(package)
            for obsoleted in package.obsoletes:
                self.by_obsoleted[obsoleted.name].append((package, obsoleted))
            for provide in package.provides:
                self.by_provide[provide.name].append((package, provide))
            for path in package.files:
                self.by_file[path].append(package)
        self._set_installed(installed)

    def _set_installed(self, installed: Iterable[Installed]) -> None:
        self.installed = {present.name: present for present in installed}
        self.installed_provides: dict[str, list[Provide]] = defaultdict(list)
        self.installed_files: set[str] = set()
        # Conflicts are few: each installed package's, and who provides what they name.
        self.installed_conflicts: list[tuple[str, Dep]] = []
        self.installed_owners: dict[str, list[tuple[str, Provide]]] = defaultdict(list)
        for present in self.installed.values():
            for provide in present.provides:
                self.installed_provides[provide.name].append(provide)
                self.installed_owners[provide.name].append((present.name, provide))
            self.installed_files.update(present.files)
            self.installed_conflicts += [(present.name, Dep(*c)) for c in present.conflicts]

    def installing(self, packages: Iterable[RpmPackage]) -> Pool:
        """The same repositories on the system left once packages are installed (an earlier
        RUN's transaction): each replaces the installed package of its name."""
        after = copy.copy(self)
        added = {p.name: as_installed(p) for p in packages}
        after._set_installed(
            [*(i for i in self.installed.values() if i.name not in added), *added.values()]
        )
        return after

    def weak_excluded(self) -> set[tuple[str, EVR, str]]:
        """Packages dnf's exclude_from_weak_autodetect keeps from being added as weak
        dependencies: every provider of a Recommends of an installed package that nothing
        installed meets (dnf.conf(5); libdnf Goal::exclude_from_weak_autodetect). Whoever
        installed that package chose to go without it."""
        excluded: set[tuple[str, EVR, str]] = set()
        for present in self.installed.values():
            for recommend in present.recommends:
                dep = Dep(*recommend)
                if dep.name.startswith("(") or self.installed_satisfies(dep):
                    continue
                excluded.update(_key(p) for p in self.providers(dep))
        return excluded

    def providers(self, dep: Dep) -> list[RpmPackage]:
        """The repository packages that satisfy dep, by provide or by file."""
        found = [
            package for package, provide in self.by_provide[dep.name] if overlaps(provide, dep)
        ]
        if dep.name.startswith("/"):
            found += self.by_file[dep.name]
        return found

    def superseded(self, package: RpmPackage) -> bool:
        """Whether the repositories hold a newer build of package's name and architecture, or
        one in a repository of better priority."""
        return any(
            other.arch == package.arch
            and (
                other.priority < package.priority
                or (
                    other.priority == package.priority and evr_key(other.evr) > evr_key(package.evr)
                )
            )
            for other in (*self.by_name[package.name], *self.hidden[package.name])
        )

    def obsoleters(self, package: RpmPackage) -> list[RpmPackage]:
        """The repository packages of another name whose Obsoletes match package's name and EVR
        (rpm matches obsoletes against package names, not provides)."""
        own = Provide(package.name, "EQ", package.evr)
        return [
            other
            for other, dep in self.by_obsoleted[package.name]
            if other.name != package.name and overlaps(own, dep)
        ]

    def installed_satisfies(self, dep: Dep) -> bool:
        if dep.name.startswith("/") and dep.name in self.installed_files:
            return True
        return any(overlaps(provide, dep) for provide in self.installed_provides[dep.name])


def as_installed(package: RpmPackage) -> Installed:
    """A repository package as the rpmdb will hold it once installed."""
    recommends = tuple(Provide(*dep) for dep in package.recommends)
    suggests = tuple(Provide(*dep) for dep in package.suggests)
    conflicts = tuple(Provide(*dep) for dep in package.conflicts)
    return Installed(
        package.name,
        package.evr,
        package.arch,
        package.provides,
        package.files,
        recommends,
        suggests,
        conflicts,
    )


def _key(package: RpmPackage) -> tuple[str, EVR, str]:
    return package.name, package.evr, package.arch


def _matches(form: Nevra, evr: EVR, arch: str) -> bool:
    return (
        (form.epoch is None or form.epoch == evr.epoch)
        and (form.version is None or form.version == evr.version)
        and (form.release is None or form.release == evr.release)
        and (form.arch is None or form.arch == arch)
    )


def _top_priority(packages: Sequence[RpmPackage]) -> list[RpmPackage]:
    """The packages of the repositories with the best dnf priority among them (libsolv's
    prune_to_highest_prio: a lower number wins, whatever the others' versions)."""
    best = min(p.priority for p in packages)
    return [p for p in packages if p.priority == best]


def _newest(packages: Iterable[RpmPackage], basearch: str) -> RpmPackage:
    """The newest build; at one EVR the native architecture before noarch, then the one of the
    cheapest repository (libsolv's subpriority, which libdnf sets from a repository's cost)."""
    return max(packages, key=lambda p: (evr_key(p.evr), p.arch == basearch, -p.cost, p.name))


def _evr_order(a: EVR, b: EVR) -> int:
    """rpm's order of two versions, a missing release matching any (EVRCMP_MATCH_RELEASE)."""
    if a.epoch != b.epoch:
        return 1 if a.epoch > b.epoch else -1
    order = rpmvercmp(a.version, b.version)
    if order == 0 and a.release and b.release:
        order = rpmvercmp(a.release, b.release)
    return order


def _hash_like(version: str) -> bool:
    return len(version) >= 4 and all(c in "0123456789abcdef" for c in version)


def _higher_first(a: tuple[EVR, int], b: tuple[EVR, int]) -> int:
    return _evr_order(b[0], a[0])


def _by_common_provide(candidates: list[RpmPackage]) -> list[RpmPackage]:
    """Candidates reordered as libsolv's sort_by_common_dep: where several provide one name at
    an `=` version (not a hash), each step down from a higher version adds badness to those
    below it; the least bad go first, the order otherwise kept."""
    shared: dict[str, list[tuple[EVR, int]]] = defaultdict(list)
    for index, package in enumerate(candidates):
        for provide in package.provides:
            if provide.flags == "EQ" and provide.evr is not None:
                text = str(provide.evr)
                if not _hash_like(text):
                    shared[provide.name].append((provide.evr, index))
    badness = [0] * len(candidates)
    for entries in shared.values():
        if len({index for _, index in entries}) < 2:
            continue
        ranked = sorted(entries, key=cmp_to_key(_higher_first))
        bad = 0
        for (higher, before), (evr, index) in pairwise(ranked):
            if index != before and _evr_order(higher, evr) > 0:
                bad += 1
            badness[index] += bad
    order = sorted(range(len(candidates)), key=lambda i: badness[i])
    return [candidates[i] for i in order]


def _wanted(package: RpmPackage, deciders: Iterable[Dep]) -> bool:
    """Whether one of deciders (Recommends or Suggests) names package, by a provide or a file;
    a boolean one is not looked into."""
    own = [Provide(package.name, "EQ", package.evr), *package.provides]
    for dep in deciders:
        if dep.name.startswith("/"):
            if dep.name in package.files:
                return True
        elif any(overlaps(provide, dep) for provide in own if provide.name == dep.name):
            return True
    return False


class _Resolver:
    def __init__(
        self, pool: Pool, weak_deps: bool, exclude_weak_autodetect: bool, obsoletes: bool = True
    ) -> None:
        self.obsoletes = obsoletes
        self.pool = pool
        self.weak_deps = weak_deps
        self.weak_excluded = (
            pool.weak_excluded() if weak_deps and exclude_weak_autodetect else set()
        )
        self.chosen: dict[str, RpmPackage] = {}
        self.provided: dict[str, list[Provide]] = defaultdict(list)
        self.owners: dict[str, list[tuple[str, Provide]]] = defaultdict(list)
        self.conflicting: list[tuple[str, Dep]] = []
        self.files: set[str] = set()
        self.notes: list[str] = []
        self.missing: list[Missing] = []
        self.pins: dict[str, str] = {}
        self.conditions: list[tuple[Rich, RpmPackage, bool]] = []
        self.capabilities: list[tuple[str, Dep, list[RpmPackage]]] = []

    def request(self, spec: str) -> None:
        """One package word of `dnf install`."""
        pool = self.pool
        for form in subject_forms(spec):
            present = pool.installed.get(form.name)
            if present is not None and _matches(form, present.evr, present.arch):
                return  # dnf: "Package ... is already installed."
            matching = [p for p in pool.by_name.get(form.name, ()) if _matches(form, p.evr, p.arch)]
            if matching:
                package = _newest(_top_priority(matching), pool.basearch)
                bare = (form.epoch, form.version, form.release, form.arch) == (None,) * 4
                # dnf (obsoletes=True, its default) installs what obsoletes a package named by
                # its bare name instead of it (hawkey's best selectors add the obsoleters);
                # obsoletes=False leaves that out, not libsolv's pruning of providers.
                replacing = pool.obsoleters(package) if bare and self.obsoletes else []
                if replacing:
                    self.take(Dep(form.name), replacing, Missing(spec, spec))
                    return
                clash = self.conflict(package)
                if clash is not None:
                    # libsolv cannot meet two such jobs at once: dnf refuses the transaction.
                    self.missing.append(Missing(spec, spec, f"{clash} (conflicting requests)"))
                    return
                self.pins[spec] = pin_word(form, package.evr)
                self.add(package)
                return
        dep = Dep(spec)
        if self.satisfied(dep):
            return
        providers = pool.providers(dep)
        if not providers:
            self.missing.append(Missing(spec, spec))
            return
        # libsolv decides the words naming one package before it chooses among a word's
        # providers, so a conflict with a later word counts: choose once every word is in.
        self.capabilities.append((spec, dep, providers))

    def take(self, dep: Dep, providers: Sequence[RpmPackage], missing: Missing) -> None:
        """Add the provider pick takes; where each conflicts, dep is missing, as dnf refuses."""
        found = self.pick(dep, providers)
        if isinstance(found, RpmPackage):
            self.add(found)
            return
        self.missing.append(missing._replace(why=f"every provider conflicts ({'; '.join(found)})"))

    def conflict(self, package: RpmPackage) -> str | None:
        """How package clashes with an installed or chosen package, by its Conflicts or theirs,
        or by an Obsoletes between it and a chosen one (libsolv's conflict and obsoletes
        rules); None if it does not. An installed package a chosen build replaces or package
        obsoletes, or one of package's own name, does not count."""
        pool = self.pool
        own = Provide(package.name, "EQ", package.evr)
        gone = set(self.chosen) | {package.name}
        for dep in package.obsoletes:
            present = pool.installed.get(dep.name)
            if present is not None and overlaps(Provide(present.name, "EQ", present.evr), dep):
                gone.add(present.name)
        for dep in package.conflicts:
            for owner, provide in pool.installed_owners[dep.name]:
                if owner not in gone and overlaps(provide, dep):
                    return f"{package.name} conflicts with {owner}"
            for owner, provide in self.owners[dep.name]:
                if owner != package.name and overlaps(provide, dep):
                    return f"{package.name} conflicts with {owner}"
        against = [(o, d) for o, d in pool.installed_conflicts if o not in gone]
        against += [(o, d) for o, d in self.conflicting if o != package.name]
        for owner, dep in against:
            if any(overlaps(p, dep) for p in package.provides if p.name == dep.name):
                return f"{owner} conflicts with {package.name}"
        # dnf installs no two packages where one obsoletes the other ("conflicting requests").
        for dep in package.obsoletes:
            other = self.chosen.get(dep.name)
            if other is None or other.name == package.name:
                continue
            if overlaps(Provide(other.name, "EQ", other.evr), dep):
                return f"{package.name} obsoletes {other.name}"
        for other in self.chosen.values():
            if other.name != package.name and any(
                dep.name == package.name and overlaps(own, dep) for dep in other.obsoletes
            ):
                return f"{other.name} obsoletes {package.name}"
        return None

    def satisfied(self, dep: Dep) -> bool:
        if self.pool.installed_satisfies(dep):
            return True
        if dep.name.startswith("/") and dep.name in self.files:
            return True
        return any(overlaps(provide, dep) for provide in self.provided[dep.name])

    def pick(self, dep: Dep, providers: Sequence[RpmPackage]) -> RpmPackage | list[str]:
        """The provider of dep libsolv's policy_filter_unwanted puts first (POLICY_MODE_CHOOSE),
        or, where each conflicts, how each does.

        Those that conflict with nothing installed or chosen (libsolv's rules have decided them
        out before it chooses); of the rest, those of the best repository priority; the newest
        build of each name, names in strcmp order, none another candidate obsoletes; of these
        the ones a decided package recommends or supplements, if any; then reordered by a
        versioned provide they share (the higher version first), with a name the image has
        installed in front, and before those the ones a decided package suggests or that enhance
        one (prefer_suggested). A build older than its name's newest goes behind the others
        (dislike_old_versions) before the reordering.
        """
        pool = self.pool
        clashes = [self.conflict(p) for p in providers]
        free = [p for p, clash in zip(providers, clashes, strict=True) if clash is None]
        if not free:
            return sorted({clash for clash in clashes if clash is not None})
        by_name: dict[str, list[RpmPackage]] = defaultdict(list)
        for package in _top_priority(free):
            by_name[package.name].append(package)
        candidates = [_newest(by_name[name], pool.basearch) for name in sorted(by_name)]
        keys = {_key(p) for p in candidates}
        kept = [p for p in candidates if not any(_key(o) in keys for o in pool.obsoleters(p))]
        candidates = kept or candidates
        wanted = [p for p in candidates if self.recommended(p) or self.supplementing(p)]
        candidates = wanted or candidates
        # libsolv's dislike_old_versions: a build the repositories have a newer one of (that
        # one not a candidate: it conflicts, or does not provide dep) goes to the back.
        candidates.sort(key=pool.superseded)
        candidates = _by_common_provide(candidates)
        candidates.sort(key=lambda p: p.name not in pool.installed)
        candidates.sort(key=lambda p: not (self.suggested(p) or self.enhancing(p)))
        if len(candidates) > 1:
            # pinner does not read boolean Recommends and Suggests for this order, and weighs
            # Conflicts only against what is decided before this choice.
            names = ", ".join(sorted(p.name for p in candidates))
            self.notes.append(
                f"{dep.name} is provided by {names}; pinner chose {candidates[0].name}, first in"
                " dnf's order"
            )
        return candidates[0]

    def recommended(self, package: RpmPackage) -> bool:
        """Whether an installed or chosen package recommends package (libsolv's recommendsmap;
        a boolean Recommends is not looked into)."""
        installed = [
            Dep(*r) for present in self.pool.installed.values() for r in present.recommends
        ]
        return _wanted(
            package, [*installed, *(r for c in self.chosen.values() for r in c.recommends)]
        )

    def suggested(self, package: RpmPackage) -> bool:
        """Whether an installed or chosen package suggests package (libsolv's suggestsmap)."""
        installed = [Dep(*r) for present in self.pool.installed.values() for r in present.suggests]
        return _wanted(
            package, [*installed, *(r for c in self.chosen.values() for r in c.suggests)]
        )

    def enhancing(self, package: RpmPackage) -> bool:
        """Whether the installed and chosen packages meet one of package's Enhances
        (libsolv's solver_is_enhancing)."""
        return any(self.met_by_new(dep) for dep in package.enhances)

    def supplementing(self, package: RpmPackage) -> bool:
        """Whether the installed and chosen packages meet one of package's Supplements
        (libsolv's solver_is_supplementing)."""
        return any(self.met_by_new(dep) for dep in package.supplements)

    def add(self, package: RpmPackage) -> None:
        if package.name in self.chosen:
            return
        self.chosen[package.name] = package
        for provide in package.provides:
            self.provided[provide.name].append(provide)
            self.owners[provide.name].append((package.name, provide))
        self.files.update(package.files)
        self.conflicting += [(package.name, dep) for dep in package.conflicts]

    def close(self) -> None:
        """Add providers until every requirement of the chosen packages is met."""
        done: set[str] = set()
        while True:
            pending = [name for name in self.chosen if name not in done]
            if not pending:
                # Conditions (`a if b`, `a unless b`) are decided once nothing else is added.
                before = len(self.chosen)
                for rich, package, weak in self.conditions:
                    self.need(rich, package, weak=weak, final=True)
                if len(self.chosen) == before and not self.supplemented():
                    return
                continue
            for name in pending:
                done.add(name)
                package = self.chosen[name]
                for dep in package.requires:
                    self.require(dep, package, weak=False)
                if self.weak_deps:
                    for dep in package.recommends:
                        self.require(dep, package, weak=True)

    def supplemented(self) -> bool:
        """Add the packages whose Supplements the transaction now meets; whether any was added.

        libsolv's weak step (solver.c): an uninstalled package supplementing what is decided is
        added, the newest of each name, unless the supplement is met by installed packages
        alone (its addalreadyrecommended flag, which dnf leaves off).
        """
        if not self.weak_deps:
            return False
        found: dict[str, list[RpmPackage]] = defaultdict(list)
        for package in self.pool.supplementing:
            name = package.name
            if name in self.chosen or name in self.pool.installed:
                continue
            if _key(package) in self.weak_excluded:
                continue
            if any(self.met_by_new(d) == 2 for d in package.supplements):
                found[name].append(package)
        for name in sorted(found):
            self.add(_newest(found[name], self.pool.basearch))
        return bool(found)

    def met_by_new(self, dep: Dep) -> int:
        """libsolv's solver_dep_fulfilled_alreadyinstalled: 0 unmet, 1 met by installed
        packages alone, 2 met with a package this transaction adds."""
        if not dep.name.startswith("("):
            new = any(overlaps(provide, dep) for provide in self.provided[dep.name]) or (
                dep.name.startswith("/") and dep.name in self.files
            )
            return 2 if new else int(self.pool.installed_satisfies(dep))
        rich = parse_rich(dep.name)
        return 0 if rich is None else self._met_rich(rich)

    def _met_rich(self, rich: Rich) -> int:
        """met_by_new for a boolean dependency, as libsolv weighs each operator."""
        if isinstance(rich, Dep):
            return self.met_by_new(rich)
        op, items = rich
        if op in ("with", "without"):
            return self._met_by_one(op, items)
        if op in ("if", "unless"):
            if len(items) > 2:
                # `A if B else C` is A when B holds, C if not; `A unless B else C` the reverse.
                when = self._met_rich(items[1])
                if not when:
                    return self._met_rich(items[2] if op == "if" else items[0])
                then = self._met_rich(items[0] if op == "if" else items[2])
                return 2 if then and when == 2 else then
            first, unmet = self._met_rich(items[0]), not self._met_rich(items[1])
            # `A if B` holds unless B holds without A; `A unless B` is A and not B.
            holds = (first or unmet) if op == "if" else (first and unmet)
            if not holds:
                return 0
            return 2 if first == 2 else 1
        found = [self._met_rich(item) for item in items]
        if op == "and" and 0 in found:
            return 0
        return max(found)

    def _met_by_one(self, op: str, items: tuple[Rich, ...]) -> int:
        """`A with B` (one package provides both) or `A without B` (one provides A, not B): 2
        when a package this transaction adds does, 1 when an installed one alone does."""
        if not all(isinstance(item, Dep) for item in items):
            return 0
        first, second = (item for item in items if isinstance(item, Dep))
        found = 0
        candidates: list[tuple[int, tuple[Provide, ...], Iterable[str]]] = [
            (2, c.provides, c.files) for c in self.chosen.values()
        ]
        candidates += [
            (1, present.provides, present.files)
            for name, present in self.pool.installed.items()
            if name not in self.chosen
        ]
        for level, provides, files in candidates:
            has = [
                any(overlaps(p, dep) for p in provides if p.name == dep.name)
                or (dep.name.startswith("/") and dep.name in files)
                for dep in (first, second)
            ]
            if has[0] and has[1] == (op == "with"):
                found = max(found, level)
        return found

    def require(self, dep: Dep, package: RpmPackage, *, weak: bool) -> None:
        if dep.name.startswith("rpmlib(") or self.satisfied(dep):
            return
        if dep.name.startswith("("):
            rich = parse_rich(dep.name)
            if rich is None:
                note = f"{package.name} needs {dep.name}, which pinner cannot read"
                if not weak and note not in self.notes:
                    self.notes.append(note)
                return
            self.need(rich, package, weak=weak, final=False)
            return
        providers = self.pool.providers(dep)
        if weak:
            providers = [p for p in providers if _key(p) not in self.weak_excluded]
        text = f"{_dep_text(dep)} (needed by {package.name})"
        if not providers:
            if not weak:
                self.missing.append(Missing(dep.name, text))
            return
        if weak:
            # A Recommends whose every provider conflicts is left out, not refused.
            found = self.pick(dep, providers)
            if isinstance(found, RpmPackage):
                self.add(found)
            return
        self.take(dep, providers, Missing(dep.name, text))

    def holds(self, rich: Rich) -> bool:
        """Whether what is installed and chosen so far satisfies a boolean dependency."""
        if isinstance(rich, Dep):
            return self.satisfied(rich)
        op, items = rich
        if op in ("and", "with"):
            return all(self.holds(item) for item in items)
        if op == "or":
            return any(self.holds(item) for item in items)
        if op == "without":
            return self.holds(items[0])
        if op in ("if", "unless"):
            condition = self.holds(items[1]) == (op == "if")
            if condition:
                return self.holds(items[0])
            return self.holds(items[2]) if len(items) > 2 else True
        return False

    def installable(self, rich: Rich) -> bool:
        """Whether the repositories (or what is there) can satisfy a boolean dependency."""
        if isinstance(rich, Dep):
            return self.satisfied(rich) or bool(self.pool.providers(rich))
        op, items = rich
        if op == "or":
            return any(self.installable(item) for item in items)
        if op in ("and", "with"):
            return all(self.installable(item) for item in items)
        return self.installable(items[0])

    def need(self, rich: Rich, package: RpmPackage, *, weak: bool, final: bool) -> None:
        """Install what a boolean dependency (rpm 4.13+: and, or, if, unless, with) asks for."""
        if isinstance(rich, Dep):
            self.require(rich, package, weak=weak)
            return
        op, items = rich
        if op in ("and", "with"):
            for item in items:
                self.need(item, package, weak=weak, final=final)
        elif op == "without":
            self.need(items[0], package, weak=weak, final=final)
        elif op == "or":
            if any(self.holds(item) for item in items):
                return
            first = next((item for item in items if self.installable(item)), items[0])
            self.need(first, package, weak=weak, final=final)
        elif not final:
            if (rich, package, weak) not in self.conditions:
                self.conditions.append((rich, package, weak))
        elif self.holds(items[1]) == (op == "if"):
            self.need(items[0], package, weak=weak, final=final)
        elif len(items) > 2:
            self.need(items[2], package, weak=weak, final=final)


Rich = Dep | tuple[str, tuple["Rich", ...]]
_OPERATORS = frozenset(["and", "or", "if", "else", "unless", "with", "without"])
_COMPARISONS = {"=": "EQ", "<": "LT", ">": "GT", "<=": "LE", ">=": "GE"}


def _rich_tokens(text: str) -> list[str] | None:
    """Words and parentheses of a boolean dependency; a name keeps its own (pkgconfig(x))."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(ch)
            i += 1
        else:
            start, depth = i, 0
            while i < len(text) and not text[i].isspace():
                if text[i] == "(":
                    depth += 1
                elif text[i] == ")":
                    if depth == 0:
                        break
                    depth -= 1
                i += 1
            tokens.append(text[start:i])
    return tokens


def parse_rich(text: str) -> Rich | None:
    """A boolean dependency `(a or (b >= 1 if c))` as a tree; None if it is not well formed."""
    tokens = _rich_tokens(text)
    if not tokens:
        return None
    try:
        found, end = _rich(tokens, 0)
    except (IndexError, ValueError):
        return None
    return found if end == len(tokens) else None


def _rich(tokens: list[str], i: int) -> tuple[Rich, int]:
    if tokens[i] != "(":
        raise ValueError("a boolean dependency starts with (")
    items: list[Rich] = []
    ops: list[str] = []
    i += 1
    while True:
        item, i = _operand(tokens, i)
        items.append(item)
        if tokens[i] == ")":
            break
        if tokens[i] not in _OPERATORS:
            raise ValueError(f"unknown operator {tokens[i]}")
        ops.append(tokens[i])
        i += 1
    if not ops:
        return items[0], i + 1
    op = ops[0]
    if ops[1:] == ["else"] and op in ("if", "unless"):
        return (op, tuple(items)), i + 1
    if any(o != op for o in ops) or (op in ("if", "unless", "without") and len(items) != 2):
        raise ValueError("mixed operators")
    return (op, tuple(items)), i + 1


def _operand(tokens: list[str], i: int) -> tuple[Rich, int]:
    if tokens[i] == "(":
        return _rich(tokens, i)
    name = tokens[i]
    if tokens[i + 1] in _COMPARISONS:
        evr = tokens[i + 2]
        return Dep(name, _COMPARISONS[tokens[i + 1]], parse_evr(evr)), i + 3
    return Dep(name), i + 1


def _dep_text(dep: Dep) -> str:
    if dep.flags is None or dep.evr is None:
        return dep.name
    symbol = {"EQ": "=", "LT": "<", "GT": ">", "LE": "<=", "GE": ">="}[dep.flags]
    return f"{dep.name} {symbol} {dep.evr}"


def _named(pool: Pool, spec: str) -> tuple[str, bool] | None:
    """The package name a word names, as request() reads it, and whether it names no version;
    None for a capability or a word that names nothing served."""
    for form in subject_forms(spec):
        if any(_matches(form, p.evr, p.arch) for p in pool.by_name.get(form.name, ())):
            return form.name, (form.epoch, form.version, form.release) == (None, None, None)
    return None


def covered(pool: Pool, specs: Sequence[str], *, bare_wins: bool = False) -> list[str]:
    """specs less each bare name another word of the command names with a version: dnf
    (best off) installs `foo foo-1.0` as foo 1.0, the build both jobs allow. bare_wins: less
    each versioned word of a name the command also names bare instead, as zypper installs the
    newest for `foo foo-1.0` in either order (1.14.42, run)."""
    named = [_named(pool, spec) for spec in specs]
    dropped = {n[0] for n in named if n is not None and n[1] == bare_wins}
    return [
        spec
        for spec, n in zip(specs, named, strict=True)
        if n is None or n[1] == bare_wins or n[0] not in dropped
    ]


def clash(pool: Pool, specs: Sequence[str], *, best: bool) -> tuple[str, str] | None:
    """Two words of one `dnf install` that name one package and that dnf cannot meet at once,
    or None: builds of which none meets both (`foo-1.0-1 foo-2.0-1`), or with best, each
    word's best build (`foo foo-1.0-1`): "cannot install both" (dnf 4.14, run)."""
    seen: dict[str, tuple[str, list[RpmPackage]]] = {}
    for spec in specs:
        for form in subject_forms(spec):
            present = pool.installed.get(form.name)
            if present is not None and _matches(form, present.evr, present.arch):
                break  # "already installed": no job for it
            matching = [p for p in pool.by_name.get(form.name, ()) if _matches(form, p.evr, p.arch)]
            if not matching:
                continue
            top = _top_priority(matching)
            earlier = seen.setdefault(form.name, (spec, top))
            # Builds of two architectures (glibc glibc.i686) install side by side.
            newest = _newest(top, pool.basearch), _newest(earlier[1], pool.basearch)
            both = {p.evr for p in top} & {p.evr for p in earlier[1]}
            if (best and newest[0].evr != newest[1].evr) or not both:
                return earlier[0], spec
            break
    return None


def resolve(
    pool: Pool,
    specs: Sequence[str],
    *,
    weak_deps: bool = True,
    exclude_weak_autodetect: bool = False,
    obsoletes: bool = True,
) -> Resolution:
    """What `dnf install specs` adds to the image the pool describes.

    exclude_weak_autodetect: dnf's option of that name (dnf >= 4.14); libsolv alone, as zypper
    uses it, has no such rule.
    """
    resolver = _Resolver(pool, weak_deps, exclude_weak_autodetect, obsoletes)
    for spec in specs:
        resolver.request(spec)
    for spec, dep, providers in resolver.capabilities:
        if not resolver.satisfied(dep):
            resolver.take(dep, providers, Missing(spec, spec))
    resolver.close()
    chosen = tuple(sorted(resolver.chosen.values(), key=lambda p: p.name))
    return Resolution(chosen, resolver.pins, tuple(resolver.notes), tuple(resolver.missing))
