"""Run pinner's command line in-process, as the tests do, and read what README promises of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pinner.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `pinner ARGV`."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def readme_schema() -> dict[str, Any]:
    """The JSON Schema block of README's "JSON output" section."""
    section = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```json\n(.*?)\n```", section.split("## JSON output\n", 1)[1], re.DOTALL)
    assert block is not None
    schema: dict[str, Any] = json.loads(block[1])
    return schema
