"""pinner.outcome: what a stage FROM an earlier stage resolves and records."""

from __future__ import annotations

import pytest

from pinner.lockfile import LockedPackage, UnpinnedPackage
from pinner.managers import PackageArg
from pinner.outcome import Installed, after_parent, joint_requests


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
