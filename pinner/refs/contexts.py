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
def _declared(folder: str, root: str | None) -> tuple[tuple[str, str], ...]:
    """(Dockerfile, context) real paths the compose and bake files in folder build with.

    `docker compose` reads the first base file and the first override file there merged, each
    other compose file on its own (-f), with paths relative to the file's folder (compose's
    project directory). `docker buildx bake` given no file reads, in its working directory,
    every compose file of compose's default names and then docker-bake.json, .hcl and their
    .override forms, as one (targets of one name merged in that order); another bake file is
    read with -f. Bake's paths are relative to the working directory (bake.go; its
    BUILDX_BAKE_FILE_RELATIVE_PATHS opt-in aside), which pinner cannot see: a build run in the
    file's folder (`cd docker && docker buildx bake`, the only way buildx finds its default
    files itself) takes that folder; one run from the repository's root (`docker buildx bake
    -f docker/docker-bake.hcl`, as CI actions and Makefiles do by default) takes the root. Both
    are counted (root: the repository's root, None outside one), so where they give a
    Dockerfile different contexts, none is trusted.
    """
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
    # (folder the context is relative to, or None for bake's working directory; builds)
    builds: list[tuple[str | None, list[tuple[str, str]]]] = []
    for name, (kind, text) in texts.items():
        if name in merged:
            continue
        with contextlib.suppress(PinnerError):
            if kind == refs.COMPOSE:
                builds.append((folder, compose.builds(text)))
            else:
                builds.append((None, bake.builds(text, name)))
    # Either tool stops on any of its files that does not parse: then none of them is trusted.
    with contextlib.suppress(PinnerError):
        pair = [texts[name][1] for name in (base, override) if name is not None]
        builds.append((folder, compose.builds(*pair) if base is not None else []))
    with contextlib.suppress(PinnerError):
        defaults = [(texts[name][1], name) for name in bake.DEFAULT_FILES if name in texts]
        composed = [texts[name][1] for name in compose.DEFAULT_FILES if name in texts]
        services = compose.services(*composed)
        builds.append((None, bake.merged_builds(defaults, services)))
    working = dict.fromkeys(d for d in (folder, root) if d is not None)
    found = []
    for relative_to, pairs in builds:
        for start in working if relative_to is None else (relative_to,):
            for context, dockerfile in pairs:
                context = os.path.realpath(os.path.join(start, context))
                found.append((os.path.realpath(os.path.join(context, dockerfile)), context))
    return tuple(dict.fromkeys(found))


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
            found.extend(_declared(folder, root))
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
    folders = [os.path.dirname(real)]
    while not os.path.exists(os.path.join(folders[-1], ".git")):
        parent = os.path.dirname(folders[-1])
        if parent == folders[-1]:
            break
        folders.append(parent)
    root = folders[-1] if os.path.exists(os.path.join(folders[-1], ".git")) else None
    contexts: dict[str, None] = {}
    for folder in folders:
        contexts.update((c, None) for f, c in _declared(folder, root) if f == real)
    if root is not None:
        contexts.update((c, None) for f, c in _below(root) if f == real)
    return tuple(contexts)
