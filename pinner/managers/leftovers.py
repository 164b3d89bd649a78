"""Files a package manager's install leaves that differ between otherwise identical builds
(transaction histories, logs, ldconfig's cache), and which of them a RUN already removes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pinner.apt.shell import Invocation, emptied, run_flags
from pinner.apt.sources import covers, mount_targets


class Leftover(NamedTuple):
    """What the cleanup removes (a path or glob) and the files an install writes there."""

    glob: str
    files: tuple[str, ...]


# ldconfig records each library's inode and times; glibc's ldconfig runs after any install that
# brings a library (rpm's file trigger, libalpm after each transaction, zypper through rpm).
LDCONFIG = Leftover("/var/cache/ldconfig/aux-cache", ("/var/cache/ldconfig/aux-cache",))


def removed_paths(invocations: Iterable[Invocation]) -> list[str]:
    """The paths and globs the RUN's rm and `find … -delete` commands remove, and the files it
    empties (an empty log is the same in every build)."""
    removed: list[str] = []
    for invocation in invocations:
        texts = [word.text for word in invocation.args]
        if invocation.program == "rm":
            removed += [text for text in texts if not text.startswith("-")]
        elif invocation.program == "find":
            removed += _found(texts)
        removed += emptied(invocation)
    return removed


# Tests of find that narrow what -delete removes without making it unknown: -type f leaves the
# folders, empty once their files are gone; -xdev and -mindepth 1 keep to what is under the start.
_FIND_KEEPS = (("-type", "f"), ("-mindepth", "1"))


def _found(texts: list[str]) -> list[str]:
    """What `find DIR… [-type f] [-name GLOB] -delete` removes, as globs (a `-name` is matched in
    DIR itself only, so deeper files count as left); nothing for any other test or action."""
    start = next((i for i, text in enumerate(texts) if text.startswith(("-", "(", "!"))), None)
    # find applies its expression in order: a -delete before a test removes what fails it too.
    if start is None or texts[-1] != "-delete":
        return []
    tests = texts[start:-1]
    name = None
    while tests:
        pair = tuple(tests[:2])
        if pair in _FIND_KEEPS:
            del tests[:2]
        elif tests[0] == "-xdev":
            del tests[:1]
        elif tests[0] == "-name" and name is None and len(tests) > 1:
            name = tests[1]
            del tests[:2]
        else:
            return []
    return [f"{folder.rstrip('/')}/{name}" if name else folder for folder in texts[:start]]


def mounted(run_text: str, escape: str = "\\") -> list[str]:
    """Where the RUN's --mount flags mount something: what is written there is not in the image."""
    return mount_targets(run_flags(run_text, escape))


def left(leftovers: Sequence[Leftover], removed: Sequence[str]) -> list[str]:
    """The globs of leftovers with a file that no removed path or glob covers."""
    return [
        leftover.glob
        for leftover in leftovers
        if not all(any(covers(path, file) for path in removed) for file in leftover.files)
    ]


def rm(globs: Sequence[str]) -> list[str]:
    """One `rm -rf` for globs, as a list of the commands to append (empty when none)."""
    return [f"rm -rf {' '.join(globs)}"] if globs else []
