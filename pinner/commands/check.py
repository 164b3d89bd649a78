"""`pinner check`: offline, exit 1 when anything is unpinned or disagrees with the lock."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pinner import lockfile, pinning
from pinner.output import Reporter
from pinner.workspace import Target, load


class Finding(NamedTuple):
    """One thing `check` objects to, located as precisely as it can be."""

    path: str
    line: int | None
    reference: str | None
    message: str

    def __str__(self) -> str:
        parts = [self.path if self.line is None else f"{self.path}:{self.line}"]
        if self.reference:
            parts.append(self.reference)
        parts.append(self.message)
        return ": ".join(parts)


def check(
    *,
    paths: Sequence[str],
    build_args: Mapping[str, str],
    as_json: bool = False,
    quiet: bool = False,
    exclude: Sequence[str] = (),
) -> int:
    """Report every finding; exit 1 if there is any."""
    report = Reporter(quiet=quiet)
    targets, errors = load(paths, build_args, exclude)
    findings = [Finding(e.split(":", 1)[0], None, None, e.split(":", 1)[1].strip()) for e in errors]
    for target in targets:
        findings.extend(check_target(target))
    if as_json:
        data = {
            "ok": not findings,
            "files": len(targets),
            "findings": [f._asdict() for f in findings],
        }
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for finding in findings:
            print(finding)
    if findings:
        report.notice(f"{len(findings)} finding(s) in {len(targets)} Dockerfile(s)")
        return 1
    report.notice(f"{len(targets)} Dockerfile(s) pinned and in agreement with their locks")
    return 0


def check_target(target: Target) -> list[Finding]:
    """The findings for one Dockerfile and its lock."""
    path, lock_path = target.path, target.lock_path
    if target.lock_text is None:
        return [Finding(path, None, None, f"no lockfile {lock_path}; run pinner lock {path}")]
    findings = []
    locked = target.lock.by_reference()
    by_tag = {(i.name, i.tag): i for i in target.lock.images}
    used = set()
    for use in target.parsed.uses:
        ref = use.ref
        if ref.digest is None:
            findings.append(Finding(path, use.line, use.expanded, "not pinned to a digest"))
            continue
        entry = locked.get(use.expanded)
        if entry is not None and entry.digest == ref.digest:
            used.add(use.expanded)
            continue
        other = by_tag.get((ref.name, ref.tag))
        if other is not None:
            message = f"digest differs from {lock_path} ({other.digest})"
            used.add(other.reference)
        else:
            message = f"not in {lock_path}"
        findings.append(Finding(path, use.line, use.expanded, message))
    for image in target.lock.images:
        if image.reference not in used:
            findings.append(Finding(lock_path, None, image.reference, f"not used by {path}"))
    if not findings:
        known = pinning.known_from([target.lock])
        resolved = {pinning.query(u): known.by_query[pinning.query(u)] for u in target.parsed.uses}
        pinned = pinning.pin(target.parsed, resolved, target.lock)
        if lockfile.render(pinned.lock, target.path.rsplit("/", 1)[-1]) != target.lock_text:
            findings.append(Finding(lock_path, None, None, f"out of date; run pinner lock {path}"))
    return findings
