"""`pinner build-args`: the --build-arg flags a reproducible build of the locked files needs."""

from __future__ import annotations

import json
import sys

from pinner import pinning
from pinner.errors import LockfileError
from pinner.workspace import DOCKERFILE, Selection, Target, load


def build_args(
    *,
    selection: Selection,
    as_json: bool = False,
    quiet: bool = False,
) -> int:
    """Print the lock's --build-arg flags (pinned) and SOURCE_DATE_EPOCH, one flag a line."""
    targets, errors = load(selection)
    if errors:
        raise LockfileError(errors[0])
    targets = [t for t in targets if t.kind == DOCKERFILE]  # only builds take build args
    unlocked = next((t for t in targets if t.lock_text is None), None)
    if unlocked is not None:
        path = unlocked.path
        raise LockfileError(f"{path}: no lockfile {unlocked.lock_path}; run pinner lock {path}")
    # A lock made with --images-only asks for no SOURCE_DATE_EPOCH, so it needs no flag.
    missing = next(
        (t for t in targets if not t.lock.images_only and t.lock.source_date_epoch is None), None
    )
    if missing is not None:
        raise LockfileError(f"{missing.lock_path}: records no SOURCE_DATE_EPOCH; run pinner lock")
    flags = {_flags(t) for t in targets}
    if len(flags) > 1:
        raise LockfileError("the locks record different build arguments; name one file")
    values = dict(flags.pop()) if flags else {}
    if as_json:
        json.dump(values, sys.stdout)
        sys.stdout.write("\n")
    else:
        for name, value in values.items():
            print(f"--build-arg {name}={value}")
    return 0


def _flags(target: Target) -> tuple[tuple[str, str], ...]:
    """The lock's build arguments, pinned where they set a reference, then SOURCE_DATE_EPOCH."""
    values = sorted(pinning.build_arg_values(target.parsed, target.lock).items())
    if target.lock.source_date_epoch is not None:
        values.append(("SOURCE_DATE_EPOCH", str(target.lock.source_date_epoch)))
    return tuple(values)
