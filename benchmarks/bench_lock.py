"""Benchmark `pinner lock` and `pinner check` over 1,000 Dockerfiles behind a 50 ms registry.

A token-auth docker-registry (tests/registryd.py) holds 200 tags in 40 repositories; every 4th tag
is a 3-platform index and each repository's "1" tag aliases its newest "1.x". It also holds
docker/dockerfile:1 and :1.23 (the frontend pinner inserts), reached as docker.io through
--registry-mirror. A latency proxy (latency_proxy.py) sits in front and counts requests. The
Dockerfiles name the proxy's host directly, so pinner talks plain HTTP to loopback. Run from the
repository root:

    python benchmarks/bench_lock.py [--files 1000] [--delay 0.05] [--repeat 3] [--images-only]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import hashlib
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency_proxy import LatencyProxy  # noqa: E402
from registryd import Registry as TestRegistry  # noqa: E402
from registryd import parse_challenge, push_image, push_index, start_registry  # noqa: E402

from pinner import pinning  # noqa: E402
from pinner.credentials import DockerConfig  # noqa: E402
from pinner.errors import RegistryError  # noqa: E402
from pinner.reference import ImageRef  # noqa: E402
from pinner.registry import Manifest, Registry, Settings, resolve_all  # noqa: E402
from pinner.workspace import load  # noqa: E402

LOCK_TARGET_S = 3.0
CHECK_TARGET_S = 1.0
FRONTEND = "docker/dockerfile"  # written in `# syntax=` lines as docker.io's


class Tag(NamedTuple):
    """One pushed tag: repository, tag, whether it is an index or an alias, and its digest."""

    repo: str
    tag: str
    is_index: bool
    seed: str
    alias: bool = False
    digest: str = ""


class Counts(NamedTuple):
    """What the proxy saw during one run."""

    head: int
    get: int
    token: int
    unauthorized: int
    other: int


class Run(NamedTuple):
    """One measured run: what, wall times of each repetition, and the proxy's counts."""

    name: str
    seconds: list[float]
    counts: Counts
    connections: int


def plan_tags(repos: int, per_repo: int) -> list[Tag]:
    """Per repo: 1.0 .. 1.(n-2) and "1", an alias of the last 1.x; every 4th tag an index."""
    tags: list[Tag] = []
    for r in range(repos):
        repo = f"bench/app{r:02d}"
        for k in range(per_repo - 1):
            t = r * per_repo + k
            tags.append(Tag(repo, f"1.{k}", t % 4 == 0, seed=f"{repo}:1.{k}"))
        newest = tags[-1]
        tags.append(newest._replace(tag="1", alias=True))  # same seed, so the same digest
    return tags + [Tag(FRONTEND, tag, True, seed=f"{FRONTEND}:{tag}") for tag in ("1", "1.23")]


def push_all(reg: TestRegistry, tags: Sequence[Tag]) -> list[Tag]:
    """Push every tag (8 at a time, aliases last); return them with their digests."""

    def one(tag: Tag) -> Tag:
        if tag.is_index:
            digest, _ = push_index(reg, tag.repo, tag.tag, seed=tag.seed)
        else:
            digest = push_image(reg, tag.repo, tag.tag, seed=tag.seed)
        return tag._replace(digest=digest)

    # The registry may fail a manifest PUT whose blobs another thread is still uploading.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        pushed = list(pool.map(one, [t for t in tags if not t.alias]))
        pushed += pool.map(one, [t for t in tags if t.alias])
    return pushed


def write_tree(root: Path, host: str, tags: Sequence[Tag], files: int, seed: int) -> set[Tag]:
    """Write `files` Dockerfiles of 1-3 stages, some via ARG or COPY --from; return tags used."""
    rng = random.Random(seed)
    used: set[Tag] = set()
    frontend = next(t for t in tags if t.repo == FRONTEND and t.tag == "1")
    tags = [t for t in tags if t.repo != FRONTEND]

    def ref(i: int | None = None) -> str:
        tag = tags[i % len(tags)] if i is not None else rng.choice(tags)
        used.add(tag)
        return f"{host}/{tag.repo}:{tag.tag}"

    for i in range(files):
        lines = []
        if rng.random() < 0.1:
            lines.append(f"# syntax={FRONTEND}:1")
            used.add(frontend)
        stages = rng.randint(1, 3)
        via_arg = rng.random() < 0.3
        if via_arg:
            lines += [f"ARG BASE={ref(i)}", "", "FROM ${BASE} AS s0"]
        else:
            lines += [f"FROM {ref(i)} AS s0"]
        lines += ["WORKDIR /app", "RUN echo stage 0 > /app/s0"]
        for s in range(1, stages):
            lines += ["", f"FROM {ref()} AS s{s}", f"COPY --from=s{s - 1} /app /app"]
            if rng.random() < 0.3:
                lines.append("RUN --mount=type=cache,target=/root/.cache echo cached")
        if rng.random() < 0.3:
            lines.append(f"COPY --from={ref()} /etc/os-release /etc/upstream-release")
        folder = root / f"g{i // 100:02d}" / f"svc{i:04d}"
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text("\n".join(lines) + "\n")
    return used


def pinner_cmd(*args: str) -> list[str]:
    """The pinner command line, run with this interpreter."""
    return [sys.executable, "-m", "pinner", *args]


def timed(cmd: Sequence[str], expect: int = 0) -> float:
    """Run cmd; return its wall time; fail loudly on an unexpected exit code."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return elapsed


def counts(proxy: LatencyProxy) -> Counts:
    """The proxy's counts since its last reset."""
    c = proxy.counts()
    unauthorized = sum(n for (_, status), n in proxy.statuses().items() if status == 401)
    return Counts(c["manifest HEAD"], c["manifest GET"], c["token"], unauthorized, c["other"])


def digest_tree(root: Path) -> str:
    """A digest of every file's path and bytes under root."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def resolve_in_process(tree: Path, concurrency: int, hub: str) -> float:
    """Resolve every reference of the tree as `pinner lock` does; return the resolve's time."""
    targets, errors = load([str(tree)], {})
    if errors:
        sys.exit("\n".join(errors))
    known = pinning.known_from(t.lock for t in targets)
    queries = [pinning.query(u) for t in targets for u in t.parsed.uses]

    async def resolve() -> dict[ImageRef, Manifest | RegistryError]:
        settings = Settings(mirrors={"docker.io": hub}, concurrency=concurrency)
        registry = Registry(settings, DockerConfig.load().lookup)
        try:
            return await resolve_all(registry, queries, known.by_digest)
        finally:
            await registry.aclose()

    start = time.perf_counter()
    answers = asyncio.run(resolve())
    elapsed = time.perf_counter() - start
    failed = [f"{q}: {a}" for q, a in answers.items() if isinstance(a, RegistryError)]
    if failed:
        sys.exit("\n".join(failed[:10]))
    return elapsed


def resolve_timed(tree: Path, concurrency: int, hub: str) -> float:
    """resolve_in_process in a child process, so the proxy's thread does not share its GIL."""
    cmd = [sys.executable, __file__, "--resolve", str(tree), "--concurrency", str(concurrency)]
    cmd += ["--hub", hub]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return float(proc.stdout)


def lock_options(hub: str, images_only: bool) -> list[str]:
    """`pinner lock` and its options: quiet, docker.io (the frontend) through the proxy."""
    return ["lock", "-q", "--registry-mirror", f"docker.io={hub}"] + (
        ["--images-only"] if images_only else []
    )


def profile(args: Sequence[str], prof: Path) -> None:
    """Run `pinner ARGS` under cProfile into prof and print where the time goes."""
    timed([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pinner", *args])
    print(f"\n### cProfile of `pinner {args[0]}` ({prof})\n")
    stats = pstats.Stats(str(prof))
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(15)


def table(runs: Sequence[Run]) -> str:
    """A Markdown table of the runs."""
    lines = [
        "| run | wall s, median (all) | manifest HEAD (of which 401) | manifest GET | token"
        " | TCP connections |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        c = run.counts
        every = ", ".join(f"{s:.2f}" for s in run.seconds)
        lines.append(
            f"| {run.name} | {statistics.median(run.seconds):.2f} ({every})"
            f" | {c.head} ({c.unauthorized}) | {c.get} | {c.token} | {run.connections} |"
        )
    return "\n".join(lines) + "\n"


def verdicts(lock: Run, check: Run, relock: Run, unchanged: bool, want: Counts) -> list[str]:
    """One line per target of the issue: met or missed, with the figures."""

    def line(ok: bool, text: str) -> str:
        return f"- {'met' if ok else 'MISSED'}: {text}"

    lock_s, check_s = statistics.median(lock.seconds), statistics.median(check.seconds)
    c = lock.counts
    return [
        line(lock_s < LOCK_TARGET_S, f"lock {lock_s:.2f} s (target < {LOCK_TARGET_S:.0f} s)"),
        # The first request to a token-auth registry gets the 401 that names the realm: allow one.
        line(
            c.head - min(c.unauthorized, 1) == want.head,
            f"lock manifest HEADs {c.head} for {want.head} distinct tags"
            f" ({c.unauthorized} answered 401 and were sent again; 1 is needed to learn the realm)",
        ),
        line(c.get == want.get, f"lock manifest GETs {c.get} for {want.get} distinct indexes"),
        line(c.token == want.token, f"lock token requests {c.token} for {want.token} repositories"),
        line(check_s < CHECK_TARGET_S, f"check {check_s:.2f} s (target < {CHECK_TARGET_S:.0f} s)"),
        line(
            sum(relock.counts) == 0 and unchanged,
            f"second lock: {sum(relock.counts)} requests,"
            f" {'no file changed' if unchanged else 'CHANGED FILES'},"
            f" {statistics.median(relock.seconds):.2f} s",
        ),
    ]


class Bench:
    """The proxy, the pristine tree and its working copy, and the runs measured so far."""

    def __init__(self, proxy: LatencyProxy, tmp: Path, repeat: int) -> None:
        self.proxy = proxy
        self.repeat = repeat
        self.pristine = tmp / "pristine"
        self.tree = tmp / "tree"
        self.runs: list[Run] = []

    def measure(self, name: str, action: Callable[[Path], float], fresh: bool) -> Run:
        """Run action on the tree `repeat` times (on a fresh copy each time if fresh); record it."""
        seconds: list[float] = []
        seen: list[Counts] = []
        connections: list[int] = []
        for _ in range(self.repeat):
            if fresh:
                shutil.rmtree(self.tree, ignore_errors=True)
                shutil.copytree(self.pristine, self.tree)
            self.proxy.reset()
            seconds.append(action(self.tree))
            seen.append(counts(self.proxy))
            connections.append(self.proxy.connections)
        if len(set(seen)) > 1:
            print(f"{name}: counts varied between runs: {seen}", file=sys.stderr)
        print(f"{name}: {', '.join(f'{s:.2f}' for s in seconds)} s", file=sys.stderr)
        run = Run(name, seconds, seen[0], connections[0])
        self.runs.append(run)
        return run


def main(argv: Sequence[str] | None = None) -> int:
    """Set up registry, proxy and tree; time lock, sequential resolve, check and re-lock."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="Dockerfiles to generate")
    parser.add_argument("--repos", type=int, default=40, help="repositories")
    parser.add_argument("--tags", type=int, default=200, help="tags in all (split evenly)")
    parser.add_argument("--delay", type=float, default=0.050, help="proxy delay per request (s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the tree")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="also cProfile lock and check")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="copy the locked tree to DIR")
    parser.add_argument(
        "--images-only", action="store_true", help="lock with --images-only (no frontend line)"
    )
    parser.add_argument("--resolve", type=Path, metavar="TREE", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--hub", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.resolve:  # the child process of resolve_timed()
        print(resolve_in_process(args.resolve, args.concurrency, args.hub))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as tmp_name:
        tmp = Path(tmp_name)
        reg = start_registry(tmp / "registry", "token")
        try:
            return _bench(args, reg, tmp)
        finally:
            reg.stop()


def _bench(args: argparse.Namespace, reg: TestRegistry, tmp: Path) -> int:
    """Push, write the tree, measure, print the table and the verdicts."""
    started = time.perf_counter()
    tags = push_all(reg, plan_tags(args.repos, args.tags // args.repos))
    print(f"pushed {len(tags)} tags in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    challenge = httpx.get(f"{reg.url}/v2/", trust_env=False).headers["WWW-Authenticate"]
    token_origin = parse_challenge(challenge)[1]["realm"].rsplit("/", 1)[0]

    with LatencyProxy(reg.url, token_upstream=token_origin, delay=args.delay) as proxy:
        bench = Bench(proxy, tmp, args.repeat)
        used = write_tree(bench.pristine, proxy.host, tags, args.files, args.seed)
        if not args.images_only:  # pinner asks for the frontend it would insert
            used |= {t for t in tags if t.repo == FRONTEND and t.tag == "1.23"}
        want = Counts(
            head=len({(t.repo, t.tag) for t in used}),
            get=len({t.digest for t in used if t.is_index}),
            token=len({t.repo for t in used}),
            unauthorized=0,
            other=0,
        )
        lock_args = lock_options(proxy.url, args.images_only)
        print(
            f"{args.files} Dockerfiles; {want.head} distinct tags, {want.get} distinct index"
            f" digests, {want.token} repositories; proxy {proxy.url}",
            file=sys.stderr,
        )

        def pinner_run(*pinner_args: str) -> Callable[[Path], float]:
            return lambda tree: timed(pinner_cmd(*pinner_args, str(tree)))

        def resolve_run(concurrency: int) -> Callable[[Path], float]:
            return lambda tree: resolve_timed(tree, concurrency, proxy.url)

        bench.measure(
            "startup: `pinner --version`", lambda _: timed(pinner_cmd("--version")), False
        )
        for concurrency in (1, 32):
            name = f"resolve only (pinner.registry.resolve_all), concurrency {concurrency}"
            bench.measure(name, resolve_run(concurrency), True)
        shown = " ".join(lock_args).replace(proxy.url, "PROXY")
        lock = bench.measure(f"`pinner {shown} TREE`", pinner_run(*lock_args), True)
        before = digest_tree(bench.tree)
        check = bench.measure("`pinner check -q TREE`", pinner_run("check", "-q"), False)
        relock = bench.measure("the same `pinner lock` again", pinner_run(*lock_args), False)
        unchanged = digest_tree(bench.tree) == before
        if args.keep:
            shutil.copytree(bench.tree, args.keep, dirs_exist_ok=True)

    print(
        f"\n{args.files} Dockerfiles, {len(tags)} tags in {args.repos + 1} repositories,"
        f" +{args.delay * 1000:.0f} ms per request through the proxy;"
        f" {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" load average {os.getloadavg()[0]:.1f} at the end\n"
    )
    print(table(bench.runs))
    print("\n".join(verdicts(lock, check, relock, unchanged, want)))

    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        with LatencyProxy(reg.url, token_upstream=token_origin, delay=args.delay) as proxy:
            tree = tmp / "profiled"
            write_tree(tree, proxy.host, tags, args.files, args.seed)
            profile(
                [*lock_options(proxy.url, args.images_only), str(tree)], args.profile / "lock.prof"
            )
            profile(["check", "-q", str(tree)], args.profile / "check.prof")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
