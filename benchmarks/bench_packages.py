"""Benchmark pinner.apt on bookworm's main amd64 Packages (63,000 stanzas), beside python-debian.

Downloads dists/bookworm/InRelease and main/binary-amd64/Packages.xz (8.8 MB, by hash) from this
machine's Debian mirror once into ~/.cache/pinner-bench/ (or $PINNER_BENCH_CACHE), checks them
with pinner.apt.release, then times each step with time.perf_counter, best of N. Run from the
repository root:

    python benchmarks/bench_packages.py [--repeat 5] [--debian-repeat 2] [--no-python-debian]

python-debian (pip install python-debian) is a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pinner.apt import packages
from pinner.apt.packages import PackageEntry, PackageIndex, decompress, parse_packages
from pinner.apt.release import (
    GpgvMissing,
    Release,
    parse_release,
    signed_text,
    verify_index,
    verify_signature,
)

SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SUITE = "bookworm"
INDEX = "main/binary-amd64/Packages.xz"
ARCH = "amd64"
NAMES = """
    apt bash base-files build-essential bzip2 ca-certificates coreutils curl dpkg file g++ gcc
    git gnupg gpgv gzip hello iproute2 iputils-ping jq less libc6 libcurl4 libffi8 libgcc-s1
    libpq5 libsqlite3-0 libssl3 libstdc++6 libxml2 libyaml-0-2 locales make nginx
    openssh-client openssl perl-base postgresql-client procps python3 python3.11 sqlite3 sudo
    tar tzdata unzip vim wget xz-utils zlib1g
""".split()  # noqa: SIM905 - a list of 50 names, easier to read

T = TypeVar("T")


def mirror_url() -> str:
    """The first Debian archive URI in this machine's deb822 sources, else deb.debian.org."""
    if SOURCES.is_file():
        for line in SOURCES.read_text().splitlines():
            if line.startswith("URIs:"):
                for uri in line.split()[1:]:
                    if not uri.rstrip("/").endswith("-security"):
                        return uri.rstrip("/")
    return "http://deb.debian.org/debian"


def fetch(url: str, dest: Path) -> bytes:
    print(f"downloading {url}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=120) as response:
        data: bytes = response.read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return data


def load_index(cache: Path, mirror: str) -> tuple[Release, bytes]:
    """InRelease and the Packages.xz it lists, from the cache or else the mirror, verified."""
    inrelease_path = cache / SUITE / "InRelease"
    xz_path = cache / SUITE / INDEX.replace("/", "_")
    if inrelease_path.is_file() and xz_path.is_file():
        inrelease, xz = inrelease_path.read_bytes(), xz_path.read_bytes()
    else:
        inrelease = fetch(f"{mirror}/dists/{SUITE}/InRelease", inrelease_path)
        release = parse_release(signed_text(inrelease))
        # By hash, the index is the one this InRelease lists even if the mirror syncs meanwhile.
        path = INDEX
        if re.search(rb"^acquire-by-hash:[ \t]*yes\s*$", signed_text(inrelease), re.I | re.M):
            path = f"main/binary-amd64/by-hash/SHA256/{release.sha256[INDEX].sha256}"
        xz = fetch(f"{mirror}/dists/{SUITE}/{path}", xz_path)
    try:
        verify_signature(inrelease, [KEYRING])
    except GpgvMissing as exc:
        print(exc, file=sys.stderr)
    release = parse_release(signed_text(inrelease))
    verify_index(release, INDEX, xz)
    return release, xz


def best_of(repeat: int, func: Callable[[], T]) -> tuple[float, T]:
    """The fastest of repeat runs, in seconds, and the last result."""
    best = float("inf")
    results: list[T] = []
    for _ in range(repeat):
        results.clear()  # free the last run's result before the next one allocates its own
        start = time.perf_counter()
        results.append(func())
        best = min(best, time.perf_counter() - start)
    return best, results[0]


def resolve(index: PackageIndex, names: Iterable[str]) -> list[PackageEntry | None]:
    return [index.candidate(name, ARCH) for name in names]


def parse_and_resolve(data: bytes) -> list[PackageEntry | None]:
    return resolve(PackageIndex(parse_packages(data)), NAMES)


def debian_paragraphs(data: bytes, fields: list[str] | None) -> list[Any]:
    from debian import deb822

    # use_apt_pkg=False: python3-apt's C++ parser is not importable from this Python.
    paragraphs = deb822.Packages.iter_paragraphs(io.BytesIO(data), fields, use_apt_pkg=False)
    return list(paragraphs)


def debian_parse_and_resolve(data: bytes) -> list[tuple[str, str] | None]:
    """The same job with python-debian: its parser, its Version ordering."""
    from debian.debian_support import Version

    by_name: dict[str, list[Any]] = {}
    for paragraph in debian_paragraphs(data, ["Package", "Version", "Architecture", "Filename"]):
        by_name.setdefault(paragraph["Package"], []).append(paragraph)
    found: list[tuple[str, str] | None] = []
    for name in NAMES:
        candidates = [p for p in by_name.get(name, []) if p["Architecture"] in (ARCH, "all")]
        best = max(candidates, key=lambda p: Version(p["Version"]), default=None)
        found.append(best and (best["Version"], best["Filename"]))
    return found


def seconds(value: float) -> str:
    return f"{value * 1e6:.0f} µs" if value < 1e-3 else f"{value:.3f} s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per pinner step (best of)")
    parser.add_argument("--debian-repeat", type=int, default=2, help="runs per python-debian step")
    parser.add_argument("--no-python-debian", action="store_true")
    parser.add_argument("--mirror", default=mirror_url())
    args = parser.parse_args(argv)
    cache = Path(os.environ.get("PINNER_BENCH_CACHE", Path.home() / ".cache" / "pinner-bench"))

    release, xz = load_index(cache, args.mirror)
    t_xz, data = best_of(args.repeat, lambda: decompress(xz, INDEX))
    verify_index(release, INDEX.removesuffix(".xz"), data)
    t_parse, entries = best_of(args.repeat, lambda: parse_packages(data))
    t_index, index = best_of(args.repeat, lambda: PackageIndex(entries))
    t_all, found = best_of(args.repeat, lambda: parse_and_resolve(data))

    # A second lookup on a built index parses nothing: count parse_packages calls meanwhile.
    calls = 0
    real_parse = packages.parse_packages

    def counting_parse(*a: Any, **k: Any) -> list[PackageEntry]:
        nonlocal calls
        calls += 1
        return real_parse(*a, **k)

    packages.parse_packages = counting_parse
    t_lookup, again = best_of(args.repeat, lambda: resolve(index, NAMES))
    packages.parse_packages = real_parse
    assert again == found and calls == 0

    rows = [
        (f"decompress Packages.xz ({len(xz) / 1e6:.1f} MB -> {len(data) / 1e6:.1f} MB)",
         seconds(t_xz), "(same lzma)"),
        (f"parse {len(entries)} stanzas", seconds(t_parse), ""),
        ("build PackageIndex", seconds(t_index), ""),
        (f"parse + index + resolve {len(NAMES)} names", seconds(t_all), ""),
        (f"resolve {len(NAMES)} names on a built index ({calls} parses)", seconds(t_lookup), "-"),
    ]  # fmt: skip
    if not args.no_python_debian:
        fields = ["Package", "Version", "Architecture", "Filename", "Size", "SHA256"]
        t_deb_all, _ = best_of(args.debian_repeat, lambda: debian_paragraphs(data, None))
        t_deb, paragraphs = best_of(args.debian_repeat, lambda: debian_paragraphs(data, fields))
        t_deb_res, deb_found = best_of(args.debian_repeat, lambda: debian_parse_and_resolve(data))
        assert len(paragraphs) == len(entries)
        assert deb_found == [e and (e.version, e.filename) for e in found], "answers differ"
        rows[1] = (
            rows[1][0],
            rows[1][1],
            f"{seconds(t_deb)} (6 fields), {seconds(t_deb_all)} (all)",
        )
        rows[3] = (rows[3][0], rows[3][1], seconds(t_deb_res))

    print(f"{SUITE} {INDEX} from {args.mirror}, Date: {release.date:%Y-%m-%d %H:%M} UTC")
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    print(f"best of {args.repeat} (pinner) / {args.debian_repeat} (python-debian)\n")
    width = max(len(row[0]) for row in rows)
    print(f"{'step':<{width}}  {'pinner.apt':>10}  python-debian")
    for step, ours, theirs in rows:
        print(f"{step:<{width}}  {ours:>10}  {theirs}")
    print(f"\nresolved {sum(e is not None for e in found)} of {len(NAMES)} names")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
