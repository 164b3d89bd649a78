"""Packages indexes: decompress, parse the few fields pinning needs, pick candidates."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import NamedTuple

from pinner import unpack
from pinner.apt.debversion import version_key
from pinner.errors import MirrorError


class PackageEntry(NamedTuple):
    """One stanza of a Packages index, reduced to what a lock entry needs."""

    name: str
    version: str
    architecture: str
    filename: str
    size: int
    sha256: str
    provides: tuple[str, ...] = ()


# apt also knows these; Debian's archive does not serve them for Packages.
_UNSUPPORTED = {".lzma", ".lz4", ".zst"}
# The largest index pinner unpacks: Debian's and Ubuntu's biggest Packages are well under it.
MAX_UNPACKED = 128 * 1024 * 1024


def decompress(data: bytes, path: str, limit: int = MAX_UNPACKED) -> bytes:
    """Decompress an index by its file name suffix (.xz, .gz, .bz2), to at most limit bytes."""
    suffix = PurePosixPath(path).suffix
    if suffix in _UNSUPPORTED:
        raise MirrorError(f"{path}: {suffix} compression is not supported")
    kind = suffix[1:] if suffix[1:] in unpack.KINDS else ""
    if not kind:
        return data
    try:
        return unpack.unpack(data, kind, limit)
    except unpack.UnpackError as error:
        raise MirrorError(f"{path}: {error}") from None


# The fast path: one regex over the whole index, for stanzas laid out the way Debian's
# archive software (dak) writes them: canonical field case, "Field: value", Package first
# and the other five fields in this order. A match starts only at a stanza's first line
# and "(?:[^\n]+\n)*?" skips whole non-empty lines, so it never leaves its stanza: each
# stanza matches at most once. Any stanza it does not match (other layout, malformed
# value) makes the counts differ, and _parse_slow() reads the whole index instead.
_SKIP = rb"(?:[^\n]+\n)*?"
_FAST = re.compile(
    rb"(?:\A|(?<=\n\n))Package: (\S+)\n"
    + _SKIP
    + rb"Version: (\S+)\n"
    + _SKIP
    + rb"Architecture: (\S+)\n"
    + _SKIP
    + rb"Filename: (\S+)\n"
    + _SKIP
    + rb"Size: ([0-9]{1,20})\n"  # longer: the slow path says why
    + _SKIP
    + rb"SHA256: ([0-9a-f]{64})$",
    re.MULTILINE,
)
# Provides is optional, so the fast path finds it in a second pass: dak writes it as one line.
# Any other spelling (case, folded value) sends the whole index to the slow path.
_PROVIDES = re.compile(rb"^Provides: ([^\n]*)$(?!\n[ \t])", re.MULTILINE)
_ANY_PROVIDES = re.compile(rb"^provides:", re.MULTILINE | re.IGNORECASE)
_FIELDS = ("package", "version", "architecture", "filename", "size", "sha256")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FIELD_NAMES = {
    "package": "Package",
    "version": "Version",
    "architecture": "Architecture",
    "filename": "Filename",
    "size": "Size",
    "sha256": "SHA256",
    "provides": "Provides",
}
# deb-control(5) package names; the Provides values are checked against it where they enter.
_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
# One Provides item: a name, optionally "(= version)" (Debian Policy 7.5, versioned Provides).
_PROVIDES_ITEM = re.compile(r"([^\s(]+)\s*(?:\(\s*=\s*[^\s)]+\s*\))?")


def _provided(value: str, where: str) -> tuple[str, ...]:
    """The package names of a Provides field, versions dropped."""
    names = []
    for item in value.split(","):
        match = _PROVIDES_ITEM.fullmatch(item.strip())
        if match is None or not _NAME.fullmatch(match.group(1)):
            raise MirrorError(f"{where}: Provides is malformed: {item.strip()[:80]!r}")
        names.append(match.group(1))
    return tuple(names)


def parse_packages(data: bytes | str, *, source: str = "Packages") -> list[PackageEntry]:
    """Read every stanza of a decompressed Packages index, in file order."""
    if isinstance(data, str):
        data = data.encode()
    end = len(data)
    while end and data[end - 1] == 0x0A:  # trailing newlines; rstrip() would copy it all
        end -= 1
    if not end:
        return []
    try:
        found = list(_FAST.finditer(data, 0, end))
        # Each stanza but the last ends at a "\n\n", so the counts are equal only if
        # every stanza matched (extra empty lines over-count: the slow path decides).
        if len(found) == data.count(b"\n\n", 0, end) + 1:
            entries = [
                PackageEntry(n.decode(), v.decode(), a.decode(), f.decode(), int(s), h.decode())
                for n, v, a, f, s, h in (m.groups() for m in found)
            ]
            starts = [m.start() for m in found]
            provided = list(_PROVIDES.finditer(data, 0, end))
            if len(provided) != len(_ANY_PROVIDES.findall(data, 0, end)):
                return _parse_slow(data, source)
            for provides in provided:
                i = bisect.bisect_right(starts, provides.start()) - 1
                where = f"{source}: {entries[i].name}"
                names = _provided(provides.group(1).decode(), where)
                entries[i] = entries[i]._replace(provides=entries[i].provides + names)
            return entries
    except UnicodeDecodeError:
        pass  # the slow path names the line
    return _parse_slow(data, source)


def _parse_slow(data: bytes, source: str) -> list[PackageEntry]:
    """deb822 line by line: any field order, field names in any case, CRLF line ends."""
    entries: list[PackageEntry] = []
    fields: dict[str, str] = {}
    key = ""  # the field the last line named
    start = 0  # line number where the current stanza began; 0 between stanzas
    for number, raw in enumerate(data.split(b"\n"), start=1):
        # Only an empty line ends a stanza, as in apt (pkgTagSection::Scan): a line of
        # blanks starts with a blank, so it is a continuation line.
        if raw in (b"", b"\r"):
            if start:
                entries.append(_entry(fields, source, start))
                fields, start = {}, 0
            continue
        start = start or number
        if raw[:1] in (b" ", b"\t"):
            # Continuation lines belong to multi-line fields; of those we keep only Provides.
            if key == "provides":
                fields[key] += " " + raw.strip().decode(errors="replace")
            continue
        name, colon, value = raw.partition(b":")
        if not colon or not name or name != name.strip():
            shown = raw.strip().decode(errors="replace")
            raise MirrorError(f"{source}:{number}: not a field: {shown!r}")
        key = name.lower().decode(errors="replace")
        if key in _FIELD_NAMES:
            try:
                fields[key] = value.strip().decode()
            except UnicodeDecodeError:
                raise MirrorError(f"{source}:{number}: {name.decode()} is not UTF-8") from None
    if start:
        entries.append(_entry(fields, source, start))
    return entries


def _entry(fields: dict[str, str], source: str, line: int) -> PackageEntry:
    where = f"{source}:{line}"
    for key in _FIELDS:
        if not fields.get(key):
            subject = f"{where}: {fields['package']}" if fields.get("package") else where
            raise MirrorError(f"{subject}: no {_FIELD_NAMES[key]} field")
    name = fields["package"]
    size = fields["size"]
    if not size.isascii() or not size.isdigit() or len(size) > 20:
        raise MirrorError(f"{where}: {name}: Size is not a number: {size[:40]!r}")
    sha256 = fields["sha256"]
    if not _SHA256.fullmatch(sha256):
        raise MirrorError(f"{where}: {name}: SHA256 is not 64 hex digits: {sha256!r}")
    provides = _provided(fields["provides"], f"{where}: {name}") if "provides" in fields else ()
    return PackageEntry(
        name,
        fields["version"],
        fields["architecture"],
        fields["filename"],
        int(size),
        sha256,
        provides,
    )


class PackageIndex:
    """The packages of one snapshot's suites (e.g. bookworm, -updates, -security) by name."""

    def __init__(self, *suites: Iterable[PackageEntry]) -> None:
        by_name: dict[str, list[PackageEntry]] = {}
        for entries in suites:
            for entry in entries:
                same_name = by_name.get(entry.name)
                if same_name is None:
                    by_name[entry.name] = [entry]
                else:
                    same_name.append(entry)
        self._by_name = by_name
        self._providers: dict[str, list[PackageEntry]] | None = None

    def entries(self, name: str) -> tuple[PackageEntry, ...]:
        """Every entry for a name, in the order the suites were given."""
        return tuple(self._by_name.get(name, ()))

    def providers(self, name: str) -> tuple[PackageEntry, ...]:
        """Every entry whose Provides names name, in the order the suites were given."""
        if self._providers is None:
            self._providers = {}
            for entries in self._by_name.values():
                for entry in entries:
                    for provided in entry.provides:
                        self._providers.setdefault(provided, []).append(entry)
        return tuple(self._providers.get(name, ()))

    def candidate(self, name: str, arch: str) -> PackageEntry | None:
        """The highest version for arch (or Architecture: all); ties go to the earlier suite."""
        best: PackageEntry | None = None
        best_key = None
        for entry in self._by_name.get(name, ()):
            if entry.architecture != arch and entry.architecture != "all":
                continue
            try:
                key = version_key(entry.version)
            except ValueError as exc:
                raise MirrorError(f"{entry.filename}: {exc}") from None
            if best_key is None or key > best_key:
                best, best_key = entry, key
        return best
