"""What a base image says about itself: os-release, apt sources and keyrings, from layer bytes."""

# How, and what it does not see:
#
# * Layers are read bottom-up and reading stops after the first layer at which /etc/os-release
#   (else /usr/lib/os-release, os-release(5)) resolves to a file: the base OS layer. Layers above
#   it are not downloaded, so an upper layer that rewrites os-release, the apt sources, the
#   keyrings or apt itself is not seen (e.g. python:3.12-bookworm adding a repository). Finding
#   those would mean downloading every layer of the image; what pinner needs is the distribution
#   and its snapshot, which the base layer records.
# * Layers below that one are merged in as an overlay would (OCI image-spec layer.md): a
#   `.wh.<name>` entry deletes <name> from the layers below, `.wh..wh..opq` hides everything the
#   layers below hold in its directory, and a file or link replaces a lower path and its subtree.
# * A layer is read as a stream (tarfile mode "r|*" over the HTTP chunks), keeping only the wanted
#   files, the symlinks on their paths, and whiteouts. It is read to its end even once os-release
#   is found: the keyring and sources directories are globs, a tar has no index and need not be
#   sorted, so no member can be known to be the last one wanted; and only the whole blob can be
#   checked against its digest, which is what makes caching the result by digest sound.
# * Symlinks are followed in the merged view, relative and absolute, through any component
#   (e.g. etc/os-release -> ../usr/lib/os-release). The target of a wanted link is collected too
#   when it comes later in the same tar; a target that came earlier, or sits in a lower layer, and
#   is not itself wanted is lost (a stream cannot go back), and so is a wanted hard link to an
#   unwanted file. Real images link only within the wanted set.
# * gzip, bzip2, xz and zstd layers are read (zstd with the zstandard package: Python < 3.14 has
#   no zstd decoder of its own).
# * Of /var/lib/dpkg/status only the "Package: apt" stanza is kept, read line by line.

from __future__ import annotations

import functools
import hashlib
import io
import posixpath
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Literal, NamedTuple, get_args

from pinner.errors import PinnerError

# The layer reader (tarfile, zstandard, pinner.imagefiles) and the sources parser are imported by
# the functions that read a layer or sources: a lock of images and plain RUNs reads neither, and
# needs only this module's records.
if TYPE_CHECKING:
    import tarfile


class BaseImageError(PinnerError):
    """A base image's layers cannot be read or do not say what distribution they hold."""


class SourceFile(NamedTuple):
    """An apt sources file: absolute path and text."""

    path: str
    text: str


class KeyringFile(NamedTuple):
    """An apt keyring file: absolute path and bytes."""

    path: str
    data: bytes


class BaseImage(NamedTuple):
    """What a base image's OS layer says about itself."""

    distro: str
    codename: str | None
    pretty_name: str
    sources: tuple[SourceFile, ...]
    keyrings: tuple[KeyringFile, ...]
    snapshot: str | None
    # dpkg's architecture of the installed apt package: the image's own, whatever a manifest says.
    architecture: str | None = None
    # The files package-manager modules name (pinner.managers image_paths): absolute path, bytes.
    files: tuple[tuple[str, bytes], ...] = ()


Kind = Literal["file", "symlink", "dir", "whiteout", "opaque"]
KINDS: frozenset[str] = frozenset(get_args(Kind))


class FileEntry(NamedTuple):
    """One path of a layer: a file (data), a symlink (target), a directory or a whiteout."""

    kind: Kind
    data: bytes = b""
    target: str = ""


Entries = dict[str, FileEntry]

OS_RELEASE = "etc/os-release"
OS_RELEASE_FALLBACK = "usr/lib/os-release"
SOURCES_LIST = "etc/apt/sources.list"
TRUSTED_GPG = "etc/apt/trusted.gpg"
DPKG_STATUS = "var/lib/dpkg/status"
_EXACT = frozenset({OS_RELEASE, OS_RELEASE_FALLBACK, SOURCES_LIST, TRUSTED_GPG, DPKG_STATUS})
# Directory -> file name suffixes wanted in it ("" takes every name).
_GLOBS: Mapping[str, tuple[str, ...]] = {
    "etc/apt/sources.list.d": (".list", ".sources"),
    "usr/share/keyrings": (".gpg", ".asc", ".pgp"),
    "etc/apt/trusted.gpg.d": ("",),
    "etc/apt/keyrings": ("",),  # apt >= 2.4's place for third-party keys (sources.list(5))
}
_SOURCE_DIRS = ("etc/apt/sources.list.d",)
_KEYRING_DIRS = ("etc/apt/keyrings", "etc/apt/trusted.gpg.d", "usr/share/keyrings")


def _ancestors(paths: Iterable[str]) -> frozenset[str]:
    """Every proper ancestor directory of the given paths, root excluded."""
    found: set[str] = set()
    for path in paths:
        while "/" in path:
            path = path.rpartition("/")[0]
            found.add(path)
    return frozenset(found)


_ANCESTORS = _ancestors([*_EXACT, *_GLOBS])


class _Wanted(NamedTuple):
    """The paths package-manager modules name, beside apt's: exact ones and glob patterns."""

    exact: frozenset[str]
    patterns: re.Pattern[str] | None  # fnmatch's globs, where `*` stays within one component
    ancestors: re.Pattern[str] | None  # the directories on the way to a pattern's files
    fingerprint: str


def _glob_re(pattern: str) -> str:
    """A glob (`*`, `?`, no brackets) as a regular expression whose wildcards stop at `/`."""
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in pattern)


@functools.cache
def manager_paths() -> _Wanted:
    """What the package-manager modules want from an image ("/a/b", "/a/*", "/a/*/desc")."""
    from pinner import managers  # the modules load on the first scan, not at start-up

    exact: set[str] = set()
    globs: list[str] = []
    for pattern in managers.image_paths():
        path = _normalise(pattern)
        if any(c in path for c in "*?"):
            globs.append(path)
        else:
            exact.add(path)
    ancestors = {a for g in globs for a in _ancestors([g])} | set(_ancestors(exact))
    return _Wanted(
        frozenset(exact),
        re.compile("|".join(_glob_re(g) for g in globs)) if globs else None,
        re.compile("|".join(_glob_re(a) for a in sorted(ancestors))) if ancestors else None,
        repr((sorted(exact), sorted(globs))),
    )


def scan_fingerprint() -> str:
    """What a layer scan keeps, as a cache can compare it: scans made for other paths differ."""
    return hashlib.sha256(manager_paths().fingerprint.encode()).hexdigest()[:16]


def _manager_wants(path: str) -> bool:
    wanted = manager_paths()
    return path in wanted.exact or (
        wanted.patterns is not None and wanted.patterns.fullmatch(path) is not None
    )


MAX_FILE = 4 * 1024 * 1024
# rpm's package database (rpmdb.sqlite and its write-ahead log, ndb's Packages.db, Berkeley DB's
# Packages) holds every installed package's header: a few MiB for a container base, tens of MiB
# for a full system.
MAX_DATABASE = 64 * 1024 * 1024
_DATABASES = ("rpmdb.sqlite", "rpmdb.sqlite-wal", "rpm/Packages", "rpm/Packages.db")
# All the files kept from a layer, or from the merged view of the layers read: Debian's and
# Ubuntu's keyrings and sources come to well under 1 MiB; rpm's database is counted apart.
MAX_KEPT = 16 * 1024 * 1024
# A dpkg status line (and the apt stanza) is a few KiB; a longer one is not a status file.
MAX_STATUS_LINE = 1024 * 1024
# A layer's uncompressed tar: base OS layers are a few hundred MiB at most. This bounds a
# decompression bomb's cost in time; its memory is bounded by reading it as a stream.
MAX_LAYER_BYTES = 1024 * 1024 * 1024
CHUNK = 64 * 1024
MAX_SYMLINK_HOPS = 40  # Linux's MAXSYMLINKS
_CODENAME_RE = re.compile(r"\(([a-z]+)\)")
_OS_RELEASE_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The fields os-release(5) makes identifiers ("0-9, a-z, '.', '_' and '-'"; capitals are let
# through): pinner compares them and makes numbers of them, so any other value (`²`, 5000
# digits, a control character) is left out, as if the image did not say.
_IDENTIFIERS = frozenset(["ID", "VERSION_ID", "VERSION_CODENAME", "VARIANT_ID"])
_IDENTIFIER_RE = re.compile(r"[A-Za-z0-9._~+-]{0,64}")


# --------------------------------------------------------------------------- reading os-release


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of an os-release file, shell quoting undone (os-release(5))."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        if sep and _OS_RELEASE_KEY_RE.fullmatch(key):
            value = _unquote(raw)
            if key not in _IDENTIFIERS or _IDENTIFIER_RE.fullmatch(value):
                fields[key] = value
            else:
                fields.pop(key, None)
    return fields


def _unquote(raw: str) -> str:
    """Undo shell quoting as os-release(5) allows: single and double quotes, backslashes."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(raw):
        c = raw[i]
        if quote == "'" and c != "'":
            out.append(c)
        elif c == "\\" and i + 1 < len(raw) and (not quote or raw[i + 1] in '"\\$`'):
            i += 1
            out.append(raw[i])
        elif c == quote:
            quote = ""
        elif not quote and c in "'\"":
            quote = c
        else:
            out.append(c)
        i += 1
    return "".join(out)


def snapshot_of(sources: Sequence[SourceFile]) -> str | None:
    """The snapshot.debian.org timestamp of the `debian` archive named in sources, if any."""
    from pinner.apt import sourceslist

    found = (sourceslist.debian_snapshot(source.text) for source in sources)
    return next((timestamp for timestamp in found if timestamp), None)


def _codename(fields: Mapping[str, str]) -> str | None:
    if fields.get("VERSION_CODENAME"):
        return fields["VERSION_CODENAME"]
    if fields.get("UBUNTU_CODENAME"):
        return fields["UBUNTU_CODENAME"]
    match = _CODENAME_RE.search(fields.get("VERSION", ""))  # Debian <= 8: VERSION="8 (jessie)"
    return match.group(1) if match else None


def _apt_fields(stanza: bytes) -> dict[str, str]:
    """Fields of an installed "Package: apt" dpkg status stanza (lower-case keys), else none."""
    fields: dict[str, str] = {}
    for line in stanza.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep and not key.startswith((" ", "\t")):  # not a continuation line
            fields[key.strip().lower()] = value.strip()
    if fields.get("package") != "apt":
        return {}
    if fields.get("status", "installed").split()[-1:] != ["installed"]:
        return {}
    return fields


# --------------------------------------------------------------------------- scanning a layer


def _normalise(name: str) -> str:
    """A tar member name as a path relative to the root: no "./", "/", "//" or "..", "" for /."""
    path = posixpath.normpath("/" + name)
    return path.lstrip("/")


def _link_target(directory: str, target: str) -> str:
    """Where a symlink in directory points, lexically, relative to the root."""
    if target.startswith("/"):
        return _normalise(target)
    return _normalise(posixpath.join("/", directory, target))


def _wanted(path: str) -> bool:
    if path in _EXACT:
        return True
    directory, _, name = path.rpartition("/")
    suffixes = _GLOBS.get(directory)
    if suffixes is not None and not name.startswith(".") and name.endswith(suffixes):
        return True
    return _manager_wants(path)


def _on_the_way(path: str) -> bool:
    """A directory on the way to a wanted path, or a top-level one (bin -> usr/bin links)."""
    if path in _ANCESTORS or path in _GLOBS or "/" not in path:
        return True
    ancestors = manager_paths().ancestors
    return ancestors is not None and ancestors.fullmatch(path) is not None


def _read_capped(path: str, handle: IO[bytes]) -> bytes:
    limit = MAX_DATABASE if path.endswith(_DATABASES) else MAX_FILE
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise BaseImageError(f"/{path} is over the {limit // (1024 * 1024)} MiB limit")
    return data


def _apt_stanza(handle: IO[bytes]) -> bytes:
    """The "Package: apt" stanza of a dpkg status file, read line by line; b"" if none."""
    stanza: list[bytes] = []
    found = False
    size = 0
    while line := handle.readline(MAX_STATUS_LINE + 1):
        if len(line) > MAX_STATUS_LINE:
            raise BaseImageError(f"/{DPKG_STATUS} has a line over {MAX_STATUS_LINE} bytes")
        size = size + len(line) if stanza else len(line)
        if size > MAX_STATUS_LINE:
            raise BaseImageError(f"/{DPKG_STATUS} has a stanza over {MAX_STATUS_LINE} bytes")
        if line.strip():
            stanza.append(line)
            found = found or line.rstrip() == b"Package: apt"
        elif found:
            break
        else:
            stanza.clear()
    return b"".join(stanza) if found else b""


def scan_layer(chunks: Iterable[bytes]) -> Entries:
    """The wanted files, their symlinks and the whiteouts of a layer tar (plain, gzip, bzip2, xz,
    zstd)."""
    import tarfile

    import zstandard

    from pinner.imagefiles import ZSTD_MAGIC, ChunkStream
    from pinner.unpack import TAR_ERRORS

    buffered = io.BufferedReader(ChunkStream(chunks), buffer_size=CHUNK)
    head = buffered.peek(4)[:4]
    if not head:
        return {}
    reader: IO[bytes] = buffered
    if head == ZSTD_MAGIC:
        # Frame after frame, as zstd(1) and zstd:chunked write them; tarfile reads it bounded.
        reader = zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
    entries: Entries = {}
    extra: set[str] = set()  # targets of wanted symlinks
    try:
        with tarfile.open(fileobj=reader, mode="r|*") as tar:
            while (member := tar.next()) is not None:
                # Stream mode keeps every TarInfo in .members (not in typeshed); a big layer's
                # headers would pile up for nothing: next() does not read them back.
                tar.members.clear()  # type: ignore[attr-defined]
                if member.offset_data + member.size > MAX_LAYER_BYTES:
                    raise BaseImageError(f"layer is over {MAX_LAYER_BYTES >> 30} GiB uncompressed")
                _take(tar, member, entries, extra)
    except (*TAR_ERRORS, zlib.error, EOFError, OSError, zstandard.ZstdError) as e:
        raise BaseImageError(f"layer is not a readable tar archive ({e})") from None
    return entries


def check_kept(entries: Mapping[str, FileEntry]) -> None:
    """Refuse a layer or view that holds more than MAX_KEPT bytes of wanted files."""
    kept = (e for path, e in entries.items() if not path.endswith(_DATABASES))
    if sum(len(e.data) for e in kept) > MAX_KEPT:
        raise BaseImageError(f"its apt files come to over {MAX_KEPT >> 20} MiB")


def _take(tar: tarfile.TarFile, member: tarfile.TarInfo, entries: Entries, extra: set[str]) -> None:
    """Record one tar member in entries if it matters."""
    from pinner.imagefiles import OPAQUE, WHITEOUT

    path = _normalise(member.name)
    if not path:
        return
    directory, _, name = path.rpartition("/")
    if name == OPAQUE:
        if _on_the_way(directory):
            entries[directory] = FileEntry("opaque")
        return
    if name.startswith(WHITEOUT):
        gone = posixpath.join(directory, name[len(WHITEOUT) :])
        if (_wanted(gone) or _on_the_way(gone) or gone in extra) and gone not in entries:
            entries[gone] = FileEntry("whiteout")
        return
    wanted = _wanted(path) or path in extra
    if member.isdir():
        if _on_the_way(path) and entries.get(path, FileEntry("dir")).kind != "opaque":
            entries[path] = FileEntry("dir")
    elif member.issym():
        if wanted or _on_the_way(path):
            entries[path] = FileEntry("symlink", target=member.linkname)
        if wanted:
            target = _link_target(directory, member.linkname)
            extra.add(target)
            extra.add(_resolve(entries, target) or target)  # through links seen so far
    elif member.islnk():
        source = entries.get(_normalise(member.linkname))
        if wanted and source is not None and source.kind == "file":
            entries[path] = source
            check_kept(entries)
    elif member.isreg() and wanted:
        handle = tar.extractfile(member)
        assert handle is not None  # a regular file always has one
        with handle:
            data = _apt_stanza(handle) if path == DPKG_STATUS else _read_capped(path, handle)
        entries[path] = FileEntry("file", data)
        check_kept(entries)


# --------------------------------------------------------------------------- the merged view


def merge(lower: Mapping[str, FileEntry], upper: Mapping[str, FileEntry]) -> Entries:
    """The view of upper laid over lower: whiteouts and opaque directories applied."""
    hidden = tuple(
        p + "/" for p, e in upper.items() if e.kind in ("whiteout", "opaque", "file", "symlink")
    )
    merged = {
        p: e
        for p, e in lower.items()
        if p not in upper and not p.startswith(hidden) and e.kind not in ("whiteout", "opaque")
    }
    for p, e in upper.items():
        if e.kind == "opaque":
            merged[p] = FileEntry("dir")
        elif e.kind != "whiteout":
            merged[p] = e
    return merged


def _resolve(entries: Mapping[str, FileEntry], path: str) -> str | None:
    """path with every symlink component followed, or None for a loop."""
    parts = path.split("/")
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        entry = entries.get("/".join([*resolved, part]))
        if entry is not None and entry.kind == "symlink":
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return None
            if entry.target.startswith("/"):
                resolved = []
            parts = entry.target.split("/") + parts
            continue
        resolved.append(part)
    return "/".join(resolved)


def read_file(entries: Mapping[str, FileEntry], path: str) -> bytes | None:
    """A file's bytes in the view, following symlinks; None if missing or dangling."""
    resolved = _resolve(entries, path)
    entry = entries.get(resolved) if resolved is not None else None
    return entry.data if entry is not None and entry.kind == "file" else None


def _listing(entries: Mapping[str, FileEntry], directory: str) -> list[str]:
    return sorted(
        p
        for p, e in entries.items()
        if e.kind in ("file", "symlink") and _wanted(p) and posixpath.dirname(p) == directory
    )


def os_release_text(entries: Mapping[str, FileEntry]) -> str | None:
    """/etc/os-release, else /usr/lib/os-release, as text (os-release(5))."""
    data = read_file(entries, OS_RELEASE)
    if data is None:
        data = read_file(entries, OS_RELEASE_FALLBACK)
    return None if data is None else data.decode("utf-8", "replace")


def describe(entries: Mapping[str, FileEntry]) -> BaseImage:
    """The BaseImage a merged view of the layers read describes."""
    text = os_release_text(entries)
    if text is None:
        raise BaseImageError("image has no /etc/os-release")
    fields = parse_os_release(text)
    sources = [
        SourceFile("/" + p, data.decode("utf-8", "replace"))
        for p in [SOURCES_LIST, *(q for d in _SOURCE_DIRS for q in _listing(entries, d))]
        if (data := read_file(entries, p)) is not None
    ]
    keyrings = [
        KeyringFile("/" + p, data)
        for p in [TRUSTED_GPG, *(q for d in _KEYRING_DIRS for q in _listing(entries, d))]
        if (data := read_file(entries, p)) is not None
    ]
    status = read_file(entries, DPKG_STATUS)
    apt = _apt_fields(status) if status else {}
    files = [
        ("/" + p, data)
        for p in sorted(p for p, e in entries.items() if e.kind in ("file", "symlink"))
        if _manager_wants(p) and (data := read_file(entries, p)) is not None
    ]
    return BaseImage(
        distro=fields.get("ID") or "linux",
        codename=_codename(fields),
        pretty_name=fields.get("PRETTY_NAME") or "Linux",
        sources=tuple(sources),
        keyrings=tuple(keyrings),
        snapshot=snapshot_of(sources),
        architecture=apt.get("architecture") or None,
        files=tuple(files),
    )
