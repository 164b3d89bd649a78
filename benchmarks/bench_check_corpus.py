"""Time `pinner check` over a tree of locked real-pattern Dockerfiles (testdata/corpus, copied).

Each corpus file is locked with the corpus test's fake resolver (no network), copied --copies
times, and `pinner check -q` runs over the tree in a fresh process: the apt-heavy, repetitive
tree a monorepo or a docker-library checkout gives.

    PYTHONPATH=$PWD python3 benchmarks/bench_check_corpus.py --copies 20 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import test_corpus  # noqa: E402

from pinner import lockfile  # noqa: E402
from pinner.lockfile import Lock  # noqa: E402


def build_tree(folder: Path, copies: int) -> int:
    """Write every lockable corpus file, locked, copies times under folder; return the count."""
    count = 0
    for name in test_corpus.FILES:
        if name in test_corpus.REFUSED:
            continue
        locked = test_corpus.lock((test_corpus.CORPUS / name).read_text(), Lock())
        for i in range(copies):
            target = folder / f"{name}-{i}"
            target.mkdir()
            (target / "Dockerfile").write_text(locked.text)
            (target / "Dockerfile.lock").write_text(lockfile.render(locked.lock, "Dockerfile"))
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        count = build_tree(Path(tmp), args.copies)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "pinner", "check", "-q", tmp],
                env=env,
                capture_output=True,
                check=False,
            )
            times.append(time.perf_counter() - start)
            if result.returncode != 0:
                print(result.stdout.decode(), result.stderr.decode(), file=sys.stderr)
                return 1
    print(
        f"pinner check, {count} locked corpus Dockerfiles: median {statistics.median(times):.2f} s"
        f" (min {min(times):.2f}, max {max(times):.2f}, {args.repeat} runs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
