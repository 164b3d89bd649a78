"""The progress line (only on a terminal, only after a moment, erased at the end) and failures."""

from __future__ import annotations

import io
import json

import pytest

from pinner import dockerfile, output
from pinner.errors import LockfileError, PinnerError, Problem
from pinner.lockfile import Lock
from pinner.output import Reporter
from pinner.workspace import Target, in_file


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


def test_failures_are_located_values_printed_once_at_the_edge(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = "a:b/Dockerfile"
    target = Target(
        path, f"{path}.lock", dockerfile.parse("FROM scratch\n", path, {}), Lock(), None
    )
    own = in_file(target, LockfileError(Problem("a:b/Dockerfile.lock", 3, "bad entry")))
    plain = in_file(target, PinnerError("a:b/Dockerfile.lock is what it names"))
    assert own == Problem("a:b/Dockerfile.lock", 3, "bad entry")
    assert plain == Problem("a:b/Dockerfile", None, "a:b/Dockerfile.lock is what it names")
    stream = io.StringIO()
    assert Reporter(stream=stream).failures([own, plain], as_json=True) == 1
    assert stream.getvalue().splitlines() == [
        "a:b/Dockerfile.lock:3: bad entry",
        "a:b/Dockerfile: a:b/Dockerfile.lock is what it names",
        "2 error(s); nothing written",
    ]
    assert json.loads(capsys.readouterr().out)["errors"] == stream.getvalue().splitlines()[:2]
