"""`lock` over many files: a forked helper parses and locks most of them while the first process
asks the registry. Whatever the split, the run says and writes what one process alone would.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli import no_process, on_one_cpu_and_two, punted_files, run, tree_files
from registryd import Registry, push_image

from pinner import parallel, reference, stagework
from pinner.commands import lock as lock_command
from pinner.outcome import Outcome
from pinner.remote.session import Session
from pinner.workspace import Target

pytestmark = pytest.mark.usefixtures("docker_config")

SNAPSHOT = "20260101T000000Z"
FILES = 12


@pytest.fixture
def hub(registry: Registry) -> str:
    """The test registry as Docker Hub too: the frontend the rewrite pins lives there."""
    push_image(registry, "docker/dockerfile", "1.23")
    for name in ("base", "tools", "runtime"):
        for tag in ("1", "2", "3"):
            push_image(registry, f"helper/{name}", tag, seed=f"{name}{tag}")
    return registry.host


def write_tree(root: Path, host: str) -> None:
    """FILES Dockerfiles sharing a few images: stages, an ARG in FROM, a stage FROM a stage."""
    for n in range(FILES):
        folder = root / f"svc{n:02}"
        folder.mkdir(parents=True)
        name = ("base", "tools", "runtime")[n % 3]
        text = f"ARG BASE={host}/helper/{name}:{1 + n % 2}\nFROM ${{BASE}} AS build\nRUN true\n"
        if n % 4 == 1:
            text += f"FROM {host}/helper/tools:2\nCOPY --from=build /a /a\n"
        if n % 5 == 2:
            text += "FROM build AS again\nRUN echo again\n"
        (folder / "Dockerfile").write_text(text)


Said = dict[int, tuple[int, str, str, dict[str, bytes]]]  # by CPUs: exit, stdout, stderr, files
LockBoth = Callable[..., Said]


@pytest.fixture
def lock_both(
    hub: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> LockBoth:
    """Copy a tree, change the copy, lock it (`--json`, or the options given) with one CPU and
    with two: what each said and wrote; with two, a helper must have been forked."""
    monkeypatch.setattr(parallel, "MIN_PER_PROCESS", 4)
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    helpers: list[object] = []
    real_peer = parallel.Peer

    def peer(*args: object, **kwargs: object) -> parallel.Peer:
        helpers.append(args)
        return real_peer(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "Peer", peer)

    def both(tree: Path, change: Callable[[Path], None], *options: str) -> Said:
        def lock(cpus: int, copy: Path) -> tuple[int, str, str, dict[str, bytes]]:
            change(copy)
            before = len(helpers)
            code, out, err = run(
                capsys,
                "lock",
                *(options or ["--json"]),
                "--registry-mirror",
                f"docker.io=http://{hub}",
                "--snapshot",
                SNAPSHOT,
                ".",
            )
            assert len(helpers) - before == (cpus - 1), "a helper forks with two CPUs alone"
            return code, out, err, tree_files(copy)

        return on_one_cpu_and_two(monkeypatch, tree, tmp_path, lock)

    return both


def unchanged(_: Path) -> None:
    pass


@pytest.fixture
def tree(hub: str, tmp_path: Path) -> Path:
    """The tree, not locked yet."""
    tree = tmp_path / "tree"
    write_tree(tree, hub)
    return tree


@pytest.fixture
def locked_tree(tree: Path, hub: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """The tree, locked once."""
    mirror = f"docker.io=http://{hub}"
    assert (
        run(capsys, "lock", "--registry-mirror", mirror, "--snapshot", SNAPSHOT, str(tree))[0] == 0
    )
    return tree


def test_a_first_lock_says_and_writes_the_same_with_a_helper(
    tree: Path, lock_both: LockBoth
) -> None:
    said = lock_both(tree, unchanged)
    assert said[1] == said[2]
    code, out, err, written = said[2]
    assert code == 0, err
    assert len(json.loads(out)["files"]) == FILES
    assert sum(name.endswith(".lock") for name in written) == FILES
    assert all("@sha256:" in written[f"svc{n:02}/Dockerfile"].decode() for n in range(FILES))


def test_a_relock_of_edited_files_is_the_same_with_a_helper(
    hub: str, locked_tree: Path, lock_both: LockBoth
) -> None:
    """The files with a lock are shared between the two processes; edited ones ask again."""

    def edit(copy: Path) -> None:
        for n in (1, 5):
            path = copy / f"svc{n:02}" / "Dockerfile"
            path.write_text(path.read_text().replace("tools:2@", "tools:3@"))
        new = copy / "svc99"
        new.mkdir()
        (new / "Dockerfile").write_text(f"FROM {hub}/helper/base:3\n")

    said = lock_both(locked_tree, edit)
    assert said[1] == said[2]
    code, out, err, written = said[2]
    assert code == 0, err
    assert json.loads(out)["requests"]["HEAD"] == 2  # tools:3 and base:3; the locks answer the rest
    assert "svc99/Dockerfile.lock" in written


@pytest.mark.parametrize("where", ["first", "helper's", "both"])
def test_files_that_do_not_parse_fail_the_run_alike(
    where: str, locked_tree: Path, lock_both: LockBoth
) -> None:
    """Parse errors of both processes' files are told in the files' order; nothing is written."""
    # Files with a lock alternate: the first process takes svc00, svc02, ...; the helper the rest.
    broken = {"first": (4,), "helper's": (5,), "both": (2, 7, 10)}[where]

    def breaks(copy: Path) -> None:
        for n in broken:
            (copy / f"svc{n:02}" / "Dockerfile").write_text("FROM ${NOT_DECLARED}\n")

    said = lock_both(locked_tree, breaks)
    assert said[1] == said[2]
    code, out, _, written = said[2]
    assert code == 1
    problems = [e.split(":")[0] for e in json.loads(out)["errors"]]
    assert problems == [f"svc{n:02}/Dockerfile" for n in broken]
    before = tree_files(locked_tree)
    for n in broken:
        before[f"svc{n:02}/Dockerfile"] = b"FROM ${NOT_DECLARED}\n"
    assert written == before


def test_images_the_registry_fails_are_told_in_order(
    hub: str, tree: Path, lock_both: LockBoth
) -> None:
    def missing(copy: Path) -> None:
        for n in (1, 6, 11):
            path = copy / f"svc{n:02}" / "Dockerfile"
            path.write_text(path.read_text() + f"FROM {hub}/helper/missing:{n}\n")

    said = lock_both(tree, missing)
    assert said[1] == said[2]
    code, out, _, written = said[2]
    assert code == 1
    problems = json.loads(out)["errors"]
    assert [p.split(":")[0] for p in problems] == [f"svc{n:02}/Dockerfile" for n in (1, 6, 11)]
    assert all("helper/missing" in problem for problem in problems)
    assert not any(name.endswith(".lock") for name in written)


@pytest.mark.parametrize("when", ["at once", "after asking", "after locking some", "no process"])
def test_a_helper_that_fails_leaves_its_files_to_the_first_process(
    when: str,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    lock_both: LockBoth,
) -> None:
    parent = os.getpid()

    def fail_in_the_helper(real: Callable[..., object], after: int = 0) -> Callable[..., object]:
        calls = []

        def failing(*args: object, **kwargs: object) -> object:
            calls.append(1)
            if os.getpid() != parent and len(calls) > after:
                raise RuntimeError("the helper fails")
            return real(*args, **kwargs)

        return failing

    if when == "at once":
        monkeypatch.setattr(lock_command, "_help", fail_in_the_helper(lock_command._help))
    elif when == "after asking":
        answered = fail_in_the_helper(lock_command._Waiting.answered)
        monkeypatch.setattr(lock_command._Waiting, "answered", answered)
    elif when == "after locking some":  # what it sent is dropped: the files are locked anew
        locked_three = fail_in_the_helper(lock_command._ForkedLocking.lock, after=3)
        monkeypatch.setattr(lock_command._ForkedLocking, "lock", locked_three)
    else:
        monkeypatch.setattr(os, "fork", no_process)
    said = lock_both(tree, unchanged)
    assert said[1] == said[2]
    assert said[2][0] == 0, said[2][2]


def test_a_file_whose_lock_sends_a_request_is_locked_by_the_first_process(
    hub: str,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    lock_both: LockBoth,
) -> None:
    """The helper sends no request (the connections are the first process's): a lock that
    would (a base image's files, a snapshot index) is punted to the first process."""
    real = stagework.lock_target

    async def asking_lock_target(session: Session, target: Target, *args: object) -> Outcome:
        if target.path.endswith(("svc03/Dockerfile", "svc07/Dockerfile")):
            await session.registry.head(reference.parse(f"{hub}/helper/runtime:3"))
        return await real(session, target, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(stagework, "lock_target", asking_lock_target)
    monkeypatch.setattr(lock_command, "_MIN_HANDED_BACK", FILES + 1)  # none handed back
    punted = punted_files(monkeypatch)
    said = lock_both(tree, unchanged)
    assert sorted(punted) == [3, 7]
    assert said[1] == said[2]
    code, out, err, _ = said[2]
    assert code == 0, err
    assert json.loads(out)["requests"]["HEAD"] == 2 + 7  # runtime:3 per punted file, the tree's 7


def test_a_helper_behind_when_every_answer_is_in_hands_files_back(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lock_both: LockBoth
) -> None:
    """The first process has nothing left to do once every answer is in: it locks the last of
    the files the helper has not locked yet, and the run says and writes the same."""
    parent = os.getpid()
    answered = tmp_path / "answered"  # made by the first process once it sent every answer
    real_lock_waiting = lock_command._Share.lock_waiting
    real_lock = lock_command._ForkedLocking.lock
    slept = []

    async def lock_waiting(share: lock_command._Share, answers: lock_command.Answers) -> None:
        answered.touch()  # the helper has been sent _Answered
        await real_lock_waiting(share, answers)

    async def late_lock(forked: lock_command._ForkedLocking, *args: object) -> None:
        if os.getpid() != parent and not slept:  # the helper's first lock waits for them all
            slept.append(1)
            deadline = time.monotonic() + 30
            while not answered.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        await real_lock(forked, *args)  # type: ignore[arg-type]

    def afresh(_: Path) -> None:
        answered.unlink(missing_ok=True)

    monkeypatch.setattr(lock_command._Share, "lock_waiting", lock_waiting)
    monkeypatch.setattr(lock_command._ForkedLocking, "lock", late_lock)
    punted = punted_files(monkeypatch)
    said = lock_both(tree, afresh)
    # Every file waits for answers in the helper: it locks one, then hands back 40% of the rest,
    # the last the answers let go.
    assert len(set(punted)) == len(punted) == (FILES - 1) * 40 // 100
    assert said[1] == said[2]
    assert said[2][0] == 0, said[2][2]


def test_a_dry_run_prints_the_same_diffs_with_a_helper(
    hub: str, locked_tree: Path, lock_both: LockBoth
) -> None:
    """--dry-run keeps the locks' texts for the diffs: the helper's files' come back with them."""

    def edit(copy: Path) -> None:
        for n in (0, 1, 6, 7):  # files of both processes
            path = copy / f"svc{n:02}" / "Dockerfile"
            path.write_text(path.read_text().replace(":2@", ":3@").replace(":1@", ":3@"))

    said = lock_both(locked_tree, edit, "--dry-run")
    assert said[1] == said[2]
    code, out, err, written = said[2]
    assert code == 0, err
    assert [line for line in out.splitlines() if line.startswith("+++ ")] == [
        f"+++ b/svc{n:02}/{name}"
        for n in (0, 1, 6, 7)
        for name in ("Dockerfile", "Dockerfile.lock")
    ]
    edited = {f"svc{n:02}/Dockerfile" for n in (0, 1, 6, 7)}
    assert {k: v for k, v in written.items() if k not in edited} == {
        k: v for k, v in tree_files(locked_tree).items() if k not in edited
    }  # nothing written


def test_a_lock_of_many_files_prints_three_build_commands_and_a_line_for_the_rest(
    hub: str, tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree)
    mirror = f"docker.io=http://{hub}"
    code, _, err = run(capsys, "lock", "--registry-mirror", mirror, "--snapshot", SNAPSHOT, ".")
    assert code == 0, err
    blocks = [line for line in err.splitlines() if line.endswith(" reproducibly with:")]
    assert blocks == [f"Build svc{n:02}/Dockerfile reproducibly with:" for n in range(3)]
    assert len(re.findall(r"^  buildah build -f svc0\d/Dockerfile --timestamp ", err, re.M)) == 3
    assert err.splitlines()[-1] == (
        f"Build the other {FILES - 3} Dockerfiles the same way, each with the flags"
        " `pinner build-args FILE` prints (--json lists every command)"
    )
