"""Hostile HTTP servers for tests: registries and token services that lie, drip, echo and flood.

tests/registryd.py runs the real docker-registry for honest answers. The attacks here are answers a
real registry will not give on demand (a path in Docker-Content-Digest, an endless error body, a
body sent one byte a second, a redirect to another host), so each test writes the answers itself:
a Server calls a route function per request and records what it was sent.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Seen:
    """One request the server received: method, path (no query), query and headers."""

    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Reply:
    """What to answer: status, headers, and a body given whole or as chunks sent one by one."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    # With chunks and no Content-Length, close the connection to end the body (HTTP/1.0 style).
    length: bool = True


Route = Callable[[Seen], Reply]


class Server:
    """A ThreadingHTTPServer on a loopback address, answering every request through route."""

    def __init__(self, route: Route, host: str = "127.0.0.1") -> None:
        self.route = route
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                target = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                seen = Seen(self.command, target.path, target.query, dict(self.headers.items()))
                server.seen.append(seen)
                reply = server.route(seen)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(reply.body)
                    return
                if not reply.length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command == "HEAD":
                    return
                with contextlib.suppress(OSError):
                    for chunk in reply.body:
                        if server.stopping.is_set():
                            break
                        self.wfile.write(chunk)
                        self.wfile.flush()

            do_GET = do_HEAD = do_POST = _answer

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                # pinner hangs up on bodies it refuses; socketserver would print that reset to the
                # stderr the test reads pinner's messages from.
                pass

        self.httpd = Quiet((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"{host}:{self.httpd.server_address[1]}"
        self.url = f"http://{self.host}"
        # shutdown() waits for the loop's next poll: 0.5 s by default, paid at every stop.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> list[tuple[str, str]]:
        """(method, path) of every request received."""
        return [(s.method, s.path) for s in self.seen]


@contextlib.contextmanager
def serving(route: Route, host: str = "127.0.0.1") -> Iterator[Server]:
    """A Server for the length of a with block."""
    server = Server(route, host)
    try:
        yield server
    finally:
        server.stop()


def endless(chunk: bytes = b"A" * 65536) -> Iterator[bytes]:
    """The same chunk forever: a body with no end."""
    while True:
        yield chunk


def drip(body: bytes, interval: float = 1.0) -> Iterator[bytes]:
    """body one byte at a time, a pause between bytes: a server that never times out per read."""
    for byte in body:
        yield bytes([byte])
        time.sleep(interval)
