"""An image's files, streamed from its layers: one record per tar entry, overlays applied."""

# How, and what it guards against:
#
# * A layer blob is read once, as a stream of chunks, and never written to disk. Its compressed
#   bytes are hashed against the manifest's digest and counted against the manifest's size; its
#   uncompressed bytes are hashed against the config's diff_id (so a layer that lies about either
#   is refused) and counted against a bound, so a decompression bomb stops early instead of running
#   on. Layers are plain, gzip or zstd tars.
# * A file's bytes are hashed as they pass; only small text files are kept (for a short diff).
# * Entry names are normalised ("./a", "/a" and "a" are one path); a name with a ".." component
#   is refused, since no unpacker would put it where its name says.
# * Tar headers that carry data (pax, GNU long names) are refused past a small size, so no header
#   can make Python's tarfile read a huge block into memory.
# * Overlay rules (OCI image-spec layer.md): `.wh.<name>` deletes <name> and what is under it from
#   the layers below, `.wh..wh..opq` hides everything the layers below hold in its directory, and
#   an entry that is not a directory replaces a lower directory with all of its subtree.

from __future__ import annotations

import hashlib
import io
import posixpath
import stat
import tarfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, NamedTuple

import zstandard

from pinner.errors import PinnerError
from pinner.unpack import TAR_ERRORS

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CHUNK = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# A layer may expand to this much in any case, and beyond it to RATIO times its compressed size:
# real layers compress 2 to 10 times; gzip's ceiling is about 1,000 (a bomb of zeros).
MIN_EXPANSION = 1 << 30
RATIO = 100
UNKNOWN_SIZE = 1 << 62
MAX_HEADER = 1 << 20  # pax and GNU long-name headers hold a name or a few attributes
MAX_ENTRIES = 1_000_000  # per image: bounds the memory the file table takes
KEEP_TEXT = 8 * 1024  # files this small are kept whole when they look like text
KEEP_TOTAL = 32 * 1024 * 1024  # at most this much kept text per image

_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.LNKTYPE: "file",  # a hard link is a file sharing its target's bytes
    tarfile.SYMTYPE: "symlink",
    tarfile.DIRTYPE: "dir",
    tarfile.CHRTYPE: "char device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
}
_DATA_HEADERS = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
     tarfile.GNUTYPE_LONGLINK}
)  # fmt: skip


class LayerError(PinnerError):
    """A layer cannot be read, or is not what its manifest and config say it is."""


class FileInfo(NamedTuple):
    """One path of a layer or an image: what `diff` compares."""

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    sha256: str
    target: str  # symlink target; for a hard link, the path it links to
    mtime: int
    xattrs: tuple[tuple[str, str], ...]
    device: tuple[int, int]
    uname: str
    gname: str
    header: str  # tar header format: ustar, gnu or pax
    text: bytes | None  # the whole content, for small text files only


class Layer(NamedTuple):
    """One layer as its manifest and config describe it."""

    digest: str
    media_type: str
    size: int
    diff_id: str


class LayerScan(NamedTuple):
    """A layer's entries in tar order, with its whiteouts and opaque directories."""

    entries: tuple[FileInfo, ...]
    whiteouts: frozenset[str]
    opaques: frozenset[str]


class ChunkStream(io.RawIOBase):
    """A read-only raw file over an iterator of byte chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._rest = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _next(self) -> bool:
        """Take the next chunk as the bytes to read; False at the end."""
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        self._rest = memoryview(chunk)
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._rest:
            if not self._next():
                return 0
        out = memoryview(buffer).cast("B")
        n = min(len(out), len(self._rest))
        out[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


class _Counted(ChunkStream):
    """A raw file over chunks that hashes and counts them, refusing more than `limit` bytes."""

    def __init__(self, chunks: Iterable[bytes], limit: int, what: str) -> None:
        super().__init__(chunks)
        self.sha = hashlib.sha256()
        self.count = 0
        self.limit = limit
        self.what = what

    def _next(self) -> bool:
        if not super()._next():
            return False
        self.count += len(self._rest)
        if self.count > self.limit:
            self._chunks = iter(())  # over the limit: nothing more is read, drain() fails too
            self._rest = memoryview(b"")
            raise LayerError(self.what.format(limit=self.limit))
        self.sha.update(self._rest)
        return True

    def drain(self) -> None:
        """Read to the end, so the hash covers every byte."""
        if self.count > self.limit:
            raise LayerError(self.what.format(limit=self.limit))
        self._rest = memoryview(b"")
        while self._next():
            self._rest = memoryview(b"")


def _gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress a gzip stream of one or more members (trailing zero padding allowed)."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for data in chunks:
        while data:
            if inflate.eof:
                if not data.strip(b"\0"):
                    break
                inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            # max_length bounds each step's output, so a bomb never sits in memory whole.
            out = inflate.decompress(data, CHUNK)
            if out:
                yield out
            data = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
    if not inflate.eof:
        while out := inflate.decompress(b"", CHUNK):
            yield out
        if not inflate.eof:
            raise LayerError("gzip stream ends early")


class _GuardedInfo(tarfile.TarInfo):
    """A TarInfo that refuses oversized data-carrying headers before tarfile reads them."""

    def _proc_member(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _DATA_HEADERS and self.size > MAX_HEADER:
            raise LayerError(f"a tar header of {self.size} bytes is over the limit")
        return super()._proc_member(tarfile)  # type: ignore[misc,no-any-return]


def normalise(name: str) -> str:
    """A tar entry name as an absolute path; a ".." component is refused."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"tar entry {name!r} has a '..' component")
    return "/" + "/".join(parts)


def _header_format(member: tarfile.TarInfo) -> str:
    if member.pax_headers:
        return "pax"
    return "gnu" if member.name.startswith("././@") else "ustar"


def _looks_like_text(data: bytes) -> bool:
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def scan(layer: Layer, chunks: Iterable[bytes], keep_text: bool = True) -> LayerScan:
    """Stream one layer blob: its entries, checked against the layer's digest, size and diff_id."""
    what = f"layer {layer.digest or layer.diff_id}"
    compressed = _Counted(
        chunks,
        layer.size if layer.size >= 0 else UNKNOWN_SIZE,
        "the blob is longer than the {limit} bytes the manifest says",
    )
    try:
        result, plain = _read(compressed, keep_text)
    except (*TAR_ERRORS, zlib.error, EOFError, OSError, zstandard.ZstdError, LayerError) as e:
        # A blob that is not what its digest says explains any other failure: say that first.
        try:
            compressed.drain()
            lie = _lie(layer, compressed)
        except LayerError as too_long:
            lie = str(too_long)
        if lie:
            raise LayerError(f"{what}: {lie}") from None
        if isinstance(e, LayerError):
            raise LayerError(f"{what}: {e}") from None
        raise LayerError(f"{what}: not a readable tar archive ({e})") from None
    lie = _lie(layer, compressed)
    if lie:
        raise LayerError(f"{what}: {lie}")
    diff_id = "sha256:" + plain.sha.hexdigest()
    if layer.diff_id and diff_id != layer.diff_id:
        raise LayerError(f"{what}: uncompressed digest {diff_id}, the config says {layer.diff_id}")
    return result


def _read(compressed: _Counted, keep_text: bool) -> tuple[LayerScan, _Counted]:
    """The entries of a plain or gzip tar; both streams read to their end."""
    reader = io.BufferedReader(compressed, buffer_size=CHUNK)
    head = reader.peek(4)[:4]
    known = compressed.limit < UNKNOWN_SIZE
    bound = max(MIN_EXPANSION, RATIO * compressed.limit) if known else MIN_EXPANSION
    if head.startswith(GZIP_MAGIC):
        chunks = _gunzip(_reader_chunks(reader))
    elif head.startswith(ZSTD_MAGIC):
        # Frame after frame (zstd:chunked writes many); each read is bounded by CHUNK.
        unzstd = zstandard.ZstdDecompressor().stream_reader(reader, read_across_frames=True)
        chunks = _reader_chunks(unzstd)
    else:
        chunks = _reader_chunks(reader)
    plain = _Counted(chunks, bound, "it expands to more than {limit} bytes (a decompression bomb?)")
    result = _entries(io.BufferedReader(plain, buffer_size=CHUNK), keep_text)
    plain.drain()
    compressed.drain()
    return result, plain


def _lie(layer: Layer, compressed: _Counted) -> str:
    """How the blob read differs from its descriptor ("" when it does not)."""
    got = "sha256:" + compressed.sha.hexdigest()
    if layer.digest and got != layer.digest:
        return f"the bytes served have digest {got}"
    if layer.size >= 0 and compressed.count != layer.size:
        return f"{compressed.count} bytes where the manifest says {layer.size}"
    return ""


def _reader_chunks(reader: IO[bytes]) -> Iterator[bytes]:
    while chunk := reader.read(CHUNK):
        yield chunk


def _entries(stream: IO[bytes], keep_text: bool) -> LayerScan:
    entries: list[FileInfo] = []
    by_path: dict[str, FileInfo] = {}
    whiteouts: set[str] = set()
    opaques: set[str] = set()
    with tarfile.open(fileobj=stream, mode="r|", tarinfo=_GuardedInfo) as tar:
        while (member := tar.next()) is not None:
            # Stream mode keeps every TarInfo in .members (not in typeshed): drop them.
            tar.members.clear()  # type: ignore[attr-defined]
            path = normalise(member.name)
            directory, name = posixpath.split(path)
            if name == OPAQUE:
                opaques.add(directory)
                continue
            if name.startswith(WHITEOUT):
                whiteouts.add(posixpath.join(directory, name[len(WHITEOUT) :]))
                continue
            if path == "/" and member.isdir():
                continue
            info = _info(tar, member, path, by_path, keep_text)
            entries.append(info)
            by_path[path] = info
            if len(entries) > MAX_ENTRIES:
                raise LayerError(f"more than {MAX_ENTRIES} entries")
    return LayerScan(tuple(entries), frozenset(whiteouts), frozenset(opaques))


def _info(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    path: str,
    seen: Mapping[str, FileInfo],
    keep_text: bool,
) -> FileInfo:
    kind = _KINDS.get(member.type)
    if kind is None:
        raise LayerError(f"{path}: unsupported tar entry type {member.type!r}")
    sha, size, text, target = "", 0, None, ""
    if member.islnk():
        target = normalise(member.linkname)
        linked = seen.get(target)
        if linked is not None:
            sha, size, text = linked.sha256, linked.size, linked.text
    elif member.issym():
        target = member.linkname
    elif kind == "file":
        handle = tar.extractfile(member)
        assert handle is not None  # a regular file always has one
        digest = hashlib.sha256()
        kept = []
        with handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                if keep_text and member.size <= KEEP_TEXT:
                    kept.append(chunk)
        sha, size = "sha256:" + digest.hexdigest(), member.size
        data = b"".join(kept)
        text = data if keep_text and member.size <= KEEP_TEXT and _looks_like_text(data) else None
    xattrs = tuple(
        sorted((k[len("SCHILY.xattr.") :], v) for k, v in member.pax_headers.items()
               if k.startswith("SCHILY.xattr."))
    )  # fmt: skip
    device = (member.devmajor, member.devminor) if member.ischr() or member.isblk() else (0, 0)
    return FileInfo(
        path=path,
        kind=kind,
        mode=stat.S_IMODE(member.mode),
        uid=member.uid,
        gid=member.gid,
        size=size,
        sha256=sha,
        target=target,
        mtime=int(member.mtime),
        xattrs=xattrs,
        device=device,
        uname=member.uname,
        gname=member.gname,
        header=_header_format(member),
        text=text,
    )


def _under(path: str, roots: frozenset[str] | set[str]) -> bool:
    """True when path or one of its ancestors is in roots."""
    while True:
        if path in roots:
            return True
        if path == "/":
            return False
        path = posixpath.dirname(path)


def apply(lower: dict[str, FileInfo], layer: LayerScan) -> dict[str, FileInfo]:
    """The view of the layer laid over lower (the merged view so far); lower is reused."""
    replaced = {e.path for e in layer.entries if e.kind != "dir"}
    gone = set(layer.whiteouts)
    if gone or layer.opaques or replaced & lower.keys():
        keep = {}
        for path, info in lower.items():
            parent = posixpath.dirname(path)
            if _under(path, gone) or (path != "/" and _under(parent, layer.opaques)):
                continue
            if path not in replaced and _under(parent, replaced):
                continue
            keep[path] = info
        lower = keep
    for info in layer.entries:
        if info.kind == "file" and info.target and not info.sha256:
            # A hard link to a file of a lower layer: the scan could not see its bytes.
            linked = lower.get(info.target)
            if linked is not None:
                info = info._replace(sha256=linked.sha256, size=linked.size, text=linked.text)
        lower[info.path] = info
    return lower
