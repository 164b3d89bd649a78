"""`pinner update`: refresh pins for a scheduled bot; a quiet night touches no file."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pinner import files, refresh
from pinner.errors import PinnerError, Problem
from pinner.outcome import (
    Options,
    Outcome,
    diffs,
    load_targets,
    one_time,
    pending_writes,
    signature_notice,
)
from pinner.output import Reporter, print_json
from pinner.refresh import FileReport
from pinner.remote.cache import default_cache_dir
from pinner.remote.registry import Settings
from pinner.remote.session import Session
from pinner.updater import Scope, refresh_queries, update_target
from pinner.workspace import Selection, Target, in_file, unlocked

EXIT_CHANGED = 5


def update(
    *,
    selection: Selection,
    settings: Settings,
    options: Options | None = None,
    scope: Scope | None = None,
    report_path: str | None = None,
    exit_code: bool = False,
    dry_run: bool = False,
    as_json: bool = False,
    quiet: bool = False,
    cache_dir: Path | None = None,
) -> int:
    """Re-resolve, write what moved (all of it or nothing), report it."""
    report = Reporter(quiet=quiet)
    options, scope = one_time(options or Options()), scope or Scope()
    targets, errors = load_targets(selection, options)
    errors += unlocked(targets)
    outcomes: list[Outcome] = []
    reports: list[FileReport] = []
    if not errors:
        outcomes, reports, errors = asyncio.run(
            _update_all(targets, settings, options, scope, cache_dir or default_cache_dir(), report)
        )
    if errors:
        return report.failures(errors, as_json=as_json)
    writes = pending_writes(outcomes)
    if report_path is not None:
        writes[report_path] = refresh.markdown(reports, scope.strict)
    if dry_run:
        sys.stdout.write(diffs(outcomes, writes))
    else:
        files.write_all(writes)
    if as_json:
        print_json(refresh.as_json(reports, scope.strict))
    for outcome in outcomes:
        for note in outcome.notes:
            report.notice(note)
    signature_notice(report, outcomes)
    report.notice(refresh.summary(reports, scope.strict))
    changed = any(r.changed(scope.strict) for r in reports)
    return EXIT_CHANGED if exit_code and changed else 0


async def _update_all(
    targets: list[Target],
    settings: Settings,
    options: Options,
    scope: Scope,
    cache_dir: Path,
    report: Reporter,
) -> tuple[list[Outcome], list[FileReport], list[Problem]]:
    """Refresh every file against one run's answers; its outcomes, reports and errors."""
    session = Session.for_run(
        targets,
        settings,
        report,
        snapshot_mirrors=options.snapshot_mirrors,
        cache_dir=cache_dir,
        refresh=True,
    )
    outcomes, reports, errors = [], [], []
    async with session:
        fresh = await session.resolve_images(refresh_queries(targets, scope))
        for target in targets:
            try:
                outcome, file_report, file_errors = await update_target(
                    session, target, fresh, options, scope
                )
            except PinnerError as e:
                errors.append(in_file(target, e))
                continue
            errors.extend(file_errors)
            reports.append(file_report)
            if outcome is not None:
                outcomes.append(outcome)
    return outcomes, reports, errors
