"""Benchmark parsing a long Dockerfile: `dockerfile.parse` and `pinner check` on 100,000 lines.

The script writes one Dockerfile of --lines lines (one pinned FROM, then ENV, two-line RUN, comment
and COPY lines in turn, all in one stage, where a cost per instruction that grows with the stage
shows most) and a lock for it written by hand, then times `dockerfile.parse` in this process (best
of --repeat) and `pinner check` as a subprocess (median of --repeat). It checks that the parse found
every instruction and that check exits 0. Run from the repository root, or with PYTHONPATH set to
the checkout to measure:

    python benchmarks/bench_parse.py [--lines 100000] [--repeat 3]
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

ROOT = Path(__file__).resolve().parent.parent
if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(ROOT))

from pinner import dockerfile  # noqa: E402

DIGEST = "sha256:" + "a" * 64


def write_tree(folder: Path, lines: int) -> int:
    """Write Dockerfile and Dockerfile.lock; return how many instructions the file holds."""
    out = [f"FROM debian:bookworm@{DIGEST} AS base"]
    count = 1
    i = 0
    while len(out) < lines:
        kind = i % 4
        if kind == 0:
            out.append(f"ENV V{i}=value{i}")
        elif kind == 1:
            out += [f"RUN echo {i} && \\", "    true"]
        elif kind == 2:
            out.append(f"# comment {i}")
        else:
            out.append(f"COPY f{i} /f{i}")
        count += kind != 2
        i += 1
    (folder / "Dockerfile").write_text("\n".join(out[:lines]) + "\n")
    (folder / "Dockerfile.lock").write_text(
        "version = 1\n\n[[image]]\n"
        f'reference = "debian:bookworm@{DIGEST}"\n'
        'name = "docker.io/library/debian"\n'
        'tag = "bookworm"\n'
        f'digest = "{DIGEST}"\n'
        'used-by = ["stage base: FROM"]\n'
    )
    return count


def main() -> int:
    """Time parse and check; print one Markdown table row each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pinner-bench-parse-") as tmp:
        folder = Path(tmp)
        expected = write_tree(folder, args.lines)
        text = (folder / "Dockerfile").read_text()
        parse_times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            parsed = dockerfile.parse(text, "Dockerfile")
            parse_times.append(time.perf_counter() - start)
            found = sum(len(stage.instructions) for stage in parsed.stages)
            if found != expected:
                raise SystemExit(f"parse found {found} instructions, expected {expected}")
        env = dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", str(ROOT)))
        check_times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "pinner", "check", "-q", "Dockerfile"],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
            )
            check_times.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"pinner check exited {done.returncode}: {done.stderr.strip()}")
    print("| run | wall s | all runs |")
    print("|---|---|---|")
    runs = ", ".join(f"{t:.2f}" for t in parse_times)
    print(f"| `dockerfile.parse`, {args.lines} lines (best) | {min(parse_times):.2f} | {runs} |")
    runs = ", ".join(f"{t:.2f}" for t in check_times)
    median = statistics.median(check_times)
    print(f"| `pinner check`, {args.lines} lines (median) | {median:.2f} | {runs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
