"""Locks and verifies a Dockerfile's package stages through a Session: the networked half."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping, Sequence

from pinner import dockerfile, managers, pinning, reproducible
from pinner.apt.sources import Distro, is_timestamp, mirror_base
from pinner.baseimage import BaseImage
from pinner.errors import (
    MirrorError,
    PackageError,
    PinnerError,
    Problem,
)
from pinner.lockfile import LockedPackage, LockedStage, UnpinnedPackage
from pinner.manifest import Manifest
from pinner.outcome import (
    DEFAULT_PLATFORMS,
    DPKG_ARCH,
    SNAPSHOT_BASE,
    Installed,
    Options,
    Outcome,
    Removals,
    after_parent,
    apt_install_commands,
    apt_packages,
    compose,
    given_context,
    images_only,
    install_commands,
    joint_requests,
    manager_packages,
    pin_images,
    stage_removals,
    third_party_packages,
    timestamp_now,
    unpinned_notes,
    word_names,
)
from pinner.reference import ImageRef
from pinner.remote.session import Session
from pinner.workspace import DOCKERFILE, Target


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
        use = next(
            (u for u in self.target.parsed.uses if u.used_by == f"stage {stage.label}: FROM"), None
        )
        if use is None:
            # scratch has no package manager to run; a reference per platform has no one image.
            message = (
                f"stage {stage.label}: its package RUNs build on scratch or on an image that"
                " differs by platform; pinner cannot read a base image to lock them"
            )
            raise PinnerError(Problem(self.target.path, stage.instructions[0].line, message))
        return use

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

    async def _with_base_env(self) -> dict[str, tuple[str, ...]]:
        """Read the ENV of the images the stages build on where their package RUNs name a
        variable the Dockerfile does not set before them (php's `$PHPIZE_DEPS`, directly or
        through `ENV DEPS="$PHPIZE_DEPS git"` or `ARG DEPS=...`): the target's parse takes them
        in, and the lock records them by stage, NAME=value."""
        parsed = self.target.parsed._replace(base_env={}, base_shell={})
        found: dict[str, tuple[tuple[str, str], ...]] = {}
        shells: dict[str, str] = {}
        for plan in reproducible.plans(parsed):
            wanted: set[str] = set()
            braces = False
            for run in (*plan.apt_runs, *plan.manager_runs):
                shell = reproducible.shell_text(parsed.text, run)
                # Braces in a RUN no SHELL instruction covers: the image's Shell decides them.
                braces = braces or (
                    _braces().search(shell) is not None
                    and dockerfile.run_shell(parsed, run) is None
                )
                if "$" not in shell:
                    continue
                # A value the stage sets before the RUN wins over the image's (BuildKit).
                known = {n for n, _, _ in dockerfile.run_variables(parsed, run)}
                named = set(reproducible.NAMED.findall(shell)) - known
                wanted |= {n for n in named if not re.search(rf"(?<![A-Za-z0-9_]){n}\+?=", shell)}
            if braces:
                programs = {
                    await self.session.base_shell(self._root_use(plan.stage).ref, digest)
                    for _, digest in self._platform_digests(plan.stage)
                }
                if len(programs) == 1 and (program := programs.pop()) is not None:
                    shells[plan.stage.label] = program  # one per platform, or not known
            if not wanted:
                continue
            wanted |= _env_sources(parsed, plan.stage, wanted)
            use = self._root_use(plan.stage)
            values: dict[str, str] | None = None
            for _, digest in self._platform_digests(plan.stage):
                env = dict(await self.session.base_env(use.ref, digest))
                mine = {n: env[n] for n in wanted if n in env}
                # A value that differs between platforms is not known (one list for all).
                values = (
                    mine
                    if values is None
                    else {n: v for n, v in mine.items() if values.get(n) == v}
                )
            if values:
                found[plan.stage.label] = tuple(sorted(values.items()))
        self.target = self.target._replace(
            parsed=parsed._replace(base_env=found, base_shell=shells)
        )
        return {label: tuple(f"{n}={v}" for n, v in env) for label, env in found.items()}

    def _platform_digests(self, stage: dockerfile.Stage) -> list[tuple[str, str]]:
        """The manifest digest of each platform to lock of the image a stage builds on."""
        use = self._root_use(stage)
        manifest = self.resolved[pinning.query(use)]
        wanted = self.options.platforms or DEFAULT_PLATFORMS
        if manifest.platforms:
            available = dict(manifest.platforms)
            missing = [p for p in wanted if p not in available]
            if missing:
                # Another platform's packages would be locked for an image the build cannot use.
                raise PinnerError(
                    Problem(
                        self.target.path,
                        use.line,
                        f"{use.expanded}: no {missing[0]} image in its index"
                        f" (it has {', '.join(available)}); choose with --platform",
                    )
                )
            return [(p, available[p]) for p in wanted]
        return [(p, manifest.digest) for p in wanted]

    async def _inspect(
        self, stage: dockerfile.Stage, every_layer: bool = False
    ) -> dict[str, BaseImage]:
        use = self._root_use(stage)
        images = {}
        for platform, digest in self._platform_digests(stage):
            arch = DPKG_ARCH.get(platform)
            if arch is None:
                raise PinnerError(f"{use.expanded}: no dpkg architecture for platform {platform}")
            base = await self.session.base_image(use.ref, digest, every_layer)
            if base.architecture not in (None, arch):
                # A single manifest names no platform: its own dpkg says which it is.
                raise PinnerError(
                    Problem(
                        self.target.path,
                        use.line,
                        f"{use.expanded}: a single {base.architecture} image, not {platform};"
                        " choose with --platform",
                    )
                )
            images[platform] = base
        return images

    def _configure(
        self,
        plan: reproducible.StagePlan,
        manager: managers.Manager,
        platform: str,
        image: BaseImage,
        lines: Mapping[str, int],
    ) -> managers.ImageConfig | str:
        """The manager's reading of a stage's base image; a malformed file it must read (an
        rpmdb) is one line naming the stage's first install, the image and the file."""
        try:
            return manager.configure(dict(image.files), platform)
        except managers.ImageFileError as exc:
            use = self._root_use(plan.stage)
            message = (
                f"stage {plan.stage.label}: {manager.name} on {use.expanded} ({platform}): {exc}"
            )
            line = min(lines.values(), default=use.line)
            raise PinnerError(Problem(self.target.path, line, message)) from None

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
        base_env = await self._with_base_env()
        stages, notes = await self._stages(snapshot)
        shells = self.target.parsed.base_shell
        return [
            s._replace(base_env=base_env.get(s.stage, ()), base_shell=shells.get(s.stage))
            for s in stages
        ], notes

    async def _stages(self, snapshot: str) -> tuple[list[LockedStage], list[str]]:
        parsed, old = self.target.parsed, self.target.lock
        previous = {s.stage: s for s in old.stages}
        stages: list[LockedStage] = []
        notes: list[str] = []
        added: dict[str, tuple[str, ...]] = {}  # stage -> repositories it adds or inherits
        # stage -> what its manager RUNs and those of the stages it is FROM installed
        installed: dict[str, Installed | None] = {}
        for plan in reproducible.plans(parsed):
            label = plan.stage.label
            where = f"{self.target.path}: stage {label}"
            inherited = added.get(plan.stage.parent or "", ())
            third_party, added[label] = third_party_packages(parsed, plan.stage, inherited)
            parent = installed.get(plan.stage.parent or "")
            # A stage that runs no package manager passes its parent's installs on.
            installed[label] = parent if plan.manager is None else None
            manager = managers.get(plan.manager)
            if manager is not None:
                if parent is not None and parent.manager != manager.name:
                    parent = None
                stage, stage_notes, installed[label] = await self._manager_stage(
                    plan, manager, previous.get(label), snapshot, parent
                )
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
            requests, line_notes, lines = apt_packages(parsed, plan)
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
            installs = apt_install_commands(parsed, plan.apt_runs)
            if (
                old_stage is not None
                and old_stage.step is not None
                and has_step
                and self._reusable(old_stage, base, snapshot, names, detached)
                # A changed -t, /release or :arch (a lock without the key is not compared).
                and old_stage.commands in (None, installs)
            ):
                stages.append(old_stage._replace(commands=installs))
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
                foreign = reproducible.foreign_architectures(parsed, plan.stage)
                from pinner.aptlock import resolve_stage  # apt stages alone need its indexes

                stage = await resolve_stage(
                    self.session.mirror, label, snapshot, bases, pinnable, stage_notes, foreign
                )
            except PackageError as exc:
                # The line of the word, as every error about a Dockerfile names it.
                line = lines.get(exc.package) or None
                raise PackageError(exc.package, Problem(self.target.path, line, str(exc))) from None
            notes.extend(unpinned_notes(where, stage))
            stages.append(
                stage._replace(
                    base=base,
                    unpinned=(*stage.unpinned, *detached),
                    step=step,
                    sources=record,
                    commands=installs,
                )
            )
        return stages, notes

    async def _manager_stage(
        self,
        plan: reproducible.StagePlan,
        manager: managers.Manager,
        old: LockedStage | None,
        snapshot: str,
        parent: Installed | None = None,
    ) -> tuple[LockedStage, list[str], Installed | None]:
        """A stage whose package manager has a module: its packages resolved per platform, and
        what it leaves installed for the stages FROM it.

        parent: what the stages this one is FROM installed with the same manager. Their words
        are resolved with this stage's, and what their locks record is set aside, as the
        installed database of the image this stage builds on holds it.
        """
        label = plan.stage.label
        where = f"{self.target.path}: stage {label}"
        path = self.target.path
        given = given_context(self.options, path, self.target.lock)
        from pinner.managers import copied  # stages with a package manager alone read COPYs

        context = copied.Context(path, given) if os.path.isfile(path) else None
        read = manager_packages(self.target.parsed, plan, manager, context, path)
        requests, line_notes, lines, upgrade, detached = read[:5]
        notes = [f"{self.target.path}:{line}: {note}" for line, note in line_notes]
        stage_notes = list(dict.fromkeys(note for _, note in line_notes))
        if manager.snapshot_on_request:
            # Snapshots that expire (dnf's composes) only when --snapshot asks for them, or the
            # stage already has one: otherwise the manager resolves from what is served now.
            asked = self.options.snapshot is not None or (old is not None and old.step == "exact")
            snapshot = snapshot if asked else ""
        removals = stage_removals(self.target.parsed, plan, manager, parent)
        if removals.unfollowed:
            # `apk del -r`, `pacman -Rc`: the words installed before it that need its names go.
            needs = await self._needs(plan, manager, snapshot, joint_requests(parent, requests))
            removals = stage_removals(self.target.parsed, plan, manager, parent, needs)
        if removals.unfollowed:
            names = " ".join(sorted(removals.after.cascaded))
            note = (
                f"{manager.name} removes what depends on {names}:"
                f" not followed for {', '.join(removals.unfollowed)}, whose dependencies are not"
                " known; stages FROM this one may count them as installed"
            )
            notes.append(f"{where}: {note}")
            stage_notes.append(note)
        if not requests and not upgrade and not manager.snapshots:
            stage = LockedStage(
                label,
                package_manager=manager.name,
                notes=tuple(stage_notes),
                unpinned=detached,
                words=word_names(self.target.parsed, plan.manager_runs, manager),
                commands=install_commands(self.target.parsed, plan.manager_runs, manager),
            )
            return stage, notes, self._passed_on(manager, parent, removals)
        # The parent stages' words still installed when this stage's installs run.
        if parent is not None:
            parent = parent._replace(requests=removals.inherited)
        named = word_names(self.target.parsed, plan.manager_runs, manager)
        commands = install_commands(self.target.parsed, plan.manager_runs, manager)
        words = joint_requests(parent, requests)
        upgrade = upgrade or (parent is not None and parent.upgrade)
        base = self.base_key(plan.stage)
        if (
            old is not None
            and not (parent is not None and parent.fresh)
            # What a removal leaves depends on the image: resolved again each time.
            and not removals.any
            and self._manager_reusable(old, base, manager, requests, snapshot, named)
            # A changed option of an install command (a lock without the key is not compared).
            and old.commands in (None, commands)
        ):
            installed = self._installed(manager, words, parent, old, upgrade, False)
            old = old._replace(words=named, commands=commands)
            return old, notes, self._passed_on(manager, installed, removals)
        # apk's installed database: what the base image's upper layers added (python:alpine's
        # own packages) is installed too, so those layers are read as well.
        images = await self.stage_images(plan.stage, manager.reads_every_layer)
        mirrors = self.options.snapshot_mirrors
        packages: list[LockedPackage] = []
        unpinned: list[UnpinnedPackage] = list(detached)
        signatures: set[str | None] = set()
        rebuildable = True
        distro = release = None
        steps: set[tuple[str, ...]] = set()
        for platform, image in images.items():
            config = self._configure(plan, manager, platform, image, lines)
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
            source = managers.Source(self.session.mirror.fetch, config, mirrors)
            mode = managers.Mode(
                snapshot,
                # Exact pins in the words are set aside only when this run rewrites them: a pin
                # left in the file must be what the lock records.
                refresh=self.session.refresh and self.options.pin_versions,
                upgrade=upgrade,
                removed=removals.before,
                repeated=read.repeated,
            )
            try:
                theirs = await self._parents_records(manager, source, mode, parent, removals)
                resolved = await self._resolved(manager, source, words, mode, removals)
            except PackageError as exc:
                line = lines.get(exc.package) or None
                raise PackageError(exc.package, Problem(self.target.path, line, str(exc))) from None
            except MirrorError as exc:
                raise MirrorError(
                    Problem(self.target.path, None, f"stage {label}: {exc}")
                ) from None
            # Asked again: a step can depend on what resolve read (Tumbleweed's history date).
            step = manager.step(config, snapshot, mirrors)
            if isinstance(step, str):
                raise MirrorError(Problem(self.target.path, None, f"stage {label}: {step}"))
            if step is not None:
                steps.add(step)
            found, lacking = list(resolved.packages), list(resolved.unpinned)
            if parent is not None:
                parent = parent._replace(packages=theirs)
                found, lacking = after_parent(parent, requests, config.arch, found, lacking)
            packages += found
            unpinned += lacking
            stage_notes += resolved.notes
            notes += [f"{where}: {note}" for note in resolved.notes]
            signatures.add(resolved.signature)
            rebuildable = rebuildable and resolved.rebuildable
        if len(steps) > 1:
            message = f"stage {label}: the snapshot step differs by platform; not pinned"
            raise PackageError(plan.manager or "", Problem(self.target.path, None, message))
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
            words=named,
            commands=commands,
        )
        installed = self._installed(manager, words, parent, stage, upgrade, True)
        return stage, list(dict.fromkeys(notes)), self._passed_on(manager, installed, removals)

    async def _needs(
        self,
        plan: reproducible.StagePlan,
        manager: managers.Manager,
        snapshot: str,
        words: Sequence[managers.PackageArg],
    ) -> dict[str, frozenset[str]]:
        """Each word -> the names it needs down its dependencies, on every platform of the
        stage; a word is left out where a platform cannot say (resolve() then says why)."""
        requires = manager.requires
        if requires is None:
            return {}
        found: dict[str, frozenset[str]] | None = None
        mirrors = self.options.snapshot_mirrors
        images = await self.stage_images(plan.stage, manager.reads_every_layer)
        for platform, image in images.items():
            config = self._configure(plan, manager, platform, image, {})
            if isinstance(config, str):
                return {}
            source = managers.Source(self.session.mirror.fetch, config, mirrors)
            try:
                each = await requires(source, words, managers.Mode(snapshot))
            except (MirrorError, PackageError):
                return {}
            found = each if found is None else {w: found[w] | each[w] for w in found.keys() & each}
        return found or {}

    @staticmethod
    async def _resolved(
        manager: managers.Manager,
        source: managers.Source,
        words: Sequence[managers.PackageArg],
        mode: managers.Mode,
        removals: Removals,
    ) -> managers.Resolved:
        """The stage's words resolved; those an `apk del -r` or `pacman -Rc` took before the
        last install on the image as it was when they were installed, their records added where
        the others' lack the name (a base package the removal took is not fetched for them; one
        an earlier removal took is)."""
        if not removals.taken:
            return await manager.resolve(source, words, mode)
        taken = {w.name for w, _ in removals.taken}
        later = await manager.resolve(source, [w for w in words if w.name not in taken], mode)
        groups: dict[managers.Removed, list[managers.PackageArg]] = {}
        for word, installed_on in removals.taken:
            groups.setdefault(installed_on, []).append(word)
        packages = list(later.packages)
        unpinned, notes = list(later.unpinned), list(later.notes)
        for installed_on, group in groups.items():
            earlier = await manager.resolve(source, group, mode._replace(removed=installed_on))
            named = {p.name for p in packages}
            packages += [p for p in earlier.packages if p.name not in named]
            unpinned += earlier.unpinned
            notes += earlier.notes
        return later._replace(
            packages=tuple(sorted(packages, key=lambda p: p.name)),
            unpinned=tuple(dict.fromkeys(unpinned)),
            notes=tuple(dict.fromkeys(notes)),
        )

    @staticmethod
    async def _parents_records(
        manager: managers.Manager,
        source: managers.Source,
        mode: managers.Mode,
        parent: Installed | None,
        removals: Removals,
    ) -> tuple[LockedPackage, ...]:
        """What the parent stages' words still installed hold, for one architecture: their
        locks' records, or resolved again once a removal took some of their words away."""
        if parent is None:
            return ()
        # `pacman -R` of a word: its dependencies stay installed. What the stage removed before
        # its last install is gone (`pacman -Rc` of a dependency): fetched again where needed.
        left = {r.name for r in removals.before.left}
        left |= removals.before.names - parent.removed.names
        if parent.packages is not None and not removals.stale:
            return tuple(p for p in parent.packages if p.name not in left)
        # As the parents left the image: their removals, not this stage's.
        again = mode._replace(upgrade=parent.upgrade, removed=parent.removed)
        words = [*parent.requests, *(r for r in removals.before.left if r not in parent.requests)]
        resolved = await manager.resolve(source, words, again)
        return tuple(p for p in resolved.packages if p.name not in left)

    @staticmethod
    def _passed_on(
        manager: managers.Manager, installed: Installed | None, removals: Removals
    ) -> Installed | None:
        """installed, as the stage's removals leave it for the stages FROM it."""
        if not removals.any:
            return installed
        if installed is None:
            installed = Installed(manager.name, (), (), False, False)
        # What went after the stage's last install is gone from its records too.
        left = {r.name for r in removals.after.left}
        left |= removals.after.names - removals.before.names
        packages = installed.packages
        if packages is not None and not removals.stale:
            packages = tuple(p for p in packages if p.name not in left)
        return installed._replace(
            requests=removals.words,
            packages=None if removals.stale else packages,
            removed=removals.after,
        )

    @staticmethod
    def _installed(
        manager: managers.Manager,
        words: Sequence[managers.PackageArg],
        parent: Installed | None,
        stage: LockedStage,
        upgrade: bool,
        fresh: bool,
    ) -> Installed:
        """What a manager stage leaves installed: its parents' records, then its own."""
        records = {(p.name, p.architecture): p for p in (parent.packages or () if parent else ())}
        for package in stage.packages:
            records.setdefault((package.name, package.architecture), package)
        return Installed(
            manager.name,
            tuple(words),
            tuple(records.values()),
            upgrade,
            fresh or (parent is not None and parent.fresh),
        )

    def _manager_reusable(
        self,
        old: LockedStage,
        base: str,
        manager: managers.Manager,
        requests: Sequence[managers.PackageArg],
        snapshot: str,
        words: tuple[str, ...],
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
            # A stage that is to get its step now (--snapshot on dnf) is resolved again.
            and not (manager.snapshot_on_request and snapshot and not old.step)
            and bool(old.packages)
            and named <= locked
            # A word added that the lock holds as another's dependency, or one that changed
            # its repository tag, installs what the lock may not say (a lock without the key
            # is not compared).
            and (old.words is None or old.words == words)
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
            from pinner.apt import exactstep  # apt stages alone get a snapshot step

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
    return compose(work.target, resolved, options, snapshot, stages, notes, work.steps)


async def choose_snapshot(work: StageWork, chosen: str | None) -> str:
    """The snapshot time to lock to: chosen, the base images' for "base", else now."""
    snapshot = chosen or timestamp_now(work.options.now)
    return await base_snapshot(work) if snapshot == SNAPSHOT_BASE else snapshot


async def base_snapshot(work: StageWork) -> str:
    """--snapshot base: the newest snapshot time the apt stages' base images record."""
    found = []
    for plan in reproducible.plans(work.target.parsed):
        if plan.apt_runs and plan.stage.parent is None:
            for base in (await work.stage_bases(plan.stage)).values():
                if base.snapshot is None:
                    message = (
                        f"stage {plan.stage.label}: the base image records no snapshot time;"
                        " pass --snapshot YYYYMMDDTHHMMSSZ"
                    )
                    raise PinnerError(Problem(work.target.path, None, message))
                if not is_timestamp(base.snapshot):
                    message = (
                        f"stage {plan.stage.label}: the base image records an invalid snapshot"
                        f" time {base.snapshot}"
                    )
                    raise PinnerError(Problem(work.target.path, None, message))
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
        from pinner.aptlock import verify_stage  # apt stages alone need its indexes

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
    # A stage pinned to a dated compose does not change while the compose is kept: the question
    # is whether its step's compose still is.
    expiring = manager.step_unserved if stage.step == "exact" else None
    step = reproducible.find_manager_step(target.parsed, plan.stage) if expiring else None
    if expiring and step is None:
        return []  # the offline check already fails a stage without its step
    arches = sorted({p.architecture for p in stage.packages})
    platforms = tuple(p for a in arches if (p := manager.platform(a)) is not None)
    work = StageWork(session, target, resolved, Options(platforms=platforms))
    problems = []
    every_layer = manager.reads_every_layer
    for platform, image in (await work.stage_images(plan.stage, every_layer)).items():
        try:
            config = manager.configure(dict(image.files), platform)
        except managers.ImageFileError as exc:
            config = str(exc)
        if isinstance(config, str):
            problems.append(f"stage {stage.stage}: {platform}: {config}")
            continue
        mine = [p for p in stage.packages if p.architecture == config.arch]
        source = managers.Source(session.mirror.fetch, config, session.snapshot_mirrors)
        if expiring and step is not None:
            text = "\n".join(target.parsed.text.split("\n")[step.start + 1 : step.end])
            lines = await expiring(source, text)
        else:
            lines = await manager.unserved(source, mine)
        problems += [f"stage {stage.stage}: {line}" for line in lines]
    return problems


def _env_sources(
    parsed: dockerfile.Dockerfile, stage: dockerfile.Stage, names: set[str]
) -> set[str]:
    """The variables the stage's ENV values and ARG defaults for names are made of, and theirs
    in turn (`ENV DEPS="$PHPIZE_DEPS git"`, `ARG DEPS=...`: PHPIZE_DEPS), in the stage and the
    stages it is FROM."""
    raws: dict[str, list[str]] = {}
    for each in (stage, *dockerfile.ancestors(parsed, stage)):
        for instruction in each.instructions:
            if instruction.keyword == "ENV":
                for name, raw in dockerfile.env_pairs(instruction.words):
                    raws.setdefault(name, []).append(raw)
            elif instruction.keyword == "ARG":
                for word in instruction.words:
                    name, _, raw = word.text.partition("=")
                    raws.setdefault(name, []).append(raw)
    found: set[str] = set()
    todo = list(names)
    while todo:
        for raw in raws.get(todo.pop(), ()):
            new = set(reproducible.NAMED.findall(raw)) - found - names
            found |= new
            todo.extend(new)
    return found


# A brace expression bash expands and dash keeps (`/var/cache/{apk,misc}`, `{1..3}`), not `${X}`;
# compiled on first use, as the other patterns of package stages alone.
@functools.cache
def _braces() -> re.Pattern[str]:
    return re.compile(r"(?<![$\\]){[^{}\s'\"]*(?:,|\.\.)[^{}\s'\"]*}")
