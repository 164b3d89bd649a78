"""Debian version numbers: parsing and dpkg's ordering (lib/dpkg/version.c, parsehelp.c)."""

from __future__ import annotations

import re
from typing import NamedTuple

# deb-version(7): upstream may hold [A-Za-z0-9.+~-:], the revision [A-Za-z0-9.+~].
_UPSTREAM_CHARS = re.compile(r"[A-Za-z0-9.+~:-]*")
_REVISION_CHARS = re.compile(r"[A-Za-z0-9.+~]*")
_DIGITS = re.compile(r"([0-9]+)")
_EPOCH = re.compile(r"[+-]?[0-9]+")

# version_key() turns each non-digit run into a string whose code points sort like dpkg's
# order(): '~' < end of run < letters < everything else. "\x02" ends every run.
_TILDE = "\x01"
_END = "\x02"
_ORDER = str.maketrans({"~": _TILDE} | {c: chr(256 + ord(c)) for c in ".+-:"})

Part = str | int
VersionKey = tuple[int, tuple[Part, ...], tuple[Part, ...]]


class Version(NamedTuple):
    """A parsed version: [epoch:]upstream[-revision]."""

    epoch: int
    upstream: str
    revision: str


def parse_version(text: str) -> Version:
    """Split and validate a version string; ValueError says why it is invalid."""
    # dpkg trims surrounding blanks and rejects inner ones (parsehelp.c parseversion).
    version = text.strip(" \t")
    if not version:
        raise ValueError(f"{text!r}: version string is empty")
    if " " in version or "\t" in version:
        raise ValueError(f"{text!r}: version string has embedded spaces")
    epoch = 0
    epoch_text, colon, rest = version.partition(":")
    if colon:
        # As dpkg's strtol(): an optional sign, then digits, then the colon.
        number = _EPOCH.match(epoch_text)
        if number is None:
            raise ValueError(f"{text!r}: epoch in version is empty")
        if number.end() != len(epoch_text):
            raise ValueError(f"{text!r}: epoch in version is not number")
        epoch = int(epoch_text)
        if epoch < 0:
            raise ValueError(f"{text!r}: epoch in version is negative")
        if epoch > 2**31 - 1:
            raise ValueError(f"{text!r}: epoch in version is too big")
        if not rest:
            raise ValueError(f"{text!r}: nothing after colon in version number")
        version = rest
    upstream, hyphen, revision = version.rpartition("-")
    if not hyphen:
        upstream, revision = version, ""
    elif not revision:
        raise ValueError(f"{text!r}: revision number is empty")
    if not upstream:
        raise ValueError(f"{text!r}: version number is empty")
    # dpkg only warns about the next three; a mirror index holding such a version is broken.
    if not "0" <= upstream[0] <= "9":
        raise ValueError(f"{text!r}: version number does not start with digit")
    if not _UPSTREAM_CHARS.fullmatch(upstream):
        raise ValueError(f"{text!r}: invalid character in version number")
    if not _REVISION_CHARS.fullmatch(revision):
        raise ValueError(f"{text!r}: invalid character in revision number")
    return Version(epoch, upstream, revision)


def _part_key(text: str) -> tuple[Part, ...]:
    # re.split gives [non-digits, digits, non-digits, ..., non-digits]; dpkg compares past
    # the end of the shorter string as if it went on with (no digits = 0, empty run), so
    # strip trailing (0, "") pairs and append exactly one: equal versions get equal keys
    # and a key is never a prefix of another.
    runs = _DIGITS.split(text)
    while len(runs) >= 3 and runs[-1] == "" and runs[-2].strip("0") == "":
        del runs[-2:]
    key: list[Part] = []
    for index, run in enumerate(runs):
        key.append(int(run) if index % 2 else run.translate(_ORDER) + _END)
    key += [0, _END]
    return tuple(key)


def version_key(text: str) -> VersionKey:
    """A sort key that orders versions as dpkg --compare-versions does (for max/sorted)."""
    version = parse_version(text)
    return version.epoch, _part_key(version.upstream), _part_key(version.revision)
