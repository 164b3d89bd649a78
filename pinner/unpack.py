"""Capped decompression of downloaded indexes: gzip, xz, bzip2 or zstd, stream after stream.

Every reader of a compressed index (apt's Packages, rpm's primary.xml, pacman's databases) unpacks
through `chunks`, so a decompression bomb is refused once past the cap, holding no more than the
cap, and a truncated or corrupt stream is one line whatever the format.
"""

from __future__ import annotations

import bz2
import lzma
import tarfile
import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

import zstandard

# The kinds pinner reads, by the suffix a mirror names them with.
KINDS = ("gz", "xz", "bz2", "zst")
# How much one step may unpack before the total is checked against the cap.
_PIECE = 1 << 20
# zstd bounds no call's output: input goes in pieces this size, one piece unpacking to at most
# 32 blocks of 128 KiB, so the output is checked against the cap at least every 4 MiB.
_ZSTD_INPUT = 128


# What tarfile raises on a malformed archive: TarError, and ValueError or OverflowError from the
# numbers of a PAX or GNU sparse header it converts unchecked (a sparse map "a,b", an mtime "inf",
# a record length of over 4300 digits). Every reader of a tar from the network catches these.
TAR_ERRORS = (tarfile.TarError, ValueError, OverflowError)


class UnpackError(Exception):
    """The data cannot be unpacked within the cap; the message names why, not the file."""


class _Decoder(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int, /) -> bytes: ...


_DECODERS: dict[str, Callable[[], _Decoder]] = {
    "gz": lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS),
    "xz": lzma.LZMADecompressor,
    "bz2": bz2.BZ2Decompressor,
}


def kind_of(data: bytes) -> str:
    """The compression data starts with ("" for none known): for files named by content."""
    if data.startswith(b"\x1f\x8b"):
        return "gz"
    if data.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if data.startswith(b"BZh"):
        return "bz2"
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        return "zst"
    return ""


def chunks(data: bytes, kind: str, limit: int) -> Iterator[bytes]:
    """data unpacked as kind (one of KINDS, or "" for as is), piece by piece, up to limit bytes."""
    if not kind:
        if len(data) > limit:
            raise UnpackError(f"is larger than {limit} bytes")
        yield data
        return
    total = 0
    pieces = _zstd(data) if kind == "zst" else _streams(data, _DECODERS[kind])
    try:
        for piece in pieces:
            total += len(piece)
            if total > limit:
                raise UnpackError(f"decompresses to more than {limit} bytes")
            yield piece
    except zstandard.ZstdError:
        # The library's wording changes between releases; the line says what matters.
        raise UnpackError("cannot decompress: not a valid zstd stream") from None
    except (zlib.error, lzma.LZMAError, OSError, ValueError) as error:
        raise UnpackError(f"cannot decompress: {error}") from None


def unpack(data: bytes, kind: str, limit: int) -> bytes:
    """data unpacked as kind, whole; UnpackError past limit bytes or on a broken stream."""
    return b"".join(chunks(data, kind, limit))


def _streams(data: bytes, make: Callable[[], _Decoder]) -> Iterator[bytes]:
    # gzip, xz and bzip2 files may hold several streams one after another; each is read whole.
    while data:
        decoder = make()
        while True:
            piece = decoder.decompress(data, _PIECE)
            # zlib hands back the input it did not reach; lzma and bz2 keep it themselves.
            data = getattr(decoder, "unconsumed_tail", b"")
            yield piece
            if decoder.eof or not (piece or data):
                break
        if not decoder.eof:
            raise UnpackError("truncated: the compressed stream ends early")
        data = decoder.unused_data


def _zstd(data: bytes) -> Iterator[bytes]:
    # Frames one after another, as zstd(1) writes them.
    while data:
        decoder = zstandard.ZstdDecompressor().decompressobj()
        offset = 0
        while offset < len(data) and not decoder.eof:
            yield decoder.decompress(data[offset : offset + _ZSTD_INPUT])
            offset += _ZSTD_INPUT
        if not decoder.eof:
            raise UnpackError("truncated: the compressed stream ends early")
        data = decoder.unused_data + data[offset:]
