"""Per-file work spread over the machine's CPUs by fork, for runs over many files."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Below this many items per process a fork (about a millisecond, plus pickling the results)
# costs more than it saves.
MIN_PER_PROCESS = 64


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def map_files(
    work: Callable[[Item], Result], items: Sequence[Item], processes: int | None = None
) -> list[Result]:
    """[work(i) for i in items], the items dealt out over forked processes when they are many.

    Each process takes every n-th item, so that long and short files spread evenly; the results
    come back pickled, in the items' order. work must not print and its results must pickle.
    A process that fails (an exception, a signal) leaves its share to this one, where the same
    exception is raised as it would be without forking.
    """
    n = min(processes or cpus(), len(items) // MIN_PER_PROCESS)
    if n < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
        return [work(item) for item in items]
    import gc
    import pickle

    gc.freeze()  # the collector leaves what exists now alone: the children copy fewer pages
    children: dict[int, tuple[int, int]] = {}  # share -> (pid, read end of its pipe)
    try:
        for share in range(1, n):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: work its share, send it, leave without cleanup handlers
                status = 1
                try:
                    os.close(read_end)
                    data = pickle.dumps([work(i) for i in items[share::n]], pickle.HIGHEST_PROTOCOL)
                    with os.fdopen(write_end, "wb") as out:
                        out.write(data)
                    status = 0
                finally:
                    os._exit(status)
            os.close(write_end)
            children[share] = (pid, read_end)
        shares = [[work(item) for item in items[0::n]]]
        for share in range(1, n):
            pid, read_end = children[share]
            with os.fdopen(read_end, "rb") as pipe:
                data = pipe.read()
            status = os.waitpid(pid, 0)[1]
            del children[share]
            # A child that failed leaves its share to this process, to raise what it raised.
            shares.append(pickle.loads(data) if status == 0 else [work(i) for i in items[share::n]])
        return [shares[i % n][i // n] for i in range(len(items))]
    finally:
        gc.unfreeze()
        for pid, read_end in children.values():  # this process failed first: stop the others
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            with contextlib.suppress(OSError):  # closed already if reading it failed
                os.close(read_end)
