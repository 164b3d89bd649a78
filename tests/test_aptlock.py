"""Package resolution across a base image's suites, with a fake snapshot mirror."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pinner.apt.packages import PackageEntry
from pinner.apt.release import Release
from pinner.aptlock import SIGNATURE_UNCHECKED, SIGNATURE_VERIFIED, resolve_stage
from pinner.baseimage import BaseImage, SourceFile
from pinner.errors import MirrorError
from pinner.lockfile import LockedPackage

SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-backports
Components: main
"""
NOW = datetime(2024, 12, 2, tzinfo=UTC)


def entry(name: str, version: str, arch: str = "amd64") -> PackageEntry:
    return PackageEntry(name, version, arch, f"pool/{name}_{version}_{arch}.deb", 1, "0" * 64)


class FakeMirror:
    """Answers release() and packages() from tables; records what was asked."""

    def __init__(self, packages: dict[str, list[PackageEntry]], verified: bool = True) -> None:
        self.tables = packages
        self.verified = verified
        self.asked: list[tuple[str, ...]] = []

    async def release(
        self, archive: str, timestamp: str, suite: str, keyrings: Sequence[Path]
    ) -> tuple[Release, bool]:
        self.asked.append(("release", archive, suite))
        backports = suite.endswith("-backports")
        release = Release(suite, suite, NOW, None, True, {}, not_automatic=backports)
        return release, self.verified

    async def packages(
        self, archive: str, timestamp: str, suite: str, component: str, arch: str, signed: Release
    ) -> list[PackageEntry]:
        self.asked.append(("packages", suite, component, arch))
        return self.tables[suite]


def base() -> BaseImage:
    return BaseImage(
        "debian",
        (),
        "12",
        "bookworm",
        "Debian GNU/Linux 12 (bookworm)",
        (SourceFile("/etc/apt/sources.list.d/debian.sources", SOURCES),),
        (),
        "2.6.1",
        None,
        "sha256:x",
    )


def resolve(mirror: FakeMirror, names: list[str]) -> tuple[LockedPackage, ...]:
    stage = asyncio.run(
        resolve_stage(mirror, "0", "20241202T000000Z", {"amd64": base()}, names)  # type: ignore[arg-type]
    )
    return stage.packages


def test_backports_only_where_no_other_suite_has_the_package() -> None:
    mirror = FakeMirror(
        {
            "bookworm": [entry("curl", "7.88.1-10+deb12u8"), entry("hello", "2.10-3", "all")],
            "bookworm-backports": [
                entry("curl", "8.11.1-1~bpo12+1"),
                entry("newtool", "1.0-1~bpo12+1"),
            ],
        }
    )
    assert [
        (p.name, p.version, p.architecture) for p in resolve(mirror, ["curl", "hello", "newtool"])
    ] == [
        ("curl", "7.88.1-10+deb12u8", "amd64"),
        ("hello", "2.10-3", "amd64"),
        ("newtool", "1.0-1~bpo12+1", "amd64"),
    ]
    assert ("release", "debian", "bookworm-backports") in mirror.asked


def test_missing_package_is_one_clear_error() -> None:
    mirror = FakeMirror({"bookworm": [], "bookworm-backports": []})
    with pytest.raises(MirrorError) as info:
        resolve(mirror, ["nope"])
    assert (
        str(info.value)
        == "nope: no amd64 package in bookworm, bookworm-backports at 20241202T000000Z"
    )


@pytest.mark.parametrize(
    ("verified", "expected"), [(True, SIGNATURE_VERIFIED), (False, SIGNATURE_UNCHECKED)]
)
def test_signature_status_is_recorded(verified: bool, expected: str) -> None:
    mirror = FakeMirror(
        {"bookworm": [entry("hello", "2.10-3")], "bookworm-backports": []}, verified
    )
    stage = asyncio.run(
        resolve_stage(mirror, "0", "20241202T000000Z", {"amd64": base()}, ["hello"])  # type: ignore[arg-type]
    )
    assert stage.signature == expected


@pytest.mark.parametrize(
    ("hostile", "message"),
    [
        (
            PackageEntry("hello", "2.10-3;touch${IFS}x", "amd64", "pool/h.deb", 1, "0" * 64),
            "pool/h.deb: '2.10-3;touch${IFS}x': invalid character in revision number",
        ),
        (
            PackageEntry("hello", "2.10-3", "amd64", "pool/../../etc/passwd", 1, "0" * 64),
            "snapshot index at 20241202T000000Z: package 'hello': filename"
            " 'pool/../../etc/passwd' is not a path in the archive",
        ),
        (
            PackageEntry("hello", "2.10-3", "amd64", "pool/h.deb", 1, "00"),
            "snapshot index at 20241202T000000Z: package 'hello': sha256 '00' is not 64"
            " lowercase hex",
        ),
    ],
    ids=["version-with-shell", "filename-escapes", "short-sha256"],
)
def test_index_fields_are_checked_before_they_reach_the_lock(
    hostile: PackageEntry, message: str
) -> None:
    # Versions go into RUN lines with --pin-versions and every field into the lock: a signed
    # index is still checked field by field, as the lock reader checks a lock.
    mirror = FakeMirror({"bookworm": [hostile], "bookworm-backports": []})
    with pytest.raises(MirrorError) as info:
        resolve(mirror, ["hello"])
    assert str(info.value) == message
