"""`pinner lock`: pin every image reference to a digest; write the lock beside the Dockerfile."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence

from pinner import files, lockfile, pinning
from pinner.credentials import DockerConfig
from pinner.errors import RegistryError
from pinner.output import Reporter
from pinner.reference import ImageRef
from pinner.registry import Manifest, Settings
from pinner.resolver import Resolver
from pinner.workspace import Target, load, unified_diff


def lock(
    *,
    paths: Sequence[str],
    build_args: Mapping[str, str],
    settings: Settings,
    dry_run: bool = False,
    as_json: bool = False,
    quiet: bool = False,
    exclude: Sequence[str] = (),
) -> int:
    """Resolve, rewrite and write; on any failure print each and write nothing."""
    report = Reporter(quiet=quiet)
    targets, errors = load(paths, build_args, exclude)
    known = pinning.known_from(t.lock for t in targets)
    resolver = Resolver(settings, DockerConfig.load().lookup, known)
    queries = [pinning.query(use) for t in targets for use in t.parsed.uses]
    answers = resolver.resolve(queries)
    errors.extend(_failures(targets, answers))
    if errors:
        for line in errors:
            report.error(line)
        report.error(f"{len(errors)} error(s); nothing written")
        return 1
    resolved = {q: a for q, a in answers.items() if isinstance(a, Manifest)}
    writes: dict[str, str] = {}
    results = []
    for target in targets:
        pinned = pinning.pin(target.parsed, resolved, target.lock)
        lock_text = lockfile.render(pinned.lock, _name(target.path))
        if pinned.text != target.parsed.text:
            writes[target.path] = pinned.text
        if lock_text != target.lock_text:
            writes[target.lock_path] = lock_text
        for use in pinned.unpinnable:
            pinned_ref = pinning.pinned_reference(
                use.expanded, use.ref, resolved[pinning.query(use)].digest
            )
            name = use.written.strip("${}")
            report.notice(
                f"{target.path}:{use.line}: {use.written}: set by --build-arg;"
                f" build with --build-arg {name}={pinned_ref}"
            )
        results.append(_result(target, pinned, lock_text))
    if dry_run:
        for target in targets:
            for path, old in (
                (target.path, target.parsed.text),
                (target.lock_path, target.lock_text),
            ):
                if path in writes:
                    sys.stdout.write(unified_diff(path, old, writes[path]))
    else:
        files.write_all(writes)
    if as_json:
        json.dump({"files": results, "requests": resolver.requests}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    changed = sum(1 for t in targets if t.path in writes)
    verb = "would change" if dry_run else "changed"
    report.notice(
        f"{len(targets)} Dockerfile(s), {len(resolved)} reference(s);"
        f" {verb} {changed} Dockerfile(s)"
    )
    return 0


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _failures(
    targets: Sequence[Target], answers: Mapping[ImageRef, Manifest | RegistryError]
) -> list[str]:
    """One line per failing use: file:line: reference: what the registry said."""
    lines = []
    for target in targets:
        for use in target.parsed.uses:
            answer = answers.get(pinning.query(use))
            if isinstance(answer, RegistryError):
                lines.append(f"{target.path}:{use.line}: {use.expanded}: {answer}")
    return lines


def _result(target: Target, pinned: pinning.Pinned, lock_text: str) -> dict[str, object]:
    return {
        "path": target.path,
        "lock": target.lock_path,
        "dockerfile_changed": pinned.text != target.parsed.text,
        "lock_changed": lock_text != target.lock_text,
        "images": [
            {
                "reference": image.reference,
                "name": image.name,
                "tag": image.tag,
                "digest": image.digest,
                "platforms": dict(image.platforms),
                "used_by": list(image.used_by),
            }
            for image in pinned.lock.images
        ],
    }
