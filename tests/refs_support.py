"""Pinning a reference file's text with made-up digests: the pure path lock takes."""

from __future__ import annotations

from pinner import pinning, refs
from pinner.lockfile import Lock
from pinner.manifest import OCI_MANIFEST, Manifest

DIGEST = "sha256:" + "a" * 64
OLD = "sha256:" + "b" * 64


def pin_text(kind: str, text: str, path: str = "file") -> str:
    """text with every reference pinned to DIGEST (a written digest answers itself)."""
    parsed, _ = refs.parse(kind, text, path)
    resolved = {
        pinning.query(u): Manifest(u.ref.digest or DIGEST, OCI_MANIFEST) for u in parsed.uses
    }
    return pinning.pin(parsed, resolved, Lock()).text


def notes(kind: str, text: str, path: str = "file") -> tuple[str, ...]:
    """What the reader says it could not pin."""
    return tuple(map(str, refs.parse(kind, text, path)[1]))


def used_by(kind: str, text: str) -> list[tuple[int, str, str]]:
    """(line, reference, used by) for each reference found."""
    parsed, _ = refs.parse(kind, text, "file")
    return [(u.line, u.written, u.used_by) for u in parsed.uses]
