"""Tests for pinner.apt.debversion: dpkg's version ordering."""

from __future__ import annotations

import functools
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from dpkg_version import compare_versions
from hypothesis import given
from hypothesis import strategies as st
from testcache import stored_answer, tools_stamp

from pinner.apt.debversion import Version, parse_version, version_key
from pinner.apt.packages import decompress, parse_packages

APT_DATA = Path(__file__).parents[2] / "testdata" / "apt"

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


# (a, b, compare_versions(a, b))
ORDER_CASES = [
    pytest.param("1.0~rc1", "1.0", -1, id="tilde-before-release"),
    pytest.param("1:0.1", "2.0", 1, id="epoch-beats-upstream"),
    pytest.param("1.0-1", "1.0-1+deb12u1", -1, id="stable-update-after-revision"),
    pytest.param("2.36-9+deb12u4", "2.36-9+deb12u10", -1, id="digit-runs-numeric"),
    pytest.param("1.2", "1.10", -1, id="numeric-not-lexical"),
    pytest.param("1.0-1~bpo12+1", "1.0-1", -1, id="backport-before-release"),
    pytest.param("3.0.20-1~deb12u2", "3.0.22-1~deb12u2", -1, id="openssl-bookworm-vs-security"),
    pytest.param("2.36-9+deb12u14", "2.36-9+deb12u7", 1, id="libc6-bookworm-vs-security"),
    pytest.param("20230311+deb12u1", "20250419~deb12u2", -1, id="ca-certificates"),
    pytest.param("2025b-0+deb12u1", "2026f-0+deb12u1", -1, id="tzdata-letters-after-digits"),
    pytest.param("1:9.2p1-2+deb12u7", "1:9.2p1-2+deb12u10", -1, id="openssh-epoch-equal"),
    pytest.param("1.0", "1.0", 0, id="equal"),
    pytest.param("1.0", "1.0-0", 0, id="no-revision-equals-revision-0"),
    pytest.param("0:1.0", "1.0", 0, id="epoch-0-equals-none"),
    pytest.param("1.0", "1.00", 0, id="leading-zeros-ignored"),
    pytest.param("1.0", "1.", 0, id="trailing-zero-run-equals-nothing"),
    pytest.param("1.0", "1.0~", 1, id="release-after-trailing-tilde"),
    pytest.param("1.0~~", "1.0~~a", -1, id="double-tilde-first"),
    pytest.param("1.0~~a", "1.0~", -1, id="double-tilde-before-single"),
    pytest.param("1.0", "1.0a", -1, id="end-before-letter"),
    pytest.param("1.0a", "1.0+", -1, id="letters-before-non-letters"),
    pytest.param("1.0+", "1.0.", -1, id="plus-before-dot-by-ascii"),
    pytest.param("1.0-B", "1.0-a", -1, id="uppercase-before-lowercase"),
    pytest.param("1.0", "1.0.0", -1, id="shorter-before-longer"),
    pytest.param("1.0-1-1", "1.0-1", 1, id="hyphen-in-upstream"),
    pytest.param("1:1:1.0", "1:1.0", 1, id="colon-in-upstream"),
    pytest.param(" 1.0\t", "1.0", 0, id="surrounding-blanks-trimmed"),
]


@pytest.mark.parametrize(("a", "b", "expected"), ORDER_CASES)
def test_compare_versions(a: str, b: str, expected: int) -> None:
    assert compare_versions(a, b) == expected
    assert compare_versions(b, a) == -expected


@pytest.mark.parametrize(("a", "b", "expected"), ORDER_CASES)
def test_version_key_orders_like_compare(a: str, b: str, expected: int) -> None:
    ka, kb = version_key(a), version_key(b)
    assert _sign((ka > kb) - (ka < kb)) == expected
    assert (ka == kb) == (expected == 0)


def test_max_by_version_key() -> None:
    versions = ["2.36-9+deb12u4", "2.36-9+deb12u10", "2.36-9", "2.36-9+deb12u10~rc1"]
    assert max(versions, key=version_key) == "2.36-9+deb12u10"
    assert sorted(versions, key=version_key) == [
        "2.36-9",
        "2.36-9+deb12u4",
        "2.36-9+deb12u10~rc1",
        "2.36-9+deb12u10",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2.10-3", Version(0, "2.10", "3"), id="plain"),
        pytest.param("1:2.39.5-0+deb12u3", Version(1, "2.39.5", "0+deb12u3"), id="epoch"),
        pytest.param("20230311", Version(0, "20230311", ""), id="native"),
        pytest.param("1.0-1-1", Version(0, "1.0-1", "1"), id="last-hyphen-splits"),
        pytest.param("1:1:1.0", Version(1, "1:1.0", ""), id="first-colon-splits"),
        pytest.param(" 1.0\t", Version(0, "1.0", ""), id="blanks-trimmed"),
        pytest.param("+1:1.0", Version(1, "1.0", ""), id="signed-epoch-as-strtol"),
    ],
)
def test_parse_version(text: str, expected: Version) -> None:
    assert parse_version(text) == expected


# Messages are dpkg's (lib/dpkg/parsehelp.c), which test_dpkg_rejects_too checks.
INVALID_CASES = [
    pytest.param("", "'': version string is empty", id="empty"),
    pytest.param("1.0 1", "'1.0 1': version string has embedded spaces", id="space"),
    pytest.param(":1.0", "':1.0': epoch in version is empty", id="epoch-empty"),
    pytest.param("a:1.0", "'a:1.0': epoch in version is empty", id="epoch-letters"),
    pytest.param("1a:1.0", "'1a:1.0': epoch in version is not number", id="epoch-not-number"),
    pytest.param("-1:1.0", "'-1:1.0': epoch in version is negative", id="epoch-negative"),
    pytest.param("9999999999:1", "'9999999999:1': epoch in version is too big", id="epoch-big"),
    pytest.param("1:", "'1:': nothing after colon in version number", id="colon-last"),
    pytest.param("1.0-", "'1.0-': revision number is empty", id="hyphen-last"),
    pytest.param("-1", "'-1': version number is empty", id="no-upstream"),
    pytest.param("a1.0", "'a1.0': version number does not start with digit", id="letter-first"),
    pytest.param("1.0_1", "'1.0_1': invalid character in version number", id="underscore"),
    pytest.param("1.0-1:1", "'1.0-1:1': epoch in version is not number", id="colon-late"),
    pytest.param("1.0-1_1", "'1.0-1_1': invalid character in revision number", id="rev-char"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_CASES)
def test_invalid_versions(text: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_version(text)
    assert str(excinfo.value) == message
    with pytest.raises(ValueError):
        compare_versions(text, "1.0")
    with pytest.raises(ValueError):
        version_key(text)


@needs_dpkg
@pytest.mark.parametrize(
    ("text", "message"), [case for case in INVALID_CASES if case.id != "empty"]
)  # to dpkg, "" is "no version"
def test_dpkg_rejects_too(text: str, message: str) -> None:
    result = subprocess.run(
        ["dpkg", "--compare-versions", "--", text, "lt", "1.0"], capture_output=True, text=True
    )
    reason = message.split(": ", 1)[1]
    assert f"has bad syntax: {reason}" in result.stderr


def _real_versions() -> dict[str, list[str]]:
    """Versions by package name from the Packages testdata (bookworm, -updates, -security)."""
    indexes = [
        (APT_DATA / "bookworm_main_binary-amd64_Packages").read_bytes(),
        (APT_DATA / "bookworm-security_main_binary-amd64_Packages").read_bytes(),
        decompress(
            (APT_DATA / "bookworm-updates_main_binary-amd64_Packages.xz").read_bytes(), "x.xz"
        ),
    ]
    by_name: dict[str, list[str]] = {}
    for data in indexes:
        for entry in parse_packages(data):
            by_name.setdefault(entry.name, []).append(entry.version)
    return by_name


def _dpkg_compare(pairs: list[tuple[str, str]]) -> list[int]:
    # One shell for all pairs; the versions hold only [A-Za-z0-9.+~:-], safe in quotes.
    script = "".join(
        f"if dpkg --compare-versions '{a}' lt '{b}'; then echo -1; "
        f"elif dpkg --compare-versions '{a}' eq '{b}'; then echo 0; else echo 1; fi\n"
        for a, b in pairs
    )

    def ask() -> str:
        result = subprocess.run(["sh"], input=script, capture_output=True, text=True, check=True)
        assert result.stderr == ""
        return result.stdout

    # A thousand dpkg processes (a second of CPU): their answers are kept in the test cache
    # under the script and the dpkg and sh binaries (tests/testcache.py).
    answer = stored_answer("dpkg-compare", repr((script, tools_stamp("dpkg", "sh"))), ask)
    return [int(line) for line in answer.split()]


@needs_dpkg
def test_agrees_with_dpkg_on_real_versions() -> None:
    by_name = _real_versions()
    versions = sorted({v for vs in by_name.values() for v in vs})
    rng = random.Random(20261126)
    pairs = [(rng.choice(versions), rng.choice(versions)) for _ in range(300)]
    # Versions of one package are where the ordering matters: all such pairs.
    pairs += [(a, b) for vs in by_name.values() for a in vs for b in vs if a != b]
    # And near-misses: the same version with a suffix that sorts before or after it.
    for version in rng.sample(versions, 60):
        pairs += [(version, version + suffix) for suffix in ("~1", "+b1", ".0", "a")]
    assert len(pairs) > 500

    expected = _dpkg_compare(pairs)
    ours = [compare_versions(a, b) for a, b in pairs]
    keys = [(version_key(a), version_key(b)) for a, b in pairs]
    by_key = [(ka > kb) - (ka < kb) for ka, kb in keys]
    assert [p for p, d, o in zip(pairs, expected, ours, strict=True) if d != o] == []
    assert [p for p, d, k in zip(pairs, expected, by_key, strict=True) if d != k] == []
    assert {-1, 0, 1} <= set(expected)


_PART = "[0-9A-Za-z.+~]{0,6}"
versions = st.from_regex(
    rf"([0-9]{{1,2}}:)?[0-9]{_PART}(-[0-9A-Za-z.+~]{{1,6}})?", fullmatch=True
).filter(lambda v: v == v.strip())


@given(versions, versions)
def test_key_and_compare_agree(a: str, b: str) -> None:
    ka, kb = version_key(a), version_key(b)
    assert compare_versions(a, b) == (ka > kb) - (ka < kb)
    assert compare_versions(a, b) == -compare_versions(b, a)


@given(st.lists(versions, max_size=8))
def test_sorted_by_key_matches_cmp(values: list[str]) -> None:
    by_cmp = sorted(values, key=functools.cmp_to_key(compare_versions))
    by_key = sorted(values, key=version_key)
    assert [version_key(v) for v in by_cmp] == [version_key(v) for v in by_key]
