"""Time pinner's primary.xml reading and dnf-like resolution on a real rpm-md repository.

The repository is a directory holding repodata/repomd.xml and the primary file it names, e.g.
CentOS Stream 9 AppStream as osbuild records it (osbuild/osbuild on GitHub,
test/data/testrepos/appstream: 17,649 packages, 3.6 MB gzip). Prints CPU seconds (best of N)
and the process's peak RSS. Run from the repository root:

    python benchmarks/bench_rpm_primary.py DIR [--repeat 3] [--resolve python3.12 ...]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from pinner.managers.repodata import parse_repomd, primary_packages
from pinner.managers.rpmresolve import Pool, resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--resolve", nargs="*", default=["python3.12"])
    parser.add_argument("--arch", default="x86_64")
    args = parser.parse_args()
    repomd = (args.repository / "repodata" / "repomd.xml").read_bytes()
    entry = parse_repomd(repomd, "repomd.xml")["primary"]
    data = (args.repository / entry.href).read_bytes()
    best = float("inf")
    packages = []
    for _ in range(args.repeat):
        start = time.process_time()
        packages = primary_packages(entry, data, entry.href)
        best = min(best, time.process_time() - start)
    print(f"primary: {len(packages)} packages, {len(data)} bytes: {best:.2f} s CPU (best)")
    start = time.process_time()
    pool = Pool(packages, (), args.arch)
    found = resolve(pool, args.resolve)
    spent = time.process_time() - start
    print(
        f"resolve {' '.join(args.resolve)}: {len(found.chosen)} chosen,"
        f" {len(found.missing)} missing: {spent:.2f} s CPU (pool included)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
