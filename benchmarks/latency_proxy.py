"""A loopback HTTP/1.1 reverse proxy that adds a fixed delay to every request and counts them.

It stands in for the network between pinner and a distant registry: each request waits `delay`
seconds before it is forwarded, whatever connection it came on, so connection reuse does not hide
round trips. Requests are counted by kind (manifest HEAD/GET, blob, token, snapshot, other) and by
status.

Token auth goes through it too: the registry's `WWW-Authenticate` realm is rewritten to point at
`<proxy>/_token/...`, which is forwarded to the token issuer. Bodies are read whole (manifests and
tokens are small) and sent on with a Content-Length. Requests under `<proxy>/_snapshot/` are
counted and answered 404 after the delay, not forwarded: give pinner
`--snapshot-mirror debian=<proxy>/_snapshot/archive` (and ubuntu=) to see that a run asks for no
snapshot index. Standard library only.

    with LatencyProxy("http://127.0.0.1:5000", token_upstream="http://127.0.0.1:5001") as proxy:
        ...  # use proxy.host ("127.0.0.1:PORT") as the registry host
        print(proxy.counts())
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import re
import sys
import threading
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

TOKEN_PREFIX = "/_token"
SNAPSHOT_PREFIX = "/_snapshot"
KINDS = ("manifest HEAD", "manifest GET", "blob", "token", "snapshot", "other")

_MANIFEST_PATH = re.compile(r"^/v2/.+/manifests/[^/]+$")
_BLOB_PATH = re.compile(r"^/v2/.+/blobs/")
# Connection-level headers (RFC 9110 section 7.6.1): never forwarded as they are.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_MAX_HEAD = 64 * 1024


class _Message(NamedTuple):
    """A parsed start line and header list (names as sent), without the body."""

    start: tuple[str, str, str]
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        return next((v for k, v in self.headers if k.lower() == name), None)

    def tokens(self, name: str) -> set[str]:
        """The comma-separated, lower-cased tokens of every value of a header."""
        return {
            t.strip().lower()
            for k, v in self.headers
            if k.lower() == name
            for t in v.split(",")
            if t.strip()
        }


class _Upstream(NamedTuple):
    """One upstream origin: scheme-less host and port, and its URL."""

    host: str
    port: int
    url: str


def _origin(url: str) -> _Upstream:
    """Parse an http:// base URL into an upstream origin."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{url}: only plain http:// upstreams are supported")
    return _Upstream(parts.hostname, parts.port or 80, f"http://{parts.netloc}")


def kind_of(method: str, path: str) -> str:
    """Which counter a request goes to."""
    if path.startswith(TOKEN_PREFIX + "/"):
        return "token"
    if path.startswith(SNAPSHOT_PREFIX + "/"):
        return "snapshot"
    if _MANIFEST_PATH.match(path):
        return f"manifest {method}" if method in ("HEAD", "GET") else "other"
    if _BLOB_PATH.match(path):
        return "blob"
    return "other"


async def _read_message(reader: asyncio.StreamReader) -> _Message | None:
    """Read a start line and headers; None on a clean end of stream before any byte."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise ConnectionError("connection closed in the middle of a message head") from None
    except asyncio.LimitOverrunError:
        raise ConnectionError(f"message head over {_MAX_HEAD} bytes") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2:
        raise ConnectionError(f"malformed start line {lines[0]!r}")
    start = (parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return _Message(start, headers)


async def _read_body(reader: asyncio.StreamReader, message: _Message, to_eof: bool) -> bytes:
    """Read a body framed by chunked encoding or Content-Length, else (if to_eof) until EOF."""
    if "chunked" in message.tokens("transfer-encoding"):
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers: dropped
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = message.header("content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    return await reader.read() if to_eof else b""


def _serialize(start: str, headers: Sequence[tuple[str, str]], body: bytes | None) -> bytes:
    """A message's bytes; a Content-Length is added when body is not None."""
    lines = [start, *(f"{k}: {v}" for k, v in headers)]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class _Connection:
    """A kept-alive connection to one upstream, reopened when the upstream closed it."""

    def __init__(self, upstream: _Upstream) -> None:
        self.upstream = upstream
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, method: str, request: bytes) -> tuple[_Message, bytes]:
        """Send one request and read its response; retry once on a stale kept-alive connection."""
        for attempt in range(2):
            reused = self.writer is not None
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(
                    self.upstream.host, self.upstream.port, limit=_MAX_HEAD
                )
            assert self.reader is not None
            try:
                self.writer.write(request)
                await self.writer.drain()
                response = await _read_message(self.reader)
                if response is None:
                    raise ConnectionResetError("upstream closed the connection")
            except (ConnectionError, OSError):
                await self.close()
                if reused and attempt == 0:
                    continue
                raise
            status = int(response.start[1])
            bodyless = method == "HEAD" or status in (204, 304) or 100 <= status < 200
            closes = "close" in response.tokens("connection") or response.start[0] == "HTTP/1.0"
            body = b"" if bodyless else await _read_body(self.reader, response, to_eof=True)
            if closes:
                await self.close()
            return response, body
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close the upstream connection, if open."""
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class LatencyProxy:
    """A reverse proxy on a free loopback port: delay every request, count requests by kind."""

    def __init__(
        self, upstream: str, *, token_upstream: str | None = None, delay: float = 0.050
    ) -> None:
        self.upstream = _origin(upstream)
        self.token_upstream = _origin(token_upstream) if token_upstream else None
        self.delay = delay
        self.port = 0
        self._counts: collections.Counter[tuple[str, int]] = collections.Counter()
        self._counts_lock = threading.Lock()
        self.connections = 0  # client connections accepted since the last reset
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._error: BaseException | None = None

    @property
    def host(self) -> str:
        """host:port to name in image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://{self.host}"

    def start(self) -> LatencyProxy:
        """Start serving in a background thread; return once the port is bound."""
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        self._started.wait(10)
        if self._error is not None:
            raise RuntimeError(f"latency proxy failed to start: {self._error}")
        if not self.port:
            raise RuntimeError("latency proxy did not start within 10 s")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        self._loop = self._stop = self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def counts(self) -> dict[str, int]:
        """Requests forwarded since the last reset, by kind (every kind present, maybe 0)."""
        totals = dict.fromkeys(KINDS, 0)
        with self._counts_lock:
            for (kind, _), n in self._counts.items():
                totals[kind] += n
        return totals

    def statuses(self) -> dict[tuple[str, int], int]:
        """Requests forwarded since the last reset, by (kind, response status)."""
        with self._counts_lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Zero the counters."""
        with self._counts_lock:
            self._counts.clear()
            self.connections = 0

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:  # reported by start(); a thread has nowhere else to raise
            self._error = e
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0, limit=_MAX_HEAD)
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        async with server:
            await self._stop.wait()
            server.close()
            # Close kept-alive client connections so their handlers end before the loop does
            # (Python 3.11's wait_closed() does not wait for them).
            for writer in self._clients.values():
                writer.close()
            if self._clients:
                await asyncio.wait(list(self._clients), timeout=5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection: requests in order, kept alive until either side closes."""
        with self._counts_lock:
            self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._clients[task] = writer
        connections: dict[_Upstream, _Connection] = {}
        try:
            while True:
                request = await _read_message(reader)
                if request is None:
                    break
                body = await _read_body(reader, request, to_eof=False)
                keep_alive = request.start[2] == "HTTP/1.1" and "close" not in request.tokens(
                    "connection"
                )
                writer.write(await self._forward(request, body, connections))
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away or sent something unparseable: drop the connection
        finally:
            del self._clients[task]
            for connection in connections.values():
                await connection.close()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _forward(
        self, request: _Message, body: bytes, connections: dict[_Upstream, _Connection]
    ) -> bytes:
        """Delay, send the request upstream, count it, and return the response bytes to send."""
        method, target, _ = request.start
        path = target.split("?", 1)[0]
        kind = kind_of(method, path)
        upstream = self.upstream
        if kind == "token" and self.token_upstream is not None:
            upstream = self.token_upstream
            target = target[len(TOKEN_PREFIX) :]
        await asyncio.sleep(self.delay)
        if kind == "snapshot":  # no snapshot service behind the proxy: count and refuse
            self._count(kind, 404)
            return _serialize("HTTP/1.1 404 Not Found", [], b"latency proxy: no snapshot mirror\n")
        headers = [
            (k, v)
            for k, v in request.headers
            if k.lower() not in _HOP_BY_HOP and k.lower() != "host"
        ]
        headers.insert(0, ("Host", f"{upstream.host}:{upstream.port}"))
        has_body = bool(body) or request.header("content-length") is not None
        outgoing = _serialize(f"{method} {target} HTTP/1.1", headers, body if has_body else None)
        connection = connections.setdefault(upstream, _Connection(upstream))
        try:
            response, response_body = await connection.exchange(method, outgoing)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError) as e:
            self._count(kind, 502)
            message = f"latency proxy: {upstream.url}: {e}\n".encode()
            return _serialize("HTTP/1.1 502 Bad Gateway", [], message)
        status = int(response.start[1])
        self._count(kind, status)
        out_headers = [
            (k, self._rewrite(k, v)) for k, v in response.headers if k.lower() not in _HOP_BY_HOP
        ]
        if method == "HEAD":
            # A HEAD response keeps the Content-Length the GET would have had.
            length = response.header("content-length")
            out_headers += [("Content-Length", length)] if length is not None else []
            return _serialize(f"HTTP/1.1 {status} {response.start[2]}", out_headers, None)
        return _serialize(f"HTTP/1.1 {status} {response.start[2]}", out_headers, response_body)

    def _rewrite(self, name: str, value: str) -> str:
        """Point realms and redirects that name an upstream back at the proxy."""
        lowered = name.lower()
        if lowered == "www-authenticate" and self.token_upstream is not None:
            return value.replace(self.token_upstream.url, self.url + TOKEN_PREFIX)
        if lowered == "location":
            return value.replace(self.upstream.url, self.url)
        return value

    def _count(self, kind: str, status: int) -> None:
        with self._counts_lock:
            self._counts[(kind, status)] += 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the proxy in the foreground until Ctrl-C, printing counts at the end."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream", help="registry base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--token-upstream", help="token issuer base URL (realm is rewritten)")
    parser.add_argument("--delay", type=float, default=0.050, help="seconds per request")
    args = parser.parse_args(argv)
    proxy = LatencyProxy(args.upstream, token_upstream=args.token_upstream, delay=args.delay)
    with proxy:
        print(f"proxying {proxy.url} -> {args.upstream} (+{args.delay * 1000:.0f} ms)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    print(proxy.counts(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
