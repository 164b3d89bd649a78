"""pinner.unpack: every kind round-trips, stream after stream; bombs, truncation and garbage are
refused in one line."""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from pinner.unpack import KINDS, UnpackError, chunks, kind_of, unpack

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "xz": lzma.compress,
    "bz2": bz2.compress,
    "zst": zstandard.ZstdCompressor().compress,
}


def test_every_kind_is_known() -> None:
    assert sorted(COMPRESS) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
@given(parts=st.lists(st.binary(max_size=3000), min_size=1, max_size=3))
def test_streams_one_after_another_read_whole(kind: str, parts: list[bytes]) -> None:
    data = b"".join(COMPRESS[kind](part) for part in parts)
    assert kind_of(data) == kind
    assert unpack(data, kind, 10_000) == b"".join(parts)


@pytest.mark.parametrize("kind", KINDS)
def test_a_bomb_is_refused_past_the_cap_in_bounded_pieces(kind: str) -> None:
    bomb = COMPRESS[kind](bytes(16 << 20))  # twice the cap: more only costs compressing it
    seen = 0
    with pytest.raises(UnpackError, match=f"^decompresses to more than {8 << 20} bytes$"):
        for piece in chunks(bomb, kind, 8 << 20):
            assert len(piece) <= 4 << 20
            seen += len(piece)
    assert seen <= 8 << 20


@pytest.mark.parametrize("kind", KINDS)
def test_a_truncated_stream_is_refused(kind: str) -> None:
    data = COMPRESS[kind](bytes(range(256)) * 64)
    with pytest.raises(UnpackError) as raised:
        unpack(data[: len(data) - 8], kind, 1 << 20)
    assert str(raised.value) in (
        "truncated: the compressed stream ends early",
        "cannot decompress: Invalid data stream",  # bzip2 reads its trailer as data
    )


@pytest.mark.parametrize("kind", KINDS)
def test_garbage_after_a_stream_is_refused(kind: str) -> None:
    with pytest.raises(UnpackError, match=r"^cannot decompress: "):
        unpack(COMPRESS[kind](b"x") + b"trailing garbage", kind, 1 << 20)


def test_plain_data_is_capped_too() -> None:
    assert unpack(b"abc", "", 3) == b"abc"
    with pytest.raises(UnpackError, match=r"^is larger than 2 bytes$"):
        unpack(b"abc", "", 2)
    assert kind_of(b"plain") == ""
