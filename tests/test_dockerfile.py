"""Finding and pinning references in Dockerfile text: tables of (input, expected) bytes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from offline_lock import fake_digest, pin_text

from pinner import dockerfile, imagemodel
from pinner.errors import DockerfileError


def D(name: str) -> str:
    """The fake digest of a familiar query string, e.g. D("python:3.12")."""
    from pinner.reference import parse

    ref = parse(name)
    ref = ref if ref.digest else ref._replace(tag=ref.tag_or_latest)
    return fake_digest(ref)


PY = D("python:3.12")
REWRITES = [
    pytest.param("FROM python:3.12\n", f"FROM python:3.12@{PY}\n", id="plain"),
    pytest.param("from python:3.12\n", f"from python:3.12@{PY}\n", id="lowercase-keyword"),
    pytest.param("FROM python\n", f"FROM python@{D('python')}\n", id="no-tag-keeps-the-users-text"),
    pytest.param("FROM python:3.12\r\nRUN x\r\n", f"FROM python:3.12@{PY}\r\nRUN x\r\n", id="crlf"),
    pytest.param("FROM python:3.12", f"FROM python:3.12@{PY}", id="no-final-newline"),
    pytest.param(
        "FROM --platform=$BUILDPLATFORM python:3.12 AS build\n",
        f"FROM --platform=$BUILDPLATFORM python:3.12@{PY} AS build\n",
        id="platform-and-as",
    ),
    pytest.param(
        "FROM \\\n  --platform=linux/amd64 \\\n  python:3.12 \\\n  as build\n",
        f"FROM \\\n  --platform=linux/amd64 \\\n  python:3.12@{PY} \\\n  as build\n",
        id="continuations",
    ),
    pytest.param(
        "FROM \\\n# a comment inside\n  python:3.12\n",
        f"FROM \\\n# a comment inside\n  python:3.12@{PY}\n",
        id="comment-inside-continuation",
    ),
    pytest.param(
        "FROM ghcr.io/o/r:v1 AS a\nFROM a\nCOPY --from=a /x /y\n",
        f"FROM ghcr.io/o/r:v1@{D('ghcr.io/o/r:v1')} AS a\nFROM a\nCOPY --from=a /x /y\n",
        id="stage-names-left-alone",
    ),
    pytest.param(
        "FROM scratch\nCOPY --from=0 / /\n",
        "FROM scratch\nCOPY --from=0 / /\n",
        id="scratch-and-stage-index",
    ),
    pytest.param(
        "FROM alpine:3\nCOPY --from=nginx:1.27 /etc/nginx /etc/nginx\n",
        f"FROM alpine:3@{D('alpine:3')}\nCOPY --from=nginx:1.27@{D('nginx:1.27')} /etc/nginx /etc/nginx\n",
        id="copy-from-image",
    ),
    pytest.param(
        "FROM alpine:3\nRUN --mount=type=bind,from=busybox:1,source=/bin,target=/b ls /b\n",
        f"FROM alpine:3@{D('alpine:3')}\n"
        f"RUN --mount=type=bind,from=busybox:1@{D('busybox:1')},source=/bin,target=/b ls /b\n",
        id="run-mount-from-image",
    ),
    pytest.param(
        "# syntax=docker/dockerfile:1.7\nFROM scratch\n",
        f"# syntax=docker/dockerfile:1.7@{D('docker/dockerfile:1.7')}\nFROM scratch\n",
        id="syntax-directive",
    ),
    pytest.param(
        "ARG BASE=python:3.12\nFROM ${BASE}\n",
        f"ARG BASE=python:3.12@{PY}\nFROM ${{BASE}}\n",
        id="whole-arg-pinned-at-default",
    ),
    pytest.param(
        'ARG BASE="python:3.12"\nFROM $BASE AS b\n',
        f'ARG BASE="python:3.12@{PY}"\nFROM $BASE AS b\n',
        id="quoted-arg-default",
    ),
    pytest.param(
        "ARG REG=docker.io\nARG BASE=${REG}/library/python:3.12\nFROM ${BASE}\n",
        "ARG REG=docker.io\nARG BASE=${REG}/library/python:3.12@"
        f"{D('docker.io/library/python:3.12')}\nFROM ${{BASE}}\n",
        id="arg-default-composed-of-arg",
    ),
    pytest.param(
        "ARG PY=3.12\nFROM python:${PY}-slim\n",
        f"ARG PY=3.12\nFROM python:${{PY}}-slim@{D('python:3.12-slim')}\n",
        id="composed-reference-pinned-in-place",
    ),
    pytest.param(
        "ARG PY=3.12\nFROM python:${PY:-3.11}\n",
        f"ARG PY=3.12\nFROM python:${{PY:-3.11}}@{PY}\n",
        id="default-substitution",
    ),
    pytest.param(
        f"FROM python:3.12@{PY}\n",
        f"FROM python:3.12@{PY}\n",
        id="already-pinned-no-op",
    ),
    pytest.param(
        "FROM python:3.12 AS a\nFROM python:3.12 AS b\n",
        f"FROM python:3.12@{PY} AS a\nFROM python:3.12@{PY} AS b\n",
        id="same-reference-twice",
    ),
    pytest.param(
        "FROM alpine:3\nRUN echo FROM python:3.12\n# FROM python:3.12\n",
        f"FROM alpine:3@{D('alpine:3')}\nRUN echo FROM python:3.12\n# FROM python:3.12\n",
        id="text-that-only-looks-like-from",
    ),
    pytest.param(
        "FROM alpine:3\nARG IMG=busybox:1\nCOPY --from=${IMG} /bin/sh /sh\n",
        f"FROM alpine:3@{D('alpine:3')}\nARG IMG=busybox:1@{D('busybox:1')}\n"
        "COPY --from=${IMG} /bin/sh /sh\n",
        id="stage-arg-in-copy-from",
    ),
]


@pytest.mark.parametrize(("before", "after"), REWRITES)
def test_pin_rewrites_only_references(before: str, after: str) -> None:
    assert pin_text(before) == after


def test_build_arg_override_is_not_written_into_the_file() -> None:
    text = "ARG BASE=python:3.12\nFROM ${BASE}\n"
    assert pin_text(text, {"BASE": "python:3.13"}) == text


def test_build_arg_resolves_a_composed_reference() -> None:
    text = "ARG PY\nFROM python:${PY}\n"
    assert pin_text(text, {"PY": "3.12"}) == f"ARG PY\nFROM python:${{PY}}@{PY}\n"


USES = [
    pytest.param(
        "# syntax=docker/dockerfile:1\nARG B=debian:12\nFROM ${B} AS base\n"
        "FROM base\nCOPY --from=nginx /a /b\nRUN --mount=from=base,target=/x true\n",
        [
            (1, "docker.io/docker/dockerfile:1", "syntax"),
            (3, "docker.io/library/debian:12", "stage base: FROM"),
            (5, "docker.io/library/nginx", "stage 1: COPY --from"),
        ],
        id="every-kind",
    ),
]


@pytest.mark.parametrize(("text", "expected"), USES)
def test_uses(text: str, expected: list[tuple[int, str, str]]) -> None:
    parsed = dockerfile.parse(text, "Dockerfile")
    assert [(u.line, str(u.ref), u.used_by) for u in parsed.uses] == expected


ERRORS = [
    pytest.param(b"", "Dockerfile: file is empty", id="empty"),
    pytest.param(b"  \n\n", "Dockerfile: file is empty", id="blank"),
    pytest.param(b"FROM x\0\n", "Dockerfile: binary file (contains NUL bytes)", id="binary"),
    pytest.param(b"FROM a\nRUN \xff\n", "Dockerfile:2: not valid UTF-8", id="not-utf8"),
    pytest.param(b"RUN true\n", "Dockerfile: no FROM instruction", id="no-from"),
    pytest.param(b"FROM\n", "Dockerfile:1: FROM without an image", id="from-without-image"),
    pytest.param(
        b"FROM --platform=linux/amd64\n",
        "Dockerfile:1: FROM without an image",
        id="from-only-flags",
    ),
    pytest.param(
        b"FROM Python:3\n",
        "Dockerfile:1: Python:3: repository name must be lowercase",
        id="uppercase",
    ),
    pytest.param(
        b"FROM python@sha256:abc\n",
        "Dockerfile:1: python@sha256:abc: invalid digest format: sha256:abc",
        id="bad-digest",
    ),
    pytest.param(
        b"ARG BASE\nFROM ${BASE}\n",
        "Dockerfile:2: ${BASE}: ARG BASE has no default; pass --build-arg BASE=...",
        id="arg-without-default",
    ),
    pytest.param(
        b"FROM ${NOPE}\n", "Dockerfile:1: ${NOPE}: ARG NOPE is not declared", id="undeclared-arg"
    ),
    pytest.param(
        b"ARG V=1.2\nFROM python:${V:#1}\n",
        "Dockerfile:2: python:${V:#1}: unsupported modifier (:#) in substitution",
        id="colon-hash-refused-as-buildkit-does",
    ),
    pytest.param(
        b"ARG V=1.2\nFROM python:${V/x}\n",
        "Dockerfile:2: python:${V/x}: syntax error: missing '/' in ${}",
        id="replacement-without-its-slash",
    ),
    pytest.param(
        b"ARG DIR=${HOME}/x\nARG BASE=alpine${DIR:+:3}\nFROM ${BASE}\n",
        "Dockerfile:3: ${HOME}: ARG HOME is not declared",
        id="unset-variable-inside-an-arg-a-reference-uses",
    ),
]


# BuildKit's pattern expansions in references (moby/buildkit frontend/dockerfile/shell/lex.go).
EXPANSIONS = [
    pytest.param("ARG V=3.12.1\nFROM python:${V%.*}\n", "python:3.12", id="percent"),
    pytest.param("ARG V=3.12.1\nFROM python:${V%%.*}\n", "python:3", id="percent-percent"),
    pytest.param("ARG V=v3.12\nFROM python:${V#v}\n", "python:3.12", id="hash"),
    pytest.param("ARG V=a-b-3.12\nFROM python:${V##*-}\n", "python:3.12", id="hash-hash"),
    pytest.param("ARG V=3_12\nFROM python:${V/_/.}\n", "python:3.12", id="slash"),
    pytest.param("ARG V=3_12_1\nFROM python:${V//_/.}\n", "python:3.12.1", id="slash-slash"),
    pytest.param("ARG V=\nFROM python:${V:-3.12}\n", "python:3.12", id="colon-minus-empty"),
    pytest.param("ARG V=\nFROM python${V-:3.11}\n", "python", id="minus-set-but-empty"),
    pytest.param("ARG V=x\nFROM python:3.12${V:+-slim}\n", "python:3.12-slim", id="colon-plus"),
    pytest.param(
        "ARG DIR=${HOME}/x\nFROM python:3.12\n", "python:3.12", id="unused-arg-with-unset-variable"
    ),
]


@pytest.mark.parametrize(("text", "expanded"), EXPANSIONS)
def test_buildkit_expansions_in_references(text: str, expanded: str) -> None:
    (use,) = dockerfile.parse(text, "Dockerfile").uses
    assert use.expanded == expanded


@pytest.mark.parametrize(("data", "message"), ERRORS)
def test_bad_input_is_one_line(data: bytes, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        dockerfile.parse(dockerfile.decode(data, "Dockerfile"), "Dockerfile")
    assert str(info.value) == message


def test_apply_edits_refuses_overlaps() -> None:
    edits = [dockerfile.Edit(0, 4, "x"), dockerfile.Edit(2, 6, "y")]
    with pytest.raises(ValueError, match="overlapping"):
        dockerfile.apply_edits("abcdefgh", edits)


def test_heredoc_bodies_are_part_of_their_instruction() -> None:
    text = (
        "FROM alpine:3 AS a\n"
        "RUN <<EOF\napt-get install -y curl\nFROM nothing:1\nEOF\n"
        "COPY <<-A <<'B' /x\n\tFROM tabbed:1\n\tA\nFROM quoted:1\nB\n"
        "RUN cat <<<'FROM herestring:1'\n"
        "FROM busybox:1\n"
    )
    parsed = dockerfile.parse(text, "Dockerfile")
    assert [str(u.ref) for u in parsed.uses] == [
        "docker.io/library/alpine:3",
        "docker.io/library/busybox:1",
    ]
    assert [[(i.keyword, i.line) for i in s.instructions] for s in parsed.stages] == [
        [("FROM", 1), ("RUN", 2), ("COPY", 6), ("RUN", 11)],
        [("FROM", 12)],
    ]
    run = parsed.stages[0].instructions[1]
    assert (
        text[run.span.start : run.span.end]
        == "RUN <<EOF\napt-get install -y curl\nFROM nothing:1\nEOF\n"
    )


def test_escape_directive_sets_the_continuation_character() -> None:
    text = "# escape=`\nFROM --platform=linux/amd64 `\n  python:3.12 AS b\nRUN dir c:\\\n"
    parsed = dockerfile.parse(text, "Dockerfile")
    assert parsed.escape == "`"
    assert [(u.line, u.expanded) for u in parsed.uses] == [(2, "python:3.12")]
    assert pin_text(text) == text.replace("python:3.12", f"python:3.12@{PY}")


def test_item9_a_100k_line_dockerfile_parses_whole() -> None:
    # Parsing once grew a stage's tuple per instruction (quadratic: 105 s for `check` here);
    # benchmarks/bench_parse.py times it, this proves the long file parses to the right answer.
    body = "".join(f"ENV V{i}=x\nRUN echo {i} \\\n    && true\n# note {i}\n" for i in range(25_000))
    text = f"FROM alpine:3 AS a\n{body}COPY --from=busybox:1 / /\nFROM a\n"
    assert text.count("\n") == 100_003
    parsed = dockerfile.parse(text, "Dockerfile")
    assert [len(s.instructions) for s in parsed.stages] == [50_002, 1]
    first = parsed.stages[0].instructions
    assert [(i.keyword, i.line) for i in first[-3:]] == [
        ("ENV", 99_998),
        ("RUN", 99_999),
        ("COPY", 100_002),
    ]
    assert [(u.line, u.expanded) for u in parsed.uses] == [
        (1, "alpine:3"),
        (100_002, "busybox:1"),
    ]


# BuildKit's automatic platform ARGs in the global scope (moby/buildkit's and docker/buildx's
# release Dockerfiles choose stages with them: `FROM binaries-$TARGETOS AS binaries`).
BINARIES = (
    "FROM --platform=$BUILDPLATFORM golang:1.23 AS build\n"
    "FROM scratch AS binaries-linux\n"
    "FROM scratch AS binaries-windows\n"
    "FROM binaries-$TARGETOS AS binaries\n"
)


def test_platform_args_choose_stages_on_every_platform() -> None:
    platforms = ("linux/amd64", "linux/arm64", "linux/arm/v7")
    parsed = dockerfile.parse(BINARIES, "Dockerfile", platforms=platforms)
    assert [u.expanded for u in parsed.uses] == ["golang:1.23"]
    assert [s.parent for s in parsed.stages] == [None, None, None, "binaries-linux"]


@pytest.mark.parametrize(
    ("text", "platform", "expanded"),
    [
        ("FROM app-${TARGETARCH}:1\n", "linux/arm64", "app-arm64:1"),
        (
            "FROM app:1-${TARGETOS}${TARGETVARIANT:+-$TARGETVARIANT}\n",
            "linux/arm/v7",
            "app:1-linux-v7",
        ),
        ("FROM app:1-${TARGETVARIANT:-none}\n", "linux/amd64", "app:1-none"),
        ("ARG TARGETARCH\nFROM app:${TARGETARCH}\n", "linux/s390x", "app:s390x"),
        ("FROM app:${BUILDOS}-${BUILDARCH}\n", "linux/arm64", "app:linux-arm64"),
    ],
)
def test_platform_args_have_the_platforms_values(text: str, platform: str, expanded: str) -> None:
    (use,) = dockerfile.parse(text, "Dockerfile", platforms=(platform,)).uses
    assert use.expanded == expanded


def test_an_image_named_per_platform_is_one_use_per_platform() -> None:
    text = "FROM scratch AS app-arm64\nFROM app-${TARGETARCH}\nFROM alpine:3\n"
    platforms = ("linux/arm64", "linux/amd64", "linux/arm/v7")
    parsed = dockerfile.parse(text, "Dockerfile", platforms=platforms)
    assert [(u.expanded, u.used_by, u.platform, u.site) for u in parsed.uses] == [
        ("alpine:3", "stage 2: FROM", None, parsed.uses[0].site),
        ("app-amd64", "stage 1: FROM on linux/amd64", "linux/amd64", None),
        ("app-arm", "stage 1: FROM on linux/arm/v7", "linux/arm/v7", None),
    ]
    assert parsed.uses[0].site is not None
    assert dockerfile.locked_platforms(u.used_by for u in parsed.uses) == (
        "linux/amd64",
        "linux/arm/v7",
    )


# The word pattern as first written: one or more unquoted runs or quoted strings.
_PLAIN_WORD_RE = re.compile(r"""(?:[^ \t"']+|"[^"]*(?:"|$)|'[^']*(?:'|$))+""")


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=" \t\"'ab\\$=\r\x0c", max_size=16),
    st.sampled_from(["", " ", "\t", " \t "]),
)
def test_words_split_as_the_plain_word_pattern_splits_them(line: str, lead: str) -> None:
    found = [(m.group(), m.start()) for m in dockerfile._WORD_RE.finditer(line)]
    assert found == [(m.group(), m.start()) for m in _PLAIN_WORD_RE.finditer(line)]
    located = dockerfile.instructions(f"{lead}RUN {line}\n")
    if located:  # not continued past the end of the file
        logical = f"{lead}RUN {line}".rstrip("\r\n")
        want = [(m.group(), m.start()) for m in _PLAIN_WORD_RE.finditer(logical)][1:]
        assert [(w.text, w.at) for w in located[0].words] == want


# The parser-directive pattern as first written, with its lazy value.
_LAZY_DIRECTIVE_RE = re.compile(r"#[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(\S.*?)[ \t]*\r?$")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet="# \t=\rax`\\\x0c", max_size=10), max_size=3))
def test_directives_read_as_the_lazy_directive_pattern_reads_them(lines: list[str]) -> None:
    text = "\n".join(lines) + "\nFROM a\n"
    want = []
    offset = 0
    for line in text.split("\n"):
        match = _LAZY_DIRECTIVE_RE.fullmatch(text, offset, offset + len(line))
        if not line.startswith("#") or not match:
            break
        want.append((match.group(1), match.group(2), (match.start(2), match.end(2))))
        offset += len(line) + 1
    assert [(n, v, tuple(s)) for n, v, s in dockerfile._directives(text)] == want


def test_ancestors_are_the_stages_a_stage_is_from_nearest_first() -> None:
    parsed = dockerfile.parse(
        "FROM alpine:3 AS base\nFROM base AS mid\nFROM alpine:3 AS other\nFROM mid AS last\n",
        "Dockerfile",
    )
    base, mid, other, last = parsed.stages
    assert dockerfile.ancestors(parsed, last) == [mid, base]
    assert dockerfile.ancestors(parsed, other) == []
    assert dockerfile.ancestors(parsed, base) == []


def _run_variables(text: str, **build_args: str) -> list[tuple[tuple[str, str, str], ...]]:
    parsed = dockerfile.parse(text, "Dockerfile", build_args)
    runs = [i for s in parsed.stages for i in s.instructions if i.keyword == "RUN"]
    return [dockerfile.run_variables(parsed, run) for run in runs]


def test_each_run_starts_with_the_known_env_and_arg_values() -> None:
    text = (
        'ARG G=1\nFROM alpine AS base\nENV BUILD_DEPS autoconf "g++"\nARG EXTRA="curl git"\n'
        "ARG NODEFAULT\nENV A=$EXTRA B='x y' C=$UNKNOWN\nRUN true\n"
        "FROM base\nENV D=${BUILD_DEPS}-z\nRUN true\nFROM alpine\nRUN true\n"
    )
    first, child, other = _run_variables(text)
    assert first == (
        ("BUILD_DEPS", "autoconf g++", "ENV"),
        ("EXTRA", "curl git", "ARG"),
        ("A", "curl git", "ARG"),  # an ENV value made of an ARG's: a --build-arg changes it
        ("B", "x y", "ENV"),
    )
    # A stage FROM a stage has its ENV and its ARGs (BuildKit: the base stage's state, as
    # BuildKit's reference says since moby/buildkit#5381); another stage has neither, nor G.
    assert child == (
        ("BUILD_DEPS", "autoconf g++", "ENV"),
        ("EXTRA", "curl git", "ARG"),
        ("A", "curl git", "ARG"),
        ("B", "x y", "ENV"),
        ("D", "autoconf g++-z", "ENV"),
    )
    assert other == ()


def test_a_build_arg_is_the_value_and_env_wins_over_an_arg() -> None:
    text = 'FROM alpine\nARG PKGS="curl"\nARG X=1\nENV X=2\nRUN true\n'
    assert _run_variables(text, PKGS="git") == [(("PKGS", "git", "ARG"), ("X", "2", "ENV"))]


def test_the_base_images_env_comes_first_and_the_later_env_or_arg_wins() -> None:
    # BuildKit (dockerfile2llb convert.go): the image's Env starts the stage's environment, and
    # dispatchEnv and dispatchArg each AddEnv in turn, so an ARG after the image's ENV wins.
    text = (
        "FROM php AS base\nARG X=arg\nRUN true\nENV PHPIZE_DEPS=make\nRUN true\n"
        "FROM base\nRUN true\nFROM alpine\nRUN true\n"
    )
    parsed = dockerfile.parse(text, "Dockerfile")
    image = (("PHPIZE_DEPS", "autoconf gcc"), ("X", "image"))
    parsed = parsed._replace(base_env={"base": image, "1": image})
    runs = [i for s in parsed.stages for i in s.instructions if i.keyword == "RUN"]
    assert [dockerfile.run_variables(parsed, run) for run in runs] == [
        (("PHPIZE_DEPS", "autoconf gcc", "ENV"), ("X", "arg", "ARG")),
        (("X", "arg", "ARG"), ("PHPIZE_DEPS", "make", "ENV")),
        # A stage FROM a stage starts with its state, the image config's Env applied over it
        # again: X is the image's ENV there, not the ARG (convert.go: init, then Config.Env).
        (("PHPIZE_DEPS", "make", "ENV"), ("X", "image", "ENV")),
        (),
    ]


def test_a_stage_env_made_of_the_base_images_env_is_expanded_from_it() -> None:
    text = 'FROM php\nENV DEPS="$PHPIZE_DEPS git"\nENV PHPIZE_DEPS=make\nRUN true\n'
    parsed = dockerfile.parse(text, "Dockerfile")
    (run,) = [i for i in parsed.stages[0].instructions if i.keyword == "RUN"]
    # Asked before the image's ENV is known (as lock does), then after: not the first answer.
    assert dockerfile.run_variables(parsed, run) == (("PHPIZE_DEPS", "make", "ENV"),)
    parsed = parsed._replace(base_env={"0": (("PHPIZE_DEPS", "autoconf gcc"),)})
    assert dockerfile.run_variables(parsed, run) == (
        ("DEPS", "autoconf gcc git", "ENV"),
        ("PHPIZE_DEPS", "make", "ENV"),
    )
    # An ARG before it is in the environment the ENV is expanded with, over the image's value.
    text = 'FROM php\nARG PHPIZE_DEPS=arg\nENV DEPS="$PHPIZE_DEPS git"\nRUN true\n'
    parsed = dockerfile.parse(text, "Dockerfile")
    parsed = parsed._replace(base_env={"0": (("PHPIZE_DEPS", "autoconf gcc"),)})
    (run,) = [i for i in parsed.stages[0].instructions if i.keyword == "RUN"]
    assert dict((n, (v, k)) for n, v, k in dockerfile.run_variables(parsed, run)) == {
        "PHPIZE_DEPS": ("arg", "ARG"),
        "DEPS": ("arg git", "ARG"),
    }
    # A stage FROM one that only sets DEPS: the image's ENV is the first stage's.
    text = 'FROM php AS base\nENV DEPS="$PHPIZE_DEPS git"\nFROM base\nRUN true\n'
    parsed = dockerfile.parse(text, "Dockerfile")
    parsed = parsed._replace(base_env={"1": (("PHPIZE_DEPS", "autoconf gcc"),)})
    (run,) = [i for i in parsed.stages[1].instructions if i.keyword == "RUN"]
    assert dict((n, v) for n, v, _ in dockerfile.run_variables(parsed, run)) == {
        "PHPIZE_DEPS": "autoconf gcc",
        "DEPS": "autoconf gcc git",
    }


def test_a_stage_from_a_stage_starts_with_its_args_too() -> None:
    # BuildKit: dispatchState.init takes the base stage's state, ARG values in it (buildx#1709
    # shows one in `env` of the child stage).
    text = 'FROM php AS base\nARG DEPS="$PHPIZE_DEPS git"\nFROM base\nRUN true\n'
    parsed = dockerfile.parse(text, "Dockerfile")
    parsed = parsed._replace(base_env={"1": (("PHPIZE_DEPS", "autoconf gcc"),)})
    (run,) = [i for i in parsed.stages[1].instructions if i.keyword == "RUN"]
    assert dockerfile.run_variables(parsed, run) == (
        ("PHPIZE_DEPS", "autoconf gcc", "ENV"),
        ("DEPS", "autoconf gcc git", "ARG"),
    )


@pytest.mark.parametrize(
    ("lines", "build_args", "expected"),
    [
        # dispatchArg expands a default with the stage's environment, the image's Env in it.
        (
            'ARG DEPS="$PHPIZE_DEPS git"',
            {},
            {"PHPIZE_DEPS": "autoconf gcc", "DEPS": "autoconf gcc git"},
        ),
        ("ENV A=x\nARG B=$A-y", {}, {"PHPIZE_DEPS": "autoconf gcc", "A": "x", "B": "x-y"}),
        ("ARG A=1\nENV A=2\nARG B=$A", {}, {"PHPIZE_DEPS": "autoconf gcc", "A": "2", "B": "2"}),
        # An ARG with no value adds nothing: the image's value stays.
        ("ARG PHPIZE_DEPS", {}, {"PHPIZE_DEPS": "autoconf gcc"}),
        # A --build-arg value is taken as given.
        (
            'ARG DEPS="$PHPIZE_DEPS git"',
            {"DEPS": "$X"},
            {"PHPIZE_DEPS": "autoconf gcc", "DEPS": "$X"},
        ),
        # A name nothing sets before it: not known, so not guessed.
        ('ARG DEPS="$NOPE git"', {}, {"PHPIZE_DEPS": "autoconf gcc"}),
        ('ARG DEPS="$LATER git"\nENV LATER=x', {}, {"PHPIZE_DEPS": "autoconf gcc", "LATER": "x"}),
    ],
)
def test_an_arg_default_is_expanded_from_the_environment_before_it(
    lines: str, build_args: dict[str, str], expected: dict[str, str]
) -> None:
    parsed = dockerfile.parse(f"FROM php\n{lines}\nRUN true\n", "Dockerfile", build_args)
    (run,) = [i for i in parsed.stages[0].instructions if i.keyword == "RUN"]
    parsed = parsed._replace(base_env={"0": (("PHPIZE_DEPS", "autoconf gcc"),)})
    assert {n: v for n, v, _ in dockerfile.run_variables(parsed, run)} == expected


def test_a_value_that_differs_between_the_platforms_locked_is_not_known() -> None:
    text = "FROM debian\nARG TARGETARCH\nENV LIB=libfoo-$TARGETARCH X=1\nRUN true\n"
    parsed = dockerfile.parse(text, "Dockerfile")
    (run,) = [i for i in parsed.stages[0].instructions if i.keyword == "RUN"]
    assert dockerfile.run_variables(parsed, run) == (
        ("TARGETARCH", "amd64", "ARG"),
        ("LIB", "libfoo-amd64", "ARG"),
        ("X", "1", "ENV"),
    )
    both = dockerfile.parse(text, "Dockerfile", platforms=("linux/amd64", "linux/arm64"))
    assert dockerfile.run_variables(both, run) == (("X", "1", "ENV"),)


def test_a_parsed_dockerfile_with_run_variables_pickles() -> None:
    # update parses in a forked child, which sends the parsed files back pickled.
    import pickle

    text = "FROM alpine\nENV A=b\nRUN apk add $A\n"
    for platforms in (("linux/amd64",), ("linux/amd64", "linux/arm64")):
        parsed = dockerfile.parse(text, "Dockerfile", platforms=platforms)
        assert pickle.loads(pickle.dumps(parsed)) == parsed


def test_a_run_gets_the_last_shell_before_it_in_its_stage_or_a_stage_it_is_from() -> None:
    text = (
        'SHELL ["/bin/zsh", "-c"]\nFROM a AS one\nRUN x\nSHELL ["/bin/bash", "-c"]\nRUN y\n'
        'SHELL ["/bin/ash", "-c"]\nFROM one AS two\nRUN z\nSHELL ["/usr/bin/fish"]\nRUN w\n'
        "FROM b\nRUN v\nFROM two\nRUN u\n"
    )
    parsed = dockerfile.parse(text, "Dockerfile")
    runs = [i for s in parsed.stages for i in s.instructions if i.keyword == "RUN"]

    # A SHELL before the first FROM sets nothing; a stage FROM another takes its last SHELL.
    shells = [dockerfile.run_shell(parsed, run) for run in runs]
    assert shells == [None, "bash", "ash", "fish", None, "fish"]
    plain = dockerfile.parse("FROM a\nRUN x\n", "Dockerfile")
    assert dockerfile.run_shell(plain, plain.stages[0].instructions[1]) is None
    # The base image's config Shell counts where no SHELL instruction does.
    images = {"one": "dash", "1": "dash", "2": "ksh", "3": "ksh"}
    shells = [dockerfile.run_shell(parsed._replace(base_shell=images), run) for run in runs]
    assert shells == ["dash", "bash", "ash", "fish", "ksh", "fish"]
    based = plain._replace(base_shell={"0": "bash"})
    assert dockerfile.run_shell(based, plain.stages[0].instructions[1]) == "bash"


@pytest.mark.parametrize(
    "shell",
    ['["/bin/b a s h", "-c"]', '"/bin/bash -c"', '["/bin/bash", "-c"', '["/bin/ba\\u001bsh"]'],
)
def test_a_shell_instruction_that_names_no_program_read_here_is_not_the_base_shell(
    shell: str,
) -> None:
    # Not None: the base image's config Shell no longer decides the RUN.
    parsed = dockerfile.parse(f"FROM a\nSHELL {shell}\nRUN x\n", "Dockerfile")
    based = parsed._replace(base_shell={"0": "bash"})
    assert dockerfile.run_shell(based, parsed.stages[0].instructions[2]) == ""


@pytest.mark.parametrize(
    ("config", "program"),
    [
        (b'{"config": {"Shell": ["/bin/bash", "-o", "pipefail", "-c"]}}', "bash"),
        (b'{"config": {}}', None),
        (b"{}", None),
        (b'{"config": {"Shell": ["/bin/ba\\u001bsh", "-c"]}}', None),
        (b'{"config": {"Shell": "/bin/bash -c"}}', None),
    ],
)
def test_a_config_carries_its_shell_read_only_as_short_printable_strings(
    config: bytes, program: str | None
) -> None:
    # An unreadable Shell is no error: the image's /bin/sh is then assumed.
    assert imagemodel.parse_config(config, "config").shell == program


def test_a_parse_kept_without_its_stages_gives_a_run_no_variables() -> None:
    # lock pins a rewritten text with the first parse's uses and none of its stages.
    parsed = dockerfile.parse("FROM alpine\nENV A=b\nRUN apk add $A\n", "Dockerfile")
    run = parsed.stages[0].instructions[2]
    text_only = parsed._replace(stages=())

    assert dockerfile.run_variables(text_only, run) == ()
    assert dockerfile.run_variables(parsed, run) == (("A", "b", "ENV"),)
