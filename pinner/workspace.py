"""Load a run's Dockerfiles with their locks; per-file failures are collected, not raised."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import partial
from typing import NamedTuple

from pinner import dockerfile, files, lockfile, parallel, refs
from pinner.dockerfile import Dockerfile
from pinner.errors import PinnerError, Problem
from pinner.lockfile import Lock

DOCKERFILE = "dockerfile"
_DEFAULT_PLATFORMS = (dockerfile.DEFAULT_PLATFORM,)
# What a run that writes keeps of a lock's text once the lock is parsed: that there is one. It
# renders a lock only when its records changed, and the render of changed records never equals
# the old text (parse(render(lock)) == lock.canonical(): tests/test_lockfile.py), so only the
# diffs of --dry-run read the text; 10,000 locks' texts are 16 MB.
LOCK_NOT_KEPT = ""


class Target(NamedTuple):
    """One file of the run, parsed, with its lock as it stands (empty when there is none).

    kind is DOCKERFILE or a reference file kind (refs.COMPOSE ...): those have no stages, are
    pinned images-only, and carry notes on references that cannot be pinned. lock_text is None
    when there is no lock, LOCK_NOT_KEPT when it was read without its text.
    """

    path: str
    lock_path: str
    parsed: Dockerfile
    lock: Lock
    lock_text: str | None
    build_args: Mapping[str, str] = {}
    kind: str = DOCKERFILE
    notes: tuple[Problem, ...] = ()


class Selection(NamedTuple):
    """The files a run reads: paths, --build-arg values, --exclude globs, Kubernetes manifests.

    kubernetes holds the absolute paths the configuration names as manifests.
    """

    paths: Sequence[str]
    build_args: Mapping[str, str]
    exclude: Sequence[str] = ()
    kubernetes: Collection[str] = ()


def load(selection: Selection, *, lock_texts: bool = True) -> tuple[list[Target], list[Problem]]:
    """Parse every file and its lock; return the targets and one problem per failure."""
    return split(parse_read(entry) for entry in read(selection, lock_texts=lock_texts))


def read(selection: Selection, *, lock_texts: bool = True) -> list[Target | Problem]:
    """Every file of the run with its lock, in order, or its problem; Dockerfiles not parsed yet.

    A Dockerfile's target holds its text alone (no stages, no uses) until parse_read parses it:
    its lock is enough to ask the registry about what it pinned. lock_texts=False: each lock's
    text is LOCK_NOT_KEPT once parsed (None still when there is no lock).

    Over many files the reading is shared with forked processes: parsing the locks is most of
    it, and their records come back pickled in a tenth of the time.
    """
    return _read_paths(selection, lock_texts, discover(selection))


def _read_paths(
    selection: Selection, lock_texts: bool, paths: Sequence[str]
) -> list[Target | Problem]:
    work = partial(_read_share, selection, lock_texts)
    return [entry for entry in parallel.map_shares(work, paths) if entry is not None]


def _read_alone(
    selection: Selection, lock_texts: bool, paths: Sequence[str]
) -> list[Target | Problem]:
    return [entry for entry in _read_share(selection, lock_texts, paths) if entry is not None]


class Reading:
    """read(selection), begun at once: over many files, in a forked process, so that this one
    may meanwhile import the code that talks to registries (asyncio, httpx, h11: about 0.1 s of
    CPU) and meet the files when it has. A path that does not exist is a UsageError at once.

    result() gives the entries (read here should the process fail); stop() ends a reading whose
    entries are no longer wanted. One process reads 1,000 files in 0.05 s, 0.13 s with their
    locks to parse: a re-lock and an update of 1,000 files start 0.03-0.04 s sooner.
    """

    def __init__(self, selection: Selection, *, lock_texts: bool = True) -> None:
        paths = discover(selection)
        self._work = partial(_read_paths, selection, lock_texts, paths)
        self._child: parallel.Child[list[Target | Problem]] | None = None
        many = len(paths) >= 2 * parallel.MIN_PER_PROCESS and parallel.cpus() >= 2
        if many and parallel.may_fork():
            # One process reads them all: this one takes the other CPU.
            alone = partial(_read_alone, selection, lock_texts, paths)
            with contextlib.suppress(OSError):  # no process to be had: read when asked
                self._child = parallel.Child(alone)

    def result(self) -> list[Target | Problem]:
        """The entries, as read() returns them."""
        child, self._child = self._child, None
        return self._work() if child is None else child.result()

    def stop(self) -> None:
        """End the reading, if it is still under way elsewhere."""
        child, self._child = self._child, None
        if child is not None:
            child.stop()


def _read_share(
    selection: Selection, lock_texts: bool, paths: Sequence[str]
) -> list[Target | Problem | None]:
    return [read_path(path, selection, lock_texts=lock_texts) for path in paths]


def discover(selection: Selection) -> list[str]:
    """The paths of the run's files, in order."""
    kubernetes = selection.kubernetes
    return files.discover(
        selection.paths, selection.exclude, lambda p: refs.kind_of(p, kubernetes) is not None
    )


def read_path(
    path: str, selection: Selection, *, lock_texts: bool = True
) -> Target | Problem | None:
    """One file of the run as read() reads it; None for a reference file that names no image."""
    kind = refs.kind_of(path, selection.kubernetes)
    if kind is None and path.endswith((".yaml", ".yml")):
        # Only a file named on the command line gets here: say why it is not read as YAML.
        return Problem(
            path,
            None,
            "not a Compose file or workflow by its name; name Kubernetes manifests"
            ' in pinner.toml (kubernetes = ["deploy/**/*.yaml"])',
        )
    try:
        if kind is None:
            return read_one(path, selection.build_args, lock_texts=lock_texts)
        return load_refs(path, kind, lock_texts=lock_texts)
    except PinnerError as e:
        return e.problem or Problem(path, None, str(e))


def parse_read(entry: Target | Problem) -> Target | Problem:
    """A Dockerfile's target as read, parsed; a reference file's target or a problem as it is."""
    if isinstance(entry, Problem) or entry.kind != DOCKERFILE:
        return entry
    try:
        return _parsed(entry)
    except PinnerError as e:
        return e.problem or Problem(entry.path, None, str(e))


def _parsed(target: Target) -> Target:
    """A Dockerfile's target as read, parsed for the platforms its lock names."""
    lock, text, path = target.lock, target.parsed.text, target.path
    # A reference locked per platform is parsed for those platforms again (`FROM app-$TARGETARCH`).
    platforms = dockerfile.locked_platforms(u for i in lock.images for u in i.used_by)
    parsed = dockerfile.parse(text, path, target.build_args, platforms or _DEFAULT_PLATFORMS)
    base_shell = {stage.stage: stage.base_shell for stage in lock.stages if stage.base_shell}
    return target._replace(
        parsed=parsed._replace(base_env=locked_base_env(lock), base_shell=base_shell)
    )


def locked_base_env(lock: Lock) -> dict[str, tuple[tuple[str, str], ...]]:
    """The base image ENV each stage's RUNs read, as the lock records it, by stage label."""
    return {
        stage.stage: tuple((e.partition("=")[0], e.partition("=")[2]) for e in stage.base_env)
        for stage in lock.stages
        if stage.base_env
    }


def split(entries: Iterable[Target | Problem]) -> tuple[list[Target], list[Problem]]:
    """Targets and problems, each in the order given."""
    targets: list[Target] = []
    errors: list[Problem] = []
    for entry in entries:
        if isinstance(entry, Problem):
            errors.append(entry)
        else:
            targets.append(entry)
    return targets, errors


def unlocked(targets: Sequence[Target]) -> list[Problem]:
    """An error for each target that has no lock yet."""
    return [
        Problem(t.path, None, f"no lockfile; run pinner lock {t.path} first")
        for t in targets
        if t.lock_text is None
    ]


def in_file(target: Target, error: PinnerError) -> Problem:
    """An error where it says it is, else in the target's file."""
    return error.problem or Problem(target.path, None, str(error))


def load_one(path: str, build_args: Mapping[str, str]) -> Target:
    """Parse one Dockerfile and its lock; without --build-arg, with those the lock was made with."""
    return _parsed(read_one(path, build_args))


def read_one(path: str, build_args: Mapping[str, str], *, lock_texts: bool = True) -> Target:
    """One Dockerfile's text and its lock, not parsed yet (parse_read parses it)."""
    text = dockerfile.decode(files.read_bytes(path), path)
    lock_path = lockfile.lock_path(path)
    lock, lock_text = _read_lock(lock_path, lock_texts)
    args = dict(build_args) if build_args else dict(lock.build_args)
    return Target(path, lock_path, Dockerfile(text, (), (), ()), lock, lock_text, args)


def _read_lock(lock_path: str, keep_text: bool) -> tuple[Lock, str | None]:
    """A lock's records (empty when there is none) and its text, or LOCK_NOT_KEPT."""
    lock_text = files.read_optional(lock_path)
    if lock_text is None:
        return Lock(), None
    lock = lockfile.parse(lock_text, lock_path)
    return lock, lock_text if keep_text else LOCK_NOT_KEPT


def load_refs(path: str, kind: str, *, lock_texts: bool = True) -> Target | None:
    """Parse one reference file and its lock; None when it names no image and has no lock."""
    data = files.read_bytes(path)
    if not data.strip() or not refs.worth_reading(kind, data):
        return None  # an empty __init__.py or compose file names no image
    text = dockerfile.decode(data, path)
    lock_path = lockfile.lock_path(path)
    lock, lock_text = _read_lock(lock_path, lock_texts)
    parsed, notes = refs.parse(kind, text, path)
    if not parsed.uses and lock_text is None:
        return None
    return Target(path, lock_path, parsed, lock, lock_text, kind=kind, notes=notes)


def unified_diff(path: str, old: str | None, new: str) -> str:
    """A unified diff of one file, as `git diff` would show it; empty when nothing changed."""
    if old == new:
        return ""
    import difflib  # check and a quiet lock show no diff

    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path}" if old is not None else "/dev/null",
        tofile=f"b/{path}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
