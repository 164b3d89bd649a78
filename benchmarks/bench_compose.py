"""CPU of what a first `pinner lock` does per Dockerfile once the registry has answered.

bench_lock.py's tree (1,000 Dockerfiles over 200 tags, no package manager), loaded as `lock`
loads it; every image answered by a made-up digest, so no registry and no network. Timed with
time.process_time, best of --repeat (the minimum is what the code costs; a loaded machine only
adds to it), and counted: Dockerfile parses during one pass.

    PYTHONPATH=$PWD python3 benchmarks/bench_compose.py [--files 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lock import plan_tags, write_tree

from pinner import dockerfile
from pinner.manifest import OCI_MANIFEST, Manifest
from pinner.outcome import Options, compose, image_queries
from pinner.workspace import Selection, load

SNAPSHOT = "20261201T000000Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compose-") as tmp:
        root = Path(tmp)
        tags = plan_tags(40, 5 * args.files // 1000)
        write_tree(root, "registry.bench", tags, args.files, seed=11)
        options = Options(snapshot=SNAPSHOT, now=0.0)
        start = time.process_time()
        targets, errors = load(Selection([str(root)], {}))
        loading = time.process_time() - start
        assert not errors, errors
        resolved = {
            q: Manifest("sha256:" + hashlib.sha256(str(q).encode()).hexdigest(), OCI_MANIFEST)
            for q in image_queries(targets, options)
        }
        parses: list[str] = []
        real_parse = dockerfile.parse

        def counted(*a: object, **k: object) -> dockerfile.Dockerfile:
            parses.append(str(a[1]))
            return real_parse(*a, **k)  # type: ignore[arg-type]

        dockerfile.parse = counted  # type: ignore[assignment]
        best = float("inf")
        for _ in range(args.repeat):
            parses.clear()
            start = time.process_time()
            for target in targets:
                compose(target, resolved, options, SNAPSHOT, ())
            best = min(best, time.process_time() - start)
        print(
            f"{len(targets)} Dockerfiles: loading {loading:.3f} s of CPU; compose of every file"
            f" best of {args.repeat} {best:.3f} s of CPU; Dockerfile parses in one pass:"
            f" {len(parses)}"
        )


if __name__ == "__main__":
    main()
