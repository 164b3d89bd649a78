"""Tiny RPMs built with rpmbuild, real repodata from createrepo_c, and dnf as the oracle."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

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
    """Build each spec with rpmbuild into directory/Packages and run createrepo_c on directory."""
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
    return directory


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


def dnf_install(root: Path, repo: Path, names: Sequence[str]) -> None:
    """Really install names into root (its rpmdb is then the image's installed set)."""
    result = _dnf(root, repo, "install", "-y", *names)
    assert result.returncode == 0, result.stderr


_ROW = re.compile(r"^ (\S+)\s+(\S+)\s+(\S+)\s+local\s", re.MULTILINE)


def dnf_would_install(
    root: Path, repo: Path, names: Sequence[str], *, weak_deps: bool = True
) -> list[str]:
    """`name-evr.arch` of each package `dnf install --assumeno names` would install, sorted."""
    setopt = f"--setopt=install_weak_deps={weak_deps}"
    result = _dnf(root, repo, setopt, "install", "--assumeno", *names)
    assert "Operation aborted" in result.stdout + result.stderr, result.stdout + result.stderr
    return sorted(f"{n}-{evr}.{arch}" for n, arch, evr in _ROW.findall(result.stdout))


def rpmdb_path(root: Path) -> Path:
    """The rpmdb.sqlite dnf wrote under root (rpm's dbpath differs between builds of rpm)."""
    (found,) = [p for p in root.rglob("rpmdb.sqlite") if "cache" not in p.parts]
    return found
