"""Benchmark `pinner update .` over a few small Dockerfiles with apt stages.

The script starts the test registry (tests/registryd.py) holding the real Debian image the tests
build (tests/debian_image.py, mmdebstrap, cached under ~/.cache/pinner-tests) and the stand-in for
snapshot.debian.org (tests/snapshot_mirror.py), writes --files Dockerfiles, each `FROM
debian:bookworm` with one apt install, locks them at the stand-in's cached time, then times

- `update --snapshot <another cached time> .` (median of --repeat): the indexes are on disk, so
  this is pinner's own cost per run;
- `update .` once, at the time of the run: the snapshot times the files got, and the requests.

pinner runs as a subprocess, from whichever checkout is first on PYTHONPATH (default this one):

    python benchmarks/bench_update.py [--files 4] [--repeat 3] [--profile FILE]
    PYTHONPATH=/path/to/old/checkout python benchmarks/bench_update.py
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from debian_image import (  # noqa: E402
    DebianImageSpec,
    build_debian_image,
    default_cache_dir,
    push_oci_image,
)
from registryd import push_image, start_registry  # noqa: E402
from snapshot_mirror import SnapshotMirror  # noqa: E402

LOCKED = "20241202T000000Z"
UPDATE = "20250101T000000Z"  # also cached by the stand-in: no upstream fetch
PACKAGES = ["hello", "netbase", "less", "file", "bzip2", "xz-utils", "patch", "gzip"]


def pinner(folder: Path, env: dict[str, str], *args: str, profile: str | None = None) -> float:
    """Run pinner in folder (under cProfile when profile names a file); return the wall time."""
    start = time.perf_counter()
    python = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else [])]
    done = subprocess.run(
        [*python, "-m", "pinner", *args], cwd=folder, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"pinner {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", metavar="FILE", help="cProfile one more cached update")
    args = parser.parse_args()
    cache = default_cache_dir()
    image = build_debian_image(cache / "images", DebianImageSpec(sources="deb822"))
    with tempfile.TemporaryDirectory(prefix="pinner-bench-update-") as temp:
        work = Path(temp)
        env = dict(os.environ)
        env.setdefault("PYTHONPATH", str(ROOT))
        env["DOCKER_CONFIG"] = str(work / "docker-config")
        env["XDG_CACHE_HOME"] = str(work / "cache")
        (work / "docker-config").mkdir()
        # A copy of the stand-in's cache: the run at the time of the run adds a snapshot time.
        shutil.copytree(cache / "snapshot", work / "standin")
        tree = work / "tree"
        tree.mkdir()
        for n in range(args.files):
            package = PACKAGES[n % len(PACKAGES)]
            (tree / f"{n}.Dockerfile").write_text(
                "FROM debian:bookworm\n"
                f"RUN apt-get update && apt-get install -y --no-install-recommends {package}\n"
            )
        with (
            start_registry(work / "registry") as registry,
            SnapshotMirror(work / "standin") as standin,
        ):
            push_oci_image(image, registry.url, "library/debian", "bookworm", as_index=True)
            push_image(registry, "docker/dockerfile", "1.23")
            network = [
                "--registry-mirror",
                f"docker.io=http://{registry.host}",
                "--snapshot-mirror",
                f"debian={standin.url}/archive",
            ]
            pinner(tree, env, "lock", "-q", *network, "--snapshot", LOCKED, ".")
            pinner(tree, env, "update", "-q", *network, "--snapshot", UPDATE, ".")  # warm
            times = [
                pinner(tree, env, "update", "-q", *network, "--snapshot", UPDATE, ".")
                for _ in range(args.repeat)
            ]
            print(
                f"update --snapshot {UPDATE} . over {args.files} files, indexes cached:"
                f" {statistics.median(times):.2f} s median"
                f" ({', '.join(f'{t:.2f}' for t in times)})"
            )
            if args.profile:
                profile = str(Path(args.profile).resolve())
                pinner(
                    tree, env, "update", "-q", *network, "--snapshot", UPDATE, ".", profile=profile
                )
            standin.clear_log()
            now = pinner(tree, env, "update", "-q", *network, ".")
            asked = {re.sub(r"^/archive/[^/]+/", "", e.path).split("/")[0] for e in standin.log}
            print(
                f"update . (time of the run) over {args.files} files: {now:.2f} s,"
                f" {len(standin.log)} snapshot requests for {len(asked)} snapshot time(s)"
            )


if __name__ == "__main__":
    main()
