"""Bake files: docker-image:// contexts and the defaults of variables that feed FROM.

The inputs follow the bake file reference's examples and bake files in public repositories:
labels quoted and bare, `inherits`, contexts mixing `target:` and `docker-image://`, args passing
a variable whole (`BASE = BASE_IMAGE`, `"${BASE_IMAGE}"`) or inside a tag, the JSON form.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from refs_support import DIGEST

from pinner import pinning, reference
from pinner.dockerfile import Dockerfile, ImageUse
from pinner.errors import ReferenceFileError
from pinner.lockfile import Lock
from pinner.manifest import OCI_MANIFEST, Manifest
from pinner.refs import bake
from pinner.refs import parse as refs_parse

D = DIGEST

DOCKERFILES = {
    "Dockerfile": "ARG BASE_IMAGE\nARG PY=3.12\nFROM ${BASE_IMAGE} AS base\nFROM python:${PY}-slim\n",
    "docker/tools.Dockerfile": "ARG TOOLS=alpine:3.20\nFROM $TOOLS\nCOPY --from=base /a /a\n",
}


def pin(
    text: str, name: str = "docker-bake.hcl"
) -> tuple[str, list[tuple[int, str, str]], tuple[str, ...]]:
    """Pinned text, (line, reference, used-by) found, and notes; Dockerfiles from DOCKERFILES."""

    def read(path: str) -> str | None:
        return DOCKERFILES.get(str(Path(path)))

    scan = bake.scan(text, name, read)
    found = [(f.line, f.value, f.used_by) for f in scan.found]

    uses = tuple(
        ImageUse(f.line, f.value, f.value, reference.parse(f.value), f.span, f.used_by)
        for f in scan.found
    )
    parsed = Dockerfile(text, (), uses, ())
    resolved = {pinning.query(u): Manifest(u.ref.digest or D, OCI_MANIFEST) for u in uses}
    return pinning.pin(parsed, resolved, Lock()).text, found, tuple(map(str, scan.notes))


HCL = """\
# bake using `docker buildx bake`
variable "BASE_IMAGE" {
  default = "python:3.12-slim-bookworm"
}

variable TOOLS_IMAGE {
  default = "alpine:3.20"
}

variable "TAG" {
  default = "latest"
}

variable "PY" {
  default = "3.12"
}

group "default" {
  targets = ["app", "tools"]
}

target "base" {
  args = {
    BASE_IMAGE = BASE_IMAGE
    PY = PY
  }
}

target "app" {
  inherits = ["base"]
  contexts = {
    node = "docker-image://node:20-alpine"
    base = "target:base"
  }
  tags = ["org/app:${TAG}"]
}

target "tools" {
  dockerfile = "docker/tools.Dockerfile"
  args = {
    "TOOLS" = "${TOOLS_IMAGE}"
  }
}
"""


def test_hcl_contexts_and_from_feeding_variables() -> None:
    text, found, notes = pin(HCL)

    assert text == (
        HCL.replace('"python:3.12-slim-bookworm"', f'"python:3.12-slim-bookworm@{D}"')
        .replace('"alpine:3.20"', f'"alpine:3.20@{D}"')
        .replace("docker-image://node:20-alpine", f"docker-image://node:20-alpine@{D}")
    )
    assert found == [
        (3, "python:3.12-slim-bookworm", "variable BASE_IMAGE"),
        (7, "alpine:3.20", "variable TOOLS_IMAGE"),
        (32, "node:20-alpine", "target app: context node"),
    ]
    assert notes == ()


def test_crlf_and_a_context_through_a_variable() -> None:
    source = (
        'variable "BASE" {\r\n  default = "debian:bookworm"  # the distro\r\n}\r\n'
        'target "app" {\r\n  contexts = {\r\n    base-image = "docker-image://${BASE}"\r\n  }\r\n}\r\n'
    )
    text, found, _ = pin(source)
    assert text == source.replace('"debian:bookworm"', f'"debian:bookworm@{D}"')
    assert found == [(2, "debian:bookworm", "variable BASE")]


NO_OP = [
    pytest.param(
        f'variable "B" {{ default = "python:3.12@{D}" }}\ntarget "t" {{ args = {{ BASE_IMAGE = B }} }}\n',
        id="already-pinned",
    ),
    pytest.param(
        'variable "PY" { default = "3.12" }\ntarget "t" { args = { PY = PY } }\n',
        id="version-variable-inside-a-from",
    ),
    pytest.param(
        'variable "IMAGE" { default = "org/app:1" }\ntarget "t" { tags = ["${IMAGE}"] }\n',
        id="tag-variable-not-an-arg",
    ),
    pytest.param(
        'variable "B" { default = "python:3.12" }\n'
        'target "t" {\n  dockerfile = "missing.Dockerfile"\n  args = { BASE_IMAGE = B }\n}\n',
        id="dockerfile-not-found",
    ),
    pytest.param(
        'target "t" {\n  contexts = {\n    src = ".."\n    base = "target:base"\n  }\n}\n',
        id="local-and-target-contexts",
    ),
    pytest.param(
        'variable "BASE_IMAGE" {}\ntarget "t" {\n  contexts = { b = "docker-image://${BASE_IMAGE}" }\n}\n',
        id="variable-without-default",
    ),
]


@pytest.mark.parametrize("source", NO_OP)
def test_leaves_alone(source: str) -> None:
    assert pin(source)[0] == source


JSON = """\
{
  "variable": {
    "BASE_IMAGE": {"default": "python:3.12-slim"},
    "TAG": {"default": "latest"}
  },
  "target": {
    "app": {
      "args": {"BASE_IMAGE": "${BASE_IMAGE}"},
      "contexts": {"alpine": "docker-image://alpine:3.20"},
      "tags": ["org/app:${TAG}"]
    }
  }
}
"""


def test_json() -> None:
    text, found, _ = pin(JSON, "docker-bake.json")
    assert text == JSON.replace('"python:3.12-slim"', f'"python:3.12-slim@{D}"').replace(
        "docker-image://alpine:3.20", f"docker-image://alpine:3.20@{D}"
    )
    assert found == [
        (3, "python:3.12-slim", "variable BASE_IMAGE"),
        (9, "alpine:3.20", "target app: context alpine"),
    ]


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        pytest.param(
            "docker-bake.hcl",
            'target "x" {\n  args = \n}\n',
            "docker-bake.hcl:2: not valid HCL: unexpected '}'",
            id="hcl",
        ),
        pytest.param(
            "docker-bake.json",
            '{"target": {"x": {}},}\n',
            "docker-bake.json:1: not valid JSON: Expecting property name enclosed in double quotes",
            id="json",
        ),
        pytest.param(
            "docker-bake.json",
            "[" * 100_000,
            "docker-bake.json: not valid JSON: nested deeper than pinner reads",
            id="json-deep",
        ),
        pytest.param(
            "docker-bake.hcl",
            'target "x" {\n  tags = ' + "[" * 5_000 + "]" * 5_000 + "\n}\n",
            "docker-bake.hcl: not valid HCL: nested deeper than pinner reads",
            id="hcl-deep",
        ),
    ],
)
def test_bad_input_is_one_line(name: str, source: str, message: str) -> None:
    with pytest.raises(ReferenceFileError) as caught:
        refs_parse("bake", source, name)
    assert str(caught.value) == message


BAKE_BASE = """\
variable "BASE_IMAGE" {
  default = "python:3.12-slim"
}
variable "TOOLS_IMAGE" {
  default = "alpine:3.20"
}
target "app" {
  dockerfile = "docker/tools.Dockerfile"
  args = { BASE_IMAGE = BASE_IMAGE }
}
target "tools" {
  dockerfile = "docker/tools.Dockerfile"
}
"""

# An override replaces a Dockerfile or adds an arg to the base file's targets, sets a variable
# again, or names the base file's variable in a context: buildx reads them as one.
OVERRIDES = [
    pytest.param(
        "docker-bake.override.hcl",
        'target "tools" {\n  args = { TOOLS = TOOLS_IMAGE }\n}\n',
        ["alpine:3.20"],
        [],
        id="override-passes-the-base-files-variable",
    ),
    pytest.param(
        "docker-bake.override.hcl",
        'target "app" {\n  dockerfile = "Dockerfile"\n}\n',
        ["python:3.12-slim"],
        [],
        id="override-names-another-dockerfile",
    ),
    pytest.param(
        "docker-bake.override.json",
        '{"variable": {"BASE_IMAGE": {"default": "python:3.13-slim"}},'
        ' "target": {"app": {"dockerfile": "Dockerfile"}}}\n',
        ["python:3.12-slim"],
        ["python:3.13-slim"],
        id="override-sets-the-variable-again",
    ),
    pytest.param(
        "docker-bake.override.hcl",
        'target "app" {\n  contexts = { b = "docker-image://${TOOLS_IMAGE}" }\n}\n',
        ["alpine:3.20"],
        [],
        id="override-context-through-the-base-files-variable",
    ),
    # Read alone, as `-f` reads it: not one of the files buildx merges by default.
    pytest.param(
        "docker-bake.dev.hcl",
        'target "tools" {\n  args = { TOOLS = TOOLS_IMAGE }\n}\n',
        [],
        [],
        id="other-name-read-alone",
    ),
    # buildx stops on it; each file's own references are still found alone.
    pytest.param(
        "docker-bake.override.hcl",
        'target "tools" {\n  args = { TOOLS = TOOLS_IMAGE }\n',
        [],
        None,
        id="override-that-does-not-parse",
    ),
]


@pytest.mark.parametrize(("override", "source", "in_base", "in_override"), OVERRIDES)
def test_an_override_is_merged_to_find_the_variables_that_feed_from(
    override: str, source: str, in_base: list[str], in_override: list[str] | None
) -> None:
    files = {**DOCKERFILES, "docker-bake.hcl": BAKE_BASE, override: source}

    def found(name: str) -> list[str]:
        scan = bake.scan(files[name], name, lambda path: files.get(str(Path(path))))
        return [f.value for f in scan.found]

    assert found("docker-bake.hcl") == in_base
    if in_override is not None:
        assert found(override) == in_override
    # Alone, the base file's app builds tools.Dockerfile (no FROM $BASE_IMAGE): nothing.
    assert bake.scan(BAKE_BASE, "docker-bake.hcl", DOCKERFILES.get).found == ()


@pytest.mark.parametrize(
    ("dockerfile", "found"),
    [
        # Read from the repository's root (`docker buildx bake -f ci/docker-bake.hcl`): the
        # Dockerfile at the root's app/ takes BASE_IMAGE whole in FROM.
        ("app/Dockerfile", ["python:3.12-slim"]),
        # Read in its own folder (`cd ci && docker buildx bake`): ci/app/Dockerfile.
        ("ci/app/Dockerfile", ["python:3.12-slim"]),
        # Neither folder holds the Dockerfile: nothing is known to feed FROM.
        ("elsewhere/app/Dockerfile", []),
    ],
)
def test_a_bake_file_below_the_root_reads_dockerfiles_from_either_working_folder(
    tmp_path: Path, dockerfile: str, found: list[str]
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / dockerfile).parent.mkdir(parents=True)
    (tmp_path / dockerfile).write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    text = BAKE_BASE.replace('"docker/tools.Dockerfile"', '"app/Dockerfile"', 1)
    (tmp_path / "ci").mkdir(exist_ok=True)
    path = tmp_path / "ci" / "docker-bake.hcl"
    path.write_text(text)
    assert [f.value for f in bake.scan(text, str(path)).found] == found
