"""Package resolution across a base image's suites, with a fake snapshot mirror."""

from __future__ import annotations

import asyncio

import pytest
from apt_fakes import FakeMirror, base, entry

from pinner.apt.packages import PackageEntry
from pinner.aptlock import SIGNATURE_UNCHECKED, SIGNATURE_VERIFIED, resolve_stage
from pinner.errors import MirrorError
from pinner.lockfile import LockedPackage


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
