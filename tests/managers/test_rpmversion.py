"""Tests for pinner.managers.rpmversion: rpm's version order, with rpm itself as the oracle."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examples import examples
from pinner.managers.rpmversion import EVR, compare_evr, evr_key, parse_evr, rpmvercmp

needs_rpm = pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm is not installed")

# (a, b, rpmvercmp(a, b)): the cases of rpm's own test suite (tests/rpmvercmp.at) and a few more.
VERCMP_CASES = [
    pytest.param("1.0", "1.0", 0, id="equal"),
    pytest.param("1.0", "2.0", -1, id="older"),
    pytest.param("2.0.1", "2.0", 1, id="more-segments-newer"),
    pytest.param("2.0.1a", "2.0.1", 1, id="trailing-letters-newer"),
    pytest.param("5.5p1", "5.5p10", -1, id="numeric-inside-letters"),
    pytest.param("10xyz", "10.1xyz", -1, id="separator-then-number"),
    pytest.param("xyz10", "xyz10.1", -1, id="letters-then-more"),
    pytest.param("a", "1", -1, id="letters-older-than-digits"),
    pytest.param("1.0", "1.0a", -1, id="end-older-than-letter"),
    pytest.param("2.0a", "2.0.a", 0, id="separators-ignored"),
    pytest.param("1.0010", "1.9", 1, id="leading-zeros-dropped"),
    pytest.param("1.05", "1.5", 0, id="leading-zero-equal"),
    pytest.param("1.0", "1.0~rc1", 1, id="tilde-before-release"),
    pytest.param("1.0~rc1", "1.0~rc2", -1, id="tilde-then-compare"),
    pytest.param("1.0~rc1~git123", "1.0~rc1", -1, id="double-tilde"),
    pytest.param("1.0^", "1.0", 1, id="caret-after-end"),
    pytest.param("1.0^git1", "1.0.1", -1, id="caret-before-segment"),
    pytest.param("1.0^git1", "1.0~rc1", 1, id="caret-after-tilde"),
    pytest.param("1.0^git1~pre", "1.0^git1", -1, id="caret-then-tilde"),
    pytest.param("1_0", "1.0", 0, id="underscore-separates"),
    pytest.param("1+", "1", 0, id="trailing-separator-equal-content"),
    pytest.param("+", "_", 0, id="only-separators"),
]


@pytest.mark.parametrize(("a", "b", "expected"), VERCMP_CASES)
def test_rpmvercmp_table(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1.0", EVR(0, "1.0", ""), id="version"),
        pytest.param("1.0-3.fc40", EVR(0, "1.0", "3.fc40"), id="version-release"),
        pytest.param("2:1.0-3", EVR(2, "1.0", "3"), id="epoch"),
        pytest.param("1.0-rc-3", EVR(0, "1.0-rc", "3"), id="last-dash-starts-release"),
    ],
)
def test_parse_evr(text: str, expected: EVR) -> None:
    assert parse_evr(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["x:1.0", ":1.0", "-1", "1:"])
def test_parse_evr_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_evr(text)


@pytest.mark.parametrize("epoch", ["\u00b2", "9" * 5000], ids=["superscript", "5000-digits"])
def test_parse_evr_rejects_an_epoch_int_refuses(epoch: str) -> None:
    with pytest.raises(ValueError, match="epoch is not a number"):
        parse_evr(f"{epoch}:1.0-1")


def test_compare_evr_epoch_first() -> None:
    assert compare_evr(EVR(1, "0.1", "1"), EVR(0, "9.9", "9")) == 1
    assert compare_evr(EVR(0, "1.0", "1"), EVR(0, "1.0", "2")) == -1
    builds = [EVR(0, "1.10", "1"), EVR(1, "0.1", "1"), EVR(0, "1.9", "5")]
    assert max(builds, key=evr_key) == EVR(1, "0.1", "1")
    assert min(builds, key=evr_key) == EVR(0, "1.9", "5")


def _rpm_vercmp(pairs: Sequence[tuple[str, str]]) -> list[int]:
    """rpm.vercmp of each pair, from one rpm process (rpm's Lua: rpmio/rpmver.c rpmverCmp)."""
    # rpm joins the output of Lua's print() without separators: collect, then print once.
    calls = " ".join(f"r[#r+1] = rpm.vercmp([[{a}]], [[{b}]])" for a, b in pairs)
    script = f"%{{lua: local r = {{}} {calls} print(table.concat(r, ' '))}}"
    result = subprocess.run(["rpm", "--eval", script], capture_output=True, text=True, check=True)
    return [int(line) for line in result.stdout.split()]


# Versions from pieces that often meet their like (leading zeros, letters against digits, rpm's
# two special characters, separators); no ] (the Lua long string's end).
_PIECES = ["0", "00", "1", "01", "10", "9", "a", "b", "Z", "ab", ".", "~", "^", "_", "+"]
_VERSION = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6).map("".join)


@needs_rpm
@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(_VERSION, _VERSION), min_size=1, max_size=40))
def test_rpmvercmp_matches_rpm(pairs: list[tuple[str, str]]) -> None:
    assert [rpmvercmp(a, b) for a, b in pairs] == _rpm_vercmp(pairs)


_EVR = st.builds(EVR, st.integers(0, 3), _VERSION, _VERSION)


@needs_rpm
@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.tuples(_EVR, _EVR), min_size=1, max_size=40))
def test_compare_evr_matches_rpm(pairs: list[tuple[EVR, EVR]]) -> None:
    # Written with an explicit epoch, as rpm reads `E:V-R`.
    texts = [(_explicit(a), _explicit(b)) for a, b in pairs]
    assert [compare_evr(a, b) for a, b in pairs] == _rpm_vercmp(texts)


def _explicit(evr: EVR) -> str:
    return f"{evr.epoch}:{evr.version}-{evr.release}"
