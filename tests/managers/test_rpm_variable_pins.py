"""A pin pinner writes into a variable that another command also reads (`rpm -V`, `rpm -e`,
`dnf remove`, `zypper rm`) must be one that command finds the installed package by: checked
against the real rpm, dnf and zypper on a root dnf installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from rpmrepo import Spec, build_repo, dnf_install, needs_rpm_tools, rpmdb_path

from pinner.apt.shell import run_invocations
from pinner.managers import rpm, zypper

# (the command reading $P as written in a RUN, the pin word in P)
CASES = [
    ("rpm -V $P", "app-1.0-1"),
    ("rpm -q $P", "app-1.0-1"),
    ("rpm -qi $P", "app-1.0-1"),
    ("rpm -V --nosize --nofiledigest --nomtime $P", "app-1.0-1"),
    ("rpm --verify $P", "app-1.0-1"),
    ("rpm -e $P", "app-1.0-1"),
    ("rpm -e --nodeps $P", "app-1.0-1"),
    ("rpm --erase $P", "app-1.0-1"),
    ("dnf remove -y $P", "app-1.0-1"),
    ("dnf -y erase $P", "extra-2:1.0-1"),  # dnf reads an epoch in a spec
    ("yum autoremove -y $P", "app-1.0-1"),
    ("rpm -qa $P", "app-1.0-1"),  # -a: every package; the words are patterns
    ("rpm -qf $P", "app-1.0-1"),  # -f: the words are files
    ("rpm -q --all $P", "app-1.0-1"),
    ("rpm -V --file $P", "app-1.0-1"),
    ("rpm -V $P", "extra-2:1.0-1"),  # an epoch: older rpm reads no epoch in a label
    ("rpm -e $P", "extra-2:1.0-1"),
    ("rpm -Uvh $P", "app-1.0-1"),  # installs a file
    ("microdnf remove $P", "app-1.0-1"),  # not checked against microdnf
    ("dnf info $P", "app-1.0-1"),
]
TAKEN = 11
# zypper's pin word is `name=version`: its removal reads it as a capability, rpm does not.
ZYPPER_CASES = [
    ("zypper rm $P", "app=1.0-1"),
    ("zypper -n remove --clean-deps $P", "app=1.0-1"),
    ("zypper --non-interactive rm -n $P", "extra=2:1.0-1"),
    ("zypper rm -C $P", "app=1.0-1"),
    ("zypper rm -t pattern $P", "app=1.0-1"),
    ("zypper info $P", "app=1.0-1"),
    ("rpm -e $P", "app=1.0-1"),
    ("rpm -q $P", "app=1.0-1"),
]
ZYPPER_TAKEN = 4


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("rpmroot")
    repo = build_repo([Spec("app", "1.0"), Spec("extra", "1.0", epoch=2)], base / "repo")
    dnf_install(base / "root", repo, ["app", "extra"])
    return base / "root"


@needs_rpm_tools
@pytest.mark.parametrize(("command", "pin"), CASES)
def test_a_command_taken_to_read_pins_finds_the_package_by_its_pin(
    root: Path, tmp_path: Path, command: str, pin: str
) -> None:
    (invocation,) = run_invocations(f'P="{pin}"; {command}')
    if not rpm.MANAGER.takes_pins(invocation, pin):
        return  # not written into the value: nothing to check against rpm
    _finds_by_pin(
        _copy(root, tmp_path), [invocation.program, *(w.text for w in invocation.args)], pin
    )


@needs_rpm_tools
@pytest.mark.skipif(shutil.which("zypper") is None, reason="zypper is not installed")
@pytest.mark.parametrize(("command", "pin"), ZYPPER_CASES)
def test_a_command_a_zypper_stage_takes_pins_for_finds_the_package_by_its_pin(
    root: Path, tmp_path: Path, command: str, pin: str
) -> None:
    (invocation,) = run_invocations(f'P="{pin}"; {command}')
    if not zypper.MANAGER.takes_pins(invocation, pin):
        return
    _finds_by_pin(
        _copy(root, tmp_path), [invocation.program, *(w.text for w in invocation.args)], pin
    )


def _copy(root: Path, tmp_path: Path) -> Path:
    """A copy of the installed root for one command, which may remove packages from it."""
    return Path(shutil.copytree(root, tmp_path / "root", symlinks=True))


def _finds_by_pin(root: Path, args: list[str], pin: str) -> None:
    """Run args (rpm, dnf, yum or zypper as written in the RUN) on root: it must succeed, and a
    removal must have removed the package the pin names."""
    name = pin.partition("=")[0] if "=" in pin else pin.partition("-")[0]
    rpm_at = ["rpm", "--root", str(root), "--dbpath", _dbpath(root)]
    if args[0] == "rpm":
        command = [*rpm_at, *args[1:]]
    elif args[0] == "zypper":
        # zypper logs to the running system's /var/log/zypper.log unless told otherwise.
        command = ["zypper", "--root", str(root), "--non-interactive", *args[1:]]
    else:
        command = [
            "dnf",
            f"--installroot={root}",
            "--releasever=1",
            "--setopt=reposdir=/nonexistent",
            f"--setopt=cachedir={root}/cache",
            *args[1:],
        ]
    env = {**os.environ, "ZYPP_LOGFILE": f"{root}/zypper.log"}
    found = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "No match for argument" not in found.stdout + found.stderr  # dnf exits 0 anyway
    query = subprocess.run([*rpm_at, "-q", name], capture_output=True, text=True, check=False)
    if any(verb in args for verb in ("-e", "--erase", "remove", "rm", "erase", "autoremove")):
        assert f"package {name} is not installed" in query.stdout, query.stdout
    else:
        # The pin names the installed package, as `rpm -q` reads it.
        assert query.stdout.startswith(f"{name}-1.0-1."), query.stderr


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
    assert taken == CASES[:TAKEN]
    taken = [
        (command, pin)
        for command, pin in ZYPPER_CASES
        if zypper.MANAGER.takes_pins(run_invocations(f'P="{pin}"; {command}')[0], pin)
    ]
    assert taken == ZYPPER_CASES[:ZYPPER_TAKEN]
