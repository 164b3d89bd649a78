"""pinner.remote.pool: httpcore's pool rules, done once per connection."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpcore
import httpx
import pytest

from pinner.remote import pool

pytestmark = pytest.mark.skipif(
    httpcore.__version__ not in pool._KNOWN, reason="pool.tune leaves other httpcore versions be"
)


class FakeConnection:
    """A connection in a given state, counting the questions the pool asks it."""

    def __init__(self, name: str, state: str, origin: str, calls: dict[str, int]) -> None:
        self.name, self.state, self.origin, self.calls = name, state, origin, calls

    def _ask(self, what: str) -> None:
        self.calls[what] = self.calls.get(what, 0) + 1

    def is_closed(self) -> bool:
        self._ask("is_closed")
        return self.state == "closed"

    def has_expired(self) -> bool:
        self._ask("has_expired")
        return self.state == "expired"

    def is_idle(self) -> bool:
        self._ask("is_idle")
        return self.state == "idle"

    def is_available(self) -> bool:
        self._ask("is_available")
        return self.state in ("idle", "shared")

    def can_handle_request(self, origin: Any) -> bool:
        self._ask("can_handle_request")
        return bool(origin == self.origin)

    def __repr__(self) -> str:
        return self.name


class FakeRequest:
    def __init__(self, name: str, origin: str) -> None:
        self.name = name
        self.request = type("R", (), {"url": type("U", (), {"origin": origin})()})()
        self.connection: FakeConnection | None = None

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: FakeConnection) -> None:
        self.connection = connection


def _scenario(seed: int) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], int, int]:
    rnd = random.Random(seed)
    origins = ["a", "b"]
    connections = [
        (f"c{i}", rnd.choice(["idle", "busy", "shared", "closed", "expired"]), rnd.choice(origins))
        for i in range(rnd.randint(0, 40))
    ]
    requests = [(f"r{i}", rnd.choice(origins)) for i in range(rnd.randint(0, 40))]
    return connections, requests, rnd.randint(1, 40), rnd.randint(0, 40)


def _run(
    cls: type[httpcore.AsyncConnectionPool], seed: int
) -> tuple[list[str], list[str], list[tuple[str, str]], dict[str, int]]:
    """Assign a scenario's queued requests; what the pool kept, closed and assigned."""
    connections, requests, max_connections, keepalive = _scenario(seed)
    calls: dict[str, int] = {}
    made = iter(range(1000))
    the_pool: Any = cls(max_connections=max_connections, max_keepalive_connections=keepalive)
    the_pool._connections = [FakeConnection(n, s, o, calls) for n, s, o in connections]
    the_pool._requests = [FakeRequest(n, o) for n, o in requests]
    the_pool.create_connection = lambda origin: FakeConnection(
        f"new{next(made)}", "busy", origin, calls
    )
    closing = the_pool._assign_requests_to_connections()
    assigned = [(r.name, repr(r.connection)) for r in the_pool._requests]
    return [repr(c) for c in the_pool._connections], [repr(c) for c in closing], assigned, calls


@pytest.mark.parametrize("seed", range(300))
def test_the_pool_keeps_closes_and_assigns_as_httpcore_does(seed: int) -> None:
    assert _run(pool._Pool, seed)[:3] == _run(httpcore.AsyncConnectionPool, seed)[:3]


def test_an_idle_pool_is_scanned_once_not_once_per_idle_connection() -> None:
    # 32 idle connections, one queued request: httpcore 1.0.9 asks is_idle 32 * 32 times more.
    def calls(cls: type[httpcore.AsyncConnectionPool]) -> int:
        counts: dict[str, int] = {}
        the_pool: Any = cls(max_connections=32, max_keepalive_connections=32)
        the_pool._connections = [FakeConnection(f"c{i}", "idle", "a", counts) for i in range(32)]
        the_pool._requests = [FakeRequest("r", "a")]
        the_pool._assign_requests_to_connections()
        return counts["is_idle"]

    assert calls(pool._Pool) <= 32
    assert calls(httpcore.AsyncConnectionPool) > 32 * 32


class _Inner(httpcore.AsyncNetworkStream):
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.asked: list[str] = []

    def get_extra_info(self, info: str) -> Any:
        self.asked.append(info)
        return self.sock if info == "socket" else f"inner {info}"


def test_a_stream_is_readable_as_httpcore_says() -> None:
    ours, theirs = socket.socketpair()
    inner = _Inner(ours)
    stream = pool._Stream(inner)
    try:
        assert stream.get_extra_info("is_readable") is False
        theirs.sendall(b"x")
        assert stream.get_extra_info("is_readable") is True
        assert stream.get_extra_info("server_addr") == "inner server_addr"
        assert inner.asked == ["socket", "server_addr"]  # the socket asked for once
        ours.close()
        assert stream.get_extra_info("is_readable") is True  # gone: reads as at its end
    finally:
        ours.close()
        theirs.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peers: ClassVar[set[tuple[str, int]]] = set()

    def do_GET(self) -> None:
        _Handler.peers.add(self.client_address)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_tuned_client_answers_every_request_on_at_most_its_connections(server: str) -> None:
    _Handler.peers = set()

    async def run() -> list[str]:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        async with httpx.AsyncClient(limits=limits) as client:
            assert pool.tune(client)
            assert type(client._transport._pool) is pool._Pool  # type: ignore[attr-defined]
            answers = await asyncio.gather(*(client.get(f"{server}/{i}") for i in range(60)))
            return [a.text for a in answers]

    assert asyncio.run(run()) == [f"/{i}" for i in range(60)]
    assert 1 <= len(_Handler.peers) <= 4


def test_a_client_with_its_own_transport_is_left_alone() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert not pool.tune(client)
