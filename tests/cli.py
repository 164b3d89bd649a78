"""Run pinner's command line in-process, as the tests do."""

from __future__ import annotations

import pytest

from pinner.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `pinner ARGV`."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
