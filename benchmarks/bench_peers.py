"""Time `pinner lock` against Renovate's digest pinning on the same tree, registry and latency.

The tree, registry and proxy are bench_lock.py's: N Dockerfiles over 200 tags in 40 repositories
of a token-auth docker-registry (anonymous pulls allowed), behind latency_proxy.py (50 ms per
request, counted). pinner runs `lock --images-only` (Renovate pins images only); Renovate runs
with platform=local in a fresh copy of the tree, dryRun=lookup, pinDigests, the dockerfile
manager only, every docker lookup sent to the proxy over plain http, and a fresh cache directory
per run. Renovate's digests are read from its JSON debug log ("packageFiles with updates") and
compared with the digests pinner wrote, reference by reference, and with the registry's own.

Runs alternate (pinner, Renovate, pinner, ...) because the machine is noisy: the ratio of each
pair is the figure, not an absolute time. Renovate is installed from npm once, by version, into
benchmarks/.cache/renovate (install scripts skipped: the optional native re2 module does not
build here, and Renovate falls back to JavaScript regular expressions without it):

    npm install --prefix benchmarks/.cache/renovate --ignore-scripts --no-audit --no-fund \\
        renovate@39.264.1
    python benchmarks/bench_peers.py [--files 1000] [--pairs 3] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lock import (
    Counts,
    Tag,
    counts,
    mode_options,
    pinner_cmd,
    plan_tags,
    push_all,
    timed,
    widen_token_backlog,
    write_tree,
)
from latency_proxy import LatencyProxy
from registryd import parse_challenge, start_registry

RENOVATE_VERSION = "39.264.1"
RENOVATE_DIR = Path(__file__).resolve().parent / ".cache" / "renovate"
RENOVATE_BIN = RENOVATE_DIR / "node_modules" / "renovate" / "dist" / "renovate.js"
PINNED = re.compile(r"(?P<ref>[\w.:/-]+:[\w.-]+)@(?P<digest>sha256:[0-9a-f]{64})")


def pinner_digests(tree: Path) -> dict[str, str]:
    """Every `name:tag@digest` pinner wrote into the tree's Dockerfiles, as name:tag -> digest."""
    found: dict[str, str] = {}
    for path in tree.rglob("Dockerfile"):
        for m in PINNED.finditer(path.read_text()):
            found[m["ref"]] = m["digest"]
    return found


def renovate_digests(log: str) -> dict[str, str]:
    """The pinDigest updates in Renovate's JSON log, as name:tag -> digest."""
    found: dict[str, str] = {}
    for text in log.splitlines():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("msg") != "packageFiles with updates":
            continue
        for files in record.get("config", {}).values():
            for package_file in files:
                for dep in package_file.get("deps", []):
                    for update in dep.get("updates", []):
                        if update.get("updateType") == "pinDigest" and update.get("newDigest"):
                            name = dep.get("packageName") or dep.get("depName")
                            found[f"{name}:{dep.get('currentValue')}"] = update["newDigest"]
    return found


def renovate_env(tmp: Path, proxy_url: str, host: str) -> dict[str, str]:
    """Environment for one Renovate run: global config file, JSON debug log, no proxies."""
    config = {
        "platform": "local",
        "dryRun": "lookup",
        "onboarding": False,
        "requireConfig": "optional",
        "pinDigests": True,
        "enabledManagers": ["dockerfile"],
        "hostRules": [{"matchHost": f"http://{host}", "insecureRegistry": True}],
        # Docker lookups go to https:// unless the registry URL says http://; docker.io's
        # frontend reference goes to the same registry, as pinner's --registry-mirror sends it.
        "packageRules": [{"matchDatasources": ["docker"], "registryUrls": [proxy_url]}],
    }
    config_file = tmp / "renovate-config.json"
    config_file.write_text(json.dumps(config, indent=2))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {
        **env,
        "RENOVATE_CONFIG_FILE": str(config_file),
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "json",
        "RENOVATE_X_IGNORE_RE2": "true",
    }


def run_renovate(tree: Path, env: Mapping[str, str], cache: Path) -> tuple[float, str]:
    """Run Renovate in tree with an empty cache; return its wall time and its log."""
    shutil.rmtree(cache, ignore_errors=True)
    cmd = ["node", str(RENOVATE_BIN)]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=tree,
        env={**env, "RENOVATE_CACHE_DIR": str(cache), "RENOVATE_BASE_DIR": str(cache)},
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"renovate exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return elapsed, proc.stdout + proc.stderr


def compare(
    pinner: Mapping[str, str], renovate: Mapping[str, str], truth: Mapping[str, str]
) -> list[str]:
    """Lines on where the two tools (and the registry) disagree; empty if they agree."""
    problems = []
    for ref in sorted(pinner.keys() | renovate.keys()):
        p, r, t = pinner.get(ref), renovate.get(ref), truth.get(ref)
        if p != r or (t is not None and p != t):
            problems.append(f"{ref}: pinner {p}, renovate {r}, registry {t}")
    return problems


def spread(values: Sequence[float]) -> str:
    """Median and range, for the table."""
    return f"{statistics.median(values):.2f} ({min(values):.2f} to {max(values):.2f})"


def main(argv: Sequence[str] | None = None) -> int:
    """Set up registry, proxy and tree; alternate pinner and Renovate; compare; print ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="Dockerfiles to generate")
    parser.add_argument("--repos", type=int, default=40, help="repositories")
    parser.add_argument("--tags", type=int, default=200, help="tags in all (split evenly)")
    parser.add_argument("--delay", type=float, default=0.050, help="proxy delay per request (s)")
    parser.add_argument("--pairs", type=int, default=3, help="alternating pinner/Renovate pairs")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the tree")
    args = parser.parse_args(argv)
    if not RENOVATE_BIN.is_file():
        sys.exit(
            f"{RENOVATE_BIN} missing: npm install --prefix {RENOVATE_DIR} --ignore-scripts"
            f" --no-audit --no-fund renovate@{RENOVATE_VERSION}"
        )
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp_name:
        tmp = Path(tmp_name)
        reg = start_registry(tmp / "registry", "token")
        widen_token_backlog(reg)
        try:
            return _bench(
                args, reg.url, push_all(reg, plan_tags(args.repos, args.tags // args.repos)), tmp
            )
        finally:
            reg.stop()


def _bench(args: argparse.Namespace, url: str, tags: Sequence[Tag], tmp: Path) -> int:
    """Measure the pairs and print the table, the agreement and the ratio."""
    challenge = httpx.get(f"{url}/v2/", trust_env=False).headers["WWW-Authenticate"]
    token_origin = parse_challenge(challenge)[1]["realm"].rsplit("/", 1)[0]
    pinner_env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
    with LatencyProxy(url, token_upstream=token_origin, delay=args.delay) as proxy:
        pristine = tmp / "pristine"
        used = write_tree(pristine, proxy.host, tags, args.files, args.seed)
        truth = {f"{proxy.host}/{t.repo}:{t.tag}": t.digest for t in used}
        truth |= {f"{t.repo}:{t.tag}": t.digest for t in tags if t.repo == "docker/dockerfile"}
        env = renovate_env(tmp, proxy.url, proxy.host)
        options = ["lock", "-q", *mode_options("images-only", proxy.url)]
        times: dict[str, list[float]] = {"pinner": [], "renovate": []}
        requests: dict[str, list[Counts]] = {"pinner": [], "renovate": []}
        found: dict[str, dict[str, str]] = {}
        for pair in range(args.pairs):
            for tool in ("pinner", "renovate"):
                # A new folder per run, all removed at the end: see bench_lock.Bench.fresh_copy.
                tree = tmp / f"tree-{pair}-{tool}"
                shutil.rmtree(tmp / "cache", ignore_errors=True)  # pinner leaves it empty
                shutil.copytree(pristine, tree)
                proxy.reset()
                if tool == "pinner":
                    seconds = timed(pinner_cmd(*options, str(tree)), pinner_env)
                    digests = pinner_digests(tree)
                else:
                    seconds, log = run_renovate(tree, env, tmp / f"renovate-cache-{pair}")
                    digests = renovate_digests(log)
                    if not digests:
                        (tmp.parent / "bench-peers-renovate.log").write_text(log)
                        sys.exit(f"renovate found no digests; log in {tmp.parent}")
                times[tool].append(seconds)
                requests[tool].append(counts(proxy))
                found.setdefault(tool, digests)
                print(f"pair {pair + 1}: {tool} {seconds:.2f} s", file=sys.stderr)

    ratios = [r / p for p, r in zip(times["pinner"], times["renovate"], strict=True)]
    print(
        f"{args.files} Dockerfiles, {len(used)} distinct tags, {args.delay * 1000:.0f} ms/request"
    )
    print(f"pinner: `pinner lock --images-only`; Renovate {RENOVATE_VERSION} (dryRun=lookup)\n")
    print("| tool | wall s, median (min to max) | requests | HEAD | GET | blob | token | other |")
    print("|---|---|---|---|---|---|---|---|")
    for tool in ("pinner", "renovate"):
        c = requests[tool][0]  # the first run's; runs vary little
        print(
            f"| {tool} | {spread(times[tool])} | {c.requests} | {c.head} | {c.get} | {c.blob} | {c.token}"
            f" | {c.other} |"
        )
    print(f"| Renovate / pinner, per pair | {spread(ratios)} | | | | | | |\n")
    problems = compare(found["pinner"], found["renovate"], truth)
    print(
        f"digests: pinner {len(found['pinner'])} references, Renovate {len(found['renovate'])},"
        f" {len(problems)} disagreements; {len(found['pinner'].keys() & truth.keys())} checked"
        " against the digests pushed"
    )
    for problem in problems[:20]:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
