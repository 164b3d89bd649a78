"""`pinner update`: refresh pins for a scheduled bot; a quiet night touches no file."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from pinner import engine, files, refresh
from pinner.engine import Options, Outcome
from pinner.errors import PinnerError
from pinner.output import Reporter, print_json, print_json_failure
from pinner.refresh import FileReport, ImageChange
from pinner.remote.cache import default_cache_dir
from pinner.remote.registry import Settings
from pinner.remote.session import Session
from pinner.updater import Scope, image_changes, refresh_queries, update_target
from pinner.workspace import Target, load

EXIT_CHANGED = 5


def update(
    *,
    paths: Sequence[str],
    build_args: Mapping[str, str],
    settings: Settings,
    options: Options | None = None,
    scope: Scope | None = None,
    report_path: str | None = None,
    exit_code: bool = False,
    dry_run: bool = False,
    as_json: bool = False,
    quiet: bool = False,
    exclude: Sequence[str] = (),
    kubernetes: Collection[str] = (),
    cache_dir: Path | None = None,
) -> int:
    """Re-resolve, write what moved (all of it or nothing), report it."""
    report = Reporter(quiet=quiet)
    options, scope = engine.one_time(options or Options()), scope or Scope()
    targets, errors = load(paths, build_args, exclude, kubernetes)
    targets, platform_errors = engine.for_platforms(targets, options)
    errors += platform_errors
    unlocked = [t.path for t in targets if t.lock_text is None]
    errors += [f"{p}: no lockfile; run pinner lock {p} first" for p in unlocked]
    outcomes: list[Outcome] = []
    reports: list[FileReport] = []
    if not errors:
        outcomes, reports = asyncio.run(
            _update_all(
                targets, settings, options, scope, errors, cache_dir or default_cache_dir(), report
            )
        )
    if errors:
        report.failures(errors)
        if as_json:
            print_json_failure(errors, 1)
        return 1
    writes = engine.pending_writes(outcomes)
    if report_path is not None:
        writes[report_path] = refresh.markdown(reports, scope.strict)
    if dry_run:
        sys.stdout.write(engine.diffs(outcomes, writes))
    else:
        files.write_all(writes)
    if as_json:
        print_json(refresh.as_json(reports, scope.strict))
    for outcome in outcomes:
        for note in outcome.notes:
            report.notice(note)
    engine.signature_notice(report, outcomes)
    report.notice(refresh.summary(reports, scope.strict))
    changed = any(r.changed(scope.strict) for r in reports)
    return EXIT_CHANGED if exit_code and changed else 0


async def _update_all(
    targets: list[Target],
    settings: Settings,
    options: Options,
    scope: Scope,
    errors: list[str],
    cache_dir: Path,
    report: Reporter,
) -> tuple[list[Outcome], list[FileReport]]:
    session = Session.for_run(
        targets,
        settings,
        report,
        snapshot_mirrors=options.snapshot_mirrors,
        cache_dir=cache_dir,
        refresh=True,
    )
    outcomes, reports = [], []
    async with session:
        fresh = await session.resolve_images(refresh_queries(targets, scope))
        for target in targets:
            try:
                outcome, file_report, file_errors = await update_target(
                    session, target, fresh, options, scope
                )
            except PinnerError as e:
                errors.append(str(e) if str(e).startswith(target.path) else f"{target.path}: {e}")
                continue
            errors.extend(file_errors)
            reports.append(file_report)
            if outcome is not None:
                outcomes.append(outcome)
    return outcomes, reports


def check_remote(
    *,
    paths: Sequence[str],
    build_args: Mapping[str, str],
    settings: Settings,
    scope: Scope | None = None,
    as_json: bool = False,
    quiet: bool = False,
    exclude: Sequence[str] = (),
    kubernetes: Collection[str] = (),
    snapshot_mirrors: Mapping[str, str] | None = None,
) -> int:
    """`check --remote`: read-only; list moved tags and package entries the snapshot contradicts."""
    report = Reporter(quiet=quiet)
    scope = (scope or Scope())._replace(only="images")
    targets, errors = load(paths, build_args, exclude, kubernetes)
    errors += [
        f"{t.path}: no lockfile; run pinner lock {t.path} first"
        for t in targets
        if t.lock_text is None
    ]
    moved: list[FileReport] = []
    problems: list[str] = []
    if not errors:
        moved, problems = asyncio.run(
            _moved(targets, settings, scope, errors, report, snapshot_mirrors)
        )
    if errors:
        for line in errors:
            report.error(line)
        if as_json:
            print_json_failure(errors, 1)
        return 1
    if as_json:
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
    targets: list[Target],
    settings: Settings,
    scope: Scope,
    errors: list[str],
    report: Reporter,
    snapshot_mirrors: Mapping[str, str] | None = None,
) -> tuple[list[FileReport], list[str]]:
    """Pinned tags that moved, and what the snapshots contradict in locked package entries."""
    session = Session.for_run(
        targets,
        settings,
        report,
        snapshot_mirrors=snapshot_mirrors,
        cache_dir=default_cache_dir(),
        refresh=True,
    )
    problems = []
    async with session:
        fresh = await session.resolve_images(refresh_queries(targets, scope))
        if not scope.images:  # --image NAME asks about those images alone
            for target in targets:
                try:
                    found = await engine.verify_packages(session, target)
                except PinnerError as e:
                    errors.append(f"{target.lock_path}: packages not verified: {e}")
                    continue
                problems += [f"{target.lock_path}: {problem}" for problem in found]
    reports = []
    for target in targets:
        _, changes, file_errors = image_changes(target, fresh, scope)
        errors.extend(file_errors)
        reports.append(FileReport(target.path, tuple(changes)))
    return reports, problems
