"""Benchmark `pinner diff` on two ~100 MB, ~5,000-file images in a local registry.

Two images are made by hand (tests/handmade.py) and pushed to a real docker-registry
(tests/registryd.py): A has 5 gzip layers holding 5,000 files (half random bytes, half text) of
~100 MB in all; B is A with one file changed in every layer, so no layer is shared and every byte
of both images is downloaded, decompressed, hashed and compared. Measured:

- `pinner diff A B` (strict), in a child process: wall time and peak RSS (GNU time);
- the same comparison by hand: `skopeo copy` of both images to dir: layouts, `tar -xzf` of every
  layer into a directory per image (later layers over earlier ones; whiteouts ignored), then
  `find -type f | sha256sum` and `diff` of the sorted lists.

Both must find the same changed paths. Run from the repository root:

    python benchmarks/bench_diff.py [--files 5000] [--megabytes 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from handmade import Entry, HandImage, layer_tar, push  # noqa: E402
from registryd import start_registry  # noqa: E402

TARGET_S = 5.0
LAYERS = 5


def make_entries(files: int, megabytes: int, seed: int) -> list[list[Entry]]:
    """Entries for LAYERS layers: files spread over directories, sizes around the mean."""
    rng = random.Random(seed)
    mean = megabytes * 1024 * 1024 // files
    layers: list[list[Entry]] = [[] for _ in range(LAYERS)]
    for i in range(files):
        size = rng.randint(mean // 2, mean * 3 // 2)
        if i % 2:
            data = rng.randbytes(size)
        else:
            line = f"line {i} of a text file that compresses well\n".encode()
            data = (line * (size // len(line) + 1))[:size]
        layer = i % LAYERS
        layers[layer].append(Entry(f"data/d{i % 97:02d}/f{i:05d}", data))
    for layer in layers:
        dirs = sorted({"data", *(e.name.rsplit("/", 1)[0] for e in layer)})
        layer[:0] = [Entry(d, kind="dir") for d in dirs]
    return layers


def changed(layers: list[list[Entry]]) -> tuple[list[list[Entry]], list[str]]:
    """The same layers with the last file of each one rewritten; the changed paths."""
    out, paths = [], []
    for layer in layers:
        last = layer[-1]
        out.append([*layer[:-1], Entry(last.name, last.data[::-1] + b"!")])
        paths.append("/" + last.name)
    return out, sorted(paths)


def run_pinner(a: str, b: str, work: Path) -> tuple[float, int, float, str]:
    """Wall seconds, peak RSS in MB (GNU time's %M: the child's own), CPU seconds, stdout."""
    rss_file = work / "rss"
    start = time.perf_counter()
    done = subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "%M %U %S",
            "-o",
            str(rss_file),
            sys.executable,
            "-m",
            "pinner",
            "diff",
            a,
            b,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 1:
        raise SystemExit(f"pinner diff exited {done.returncode}: {done.stderr}")
    rss, user, system = rss_file.read_text().splitlines()[-1].split()
    return seconds, int(rss) // 1024, float(user) + float(system), done.stdout


def by_hand(a: str, b: str, work: Path) -> tuple[float, list[str]]:
    """skopeo copy + tar -xzf + sha256sum + diff; wall seconds and the differing paths."""
    start = time.perf_counter()
    sums = []
    for name, ref in (("a", a), ("b", b)):
        layout = work / f"{name}-dir"
        subprocess.run(
            ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"dir:{layout}"],
            check=True,
        )
        manifest = json.loads((layout / "manifest.json").read_text())
        root = work / f"{name}-root"
        root.mkdir()
        for layer in manifest["layers"]:
            blob = layout / layer["digest"].split(":")[1]
            subprocess.run(["tar", "-xzf", str(blob), "-C", str(root)], check=True)
        listing = subprocess.run(
            f"cd {root} && find . -type f -print0 | sort -z | xargs -0 sha256sum",
            shell=True,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (work / f"{name}.sums").write_text(listing)
        sums.append(work / f"{name}.sums")
    result = subprocess.run(["diff", *map(str, sums)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    paths = sorted(
        {line.split("  ", 1)[1][1:] for line in result.stdout.splitlines() if line[:1] in "<>"}
    )
    return seconds, paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        work = Path(tmp)
        reg = start_registry(work / "registry")
        try:
            layers = make_entries(args.files, args.megabytes, seed=1)
            other, expected = changed(layers)
            image_a = HandImage([layer_tar(entries) for entries in layers])
            image_b = HandImage([layer_tar(entries) for entries in other])
            sizes = [len(t) for t in image_a.layers]
            gz = [len(g) for g in image_a.gzipped()]
            push(image_a, reg, "bench/diff", "a")
            push(image_b, reg, "bench/diff", "b")
            a, b = f"{reg.host}/bench/diff:a", f"{reg.host}/bench/diff:b"
            print(
                f"images: {args.files} files, {sum(sizes) / 1e6:.1f} MB of tar"
                f" ({sum(gz) / 1e6:.1f} MB gzip) in {LAYERS} layers each; {len(expected)} files differ"
            )

            times, cpu, rss = [], [], 0
            for _ in range(args.repeat):
                seconds, peak, used, out = run_pinner(a, b, work)
                times.append(seconds)
                cpu.append(used)
                rss = max(rss, peak)
            found = sorted(
                line.split(":")[0].strip()
                for line in out.splitlines()
                if line.startswith("    /") and "content differs" in line
            )
            assert found == expected, (found, expected)
            best = min(times)
            verdict = "meets" if best < TARGET_S else "MISSES"
            print(
                f"pinner diff:            best {best:.2f} s, median {statistics.median(times):.2f} s"
                f" of {args.repeat}; CPU (user+sys) best {min(cpu):.2f} s; peak RSS {rss} MB"
                f" ({verdict} the {TARGET_S:.0f} s target)"
            )

            hand = []
            for i in range(args.repeat):
                run_dir = work / f"hand-{i}"
                run_dir.mkdir()
                seconds, paths = by_hand(a, b, run_dir)
                assert paths == expected, (paths, expected)
                hand.append(seconds)
                shutil.rmtree(run_dir)
            print(
                f"skopeo+tar+sha256sum:   best {min(hand):.2f} s, median {statistics.median(hand):.2f} s"
                f" of {args.repeat} (writes {2 * sum(sizes) / 1e6:.0f} MB to disk)"
            )
        finally:
            reg.stop()


if __name__ == "__main__":
    main()
