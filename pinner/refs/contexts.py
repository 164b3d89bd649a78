"""The build contexts compose and bake files declare for a Dockerfile (a service's `build`,
a bake target's `context` and `dockerfile`), in its folder and the folders above it."""

from __future__ import annotations

import functools
import os

from pinner import files, refs
from pinner.errors import PinnerError


@functools.lru_cache(maxsize=256)
def _declared(folder: str) -> tuple[tuple[str, str], ...]:
    """(Dockerfile, context) real paths the compose and bake files in folder build with."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return ()
    found = []
    for name in names:
        path = os.path.join(folder, name)
        kind = refs.kind_of(path)
        if kind not in (refs.COMPOSE, refs.BAKE) or not os.path.isfile(path):
            continue
        try:
            text = files.read_optional(path) or ""
            if kind == refs.COMPOSE:
                from pinner.refs import compose

                builds = compose.builds(text)
            else:
                from pinner.refs import bake

                builds = bake.builds(text, path)
        except PinnerError:
            continue  # reported where the run reads the file for its images
        for context, dockerfile in builds:
            context = os.path.realpath(os.path.join(folder, context))
            found.append((os.path.realpath(os.path.join(context, dockerfile)), context))
    return tuple(found)


def declared(dockerfile: str) -> tuple[str, ...]:
    """The contexts the compose and bake files in dockerfile's folder, and in the folders above
    it up to the repository's root, build dockerfile with, each once."""
    real = os.path.realpath(dockerfile)
    folder = os.path.dirname(real)
    contexts: dict[str, None] = {}
    while True:
        contexts.update((c, None) for f, c in _declared(folder) if f == real)
        parent = os.path.dirname(folder)
        if parent == folder or os.path.exists(os.path.join(folder, ".git")):
            return tuple(contexts)
        folder = parent
