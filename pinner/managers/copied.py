"""Whether a COPY or ADD of a tree (`COPY rootfs/ /`, `COPY etc /etc`) may put a manager's
configuration files in place, as far as the build context shows."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence

# Characters that make a source a pattern (or an expansion) pinner does not evaluate.
_PATTERN = frozenset("*?[$")


def _operands(words: Sequence[str]) -> tuple[list[str], list[str]] | None:
    """The flags and the operands (sources, then destination) of a COPY or ADD, None if unread."""
    flags = [w for w in words if w.startswith("--")]
    rest = [w for w in words if not w.startswith("--")]
    if rest[:1] and rest[0].startswith("["):
        import json  # only for the exec form: check imports json only where it prints JSON

        try:
            loaded = json.loads(" ".join(rest))
        except ValueError:
            return None
        if not isinstance(loaded, list) or not all(isinstance(x, str) for x in loaded):
            return None
        rest = loaded
    return (flags, rest) if len(rest) >= 2 else None


def onto(destination: str, paths: Sequence[str]) -> bool:
    """Whether a destination is one of paths or lies under one (a file into a folder of them)."""
    path = destination.strip("'\"").rstrip("/")
    return any(path == p or path.startswith(f"{p}/") for p in paths)


def _destination(operands: Sequence[str], workdir: str) -> str | None:
    """The absolute destination of a COPY or ADD (a relative one is under workdir)."""
    if "$" in operands[-1]:
        return None
    return posixpath.normpath(posixpath.join(workdir, operands[-1]))


def may_write(
    keyword: str,
    words: Sequence[str],
    workdir: str,
    context: str | None,
    paths: Sequence[str],
) -> str | None:
    """The destination of a COPY or ADD whose tree may hold one of paths there, or None.

    Sources the context (the Dockerfile's folder) lacks, patterns, `--from`, URLs and local
    archives ADD unpacks may hold anything: they count as writing.
    """
    read = _operands(words)
    if read is None:
        return None
    flags, operands = read
    target = _destination(operands, workdir)
    if target is None:
        return None
    under = [p for p in paths if target == "/" or p.startswith(f"{target}/")]
    if not under:
        return None
    if context is None or any(f.startswith("--from") for f in flags):
        return target
    root = os.path.realpath(context)
    for source in operands[:-1]:
        if _PATTERN & set(source) or "://" in source or source.startswith("git@"):
            return target
        path = os.path.realpath(os.path.join(root, source.lstrip("/")))
        if os.path.commonpath([root, path]) != root or not os.path.exists(path):
            return target
        if os.path.isdir(path):
            # A directory's contents are copied into the destination.
            inside = [os.path.join(path, posixpath.relpath(p, target)) for p in under]
            if any(os.path.lexists(each) for each in inside):
                return target
        elif keyword == "ADD":
            return target  # a local archive is unpacked into the destination
        else:
            if onto(posixpath.join(target, posixpath.basename(source)), paths):
                return target
    return None
