"""File discovery and atomic, all-or-nothing writes: the only module that writes files."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pinner.errors import DockerfileError, UsageError

_PATTERNS = ("Dockerfile", "Containerfile", "*.Dockerfile", "*.dockerfile", "Dockerfile.*")
_SKIP_SUFFIXES = (".lock", ".dockerignore", ".swp", "~", ".orig", ".rej", ".bak")
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "__pycache__", ".tox"})


def is_dockerfile(name: str) -> bool:
    """Dockerfile, Containerfile, *.Dockerfile and Dockerfile.*, not their locks."""
    if name.endswith(_SKIP_SUFFIXES):
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _PATTERNS)


def discover(paths: Sequence[str], exclude: Iterable[str] = ()) -> list[str]:
    """Expand paths: files as given, directories walked; none means ./Dockerfile."""
    patterns = tuple(exclude)
    found: list[str] = []
    for path in paths or ["Dockerfile"]:
        if os.path.isdir(path):
            found.extend(_walk(path, patterns))
        elif os.path.exists(path):
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    if not found:
        raise UsageError(f"{', '.join(paths)}: no Dockerfile found")
    return list(dict.fromkeys(found))


def _walk(top: str, exclude: tuple[str, ...]) -> list[str]:
    found = []
    for folder, dirs, names in os.walk(top):
        rel = os.path.relpath(folder, top)
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP_DIRS and not _excluded(os.path.join(rel, d), exclude)
        )
        for name in sorted(names):
            if is_dockerfile(name) and not _excluded(os.path.join(rel, name), exclude):
                found.append(os.path.normpath(os.path.join(folder, name)))
    return found


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    rel = os.path.normpath(rel)
    return any(
        fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(rel, p.rstrip("/") + "/*")
        for p in patterns
    )


def read_bytes(path: str) -> bytes:
    """A file's bytes, with OS errors turned into one line naming the file."""
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise DockerfileError(f"{path}: is a directory") from None
    except OSError as e:
        raise DockerfileError(f"{path}: cannot read: {e.strerror}") from None


def read_optional(path: str) -> str | None:
    """A UTF-8 file's text, or None when it does not exist."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise DockerfileError(f"{path}: not valid UTF-8") from None
    except OSError as e:
        raise DockerfileError(f"{path}: cannot read: {e.strerror}") from None


def write_all(texts: Mapping[str, str]) -> None:
    """Write every file or none: all temp files first, then renames (each rename is atomic)."""
    staged: list[tuple[str, str]] = []
    try:
        for path, text in texts.items():
            folder = os.path.dirname(os.path.abspath(path))
            fd, temp = tempfile.mkstemp(prefix=".pinner-", dir=folder)
            staged.append((temp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            with contextlib.suppress(FileNotFoundError):
                os.chmod(temp, os.stat(path).st_mode & 0o7777)
            if not os.path.exists(path):
                os.chmod(temp, 0o644)
        for temp, path in staged:
            os.replace(temp, path)
    except OSError as e:
        raise DockerfileError(f"{e.filename or path}: cannot write: {e.strerror}") from None
    finally:
        for temp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
