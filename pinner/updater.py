"""Refreshing pins: re-resolve tags and package versions; change files only if they moved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pinner import pinning, reproducible
from pinner.errors import Problem, RegistryError
from pinner.lockfile import LockedImage
from pinner.outcome import Options, Outcome, compose, images_only, pin_images, timestamp_now
from pinner.reference import ImageRef
from pinner.refresh import FileReport, ImageChange, compare_image, compare_packages
from pinner.remote.registry import Manifest
from pinner.remote.session import Session
from pinner.stagework import StageWork, choose_snapshot
from pinner.workspace import DOCKERFILE, Target


class Scope(NamedTuple):
    """What a refresh may move: which images (empty: all), which kinds, and noise handling."""

    images: tuple[str, ...] = ()
    only: str | None = None
    strict: bool = False

    def wants(self, image: LockedImage) -> bool:
        """True if --image names this image (by familiar or canonical name, with or without tag)."""
        if not self.images:
            return True
        ref = pinning.parse_locked(image)
        names = {ref.name, ref.familiar_name}
        names |= {f"{n}:{ref.tag}" for n in set(names) if ref.tag}
        return bool(names & set(self.images))


def refresh_queries(targets: Sequence[Target], scope: Scope) -> list[ImageRef]:
    """The tag queries to re-resolve: every locked image the scope covers that has a tag."""
    if scope.only == "packages":
        return []
    queries = []
    for target in targets:
        for image in target.lock.images:
            if image.tag is not None and scope.wants(image):
                queries.append(pinning.tag_query(image))
    return queries


def image_changes(
    target: Target, fresh: Mapping[ImageRef, Manifest | RegistryError], scope: Scope
) -> tuple[dict[str, Manifest], list[ImageChange], list[Problem]]:
    """New manifests by old digest for the images that moved, the changes, and errors."""
    moved: dict[str, Manifest] = {}
    changes: list[ImageChange] = []
    errors: list[Problem] = []
    for image in target.lock.images:
        if image.tag is None or not scope.wants(image) or scope.only == "packages":
            continue
        answer = fresh.get(pinning.tag_query(image))
        if isinstance(answer, RegistryError):
            errors.append(Problem(target.lock_path, None, f"{image.reference}: {answer}"))
            continue
        if answer is None:
            continue
        change = compare_image(image, answer)
        if change is None:
            continue
        changes.append(change)
        if scope.strict or not change.noise:
            moved[image.digest] = answer
    return moved, changes, errors


def changed_errors(target: Target) -> list[Problem]:
    """An error for each reference pinned to another digest than its lock's since it was locked.

    The digest written there is another image's: only lock may choose the new one.
    """
    changed = pinning.changed_since_lock(target.parsed, target.lock)
    return [
        Problem(
            target.path,
            use.line,
            f"{use.expanded}: {pinning.changed_note(image, target.lock_path, target.path)}",
        )
        for use, image in changed.items()
    ]


def images_alone(target: Target) -> bool:
    """Whether only a moved image can change the file: no stage has package work to redo."""
    return (
        target.kind == DOCKERFILE
        and not target.lock.stages
        and not any(
            plan.manager is not None or plan.apt_runs for plan in reproducible.plans(target.parsed)
        )
    )


def unmoved(
    target: Target, fresh: Mapping[ImageRef, Manifest | RegistryError], scope: Scope
) -> FileReport | None:
    """update_target's report for a file of images alone none of which moved, else None.

    The file's parse is not needed for it: the lock's records and the answers say it all.
    """
    moved, changes, errors = image_changes(target, fresh, scope)
    if moved or errors:
        return None
    return FileReport(target.path, tuple(changes), (), target.lock.snapshot, target.lock.snapshot)


async def update_target(
    session: Session,
    target: Target,
    fresh: Mapping[ImageRef, Manifest | RegistryError],
    options: Options,
    scope: Scope,
) -> tuple[Outcome | None, FileReport, list[Problem]]:
    """The new files for one Dockerfile if anything moved, the report, and errors."""
    old = target.lock
    if scope.images and scope.only is None:
        scope = scope._replace(only="images")  # --image NAME refreshes those images alone
    errors = changed_errors(target)
    if errors:
        return None, FileReport(target.path), errors
    moved, changes, errors = image_changes(target, fresh, scope)
    resolved = pinning.LockAnswers.of([target.lock]).for_uses(target.parsed.uses, moved)
    report = FileReport(target.path, tuple(changes), (), old.snapshot, old.snapshot)
    stages, notes = list(old.stages), list[str]()
    steps: dict[str, tuple[str, ...] | None] = {}
    snapshot = old.snapshot or timestamp_now(options.now)
    only_images = images_only(options, old)
    if scope.only != "images" and not only_images:
        work = StageWork(session, target, resolved, options)
        new_snapshot = await choose_snapshot(work, options.snapshot)
        new_stages, notes = await work.run(new_snapshot)
        target = work.target  # with the base images' ENV its RUNs read
        packages = compare_packages(old.stages, new_stages)
        if packages or any(scope.strict or not c.noise for c in changes):
            # Pins, snapshot time and SOURCE_DATE_EPOCH move together, or not at all.
            stages, snapshot, steps = new_stages, new_snapshot, work.steps
            before = {s.stage: s.sources for s in old.stages}
            regenerated = tuple(
                s.stage
                for s in new_stages
                if s.sources and before.get(s.stage) and before[s.stage] != s.sources
            )
            report = report._replace(
                packages=packages, snapshot_new=new_snapshot, sources_changed=regenerated
            )
    if errors or not report.changed(scope.strict):
        return None, report, errors
    if only_images or old.snapshot is None:
        pinned, lock = pin_images(target, resolved, only_images)
        return Outcome(target, pinned.text, lock, tuple(notes)), report, errors
    return compose(target, resolved, options, snapshot, stages, notes, steps), report, errors
