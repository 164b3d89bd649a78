"""What a refresh changed: image and package deltas, and the Markdown a pull request shows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pinner.lockfile import LockedImage, LockedStage
from pinner.manifest import Manifest


class ImageChange(NamedTuple):
    """A tag that now points elsewhere; noise when no locked platform's manifest changed."""

    name: str
    tag: str | None
    old: str
    new: str
    platforms: tuple[str, ...]
    noise: bool


class PackageChange(NamedTuple):
    """A package whose version at the new snapshot differs (None: not there before or after)."""

    stage: str
    name: str
    architecture: str
    old: str | None
    new: str | None


class FileReport(NamedTuple):
    """Everything that moved for one file (a Dockerfile or a reference file)."""

    path: str
    images: tuple[ImageChange, ...] = ()
    packages: tuple[PackageChange, ...] = ()
    snapshot_old: str | None = None
    snapshot_new: str | None = None
    # Stages whose snapshot step was derived again because their base image's apt sources changed.
    sources_changed: tuple[str, ...] = ()

    def changed(self, strict: bool = False) -> bool:
        """True when a pull request is due for this file."""
        return bool(self.packages) or any(strict or not i.noise for i in self.images)


def compare_image(locked: LockedImage, fresh: Manifest) -> ImageChange | None:
    """The change from the locked digest to the fresh one, or None when the tag has not moved."""
    if fresh.digest == locked.digest:
        return None
    old, new = dict(locked.platforms), dict(fresh.platforms)
    moved = tuple(sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p)))
    # Arches landing one by one, or an attestation added, change the index digest but no
    # locked platform's manifest (official-images#18385): not a change unless --strict.
    noise = bool(old) and bool(new) and all(new.get(p) == d for p, d in old.items())
    return ImageChange(locked.name, locked.tag, locked.digest, fresh.digest, moved, noise)


def compare_packages(
    old: Iterable[LockedStage], new: Iterable[LockedStage]
) -> tuple[PackageChange, ...]:
    """Version changes per stage, package and architecture."""
    before = {(s.stage, p.name, p.architecture): p.version for s in old for p in s.packages}
    after = {(s.stage, p.name, p.architecture): p.version for s in new for p in s.packages}
    changes = [
        PackageChange(stage, name, arch, before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        for stage, name, arch in [key]
        if before.get(key) != after.get(key)
    ]
    return tuple(changes)


def short(digest: str) -> str:
    """sha256:0123456789ab, enough to tell digests apart in a review."""
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:12]}"


def summary(reports: Sequence[FileReport], strict: bool = False) -> str:
    """One line: how many images and packages changed in how many files."""
    changed = [r for r in reports if r.changed(strict)]
    images = sum(1 for r in changed for i in r.images if strict or not i.noise)
    packages = sum(len(r.packages) for r in changed)
    if not changed:
        return "pinner update: nothing changed."
    return (
        f"pinner update: {images} image(s) and {packages} package version(s) changed"
        f" in {len(changed)} file(s)."
    )


def markdown(reports: Sequence[FileReport], strict: bool = False) -> str:
    """A pull-request body: a one-line summary, then per file what moved; empty if nothing."""
    changed = [r for r in reports if r.changed(strict)]
    if not changed:
        return ""
    out = [summary(reports, strict), ""]
    for report in changed:
        out += [f"### `{report.path}`", ""]
        images = [i for i in report.images if strict or not i.noise]
        if images:
            out += ["| image | tag | old | new | platforms changed |", "|---|---|---|---|---|"]
            for i in images:
                platforms = ", ".join(i.platforms) or "-"
                tag = i.tag or "-"
                out.append(
                    f"| `{i.name}` | `{tag}` | `{short(i.old)}` | `{short(i.new)}` | {platforms} |"
                )
            out.append("")
        if report.snapshot_old != report.snapshot_new:
            out += [f"Snapshot: `{report.snapshot_old}` → `{report.snapshot_new}`", ""]
        if report.sources_changed:
            stages = ", ".join(f"`{s}`" for s in report.sources_changed)
            out += [
                f"The base image's apt sources changed; snapshot step regenerated in: {stages}",
                "",
            ]
        if report.packages:
            out += ["| stage | package | arch | old | new |", "|---|---|---|---|---|"]
            for p in report.packages:
                old, new = p.old or "-", p.new or "-"
                out.append(f"| {p.stage} | `{p.name}` | {p.architecture} | {old} | {new} |")
            out.append("")
    return "\n".join(out)


def as_json(reports: Sequence[FileReport], strict: bool = False) -> dict[str, object]:
    """The report's data for --json."""
    return {
        "ok": True,
        "changed": any(r.changed(strict) for r in reports),
        "summary": summary(reports, strict),
        "files": [
            {
                "path": r.path,
                "changed": r.changed(strict),
                "snapshot": {"old": r.snapshot_old, "new": r.snapshot_new},
                "images": [i._asdict() for i in r.images],
                "packages": [p._asdict() for p in r.packages],
                "sources_changed": list(r.sources_changed),
            }
            for r in reports
        ],
    }
