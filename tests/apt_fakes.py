"""A snapshot mirror answering from tables, and the base image and package entries the apt
resolution tests feed it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pinner.apt.packages import PackageEntry
from pinner.apt.release import Release
from pinner.baseimage import BaseImage, SourceFile

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
        release = Release(suite, suite, NOW, {}, not_automatic=backports)
        return release, self.verified

    async def packages(
        self, archive: str, timestamp: str, suite: str, component: str, arch: str, signed: Release
    ) -> list[PackageEntry]:
        self.asked.append(("packages", suite, component, arch))
        return self.tables[suite]


def base() -> BaseImage:
    return BaseImage(
        "debian",
        "bookworm",
        "Debian GNU/Linux 12 (bookworm)",
        (SourceFile("/etc/apt/sources.list.d/debian.sources", SOURCES),),
        (),
        None,
    )
