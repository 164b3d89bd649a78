"""fnmatch.fnmatchcase for globs an image holds (pacman.conf Include and IgnorePkg, dnf's
excludepkgs and override sections), in time linear in the glob."""

from __future__ import annotations

import fnmatch

# No path is longer (Linux's PATH_MAX), so glob(3) matches nothing with a longer pattern; no
# package name comes near it. Turning a glob into a regular expression costs about 3 µs a
# character: the cap keeps one glob's cost at milliseconds.
MAX_GLOB = 4096


def _tame(pattern: str) -> str:
    """pattern with each `[` that fnmatch reads as a literal written as the class `[[]`.

    fnmatch.translate looks for the `]` that closes each `[` from there to the pattern's end,
    so 4000 unclosed `[` took 0.6 s and a megabyte of them hours. This walks the pattern as
    translate does, knowing where each next `]` is; the classes it leaves are closed.
    """
    n = len(pattern)
    closes = [n] * (n + 1)  # closes[k]: the first `]` at k or after, n where none is
    for k in range(n - 1, -1, -1):
        closes[k] = k if pattern[k] == "]" else closes[k + 1]
    out: list[str] = []
    i = 0
    while i < n:
        if pattern[i] != "[":
            out.append(pattern[i])
            i += 1
            continue
        j = i + 1
        if j < n and pattern[j] == "!":
            j += 1
        if j < n and pattern[j] == "]":
            j += 1
        if closes[j] == n:
            out.append("[[]")
            i += 1
        else:
            out.append(pattern[i : closes[j] + 1])
            i = closes[j] + 1
    return "".join(out)


def fnmatchcase(name: str, pattern: str) -> bool:
    """fnmatch.fnmatchcase(name, pattern); a pattern over MAX_GLOB characters matches nothing."""
    return len(pattern) <= MAX_GLOB and fnmatch.fnmatchcase(name, _tame(pattern))
