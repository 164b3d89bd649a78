"""Tests for pinner.managers.ini: configparser's reading, without its quadratic option pattern."""

from __future__ import annotations

import configparser

import pytest

from pinner.managers.ini import IniParser


def _read(parser: configparser.ConfigParser, line: str) -> list[tuple[str, str]] | str:
    try:
        parser.read_string(f"[s]\n{line}\n")
    except configparser.Error as error:
        return type(error).__name__
    return list(parser["s"].items())


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("a=b", id="equals"),
        pytest.param("a : b", id="colon"),
        pytest.param("a b \t= c d", id="blanks-in-option"),
        pytest.param("=x", id="no-option"),
        pytest.param("a==b", id="doubled"),
        pytest.param("a:b=c", id="first-delimiter"),
        pytest.param("a\u3000b\u3000=\u3000c", id="unicode-blanks"),
        pytest.param("a b", id="no-delimiter"),
        pytest.param("name" + " " * 300 + "= x", id="long-run-then-delimiter"),
    ],
)
def test_lines_split_as_configparser_splits_them(line: str) -> None:
    expected = _read(configparser.ConfigParser(interpolation=None), line)
    assert _read(IniParser(interpolation=None), line) == expected


def test_a_megabyte_blank_run_before_no_delimiter_is_an_error() -> None:
    # configparser's own pattern retries every blank of the run: hours for this one line.
    assert _read(IniParser(interpolation=None), "name" + " " * 1_000_000 + "x") == "ParsingError"
