"""HTTP with bounded retries, shared by the registry and snapshot-mirror clients."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import NamedTuple

import httpx

from pinner import __version__
from pinner.errors import PinnerError

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
USER_AGENT = f"pinner/{__version__}"


class Retry(NamedTuple):
    """How often and how long to retry: attempts in all, first backoff, longest Retry-After."""

    attempts: int = 4
    backoff: float = 0.5
    max_retry_after: float = 60.0


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or HTTP-date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def describe(error: httpx.TransportError, mirror_option: str = "--registry-mirror") -> str:
    """A short reason for a transport error, e.g. "connection refused"; hints at mirror_option."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"host name not found (no DNS answer; offline, or use {mirror_option})"
        cause = cause.__cause__ or cause.__context__
    return str(error) or type(error).__name__


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    retry: Retry,
    sleep: Callable[[float], Awaitable[None]],
    error: type[PinnerError],
    headers: Mapping[str, str] | None = None,
    counts: dict[str, int] | None = None,
    mirror_option: str = "--registry-mirror",
) -> httpx.Response:
    """Send a streamed request; retry 408, 429, 5xx and connection errors, honouring Retry-After."""
    host = httpx.URL(url).netloc.decode("ascii")
    for attempt in range(1, retry.attempts + 1):
        last = attempt == retry.attempts
        backoff = retry.backoff * 2 ** (attempt - 1)
        if counts is not None:
            counts[method] = counts.get(method, 0) + 1
        request = client.build_request(method, url, headers=headers)
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as e:
            if last:
                raise error(f"cannot reach {host}: {describe(e, mirror_option)}") from None
            await sleep(backoff)
            continue
        if response.status_code not in RETRY_STATUSES:
            return response
        await response.aclose()
        wait = retry_after(response)
        status = f"{response.status_code} {response.reason_phrase}"
        if wait is not None and wait > retry.max_retry_after:
            raise error(f"{host}: {status}, retry after {wait:.0f} s is past the limit")
        if last:
            raise error(f"{host}: {status} after {retry.attempts} attempts")
        await sleep(wait if wait is not None else backoff)
    raise AssertionError("unreachable")
