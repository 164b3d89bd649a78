"""Where messages go: results on stdout, notices and errors on stderr (style.md rule 9)."""

from __future__ import annotations

import sys


class Reporter:
    """Prints notices (hidden by --quiet) and errors to stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def notice(self, line: str) -> None:
        if not self.quiet:
            print(line, file=sys.stderr)

    def error(self, line: str) -> None:
        print(line, file=sys.stderr)
