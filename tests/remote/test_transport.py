"""pinner.remote.transport: HTTP/1.1 over asyncio against loopback servers written by hand.

Each server is an asyncio server whose bytes the test writes, so that each fault (a cut body, a
header line too long, a reset, silence) is exactly the one asked for; it counts the connections
it accepted and the requests each carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import ssl
import warnings
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from certs import certificate
from cryptography import x509

from pinner.remote import http, transport
from pinner.remote.registry import Registry, Settings
from pinner.remote.snapshot import SnapshotMirror

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
HANG = b""  # the server answers nothing and keeps the connection open
CUT = b"\0cut"  # at the end of an answer: the server closes the connection once it is sent


@dataclass
class Seen:
    """What a server saw: connections accepted, and (connection, request line) per request."""

    connections: int = 0
    requests: list[tuple[int, str]] = field(default_factory=list)
    ended: int = 0  # connections whose client closed them


Answer = Callable[[bytes], bytes]


async def serve(
    answer: Answer, context: ssl.SSLContext | None = None
) -> tuple[asyncio.Server, int, Seen]:
    """A loopback server answering each request head with answer(head)'s bytes."""
    seen = Seen()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = seen.connections
        seen.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.lower().split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                seen.requests.append((number, head.split(b"\r\n")[0].decode()))
                reply = answer(head)
                if not reply:
                    await reader.read()  # until the client gives up and closes
                    raise ConnectionResetError
                writer.write(reply.removesuffix(CUT))
                await writer.drain()
                if b"connection: close" in reply.lower() or reply.endswith(CUT):
                    break
        except (asyncio.IncompleteReadError, OSError):  # OSError: ConnectionError, ssl.SSLError
            seen.ended += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[1], seen


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server's side of a connection that accepts, never reads and never answers."""
    try:
        await asyncio.sleep(3600)
    finally:  # cancelled as the test's loop ends
        writer.close()


def client(
    limits: httpx.Limits | None = None,
    context: ssl.SSLContext | None = None,
    timeout: httpx.Timeout | float = 5.0,
) -> httpx.AsyncClient:
    limits = limits or httpx.Limits(max_connections=4, max_keepalive_connections=4)
    return httpx.AsyncClient(
        transport=transport.Transport(limits, context or http.trust()), timeout=timeout
    )


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main())


def test_requests_share_at_most_the_limit_of_connections_one_request_each_at_a_time() -> None:
    async def main() -> None:
        server, port, seen = await serve(lambda head: OK)
        async with server, client() as c:
            answers = await asyncio.gather(
                *(c.get(f"http://127.0.0.1:{port}/{i}") for i in range(60))
            )
        assert [a.text for a in answers] == ["ok"] * 60
        assert len(seen.requests) == 60
        assert 1 <= seen.connections <= 4
        # Every connection served its requests one after another, none left over: 60 in all.
        assert sorted({n for n, _ in seen.requests}) == list(range(seen.connections))

    run(main)


def test_a_request_waits_for_a_busy_connection_and_is_bounded_by_the_pool_timeout() -> None:
    async def main() -> None:
        server, port, seen = await serve(lambda head: OK)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        timeout = httpx.Timeout(5.0, pool=0.2)
        async with server, client(limits, timeout=timeout) as c:
            url = f"http://127.0.0.1:{port}/"
            first = await c.send(c.build_request("GET", url), stream=True)  # holds the connection
            # The pool's timeout ends the wait, not the test's own guard of 5 s.
            with pytest.raises(httpx.PoolTimeout):
                async with asyncio.timeout(5.0):
                    await c.get(url)
            # Once the first response is read, the waiting request gets its connection.
            second = asyncio.create_task(c.get(url))
            await asyncio.sleep(0.01)
            assert not second.done()
            await first.aread()
            await first.aclose()
            assert (await second).text == "ok"
        assert seen.connections == 1
        assert len(seen.requests) == 2

    run(main)


def test_a_connection_is_dropped_when_the_server_says_close() -> None:
    async def main() -> None:
        closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        server, port, seen = await serve(lambda head: closing)
        async with server, client() as c:
            for _ in range(3):
                assert (await c.get(f"http://127.0.0.1:{port}/")).text == "ok"
        assert seen.connections == 3

    run(main)


def test_an_idle_connection_is_dropped_after_the_keepalive_expiry() -> None:
    async def main() -> None:
        server, port, seen = await serve(lambda head: OK)
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=0.05)
        async with server, client(limits) as c:
            url = f"http://127.0.0.1:{port}/"
            await c.get(url)
            await c.get(url)
            assert seen.connections == 1  # reused while fresh
            await asyncio.sleep(0.1)
            await c.get(url)
        assert seen.connections == 2

    run(main)


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def main() -> None:
        server, port, seen = await serve(lambda head: OK + CUT)  # no "Connection: close"
        async with server, client() as c:
            url = f"http://127.0.0.1:{port}/"
            assert (await c.get(url)).text == "ok"
            await asyncio.sleep(0.05)  # the server's FIN arrives
            assert (await c.get(url)).text == "ok"
        assert seen.connections == 2

    run(main)


def test_idle_connections_beyond_the_keepalive_limit_are_closed() -> None:
    async def main() -> None:
        server, port, seen = await serve(lambda head: OK)
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=1)
        async with server, client(limits) as c:
            pool = c._transport._pool  # type: ignore[attr-defined]
            await asyncio.gather(*(c.get(f"http://127.0.0.1:{port}/{i}") for i in range(8)))
            assert pool.idle_count == 1
            assert len(pool.open) == 1
            await asyncio.sleep(0.01)
        assert seen.connections > 1
        assert seen.ended == seen.connections - 1

    run(main)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort" + CUT, httpx.RemoteProtocolError),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab" + CUT,
            httpx.RemoteProtocolError,
        ),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200_000 + b"\r\n\r\n", httpx.RemoteProtocolError),
        (b"NOT HTTP\r\n\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Len" + CUT, httpx.RemoteProtocolError),
        (HANG, httpx.ReadTimeout),
    ],
    ids=[
        "body cut short",
        "chunk cut short",
        "header line too long",
        "not http",
        "head cut",
        "silence",
    ],
)
def test_faults_become_httpx_errors_and_the_connection_is_not_reused(
    reply: bytes, error: type[Exception]
) -> None:
    async def main() -> None:
        fault = [True]

        def answer(head: bytes) -> bytes:
            if fault:
                fault.clear()
                return reply
            return OK

        server, port, seen = await serve(answer)
        async with server, client(timeout=httpx.Timeout(5.0, read=0.2)) as c:
            url = f"http://127.0.0.1:{port}/"
            with pytest.raises(error):
                await c.get(url)
            assert (await c.get(url)).text == "ok"
        assert seen.connections == 2

    run(main)


def test_streamed_bodies_chunked_content_length_and_head() -> None:
    def answer(head: bytes) -> bytes:
        if head.startswith(b"HEAD"):  # a HEAD's Content-Length describes the GET's body
            return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
        if b"/chunked" in head:
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nvwxyz"

    async def main() -> None:
        server, port, seen = await serve(answer)
        async with server, client() as c:
            base = f"http://127.0.0.1:{port}"
            async with c.stream("GET", f"{base}/chunked") as response:
                assert [piece async for piece in response.aiter_raw()] == [b"abc", b"de"]
            head = await c.head(f"{base}/")
            assert (head.status_code, head.content, head.headers["content-length"]) == (
                200,
                b"",
                "100",
            )
            assert (await c.get(f"{base}/")).content == b"vwxyz"
        assert seen.connections == 1  # each ended its exchange, so the connection was kept
        assert [line for _, line in seen.requests] == [
            "GET /chunked HTTP/1.1",
            "HEAD / HTTP/1.1",
            "GET / HTTP/1.1",
        ]

    run(main)


def test_a_body_closed_before_its_end_closes_its_connection() -> None:
    async def main() -> None:
        server, port, seen = await serve(
            lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"
        )
        async with server, client() as c:
            url = f"http://127.0.0.1:{port}/"
            async with c.stream("GET", url):
                pass  # not read
            assert (await c.get(url)).content == b"0123456789"
        assert seen.connections == 2

    run(main)


def test_a_fast_endless_body_is_read_with_a_bounded_buffer() -> None:
    async def main() -> None:
        async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            try:
                while True:
                    writer.write(b"x" * 65536)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(endless, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, client() as c:
            pool = c._transport._pool  # type: ignore[attr-defined]
            largest = 0
            async with c.stream("GET", f"http://127.0.0.1:{port}/") as response:
                (connection,) = pool.open
                read = 0
                async for piece in response.aiter_raw():
                    read += len(piece)
                    await asyncio.sleep(0.001)  # a slower reader than the server
                    largest = max(largest, connection._buffered)
                    if read > 16 * 1024 * 1024:
                        break
            assert largest <= transport._HIGH_WATER + 256 * 1024

    run(main)


def test_connect_errors_and_timeouts() -> None:
    async def main() -> None:
        refused = socket.socket()
        refused.bind(("127.0.0.1", 0))
        port = refused.getsockname()[1]
        refused.close()
        async with client() as c:
            with pytest.raises(httpx.ConnectError) as caught:
                await c.get(f"http://127.0.0.1:{port}/")
        assert http.describe(caught.value) == "connection refused"

        # A server that accepts and then says nothing: the TLS handshake is part of connecting.
        quiet = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = quiet.sockets[0].getsockname()[1]
        async with quiet, client(timeout=httpx.Timeout(5.0, connect=0.2)) as c:
            with pytest.raises(httpx.ConnectTimeout):
                await c.get(f"https://127.0.0.1:{port}/")
            assert c._transport._pool.opening == 0  # type: ignore[attr-defined]

    run(main)


def test_a_reset_connection_is_a_read_error() -> None:
    async def main() -> None:
        async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            sock = writer.get_extra_info("socket")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            writer.transport.abort()

        server = await asyncio.start_server(reset, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, client() as c:
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                await c.get(f"http://127.0.0.1:{port}/")

    run(main)


def test_a_request_body_the_server_never_reads_is_a_write_timeout() -> None:
    async def main() -> None:
        quiet = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = quiet.sockets[0].getsockname()[1]
        async with quiet, client(timeout=httpx.Timeout(5.0, write=0.2)) as c:
            with pytest.raises(httpx.WriteTimeout):
                await c.post(f"http://127.0.0.1:{port}/", content=b"x" * (64 * 1024 * 1024))

    run(main)


def test_a_header_value_that_is_not_http_is_a_local_protocol_error() -> None:
    async def main() -> None:
        server, port, seen = await serve(lambda head: OK)
        async with server, client() as c:
            with pytest.raises(httpx.LocalProtocolError):
                await c.get(f"http://127.0.0.1:{port}/", headers={"X": "a\r\nInjected: 1"})
            assert (await c.get(f"http://127.0.0.1:{port}/")).text == "ok"
        assert [line for _, line in seen.requests] == ["GET / HTTP/1.1"]

    run(main)


def test_a_cancelled_request_frees_its_connection() -> None:
    async def main() -> None:
        answers = iter([HANG, OK])
        server, port, seen = await serve(lambda head: next(answers))
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with server, client(limits, timeout=httpx.Timeout(5.0, pool=1.0)) as c:
            url = f"http://127.0.0.1:{port}/"
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await c.get(url)
            assert (await c.get(url)).text == "ok"
        assert seen.connections == 2

    run(main)


def test_tls_sends_the_host_name_and_checks_the_certificate_against_it(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, x509.DNSName("localhost"), "localhost")

    async def main() -> None:
        served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        served.load_cert_chain(cert, key)
        names: list[str | None] = []
        served.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment,func-returns-value]
        server, port, seen = await serve(lambda head: OK, served)
        trusting = http._trust.__wrapped__(str(cert), None, None)
        async with server:
            async with client(context=trusting) as c:
                assert (await c.get(f"https://localhost:{port}/")).text == "ok"
                assert names == ["localhost"]
                # The same certificate at an address it does not name is refused.
                with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
                    await c.get(f"https://127.0.0.1:{port}/")
            async with client() as c:  # the default trust: no CA signed it
                with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
                    await c.get(f"https://localhost:{port}/")
        assert len(seen.requests) == 1

    run(main)


def test_aclose_closes_every_connection_and_leaves_no_resource_warning() -> None:
    async def main() -> None:
        server, port, seen = await serve(lambda head: OK if b"/hang" not in head else HANG)
        async with server:
            c = client()
            await asyncio.gather(*(c.get(f"http://127.0.0.1:{port}/{i}") for i in range(8)))
            hanging = asyncio.create_task(c.get(f"http://127.0.0.1:{port}/hang"))
            await asyncio.sleep(0.05)
            pool = c._transport._pool  # type: ignore[attr-defined]
            assert len(pool.open) == seen.connections
            await c.aclose()
            assert pool.open == set()
            with pytest.raises(httpx.ReadError):
                await hanging
            await asyncio.sleep(0.05)
            assert seen.ended == seen.connections  # the server saw each one closed

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(main)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_unknown_schemes_are_refused() -> None:
    async def main() -> None:
        async with client() as c:
            with pytest.raises(httpx.UnsupportedProtocol):
                await c.get("ftp://127.0.0.1/")

    run(main)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_keeps_httpx_transport_and_its_proxy(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    limits = httpx.Limits(max_connections=1)
    assert isinstance(transport.for_client(limits, http.trust()), transport.Transport)

    async def main() -> None:
        proxy, port, seen = await serve(
            lambda head: b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        )
        monkeypatch.setenv(variable, f"http://127.0.0.1:{port}")
        assert transport.for_client(limits, http.trust()) is None
        registry = Registry(Settings(attempts=1), lambda host: None)
        mirror = SnapshotMirror({}, None)
        try:
            for c in (registry._client, mirror._client):
                assert (await c.get("http://registry.invalid/v2/")).status_code == 404
        finally:
            await registry.aclose()
            await mirror.aclose()
            proxy.close()
        # The proxy was asked for the absolute URL: the request went through it.
        assert [line for _, line in seen.requests] == [
            "GET http://registry.invalid/v2/ HTTP/1.1"
        ] * 2

    run(main)


def test_pinners_clients_use_the_transport_unless_given_one() -> None:
    async def main() -> None:
        registry = Registry(Settings(concurrency=7), lambda host: None)
        mirror = SnapshotMirror({}, None)
        given = Registry(
            Settings(), lambda host: None, httpx.MockTransport(lambda r: httpx.Response(200))
        )
        try:
            for c in (registry._client, mirror._client):
                assert isinstance(c._transport, transport.Transport)
            assert registry._client._transport._pool.limit == 7  # type: ignore[attr-defined]
            assert registry._client._transport._pool.keep == 7  # type: ignore[attr-defined]
            assert isinstance(given._client._transport, httpx.MockTransport)
        finally:
            for closing in (registry, mirror, given):
                await closing.aclose()

    run(main)


def test_a_response_read_to_its_end_is_freed_without_the_collector() -> None:
    # httpx's stream around each body holds its response, which holds the stream: a cycle that
    # only a collection would free, 2,700 responses at a time in a 10,000-file lock.
    async def main() -> None:
        server, port, _ = await serve(lambda head: OK)
        registry = Registry(Settings(attempts=1), lambda host: None)
        c = registry._client
        gc.disable()
        try:
            async with server:
                response = await c.send(c.build_request("GET", f"http://127.0.0.1:{port}/"))
                assert isinstance(response.stream, http.Bounded)
                assert response.text == "ok"
                freed = weakref.ref(response)
                del response
                assert freed() is None
        finally:
            gc.enable()
            await registry.aclose()

    run(main)
