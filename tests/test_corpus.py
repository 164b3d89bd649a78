"""Every Dockerfile of testdata/corpus/ locked offline: refusals, breakage, notes, idempotence.

Each corpus file is a minimal Dockerfile written for the tests, reproducing one pattern of the
real file it is named after (its first line names the repository and path). The lock runs the
engine's pure steps (the reproducibility rewrite, then pinning) with a fake resolver: digests are
hashes of the references, each stage's distribution is read from its base image's name and every
package named gets a made-up version. The result must be a file `check` passes, whose rewritten
RUNs dash and busybox sh both parse, and which a second lock leaves alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import pytest
import shell_syntax

from pinner import dockerfile, lockfile, managers, pinning, reproducible
from pinner.apt import commands
from pinner.apt.shell import Invocation, run_invocations
from pinner.errors import DockerfileError
from pinner.lockfile import Lock, LockedPackage, LockedStage
from pinner.main import main
from pinner.managers import pacman, zypper
from pinner.manifest import OCI_MANIFEST, Manifest
from pinner.outcome import epoch_of

CORPUS = Path(__file__).resolve().parents[1] / "testdata" / "corpus"
FILES = sorted(p.name for p in CORPUS.iterdir() if p.name.endswith("Dockerfile"))
TS = "20241202T000000Z"
SIGNATURE = "not checked: Arch Linux does not sign its databases; pacman checks each package"
# The step of a Tumbleweed image with the standard repo-oss (history date before TS's day).
_TUMBLEWEED = zypper.configure(
    {
        "/etc/os-release": b'ID="opensuse-tumbleweed"\n',
        "/etc/zypp/repos.d/repo-oss.repo": b"[repo-oss]\nenabled=1\n"
        b"baseurl=http://download.opensuse.org/tumbleweed/repo/oss/\n",
    },
    "amd64",
)
assert isinstance(_TUMBLEWEED, zypper.ZypperConfig)
_STEP = zypper.step(_TUMBLEWEED, "20241201", {})
assert isinstance(_STEP, zypper.Step)
TUMBLEWEED_STEP = _STEP.line
EPOCH = 1733097600

# The documented reasons a corpus file is refused (README, "What lock changes"), by file.
REFUSED = {
    "self-hosted-sentry-Dockerfile.Dockerfile": (
        "Dockerfile:3: ${SENTRY_IMAGE}: ARG SENTRY_IMAGE has no default;"
        " pass --build-arg SENTRY_IMAGE=..."
    ),
}


class Locked(NamedTuple):
    text: str
    lock: Lock
    notes: list[str]


def _distro(name: str) -> str | None:
    """The distribution a fake base image runs: from its name, as a registry would tell."""
    if "ubuntu" in name:
        return "ubuntu"
    if "alpine" in name or name.endswith("/scratch") or "busybox" in name:
        return None
    return "debian"


def _stages(parsed: dockerfile.Dockerfile) -> list[LockedStage]:
    """Locked apt stages with a made-up version for every package their RUNs install."""
    bases = {u.used_by.removeprefix("stage ").removesuffix(": FROM"): u for u in parsed.uses}
    distros: dict[str, str | None] = {}
    stages = []
    for plan in reproducible.plans(parsed):
        stage = plan.stage
        use = bases.get(stage.label)
        distro = distros.get(stage.parent or "") if use is None else _distro(use.ref.name)
        distros[stage.label] = distro
        manager = managers.get(plan.manager)
        if manager is not None and plan.manager_runs:
            stages.append(_manager_stage(parsed, plan, manager))
            continue
        if not plan.apt_runs or distro is None:
            continue
        names = dict.fromkeys(
            p.name
            for run in plan.apt_runs
            for p in commands.install_packages(
                reproducible.shell_text(parsed.text, run),
                escape=parsed.escape,
                env=reproducible.run_env(parsed, run, reproducible.shell_text(parsed.text, run)),
            )
        )
        packages = tuple(
            LockedPackage(n, "amd64", "1.0-1", "ab" * 32, f"pool/main/{n[0]}/{n}/{n}_1.0-1.deb")
            for n in names
        )
        stages.append(
            LockedStage(stage.label, None, distro, "bookworm", "apt", TS, "verified", packages)
        )
    return stages


def _invocations(
    parsed: dockerfile.Dockerfile, run: dockerfile.Instruction
) -> tuple[Invocation, ...]:
    """A RUN's invocations with the ENV and ARG values it starts with, as lock reads them."""
    shell = reproducible.shell_text(parsed.text, run)
    return run_invocations(shell, parsed.escape, reproducible.run_env(parsed, run, shell))


def _manager_stage(
    parsed: dockerfile.Dockerfile, plan: reproducible.StagePlan, manager: managers.Manager
) -> LockedStage:
    """A locked stage of a manager module (apk) with a made-up version for every word."""
    names = dict.fromkeys(
        p.name
        for run in plan.manager_runs
        for install in managers.invocations_installs(manager, _invocations(parsed, run))
        for p in install.packages
    )
    if manager.name == "pacman":
        packages = tuple(
            LockedPackage(n, "x86_64", "1.0-1", "ab" * 32, f"{n}-1.0-1-x86_64.pkg.tar.zst")
            for n in names
        )
        return LockedStage(
            plan.stage.label, None, "arch", None, "pacman", TS, SIGNATURE, packages, step="exact"
        )
    if manager.name == "zypper":
        rpms = tuple(
            LockedPackage(n, "x86_64", "1.0-1", "ef" * 32, f"x86_64/{n}-1.0-1.x86_64.rpm")
            for n in names
        )
        return LockedStage(
            plan.stage.label,
            None,
            "opensuse-tumbleweed",
            "20241125",
            "zypper",
            TS,
            zypper.SIGNATURE,
            rpms,
            step="exact",
        )
    if manager.name == "dnf":
        rpms = tuple(
            LockedPackage(n, "x86_64", "1.0-1", "cd" * 32, f"Packages/{n}-1.0-1.x86_64.rpm")
            for n in names
            if "(" not in n
        )
        return LockedStage(
            plan.stage.label,
            None,
            "fedora",
            "43",
            manager.name,
            packages=rpms,
            notes=(managers.NOT_REBUILDABLE,),
        )
    packages = tuple(
        LockedPackage(n, "x86_64", "1.0-r0", "", f"{n}-1.0-r0.apk", checksum=f"Q1{'A' * 27}=")
        for n in names
        if ":" not in n
    )
    return LockedStage(
        plan.stage.label,
        None,
        "alpine",
        "3.22.0",
        manager.name,
        signature="verified",
        packages=packages,
        notes=(managers.NOT_REBUILDABLE,),
    )


def lock(text: str, old: Lock) -> Locked:
    """What `pinner lock` writes for text, with the fake resolver."""
    parsed = dockerfile.parse(text, "Dockerfile")
    stages = _stages(parsed)
    new, notes, _ = reproducible.rewritten(parsed, _rewrite(stages))
    reparsed = dockerfile.parse(new, "Dockerfile")
    resolved = {}
    for use in reparsed.uses:
        query = pinning.query(use)
        digest = use.ref.digest or "sha256:" + hashlib.sha256(str(query).encode()).hexdigest()
        resolved[query] = Manifest(digest, OCI_MANIFEST)
    base = old._replace(snapshot=TS, source_date_epoch=EPOCH, stages=tuple(stages))
    pinned = pinning.pin(reparsed, resolved, base)
    for plan in reproducible.plans(parsed):
        for run in plan.apt_runs:
            shell = reproducible.shell_text(parsed.text, run)
            for command in commands.apt_commands(shell, escape=parsed.escape):
                notes += command.notes
    return Locked(pinned.text, pinned.lock, notes)


def _rewrite(
    stages: list[LockedStage], ts: str = TS, previous: str | None = None
) -> reproducible.Rewrite:
    """The rewrite's inputs for the fake resolver's stages."""
    # Manager stages that take pins (apk, dnf) get their made-up versions written, as
    # --pin-versions does; stages pinned by a dated snapshot (pacman) get their step.
    versions = {
        s.stage: {p.name: p.version for p in s.packages}
        for s in stages
        if (m := managers.get(s.package_manager)) is not None and m.version_pins
    }
    steps = {s.stage: (pacman.step(ts, {}),) for s in stages if s.package_manager == "pacman"}
    steps.update({s.stage: (TUMBLEWEED_STEP,) for s in stages if s.package_manager == "zypper"})
    distros = {s.stage: s.distro for s in stages}
    previous_epoch = None if previous is None else epoch_of(previous)
    return reproducible.Rewrite(
        ts, epoch_of(ts), distros, {}, versions, previous_epoch=previous_epoch, steps=steps
    )


def rewritten_runs(before: str, after: str) -> str:
    """A Dockerfile of after's RUNs that are not in before as they are (pinner wrote them)."""
    old = {before[i.span.start : i.span.end] for i in dockerfile.instructions(before)}
    runs = [
        after[i.span.start : i.span.end].rstrip("\r\n") + "\n"
        for i in dockerfile.instructions(after)
        if i.keyword == "RUN" and after[i.span.start : i.span.end] not in old
    ]
    return "FROM scratch\n" + "".join(runs)


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_locks_checks_and_relocks_unchanged(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (CORPUS / name).read_text()
    assert text.startswith(("# provenance: ", "# Minimal from "))  # the real file it stands for
    if name in REFUSED:
        with pytest.raises(DockerfileError) as info:
            lock(text, Lock())
        assert str(info.value) == REFUSED[name]
        return

    first = lock(text, Lock())
    second = lock(first.text, first.lock)

    assert shell_syntax.run_errors(rewritten_runs(text, first.text)) == []
    assert (second.text, second.lock) == (first.text, first.lock)
    path = tmp_path / "Dockerfile"
    path.write_text(first.text)
    (tmp_path / "Dockerfile.lock").write_text(lockfile.render(first.lock, "Dockerfile"))
    assert main(["check", str(path)]) == 0, capsys.readouterr().out


def test_the_corpus_covers_every_documented_refusal() -> None:
    assert set(REFUSED) <= set(FILES)
    assert len(FILES) >= 20


@pytest.mark.parametrize("name", sorted(set(FILES) - set(REFUSED)))
def test_corpus_rewrites_move_the_uses_as_a_new_parse_finds_them(name: str) -> None:
    # lock pins the rewritten text with the first parse's uses moved past the rewrite's edits.
    text = (CORPUS / name).read_text()
    first = lock(text, Lock())
    for before, ts, previous in (
        (text, TS, None),
        (first.text, TS, TS),
        (first.text, "20250101T000000Z", TS),
    ):
        parsed = dockerfile.parse(before, "Dockerfile")
        result = reproducible.rewritten(parsed, _rewrite(_stages(parsed), ts, previous))
        assert result.uses == dockerfile.parse(result.text, "Dockerfile").uses


# The corpus's package lists in variables (each file names its source): what the lock records,
# and the assignment as the rewrite leaves it (pins only where every use takes them).
VARIABLE_LISTS = [
    (
        "sclorg-s2i-base-fedora.Dockerfile",
        ["autoconf", "automake", "bzip2", "gcc-c++", "zlib-devel"],
        'RUN INSTALL_PKGS="autoconf-1.0-1 \\\n  automake-1.0-1 \\\n  bzip2-1.0-1 \\\n'
        '  gcc-c++-1.0-1 \\\n  zlib-devel-1.0-1" && \\\n',
    ),
    ("cni-route-override-centos7.Dockerfile", ["git", "golang"], 'ENV INSTALL_PKGS "git golang"\n'),
    (
        "misskey-alpine.Dockerfile",
        [
            "autoconf",
            "automake",
            "file",
            "g++",
            "gcc",
            "libc-dev",
            "libtool",
            "make",
            "nasm",
            "pkgconfig",
            "python3",
            "zlib-dev",
            "git",
        ],
        "RUN apk add --no-cache $BUILD_DEPS && \\\n",
    ),
    (
        "unbound-alpine.Dockerfile",
        [
            "curl",
            "gcc",
            "musl-dev",
            "libevent-dev",
            "expat-dev",
            "make",
            "openssl-dev",
            "ca-certificates=1.0-r0",
            "ldns=1.0-r0",
            "libevent=1.0-r0",
            "expat=1.0-r0",
        ],
        'RUN build_deps="curl gcc musl-dev libevent-dev expat-dev make openssl-dev" && \\\n',
    ),
    (
        "osdldbt-dbt2-ubuntu.Dockerfile",
        ["build-essential", "cmake", "postgresql", "libpq-dev", "postgresql-server-dev-9.3"],
        "RUN apt-get update && apt-get install -y $PACKAGES_DEPENDENCIES \\\n",
    ),
]


@pytest.mark.parametrize(("name", "words", "written"), VARIABLE_LISTS)
def test_package_lists_in_variables_are_recorded(name: str, words: list[str], written: str) -> None:
    locked = lock((CORPUS / name).read_text(), Lock())
    (stage,) = locked.lock.stages
    assert [p.name for p in stage.packages] == [w.partition("=")[0] for w in words]
    assert written in locked.text
    for word in words[len(words) - sum("=" in w for w in words) :]:
        assert f" {word}" in locked.text  # the words written beside the variable get their pins
