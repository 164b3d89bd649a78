"""`pinner check --remote`: read-only; which pinned tags moved, which locked packages are gone."""

from __future__ import annotations

import asyncio

from pinner import refresh, stagework
from pinner.commands.run import Run
from pinner.errors import PinnerError, Problem
from pinner.output import Reporter, print_json, print_json_failure
from pinner.refresh import FileReport, ImageChange
from pinner.updater import Scope, image_changes, refresh_queries
from pinner.workspace import Target, load, unlocked


def check_remote(*, run: Run, scope: Scope | None = None) -> int:
    """`check --remote`: read-only; list moved tags and package entries the snapshot contradicts."""
    report = Reporter(quiet=run.quiet)
    scope = (scope or Scope())._replace(only="images")
    targets, failures = load(run.selection)
    errors = failures + unlocked(targets)
    moved: list[FileReport] = []
    problems: list[str] = []
    if not errors:
        moved, problems, errors = asyncio.run(_moved(targets, run, scope, report))
    if errors:
        for error in errors:
            report.error(str(error))
        if run.as_json:
            print_json_failure(errors, 1)
        return 1
    if run.as_json:
        print_json({**refresh.as_json(moved, scope.strict), "package_problems": problems})
    else:
        for line in problems:
            print(line)
        for file_report in moved:
            for change in file_report.images:
                if scope.strict or not change.noise:
                    platforms = ", ".join(change.platforms) or _unlisted(change)
                    print(
                        f"{file_report.path}: {change.name}:{change.tag}: moved from"
                        f" {refresh.short(change.old)} to {refresh.short(change.new)} ({platforms})"
                    )
    count = sum(1 for r in moved for c in r.images if scope.strict or not c.noise)
    report.notice(f"{count} pinned tag(s) moved")
    if problems:
        report.notice(f"{len(problems)} locked package entr(ies) the snapshot does not serve")
    return 1 if count or problems else 0


def _unlisted(change: ImageChange) -> str:
    """What moved when no platform is listed: an index alone, or a single-platform manifest."""
    return "index only" if change.noise else "single manifest"


async def _moved(
    targets: list[Target], run: Run, scope: Scope, report: Reporter
) -> tuple[list[FileReport], list[str], list[Problem]]:
    """Pinned tags that moved, what the snapshots contradict in locked packages, and errors."""
    session = run.session(targets, report, refresh=True)
    problems: list[str] = []
    errors: list[Problem] = []
    async with session:
        fresh = await session.resolve_images(refresh_queries(targets, scope))
        if not scope.images:  # --image NAME asks about those images alone
            for target in targets:
                try:
                    found = await stagework.verify_packages(session, target, remote=True)
                except PinnerError as e:
                    errors.append(Problem(target.lock_path, None, f"packages not verified: {e}"))
                    continue
                problems += [f"{target.lock_path}: {problem}" for problem in found]
    reports = []
    for target in targets:
        _, changes, file_errors = image_changes(target, fresh, scope)
        errors.extend(file_errors)
        reports.append(FileReport(target.path, tuple(changes)))
    return reports, problems, errors
