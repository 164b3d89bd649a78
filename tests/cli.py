"""Run pinner's command line in-process as the tests do, on one CPU and on two to compare, and
read what README promises of it."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pinner import parallel
from pinner.main import main

Said = TypeVar("Said")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `pinner ARGV`."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def on_one_cpu_and_two(
    monkeypatch: pytest.MonkeyPatch, tree: Path, copies: Path, say: Callable[[int, Path], Said]
) -> dict[int, Said]:
    """What say(cpus, copy) returns with 1 CPU, then 2, each run in a fresh copies/cpusN of tree."""
    said = {}
    for cpus in (1, 2):
        copy = copies / f"cpus{cpus}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(tree, copy)
        monkeypatch.chdir(copy)
        monkeypatch.setattr(parallel, "cpus", lambda cpus=cpus: cpus)
        said[cpus] = say(cpus, copy)
    return said


def no_process() -> int:
    """os.fork on a machine out of processes: what the forking paths must survive."""
    raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")


def punted_files(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The files a lock's helper gives the first process to lock, by index, as they come."""
    from pinner.commands import lock as lock_command

    punted: list[int] = []
    real_message = lock_command._Helper._message

    def message(helper: lock_command._Helper, message: object) -> None:
        if isinstance(message, lock_command._Punted):
            punted.append(message.at)
        real_message(helper, message)

    monkeypatch.setattr(lock_command._Helper, "_message", message)
    return punted


def reaped(pids: set[int]) -> bool:
    """Whether none of pids is a child still to be waited for (running or a zombie)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return True


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file below root, by its path from root: what a run wrote, to compare as bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def readme_schema() -> dict[str, Any]:
    """The JSON Schema block of README's "JSON output" section."""
    section = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```json\n(.*?)\n```", section.split("## JSON output\n", 1)[1], re.DOTALL)
    assert block is not None
    schema: dict[str, Any] = json.loads(block[1])
    return schema
