"""The snapshot-mirror client: signed indexes of a dated snapshot, fetched serially and cached.

snapshot.debian.org is slow and rate limited (docker-library/official-images#16044): requests go
one at a time, back off on 429/503, and every response that verifies is cached on disk by URL,
since a snapshot never changes. Every index is checked against InRelease, and InRelease against a
keyring.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import httpx

from pinner.apt import packages, release, sourceslist
from pinner.apt.release import Release
from pinner.errors import MirrorError
from pinner.remote import cache, http
from pinner.remote.transport import for_client

# The snapshot service is slow and rate limited: more patience than with registries.
SNAPSHOT_RETRY = http.Retry(attempts=5, backoff=1.0, max_retry_after=120.0)
# An InRelease is a few hundred KiB; a compressed Packages index a few tens of MiB at most.
MAX_RELEASE_BYTES = 16 * 1024 * 1024
MAX_INDEX_BYTES = 64 * 1024 * 1024
# What a user who cannot reach the public host passes instead.
MIRROR_OPTION = "--snapshot-mirror"


class SnapshotMirror:
    """One run's snapshot client: serial requests, a disk cache by URL, verified indexes."""

    def __init__(
        self,
        mirrors: Mapping[str, str],
        cache_dir: Path | None,
        retry: http.Retry = SNAPSHOT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout: float = http.DEFAULT_TIMEOUT,
    ) -> None:
        self.mirrors = mirrors
        self.timeout = timeout
        self.cache_dir = cache_dir
        self.retry = retry
        self._sleep = sleep
        if transport is None:  # httpx's default limits; the requests go one at a time anyway
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
            transport = for_client(limits, http.trust())
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(min(timeout, 120.0), connect=min(timeout, 15.0)),
            headers={"User-Agent": http.USER_AGENT, "Accept-Encoding": "identity"},
            event_hooks={"response": [http.bound_response]},
            follow_redirects=True,
            verify=http.trust(),
        )
        http.keep_no_cookies(self._client)
        self._serial = asyncio.Lock()
        self.requests: dict[str, int] = {}
        # A run asks for the same indexes once per stage and architecture: keep what verified
        # and parsed (decompressing and parsing bookworm's main index takes about a second).
        self._releases: dict[tuple[str, tuple[bytes, ...]], tuple[Release, bool]] = {}
        self._packages: dict[tuple[str, str], list[packages.PackageEntry]] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    def _cached(self, url: str) -> Path | None:
        return None if self.cache_dir is None else cache.url_path(self.cache_dir, url)

    async def fetch(self, url: str, subject: str, limit: int) -> bytes:
        """GET url's bytes (at most limit), from the cache when it has them; 404 names the subject.

        The caller verifies the bytes, then keep()s them: only what verified is cached.
        """
        cached = self._cached(url)
        if cached is not None and cached.is_file():
            return cached.read_bytes()
        async with self._serial:
            try:
                response = await http.send(
                    self._client,
                    "GET",
                    url,
                    retry=self.retry,
                    sleep=self._sleep,
                    error=MirrorError,
                    counts=self.requests,
                    mirror_option=MIRROR_OPTION,
                    timeout=self.timeout,
                )
            except MirrorError as e:
                raise MirrorError(f"{subject}: {e}") from None
            if response.status_code == 200:
                body = await http.read(
                    response, limit, lambda m: MirrorError(f"{subject}: {m}"), url
                )
            else:
                await response.aclose()
        if response.status_code == 404:
            raise MirrorError(f"{subject}: not found on the snapshot mirror (404 for {url})")
        if response.status_code != 200:
            raise MirrorError(f"{subject}: {url} answered {response.status_code}")
        return body

    def keep(self, url: str, body: bytes) -> None:
        """Cache url's verified bytes, unless they came from the cache."""
        cached = self._cached(url)
        if cached is not None and not cached.is_file():
            cache.write(cached, body)

    async def release(
        self, archive: str, timestamp: str, suite: str, keyrings: Sequence[Path]
    ) -> tuple[Release, bool]:
        """The suite's InRelease, parsed, and whether its signature was checked (gpgv present)."""
        base = sourceslist.archive_url(archive, timestamp, self.mirrors)
        subject = f"{archive} {suite} at {timestamp}"
        url = f"{base}/dists/{suite}/InRelease"
        # The answer depends on the keyrings' contents, not on where they were written.
        key = (url, tuple(sorted(hashlib.sha256(k.read_bytes()).digest() for k in keyrings)))
        if key not in self._releases:
            self._releases[key] = await self._release(url, subject, keyrings)
        return self._releases[key]

    async def _release(
        self, url: str, subject: str, keyrings: Sequence[Path]
    ) -> tuple[Release, bool]:
        data = await self.fetch(url, subject, MAX_RELEASE_BYTES)
        try:
            checked = release.verify_signature(data, keyrings, source=f"{subject}: InRelease")
        except release.GpgvMissing:
            checked = False
        text = release.signed_text(data, source=f"{subject}: InRelease")
        parsed = release.parse_release(text, source=f"{subject}: InRelease")
        # Without gpgv it is cached unchecked; the signature is checked on every read anyway.
        self.keep(url, data)
        return parsed, checked

    async def packages(
        self,
        archive: str,
        timestamp: str,
        suite: str,
        component: str,
        arch: str,
        signed: Release,
    ) -> list[packages.PackageEntry]:
        """A component's Packages for arch, verified against InRelease, parsed."""
        subject = f"{archive} {suite} at {timestamp}"
        stem = f"{component}/binary-{arch}/Packages"
        for suffix in (".xz", ".gz", ""):
            if stem + suffix in signed.sha256:
                path = stem + suffix
                break
        else:
            raise MirrorError(
                f"{subject}: InRelease lists no {stem} (no {arch} packages in {component})"
            )
        base = sourceslist.archive_url(archive, timestamp, self.mirrors)
        url = f"{base}/dists/{suite}/{path}"
        key = (url, signed.sha256[path].sha256)  # the same bytes, verified and parsed once
        if key in self._packages:
            return self._packages[key]
        limit = min(signed.sha256[path].size, MAX_INDEX_BYTES)
        data = await self.fetch(url, f"{subject}: {path}", limit)
        release.verify_index(signed, path, data)
        self.keep(url, data)
        # The Release lists the uncompressed index's size too when the archive has it (dak does):
        # a bomb cannot inflate past what was signed.
        plain = signed.sha256.get(stem)
        unpacked = min(plain.size, packages.MAX_UNPACKED) if plain else packages.MAX_UNPACKED
        text = packages.decompress(data, path, unpacked)
        entries = packages.parse_packages(text, source=f"{subject}: {path}")
        self._packages[key] = entries
        return entries
