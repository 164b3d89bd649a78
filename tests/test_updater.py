"""Package refreshes in `update`: what moves, what stays, and what --only does; a fake mirror."""

from __future__ import annotations

import asyncio

import pytest
from apt_fakes import FakeMirror, base, entry

from pinner import dockerfile, lockfile, pinning, reference, refresh
from pinner.lockfile import Lock
from pinner.outcome import Options, Outcome, epoch_of
from pinner.refresh import FileReport, PackageChange
from pinner.remote.registry import OCI_MANIFEST, Manifest, Settings
from pinner.remote.session import Session
from pinner.stagework import lock_target
from pinner.updater import Scope, update_target
from pinner.workspace import Target

BASE = "sha256:" + "b" * 64
FRONTEND = "sha256:" + "f" * 64
T1, T2 = "20241202T000000Z", "20250101T000000Z"
TEXT = f"FROM debian:bookworm@{BASE}\nRUN apt-get update && apt-get install -y hello\n"


def session(version: str, refresh: bool = False) -> Session:
    """A session whose snapshot mirror serves hello at version and whose base image is known."""
    known = pinning.LockAnswers.of([])
    s = Session(Settings(), lambda host: None, known, refresh=refresh)
    s._mirror = FakeMirror(  # type: ignore[assignment]
        {"bookworm": [entry("hello", version)], "bookworm-backports": []}
    )
    s._bases[BASE, False] = base()
    return s


def target(text: str, lock: Lock) -> Target:
    rendered = lockfile.render(lock, "Dockerfile")
    parsed = dockerfile.parse(text, "Dockerfile")
    return Target("Dockerfile", "Dockerfile.lock", parsed, lockfile.parse(rendered, "x"), rendered)


def resolved_for(parsed: dockerfile.Dockerfile) -> dict[reference.ImageRef, Manifest]:
    digests = {"docker.io/library/debian": BASE, "docker.io/docker/dockerfile": FRONTEND}
    resolved = {}
    for use in parsed.uses:
        resolved[pinning.query(use)] = Manifest(digests[use.ref.name], OCI_MANIFEST)
    resolved[pinning.query_ref(reference.parse("docker/dockerfile:1.23"))] = Manifest(
        FRONTEND, OCI_MANIFEST
    )
    return resolved


@pytest.fixture
def locked() -> Target:
    """TEXT locked at T1 with hello 2.10-3."""
    first = target(TEXT, Lock())
    outcome = asyncio.run(
        lock_target(session("2.10-3"), first, resolved_for(first.parsed), Options(snapshot=T1))
    )
    return target(outcome.text, outcome.lock)


def update(locked: Target, version: str, scope: Scope) -> tuple[Outcome | None, FileReport]:
    outcome, report, errors = asyncio.run(
        update_target(session(version, refresh=True), locked, {}, Options(snapshot=T2), scope)
    )
    assert errors == []
    return outcome, report


def test_a_moved_package_moves_snapshot_and_epoch_with_it(locked: Target) -> None:
    outcome, report = update(locked, "2.10-4", Scope())

    assert report.packages == (PackageChange("0", "hello", "amd64", "2.10-3", "2.10-4"),)
    assert (report.snapshot_old, report.snapshot_new) == (T1, T2)
    assert outcome is not None
    assert (outcome.lock.snapshot, outcome.lock.source_date_epoch) == (T2, epoch_of(T2))
    assert f"ARG SOURCE_DATE_EPOCH={epoch_of(T2)}\n" in outcome.text
    assert f"# pinner: apt snapshot debian {T2}\n" in outcome.text


def test_nothing_moved_keeps_the_old_snapshot(locked: Target) -> None:
    outcome, report = update(locked, "2.10-3", Scope())
    assert outcome is None
    assert report.packages == () and report.snapshot_new == T1
    assert not report.changed()


def test_only_images_leaves_packages_alone(locked: Target) -> None:
    outcome, report = update(locked, "2.10-4", Scope(only="images"))
    assert outcome is None
    assert report.packages == ()


def test_only_packages_refreshes_packages(locked: Target) -> None:
    outcome, report = update(locked, "2.10-4", Scope(only="packages"))
    assert outcome is not None
    assert [p.new for p in report.packages] == ["2.10-4"]


def test_other_base_sources_regenerate_the_step_and_the_report_says_so(locked: Target) -> None:
    assert locked.lock.stages[0].step == "exact"
    moved = session("2.10-4", refresh=True)
    old_base = moved._bases[BASE, False]
    (sources,) = old_base.sources
    # The same base digest here stands for a new one whose sources moved to another mirror.
    moved_text = sources.text.replace("http://deb.debian.org/", "http://ftp.debian.org/")
    assert moved_text != sources.text
    moved._bases[BASE, False] = old_base._replace(sources=(sources._replace(text=moved_text),))

    outcome, report, errors = asyncio.run(
        update_target(moved, locked, {}, Options(snapshot=T2), Scope())
    )

    assert (errors, report.sources_changed) == ([], ("0",))
    assert outcome is not None
    assert (
        "s#^URIs: http://ftp.debian.org/debian$#URIs: http://snapshot.debian.org/" in outcome.text
    )
    assert "deb.debian.org" not in outcome.text
    assert "the base image's apt sources changed" in " ".join(outcome.notes)
    assert "regenerated in: `0`" in refresh.markdown([report])
