"""Time files.write_all of a first lock's files: a Dockerfile rewritten and a new lock per folder.

On fresh folders each round (a first `lock` creates every lock and a temp file per file, which
is the kernel's work):

    PYTHONPATH=$PWD python3 benchmarks/bench_write.py --folders 1000 --rounds 5

Staging on four threads was measured against one by one with this script at 3ef2604 and not
kept: 0.810 s against 0.838 s at the median of 9 rounds on the idle 2-CPU VM.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pinner import files  # noqa: E402


def tree(base: Path, folders: int) -> dict[str, str]:
    """folders Dockerfiles, each to be rewritten, and the text of its new lock."""
    texts = {}
    for n in range(folders):
        folder = base / f"svc{n:05}"
        folder.mkdir()
        (folder / "Dockerfile").write_text("FROM app:1\nRUN true\n" * 10)
        texts[str(folder / "Dockerfile")] = "FROM app:1@sha256:" + "0" * 64 + "\nRUN true\n" * 10
        texts[str(folder / "Dockerfile.lock")] = 'version = 1\n[[image]]\nname = "app"\n' * 8
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    seconds = []
    for _ in range(args.rounds):
        base = Path(tempfile.mkdtemp(prefix="pinner-bench-write-"))
        try:
            texts = tree(base, args.folders)
            start = time.perf_counter()
            files.write_all(texts)
            seconds.append(time.perf_counter() - start)
        finally:
            shutil.rmtree(base)
    print(f"write_all of {2 * args.folders} files, {args.rounds} rounds, {os.cpu_count()} CPUs")
    spread = ", ".join(f"{s:.3f}" for s in seconds)
    print(f"median {statistics.median(seconds):.3f} s ({spread})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
