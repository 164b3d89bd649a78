"""The reproducibility rewrite: snapshot steps, apt cleanup, SOURCE_DATE_EPOCH, syntax frontend.

Pure str -> str over a parsed Dockerfile. Image pinning runs afterwards on the result, so lines
this module inserts (the `# syntax=` directive) are pinned like the user's own.
"""

from __future__ import annotations

import functools
import itertools
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from pinner import managers, reference
from pinner.apt import added, commands, sources
from pinner.apt.shell import Invocation, Word, ending, executed_file, run_invocations
from pinner.dockerfile import (
    Dockerfile,
    Edit,
    ImageUse,
    Instruction,
    Stage,
    Token,
    ancestors,
    apply_edits,
    escape_char,
    moved_uses,
    run_shell,
    run_variables,
    syntax_directive_use,
)
from pinner.managers.leftovers import expands_braces, mounted

if TYPE_CHECKING:
    # dnf's stages alone read its commands: a lock without one does not import them.
    from pinner.managers import rpmcommands

FRONTEND = "docker/dockerfile"
# dockerfile frontend 1.23 is the first to honour a global ARG SOURCE_DATE_EPOCH default
# (moby/buildkit docs/build-repro.md); older explicit versions are raised to it.
FRONTEND_MIN = (1, 23)
FRONTEND_DEFAULT = f"{FRONTEND}:1.23"
EPOCH_ARG = "SOURCE_DATE_EPOCH"
SNAPSHOT_DISTROS = ("debian", "ubuntu")
_VERSION_TAG_RE = re.compile(r"(\d+)(?:\.(\d+))?(?:\.\d+)?(-.*)?")
# $SOURCE_DATE_EPOCH or ${SOURCE_DATE_EPOCH...}: a word whose expansion the epoch ARGs change.
_EPOCH_EXPANDED_RE = re.compile(r"\$\{?" + EPOCH_ARG + r"\b")


class StagePlan(NamedTuple):
    """What a stage needs: its package manager, its apt RUNs, whether to insert a snapshot step."""

    stage: Stage
    manager: str | None
    apt_runs: tuple[Instruction, ...]
    needs_step: bool
    # The RUNs that use the stage's manager when it is not apt (apk, dnf, ...).
    manager_runs: tuple[Instruction, ...] = ()


class Rewrite(NamedTuple):
    """Inputs of the rewrite that come from the lock or the network."""

    snapshot: str
    epoch: int
    distros: Mapping[str, str | None]
    mirrors: Mapping[str, str]
    versions: Mapping[str, Mapping[str, str]]
    previous_epoch: int | None = None
    # Per stage whose step was derived in this run: the exact step's shell lines, or None for the
    # generic step. A stage not named keeps the step it has.
    steps: Mapping[str, tuple[str, ...] | None] = {}
    # Per stage: the release its lock records, beside distros (dnf's cleanup depends on it).
    releases: Mapping[str, str | None] = {}


def run_args(text: str, instruction: Instruction) -> tuple[int, int]:
    """Offsets of a RUN's arguments: from its first word to the end before the line break."""
    end = _args_end(text, instruction)
    start = instruction.words[0].span().start if instruction.words else end
    return start, end


def _args_end(text: str, instruction: Instruction) -> int:
    end = instruction.span.end
    while end > instruction.span.start and text[end - 1] in "\r\n":
        end -= 1
    return end


def shell_text(text: str, instruction: Instruction) -> str:
    """A RUN's shell, without its --mount/--network flags."""
    for word in instruction.words:
        if not word.text.startswith("--"):
            return text[word.span().start : _args_end(text, instruction)]
    return ""


def plans(parsed: Dockerfile) -> list[StagePlan]:
    """Each stage's package manager and apt RUNs; a stage inherits its parent stage's step."""
    # lock asks this of each file three times (the base images' ENV, the stages, the rewrite)
    # and check twice, with copies of one parse that share its stages and text: the last
    # answer is kept with the very objects it was made from.
    memo = _LAST_PLANS
    if memo.stages is parsed.stages and memo.text is parsed.text and memo.escape == parsed.escape:
        return list(memo.plans)
    result = _plans(parsed)
    memo.stages, memo.text, memo.escape, memo.plans = (
        parsed.stages,
        parsed.text,
        parsed.escape,
        tuple(result),
    )
    return result


class _Plans:
    """The last plans() answer and what it was made from."""

    stages: object = None
    text: str | None = None
    escape: str | None = None
    plans: tuple[StagePlan, ...] = ()


_LAST_PLANS = _Plans()


def _plans(parsed: Dockerfile) -> list[StagePlan]:
    result: list[StagePlan] = []
    stepped: dict[str, bool] = {}
    for stage in parsed.stages:
        manager = None
        apt_runs = []
        others: list[tuple[str, Instruction]] = []
        for instruction in stage.instructions[1:]:
            if instruction.keyword != "RUN" or not commands.may_run_a_manager(
                parsed.text, *instruction.span
            ):
                continue
            used = commands.package_manager(
                shell_text(parsed.text, instruction), escape=parsed.escape
            )
            manager = manager or used
            if used == "apt":
                apt_runs.append(instruction)
            elif used is not None:
                others.append((used, instruction))
        inherited = stage.parent is not None and stepped.get(stage.parent, False)
        needs_step = bool(apt_runs) and not inherited
        stepped[stage.label] = inherited or bool(apt_runs)
        # dnf, yum and microdnf RUNs of one stage share a module, and so a resolution.
        module = managers.MODULES.get(manager or "")
        manager_runs = tuple(
            run
            for used, run in others
            if used == manager or (module is not None and managers.MODULES.get(used) == module)
        )
        result.append(StagePlan(stage, manager, tuple(apt_runs), needs_step, manager_runs))
    return result


def _newline(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def epoch_arg(instructions: Sequence[Instruction]) -> tuple[Instruction, Token] | None:
    """The first `ARG SOURCE_DATE_EPOCH[=...]` among instructions, and its word."""
    for instruction in instructions:
        if instruction.keyword == "ARG":
            for word in instruction.words:
                if word.text.partition("=")[0] == EPOCH_ARG:
                    return instruction, word
    return None


def epoch_default(parsed: Dockerfile) -> tuple[int, str] | None:
    """The line and unquoted default of the global ARG SOURCE_DATE_EPOCH, if it is declared."""
    found = epoch_arg(parsed.global_args)
    if found is None:
        return None
    instruction, word = found
    return instruction.line, word.text.partition("=")[2].strip("\"'")


def writes_sources(parsed: Dockerfile, plan: StagePlan) -> int | None:
    """The line of an instruction before the stage's first apt RUN that may write apt sources."""
    if not plan.apt_runs:
        return None
    for instruction in plan.stage.instructions[1:]:
        if instruction.line >= plan.apt_runs[0].line:
            return None
        if instruction.keyword == "RUN" and not sources.marker_re().match(
            _previous_line(parsed.text, instruction)  # pinner's own step
        ):
            shell = shell_text(parsed.text, instruction)
            if added.added_sources(shell, escape=parsed.escape):
                return instruction.line
        elif instruction.keyword in ("COPY", "ADD") and instruction.words:
            destination = instruction.words[-1].text
            if added.copied_sources(destination) or destination.rstrip("/") == "/etc/apt":
                return instruction.line
    return None


def find_step(parsed: Dockerfile, stage: Stage) -> sources.SnapshotStep | None:
    """pinner's snapshot step within a stage's lines, if there is one."""
    first = stage.instructions[0].line - 1
    last = parsed.text.count("\n", 0, stage.instructions[-1].span.end) + 1
    return sources.find_marker(parsed.text.split("\n"), first, last, escape=parsed.escape)


def syntax_edit(parsed: Dockerfile) -> tuple[Edit | None, str | None]:
    """Insert `# syntax=docker/dockerfile:1.23`, or raise an older explicit version to it."""
    use = next((u for u in parsed.uses if u.used_by == "syntax"), None)
    if use is None:
        return Edit(0, 0, f"# syntax={FRONTEND_DEFAULT}{_newline(parsed.text)}"), None
    if use.ref.name != f"{reference.DEFAULT_DOMAIN}/{FRONTEND}" or use.site is None:
        return (
            None,
            f"{use.written}: not the docker/dockerfile frontend; SOURCE_DATE_EPOCH needs 1.23+",
        )
    match = _VERSION_TAG_RE.fullmatch(use.ref.tag or "")
    if not match or match.group(2) is None:
        return None, None
    if (int(match.group(1)), int(match.group(2))) >= FRONTEND_MIN:
        return None, None
    raw = parsed.text[use.site.start : use.site.end]
    new = raw.partition("@")[0].rsplit(":", 1)[0] + ":1.23" + (match.group(3) or "")
    note = f"{use.written}: raised to {new} for SOURCE_DATE_EPOCH"
    return Edit(use.site.start, use.site.end, new), note


def frontend_needed(parsed: Dockerfile) -> str | None:
    """The frontend reference the rewrite writes into the syntax line, if it writes one."""
    edit, _ = syntax_edit(parsed)
    if edit is None:
        return None
    return edit.new.removeprefix("# syntax=").rstrip("\r\n")


def epoch_edits(parsed: Dockerfile, rewrite: Rewrite) -> list[Edit]:
    """A global `ARG SOURCE_DATE_EPOCH=<epoch>` and `ARG SOURCE_DATE_EPOCH` in every stage."""
    text, nl = parsed.text, _newline(parsed.text)
    edits = []
    existing = epoch_arg(parsed.global_args)
    if existing is None:
        first_from = parsed.stages[0].instructions[0]
        edits.append(
            Edit(
                first_from.span.start, first_from.span.start, f"ARG {EPOCH_ARG}={rewrite.epoch}{nl}"
            )
        )
    else:
        word = existing[1]
        _, eq, value = word.text.partition("=")
        end = word.span().end
        if not value.strip("\"'"):
            # Without a default the build has no SOURCE_DATE_EPOCH unless one is passed.
            start = word.span(len(EPOCH_ARG) + 1).start if value else end
            edits.append(Edit(start, end, f"{'' if eq else '='}{rewrite.epoch}"))
        elif value.strip("\"'") == str(rewrite.previous_epoch) and value != str(rewrite.epoch):
            edits.append(Edit(*word.span(len(EPOCH_ARG) + 1), str(rewrite.epoch)))
    for stage in parsed.stages:
        if epoch_arg(stage.instructions[1:]) is not None:
            continue
        end = stage.instructions[0].span.end
        prefix = "" if end > 0 and text[end - 1] == "\n" else nl
        edits.append(Edit(end, end, f"{prefix}ARG {EPOCH_ARG}{nl}"))
    return edits


def stage_edits(
    parsed: Dockerfile, plan: StagePlan, rewrite: Rewrite
) -> tuple[list[Edit], list[str]]:
    """The snapshot step before the first apt RUN, cleanup and versions in each apt RUN; notes."""
    text, nl = parsed.text, _newline(parsed.text)
    distro = rewrite.distros.get(plan.stage.label)
    if plan.manager_runs and plan.stage.label in rewrite.distros:
        return manager_edits(parsed, plan, rewrite)
    if not plan.apt_runs or distro not in SNAPSHOT_DISTROS:
        return [], []
    edits = []
    notes = []
    if plan.needs_step:
        edits.extend(_step_edits(parsed, plan, distro, rewrite, nl))
    versions = rewrite.versions.get(plan.stage.label, {})
    for run in plan.apt_runs:
        if sources.marker_re().match(_previous_line(text, run)):
            continue
        start, end = run_args(text, run)
        shell_start = end - len(shell_text(text, run))
        shell = text[shell_start:end]
        new = commands.pin_versions(shell, versions, escape=parsed.escape) if versions else shell
        env = run_env(parsed, run, shell)
        installs = commands.installs(shell, escape=parsed.escape, env=env)
        braces = expands_braces(run_shell(parsed, run), False)
        cleanup = (
            sources.cleanup_for(
                text[start:end],
                escape=parsed.escape,
                braces=braces,
                keep_lists=lists_read_later(parsed, plan.stage, run),
            )
            if installs
            else None
        )
        if cleanup is not None:
            apt_runs = commands.apt_commands(shell, escape=parsed.escape)
            cleanup = _as_installed(cleanup, shell, [c.start for c in apt_runs])
        if installs:
            notes += _exec_form_note(run, shell, parsed.escape, "apt's lists, caches and logs")
        uses = [i.start for i in run_invocations(shell, parsed.escape, env) if _apt_family(i)]
        new, cleanup_notes = _with_cleanup(
            shell, new, cleanup, uses, run, escape=parsed.escape, nl=nl
        )
        notes += cleanup_notes
        if new != shell:
            edits.append(Edit(shell_start, end, new))
    return edits, notes


@functools.cache
def manager_marker_re() -> re.Pattern[str]:
    """The marker line of a manager's snapshot step (pacman's mirrorlist line); a one-line RUN
    follows it. Compiled on first use: a lock of plain stages reads none."""
    return re.compile(
        r"^[ \t]*# pinner: (?P<manager>[a-z]+) snapshot (?P<timestamp>\d{8}T\d{6}Z)[ \t]*\r?$"
    )


class ManagerStep(NamedTuple):
    """An inserted manager step: lines[start] is the marker, lines[start + 1:end] its RUN."""

    start: int
    end: int
    manager: str
    timestamp: str


def find_manager_step(parsed: Dockerfile, stage: Stage) -> ManagerStep | None:
    """pinner's snapshot step of a package manager module within a stage's lines, if any."""
    lines = parsed.text.split("\n")
    first = stage.instructions[0].line - 1
    last = min(parsed.text.count("\n", 0, stage.instructions[-1].span.end) + 1, len(lines) - 1)
    for i in range(first, last):
        match = manager_marker_re().match(lines[i])
        if match and re.match(r"(?i)[ \t]*RUN\b", lines[i + 1]):
            # The RUN goes on while its lines end in the escape character (a dnf compose step
            # re-pointing several repositories is one sed over several lines).
            end = i + 2
            while end < len(lines) and lines[end - 1].rstrip("\r").endswith(parsed.escape):
                end += 1
            return ManagerStep(i, end, match["manager"], match["timestamp"])
    return None


def _inherits_manager(parsed: Dockerfile, plan: StagePlan) -> bool:
    """Whether a parent stage runs the same manager, so it holds the step this stage builds on."""
    by_label = {p.stage.label: p for p in plans(parsed)}
    parent = by_label.get(plan.stage.parent or "")
    while parent is not None:
        if parent.manager == plan.manager and parent.manager_runs:
            return True
        parent = by_label.get(parent.stage.parent or "")
    return False


def _manager_step_edits(
    parsed: Dockerfile, plan: StagePlan, manager: str, rewrite: Rewrite, nl: str
) -> list[Edit]:
    """Insert the manager's step before its first RUN in the stage, or update it in place."""
    label = plan.stage.label
    lines_ = rewrite.steps.get(label)
    if lines_ is None or _inherits_manager(parsed, plan):
        return []  # no step derived in this run (the lock answered) or the parent's holds
    marker = f"# pinner: {manager} snapshot {rewrite.snapshot}"
    new_step = sources.step_text(marker, lines_, parsed.escape)
    step = find_manager_step(parsed, plan.stage)
    mine = step if step is not None and step.manager == manager else None
    return _placed_step(parsed, plan.stage, plan.manager_runs[0], mine, new_step, nl)


def _placed_step(
    parsed: Dockerfile,
    stage: Stage,
    run: Instruction,
    step: sources.SnapshotStep | ManagerStep | None,
    new_step: str,
    nl: str,
    repointed: str | None = None,
) -> list[Edit]:
    """new_step (or repointed, the old step's text re-pointed) in place of the old step where that
    is above run; else inserted above run, and an old step below it removed."""
    text = parsed.text
    lines = text.split("\n")
    offsets = [0, *itertools.accumulate(len(line) + 1 for line in lines)]
    if step is not None and step.start < run.line - 1:
        old = "\n".join(lines[step.start : step.end])
        new = repointed or _step_in_place(lines[step.start], old, new_step, nl)
        at = offsets[step.start]
        return [] if new == old else [Edit(at, at + len(old), new)]
    if step is None:
        return [_step_above(parsed, stage, run, new_step, nl)]
    # A RUN added above the step would use the live mirrors: the step moves up.
    gone = Edit(offsets[step.start], min(offsets[step.end], len(text)), "")
    return [gone, _step_above(parsed, stage, run, new_step, nl)]


def manager_edits(
    parsed: Dockerfile, plan: StagePlan, rewrite: Rewrite
) -> tuple[list[Edit], list[str]]:
    """The snapshot step, pins (with --pin-versions) and cache cleanup of a manager's stage."""
    manager = managers.get(plan.manager)
    if manager is None:
        return [], []
    text, nl = parsed.text, _newline(parsed.text)
    versions = rewrite.versions.get(plan.stage.label, {}) if manager.version_pins else {}
    edits: list[Edit] = _manager_step_edits(parsed, plan, manager.name, rewrite, nl)
    notes: list[str] = []
    read = []
    for run in plan.manager_runs:
        shell = shell_text(text, run)
        invocations = run_invocations(shell, parsed.escape, run_env(parsed, run, shell))
        read.append((run, shell, invocations, managers.invocations_installs(manager, invocations)))
    # The tag of each name's last word: apk installs from its repositories (the later word
    # replaces the world's entry), so a word of the name with another tag keeps no pin.
    last_tag = {p.name: p.tag for _, _, _, ins in read for i in ins for p in i.packages}
    # The RUNs whose cache a later `dnf -C` needs: the cleanup keeps it, as under a cache mount.
    cache_kept = _cache_read_later(parsed, plan.stage) if manager.name == "dnf" else frozenset()
    for run, shell, invocations, installs in read:
        start, end = run_args(text, run)
        shell_start = end - len(shell)
        pins = []
        held = _held(invocations)
        unwritten: dict[tuple[str, str], list[str]] = {}  # (variable, why) -> its words
        for install in installs:
            for package in install.packages:
                version = versions.get(package.name)
                if version is None or package.tag != last_tag[package.name]:
                    continue
                # An exact pin is refreshed; a user's range (~1.2, >1.0) is theirs to keep.
                if package.constraint is not None and not package.constraint.startswith("="):
                    continue
                # A tagged word keeps its tag: `foo@testing=1.2-r0` (apk's name@tag=version).
                tagged = f"{package.name}@{package.tag}" if package.tag else package.name
                word = manager.pin_word(tagged, version)
                source = held.get((package.start, package.end))
                if source is not None and source.origin is not None:
                    why = _variable_unpinnable(shell, source, invocations, installs, manager, word)
                    if why is not None:
                        unwritten.setdefault((source.origin[0], why), []).append(package.name)
                        continue
                if not package.plain:
                    continue
                # A variable's word is installed by each command that reads it: pinned once.
                if (
                    shell[package.start : package.end] != word
                    and Edit(package.start, package.end, word) not in pins
                ):
                    pins.append(Edit(package.start, package.end, word))
        notes += [
            f"RUN at line {run.line}: ${name} ({why}) names {', '.join(dict.fromkeys(names))};"
            " their versions are recorded in the lock, not written"
            for (name, why), names in unwritten.items()
        ]
        new = apply_edits(shell, pins)
        system = managers.System(
            rewrite.distros.get(plan.stage.label),
            rewrite.releases.get(plan.stage.label),
            run_shell(parsed, run),
            tuple(mounted(text[start:end], parsed.escape)),
        )
        if run.line in cache_kept:
            from pinner.managers import rpmcommands

            system = system._replace(mounts=(*system.mounts, *rpmcommands.CACHES))
            notes.append(
                f"RUN at line {run.line}: a later RUN reads only dnf's cache (-C, --cacheonly"
                " or a cacheonly setting); the cache is kept in the image"
            )
        cleanup = manager.cleanup(shell, invocations, system) if installs else None
        if cleanup is not None:
            cleanup = _as_installed(cleanup, shell, [i.start for i in installs])
            left = f"{installs[0].program}'s caches and logs"
            notes += _exec_form_note(run, shell, parsed.escape, left)
        uses = [i.start for i in invocations if i.program in manager.programs]
        new, cleanup_notes = _with_cleanup(
            shell, new, cleanup, uses, run, escape=parsed.escape, nl=nl
        )
        notes += cleanup_notes
        if new != shell:
            edits.append(Edit(shell_start, end, new))
    return edits, notes


NAMED = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def lists_read_later(parsed: Dockerfile, stage: Stage, run: Instruction) -> bool:
    """Whether a later RUN, in stage or a stage FROM it, installs with the package lists run
    fetched (`apt-get install` and no `apt-get update` before it): removing them fails it."""
    return _reads_lists(parsed, stage, (i for i in _runs(stage) if i.line > run.line))


def _reads_lists(parsed: Dockerfile, stage: Stage, runs: Iterable[Instruction]) -> bool:
    """Whether the first of runs, then of the RUNs of each line of stages FROM stage, that uses
    the package lists reads them: after an update, the RUNs that follow read that RUN's lists.
    A file a COPY or ADD put in place may install with them (discourse's `RUN /tmp/install-vips`
    runs `apt -y install` on the lists of the stage it is FROM): pinner cannot read it, so a RUN
    that executes one reads them. The walk stops at that RUN (each apt RUN of a stage asks)."""
    for run in runs:
        first = _first_lists_use(shell_text(parsed.text, run), parsed.escape)
        if first is not None:
            return first != "update"
        if _runs_copied_file(parsed, run):
            return True
    return any(_reads_lists(parsed, c, _runs(c)) for c in _children(parsed, stage))


def _runs_copied_file(parsed: Dockerfile, run: Instruction) -> bool:
    """Whether run executes a file named as one a COPY or ADD above it names (a source or the
    destination: `ADD install-vips /tmp/install-vips`, then `RUN /tmp/install-vips`), a file in
    the folder one copies to (`COPY . /app`, then `RUN /app/scripts/setup.sh`; `COPY . .`, then
    `RUN ./setup.sh`), or a file under one of its own mounts (`--mount=type=bind,source=docker,
    target=/s /s/setup.sh`)."""
    shell = shell_text(parsed.text, run)
    executed = [
        name
        for invocation in run_invocations(shell, parsed.escape)
        if (name := executed_file(invocation)) is not None
    ]
    if not executed:
        return False
    names, folders = _copied(parsed, run.line)
    folders += mounted(parsed.text[slice(*run_args(parsed.text, run))], parsed.escape)
    for path in executed:
        if posixpath.basename(path) in names:
            return True
        if "/" in path and any(_inside(path, folder) for folder in folders):
            return True
    return False


def _inside(path: str, folder: str) -> bool:
    """Whether the file path names may be folder or in it: under it where both are absolute, and
    wherever both are relative (to a WORKDIR pinner does not follow)."""
    if folder.startswith("/") != path.startswith("/"):
        return False
    if not folder.startswith("/"):
        return True
    folder, path = posixpath.normpath(folder), posixpath.normpath(path)
    return folder in ("/", path) or path.startswith(f"{folder}/")


def _copied(parsed: Dockerfile, before: int) -> tuple[set[str], list[str]]:
    """The last parts of the paths the COPY and ADD instructions above line before name, and
    the folders they copy to. The file's are read once: each RUN after an apt RUN may ask."""
    memo = _LAST_COPIES
    if memo.stages is not parsed.stages:
        memo.stages = parsed.stages
        memo.copies = tuple(
            (instruction.line, tuple(w.text for w in instruction.words if w.text[:2] != "--"))
            for stage in parsed.stages
            for instruction in stage.instructions
            if instruction.keyword in ("COPY", "ADD")
        )
    copies = [paths for line, paths in memo.copies if line < before and paths]
    names = {posixpath.basename(path.rstrip("/")) for paths in copies for path in paths}
    return names, [paths[-1] for paths in copies]


class _Copies:
    """The paths the COPY and ADD instructions of the last stages asked about name, by line."""

    stages: object = None
    copies: tuple[tuple[int, tuple[str, ...]], ...] = ()


_LAST_COPIES = _Copies()


# Whether RUNs read only dnf's cache, entered with dnf's configuration not saying cacheonly, and
# saying it.
_CacheReads = tuple[bool, bool]


def _cache_read_later(parsed: Dockerfile, stage: Stage) -> frozenset[int]:
    """The lines of stage's RUNs whose cache a later RUN, in stage or a stage FROM it, reads
    only: it runs dnf with -C/--cacheonly, or runs dnf after a RUN (that one, an earlier one, one
    of a stage stage is FROM, or a later one) wrote cacheonly into dnf's configuration. One pass
    back over the stage and the stages FROM it, each RUN lexed once."""
    runs = _runs(stage)
    reads = _cache_reads_from(parsed, stage, runs)
    earlier = [i for s in ancestors(parsed, stage) for i in _runs(s)]
    configured = any(_cache_use(parsed, i).configures for i in earlier)
    kept: set[int] = set()
    for index, run in enumerate(runs):
        configured = configured or _cache_use(parsed, run).configures
        if reads[index + 1][configured]:
            kept.add(run.line)
    return frozenset(kept)


def _cache_reads_from(
    parsed: Dockerfile, stage: Stage, runs: Sequence[Instruction]
) -> list[_CacheReads]:
    """For each i up to len(runs): whether runs[i:], then the RUNs of the stages FROM stage,
    read only dnf's cache. Folded from the last RUN back, each onto what follows it."""
    after = [_cache_reads_from(parsed, c, _runs(c))[0] for c in _children(parsed, stage)]
    found = (any(a[0] for a in after), any(a[1] for a in after))
    folded = [found]
    for run in reversed(runs):
        use = _cache_use(parsed, run)
        found = (use.reads or found[use.configures], use.reads or use.runs or found[True])
        folded.append(found)
    return folded[::-1]


def _cache_use(parsed: Dockerfile, run: Instruction) -> rpmcommands.CacheUse:
    """How a RUN uses dnf's cache (cached: a stage's RUNs are read again for each stage it is
    FROM)."""
    return _cache_use_of(shell_text(parsed.text, run), parsed.escape)


@functools.lru_cache(maxsize=1024)
def _cache_use_of(shell: str, escape: str) -> rpmcommands.CacheUse:
    from pinner.managers import rpmcommands

    return rpmcommands.cache_use(shell, escape)


def _children(parsed: Dockerfile, stage: Stage) -> list[Stage]:
    """The stages FROM stage."""
    return [s for s in parsed.stages if s.parent == stage.label]


def _runs(stage: Stage) -> tuple[Instruction, ...]:
    """A stage's RUNs, in order."""
    return tuple(i for i in stage.instructions if i.keyword == "RUN")


@functools.lru_cache(maxsize=1024)
def _first_lists_use(shell: str, escape: str) -> str | None:
    """ "update" if a RUN's shell fetches the lists before it reads them, the verb that reads them
    first otherwise, or None. Cached: every apt RUN of a stage asks about each later one."""
    if "apt" not in shell:
        return None
    for command in commands.apt_commands(shell, escape=escape):
        if command.updates:
            return "update"
        if command.verb in commands.READS_LISTS:
            return command.verb
    return None


def foreign_architectures(parsed: Dockerfile, stage: Stage) -> tuple[str, ...]:
    """What `dpkg --add-architecture` adds in stage and the stages it is FROM: apt may install a
    name that has no native package for one of them (steamcmd, i386 only)."""
    by_label = {s.label: s for s in parsed.stages}
    chain: list[Stage] = []
    current: Stage | None = stage
    while current is not None and current not in chain:
        chain.insert(0, current)
        current = by_label.get(current.parent or "")
    found = [
        arch
        for s in chain
        for run in s.instructions
        if run.keyword == "RUN"
        for arch in commands.added_architectures(shell_text(parsed.text, run), escape=parsed.escape)
    ]
    return tuple(dict.fromkeys(found))


def run_env(parsed: Dockerfile, run: Instruction, shell: str) -> tuple[tuple[str, str], ...]:
    """The known ENV and ARG values a RUN starts with that its shell names, for the RUN lexer."""
    if "$" not in shell:
        return ()
    named = set(NAMED.findall(shell))
    return tuple((name, value) for name, value, _ in run_variables(parsed, run) if name in named)


def _held(invocations: Sequence[Invocation]) -> dict[tuple[int, int], Word]:
    """The words a variable's value gave the RUN's commands, by span."""
    return {
        (word.start, word.end): word
        for invocation in invocations
        for word in invocation.args
        if word.origin is not None
    }


def _variable_unpinnable(
    shell: str,
    held: Word,
    invocations: Sequence[Invocation],
    installs: Sequence[managers.Install],
    manager: managers.Manager,
    pin: str,
) -> str | None:
    """Why a pin cannot be written into the assignment of the variable a package word came
    from, or None: the value is written once in this RUN, and every use of the variable takes
    pinned words (the manager's installs, and commands such as `rpm -V` that read them)."""
    assert held.origin is not None
    name = held.origin[0]
    if shell[held.start : held.end] != held.text:
        return "its value is set outside this RUN"
    if len(re.findall(rf"(?<![A-Za-z0-9_]){name}\+?=", shell)) != 1:
        return "which is assigned more than once"
    # An install is known by its command's span: a variable's words have the same span in
    # each command that reads it.
    packages = {
        (install.start, install.end): {(p.start, p.end) for p in install.packages}
        for install in installs
    }
    uses: set[int] = set()
    for invocation in invocations:
        words = [w for w in invocation.args if w.origin is not None and w.origin[0] == name]
        uses.update(word.origin[1] for word in words if word.origin is not None)
        if not words:
            continue
        spans = packages.get((invocation.start, invocation.end), set())
        installed = all((w.start, w.end) in spans for w in words)
        if not installed and not manager.takes_pins(invocation, pin):
            # Named by the words before the variable's (`rpm -q --whatrequires`, `apk del`).
            before = invocation.args[: invocation.args.index(words[0])]
            return f"which `{' '.join([invocation.program, *(w.text for w in before)])}` also reads"
    written = re.findall(rf"\$(?:{name}(?![A-Za-z0-9_])|\{{{name}(?![A-Za-z0-9_]))", shell)
    if len(written) != len(uses):
        return "which is used where pinner cannot follow it"
    return None


def _step_in_place(first: str, old: str, new_step: str, nl: str) -> str:
    """new_step in the place of an old one (old, its first line first), at its indent."""
    indent = first[: len(first) - len(first.lstrip())]
    new = indent + (nl + indent).join(new_step.split("\n"))
    return new + ("\r" if old.endswith("\r") else "")


def _step_above(parsed: Dockerfile, stage: Stage, run: Instruction, new_step: str, nl: str) -> Edit:
    """new_step inserted above run, or above the USER that took the stage off root before it;
    wrapped in `USER root` and the user back where the stage runs as another user from the
    stage it is FROM."""
    text = parsed.text
    anchor, restore = _as_root(parsed, stage, run)
    if restore is not None:
        new_step = f"USER root\n{new_step}\nUSER {restore}"
    at = _line_start(text, anchor.span.start)
    indent = text[at : anchor.span.start]
    body = (nl + indent).join(new_step.split("\n"))
    return Edit(at, at, f"{indent}{body}{nl}")


def _is_root(user: str) -> bool:
    return user.partition(":")[0] in ("root", "0")


def _user(instruction: Instruction) -> str:
    return " ".join(word.text for word in instruction.words)


def inherited_user(parsed: Dockerfile, stage: Stage) -> Instruction | None:
    """The last USER of the stages a stage is FROM (nearest first), which the stage starts as;
    None where none sets one (the base image's user is taken to be root)."""
    for parent in ancestors(parsed, stage):
        users = [i for i in parent.instructions[1:] if i.keyword == "USER" and i.words]
        if users:
            return users[-1]
    return None


def _as_root(parsed: Dockerfile, stage: Stage, run: Instruction) -> tuple[Instruction, str | None]:
    """Where a step above run writes the manager's configuration as root, and the user to switch
    back to after it (None: none). Above the USER that switched away from root before run
    (`USER builder` for makepkg, then `sudo pacman`), right above run when it runs as root, and
    right above run with `USER root` before it and the user back after it when the stage runs
    as another user from its start, set in a stage it is FROM (`FROM base` whose USER is app)."""
    first = inherited_user(parsed, stage)
    current = None if first is None or _is_root(_user(first)) else _user(first)
    # A variable in an inherited USER may be an ARG of that stage, unset in this one: `USER
    # $NB_USER` written here could name no one, so it is restored only if an ENV sets it.
    unsafe = current is not None and not _in_environment(parsed, stage, current)
    anchor = run
    for instruction in stage.instructions[1:]:
        if instruction.keyword != "USER" or instruction.line > run.line:
            continue
        user = _user(instruction)
        if _is_root(user):
            anchor, current = run, None
        elif anchor is run and current is None:
            anchor, current = instruction, user
        else:
            current = user
        unsafe = False
    if anchor is run and current is not None and not unsafe:
        return run, current
    return anchor, None


def _in_environment(parsed: Dockerfile, stage: Stage, user: str) -> bool:
    """Whether every variable user names is set by an ENV of the stages stage is FROM (ENV
    values carry into a stage FROM another; ARG values do not)."""
    names = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", user))
    if not names:
        return "$" not in user
    found: set[str] = set()
    for parent in ancestors(parsed, stage):
        for instruction in parent.instructions[1:]:
            if instruction.keyword != "ENV" or not instruction.words:
                continue
            texts = [word.text for word in instruction.words]
            if "=" in texts[0]:
                found.update(text.partition("=")[0] for text in texts if "=" in text)
            else:
                found.add(texts[0])  # the legacy `ENV NAME value` form
    return names <= found


def _as_installed(cleanup: str, shell: str, starts: Sequence[int]) -> str:
    """cleanup run through sudo or doas where the RUN's manager commands (starting at starts)
    are (a non-root USER's RUN): the caches are root's to empty, each command of it as root."""
    wrappers = {shell[start:].split(None, 1)[0] for start in starts}
    if len(wrappers) == 1 and (wrapper := wrappers.pop()) in ("sudo", "doas"):
        return " && ".join(f"{wrapper} {command}" for command in cleanup.split(" && "))
    return cleanup


def _with_cleanup(
    shell: str,
    new: str,
    cleanup: str | None,
    uses: Sequence[int],
    run: Instruction,
    *,
    escape: str,
    nl: str,
) -> tuple[str, list[str]]:
    """new (shell with its pins) with cleanup (if any) joined on, and a note naming the RUN where
    it cannot be; uses: where the commands of shell that write or read what cleanup removes start.

    A cleanup joined on goes before a final command that can exit the script (`if ...; then exit
    0; fi`); where the package manager runs in that command too, no place serves every path."""
    if cleanup is None:
        return new, []
    end = ending(shell, escape)
    if end is not None and end.exits_at is not None and max(uses) >= end.exits_at:
        return new, [
            f"RUN at line {run.line} runs the package manager in a final command that can `exit`"
            " before a cleanup joined on would run; no cleanup added"
        ]
    new, note = join_cleanup(new, cleanup, escape=escape, nl=nl)
    return new, [] if note is None else [f"RUN at line {run.line} {note}"]


def _apt_family(invocation: Invocation) -> bool:
    """Whether an invocation runs a program of apt's or dpkg's (apt-get, apt-cache, dpkg-query),
    which may write or read the lists, caches and logs apt's cleanup removes."""
    return invocation.program.startswith(("apt", "dpkg"))


def _exec_form_note(run: Instruction, shell: str, escape: str, left: str) -> list[str]:
    """The note for a RUN in exec form, where left (its caches and logs) stays in the image."""
    if not shell.startswith("[") or ending(shell, escape) is not None:
        return []
    # Exec form runs no shell: nothing can be joined on, and JSON must stay JSON.
    return [
        f"RUN at line {run.line} is in exec form: {left} stay in the image and differ between"
        " builds; write it in shell form to have them removed"
    ]


def join_cleanup(shell: str, cleanup: str, *, escape: str, nl: str) -> tuple[str, str | None]:
    """shell with cleanup joined on so that it stays valid shell, or unchanged with a note why."""
    end = ending(shell, escape)
    if end is None:
        return shell, None
    dangling = [s for s in end.separators if s not in (";", "&")]
    if dangling:
        return shell, f"ends in `{dangling[-1]}`, which is not valid shell; no cleanup added"
    if end.inline_heredoc:
        # `cat <<EOF >file && apt-get ...`: the command line is the first; the body follows it.
        return f"{shell[: end.last]} && {cleanup}{shell[end.last :]}", None
    # The cleanup's line is indented as the RUN's least indented line (tabs in docker-library's
    # files, not a package list's deeper indent), or four spaces below a RUN on one line.
    indent = _indent(shell, end.last)
    brk = f"{nl}{indent or ''}" if end.heredoc else f" {escape}{nl}{indent or '    '}"
    if "&" in end.separators:
        # A background command: `a & && b` is a syntax error, `a & b` is not.
        return f"{shell[: end.after]}{brk}{cleanup}{shell[end.after :]}", None
    if end.heredoc and end.errexit and end.line_end is not None:
        # Under `set -e` a failing command stops the script: the cleanup is its own last line.
        return f"{shell[: end.line_end]}{brk}{cleanup}{shell[end.line_end :]}", None
    # Before a trailing `;` and any comment, joined with && so the script's status stays that of
    # its last command: `a;` followed by `&& b` is a syntax error, and `a; b` hides a's failure.
    joiner = " && " if end.heredoc else f"{brk}&& "
    return f"{shell[: end.last]}{joiner}{cleanup}{shell[end.last :]}", None


def _indent(shell: str, offset: int) -> str | None:
    """The blanks the least indented line of shell starts with, from its second line to the one
    holding offset (comments and blank lines aside); None when there is no such line."""
    stop = shell.find("\n", offset)
    lines = shell[: len(shell) if stop < 0 else stop].split("\n")[1:]
    code = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    blanks = [line[: len(line) - len(line.lstrip(" \t"))] for line in code]
    return min(blanks, key=len, default=None)


def _previous_line(text: str, instruction: Instruction) -> str:
    start = _line_start(text, instruction.span.start)
    before = text.rfind("\n", 0, max(start - 1, 0)) + 1
    return text[before : max(start - 1, before)].rstrip("\r")


# The line above an instruction's first line (the marker comment above a step pinner wrote).
previous_line = _previous_line


def _step_edits(
    parsed: Dockerfile, plan: StagePlan, distro: str, rewrite: Rewrite, nl: str
) -> list[Edit]:
    """Update an existing pinner step in place, or insert one before the first apt RUN."""
    which: sources.Distro = "debian" if distro == "debian" else "ubuntu"
    script: Sequence[str] | None = rewrite.steps.get(plan.stage.label)
    if script is None:
        mirrors: dict[str, str] = {k: v for k, v in rewrite.mirrors.items() if k == which}
        script = sources.script_lines(which, rewrite.snapshot, mirrors)
    marker = f"{sources.MARKER_PREFIX} {which} {rewrite.snapshot}"
    new_step = sources.step_text(marker, script, parsed.escape)
    step = find_step(parsed, plan.stage)
    repointed = None
    if step is not None and plan.stage.label not in rewrite.steps:
        # Not derived again in this run (the lock answered): a step above the RUN is re-pointed.
        lines = sources.update_timestamp(parsed.text.split("\n"), step, rewrite.snapshot)
        repointed = "\n".join(lines[step.start : step.end])
    anchor = _step_anchor(parsed, plan)
    return _placed_step(parsed, plan.stage, anchor, step, new_step, nl, repointed)


def _step_anchor(parsed: Dockerfile, plan: StagePlan) -> Instruction:
    """The RUN the snapshot step goes above: the stage's first apt RUN, or the first RUN before
    it that runs a file a COPY or ADD put in place where that apt RUN installs with lists it
    does not fetch. netdata's `RUN /tmp/install-required-packages.sh` fetches them, then `RUN
    apt-get install -y clang` reads them: with the step between, apt looks for the snapshot's
    lists, finds none, and cannot locate the package."""
    first = plan.apt_runs[0]
    if _first_lists_use(shell_text(parsed.text, first), parsed.escape) in (None, "update"):
        return first
    earlier = (i for i in _runs(plan.stage) if i.line < first.line)
    return next((i for i in earlier if _runs_copied_file(parsed, i)), first)


class Rewritten(NamedTuple):
    """One Dockerfile's rewrite: the new text, notes for the user, and the new text's uses.

    uses are the image uses parsing text would find, known without parsing it; None when only a
    parse can tell (the rewrite raised the frontend's version, or the file expands the epoch).
    """

    text: str
    notes: list[str]
    uses: tuple[ImageUse, ...] | None


def rewritten(parsed: Dockerfile, rewrite: Rewrite) -> Rewritten:
    """The whole reproducibility rewrite of one Dockerfile, with notes for the user and the image
    uses of the new text, taken from parsed where they can be."""
    edits, syntax, notes = _rewrite_edits(parsed, rewrite)
    text = apply_edits(parsed.text, edits)
    if text == parsed.text:
        return Rewritten(text, notes, parsed.uses)
    # The edits add ARGs of the epoch alone: a file that expands it may name other images.
    if _EPOCH_EXPANDED_RE.search(parsed.text) or escape_char(text) != parsed.escape:
        return Rewritten(text, notes, None)
    uses = moved_uses(parsed, edits)
    if uses is not None and syntax is not None and syntax.start == syntax.end:
        directive = syntax_directive_use(text)
        uses = None if directive is None else (directive, *uses)
    return Rewritten(text, notes, uses)


def _rewrite_edits(
    parsed: Dockerfile, rewrite: Rewrite
) -> tuple[list[Edit], Edit | None, list[str]]:
    """The rewrite's edits of parsed's text, the syntax directive's among them, and notes."""
    notes = []
    edits = []
    # The syntax directive first: at offset 0 it must precede the epoch ARG inserted there too.
    syntax, note = syntax_edit(parsed)
    if syntax is not None:
        edits.append(syntax)
    if note:
        notes.append(note)
    edits.extend(epoch_edits(parsed, rewrite))
    for plan in plans(parsed):
        stage_edit, stage_notes = stage_edits(parsed, plan, rewrite)
        edits.extend(stage_edit)
        notes.extend(stage_notes)
    return edits, syntax, notes
