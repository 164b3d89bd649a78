"""The progress line: only on a terminal, only after a moment, erased at the end."""

from __future__ import annotations

import io

import pytest

from pinner import output
from pinner.output import Reporter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "quiet", "expected"),
    [
        pytest.param(Terminal(), False, "\rresolving 1/2\rresolving 2/2\r\x1b[K", id="terminal"),
        pytest.param(Terminal(), True, "", id="quiet"),
        pytest.param(io.StringIO(), False, "", id="not-a-terminal"),
    ],
)
def test_progress(
    stream: io.StringIO, quiet: bool, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "PROGRESS_DELAY", 0.0)
    progress = Reporter(quiet=quiet, stream=stream).progress("resolving", 2)
    progress.advance()
    progress.advance()
    progress.close()
    assert stream.getvalue() == expected


def test_a_quick_run_shows_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "PROGRESS_DELAY", 3600.0)
    stream = Terminal()
    progress = Reporter(stream=stream).progress("resolving", 5)
    for _ in range(5):
        progress.advance()
    progress.close()
    assert stream.getvalue() == ""
