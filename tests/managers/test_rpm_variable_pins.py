"""A pin pinner writes into a variable that `rpm -V` or `rpm -q` also reads must be one rpm
finds the installed package by: checked against real rpm on a root dnf installed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rpmrepo import Spec, build_repo, dnf_install, needs_rpm_tools, rpmdb_path

from pinner.apt.shell import run_invocations
from pinner.managers import rpm

# (the command reading $P as written in a RUN, the pin word in P)
CASES = [
    ("rpm -V $P", "app-1.0-1"),
    ("rpm -q $P", "app-1.0-1"),
    ("rpm -qi $P", "app-1.0-1"),
    ("rpm -V --nosize --nofiledigest --nomtime $P", "app-1.0-1"),
    ("rpm --verify $P", "app-1.0-1"),
    ("rpm -qa $P", "app-1.0-1"),  # -a: every package; the words are patterns
    ("rpm -qf $P", "app-1.0-1"),  # -f: the words are files
    ("rpm -q --all $P", "app-1.0-1"),
    ("rpm -V --file $P", "app-1.0-1"),
    ("rpm -V $P", "extra-2:1.0-1"),  # an epoch: older rpm reads no epoch in a label
    ("rpm -e $P", "app-1.0-1"),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("rpmroot")
    repo = build_repo([Spec("app", "1.0"), Spec("extra", "1.0", epoch=2)], base / "repo")
    dnf_install(base / "root", repo, ["app", "extra"])
    return base / "root"


@needs_rpm_tools
@pytest.mark.parametrize(("command", "pin"), CASES)
def test_a_command_taken_to_read_pins_finds_the_package_by_its_pin(
    root: Path, command: str, pin: str
) -> None:
    (invocation,) = run_invocations(f'P="{pin}"; {command}')
    if not rpm.MANAGER.takes_pins(invocation, pin):
        return  # not written into the value: nothing to check against rpm
    rpm_at = ["rpm", "--root", str(root), "--dbpath", _dbpath(root)]
    args = [word.text for word in invocation.args]
    found = subprocess.run([*rpm_at, *args], capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stderr
    # And the pin names the installed package, as `rpm -q` reads it.
    found = subprocess.run([*rpm_at, "-q", pin], capture_output=True, text=True, check=False)
    assert found.stdout.startswith(f"{pin.partition('-')[0]}-1.0-1."), found.stderr


def _dbpath(root: Path) -> str:
    return "/" + rpmdb_path(root).parent.relative_to(root).as_posix()


@needs_rpm_tools
def test_rpm_verifies_the_packages_its_pins_name(root: Path) -> None:
    for command in ("-V", "-q"):
        found = subprocess.run(
            [
                "rpm",
                "--root",
                str(root),
                "--dbpath",
                _dbpath(root),
                command,
                "app-1.0-1",
                "nosuch-1-1",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        # A word rpm does not find fails the command: a wrong pin would break the build.
        assert found.returncode == 1
        assert "package nosuch-1-1 is not installed" in found.stdout + found.stderr


def test_which_commands_are_taken_to_read_pins() -> None:
    taken = [
        (command, pin)
        for command, pin in CASES
        if rpm.MANAGER.takes_pins(run_invocations(f'P="{pin}"; {command}')[0], pin)
    ]
    assert taken == CASES[:5]
