"""`sh -n` on the scripts of RUN steps: the shells' own parsers say whether a rewrite is valid.

A rewritten RUN that the shell cannot parse breaks the build, so `check` asks every POSIX shell
found here (dash and busybox sh, the /bin/sh of Debian and Alpine images) to parse the script.
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Sequence

_POSIX = (("dash", ("dash", "-n")), ("busybox sh", ("busybox", "sh", "-n")))
_BASH = (("bash", ("bash", "-n")),)


@functools.cache
def shells(program: str = "sh") -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The syntax checkers available here for a script run by program; none for an unknown one.

    Looked up once per run: a tree has thousands of RUNs, and PATH does not change under it.
    """
    wanted = _BASH if program == "bash" else _POSIX if program in ("sh", "dash", "ash") else ()
    found = []
    for name, argv in wanted:
        path = shutil.which(argv[0])
        if path is not None:
            found.append((name, (path, *argv[1:])))
    return tuple(found)


def errors(script: str, checkers: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """What each shell says is wrong with script (`dash: Syntax error: ...`); empty when valid."""
    found = []
    for name, argv in checkers:
        message = _error(script, tuple(argv))
        if message is not None:
            found.append(f"{name}: {message}")
    return found


@functools.lru_cache(maxsize=4096)
def _error(script: str, argv: tuple[str, ...]) -> str | None:
    """One shell's complaint about script, or None; the snapshot step repeats across a tree."""
    import subprocess  # only a tree with apt RUNs runs a shell

    result = subprocess.run(
        argv, input=script, capture_output=True, text=True, check=False, timeout=30
    )
    if result.returncode == 0:
        return None
    lines = result.stderr.strip().splitlines() or [f"exit {result.returncode}"]
    # Drop the shell's own name, which it prints first (`/usr/bin/dash: 1: ...`).
    return re.sub(r"^(\S*/)?(dash|sh): ", "", lines[-1])
