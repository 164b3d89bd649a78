"""pinner's CPU per registry request, without a registry: HEADs at a loopback server.

A child process serves every request with the same manifest HEAD answer (keep-alive, no
latency), so this process's CPU is the client's alone: `Registry._send` (http.send, the auth
flow, the response hook, the transport), 32 requests at a time as resolve_all sends them. It
prints CPU per request (process_time, best of --repeat) and Python function calls per request
(one run under cProfile), for whichever pinner is first on PYTHONPATH:

    python3 benchmarks/bench_requests.py [--requests 2000] [--repeat 5]
    PYTHONPATH=/path/to/old/checkout python3 benchmarks/bench_requests.py
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from pinner.remote.registry import Registry, Settings

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\nContent-Type: "
    b"application/vnd.oci.image.index.v1+json\r\nDocker-Content-Digest: sha256:"
    + b"a" * 64
    + b"\r\n\r\n"
)
SERVER = f"""
import asyncio, sys

async def handle(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\\r\\n\\r\\n")
            writer.write({ANSWER!r})
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()

async def main():
    server = await asyncio.start_server(handle, sock=__import__("socket").socket(fileno=3))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


async def _heads(url: str, count: int, profile: cProfile.Profile | None) -> float:
    """CPU seconds of count HEADs (after a warm-up that opens the connections)."""
    registry = Registry(Settings(attempts=1, concurrency=32), lambda host: None)
    slots = asyncio.Semaphore(32)

    async def one() -> None:
        async with slots:
            response = await registry._send("HEAD", url)
            await response.aread()
            await response.aclose()

    try:
        await asyncio.gather(*(one() for _ in range(64)))
        start = time.process_time()
        if profile is not None:
            profile.enable()
        await asyncio.gather(*(one() for _ in range(count)))
        if profile is not None:
            profile.disable()
        return time.process_time() - start
    finally:
        await registry.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="HEADs per run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (the best is shown)")
    args = parser.parse_args(argv)
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v2/bench/app/manifests/1"
    server = subprocess.Popen([sys.executable, "-c", SERVER], pass_fds=[listener.fileno()])
    with server:
        try:
            listener.close()
            runs = [asyncio.run(_heads(url, args.requests, None)) for _ in range(args.repeat)]
            profile = cProfile.Profile()
            asyncio.run(_heads(url, args.requests, profile))
        finally:
            server.terminate()
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    per = sorted(cpu / args.requests * 1000 for cpu in runs)
    print(f"{args.requests} HEADs, 32 at a time, best of {args.repeat}:")
    print(f"  CPU per request: {per[0]:.3f} ms (runs: {', '.join(f'{p:.3f}' for p in per)})")
    print(f"  function calls per request: {calls / args.requests:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
