"""pinner.reproducible.rewritten: tables of (Dockerfile text, lock inputs) -> exact new text."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import shell_syntax
from image_root import snapshot_run_line

from pinner import dockerfile, reproducible
from pinner.apt import commands, sources
from pinner.managers.leftovers import expands_braces
from pinner.reproducible import Rewrite

TS = "20241202T000000Z"
EPOCH = 1733097600
OLD_TS = "20240101T000000Z"
OLD_EPOCH = 1704067200
HEAD = f"# syntax=docker/dockerfile:1.23\nARG SOURCE_DATE_EPOCH={EPOCH}\n"
ARG = "ARG SOURCE_DATE_EPOCH\n"
INSTALL = "apt-get update && apt-get install -y --no-install-recommends hello"
CLEANUP = sources.cleanup_for(INSTALL)
# A RUN without `apt-get update`, or one whose lists a later RUN installs with, keeps the lists.
NO_LISTS = sources.cleanup_for("apt-get install -y hello")
MOUNTS = "--mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt"
MOUNTS_CLEANUP = sources.cleanup_for(f"{MOUNTS} {INSTALL}")
MIRROR = "http://127.0.0.1:9/archive"
DIGEST = "sha256:" + "4f" * 32
EXEC_NOTE = (
    "RUN at line 2 is in exec form: apt's lists, caches and logs stay in the image and"
    " differ between builds; write it in shell form to have them removed"
)


def step(
    distro: sources.Distro = "debian",
    ts: str = TS,
    nl: str = "\n",
    mirror: str | None = None,
    escape: str = "\\",
) -> str:
    """The marker and snapshot RUN as pinner inserts them, with its line break after."""
    mirrors = {"debian": mirror} if mirror else None
    run = snapshot_run_line(distro, ts, mirrors=mirrors, escape=escape)
    return nl.join(run.split("\n")) + nl


def cleaned(run: str, nl: str = "\n", cleanup: str | None = CLEANUP) -> str:
    """A RUN line as pinner leaves it: its cleanup on a continuation line."""
    return f"{run} \\{nl}    && {cleanup}{nl}"


def rw(
    distros: Mapping[str, str | None] | None = None,
    *,
    versions: Mapping[str, Mapping[str, str]] | None = None,
    snapshot: str = TS,
    epoch: int = EPOCH,
    previous_epoch: int | None = None,
    mirrors: Mapping[str, str] | None = None,
) -> Rewrite:
    return Rewrite(
        snapshot, epoch, distros or {}, mirrors or {}, versions or {}, previous_epoch=previous_epoch
    )


def rewrite(text: str, inputs: Rewrite) -> tuple[str, list[str]]:
    new, notes, _ = reproducible.rewritten(dockerfile.parse(text, "Dockerfile"), inputs)
    return new, notes


DEBIAN = rw({"0": "debian"})

CASES = [
    pytest.param(
        f"FROM debian:bookworm\nRUN {INSTALL}\n",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}{cleaned(f'RUN {INSTALL}')}",
        [],
        id="debian-stage",
    ),
    pytest.param(
        "FROM ubuntu:24.04\nRUN apt-get update && apt-get install -y curl\n",
        rw({"0": "ubuntu"}),
        f"{HEAD}FROM ubuntu:24.04\n{ARG}{step('ubuntu')}"
        + cleaned("RUN apt-get update && apt-get install -y curl"),
        [],
        id="ubuntu-stage",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN {INSTALL}\n",
        rw({"0": "debian"}, mirrors={"debian": MIRROR, "ubuntu": "https://ubuntu.example"}),
        f"{HEAD}FROM debian:bookworm\n{ARG}{step(mirror=MIRROR)}{cleaned(f'RUN {INSTALL}')}",
        [],
        id="snapshot-mirror",
    ),
    pytest.param(
        f"FROM debian:bookworm AS base\nRUN {INSTALL}\nFROM base\nRUN apt-get install -y curl\n",
        rw({"base": "debian", "1": "debian"}),
        f"{HEAD}FROM debian:bookworm AS base\n{ARG}{step()}"
        f"{cleaned(f'RUN {INSTALL}', cleanup=NO_LISTS)}"
        f"FROM base\n{ARG}{cleaned('RUN apt-get install -y curl', cleanup=NO_LISTS)}",
        [],
        id="from-apt-stage-inherits-its-step",
    ),
    pytest.param(
        f"FROM debian:bookworm AS a\nRUN {INSTALL}\nFROM a AS b\nRUN echo\nFROM b\nRUN apt-get install -y curl\n",
        rw({"a": "debian", "2": "debian"}),
        f"{HEAD}FROM debian:bookworm AS a\n{ARG}{step()}"
        f"{cleaned(f'RUN {INSTALL}', cleanup=NO_LISTS)}FROM a AS b\n{ARG}RUN echo\nFROM b\n"
        f"{ARG}{cleaned('RUN apt-get install -y curl', cleanup=NO_LISTS)}",
        [],
        id="inherited-through-a-stage-without-apt",
    ),
    pytest.param(
        f"FROM debian:bookworm AS base\nRUN echo hi\nFROM base\nRUN {INSTALL}\n",
        rw({"1": "debian"}),
        f"{HEAD}FROM debian:bookworm AS base\n{ARG}RUN echo hi\n"
        f"FROM base\n{ARG}{step()}{cleaned(f'RUN {INSTALL}')}",
        [],
        id="from-non-apt-stage-gets-its-own-step",
    ),
    pytest.param(
        f"FROM debian:bookworm\n{step()}{cleaned(f'RUN {INSTALL}')}",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}{cleaned(f'RUN {INSTALL}')}",
        [],
        id="marker-with-the-same-time-is-kept",
    ),
    pytest.param(
        f"ARG SOURCE_DATE_EPOCH={OLD_EPOCH}\nFROM debian:bookworm\n{ARG}"
        f"{step(ts=OLD_TS)}{cleaned(f'RUN {INSTALL}')}",
        rw({"0": "debian"}, previous_epoch=OLD_EPOCH),
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}{cleaned(f'RUN {INSTALL}')}",
        [],
        id="marker-with-another-time-is-updated-in-place",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN apt-get install -y curl\n{step()}{cleaned(f'RUN {INSTALL}')}",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        f"{cleaned('RUN apt-get install -y curl', cleanup=NO_LISTS)}{cleaned(f'RUN {INSTALL}')}",
        [],
        id="apt-run-added-above-the-step-moves-it-up",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN apt-get install -y curl\n{step(ts=OLD_TS)}RUN make\n",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        f"{cleaned('RUN apt-get install -y curl', cleanup=NO_LISTS)}RUN make\n",
        [],
        id="step-below-the-only-apt-run-moves-up-at-the-new-time",
    ),
    pytest.param(
        f"FROM debian:bookworm\r\n{step(ts=OLD_TS, nl=chr(13) + chr(10))}RUN apt-get install -y curl\r\n",
        DEBIAN,
        f"{HEAD.replace(chr(10), chr(13) + chr(10))}FROM debian:bookworm\r\n{ARG[:-1]}\r\n"
        f"{step(nl=chr(13) + chr(10))}"
        f"{cleaned('RUN apt-get install -y curl', chr(13) + chr(10), NO_LISTS)}",
        [],
        id="crlf-marker-with-another-time",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN {INSTALL} && {CLEANUP}\n",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}RUN {INSTALL} && {CLEANUP}\n",
        [],
        id="run-that-cleans-up-already",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN {MOUNTS} {INSTALL}\n",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        + cleaned(f"RUN {MOUNTS} {INSTALL}", cleanup=MOUNTS_CLEANUP),
        [],
        id="cache-mounts",
    ),
    pytest.param(
        'FROM debian:bookworm\nRUN ["apt-get", "install", "-y", "hello"]\n',
        DEBIAN,
        f'{HEAD}FROM debian:bookworm\n{ARG}{step()}RUN ["apt-get", "install", "-y", "hello"]\n',
        [EXEC_NOTE],
        id="exec-form-gets-the-step-and-a-note-but-no-cleanup",
    ),
    pytest.param(
        f"FROM debian:bookworm\r\nRUN {INSTALL}\r\n",
        DEBIAN,
        f"{HEAD.replace(chr(10), chr(13) + chr(10))}FROM debian:bookworm\r\n"
        f"ARG SOURCE_DATE_EPOCH\r\n{step(nl=chr(13) + chr(10))}"
        + cleaned(f"RUN {INSTALL}", "\r\n"),
        [],
        id="crlf",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN {INSTALL}",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}{cleaned(f'RUN {INSTALL}')[:-1]}",
        [],
        id="no-final-newline",
    ),
    pytest.param(
        "FROM debian:bookworm\nRUN apt-get update && \\\n    # why\n    apt-get install -y hello\n",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        + cleaned("RUN apt-get update && \\\n    # why\n    apt-get install -y hello"),
        [],
        id="continuation-with-a-comment-line",
    ),
    pytest.param(
        "FROM debian:bookworm\nRUN apt-get update && apt-get install -y hello # the greeter\n",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        f"RUN apt-get update && apt-get install -y hello \\\n    && {CLEANUP} # the greeter\n",
        [],
        id="cleanup-goes-before-a-trailing-comment",
    ),
    pytest.param(
        "FROM debian:bookworm\nRUN echo '#' && apt-get install -y hello\n",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        + cleaned("RUN echo '#' && apt-get install -y hello", cleanup=NO_LISTS),
        [],
        id="quoted-hash-is-no-comment",
    ),
    pytest.param(
        "FROM debian:bookworm\n  RUN apt-get install -y hello\n",
        DEBIAN,
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        + cleaned("  RUN apt-get install -y hello", cleanup=NO_LISTS),
        [],
        id="indented-run-step-at-column-0",
    ),
    pytest.param(
        "# escape=`\nFROM debian:bookworm\nRUN apt-get install -y hello\n",
        DEBIAN,
        f"# syntax=docker/dockerfile:1.23\n# escape=`\nARG SOURCE_DATE_EPOCH={EPOCH}\n"
        f"FROM debian:bookworm\n{ARG}{step(escape='`')}"
        f"RUN apt-get install -y hello `\n    && {NO_LISTS}\n",
        [],
        id="escape-directive-backtick",
    ),
    pytest.param(
        f"#escape = `\nFROM debian:bookworm\n{step(ts=OLD_TS, escape='`')}RUN apt-get install -y hello\n",
        DEBIAN,
        f"# syntax=docker/dockerfile:1.23\n#escape = `\nARG SOURCE_DATE_EPOCH={EPOCH}\n"
        f"FROM debian:bookworm\n{ARG}{step(escape='`')}"
        f"RUN apt-get install -y hello `\n    && {NO_LISTS}\n",
        [],
        id="escape-directive-step-updated-in-place",
    ),
    pytest.param(
        "# syntax=docker/dockerfile:1.4\nFROM debian:bookworm\n",
        rw(),
        f"{HEAD}FROM debian:bookworm\n{ARG}",
        ["docker/dockerfile:1.4: raised to docker/dockerfile:1.23 for SOURCE_DATE_EPOCH"],
        id="syntax-1.4-raised",
    ),
    pytest.param(
        f"# syntax=docker/dockerfile:1.4@{DIGEST}\nFROM debian:bookworm\n",
        rw(),
        f"{HEAD}FROM debian:bookworm\n{ARG}",
        [f"docker/dockerfile:1.4@{DIGEST}: raised to docker/dockerfile:1.23 for SOURCE_DATE_EPOCH"],
        id="syntax-1.4-with-digest-raised-digest-dropped",
    ),
    pytest.param(
        "# syntax=docker/dockerfile:1\nFROM debian:bookworm\n",
        rw(),
        f"# syntax=docker/dockerfile:1\nARG SOURCE_DATE_EPOCH={EPOCH}\nFROM debian:bookworm\n{ARG}",
        [],
        id="syntax-1-kept",
    ),
    pytest.param(
        "# syntax=docker/dockerfile:1.24\nFROM debian:bookworm\n",
        rw(),
        f"# syntax=docker/dockerfile:1.24\nARG SOURCE_DATE_EPOCH={EPOCH}\nFROM debian:bookworm\n{ARG}",
        [],
        id="syntax-newer-kept",
    ),
    pytest.param(
        "# syntax=example.com/frontends/custom:2\nFROM debian:bookworm\n",
        rw(),
        f"# syntax=example.com/frontends/custom:2\nARG SOURCE_DATE_EPOCH={EPOCH}\n"
        f"FROM debian:bookworm\n{ARG}",
        [
            "example.com/frontends/custom:2: not the docker/dockerfile frontend;"
            " SOURCE_DATE_EPOCH needs 1.23+"
        ],
        id="custom-frontend-noted",
    ),
    pytest.param(
        f"ARG SOURCE_DATE_EPOCH={OLD_EPOCH}\nFROM debian:bookworm\n{ARG}",
        rw(previous_epoch=OLD_EPOCH),
        f"# syntax=docker/dockerfile:1.23\nARG SOURCE_DATE_EPOCH={EPOCH}\nFROM debian:bookworm\n{ARG}",
        [],
        id="global-arg-at-the-previous-epoch-updated",
    ),
    pytest.param(
        "ARG SOURCE_DATE_EPOCH=0\nFROM debian:bookworm\n",
        rw(previous_epoch=OLD_EPOCH),
        f"# syntax=docker/dockerfile:1.23\nARG SOURCE_DATE_EPOCH=0\nFROM debian:bookworm\n{ARG}",
        [],
        id="global-arg-of-the-user-kept",
    ),
    pytest.param(
        "ARG SOURCE_DATE_EPOCH\nFROM debian:bookworm\n",
        rw(),
        f"# syntax=docker/dockerfile:1.23\nARG SOURCE_DATE_EPOCH={EPOCH}\nFROM debian:bookworm\n{ARG}",
        [],
        id="global-arg-without-default-gets-one",
    ),
    pytest.param(
        'ARG A=1 SOURCE_DATE_EPOCH="" B\nFROM debian:bookworm\n',
        rw(),
        f"# syntax=docker/dockerfile:1.23\nARG A=1 SOURCE_DATE_EPOCH={EPOCH} B\n"
        f"FROM debian:bookworm\n{ARG}",
        [],
        id="global-arg-empty-among-others-gets-the-epoch",
    ),
    pytest.param(
        "ARG BASE=debian:bookworm\nFROM ${BASE}\nARG SOURCE_DATE_EPOCH\nRUN true\n",
        rw(),
        f"# syntax=docker/dockerfile:1.23\nARG BASE=debian:bookworm\nARG SOURCE_DATE_EPOCH={EPOCH}\n"
        f"FROM ${{BASE}}\n{ARG}RUN true\n",
        [],
        id="stage-arg-not-duplicated-epoch-after-other-global-args",
    ),
    pytest.param(
        'FROM debian:bookworm\nRUN apt-get update && apt-get install -y hello curl=7.0 "netbase"\n',
        rw(
            {"0": "debian"},
            versions={"0": {"hello": "2.10-3", "curl": "7.88.1-10+deb12u8", "netbase": "6.4"}},
        ),
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        + cleaned(
            'RUN apt-get update && apt-get install -y hello=2.10-3 curl=7.88.1-10+deb12u8 "netbase=6.4"'
        ),
        [],
        id="pin-versions",
    ),
    pytest.param(
        'FROM debian:bookworm\nRUN ["apt-get", "install", "-y", "hello"]\n',
        rw({"0": "debian"}, versions={"0": {"hello": "2.10-3"}}),
        f'{HEAD}FROM debian:bookworm\n{ARG}{step()}RUN ["apt-get", "install", "-y", "hello=2.10-3"]\n',
        [EXEC_NOTE],
        id="pin-versions-exec-form",
    ),
    pytest.param(
        "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
        rw({"0": None}),
        f"{HEAD}FROM alpine:3.20\n{ARG}RUN apk add --no-cache curl\n",
        [],
        id="apk-stage-untouched",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN {INSTALL}\n",
        rw({"0": None}),
        f"{HEAD}FROM debian:bookworm\n{ARG}RUN {INSTALL}\n",
        [],
        id="distro-none-no-step",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN {INSTALL}\n",
        rw(),
        f"{HEAD}FROM debian:bookworm\n{ARG}RUN {INSTALL}\n",
        [],
        id="stage-not-in-distros-no-step",
    ),
]


@pytest.mark.parametrize(("text", "inputs", "expected", "notes"), CASES)
def test_rewrite(text: str, inputs: Rewrite, expected: str, notes: list[str]) -> None:
    assert rewrite(text, inputs) == (expected, notes)


@pytest.mark.parametrize(("text", "inputs", "expected", "notes"), CASES)
def test_rewrite_of_its_own_output_changes_nothing(
    text: str, inputs: Rewrite, expected: str, notes: list[str]
) -> None:
    again, _ = rewrite(expected, inputs)
    assert again == expected


def test_step_is_updated_in_place_not_duplicated() -> None:
    old, _ = rewrite(f"FROM debian:bookworm\nRUN {INSTALL}\n", rw({"0": "debian"}, snapshot=OLD_TS))
    new, _ = rewrite(old, rw({"0": "debian"}))
    lines = new.split("\n")
    assert [s.timestamp for s in sources.find_markers(lines)] == [TS]
    assert new.count(sources.MARKER_PREFIX) == 1
    assert new.replace(TS, OLD_TS) == old


PINNED_SYNTAX = f"# syntax=docker/dockerfile:1.23@{DIGEST}\n"
NOOP_CASES = [
    pytest.param(
        f"{PINNED_SYNTAX}ARG SOURCE_DATE_EPOCH={EPOCH}\nFROM debian:bookworm@{DIGEST}\n{ARG}"
        f"{step()}{cleaned(f'RUN {INSTALL}')}",
        DEBIAN,
        id="locked-debian",
    ),
    pytest.param(
        f"{PINNED_SYNTAX}ARG SOURCE_DATE_EPOCH={EPOCH}\nFROM alpine:3.20\n{ARG}"
        "RUN apk add --no-cache curl\n",
        rw({"0": None}),
        id="locked-apk",
    ),
    pytest.param(
        f"{PINNED_SYNTAX}ARG SOURCE_DATE_EPOCH=0\nFROM scratch\n{ARG}",
        rw(previous_epoch=OLD_EPOCH),
        id="users-epoch",
    ),
    pytest.param(
        f"{PINNED_SYNTAX}ARG SOURCE_DATE_EPOCH={EPOCH}\nFROM debian:bookworm\n{ARG}"
        f"{step()}RUN {MOUNTS} {INSTALL} \\\n    && {MOUNTS_CLEANUP}\n"
        f"RUN {INSTALL}; {CLEANUP}\n",
        DEBIAN,
        id="cleanups-of-both-kinds",
    ),
    pytest.param(
        f"{PINNED_SYNTAX}ARG SOURCE_DATE_EPOCH={EPOCH}\r\nFROM debian:bookworm\r\n"
        f"ARG SOURCE_DATE_EPOCH\r\n{step(nl=chr(13) + chr(10))}RUN apt-get update\r\n",
        DEBIAN,
        id="crlf-update-only",
    ),
]


@pytest.mark.parametrize(("text", "inputs"), NOOP_CASES)
def test_noop(text: str, inputs: Rewrite) -> None:
    assert rewrite(text, inputs) == (text, [])


def test_plans() -> None:
    text = (
        "FROM debian:bookworm AS a\nRUN echo\nRUN apt-get install -y hello\n"
        "FROM a AS b\nRUN apt-get install -y curl\n"
        "FROM alpine:3.20\nRUN apk add curl\n"
        "FROM b\nRUN make\n"
    )
    parsed = dockerfile.parse(text, "Dockerfile")
    got = [
        (p.stage.label, p.manager, [r.line for r in p.apt_runs], p.needs_step)
        for p in reproducible.plans(parsed)
    ]
    assert got == [
        ("a", "apt", [3], True),
        ("b", "apt", [5], False),
        ("2", "apk", [], False),
        ("3", None, [], False),
    ]


def test_plans_of_copies_of_one_parse_are_worked_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # lock asks for the plans of each file three times, of copies sharing its stages and text.
    asked: list[str] = []
    real = commands.package_manager

    def package_manager(run_text: str, *, escape: str = "\\") -> str | None:
        asked.append(run_text)
        return real(run_text, escape=escape)

    monkeypatch.setattr(commands, "package_manager", package_manager)
    # `RUN make` names no manager at all: it is never lexed. `make apt-docs` may, and is.
    text = "FROM debian:bookworm\nRUN apt-get install -y hello\nRUN make apt-docs\nRUN make\n"
    parsed = dockerfile.parse(text, "Dockerfile")
    first = reproducible.plans(parsed)
    again = reproducible.plans(parsed._replace(base_env={}, base_shell={}))
    assert again == first and again is not first
    assert len(asked) == 2
    # Another parse (even of the same text) and an edited text are worked out again.
    other = dockerfile.parse(text.replace("hello", "curl"), "Dockerfile")
    assert [r.line for r in reproducible.plans(other)[0].apt_runs] == [2]
    assert reproducible.plans(dockerfile.parse(text, "Dockerfile")) == first
    assert len(asked) == 6


def test_heredoc_run_gets_its_cleanup_as_the_last_script_line() -> None:
    text = (
        "FROM debian:bookworm\nRUN <<EOF\nset -e\napt-get update\napt-get install -y hello\nEOF\n"
    )
    inputs = rw({"0": "debian"}, versions={"0": {"hello": "2.10-3"}})
    new, _ = rewrite(text, inputs)
    assert new == (
        f"{HEAD}FROM debian:bookworm\n{ARG}{step()}"
        "RUN <<EOF\nset -e\napt-get update\napt-get install -y hello=2.10-3\n"
        f"{CLEANUP}\nEOF\n"
    )
    assert rewrite(new, inputs)[0] == new


def test_escape_directive_multi_line_install_is_found_and_cleaned() -> None:
    text = (
        "# escape=`\nFROM debian:bookworm\nRUN apt-get update && apt-get install -y `\n    hello\n"
    )
    new, _ = rewrite(text, rw({"0": "debian"}))
    assert new == (
        f"# syntax=docker/dockerfile:1.23\n# escape=`\nARG SOURCE_DATE_EPOCH={EPOCH}\n"
        f"FROM debian:bookworm\n{ARG}{step(escape='`')}"
        f"RUN apt-get update && apt-get install -y `\n    hello `\n    && {CLEANUP}\n"
    )
    assert rewrite(new, rw({"0": "debian"}))[0] == new


def test_labs_frontend_keeps_its_suffix_when_raised() -> None:
    text = "# syntax=docker/dockerfile:1.4-labs\nFROM scratch\n"
    parsed = dockerfile.parse(text, "Dockerfile")
    assert reproducible.frontend_needed(parsed) == "docker/dockerfile:1.23-labs"
    new, notes = rewrite(text, rw())
    assert (
        new
        == f"# syntax=docker/dockerfile:1.23-labs\nARG SOURCE_DATE_EPOCH={EPOCH}\nFROM scratch\n{ARG}"
    )
    assert notes == [
        "docker/dockerfile:1.4-labs: raised to docker/dockerfile:1.23-labs for SOURCE_DATE_EPOCH"
    ]


# --------------------------------------------------------------------------- joining the cleanup

# How each ending a RUN's script can have takes the cleanup ({C}); every result must parse.
ENDINGS = [
    pytest.param(
        "set -eux; apt-get update; apt-get install -y hello; rustc --version;",
        "set -eux; apt-get update; apt-get install -y hello; rustc --version \\\n    && {C};",
        [],
        id="semicolon-docker-rust",
    ),
    pytest.param(
        "apt-get update; \\\n    apt-get install -y \\\n        hello \\\n    ; \\\n    true;",
        "apt-get update; \\\n    apt-get install -y \\\n        hello \\\n    ; \\\n    true \\\n"
        "    && {C};",
        [],
        id="semicolon-on-its-own-line-before",
    ),
    pytest.param(
        "apt-get install -y hello; # done",
        "apt-get install -y hello \\\n    && {C}; # done",
        [],
        id="semicolon-then-comment",
    ),
    pytest.param(
        "apt-get install -y hello &",
        "apt-get install -y hello & \\\n    {C}",
        [],
        id="background",
    ),
    pytest.param(
        "apt-get install -y hello &&",
        "apt-get install -y hello &&",
        ["RUN at line 2 ends in `&&`, which is not valid shell; no cleanup added"],
        id="dangling-and",
    ),
    pytest.param(
        "apt-get install -y hello ||",
        "apt-get install -y hello ||",
        ["RUN at line 2 ends in `||`, which is not valid shell; no cleanup added"],
        id="dangling-or",
    ),
    pytest.param(
        "apt-get install -y hello && (cd /tmp && ls)",
        "apt-get install -y hello && (cd /tmp && ls) \\\n    && {C}",
        [],
        id="subshell",
    ),
    pytest.param(
        "if true; then apt-get install -y hello; fi",
        "if true; then apt-get install -y hello; fi \\\n    && {C}",
        [],
        id="if-fi",
    ),
    pytest.param(
        "<<EOF\nset -e\napt-get install -y hello;\nEOF",
        "<<EOF\nset -e\napt-get install -y hello;\n{C}\nEOF",
        [],
        id="heredoc-set-e-semicolon",
    ),
    pytest.param(
        "<<EOF\napt-get update\napt-get install -y hello # why\nEOF",
        "<<EOF\napt-get update\napt-get install -y hello && {C} # why\nEOF",
        [],
        id="heredoc-without-set-e-keeps-the-status",
    ),
    pytest.param(
        "<<EOF\nset -e\napt-get install -y \\\n  hello \\\n\nEOF",
        "<<EOF\nset -e\napt-get install -y \\\n  hello && {C} \\\n\nEOF",
        [],
        id="heredoc-ending-in-a-continuation",
    ),
    pytest.param(
        "bash <<EOF\nset -ex\napt-get install -y hello\nEOF",
        "bash <<EOF\nset -ex\napt-get install -y hello\n{C}\nEOF",
        [],
        id="heredoc-to-bash",
    ),
    pytest.param(
        "cat <<EOF >/etc/apt/apt.conf.d/99retries && apt-get install -y hello\n"
        'Acquire::Retries "3";\nEOF',
        "cat <<EOF >/etc/apt/apt.conf.d/99retries && apt-get install -y hello && {C}\n"
        'Acquire::Retries "3";\nEOF',
        [],
        id="heredoc-as-data-cleanup-on-the-command-line",
    ),
    # The cleanup's line is indented as the RUN's least indented line, comments aside.
    pytest.param(
        "set -eux; \\\n\tapt-get install -y --no-install-recommends \\\n\t\thello \\\n\t; \\\n"
        "# smoke test\n\thello --version",
        "set -eux; \\\n\tapt-get install -y --no-install-recommends \\\n\t\thello \\\n\t; \\\n"
        "# smoke test\n\thello --version \\\n\t&& {C}",
        [],
        id="tabs-as-docker-library-indents",
    ),
    pytest.param(
        "apt-get update \\\n    && apt-get install -y \\\n        hello",
        "apt-get update \\\n    && apt-get install -y \\\n        hello \\\n    && {C}",
        [],
        id="under-the-commands-not-the-package-list",
    ),
    pytest.param(
        "apt-get update \\\n && apt-get install -y hello",
        "apt-get update \\\n && apt-get install -y hello \\\n && {C}",
        [],
        id="one-space-continuations",
    ),
    pytest.param(
        "<<EOF\n  set -e\n  apt-get install -y hello\nEOF",
        "<<EOF\n  set -e\n  apt-get install -y hello\n  {C}\nEOF",
        [],
        id="indented-heredoc-body",
    ),
    # A script's final `exit` stays last: a cleanup after it would never run.
    pytest.param(
        "apt-get install -y hello; exit 0",
        "apt-get install -y hello \\\n    && {C}; exit 0",
        [],
        id="before-a-final-exit",
    ),
    pytest.param(
        "<<EOF\nset -e\napt-get install -y hello\nexit 0\nEOF",
        "<<EOF\nset -e\napt-get install -y hello\n{C}\nexit 0\nEOF",
        [],
        id="heredoc-before-a-final-exit",
    ),
    pytest.param(
        "apt-get install -y hello || exit 0",
        "apt-get install -y hello || exit 0 \\\n    && {C}",
        [],
        id="an-exit-after-or-stays-before-the-cleanup",
    ),
    # A final compound command that can exit with status 0 runs after the cleanup, which would
    # be skipped on that path if it came after; the package manager inside it leaves no place.
    pytest.param(
        "apt-get install -y hello; if [ -f /x ]; then echo done; exit 0; fi",
        "apt-get install -y hello \\\n    && {C}; if [ -f /x ]; then echo done; exit 0; fi",
        [],
        id="before-a-final-if-that-exits",
    ),
    pytest.param(
        "apt-get install -y hello && { hello || exit 0; }",
        "apt-get install -y hello \\\n    && {C} && { hello || exit 0; }",
        [],
        id="before-a-final-brace-group-after-and",
    ),
    pytest.param(
        'apt-get install -y hello; case "$X" in (a) exit;; b) true;; esac',
        'apt-get install -y hello \\\n    && {C}; case "$X" in (a) exit;; b) true;; esac',
        [],
        id="before-a-final-case-arm-that-exits",
    ),
    pytest.param(
        "apt-get install -y hello; for f in /a /b; do [ -e $f ] && exit $?; done",
        "apt-get install -y hello \\\n    && {C}; for f in /a /b; do [ -e $f ] && exit $?; done",
        [],
        id="before-a-final-loop-that-exits",
    ),
    pytest.param(
        "<<EOF\nset -e\napt-get install -y hello\nif [ -f /x ]; then\n  exit 0\nfi\nEOF",
        "<<EOF\nset -e\napt-get install -y hello\n{C}\nif [ -f /x ]; then\n  exit 0\nfi\nEOF",
        [],
        id="heredoc-before-a-final-if-that-exits",
    ),
    pytest.param(
        "apt-get update; if [ -f /x ]; then apt-get install -y hello; exit 0; fi",
        "apt-get update; if [ -f /x ]; then apt-get install -y hello; exit 0; fi",
        [
            "RUN at line 2 runs the package manager in a final command that can `exit` before a"
            " cleanup joined on would run; no cleanup added"
        ],
        id="an-install-inside-a-final-if-that-exits-gets-no-cleanup",
    ),
    pytest.param(
        "apt-get install -y hello; if true; then (exit 0); fi",
        "apt-get install -y hello; if true; then (exit 0); fi \\\n    && {C}",
        [],
        id="an-exit-in-a-subshell-leaves-the-if-before-the-cleanup",
    ),
    pytest.param(
        "apt-get install -y hello && { hello || exit 1; }",
        "apt-get install -y hello && { hello || exit 1; } \\\n    && {C}",
        [],
        id="an-exit-that-fails-the-build-leaves-the-group-before-the-cleanup",
    ),
    # A status that is no number int() takes ("²" passes str.isdigit) may be anything, as $rc.
    pytest.param(
        "apt-get install -y hello && { hello || exit ²; }",
        "apt-get install -y hello \\\n    && {C} && { hello || exit ²; }",
        [],
        id="an-exit-with-a-superscript-status-may-exit-0",
    ),
    pytest.param(
        "apt-get install -y hello && { hello || exit " + "9" * 5000 + "; }",
        "apt-get install -y hello \\\n    && {C} && { hello || exit " + "9" * 5000 + "; }",
        [],
        id="an-exit-with-a-5000-digit-status-may-exit-0",
    ),
    pytest.param(
        "apt-get install -y hello; [ -f /x ] && exit 0 || true",
        "apt-get install -y hello \\\n    && {C}; [ -f /x ] && exit 0 || true",
        [],
        id="before-a-final-list-that-exits",
    ),
    pytest.param(
        "apt-get install -y hello; if [ -f /x ]; then exit 0; fi && hello",
        "apt-get install -y hello \\\n    && {C}; if [ -f /x ]; then exit 0; fi && hello",
        [],
        id="before-a-final-list-whose-if-exits",
    ),
    pytest.param(
        "apt-get update; apt-get install -y hello && if [ -f /x ]; then exit 0; fi",
        "apt-get update; apt-get install -y hello \\\n    && {C} && if [ -f /x ]; then exit 0; fi",
        [],
        id="after-the-install-in-the-final-list",
    ),
    # Joined before `exit 0`, the cleanup would be skipped where `[` fails and the list goes on.
    pytest.param(
        "apt-get install -y hello && [ -f /x ] && exit 0 || true",
        "apt-get install -y hello && [ -f /x ] && exit 0 || true \\\n    && {C}",
        [],
        id="an-exit-inside-the-only-list-stays-before-the-cleanup",
    ),
    # ClickHouse's docker/server/Dockerfile.ubuntu: an exit before the installs skips no cleanup.
    pytest.param(
        "clickhouse local -q 1 >/dev/null 2>&1 && exit 0 || : \\\n    ; apt-get install -y hello",
        "clickhouse local -q 1 >/dev/null 2>&1 && exit 0 || : \\\n    ; apt-get install -y hello"
        " \\\n    && {C}",
        [],
        id="an-exit-before-the-installs-leaves-the-cleanup-last",
    ),
]


@pytest.mark.parametrize(("run", "expected", "notes"), ENDINGS)
def test_cleanup_keeps_every_ending_valid_shell(run: str, expected: str, notes: list[str]) -> None:
    text = f"FROM debian:bookworm\nRUN {run}\n"
    cleanup = sources.cleanup_for(f"RUN {run}")
    assert cleanup is not None
    new, got_notes = rewrite(text, DEBIAN)
    assert (
        new == f"{HEAD}FROM debian:bookworm\n{ARG}{step()}RUN {expected.replace('{C}', cleanup)}\n"
    )
    assert got_notes == notes
    if not notes:
        assert shell_syntax.run_errors(new) == []
        assert rewrite(new, DEBIAN)[0] == new


def test_the_docker_rust_ending_was_a_syntax_error_to_append_to() -> None:
    """The oracle itself: the old join (`; \\` then `&& ...`) is what dash and busybox refuse."""
    broken = "FROM debian:bookworm\nRUN rustc --version; \\\n    && apt-get clean\n"
    assert [e.split(":")[1].strip() for e in shell_syntax.run_errors(broken)] == [
        "dash",
        "busybox sh",
    ]


def rewritten_as_parsed(
    text: str, inputs: Rewrite, platforms: tuple[str, ...] = (dockerfile.DEFAULT_PLATFORM,)
) -> reproducible.Rewritten:
    """The rewrite of text; its uses, when it gives them, are those a parse of its text finds."""
    parsed = dockerfile.parse(text, "Dockerfile", {}, platforms)
    result = reproducible.rewritten(parsed, inputs)
    if result.uses is not None:
        assert result.uses == dockerfile.parse(result.text, "Dockerfile", {}, platforms).uses
    return result


@pytest.mark.parametrize(("text", "inputs", "expected", "notes"), CASES)
def test_the_rewrite_moves_the_uses_as_a_new_parse_finds_them(
    text: str, inputs: Rewrite, expected: str, notes: list[str]
) -> None:
    result = rewritten_as_parsed(text, inputs)
    # Only a raised frontend version changes a use: then lock parses the new text.
    assert (result.uses is None) == any("raised to" in note for note in notes)


FROM_APP = "FROM registry.example/app:1 AS app\n"
USES_CASES = [
    pytest.param(f"  FROM debian:bookworm\n  RUN {INSTALL}\n", DEBIAN, id="indented"),
    pytest.param(
        "# escape=`\r\nFROM debian:bookworm\r\nRUN apt-get update && `\r\n  apt-get install -y"
        " hello\r\nCOPY --from=registry.example/tools:2 /bin/t /bin/t\r\n",
        DEBIAN,
        id="escape-directive-crlf-copy-from",
    ),
    pytest.param(
        f"ARG BASE=debian:bookworm\nFROM ${{BASE}}\nRUN --mount=from=registry.example/cache:1"
        f",target=/c {INSTALL}\nFROM \\\n  registry.example/app:1\n",
        DEBIAN,
        id="arg-default-site-mount-from-continued-from",
    ),
    pytest.param(
        f"FROM debian:bookworm\nRUN <<EOF\n{INSTALL}\nEOF\n{FROM_APP}COPY --from=app / /\n",
        DEBIAN,
        id="heredoc-and-a-named-stage",
    ),
    pytest.param(
        f"{PINNED_SYNTAX}ARG SOURCE_DATE_EPOCH={OLD_EPOCH}\nFROM debian:bookworm\n{ARG}"
        f"{step(ts=OLD_TS)}{cleaned(f'RUN {INSTALL}')}{FROM_APP}",
        rw({"0": "debian"}, previous_epoch=OLD_EPOCH),
        id="relocked-at-a-new-time",
    ),
]


@pytest.mark.parametrize(("text", "inputs"), USES_CASES)
def test_uses_after_the_rewrite_are_those_of_a_new_parse(text: str, inputs: Rewrite) -> None:
    result = rewritten_as_parsed(text, inputs)
    assert result.uses is not None
    assert result.text != text


def test_uses_named_per_platform_move_with_the_rewrite() -> None:
    text = "FROM registry.example/app-${TARGETARCH}:1\nFROM debian:bookworm\n"
    result = rewritten_as_parsed(text, rw(), ("linux/amd64", "linux/arm64"))
    assert result.uses is not None
    assert [(u.line, u.used_by) for u in result.uses] == [
        (1, "syntax"),
        (5, "stage 1: FROM"),
        (3, "stage 0: FROM on linux/amd64"),
        (3, "stage 0: FROM on linux/arm64"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "ARG T=${SOURCE_DATE_EPOCH:-0}\nFROM registry.example/app:${T}\n", id="global"
        ),
        pytest.param("FROM registry.example/app:1\nARG V=${SOURCE_DATE_EPOCH:-1}\n", id="stage"),
        pytest.param("# syntax=docker/dockerfile:1.4\nFROM registry.example/app:1\n", id="raised"),
    ],
)
def test_a_new_parse_is_asked_for_where_the_rewrite_may_change_a_use(text: str) -> None:
    assert rewritten_as_parsed(text, rw()).uses is None


def test_an_apt_run_through_sudo_under_a_user_gets_its_cleanup_through_sudo() -> None:
    # A non-root USER cannot empty apt's caches: `apt-get clean` fails on its lock file and the
    # build with it. Each cleanup command goes through the sudo the RUN's apt commands use, and
    # the step goes above the USER, where it still writes the sources as root.
    text = (
        "FROM example/with-sudo:1\nUSER app\n"
        "RUN sudo apt-get update && sudo apt-get install -y --no-install-recommends hello\n"
    )
    new, notes = rewrite(text, rw({"0": "debian"}))
    as_root = " && ".join(f"sudo {command}" for command in CLEANUP.split(" && "))
    assert new == (
        f"{HEAD}FROM example/with-sudo:1\n{ARG}{step()}USER app\n"
        "RUN sudo apt-get update && sudo apt-get install -y --no-install-recommends hello \\\n"
        f"    && {as_root}\n"
    )
    assert notes == []
    assert shell_syntax.run_errors(new) == []
    assert rewrite(new, rw({"0": "debian"}))[0] == new


def test_an_apt_run_as_root_and_through_sudo_at_once_keeps_a_plain_cleanup() -> None:
    text = "FROM debian:bookworm\nRUN apt-get update && sudo apt-get install -y hello\n"
    new, _ = rewrite(text, rw({"0": "debian"}))
    assert new.endswith(f"sudo apt-get install -y hello \\\n    && {CLEANUP}\n")


DNF_STEP = ("sed -i 's|^metalink=.*|baseurl=https://compose.invalid/|' /etc/yum.repos.d/x.repo",)
DNF_MARKER = f"# pinner: dnf snapshot {TS}\nRUN {DNF_STEP[0]}\n"
APT_RUN = "RUN sudo apt-get update && sudo apt-get install -y --no-install-recommends hello\n"
DNF_RUN = "RUN sudo dnf install -y curl\n"
# Stages FROM a stage whose USER is not root: the step is written as root, with `USER root`
# above it and the inherited user back below it, where no USER of the stage itself took it off
# root (then the step goes above that USER). Values: the text, the rewrite, the text expected
# right above the install RUN (the step, wrapped or not) and between FROM's ARG and that.
INHERITED_USER = {
    "apt-parent-user": (
        f"FROM example/with-sudo:1 AS base\nUSER app\n\nFROM base\n{APT_RUN}",
        rw({"1": "debian"}),
        f"FROM base\n{ARG}USER root\n{step()}USER app\n{APT_RUN[:-1]} \\\n",
    ),
    "apt-grandparent-user-and-group": (
        "FROM example/with-sudo:1 AS base\nUSER app:app\nFROM base AS mid\nRUN true\n"
        f"FROM mid\n{APT_RUN}",
        rw({"2": "debian"}),
        f"FROM mid\n{ARG}USER root\n{step()}USER app:app\n{APT_RUN[:-1]} \\\n",
    ),
    "apt-parent-root-again": (
        f"FROM example/with-sudo:1 AS base\nUSER app\nUSER 0\n\nFROM base\n{APT_RUN}",
        rw({"1": "debian"}),
        f"FROM base\n{ARG}{step()}{APT_RUN[:-1]} \\\n",
    ),
    "apt-stage-switches-to-root": (
        f"FROM example/with-sudo:1 AS base\nUSER app\n\nFROM base\nUSER root\n{APT_RUN}",
        rw({"1": "debian"}),
        f"FROM base\n{ARG}USER root\n{step()}{APT_RUN[:-1]} \\\n",
    ),
    "apt-stage-switches-user-again": (
        f"FROM example/with-sudo:1 AS base\nUSER app\n\nFROM base\nUSER builder\n{APT_RUN}",
        rw({"1": "debian"}),
        f"FROM base\n{ARG}USER builder\nUSER root\n{step()}USER builder\n{APT_RUN[:-1]} \\\n",
    ),
    "apt-user-from-env": (
        "FROM example/with-sudo:1 AS base\nENV NB_USER=jovyan\nUSER ${NB_USER}\n\n"
        f"FROM base\n{APT_RUN}",
        rw({"1": "debian"}),
        f"FROM base\n{ARG}USER root\n{step()}USER ${{NB_USER}}\n{APT_RUN[:-1]} \\\n",
    ),
    "dnf-parent-user": (
        f"FROM fedora:41 AS base\nRUN useradd app\nUSER app\n\nFROM base\n{DNF_RUN}",
        Rewrite(TS, EPOCH, {"1": "fedora"}, {}, {}, steps={"1": DNF_STEP}),
        f"FROM base\n{ARG}USER root\n{DNF_MARKER}USER app\n{DNF_RUN[:-1]} \\\n",
    ),
    "dnf-parent-user-switched-in-stage": (
        f"FROM fedora:41 AS base\nUSER app\n\nFROM base\nUSER root\nRUN true\nUSER app\n{DNF_RUN}",
        Rewrite(TS, EPOCH, {"1": "fedora"}, {}, {}, steps={"1": DNF_STEP}),
        f"FROM base\n{ARG}USER root\nRUN true\n{DNF_MARKER}USER app\n{DNF_RUN[:-1]} \\\n",
    ),
}


@pytest.mark.parametrize("case", sorted(INHERITED_USER))
def test_the_step_runs_as_root_under_a_user_inherited_from_the_parent_stage(case: str) -> None:
    text, inputs, expected = INHERITED_USER[case]
    new, notes = rewrite(text, inputs)
    assert notes == []
    assert expected in new
    # The cleanup goes through sudo, as the install does.
    assert "\n    && sudo " in new
    assert shell_syntax.run_errors(new) == []
    assert rewrite(new, inputs)[0] == new


def test_a_user_an_arg_names_in_the_parent_stage_is_not_written_again() -> None:
    # `USER $U` in a stage FROM it would name no one (ARG values do not carry over): the step
    # stays right above the RUN, as it was placed before.
    text = f"FROM example/with-sudo:1 AS base\nARG U=app\nUSER $U\n\nFROM base\n{APT_RUN}"
    new, _ = rewrite(text, rw({"1": "debian"}))
    assert f"FROM base\n{ARG}{step()}{APT_RUN[:-1]}" in new
    assert "USER root" not in new


# An Ubuntu desktop image's rm of apt's logs (search excerpt, no repository), whose braces only
# bash expands.
BRACED_RM = (
    "RUN apt-get update && apt-get install -y hello && apt-get clean"
    " && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/ldconfig"
    " /var/log/{alternatives.log,apt/{history.log,term.log},dpkg.log}\n"
)
BASH = 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\n'  # hadolint DL4006's form
ALL_LOGS = "rm -rf /var/log/dpkg.log /var/log/apt/* /var/log/alternatives.log"


@pytest.mark.parametrize(
    ("text", "cleanup"),
    [
        # dash, Debian's /bin/sh, keeps the braces: the logs are left.
        (f"FROM debian:bookworm\n{BRACED_RM}", ALL_LOGS),
        (f"FROM debian:bookworm\n{BASH}{BRACED_RM}", None),
        (f'FROM debian:bookworm\nSHELL ["/bin/sh", "-c"]\n{BRACED_RM}', ALL_LOGS),
        (f'FROM debian:bookworm\nSHELL ["/usr/bin/zsh", "-c"]\n{BRACED_RM}', None),
        # A SHELL after the RUN does not run it; one in the stage it is FROM does.
        (f"FROM debian:bookworm\n{BRACED_RM}{BASH}", ALL_LOGS),
        (f"FROM debian:bookworm AS base\n{BASH}FROM base\n{BRACED_RM}", None),
        (f"FROM debian:bookworm AS base\n{BASH}FROM debian:bookworm\n{BRACED_RM}", ALL_LOGS),
        (f'FROM debian:bookworm\n{BASH}SHELL ["/bin/dash", "-c"]\n{BRACED_RM}', ALL_LOGS),
    ],
)
def test_an_apt_run_expands_braces_where_its_shell_does(text: str, cleanup: str | None) -> None:
    distros = {str(k): "debian" for k in range(text.count("FROM "))}
    new, notes = rewrite(text, rw(distros))
    assert notes == []
    if cleanup is None:
        assert BRACED_RM in new
    else:
        assert f"{BRACED_RM[:-1]} \\\n    && {cleanup}\n" in new
    assert shell_syntax.run_errors(new) == []
    assert rewrite(new, rw(distros))[0] == new


# cfe84/gitomatic Docker/build-docker-image.Dockerfile: bash added, then `SHELL ["/bin/bash",
# "-c"]`; the rm is meiskam's dashd Dockerfile's `rm -rf /var/cache/{apk,tcpdump}/*` (search
# excerpts), which BusyBox ash, Alpine's /bin/sh, keeps as written.
APK_BRACES = "RUN apk add curl && rm -rf /var/cache/{apk,tcpdump}/*\n"
GITOMATIC = (
    "FROM docker:cli-alpine\nRUN apk add --no-cache \\\n    bash \\\n"
    '    && rm -rf /var/cache/apk/*\nSHELL ["/bin/bash", "-c"]\n'
)


@pytest.mark.parametrize(
    ("text", "appended"),
    [
        (f"FROM alpine:3.20\n{APK_BRACES}", True),
        (f"{GITOMATIC}{APK_BRACES}", False),
    ],
)
def test_an_apk_run_expands_braces_where_its_shell_does(text: str, appended: bool) -> None:
    new, notes = rewrite(text, rw({"0": "alpine"}))
    assert notes == []
    assert (f"{APK_BRACES[:-1]} \\\n    && rm -rf /var/cache/apk/*\n" in new) is appended
    assert (APK_BRACES in new) is not appended
    assert shell_syntax.run_errors(new) == []


APK_NOTE = (
    "RUN at line 2 runs the package manager in a final command that can `exit` before a"
    " cleanup joined on would run; no cleanup added"
)


@pytest.mark.parametrize(
    ("run", "expected", "notes"),
    [
        (
            "apk add curl; if [ -f /x ]; then exit 0; fi",
            "apk add curl \\\n    && rm -rf /var/cache/apk/*; if [ -f /x ]; then exit 0; fi",
            [],
        ),
        (
            "apk add curl; if [ -f /x ]; then apk add git; exit 0; fi",
            "apk add curl; if [ -f /x ]; then apk add git; exit 0; fi",
            [APK_NOTE],
        ),
    ],
    ids=["before-the-if", "apk-inside-the-if"],
)
def test_an_apk_cleanup_goes_before_a_final_if_that_exits(
    run: str, expected: str, notes: list[str]
) -> None:
    new, got = rewrite(f"FROM alpine:3.20\nRUN {run}\n", rw({"0": "alpine"}))
    assert got == notes
    assert f"\nRUN {expected}\n" in new
    assert shell_syntax.run_errors(new) == []
    assert rewrite(new, rw({"0": "alpine"}))[0] == new


@pytest.mark.parametrize(
    ("shell", "default", "expands"),
    [
        (None, False, False),
        (None, True, True),
        ("sh", True, True),
        ("sh", False, False),
        ("bash", False, True),
        ("zsh", False, True),
        ("mksh", False, True),
        ("dash", True, False),
        ("ash", True, False),
        ("busybox", True, False),
        ("pwsh", False, False),
    ],
)
def test_which_shells_expand_braces(shell: str | None, default: bool, expands: bool) -> None:
    assert expands_braces(shell, default) is expands


# netdata's .github/dockerfiles/Dockerfile.clang: a copied script fetches the lists (and installs
# with them), then a RUN installs with those lists without fetching them again.
NETDATA = "COPY install-required-packages.sh /tmp/\nRUN /tmp/install-required-packages.sh\n"


@pytest.mark.parametrize(
    ("install", "above_script"),
    [
        ("apt-get install -y clang", True),
        ("apt-get update && apt-get install -y clang", False),
    ],
)
def test_the_step_goes_above_a_copied_script_that_fetches_the_lists_a_later_install_reads(
    install: str, above_script: bool
) -> None:
    text = f"FROM debian:bookworm\n{NETDATA}RUN {install}\n"
    new, notes = rewrite(text, DEBIAN)
    assert notes == []
    assert (f"{step()}RUN /tmp/install-required-packages.sh\n" in new) is above_script
    assert (f"{step()}RUN {install}" in new) is not above_script
    assert new.count(sources.MARKER_PREFIX) == 1
    assert rewrite(new, DEBIAN)[0] == new


def test_foreign_architectures_are_those_the_stage_and_its_parents_add() -> None:
    # A stage FROM another keeps the architectures dpkg was told of there.
    text = (
        "FROM debian:bookworm AS base\nRUN dpkg --add-architecture i386\n"
        "FROM base AS game\nRUN dpkg --add-architecture armhf && apt-get install -y steamcmd\n"
        "FROM debian:bookworm\nRUN apt-get install -y curl\n"
    )
    parsed = dockerfile.parse(text, "Dockerfile")
    found = [reproducible.foreign_architectures(parsed, s) for s in parsed.stages]
    assert found == [("i386",), ("i386", "armhf"), ()]


@pytest.mark.parametrize(
    ("later", "kept"),
    [
        # grafana's Dockerfile: `RUN apt-get update`, then one `RUN apt-get install` per package.
        ("RUN apt-get install -y vim\n", True),
        ("FROM 0\nRUN apt-get install -y vim\n", True),
        ("RUN apt-get update && apt-get install -y vim\n", False),
        ("RUN apt-get install --update -y vim\n", False),
        ("RUN apt-get update\nFROM 0\nRUN apt-get install -y vim\n", False),
        ("RUN apt-get purge -y hello\n", False),
        ("FROM debian:bookworm\nRUN apt-get install -y vim\n", False),
        ("", False),
        # discourse's image/base: a stage FROM the one that installs runs a script it ADDs,
        # which installs with the lists (`apt -y -q install meson ...`); pinner cannot read it.
        ("FROM 0\nADD install-vips /tmp/install-vips\nRUN /tmp/install-vips\n", True),
        ("COPY --chmod=755 setup/ /usr/local/bin/\nRUN setup --all\n", True),
        ("COPY build.sh /tmp/\nRUN bash -e /tmp/build.sh\n", True),
        ("COPY env.sh /etc/\nRUN . /etc/env.sh && make\n", True),
        ("COPY build.sh /tmp/\nRUN apt-get update && /tmp/build.sh\n", False),
        ("RUN /tmp/install-vips\nADD install-vips /tmp/install-vips\n", False),
        ("COPY build.sh /tmp/\nRUN sh -c 'echo /tmp/build.sh'\n", False),
        # superset's Dockerfile: a script from the build context on a bind mount.
        ("RUN --mount=type=bind,target=/nag.sh,src=./docker/nag.sh /nag.sh\n", True),
        ("RUN --mount=type=bind,source=docker,target=/s sh /s/setup.sh\n", True),
        ("RUN --mount=type=bind,source=docker,target=/s cat /s/setup.sh\n", False),
        # A file of a folder copied in, named by its path under the destination.
        ("COPY . /app\nRUN /app/scripts/install-deps.sh --all\n", True),
        ("COPY . .\nRUN ./scripts/install-deps.sh\n", True),
        ("COPY . /app\nRUN /usr/local/bin/tool\n", False),
        ("COPY . .\nRUN /usr/local/bin/tool\n", False),
    ],
)
def test_lists_a_later_install_reads_are_not_removed(later: str, kept: bool) -> None:
    text = f"FROM debian:bookworm\nRUN {INSTALL}\n{later}"
    new, _ = rewrite(text, rw({"0": "debian", "1": "debian"}))
    assert (f"RUN {INSTALL} \\\n    && {NO_LISTS}\n" in new) is kept
    assert (f"RUN {INSTALL} \\\n    && {CLEANUP}\n" in new) is not kept
    parsed = dockerfile.parse(text, "Dockerfile")
    run = parsed.stages[0].instructions[1]
    assert reproducible.lists_read_later(parsed, parsed.stages[0], run) is kept
