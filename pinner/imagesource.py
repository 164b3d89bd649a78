"""Where `diff` and `verify` read images: a registry, an OCI layout, a docker-archive tar."""

# Every manifest and config is checked against its digest before it is parsed (a docker-archive
# has no manifest digests: its config is named by its own hash), and every value taken from them is
# type-checked here, so the rest of pinner sees only validated records. Layers are checked while
# they stream (pinner.imagefiles).

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import posixpath
import re
import tarfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from pinner import reference
from pinner.errors import PinnerError, RegistryError
from pinner.imagefiles import CHUNK, Layer
from pinner.reference import ImageRef, normalize_platform
from pinner.registry import INDEX_TYPES, MAX_MANIFEST_BYTES, Registry

MAX_CONFIG_BYTES = 8 * 1024 * 1024
BATCH = 1024 * 1024
ATTESTATION = "attestation-manifest"
REF_NAME = "org.opencontainers.image.ref.name"
_SHA256_RE = re.compile(r"sha256:[0-9a-f]{64}")
_BLOB_NAME_RE = re.compile(r"(?:\./)?blobs/sha256/([0-9a-f]{64})")


class SourceError(PinnerError):
    """An image cannot be read, or its manifests and config are not what they should be."""


class History(NamedTuple):
    """One history entry of an image config."""

    created: str
    created_by: str
    comment: str
    empty_layer: bool


class ImageConfig(NamedTuple):
    """The fields of an image config that `diff` compares (OCI image-spec config.md)."""

    architecture: str
    os: str
    variant: str
    env: tuple[str, ...]
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    working_dir: str
    user: str
    labels: tuple[tuple[str, str], ...]
    exposed_ports: tuple[str, ...]
    volumes: tuple[str, ...]
    stop_signal: str
    created: str
    history: tuple[History, ...]
    diff_ids: tuple[str, ...]


class PlatformImage(NamedTuple):
    """One platform's image: manifest digest (None in a docker-archive), config and layers."""

    platform: str
    manifest: str | None
    config_digest: str
    config: ImageConfig
    layers: tuple[Layer, ...]


class Attestation(NamedTuple):
    """An index entry that is not an image: BuildKit's attestation manifests."""

    digest: str
    subject: str


class Image(NamedTuple):
    """An image as given on the command line, with each platform it holds."""

    name: str
    digest: str | None
    platforms: tuple[PlatformImage, ...]
    attestations: tuple[Attestation, ...]


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


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _digest(value: object, what: str) -> str:
    if not isinstance(value, str) or not _SHA256_RE.fullmatch(value):
        raise SourceError(f"{what}: not a sha256 digest: {str(value)[:80]!r}")
    return value


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        raise SourceError(f"{what}: not valid JSON") from None
    if not isinstance(doc, dict):
        raise SourceError(f"{what}: not a JSON object")
    return doc


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(f"{what}: not a list of strings")
    return tuple(value)


def _string(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SourceError(f"{what}: not a string")
    return value


def _keys(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise SourceError(f"{what}: not an object")
    return tuple(sorted(str(k) for k in value))


def parse_config(data: bytes, what: str) -> ImageConfig:
    """The compared fields of a config blob, each type-checked."""
    doc = _json_object(data, what)
    inner = doc.get("config") or {}
    if not isinstance(inner, dict):
        raise SourceError(f"{what}: config is not an object")
    labels = inner.get("Labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise SourceError(f"{what}: Labels is not an object of strings")
    history = doc.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise SourceError(f"{what}: history is not a list of objects")
    rootfs = doc.get("rootfs") or {}
    if not isinstance(rootfs, dict):
        raise SourceError(f"{what}: rootfs is not an object")
    diff_ids = _strings(rootfs.get("diff_ids"), f"{what}: rootfs.diff_ids")
    for diff_id in diff_ids:
        _digest(diff_id, f"{what}: rootfs.diff_ids")
    entrypoint, cmd = inner.get("Entrypoint"), inner.get("Cmd")
    return ImageConfig(
        architecture=_string(doc.get("architecture"), f"{what}: architecture"),
        os=_string(doc.get("os"), f"{what}: os"),
        variant=_string(doc.get("variant"), f"{what}: variant"),
        env=_strings(inner.get("Env"), f"{what}: Env"),
        entrypoint=None if entrypoint is None else _strings(entrypoint, f"{what}: Entrypoint"),
        cmd=None if cmd is None else _strings(cmd, f"{what}: Cmd"),
        working_dir=_string(inner.get("WorkingDir"), f"{what}: WorkingDir"),
        user=_string(inner.get("User"), f"{what}: User"),
        labels=tuple(sorted((str(k), v) for k, v in labels.items())),
        exposed_ports=_keys(inner.get("ExposedPorts"), f"{what}: ExposedPorts"),
        volumes=_keys(inner.get("Volumes"), f"{what}: Volumes"),
        stop_signal=_string(inner.get("StopSignal"), f"{what}: StopSignal"),
        created=_string(doc.get("created"), f"{what}: created"),
        history=tuple(
            History(
                _string(h.get("created"), f"{what}: history created"),
                _string(h.get("created_by"), f"{what}: history created_by"),
                _string(h.get("comment"), f"{what}: history comment"),
                h.get("empty_layer") is True,
            )
            for h in history
        ),
        diff_ids=diff_ids,
    )


def _descriptor(value: object, what: str, optional: bool = False) -> tuple[str, str, int]:
    """(digest, media type, size) of a descriptor; optional allows no digest."""
    if not isinstance(value, dict):
        raise SourceError(f"{what}: not a descriptor")
    size = value.get("size", -1)
    if not isinstance(size, int) or isinstance(size, bool) or size < -1:
        raise SourceError(f"{what}: size is not a non-negative integer")
    digest = value.get("digest")
    digest = "" if optional and digest == "" else _digest(digest, what)
    return digest, _string(value.get("mediaType"), what), size


async def load(source: Source, platforms: frozenset[str] = frozenset()) -> Image:
    """Read an image's index (if any), each platform's manifest and config; layers stay unread."""
    digest, body = await source.top()
    doc = _json_object(body, source.name)
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
            child, _, _ = _descriptor(entry, f"{what}: manifests[{i}]")
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
            sub = _json_object(body, f"{what}: {child}")
            await _walk(source, sub, child, key, found, attestations, depth + 1)
        return
    config_desc = doc.get("config")
    config_digest, _, _ = _descriptor(config_desc, f"{what}: config")
    config = parse_config(await source.config(config_digest), f"{what}: config")
    raw_layers = doc.get("layers")
    if not isinstance(raw_layers, list):
        raise SourceError(f"{what}: not an image manifest")
    if len(raw_layers) != len(config.diff_ids):
        raise SourceError(
            f"{what}: {len(raw_layers)} layers but {len(config.diff_ids)} diff_ids in the config"
        )
    layers = tuple(
        Layer(*_descriptor(d, f"{what}: layers[{i}]", not source.layer_digests), diff_id)
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
        manifest, body = await self.registry.get(
            self.ref, self.ref.digest or self.ref.tag_or_latest
        )
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
        got = _sha(bytes(data))
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
        return self.directory / "blobs" / "sha256" / _digest(digest, self.name)[len("sha256:") :]

    def _read(self, digest: str, limit: int) -> bytes:
        try:
            with self._path(digest).open("rb") as f:
                data = f.read(limit + 1)
        except OSError as e:
            raise SourceError(f"{self.name}: blob {digest}: {e.strerror}") from None
        if len(data) > limit:
            raise SourceError(f"{self.name}: blob {digest} is over the size limit")
        if _sha(data) != digest:
            raise SourceError(f"{self.name}: blob {digest} does not match its digest")
        return data

    async def top(self) -> tuple[str | None, bytes]:
        try:
            index = (self.directory / "index.json").read_bytes()[: MAX_MANIFEST_BYTES + 1]
        except OSError as e:
            raise SourceError(f"{self.name}: index.json: {e.strerror}") from None
        doc = _json_object(index, f"{self.name}: index.json")
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
                digest, _, _ = _descriptor(entry, f"{self.name}: index.json")
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
        except (OSError, tarfile.TarError) as e:
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
        doc = json.loads(self._read(self._member("manifest.json"), MAX_MANIFEST_BYTES) or b"0")
        if not isinstance(doc, list) or len(doc) != 1 or not isinstance(doc[0], dict):
            count = len(doc) if isinstance(doc, list) else 0
            raise SourceError(f"{self.name}: manifest.json holds {count} images, not one")
        entry = doc[0]
        config = self._read(self._member(entry.get("Config")), MAX_CONFIG_BYTES)
        config_digest = _sha(config)
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
