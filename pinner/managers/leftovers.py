"""Files a package manager's install leaves that differ between otherwise identical builds
(transaction histories, logs, ldconfig's cache), and which of them a RUN already removes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pinner.apt.shell import Invocation, run_flags
from pinner.apt.sources import covers, mount_targets


class Leftover(NamedTuple):
    """What the cleanup removes (a path or glob) and the files an install writes there."""

    glob: str
    files: tuple[str, ...]


# ldconfig records each library's inode and times; glibc's ldconfig runs after any install that
# brings a library (rpm's file trigger, libalpm after each transaction, zypper through rpm).
LDCONFIG = Leftover("/var/cache/ldconfig/aux-cache", ("/var/cache/ldconfig/aux-cache",))


def removed_paths(invocations: Iterable[Invocation]) -> list[str]:
    """The operands of the RUN's rm commands: paths and globs it removes."""
    return [
        word.text
        for invocation in invocations
        if invocation.program == "rm"
        for word in invocation.args
        if not word.text.startswith("-")
    ]


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
