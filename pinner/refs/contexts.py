"""The build contexts compose and bake files declare for a Dockerfile (a service's `build`,
a bake target's `context` and `dockerfile`), in its folder, the folders above it and, within
its repository, any folder below the repository's root (`deploy/compose.yaml` building
`app/Dockerfile` with `context: ..`)."""

from __future__ import annotations

import collections
import contextlib
import functools
import os

from pinner import files, refs
from pinner.errors import PinnerError

# The repository's folders searched for compose and bake files that build a Dockerfile: this
# deep below the root, this many folders at most (nearest first, then by name), `.git` and
# node_modules skipped, so the same tree always gives the same answer at a bounded cost.
_DEEPEST = 4
_MOST_FOLDERS = 2000
# A compose or bake file larger than this is not read for the contexts it declares.
_LARGEST = 1 << 20


@functools.lru_cache(maxsize=256)
def _declared(folder: str) -> tuple[tuple[str, str], ...]:
    """(Dockerfile, context) real paths the compose and bake files in folder build with; the
    files compose and buildx read when given none are merged as they merge them (compose: the
    first base file, then the first override file; buildx: docker-bake.json, .hcl, then their
    .override forms), each other file read on its own, as `-f` reads it."""
    from pinner.refs import bake, compose

    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return ()
    texts: dict[str, tuple[str, str]] = {}  # name -> kind, text
    for name in names:
        path = os.path.join(folder, name)
        kind = refs.kind_of(path)
        if kind not in (refs.COMPOSE, refs.BAKE) or not os.path.isfile(path):
            continue
        try:
            if os.path.getsize(path) <= _LARGEST:
                texts[name] = (kind, files.read_optional(path) or "")
        except (OSError, PinnerError):
            continue  # reported where the run reads the file for its images
    base = next((name for name in compose.DEFAULT_FILES if name in texts), None)
    override = next((name for name in compose.OVERRIDE_FILES if name in texts), None)
    merged = {base, override} if base is not None else set()
    merged |= set(bake.DEFAULT_FILES)
    builds: list[tuple[str, str]] = []
    for name, (kind, text) in texts.items():
        if name in merged:
            continue
        with contextlib.suppress(PinnerError):
            builds += compose.builds(text) if kind == refs.COMPOSE else bake.builds(text, name)
    # Either tool stops on any of its files that does not parse: then none of them is trusted.
    with contextlib.suppress(PinnerError):
        pair = [texts[name][1] for name in (base, override) if name is not None]
        builds += compose.builds(*pair) if base is not None else []
    with contextlib.suppress(PinnerError):
        defaults = [(texts[name][1], name) for name in bake.DEFAULT_FILES if name in texts]
        builds += bake.merged_builds(defaults)
    found = []
    for context, dockerfile in builds:
        context = os.path.realpath(os.path.join(folder, context))
        found.append((os.path.realpath(os.path.join(context, dockerfile)), context))
    return tuple(found)


@functools.lru_cache(maxsize=16)
def _below(root: str) -> tuple[tuple[str, str], ...]:
    """_declared of every folder searched below a repository's root (see _DEEPEST)."""
    found: list[tuple[str, str]] = []
    queue = collections.deque([(root, 0)])
    visited = 0
    while queue and visited < _MOST_FOLDERS:
        folder, depth = queue.popleft()
        visited += 1
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError:
            continue
        if any(refs.kind_of(entry.name) in (refs.COMPOSE, refs.BAKE) for entry in listed):
            found.extend(_declared(folder))
        if depth == _DEEPEST:
            continue
        for entry in listed:
            if entry.name in (".git", "node_modules"):
                continue
            if entry.is_dir(follow_symlinks=False):
                queue.append((entry.path, depth + 1))
    return tuple(found)


def declared(dockerfile: str) -> tuple[str, ...]:
    """The contexts the compose and bake files in dockerfile's folder and the folders above it
    up to the repository's root (the folder holding `.git`), and in the folders below that
    root, build dockerfile with, each once."""
    real = os.path.realpath(dockerfile)
    folder = os.path.dirname(real)
    contexts: dict[str, None] = {}
    while True:
        contexts.update((c, None) for f, c in _declared(folder) if f == real)
        if os.path.exists(os.path.join(folder, ".git")):
            contexts.update((c, None) for f, c in _below(folder) if f == real)
            return tuple(contexts)
        parent = os.path.dirname(folder)
        if parent == folder:
            return tuple(contexts)
        folder = parent
