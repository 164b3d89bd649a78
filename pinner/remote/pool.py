"""httpcore's connection pool with its per-request bookkeeping made linear, for httpcore 1.0.x.

Resolving 200 tags over 32 connections spent most of its CPU in httpcore's pool, not on the
wire: `_assign_requests_to_connections` runs on every request and every response close, and
for each idle connection counted every connection again (a list built only for its length,
O(n^2) per call: 470,000 `is_idle` calls for 1,000 Dockerfiles), then asked each idle connection
whether its socket is readable through anyio's `extra()`, which builds a dict of six callables
per question; and it gave every queued request the same idle HTTP/1.1 connection, so all but one
failed and ran the pass again. `tune` swaps in the same rules done once per connection, each
HTTP/1.1 connection given one request at a time, and streams that keep their socket. It only
touches a pool it knows (httpcore 1.0, a plain AsyncConnectionPool): anything else is left as
httpx made it.
"""

from __future__ import annotations

import select
import socket
import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx

# The httpcore versions whose pool _Pool repeats (its assignment pass is private to httpcore).
_KNOWN = ("1.0.9",)


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore 1.0.9's pool: a linear assignment pass, one request per HTTP/1.1 connection."""

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        # The same rules in the same order as httpcore 1.0.9's, which compares a list of every
        # connection's is_idle() (its length: the number of connections) with the keep-alive
        # limit, once for each idle connection.
        closing: list[httpcore.AsyncConnectionInterface] = []
        # An HTTP/1.1 connection serves one request at a time, yet it stays idle until the request
        # it was given starts; httpcore would give it every queued request, and all but one then
        # fail with ConnectionNotAvailable and run the pass again (1,800 passes for 290 requests).
        # So a connection already given to a request counts as taken.
        taken = set() if self._http2 else {id(r.connection) for r in self._requests if r.connection}
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
            elif connection.has_expired() or (
                id(connection) not in taken
                and connection.is_idle()
                and len(self._connections) > self._max_keepalive_connections
            ):
                self._connections.remove(connection)
                closing.append(connection)
        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            available = next(
                (
                    connection
                    for connection in self._connections
                    if id(connection) not in taken
                    and connection.can_handle_request(origin)
                    and connection.is_available()
                ),
                None,
            )
            if available is None:
                if len(self._connections) >= self._max_connections:
                    idle = next(
                        (c for c in self._connections if id(c) not in taken and c.is_idle()), None
                    )
                    if idle is None:
                        continue  # stays queued until a connection frees up
                    self._connections.remove(idle)
                    closing.append(idle)
                available = self.create_connection(origin)
                self._connections.append(available)
            if not self._http2:
                taken.add(id(available))
            pool_request.assign_to_connection(available)
        return closing


class _Stream(httpcore.AsyncNetworkStream):
    """A network stream that answers "is_readable" from the socket it keeps."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info != "is_readable":
            return self._stream.get_extra_info(info)
        if self._socket is None:
            self._socket = self._stream.get_extra_info("socket")
        # As httpcore's is_socket_readable: a socket gone or closed reads as readable (at EOF).
        fd = -1 if self._socket is None else self._socket.fileno()
        if fd < 0:
            return True
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        return bool(poll.poll(0))


class _Backend(httpcore.AsyncNetworkBackend):
    """The pool's own backend, its streams wrapped in _Stream."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def tune(client: httpx.AsyncClient) -> bool:
    """Give the client's own pool linear bookkeeping; False when it is not one tune knows."""
    transport = getattr(client, "_transport", None)
    pool = getattr(transport, "_pool", None)
    if (
        type(pool) is not httpcore.AsyncConnectionPool
        or httpcore.__version__ not in _KNOWN
        or not hasattr(select, "poll")
    ):
        return False
    pool.__class__ = _Pool
    pool._network_backend = _Backend(pool._network_backend)
    return True
