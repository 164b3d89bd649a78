"""`pinner lock`: pin images, packages and timestamps; write the lock beside each Dockerfile."""

from __future__ import annotations

import asyncio
import os
import shlex
from collections import deque
from collections.abc import Mapping, Sequence

from pinner import stagework
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
from pinner.output import Reporter, print_json
from pinner.reference import ImageRef
from pinner.remote.registry import Manifest
from pinner.remote.session import Session
from pinner.workspace import Target, in_file, parse_read, read

Answers = dict[ImageRef, Manifest | RegistryError]


def lock(*, run: Run) -> int:
    """Resolve, rewrite and write; on any failure print each and write nothing."""
    report = Reporter(quiet=run.quiet)
    options = one_time(run.options)
    entries = deque(read(run.selection, lock_texts=run.dry_run))
    session = run.session([e for e in entries if isinstance(e, Target)], report)
    outcomes, writes, errors, session_requests = asyncio.run(
        _lock_all(entries, session, options, report)
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
    entries: deque[Target | Problem], session: Session, options: Options, report: Reporter
) -> tuple[list[Outcome], dict[str, str], list[Problem], dict[str, int]]:
    """Resolve every image once for the run, then lock each Dockerfile; errors are collected.

    Returns the settled outcomes and the writes. Each file's parse is dropped once it is
    locked, and its original (the file as read) once settled. When a file already failed,
    only resolution failures are still worth telling.
    """
    locking = _Locking(session, options)
    async with session:
        work, errors, answers = await _parse_asking(entries, locking, report)
        resolve_only = bool(errors)
        errors += failures(work, answers)
        if errors or resolve_only:
            return [], {}, errors, session.requests
        resolved = {q: a for q, a in answers.items() if isinstance(a, Manifest)}
        del answers
        while work:
            await locking.lock(work.popleft(), resolved)
    return locking.outcomes, locking.writes, locking.errors, session.requests


class _Locking:
    """A lock run's files: each locked in turn, its outcome settled against the file as read,
    its writes kept; a file that cannot be locked is an error."""

    def __init__(self, session: Session, options: Options) -> None:
        self.session, self.options = session, options
        self.originals: dict[str, Target] = {}  # the files as read, until settled
        self.outcomes: list[Outcome] = []
        self.writes: dict[str, str] = {}
        self.errors: list[Problem] = []

    async def lock(self, target: Target, resolved: Mapping[ImageRef, Manifest]) -> None:
        try:
            outcome = await stagework.lock_target(self.session, target, resolved, self.options)
        except PinnerError as e:
            self.errors.append(in_file(target, e))
            return
        settled, file_writes = settle(outcome, self.originals.pop(target.path))
        self.outcomes.append(settled)
        self.writes.update(file_writes)


async def _parse_asking(
    entries: deque[Target | Problem], locking: _Locking, report: Reporter
) -> tuple[deque[Target], list[Problem], Answers]:
    """Parse the files as workspace.load would, asking the registry about each file's images as
    soon as it is parsed: the requests are out while the next files parse. entries is consumed,
    so that each file as read (its lock records too) goes once its parse holds what it needs.

    A file whose images the locks answer, while no request is out and no file waits or failed
    before it, is locked at once: a re-lock holds one parse at a time, not all of them.

    Returns the targets still to lock, the parse errors and every image's answer; the files as
    read go to locking.originals (their text only: writes and diffs compare with them, not
    with what the lock works on).
    """
    session, options = locking.session, locking.options
    progress = report.progress("resolving images", 0)
    asked: set[ImageRef] = set()
    pending: list[asyncio.Future[Answers]] = []
    locked: dict[ImageRef, Manifest] = {}  # what the locks answered
    work: deque[Target] = deque()
    errors: list[Problem] = []
    platform_errors: list[Problem] = []
    try:
        while entries:
            await asyncio.sleep(0)  # answers are read between parses
            parsed = parse_read(entries.popleft())
            if isinstance(parsed, Problem):
                errors.append(parsed)
                continue
            targets, problems = for_platforms([parsed], options)
            platform_errors += problems
            for target in targets:
                locking.originals[target.path] = text_only(target)
                target = without_changed_pins(target, options)
                new = [q for q in image_queries([target], options) if q not in asked]
                if new:
                    asked.update(new)
                    found = session.locked_answers(new)
                    if found is None:
                        asking = session.resolve_images(new, progress)
                        pending.append(asyncio.ensure_future(asking))
                    else:
                        locked.update(found)
                if pending or work or errors or platform_errors:
                    work.append(target)
                else:
                    await locking.lock(target, locked)
        answers: Answers = dict(locked)
        for found_later in await asyncio.gather(*pending):
            answers.update(found_later)
    except BaseException:
        for request in pending:
            request.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    finally:
        progress.close()
    return work, errors + platform_errors, answers


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
    for outcome in outcomes:
        epoch = outcome.lock.source_date_epoch
        if epoch:
            path = outcome.target.path
            context = given_context(options, path, outcome.lock)
            docker, buildah = build_commands(path, epoch, context)
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
