"""Benchmark pinner's start: `pinner --version`, `--help`, and which heavy modules each imports.

Each command runs as a subprocess with `python -m pinner`, whole-process wall time. With --before
DIR (a checkout of an older commit, e.g. made with `git archive COMMIT | tar -x -C DIR`), the two
checkouts run alternately, command by command, so both see the same machine load; the script
prints the median and the spread of each. Run from the repository root:

    python benchmarks/bench_startup.py [--repeat 9] [--before DIR]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.1
COMMANDS = (("--version",), ("--help",))
HEAVY = ("httpx", "asyncio", "tomlkit")
_PROBE = (
    "import sys\nfrom pinner.main import main\ntry:\n    main(sys.argv[1:])\n"
    "except SystemExit:\n    pass\n"
    f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


class Timing(NamedTuple):
    """One run: wall time, and the CPU time (user + system) the child used, less load-bound."""

    wall: float
    cpu: float


def run(checkout: Path | None, args: Sequence[str]) -> Timing:
    """Time `python -m pinner ARGS` with checkout first on the path (no checkout: bare python)."""
    if checkout is None:
        return _timed([sys.executable, "-c", "pass"], None, Path.cwd())
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return _timed([sys.executable, "-m", "pinner", *args], env, checkout)


def _timed(cmd: Sequence[str], env: Mapping[str, str] | None, cwd: Path) -> Timing:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # cwd too: `python -m` and `-c` put the working directory first on the path.
    subprocess.run(cmd, env=env, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timing(wall, cpu)


def heavy_imports(checkout: Path, args: Sequence[str]) -> str:
    """The heavy modules that running pinner ARGS in checkout imports."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=env,
        cwd=checkout,
        check=True,
        capture_output=True,
        text=True,
    )
    return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "none"


def main(argv: Sequence[str] | None = None) -> int:
    """Time each command in each checkout, alternately; print medians, spreads and imports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed runs of each command")
    parser.add_argument("--before", type=Path, metavar="DIR", help="an older checkout to compare")
    args = parser.parse_args(argv)
    checkouts = {"this checkout": ROOT}
    if args.before:
        checkouts = {"before": args.before.resolve(), "after": ROOT}
    for checkout in checkouts.values():
        # Compiled first, as an installed package is: with PYTHONDONTWRITEBYTECODE set, every run
        # would compile every module again.
        compileall.compile_dir(checkout / "pinner", quiet=1)
    times: dict[tuple[str, str], list[Timing]] = {}
    python = f"`python -c pass` (Python {sys.version.split()[0]})"
    for _ in range(args.repeat):
        times.setdefault((python, ""), []).append(run(None, ()))
        for command in COMMANDS:
            for name, checkout in checkouts.items():
                times.setdefault((" ".join(command), name), []).append(run(checkout, command))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| command | checkout | wall s, median (min-max) | CPU s, median (min-max) | imports |")
    print("|---|---|---|---|---|")
    verdicts = []
    for (command, name), runs in times.items():
        wall, cpu = _spread([t.wall for t in runs]), _spread([t.cpu for t in runs])
        imported = heavy_imports(checkouts[name], command.split()) if name else ""
        print(f"| {command} | {name} | {wall} | {cpu} | {imported} |")
        if name in ("after", "this checkout"):
            median = statistics.median(t.wall for t in runs)
            verdicts.append(f"{'ok  ' if median < TARGET_S else 'MISS'} {command}: {median:.3f} s")
            if imported != "none":
                verdicts.append(f"MISS {command} imports {imported}")
    print()
    print("\n".join(verdicts))
    return 0


def _spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


if __name__ == "__main__":
    raise SystemExit(main())
