"""`pinner check`: offline, exit 1 when anything is unpinned or disagrees with the lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

from pinner import managers, parallel, pinning, reproducible, syntax, workspace
from pinner.apt import commands, sources
from pinner.apt import shell as shell_lexer
from pinner.dockerfile import Dockerfile, Instruction, Stage, run_shell
from pinner.errors import Problem
from pinner.lockfile import Lock, LockedStage
from pinner.managers.leftovers import expands_braces
from pinner.outcome import (
    apt_install_commands,
    apt_installs,
    install_commands,
    manager_installs,
    word_names,
)
from pinner.output import Reporter, print_json, untrusted
from pinner.workspace import Selection, Target, parse_read


class Finding(NamedTuple):
    """One thing `check` objects to, located as precisely as it can be."""

    path: str
    line: int | None
    reference: str | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        parts = [self.path if self.line is None else f"{self.path}:{self.line}"]
        if self.reference:
            parts.append(self.reference)
        if self.severity != "error":
            parts.append(self.severity)
        parts.append(self.message)
        return ": ".join(parts)


def check(
    *,
    selection: Selection,
    as_json: bool = False,
    quiet: bool = False,
    snapshot_mirrors: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
) -> int:
    """Report every finding; exit 1 if there is any."""
    report = Reporter(quiet=quiet)
    work = partial(_check_share, selection, snapshot_mirrors, cache_dir)
    checked = [c for c in parallel.map_shares(work, workspace.discover(selection)) if c is not None]
    errors = [c.problem for c in checked if c.problem is not None]
    findings = [Finding(e.path, e.line, None, e.message) for e in errors]
    findings += [f for c in checked for f in c.findings]
    for notice in (c.notice for c in checked if c.notice is not None):
        report.notice(notice)
    findings += [f for c in checked for f in c.verified]
    files = len(checked)
    failed = [f for f in findings if f.severity == "error"]
    if as_json:
        data = {
            "ok": not failed,
            "files": files,
            "findings": [f._asdict() for f in findings],
        }
        print_json(data)
    else:
        for finding in findings:
            print(finding)
    if failed:
        # A Dockerfile or lock that could not be read is still one of the run's Dockerfiles.
        report.notice(f"{len(failed)} finding(s) in {files} file(s)")
        return 1
    report.notice(f"{files} file(s) pinned and in agreement with their locks")
    return 0


class _Checked(NamedTuple):
    """What checking one file found: its problem if it could not be read, else its findings, and
    what verifying its package entries against the cached indexes found or why it could not."""

    problem: Problem | None
    findings: list[Finding]
    verified: list[Finding]
    notice: str | None = None


def _check_share(
    selection: Selection,
    mirrors: Mapping[str, str] | None,
    cache_dir: Path | None,
    paths: Sequence[str],
) -> list[_Checked | None]:
    """Read, parse and check files of the run (in any process), then verify the package entries
    of those that have some and no error; None for a file that is not read."""
    checked: list[_Checked | None] = []
    verifiable: dict[int, tuple[Target, list[Finding]]] = {}
    for path in paths:
        entry = workspace.read_path(path, selection)
        if entry is None:
            checked.append(None)
            continue
        target = parse_read(entry)
        if isinstance(target, Problem):
            checked.append(_Checked(target, [], []))
            continue
        findings = check_target(target) + _unpinnable(target)
        mine = (target.path, target.lock_path)
        if any(s.packages for s in target.lock.stages) and not any(
            f.severity == "error" and f.path in mine for f in findings
        ):
            verifiable[len(checked)] = target, findings
        checked.append(_Checked(None, findings, []))
    if verifiable:
        targets = [target for target, _ in verifiable.values()]
        verified = _verify_offline(targets, mirrors, cache_dir)
        for (at, (_, findings)), (found, notice) in zip(verifiable.items(), verified, strict=True):
            checked[at] = _Checked(None, findings, found, notice)
    return checked


def _unpinnable(target: Target) -> list[Finding]:
    """Warnings for references a reference file computes (a variable, an f-string)."""
    return [Finding(n.path, n.line, None, n.message, "warning") for n in target.notes]


def _verify_offline(
    targets: Sequence[Target], mirrors: Mapping[str, str] | None, cache_dir: Path | None
) -> list[tuple[list[Finding], str | None]]:
    """Package entries against the snapshot indexes in the cache: per target, what they
    contradict, or the notice that the cache has too little to tell."""
    import asyncio

    from pinner import stagework
    from pinner.remote.cache import default_cache_dir
    from pinner.remote.registry import Settings
    from pinner.remote.session import NotCached, Session

    async def verify() -> list[tuple[list[Finding], str | None]]:
        found: list[tuple[list[Finding], str | None]] = []
        session = Session.for_run(
            targets,
            Settings(),
            Reporter(quiet=True),  # offline: no progress to show
            snapshot_mirrors=mirrors,
            cache_dir=cache_dir or default_cache_dir(),
            offline=True,
        )
        async with session:
            for target in targets:
                try:
                    problems = await stagework.verify_packages(session, target)
                except NotCached:
                    notice = (
                        f"{target.lock_path}: package entries not verified: the cache lacks the"
                        " base image or the snapshot's indexes; pinner check --remote verifies them"
                    )
                    found.append(([], notice))
                    continue
                found.append(([Finding(target.lock_path, None, None, p) for p in problems], None))
        return found

    return asyncio.run(verify())


def check_target(target: Target) -> list[Finding]:
    """The findings for one Dockerfile and its lock."""
    path, lock_path = target.path, target.lock_path
    if target.lock_text is None:
        return [Finding(path, None, None, f"no lockfile {lock_path}; run pinner lock {path}")]
    findings = []
    recorded = dict(target.lock.build_args)
    if dict(target.build_args) != recorded:
        given = _flags(target.build_args) or "no --build-arg"
        message = f"locked with {_flags(recorded) or 'no --build-arg'}, checked with {given}"
        findings.append(Finding(lock_path, None, None, message))
    locked = target.lock.by_reference()
    by_tag = {(i.name, i.tag): i for i in target.lock.images}
    used = set()
    changed = pinning.changed_since_lock(target.parsed, target.lock)
    for use in target.parsed.uses:
        ref = use.ref
        if ref.digest is None:
            pin = pinning.build_arg_pin(use, target.lock)
            if pin is not None:
                used.add(pin.reference)  # set by --build-arg; `pinner build-args` gives the pin
                continue
            findings.append(Finding(path, use.line, use.expanded, "not pinned to a digest"))
            continue
        entry = locked.get(use.expanded)
        if entry is not None and entry.digest == ref.digest:
            used.add(use.expanded)
            continue
        other = by_tag.get((ref.name, ref.tag))
        if use in changed:
            message = pinning.changed_note(changed[use], lock_path, path)
            used.add(changed[use].reference)
        elif other is not None:
            message = f"digest differs from {lock_path} ({other.digest})"
            used.add(other.reference)
        else:
            message = f"not in {lock_path}"
        findings.append(Finding(path, use.line, use.expanded, message))
    for image in target.lock.images:
        if image.reference not in used:
            findings.append(Finding(lock_path, None, image.reference, f"not used by {path}"))
    if not target.lock.images_only:  # made with --images-only: packages are not its business
        findings.extend(check_reproducible(target))
    if not any(f.severity == "error" for f in findings):
        # Only the image entries of a re-pin can differ from the lock: compare those, without
        # editing the text or ordering the lock's stages.
        resolved = pinning.LockAnswers.of([target.lock]).for_uses(target.parsed.uses)
        images = pinning.lock_images(target.parsed, resolved, target.lock)
        if Lock(images=images).canonical() != Lock(images=target.lock.images).canonical():
            findings.append(Finding(lock_path, None, None, f"out of date; run pinner lock {path}"))
    return findings


def _manager_words(
    target: Target, plan: reproducible.StagePlan, entry: LockedStage
) -> list[Finding]:
    """A manager stage whose install words are not those its lock was made from."""
    manager = managers.get(plan.manager)
    if manager is None or entry.words is None:  # a lock made before words were recorded
        return []
    differ = _differ(set(word_names(target.parsed, plan.manager_runs, manager)), set(entry.words))
    if differ is None and entry.commands is not None:
        commands = install_commands(target.parsed, plan.manager_runs, manager)
        differ = _commands_differ(commands, entry.commands)
    if differ is None:
        return []
    message = f"stage {plan.stage.label}: {differ}; run pinner lock {target.path}"
    return [Finding(target.path, plan.manager_runs[0].line, None, message)]


def _commands_differ(commands: Sequence[str], locked: Sequence[str]) -> str | None:
    """How a stage's install commands (package words left out) differ from its lock's, or None."""
    if tuple(commands) == tuple(locked):
        return None
    import difflib  # only a stage that differs needs it

    matcher = difflib.SequenceMatcher(None, list(commands), list(locked), autojunk=False)
    tag, now, _, then, _ = next(op for op in matcher.get_opcodes() if op[0] != "equal")
    if tag == "insert":  # a command of the lock that the stage no longer runs
        return f"install command `{untrusted(locked[then])}` of the lock is gone"
    if tag == "delete":  # a command the lock was made without (`dnf module enable`, added)
        return f"install command `{untrusted(commands[now])}` is not in the lock"
    return (
        f"install command `{untrusted(commands[now])}` was `{untrusted(locked[then])}` in the lock"
    )


def _differ(names: set[str], locked: set[str]) -> str | None:
    """How a stage's package names differ from those its lock records, or None."""
    if names == locked:
        return None
    added = ", ".join(sorted(names - locked)) or "none"
    removed = ", ".join(sorted(locked - names)) or "none"
    return f"packages differ from the lock (new: {added}; gone: {removed})"


def _manager_pins(
    target: Target, plan: reproducible.StagePlan, entry: LockedStage
) -> list[Finding]:
    """Exact pins in a manager stage's words (`curl=8.1.1-r1`) that the lock does not record."""
    manager = managers.get(plan.manager)
    if manager is None:
        return []
    versions: dict[str, set[str]] = {}
    for package in entry.packages:
        versions.setdefault(package.name, set()).add(package.version)
    findings = []
    for _, install, lines in manager_installs(target.parsed, plan.manager_runs, manager):
        for word, line in zip(install.packages, lines, strict=True):
            pinned = (word.constraint or "").removeprefix("=")
            locked = versions.get(word.name)
            if not word.constraint or word.constraint[:1] != "=" or not locked:
                continue
            if locked != {pinned}:
                message = (
                    f"stage {plan.stage.label}: {word.name}={pinned}: the lock records"
                    f" {', '.join(sorted(locked))}; run pinner lock {target.path}"
                )
                findings.append(Finding(target.path, line, None, message))
    return findings


def _flags(args: Mapping[str, str]) -> str:
    return " ".join(f"--build-arg {name}={value}" for name, value in sorted(args.items()))


def _manager_stepped(parsed: Dockerfile, plan: reproducible.StagePlan, snapshot: str) -> bool:
    """Whether a manager stage (or a parent running the same manager) has its step at snapshot,
    above the stage's first RUN of the manager."""
    by_label = {p.stage.label: p for p in reproducible.plans(parsed)}
    current: reproducible.StagePlan | None = plan
    while current is not None:
        if current.manager == plan.manager and current.manager_runs:
            step = reproducible.find_manager_step(parsed, current.stage)
            if (
                step is not None
                and (step.manager, step.timestamp) == (plan.manager, snapshot)
                and step.start < current.manager_runs[0].line - 1
            ):
                return True
        current = by_label.get(current.stage.parent or "")
    return False


def check_reproducible(target: Target) -> list[Finding]:
    """SOURCE_DATE_EPOCH in place, and every apt stage on the locked snapshot with its packages."""
    lock, parsed, path = target.lock, target.parsed, target.path
    findings = []
    if lock.source_date_epoch is not None:
        findings.extend(_epoch_findings(target, lock.source_date_epoch))
    locked = {s.stage: s for s in lock.stages}
    stepped: dict[str, bool] = {}
    for plan in reproducible.plans(parsed):
        stage = plan.stage
        where = f"stage {stage.label}"
        if managers.get(plan.manager) is not None and plan.manager_runs:
            entry = locked.get(stage.label)
            if entry is None:
                message = f"{where}: {plan.manager} packages are not locked; run pinner lock {path}"
                findings.append(Finding(path, plan.manager_runs[0].line, None, message))
            elif entry.snapshot is not None and not _manager_stepped(parsed, plan, entry.snapshot):
                message = (
                    f"{where}: {plan.manager} runs without pinner's snapshot step"
                    f" at {entry.snapshot}"
                )
                findings.append(Finding(path, plan.manager_runs[0].line, None, message))
            elif managers.NOT_REBUILDABLE in entry.notes:
                message = f"{where}: {plan.manager} packages {managers.NOT_REBUILDABLE}"
                findings.append(Finding(path, stage.instructions[0].line, None, message, "warning"))
            if entry is not None:
                findings.extend(_manager_words(target, plan, entry))
                findings.extend(_manager_pins(target, plan, entry))
            continue
        if plan.manager is not None and plan.manager != "apt":
            message = f"{where}: {plan.manager} has no dated snapshot mirror; packages not pinned"
            findings.append(Finding(path, stage.instructions[0].line, None, message, "warning"))
            continue
        if not plan.apt_runs:
            stepped[stage.label] = stepped.get(stage.parent or "", False)
            continue
        entry = locked.get(stage.label)
        if entry is None or entry.snapshot is None:
            if entry is None or entry.distro in reproducible.SNAPSHOT_DISTROS:
                message = f"{where}: apt packages are not locked; run pinner lock {path}"
                findings.append(Finding(path, plan.apt_runs[0].line, None, message))
            stepped[stage.label] = True  # not locked: stages built on it are not reported too
            continue
        step = reproducible.find_step(parsed, stage)
        own = step is not None and step.timestamp == lock.snapshot
        inherited = stepped.get(stage.parent or "", False)
        stepped[stage.label] = own or inherited
        # A step below the stage's first apt RUN leaves that RUN on the live archive.
        late = step is not None and own and not inherited and step.start >= plan.apt_runs[0].line
        if not stepped[stage.label] or late:
            message = f"{where}: apt runs without pinner's snapshot step at {lock.snapshot}"
            findings.append(Finding(path, plan.apt_runs[0].line, None, message))
        findings.extend(_syntax_findings(target, stage, step, plan.apt_runs))
        names = {package.name for _, package, _ in apt_installs(parsed, plan.apt_runs)}
        for run in plan.apt_runs:
            args = parsed.text[slice(*reproducible.run_args(parsed.text, run))]
            braces = expands_braces(run_shell(parsed, run), False)
            keep_lists = reproducible.lists_read_later(parsed, stage, run)
            if commands.installs(args, escape=parsed.escape) and sources.needs_cleanup(
                args, escape=parsed.escape, braces=braces, keep_lists=keep_lists
            ):
                message = "apt leaves files that differ between builds; run pinner lock"
                findings.append(Finding(path, run.line, None, message))
        locked_names = {p.name for p in entry.packages} | {u.name for u in entry.unpinned}
        differ = _differ(names, locked_names)
        if differ is None and entry.commands is not None:
            differ = _commands_differ(apt_install_commands(parsed, plan.apt_runs), entry.commands)
        if differ is not None:
            findings.append(Finding(path, plan.apt_runs[0].line, None, f"{where}: {differ}"))
    return findings


def _syntax_findings(
    target: Target,
    stage: Stage,
    step: sources.SnapshotStep | None,
    runs: Sequence[Instruction],
) -> list[Finding]:
    """`sh -n` (dash and busybox, where installed) on the snapshot step and the apt RUNs."""
    parsed = target.parsed
    findings = []
    for instruction in stage.instructions[1:]:
        if instruction.keyword != "RUN":
            continue
        is_step = step is not None and instruction.line == step.start + 2  # 0-based marker line
        if instruction not in runs and not is_step:
            continue
        # The stage's SHELL, a stage's it is FROM, or its base image's config Shell.
        program = run_shell(parsed, instruction) or "sh"
        shell = reproducible.shell_text(parsed.text, instruction)
        for runner, script in shell_lexer.scripts(shell, escape=parsed.escape):
            for error in syntax.errors(script, syntax.shells(runner or program)):
                message = f"RUN is not valid shell ({error})"
                findings.append(Finding(target.path, instruction.line, None, message))
    return findings


def _epoch_findings(target: Target, epoch: int) -> list[Finding]:
    parsed, path = target.parsed, target.path
    findings = []
    declared = reproducible.epoch_default(parsed)
    if declared is None:
        message = f"no global ARG SOURCE_DATE_EPOCH={epoch} before the first FROM"
        findings.append(Finding(path, None, None, message))
    elif declared[1] != str(epoch):
        message = f"ARG SOURCE_DATE_EPOCH={declared[1]} differs from the lock ({epoch})"
        findings.append(Finding(path, declared[0], None, message))
    for stage in parsed.stages:
        if reproducible.epoch_arg(stage.instructions[1:]) is None:
            message = f"stage {stage.label}: no ARG SOURCE_DATE_EPOCH, so RUN steps cannot see it"
            findings.append(Finding(path, stage.instructions[0].line, None, message))
    return findings
