"""`pinner update`: refresh pins for a scheduled bot; a quiet night touches no file."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

from pinner import parallel, refresh
from pinner.commands.run import Run
from pinner.errors import PinnerError, Problem, RegistryError
from pinner.outcome import (
    Options,
    Outcome,
    for_platforms,
    notices,
    one_time,
    settle,
)
from pinner.output import Reporter, print_json
from pinner.reference import ImageRef
from pinner.refresh import FileReport
from pinner.remote.registry import Manifest
from pinner.remote.session import Session
from pinner.updater import (
    Scope,
    changed_errors,
    images_alone,
    refresh_queries,
    unmoved,
    update_target,
)
from pinner.workspace import Reading, Target, in_file, parse_read, read, unlocked

EXIT_CHANGED = 5


def update(
    *,
    run: Run,
    scope: Scope | None = None,
    report_path: str | None = None,
    exit_code: bool = False,
    reading: Reading | None = None,
) -> int:
    """Re-resolve, write what moved (all of it or nothing), report it.

    reading: the run's files, being read already (else they are read here)."""
    report = Reporter(quiet=run.quiet)
    run, scope = run._replace(options=one_time(run.options)), scope or Scope()
    entries = read(run.selection, lock_texts=run.dry_run) if reading is None else reading.result()
    outcomes, writes, reports, errors = asyncio.run(_update_all(entries, run, scope, report))
    if errors:
        return report.failures(errors, as_json=run.as_json)
    if report_path is not None:
        writes[report_path] = refresh.markdown(reports, scope.strict)
    run.write(outcomes, writes)
    if run.as_json:
        print_json(refresh.as_json(reports, scope.strict))
    notices(report, outcomes)
    report.notice(refresh.summary(reports, scope.strict))
    changed = any(r.changed(scope.strict) for r in reports)
    return EXIT_CHANGED if exit_code and changed else 0


async def _update_all(
    entries: list[Target | Problem], run: Run, scope: Scope, report: Reporter
) -> tuple[list[Outcome], dict[str, str], list[FileReport], list[Problem]]:
    """Refresh every file against one run's answers; its settled outcomes, writes, reports, errors.

    The registry is asked as soon as the locks are read, and the Dockerfiles parse meanwhile
    (in a forked process where the machine has a CPU for it). A file of images alone none of
    which moved is told from its lock and the answers; every other file is parsed here to be
    refreshed, and settled once refreshed, its parse and lock records let go (outcome.settle).
    The locks' texts are kept for --dry-run alone, which shows diffs of them.
    """
    session, asked = _ask_early(entries, run, scope, report)
    try:
        parses = await _parse_all(entries, run.options)
        errors = [p.problem for p in parses if p.problem is not None and not p.for_platform]
        errors += [p.problem for p in parses if p.problem is not None and p.for_platform]
        work = deque(
            (entry, parse)
            for entry, parse in zip(entries, parses, strict=True)
            if isinstance(entry, Target) and parse.problem is None
        )
        errors += unlocked([target for target, _ in work])
    except BaseException:
        await _abandon(session, asked)
        raise
    if errors:
        await _abandon(session, asked)
        return [], {}, [], errors
    if session is None or asked is None:
        targets = [target for target, _ in work]
        session = run.session(targets, report, refresh=True)
        asked = asyncio.ensure_future(session.resolve_images(refresh_queries(targets, scope)))
    del entries, parses
    outcomes, reports = [], []
    writes: dict[str, str] = {}
    async with session:
        fresh = await asked
        while work:
            target, parse = work.popleft()
            if parse.changed:
                errors += parse.changed  # as update_target tells them, from the parse already made
                reports.append(FileReport(target.path))
                continue
            unchanged = unmoved(target, fresh, scope) if parse.images_alone else None
            if unchanged is not None:
                reports.append(unchanged)
                continue
            parsed = parse.target or _parsed(target, run.options)
            if isinstance(parsed, _Parse):  # it parsed in _parse_all: this is not reached
                errors.append(parsed.problem or Problem(target.path, None, "does not parse"))
                continue
            target = parsed
            try:
                outcome, file_report, file_errors = await update_target(
                    session, target, fresh, run.options, scope
                )
            except PinnerError as e:
                errors.append(in_file(target, e))
                continue
            errors.extend(file_errors)
            reports.append(file_report)
            if outcome is not None:
                settled, file_writes = settle(outcome, target)
                outcomes.append(settled)
                writes.update(file_writes)
    return outcomes, writes, reports, errors


class _Parse(NamedTuple):
    """What parsing one file tells update before the registry answers."""

    problem: Problem | None = None  # the file does not parse (for --platform, if for_platform)
    for_platform: bool = False
    changed: tuple[Problem, ...] = ()  # references pinned again since the lock: update's errors
    images_alone: bool = False  # no package work: only a moved image can change the file
    target: Target | None = None  # the parse, kept when made in this process


def _parse(entry: Target | Problem, options: Options, keep: bool = False) -> _Parse:
    if isinstance(entry, Problem):
        return _Parse(entry)
    target = _parsed(entry, options)
    if isinstance(target, _Parse):
        return target
    changed = tuple(changed_errors(target))
    return _Parse(None, False, changed, images_alone(target), target if keep else None)


def _parsed(entry: Target, options: Options) -> Target | _Parse:
    """The file parsed as workspace.load and for_platforms parse it, or why it does not parse."""
    parsed = parse_read(entry)
    if isinstance(parsed, Problem):
        return _Parse(parsed)
    targets, problems = for_platforms([parsed], options)
    return _Parse(problems[0], for_platform=True) if problems else targets[0]


Answers = asyncio.Future[dict[ImageRef, Manifest | RegistryError]]


def _ask_early(
    entries: Sequence[Target | Problem], run: Run, scope: Scope, report: Reporter
) -> tuple[Session | None, Answers | None]:
    """The session and its requests for what the locks pinned, sent before any file is parsed.

    None while a file already failed to read or has no lock: that run fails, and asks nothing.
    """
    targets = [e for e in entries if isinstance(e, Target)]
    if len(targets) < len(entries) or unlocked(targets):
        return None, None
    try:
        session = run.session(targets, report, refresh=True)
    except PinnerError:
        return None, None  # an unreadable Docker config is told once the files are known good
    queries = refresh_queries(targets, scope)  # read from the locks alone
    return session, asyncio.ensure_future(session.resolve_images(queries))


async def _parse_all(entries: Sequence[Target | Problem], options: Options) -> list[_Parse]:
    """Each file parsed, in a forked process while this one serves the registry's answers, or
    here between answers (one CPU, a thread running, or no process to be had)."""
    child = None
    if parallel.cpus() > 1 and len(entries) >= parallel.MIN_PER_PROCESS and parallel.may_fork():
        with contextlib.suppress(OSError):  # no process to be had: parse here
            child = parallel.Child(partial(_parse_each, entries, options))
    if child is None:
        parses = []
        for entry in entries:
            await asyncio.sleep(0)  # the requests go out before the first parse, answers between
            parses.append(_parse(entry, options, keep=True))
        return parses
    try:
        await child.ready()
        return child.result()
    finally:
        child.stop()


def _parse_each(entries: Sequence[Target | Problem], options: Options) -> list[_Parse]:
    return [_parse(entry, options) for entry in entries]


async def _abandon(session: Session | None, asked: Answers | None) -> None:
    """Stop the requests of a run that fails before it needs their answers, and close them."""
    if asked is not None:
        asked.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asked
    if session is not None:
        async with session:
            pass
