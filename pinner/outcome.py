"""What lock and update compute without the network: options, platforms, packages, outcomes."""

from __future__ import annotations

import functools
import os
import posixpath
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pinner import dockerfile, lockfile, managers, pinning, reproducible
from pinner.apt import added, commands
from pinner.apt.shell import run_invocations
from pinner.apt.sources import TIMESTAMP_RE, is_timestamp
from pinner.errors import (
    DockerfileError,
    Problem,
    RegistryError,
    UsageError,
)
from pinner.lockfile import Lock, LockedPackage, LockedStage, UnpinnedPackage
from pinner.manifest import Manifest
from pinner.output import Reporter
from pinner.reference import ImageRef, normalize_platform, parse
from pinner.workspace import DOCKERFILE, Target, in_file, unified_diff

if TYPE_CHECKING:
    # Read for stages with a package manager alone: a lock without one does not import it.
    from pinner.managers import copied as copied_tree

DEFAULT_PLATFORMS = ("linux/amd64",)
# containerd platform -> dpkg architecture
DPKG_ARCH = {
    "linux/amd64": "amd64",
    "linux/arm64": "arm64",
    "linux/arm/v7": "armhf",
    "linux/arm/v6": "armel",
    "linux/arm/v5": "armel",
    "linux/386": "i386",
    "linux/ppc64le": "ppc64el",
    "linux/s390x": "s390x",
    "linux/mips64le": "mips64el",
    "linux/riscv64": "riscv64",
}
SIGNATURE_VERIFIED = "verified"
SIGNATURE_UNCHECKED = "not checked: gpgv is not installed"
# containerd's platforms package: each part of os/arch/variant is one such word.
_PLATFORM_PART = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH = re.compile(r"[0-9]{1,18}")  # seconds int() takes (isdigit also takes "²")
SNAPSHOT_BASE = "base"


class Options(NamedTuple):
    """How to lock: snapshot choice, mirrors, whether to write versions, platforms, scope."""

    snapshot: str | None = None
    snapshot_mirrors: Mapping[str, str] = {}
    pin_versions: bool = False
    platforms: tuple[str, ...] = ()
    images_only: bool | None = None  # None: as the lock was made (default: not images only)
    now: float | None = None
    context: str | None = None  # --context: every Dockerfile's build context
    contexts: Mapping[str, str] = {}  # the configuration's, by the Dockerfile's absolute path


def given_context(options: Options, dockerfile: str, lock: Lock) -> str | None:
    """The build context asked for a Dockerfile: --context, else the one its lock was made with
    (as --build-arg values are), else the configuration's."""
    if options.context:
        return options.context
    if lock.context is not None:
        return lock_context(dockerfile, lock.context)
    return options.contexts.get(os.path.abspath(dockerfile))


def lock_context(dockerfile: str, context: str) -> str:
    """The absolute folder a lock's context names, taken from the Dockerfile's folder."""
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(dockerfile)), context))


def recorded_context(options: Options, dockerfile: str, lock: Lock) -> str | None:
    """The context a new lock records: --context's, from the Dockerfile's folder, else the one
    the old lock records."""
    if not options.context:
        return lock.context
    return os.path.relpath(options.context, os.path.dirname(os.path.abspath(dockerfile)))


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


@functools.lru_cache(maxsize=64)  # a run has one snapshot time, asked three times per file
def epoch_of(timestamp: str) -> int:
    """Seconds since 1970 of a YYYYMMDDTHHMMSSZ timestamp."""
    import calendar  # lock and update only; check reads no time this way

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


def for_platforms(
    targets: Sequence[Target], options: Options
) -> tuple[list[Target], list[Problem]]:
    """Targets parsed for every platform to lock (the load parsed for the lock's), and errors."""
    if not options.platforms:
        return list(targets), []
    platforms = options.platforms
    result: list[Target] = []
    errors: list[Problem] = []
    for target in targets:
        if target.kind != DOCKERFILE:
            result.append(target)
            continue
        try:
            parsed = dockerfile.parse(target.parsed.text, target.path, target.build_args, platforms)
        except DockerfileError as e:
            errors.append(in_file(target, e))
            continue
        result.append(target._replace(parsed=_from_images(parsed, target.parsed)))
    return result, errors


def without_changed_pins(target: Target, options: Options | None = None) -> Target:
    """The target as lock must work on it: references changed since the lock lose their digest."""
    if target.kind != DOCKERFILE:
        return target  # a reference file's text is no Dockerfile to parse again
    text = pinning.unpin_changed(target.parsed, target.lock)
    if text == target.parsed.text:
        return target
    platforms = parse_platforms(options or Options(), target.lock)
    parsed = dockerfile.parse(text, target.path, target.build_args, platforms)
    return target._replace(parsed=_from_images(parsed, target.parsed))


def _from_images(
    parsed: dockerfile.Dockerfile, before: dockerfile.Dockerfile
) -> dockerfile.Dockerfile:
    """A new parse with what the base images' configs gave the one before (ENV, Shell)."""
    return parsed._replace(base_env=before.base_env, base_shell=before.base_shell)


def frontend_queries(targets: Sequence[Target]) -> dict[ImageRef, str]:
    """The Dockerfile frontends the rewrite writes into syntax lines, by query."""
    needed = (reproducible.frontend_needed(t.parsed) for t in targets if t.kind == DOCKERFILE)
    return {pinning.query_ref(parse(text)): text for text in needed if text is not None}


def image_queries(targets: Sequence[Target], options: Options) -> list[ImageRef]:
    """Every image the run needs: unless images only, the frontend's, then the Dockerfiles'.

    The frontend first: every file of a run waits for it, and the first request to a registry
    goes alone (it learns the registry's challenge), so that its answer comes first too.
    """
    queries = list(frontend_queries([t for t in targets if not images_only(options, t.lock)]))
    queries.extend(pinning.query(use) for t in targets for use in t.parsed.uses)
    return queries


def failures(targets: Sequence[Target], answers: Mapping[ImageRef, object]) -> list[Problem]:
    """One per failing use: file, line, reference: what the registry said."""
    lines = []
    for target in targets:
        for use in target.parsed.uses:
            answer = answers.get(pinning.query(use))
            if isinstance(answer, RegistryError):
                lines.append(Problem(target.path, use.line, f"{use.expanded}: {answer}"))
    for query, text in frontend_queries(targets).items():
        answer = answers.get(query)
        if isinstance(answer, RegistryError):
            # The frontend is no file's: the reference it is written as names it.
            lines.append(Problem(text, None, str(answer)))
    return lines


def apt_packages(
    parsed: dockerfile.Dockerfile, plan: reproducible.StagePlan
) -> tuple[list[commands.PackageArg], list[tuple[int, str]], dict[str, int]]:
    """The package words a stage installs (each name once), notes by line, and each word's line."""
    requests: dict[str, commands.PackageArg] = {}
    notes: list[tuple[int, str]] = []
    lines: dict[str, int] = {}
    for _, package, line in apt_installs(parsed, plan.apt_runs):
        requests.setdefault(package.name, package)
        lines.setdefault(package.name, line)
    for run in plan.apt_runs:
        shell = reproducible.shell_text(parsed.text, run)
        env = reproducible.run_env(parsed, run, shell)
        for command in commands.apt_commands(shell, escape=parsed.escape, env=env):
            notes.extend((run.line, note) for note in command.notes)
        notes.extend((run.line, note) for note in build_arg_notes(parsed, run, shell))
    return list(requests.values()), list(dict.fromkeys(notes)), lines


def build_arg_notes(
    parsed: dockerfile.Dockerfile, run: dockerfile.Instruction, shell: str
) -> list[str]:
    """A note per ARG whose value names words a RUN installs: another --build-arg changes them."""
    env = dict(reproducible.run_env(parsed, run, shell))
    args = [name for name, _, kind in dockerfile.run_variables(parsed, run) if kind == "ARG"]
    used = {
        word.origin[0]
        for invocation in run_invocations(shell, parsed.escape, tuple(env.items()))
        if invocation.program in commands.MANAGER_PROGRAMS
        for word in invocation.args
        if word.origin is not None
    }
    return [
        f"packages named by ARG {name} are recorded for its value here ({env[name]});"
        f" a build with another --build-arg {name} installs others"
        for name in args
        if name in used and name in env
    ]


def apt_installs(
    parsed: dockerfile.Dockerfile, runs: Sequence[dockerfile.Instruction]
) -> Iterator[tuple[dockerfile.Instruction, commands.PackageArg, int]]:
    """Every package word the apt RUNs install, with its RUN and its line (for lock and check)."""
    text = parsed.text
    for run in runs:
        shell = reproducible.shell_text(text, run)
        offset = text.find(shell, run.span.start)
        env = reproducible.run_env(parsed, run, shell)
        for package in commands.install_packages(shell, escape=parsed.escape, env=env):
            yield run, package, run.line + text.count("\n", run.span.start, offset + package.start)


def manager_installs(
    parsed: dockerfile.Dockerfile,
    runs: Sequence[dockerfile.Instruction],
    manager: managers.Manager,
) -> Iterator[tuple[dockerfile.Instruction, managers.Install, tuple[int, ...]]]:
    """Every install command the manager's RUNs hold, with its RUN and each word's line (for lock
    and check)."""
    text = parsed.text
    for run in runs:
        shell = reproducible.shell_text(text, run)
        offset = text.find(shell, run.span.start)
        env = reproducible.run_env(parsed, run, shell)
        invocations = run_invocations(shell, parsed.escape, env)
        for install in managers.invocations_installs(manager, invocations):
            lines = tuple(
                run.line + text.count("\n", run.span.start, offset + package.start)
                for package in install.packages
            )
            yield run, install, lines


def word_names(
    parsed: dockerfile.Dockerfile, runs: Sequence[dockerfile.Instruction], manager: managers.Manager
) -> tuple[str, ...]:
    """The names of the install words of a manager's RUNs, sorted: what the lock records and
    check compares. A word naming a repository tag keeps it (apk's foo@testing), as another tag
    installs another build."""
    names = {
        f"{p.name}@{p.tag}" if p.tag else p.name
        for _, install, _ in manager_installs(parsed, runs, manager)
        for p in install.packages
    }
    return tuple(sorted(names))


def install_commands(
    parsed: dockerfile.Dockerfile, runs: Sequence[dockerfile.Instruction], manager: managers.Manager
) -> tuple[str, ...]:
    """Each install command of a manager's RUNs as written, in order, its package words left out
    (`dnf install -y --exclude=foo`): the lock records them beside the words, so that a changed
    option (--no-recommends, --setopt=install_weak_deps=False, --enablerepo) resolves the stage
    again and check reports it, as a changed word does. Pins written into the words, and a list
    in a variable set outside the command, leave them as they were."""
    found: list[str] = []
    shells: dict[int, str] = {}
    for run, install, _ in manager_installs(parsed, runs, manager):
        if not install.packages and not install.upgrades and not install.state:
            continue  # `dnf clean all`, which the cleanup appends, installs nothing
        if run.line not in shells:
            shells[run.line] = reproducible.shell_text(parsed.text, run)
        words = [(p.start, p.end, "") for p in install.packages]
        found.append(_as_recorded(shells[run.line], install.start, install.end, words, parsed))
    return tuple(found)


def apt_install_commands(
    parsed: dockerfile.Dockerfile, runs: Sequence[dockerfile.Instruction]
) -> tuple[str, ...]:
    """Each apt install command of the RUNs as written, in order, each package word as
    `name[:arch][/release]` (a version pin left out): a changed `-t`, `/release` or `:arch`
    picks other builds of the same names, so the lock records them as for other managers."""
    found: list[str] = []
    for run in runs:
        shell = reproducible.shell_text(parsed.text, run)
        env = reproducible.run_env(parsed, run, shell)
        for command in commands.apt_commands(shell, escape=parsed.escape, env=env):
            if command.verb not in commands.INSTALL_VERBS:
                continue
            words = [(p.start, p.end, _qualified(p)) for p in command.packages]
            found.append(_as_recorded(shell, command.start, command.end, words, parsed))
    return tuple(found)


def _qualified(package: commands.PackageArg) -> str:
    arch = f":{package.arch}" if package.arch else ""
    return f"{package.name}{arch}/{package.release}" if package.release else package.name + arch


def _as_recorded(
    shell: str,
    start: int,
    end: int,
    words: Sequence[tuple[int, int, str]],
    parsed: dockerfile.Dockerfile,
) -> str:
    """shell[start:end] with each (word start, word end, text) span inside it replaced by text,
    on one line: continuations and runs of blanks read as one space."""
    pieces, at = [], start
    for word_start, word_end, text in sorted(words):
        if start <= word_start and word_end <= end:
            pieces += [shell[at:word_start], text]
            at = word_end
    pieces.append(shell[at:end])
    return " ".join("".join(pieces).replace(f"{parsed.escape}\n", " ").split())


class StageWords(NamedTuple):
    """What a manager stage's RUNs install: words (each name once), notes by line, word lines."""

    requests: list[managers.PackageArg]
    notes: list[tuple[int, str]]
    lines: dict[str, int]
    # A command of the stage upgrades the installed packages (pacman -Su).
    upgrade: bool
    # Words not resolved, and why: they come after a RUN that changed the repositories.
    detached: tuple[UnpinnedPackage, ...] = ()
    # The words of a name one install command names more than once (Mode.repeated).
    repeated: tuple[tuple[managers.PackageArg, ...], ...] = ()


class Change(NamedTuple):
    """Where a stage's repositories change: the RUN or COPY line (0: a stage it is FROM), the
    offset in that RUN's shell after the command that changes them (0: the whole RUN), and how."""

    line: int
    offset: int
    how: str


def _changing_command(shell: str, escape: str, manager: managers.Manager, env: managers.Env) -> int:
    """The offset after the first command of a changing RUN that changes the repositories by
    itself, so that the words of the commands before it keep their pins; 0 if none alone does."""
    for invocation in run_invocations(shell, escape, env):
        alone = shell[invocation.start : invocation.end]
        if manager.config_changes(alone, escape, env) is not None:
            return invocation.end
    return 0


def _copy_changes(
    run: dockerfile.Instruction,
    workdir: str,
    context: copied_tree.Context | None,
    manager: managers.Manager,
) -> str | None:
    """How a COPY or ADD may change the repositories the manager reads, or None."""
    if not run.words:
        return None
    from pinner.managers import copied as copied_tree

    paths = manager.copied_paths
    if copied_tree.onto(run.words[-1].text, paths):
        verb = "copies" if run.keyword == "COPY" else "adds"
        return f"{verb} a file to {run.words[-1].text}"
    # A tree copied to / or /etc (`COPY rootfs/ /`) may hold repository files.
    words = [word.text for word in run.words]
    target = copied_tree.may_write(run.keyword, words, workdir, context, paths)
    if target is None:
        return None
    written = " ".join([run.keyword, *words])
    written = written if len(written) <= 60 else f"{written[:57]}..."
    return f"copies a tree to {target} that may hold repository files (`{written}`)"


def repositories_changed(
    parsed: dockerfile.Dockerfile,
    stage: dockerfile.Stage,
    manager: managers.Manager,
    context: copied_tree.Context | None = None,
) -> Change | None:
    """The first command of a stage, or of the stages it is FROM, that changes the
    repositories the manager reads, and how; context is the build context, if known."""
    held = _chain(parsed, manager, context)
    pending, above = held.pending(held.by_label.get(stage.parent or ""), held.changes)
    # WORKDIR carries into the stages FROM a stage; the base image's own is taken to be /.
    why, workdir = held.changes.get(above or "", (None, "/"))
    for each in pending:
        if why is None:
            change, workdir = _stage_change(parsed, each, manager, context, workdir)
            why = change.how if change is not None else None
        held.changes[each.label] = (why, workdir)
    if why is not None:
        return Change(0, 0, why)
    return _stage_change(parsed, stage, manager, context, workdir)[0]


def _stage_change(
    parsed: dockerfile.Dockerfile,
    stage: dockerfile.Stage,
    manager: managers.Manager,
    context: copied_tree.Context | None,
    workdir: str,
) -> tuple[Change | None, str]:
    """The first instruction of one stage that changes the repositories, from workdir on, and
    the WORKDIR the stage leaves where none does."""
    for run in stage.instructions[1:]:
        if run.keyword == "WORKDIR" and run.words:
            workdir = posixpath.normpath(posixpath.join(workdir, run.words[0].text))
        if run.keyword in ("COPY", "ADD"):
            why = _copy_changes(run, workdir, context, manager)
            if why is not None:
                return Change(run.line, 0, why), workdir
        if run.keyword != "RUN" or reproducible.manager_marker_re().match(
            reproducible.previous_line(parsed.text, run)
        ):
            continue  # pinner's own snapshot step (dnf's compose sed) is not a change
        shell = reproducible.shell_text(parsed.text, run)
        env = reproducible.run_env(parsed, run, shell)
        why = manager.config_changes(shell, parsed.escape, env)
        if why is not None:
            return Change(
                run.line, _changing_command(shell, parsed.escape, manager, env), why
            ), workdir
    return None, workdir


def _appended(
    parsed: dockerfile.Dockerfile, stage: dockerfile.Stage, manager: managers.Manager
) -> list[tuple[tuple[int, int], str]]:
    """The repository lines the RUNs of a stage and of the stages it is FROM append, each with
    where it is in effect from: (RUN line, offset in its shell), (0, 0) for a parent's."""
    appended = manager.appended_repositories
    if appended is None:
        return []

    def own(each: dockerfile.Stage) -> list[tuple[tuple[int, int], str]]:
        return [
            ((run.line, offset), line)
            for run in each.instructions[1:]
            if run.keyword == "RUN"
            for offset, line in appended(reproducible.shell_text(parsed.text, run), parsed.escape)
        ]

    # Each stage's own lines are read once; a stage gathers its parents' anew (a chain of
    # stages FROM stages would hold each stage's parents' lines again).
    held = _chain(parsed, manager)
    parents: dict[str, dockerfile.Stage] = {}
    parent = held.by_label.get(stage.parent or "")
    while parent is not None and parent.label not in parents:
        parents[parent.label] = parent
        parent = held.by_label.get(parent.parent or "")
    found: list[tuple[tuple[int, int], str]] = []
    for each in reversed(parents.values()):
        if each.label not in held.appended:
            held.appended[each.label] = tuple(line for _, line in own(each))
        found += (((0, 0), line) for line in held.appended[each.label])
    return found + own(stage)


class _Chain:
    """Of one Dockerfile, manager and build context: its stages by label, and what is worked
    out at the end of each stage for the stages FROM it (their module state, the first change
    of their repositories and the WORKDIR) and of each stage alone (the repository lines it
    appends)."""

    def __init__(self, parsed: dockerfile.Dockerfile, context: copied_tree.Context | None):
        self.parsed, self.context = parsed, context
        self.by_label = {stage.label: stage for stage in parsed.stages}
        self.states: dict[str, tuple[str, ...]] = {}
        self.changes: dict[str, tuple[str | None, str]] = {}
        self.appended: dict[str, tuple[str, ...]] = {}  # each stage's own lines

    def pending(
        self, stage: dockerfile.Stage | None, done: Mapping[str, object]
    ) -> tuple[list[dockerfile.Stage], str | None]:
        """The stages from stage up its FROMs that done does not hold, root first, and the
        label of the one done holds above them (None: none). A cycle of FROMs ends the walk,
        as dockerfile.ancestors ends it."""
        found: dict[str, dockerfile.Stage] = {}
        while stage is not None and stage.label not in done and stage.label not in found:
            found[stage.label] = stage
            stage = self.by_label.get(stage.parent or "")
        return list(found.values())[::-1], stage.label if stage is not None else None


# The last Dockerfiles' chains, by (id of the parsed file, manager): each stage's instructions
# are read once however long a chain of stages FROM stages is, not once per stage below them.
_CHAINS: dict[tuple[int, str], _Chain] = {}
_CHAINS_KEPT = 8


def _chain(
    parsed: dockerfile.Dockerfile,
    manager: managers.Manager,
    context: copied_tree.Context | None = None,
) -> _Chain:
    key = (id(parsed), manager.name)
    held = _CHAINS.get(key)
    if held is None or held.parsed is not parsed or held.context is not context:
        if len(_CHAINS) >= _CHAINS_KEPT:
            _CHAINS.clear()
        held = _CHAINS[key] = _Chain(parsed, context)
    return held


# Install.state items a stage's words may carry, its parents' with its own: real Dockerfiles
# have a handful (`dnf module enable`); each stage of a chain holds its own copy of them.
MAX_STATE = 1_000


def _grown(
    state: tuple[str, ...], items: tuple[str, ...], path: str, run: dockerfile.Instruction
) -> tuple[str, ...]:
    """state with items after it; DockerfileError past MAX_STATE."""
    if len(state) + len(items) > MAX_STATE:
        why = f"the commands of this stage and those it is FROM change more than {MAX_STATE} states"
        raise DockerfileError(Problem(path, run.line, why))
    return (*state, *items)


def _state_before(
    parsed: dockerfile.Dockerfile, stage: dockerfile.Stage, manager: managers.Manager, path: str
) -> tuple[str, ...]:
    """What the commands of the stages a stage is FROM changed for its own (Install.state)."""
    held = _chain(parsed, manager)
    pending, above = held.pending(held.by_label.get(stage.parent or ""), held.states)
    state = held.states.get(above or "", ())
    for each in pending:
        runs = [run for run in each.instructions[1:] if run.keyword == "RUN"]
        for run, install, _ in manager_installs(parsed, runs, manager):
            state = _grown(state, install.state, path, run)
        held.states[each.label] = state
    return state


def manager_packages(
    parsed: dockerfile.Dockerfile,
    plan: reproducible.StagePlan,
    manager: managers.Manager,
    context: copied_tree.Context | None = None,
    path: str = DOCKERFILE,
) -> StageWords:
    """The package words a manager stage installs (each name once), notes by line, their lines."""
    requests: dict[str, managers.PackageArg] = {}
    notes: list[tuple[int, str]] = []
    lines: dict[str, int] = {}
    upgrade = False
    text = parsed.text
    # A manager without a snapshot step (apk) resolves from the repositories the image has: the
    # words after a RUN that changes them may come from others, so they are not resolved.
    changed = None
    if manager.unpins_after_changes:
        changed = repositories_changed(parsed, plan.stage, manager, context)
    # No line number: the lock keeps the reason, and a lock adds lines above the RUNs.
    where = "this RUN or an earlier one" if changed and changed.line else "an earlier stage"
    how = changed.how if changed else ""
    detached: dict[str, UnpinnedPackage] = {}
    # The install command (its number in the stage) each name's word was last read from.
    read_in: dict[str, int] = {}
    # Each (command, name) -> its words, for names one command names more than once.
    named: dict[tuple[int, str], list[managers.PackageArg]] = {}
    for run in plan.manager_runs:
        shell = reproducible.shell_text(text, run)
        notes.extend((run.line, note) for note in build_arg_notes(parsed, run, shell))
    appended = _appended(parsed, plan.stage, manager)
    installs = manager_installs(parsed, plan.manager_runs, manager)
    state = _state_before(parsed, plan.stage, manager, path)
    for number, (run, install, word_lines) in enumerate(installs):
        notes.extend((run.line, note) for note in install.notes)
        if state:
            packages = tuple(package._replace(state=state) for package in install.packages)
            install = install._replace(packages=packages)
        state = _grown(state, install.state, path, run)
        # The commands of the changing RUN before the one that changes the repositories read
        # the old ones (`dnf install epel-release && dnf install foo`: epel-release keeps its pin).
        after = changed is not None and (run.line, install.start) >= (changed.line, changed.offset)
        if install.upgrades and after:
            note = f"{manager.name} upgrade: {where} {how}; the upgraded versions are not recorded"
            notes.append((run.line, note))
        upgrade = upgrade or (install.upgrades and not after)
        for package, line in zip(install.packages, word_lines, strict=True):
            if after:
                reason = f"not pinned: {where} {how}"
                detached.setdefault(package.name, UnpinnedPackage(package.name, reason))
                continue
            if package.tag:
                # `foo@testing` reads the repositories tagged @testing that RUNs appended before.
                tagged = [
                    line
                    for where, line in appended
                    if where < (run.line, install.start) and line.startswith(f"@{package.tag} ")
                ]
                package = package._replace(repositories=(*package.repositories, *tagged))
            named.setdefault((number, package.name), []).append(package)
            held = requests.get(package.name)
            same_command = read_in.get(package.name) == number
            merged = managers.merged_word(manager.name, held, package, same_command=same_command)
            requests[package.name] = merged
            read_in[package.name] = number
            if merged._replace(upgrade=package.upgrade) == package:
                lines[package.name] = line
    # A RUN from the stage's first one of the manager on that re-points its mirrors or
    # repositories (reflector, `zypper ar`) sends later RUNs past the snapshot step: say so.
    first = plan.manager_runs[0].line if plan.manager_runs else None
    workdir = "/"
    for run in plan.stage.instructions[1:]:
        if run.keyword == "WORKDIR" and run.words:
            workdir = posixpath.normpath(posixpath.join(workdir, run.words[0].text))
        if first is None:
            continue
        if run.keyword == "RUN" and run.line >= first:
            shell = reproducible.shell_text(text, run)
            why = manager.config_changes(
                shell, parsed.escape, reproducible.run_env(parsed, run, shell)
            )
            if why is not None:
                notes.append((run.line, why))
        elif run.keyword in ("COPY", "ADD") and not manager.unpins_after_changes:
            # A manager with a snapshot step (pacman) reads what a COPY puts in place of the
            # image's configuration; the step rewrites only a mirrorlist copied before it.
            why = _copy_changes(run, workdir, context, manager)
            if why is None:
                continue
            rewritten = run.words[-1].text.strip("'\"") in manager.step_paths
            if not (run.line < first and rewritten):
                later = f"later {manager.name} RUNs may not use the snapshot"
                notes.append((run.line, f"{why}; {later}"))
    detached = {n: u for n, u in detached.items() if n not in requests}
    return StageWords(
        list(requests.values()),
        list(dict.fromkeys(notes)),
        lines,
        upgrade,
        tuple(detached.values()),
        tuple(tuple(words) for words in named.values() if len(words) > 1),
    )


class Installed(NamedTuple):
    """What a stage's package-manager RUNs leave installed, for the stages FROM it."""

    manager: str
    # Its words and those of the stages it is FROM, less those a removal took away.
    requests: tuple[managers.PackageArg, ...]
    # What their locks record; None once a removal took words away (resolved again from them).
    packages: tuple[LockedPackage, ...] | None
    upgrade: bool
    # Resolved in this run: a stage FROM it is resolved again too, not answered by its old lock.
    fresh: bool
    # What `apk del` or `pacman -R` took out of the image by the stage's end.
    removed: managers.Removed = managers.Removed()


class Removals(NamedTuple):
    """What a stage's removals (`apk del`, `pacman -R`) and those of its parent stages change."""

    # The parent stages' words still installed when the stage's last install runs.
    inherited: tuple[managers.PackageArg, ...]
    # What removals took out of the image by then (its resolve's Mode), and by the stage's end.
    before: managers.Removed
    after: managers.Removed
    # The words installed at the stage's end: its parents' and its own.
    words: tuple[managers.PackageArg, ...]
    # A removal took words away with their dependencies: the locks' records are no longer what
    # the image holds, and are resolved again from the words left.
    stale: bool
    # Words installed before an `apk del -r` or `pacman -Rc` whose needs were not known (needs
    # not given, or the word's packages not found): the removal may take them unseen.
    unfollowed: tuple[str, ...] = ()
    # The stage's own words such a removal took before its last install (and not installed
    # again), each with what removals had taken out of the image when it was installed: the
    # word was installed on that image, not on the one the last install sees.
    taken: tuple[tuple[managers.PackageArg, managers.Removed], ...] = ()

    @property
    def any(self) -> bool:
        """Whether a removal in the stage or its parents changes what is installed."""
        return bool(self.after.names) or self.stale or self.after.orphans


def stage_removals(
    parsed: dockerfile.Dockerfile,
    plan: reproducible.StagePlan,
    manager: managers.Manager,
    parent: Installed | None,
    needs: Mapping[str, frozenset[str]] | None = None,
) -> Removals:
    """Follow a stage's installs and removals in order, from what its parent stages left.

    A removal after the stage's last install counts for the stages FROM it alone: the stage's
    own words were installed before it. `apk del NAME` of an `apk add --virtual NAME` removes
    that command's words; a word also installed by name stays, as apk keeps it in its world.
    needs (word -> the names it needs, down its dependencies) says which words `apk del -r` and
    `pacman -Rc` take with the names they remove.
    """
    inherited = parent.requests if parent is not None else ()
    live = {r.name: r for r in inherited}
    start = parent.removed if parent is not None else managers.Removed()
    gone, cascaded, recursive = set(start.names), set(start.cascaded), set(start.recursive)
    orphans, left = start.orphans, {r.name: r for r in start.left}

    before_removals = set(start.installed_before)
    went_in = dict(start.installed_on)
    # Each word of the stage -> the names removals had taken out of the image when it went in;
    # the parents' words after their last removal went in without what those took.
    gone_then = {r.name: frozenset(start.names) for r in inherited}

    def removed() -> managers.Removed:
        sets = (frozenset(gone), frozenset(cascaded), frozenset(recursive))
        words = frozenset(before_removals)
        return managers.Removed(*sets, orphans, tuple(left.values()), words, tuple(went_in.items()))

    events: list[tuple[tuple[managers.PackageArg, ...], managers.Removal | None]] = []
    for run in plan.manager_runs:
        shell = reproducible.shell_text(parsed.text, run)
        env = reproducible.run_env(parsed, run, shell)
        for invocation in run_invocations(shell, parsed.escape, env):
            if invocation.program not in manager.programs:
                continue
            install = manager.installs(invocation)
            words = install.packages if install is not None else ()
            removal = manager.removes(invocation) if manager.removes is not None else None
            if words or removal is not None:
                events.append((words, removal))
    last = max((i for i, (words, _) in enumerate(events) if words), default=-1)
    before, kept = removed(), inherited
    stale = parent is not None and parent.packages is None
    unfollowed: dict[str, None] = {}
    taken: dict[str, tuple[managers.PackageArg, managers.Removed]] = {}
    # Each live word of the stage -> what removals had taken out of the image when it went in.
    installed_on: dict[str, managers.Removed] = {}
    for i, (words, removal) in enumerate(events):
        if i == last:
            kept = tuple(r for r in inherited if live.get(r.name) == r)
            before = removed()
        for word in words:
            taken.pop(word.name, None)
            left.pop(word.name, None)
            held = live.get(word.name)
            if held is None or (held.group is not None and word.group is None):
                live[word.name] = word
                installed_on[word.name] = removed()
                gone_then[word.name] = frozenset(gone)
        if removal is not None:
            before_removals.update(live)
            went_in.update((n, gone_then[n]) for n in live if n not in went_in)
        if removal is not None and removal.orphans and removal.recursive:
            # `pacman -Rns $(pacman -Qtdq)`: what the words removed without -s needed goes now,
            # and the base image's packages installed as dependencies that nothing needs.
            orphans = True
            if left:
                left.clear()
                stale = True
        if removal is not None and removal.cascade:
            cascaded.update(removal.names)
        if removal is not None and removal.recursive:
            recursive.update(removal.names)
        names = list(removal.names) if removal is not None else []
        if removal is not None and removal.cascade and removal.names:
            known = needs or {}
            names += _cascaded_words(live.values(), removal.names, known)
            unknown = [w.name for w in live.values() if w.name not in known and w.name not in names]
            unfollowed.update(dict.fromkeys(unknown))
            own = [
                w
                for w in live.values()
                if (w.name in names or w.group in names) and w not in inherited
            ]
            if i < last:
                taken.update((w.name, (w, installed_on[w.name])) for w in own)
        for name in names:
            by_name = [w for w in live.values() if w.name == name and w.group is None]
            by_group = [w for w in live.values() if w.group == name]
            for word in by_name + by_group:
                del live[word.name]
            if by_name or not by_group:
                gone.add(name)
            if not (by_name or by_group):
                continue
            if removal is not None and removal.recursive:
                stale = True
            else:
                left.update((w.name, w) for w in by_name + by_group)
    return Removals(
        kept,
        before,
        removed(),
        tuple(live.values()),
        stale,
        tuple(unfollowed),
        tuple(taken.values()),
    )


def _cascaded_words(
    live: Iterable[managers.PackageArg], names: Iterable[str], needs: Mapping[str, frozenset[str]]
) -> list[str]:
    """The words installed that a removal of names with what depends on them takes (`apk del
    -r`, `pacman -Rc`), and the `apk add --virtual` groups of those: the group's package
    depends on each of its words, so it goes too, with its other words."""
    removed = set(names)
    # A need `a|b` (pacman: a dependency several installed packages meet) breaks only when
    # every one of them goes.
    taken = [
        w
        for w in live
        if any(all(n in removed for n in need.split("|")) for need in needs.get(w.name, ()))
    ]
    return [w.name for w in taken] + list(dict.fromkeys(w.group for w in taken if w.group))


def joint_requests(
    parent: Installed | None, requests: Sequence[managers.PackageArg]
) -> list[managers.PackageArg]:
    """The words a stage is resolved with: its parent stages' words first, then its own."""
    if parent is None:
        return list(requests)
    named = {r.name for r in parent.requests}
    return [*parent.requests, *(r for r in requests if r.name not in named)]


def after_parent(
    parent: Installed,
    requests: Sequence[managers.PackageArg],
    arch: str,
    packages: Sequence[LockedPackage],
    unpinned: Sequence[UnpinnedPackage],
) -> tuple[list[LockedPackage], list[UnpinnedPackage]]:
    """One architecture's records of a stage resolved with its parents' words, less what they
    installed.

    A word of the stage that a parent stage already installed keeps the parent's record: the
    version the stage builds on.
    """
    own = {r.name for r in requests}
    theirs = {(p.name, p.architecture): p for p in parent.packages or ()}
    kept = [p for p in packages if (p.name, p.architecture) not in theirs]
    kept += [p for (name, at), p in theirs.items() if name in own and at == arch]
    parent_words = {r.name for r in parent.requests} - own
    return (
        sorted(kept, key=lambda p: p.name),
        [u for u in unpinned if u.name not in parent_words],
    )


def third_party_packages(
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
        env = reproducible.run_env(parsed, instruction, shell)
        for command in commands.apt_commands(shell, escape=parsed.escape, env=env):
            known = repositories + [a.repository for a in sources if a.offset < command.start]
            if command.verb in commands.INSTALL_VERBS and known:
                for package in command.packages:
                    exposed.setdefault(package.name, ", ".join(dict.fromkeys(known)))
        repositories += [a.repository for a in sources]
    return exposed, tuple(dict.fromkeys(repositories))


def unpinned_notes(where: str, stage: LockedStage) -> list[str]:
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
        releases={s.stage: s.release for s in stages},
        mirrors=options.snapshot_mirrors,
        versions=versions,
        previous_epoch=previous_epoch,
        steps=steps or {},
    )
    text, rewrite_notes, uses = reproducible.rewritten(parsed, rewrite)
    all_notes += [f"{target.path}: {n}" for n in rewrite_notes]
    platforms = parse_platforms(options, old)
    args = tuple(sorted(target.build_args.items()))
    if (parsed.platforms, parsed.build_args) != (platforms, args) or uses is None:
        reparsed = dockerfile.parse(text, target.path, target.build_args, platforms)
    else:
        # The parse in hand, moved past the rewrite's edits: pinning reads only text and uses.
        reparsed = parsed._replace(text=text, uses=uses, stages=(), global_args=())
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
        context=recorded_context(options, target.path, old),
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
    if declared is not None and _EPOCH.fullmatch(declared[1]) and int(declared[1]) != previous:
        return int(declared[1])
    return None


def text_only(target: Target) -> Target:
    """The target with its text and lock but none of its parse: what writes and diffs read."""
    return target._replace(parsed=target.parsed._replace(stages=(), uses=(), global_args=()))


_NO_LOCK = Lock()


def settle(outcome: Outcome, original: Target) -> tuple[Outcome, dict[str, str]]:
    """One file's writes, and its outcome holding only what reports and diffs still read.

    original is the file as it was read (text_only). A run settles each file as soon as it is
    done, so that 10,000 files' parses, old lock records and unchanged lock texts are not all
    held to the end: the settled target keeps the old lock's text only when the lock changes.
    """
    writes: dict[str, str] = {}
    if outcome.text != original.parsed.text:
        writes[original.path] = outcome.text
    # Rendering is the slow part of a re-lock: compare the records first.
    if original.lock_text is None or outcome.lock.canonical() != original.lock.canonical():
        lock_text = lockfile.render(outcome.lock, Path(original.path).name)
        if lock_text != original.lock_text:
            writes[original.lock_path] = lock_text
    old_lock = original.lock_text if original.lock_path in writes else None
    settled = text_only(original)._replace(lock=_NO_LOCK, lock_text=old_lock)
    return outcome._replace(target=settled), writes


def diffs(outcomes: Sequence[Outcome], writes: Mapping[str, str]) -> str:
    """Unified diffs of every file that would change, Dockerfile first, then its lock."""
    out = []
    for outcome in outcomes:
        target = outcome.target
        for path, old in ((target.path, target.parsed.text), (target.lock_path, target.lock_text)):
            if path in writes:
                out.append(unified_diff(path, old, writes[path]))
    return "".join(out)


def notices(report: Reporter, outcomes: Sequence[Outcome]) -> None:
    """Each outcome's notes, then once per run when snapshot signatures could not be checked."""
    for outcome in outcomes:
        for note in outcome.notes:
            report.notice(note)
    if any(s.signature == SIGNATURE_UNCHECKED for o in outcomes for s in o.lock.stages):
        report.notice(
            "gpgv is not installed: the snapshot indexes' signatures were not checked"
            " (the lock says so); install gpgv to check them"
        )
