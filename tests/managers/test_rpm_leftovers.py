"""The cleanup pinner appends after a dnf install, run after a real `dnf --installroot` install:
it leaves nothing of dnf's own (cache, history, logs) but the packages and the rpmdb."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from leftover_roots import files, run_rm
from rpmrepo import Spec, build_repo, needs_rpm_tools, rpmdb_path

from pinner.managers.rpmcommands import _DNF4, cleanup_for

pytestmark = [needs_rpm_tools, pytest.mark.oracle]


def _dnf(root: Path, *args: str) -> None:
    """dnf on root with its own defaults for cache, history and logs (all under root)."""
    subprocess.run(
        ["dnf", f"--installroot={root}", "--releasever=1", "--setopt=reposdir=/nonexistent", *args],
        check=True,
        capture_output=True,
    )


def _install(root: Path, repo: Path) -> None:
    local = [f"--repofrompath=local,file://{repo}", "--repo=local", "--nogpgcheck"]
    _dnf(root, *local, "install", "-y", "app")


def _run_in(root: Path, command: str) -> None:
    """Run an appended cleanup in root: `dnf clean all` with dnf, then the rm."""
    for part in command.split(" && "):
        words = part.split()
        if words[0] == "dnf":
            _dnf(root, *words[1:])
        else:
            run_rm(root, part)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo([Spec("app", "1.0")], tmp_path_factory.mktemp("leftovers") / "repo")


def test_dnf_writes_the_files_the_cleanup_names(repo: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    _install(root, repo)
    found = files(root)
    named = {file for leftover in _DNF4 for file in leftover.files}
    # ldconfig runs only where glibc is installed; the others are dnf's own.
    assert named - found == {"/var/cache/ldconfig/aux-cache"}


def test_cleanup_leaves_the_packages_and_the_rpmdb_only(repo: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    _install(root, repo)
    before = files(root)
    rpmdb = {
        f for f in before if f.startswith("/" + str(rpmdb_path(root).parent.relative_to(root)))
    }
    cleanup = cleanup_for("dnf install -y app")
    assert cleanup is not None
    _run_in(root, cleanup)
    assert any(f.startswith("/var/log/") for f in before)
    left = files(root) - rpmdb
    # dnf clean all keeps two empty lists in its cache; the same bytes in every build.
    kept = {"/var/cache/dnf/expired_repos.json", "/var/cache/dnf/tempfiles.json"}
    assert left == {"/usr/share/app/1.0", *kept}
    assert {(root / f[1:]).read_text() for f in kept} == {"[]"}
