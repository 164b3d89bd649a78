"""The cleanup pinner appends after a zypper install, run after a real `zypper --root` install
from a local repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from leftover_roots import files, run_rm
from rpmrepo import Spec, build_repo, needs_rpm_tools, rpmdb_path

from pinner.apt.shell import run_invocations
from pinner.managers import zypper

pytestmark = [
    needs_rpm_tools,
    pytest.mark.skipif(shutil.which("zypper") is None, reason="zypper is not installed"),
    pytest.mark.oracle,
]


def _zypper(root: Path, *args: str) -> None:
    # zypper logs to the running system's /var/log/zypper.log (the image's, when it runs there);
    # ZYPP_LOGFILE puts it under root instead, where the image would have it.
    env = {**os.environ, "ZYPP_LOGFILE": f"{root}/var/log/zypper.log"}
    command = ["zypper", "--root", str(root), "--non-interactive", *args]
    subprocess.run(command, check=True, capture_output=True, env=env)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An image root with one zypper repository (a local rpm-md one) and nothing installed."""
    repo = build_repo([Spec("app", "1.0")], tmp_path / "repo")
    root = tmp_path / "root"
    (root / "var/log").mkdir(parents=True)
    _zypper(root, "addrepo", "--no-gpgcheck", f"file://{repo}", "local")
    return root


def test_zypper_writes_its_logs(root: Path) -> None:
    _zypper(root, "--no-gpg-checks", "install", "app")
    found = files(root)
    assert {"/var/log/zypper.log", "/var/log/zypp/history"} <= found
    # libzypp writes the random id on root / only, and ldconfig runs only where glibc is.
    named = {file for leftover in zypper._LEFTOVERS for file in leftover.files}
    assert named - found == {"/var/lib/zypp/AnonymousUniqueId", "/var/cache/ldconfig/aux-cache"}


def test_cleanup_leaves_the_package_and_the_rpmdb_only(root: Path) -> None:
    _zypper(root, "--no-gpg-checks", "install", "app")
    run = "zypper -n in app"
    cleanup = zypper.cleanup(run, run_invocations(run))
    assert cleanup is not None
    clean, rm = cleanup.split(" && ")
    assert clean == "zypper clean -a"
    _zypper(root, "clean", "-a")
    run_rm(root, rm)
    rpmdb = "/" + str(rpmdb_path(root).parent.relative_to(root)) + "/"
    left = {f for f in files(root) if not f.startswith(rpmdb)}
    # zypp.pid is zypper's lock, left empty; /var/lib/rpm is libzypp's link to the rpmdb.
    kept = {"/etc/zypp/repos.d/local.repo", "/run/zypp.pid", "/var/lib/rpm"}
    assert left == {*kept, "/usr/share/app/1.0"}
    assert (root / "run/zypp.pid").read_bytes() == b""
