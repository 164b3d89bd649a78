"""Tiny RPMs built with rpmbuild, real repodata from createrepo_c, and dnf as the oracle."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import zlib
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import pytest
from testcache import copy_tree, stored_tree, tools_stamp, tree_stamp

from pinner.managers.repodata import RpmPackage, parse_repomd, primary_packages

needs_rpm_tools = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("rpmbuild", "createrepo_c", "dnf")),
    reason="rpmbuild, createrepo_c and dnf are not installed (scripts/install-test-deps)",
)


class Spec(NamedTuple):
    """One package to build: noarch, one file under /usr/share (or the paths given)."""

    name: str
    version: str
    release: str = "1"
    epoch: int | None = None
    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    supplements: tuple[str, ...] = ()
    suggests: tuple[str, ...] = ()
    enhances: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()


def _spec_text(spec: Spec) -> str:
    files = spec.files or (f"/usr/share/{spec.name}/{spec.version}",)
    lines = [
        f"Name: {spec.name}",
        f"Version: {spec.version}",
        f"Release: {spec.release}",
        *([f"Epoch: {spec.epoch}"] if spec.epoch is not None else []),
        "Summary: test package",
        "License: MIT",
        "BuildArch: noarch",
        *[f"Requires: {r}" for r in spec.requires],
        *[f"Provides: {p}" for p in spec.provides],
        *[f"Recommends: {r}" for r in spec.recommends],
        *[f"Obsoletes: {o}" for o in spec.obsoletes],
        *[f"Supplements: {s}" for s in spec.supplements],
        *[f"Suggests: {s}" for s in spec.suggests],
        *[f"Enhances: {e}" for e in spec.enhances],
        *[f"Conflicts: {c}" for c in spec.conflicts],
        "%description",
        "A package for pinner's tests.",
        "%install",
        *[f"mkdir -p %{{buildroot}}{Path(f).parent} && echo x > %{{buildroot}}{f}" for f in files],
        "%files",
        *files,
        "",
    ]
    return "\n".join(lines)


def build_repo(specs: Sequence[Spec], directory: Path, *, compress: str = "gz") -> Path:
    """Build each spec with rpmbuild into directory/Packages and run createrepo_c on directory.

    The result is kept in the test cache (tests/testcache.py), so the same specs are built once.
    """
    key = repr((list(specs), compress, tools_stamp("rpmbuild", "createrepo_c")))
    stored = stored_tree("rpm-repos", key, lambda into: _build_repo(specs, into, compress))
    return copy_tree(stored, directory)


def repo_packages(repo: Path) -> list[RpmPackage]:
    """The packages of a repository build_repo made, as pinner reads its primary.xml."""
    entries = parse_repomd((repo / "repodata" / "repomd.xml").read_bytes(), "repomd.xml")
    primary = entries["primary"]
    return primary_packages(primary, (repo / primary.href).read_bytes(), primary.href)


def _build_repo(specs: Sequence[Spec], directory: Path, compress: str) -> None:
    top = directory.parent / f"{directory.name}-build"
    for spec in specs:
        path = top / "SPECS" / f"{spec.name}-{spec.version}.spec"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_spec_text(spec))
        subprocess.run(
            ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(path)],
            check=True,
            capture_output=True,
        )
    packages = directory / "Packages"
    packages.mkdir(parents=True, exist_ok=True)
    for rpm in (top / "RPMS").rglob("*.rpm"):
        shutil.copy(rpm, packages / rpm.name)
    options = ["--quiet", "--no-database", f"--general-compress-type={compress}"]
    subprocess.run(
        ["createrepo_c", *options, str(directory)],
        check=True,
        capture_output=True,
    )


def _dnf(root: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "dnf",
            f"--installroot={root}",
            "--releasever=1",
            "--setopt=reposdir=/nonexistent",
            f"--setopt=cachedir={root}/cache",
            f"--repofrompath=local,file://{repo}",
            "--repo=local",
            "--setopt=local.gpgcheck=0",
            "--nogpgcheck",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def _dnf_key(root: Path, repo: Path, *args: object) -> str:
    """What a dnf run's outcome depends on: root and repository before it, its words, dnf's build."""
    return repr((tree_stamp(root, skip={"cache"}), tree_stamp(repo), args, tools_stamp("dnf")))


def _copy_root(root: Path, into: Path) -> None:
    """Copy root but dnf's cache into `into` (made empty when root is missing)."""
    if root.is_dir():
        shutil.copytree(
            root, into, symlinks=True, ignore=lambda d, _: ["cache"] if d == str(root) else []
        )
    else:
        into.mkdir(parents=True)


def dnf_install(root: Path, repo: Path, names: Sequence[str], *options: str) -> None:
    """Really install names into root (its rpmdb is then the image's installed set).

    dnf runs on a copy of root kept in the test cache (tests/testcache.py): the same install on
    the same root runs dnf once.
    """

    def install(into: Path) -> None:
        _copy_root(root, into)
        result = _dnf(into, repo, *options, "install", "-y", *names)
        assert result.returncode == 0, result.stderr
        shutil.rmtree(into / "cache")

    stored = stored_tree("dnf-roots", _dnf_key(root, repo, names, options), install)
    # What dnf removed (an upgraded package's files) goes from root as well.
    for path in sorted(root.rglob("*"), reverse=True) if root.is_dir() else ():
        relative = path.relative_to(root)
        if relative.parts[0] == "cache" or os.path.lexists(stored / relative):
            continue
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
    copy_tree(stored, root)


_ROW = re.compile(r"^ (\S+)\s+(\S+)\s+(\S+)\s+local\s", re.MULTILINE)


def dnf_would_install(
    root: Path, repo: Path, names: Sequence[str], *options: str, weak_deps: bool = True
) -> list[str]:
    """`name-evr.arch` of each package `dnf install --assumeno names` would install, sorted.

    dnf runs on a copy of root, so its logs leave root as it was; its answer is kept in the test
    cache for the same root, repository and words.
    """
    setopt = f"--setopt=install_weak_deps={weak_deps}"

    def answer(into: Path) -> None:
        _copy_root(root, into / "root")
        result = _dnf(into / "root", repo, setopt, *options, "install", "--assumeno", *names)
        assert "Operation aborted" in result.stdout + result.stderr, result.stdout + result.stderr
        # Rows after "Skipping packages with conflicts:" (best=False) are not installed.
        table = result.stdout.split("\nSkipping packages", 1)[0]
        found = sorted(f"{n}-{evr}.{arch}" for n, arch, evr in _ROW.findall(table))
        shutil.rmtree(into / "root")
        (into / "answer.json").write_text(json.dumps(found))

    stored = stored_tree("dnf-answers", _dnf_key(root, repo, setopt, names, options), answer)
    found: list[str] = json.loads((stored / "answer.json").read_text())
    return found


def dnf_refusal(root: Path, repo: Path, names: Sequence[str]) -> str:
    """The problem `dnf install --assumeno names` reports where it refuses the transaction
    (run on a copy of root); fails the test if dnf would install."""
    copy = root.parent / f"{root.name}-refusal"
    shutil.rmtree(copy, ignore_errors=True)
    _copy_root(root, copy)
    result = _dnf(copy, repo, "install", "--assumeno", *names)
    shutil.rmtree(copy)
    assert result.returncode != 0, result.stdout
    assert "Operation aborted" not in result.stdout, result.stdout
    return result.stdout + result.stderr


def rpmdb_path(root: Path) -> Path:
    """The rpmdb.sqlite dnf wrote under root (rpm's dbpath differs between builds of rpm)."""
    (found,) = [p for p in root.rglob("rpmdb.sqlite") if "cache" not in p.parts]
    return found


needs_db_load = pytest.mark.skipif(
    shutil.which("db5.3_load") is None,
    reason="db5.3_load is not installed (db5.3-util, scripts/install-test-deps)",
)


def header_blobs(root: Path) -> dict[int, bytes]:
    """The header blob of each package installed under root, by rpm's header number."""
    with closing(sqlite3.connect(rpmdb_path(root))) as db:
        return {
            number: bytes(blob) for number, blob in db.execute("SELECT hnum, blob FROM Packages")
        }


def berkeley_packages(
    blobs: Mapping[int, bytes], directory: Path, *, order: str = "1234", pagesize: int = 4096
) -> Path:
    """A Berkeley DB hash Packages file as rpm's bdb backend keeps it, written by db5.3_load.

    Keys are header numbers in the file's byte order; key 0 holds the next number to hand out.
    """
    pack = "<I" if order == "1234" else ">I"
    lines = ["VERSION=3", "format=bytevalue", "type=hash", "HEADER=END"]
    records = {0: struct.pack(pack, max(blobs, default=0) + 1), **blobs}
    for number, blob in records.items():
        lines += [f" {struct.pack(pack, number).hex()}", f" {blob.hex()}"]
    lines.append("DATA=END")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Packages"
    path.unlink(missing_ok=True)
    subprocess.run(
        ["db5.3_load", "-c", f"db_lorder={order}", "-c", f"db_pagesize={pagesize}", str(path)],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
    )
    return path


def rpm_query_all(dbpath: Path, backend: str) -> list[str]:
    """`name-[epoch:]version-release.arch` of every package rpm itself reads from dbpath, sorted."""
    result = subprocess.run(
        [
            "rpm",
            "--dbpath",
            str(dbpath),
            "--define",
            f"_db_backend {backend}",
            "-qa",
            "--qf",
            "%{name}-%|epoch?{%{epoch}:}:{}|%{version}-%{release}.%{arch}\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(result.stdout.split())


def ndb_packages(blobs: Sequence[bytes]) -> bytes:
    """An ndb Packages.db holding blobs, as rpm's rpmpkgPut writes them into a new database.

    lib/backend/ndb/rpmpkg.c: a header (magic, version, generation, slot pages, next index),
    one page of 16-byte slots, then each blob in 16-byte blocks after a head and before a tail
    holding the adler32 of all before it. Each put writes the blob with the current generation
    and then its slot, which counts the generation up.
    """
    assert len(blobs) < 4096 // 16 - 2
    generation = 1
    slots = bytearray()
    data = bytearray()
    block = 4096 // 16
    for index, blob in enumerate(blobs, start=1):
        count = -(-(16 + len(blob) + 12) // 16)
        head = struct.pack("<4sIII", b"BlbS", index, generation, len(blob))
        body = head + blob + bytes(count * 16 - 16 - len(blob) - 12)
        data += body + struct.pack("<II4s", zlib.adler32(body), len(blob), b"BlbE")
        slots += struct.pack("<4sIII", b"Slot", index, block, count)
        block += count
        generation += 1
    header = struct.pack("<4sIIII", b"RpmP", 0, generation, 1, len(blobs) + 1).ljust(32, b"\0")
    page = header + slots + b"Slot" + bytes(12)
    page += (b"Slot" + bytes(12)) * ((4096 - len(page)) // 16)
    return bytes(page + data)


def modulemd(
    name: str,
    stream: str,
    version: int,
    context: str,
    platform: str,
    rpms: list[str],
    requires: str = "",
) -> str:
    """One modulemd document; requires: more `module: [streams]` lines beside the platform."""
    listed = "\n".join(f"    - {rpm}" for rpm in rpms)
    extra = "".join(f"\n      {line}" for line in requires.splitlines())
    return f"""\
---
document: modulemd
version: 2
data:
  name: {name}
  stream: "{stream}"
  version: {version}
  context: {context}
  arch: noarch
  summary: {name} {stream}
  description: {name} {stream}
  license:
    module: [MIT]
  dependencies:
  - buildrequires:
      platform: [{platform}]
    requires:
      platform: [{platform}]{extra}
  artifacts:
    rpms:
{listed}
...
"""


def modular_repo(specs: list[Spec], text: str, folder: Path) -> Path:
    """A repository of specs that createrepo_c made, with text as its modules.yaml."""
    built = build_repo(specs, folder / "repo")
    source = built.parent / "modules.yaml"
    source.write_text(text)
    subprocess.run(
        ["modifyrepo_c", "--mdtype=modules", str(source), str(built / "repodata")],
        check=True,
        capture_output=True,
    )
    return built
