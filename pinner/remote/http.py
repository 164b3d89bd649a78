"""HTTP with bounded retries, shared by the registry and snapshot-mirror clients."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import os
import socket
import ssl
import sys
import time
import typing
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import NamedTuple

import httpx

from pinner import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from pinner import __version__
from pinner.errors import PinnerError
from pinner.output import untrusted

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
USER_AGENT = f"pinner/{__version__}"
# What is kept of a body that is not a success (an error's text, a redirect's page): the rest is
# dropped unread, so an endless error body costs nothing.
MAX_OTHER_BODY = 64 * 1024


class BodyTooLarge(Exception):
    """A body grew past the limit its reader set."""


# Content-Encodings decoded here, as httpx would, but a piece at a time and counted.
_DECODERS = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "deflate": lambda: zlib.decompressobj(),
}
_PIECE = 1024 * 1024


class Bounded(httpx.AsyncByteStream):
    """A response body with a size limit and a deadline; a success past its limit raises."""

    def __init__(
        self,
        stream: httpx.AsyncByteStream,
        limit: int | None,
        truncate: bool,
        encoding: str = "",
    ) -> None:
        self.stream = stream
        self.limit = limit
        self.truncate = truncate
        self.encoding = encoding
        self.deadline: float | None = None
        self.on_timeout: Callable[[], PinnerError] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for piece in self._decoded():
            size += len(piece)
            if self.limit is not None and size > self.limit:
                if not self.truncate:
                    raise BodyTooLarge(self.limit)
                yield piece[: len(piece) - (size - self.limit)]
                return
            yield piece

    async def _decoded(self) -> AsyncIterator[bytes]:
        """The body's bytes, Content-Encoding undone a megabyte at a time (a bomb stays small)."""
        make = _DECODERS.get(self.encoding)
        if make is None:
            async for chunk in self._raw():
                yield chunk
            return
        decoder = make()
        try:
            async for chunk in self._raw():
                while chunk:
                    yield decoder.decompress(chunk, _PIECE)
                    chunk = decoder.unconsumed_tail
            yield decoder.flush()
        except zlib.error as e:
            raise httpx.DecodingError(f"{self.encoding} body does not decode: {e}") from None

    async def _raw(self) -> AsyncIterator[bytes]:
        chunks = aiter(self.stream)
        while True:
            try:
                if self.deadline is None:
                    chunk = await anext(chunks)
                else:
                    async with asyncio.timeout_at(self.deadline):
                        chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if self.on_timeout is None:
                    raise
                raise self.on_timeout() from None
            yield chunk

    async def aclose(self) -> None:
        stream, self.stream = self.stream, _CLOSED
        # The stream httpx wraps each body in holds its response, which holds this stream:
        # let go of it, so that a response read and closed is freed as soon as it is dropped,
        # not by a collection (2,700 responses of a 10,000-file lock held 10 MB until one).
        await stream.aclose()


_CLOSED = httpx.ByteStream(b"")


class _DeferredTrust(ssl.SSLContext):
    """httpx's default verifying context, whose CA certificates load at its first TLS connection."""

    # Loading the bundle costs 20 to 30 ms of CPU per context; a run that talks plain http (to a
    # loopback or --insecure-registry host) never needs it, and a run's clients share one context.
    # Until they load, the context holds no CA, so a connection that skipped the load would fail
    # verification rather than go unverified.

    cafile: str | None
    capath: str | None
    loaded: bool

    def _load(self) -> None:
        if self.loaded:
            return
        try:
            self.load_verify_locations(cafile=self.cafile, capath=self.capath)
        except OSError as e:
            # The transport reports an ssl.SSLError as the connection's failure, in one line.
            where = self.cafile or self.capath
            raise ssl.SSLError(f"cannot read the CA certificates {where}: {e.strerror}") from None
        self.loaded = True

    def wrap_bio(self, *args: typing.Any, **kwargs: typing.Any) -> ssl.SSLObject:
        self._load()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: typing.Any, **kwargs: typing.Any) -> ssl.SSLSocket:
        self._load()
        return super().wrap_socket(*args, **kwargs)


@functools.cache
def _trust(cafile: str | None, capath: str | None, keylog: str | None) -> _DeferredTrust:
    # ssl.create_default_context's settings for a client: PROTOCOL_TLS_CLIENT verifies the
    # certificate and the host name; the CA certificates wait for _load.
    context = _DeferredTrust(ssl.PROTOCOL_TLS_CLIENT)
    context.cafile, context.capath, context.loaded = cafile, capath, False
    if keylog and not sys.flags.ignore_environment:
        context.keylog_filename = keylog
    return context


def trust() -> ssl.SSLContext:
    """httpx's verify=True context (SSL_CERT_FILE, SSL_CERT_DIR or certifi), loaded on first use."""
    if os.environ.get("SSL_CERT_FILE"):
        cafile, capath = os.environ["SSL_CERT_FILE"], None
    elif os.environ.get("SSL_CERT_DIR"):
        cafile, capath = None, os.environ["SSL_CERT_DIR"]
    else:
        import certifi  # httpx's own dependency, and its default bundle

        cafile, capath = certifi.where(), None
    return _trust(cafile, capath, os.environ.get("SSLKEYLOGFILE"))


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing: Set-Cookie is ignored, no Cookie header is ever sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


def keep_no_cookies(client: httpx.AsyncClient) -> None:
    """Make client ignore cookies, as docker, containerd and skopeo do with registries.

    httpx otherwise runs every response through a standard-library cookie jar (a urllib Request
    built per response): about a tenth of the CPU of a registry request, for state no registry
    protocol uses, and that a hostile server could set.
    """
    if isinstance(getattr(client, "_cookies", None), httpx.Cookies):
        client._cookies = _NoCookies()


async def bound_response(response: httpx.Response) -> None:
    """An httpx response hook: keep at most MAX_OTHER_BODY of a body that is not a success."""
    # Requests ask for the identity encoding; a body encoded anyway is decoded by Bounded, so
    # limits count decoded bytes and a gzip bomb is cut off at them.
    encoding = response.headers.pop("Content-Encoding", "").strip().lower()
    # httpx reads a redirect's or a 401's body whole before following it: this bounds that too.
    other = not response.is_success
    assert isinstance(response.stream, httpx.AsyncByteStream)
    limit = MAX_OTHER_BODY if other else None
    response.stream = Bounded(response.stream, limit, truncate=other, encoding=encoding)


async def read(
    response: httpx.Response, limit: int, error: Callable[[str], PinnerError], subject: str
) -> bytes:
    """A success's body, refused once it passes limit bytes (Content-Length checked first)."""
    declared = response.headers.get("Content-Length", "")
    try:
        if declared.isdigit() and int(declared) > limit:
            raise error(f"{subject} is {int(declared)} bytes, over the {_size(limit)} limit")
        if isinstance(response.stream, Bounded):
            response.stream.limit = limit
        else:
            assert isinstance(response.stream, httpx.AsyncByteStream)
            response.stream = Bounded(response.stream, limit, truncate=False)
        return await response.aread()
    except BodyTooLarge:
        raise error(f"{subject} is over the {_size(limit)} limit") from None
    except httpx.HTTPError as e:
        raise error(f"reading {subject}: {describe(e)}") from None
    finally:
        await response.aclose()


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


class Retry(NamedTuple):
    """How often and how long to retry: attempts in all, first backoff, longest Retry-After."""

    attempts: int = 4
    backoff: float = 0.5
    max_retry_after: float = 60.0

    def wait(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds before the attempt after `attempt` (from 1): Retry-After if within the limit."""
        asked = retry_after(response) if response is not None else None
        if asked is None or asked > self.max_retry_after:
            return self.backoff * 2.0 ** (attempt - 1)
        return asked


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or HTTP-date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isascii() and value.strip().isdigit():  # isdigit alone takes "²"
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _failed_host(error: httpx.TransportError, default: str) -> str:
    """The host whose request failed: after a redirect it is not the one asked."""
    try:
        return error.request.url.netloc.decode("ascii")
    except RuntimeError:  # httpx raises it when the error carries no request
        return default


def describe(error: httpx.HTTPError, mirror_option: str = "--registry-mirror") -> str:
    """A short reason for a transport error, e.g. "connection refused"; hints at mirror_option."""
    if isinstance(error, httpx.LocalProtocolError):
        # Its text quotes the offending request header, which may hold a token.
        return "the request could not be sent (a header value is not valid HTTP)"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"host name not found (no DNS answer; offline, or use {mirror_option})"
        cause = cause.__cause__ or cause.__context__
    # Other texts may quote what the server sent.
    return untrusted(str(error)) or type(error).__name__


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    retry: Retry,
    sleep: Callable[[float], Awaitable[None]],
    error: type[PinnerError],
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    counts: dict[str, int] | None = None,
    mirror_option: str = "--registry-mirror",
    timeout: float = DEFAULT_TIMEOUT,
    auth: httpx.Auth | None = None,
) -> httpx.Response:
    """Send a streamed request; retry 408, 429, 5xx and connection errors, honouring Retry-After.

    Each attempt, body included, must end within timeout seconds: a per-read timeout alone lets
    a server that sends a byte now and then hold a run forever.
    """
    # Parsed once: build_request takes the URL as it is, for every attempt.
    target = httpx.URL(url)
    host = target.netloc.decode("ascii")

    def too_slow() -> PinnerError:
        return error(f"{host}: no complete answer within {timeout:g} s (see --timeout)")

    for attempt in range(1, retry.attempts + 1):
        last = attempt == retry.attempts
        if counts is not None:
            counts[method] = counts.get(method, 0) + 1
        request = client.build_request(method, target, headers=headers, content=content)
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                if auth is None:
                    response = await client.send(request, stream=True)
                else:
                    response = await client.send(request, stream=True, auth=auth)
        except TimeoutError:
            raise too_slow() from None
        except httpx.TooManyRedirects:
            raise error(f"{host}: too many redirects") from None
        except httpx.TransportError as e:
            if last:
                reason = describe(e, mirror_option)
                raise error(f"cannot reach {_failed_host(e, host)}: {reason}") from None
            await sleep(retry.wait(attempt))
            continue
        if isinstance(response.stream, Bounded):
            response.stream.deadline, response.stream.on_timeout = deadline, too_slow
        if response.status_code not in RETRY_STATUSES:
            return response
        await response.aclose()
        wait = retry_after(response)
        status = untrusted(f"{response.status_code} {response.reason_phrase}", 60)
        if wait is not None and wait > retry.max_retry_after:
            raise error(f"{host}: {status}, retry after {wait:.0f} s is past the limit")
        if last:
            raise error(f"{host}: {status} after {retry.attempts} attempts")
        await sleep(retry.wait(attempt, response))
    raise AssertionError("unreachable")
