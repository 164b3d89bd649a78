"""The resolver: answers from the existing locks first, asks the registry only for the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from pinner.credentials import Credential
from pinner.errors import RegistryError
from pinner.pinning import Known
from pinner.reference import ImageRef
from pinner.registry import Manifest, Registry, Settings, resolve_all


class Resolver:
    """Resolve queries for one run, locked answers first (as pip-tools' local repository)."""

    def __init__(
        self,
        settings: Settings,
        credentials: Callable[[str], Credential | None],
        known: Known,
        refresh: bool = False,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.known = known
        self.refresh = refresh
        self.requests: dict[str, int] = {}

    def resolve(self, queries: Iterable[ImageRef]) -> dict[ImageRef, Manifest | RegistryError]:
        """Each query's manifest or error; no request at all when the locks answer everything."""
        unique = list(dict.fromkeys(queries))
        answers: dict[ImageRef, Manifest | RegistryError] = {}
        missing = []
        for query in unique:
            if not self.refresh and query in self.known.by_query:
                answers[query] = self.known.by_query[query]
            else:
                missing.append(query)
        if missing:
            answers.update(asyncio.run(self._fetch(missing)))
        return answers

    async def _fetch(self, queries: list[ImageRef]) -> dict[ImageRef, Manifest | RegistryError]:
        registry = Registry(self.settings, self.credentials)
        try:
            return await resolve_all(registry, queries, self.known.by_digest)
        finally:
            await registry.aclose()
            self.requests = dict(registry.requests, token=registry.auth.token_requests)
