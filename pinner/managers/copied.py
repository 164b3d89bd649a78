"""Whether a COPY or ADD of a tree (`COPY rootfs/ /`, `COPY etc /etc`) may put a manager's
configuration files in place, as far as the build context shows."""

from __future__ import annotations

import functools
import os
import posixpath
from collections.abc import Iterator, Sequence

from pinner.managers import dockerignore

# Characters that make a source a pattern (or an expansion) pinner does not evaluate.
_PATTERN = frozenset("*?[$")


class Context:
    """A Dockerfile's build context: its folder and what its ignore files leave out.

    folder: as given (--context, the configuration), else as the compose and bake files of the
    Dockerfile's repository declare it, else the Dockerfile's own, as `docker build .` has it.
    """

    def __init__(self, dockerfile: str, folder: str | None = None) -> None:
        self.dockerfile = dockerfile
        self.given = folder

    @functools.cached_property
    def folder(self) -> str | None:
        """The context's folder; None when compose and bake files build the Dockerfile with
        different ones, so no one context tells what a COPY takes."""
        if self.given is not None:
            return self.given
        from pinner.refs import contexts  # only where a tree COPY asks

        declared = contexts.declared(self.dockerfile)
        if len(declared) > 1:
            return None
        return declared[0] if declared else os.path.dirname(self.dockerfile) or "."

    @functools.cached_property
    def ignored(self) -> dockerignore.Ignored | None:
        """What the ignore files leave out of the context, read at the first tree that asks."""
        return dockerignore.load(self.dockerfile, self.folder)


def _kept(root: str, path: str, ignored: dockerignore.Ignored | None) -> bool:
    """Whether the ignore file keeps a path of the context (the context itself always)."""
    relative = os.path.relpath(path, root)
    return ignored is None or relative == "." or not ignored.excludes(relative)


def _entries(folder: str, folders: bool) -> Iterator[str]:
    """The paths under a folder, links not followed; its subfolders too where folders is set."""
    for top, names, files in os.walk(folder):
        for name in names:
            if folders or os.path.islink(os.path.join(top, name)):
                yield os.path.join(top, name)
        yield from (os.path.join(top, name) for name in files)


def _sent(root: str, path: str, ignored: dockerignore.Ignored | None) -> bool:
    """Whether the context holds a path: it is kept, or (a folder) something in it is taken back."""
    if not os.path.lexists(path):
        return False
    if _kept(root, path, ignored):
        return True
    folder = os.path.isdir(path) and not os.path.islink(path)
    return folder and any(_kept(root, each, ignored) for each in _entries(path, True))


def _holds(root: str, path: str, ignored: dockerignore.Ignored | None) -> bool:
    """Whether a file, or a file at any depth of a folder, at path reaches the image.

    An empty folder copied onto one the image has changes nothing in it.
    """
    if not os.path.lexists(path):
        return False
    if not os.path.isdir(path) or os.path.islink(path):
        return _kept(root, path, ignored)
    return any(_kept(root, each, ignored) for each in _entries(path, False))


def _operands(words: Sequence[str]) -> tuple[list[str], list[str]] | None:
    """The flags and the operands (sources, then destination) of a COPY or ADD, None if unread."""
    flags = [w for w in words if w.startswith("--")]
    rest = [w for w in words if not w.startswith("--")]
    if rest[:1] and rest[0].startswith("["):
        import json  # only for the exec form: check imports json only where it prints JSON

        try:
            loaded = json.loads(" ".join(rest))
        except (ValueError, RecursionError):
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
    context: Context | None,
    paths: Sequence[str],
) -> str | None:
    """The destination of a COPY or ADD whose tree may hold one of paths there, or None.

    Files the context's ignore file leaves out are not copied. Sources the context lacks (or
    leaves out), patterns, `--from`, URLs and local archives ADD unpacks may hold anything:
    they count as writing.
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
    if context is None or context.folder is None or any(f.startswith("--from") for f in flags):
        return target
    root = os.path.realpath(context.folder)
    ignored = context.ignored
    for source in operands[:-1]:
        if _PATTERN & set(source) or "://" in source or source.startswith("git@"):
            return target
        path = os.path.realpath(os.path.join(root, source.lstrip("/")))
        if os.path.commonpath([root, path]) != root or not os.path.exists(path):
            return target
        if not _sent(root, path, ignored):
            return target  # the build fails on it, as on a missing source
        if os.path.isdir(path):
            # A directory's contents are copied into the destination.
            inside = [os.path.join(path, posixpath.relpath(p, target)) for p in under]
            if any(_holds(root, each, ignored) for each in inside):
                return target
        elif keyword == "ADD":
            return target  # a local archive is unpacked into the destination
        else:
            if onto(posixpath.join(target, posixpath.basename(source)), paths):
                return target
    return None
