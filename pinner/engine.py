"""What `lock` and `update` share: from loaded Dockerfiles to new texts and locks, via a Session."""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from pinner import dockerfile, lockfile, managers, pinning, reproducible
from pinner.apt import added, commands, exactstep
from pinner.apt.shell import run_invocations
from pinner.apt.sources import TIMESTAMP_RE, Distro, is_timestamp, mirror_base
from pinner.aptlock import DPKG_ARCH, SIGNATURE_UNCHECKED, resolve_stage, verify_stage
from pinner.baseimage import BaseImage
from pinner.errors import (
    DockerfileError,
    MirrorError,
    PackageError,
    PinnerError,
    RegistryError,
    UsageError,
)
from pinner.lockfile import Lock, LockedPackage, LockedStage, UnpinnedPackage
from pinner.output import Reporter
from pinner.reference import ImageRef, normalize_platform, parse
from pinner.remote.registry import Manifest
from pinner.remote.session import Session
from pinner.workspace import DOCKERFILE, Selection, Target, load, unified_diff

DEFAULT_PLATFORMS = ("linux/amd64",)
# containerd's platforms package: each part of os/arch/variant is one such word.
_PLATFORM_PART = re.compile(r"[A-Za-z0-9_-]+")
SNAPSHOT_BASE = "base"


class Options(NamedTuple):
    """How to lock: snapshot choice, mirrors, whether to write versions, platforms, scope."""

    snapshot: str | None = None
    snapshot_mirrors: Mapping[str, str] = {}
    pin_versions: bool = False
    platforms: tuple[str, ...] = ()
    images_only: bool | None = None  # None: as the lock was made (default: not images only)
    now: float | None = None


def images_only(options: Options, lock: Lock) -> bool:
    """Whether to pin images only: as asked, else as the lock records it was made."""
    return lock.images_only if options.images_only is None else options.images_only


class Outcome(NamedTuple):
    """One Dockerfile's new text and lock, and what the user should be told."""

    target: Target
    text: str
    lock: Lock
    notes: tuple[str, ...]


def timestamp_now(now: float | None = None) -> str:
    """The current UTC time as a snapshot timestamp, to the second."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def one_time(options: Options) -> Options:
    """The options with the run's time read once: every file gets one snapshot time and epoch."""
    return options if options.now is not None else options._replace(now=time.time())


def epoch_of(timestamp: str) -> int:
    """Seconds since 1970 of a YYYYMMDDTHHMMSSZ timestamp."""
    return calendar.timegm(time.strptime(timestamp, "%Y%m%dT%H%M%SZ"))


def check_snapshot_option(value: str | None) -> None:
    """Refuse a --snapshot that is neither a real UTC time nor "base"."""
    if value is None or value == SNAPSHOT_BASE or is_timestamp(value):
        return
    if TIMESTAMP_RE.match(value):
        raise UsageError(f"--snapshot {value}: not a real UTC time from 1970 on")
    raise UsageError(f"--snapshot {value}: expected YYYYMMDDTHHMMSSZ or 'base'")


def platform_option(value: str) -> str:
    """A --platform value normalised as containerd does; a usage error where apt has no arch."""
    # "arm64", "aarch64" and "linux/arm64/v8" are all linux/arm64 (containerd's platforms.Parse).
    parts = value.split("/")
    if len(parts) == 1:
        # containerd's platforms.Parse takes a lone architecture as one for the default OS.
        parts = ["linux", *parts]
    platform = None
    if len(parts) <= 3 and all(_PLATFORM_PART.fullmatch(p) for p in parts):
        platform = normalize_platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
    if platform not in DPKG_ARCH:
        known = ", ".join(sorted(DPKG_ARCH))
        raise UsageError(f"--platform {value}: expected OS/ARCH[/VARIANT], one of {known}")
    return platform


def platform_options(values: Sequence[str]) -> tuple[str, ...]:
    """Every --platform value normalised, each once, in the order given."""
    return tuple(dict.fromkeys(platform_option(v) for v in values))


def parse_platforms(options: Options, lock: Lock) -> tuple[str, ...]:
    """The platforms a Dockerfile's automatic platform ARGs are read for: the locked ones."""
    locked = dockerfile.locked_platforms(u for i in lock.images for u in i.used_by)
    return options.platforms or locked or (dockerfile.DEFAULT_PLATFORM,)


def load_targets(selection: Selection, options: Options) -> tuple[list[Target], list[str]]:
    """The run's files and their locks, parsed for every platform to lock; one error per failure."""
    targets, errors = load(selection)
    targets, platform_errors = for_platforms(targets, options)
    return targets, [str(e) for e in errors] + platform_errors


def for_platforms(targets: Sequence[Target], options: Options) -> tuple[list[Target], list[str]]:
    """Targets parsed for every platform to lock (the load parsed for the lock's), and errors."""
    if not options.platforms:
        return list(targets), []
    platforms = options.platforms
    result, errors = [], []
    for target in targets:
        if target.kind != DOCKERFILE:
            result.append(target)
            continue
        try:
            parsed = dockerfile.parse(target.parsed.text, target.path, target.build_args, platforms)
        except DockerfileError as e:
            errors.append(str(e))
            continue
        result.append(target._replace(parsed=parsed))
    return result, errors


def without_changed_pins(target: Target, options: Options | None = None) -> Target:
    """The target as lock must work on it: references changed since the lock lose their digest."""
    if target.kind != DOCKERFILE:
        return target  # a reference file's text is no Dockerfile to parse again
    text = pinning.unpin_changed(target.parsed, target.lock)
    if text == target.parsed.text:
        return target
    platforms = parse_platforms(options or Options(), target.lock)
    return target._replace(parsed=dockerfile.parse(text, target.path, target.build_args, platforms))


def frontend_queries(targets: Sequence[Target]) -> dict[ImageRef, str]:
    """The Dockerfile frontends the rewrite writes into syntax lines, by query."""
    needed = (reproducible.frontend_needed(t.parsed) for t in targets if t.kind == DOCKERFILE)
    return {pinning.query_ref(parse(text)): text for text in needed if text is not None}


def image_queries(targets: Sequence[Target], options: Options) -> list[ImageRef]:
    """Every image the run needs: the Dockerfiles' and, unless images only, the frontend's."""
    queries = [pinning.query(use) for t in targets for use in t.parsed.uses]
    queries.extend(frontend_queries([t for t in targets if not images_only(options, t.lock)]))
    return queries


def failures(targets: Sequence[Target], answers: Mapping[ImageRef, object]) -> list[str]:
    """One line per failing use: file:line: reference: what the registry said."""
    lines = []
    for target in targets:
        for use in target.parsed.uses:
            answer = answers.get(pinning.query(use))
            if isinstance(answer, RegistryError):
                lines.append(f"{target.path}:{use.line}: {use.expanded}: {answer}")
    for query, text in frontend_queries(targets).items():
        answer = answers.get(query)
        if isinstance(answer, RegistryError):
            lines.append(f"{text}: {answer}")
    return lines


class StageWork:
    """Locks the package stages of one Dockerfile."""

    def __init__(
        self,
        session: Session,
        target: Target,
        resolved: Mapping[ImageRef, Manifest],
        options: Options,
    ) -> None:
        self.session = session
        self.target = target
        self.resolved = resolved
        self.options = options
        self.images: dict[str, dict[str, BaseImage]] = {}
        # The snapshot step per stage derived in this run: exact lines, or None for the generic.
        self.steps: dict[str, tuple[str, ...] | None] = {}

    async def stage_bases(self, stage: dockerfile.Stage) -> dict[str, BaseImage]:
        """The base image of a stage per dpkg architecture; a stage FROM a stage shares its."""
        images = await self.stage_images(stage)
        return {DPKG_ARCH[platform]: base for platform, base in images.items()}

    def _root_use(self, stage: dockerfile.Stage) -> dockerfile.ImageUse:
        """The external image a stage builds on, through any stages it is FROM."""
        stages = {s.label: s for s in self.target.parsed.stages}
        while stage.parent is not None:
            stage = stages[stage.parent]
        return next(u for u in self.target.parsed.uses if u.used_by == f"stage {stage.label}: FROM")

    async def stage_images(
        self, stage: dockerfile.Stage, every_layer: bool = False
    ) -> dict[str, BaseImage]:
        """The base image of a stage per platform (linux/amd64), as stage_bases reads them.

        every_layer: read the image's files from all its layers, not only up to its OS layer.
        """
        key = f"{stage.label}\0{every_layer}"
        if key not in self.images:
            self.images[key] = await self._inspect(stage, every_layer)
        return self.images[key]

    async def _inspect(
        self, stage: dockerfile.Stage, every_layer: bool = False
    ) -> dict[str, BaseImage]:
        use = self._root_use(stage)
        manifest = self.resolved[pinning.query(use)]
        wanted = self.options.platforms or DEFAULT_PLATFORMS
        if manifest.platforms:
            available = dict(manifest.platforms)
            missing = [p for p in wanted if p not in available]
            if missing:
                # Another platform's packages would be locked for an image the build cannot use.
                raise PinnerError(
                    f"{self.target.path}:{use.line}: {use.expanded}: no {missing[0]} image in"
                    f" its index (it has {', '.join(available)}); choose with --platform"
                )
            chosen = [(p, available[p]) for p in wanted]
        else:
            chosen = [(p, manifest.digest) for p in wanted]
        images = {}
        for platform, digest in chosen:
            arch = DPKG_ARCH.get(platform)
            if arch is None:
                raise PinnerError(f"{use.expanded}: no dpkg architecture for platform {platform}")
            base = await self.session.base_image(use.ref, digest, every_layer)
            if base.architecture not in (None, arch):
                # A single manifest names no platform: its own dpkg says which it is.
                raise PinnerError(
                    f"{self.target.path}:{use.line}: {use.expanded}: a single {base.architecture}"
                    f" image, not {platform}; choose with --platform"
                )
            images[platform] = base
        return images

    def base_key(self, stage: dockerfile.Stage) -> str:
        """The pinned image a stage builds on, through any stages it is FROM, as the lock says."""
        use = self._root_use(stage)
        return f"{use.ref.name}@{self.resolved[pinning.query(use)].digest}"

    def _reusable(
        self,
        old: LockedStage,
        base: str,
        snapshot: str,
        names: Sequence[str],
        detached: Sequence[UnpinnedPackage] = (),
    ) -> bool:
        """A locked stage answers again when nothing it depends on moved.

        detached: the packages apt may take from sources the stage adds, as the lock records them.
        """
        wanted = {DPKG_ARCH.get(p) for p in self.options.platforms or DEFAULT_PLATFORMS}
        locked_arches = {p.architecture for p in old.packages} | {
            u.architecture for u in old.unpinned if u.architecture is not None
        }
        pinnable = set(names) - {u.name for u in detached}
        return (
            not self.session.refresh
            and old.base == base
            and old.snapshot == snapshot
            and old.distro is not None
            and {p.name for p in old.packages} | {u.name for u in old.unpinned} == set(names)
            and {u for u in old.unpinned if u.architecture is None} == set(detached)
            and (not pinnable or locked_arches == wanted or not self.options.platforms)
        )

    async def run(self, snapshot: str) -> tuple[list[LockedStage], list[str]]:
        """The locked stages and notes for the user."""
        parsed, old = self.target.parsed, self.target.lock
        previous = {s.stage: s for s in old.stages}
        stages: list[LockedStage] = []
        notes: list[str] = []
        added: dict[str, tuple[str, ...]] = {}  # stage -> repositories it adds or inherits
        for plan in reproducible.plans(parsed):
            label = plan.stage.label
            where = f"{self.target.path}: stage {label}"
            inherited = added.get(plan.stage.parent or "", ())
            third_party, added[label] = _third_party(parsed, plan.stage, inherited)
            manager = managers.get(plan.manager)
            if manager is not None:
                found = await self._manager_stage(plan, manager, previous.get(label), snapshot)
                if found is not None:
                    stage, stage_notes = found
                    stages.append(stage)
                    notes.extend(stage_notes)
                continue
            if plan.manager is not None and plan.manager != "apt":
                note = f"{plan.manager} has no dated snapshot mirror; its packages are not pinned"
                notes.append(f"{where}: {note}")
                stages.append(LockedStage(label, package_manager=plan.manager, notes=(note,)))
                continue
            if not plan.apt_runs:
                continue
            requests, line_notes, lines = _packages(parsed.text, plan, parsed.escape)
            names = [r.name for r in requests]
            notes.extend(f"{self.target.path}:{line}: {note}" for line, note in line_notes)
            stage_notes = list(dict.fromkeys(note for _, note in line_notes))
            third_party = {n: r for n, r in third_party.items() if n in names}
            # apt takes the higher version of Debian's and the added repository's: no record.
            detached = [UnpinnedPackage(n, f"not pinned: {r}") for n, r in third_party.items()]
            if third_party:
                notes.append(
                    f"{where}: adds apt sources pinner cannot snapshot"
                    f" ({', '.join(added[label])}); not pinned: {', '.join(third_party)}"
                )
            base = self.base_key(plan.stage)
            old_stage = previous.get(label)
            has_step = not plan.needs_step or reproducible.find_step(parsed, plan.stage) is not None
            if (
                old_stage is not None
                and old_stage.step is not None
                and has_step
                and self._reusable(old_stage, base, snapshot, names, detached)
            ):
                stages.append(old_stage)
                continue
            bases = await self.stage_bases(plan.stage)
            distro = next(iter(bases.values())).distro if bases else None
            if distro not in reproducible.SNAPSHOT_DISTROS:
                note = f"apt on {distro or 'an unknown distribution'}: no snapshot mirror known"
                notes.append(f"{where}: {note}")
                stages.append(
                    LockedStage(label, base, distro, package_manager="apt", notes=(note,))
                )
                continue
            pinnable = [r for r in requests if r.name not in third_party]
            step, record, fallback = self._snapshot_step(plan, bases, distro, snapshot)
            if fallback is not None:
                notes.append(f"{where}: {fallback}")
                stage_notes.append(fallback)
            if old_stage is not None and old_stage.sources and record != old_stage.sources:
                notes.append(
                    f"{where}: the base image's apt sources changed; the snapshot step follows them"
                )
            try:
                stage = await resolve_stage(
                    self.session.mirror, label, snapshot, bases, pinnable, stage_notes
                )
            except PackageError as exc:
                # The line of the word, as every error about a Dockerfile names it.
                line = lines.get(exc.package)
                where_word = f"{self.target.path}:{line}" if line else self.target.path
                raise PackageError(exc.package, f"{where_word}: {exc}") from None
            notes.extend(_unpinned_notes(where, stage))
            stages.append(
                stage._replace(
                    base=base, unpinned=(*stage.unpinned, *detached), step=step, sources=record
                )
            )
        return stages, notes

    async def _manager_stage(
        self,
        plan: reproducible.StagePlan,
        manager: managers.Manager,
        old: LockedStage | None,
        snapshot: str,
    ) -> tuple[LockedStage, list[str]] | None:
        """A stage whose package manager has a module: its packages resolved per platform."""
        label = plan.stage.label
        where = f"{self.target.path}: stage {label}"
        requests, line_notes, lines = _manager_packages(self.target.parsed, plan, manager)
        notes = [f"{self.target.path}:{line}: {note}" for line, note in line_notes]
        stage_notes = list(dict.fromkeys(note for _, note in line_notes))
        if not requests and not manager.snapshots:
            return (
                LockedStage(label, package_manager=manager.name, notes=tuple(stage_notes)),
                notes,
            )
        base = self.base_key(plan.stage)
        if old is not None and self._manager_reusable(old, base, manager, requests, snapshot):
            return old, notes
        # apk's installed database: what the base image's upper layers added (python:alpine's
        # own packages) is installed too, so those layers are read as well.
        images = await self.stage_images(plan.stage, getattr(manager, "reads_every_layer", False))
        mirrors = self.options.snapshot_mirrors
        packages: list[LockedPackage] = []
        unpinned: list[UnpinnedPackage] = []
        signatures: set[str | None] = set()
        rebuildable = True
        distro = release = None
        steps: set[tuple[str, ...]] = set()
        for platform, image in images.items():
            config = manager.configure(dict(image.files), platform)
            step = None if isinstance(config, str) else manager.step(config, snapshot, mirrors)
            if isinstance(step, str):
                config = step
            if isinstance(config, str):
                note = f"{manager.name} on {image.pretty_name} ({platform}): {config}; not pinned"
                notes.append(f"{where}: {note}")
                stage_notes.append(note)
                unpinned += [UnpinnedPackage(r.name, f"not pinned: {config}") for r in requests]
                continue
            distro, release = config.distro, config.release
            try:
                resolved = await manager.resolve(
                    self.session.mirror.fetch,
                    config,
                    requests,
                    mirrors,
                    # Exact pins in the words are set aside only when this run rewrites them: a
                    # pin left in the file must be what the lock records.
                    refresh=self.session.refresh and self.options.pin_versions,
                    snapshot=snapshot,
                )
            except PackageError as exc:
                line = lines.get(exc.package)
                where_word = f"{self.target.path}:{line}" if line else self.target.path
                raise PackageError(exc.package, f"{where_word}: {exc}") from None
            except MirrorError as exc:
                raise MirrorError(f"{where}: {exc}") from None
            # Asked again: a step can depend on what resolve read (Tumbleweed's history date).
            step = manager.step(config, snapshot, mirrors)
            if isinstance(step, str):
                raise MirrorError(f"{where}: {step}")
            if step is not None:
                steps.add(step)
            packages += resolved.packages
            unpinned += resolved.unpinned
            stage_notes += resolved.notes
            notes += [f"{where}: {note}" for note in resolved.notes]
            signatures.add(resolved.signature)
            rebuildable = rebuildable and resolved.rebuildable
        if len(steps) > 1:
            raise PackageError(
                plan.manager or "", f"{where}: the snapshot step differs by platform; not pinned"
            )
        if steps:
            # The rewrite places these lines before the stage's first RUN of the manager.
            self.steps[label] = steps.pop()
        if packages and not rebuildable:
            stage_notes.append(managers.NOT_REBUILDABLE)
            notes.append(f"{where}: {manager.name} versions {managers.NOT_REBUILDABLE}")
        stage = LockedStage(
            label,
            base,
            distro,
            release,
            package_manager=manager.name,
            snapshot=snapshot if label in self.steps else None,
            signature=signatures.pop() if len(signatures) == 1 else None,
            packages=tuple(packages),
            notes=tuple(dict.fromkeys(stage_notes)),
            unpinned=tuple(dict.fromkeys(unpinned)),
            step="exact" if label in self.steps else None,
        )
        return stage, list(dict.fromkeys(notes))

    def _manager_reusable(
        self,
        old: LockedStage,
        base: str,
        manager: managers.Manager,
        requests: Sequence[managers.PackageArg],
        snapshot: str,
    ) -> bool:
        """A locked stage of a manager module answers again when its base and words are the same
        (and its snapshot, for a manager that pins by one)."""
        named = {r.name for r in requests}
        locked = {p.name for p in old.packages} | {u.name for u in old.unpinned}
        versions: dict[str, set[str]] = {}
        for package in old.packages:
            versions.setdefault(package.name, set()).add(package.version)
        # A word pinned by hand to another version than the lock's: resolve it again.
        moved = any(
            r.constraint.startswith("=")
            and versions.get(r.name, {r.constraint[1:]}) != {r.constraint[1:]}
            for r in requests
            if r.constraint
        )
        return (
            not moved
            and not self.session.refresh
            and old.base == base
            and old.package_manager == manager.name
            and old.snapshot in (None, snapshot)
            and bool(old.packages)
            and named <= locked
            and self._wanted_arches(old)
        )

    def _wanted_arches(self, old: LockedStage) -> bool:
        """Whether the old stage was locked for as many platforms as this run wants."""
        arches = {p.architecture for p in old.packages}
        return not self.options.platforms or len(arches) == len(self.options.platforms)

    def _snapshot_step(
        self,
        plan: reproducible.StagePlan,
        bases: Mapping[str, BaseImage],
        distro: str,
        snapshot: str,
    ) -> tuple[str, tuple[str, ...], str | None]:
        """The kind of step a stage gets, the record of its base's sources, why not exact."""
        record = tuple(
            sorted(
                {
                    f"{f.path} sha256:{hashlib.sha256(f.text.encode()).hexdigest()}"
                    for b in bases.values()
                    for f in b.sources
                }
            )
        )
        if not plan.needs_step:
            return "inherited", record, None
        label = plan.stage.label
        which: Distro = "ubuntu" if distro == "ubuntu" else "debian"
        line = reproducible.writes_sources(self.target.parsed, plan)
        if line is not None:
            why = f"line {line} may write apt sources before the first apt RUN"
        else:
            found = exactstep.derive(
                {a: [(f.path, f.text) for f in b.sources] for a, b in bases.items()},
                which,
                snapshot,
                mirror_base(
                    which, {k: v for k, v in self.options.snapshot_mirrors.items() if k == which}
                ),
            )
            if isinstance(found, exactstep.ExactStep):
                self.steps[label] = found.lines
                return "exact", record, None
            why = found
        self.steps[label] = None
        return "generic", record, f"generic snapshot step: {why}"


def _packages(
    text: str, plan: reproducible.StagePlan, escape: str
) -> tuple[list[commands.PackageArg], list[tuple[int, str]], dict[str, int]]:
    """The package words a stage installs (each name once), notes by line, and each word's line."""
    requests: dict[str, commands.PackageArg] = {}
    notes: list[tuple[int, str]] = []
    lines: dict[str, int] = {}
    for run in plan.apt_runs:
        shell = reproducible.shell_text(text, run)
        offset = text.find(shell, run.span.start)
        for package in commands.install_packages(shell, escape=escape):
            requests.setdefault(package.name, package)
            line = run.line + text.count("\n", run.span.start, offset + package.start)
            lines.setdefault(package.name, line)
        for command in commands.apt_commands(shell, escape=escape):
            notes.extend((run.line, note) for note in command.notes)
    return list(requests.values()), list(dict.fromkeys(notes)), lines


def _manager_packages(
    parsed: dockerfile.Dockerfile, plan: reproducible.StagePlan, manager: managers.Manager
) -> tuple[list[managers.PackageArg], list[tuple[int, str]], dict[str, int]]:
    """The package words a manager stage installs (each name once), notes by line, their lines."""
    requests: dict[str, managers.PackageArg] = {}
    notes: list[tuple[int, str]] = []
    lines: dict[str, int] = {}
    text = parsed.text
    for run in plan.manager_runs:
        shell = reproducible.shell_text(text, run)
        offset = text.find(shell, run.span.start)
        invocations = run_invocations(shell, parsed.escape)
        for install in managers.invocations_installs(manager, invocations):
            notes.extend((run.line, note) for note in install.notes)
            for package in install.packages:
                requests.setdefault(package.name, package)
                line = run.line + text.count("\n", run.span.start, offset + package.start)
                lines.setdefault(package.name, line)
    # A RUN from the stage's first one of the manager on that re-points its mirrors or
    # repositories (reflector, `zypper ar`) sends later RUNs past the snapshot step: say so.
    first = plan.manager_runs[0].line if plan.manager_runs else None
    for run in plan.stage.instructions[1:]:
        if run.keyword == "RUN" and first is not None and run.line >= first:
            why = manager.config_changes(reproducible.shell_text(text, run), parsed.escape)
            if why is not None:
                notes.append((run.line, why))
    return list(requests.values()), list(dict.fromkeys(notes)), lines


def _third_party(
    parsed: dockerfile.Dockerfile, stage: dockerfile.Stage, inherited: tuple[str, ...]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Packages installed once the stage has apt sources pinner cannot snapshot, by repository.

    Also every repository the stage ends with (its parent's and its own), for stages FROM it.
    """
    repositories = list(inherited)
    exposed: dict[str, str] = {}
    for instruction in stage.instructions[1:]:
        if instruction.keyword in ("COPY", "ADD"):
            destination = instruction.words[-1].text if instruction.words else ""
            if added.copied_sources(destination):
                repositories.append(f"{instruction.keyword} to {destination}")
            continue
        if instruction.keyword != "RUN":
            continue
        shell = reproducible.shell_text(parsed.text, instruction)
        sources = added.added_sources(shell, escape=parsed.escape)
        for command in commands.apt_commands(shell, escape=parsed.escape):
            known = repositories + [a.repository for a in sources if a.offset < command.start]
            if command.verb in commands.INSTALL_VERBS and known:
                for package in command.packages:
                    exposed.setdefault(package.name, ", ".join(dict.fromkeys(known)))
        repositories += [a.repository for a in sources]
    return exposed, tuple(dict.fromkeys(repositories))


def _unpinned_notes(where: str, stage: LockedStage) -> list[str]:
    """One line per package and reason the lock leaves unpinned, naming where it is locked."""
    lines: dict[str, None] = {}
    for item in stage.unpinned:
        locked = sorted({p.architecture for p in stage.packages if p.name == item.name})
        also = f" (locked for {', '.join(locked)})" if locked else ""
        lines[f"{where}: {item.name}: {item.reason}{also}"] = None
    return list(lines)


_NO_VERSION_PINS = (
    "no versions written: it cannot install a chosen version from a repository;"
    " the snapshot step pins them and the lock records them"
)


def _versions(stages: Sequence[LockedStage]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """name -> version per stage where every architecture agrees; notes where they do not."""
    result: dict[str, dict[str, str]] = {}
    notes: list[str] = []
    for stage in stages:
        manager = managers.get(stage.package_manager)
        if manager is not None and not manager.version_pins and stage.packages:
            names = sorted({p.name for p in stage.packages})
            notes.append(
                f"stage {stage.stage}: {manager.name}: {_NO_VERSION_PINS} ({', '.join(names)})"
            )
            continue
        by_name: dict[str, set[str]] = {}
        virtual: dict[str, str] = {}
        for package in stage.packages:
            # A virtual name takes no version: `libxslt-dev=1.1.35-1` is an error in apt-get.
            if package.provider is None:
                by_name.setdefault(package.name, set()).add(package.version)
            else:
                virtual[package.name] = package.provider
        notes.extend(
            f"stage {stage.stage}: {n}: a virtual package (apt installs {p}); no version written"
            for n, p in sorted(virtual.items())
        )
        result[stage.stage] = {n: min(v) for n, v in by_name.items() if len(v) == 1}
        notes.extend(
            f"stage {stage.stage}: {n}: versions differ by architecture ({', '.join(sorted(v))});"
            " not written"
            for n, v in by_name.items()
            if len(v) > 1
        )
    return result, notes


async def lock_target(
    session: Session, target: Target, resolved: Mapping[ImageRef, Manifest], options: Options
) -> Outcome:
    """New text and lock for one Dockerfile."""
    only_images = images_only(options, target.lock)
    if only_images or target.kind != DOCKERFILE:
        pinned, lock = pin_images(target, resolved, only_images)
        return Outcome(
            target, pinned.text, lock, (*map(str, target.notes), *pinned.notes(target.path))
        )
    work = StageWork(session, target, resolved, options)
    snapshot = await choose_snapshot(work, options.snapshot or target.lock.snapshot)
    stages, notes = await work.run(snapshot)
    return compose(target, resolved, options, snapshot, stages, notes, work.steps)


def pin_images(
    target: Target, resolved: Mapping[ImageRef, Manifest], only_images: bool
) -> tuple[pinning.Pinned, Lock]:
    """Pin the images alone: the new text, and the lock with the run's mode and build args."""
    pinned = pinning.pin(target.parsed, resolved, target.lock)
    # Compose files and manifests hold images alone: only a Dockerfile's lock has a mode.
    lock = pinned.lock._replace(
        images_only=only_images and target.kind == DOCKERFILE, build_args=recorded_args(target)
    )
    return pinned, lock


async def choose_snapshot(work: StageWork, chosen: str | None) -> str:
    """The snapshot time to lock to: chosen, the base images' for "base", else now."""
    snapshot = chosen or timestamp_now(work.options.now)
    return await base_snapshot(work) if snapshot == SNAPSHOT_BASE else snapshot


def compose(
    target: Target,
    resolved: Mapping[ImageRef, Manifest],
    options: Options,
    snapshot: str,
    stages: Sequence[LockedStage],
    notes: Sequence[str] = (),
    steps: Mapping[str, tuple[str, ...] | None] | None = None,
) -> Outcome:
    """The rewritten, pinned text and its lock, from what the network answered."""
    parsed, old = target.parsed, target.lock
    all_notes = list(notes)
    versions: dict[str, dict[str, str]] = {}
    if options.pin_versions:
        versions, version_notes = _versions(stages)
        all_notes += [f"{target.path}: {n}" for n in version_notes]
    # The epoch pinner wrote last time is the old snapshot's; any other default is the user's.
    previous_epoch = epoch_of(old.snapshot) if old.snapshot else None
    rewrite = reproducible.Rewrite(
        snapshot=snapshot,
        epoch=epoch_of(snapshot),
        distros={s.stage: s.distro for s in stages},
        mirrors=options.snapshot_mirrors,
        versions=versions,
        previous_epoch=previous_epoch,
        steps=steps or {},
    )
    text, rewrite_notes = reproducible.rewrite_text(parsed, rewrite)
    all_notes += [f"{target.path}: {n}" for n in rewrite_notes]
    platforms = parse_platforms(options, old)
    args = tuple(sorted(target.build_args.items()))
    if (parsed.text, parsed.platforms, parsed.build_args) == (text, platforms, args):
        # Nothing to add (a re-lock, an update): the parse in hand is the parse of this text.
        reparsed = parsed
    else:
        reparsed = dockerfile.parse(text, target.path, target.build_args, platforms)
    pinned = pinning.pin(reparsed, resolved, old)
    all_notes += pinned.notes(target.path)
    epoch = _users_epoch(parsed, previous_epoch)
    if epoch is None:
        epoch = epoch_of(snapshot)
    else:
        all_notes.append(
            f"{target.path}: keeps its own ARG SOURCE_DATE_EPOCH={epoch}"
            f" (the snapshot time would give {epoch_of(snapshot)})"
        )
    lock = pinned.lock._replace(
        snapshot=snapshot,
        source_date_epoch=epoch,
        stages=tuple(stages),
        images_only=False,
        build_args=recorded_args(target),
    )
    return Outcome(target, pinned.text, lock, tuple(all_notes))


def recorded_args(target: Target) -> tuple[tuple[str, str], ...]:
    """The --build-arg values a lock records: those the Dockerfile was pinned with."""
    if target.kind != DOCKERFILE:
        return ()
    return tuple(sorted(target.build_args.items()))


def _users_epoch(parsed: dockerfile.Dockerfile, previous: int | None) -> int | None:
    """A global ARG SOURCE_DATE_EPOCH default the user wrote (not one pinner wrote before)."""
    declared = reproducible.epoch_default(parsed)
    if declared is not None and declared[1].isdigit() and int(declared[1]) != previous:
        return int(declared[1])
    return None


async def base_snapshot(work: StageWork) -> str:
    """--snapshot base: the newest snapshot time the apt stages' base images record."""
    found = []
    for plan in reproducible.plans(work.target.parsed):
        if plan.apt_runs and plan.stage.parent is None:
            for base in (await work.stage_bases(plan.stage)).values():
                if base.snapshot is None:
                    raise PinnerError(
                        f"{work.target.path}: stage {plan.stage.label}: the base image records"
                        " no snapshot time; pass --snapshot YYYYMMDDTHHMMSSZ"
                    )
                if not is_timestamp(base.snapshot):
                    raise PinnerError(
                        f"{work.target.path}: stage {plan.stage.label}: the base image records"
                        f" an invalid snapshot time {base.snapshot}"
                    )
                found.append(base.snapshot)
    if not found:
        return timestamp_now(work.options.now)
    return max(found)


async def verify_packages(session: Session, target: Target, *, remote: bool = False) -> list[str]:
    """What the snapshot's signed indexes contradict in the lock's package entries.

    remote: also ask the live repositories of manager modules (apk) which locked versions they
    no longer serve; their indexes change, so an offline check cannot answer from a cache.
    """
    lock = target.lock
    # apt's stages offline; a manager module's stages only with --remote (its unserved()).
    locked = {
        s.stage: s
        for s in lock.stages
        if s.packages
        and (
            (s.snapshot and managers.get(s.package_manager) is None)
            or (remote and managers.get(s.package_manager) is not None)
        )
    }
    resolved = pinning.LockAnswers.of([lock]).for_uses(target.parsed.uses)
    if not locked or any(pinning.query(u) not in resolved for u in target.parsed.uses):
        return []  # nothing locked, or check already reports images the lock lacks
    problems = []
    for plan in reproducible.plans(target.parsed):
        stage = locked.get(plan.stage.label)
        if stage is None:
            continue
        manager = managers.get(stage.package_manager)
        if manager is not None:
            problems += await _unserved(session, target, resolved, plan, stage, manager)
            continue
        # The platforms whose packages were locked, as the lock's architectures name them.
        first: dict[str, str] = {}
        for platform, arch in DPKG_ARCH.items():
            first.setdefault(arch, platform)
        arches = sorted({p.architecture for p in stage.packages})
        platforms = tuple(first[a] for a in arches if a in first)
        work = StageWork(session, target, resolved, Options(platforms=platforms))
        bases = await work.stage_bases(plan.stage)
        problems += await verify_stage(session.mirror, stage, bases)
    return problems


async def _unserved(
    session: Session,
    target: Target,
    resolved: Mapping[ImageRef, Manifest],
    plan: reproducible.StagePlan,
    stage: LockedStage,
    manager: managers.Manager,
) -> list[str]:
    """The locked packages of a manager stage its repositories no longer serve."""
    arches = sorted({p.architecture for p in stage.packages})
    platforms = tuple(p for a in arches if (p := manager.platform(a)) is not None)
    work = StageWork(session, target, resolved, Options(platforms=platforms))
    problems = []
    every_layer = getattr(manager, "reads_every_layer", False)
    for platform, image in (await work.stage_images(plan.stage, every_layer)).items():
        config = manager.configure(dict(image.files), platform)
        if isinstance(config, str):
            problems.append(f"stage {stage.stage}: {platform}: {config}")
            continue
        mine = [p for p in stage.packages if p.architecture == config.arch]
        lines = await manager.unserved(session.mirror.fetch, config, mine, session.snapshot_mirrors)
        problems += [f"stage {stage.stage}: {line}" for line in lines]
    return problems


def text_only(target: Target) -> Target:
    """The target with its text and lock but none of its parse: what writes and diffs read."""
    return target._replace(parsed=target.parsed._replace(stages=(), uses=(), global_args=()))


def pending_writes(outcomes: Sequence[Outcome]) -> dict[str, str]:
    """The files whose bytes would change, with their new text."""
    writes: dict[str, str] = {}
    for outcome in outcomes:
        target = outcome.target
        if outcome.text != target.parsed.text:
            writes[target.path] = outcome.text
        # Rendering is the slow part of a re-lock: compare the records first.
        if target.lock_text is None or outcome.lock.canonical() != target.lock.canonical():
            lock_text = lockfile.render(outcome.lock, Path(target.path).name)
            if lock_text != target.lock_text:
                writes[target.lock_path] = lock_text
    return writes


def diffs(outcomes: Sequence[Outcome], writes: Mapping[str, str]) -> str:
    """Unified diffs of every file that would change, Dockerfile first, then its lock."""
    out = []
    for outcome in outcomes:
        target = outcome.target
        for path, old in ((target.path, target.parsed.text), (target.lock_path, target.lock_text)):
            if path in writes:
                out.append(unified_diff(path, old, writes[path]))
    return "".join(out)


def signature_notice(report: Reporter, outcomes: Sequence[Outcome]) -> None:
    """Say once per run when snapshot signatures could not be checked."""
    if any(s.signature == SIGNATURE_UNCHECKED for o in outcomes for s in o.lock.stages):
        report.notice(
            "gpgv is not installed: the snapshot indexes' signatures were not checked"
            " (the lock says so); install gpgv to check them"
        )
