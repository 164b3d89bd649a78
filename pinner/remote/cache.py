"""pinner's on-disk cache: where it lives, its paths, and its one atomic writer.

Everything cached is named by what verifies it (a content digest, or the URL of a signed index),
so an entry never goes stale; a damaged or half-written one is simply fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from pinner.errors import PinnerError
from pinner.output import untrusted
from pinner.reference import is_digest


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/pinner, else ~/.cache/pinner (XDG Base Directory: relative is ignored)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "pinner"


def digest_path(cache_dir: Path, kind: str, digest: str) -> Path:
    """cache_dir/layers/sha256-<hex>.json (a scan) or cache_dir/manifests/... (raw bytes)."""
    # Callers pass digests the registry module checked; this is the last line of defence.
    path = cache_dir / kind / f"{digest.replace(':', '-')}.json"
    inside = os.path.normpath(path).startswith(os.path.join(os.path.normpath(cache_dir), ""))
    if not is_digest(digest) or not inside:
        raise PinnerError(f"refusing to cache {untrusted(digest)!r}: not a digest")
    return path


def url_path(cache_dir: Path, url: str) -> Path:
    """cache_dir/snapshot/<sha256 of the URL>: a snapshot's file never changes."""
    return cache_dir / "snapshot" / hashlib.sha256(url.encode()).hexdigest()


def read(path: Path) -> bytes | None:
    """The bytes cached at path, or None when there are none (or they cannot be read)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def write(path: Path, data: bytes) -> None:
    """Store atomically; a cache that cannot be written only costs a download next time."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".pinner-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
