"""Load a run's Dockerfiles with their locks; per-file failures are collected, not raised."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pinner import dockerfile, files, lockfile
from pinner.dockerfile import Dockerfile
from pinner.errors import PinnerError
from pinner.lockfile import Lock


class Target(NamedTuple):
    """One Dockerfile of the run, parsed, with its lock as it stands (empty when there is none)."""

    path: str
    lock_path: str
    parsed: Dockerfile
    lock: Lock
    lock_text: str | None
    build_args: Mapping[str, str] = {}


def load(
    paths: Sequence[str], build_args: Mapping[str, str], exclude: Sequence[str] = ()
) -> tuple[list[Target], list[str]]:
    """Parse every Dockerfile and its lock; return the targets and one error line per failure."""
    targets: list[Target] = []
    errors: list[str] = []
    for path in files.discover(paths, exclude):
        try:
            targets.append(load_one(path, build_args))
        except PinnerError as e:
            errors.append(str(e))
    return targets, errors


def load_one(path: str, build_args: Mapping[str, str]) -> Target:
    """Parse one Dockerfile and its lock."""
    text = dockerfile.decode(files.read_bytes(path), path)
    parsed = dockerfile.parse(text, path, build_args)
    lock_path = lockfile.lock_path(path)
    lock_text = files.read_optional(lock_path)
    lock = lockfile.parse(lock_text, lock_path) if lock_text is not None else Lock()
    return Target(path, lock_path, parsed, lock, lock_text, build_args)


def unified_diff(path: str, old: str | None, new: str) -> str:
    """A unified diff of one file, as `git diff` would show it; empty when nothing changed."""
    if old == new:
        return ""
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path}" if old is not None else "/dev/null",
        tofile=f"b/{path}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def display(path: str) -> str:
    """A path as messages show it: relative to the working directory when below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
