"""Every --json document, successes and failures, against the schema README.md documents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from registryd import Registry, push_image

from pinner.main import main

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The JSON Schema block of README's "JSON output" section."""
    section = README.read_text().split("## JSON output\n", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert block is not None
    loaded: dict[str, Any] = json.loads(block[1])
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


pytestmark = pytest.mark.usefixtures("docker_config")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    """Run pinner with --json; stdout must be exactly one JSON document."""
    try:
        code = main([*argv, "--json"])
    except SystemExit as e:  # argparse's own usage errors
        code = int(str(e.code))
    out = capsys.readouterr().out
    return code, json.loads(out)


def valid(schema: dict[str, Any], name: str, document: Any) -> None:
    jsonschema.validate(document, {**schema, "$ref": f"#/$defs/{name}"})


def test_every_command_succeeding(
    schema: dict[str, Any], registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(registry, "json/app", "1")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {registry.host}/json/app:1\n")

    code, document = run_json(capsys, "lock", "--images-only", str(dockerfile))
    assert code == 0
    valid(schema, "lock", document)
    code, document = run_json(capsys, "check", str(dockerfile))
    assert (code, document["ok"]) == (0, True)
    valid(schema, "check", document)
    code, document = run_json(capsys, "build-args", str(dockerfile))
    assert code == 0
    valid(schema, "build-args", document)
    code, document = run_json(capsys, "update", str(dockerfile))
    assert (code, document["changed"]) == (0, False)
    valid(schema, "update", document)
    code, document = run_json(capsys, "check", "--remote", str(dockerfile))
    assert code == 0
    valid(schema, "update", document)


def test_check_findings_are_its_own_document(
    schema: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:bookworm\n")
    code, document = run_json(capsys, "check", str(dockerfile))
    assert (code, document["ok"]) == (1, False)
    valid(schema, "check", document)


def failures(registry_host: str, tmp: Path) -> list[tuple[list[str], int]]:
    """Commands that fail, and their exit codes."""
    missing = str(tmp / "nope")
    unknown = tmp / "unknown" / "Dockerfile"
    unknown.parent.mkdir()
    unknown.write_text(f"FROM {registry_host}/json/absent:1\n")
    return [
        (["lock", "--images-only", str(unknown)], 1),
        (["lock", "--images-only", missing], 2),
        (["lock", "--snapshot", "yesterday", str(unknown)], 2),
        (["lock", "--no-such-option"], 2),
        (["build-args", str(unknown)], 1),
        (["update", str(unknown)], 1),
        (["check", "--remote", str(unknown)], 1),
    ]


def test_every_failure_prints_the_failure_document(
    schema: dict[str, Any], registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, exit_code in failures(registry.host, tmp_path):
        code, document = run_json(capsys, *argv)
        assert (code, document["exit_code"]) == (exit_code, exit_code), argv
        valid(schema, "failure", document)
        assert document["errors"], argv
