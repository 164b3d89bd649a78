"""`pinner check`'s reproducibility findings: snapshot steps, packages and SOURCE_DATE_EPOCH.

Each case starts from a Dockerfile and lock as `pinner lock` writes them, made offline with the
same pure functions the engine runs (rewritten, pin, render), then changes one thing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from offline_lock import (
    DOCKERFILE,
    EPOCH,
    HELLO_RUN,
    NETBASE_RUN,
    STAGES,
    TS,
    write_locked,
)

from pinner import lockfile
from pinner.apt import sources
from pinner.commands.check import _commands_differ
from pinner.lockfile import LockedStage
from pinner.main import main

CLEANUP = " \\\n    && " + sources.cleanup_for(HELLO_RUN)
OK = "1 file(s) pinned and in agreement with their locks\n"


def ok(path: Path) -> str:
    """What a passing check says of a lock whose made-up base image no cache holds."""
    return (
        f"{path}.lock: package entries not verified: the cache lacks the base image or the"
        " snapshot's indexes; pinner check --remote verifies them\n" + OK
    )


def change(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) == count, (old, text.count(old))
    path.write_text(text.replace(old, new))


def line_of(path: Path, start: str, nth: int = 1) -> int:
    """The number of the nth line that starts with start, or is start when it ends in "$"."""
    lines = path.read_text().split("\n")
    if start.endswith("$"):
        numbers = [n for n, line in enumerate(lines, 1) if line == start[:-1]]
    else:
        numbers = [n for n, line in enumerate(lines, 1) if line.startswith(start)]
    return numbers[nth - 1]


def check(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> tuple[int, str, str]:
    code = main(["check", *args, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_fresh_lock_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_locked(tmp_path)
    text = path.read_text()
    assert text.count(sources.MARKER_PREFIX) == 1  # stage 1 inherits build's step
    assert text.count(CLEANUP) == 2
    assert check(capsys, path) == (0, "", ok(path))


def _remove_step(path: Path) -> None:
    lines = path.read_text().split("\n")
    step = sources.find_marker(lines)
    assert step is not None
    path.write_text("\n".join(lines[: step.start] + lines[step.end :]))


def test_snapshot_step_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_locked(tmp_path)
    _remove_step(path)
    code, out, err = check(capsys, path)
    assert (code, err) == (1, "2 finding(s) in 1 file(s)\n")
    assert out == (
        f"{path}:{line_of(path, HELLO_RUN)}: stage build:"
        f" apt runs without pinner's snapshot step at {TS}\n"
        f"{path}:{line_of(path, NETBASE_RUN)}: stage 1:"
        f" apt runs without pinner's snapshot step at {TS}\n"
    )


def test_snapshot_step_at_another_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_locked(tmp_path)
    text = path.read_text()
    assert (text.count(f"debian {TS}\n"), text.count(f"/{TS}") > 1) == (1, True)
    path.write_text(text.replace(TS, "20200101T000000Z"))  # the marker and the step's URIs
    code, out, _ = check(capsys, path)
    assert code == 1
    assert out.splitlines()[0] == (
        f"{path}:{line_of(path, HELLO_RUN)}: stage build:"
        f" apt runs without pinner's snapshot step at {TS}"
    )


def test_apt_run_added_above_the_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_locked(tmp_path)
    lines = path.read_text().split("\n")
    lines.insert(line_of(path, sources.MARKER_PREFIX) - 1, f"RUN apt-get install -y curl{CLEANUP}")
    path.write_text("\n".join(lines))
    code, out, _ = check(capsys, path)
    curl = line_of(path, "RUN apt-get install -y curl")
    assert (code, out) == (
        1,
        f"{path}:{curl}: stage build: apt runs without pinner's snapshot step at {TS}\n"
        f"{path}:{curl}: stage build: packages differ from the lock (new: curl; gone: none)\n",
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "--no-install-recommends hello ",
            "--no-install-recommends hello curl ",
            "packages differ from the lock (new: curl; gone: none)",
            id="added",
        ),
        pytest.param(
            "--no-install-recommends hello ",
            "--no-install-recommends curl ",
            "packages differ from the lock (new: curl; gone: hello)",
            id="replaced",
        ),
        pytest.param(
            "--no-install-recommends hello ",
            "--no-install-recommends hello=2.10-3 ",
            None,
            id="version-written-same-package",
        ),
    ],
)
def test_packages_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str | None
) -> None:
    path = write_locked(tmp_path)
    change(path, old, new)
    code, out, _ = check(capsys, path)
    if message is None:
        assert (code, out) == (0, "")
    else:
        line = line_of(path, "RUN apt-get update && apt-get install")
        assert (code, out) == (1, f"{path}:{line}: stage build: {message}\n")


def test_cleanup_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_locked(tmp_path)
    change(path, f"--no-install-recommends hello{CLEANUP}", "--no-install-recommends hello")
    code, out, _ = check(capsys, path)
    assert (code, out) == (
        1,
        f"{path}:{line_of(path, HELLO_RUN)}:"
        " apt leaves files that differ between builds; run pinner lock\n",
    )


@pytest.mark.parametrize(
    "words", ["-y ./hello.deb", "-y $PACKAGES", "-y --fix-missing", "upgrade -y"]
)
def test_an_install_whose_packages_are_not_read_needs_its_cleanup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], words: str
) -> None:
    # paperless-ngx's `apt-get install ... ${BUILD_PACKAGES}`, discourse's local .deb files: apt
    # leaves its lists and logs whether or not pinner reads what is installed.
    run = (
        f"RUN apt-get update && apt-get {'' if words.startswith('upgrade') else 'install '}{words}"
    )
    text = DOCKERFILE.replace(f"{HELLO_RUN}\n", f"{HELLO_RUN}\n{run}\n")
    path = write_locked(tmp_path, text)
    assert f"{run} \\\n    && apt-get clean && rm -rf /var/lib/apt/lists/*" in path.read_text()
    assert check(capsys, path) == (0, "", ok(path))
    change(path, f"{run} \\\n    && {sources.cleanup_for(run)}", run)
    code, out, _ = check(capsys, path)
    assert (code, out) == (
        1,
        f"{path}:{line_of(path, run)}: apt leaves files that differ between builds; run pinner lock\n",
    )


def test_global_arg_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_locked(tmp_path)
    change(path, f"ARG SOURCE_DATE_EPOCH={EPOCH}\n", "")
    code, out, err = check(capsys, path)
    assert (code, out, err) == (
        1,
        f"{path}: no global ARG SOURCE_DATE_EPOCH={EPOCH} before the first FROM\n",
        "1 finding(s) in 1 file(s)\n",
    )


def test_global_arg_of_another_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_locked(tmp_path)
    change(path, f"ARG SOURCE_DATE_EPOCH={EPOCH}\n", "ARG SOURCE_DATE_EPOCH=1\n")
    code, out, _ = check(capsys, path)
    line = line_of(path, "ARG SOURCE_DATE_EPOCH=1")
    assert (code, out) == (
        1,
        f"{path}:{line}: ARG SOURCE_DATE_EPOCH=1 differs from the lock ({EPOCH})\n",
    )


@pytest.mark.parametrize(
    ("nth", "label", "from_line"), [(1, "build", "FROM debian"), (2, "1", "FROM build")]
)
def test_stage_arg_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nth: int, label: str, from_line: str
) -> None:
    path = write_locked(tmp_path)
    lines = path.read_text().split("\n")
    del lines[line_of(path, "ARG SOURCE_DATE_EPOCH$", nth) - 1]
    path.write_text("\n".join(lines))
    code, out, _ = check(capsys, path)
    assert (code, out) == (
        1,
        f"{path}:{line_of(path, from_line)}: stage {label}:"
        " no ARG SOURCE_DATE_EPOCH, so RUN steps cannot see it\n",
    )


def test_stage_missing_from_the_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_locked(tmp_path)
    lock_path = tmp_path / "Dockerfile.lock"
    lock = lockfile.parse(lock_path.read_text(), str(lock_path))
    lock_path.write_text(lockfile.render(lock._replace(stages=lock.stages[1:]), "Dockerfile"))
    code, out, _ = check(capsys, path)
    assert (code, out) == (
        1,
        f"{path}:{line_of(path, HELLO_RUN)}: stage build: apt packages are not locked;"
        f" run pinner lock {path}\n",
    )


APK_DOCKERFILE = f"{DOCKERFILE}\nFROM alpine:3.20\nRUN apk add --no-cache curl\n"
APK_STAGE = LockedStage(
    stage="2",
    package_manager="apk",
    notes=("pinned, not rebuildable once the branch moves on",),
)
APK_WARNING = "stage 2: apk packages pinned, not rebuildable once the branch moves on"


def test_apk_stage_is_a_warning_that_does_not_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_locked(tmp_path, APK_DOCKERFILE, (*STAGES, APK_STAGE))
    code, out, err = check(capsys, path)
    assert (code, out, err) == (
        0,
        f"{path}:{line_of(path, 'FROM alpine')}: warning: {APK_WARNING}\n",
        ok(path),
    )


def test_an_apk_stage_missing_from_the_lock_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_locked(tmp_path, APK_DOCKERFILE, STAGES)
    code, out, _ = check(capsys, path)
    assert (code, out) == (
        1,
        f"{path}:{line_of(path, 'RUN apk')}: stage 2: apk packages are not locked;"
        f" run pinner lock {path}\n",
    )


def test_json_has_severity_and_ok_follows_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_locked(tmp_path, APK_DOCKERFILE, (*STAGES, APK_STAGE))
    code, out, _ = check(capsys, path, "--json")
    assert code == 0
    assert json.loads(out) == {
        "ok": True,
        "files": 1,
        "findings": [
            {
                "path": str(path),
                "line": line_of(path, "FROM alpine"),
                "reference": None,
                "message": APK_WARNING,
                "severity": "warning",
            }
        ],
    }

    change(path, f"ARG SOURCE_DATE_EPOCH={EPOCH}\n", "")
    code, out, _ = check(capsys, path, "--json")
    data = json.loads(out)
    assert (code, data["ok"]) == (1, False)
    assert [(f["severity"], f["message"]) for f in data["findings"]] == [
        ("error", f"no global ARG SOURCE_DATE_EPOCH={EPOCH} before the first FROM"),
        ("warning", APK_WARNING),
    ]


def test_a_warning_does_not_hide_a_stale_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_locked(tmp_path, APK_DOCKERFILE, (*STAGES, APK_STAGE))
    lock_path = tmp_path / "Dockerfile.lock"
    change(
        lock_path,
        'signature = "verified"',
        'signature = "not checked: gpgv is not installed"',
        count=2,
    )
    # Stale in substance (a use renamed by hand), not only in layout.
    lock_path.write_text(
        re.sub(r'used-by = \["stage ', 'used-by = ["stage renamed-', lock_path.read_text(), count=1)
    )
    code, out, _ = check(capsys, path)
    assert (code, out) == (
        1,
        f"{path}:{line_of(path, 'FROM alpine')}: warning: {APK_WARNING}\n"
        f"{lock_path}: out of date; run pinner lock {path}\n",
    )


def test_a_fresh_lock_under_a_backtick_escape_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The inserted step continues its lines with ` here; check must find it all the same.
    path = write_locked(tmp_path, f"# escape=`\n{DOCKERFILE}")
    assert "`\n" in path.read_text()
    assert check(capsys, path) == (0, "", ok(path))


def test_check_reads_the_global_epoch_lock_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two global declarations: lock keeps the first up to date, so check reads the first.
    path = write_locked(tmp_path, f"ARG SOURCE_DATE_EPOCH\nARG SOURCE_DATE_EPOCH=7\n{DOCKERFILE}")
    assert check(capsys, path) == (0, "", ok(path))


def test_a_run_that_is_not_valid_shell_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docker-rust's ending with the old join: `rustc --version; \\` then `&& apt-get clean`."""
    path = write_locked(tmp_path)
    change(
        path, f"--no-install-recommends hello{CLEANUP}", f"--no-install-recommends hello;{CLEANUP}"
    )
    code, out, _ = check(capsys, path)
    line = line_of(path, HELLO_RUN)
    assert (code, out) == (
        1,
        f'{path}:{line}: RUN is not valid shell (dash: 1: Syntax error: "&&" unexpected)\n'
        f'{path}:{line}: RUN is not valid shell (busybox sh: syntax error: unexpected "&&")\n',
    )


def test_a_bash_stage_is_parsed_by_bash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An array assignment is bash, not sh: with SHELL bash it is not a finding."""
    text = DOCKERFILE.replace(
        f"{HELLO_RUN}\n", f'SHELL ["/bin/bash", "-c"]\n{HELLO_RUN} && a=(1 2)\n'
    )
    path = write_locked(tmp_path, text)
    assert check(capsys, path) == (0, "", ok(path))
    change(path, 'SHELL ["/bin/bash", "-c"]\n', "")
    code, out, _ = check(capsys, path)
    assert code == 1
    assert 'RUN is not valid shell (dash: 1: Syntax error: "(" unexpected)' in out


@pytest.mark.parametrize(
    ("shell", "base_shell"),
    [('SHELL ["/bin/bash", "-c"]\n', ""), ("", 'base-shell = "bash"\n')],
    ids=["a-stage-it-is-from", "its-base-image"],
)
def test_a_run_under_a_bash_it_inherits_is_parsed_by_bash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shell: str, base_shell: str
) -> None:
    """The SHELL of the stage a stage is FROM, or the base image's Shell as the lock recorded
    it, is the one its RUNs run under."""
    text = DOCKERFILE.replace(f"{HELLO_RUN}\n", f"{HELLO_RUN}\n{shell}").replace(
        f"{NETBASE_RUN}\n", f"{NETBASE_RUN} && a=(1 2)\n"
    )
    path = write_locked(tmp_path, text)
    lock = path.with_name(path.name + ".lock")
    lock.write_text(lock.read_text().replace("[[stage]]\n", f"[[stage]]\n{base_shell}"))
    assert check(capsys, path) == (0, "", ok(path))
    lock.write_text(lock.read_text().replace(base_shell, ""))
    if shell:
        change(path, shell, "")
    code, out, _ = check(capsys, path)
    assert code == 1
    assert 'RUN is not valid shell (dash: 1: Syntax error: "(" unexpected)' in out


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        pytest.param(
            "Dockerfile", b"FROM debian\nRUN true\n\xff\n", 3, "not valid UTF-8", id="utf8"
        ),
        pytest.param("Dockerfile", b"RUN true\n", None, "no FROM instruction", id="no-from"),
        pytest.param(
            "Dockerfile",
            b"ARG X\nFROM debian:$X\n",
            2,
            "$X: ARG X has no default; pass --build-arg X=...",
            id="arg",
        ),
        pytest.param(
            "docker-compose.yml",
            b"services: [\n",
            2,
            "not valid YAML: expected the node content, but found '<stream end>'",
            id="yaml",
        ),
    ],
)
def test_a_file_that_does_not_load_is_a_finding_with_its_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    line: int | None,
    message: str,
) -> None:
    # A folder name with a colon: the path must not be cut at it.
    path = tmp_path / "a:b" / name
    path.parent.mkdir()
    path.write_bytes(content)
    code, out, _ = check(capsys, path, "--json")
    assert code == 1
    finding = {"path": str(path), "line": line, "reference": None, "message": message}
    assert json.loads(out)["findings"] == [{**finding, "severity": "error"}]
    assert check(capsys, path)[1] == f"{path}{'' if line is None else f':{line}'}: {message}\n"


@pytest.mark.parametrize(
    ("shell", "base_shell", "finding"),
    [
        ("", "", True),
        ('SHELL ["/bin/bash", "-c"]\n', "", False),
        # The base image's config Shell, as lock recorded it.
        ("", 'base-shell = "bash"\n', False),
        ("", 'base-shell = "dash"\n', True),
    ],
)
def test_a_cleanup_with_braces_counts_where_the_shell_expands_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shell: str, base_shell: str, finding: bool
) -> None:
    path = write_locked(tmp_path)
    lock = path.with_name(path.name + ".lock")
    lock.write_text(lock.read_text().replace("[[stage]]\n", f"[[stage]]\n{base_shell}"))
    braced = (
        " && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin"
        " /var/log/{dpkg.log,apt/*,alternatives.log} /var/cache/ldconfig/aux-cache"
    )
    change(
        path, f"--no-install-recommends hello{CLEANUP}", f"--no-install-recommends hello{braced}"
    )
    change(path, HELLO_RUN, f"{shell}{HELLO_RUN}")
    code, out, _ = check(capsys, path)
    # dash, Debian's /bin/sh, removes no file named `/var/log/{dpkg.log,apt/*,alternatives.log}`.
    message = " apt leaves files that differ between builds; run pinner lock\n"
    assert (code, out) == (
        (1, f"{path}:{line_of(path, HELLO_RUN)}:{message}") if finding else (0, "")
    )


HELLO_COMMAND = "apt-get install -y --no-install-recommends hello"
HELLO_WORDS = "-y --no-install-recommends hello "


@pytest.mark.parametrize(
    ("words", "command"),
    [
        pytest.param(HELLO_WORDS, None, id="unchanged"),
        pytest.param("-y --no-install-recommends hello=2.10-3 ", None, id="version-pinned"),
        pytest.param(
            "-y --no-install-recommends hello/bookworm-backports ",
            "apt-get install -y --no-install-recommends hello/bookworm-backports",
            id="release",
        ),
        pytest.param(
            "-y --no-install-recommends hello:arm64 ",
            "apt-get install -y --no-install-recommends hello:arm64",
            id="arch",
        ),
        pytest.param(
            "-y -t bookworm-backports --no-install-recommends hello ",
            "apt-get install -y -t bookworm-backports --no-install-recommends hello",
            id="target-release",
        ),
    ],
)
def test_an_apt_install_command_changed_since_the_lock_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], words: str, command: str | None
) -> None:
    """The lock records each apt install command, words as name[:arch][/release]: another
    release or architecture of the same name, or a -t, picks other builds than the lock's."""
    build, other = STAGES
    path = write_locked(tmp_path, stages=(build._replace(commands=(HELLO_COMMAND,)), other))
    assert check(capsys, path)[0] == 0
    if words != HELLO_WORDS:
        change(path, HELLO_WORDS, words)
    code, out, _ = check(capsys, path)
    if command is None:
        assert (code, out) == (0, "")
        return
    line = line_of(path, "RUN apt-get update && apt-get install")
    assert (code, out) == (
        1,
        f"{path}:{line}: stage build: install command `{command}` was `{HELLO_COMMAND}` in the"
        " lock\n",
    )


@pytest.mark.parametrize(
    ("commands", "locked", "said"),
    [
        (["dnf install -y"], ["dnf install -y"], None),
        (
            ["dnf -y module enable nodejs:20", "dnf install -y"],
            ["dnf install -y"],
            "install command `dnf -y module enable nodejs:20` is not in the lock",
        ),
        (
            ["dnf install -y"],
            ["dnf install -y", "dnf install -y --nobest"],
            "install command `dnf install -y --nobest` of the lock is gone",
        ),
        (
            ["dnf install -y", "dnf -y module enable nodejs:18", "dnf install -y"],
            ["dnf install -y", "dnf -y module enable nodejs:20", "dnf install -y"],
            "install command `dnf -y module enable nodejs:18` was"
            " `dnf -y module enable nodejs:20` in the lock",
        ),
    ],
)
def test_a_changed_install_command_is_named(
    commands: list[str], locked: list[str], said: str | None
) -> None:
    """An added or removed command is named as such, not as a change of the ones after it."""
    assert _commands_differ(commands, locked) == said
