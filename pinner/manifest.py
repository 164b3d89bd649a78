"""Manifest media types and what a tag or digest resolves to, without the registry client.

Kept apart from pinner.remote.registry: offline commands (check, build-args) never import httpx.
"""

from __future__ import annotations

from typing import NamedTuple

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})


class Manifest(NamedTuple):
    """What a tag or digest points at: its digest, media type and, for an index, each platform's."""

    digest: str
    media_type: str
    platforms: tuple[tuple[str, str], ...] = ()

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES
