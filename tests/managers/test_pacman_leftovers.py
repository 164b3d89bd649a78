"""The cleanup pinner appends after a pacman install, run after a real pacman install into a
root that has ldconfig (libalpm runs it after each transaction, as in an Arch image)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from arch_repo import Pkg, build, needs_pacman
from leftover_roots import files, run_rm

from pinner.apt.shell import run_invocations
from pinner.managers import pacman

pytestmark = [
    needs_pacman,
    pytest.mark.oracle,
    pytest.mark.skipif(os.geteuid() != 0, reason="libalpm runs ldconfig in a chroot: needs root"),
]
LDCONFIG = shutil.which("ldconfig") or "/sbin/ldconfig"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An image root: pacman.conf naming a local core repository, ld.so.conf and ldconfig."""
    repo = tmp_path / "repo"
    repo.mkdir()
    package = build(repo, Pkg("app", "1.0-1"))
    subprocess.run(["repo-add", "-q", str(repo / "core.db.tar.gz"), str(package)], check=True)
    root = tmp_path / "root"
    for folder in ("etc", "sbin", "usr/bin", "var/log", "var/lib/pacman", "var/cache/pacman/pkg"):
        (root / folder).mkdir(parents=True)
    conf = f"[options]\nArchitecture = x86_64\nSigLevel = Never\n[core]\nServer = file://{repo}\n"
    (root / "etc/pacman.conf").write_text(conf)
    (root / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n")
    # glibc's ldconfig (statically linked), where Debian's and Arch's libalpm run it.
    for path in ("sbin/ldconfig", "usr/bin/ldconfig"):
        shutil.copy(LDCONFIG, root / path)
    return root


def _install(root: Path, env: dict[str, str] | None = None) -> None:
    conf = str(root / "etc/pacman.conf")
    command = ["pacman", "--root", str(root), "--config", conf, "--noconfirm", "-Sy", "app"]
    subprocess.run(command, check=True, capture_output=True, env=env)


def test_pacman_writes_the_files_the_cleanup_names(root: Path) -> None:
    _install(root)
    named = {file for leftover in pacman._LEFTOVERS for file in leftover.files}
    assert named <= files(root)


def test_cleanup_leaves_the_package_and_pacmans_databases_only(root: Path) -> None:
    before = files(root)
    _install(root)
    run = "pacman -Sy --noconfirm app"
    cleanup = pacman.cleanup(run, run_invocations(run))
    assert cleanup is not None
    run_rm(root, cleanup)
    # The local database's desc records the install's time (%INSTALLDATE%): pacman's own record,
    # which the cleanup keeps. ld.so.cache lists the libraries found, with no times.
    assert files(root) - before == {
        "/etc/ld.so.cache",
        "/usr/share/doc/app",
        "/var/lib/pacman/local/ALPM_DB_VERSION",
        "/var/lib/pacman/local/app-1.0-1/desc",
        "/var/lib/pacman/local/app-1.0-1/files",
        "/var/lib/pacman/sync/core.db",
    }


def test_pacman_writes_the_clock_as_the_install_time_whatever_source_date_epoch_says(
    root: Path,
) -> None:
    # Why every pacman stage's lock carries pacman._INSTALL_TIMES.
    _install(root, env=dict(os.environ, SOURCE_DATE_EPOCH="1000000"))
    desc = (root / "var/lib/pacman/local/app-1.0-1/desc").read_text().split("\n")
    stamp = int(desc[desc.index("%INSTALLDATE%") + 1])
    assert abs(stamp - time.time()) < 3600
    assert "%INSTALLDATE%" in pacman._INSTALL_TIMES
