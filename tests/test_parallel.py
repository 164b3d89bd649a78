"""parallel.map_shares: the same results in the same order, shared over forked processes."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from cli import no_process, on_one_cpu_and_two, reaped
from offline_lock import write_locked

from pinner import parallel
from pinner.main import main

ITEMS = list(range(3 * parallel.MIN_PER_PROCESS))


def map_files(work: Callable[[int], object], items: Sequence[int], processes: int) -> list[object]:
    """[work(i) for i in items], through map_shares on a machine of as many CPUs as processes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parallel, "cpus", lambda: processes)
        return parallel.map_shares(lambda share: [work(i) for i in share], items)


@pytest.fixture
def alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """No thread counts: an earlier test in this worker may have left a server thread running."""
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)


def pids_of_children(log: Path) -> set[int]:
    return {int(line) for line in log.read_text().split()} - {os.getpid()}


def logging_pid(log: Path) -> None:
    with log.open("a") as out:
        out.write(f"{os.getpid()}\n")


@pytest.mark.usefixtures("alone")
@pytest.mark.parametrize("processes", [2, 3])
def test_results_come_back_in_order_from_as_many_processes(processes: int) -> None:
    results = map_files(lambda i: (i * i, os.getpid()), ITEMS, processes)
    assert [square for square, _ in results] == [i * i for i in ITEMS]
    pids = {pid for _, pid in results}
    assert len(pids) == processes and os.getpid() in pids
    assert reaped(pids - {os.getpid()})


@pytest.mark.usefixtures("alone")
def test_few_items_stay_in_this_process() -> None:
    few = ITEMS[: 2 * parallel.MIN_PER_PROCESS - 1]
    assert {pid for pid in map_files(lambda i: os.getpid(), few, 2)} == {os.getpid()}


def test_a_running_thread_keeps_the_work_in_this_process() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        pids = set(map_files(lambda i: os.getpid(), ITEMS, 2))
    finally:
        stop.set()
        thread.join()
    assert pids == {os.getpid()}


@pytest.mark.usefixtures("alone")
def test_an_error_in_a_child_is_raised_here_as_without_forking(tmp_path: Path) -> None:
    parent, log = os.getpid(), tmp_path / "pids"

    def work(i: int) -> int:
        logging_pid(log)
        if i == 1 and os.getpid() != parent:  # item 1 is the child's with two processes
            raise ValueError(f"bad item {i}")
        if i == 1:
            raise ValueError(f"bad item {i} (here)")
        return i

    with pytest.raises(ValueError, match=r"^bad item 1 \(here\)$"):
        map_files(work, ITEMS, 2)
    children = pids_of_children(log)
    assert len(children) == 1 and reaped(children)


@pytest.mark.usefixtures("alone")
def test_a_child_killed_leaves_its_share_to_this_process(tmp_path: Path) -> None:
    parent, log = os.getpid(), tmp_path / "pids"

    def work(i: int) -> int:
        if os.getpid() != parent:
            logging_pid(log)
            os.kill(os.getpid(), signal.SIGKILL)
        return -i

    assert map_files(work, ITEMS, 3) == [-i for i in ITEMS]
    children = pids_of_children(log)
    assert len(children) == 2 and reaped(children)


@pytest.mark.usefixtures("alone")
def test_an_error_here_stops_and_reaps_the_children(tmp_path: Path) -> None:
    parent, log = os.getpid(), tmp_path / "pids"

    def work(i: int) -> int:
        if os.getpid() != parent:
            logging_pid(log)
            signal.pause()  # a child still at work when this process fails
        deadline = time.monotonic() + 30
        while len(pids_of_children(log) if log.exists() else ()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        raise KeyError("first")

    with pytest.raises(KeyError):
        map_files(work, ITEMS, 3)
    children = pids_of_children(log)
    assert len(children) == 2 and reaped(children)


@pytest.mark.usefixtures("alone")
def test_check_says_the_same_over_many_files_shared_or_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Findings, notices and JSON of `check` do not depend on how many processes read the files."""
    monkeypatch.setattr(parallel, "MIN_PER_PROCESS", 8)
    tree = tmp_path / "tree"
    for n in range(40):
        folder = tree / f"svc{n:03}"
        folder.mkdir(parents=True)
        path = write_locked(folder)
        if n % 13 == 5:
            path.write_text(path.read_text().replace("@sha256:", "@sha256:0", 1))
        if n % 17 == 7:
            (folder / "Dockerfile.lock").write_text("not = [toml")
        if n % 19 == 11:
            path.write_text(path.read_text() + "FROM alpine:3.20\n")

    def check(*_: object) -> tuple[int, str, str, int, str]:
        code = main(["check", "."])
        out, err = capsys.readouterr()
        json_code = main(["check", "--json", "."])
        return code, out, err, json_code, capsys.readouterr().out

    said = on_one_cpu_and_two(monkeypatch, tree, tmp_path, check)
    assert said[1] == said[2]
    code, out, err, _, _ = said[2]
    assert code == 1
    assert out.count("not pinned to a digest") == 2  # n = 11, 30
    assert out.count("svc") == len(out.splitlines())
    assert "finding(s) in 40 file(s)" in err


@pytest.mark.usefixtures("alone")
def test_no_process_to_be_had_leaves_the_work_here(monkeypatch: pytest.MonkeyPatch) -> None:
    descriptors = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fork", no_process)

    results = map_files(lambda i: (i, os.getpid()), ITEMS, 3)

    assert results == [(i, os.getpid()) for i in ITEMS]
    assert len(os.listdir("/proc/self/fd")) == descriptors


@pytest.mark.parametrize(
    ("v2", "v1", "want"),
    [
        ("max 100000\n", None, 2),
        ("150000 100000\n", None, 2),  # docker run --cpus 1.5
        ("100000 100000\n", None, 1),
        ("50000 100000\n", None, 1),
        ("800000 100000\n", None, 2),  # a quota above the CPUs there are
        (None, ("100000", "100000"), 1),
        (None, ("-1", "100000"), 2),
        ("garbage\n", None, 2),
        (None, None, 2),
    ],
)
def test_cpus_follow_a_containers_quota(
    v2: str | None,
    v1: tuple[str, str] | None,
    want: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(parallel, "CGROUP_V2", str(tmp_path / "cpu.max"))
    monkeypatch.setattr(parallel, "CGROUP_V1", (str(tmp_path / "quota"), str(tmp_path / "period")))
    if v2 is not None:
        (tmp_path / "cpu.max").write_text(v2)
    if v1 is not None:
        (tmp_path / "quota").write_text(v1[0])
        (tmp_path / "period").write_text(v1[1])

    assert parallel.cpus() == want


def talk(work: Callable[[parallel.Link], None], *sent: object) -> tuple[list[object], bool, int]:
    """Run a Peer: send it each of sent at once, collect what it says until it ends.

    Returns its messages, the ok given to on_end, and its pid."""
    import asyncio

    async def conversation() -> tuple[list[object], bool, int]:
        said: list[object] = []
        ended: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        peer = parallel.Peer(work, said.append, ended.set_result)
        pid = peer.pid
        for message in sent:
            peer.send(message)
        return said, await ended, pid

    def too_long(signum: int, frame: object) -> None:
        raise TimeoutError("the conversation hangs")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(60)  # a deadlock fails the test instead of hanging the run
    try:
        return asyncio.run(conversation())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


BIG = bytes(range(256)) * 8192  # 2 MiB: more than a pipe holds


def echo_twice(link: parallel.Link) -> None:
    """Say something big before reading anything, then echo two messages back."""
    link.send(("hello", BIG))
    for _ in range(2):
        link.send(("echo", link.receive()))


@pytest.mark.usefixtures("alone")
def test_a_peer_and_this_process_exchange_messages_larger_than_a_pipe_in_order() -> None:
    """Both write more than a pipe holds before reading: neither waits on the other forever."""
    said, ok, pid = talk(echo_twice, {"n": 1, "data": BIG}, [2])
    assert said == [("hello", BIG), ("echo", {"n": 1, "data": BIG}), ("echo", [2])]
    assert ok
    assert reaped({pid})


def fails_after_a_word(link: parallel.Link) -> None:
    link.send("word")
    raise RuntimeError("the child fails")


@pytest.mark.usefixtures("alone")
def test_a_peer_that_fails_ends_not_ok_after_its_messages() -> None:
    said, ok, pid = talk(fails_after_a_word)
    assert (said, ok) == (["word"], False)
    assert reaped({pid})


@pytest.mark.usefixtures("alone")
def test_a_peer_stopped_while_it_waits_is_killed_and_reaped() -> None:
    import asyncio

    async def stopped() -> tuple[list[bool], int]:
        ends: list[bool] = []
        peer = parallel.Peer(lambda link: print(link.receive()), print, ends.append)
        pid = peer.pid
        await asyncio.sleep(0.05)
        peer.stop()
        peer.stop()  # a second stop does nothing
        return ends, pid

    ends, pid = asyncio.run(stopped())
    assert ends == [False]
    assert reaped({pid})


def test_a_link_says_whether_a_message_waits_without_waiting() -> None:
    reading, writing = os.pipe()
    try:
        link = parallel.Link(reading, writing)  # its own messages come back to it
        assert not link.waiting()
        link.send(["one"])
        link.send(["two"])
        assert link.waiting()
        assert link.receive() == ["one"]
        assert link.waiting()
        assert link.receive() == ["two"]
        assert not link.waiting()
        os.close(writing)
        writing = -1
        assert link.waiting()  # the other end is gone: receive says so at once
        with pytest.raises(EOFError):
            link.receive()
    finally:
        os.close(reading)
        if writing != -1:
            os.close(writing)
