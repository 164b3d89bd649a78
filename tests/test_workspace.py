"""workspace.Reading: a run's files read ahead, over many in a forked process while the first
process imports the registry code; whoever reads them, the entries are read()'s."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli import no_process, reaped
from offline_lock import write_locked

from pinner import parallel
from pinner.errors import UsageError
from pinner.main import main
from pinner.workspace import Reading, Selection, read

FILES = 2 * parallel.MIN_PER_PROCESS


@pytest.fixture(autouse=True)
def two_cpus_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two CPUs, and no thread counts (an earlier test may have left a server thread)."""
    monkeypatch.setattr(parallel, "cpus", lambda: 2)
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The pids of the processes forked to read, as they are made."""
    made: list[int] = []
    real = parallel.Child

    def child(*args: object) -> parallel.Child[object]:
        forked = real(*args)  # type: ignore[arg-type]
        made.append(forked.pid)
        return forked

    monkeypatch.setattr(parallel, "Child", child)
    yield made


def tree_of(root: Path, files: int) -> Selection:
    """files Dockerfiles: locked ones, bare ones, a lock that does not parse, one not UTF-8."""
    for n in range(files):
        folder = root / f"svc{n:03}"
        folder.mkdir(parents=True)
        if n % 3:
            write_locked(folder)
        else:
            (folder / "Dockerfile").write_text(f"FROM alpine:3.{n}\n")
    (root / "svc001" / "Dockerfile.lock").write_text("not = [toml")
    (root / "svc003" / "Dockerfile").write_bytes(b"FROM \xff\n")
    return Selection([str(root)], {})


@pytest.mark.parametrize("lock_texts", [True, False])
def test_many_files_are_read_in_a_child_as_read_reads_them(
    tmp_path: Path, children: list[int], lock_texts: bool
) -> None:
    files = tree_of(tmp_path, FILES)
    reading = Reading(files, lock_texts=lock_texts)
    assert len(children) == 1
    assert reading.result() == read(files, lock_texts=lock_texts)
    assert reaped(set(children))


@pytest.mark.parametrize(("files", "cpus"), [(FILES - 1, 2), (FILES, 1)])
def test_few_files_or_one_cpu_are_read_here(
    tmp_path: Path,
    children: list[int],
    monkeypatch: pytest.MonkeyPatch,
    files: int,
    cpus: int,
) -> None:
    monkeypatch.setattr(parallel, "cpus", lambda: cpus)
    selection = tree_of(tmp_path, files)
    reading = Reading(selection)
    assert children == []
    assert reading.result() == read(selection)


def test_a_child_that_dies_leaves_the_reading_here(tmp_path: Path, children: list[int]) -> None:
    files = tree_of(tmp_path, FILES)
    reading = Reading(files)
    os.kill(children[0], signal.SIGKILL)
    assert reading.result() == read(files)
    assert reaped(set(children))


def test_a_reading_stopped_is_killed_and_reaped(tmp_path: Path, children: list[int]) -> None:
    reading = Reading(tree_of(tmp_path, FILES))
    reading.stop()
    reading.stop()  # a second stop does nothing
    assert reaped(set(children))


def test_no_process_to_be_had_reads_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = tree_of(tmp_path, FILES)
    descriptors = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fork", no_process)
    assert Reading(files).result() == read(files)
    assert len(os.listdir("/proc/self/fd")) == descriptors


def test_a_missing_path_is_a_usage_error_before_any_process(
    tmp_path: Path, children: list[int]
) -> None:
    with pytest.raises(UsageError):
        Reading(Selection([str(tmp_path / "missing")], {}))
    assert children == []


@pytest.mark.parametrize("command", ["lock", "update"])
@pytest.mark.parametrize(
    "wrong", [["--snapshot", "yesterday"], ["--registry-mirror", "docker.io=ftp://mirror"]]
)
def test_a_usage_error_found_while_the_files_are_read_stops_the_reading(
    tmp_path: Path,
    children: list[int],
    capsys: pytest.CaptureFixture[str],
    command: str,
    wrong: list[str],
) -> None:
    tree_of(tmp_path, FILES)
    assert main([command, *wrong, str(tmp_path)]) == 2
    assert len(children) == 1
    assert reaped(set(children))
    assert capsys.readouterr().err.startswith("pinner: --")
