"""Benchmark `pinner lock`, `check` and `update` over 1,000 Dockerfiles behind a 50 ms registry.

A token-auth docker-registry (tests/registryd.py) holds 200 tags in 40 repositories; every 4th tag
is a 3-platform index and each repository's "1" tag aliases its newest "1.x". It also holds
docker/dockerfile:1 and :1.23 (the frontend pinner inserts), reached as docker.io through
--registry-mirror. A latency proxy (latency_proxy.py) sits in front and counts requests; snapshot
mirrors point at it too, so a snapshot request would be counted (and refused). The Dockerfiles
name the proxy's host directly, so pinner talks plain HTTP to loopback.

Each mode (default, --images-only) is measured in turn: lock a fresh copy of the tree, check it,
lock it again, update it with nothing moved. Then one tag moves at a time (a single-platform image,
then an index) and `update` runs on fresh copies of each mode's locked tree. Each run's wall time
and CPU time are those of the pinner process with the helpers it forks; its peak RSS is that of
the largest of them. Run from the repository root:

    python benchmarks/bench_lock.py [--files 1000] [--delay 0.05] [--repeat 3] [--mode both]
    python benchmarks/bench_lock.py --files 10000 --tags 2000 --repeat 1 --mode default \
        --no-baseline    # the large tree: times against 10x the targets, peak RSS < 150 MB
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import concurrent.futures
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency_proxy import SNAPSHOT_PREFIX, LatencyProxy  # noqa: E402
from registryd import Registry as TestRegistry  # noqa: E402
from registryd import parse_challenge, push_image, push_index, start_registry  # noqa: E402

import pinner  # noqa: E402
from pinner import pinning  # noqa: E402
from pinner.errors import RegistryError  # noqa: E402
from pinner.reference import ImageRef  # noqa: E402
from pinner.remote.credentials import DockerConfig  # noqa: E402
from pinner.remote.registry import (  # noqa: E402
    MAX_GROUP_SCOPES_CHARS,
    Manifest,
    Registry,
    Settings,
    resolve_all,
)
from pinner.workspace import Selection, load  # noqa: E402

# Per 1,000 Dockerfiles (issue 11); a larger tree's targets grow in proportion: lock time at
# 10,000 files / 2,000 tags at most 10 times the 1,000-file time. Peak RSS is absolute.
LOCK_TARGET_S = 1.2
CHECK_TARGET_S = 0.4
UPDATE_TARGET_S = 1.0
RSS_TARGET_MB = 150
FRONTEND = "docker/dockerfile"  # written in `# syntax=` lines as docker.io's
MODES = ("default", "images-only")


class Tag(NamedTuple):
    """One pushed tag: repository, tag, whether it is an index or an alias, and its digest."""

    repo: str
    tag: str
    is_index: bool
    seed: str
    alias: bool = False
    digest: str = ""


class Counts(NamedTuple):
    """What the proxy saw during one run (unauthorized: responses 401, of any kind)."""

    head: int = 0
    get: int = 0
    blob: int = 0
    token: int = 0
    snapshot: int = 0
    other: int = 0
    unauthorized: int = 0

    @property
    def requests(self) -> int:
        """Every request, of every kind."""
        return self.head + self.get + self.blob + self.token + self.snapshot + self.other


class Run(NamedTuple):
    """One measured run: what, wall times, the proxy's counts, and the files it changed."""

    name: str
    seconds: list[float]
    counts: Counts
    connections: int
    changed: frozenset[str]  # paths relative to the tree, of the first repetition
    cpu: tuple[float, ...] = ()  # user + system seconds of the pinner process, per repetition
    rss_mb: tuple[float, ...] = ()  # its peak resident set, per repetition


# (CPU seconds, peak RSS MB) of each process timed() waited for, for Bench.measure to collect.
USAGE: list[tuple[float, float]] = []
# The same runs' user CPU alone: a lock's system CPU (creating 2,000 files) moves with the disk.
USER: list[float] = []


class Expected(NamedTuple):
    """What one mode's runs should ask: distinct tags, index digests, token requests, and the
    repositories those ask for."""

    head: int
    get: int
    token: int
    repos: int


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


def push_one(reg: TestRegistry, tag: Tag) -> Tag:
    """Push one tag (an image or an index, from its seed); return it with its digest."""
    if tag.is_index:
        digest, _ = push_index(reg, tag.repo, tag.tag, seed=tag.seed)
    else:
        digest = push_image(reg, tag.repo, tag.tag, seed=tag.seed)
    return tag._replace(digest=digest)


def push_all(reg: TestRegistry, tags: Sequence[Tag]) -> list[Tag]:
    """Push every tag (8 at a time, aliases last); return them with their digests."""
    # The registry may fail a manifest PUT whose blobs another thread is still uploading.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        pushed = list(pool.map(lambda t: push_one(reg, t), [t for t in tags if not t.alias]))
        pushed += pool.map(lambda t: push_one(reg, t), [t for t in tags if t.alias])
    return pushed


def write_tree(
    root: Path, host: str, tags: Sequence[Tag], files: int, seed: int
) -> dict[Tag, set[str]]:
    """Write `files` Dockerfiles of 1-3 stages, some via ARG or COPY --from.

    Returns each tag used with the Dockerfiles (relative paths) that name it.
    """
    rng = random.Random(seed)
    used: dict[Tag, set[str]] = {}
    frontend = next(t for t in tags if t.repo == FRONTEND and t.tag == "1")
    tags = [t for t in tags if t.repo != FRONTEND]

    for i in range(files):
        name = f"g{i // 100:02d}/svc{i:04d}/Dockerfile"

        def ref(k: int | None = None, name: str = name) -> str:
            tag = tags[k % len(tags)] if k is not None else rng.choice(tags)
            used.setdefault(tag, set()).add(name)
            return f"{host}/{tag.repo}:{tag.tag}"

        lines = []
        if rng.random() < 0.1:
            lines.append(f"# syntax={FRONTEND}:1")
            used.setdefault(frontend, set()).add(name)
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
        path = root / name
        path.parent.mkdir(parents=True)
        path.write_text("\n".join(lines) + "\n")
    return used


def expected(used: Mapping[Tag, set[str]], tags: Sequence[Tag], mode: str) -> Expected:
    """One manifest request per distinct tag, a GET per distinct index, and token requests that
    ask for every repository, as many scopes a request as the bound on their text allows."""
    wanted = set(used)
    if mode == "default":  # the frontend the rewrite writes into new syntax lines
        wanted |= {t for t in tags if t.repo == FRONTEND and t.tag == "1.23"}
    repos = {t.repo for t in wanted}
    return Expected(
        head=len({(t.repo, t.tag) for t in wanted}),
        get=len({t.digest for t in wanted if t.is_index}),
        token=token_requests(len(f"repository:{repo}:pull") for repo in repos),
        repos=len(repos),
    )


def token_requests(scope_lengths: Iterable[int]) -> int:
    """How many token requests scopes of these lengths take, each filled up to the bound."""
    count, size = 0, MAX_GROUP_SCOPES_CHARS
    for length in scope_lengths:
        if size + length > MAX_GROUP_SCOPES_CHARS:
            count, size = count + 1, 0
        size += length
    return count


# `python -m pinner`, which at exit writes the peak RSS in kB of the largest of it and the
# processes it forked (a lock or update over many files forks one) to the file BENCH_PEAK_FILE names.
# VmHWM starts afresh at exec; wait4's ru_maxrss also counts the benchmark's own memory, which
# the forked child holds until it execs (138 MB for `pinner --version` in a 10,000-file run).
_PINNER = """\
import atexit, os, runpy, sys
def peak():
    import resource
    with open("/proc/self/status") as status:
        kb = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
    forked = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB, its largest child
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(str(max(kb, forked)))
if os.environ.get("BENCH_PEAK_FILE") and os.path.exists("/proc/self/status"):
    atexit.register(peak)
sys.argv[0] = "pinner"
runpy.run_module("pinner", run_name="__main__", alter_sys=True)
"""


def pinner_cmd(*args: str) -> list[str]:
    """The pinner command line, run with this interpreter."""
    return [sys.executable, "-c", _PINNER, *args]


def mode_options(mode: str, proxy_url: str) -> list[str]:
    """Options for lock and update: docker.io (the frontend) and snapshots through the proxy."""
    options = ["--registry-mirror", f"docker.io={proxy_url}"]
    if mode == "images-only":
        return [*options, "--images-only"]
    snapshots = proxy_url + SNAPSHOT_PREFIX
    return [
        *options,
        "--snapshot-mirror",
        f"debian={snapshots}/archive",
        "--snapshot-mirror",
        f"ubuntu={snapshots}/ubuntu",
    ]


def timed(cmd: Sequence[str], env: Mapping[str, str] | None = None, expect: int = 0) -> float:
    """Run cmd; return its wall time; fail loudly on an unexpected exit code.

    Its CPU time (os.wait4) and peak RSS (what pinner_cmd writes) go to USAGE.
    """
    with tempfile.TemporaryDirectory() as folder:
        peak_file = os.path.join(folder, "peak")
        child_env = {**(env if env is not None else os.environ), "BENCH_PEAK_FILE": peak_file}
        with open(os.path.join(folder, "stderr"), "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=child_env)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        peak_kb = Path(peak_file).read_text() if os.path.exists(peak_file) else ""
    if proc.returncode != expect:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-4000:]}")
    if peak_kb:
        USAGE.append((usage.ru_utime + usage.ru_stime, int(peak_kb) / 1024))
        USER.append(usage.ru_utime)
    return elapsed


def counts(proxy: LatencyProxy) -> Counts:
    """The proxy's counts since its last reset."""
    c = proxy.counts()
    unauthorized = sum(n for (_, status), n in proxy.statuses().items() if status == 401)
    return Counts(
        c["manifest HEAD"],
        c["manifest GET"],
        c["blob"],
        c["token"],
        c["snapshot"],
        c["other"],
        unauthorized,
    )


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def changed_files(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> frozenset[str]:
    """Paths added, removed or rewritten with other bytes."""
    return frozenset(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def listen_overflows() -> int | None:
    """Linux's count of connections dropped at a full listen backlog (system-wide), if known."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:") and "ListenOverflows" in names.split():
            return int(values.split()[names.split().index("ListenOverflows")])
    return None


def resolve_in_process(tree: Path, concurrency: int, hub: str) -> tuple[float, float]:
    """Resolve every reference of the tree as `pinner lock` does: the resolve's time and CPU."""
    targets, errors = load(Selection([str(tree)], {}))
    if errors:
        sys.exit("\n".join(errors))
    known = pinning.LockAnswers.of(t.lock for t in targets)
    queries = [pinning.query(u) for t in targets for u in t.parsed.uses]

    async def resolve() -> dict[ImageRef, Manifest | RegistryError]:
        settings = Settings(mirrors={"docker.io": hub}, concurrency=concurrency)
        registry = Registry(settings, DockerConfig.load().lookup)
        try:
            return await resolve_all(registry, queries, known.by_digest)
        finally:
            await registry.aclose()

    start, cpu = time.perf_counter(), time.process_time()
    answers = asyncio.run(resolve())
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    failed = [f"{q}: {a}" for q, a in answers.items() if isinstance(a, RegistryError)]
    if failed:
        sys.exit("\n".join(failed[:10]))
    return elapsed, cpu


def resolve_timed(
    tree: Path, concurrency: int, hub: str, env: Mapping[str, str] | None = None
) -> tuple[float, float]:
    """resolve_in_process in a child process, so the proxy's thread does not share its GIL."""
    cmd = [sys.executable, __file__, "--resolve", str(tree), "--concurrency", str(concurrency)]
    cmd += ["--hub", hub]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    wall, cpu = proc.stdout.split()
    return float(wall), float(cpu)


def profile(args: Sequence[str], prof: Path, env: Mapping[str, str]) -> None:
    """Run `pinner ARGS` under cProfile into prof and print where the time goes."""
    timed([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pinner", *args], env)
    print(f"\n### cProfile of `pinner {args[0]}` ({prof})\n")
    stats = pstats.Stats(str(prof))
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)


def table(runs: Sequence[Run]) -> str:
    """A Markdown table of the runs."""
    lines = [
        "| run | wall s, median (all) | CPU s, median | peak RSS MB | manifest HEAD (of which 401)"
        " | manifest GET | blob | token | snapshot | TCP connections | files changed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        c = run.counts
        every = ", ".join(f"{s:.2f}" for s in run.seconds)
        other = f" (+{c.other} other)" if c.other else ""
        cpu = f"{statistics.median(run.cpu):.2f}" if run.cpu else "-"
        rss = f"{max(run.rss_mb):.0f}" if run.rss_mb else "-"
        lines.append(
            f"| {run.name} | {statistics.median(run.seconds):.2f} ({every}) | {cpu} | {rss}"
            f" | {c.head} ({c.unauthorized}){other} | {c.get} | {c.blob} | {c.token}"
            f" | {c.snapshot} | {run.connections} | {len(run.changed)} |"
        )
    return "\n".join(lines) + "\n"


def line(ok: bool, text: str) -> str:
    """One verdict line."""
    return f"- {'met' if ok else 'MISSED'}: {text}"


def head_ok(c: Counts, want: Expected) -> bool:
    """One HEAD per distinct tag, allowing the one that draws the 401 naming the token realm."""
    return c.head - min(c.unauthorized, 1) == want.head and c.unauthorized <= 1


def lock_verdicts(
    mode: str, lock: Run, check: Run, relock: Run, want: Expected, scale: float = 1.0
) -> list[str]:
    """The issue's lock and check targets, for one mode (times scaled to the tree's size)."""
    lock_s, check_s = statistics.median(lock.seconds), statistics.median(check.seconds)
    lock_target, check_target = LOCK_TARGET_S * scale, CHECK_TARGET_S * scale
    c = lock.counts
    return [
        line(lock_s < lock_target, f"{mode} lock {lock_s:.2f} s (target < {lock_target:.1f} s)"),
        line(
            head_ok(c, want),
            f"{mode} lock manifest HEADs {c.head} for {want.head} distinct tags"
            f" ({c.unauthorized} answered 401 and were sent again; 1 learns the realm)",
        ),
        line(c.get == want.get, f"{mode} lock manifest GETs {c.get} for {want.get} indexes"),
        # lock asks the frontend's image while the files still parse: its token request may go
        # out before the other repositories are known, and ask for the few known by then.
        line(
            want.token <= c.token <= want.token + 1,
            f"{mode} lock token requests {c.token} (want {want.token}, or one more) for"
            f" {want.repos} repositories",
        ),
        line(
            c.blob + c.snapshot + c.other == 0,
            f"{mode} lock: {c.blob} blob, {c.snapshot} snapshot, {c.other} other requests",
        ),
        line(
            check_s < check_target,
            f"{mode} check {check_s:.2f} s (target < {check_target:.1f} s), "
            f"{check.counts.requests} requests",
        ),
        line(
            relock.counts.requests == 0 and not relock.changed,
            f"{mode} second lock: {relock.counts.requests} requests,"
            f" {len(relock.changed)} files changed, {statistics.median(relock.seconds):.2f} s",
        ),
    ]


def update_verdicts(
    name: str,
    run: Run,
    want: Expected,
    gets: int,
    files: set[str],
    timed: bool = True,
    scale: float = 1.0,
) -> list[str]:
    """The issue's update targets: time, HEADs and tokens only (+ gets GETs), the files changed.

    The time target is for a run where nothing moved; a run after a move is only reported.
    """
    seconds, c = statistics.median(run.seconds), run.counts
    limit = UPDATE_TARGET_S * scale
    target = f"(target < {limit:.1f} s)" if timed else "(no target: for comparison)"
    return [
        line(seconds < limit, f"{name}: {seconds:.2f} s {target}")
        if timed
        else f"- info: {name}: {seconds:.2f} s {target}",
        line(
            head_ok(c, want)
            and c.get == gets
            and c.token == want.token
            and c.blob + c.snapshot + c.other == 0,
            f"{name}: {c.head} manifest HEADs ({c.unauthorized} answered 401) for {want.head}"
            f" tags, {c.get} GETs (want {gets}), {c.token} token requests (want {want.token}) for"
            f" {want.repos} repositories,"
            f" {c.blob} blob, {c.snapshot} snapshot, {c.other} other",
        ),
        line(
            run.changed == files,
            f"{name}: {len(run.changed)} files changed"
            f" (want {len(files)}: {len(files) // 2} Dockerfiles and their locks)",
        ),
    ]


class Bench:
    """The proxy, the trees, and the runs measured so far."""

    def __init__(self, proxy: LatencyProxy, tmp: Path, repeat: int) -> None:
        self.proxy = proxy
        self.repeat = repeat
        self.pristine = tmp / "pristine"
        self.tmp = tmp
        self.tree = tmp / "tree-0"
        self.copies = 0
        self.cache = tmp / "cache"
        self.env = {**os.environ, "XDG_CACHE_HOME": str(self.cache)}
        self.runs: list[Run] = []

    def pinner(self, *args: str) -> Callable[[Path], float]:
        """An action: run `pinner ARGS TREE` with the bench's empty cache directory."""
        return lambda tree: timed(pinner_cmd(*args, str(tree)), self.env)

    def fresh_copy(self, source: Path) -> Path:
        """A new copy of source, in a new folder: the copies are removed only at the end.

        On ext4 without a journal (this VM's disk), a new inode is not taken from those freed
        in the last 30 s or so, and each one passed over costs a read: right after a removed
        1,000-file copy, each file pinner creates took about 1 ms of kernel CPU (2 s per lock).
        """
        self.copies += 1
        tree = self.tmp / f"tree-{self.copies}"
        shutil.copytree(source, tree)
        return tree

    def measure(self, name: str, action: Callable[[Path], float], source: Path | None) -> Run:
        """Run action on the tree `repeat` times (on a fresh copy of source if given); record it."""
        seconds: list[float] = []
        seen: list[Counts] = []
        connections: list[int] = []
        changed: list[frozenset[str]] = []
        USAGE.clear()
        for _ in range(self.repeat):
            if source is not None:
                self.tree = self.fresh_copy(source)
            before = snapshot_tree(self.tree) if self.tree.exists() else {}
            self.proxy.reset()
            seconds.append(action(self.tree))
            seen.append(counts(self.proxy))
            connections.append(self.proxy.connections)
            changed.append(changed_files(before, snapshot_tree(self.tree) if before else {}))
        if len(set(seen)) > 1:
            print(f"{name}: counts varied between runs: {seen}", file=sys.stderr)
        if len(set(changed)) > 1:
            print(f"{name}: changed files varied: {[len(c) for c in changed]}", file=sys.stderr)
        print(f"{name}: {', '.join(f'{s:.2f}' for s in seconds)} s", file=sys.stderr)
        run = Run(
            name,
            seconds,
            seen[0],
            connections[0],
            changed[0],
            tuple(cpu for cpu, _ in USAGE),
            tuple(rss for _, rss in USAGE),
        )
        self.runs.append(run)
        return run


def widen_token_backlog(reg: TestRegistry, backlog: int = 128) -> None:
    """Let the test token issuer queue a burst of connections, as a real token service does.

    registryd's issuer is a ThreadingHTTPServer: HTTP/1.0 (a connection per token) and a listen
    backlog of 5 (socketserver's request_queue_size). pinner asks for all 40 repositories' tokens
    at once; past 5 pending connects Linux drops the SYN (ListenOverflows in /proc/net/netstat)
    and the proxy's connect is retried after Linux's 1 s SYN timeout: 0.5 s more per run. A second
    listen() on the bound socket raises the backlog (capped by net.core.somaxconn).
    """
    issuer = reg._issuer  # private, but tests/registryd.py is not the benchmark's to change
    if issuer is not None:
        issuer._server.socket.listen(backlog)


def main(argv: Sequence[str] | None = None) -> int:
    """Set up registry, proxy and tree; time lock, sequential resolve, check, re-lock, update."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="Dockerfiles to generate")
    parser.add_argument("--repos", type=int, default=40, help="repositories")
    parser.add_argument("--tags", type=int, default=200, help="tags in all (split evenly)")
    parser.add_argument("--delay", type=float, default=0.050, help="proxy delay per request (s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the tree")
    parser.add_argument(
        "--mode", choices=(*MODES, "both"), default="both", help="lock as users do, or images only"
    )
    parser.add_argument("--images-only", action="store_true", help="the same as --mode images-only")
    parser.add_argument("--no-baseline", action="store_true", help="skip the resolve-only rows")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="also cProfile lock, check and update"
    )
    parser.add_argument("--keep", type=Path, metavar="DIR", help="copy the locked trees to DIR")
    parser.add_argument("--resolve", type=Path, metavar="TREE", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--hub", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.resolve:  # the child process of resolve_timed()
        print(*resolve_in_process(args.resolve, args.concurrency, args.hub))
        return 0
    if args.images_only:
        args.mode = "images-only"
    # Compiled first, as an installed package is: with PYTHONDONTWRITEBYTECODE set, each run
    # would compile every module it imports again (about 0.1 s of a 1,000-file check's CPU).
    compileall.compile_dir(Path(pinner.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as tmp_name:
        tmp = Path(tmp_name)
        reg = start_registry(tmp / "registry", "token")
        widen_token_backlog(reg)
        try:
            return _bench(args, reg, tmp)
        finally:
            reg.stop()


def _moving(tags: Sequence[Tag], used: Mapping[Tag, set[str]]) -> list[Tag]:
    """The tags to move: a single-platform image and an index that no other tag shares."""
    shared = {t.digest for t in tags if t.alias}
    plain = [t for t in used if t.repo != FRONTEND and not t.alias and t.digest not in shared]
    image = min((t for t in plain if not t.is_index), key=lambda t: (t.repo, t.tag))
    index = min((t for t in plain if t.is_index), key=lambda t: (t.repo, t.tag))
    return [image, index]


def _bench(args: argparse.Namespace, reg: TestRegistry, tmp: Path) -> int:
    """Push, write the tree, measure, print the table and the verdicts."""
    modes = MODES if args.mode == "both" else (args.mode,)
    started = time.perf_counter()
    tags = push_all(reg, plan_tags(args.repos, args.tags // args.repos))
    print(f"pushed {len(tags)} tags in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    challenge = httpx.get(f"{reg.url}/v2/", trust_env=False).headers["WWW-Authenticate"]
    token_origin = parse_challenge(challenge)[1]["realm"].rsplit("/", 1)[0]
    verdicts: list[str] = []
    overflows = listen_overflows()

    with LatencyProxy(reg.url, token_upstream=token_origin, delay=args.delay) as proxy:
        bench = Bench(proxy, tmp, args.repeat)
        used = write_tree(bench.pristine, proxy.host, tags, args.files, args.seed)
        wants = {mode: expected(used, tags, mode) for mode in modes}
        for mode, want in wants.items():
            print(
                f"{mode}: {args.files} Dockerfiles; {want.head} distinct tags, {want.get} distinct"
                f" index digests, {want.repos} repositories; proxy {proxy.url}",
                file=sys.stderr,
            )

        def resolve_run(concurrency: int) -> Callable[[Path], float]:
            return lambda tree: resolve_timed(tree, concurrency, proxy.url)[0]

        bench.measure("startup: `pinner --version`", lambda _: timed(pinner_cmd("--version")), None)
        if not args.no_baseline:
            for concurrency in (1, 32):
                name = (
                    f"resolve only (pinner.remote.registry.resolve_all), concurrency {concurrency}"
                )
                bench.measure(name, resolve_run(concurrency), bench.pristine)

        locked: dict[str, Path] = {}
        for mode in modes:
            options = mode_options(mode, proxy.url)
            lock = bench.measure(
                f"{mode}: `pinner lock`", bench.pinner("lock", "-q", *options), bench.pristine
            )
            locked[mode] = tmp / f"locked-{mode}"
            shutil.copytree(bench.tree, locked[mode])
            check = bench.measure(f"{mode}: `pinner check`", bench.pinner("check", "-q"), None)
            relock = bench.measure(
                f"{mode}: the same `pinner lock` again", bench.pinner("lock", "-q", *options), None
            )
            update = bench.measure(
                f"{mode}: `pinner update`, nothing moved",
                bench.pinner("update", "-q", *options),
                None,
            )
            scale = args.files / 1000
            verdicts += lock_verdicts(mode, lock, check, relock, wants[mode], scale)
            verdicts += update_verdicts(
                f"{mode} update, nothing moved", update, wants[mode], 0, set(), scale=scale
            )
            if args.keep:
                shutil.copytree(locked[mode], args.keep / mode, dirs_exist_ok=True)

        for tag in _moving(tags, used):
            moved = push_one(reg, tag._replace(seed=tag.seed + " moved"))
            kind = "index" if tag.is_index else "image"
            users = used[tag]
            files = users | {f + ".lock" for f in users}
            for mode in modes:
                name = f"{mode}: `pinner update`, {tag.repo}:{tag.tag} moved"
                name += f" ({kind}, {len(users)} Dockerfiles)"
                run = bench.measure(
                    name, bench.pinner("update", "-q", *mode_options(mode, proxy.url)), locked[mode]
                )
                verdicts += update_verdicts(
                    f"{mode} update, one {kind} tag moved",
                    run,
                    wants[mode],
                    int(tag.is_index),
                    files,
                    timed=False,
                )
            restored = push_one(reg, tag)
            if restored.digest != tag.digest or moved.digest == tag.digest:
                sys.exit(f"{tag.repo}:{tag.tag}: moving it did not change its digest and back")

    peak = max((max(r.rss_mb), r.name) for r in bench.runs if r.rss_mb)
    verdicts.append(
        line(peak[0] < RSS_TARGET_MB, f"peak RSS {peak[0]:.0f} MB in {peak[1]} (target < 150 MB)")
    )
    cache = [str(p.relative_to(bench.cache)) for p in bench.cache.rglob("*") if p.is_file()]
    verdicts.append(
        line(not cache, f"pinner's cache directory after every run: {len(cache)} files {cache[:5]}")
    )
    if overflows is not None:
        dropped = (listen_overflows() or 0) - overflows
        verdicts.append(
            line(dropped == 0, f"connections dropped at a full listen backlog: {dropped}")
        )
    print(
        f"\n{args.files} Dockerfiles, {len(tags)} tags in {args.repos + 1} repositories,"
        f" +{args.delay * 1000:.0f} ms per request through the proxy;"
        f" {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" load average {os.getloadavg()[0]:.1f} at the end\n"
    )
    print(table(bench.runs))
    print("\n".join(verdicts))

    if args.profile:
        _profile(args, reg, token_origin, tmp, tags, modes)
    return 0


def _profile(
    args: argparse.Namespace,
    reg: TestRegistry,
    token_origin: str,
    tmp: Path,
    tags: Sequence[Tag],
    modes: Sequence[str],
) -> None:
    """cProfile lock, check and update in each mode, on a tree of their own."""
    args.profile.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
    with LatencyProxy(reg.url, token_upstream=token_origin, delay=args.delay) as proxy:
        for mode in modes:
            tree = tmp / f"profiled-{mode}"
            write_tree(tree, proxy.host, tags, args.files, args.seed)
            options = mode_options(mode, proxy.url)
            for command in ("lock", "check", "update"):
                extra = options if command != "check" else []
                profile(
                    [command, "-q", *extra, str(tree)], args.profile / f"{command}-{mode}.prof", env
                )


if __name__ == "__main__":
    raise SystemExit(main())
