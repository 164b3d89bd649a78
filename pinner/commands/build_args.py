"""`pinner build-args`: the --build-arg flags a reproducible build of the locked files needs."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Mapping, Sequence

from pinner.errors import LockfileError
from pinner.workspace import DOCKERFILE, load


def build_args(
    *,
    paths: Sequence[str],
    build_args: Mapping[str, str],
    as_json: bool = False,
    quiet: bool = False,
    exclude: Sequence[str] = (),
    kubernetes: Collection[str] = (),
) -> int:
    """Print `--build-arg SOURCE_DATE_EPOCH=<epoch>` from the lock, one flag a line."""
    targets, errors = load(paths, build_args, exclude, kubernetes)
    if errors:
        raise LockfileError(errors[0])
    targets = [t for t in targets if t.kind == DOCKERFILE]  # only builds take build args
    unlocked = next((t for t in targets if t.lock_text is None), None)
    if unlocked is not None:
        path = unlocked.path
        raise LockfileError(f"{path}: no lockfile {unlocked.lock_path}; run pinner lock {path}")
    # A lock made with --images-only asks for no SOURCE_DATE_EPOCH, so it needs no flag.
    full = [t for t in targets if not t.lock.images_only]
    epochs = {t.lock.source_date_epoch for t in full}
    if None in epochs:
        missing = next(t for t in full if t.lock.source_date_epoch is None)
        raise LockfileError(f"{missing.lock_path}: records no SOURCE_DATE_EPOCH; run pinner lock")
    if len(epochs) > 1:
        raise LockfileError("the locks record different SOURCE_DATE_EPOCH values; name one file")
    if not epochs:
        if as_json:
            sys.stdout.write("{}\n")
        return 0
    epoch = epochs.pop()
    if as_json:
        json.dump({"SOURCE_DATE_EPOCH": str(epoch)}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"--build-arg SOURCE_DATE_EPOCH={epoch}")
    return 0
