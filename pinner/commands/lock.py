"""`pinner lock`: pin images, packages and timestamps; write the lock beside each Dockerfile."""

from __future__ import annotations

import asyncio
import os
import shlex
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import NamedTuple

from pinner import parallel, stagework
from pinner.commands.run import Run
from pinner.errors import PinnerError, Problem, RegistryError
from pinner.outcome import (
    Options,
    Outcome,
    failures,
    for_platforms,
    given_context,
    image_queries,
    notices,
    one_time,
    settle,
    text_only,
    without_changed_pins,
)
from pinner.output import Progress, Reporter, print_json
from pinner.reference import ImageRef
from pinner.remote.registry import Manifest
from pinner.remote.session import Session
from pinner.workspace import Reading, Target, in_file, parse_read, read, read_path

Answers = dict[ImageRef, Manifest | RegistryError]


def lock(*, run: Run, reading: Reading | None = None) -> int:
    """Resolve, rewrite and write; on any failure print each and write nothing.

    reading: the run's files, being read already (else they are read here)."""
    report = Reporter(quiet=run.quiet)
    options = one_time(run.options)
    if reading is None:
        entries = deque(read(run.selection, lock_texts=run.dry_run))
    else:
        entries = deque(reading.result())
    session = run.session([e for e in entries if isinstance(e, Target)], report)
    reread = partial(read_path, selection=run.selection, lock_texts=run.dry_run)
    outcomes, writes, errors, session_requests = asyncio.run(
        _lock_all(entries, session, options, report, reread)
    )
    if errors:
        return report.failures(errors, as_json=run.as_json)
    notices(report, outcomes)
    run.write(outcomes, writes)
    if run.as_json:
        print_json(
            {"ok": True, "files": [_result(o) for o in outcomes], "requests": session_requests}
        )
    changed = sum(1 for o in outcomes if o.target.path in writes or o.target.lock_path in writes)
    verb = "would change" if run.dry_run else "changed"
    report.notice(f"{len(outcomes)} file(s); {verb} {changed}")
    _build_hint(report, outcomes, options)
    return 0


async def _lock_all(
    entries: deque[Target | Problem],
    session: Session,
    options: Options,
    report: Reporter,
    reread: Callable[[str], Target | Problem | None],
) -> tuple[list[Outcome], dict[str, str], list[Problem], dict[str, int]]:
    """Resolve every image once for the run, then lock each Dockerfile; errors are collected.

    Returns the settled outcomes and the writes, in the files' order. Each file's parse is
    dropped once it is locked, and its original (the file as read) once settled. When a file
    already failed, only resolution failures are still worth telling.

    Over many files a forked process (_Helper) parses and locks most of them while this one
    sends the requests they need and takes the rest: both of the run's CPUs work. Should it
    fail, its files are read again (reread) and done here.
    """
    locking = _Locking(session, options)
    numbered = deque(enumerate(entries))
    entries.clear()
    async with session:
        asking = _Asking(session, report.progress("resolving images", 0))
        mine = _Share(locking, asking)
        helper = None
        try:
            helper = _Helper.start(numbered, locking, asking, reread)
            await mine.parse_here(numbered)
            if helper is not None and not await helper.asked():
                await mine.parse_here(helper.left())  # it failed: its files are done here
                helper = None
            answers = await asking.answers()
            if helper is not None:
                helper.peer.send(_Answered(answers))
            await mine.lock_waiting(answers)
            theirs = _Failed()
            if helper is not None:
                while (punted := await helper.punted_or_final()) is not None:
                    await mine.parse_here(punted)  # its images are answered already
                    await mine.lock_waiting(answers)
                found = await helper.final()
                if isinstance(found, _Failed):
                    theirs = found
                else:  # locked, but for what it punted; or it failed, leaving everything here
                    await mine.parse_here(helper.left())
                    answers = await asking.answers()  # no request: its files' images were asked
                    await mine.lock_waiting(answers)
            errors = _in_order(mine.errors, theirs.errors)
            errors += _in_order(mine.platform_errors, theirs.platform_errors)
            waiting = sorted([*mine.work, *theirs.waiting], key=_first)
            errors += failures([target for _, target in waiting], answers)
            if errors:
                return [], {}, errors, session.requests
            return locking.in_order()
        except BaseException:
            await asking.abandon()
            raise
        finally:
            if helper is not None:
                helper.peer.stop()


Numbered = tuple[int, Problem]


def _in_order(*found: Sequence[Numbered]) -> list[Problem]:
    return [problem for _, problem in sorted((p for f in found for p in f), key=_first)]


def _first(item: tuple[int, object]) -> int:
    return item[0]


class _Locking:
    """A lock run's files: each locked in turn, its outcome settled against the file as read,
    its writes kept; a file that cannot be locked is an error. Each is kept by its index in
    the run, so that files locked out of order (or by another process) are told in order."""

    def __init__(self, session: Session, options: Options) -> None:
        self.session, self.options = session, options
        self.originals: dict[str, Target] = {}  # the files as read, until settled
        self.done: dict[int, tuple[Outcome, dict[str, str]]] = {}
        self.failed: dict[int, Problem] = {}

    async def lock(self, index: int, target: Target, resolved: Mapping[ImageRef, Manifest]) -> None:
        try:
            outcome = await stagework.lock_target(self.session, target, resolved, self.options)
        except PinnerError as e:
            self.failed[index] = in_file(target, e)
            return
        self.done[index] = settle(outcome, self.originals.pop(target.path))

    def in_order(self) -> tuple[list[Outcome], dict[str, str], list[Problem], dict[str, int]]:
        outcomes, writes = [], {}
        for index in sorted(self.done):
            outcome, file_writes = self.done[index]
            outcomes.append(outcome)
            writes.update(file_writes)
        errors = [self.failed[index] for index in sorted(self.failed)]
        return outcomes, writes, errors, self.session.requests


class _Asking:
    """A process's questions to the registry: each image once, the locks' answers first.

    The images the locks do not answer are sent to the registry, or given to send (a forked
    process's); waiting says whether any were.
    """

    def __init__(
        self,
        session: Session,
        progress: Progress | None = None,
        send: Callable[[list[ImageRef]], None] | None = None,
    ) -> None:
        self.session, self.progress = session, progress
        self.asked: set[ImageRef] = set()
        self.locked: dict[ImageRef, Manifest] = {}  # what the locks answered
        self.pending: list[asyncio.Future[Answers]] = []
        self.send = send or self._request
        self.waiting = False

    def ask(self, queries: Iterable[ImageRef]) -> None:
        new = [q for q in dict.fromkeys(queries) if q not in self.asked]
        if new:
            self.asked.update(new)
            found = self.session.locked_answers(new)
            if found is None:
                self.send(new)
                self.waiting = True
            else:
                self.locked.update(found)

    def _request(self, queries: list[ImageRef]) -> None:
        # One request each, so that each answer is had (and given a helper) as soon as it comes.
        for query in queries:
            asking = self.session.resolve_images([query], self.progress)
            self.pending.append(asyncio.ensure_future(asking))

    async def answers(self) -> Answers:
        """Every image's answer: the locks' and the registry's, waited for."""
        answers: Answers = dict(self.locked)
        for found_later in await asyncio.gather(*self.pending):
            answers.update(found_later)
        if self.progress is not None:
            self.progress.close()
        return answers

    async def abandon(self) -> None:
        """Stop the requests still out (the run failed) and the progress line."""
        for request in self.pending:
            request.cancel()
        await asyncio.gather(*self.pending, return_exceptions=True)
        if self.progress is not None:
            self.progress.close()


class _Share:
    """A process's files, parsed in order, each file's new images asked as it is parsed.

    A file whose images the locks answer, while nothing was sent to the registry and no file
    waits or failed before it, is locked at once: a re-lock holds one parse at a time, not all
    of them. The others wait in work for the registry's answers.
    """

    def __init__(self, locking: _Locking, asking: _Asking) -> None:
        self.locking, self.asking = locking, asking
        self.work: deque[tuple[int, Target]] = deque()
        self.images: dict[int, list[ImageRef]] = {}  # what each file in work asked about
        self.errors: list[Numbered] = []
        self.platform_errors: list[Numbered] = []

    def take(self, index: int, entry: Target | Problem) -> Target | None:
        """Parse one file as workspace.load would and ask about its images; the target when
        it may be locked at once, else None (it waits in work, or failed)."""
        options = self.locking.options
        parsed = parse_read(entry)
        if isinstance(parsed, Problem):
            self.errors.append((index, parsed))
            return None
        targets, problems = for_platforms([parsed], options)
        self.platform_errors += [(index, problem) for problem in problems]
        for target in targets:  # one, or none when it failed
            # The file as read, its text only: writes and diffs compare with it.
            self.locking.originals[target.path] = text_only(target)
            target = without_changed_pins(target, options)
            images = image_queries([target], options)
            self.asking.ask(images)
            if self.asking.waiting or self.work or self.errors or self.platform_errors:
                self.work.append((index, target))
                self.images[index] = images
            else:
                return target
        return None

    async def parse_here(self, entries: deque[tuple[int, Target | Problem]]) -> None:
        """Parse each file (entries is consumed), reading the registry's answers between."""
        while entries:
            await asyncio.sleep(0)  # answers are read between parses
            index, entry = entries.popleft()
            target = self.take(index, entry)
            if target is not None:
                await self.locking.lock(index, target, self.asking.locked)

    async def lock_waiting(self, answers: Answers) -> None:
        """Lock the files that waited for these answers, unless the run fails already."""
        if self.errors or self.platform_errors or _failing(answers):
            return
        resolved = {q: a for q, a in answers.items() if isinstance(a, Manifest)}
        self.images.clear()
        while self.work:
            await self.locking.lock(*self.work.popleft(), resolved)


def _failing(answers: Answers) -> bool:
    """Whether the registry failed any image: some file then fails, and nothing is written."""
    return any(isinstance(answer, RegistryError) for answer in answers.values())


class _Asks(NamedTuple):
    """Images a helper's files need that the locks do not answer."""

    images: list[ImageRef]


class _Asked(NamedTuple):
    """A helper has parsed its files and asked for every image they need."""


class _Answered(NamedTuple):
    """Every answer of the run (the last message to a helper): it may finish."""

    answers: Answers


class _Done(NamedTuple):
    """A helper's file (the run's at-th), locked and settled."""

    at: int
    outcome: Outcome
    writes: dict[str, str]


class _NotLocked(NamedTuple):
    """A helper's file whose lock failed."""

    at: int
    problem: Problem


class _Punted(NamedTuple):
    """A helper's file, as read, for the first process to lock: its lock would send a request,
    or the helper hands it back once every answer is in."""

    at: int
    entry: Target | Problem


class _Finished(NamedTuple):
    """A helper has locked (or punted) every file of its."""


class _Failed(NamedTuple):
    """A share's files in a run that fails: what their parse found, and those still waiting
    for answers (their failures are told with everyone's, in order)."""

    errors: Sequence[Numbered] = ()
    platform_errors: Sequence[Numbered] = ()
    waiting: Sequence[tuple[int, Target]] = ()


class _Punt(BaseException):
    """A helper's lock would send a request: the file is locked by the process that forked it.

    A BaseException, so that no handler of errors on the way takes it for a failure of its own.
    """


class _Helper:
    """A forked process that parses and locks most of the run's files while this one asks the
    registry for them and takes the rest.

    It takes the files without a lock (each needs requests: it parses them at once, while this
    process serves their answers) and every other file with one (a re-lock's, which need none:
    this process, with nothing else to do, works through the others).

    It sends the images it needs (_Asks) while it parses, then _Asked; this process sends the
    answers to its requests (a dict) as each comes, so that it locks the files they answer
    while others are out, then _Answered. The files it locks come back a few at a time (a list
    of _Done and _NotLocked), so that neither process holds all of them twice; a file whose
    lock would send a request comes back as read (_Punted), for this process to lock as it
    comes once every answer is in, and so do the last of the files it has still to lock then
    (this process has nothing else left to do). It ends with _Finished, or _Failed in a run
    that fails. A helper that fails leaves its files to this process, which reads them again
    and does what it would have done alone.
    """

    @classmethod
    def start(
        cls,
        numbered: deque[tuple[int, Target | Problem]],
        locking: _Locking,
        asking: _Asking,
        reread: Callable[[str], Target | Problem | None],
    ) -> _Helper | None:
        """A helper taking its files off numbered, or None when one would not pay."""
        if len(numbered) < 2 * parallel.MIN_PER_PROCESS or parallel.cpus() < 2:
            return None
        if not parallel.may_fork():
            return None
        mine, theirs = [], []
        with_lock = 0
        for item in numbered:
            entry = item[1]
            if isinstance(entry, Target) and entry.lock_text is not None:
                with_lock += 1
                if with_lock % 2:
                    mine.append(item)
                    continue
            theirs.append(item)
        helper = cls([(index, entry.path) for index, entry in theirs], locking, asking, reread)
        try:
            helper.peer = parallel.Peer(
                partial(_help, theirs, locking), helper._message, helper._end
            )
        except OSError:  # no process to be had: the files are done here
            return None
        numbered.clear()
        numbered.extend(mine)
        return helper

    def __init__(
        self,
        paths: list[tuple[int, str]],
        locking: _Locking,
        asking: _Asking,
        reread: Callable[[str], Target | Problem | None],
    ) -> None:
        self.paths, self.reread = paths, reread  # its files, to read again should it fail
        self.locking, self.asking = locking, asking
        self.punted: list[tuple[int, Target | Problem]] = []
        loop = asyncio.get_running_loop()
        self._asked: asyncio.Future[bool] = loop.create_future()
        self._final: asyncio.Future[_Finished | _Failed | None] = loop.create_future()
        self._news = asyncio.Event()  # a file punted, or the end
        self.peer: parallel.Peer

    def _message(self, message: object) -> None:
        if isinstance(message, _Asks):
            sent = len(self.asking.pending)
            self.asking.ask(message.images)
            for request in self.asking.pending[sent:]:
                request.add_done_callback(self._answered)
        elif isinstance(message, list):
            for result in message:
                if isinstance(result, _Done):
                    self.locking.done[result.at] = (result.outcome, result.writes)
                else:
                    self.locking.failed[result.at] = result.problem
        elif isinstance(message, _Punted):
            self.punted.append((message.at, message.entry))
            self._news.set()
        elif isinstance(message, _Asked):
            self._asked.set_result(True)
        elif isinstance(message, _Finished | _Failed):
            self._final.set_result(message)
            self._news.set()

    def _answered(self, request: asyncio.Future[Answers]) -> None:
        if not request.cancelled() and request.exception() is None:
            self.peer.send(request.result())

    def _end(self, ok: bool) -> None:
        if not self._asked.done():
            self._asked.set_result(False)
        if not self._final.done():
            self._final.set_result(None)
        self._news.set()

    async def asked(self) -> bool:
        """Whether it has asked for every image of its files; False when it failed first."""
        return await self._asked

    async def punted_or_final(self) -> deque[tuple[int, Target | Problem]] | None:
        """The files it has punted since last asked, waited for while it works; None once it
        has ended (what it punted then is left())."""
        while not self._final.done():
            if self.punted:
                punted = deque(sorted(self.punted, key=_first))
                self.punted.clear()
                return punted
            self._news.clear()
            await self._news.wait()
        return None

    async def final(self) -> _Finished | _Failed | None:
        """Its last message, once its files are done; None when it failed."""
        return await self._final

    def left(self) -> deque[tuple[int, Target | Problem]]:
        """Its files this process must lock: those it punted and punted_or_final did not give,
        or, when it failed, all of them read again (what it locked is dropped, and what this
        process locked of its files: they are locked here anew)."""
        if self._final.done() and self._final.result() is not None:
            return deque(sorted(self.punted, key=_first))
        left: deque[tuple[int, Target | Problem]] = deque()
        for index, path in self.paths:
            self.locking.done.pop(index, None)
            self.locking.failed.pop(index, None)
            entry = self.reread(path)
            if entry is not None:
                left.append((index, entry))
        return left


def _help(
    theirs: list[tuple[int, Target | Problem]], locking: _Locking, link: parallel.Link
) -> None:
    """The helper's work, in the forked process (see _Helper)."""
    locking.session.forked(_Punt)
    # An event loop of its own: the forking process's is not this one's to run. Not
    # asyncio.run: it would wait for the loop's default executor and async generators to end.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_help_on(theirs, _ForkedLocking(locking, link, dict(theirs)), link))
    finally:
        loop.close()


async def _help_on(
    theirs: list[tuple[int, Target | Problem]], forked: _ForkedLocking, link: parallel.Link
) -> None:
    # link's reads and writes wait without the loop: nothing else runs on it.
    locking = forked.locking
    asking = _Asking(locking.session, send=lambda images: link.send(_Asks(images)))
    share = _Share(locking, asking)
    for index, entry in theirs:
        target = share.take(index, entry)
        if target is not None:
            await forked.lock(index, target, asking.locked)
    link.send(_Asked())
    failing = bool(share.errors or share.platform_errors)  # nothing will be written
    waiting = _Waiting(share.work, share.images, asking.locked)
    ready: deque[tuple[int, Target]] = deque()  # let go by the answers, to lock
    held: list[tuple[int, Target]] = []  # answered in a run that fails: not locked
    answered = False
    while True:
        # The messages that have come are read before each lock: the last one (_Answered)
        # frees the first process, which then takes a share of the files still to lock.
        while not answered and (not ready or link.waiting()):
            message = link.receive()
            answered = isinstance(message, _Answered)
            answers = message.answers if isinstance(message, _Answered) else message
            assert isinstance(answers, dict)
            freed, failed = waiting.answered(answers)
            ready += freed
            failing = failing or failed
            if answered and not failing:
                forked.hand_back(ready)
                forked.holding = False
                forked.send_results()
        if failing:
            held += ready
            ready.clear()
        if not ready:
            break  # answered: every file is locked, handed back, or held
        await forked.lock(*ready.popleft(), waiting.resolved)
    forked.holding = False
    forked.send_results()
    if failing:
        held += waiting.left()
        link.send(_Failed(share.errors, share.platform_errors, sorted(held, key=_first)))
        return
    for index, target in waiting.left():  # an image without an answer: as this process would
        await forked.lock(index, target, waiting.resolved)
    forked.send_results()
    link.send(_Finished())


class _Waiting:
    """A helper's files waiting for answers, each let go once all its images are answered."""

    def __init__(
        self,
        work: deque[tuple[int, Target]],
        images: dict[int, list[ImageRef]],
        locked: Mapping[ImageRef, Manifest],
    ) -> None:
        """Take the files of work and what each asked about (both emptied): each file is held
        here until it is let go."""
        self.answers: Answers = dict(locked)
        self.resolved: dict[ImageRef, Manifest] = dict(locked)
        self.files: dict[int, Target] = {}
        self.missing: dict[int, int] = {}  # by file: how many of its images are unanswered
        self.blocked: dict[ImageRef, list[int]] = {}  # by image: the files it holds back
        self.free: list[int] = []  # files whose images were answered before they waited
        while work:
            index, target = work.popleft()
            self.files[index] = target
            needs = set(images.pop(index)) - self.answers.keys()
            self.missing[index] = len(needs)
            if not needs:
                self.free.append(index)
            for query in needs:
                self.blocked.setdefault(query, []).append(index)

    def answered(self, answers: Answers) -> tuple[list[tuple[int, Target]], bool]:
        """The files these answers let go (in order), and whether any answer is an error.

        The initial ones too: files whose images were answered before they waited."""
        failing = False
        free, self.free = self.free, []
        for query, answer in answers.items():
            if query in self.answers:
                continue
            self.answers[query] = answer
            if isinstance(answer, Manifest):
                self.resolved[query] = answer
            else:
                failing = True
            for index in self.blocked.pop(query, ()):
                self.missing[index] -= 1
                if self.missing[index] == 0:
                    free.append(index)
        ready = []
        for index in sorted(free):
            del self.missing[index]
            ready.append((index, self.files.pop(index)))
        return ready, failing

    def left(self) -> list[tuple[int, Target]]:
        """The files not let go, taken."""
        left = [(index, self.files[index]) for index in sorted(self.files)]
        self.files.clear()
        return left


class _ForkedLocking:
    """locking.lock in the helper; a lock that would send a request is punted, with the file
    as read.

    The results are held while requests are out (holding): the first process's event loop
    serves their answers then, and reading results would hold the answers back, the run's
    slowest part. Then they go a few files at a time.
    """

    def __init__(
        self, locking: _Locking, link: parallel.Link, entries: dict[int, Target | Problem]
    ) -> None:
        self.locking, self.link, self.entries = locking, link, entries
        self.results: list[_Done | _NotLocked] = []
        self.holding = True

    async def lock(self, index: int, target: Target, resolved: Mapping[ImageRef, Manifest]) -> None:
        try:
            await self.locking.lock(index, target, resolved)
        except _Punt:
            self.link.send(_Punted(index, self.entries[index]))  # at once: it is locked there
            return
        if index in self.locking.done:
            self.results.append(_Done(index, *self.locking.done.pop(index)))
        else:
            self.results.append(_NotLocked(index, self.locking.failed.pop(index)))
        if not self.holding and len(self.results) >= _RESULTS_AT_ONCE:
            self.send_results()

    def hand_back(self, ready: deque[tuple[int, Target]]) -> None:
        """Give the first process, idle once every answer is in, the last of the files still
        to lock (taken off ready), as read: it parses each again, so it takes fewer."""
        if len(ready) < _MIN_HANDED_BACK:
            return
        for _ in range(len(ready) * _HANDED_BACK // 100):
            index, _ = ready.pop()
            self.link.send(_Punted(index, self.entries[index]))

    def send_results(self) -> None:
        """Send the results not sent yet, a few files at a time."""
        for start in range(0, len(self.results), _RESULTS_AT_ONCE):
            self.link.send(self.results[start : start + _RESULTS_AT_ONCE])
        self.results = []


# The share of a helper's files still to lock once every answer is in that it hands back, in
# percent: the first process parses each again before it locks it, which takes about 1.5 times
# a lock alone. Not when so few are left that the messages would cost more.
_HANDED_BACK = 40
_MIN_HANDED_BACK = 8

# Results a helper sends in one message: one message per file cost the first process a read,
# an event loop callback and a pickle header for each.
_RESULTS_AT_ONCE = 64


def build_commands(path: str, epoch: int, context: str | None = None) -> tuple[str, str]:
    """docker buildx and buildah commands that build one locked Dockerfile reproducibly.

    The context is the one given, else the Dockerfile's directory, the usual layout; -f names
    the file either way.
    """
    folder = os.path.relpath(context) if context else os.path.dirname(path) or "."
    file, context = shlex.quote(path), shlex.quote(folder)
    return (
        f"docker buildx build -f {file} --build-arg SOURCE_DATE_EPOCH={epoch}"
        f" --output type=image,name=IMAGE,rewrite-timestamp=true {context}",
        f"buildah build -f {file} --timestamp {epoch} {context}",
    )


def _build_hint(report: Reporter, outcomes: Sequence[Outcome], options: Options) -> None:
    """The build commands of the first few Dockerfiles with an epoch; a line for the others."""
    epochs = [(o, epoch) for o in outcomes if (epoch := o.lock.source_date_epoch)]
    for outcome, epoch in epochs[:_HINTS_SHOWN]:
        path = outcome.target.path
        docker, buildah = build_commands(path, epoch, given_context(options, path, outcome.lock))
        report.notice(f"Build {path} reproducibly with:\n  {docker}\n  {buildah}")
    if len(epochs) > _HINTS_SHOWN:
        report.notice(
            f"Build the other {len(epochs) - _HINTS_SHOWN} Dockerfiles the same way, each with"
            " the flags `pinner build-args FILE` prints (--json lists every command)"
        )


# The build commands lock prints in full: three blocks of three lines each. A lock of a whole
# tree printed three lines per Dockerfile (3,000 for 1,000), burying what it said before.
_HINTS_SHOWN = 3


def _result(outcome: Outcome) -> dict[str, object]:
    target, lock = outcome.target, outcome.lock
    return {
        "path": target.path,
        "lock": target.lock_path,
        "dockerfile_changed": outcome.text != target.parsed.text,
        "snapshot": lock.snapshot,
        "source_date_epoch": lock.source_date_epoch,
        "images": [
            {
                "reference": image.reference,
                "name": image.name,
                "tag": image.tag,
                "digest": image.digest,
                "platforms": dict(image.platforms),
                "used_by": list(image.used_by),
            }
            for image in lock.images
        ],
        "stages": [
            {
                "stage": stage.stage,
                "distro": stage.distro,
                "release": stage.release,
                "package_manager": stage.package_manager,
                "packages": [p._asdict() for p in stage.packages],
                "step": stage.step,
                "sources": list(stage.sources),
                "notes": list(stage.notes),
            }
            for stage in lock.stages
        ],
        "build": dict(zip(("docker", "buildah"), build_commands(target.path, epoch), strict=True))
        if (epoch := lock.source_date_epoch)
        else None,
        "notes": list(outcome.notes),
    }
