"""pinner finds the instructions where dockerfile-parse 2.0.1, whose rules it copies, finds them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from hypothesis import given, settings
from hypothesis import strategies as st

from pinner import dockerfile

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


def oracle(text: str) -> list[tuple[str, int, int]]:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    return [
        (item["instruction"], item["startline"], item["endline"])
        for item in parser.structure
        if item["instruction"] != "COMMENT"
    ]


def pinner_s(text: str) -> list[tuple[str, int, int]]:
    return [item for item in dockerfile.located(text) if item[0] != "COMMENT"]


# Lines as Dockerfiles write them, and the edges of the rules: directives, escapes, comments
# inside continued instructions, blank continuation lines, CRLF, a last line with no newline.
PIECES = [
    "FROM alpine:3.20",
    "from debian AS build",
    "RUN apk add curl \\",
    "RUN set -eux; \\",
    "    make \\  ",
    "    install",
    "RUN a `",
    "  b",
    "# escape=`",
    "#escape = \\",
    "# syntax=docker/dockerfile:1",
    "# a comment",
    "  # indented comment \\",
    "",
    "   ",
    "\t",
    "COPY --from=build /a /b",
    "RUN <<EOF",
    "EOF",
    "comment x",
    "ARG V=1\r",
    "ENV A=b \\\r",
    "FROM",
    "\\",
    "é RUN x",
    "\x0c",
    # Blanks beyond space and tab (str.rstrip's and the patterns' \s agree on them), an escape
    # inside a line, and a line of blanks only inside a continuation.
    "RUN a \\\x1c\xa0",
    "\u2028# not\x85",
    "RUN a\\b c",
    "\x0b\u3000",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.sampled_from(["", "\n", "\r\n"]))
def test_generated_files_locate_alike(lines: list[str], end: str) -> None:
    text = "\n".join(lines) + end
    assert pinner_s(text) == oracle(text)


@pytest.mark.parametrize(
    "text",
    [
        "FROM a \\\n",  # continued at the end of the file: dropped
        "FROM a\nRUN b \\\n\n",  # a blank line ends the continuation
        "FROM a\nRUN b \\\n# c\n  d\n",  # a comment inside the continuation
        "# escape=`\nFROM a\nRUN b `\n  c\nRUN d \\\n",
        "# syntax=x\n# escape=`\nRUN a `\n b\n",
        "# hello\n# escape=`\nRUN a `\n b\n",  # a directive after a comment is a comment
        "FROM\nFROM a",  # a keyword alone on its line is no instruction
        "FROM a\r\nRUN b \\\r\n c\r\n",
        "\n\n  FROM a\n",
    ],
)
def test_edge_cases_locate_alike(text: str) -> None:
    assert pinner_s(text) == oracle(text)


def test_every_dockerfile_in_testdata_locates_alike() -> None:
    paths = [p for p in TESTDATA.rglob("*") if p.is_file() and "dockerfile" in p.name.lower()]
    assert len(paths) >= 30
    for path in paths:
        text = path.read_bytes().decode("utf-8", "replace")
        assert pinner_s(text) == oracle(text), path
