"""`pinner update`: refresh pins for a scheduled bot; a quiet night touches no file."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import deque
from collections.abc import Sequence

from pinner import files, refresh
from pinner.commands.run import Run
from pinner.errors import PinnerError, Problem, RegistryError
from pinner.outcome import (
    Options,
    Outcome,
    diffs,
    for_platforms,
    one_time,
    settle,
    signature_notice,
)
from pinner.output import Reporter, print_json
from pinner.reference import ImageRef
from pinner.refresh import FileReport
from pinner.remote.registry import Manifest
from pinner.remote.session import Session
from pinner.updater import Scope, refresh_queries, update_target
from pinner.workspace import Target, in_file, parse_read, read, split, unlocked

EXIT_CHANGED = 5


def update(
    *,
    run: Run,
    scope: Scope | None = None,
    report_path: str | None = None,
    exit_code: bool = False,
) -> int:
    """Re-resolve, write what moved (all of it or nothing), report it."""
    report = Reporter(quiet=run.quiet)
    run, scope = run._replace(options=one_time(run.options)), scope or Scope()
    outcomes, writes, reports, errors = asyncio.run(_update_all(run, scope, report))
    if errors:
        return report.failures(errors, as_json=run.as_json)
    if report_path is not None:
        writes[report_path] = refresh.markdown(reports, scope.strict)
    if run.dry_run:
        sys.stdout.write(diffs(outcomes, writes))
    else:
        files.write_all(writes)
    if run.as_json:
        print_json(refresh.as_json(reports, scope.strict))
    for outcome in outcomes:
        for note in outcome.notes:
            report.notice(note)
    signature_notice(report, outcomes)
    report.notice(refresh.summary(reports, scope.strict))
    changed = any(r.changed(scope.strict) for r in reports)
    return EXIT_CHANGED if exit_code and changed else 0


async def _update_all(
    run: Run, scope: Scope, report: Reporter
) -> tuple[list[Outcome], dict[str, str], list[FileReport], list[Problem]]:
    """Refresh every file against one run's answers; its settled outcomes, writes, reports, errors.

    The registry is asked as soon as the locks are read, and the Dockerfiles parse meanwhile.
    Each file is settled once refreshed, its parse and lock records let go (outcome.settle).
    The locks' texts are kept for --dry-run alone, which shows diffs of them.
    """
    entries = read(run.selection, lock_texts=run.dry_run)
    session, asked = _ask_early(entries, run, scope, report)
    try:
        targets, errors = await _parse_all(entries, run.options)
        errors += unlocked(targets)
    except BaseException:
        await _abandon(session, asked)
        raise
    if errors:
        await _abandon(session, asked)
        return [], {}, [], errors
    if session is None or asked is None:
        session = run.session(targets, report, refresh=True)
        asked = asyncio.ensure_future(session.resolve_images(refresh_queries(targets, scope)))
    del entries
    work = deque(targets)
    del targets
    outcomes, reports = [], []
    writes: dict[str, str] = {}
    async with session:
        fresh = await asked
        while work:
            target = work.popleft()
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


async def _parse_all(
    entries: Sequence[Target | Problem], options: Options
) -> tuple[list[Target], list[Problem]]:
    """The files read, parsed as workspace.load parses them; the loop answers requests meanwhile."""
    parsed = []
    for entry in entries:
        await asyncio.sleep(0)  # the requests go out before the first parse, answers between
        parsed.append(parse_read(entry))
    targets, errors = split(parsed)
    targets, platform_errors = for_platforms(targets, options)
    return targets, errors + platform_errors


async def _abandon(session: Session | None, asked: Answers | None) -> None:
    """Stop the requests of a run that fails before it needs their answers, and close them."""
    if asked is not None:
        asked.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asked
    if session is not None:
        async with session:
            pass
