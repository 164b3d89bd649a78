"""Time two checkouts of pinner against each other, alternately, on bench_lock.py's tree.

On a shared, noisy machine one run of each says little: this sets up bench_lock.py's registry,
latency proxy and 1,000-Dockerfile tree once, locks a copy with the first checkout, then runs
each command with each checkout in turn, round after round (the order flips every round), and
prints medians, spreads and the per-round difference (second minus first). It also checks that
both made the same requests and wrote the same files. Run from the repository root, the old code
in a worktree of its own:

    git worktree add --detach /tmp/old COMMIT
    python3 benchmarks/bench_ab.py /tmp/old . --rounds 8 --commands update,lock

Each checkout runs with PYTHONPATH set to it; lock gets a fixed --snapshot so that the trees
written can be compared byte for byte. `relock` is lock on the locked tree (it sends no
request). The command `resolve` is the registry part of a first lock alone (bench_lock.py's
in-process resolve of the unlocked tree's references: 203 HEAD, 42 GET, 1 token request), whose CPU
is the figure for the cost of a request.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_lock as bench
from latency_proxy import LatencyProxy
from registryd import parse_challenge, start_registry

SNAPSHOT = "20260101T000000Z"


def main(argv: Sequence[str] | None = None) -> int:
    """Set up once, run both checkouts alternately, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="a checkout of pinner (the old code)")
    parser.add_argument("second", type=Path, help="another checkout (the new code)")
    parser.add_argument("--rounds", type=int, default=8, help="runs of each command and checkout")
    parser.add_argument(
        "--commands",
        default="update,lock",
        help="of update, lock, relock (a lock of the locked tree), resolve (comma-separated)",
    )
    parser.add_argument("--files", type=int, default=1000, help="Dockerfiles to generate")
    parser.add_argument("--delay", type=float, default=0.050, help="proxy delay per request (s)")
    args = parser.parse_args(argv)
    checkouts = [str(args.first.resolve()), str(args.second.resolve())]
    commands = args.commands.split(",")
    for checkout in checkouts:  # as an installed package is; see bench_lock.main
        compileall.compile_dir(Path(checkout) / "pinner", quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as name:
        tmp = Path(name)
        reg = start_registry(tmp / "registry", "token")
        bench.widen_token_backlog(reg)
        try:
            tags = bench.push_all(reg, bench.plan_tags(40, 5))
            challenge = httpx.get(f"{reg.url}/v2/", trust_env=False).headers["WWW-Authenticate"]
            token_origin = parse_challenge(challenge)[1]["realm"].rsplit("/", 1)[0]
            with LatencyProxy(reg.url, token_upstream=token_origin, delay=args.delay) as proxy:
                _compare(proxy, tmp, tags, checkouts, commands, args)
        finally:
            reg.stop()
    return 0


def _compare(
    proxy: LatencyProxy,
    tmp: Path,
    tags: Sequence[bench.Tag],
    checkouts: list[str],
    commands: list[str],
    args: argparse.Namespace,
) -> None:
    pristine, locked = tmp / "pristine", tmp / "locked"
    bench.write_tree(pristine, proxy.host, tags, args.files, 1)
    options = bench.mode_options("default", proxy.url)

    def environment(checkout: str) -> dict[str, str]:
        # PYTHONSAFEPATH: `python -c` otherwise puts the working folder first on sys.path, so
        # run from a checkout's root, both sides ran that checkout's pinner.
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache"), "PYTHONPATH": checkout}
        return {**env, "PYTHONSAFEPATH": "1"}

    for checkout in checkouts:
        where = subprocess.run(
            [sys.executable, "-c", "import pinner; print(pinner.__file__)"],
            env=environment(checkout),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not where.startswith(checkout + os.sep):
            sys.exit(f"{checkout}: its pinner is not the one imported ({where})")

    def run(checkout: str, command: str, where: Path) -> tuple[float, float, float, bench.Counts]:
        """Wall, CPU (user + system) and user CPU of one run, and its requests."""
        env = environment(checkout)
        extra = ["--snapshot", SNAPSHOT] if command in ("lock", "relock") else []
        proxy.reset()
        bench.USAGE.clear()
        bench.USER.clear()
        if command == "resolve":  # a script: its own folder, not the working one, is first
            wall, cpu = bench.resolve_timed(where, 32, proxy.url, {**env, "PYTHONSAFEPATH": ""})
            return wall, cpu, cpu, bench.counts(proxy)
        verb = "lock" if command == "relock" else command
        wall = bench.timed(bench.pinner_cmd(verb, "-q", *options, *extra, str(where)), env)
        cpu = bench.USAGE[0][0] if bench.USAGE else 0.0
        return wall, cpu, bench.USER[0] if bench.USER else 0.0, bench.counts(proxy)

    shutil.copytree(pristine, locked)
    run(checkouts[0], "lock", locked)
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    users: dict[tuple[str, str], list[float]] = {}
    seen: dict[tuple[str, str], set[bench.Counts]] = {}
    written: dict[tuple[str, str], dict[str, bytes]] = {}
    for round_ in range(args.rounds):
        for order, checkout in enumerate(checkouts if round_ % 2 == 0 else checkouts[::-1]):
            for command in commands:
                # A new folder per run, all removed at the end: see bench_lock.Bench.fresh_copy.
                tree = tmp / f"tree-{round_}-{order}-{command}"
                shutil.copytree(pristine if command in ("lock", "resolve") else locked, tree)
                wall, cpu, user, counts = run(checkout, command, tree)
                key = (checkout, command)
                walls.setdefault(key, []).append(wall)
                cpus.setdefault(key, []).append(cpu)
                users.setdefault(key, []).append(user)
                seen.setdefault(key, set()).add(counts)
                written.setdefault(key, bench.snapshot_tree(tree))
    print(
        f"{args.files} Dockerfiles, +{args.delay * 1000:.0f} ms per request, {args.rounds} rounds"
    )
    for command in commands:
        for checkout in checkouts:
            key = (checkout, command)
            wall, cpu = sorted(walls[key]), sorted(cpus[key])
            print(
                f"{command} {checkout}: median {statistics.median(wall):.3f} s"
                f" ({wall[0]:.3f}-{wall[-1]:.3f}), CPU {statistics.median(cpu):.3f} s"
                f" ({cpu[0]:.3f}-{cpu[-1]:.3f}), requests {sorted(seen[key])}"
            )
        for what, figures in (("wall", walls), ("CPU", cpus), ("user CPU", users)):
            pairs = zip(
                figures[(checkouts[0], command)], figures[(checkouts[1], command)], strict=True
            )
            diffs = sorted(new - old for old, new in pairs)
            shown = ", ".join(f"{d:+.3f}" for d in diffs)
            median = statistics.median(diffs)
            print(f"{command}: {what}, second minus first, per round: median {median:+.3f} s")
            print(f"  ({shown})")
        same = written[(checkouts[0], command)] == written[(checkouts[1], command)]
        print(f"{command}: the same files written: {same}")


if __name__ == "__main__":
    raise SystemExit(main())
