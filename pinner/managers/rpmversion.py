"""RPM versions: rpm's segment comparison (rpmio/rpmvercmp.c) and [epoch:]version-release."""

from __future__ import annotations

import re
from typing import NamedTuple

from pinner.apt.shell import words

# A segment is a run of ASCII digits or of ASCII letters; everything else but ~ and ^ separates.
_SEGMENT = re.compile(r"[0-9]+|[A-Za-z]+")
_SEPARATOR = re.compile(r"[^A-Za-z0-9~^]")
# An epoch int() takes: str.isdigit also takes "²", and int() refuses over 4300 digits.
_EPOCH = re.compile(r"[0-9]{1,10}")


def _skip_separators(text: str, i: int) -> int:
    while i < len(text) and _SEPARATOR.match(text, i):
        i += 1
    return i


def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as version (or release) a is older than, equal to or newer than b."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        i, j = _skip_separators(a, i), _skip_separators(b, j)
        one, two = a[i : i + 1], b[j : j + 1]
        # ~ sorts before everything, even the end of the string: 1.0~rc1 < 1.0. ^ sorts after
        # the end of the string but before anything else: 1.0 < 1.0^git1 < 1.0.1.
        mark = next((m for m in "~^" if m in (one, two)), None)
        if mark is not None:
            if mark == "^" and not (one and two):
                return 1 if one else -1
            if one != two:
                return -1 if one == mark else 1
            i, j = i + 1, j + 1
            continue
        if not (one and two):
            break
        first = _SEGMENT.match(a, i)
        assert first is not None  # a separator run stops only at ~, ^, a digit or a letter
        numeric = one.isdigit()
        second = _SEGMENT.match(b, j)
        if second is None or second.group().isdigit() != numeric:
            # A numeric segment is newer than an alphabetic one.
            return 1 if numeric else -1
        x, y = first.group(), second.group()
        if numeric:
            x, y = x.lstrip("0"), y.lstrip("0")
            if len(x) != len(y):
                return 1 if len(x) > len(y) else -1
        if x != y:
            return 1 if x > y else -1
        i, j = first.end(), second.end()
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


class EVR(NamedTuple):
    """An epoch, version and release; the epoch is 0 when a package states none."""

    epoch: int
    version: str
    release: str

    def __str__(self) -> str:
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{prefix}{self.version}-{self.release}" if self.release else prefix + self.version


def parse_evr(text: str) -> EVR:
    """Split `[epoch:]version[-release]` as rpm does (rpmds.c parseEVR); ValueError if malformed."""
    epoch_text, colon, rest = text.partition(":")
    if not colon:
        epoch_text, rest = "", text
    if colon and not _EPOCH.fullmatch(epoch_text):
        raise ValueError(f"{text!r}: epoch is not a number")
    version, _, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
    if not version:
        raise ValueError(f"{text!r}: version is empty")
    return EVR(int(epoch_text or 0), version, release)


def compare_evr(a: EVR, b: EVR) -> int:
    """rpm's order of two EVRs (rpmio/rpmver.c rpmverCmp): epoch, then version, then release."""
    if a.epoch != b.epoch:
        return 1 if a.epoch > b.epoch else -1
    return rpmvercmp(a.version, b.version) or rpmvercmp(a.release, b.release)


def evr_key(evr: EVR) -> _Key:
    """A sort key in rpm's order, for max() over a repository's builds of a package."""
    return _Key(evr)


class _Key:
    """An EVR ordered by compare_evr."""

    __slots__ = ("evr",)

    def __init__(self, evr: EVR) -> None:
        self.evr = evr

    def __lt__(self, other: _Key) -> bool:
        return compare_evr(self.evr, other.evr) < 0

    # Equal in rpm's order, so a tuple key goes on to its next element at one EVR (without
    # this, two keys of one EVR are neither equal nor ordered and max() keeps the first).
    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and compare_evr(self.evr, other.evr) == 0

    __hash__ = None  # type: ignore[assignment]


# The architectures dnf knows (libdnf's arch table): a word's `.x` is an arch only if x is one.
ARCHES = words(
    "noarch x86_64 i686 i586 i386 aarch64 armv7hl armhfp ppc64le ppc64 s390x riscv64 src nosrc"
)


class Nevra(NamedTuple):
    """One reading of a package word: the parts it states, None for those it leaves open."""

    name: str
    epoch: int | None = None
    version: str | None = None
    release: str | None = None
    arch: str | None = None


def subject_forms(spec: str) -> list[Nevra]:
    """The readings dnf tries for a package word, in its order (libdnf HY_FORMS_MOST_SPEC).

    NEVRA, NA, NAME, NEVR, NEV: dnf takes the first reading that matches some package.
    """
    forms: list[Nevra] = []
    stem, dot, arch = spec.rpartition(".")
    has_arch = bool(dot and stem and arch in ARCHES)
    if has_arch:
        nevr = _nevr(stem)
        if nevr is not None:
            forms.append(nevr._replace(arch=arch))
        forms.append(Nevra(stem, arch=arch))
    forms.append(Nevra(spec))
    nevr = _nevr(spec)
    if nevr is not None:
        forms.append(nevr)
    nev = _nev(spec)
    if nev is not None:
        forms.append(nev)
    return forms


def _nev(text: str) -> Nevra | None:
    name, dash, ev = text.rpartition("-")
    if not (dash and name and ev):
        return None
    epoch_text, colon, version = ev.rpartition(":")
    if (colon and not _EPOCH.fullmatch(epoch_text)) or not version:
        return None
    return Nevra(name, int(epoch_text) if colon else None, version)


def _nevr(text: str) -> Nevra | None:
    nev_text, dash, release = text.rpartition("-")
    nev = _nev(nev_text) if dash and release else None
    return None if nev is None else nev._replace(release=release)


def pin_word(form: Nevra, evr: EVR) -> str:
    """The package word that asks for exactly evr, in the shape the user wrote (arch kept)."""
    word = f"{form.name}-{evr}"
    return f"{word}.{form.arch}" if form.arch else word
