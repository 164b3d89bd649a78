"""pinner.imagefiles: layer streaming, its checks and bounds, and the overlay of layers."""

from __future__ import annotations

import gzip
import io
import tarfile
import tracemalloc
from collections.abc import Iterator

import pytest
import zstandard
from handmade import Entry, hostile_tars, layer_tar, sha

from pinner import imagefiles
from pinner.imagefiles import FileInfo, Layer, LayerError, LayerScan, apply, scan


def chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def layer_of(tar: bytes, gz: bytes | None = None) -> tuple[Layer, bytes]:
    blob = gzip.compress(tar, mtime=0) if gz is None else gz
    return Layer(sha(blob), "", len(blob), sha(tar)), blob


def paths(view: dict[str, FileInfo]) -> list[str]:
    return sorted(view)


def test_entries_are_normalised_and_hashed() -> None:
    tar = layer_tar([Entry("./etc", kind="dir"), Entry("/etc/motd", b"hi\n", mode=0o600, uid=7)])
    layer, blob = layer_of(tar)
    result = scan(layer, chunks(blob))
    assert [(e.path, e.kind, e.mode, e.uid, e.sha256, e.text) for e in result.entries] == [
        ("/etc", "dir", 0o755, 0, "", None),
        ("/etc/motd", "file", 0o600, 7, sha(b"hi\n"), b"hi\n"),
    ]


def test_plain_and_multi_member_gzip_layers_read_the_same() -> None:
    tar = layer_tar([Entry("a", b"a" * 100_000), Entry("b", b"b\n")])
    layer, blob = layer_of(tar, tar)
    plain = scan(layer, chunks(blob))
    # Two gzip members, as pigz or a concatenating writer may produce.
    multi = gzip.compress(tar[:50_000], mtime=0) + gzip.compress(tar[50_000:], mtime=0)
    layer, blob = layer_of(tar, multi)
    assert scan(layer, chunks(blob, 7_000)).entries == plain.entries


def test_a_truncated_gzip_stream_is_refused() -> None:
    tar = layer_tar([Entry("a", bytes(range(256)) * 400)])
    gz = gzip.compress(tar, mtime=0)[:-20]
    layer, blob = layer_of(tar, gz)
    with pytest.raises(LayerError) as caught:
        scan(layer, chunks(blob))
    assert str(caught.value) == f"layer {layer.digest}: gzip stream ends early"


def test_memory_stays_small_while_a_large_file_streams() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("big")
        info.size = 64 << 20
        tar.addfile(info, io.BytesIO(bytes(64 << 20)))
    tar_bytes = raw.getvalue()
    layer, blob = layer_of(tar_bytes)
    del raw, tar_bytes
    tracemalloc.start()
    try:
        result = scan(layer, chunks(blob))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.entries[0].size == 64 << 20
    assert peak < 4 << 20  # a few buffers, never the 64 MiB file


def test_whiteouts_opaque_dirs_and_replaced_dirs() -> None:
    lower: dict[str, FileInfo] = {}
    base = [
        Entry("d", kind="dir"),
        Entry("d/keep", b"k"),
        Entry("d/gone", b"g"),
        Entry("d/sub", kind="dir"),
        Entry("d/sub/x", b"x"),
        Entry("o", kind="dir"),
        Entry("o/old", b"o"),
        Entry("r", kind="dir"),
        Entry("r/inside", b"i"),
    ]
    upper = [
        Entry("d/.wh.gone"),
        Entry("d/.wh.sub"),
        Entry("o/.wh..wh..opq"),
        Entry("o/new", b"n"),
        Entry("r", b"now a file"),
    ]
    for entries in (base, upper):
        layer, blob = layer_of(layer_tar(entries))
        lower = apply(lower, scan(layer, chunks(blob)))
    assert paths(lower) == ["/d", "/d/keep", "/o", "/o/new", "/r"]
    assert lower["/r"].kind == "file"


def test_hard_link_to_a_lower_layer_takes_its_content() -> None:
    view: dict[str, FileInfo] = {}
    for entries in (
        [Entry("bin", kind="dir"), Entry("bin/sh", b"shell")],
        [Entry("bin/dash", kind="hardlink", target="bin/sh")],
    ):
        layer, blob = layer_of(layer_tar(entries))
        view = apply(view, scan(layer, chunks(blob)))
    assert (view["/bin/dash"].sha256, view["/bin/dash"].target) == (sha(b"shell"), "/bin/sh")


def test_zstd_layers_read_as_gzip_layers_do() -> None:
    tar = layer_tar([Entry("etc", kind="dir"), Entry("etc/hostname", b"box\n")])
    zstd = zstandard.ZstdCompressor()
    frames = zstd.compress(tar[:1000]) + zstd.compress(tar[1000:])
    assert scan(*_with_chunks(layer_of(tar, frames))) == scan(*_with_chunks(layer_of(tar)))
    truncated = frames[:-20]
    with pytest.raises(
        LayerError, match=r": uncompressed digest sha256:[0-9a-f]{64}, the config says "
    ):
        scan(*_with_chunks(layer_of(tar, truncated)))


def test_a_zstd_bomb_stops_at_the_bound_in_little_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imagefiles, "MIN_EXPANSION", 1 << 20)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 256 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    layer, blob = layer_of(raw.getvalue(), zstandard.ZstdCompressor().compress(raw.getvalue()))
    del raw
    tracemalloc.start()
    try:
        with pytest.raises(LayerError, match=r"expands to more than \d+ bytes"):
            scan(layer, chunks(blob))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def _with_chunks(pair: tuple[Layer, bytes]) -> tuple[Layer, Iterator[bytes]]:
    return pair[0], chunks(pair[1], 7)


def test_scan_is_a_layer_scan() -> None:
    layer, blob = layer_of(layer_tar([]))
    assert scan(layer, chunks(blob)) == LayerScan((), frozenset(), frozenset())
    assert imagefiles.normalise("a/./b//c") == "/a/b/c"


@pytest.mark.parametrize("data", hostile_tars("etc/x").values(), ids=list(hostile_tars("")))
def test_a_layer_whose_pax_headers_do_not_parse_is_one_layer_error(data: bytes) -> None:
    # tarfile raises ValueError or OverflowError on these, not TarError.
    layer = Layer(digest=sha(data), size=len(data), diff_id="", media_type="")
    with pytest.raises(LayerError, match=r": not a readable tar archive \("):
        scan(layer, [data])
