"""Where `diff` and `verify` read images: a registry, an OCI layout, a docker-archive tar."""

# Every manifest and config is checked against its digest before it is parsed (a docker-archive
# has no manifest digests: its config is named by its own hash), and every value taken from them is
# type-checked (pinner.imagemodel), so the rest of pinner sees only validated records. Layers are
# checked while they stream (pinner.imagefiles).

from __future__ import annotations

import asyncio
import json
import os
import posixpath
import re
import tarfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from pinner import reference
from pinner.errors import RegistryError
from pinner.imagefiles import CHUNK, Layer
from pinner.imagemodel import (
    Attestation,
    Image,
    PlatformImage,
    SourceError,
    check_digest,
    descriptor,
    json_object,
    parse_config,
    sha,
)
from pinner.reference import ImageRef, normalize_platform
from pinner.remote.registry import INDEX_TYPES, MAX_MANIFEST_BYTES, Registry
from pinner.unpack import TAR_ERRORS

MAX_CONFIG_BYTES = 8 * 1024 * 1024
BATCH = 1024 * 1024
ATTESTATION = "attestation-manifest"
REF_NAME = "org.opencontainers.image.ref.name"
_BLOB_NAME_RE = re.compile(r"(?:\./)?blobs/sha256/([0-9a-f]{64})")


class Source(Protocol):
    """Read access to one image's manifests and blobs."""

    name: str
    layer_digests: bool  # False when layers are checked by their diff_id alone

    async def top(self) -> tuple[str | None, bytes]:
        """The digest and bytes of what the name points at (an index or a manifest)."""

    async def manifest(self, digest: str) -> bytes:
        """A manifest's bytes, checked against its digest."""

    async def config(self, digest: str) -> bytes:
        """A config blob's bytes, checked against its digest."""

    def chunks(self, layer: Layer) -> Iterator[bytes]:
        """A layer blob's bytes, in chunks (checked by whoever reads them); from a worker thread."""


async def load(source: Source, platforms: frozenset[str] = frozenset()) -> Image:
    """Read an image's index (if any), each platform's manifest and config; layers stay unread."""
    digest, body = await source.top()
    doc = json_object(body, source.name)
    found: list[PlatformImage] = []
    attestations: list[Attestation] = []
    await _walk(source, doc, digest, None, found, attestations, depth=0)
    if platforms:
        found = [p for p in found if p.platform in platforms]
    return Image(source.name, digest, tuple(found), tuple(attestations))


async def _walk(
    source: Source,
    doc: dict[str, Any],
    digest: str | None,
    platform: str | None,
    found: list[PlatformImage],
    attestations: list[Attestation],
    depth: int,
) -> None:
    what = f"{source.name}@{digest}" if digest else source.name
    if doc.get("mediaType") in INDEX_TYPES or "manifests" in doc:
        entries = doc.get("manifests")
        if not isinstance(entries, list) or depth > 2:
            raise SourceError(f"{what}: not an index of the expected shape")
        for i, entry in enumerate(entries):
            child, _, _ = descriptor(entry, f"{what}: manifests[{i}]")
            annotations = entry.get("annotations") or {}
            raw = entry.get("platform") or {}
            if not isinstance(annotations, dict) or not isinstance(raw, dict):
                raise SourceError(f"{what}: manifests[{i}]: not of the expected shape")
            os_name, arch = str(raw.get("os", "")), str(raw.get("architecture", ""))
            if annotations.get("vnd.docker.reference.type") == ATTESTATION or (
                (os_name, arch) == ("unknown", "unknown")
            ):
                subject = str(annotations.get("vnd.docker.reference.digest", ""))
                attestations.append(Attestation(child, subject))
                continue
            key = normalize_platform(os_name, arch, raw.get("variant")) if os_name else None
            body = await source.manifest(child)
            sub = json_object(body, f"{what}: {child}")
            await _walk(source, sub, child, key, found, attestations, depth + 1)
        return
    config_desc = doc.get("config")
    config_digest, _, _ = descriptor(config_desc, f"{what}: config")
    config = parse_config(await source.config(config_digest), f"{what}: config")
    raw_layers = doc.get("layers")
    if not isinstance(raw_layers, list):
        raise SourceError(f"{what}: not an image manifest")
    if len(raw_layers) != len(config.diff_ids):
        raise SourceError(
            f"{what}: {len(raw_layers)} layers but {len(config.diff_ids)} diff_ids in the config"
        )
    layers = tuple(
        Layer(*descriptor(d, f"{what}: layers[{i}]", not source.layer_digests), diff_id)
        for i, (d, diff_id) in enumerate(zip(raw_layers, config.diff_ids, strict=True))
    )
    key = platform or normalize_platform(config.os, config.architecture, config.variant or None)
    found.append(PlatformImage(key, digest, config_digest, config, layers))


# --------------------------------------------------------------------------- registries


class RegistrySource:
    """An image in a registry, read through pinner's registry client."""

    layer_digests = True

    def __init__(self, registry: Registry, ref: ImageRef, name: str) -> None:
        self.registry = registry
        self.ref = ref
        self.name = name
        self._loop = asyncio.get_running_loop()

    async def top(self) -> tuple[str | None, bytes]:
        manifest, body = await self.registry.get(self.ref, self.ref.manifest_key)
        return manifest.digest, body

    async def manifest(self, digest: str) -> bytes:
        _, body = await self.registry.get(self.ref, digest)  # checked against the digest
        return body

    async def config(self, digest: str) -> bytes:
        data = bytearray()
        async for chunk in self.registry.blob_chunks(self.ref, digest):
            data += chunk
            if len(data) > MAX_CONFIG_BYTES:
                raise SourceError(f"{self.name}: config {digest} is over the size limit")
        got = sha(bytes(data))
        if got != digest:
            raise RegistryError(f"blob {digest}: registry served bytes whose digest is {got}")
        return bytes(data)

    def chunks(self, layer: Layer) -> Iterator[bytes]:
        stream = self.registry.blob_chunks(self.ref, layer.digest)
        try:
            while True:
                # A batch of chunks per trip to the event loop: each trip costs a thread switch.
                future = asyncio.run_coroutine_threadsafe(_next(stream), self._loop)
                chunk = future.result()
                if chunk is None:
                    return
                yield chunk
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                asyncio.run_coroutine_threadsafe(aclose(), self._loop).result()


async def _next(stream: AsyncIterator[bytes]) -> bytes | None:
    """The next chunks of a stream, joined up to BATCH bytes; None at its end."""
    parts: list[bytes] = []
    size = 0
    while size < BATCH:
        chunk = await anext(stream, None)
        if chunk is None:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts) if parts else None


# --------------------------------------------------------------------------- OCI layouts


class LayoutSource:
    """An image in an OCI image layout directory (image-spec image-layout.md)."""

    layer_digests = True

    def __init__(self, directory: Path, tag: str | None, name: str) -> None:
        self.directory = directory
        self.tag = tag
        self.name = name
        if not (directory / "index.json").is_file():
            raise SourceError(f"{name}: no index.json: not an OCI image layout")

    def _path(self, digest: str) -> Path:
        return (
            self.directory / "blobs" / "sha256" / check_digest(digest, self.name)[len("sha256:") :]
        )

    def _read(self, digest: str, limit: int) -> bytes:
        try:
            with self._path(digest).open("rb") as f:
                data = f.read(limit + 1)
        except OSError as e:
            raise SourceError(f"{self.name}: blob {digest}: {e.strerror}") from None
        if len(data) > limit:
            raise SourceError(f"{self.name}: blob {digest} is over the size limit")
        if sha(data) != digest:
            raise SourceError(f"{self.name}: blob {digest} does not match its digest")
        return data

    async def top(self) -> tuple[str | None, bytes]:
        try:
            index = (self.directory / "index.json").read_bytes()[: MAX_MANIFEST_BYTES + 1]
        except OSError as e:
            raise SourceError(f"{self.name}: index.json: {e.strerror}") from None
        doc = json_object(index, f"{self.name}: index.json")
        entries = doc.get("manifests")
        if not isinstance(entries, list) or not entries:
            raise SourceError(f"{self.name}: index.json lists no manifests")
        if self.tag is None and len(entries) > 1:
            names = {
                e["annotations"].get(REF_NAME)
                for e in entries
                if isinstance(e, dict) and isinstance(e.get("annotations"), dict)
            } - {None}
            if len(names) > 1:
                raise SourceError(
                    f"{self.name}: holds {len(names)} tagged images; name one as oci:DIR:TAG"
                )
            return None, index  # every entry is a platform (or an attestation) of one image
        for entry in entries:
            annotations = entry.get("annotations") if isinstance(entry, dict) else None
            tagged = isinstance(annotations, dict) and annotations.get(REF_NAME) == self.tag
            if self.tag is None or tagged:
                digest, _, _ = descriptor(entry, f"{self.name}: index.json")
                return digest, self._read(digest, MAX_MANIFEST_BYTES)
        raise SourceError(f"{self.name}: index.json has no image tagged {self.tag!r}")

    async def manifest(self, digest: str) -> bytes:
        return self._read(digest, MAX_MANIFEST_BYTES)

    async def config(self, digest: str) -> bytes:
        return self._read(digest, MAX_CONFIG_BYTES)

    def chunks(self, layer: Layer) -> Iterator[bytes]:
        try:
            with self._path(layer.digest).open("rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        except OSError as e:
            raise SourceError(f"{self.name}: layer {layer.digest}: {e.strerror}") from None


# --------------------------------------------------------------------------- docker-archive


class ArchiveSource:
    """An image in a `docker save` / `docker-archive:` tar: manifest.json, config, layers."""

    layer_digests = False

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._members: dict[str, tarfile.TarInfo] = {}
        self._config: tuple[str, bytes] | None = None
        self._layer_members: dict[str, tarfile.TarInfo] = {}
        try:
            with tarfile.open(path, "r:") as tar:
                for member in tar:
                    self._members[posixpath.normpath(member.name)] = member
        except (OSError, *TAR_ERRORS) as e:
            raise SourceError(f"{name}: not a readable tar archive ({e})") from None

    def _member(self, name: object, hops: int = 0) -> tarfile.TarInfo:
        member = self._members.get(posixpath.normpath(str(name)))
        if member is None or hops > 8:
            raise SourceError(f"{self.name}: no {str(name)[:200]!r} in the archive")
        if member.issym():
            target = posixpath.join(posixpath.dirname(member.name), member.linkname)
            return self._member(target, hops + 1)
        if member.islnk():
            return self._member(member.linkname, hops + 1)
        if not member.isreg():
            raise SourceError(f"{self.name}: {str(name)[:200]!r} is not a file")
        return member

    def _read(self, member: tarfile.TarInfo, limit: int) -> bytes:
        if member.size > limit:
            raise SourceError(f"{self.name}: {member.name} is over the size limit")
        with self.path.open("rb") as f:
            f.seek(member.offset_data)
            return f.read(member.size)

    async def top(self) -> tuple[str | None, bytes]:
        try:
            doc = json.loads(self._read(self._member("manifest.json"), MAX_MANIFEST_BYTES) or b"0")
        except (ValueError, RecursionError):
            raise SourceError(f"{self.name}: manifest.json is not valid JSON") from None
        if not isinstance(doc, list) or len(doc) != 1 or not isinstance(doc[0], dict):
            count = len(doc) if isinstance(doc, list) else 0
            raise SourceError(f"{self.name}: manifest.json holds {count} images, not one")
        entry = doc[0]
        config = self._read(self._member(entry.get("Config")), MAX_CONFIG_BYTES)
        config_digest = sha(config)
        named = _BLOB_NAME_RE.fullmatch(str(entry.get("Config")))
        if named and "sha256:" + named.group(1) != config_digest:
            raise SourceError(f"{self.name}: config does not match its name")
        self._config = (config_digest, config)
        names = entry.get("Layers")
        if not isinstance(names, list):
            raise SourceError(f"{self.name}: manifest.json has no Layers list")
        diff_ids = parse_config(config, f"{self.name}: config").diff_ids
        if len(diff_ids) != len(names):
            raise SourceError(f"{self.name}: {len(names)} layers, {len(diff_ids)} diff_ids")
        layers = []
        for name, diff_id in zip(names, diff_ids, strict=True):
            member = self._member(name)
            self._layer_members[diff_id] = member
            blob = _BLOB_NAME_RE.fullmatch(str(name))
            # Legacy archives name layers <id>/layer.tar: only the diff_id can check them.
            digest = "sha256:" + blob.group(1) if blob else ""
            layers.append({"digest": digest, "size": member.size})
        # An image manifest in all but the name, so the walk that reads registries reads this too.
        manifest = {"config": {"digest": config_digest}, "layers": layers}
        return None, json.dumps(manifest).encode()

    async def manifest(self, digest: str) -> bytes:
        raise SourceError(f"{self.name}: a docker-archive has no manifest {digest}")

    async def config(self, digest: str) -> bytes:
        if self._config is None or self._config[0] != digest:
            raise SourceError(f"{self.name}: no config {digest}")
        return self._config[1]

    def chunks(self, layer: Layer) -> Iterator[bytes]:
        member = self._layer_members[layer.diff_id]
        with self.path.open("rb") as f:
            f.seek(member.offset_data)
            left = member.size
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise SourceError(f"{self.name}: {member.name} is cut short")
                left -= len(chunk)
                yield chunk


def open_source(text: str, registry: Callable[[], Registry]) -> Source:
    """The source an image argument names: oci:DIR[:TAG], docker-archive:FILE, else a reference."""
    if text.startswith("oci:"):
        rest = text[len("oci:") :]
        directory, sep, tag = rest.rpartition(":")
        if not sep or "/" in tag or not os.path.isdir(directory):
            directory, tag = rest, ""
        return LayoutSource(Path(directory), tag or None, text)
    if text.startswith("docker-archive:"):
        return ArchiveSource(Path(text[len("docker-archive:") :]), text)
    ref = reference.parse(text.removeprefix("docker://"))
    return RegistrySource(registry(), ref, text)
