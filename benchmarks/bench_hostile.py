"""Peak memory (and time) of pinner on hostile inputs: one child process per case, its peak RSS.

Each case runs pinner (the CLI, or the one function that reads the input) in a fresh child
process; the hostile server, when there is one, runs in this process, so its memory is not
counted. The child's peak RSS comes from os.wait4. Usage: python benchmarks/bench_hostile.py
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile import Reply, Seen, endless, serving  # noqa: E402

TARGET_MB = 200


def child(code: str, *args: str) -> tuple[float, float, str]:
    """Run code in a fresh Python; return (peak RSS in MB, seconds, last line of stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    err = process.stderr.read()
    _, _, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    lines = err.strip().splitlines()
    return usage.ru_maxrss / 1024, seconds, lines[-2 if len(lines) > 1 else -1] if lines else ""


LOCK = """
import sys
from pinner.main import main
sys.exit(main(["lock", "--images-only", *sys.argv[1:]]))
"""


def lock_case(route: object, folder: Path, *argv: str) -> tuple[float, float, str]:
    with serving(route) as server:  # type: ignore[arg-type]
        path = folder / "Dockerfile"
        path.write_text(f"FROM {server.host}/app:1\n")
        return child(LOCK, *argv, str(path))


def endless_404(seen: Seen) -> Reply:
    return Reply(404, body=endless(), length=False)


def endless_token(seen: Seen) -> Reply:
    if seen.path == "/token":
        return Reply(body=endless(), length=False)
    return Reply(401, {"WWW-Authenticate": f'Bearer realm="http://{seen.headers["Host"]}/token"'})


def endless_redirect(seen: Seen) -> Reply:
    return Reply(307, {"Location": "/elsewhere"}, endless(), length=False)


def endless_manifest(seen: Seen) -> Reply:
    if seen.method == "HEAD":
        return Reply(405)
    return Reply(headers={"Content-Type": "application/json"}, body=endless(), length=False)


SNAPSHOT = """
import asyncio, sys
from pinner.remote.snapshot import SnapshotMirror
from pinner.errors import MirrorError

async def run():
    mirror = SnapshotMirror({"debian": sys.argv[1]}, None)
    try:
        await mirror.release("debian", "20250101T000000Z", "bookworm", [])
    except MirrorError as e:
        print(e, file=sys.stderr)
    finally:
        await mirror.aclose()

asyncio.run(run())
"""

DECOMPRESS = """
import sys
from pinner.apt.packages import decompress
from pinner.errors import MirrorError
data = open(sys.argv[1], "rb").read()
try:
    decompress(data, sys.argv[2])
except MirrorError as e:
    print(e, file=sys.stderr)
"""

SCAN = """
import sys
from pinner.baseimage import BaseImageError, scan_layer

def chunks():
    with open(sys.argv[1], "rb") as f:
        while chunk := f.read(65536):
            yield chunk
try:
    entries = scan_layer(chunks())
    print(f"{len(entries)} entries kept", file=sys.stderr)
except BaseImageError as e:
    print(e, file=sys.stderr)
"""


class Repeat(io.RawIOBase):
    """A file of size bytes of one byte value, never held in memory."""

    def __init__(self, size: int, byte: bytes = b"x") -> None:
        self.left = size
        self.block = byte * 65536

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left, len(self.block))
        buffer[:n] = self.block[:n]
        self.left -= n
        return n


def write_layer(path: Path, members: Iterator[tuple[str, int, bytes]]) -> None:
    """A gzip layer tar (level 1) whose members are (name, size, repeated byte)."""
    with gzip.open(path, "wb", compresslevel=1) as out, tarfile.open(fileobj=out, mode="w|") as tar:
        for name, size, byte in members:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BufferedReader(Repeat(size, byte), 1 << 20))


def main() -> None:
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        for name, route, argv in [
            ("404 with an endless body", endless_404, ()),
            ("token service with an endless answer", endless_token, ()),
            ("307 with an endless body", endless_redirect, ()),
            ("manifest with an endless body", endless_manifest, ()),
        ]:
            rows.append((name, *lock_case(route, folder, *argv)))
        with serving(lambda seen: Reply(body=endless(), length=False)) as server:
            rows.append(("snapshot InRelease with an endless body", *child(SNAPSHOT, server.url)))

        xz_bomb = folder / "Packages.xz"
        compressor = lzma.LZMACompressor(preset=1)
        with open(xz_bomb, "wb") as f:
            for _ in range(1024):  # 1 GiB of zeros
                f.write(compressor.compress(b"\0" * (1 << 20)))
            f.write(compressor.flush())
        size = xz_bomb.stat().st_size >> 10
        rows.append(
            (
                f"Packages.xz bomb ({size} KiB -> 1 GiB)",
                *child(DECOMPRESS, str(xz_bomb), "Packages.xz"),
            )
        )
        gz_bomb = folder / "Packages.gz"
        with gzip.open(gz_bomb, "wb", compresslevel=9) as out:
            for _ in range(1024):
                out.write(b"\0" * (1 << 20))
        size = gz_bomb.stat().st_size >> 10
        rows.append(
            (
                f"Packages.gz bomb ({size} KiB -> 1 GiB)",
                *child(DECOMPRESS, str(gz_bomb), "Packages.gz"),
            )
        )

        status = folder / "status-layer.tar.gz"
        write_layer(status, iter([("var/lib/dpkg/status", 900 << 20, b"x")]))
        size = status.stat().st_size >> 10
        rows.append(
            (f"layer ({size} KiB) with a 900 MiB dpkg status line", *child(SCAN, str(status)))
        )

        keyrings = folder / "keyrings-layer.tar.gz"
        write_layer(
            keyrings,
            ((f"usr/share/keyrings/k{i}.gpg", 4 * 1024 * 1024 - 1, bytes([i])) for i in range(200)),
        )
        size = keyrings.stat().st_size >> 10
        rows.append((f"layer ({size} KiB) with 200 keyrings of 4 MiB", *child(SCAN, str(keyrings))))

        zeros = folder / "zeros-layer.tar.gz"
        write_layer(zeros, iter([("big", 1000 << 20, b"\0")]))
        size = zeros.stat().st_size >> 10
        rows.append((f"layer ({size} KiB) with a 1000 MiB file of zeros", *child(SCAN, str(zeros))))

        huge = folder / "huge-layer.tar.gz"
        with gzip.open(huge, "wb") as out:
            info = tarfile.TarInfo("big")
            info.size = 8 << 30
            out.write(info.tobuf(format=tarfile.GNU_FORMAT))
            out.write(b"\0" * (1 << 20))
        rows.append(("layer claiming an 8 GiB file", *child(SCAN, str(huge))))

    width = max(len(r[0]) for r in rows)
    print(f"{'input':<{width}}  peak RSS   time  outcome")
    for name, rss, seconds, outcome in rows:
        flag = "" if rss < TARGET_MB else "  OVER TARGET"
        print(f"{name:<{width}}  {rss:6.0f} MB {seconds:5.1f} s  {outcome[:90]}{flag}")


if __name__ == "__main__":
    main()
