"""One run's network session: images answered from the existing locks first, then registries;
base images and snapshot indexes fetched on demand and cached.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from pinner.baseimage import BaseImage
from pinner.errors import PinnerError, RegistryError
from pinner.output import Progress, Reporter
from pinner.pinning import LockAnswers
from pinner.reference import ImageRef
from pinner.remote.credentials import Credential, DockerConfig
from pinner.remote.registry import Manifest, Registry, Settings, resolve_all
from pinner.workspace import Target

if TYPE_CHECKING:
    # Made, and imported, for stages that need base images or snapshot indexes alone: a lock of
    # images and plain RUNs loads neither (nor the apt index parsers behind the mirror).
    from pinner.remote.snapshot import SnapshotMirror


class NotCached(PinnerError):
    """Offline, and the cache does not hold what was asked for."""


class _Offline(httpx.AsyncBaseTransport):
    """A transport for offline runs: anything not answered from the cache stops the work."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise NotCached(f"{request.url.host} is not asked offline, and the cache lacks an answer")


class _Refused(httpx.AsyncBaseTransport):
    """A transport for a forked process: the connections are the process's that forked it."""

    def __init__(self, stop: type[BaseException]) -> None:
        self.stop = stop

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.stop()


class Session:
    """Clients for one run, made only when needed (a re-lock with nothing new makes none)."""

    def __init__(
        self,
        settings: Settings,
        credentials: Callable[[str], Credential | None],
        locked: LockAnswers,
        *,
        snapshot_mirrors: Mapping[str, str] | None = None,
        cache_dir: Path | None = None,
        refresh: bool = False,
        reporter: Reporter | None = None,
        offline: bool = False,
    ) -> None:
        self.settings = settings
        self.reporter = reporter or Reporter(quiet=True)
        self.credentials = credentials
        self.locked = locked
        self.snapshot_mirrors = dict(snapshot_mirrors or {})
        self.cache_dir = cache_dir
        self.refresh = refresh
        self._transport: httpx.AsyncBaseTransport | None = _Offline() if offline else None
        self._registry: Registry | None = None
        self._mirror: SnapshotMirror | None = None
        self._bases: dict[tuple[str, bool], BaseImage] = {}
        self._envs: dict[str, tuple[tuple[tuple[str, str], ...], str | None]] = {}

    @classmethod
    def for_run(
        cls,
        targets: Iterable[Target],
        settings: Settings,
        reporter: Reporter,
        *,
        snapshot_mirrors: Mapping[str, str] | None = None,
        cache_dir: Path | None = None,
        refresh: bool = False,
        offline: bool = False,
    ) -> Session:
        """A session for these Dockerfiles: their locks answer first; Docker's credentials."""
        return cls(
            settings,
            DockerConfig.load().lookup,
            LockAnswers.of((t.lock for t in targets), queries=not refresh),
            snapshot_mirrors=snapshot_mirrors,
            cache_dir=cache_dir,
            refresh=refresh,
            reporter=reporter,
            offline=offline,
        )

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._registry is not None:
            await self._registry.aclose()
        if self._mirror is not None:
            await self._mirror.aclose()

    def forked(self, stop: type[BaseException]) -> None:
        """In a forked process: answer from what is held and the cache; raise stop where a
        request would be sent (the clients held are the forking process's, not this one's).
        Progress lines are the forking process's to draw: this one's are dropped."""
        self._transport = _Refused(stop)
        self._registry = self._mirror = None
        self.reporter = Reporter(quiet=True, stream=io.StringIO())

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.settings, self.credentials, self._transport)
        return self._registry

    @property
    def mirror(self) -> SnapshotMirror:
        if self._mirror is None:
            from pinner.remote.snapshot import SnapshotMirror

            self._mirror = SnapshotMirror(
                self.snapshot_mirrors,
                self.cache_dir,
                transport=self._transport,
                timeout=self.settings.timeout,
            )
        return self._mirror

    @property
    def requests(self) -> dict[str, int]:
        """Requests made so far, by kind; every kind, whether or not its client was made."""
        counts = {"HEAD": 0, "GET": 0, "token": 0, "snapshot": 0}
        if self._registry is not None:
            counts.update(self._registry.requests, token=self._registry.token_requests)
        if self._mirror is not None:
            counts["snapshot"] = sum(self._mirror.requests.values())
        return counts

    def locked_answers(self, queries: Iterable[ImageRef]) -> dict[ImageRef, Manifest] | None:
        """Each query's manifest where the locks answer them all (resolve_images would make no
        request), else None."""
        if self.refresh:
            return None
        by_query = self.locked.by_query
        try:
            return {query: by_query[query] for query in queries}
        except KeyError:
            return None

    async def resolve_images(
        self, queries: Iterable[ImageRef], progress: Progress | None = None
    ) -> dict[ImageRef, Manifest | RegistryError]:
        """Each query's manifest or error; locked answers first, no request when they suffice.

        progress: the run's own counter, grown by what this call asks (it closes it itself).
        """
        answers: dict[ImageRef, Manifest | RegistryError] = {}
        missing = []
        for query in dict.fromkeys(queries):
            if not self.refresh and query in self.locked.by_query:
                answers[query] = self.locked.by_query[query]
            else:
                missing.append(query)
        if not missing:
            return answers
        own = progress is None
        counter = self.reporter.progress("resolving images", 0) if progress is None else progress
        counter.grow(len(missing))
        try:
            answers.update(
                await resolve_all(self.registry, missing, self.locked.by_digest, counter.advance)
            )
        finally:
            if own:
                counter.close()
        return answers

    async def base_image(
        self, ref: ImageRef, manifest_digest: str, every_layer: bool = False
    ) -> BaseImage:
        """What a platform image says about itself (os-release, apt sources, keyrings)."""
        key = (manifest_digest, every_layer)
        if key not in self._bases:
            from pinner.remote import layers

            self._bases[key] = await layers.inspect(
                self.registry, ref, manifest_digest, self.cache_dir, every_layer=every_layer
            )
        return self._bases[key]

    async def base_env(self, ref: ImageRef, manifest_digest: str) -> tuple[tuple[str, str], ...]:
        """The ENV a platform image's config sets that a RUN's shell may read."""
        return (await self._config(ref, manifest_digest))[0]

    async def base_shell(self, ref: ImageRef, manifest_digest: str) -> str | None:
        """The program a platform image's config Shell names (bash), or None: its /bin/sh."""
        return (await self._config(ref, manifest_digest))[1]

    async def _config(
        self, ref: ImageRef, manifest_digest: str
    ) -> tuple[tuple[tuple[str, str], ...], str | None]:
        if manifest_digest not in self._envs:
            from pinner.remote import layers

            self._envs[manifest_digest] = await layers.config_env(
                self.registry, ref, manifest_digest, self.cache_dir
            )
        return self._envs[manifest_digest]
