"""The cleanup pinner appends after a dnf install, run after a real `dnf --installroot` install:
it leaves nothing of dnf's own (cache, history, logs) but the packages and the rpmdb."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from leftover_roots import files, run_rm
from rpmrepo import Spec, build_repo, needs_rpm_tools, rpmdb_path

from pinner.managers.rpmcommands import _DNF4, cleanup_for
from pinner.managers.rpmversion import rpmvercmp

pytestmark = [needs_rpm_tools, pytest.mark.oracle]


def _dnf(root: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """dnf on root with its own defaults for cache, history and logs (all under root)."""
    subprocess.run(
        ["dnf", f"--installroot={root}", "--releasever=1", "--setopt=reposdir=/nonexistent", *args],
        check=True,
        capture_output=True,
        env=env,
    )


def _install(root: Path, repo: Path, env: dict[str, str] | None = None) -> None:
    local = [f"--repofrompath=local,file://{repo}", "--repo=local", "--nogpgcheck"]
    _dnf(root, *local, "install", "-y", "app", env=env)


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


def _install_times(root: Path) -> str:
    query = ["rpm", "--root", str(root), "-q", "--qf", "%{INSTALLTIME} %{INSTALLTID}", "app"]
    return subprocess.run(query, check=True, capture_output=True, text=True).stdout


def test_rpm_418_takes_source_date_epoch_as_the_install_time(repo: Path, tmp_path: Path) -> None:
    # What rpmdb.install_times tells apart: this machine's rpm is 4.18, whose transactions take
    # SOURCE_DATE_EPOCH (as the RUNs of a locked stage have it) instead of the clock.
    version = subprocess.run(["rpm", "--version"], capture_output=True, text=True).stdout.split()
    assert version[:2] == ["RPM", "version"] and rpmvercmp(version[2], "4.18") >= 0, version
    _install(tmp_path / "epoch", repo, env=dict(os.environ, SOURCE_DATE_EPOCH="1000000"))
    assert _install_times(tmp_path / "epoch") == "1000000 1000000"
    _install(
        tmp_path / "clock",
        repo,
        env={k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"},
    )
    assert _install_times(tmp_path / "clock") != "1000000 1000000"
