"""Values that double at each step (`ARG B=$A$A`, `A=$A$A` in a RUN, apk's `set B=${A}${A}`):
a kilobyte of text would otherwise ask for 2^40 characters. Each case runs in a process whose
address space is capped at 1 GiB, so a regression fails with a MemoryError instead of filling
the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOUBLINGS = 40


def bounded(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """script run by Python in a process that may map at most 1 GiB."""
    limit = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
    return subprocess.run(
        [sys.executable, "-c", limit + script],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "Dockerfile").write_text(text)
    script = "from pinner.main import main\nraise SystemExit(main(['check', 'Dockerfile']))"
    return bounded(script, tmp_path)


def doubled_args(first: str) -> str:
    lines = [f"ARG A0={first}"]
    lines += [f"ARG A{i + 1}=${{A{i}}}${{A{i}}}" for i in range(DOUBLINGS)]
    return "\n".join(lines) + "\n"


def test_an_arg_doubled_past_a_mebibyte_is_one_error_line(tmp_path: Path) -> None:
    done = check(tmp_path, doubled_args("xy") + f"FROM alpine:${{A{DOUBLINGS}}}\n")

    # A19 holds 2^20 characters; A20 would take in twice that.
    assert done.stdout == "Dockerfile:21: ${A19}${A19}: expands to over 1048576 characters\n"
    assert (done.stderr, done.returncode) == ("1 finding(s) in 1 file(s)\n", 1)


def test_an_unset_variable_under_doubled_args_is_named_once(tmp_path: Path) -> None:
    # Each ARG carries the unset variables its default used; doubling them made 2^40 entries.
    done = check(tmp_path, doubled_args("$X") + f"FROM alpine:3.19${{A{DOUBLINGS}}}\n")

    assert done.stdout == f"Dockerfile:{DOUBLINGS + 2}: $X: ARG X is not declared\n"
    assert (done.stderr, done.returncode) == ("1 finding(s) in 1 file(s)\n", 1)


def test_a_shell_variable_doubled_in_a_run_becomes_unknown(tmp_path: Path) -> None:
    run = "A=xy; " + "A=$A$A; " * DOUBLINGS + "apt-get install -y $A"
    script = (
        "from pinner.apt.shell import run_invocations\n"
        f"(install,) = run_invocations({run!r})\n"
        "print(*(word.text for word in install.args))\n"
    )
    done = bounded(script, tmp_path)

    # Past 2^16 characters the value is no longer followed: the word stays as written.
    assert (done.stdout, done.stderr) == ("install -y $A\n", "")


def test_an_apk_repositories_variable_doubled_is_not_read(tmp_path: Path) -> None:
    lines = ["set A0=x"] + [f"set A{i + 1}=${{A{i}}}${{A{i}}}" for i in range(DOUBLINGS)]
    lines.append(f"https://dl-cdn.alpinelinux.org/${{A{DOUBLINGS}}}/main")
    script = (
        "from pinner.managers.apk import repository_lines\n"
        "variables = {}\n"
        f"found = [repository_lines(line, variables) for line in {lines!r}]\n"
        "print(max(map(len, variables.values())), found[-1])\n"
    )
    done = bounded(script, tmp_path)

    assert done.stderr == ""
    # A11 (2,048 characters) is the last one set; the URL using A40 is not read.
    assert done.stdout.startswith("2048 [\"repositories line 'https://dl-cdn.alpinelinux.org/")
