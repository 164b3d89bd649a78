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
    def __init__(self, name: str, origin: str, starts: bool) -> None:
        self.name, self.starts = name, starts
        self.request = type("R", (), {"url": type("U", (), {"origin": origin})()})()
        self.connection: FakeConnection | None = None

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: FakeConnection) -> None:
        self.connection = connection
        if self.starts:  # as if the request began at once, its HTTP/1.1 connection now busy
            connection.state = "busy"


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
    cls: type[httpcore.AsyncConnectionPool], seed: int, http2: bool = False, starts: bool = False
) -> tuple[list[str], list[str], list[tuple[str, str]], dict[str, int]]:
    """Assign a scenario's queued requests; what the pool kept, closed and assigned."""
    connections, requests, max_connections, keepalive = _scenario(seed)
    calls: dict[str, int] = {}
    made = iter(range(1000))
    the_pool: Any = cls(
        max_connections=max_connections, max_keepalive_connections=keepalive, http2=http2
    )
    the_pool._connections = [FakeConnection(n, s, o, calls) for n, s, o in connections]
    the_pool._requests = [FakeRequest(n, o, starts) for n, o in requests]
    the_pool.create_connection = lambda origin: FakeConnection(
        f"new{next(made)}", "busy", origin, calls
    )
    closing = the_pool._assign_requests_to_connections()
    assigned = [(r.name, repr(r.connection)) for r in the_pool._requests]
    return [repr(c) for c in the_pool._connections], [repr(c) for c in closing], assigned, calls


@pytest.mark.parametrize("seed", range(300))
def test_the_pool_keeps_closes_and_assigns_as_httpcore_does(seed: int) -> None:
    # Over HTTP/1.1, the same as httpcore would if each request took its connection at once.
    theirs = _run(httpcore.AsyncConnectionPool, seed, starts=True)[:3]
    assert _run(pool._Pool, seed)[:3] == theirs
    # Over HTTP/2, a connection takes as many requests as it says it can: as httpcore.
    theirs = _run(httpcore.AsyncConnectionPool, seed, http2=True)[:3]
    assert _run(pool._Pool, seed, http2=True)[:3] == theirs


def test_an_idle_connection_given_to_a_request_is_not_given_to_the_next() -> None:
    calls: dict[str, int] = {}
    the_pool: Any = pool._Pool(max_connections=1)
    idle = FakeConnection("c0", "idle", "a", calls)
    waiting, queued = FakeRequest("r0", "a", False), FakeRequest("r1", "a", False)
    waiting.connection = idle  # given c0 by an earlier pass, not yet started on it
    the_pool._connections, the_pool._requests = [idle], [waiting, queued]
    assert the_pool._assign_requests_to_connections() == []
    assert queued.connection is None  # stays queued: httpcore would give it c0 too
    assert the_pool._connections == [idle]


def test_an_idle_pool_is_scanned_once_not_once_per_idle_connection() -> None:
    # 32 idle connections, one queued request: httpcore 1.0.9 asks is_idle 32 * 32 times more.
    def calls(cls: type[httpcore.AsyncConnectionPool]) -> int:
        counts: dict[str, int] = {}
        the_pool: Any = cls(max_connections=32, max_keepalive_connections=32)
        the_pool._connections = [FakeConnection(f"c{i}", "idle", "a", counts) for i in range(32)]
        the_pool._requests = [FakeRequest("r", "a", False)]
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
    # shutdown() waits for the loop's next poll: 0.5 s by default, paid at every stop.
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_tuned_client_answers_every_request_on_at_most_its_connections(server: str) -> None:
    _Handler.peers = set()

    passes = 0

    async def run() -> list[str]:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        async with httpx.AsyncClient(limits=limits) as client:
            assert pool.tune(client)
            the_pool = client._transport._pool  # type: ignore[attr-defined]
            assert type(the_pool) is pool._Pool
            assign = the_pool._assign_requests_to_connections

            def counted() -> Any:
                nonlocal passes
                passes += 1
                return assign()

            the_pool._assign_requests_to_connections = counted
            answers = await asyncio.gather(*(client.get(f"{server}/{i}") for i in range(60)))
            return [a.text for a in answers]

    assert asyncio.run(run()) == [f"/{i}" for i in range(60)]
    assert 1 <= len(_Handler.peers) <= 4
    # One pass as each request comes in and one as its response closes: none run again because
    # a connection refused a request it had been given.
    assert passes == 2 * 60


def test_a_client_with_its_own_transport_is_left_alone() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert not pool.tune(client)
