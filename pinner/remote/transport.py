"""An HTTP/1.1 transport for pinner's clients: h11 over an asyncio Protocol, a keep-alive pool.

httpx's default transport runs each request through httpcore's pool (an assignment pass over
every connection, twice per request), anyio's cancel scopes and locks (eight event-loop
checkpoints per request) and a stream layer over asyncio's: about a quarter of the CPU of a
registry request, for HEADs and small GETs. This transport does what pinner's requests need and
no more: one request at a time per connection, at most `max_connections` open, idle ones kept
per origin (up to `max_keepalive_connections`, for `keepalive_expiry` seconds), h11 for the
framing, httpx's exceptions for every failure so retries and error lines stay the same.

httpx itself stays (its Client, auth flows, redirects, hooks and MockTransport injection). With a
transport given, httpx leaves the environment's proxies unmounted, so `for_client` hands back
None (httpx's own transport, proxies and all) whenever the environment names one.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import urllib.request
from collections.abc import Callable

import h11
import httpx

# As httpcore: the largest response head (or chunk header) h11 buffers before refusing it.
MAX_INCOMPLETE_EVENT_SIZE = 100 * 1024
# Reading from a socket pauses while this much waits unread: a fast endless body costs no memory.
_HIGH_WATER = 256 * 1024
_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, bytes, int]


def _expire(waiter: asyncio.Future[None], error: Callable[[str], Exception], what: str) -> None:
    if not waiter.done():
        waiter.set_exception(error(what))


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class _Connection(asyncio.Protocol):
    """One connection: what its socket delivered, and h11's view of the exchange on it."""

    def __init__(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self.loop = loop
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_INCOMPLETE_EVENT_SIZE)
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._eof = False
        self._lost: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._writable = True
        self._drain: asyncio.Future[None] | None = None

    # asyncio's side.
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        _wake(self._waiter)

    def eof_received(self) -> bool:
        self._eof = True
        _wake(self._waiter)
        return False  # close the transport: pinner never sends after the server's EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = exc or self._lost
        _wake(self._waiter)
        self._writable = True
        _wake(self._drain)

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        _wake(self._drain)

    # The request's side.
    def reusable(self, now: float, expiry: float | None) -> bool:
        """Idle, open, with nothing unasked from the server, and not idle for too long."""
        return (
            not self._eof
            and not self._chunks
            and self.transport is not None
            and not self.transport.is_closing()
            and (expiry is None or now - self.idle_since <= expiry)
        )

    def close(self) -> None:
        # A request still reading from it (the client closed meanwhile) fails as a read error.
        self._lost = self._lost or ConnectionAbortedError("the connection was closed")
        if self.transport is not None:
            # No TLS close_notify exchange: the peer learns from the FIN, as with httpcore.
            self.transport.abort()

    async def _woken(
        self,
        waiter: asyncio.Future[None],
        timeout: float | None,
        error: Callable[[str], Exception],
        what: str,
    ) -> None:
        """Wait until waiter is woken; after timeout seconds it fails with error(what)."""
        timer = None
        if timeout is not None:
            timer = self.loop.call_later(timeout, _expire, waiter, error, what)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()

    async def read(self, timeout: float | None) -> bytes:
        """What the socket delivered since the last read (waiting for some); b"" at its end."""
        while not self._chunks:
            if self._eof:
                if self._lost is not None:
                    raise httpx.ReadError(str(self._lost) or type(self._lost).__name__)
                return b""
            self._waiter = self.loop.create_future()
            try:
                await self._woken(self._waiter, timeout, httpx.ReadTimeout, "timed out reading")
            finally:
                self._waiter = None
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def write(self, data: bytes, timeout: float | None) -> None:
        if self.transport is None or self.transport.is_closing():
            raise httpx.WriteError("the connection is closed")
        self.transport.write(data)
        while not self._writable and not self._eof:
            self._drain = self.loop.create_future()
            try:
                await self._woken(self._drain, timeout, httpx.WriteTimeout, "timed out writing")
            finally:
                self._drain = None
        if self._lost is not None:
            raise httpx.WriteError(str(self._lost) or type(self._lost).__name__)

    async def next_event(self, timeout: float | None) -> object:
        """h11's next event from the server, reading as it needs."""
        connection = self.h11
        try:
            while True:
                event = connection.next_event()
                if event is not h11.NEED_DATA:
                    return event  # an h11 event, or PAUSED (only after the exchange is over)
                connection.receive_data(await self.read(timeout))
        except h11.RemoteProtocolError as e:
            raise httpx.RemoteProtocolError(str(e)) from None


class _Pool:
    """The connections of one client: at most `limit` open, idle ones kept per origin."""

    def __init__(self, limits: httpx.Limits, context: ssl.SSLContext) -> None:
        self.limit = limits.max_connections
        self.keep = limits.max_keepalive_connections
        self.expiry = limits.keepalive_expiry
        self.context = context
        self.open: set[_Connection] = set()
        self.opening = 0
        self.idle: dict[Origin, list[_Connection]] = {}
        self.idle_count = 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.closed = False

    async def acquire(self, origin: Origin, timeouts: dict[str, float | None]) -> _Connection:
        """A connection to origin for one request: an idle one, a new one, or the next freed."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            if self.closed:
                raise httpx.ConnectError("the client is closed")
            idle = self.idle.get(origin)
            now = loop.time()
            while idle:
                connection = idle.pop()
                self.idle_count -= 1
                if connection.reusable(now, self.expiry):
                    return connection
                self.discard(connection)
            if self.limit is None or len(self.open) + self.opening < self.limit:
                return await self._connect(origin, timeouts.get("connect"), loop)
            if self.idle_count:
                self._close_oldest_idle()
                continue
            # Every connection is busy: wait for one to be released (bounded by the pool timeout).
            pool_timeout = timeouts.get("pool")
            if deadline is None and pool_timeout is not None:
                deadline = now + pool_timeout
            waiter = loop.create_future()
            self.waiters.append(waiter)
            timer = (
                None
                if deadline is None
                else loop.call_at(
                    deadline, _expire, waiter, httpx.PoolTimeout, "no connection free in time"
                )
            )
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._wake_one()  # woken, then cancelled: pass the turn on
                raise
            finally:
                if timer is not None:
                    timer.cancel()
                if not waiter.done():
                    waiter.cancel()

    async def _connect(
        self, origin: Origin, timeout: float | None, loop: asyncio.AbstractEventLoop
    ) -> _Connection:
        scheme, host, port = origin
        name = host.decode("ascii")
        context = self.context if scheme == b"https" else None
        self.opening += 1
        try:
            try:
                async with asyncio.timeout(timeout):
                    _, connection = await loop.create_connection(
                        lambda: _Connection(origin, loop),
                        name,
                        port,
                        ssl=context,
                        server_hostname=name if context is not None else None,
                    )
            except TimeoutError:
                raise httpx.ConnectTimeout("timed out connecting") from None
            except OSError as e:  # refused, no DNS answer, a certificate refused (ssl.SSLError)
                raise httpx.ConnectError(str(e) or type(e).__name__) from e
        except BaseException:
            self._wake_one()  # its place is free again
            raise
        finally:
            self.opening -= 1
        if self.closed:
            connection.close()
            raise httpx.ConnectError("the client is closed")
        self.open.add(connection)
        return connection

    def _close_oldest_idle(self) -> None:
        oldest: list[_Connection] | None = None
        for idle in self.idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest[0].idle_since):
                oldest = idle
        assert oldest is not None
        self.idle_count -= 1
        self.discard(oldest.pop(0))

    def release(self, connection: _Connection) -> None:
        """A request is done with connection, its exchange complete: keep it idle or close it."""
        if self.closed or self.idle_count >= (self.keep if self.keep is not None else 1 << 30):
            self.discard(connection)
            return
        connection.idle_since = connection.loop.time()
        self.idle.setdefault(connection.origin, []).append(connection)
        self.idle_count += 1
        self._wake_one()

    def discard(self, connection: _Connection) -> None:
        """Close connection (it is not idle) and give its place to a waiting request."""
        connection.close()
        self.open.discard(connection)
        self._wake_one()

    def _wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self.closed = True
        for connection in list(self.open):
            connection.close()
        self.open.clear()
        self.idle.clear()
        self.idle_count = 0
        while self.waiters:
            _expire(self.waiters.popleft(), httpx.ConnectError, "the client is closed")
        # asyncio closes an aborted socket in a callback: let it run before the loop may end.
        await asyncio.sleep(0)


class _Body(httpx.AsyncByteStream):
    """A response's body from its connection; the connection goes back once the body ends."""

    def __init__(self, pool: _Pool, connection: _Connection, timeout: float | None) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._timeout = timeout

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        connection = self._connection
        if connection is None:
            raise StopAsyncIteration
        try:
            event = await connection.next_event(self._timeout)
        except BaseException:
            self._give_back(False)
            raise
        if type(event) is h11.Data:
            return bytes(event.data)
        # EndOfMessage: the exchange is over; keep-alive only if both sides said so.
        self._give_back(type(event) is h11.EndOfMessage)
        raise StopAsyncIteration

    def _give_back(self, complete: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        h = connection.h11
        if complete and h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
            self._pool.release(connection)
        else:
            self._pool.discard(connection)

    async def aclose(self) -> None:
        # Closed before its end: the rest of the body is never read, so the connection goes.
        self._give_back(False)


class Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio for an httpx.AsyncClient; see the module's text."""

    def __init__(self, limits: httpx.Limits, context: ssl.SSLContext) -> None:
        self._pool = _Pool(limits, context)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        default_port = _PORTS.get(scheme)
        if default_port is None:
            raise httpx.UnsupportedProtocol(f"no transport for {scheme.decode('ascii')!r} URLs")
        origin = (scheme, url.raw_host, url.port or default_port)
        timeouts = request.extensions.get("timeout", {})
        connection = await self._pool.acquire(origin, timeouts)
        try:
            h = connection.h11
            try:
                data = h.send(
                    h11.Request(
                        method=request.method, target=url.raw_path, headers=request.headers.raw
                    )
                )
                assert data is not None
                async for chunk in request.stream:  # type: ignore[union-attr]
                    if chunk:
                        data += h.send(h11.Data(data=chunk)) or b""
                data += h.send(h11.EndOfMessage()) or b""
            except h11.LocalProtocolError as e:
                raise httpx.LocalProtocolError(str(e)) from None
            await connection.write(data, timeouts.get("write"))
            read_timeout = timeouts.get("read")
            event = await connection.next_event(read_timeout)
            while type(event) is h11.InformationalResponse:
                event = await connection.next_event(read_timeout)
            if type(event) is not h11.Response:
                raise httpx.RemoteProtocolError("the server sent no response")
        except BaseException:
            self._pool.discard(connection)
            raise
        return httpx.Response(
            event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self._pool, connection, read_timeout),
            extensions={
                "http_version": b"HTTP/" + event.http_version,
                "reason_phrase": event.reason,
            },
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def for_client(limits: httpx.Limits, context: ssl.SSLContext) -> Transport | None:
    """This transport for a client, or None (httpx's own) where the environment names a proxy."""
    # httpx reads the same variables (urllib's getproxies) when it is given no transport.
    return None if urllib.request.getproxies() else Transport(limits, context)
