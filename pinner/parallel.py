"""Work spread over the machine's CPUs by fork, for runs over many files."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import struct
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Below this many items per process a fork (about a millisecond, plus pickling the results)
# costs more than it saves.
MIN_PER_PROCESS = 64


# Where a container sees its CPU quota (`docker run --cpus`, a CI job's limit): cgroup v2's
# cpu.max ("max 100000", or "150000 100000": 1.5 CPUs), else cgroup v1's quota and period.
CGROUP_V2 = "/sys/fs/cgroup/cpu.max"
CGROUP_V1 = ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def cpus() -> int:
    """The CPUs this process may use: those it may run on, fewer under a CPU quota."""
    try:
        found = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        found = os.cpu_count() or 1
    quota = _quota()
    return found if quota is None else max(1, min(found, quota))


def _quota() -> int | None:
    """The CPUs a cgroup's quota allows, rounded up; None where there is none or it is unread."""
    try:
        quota, period = _read(CGROUP_V2).split()[:2]
    except (OSError, ValueError):
        try:
            quota, period = _read(CGROUP_V1[0]), _read(CGROUP_V1[1])
        except OSError:
            return None
    if not quota.isdigit() or not period.isdigit() or int(period) == 0:
        return None  # "max", or v1's -1: no quota
    return -(-int(quota) // int(period))


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read(256).strip()


def may_fork() -> bool:
    """Whether a child may be forked: a thread of this process could hold a lock it needs."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _fork(work: Callable[[], object], ours: Sequence[int], theirs: Sequence[int]) -> int:
    """Run work() in a forked child that then exits, 0 if it returned: the child's pid."""
    import gc

    # ours: the pipe ends this process keeps, which the child closes; theirs: the child's, which
    # this process closes once forked. A fork that fails closes them all and raises its OSError.
    gc.freeze()  # the collector leaves what exists now alone: the child copies fewer pages
    try:
        pid = os.fork()
    except OSError:  # no process to be had (EAGAIN under a pids limit, ENOMEM)
        gc.unfreeze()
        for fd in (*ours, *theirs):
            os.close(fd)
        raise
    if pid == 0:  # the child: work, then leave without cleanup handlers
        status = 1
        try:
            for fd in ours:
                os.close(fd)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)  # a signal here must not wake the copied event loop
            work()
            status = 0
        finally:
            os._exit(status)
    for fd in theirs:
        os.close(fd)
    return pid


class Child(Generic[Result]):
    """work() computed in a forked process; its result comes back pickled through a pipe.

    A child that fails (an exception, a signal) leaves the work to this process, where the same
    exception is raised as it would be without forking. stop() ends a child no longer wanted.
    work must not print and its result must pickle. OSError when no process can be forked.
    """

    def __init__(self, work: Callable[[], Result]) -> None:
        import pickle

        read_end, write_end = os.pipe()

        def send() -> None:
            data = pickle.dumps(work(), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)

        pid = _fork(send, ours=(read_end,), theirs=(write_end,))
        self.work, self.pid, self.pipe = work, pid, read_end

    async def ready(self) -> None:
        """Wait, serving the event loop, until the child has begun to send its result."""
        import asyncio

        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        loop.add_reader(self.pipe, readable.set_result, None)
        try:
            await readable
        finally:
            loop.remove_reader(self.pipe)

    def result(self) -> Result:
        """The child's result, waited for; the child is reaped."""
        import pickle

        with os.fdopen(self.pipe, "rb") as pipe:
            data = pipe.read()
        status = os.waitpid(self.pid, 0)[1]
        self._reaped()
        return pickle.loads(data) if status == 0 else self.work()

    def stop(self) -> None:
        """Kill and reap the child unless its result was taken."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self._reaped()
            with contextlib.suppress(OSError):  # closed already if reading it failed
                os.close(self.pipe)

    def _reaped(self) -> None:
        import gc

        self.pid = 0
        gc.unfreeze()


def map_shares(
    work: Callable[[Sequence[Item]], list[Result]],
    items: Sequence[Item],
) -> list[Result]:
    """work(items), one result per item, with the items dealt out over forked processes when
    they are many: work gets each process's share and returns a result per item of it.

    Each process takes every n-th item, so that long and short files spread evenly; the results
    come back in the items' order.
    """
    n = min(cpus(), len(items) // MIN_PER_PROCESS)
    if n < 2 or not may_fork():
        return work(items)
    children: list[Child[list[Result]]] = []
    try:
        for share in range(1, n):
            try:
                children.append(Child(partial(work, items[share::n])))
            except OSError:
                break  # no more processes: this one works the shares left
        shares = [work(items[0::n])] + [c.result() for c in children]
        shares += [work(items[share::n]) for share in range(len(shares), n)]
        return [shares[i % n][i // n] for i in range(len(items))]
    finally:
        for child in children:  # this process failed first: stop the others
            child.stop()


def write_fully(fd: int, data: bytes) -> None:
    """Write all of data; a short write (a size limit reached) is followed by the error."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_LENGTH = struct.Struct("<Q")


class Link:
    """A forked process's end of the pipes to the process that forked it: pickled messages."""

    def __init__(self, reading: int, writing: int) -> None:
        self.reading, self.writing = reading, writing
        self._poll: select.poll | None = None

    def send(self, message: object) -> None:
        """Send one message, waiting while the pipe is full."""
        import pickle

        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        write_fully(self.writing, _LENGTH.pack(len(data)) + data)

    def receive(self) -> object:
        """The next message from the other process, waited for; EOFError once it is gone."""
        import pickle

        (length,) = _LENGTH.unpack(self._read(_LENGTH.size))
        return pickle.loads(self._read(length))

    def waiting(self) -> bool:
        """Whether a message (or its start) has come and waits to be received, or the other
        process is gone (receive then says so)."""
        if self._poll is None:
            self._poll = select.poll()  # not select(): it takes no descriptor above 1023
            self._poll.register(self.reading, select.POLLIN)
        return bool(self._poll.poll(0))

    def _read(self, size: int) -> bytes:
        parts = []
        while size:
            part = os.read(self.reading, min(size, 1 << 20))
            if not part:
                raise EOFError("the other process is gone")
            parts.append(part)
            size -= len(part)
        return b"".join(parts)


def _widen(pipe: int) -> None:
    """Let the pipe hold 1 MiB where Linux allows (64 KiB by default), so that a burst of
    messages does not make its writer wait for the reader to take them in turn."""
    import fcntl

    with contextlib.suppress(AttributeError, OSError):  # not Linux, or above pipe-max-size
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, 1 << 20)


class Peer:
    """work(link) run in a forked process that talks with this one while both work.

    The child's messages reach on_message, called from this process's event loop in the order
    sent; on_end(ok) follows once the child has exited, ok when it exited well after all its
    messages. send() reaches the child's link.receive(). work must not print; its messages must
    pickle. OSError when no process can be forked; stop() ends a child no longer wanted.
    """

    def __init__(
        self,
        work: Callable[[Link], None],
        on_message: Callable[[object], None],
        on_end: Callable[[bool], None],
    ) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        up_read, up_write = os.pipe()
        down_read, down_write = os.pipe()
        for fd in (up_write, down_write):
            _widen(fd)
        pid = _fork(
            lambda: work(Link(down_read, up_write)),
            ours=(up_read, down_write),
            theirs=(down_read, up_write),
        )
        self.pid, self.reading, self.writing = pid, up_read, down_write
        self._on_message, self._on_end = on_message, on_end
        self._buffer = bytearray()
        self._outgoing = bytearray()
        self._loop = loop
        os.set_blocking(down_write, False)
        loop.add_reader(up_read, self._readable)

    def send(self, message: object) -> None:
        """Send one message to the child, without waiting: what the pipe cannot take yet goes
        when it can (were this process to wait on a full pipe while the child waits on this
        one's, neither would go on). A child already gone does not get it: on_end tells."""
        import pickle

        if not self.pid:
            return
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        flushing = bool(self._outgoing)
        self._outgoing += _LENGTH.pack(len(data)) + data
        if not flushing:
            self._writable()
            if self._outgoing:
                self._loop.add_writer(self.writing, self._writable)

    def _writable(self) -> None:
        try:
            sent = os.write(self.writing, self._outgoing)
        except BlockingIOError:
            return
        except OSError:  # EPIPE: it has ended
            sent = len(self._outgoing)
        del self._outgoing[:sent]
        if not self._outgoing:
            self._loop.remove_writer(self.writing)

    def _readable(self) -> None:
        import pickle

        data = os.read(self.reading, 1 << 20)
        if not data:
            status = self._reap()
            self._on_end(status == 0 and not self._buffer)
            return
        self._buffer += data
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            end = _LENGTH.size + length
            if len(self._buffer) < end:
                break
            with memoryview(self._buffer) as view, view[_LENGTH.size : end] as body:
                message = pickle.loads(body)  # not a copy of the bytes: a message may be large
            del self._buffer[:end]
            self._on_message(message)

    def _reap(self) -> int:
        import gc

        self._loop.remove_reader(self.reading)
        self._loop.remove_writer(self.writing)
        self._outgoing.clear()
        status = os.waitpid(self.pid, 0)[1]
        self.pid = 0
        gc.unfreeze()
        os.close(self.reading)
        os.close(self.writing)
        return status

    def stop(self) -> None:
        """Kill and reap the child unless it has ended."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            self._reap()
            self._on_end(False)
