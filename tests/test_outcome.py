"""pinner.outcome: what a stage FROM an earlier stage resolves and records; settling a file."""

from __future__ import annotations

import pytest

from pinner import dockerfile, lockfile, managers, outcome, reproducible
from pinner.errors import DockerfileError
from pinner.lockfile import Lock, LockedImage, LockedPackage, UnpinnedPackage
from pinner.managers import PackageArg
from pinner.outcome import (
    Installed,
    Outcome,
    _users_epoch,
    after_parent,
    build_arg_notes,
    joint_requests,
    settle,
    text_only,
)
from pinner.workspace import Target


def _word(name: str) -> PackageArg:
    return PackageArg(name, None, 0, len(name))


def _pkg(name: str, version: str = "1-r0", arch: str = "aarch64") -> LockedPackage:
    return LockedPackage(name, arch, version, "", f"v3.17/main/{arch}/{name}-{version}.apk")


PARENT = Installed(
    "apk",
    (_word("curl"), _word("zlib")),
    (_pkg("curl", "8.1.1-r1"), _pkg("libcurl", "8.1.1-r1"), _pkg("curl", "8.1.1-r1", "x86_64")),
    upgrade=False,
    fresh=False,
)


def test_joint_requests_put_the_parents_words_first() -> None:
    assert joint_requests(None, [_word("git")]) == [_word("git")]
    assert [r.name for r in joint_requests(PARENT, [_word("git"), _word("curl")])] == [
        "curl",
        "zlib",
        "git",
    ]


AFTER = [
    # What the parent's lock records is set aside; the rest is the stage's own.
    (["git"], [_pkg("git"), _pkg("curl", "8.2.0-r0"), _pkg("libcurl", "8.2.0-r0"), _pkg("perl")],
     ["git", "perl"]),
    # A word of the stage the parent installed keeps the parent's record, not the index's now.
    (["git", "curl"], [_pkg("git"), _pkg("curl", "8.2.0-r0")], ["curl=8.1.1-r1", "git"]),
    # Another architecture's records do not count.
    (["git"], [_pkg("git", arch="x86_64"), _pkg("libcurl", arch="x86_64")], ["git", "libcurl"]),
    (["curl"], [], ["curl=8.1.1-r1"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("words", "resolved", "expected"), AFTER, ids=["deps", "word", "arch", "only"]
)
def test_after_parent(words: list[str], resolved: list[LockedPackage], expected: list[str]) -> None:
    arch = resolved[0].architecture if resolved else "aarch64"
    found, _ = after_parent(PARENT, [_word(w) for w in words], arch, resolved, [])
    shown = [p.name + (f"={p.version}" if p.name == "curl" else "") for p in found]
    assert shown == expected


def test_after_parent_drops_only_the_parents_own_unpinned_words() -> None:
    unpinned = [
        UnpinnedPackage("zlib", "not pinned: already in the base image: 1.2.12-r3; apk keeps it"),
        UnpinnedPackage("musl", "not pinned: already in the base image: 1.2.3-r0; apk keeps it"),
        UnpinnedPackage("libfoo", "not pinned: required by git, no repository has it"),
    ]
    _, kept = after_parent(PARENT, [_word("git"), _word("musl")], "aarch64", [], unpinned)
    assert [u.name for u in kept] == ["musl", "libfoo"]


_DIGEST = "sha256:" + "a" * 64
_IMAGE = LockedImage(
    f"alpine:3@{_DIGEST}", "docker.io/library/alpine", "3", _DIGEST, (), ("stage 0: FROM",)
)


def _settling(new_lock: Lock, new_text: str | None = None) -> tuple[Target, Outcome]:
    text = f"FROM alpine:3@{_DIGEST}\n"
    lock = Lock(images=(_IMAGE,), images_only=True)
    lock_text = lockfile.render(lock, "Dockerfile")
    parsed = dockerfile.parse(text, "d/Dockerfile")
    target = Target(
        "d/Dockerfile", "d/Dockerfile.lock", parsed, lockfile.parse(lock_text, "l"), lock_text
    )
    return target, Outcome(target, new_text or text, new_lock, ("a note",))


@pytest.mark.parametrize(
    ("new_lock", "new_text", "written"),
    [
        (Lock(images=(_IMAGE,), images_only=True), None, []),
        (Lock(images=(_IMAGE,)), None, ["d/Dockerfile.lock"]),
        (Lock(images=(_IMAGE,), images_only=True), "FROM alpine:3\n", ["d/Dockerfile"]),
    ],
    ids=["unchanged", "lock-changed", "text-changed"],
)
def test_settle_gives_the_writes_and_keeps_only_what_diffs_read(
    new_lock: Lock, new_text: str | None, written: list[str]
) -> None:
    target, outcome = _settling(new_lock, new_text)
    settled, writes = settle(outcome, text_only(target))

    assert writes == settle(outcome, target)[1]  # the parse let go changes no write
    assert list(writes) == written
    assert (settled.text, settled.lock, settled.notes) == (outcome.text, new_lock, ("a note",))
    kept = settled.target
    assert (kept.path, kept.lock_path, kept.parsed.text) == (
        target.path,
        target.lock_path,
        target.parsed.text,
    )
    assert (kept.parsed.stages, kept.parsed.uses, kept.lock) == ((), (), Lock())
    # The old lock's text only where a diff of the lock may be shown.
    assert kept.lock_text == (target.lock_text if "d/Dockerfile.lock" in written else None)


# mastodon's Dockerfile: the ARGs its package RUN reads name a user and a path, not packages.
MASTODON = """\
FROM ruby:3.3-slim-bookworm
ARG UID="991"
ARG MASTODON_HOME="/opt/mastodon"
ARG EXTRA="tini"
RUN set -eux; \\
    {install} libjemalloc2 $EXTRA; \\
    useradd -u "${{UID}}" -l -m -d "${{MASTODON_HOME}}" mastodon
"""


@pytest.mark.parametrize("install", ["apt-get install -y", "apk add --no-cache"])
def test_build_arg_notes_name_only_the_args_of_package_words(install: str) -> None:
    parsed = dockerfile.parse(MASTODON.format(install=install), "Dockerfile")
    run = parsed.stages[0].instructions[-1]
    notes = build_arg_notes(parsed, run, reproducible.shell_text(parsed.text, run))
    assert notes == [
        "packages named by ARG EXTRA are recorded for its value here (tini);"
        " a build with another --build-arg EXTRA installs others"
    ]


@pytest.mark.parametrize(
    ("default", "previous", "kept"),
    [
        ("0", None, 0),
        ("1733097600", 1733097600, None),  # pinner's own, from the lock before
        ("'1700000000'", 1733097600, 1700000000),
        ("\u00b2", None, None),  # str.isdigit takes it, int() does not
        ("9" * 5000, None, None),  # int() refuses over 4300 digits
    ],
    ids=["zero", "pinners-own", "quoted", "superscript", "5000-digits"],
)
def test_the_users_epoch_is_a_number_int_takes(
    default: str, previous: int | None, kept: int | None
) -> None:
    parsed = dockerfile.parse(f"ARG SOURCE_DATE_EPOCH={default}\nFROM scratch\n", "Dockerfile")

    assert _users_epoch(parsed, previous) == kept


def _chain(stages: int, enables: int) -> dockerfile.Dockerfile:
    """stages stages, each FROM the one before, each enabling `enables` module streams."""
    specs = " ".join(f"m{n}:1" for n in range(enables))
    text = "".join(
        f"FROM {'ubi9' if i == 0 else f's{i - 1}'} AS s{i}\n"
        f"RUN dnf -y module enable {specs} && dnf install -y a{i}\n"
        for i in range(stages)
    )
    return dockerfile.parse(text, "Dockerfile")


def test_the_state_of_a_long_chain_of_stages_reads_each_stage_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each stage's module commands are read once, however many stages are FROM it: a chain
    of 1,500 stages read each stage's RUNs for every stage below it before (1.1 million)."""
    parsed = _chain(1500, 0)
    manager = managers.get("dnf")
    assert manager is not None
    read: list[int] = []
    installs = outcome.manager_installs

    def counted(*args: object, **kwargs: object) -> object:
        read.append(1)
        return installs(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(outcome, "manager_installs", counted)
    states = [
        outcome._state_before(parsed, stage, manager, "Dockerfile") for stage in parsed.stages
    ]
    assert len(read) == len(parsed.stages) - 1
    assert states[-1] == ()


def test_a_stage_whose_parents_change_too_many_states_is_one_error() -> None:
    parsed = _chain(4, outcome.MAX_STATE // 2)
    manager = managers.get("dnf")
    assert manager is not None
    assert len(outcome._state_before(parsed, parsed.stages[2], manager, "Dockerfile")) == 1_000
    with pytest.raises(DockerfileError) as raised:
        outcome._state_before(parsed, parsed.stages[3], manager, "Dockerfile")
    assert str(raised.value) == (
        "Dockerfile:6: the commands of this stage and those it is FROM change more than 1000 states"
    )


@pytest.mark.parametrize(("name", "install"), [("dnf", "dnf install -y"), ("apk", "apk add")])
def test_a_chain_of_stages_reads_each_run_a_few_times_not_once_per_stage_below_it(
    monkeypatch: pytest.MonkeyPatch, name: str, install: str
) -> None:
    """manager_packages of every stage of a chain of 300 stages FROM stages: the first change of
    the repositories, the appended repository lines and the module state of a stage's parents
    are worked out once per stage (45,000 RUN readings each before, one per parent)."""
    text = "".join(
        f"FROM {'base' if i == 0 else f's{i - 1}'} AS s{i}\n"
        f"RUN echo '@t{i} http://x.invalid/{i}' >> /etc/apk/repositories && {install} a{i}\n"
        for i in range(300)
    )
    parsed = dockerfile.parse(text, "Dockerfile")
    manager = managers.get(name)
    assert manager is not None
    read: list[int] = []
    shell_text = reproducible.shell_text

    def counted(text: str, run: dockerfile.Instruction) -> str:
        read.append(run.line)
        return shell_text(text, run)

    monkeypatch.setattr(reproducible, "shell_text", counted)
    plans = [plan for plan in reproducible.plans(parsed) if plan.manager == name]
    assert len(plans) == 300
    found = [outcome.manager_packages(parsed, plan, manager) for plan in plans]
    assert [w.name for w in found[-1].requests] == ["a299"]
    assert len(read) <= 10 * 300
