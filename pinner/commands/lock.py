"""`pinner lock`: pin images, packages and timestamps; write the lock beside each Dockerfile."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from collections import deque
from collections.abc import Sequence

from pinner import files, stagework
from pinner.commands.run import Run
from pinner.errors import PinnerError, Problem
from pinner.outcome import (
    Options,
    Outcome,
    diffs,
    failures,
    image_queries,
    load_targets,
    one_time,
    settle,
    signature_notice,
    text_only,
    without_changed_pins,
)
from pinner.output import Reporter, print_json
from pinner.remote.registry import Manifest
from pinner.remote.session import Session
from pinner.workspace import Target, in_file


def lock(*, run: Run) -> int:
    """Resolve, rewrite and write; on any failure print each and write nothing."""
    report = Reporter(quiet=run.quiet)
    options = one_time(run.options)
    targets, errors = load_targets(run.selection, options, lock_texts=run.dry_run)
    # Writes and diffs compare with the files as they are, not as the lock worked on them. They
    # need each file's text, not its parse: _lock_all drops each parse once its file is locked.
    originals = {t.path: text_only(t) for t in targets}
    work = deque(without_changed_pins(t, options) for t in targets)
    del targets
    session = run.session(work, report)
    outcomes, writes, lock_errors, session_requests = asyncio.run(
        _lock_all(work, originals, session, options, resolve_only=bool(errors))
    )
    errors += lock_errors
    if errors:
        return report.failures(errors, as_json=run.as_json)
    for outcome in outcomes:
        for note in outcome.notes:
            report.notice(note)
    signature_notice(report, outcomes)
    if run.dry_run:
        sys.stdout.write(diffs(outcomes, writes))
    else:
        files.write_all(writes)
    if run.as_json:
        print_json(
            {"ok": True, "files": [_result(o) for o in outcomes], "requests": session_requests}
        )
    changed = sum(1 for o in outcomes if o.target.path in writes or o.target.lock_path in writes)
    verb = "would change" if run.dry_run else "changed"
    report.notice(f"{len(outcomes)} file(s); {verb} {changed}")
    _build_hint(report, outcomes)
    return 0


async def _lock_all(
    targets: deque[Target],
    originals: dict[str, Target],
    session: Session,
    options: Options,
    *,
    resolve_only: bool,
) -> tuple[list[Outcome], dict[str, str], list[Problem], dict[str, int]]:
    """Resolve every image once for the run, then lock each Dockerfile; errors are collected.

    Returns the settled outcomes and the writes. targets is consumed: each file's parse is
    dropped once it is locked, and its original (the file as read, by path) once settled.
    resolve_only: other files already failed, so only resolution failures are still worth telling.
    """
    outcomes = []
    writes: dict[str, str] = {}
    async with session:
        answers = await session.resolve_images(image_queries(targets, options))
        errors = failures(targets, answers)
        if errors or resolve_only:
            return [], {}, errors, session.requests
        resolved = {q: a for q, a in answers.items() if isinstance(a, Manifest)}
        del answers
        while targets:
            target = targets.popleft()
            try:
                outcome = await stagework.lock_target(session, target, resolved, options)
            except PinnerError as e:
                errors.append(in_file(target, e))
                continue
            settled, file_writes = settle(outcome, originals.pop(target.path))
            outcomes.append(settled)
            writes.update(file_writes)
    return outcomes, writes, errors, session.requests


def build_commands(path: str, epoch: int) -> tuple[str, str]:
    """docker buildx and buildah commands that build one locked Dockerfile reproducibly.

    The context is the Dockerfile's directory, the usual layout; -f names the file either way.
    """
    file, context = shlex.quote(path), shlex.quote(os.path.dirname(path) or ".")
    return (
        f"docker buildx build -f {file} --build-arg SOURCE_DATE_EPOCH={epoch}"
        f" --output type=image,name=IMAGE,rewrite-timestamp=true {context}",
        f"buildah build -f {file} --timestamp {epoch} {context}",
    )


def _build_hint(report: Reporter, outcomes: Sequence[Outcome]) -> None:
    for outcome in outcomes:
        epoch = outcome.lock.source_date_epoch
        if epoch:
            docker, buildah = build_commands(outcome.target.path, epoch)
            report.notice(
                f"Build {outcome.target.path} reproducibly with:\n  {docker}\n  {buildah}"
            )


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
