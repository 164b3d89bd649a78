"""The header blobs of rpm's older package databases: Berkeley DB hash and ndb, read from bytes.

EL8 and its rebuilds keep `/var/lib/rpm/Packages`, a Berkeley DB hash file; openSUSE keeps
`/usr/lib/sysimage/rpm/Packages.db` in rpm's own ndb format. Only what rpm's read-only readers
read is read here (lib/backend/bdb_ro.c: the hash buckets, their overflow pages; and
lib/backend/ndb/rpmpkg.c: the slot pages and the blobs they point at). Every offset, length and
page number is the image's, so each is checked before use, and a page is never read twice.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

# The largest database read (as baseimage's cap on rpm's database files) and the most packages.
MAX_BYTES = 64 * 1024 * 1024
MAX_PACKAGES = 100_000

# Berkeley DB (dbinc/db_page.h, dbinc/hash.h): the magic and version of a hash meta page, the
# page types rpm's bdb_ro accepts as buckets, the overflow page type, and the item kinds.
_HASH_MAGIC = 0x00061561
_BTREE_MAGIC = 0x00053162
_HASH_VERSIONS = range(8, 11)
_P_HASH_UNSORTED, _P_HASHMETA, _P_HASH, _P_OVERFLOW = 2, 8, 13, 7
_BUCKET_PAGES = frozenset([_P_HASH_UNSORTED, _P_HASHMETA, _P_HASH])
_H_KEYDATA, _H_OFFPAGE = 1, 3
_PAGE_HEADER = 26  # lsn, pgno, prev, next, entries, hf_offset, level, type


class BlobError(ValueError):
    """A package database whose layout is malformed."""


def bdb_blobs(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(header number, header blob) of each package in a Berkeley DB hash Packages file."""
    if len(data) > MAX_BYTES:
        raise BlobError(f"is over the {MAX_BYTES // (1024 * 1024)} MiB limit")
    if len(data) < 512:
        raise BlobError("is shorter than a Berkeley DB meta page")
    order = ""
    for candidate in "<>":
        magic = struct.unpack_from(f"{candidate}I", data, 12)[0]
        if magic == _BTREE_MAGIC:
            raise BlobError("is a Berkeley DB btree, not rpm's hash Packages database")
        if magic == _HASH_MAGIC:
            order = candidate
    if not order:
        raise BlobError("is not a Berkeley DB hash database")
    version, pagesize = struct.unpack_from(f"{order}II", data, 16)
    if version not in _HASH_VERSIONS:
        raise BlobError(f"has Berkeley DB hash version {version}, not 8 to 10")
    if pagesize not in (512 << shift for shift in range(8)) or pagesize > len(data):
        raise BlobError(f"has a page size of {pagesize} bytes")
    if data[24] != 0:
        raise BlobError("is encrypted")
    pages = _Pages(data, order, pagesize)
    maxbucket, highmask = struct.unpack_from(f"{order}II", data, 72)
    spares = struct.unpack_from(f"{order}32I", data, 96)
    if maxbucket > pages.last or highmask < maxbucket:
        raise BlobError(f"names {maxbucket + 1} hash buckets in {pages.last} pages")
    count = 0
    for bucket in range(maxbucket + 1):
        pageno = bucket + spares[bucket.bit_length()]
        while pageno:
            page = pages.page(pageno, _BUCKET_PAGES)
            for key, value in _pairs(pages, page):
                if len(key) != 4:
                    raise BlobError(f"holds a key of {len(key)} bytes, not a header number")
                number = struct.unpack(f"{order}I", key)[0]
                if number == 0:
                    continue  # rpm's own record: the next header number to hand out
                count += 1
                if count > MAX_PACKAGES:
                    raise BlobError(f"holds more than {MAX_PACKAGES} packages")
                yield number, value
            pageno = pages.next(page)


class _Pages:
    """The pages of one Berkeley DB file, each handed out at most once."""

    def __init__(self, data: bytes, order: str, pagesize: int) -> None:
        self.data = data
        self.order = order
        self.size = pagesize
        last = struct.unpack_from(f"{order}I", data, 32)[0]
        if (last + 1) * pagesize > len(data):
            raise BlobError(f"names {last + 1} pages of {pagesize} bytes in {len(data)} bytes")
        self.last = last
        self.seen: set[int] = set()

    def page(self, pageno: int, kinds: frozenset[int]) -> memoryview:
        if not 0 < pageno <= self.last:
            raise BlobError(f"points at page {pageno}, outside its {self.last} pages")
        if pageno in self.seen:
            raise BlobError(f"reaches page {pageno} twice (a cyclic page chain)")
        self.seen.add(pageno)
        page = memoryview(self.data)[pageno * self.size : (pageno + 1) * self.size]
        if struct.unpack_from(f"{self.order}I", page, 8)[0] != pageno:
            raise BlobError(f"has page {pageno} numbered otherwise")
        if page[25] not in kinds:
            raise BlobError(f"has page {pageno} of type {page[25]}, not one rpm reads there")
        return page

    def next(self, page: memoryview) -> int:
        return int(struct.unpack_from(f"{self.order}I", page, 16)[0])

    def u16(self, page: memoryview, offset: int) -> int:
        return int(struct.unpack_from(f"{self.order}H", page, offset)[0])


def _pairs(pages: _Pages, page: memoryview) -> Iterator[tuple[bytes, bytes]]:
    """The key/value pairs of one hash page (bdb_ro.c hash_next: items grow down from its end)."""
    size = pages.size
    entries = pages.u16(page, 20)
    if entries % 2 or _PAGE_HEADER + 2 * entries > size:
        raise BlobError(f"has a hash page of {entries} items")
    offsets = [pages.u16(page, _PAGE_HEADER + 2 * i) for i in range(entries)]
    end = size
    for i in range(0, entries, 2):
        key_at, value_at = offsets[i], offsets[i + 1]
        if not _PAGE_HEADER + 2 * entries <= value_at < key_at < end:
            raise BlobError("has an item outside its page")
        key = _item(pages, page, key_at, end - key_at)
        value = _item(pages, page, value_at, key_at - value_at)
        end = value_at
        yield key, value


def _item(pages: _Pages, page: memoryview, offset: int, length: int) -> bytes:
    kind = page[offset]
    if kind == _H_KEYDATA:
        return bytes(page[offset + 1 : offset + length])
    if kind == _H_OFFPAGE and length == 12:
        pageno, total = struct.unpack_from(f"{pages.order}II", page, offset + 4)
        return _overflow(pages, pageno, total)
    raise BlobError(f"holds an item of kind {kind}, which rpm does not read")


def _overflow(pages: _Pages, pageno: int, total: int) -> bytes:
    """An item kept on a chain of overflow pages (bdb_ro.c ovfl_get)."""
    if not 0 < total <= len(pages.data):
        raise BlobError(f"holds an overflow item of {total} bytes")
    parts = []
    left = total
    while left:
        page = pages.page(pageno, frozenset([_P_OVERFLOW]))
        length = pages.u16(page, 22)
        if length == 0 or _PAGE_HEADER + length > pages.size or length > left:
            raise BlobError(f"has overflow page {pageno} of {length} bytes")
        parts.append(bytes(page[_PAGE_HEADER : _PAGE_HEADER + length]))
        left -= length
        pageno = pages.next(page)
        if left and not pageno:
            raise BlobError("has an overflow chain shorter than its item")
    return b"".join(parts)


# ndb (rpmpkg.c): a 32-byte header, slot pages of 16-byte slots, then 16-byte blocks of blobs.
_NDB_MAGIC = int.from_bytes(b"RpmP", "little")
_SLOT_MAGIC = int.from_bytes(b"Slot", "little")
_BLOB_HEAD = int.from_bytes(b"BlbS", "little")
_BLOB_TAIL = int.from_bytes(b"BlbE", "little")
_NDB_PAGE, _BLOCK, _SLOT, _HEADER = 4096, 16, 16, 32
_HEAD_SIZE, _TAIL_SIZE = 16, 12


def ndb_blobs(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(package index, header blob) of each package in an ndb Packages.db file."""
    if len(data) > MAX_BYTES:
        raise BlobError(f"is over the {MAX_BYTES // (1024 * 1024)} MiB limit")
    if len(data) < _HEADER or struct.unpack_from("<I", data)[0] != _NDB_MAGIC:
        raise BlobError("is not an rpm ndb database")
    version, _generation, slotpages = struct.unpack_from("<III", data, 4)
    if version != 0:
        raise BlobError(f"has ndb version {version}, not 0")
    if len(data) % _BLOCK or not 0 < slotpages * _NDB_PAGE <= len(data):
        raise BlobError(f"names {slotpages} slot pages in {len(data)} bytes")
    blocks = len(data) // _BLOCK
    first_block = slotpages * _NDB_PAGE // _BLOCK
    seen: set[int] = set()
    for offset in range(_HEADER, slotpages * _NDB_PAGE, _SLOT):
        magic, index, blkoff, blkcnt = struct.unpack_from("<IIII", data, offset)
        if magic != _SLOT_MAGIC:
            raise BlobError(f"has a damaged slot at byte {offset}")
        if blkoff == 0:
            continue  # a free slot
        if not index or not blkcnt or blkoff < first_block or blkoff + blkcnt > blocks:
            raise BlobError(f"has a slot at byte {offset} pointing outside the file")
        if index in seen:
            raise BlobError(f"holds package {index} twice")
        seen.add(index)
        if len(seen) > MAX_PACKAGES:
            raise BlobError(f"holds more than {MAX_PACKAGES} packages")
        yield index, _ndb_blob(data, index, blkoff * _BLOCK, blkcnt * _BLOCK)


def _ndb_blob(data: bytes, index: int, start: int, size: int) -> bytes:
    """One blob: head (magic, index, generation, length), the blob, padding, tail (adler32)."""
    if size < _HEAD_SIZE + _TAIL_SIZE:
        raise BlobError(f"has package {index} in a blob of {size} bytes")
    magic, owner, _generation, length = struct.unpack_from("<IIII", data, start)
    if magic != _BLOB_HEAD or owner != index:
        raise BlobError(f"has package {index} pointing at a damaged blob")
    if -(-(_HEAD_SIZE + length + _TAIL_SIZE) // _BLOCK) * _BLOCK != size:
        raise BlobError(f"has package {index} of {length} bytes in a blob of {size}")
    tail = start + size - _TAIL_SIZE
    adler, tail_length, tail_magic = struct.unpack_from("<III", data, tail)
    if tail_magic != _BLOB_TAIL or tail_length != length:
        raise BlobError(f"has package {index} with a damaged blob end")
    if zlib.adler32(memoryview(data)[start:tail]) != adler:
        raise BlobError(f"has package {index} failing its blob's checksum")
    return data[start + _HEAD_SIZE : start + _HEAD_SIZE + length]
