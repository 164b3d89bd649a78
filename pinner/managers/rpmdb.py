"""The installed set of an image from its rpm database, in any of the three formats rpm writes.

rpmdb.sqlite (rpm >= 4.16: Fedora >= 33, EL >= 9), ndb's Packages.db (openSUSE) and Berkeley DB's
Packages (EL 8 and older) all keep one rpm header blob per package (lib/header.c headerImport):
two big-endian counts (index entries, data bytes), the index entries (tag, type, offset, count),
then the data. pinner.managers.rpmblobs finds the blobs in the two older formats.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple, TypeVar

from pinner.managers import ImageFileError
from pinner.managers.rpmblobs import BlobError, bdb_blobs, ndb_blobs
from pinner.managers.rpmversion import EVR, parse_evr, rpmvercmp
from pinner.output import untrusted

# Where each format lives; /var/lib/rpm is a link to /usr/lib/sysimage/rpm on Fedora and openSUSE.
# rpm reads one database: where an image holds several (left over from a conversion), the newest
# format is the one its rpm was built for.
SQLITE_PATHS = ("/usr/lib/sysimage/rpm/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite")
NDB_PATHS = ("/usr/lib/sysimage/rpm/Packages.db", "/var/lib/rpm/Packages.db")
BDB_PATHS = ("/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages")
PATHS = (*SQLITE_PATHS, *(f"{path}-wal" for path in SQLITE_PATHS), *NDB_PATHS, *BDB_PATHS)

# rpmtag.h
_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH = 1000, 1001, 1002, 1003, 1022
_PROVIDENAME, _PROVIDEFLAGS, _PROVIDEVERSION = 1047, 1112, 1113
_DIRINDEXES, _BASENAMES, _DIRNAMES = 1116, 1117, 1118
_RECOMMENDNAME, _RECOMMENDVERSION, _RECOMMENDFLAGS = 5046, 5047, 5048
_WANTED = frozenset([_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _PROVIDENAME, _PROVIDEFLAGS])
_WANTED |= {_PROVIDEVERSION, _DIRINDEXES, _BASENAMES, _DIRNAMES}
_WANTED |= {_RECOMMENDNAME, _RECOMMENDVERSION, _RECOMMENDFLAGS}
_SUGGESTNAME, _SUGGESTVERSION, _SUGGESTFLAGS = 5049, 5050, 5051
_WANTED |= {_SUGGESTNAME, _SUGGESTVERSION, _SUGGESTFLAGS}
_CONFLICTFLAGS, _CONFLICTNAME, _CONFLICTVERSION = 1053, 1054, 1055
_WANTED |= {_CONFLICTFLAGS, _CONFLICTNAME, _CONFLICTVERSION}
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
# rpm's own limits on a header (lib/header_internal.h hdrchkTags, hdrchkData).
_MAX_TAGS = 0xFFFF
_MAX_DATA = 256 * 1024 * 1024
# The most packages, files and capabilities pinner keeps of one database: each costs some hundred
# bytes as a record, so a 64 MiB file of empty strings would otherwise take gigabytes. A Fedora
# workstation's database holds about half a million.
MAX_ITEMS = 4_000_000
# rpmds.h: the comparison bits of a dependency's flags.
_LESS, _GREATER, _EQUAL = 0x02, 0x04, 0x08
_FLAGS = {_LESS: "LT", _GREATER: "GT", _EQUAL: "EQ", _LESS | _EQUAL: "LE", _GREATER | _EQUAL: "GE"}
# The first rpm whose transactions take SOURCE_DATE_EPOCH (which every RUN of a locked stage has)
# as each package's install time and transaction id (rpmtsCreate, rpm 4.18.0); earlier ones write
# the clock into the database.
_EPOCH_INSTALL_TIMES = "4.18"


class RpmdbError(ImageFileError):
    """An rpmdb that cannot be read: not SQLite, no Packages table, or a malformed header."""


class Provide(NamedTuple):
    """A capability a package provides: name, and (flags, EVR) when it states a version."""

    name: str
    flags: str | None = None  # EQ, LT, LE, GT, GE
    evr: EVR | None = None


class Installed(NamedTuple):
    """One installed package: name, EVR, architecture, what it provides, the files it owns and
    what it recommends, suggests and conflicts with (each a capability with an optional range,
    read as a Provide)."""

    name: str
    evr: EVR
    arch: str
    provides: tuple[Provide, ...]
    files: tuple[str, ...]
    recommends: tuple[Provide, ...] = ()
    suggests: tuple[Provide, ...] = ()
    conflicts: tuple[Provide, ...] = ()


Value = str | tuple[str, ...] | tuple[int, ...]


def parse_header(blob: bytes) -> dict[int, Value]:
    """The tags pinner reads from one header blob; RpmdbError when its layout is malformed."""
    if len(blob) < 8:
        raise RpmdbError("header is shorter than its counts")
    il, dl = struct.unpack_from(">II", blob)
    if il > _MAX_TAGS or dl > _MAX_DATA or 8 + 16 * il + dl != len(blob):
        raise RpmdbError(f"header counts ({il} tags, {dl} bytes) do not match its size")
    data = blob[8 + 16 * il :]
    found: dict[int, Value] = {}
    # rpm refuses a header whose entries' data overlap (hdrblobVerifyInfo: "Previous data must
    # not overlap"), so no byte is read twice: without that, 65535 entries naming one run of a
    # million empty strings would each read it.
    end = items = 0
    for k in range(il):
        tag, kind, offset, count = struct.unpack_from(">IIII", blob, 8 + 16 * k)
        if tag not in _WANTED:
            continue
        if offset >= dl or count > dl:
            raise RpmdbError(f"tag {tag} points outside the header")
        if offset < end:
            raise RpmdbError(f"tag {tag} overlaps the data of the tag before it")
        # A file takes a name and a folder index, a capability a name, flags and a version.
        items += count
        if items > 4 * MAX_ITEMS:
            raise RpmdbError(f"header holds more than {4 * MAX_ITEMS} items")
        if kind == _INT32:
            end = offset + 4 * count
            if offset % 4 or end > dl:
                raise RpmdbError(f"tag {tag} points outside the header")
            found[tag] = struct.unpack_from(f">{count}i", data, offset)
        elif kind in (_STRING, _STRING_ARRAY, _I18NSTRING):
            strings, end = _strings(data, offset, 1 if kind == _STRING else count, tag)
            found[tag] = strings[0] if kind == _STRING else strings
    return found


def _strings(data: bytes, offset: int, count: int, tag: int) -> tuple[tuple[str, ...], int]:
    """count NUL-terminated strings from offset, and the offset after them."""
    found = []
    for _ in range(count):
        end = data.find(b"\0", offset)
        if end < 0:
            raise RpmdbError(f"tag {tag} holds an unterminated string")
        found.append(data[offset:end].decode("utf-8", "replace"))
        offset = end + 1
    return tuple(found), offset


def installed(header: dict[int, Value]) -> Installed | None:
    """The package a parsed header describes; None for rpm's gpg-pubkey pseudo-packages."""
    name, arch = header.get(_NAME), header.get(_ARCH)
    version, release = header.get(_VERSION), header.get(_RELEASE)
    if not (isinstance(name, str) and isinstance(version, str) and isinstance(release, str)):
        raise RpmdbError("header lacks a name, version or release")
    if name == "gpg-pubkey" or not isinstance(arch, str):
        return None
    epoch = header.get(_EPOCH, ())
    evr = EVR(epoch[0] if epoch and isinstance(epoch[0], int) else 0, version, release)
    provides = _capabilities(header, _PROVIDENAME, _PROVIDEFLAGS, _PROVIDEVERSION)
    recommends = _capabilities(header, _RECOMMENDNAME, _RECOMMENDFLAGS, _RECOMMENDVERSION)
    basenames = _array(header, _BASENAMES, str)
    dirnames = _array(header, _DIRNAMES, str)
    indexes = _array(header, _DIRINDEXES, int)
    files = tuple(
        dirnames[d] + base
        for base, d in zip(basenames, indexes, strict=False)
        if 0 <= d < len(dirnames)
    )
    suggests = _capabilities(header, _SUGGESTNAME, _SUGGESTFLAGS, _SUGGESTVERSION)
    conflicts = _capabilities(header, _CONFLICTNAME, _CONFLICTFLAGS, _CONFLICTVERSION)
    return Installed(name, evr, arch, provides, files, recommends, suggests, conflicts)


def _capabilities(
    header: dict[int, Value], names_tag: int, flags_tag: int, versions_tag: int
) -> tuple[Provide, ...]:
    """The capabilities of one dependency kind (provides, recommends), each with its range."""
    names = _array(header, names_tag, str)
    flags = _array(header, flags_tag, int)
    versions = _array(header, versions_tag, str)
    found = []
    for i, provided in enumerate(names):
        bits = flags[i] & (_LESS | _GREATER | _EQUAL) if i < len(flags) else 0
        text = versions[i] if i < len(versions) else ""
        if bits and text:
            try:
                found.append(Provide(provided, _FLAGS[bits], parse_evr(text)))
                continue
            except (ValueError, KeyError):
                pass
        found.append(Provide(provided))
    return tuple(found)


T = TypeVar("T")


def _array(header: dict[int, Value], tag: int, kind: type[T]) -> tuple[T, ...]:
    value = header.get(tag, ())
    if isinstance(value, str) or not all(isinstance(item, kind) for item in value):
        raise RpmdbError(f"tag {tag} has the wrong type")
    return value  # type: ignore[return-value]


def read_rpmdb(data: bytes, wal: bytes = b"") -> tuple[Installed, ...]:
    """Every package of an rpmdb.sqlite (and its write-ahead log), sorted; RpmdbError if unreadable.

    rpm keeps the database in WAL mode, and images often ship the -wal file beside it: SQLite
    replays it only from files, so both are copied into a private directory first.
    """
    with tempfile.TemporaryDirectory(prefix="pinner-rpmdb-") as directory:
        path = Path(directory) / "rpmdb.sqlite"
        path.write_bytes(data)
        if wal:
            path.with_name("rpmdb.sqlite-wal").write_bytes(wal)
        return tuple(sorted(_within(_packages(path), "rpmdb"), key=lambda p: (p.name, p.arch)))


def _within(packages: Iterable[Installed], subject: str) -> Iterator[Installed]:
    """The packages, until they hold more than MAX_ITEMS packages, files and capabilities."""
    items = 0
    for package in packages:
        items += 1 + len(package.provides) + len(package.files) + len(package.recommends)
        items += len(package.suggests) + len(package.conflicts)
        if items > MAX_ITEMS:
            raise RpmdbError(
                f"{subject} holds more than {MAX_ITEMS} packages, files and capabilities"
            )
        yield package


def _packages(path: Path) -> Iterator[Installed]:
    try:
        connection = sqlite3.connect(path)
    except sqlite3.DatabaseError as error:
        raise RpmdbError(f"rpmdb is not a readable SQLite database ({error})") from None
    try:
        # The file is the image's: SQLite reads a hostile one safely when it runs none of its
        # schema's code (trusted_schema) and checks cell sizes; pinner only reads one table.
        # Its text is read as bytes, which Python would otherwise decode as UTF-8.
        connection.text_factory = bytes
        connection.execute("PRAGMA trusted_schema = OFF")
        connection.execute("PRAGMA cell_size_check = ON")
        kind = connection.execute(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'"
        ).fetchone()
        if kind != (b"table",):
            raise RpmdbError("rpmdb has no Packages table")
        connection.execute("PRAGMA query_only = ON")
        for (blob,) in connection.execute("SELECT blob FROM Packages"):
            if not isinstance(blob, bytes):
                raise RpmdbError("rpmdb Packages row is not a header blob")
            package = installed(parse_header(blob))
            if package is not None:
                yield package
    except (sqlite3.DatabaseError, UnicodeDecodeError) as error:
        # SQLite's messages quote the schema's bytes, and Python decodes them as UTF-8.
        text = error.object if isinstance(error, UnicodeDecodeError) else str(error).encode()
        why = untrusted(text.decode("utf-8", "replace"))
        raise RpmdbError(f"rpmdb is not a readable SQLite database ({why})") from None
    finally:
        connection.close()


def read_ndb(data: bytes, path: str = "Packages.db") -> tuple[Installed, ...]:
    """Every package of an ndb Packages.db, sorted; RpmdbError (naming path) if unreadable."""
    return _from_blobs(ndb_blobs(data), path)


def read_bdb(data: bytes, path: str = "Packages") -> tuple[Installed, ...]:
    """Every package of a Berkeley DB hash Packages file, sorted; RpmdbError if unreadable."""
    return _from_blobs(bdb_blobs(data), path)


def _from_blobs(blobs: Iterable[tuple[int, bytes]], path: str) -> tuple[Installed, ...]:
    try:
        found = list(_within(_headers(blobs, path), path))
    except BlobError as error:
        raise RpmdbError(f"{path} {error}") from None
    return tuple(sorted(found, key=lambda p: (p.name, p.arch)))


def _headers(blobs: Iterable[tuple[int, bytes]], path: str) -> Iterator[Installed]:
    for number, blob in blobs:
        try:
            package = installed(parse_header(blob))
        except RpmdbError as error:
            raise RpmdbError(f"{path}: package {number}: {error}") from None
        if package is not None:
            yield package


def install_times(installed: Iterable[Installed] | None) -> tuple[str, ...]:
    """A note if the image's rpm writes the clock into its database at each install; else ()."""
    by_name = {package.name: package for package in installed or ()}
    # dnf and microdnf install through the library in rpm-libs; zypper runs rpm itself, which
    # SUSE's minimal images hold as rpm-ndb.
    rpm = by_name.get("rpm-libs") or by_name.get("rpm") or by_name.get("rpm-ndb")
    if rpm is None or rpmvercmp(rpm.evr.version, _EPOCH_INSTALL_TIMES) >= 0:
        return ()
    return (
        f"rpm {untrusted(rpm.evr.version)} in the image writes the clock as each package's"
        f" install time (rpm {_EPOCH_INSTALL_TIMES} and later take SOURCE_DATE_EPOCH): the rpm"
        " database differs from build to build",
    )


def read_image(files: Mapping[str, bytes]) -> tuple[str, tuple[Installed, ...]] | None:
    """(path, packages) of the rpm database an image holds; None if it holds none.

    RpmdbError ("the rpm database PATH ...") names the file when it cannot be read.
    """
    try:
        for path in SQLITE_PATHS:
            if path in files:
                try:
                    return path, read_rpmdb(files[path], files.get(f"{path}-wal", b""))
                except RpmdbError as error:
                    raise RpmdbError(f"{path}: {error}") from None
        for path in NDB_PATHS:
            if path in files:
                return path, read_ndb(files[path], path)
        for path in BDB_PATHS:
            if path in files:
                return path, read_bdb(files[path], path)
    except RpmdbError as error:
        raise RpmdbError(f"the rpm database {error}") from None
    return None
