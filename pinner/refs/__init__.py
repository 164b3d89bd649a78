"""Image references outside Dockerfiles: which files hold them and where each one is written.

Each kind's module finds references with a real parser and returns their exact spans in the
original text; the rest of pinner then treats the file like a Dockerfile without stages, so the
resolver, the lock and the pin edits are the ones Dockerfiles use.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import NamedTuple

from pinner import reference
from pinner.dockerfile import Dockerfile, ImageUse, Span
from pinner.errors import InvalidReference, Problem, ReferenceFileError

COMPOSE = "compose"
ACTIONS = "actions"
KUBERNETES = "kubernetes"
PYTHON = "python"
BAKE = "bake"

_COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose*.yaml", "docker-compose*.yml")
_COMPOSE_OVERRIDES = ("compose.*.yaml", "compose.*.yml")
_WORKFLOW_SUFFIXES = (".yaml", ".yml")
_BAKE_NAMES = ("docker-bake*.hcl", "docker-bake*.json")
# Every file a walk meets is classified: one compiled pattern per kind, not fnmatch per name.
_COMPOSE_RE = re.compile("|".join(map(fnmatch.translate, _COMPOSE_NAMES + _COMPOSE_OVERRIDES)))
_BAKE_RE = re.compile("|".join(map(fnmatch.translate, _BAKE_NAMES)))


@functools.cache
def python_imports() -> re.Pattern[bytes]:
    """An import of a library whose calls the Python reader knows (compiled on first use)."""
    # A module can only call those APIs after importing them; the bytes are searched before
    # decoding, so the walk neither parses nor decodes other modules (some are not UTF-8).
    return re.compile(
        rb"^[ \t]*(?:from|import)[ \t]+(testcontainers|dagger|airflow|docker)\b", re.M
    )


class Found(NamedTuple):
    """One reference in a file: its 1-based line, the text as written, its span, who uses it."""

    line: int
    value: str
    span: Span
    used_by: str


class Scan(NamedTuple):
    """What a kind's reader found: references to pin, and notes on those it cannot pin."""

    found: tuple[Found, ...]
    notes: tuple[Problem, ...] = ()


def kind_of(path: str, kubernetes: Collection[str] = ()) -> str | None:
    """The kind of reference file a path is, or None; manifests only as configured."""
    name = os.path.basename(path)
    if kubernetes and os.path.abspath(path) in kubernetes:
        return KUBERNETES
    if _COMPOSE_RE.match(name):
        return COMPOSE
    if name.endswith(_WORKFLOW_SUFFIXES):
        parent = os.path.dirname(os.path.abspath(path))
        if (
            os.path.basename(parent) == "workflows"
            and os.path.basename(os.path.dirname(parent)) == ".github"
        ):
            return ACTIONS
    if _BAKE_RE.match(name):
        return BAKE
    if name.endswith(".py"):
        return PYTHON
    return None


def worth_reading(kind: str, data: bytes) -> bool:
    """False for a Python module that imports none of the libraries whose calls are read."""
    return kind != PYTHON or python_imports().search(data) is not None


def manifests(root: str, patterns: Iterable[str]) -> frozenset[str]:
    """The absolute paths the configured Kubernetes globs match, relative to root."""
    found: set[str] = set()
    for pattern in patterns:
        found.update(os.path.abspath(p) for p in Path(root).glob(pattern) if p.is_file())
    return frozenset(found)


def _reader(kind: str) -> Callable[[str, str], Scan]:
    if kind == COMPOSE:
        from pinner.refs.compose import scan as compose_scan

        return compose_scan
    if kind == ACTIONS:
        from pinner.refs.actions import scan as actions_scan

        return actions_scan
    if kind == KUBERNETES:
        from pinner.refs.kubernetes import scan as kubernetes_scan

        return kubernetes_scan
    if kind == PYTHON:
        from pinner.refs.python import scan as python_scan

        return python_scan
    if kind == BAKE:
        from pinner.refs.bake import scan as bake_scan

        return bake_scan
    raise AssertionError(f"unknown reference file kind {kind}")


def parse(kind: str, text: str, path: str) -> tuple[Dockerfile, tuple[Problem, ...]]:
    """A reference file as a Dockerfile record without stages, and notes for the user."""
    scan = _reader(kind)(text, path)
    uses = []
    for found in scan.found:
        try:
            ref = reference.parse(found.value)
        except InvalidReference as e:
            raise ReferenceFileError(Problem(path, found.line, f"{found.value}: {e}")) from None
        uses.append(ImageUse(found.line, found.value, found.value, ref, found.span, found.used_by))
    return Dockerfile(text, (), tuple(uses), ()), scan.notes
