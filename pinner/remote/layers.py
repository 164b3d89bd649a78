"""A base image's layers fetched from its registry, scanned, and cached by digest.

What the scan keeps and how layers merge is pinner.baseimage's business (pure, bytes in); this
module only downloads: the platform manifest, then layer blobs bottom-up until os-release shows.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from pathlib import Path

from pinner.baseimage import (
    KINDS,
    BaseImage,
    BaseImageError,
    Entries,
    FileEntry,
    check_kept,
    describe,
    merge,
    os_release_text,
    scan_fingerprint,
    scan_layer,
)
from pinner.errors import RegistryError
from pinner.imagemodel import SourceError, parse_config, sha
from pinner.reference import ImageRef
from pinner.remote import cache
from pinner.remote.imagesource import MAX_CONFIG_BYTES
from pinner.remote.registry import Layer, Registry, config_of, layers_of
from pinner.shellword import env_values

CACHE_SCHEMA = 1


def _schema() -> str:
    """The scan cache's schema: a scan made when the managers wanted other paths is stale."""
    return f"{CACHE_SCHEMA}-{scan_fingerprint()}"


def _entries_to_json(digest: str, entries: Mapping[str, FileEntry]) -> bytes:
    encoded = {
        p: [e.kind, base64.b64encode(e.data).decode("ascii"), e.target]
        for p, e in sorted(entries.items())
    }
    return json.dumps({"schema": _schema(), "digest": digest, "entries": encoded}).encode()


def _entries_from_json(digest: str, data: bytes) -> Entries | None:
    try:
        doc = json.loads(data)
        if doc["schema"] != _schema() or doc["digest"] != digest:
            return None
        entries: Entries = {}
        for path, (kind, b64, target) in doc["entries"].items():
            if kind not in KINDS or not isinstance(path, str) or not isinstance(target, str):
                return None
            entries[path] = FileEntry(kind, base64.b64decode(b64, validate=True), target)
        return entries
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        return None  # a damaged cache entry is refetched


def _cache_read(cache_dir: Path | None, kind: str, digest: str) -> bytes | None:
    if cache_dir is None:
        return None
    return cache.read(cache.digest_path(cache_dir, kind, digest))


def _cache_write(cache_dir: Path | None, kind: str, digest: str, data: bytes) -> None:
    if cache_dir is not None:
        cache.write(cache.digest_path(cache_dir, kind, digest), data)


async def _manifest(
    registry: Registry, ref: ImageRef, digest: str, cache_dir: Path | None
) -> bytes:
    """A platform manifest's bytes, checked against digest; cached by digest."""
    body = _cache_read(cache_dir, "manifests", digest)
    if body is None or "sha256:" + hashlib.sha256(body).hexdigest() != digest:
        _, body = await registry.get(ref, digest)  # verified against digest
        _cache_write(cache_dir, "manifests", digest, body)
    return body


async def config_env(
    registry: Registry, ref: ImageRef, manifest_digest: str, cache_dir: Path | None
) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The ENV a platform image's config sets that a RUN's shell may read (env_values), and the
    program its Shell names (ImageConfig.shell): the config read up to MAX_CONFIG_BYTES, checked
    against its digest, cached by digest."""
    subject = f"{ref.name}@{manifest_digest}"
    digest = config_of(await _manifest(registry, ref, manifest_digest, cache_dir), subject)
    data = _cache_read(cache_dir, "configs", digest)
    if data is None or sha(data) != digest:
        found = bytearray()
        async for chunk in registry.blob_chunks(ref, digest):
            found += chunk
            if len(found) > MAX_CONFIG_BYTES:
                raise RegistryError(f"{subject}: config {digest} is over the size limit")
        data = bytes(found)
        if sha(data) != digest:
            raise RegistryError(f"blob {digest}: registry served bytes whose digest is {sha(data)}")
        _cache_write(cache_dir, "configs", digest, data)
    try:
        config = parse_config(data, f"{subject}: config")
    except SourceError as e:
        raise BaseImageError(str(e)) from None
    return env_values(config.env), config.shell


async def _manifest_layers(
    registry: Registry, ref: ImageRef, digest: str, cache_dir: Path | None
) -> tuple[Layer, ...]:
    """The layers of a platform manifest, bottom first; the manifest bytes are cached by digest."""
    body = await _manifest(registry, ref, digest, cache_dir)
    layers = layers_of(body, f"{ref.name}@{digest}")
    for layer in layers:
        # The blob is checked against its digest with sha256 only.
        if not layer.digest.startswith("sha256:"):
            raise BaseImageError(f"{ref.name}@{digest}: unsupported layer digest {layer.digest}")
    return layers


async def _next_chunk(stream: AsyncIterator[bytes]) -> bytes | None:
    return await anext(stream, None)


async def _scan_blob(registry: Registry, ref: ImageRef, digest: str) -> Entries:
    """Stream one layer through scan_layer in a worker thread; check the blob's digest."""
    loop = asyncio.get_running_loop()
    stream = registry.blob_chunks(ref, digest)
    stop = threading.Event()
    sha = hashlib.sha256()

    def pull() -> Iterator[bytes]:
        # One chunk at a time from the event loop: memory stays at a chunk plus tarfile's buffer.
        while not stop.is_set():
            chunk = asyncio.run_coroutine_threadsafe(_next_chunk(stream), loop).result()
            if chunk is None:
                return
            sha.update(chunk)
            yield chunk

    def work() -> Entries | BaseImageError:
        chunks = pull()
        try:
            return scan_layer(chunks)
        except BaseImageError as e:
            return e
        finally:
            for _ in chunks:  # read to the end: only the whole blob can be checked
                pass

    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        result = await asyncio.shield(task)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait([task])
        raise
    finally:
        if isinstance(stream, AsyncGenerator):
            await stream.aclose()
    got = "sha256:" + sha.hexdigest()
    if got != digest:
        raise RegistryError(f"blob {digest}: registry served bytes whose digest is {got}")
    if isinstance(result, BaseImageError):
        raise BaseImageError(f"layer {digest}: {result}")
    return result


async def layer_entries(
    registry: Registry, ref: ImageRef, layer: str, cache_dir: Path | None
) -> Entries:
    """One layer's scan, from the cache or else downloaded once and cached."""
    cached = _cache_read(cache_dir, "layers", layer)
    entries = _entries_from_json(layer, cached) if cached is not None else None
    if entries is None:
        entries = await _scan_blob(registry, ref, layer)
        _cache_write(cache_dir, "layers", layer, _entries_to_json(layer, entries))
    return entries


async def inspect(
    registry: Registry,
    ref: ImageRef,
    manifest_digest: str,
    cache_dir: Path | None,
    *,
    every_layer: bool = False,
) -> BaseImage:
    """Read a platform manifest's layers bottom-up until os-release shows; describe the image.

    every_layer: read them all, for what upper layers add (apk's installed database).
    """
    layers = await _manifest_layers(registry, ref, manifest_digest, cache_dir)
    merged: Entries = {}
    for n, layer in enumerate(layers, start=1):
        merged = merge(merged, await layer_entries(registry, ref, layer.digest, cache_dir))
        try:
            check_kept(merged)
        except BaseImageError as e:
            raise BaseImageError(f"{ref.name}@{manifest_digest}: {e}") from None
        if os_release_text(merged) is not None and (not every_layer or n == len(layers)):
            return describe(merged)
    read = f"{len(layers)} layer{'' if len(layers) == 1 else 's'} read"
    raise BaseImageError(f"{ref.name}@{manifest_digest}: image has no /etc/os-release ({read})")
