"""Images as pinner reads them: platform images, configs and their validation (no I/O)."""

# Every value taken from a manifest or a config is type-checked here, where it enters, so the
# rest of pinner sees only these records.

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

from pinner.errors import PinnerError
from pinner.imagefiles import Layer
from pinner.reference import is_digest
from pinner.shellword import shell_program


class SourceError(PinnerError):
    """An image cannot be read, or its manifests and config are not what they should be."""


class History(NamedTuple):
    """One history entry of an image config."""

    created: str
    created_by: str
    comment: str
    empty_layer: bool


class ImageConfig(NamedTuple):
    """The fields of an image config that `diff` compares (OCI image-spec config.md), and the
    program its Shell names (shell_program; None: the image's /bin/sh), which lock reads."""

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
    shell: str | None


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


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(value: object, what: str) -> str:
    """value, when it is a sha256 digest (the one algorithm layers are hashed with here)."""
    if not isinstance(value, str) or not value.startswith("sha256:") or not is_digest(value):
        raise SourceError(f"{what}: not a sha256 digest: {str(value)[:80]!r}")
    return value


def json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):  # json's decoder recurses once per nested array
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
    doc = json_object(data, what)
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
        check_digest(diff_id, f"{what}: rootfs.diff_ids")
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
        shell=shell_program(inner.get("Shell")),
    )


def descriptor(value: object, what: str, optional: bool = False) -> tuple[str, str, int]:
    """(digest, media type, size) of a descriptor; optional allows no digest."""
    if not isinstance(value, dict):
        raise SourceError(f"{what}: not a descriptor")
    size = value.get("size", -1)
    if not isinstance(size, int) or isinstance(size, bool) or size < -1:
        raise SourceError(f"{what}: size is not a non-negative integer")
    digest = value.get("digest")
    digest = "" if optional and digest == "" else check_digest(digest, what)
    return digest, _string(value.get("mediaType"), what), size
