"""Where messages go: results on stdout, notices and errors on stderr."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from pinner.errors import Problem

# A progress line appears only for runs that take longer than this.
PROGRESS_DELAY = 0.5
# Longest piece of a server's text that a message quotes, and longest error line printed.
MAX_QUOTED = 200
MAX_LINE = 2000
# C0 and C1 controls and DEL: ESC sequences move the cursor or retitle the terminal, CR and LF
# forge lines; also the bidi overrides and isolates, which reorder what is shown (CVE-2021-42574).
_UNPRINTABLE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


# An Authorization value a server echoes back (RFC 9110 11.6.2: scheme, then credentials).
_CREDENTIALS_RE = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]+")


def untrusted(text: str, limit: int = MAX_QUOTED) -> str:
    """Text from a server made safe to print: controls as spaces, credentials hidden, capped."""
    text = _UNPRINTABLE_RE.sub(" ", text).strip()
    text = _CREDENTIALS_RE.sub(r"\1 <hidden>", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Progress:
    """A one-line counter on a terminal's stderr, redrawn in place, shown after a moment."""

    def __init__(self, label: str, total: int, stream: TextIO, enabled: bool) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream
        self.wanted = enabled
        self.enabled = enabled and total > 0
        self.started = time.monotonic()
        self.shown = False

    def grow(self, count: int) -> None:
        """Count more items to do: work found while the first items are under way."""
        self.total += count
        self.enabled = self.wanted and self.total > 0

    def advance(self, count: int = 1) -> None:
        """Count finished items; redraw if the run has taken more than a moment."""
        self.done += count
        if self.enabled and time.monotonic() - self.started >= PROGRESS_DELAY:
            self.stream.write(f"\r{self.label} {self.done}/{self.total}")
            self.stream.flush()
            self.shown = True

    def close(self) -> None:
        """Erase the line, so what follows starts clean."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class Reporter:
    """Prints notices (hidden by --quiet), errors and progress to stderr."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr

    def notice(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.stream)

    def error(self, line: str) -> None:
        print(untrusted(line, MAX_LINE), file=self.stream)

    def failures(self, errors: Sequence[Problem], *, as_json: bool) -> int:
        """Print each failure, then that nothing was written (and the --json document); exit 1."""
        for error in errors:
            self.error(str(error))
        self.error(f"{len(errors)} error(s); nothing written")
        if as_json:
            print_json_failure(errors, 1)
        return 1

    def progress(self, label: str, total: int) -> Progress:
        """A progress line, hidden when stderr is not a terminal or --quiet is given."""
        enabled = not self.quiet and self.stream.isatty()
        return Progress(label, total, self.stream, enabled)


def print_json(data: object) -> None:
    """One JSON document on stdout, the result of a --json run."""
    import json  # only --json runs need it

    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_json_failure(errors: Sequence[Problem | str], exit_code: int) -> None:
    """The --json document of a run that failed: README's "failure" schema."""
    print_json({"ok": False, "exit_code": exit_code, "errors": [str(e) for e in errors]})
