"""pinner.shellword against BuildKit's own tables (frontend/dockerfile/shell/lex_test.go)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from pinner import shellword
from pinner.shellword import ExpansionError, Lookup, expand_noting_unset

ERROR = object()


def expand(text: str, lookup: Lookup, escape: str = "\\") -> str:
    """The expansion alone, as BuildKit's ProcessWord gives it (pinner also notes unset names)."""
    return expand_noting_unset(text, lookup, escape)[0]


def _env_var_cases() -> list[object]:
    """envVarTest as TestShellParser4EnvVars reads it: `A|input|expected` for every platform."""
    path = Path(__file__).parent.parent / "testdata" / "buildkit" / "envVarTest"
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("#") or not line.strip():
            continue
        platform, source, expected = (part.strip() for part in line.strip().split("|"))
        if platform in ("A", "U"):
            want = ERROR if expected == "error" else expected
            cases.append(pytest.param(source, want, id=f"envVarTest:{number}"))
    return cases


ENVS = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


@pytest.mark.parametrize(("source", "expected"), _env_var_cases())
def test_buildkit_env_var_table(source: str, expected: object) -> None:
    if expected is ERROR:
        with pytest.raises(ExpansionError):
            expand(source, ENVS.get)
    else:
        assert expand(source, ENVS.get) == expected


# TestProcessWithMatches: (input, envs, expected or ERROR).
MATCHES: list[tuple[str, Mapping[str, str], object]] = [
    ("x", {"DUMMY": "dummy"}, "x"),
    ("x ${UNUSED}", {"DUMMY": "dummy"}, "x "),
    ("x ${FOO}", {"FOO": "y"}, "x y"),
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc"),
    ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx bbb ccc"),
    ("${FOO:-}", {"FOO": "xxx", "BAR": ""}, "xxx"),
    ("${FOO:-}", {}, ""),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa bbb "),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  "),
    ("${FOO?aaa}", {"FOO": "xxx", "BAR": ""}, "xxx"),
    ("${BAR?bbb}", {"FOO": "xxx", "BAR": ""}, ""),
    ("${BAZ?ccc}", {"FOO": "xxx", "BAR": ""}, ERROR),
    ("${FOO:?aaa}", {"FOO": "xxx", "BAR": ""}, "xxx"),
    ("${BAR:?bbb}", {"FOO": "xxx", "BAR": ""}, ERROR),
    ("${BAZ:?ccc}", {"FOO": "xxx", "BAR": ""}, ERROR),
    ("${BAZ:?}", {"FOO": "xxx", "BAR": ""}, ERROR),
    ("${FOO=aaa}", {"FOO": "xxx", "BAR": ""}, ERROR),
    ("${FOO=:aaa}", {"FOO": "xxx", "BAR": ""}, ERROR),
    ("${FOO=}", {}, ERROR),
    ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x"),
    ("${FOO%%\\**}", {"FOO": "xx**"}, "xx"),
    ("${FOO#*x*y}", {"FOO": "xxyy"}, "y"),
    ("${FOO#*}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy"),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy"),
    ("${FOO#}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO##*x}", {"FOO": "xxyy"}, "yy"),
    ("${FOO##}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO#?\\?}", {"FOO": "???y"}, "?y"),
    ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy."),
    ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a"),
    ("${FOO%}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO%%$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy"),
    ("${FOO:#}", {}, ERROR),
    ("${FOO:##}", {}, ERROR),
    ("${FOO:%}", {}, ERROR),
    ("${FOO:%%}", {}, ERROR),
    (
        "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
        {"FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"},
        "/foo.*/*.txt - /foo..*.txt",
    ),
    (
        "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
        {"FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"},
        "/tmp/bar.txt - /bar.txt",
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
        {"FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "REPLACEMENT": "/"},
        "/foo/b/c.txt - /foo/c.txt",
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT}",
        {"FOO": "http://google.de", "NEEDLE": "http://", "REPLACEMENT": "https://"},
        "https://google.de",
    ),
    ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
    ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy"),
    ("${FOO//ww}", {"FOO": "xxyy"}, ERROR),
    ("${FOO//}", {"FOO": "xxyy"}, ERROR),
    ("${FOO///}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO///}", {}, ""),
    # TestProcessWithMatchesPlatform: buildkit's release file names.
    (
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
        {"VERSION": "v1.2.3", "TARGETOS": "linux", "TARGETARCH": "arm", "TARGETVARIANT": "v7"},
        "something-v1.2.3.linux-arm-v7.tar.gz",
    ),
    (
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
        {"VERSION": "v1.2.3", "TARGETOS": "linux", "TARGETARCH": "arm64", "TARGETVARIANT": ""},
        "something-v1.2.3.linux-arm64.tar.gz",
    ),
]


@pytest.mark.parametrize(("source", "envs", "expected"), MATCHES, ids=[m[0] for m in MATCHES])
def test_buildkit_process_with_matches_table(
    source: str, envs: Mapping[str, str], expected: object
) -> None:
    if expected is ERROR:
        with pytest.raises(ExpansionError):
            expand(source, envs.get)
    else:
        assert expand(source, envs.get) == expected


def test_the_escape_directive_escapes() -> None:
    assert expand("a`$B", {"B": "x"}.get, escape="`") == "a$B"
    assert expand("a\\b", {}.get, escape="`") == "a\\b"


# TestConvertShellPatternToRegex and TestReversePattern (lex_test.go).
@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        ("*", "^.*"),
        ("?", "^."),
        ("\\*", "^\\*"),
        ("(()[]{\\}^$.\\*\\?|\\\\", "^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\"),
    ],
)
def test_buildkit_pattern_to_regex(pattern: str, regex: str) -> None:
    assert shellword._pattern_regex(pattern, greedy=True, anchored=True).pattern == regex


@pytest.mark.parametrize("pattern", ["\\", "\\x", "\\\\\\"])
def test_buildkit_invalid_patterns(pattern: str) -> None:
    with pytest.raises(ExpansionError):
        shellword._pattern_regex(pattern, greedy=True, anchored=True)


@pytest.mark.parametrize(
    ("pattern", "reversed_"),
    [
        ("a\\*c", "c\\*a"),
        ("\\\\\\ab", "b\\a\\\\"),
        ("ab\\", "\\ba"),
        ("👽\\🚀🖖", "🖖\\🚀👽"),
        ("\\\\b", "b\\\\"),
    ],
)
def test_buildkit_reverse_pattern(pattern: str, reversed_: str) -> None:
    assert shellword._reverse_pattern(pattern) == reversed_


@pytest.mark.parametrize(
    ("argv", "program"),
    [
        (["/bin/bash", "-o", "pipefail", "-c"], "bash"),
        (["pwsh", "-Command"], "pwsh"),
        (["/bin/busybox", "sh", "-c"], "busybox"),
        (None, None),
        ([], None),
        ("/bin/bash -c", None),
        (["/bin/ba\x1bsh", "-c"], None),
        (["/bin/bash", "-c\n"], None),
        (["/bin/bash", 1], None),
        ([1, "-c"], None),
        (["/bin/b a s h"], None),
        (["C:\\Program Files\\PowerShell\\7\\pwsh.exe"], None),
        (["/bin/bash", *["x"] * 15], "bash"),
        (["/bin/bash", *["x"] * 16], None),
        (["/bin/bash", "x" * 256], "bash"),
        (["/bin/bash", "x" * 257], None),
    ],
)
def test_a_shell_argv_names_its_program_only_within_bounds(
    argv: object, program: str | None
) -> None:
    assert shellword.shell_program(argv) == program


HALF = "x" * (shellword.MAX_EXPANDED // 2)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("$A", HALF),
        ("${A}-${A}", f"{HALF}-{HALF}"),
        ("${A/x/yy}", "yy" + HALF[1:]),
        ("$A$A$A", ERROR),
        ("${A:-$A}$A$A", ERROR),
        ("${A//x/yyy}", ERROR),
    ],
    ids=["whole", "twice", "replaced-once", "three-times", "default-and-twice", "replaced-all"],
)
def test_a_word_takes_in_at_most_a_mebibyte_from_its_variables(
    source: str, expected: object
) -> None:
    if expected is ERROR:
        with pytest.raises(ExpansionError, match="expands to over 1048576 characters"):
            expand(source, {"A": HALF}.get)
    else:
        assert expand(source, {"A": HALF}.get) == expected
