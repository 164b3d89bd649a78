"""Tests for pinner.managers.globmatch: fnmatch's answers, in time linear in the glob."""

from __future__ import annotations

import fnmatch

import pytest

from pinner.managers import globmatch

NAMES = ["", "a", "[", "]", "!", "a]", "[a", "x[]a[", "]x[", "a-b", "ab]", "!]x", "/a/b"]


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("a*", id="star"),
        pytest.param("[a-c]", id="range"),
        pytest.param("[!a]", id="negated"),
        pytest.param("[]]", id="close-first"),
        pytest.param("[!]]x", id="negated-close-first"),
        pytest.param("[", id="unclosed"),
        pytest.param("[a", id="unclosed-letter"),
        pytest.param("[]", id="empty-unclosed"),
        pytest.param("x[]a[", id="unclosed-then-closed-later"),
        pytest.param("[]x[", id="two-unclosed"),
        pytest.param("[[]", id="class-of-open"),
        pytest.param("*[!", id="star-unclosed-negation"),
        pytest.param("/a/[", id="path"),
    ],
)
def test_answers_as_fnmatch_does(pattern: str) -> None:
    expected = [fnmatch.fnmatchcase(name, pattern) for name in NAMES]
    assert [globmatch.fnmatchcase(name, pattern) for name in NAMES] == expected


def test_a_glob_of_4096_unclosed_brackets_is_read_once() -> None:
    # fnmatch.translate scans to the end from each unclosed `[`: seconds for this one glob.
    assert globmatch.fnmatchcase("[" * 4096, "[!" * 2048) is False
    assert globmatch.fnmatchcase("[" * 4096, "[" * 4096) is True


def test_a_glob_longer_than_a_path_matches_nothing() -> None:
    assert globmatch.fnmatchcase("a", "*" * 4097) is False
