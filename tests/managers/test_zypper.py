"""zypper: install commands, repository files (as zypper writes them), Tumbleweed's history step."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import shell_syntax
from rpmrepo import Spec, build_repo, needs_rpm_tools
from shell_syntax import checkers

from pinner import managers, syntax
from pinner.apt.shell import run_invocations
from pinner.errors import MirrorError, PackageError
from pinner.managers import Mode, PackageArg, rpmdb, zypper
from pinner.managers.leftovers import mounted
from pinner.managers.rpmdb import Provide
from pinner.managers.rpmversion import parse_evr

COMMANDS = [
    ("zypper install -y curl git", [("install", [("curl", None), ("git", None)], [])]),
    ("zypper --non-interactive in --no-recommends curl", [("install", [("curl", None)], [])]),
    ("zypper -n in -y 'curl>=8' vim=9.1.0-1.1", [("install", [("curl", ">=8"), ("vim", "=9.1.0-1.1")], [])]),
    ("zypper --root /mnt -n install -r repo-oss curl", [("install", [("curl", None)], [])]),
    # After the verb, -n is install's --name, a flag (zypper 1.14's `install --help`).
    ("zypper in -n curl git", [("install", [("curl", None), ("git", None)], [])]),
    ("zypper -n in --name --download in-advance curl", [("install", [("curl", None)], [])]),
    ("zypper -n in -t pattern devel_basis", [("install", [], ["installs a pattern, product or patch (devel_basis); its packages are not recorded"])]),
    ("zypper -n in pattern:devel_basis", [("install", [], ["installs a pattern, product or patch (pattern:devel_basis); its packages are not recorded"])]),
    ("zypper -n in https://example.org/x-1-1.noarch.rpm", [("install", [], ["installs an rpm file or URL (https://example.org/x-1-1.noarch.rpm); not pinned by the snapshot"])]),
    ("zypper -n in $PKGS", [("install", [], ["package list uses a variable or command ($PKGS); it is not recorded"])]),
    ("zypper --no-gpg-checks -n in curl", [("install", [("curl", None)], ["zypper runs with signature checks off (--no-gpg-checks)"])]),
    ("zypper -n dup", [("dist-upgrade", [], ["zypper dist-upgrade takes whatever the repositories serve; it is not recorded"])]),
    ("zypper ref && zypper clean -a", [("refresh", [], []), ("clean", [], [])]),
    ("zypper -n rm vim", [("remove", [], [])]),
    ("zypper --help", []),
]  # fmt: skip


def _installs(run: str) -> list[zypper.Target]:
    """The targets of the RUN's installing zypper commands, in order, each name once."""
    found: dict[str, zypper.Target] = {}
    for command in zypper.zypper_commands(run_invocations(run)):
        for target in command.targets if command.installs else ():
            found.setdefault(target.name, target)
    return list(found.values())


@pytest.mark.parametrize(("run", "expected"), COMMANDS, ids=[run for run, _ in COMMANDS])
def test_commands(
    run: str, expected: list[tuple[str, list[tuple[str, str | None]], list[str]]]
) -> None:
    found = zypper.zypper_commands(run_invocations(run))
    assert [
        (c.verb, [(t.name, t.constraint) for t in c.targets], list(c.notes)) for c in found
    ] == expected


GLOBALS = [
    ("zypper -n --config /etc/zypp/a.conf in curl", "/etc/zypp/a.conf", None),
    ("zypper --config=/etc/zypp/a.conf -n in curl", "/etc/zypp/a.conf", None),
    # getopt_long: short options cluster, a value may be glued, a long name may be abbreviated.
    ("zypper -nc /etc/zypp/a.conf in curl", "/etc/zypp/a.conf", None),
    ("zypper -n -c/etc/zypp/a.conf in curl", "/etc/zypp/a.conf", None),
    ("zypper --non-inter --conf /etc/zypp/a.conf in curl", "/etc/zypp/a.conf", None),
    ("zypper --root /mnt -n --releasever 16.0 in curl", None, None),
    # install's options are not global: zypper refuses them before the verb.
    ("zypper --oldpackage -n in curl", None, "--oldpackage"),
    ("zypper -n --force-resolution in curl", None, "--force-resolution"),
    ("zypper -n --no-recommends in curl", None, "--no-recommends"),
    ("zypper -ny in curl", None, "-ny"),
    # Ambiguous: --color and --config.
    ("zypper --co=/etc/zypp/a.conf in curl", None, "--co=/etc/zypp/a.conf"),
    ("zypper --no-gpg-checks=yes in curl", None, "--no-gpg-checks=yes"),
]


@pytest.mark.parametrize(("run", "config", "refused"), GLOBALS, ids=[r for r, _, _ in GLOBALS])
def test_global_options(run: str, config: str | None, refused: str | None) -> None:
    (command,) = zypper.zypper_commands(run_invocations(run))
    assert (command.verb, [t.name for t in command.targets]) == ("install", ["curl"])
    assert (command.config, command.refused) == (config, refused)


def test_global_terse_is_not_install_type() -> None:
    """-t before the verb is --terse; after it, install's --type."""
    (command,) = zypper.zypper_commands(run_invocations("zypper -t -n in curl"))
    assert [t.name for t in command.targets] == ["curl"]
    assert "--terse" in command.options


def test_installs_spans() -> None:
    run = "zypper -n in -y curl \\\n    git && zypper -n in curl"
    assert [(t.name, run[t.start : t.end]) for t in _installs(run)] == [
        ("curl", "curl"),
        ("git", "git"),
    ]


AUX = "/var/cache/ldconfig/aux-cache"
LEFT = f"rm -rf /var/log/zypp* /var/lib/zypp/AnonymousUniqueId {AUX}"
CLEANUPS = [
    ("zypper -n in -y curl", f"zypper clean -a && {LEFT}"),
    # The shell reads one word `zypper` where the text never spells it out.
    ('zyp"per" -n in -y curl', f"zypper clean -a && {LEFT}"),
    ("zypper -n in -y curl && zypper clean -a", LEFT),
    ("zypper -n in -y curl && zypper cc -a", LEFT),
    ("zypper -n in -y curl && rm -rf /var/cache/zypp/*", LEFT),
    ("--mount=type=cache,target=/var/cache/zypp zypper -n in -y curl", LEFT),
    ("zypper -n in --dry-run curl", None),
    (
        "--mount=type=cache,target=/var/cache/zypp --mount=type=tmpfs,target=/var/log"
        " zypper -n in curl",
        f"rm -rf /var/lib/zypp/AnonymousUniqueId {AUX}",
    ),
    ("zypper ref", None),
    # Each part is judged by the files zypper writes: folders, globs and parents count.
    (f"zypper -n in curl && zypper cc -a && rm -rf /var/log/* /var/lib/zypp {AUX}", None),
    ("zypper -n in curl && rm -rf /var/cache /var/log /var/lib/zypp/AnonymousUniqueId", None),
    (
        f"zypper -n in curl && zypper cc -a && rm -rf /var/log/zypp {AUX}",
        "rm -rf /var/log/zypp* /var/lib/zypp/AnonymousUniqueId",
    ),
    (
        "zypper -n in curl && zypper cc -a && rm -f /var/log/zypper.log /var/log/zypp/history",
        f"rm -rf /var/lib/zypp/AnonymousUniqueId {AUX}",
    ),
    # zypper clean writes zypper.log again: an rm before it does not count.
    (f"zypper -n in curl && rm -rf /var/log/* /var/lib/zypp {AUX} && zypper cc -a", LEFT),
]


@pytest.mark.parametrize(("run", "expected"), CLEANUPS, ids=[run for run, _ in CLEANUPS])
def test_cleanup(run: str, expected: str | None) -> None:
    # run stands for a RUN's arguments: its --mount flags are read as the rewrite reads them.
    mounts = mounted(run)
    assert zypper.cleanup(run, run_invocations(run), mounts=mounts) == expected
    if expected is not None:
        assert shell_syntax.run_errors(f"RUN {run} && {expected}\n") == []
        again = f"{run} && {expected}"
        assert zypper.cleanup(again, run_invocations(again), mounts=mounts) is None


def test_pin_word() -> None:
    assert zypper.pin_word("curl", "8.0.1-150400.5.41.1") == "curl=8.0.1-150400.5.41.1"


TUMBLEWEED_RELEASE = (
    b'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nVERSION_ID="20261128"\n'
)
LEAP_RELEASE = b'NAME="openSUSE Leap"\nVERSION="15.6"\nID="opensuse-leap"\nVERSION_ID="15.6"\n'
REPO_OSS = b"""[repo-oss]
name=openSUSE-Tumbleweed-Oss
enabled=1
autorefresh=1
baseurl=http://download.opensuse.org/tumbleweed/repo/oss/
path=/
type=rpm-md
keeppackages=0
"""
REPO_NON_OSS = REPO_OSS.replace(b"oss", b"non-oss").replace(b"Oss", b"Non-Oss")
REPO_UPDATE = b"""[repo-update]
name=openSUSE-Tumbleweed-Update
enabled=1
autorefresh=1
baseurl=http://download.opensuse.org/update/tumbleweed/
path=/
type=rpm-md
keeppackages=0
"""


def _tumbleweed(**extra: bytes) -> dict[str, bytes]:
    files = {
        "/etc/os-release": TUMBLEWEED_RELEASE,
        "/etc/zypp/repos.d/repo-oss.repo": REPO_OSS,
        "/etc/zypp/repos.d/repo-non-oss.repo": REPO_NON_OSS,
        "/etc/zypp/repos.d/repo-update.repo": REPO_UPDATE,
    }
    files.update(extra)
    return files


def test_configure_tumbleweed() -> None:
    config = zypper.configure(_tumbleweed(), "amd64")
    assert isinstance(config, zypper.ZypperConfig)
    assert (config.distro, config.release, config.arch) == (
        "opensuse-tumbleweed",
        "20261128",
        "x86_64",
    )
    assert [(r.alias, r.baseurls, r.enabled) for r in config.repos] == [
        ("repo-non-oss", ("http://download.opensuse.org/tumbleweed/repo/non-oss/",), True),
        ("repo-oss", ("http://download.opensuse.org/tumbleweed/repo/oss/",), True),
        ("repo-update", ("http://download.opensuse.org/update/tumbleweed/",), True),
    ]


CONFIGURE_REFUSALS = [
    ({"/etc/os-release": b"ID=fedora\n"}, "amd64", "/etc/os-release names fedora, not openSUSE Tumbleweed or Leap"),
    (_tumbleweed(), "arm64", "download.opensuse.org's history serves x86_64 alone, not arm64"),
    ({"/etc/os-release": LEAP_RELEASE}, "amd64", "the base image enables no repository in /etc/zypp/repos.d"),
    (_tumbleweed(**{"/etc/zypp/repos.d/x.repo": b"[x]\nnonsense\n"}), "amd64", "/etc/zypp/repos.d/x.repo:2: not a repository setting"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("files", "arch", "why"), CONFIGURE_REFUSALS, ids=[w for _, _, w in CONFIGURE_REFUSALS]
)
def test_configure_refuses(files: dict[str, bytes], arch: str, why: str) -> None:
    assert zypper.configure(files, arch) == why


def test_history_dates_and_choice() -> None:
    dates = zypper.history_dates(b"20261125\n20261128\n20261130\n20261201\n")
    assert zypper.history_date(dates, "20261201T101500Z") == "20261130"
    assert zypper.history_date(dates, "20261129T000000Z") == "20261128"
    assert zypper.history_date(dates, "20261125T235959Z") is None
    with pytest.raises(ValueError, match=r"history/list:2: '<html>' is not a date"):
        zypper.history_dates(b"20261125\n<html>\n")


def test_step() -> None:
    config = zypper.configure(_tumbleweed(), "amd64")
    assert isinstance(config, zypper.ZypperConfig)
    found = zypper.step(config, "20261130", {})
    assert found == zypper.Step(
        "sed -i 's#^baseurl=http://download.opensuse.org/tumbleweed/#"
        "baseurl=https://download.opensuse.org/history/20261130/tumbleweed/#'"
        " /etc/zypp/repos.d/repo-non-oss.repo /etc/zypp/repos.d/repo-oss.repo",
        ("repo-non-oss", "repo-oss"),
        ("repository repo-update is not in the history; it is not pinned",),
    )
    for name, argv in checkers():
        assert syntax.errors(found.line, [(name, argv)]) == []


def test_step_for_leap_and_without_tumbleweed_repos() -> None:
    leap = zypper.configure(
        {"/etc/os-release": LEAP_RELEASE, "/etc/zypp/repos.d/a.repo": REPO_UPDATE}, "amd64"
    )
    assert isinstance(leap, zypper.ZypperConfig)
    assert zypper.step(leap, "20261130", {}) == (
        "opensuse-leap has no dated history; its packages are pinned by version"
    )
    only_update = zypper.configure(
        {"/etc/os-release": TUMBLEWEED_RELEASE, "/etc/zypp/repos.d/a.repo": REPO_UPDATE}, "amd64"
    )
    assert isinstance(only_update, zypper.ZypperConfig)
    assert zypper.step(only_update, "20261130", {}) == (
        "no enabled repository is Tumbleweed's own (download.opensuse.org/tumbleweed)"
    )


def test_a_repomd_error_names_its_subject_once() -> None:
    leap = zypper.configure(
        {"/etc/os-release": LEAP_RELEASE, "/etc/zypp/repos.d/a.repo": REPO_UPDATE}, "amd64"
    )
    assert isinstance(leap, zypper.ZypperConfig)

    async def fetch(url: str, subject: str, limit: int) -> bytes:
        return b"<repomd/>"

    source = managers.Source(fetch, leap, {})
    with pytest.raises(MirrorError) as raised:
        asyncio.run(zypper.Zypper().resolve(source, [PackageArg("curl", None, 0, 4)], Mode("")))
    assert str(raised.value) == (
        "[repo-update] http://download.opensuse.org/update/tumbleweed/repodata/repomd.xml:"
        " repomd.xml names no primary metadata"
    )


# enabled= and priority= values, each as zypper reads it: (enabled, priority).
SETTINGS = {
    "1": (True, 1),
    "0": (False, 99),
    "2": (True, 2),
    "01": (True, 1),
    "1x": (True, 1),
    "12abc": (True, 12),
    "yes": (True, 99),
    "TRUE": (True, 99),
    "On": (True, 99),
    "always": (True, 99),
    "+": (True, 99),
    "no": (False, 99),
    "off": (False, 99),
    "never": (False, 99),
    "perhaps": (False, 99),
    "": (False, 99),
    "-1": (True, 4294967295),
    "+5": (True, 5),
    "1_0": (True, 1),
    "99999999999": (True, 1215752191),
    "9" * 30: (True, 4294967295),
}


def test_enabled_and_priority_read_as_zypper_reads_them() -> None:
    found = {}
    for value in SETTINGS:
        text = f"[x]\nbaseurl=http://127.0.0.1:9/r\nenabled={value}\npriority={value}\n"
        (repo,) = zypper.parse_repo_file("/etc/zypp/repos.d/x.repo", text.encode())
        found[value] = (repo.enabled, repo.priority)
    assert found == SETTINGS


@pytest.mark.skipif(shutil.which("zypper") is None, reason="needs zypper (Debian: zypper)")
def test_the_settings_are_what_zypper_reads(tmp_path: Path) -> None:
    """The real zypper's `repos -p` of a repository per value, against SETTINGS."""
    folder = tmp_path / "etc/zypp/repos.d"
    folder.mkdir(parents=True)
    for n, value in enumerate(SETTINGS):
        text = f"[r{n}]\nname=r\nbaseurl=http://127.0.0.1:9/r\nenabled={value}\npriority={value}\n"
        (folder / f"r{n}.repo").write_text(text)
    listed = subprocess.run(
        ["zypper", "--root", str(tmp_path), "--non-interactive", "repos", "-p"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = [[cell.strip() for cell in line.split("|")] for line in listed.splitlines()]
    read = {r[1]: (r[3] == "Yes", int(r[6])) for r in rows if len(r) == 7 and r[0].isdigit()}
    assert read == {f"r{n}": expected for n, expected in enumerate(SETTINGS.values())}


@pytest.mark.skipif(shutil.which("zypper") is None, reason="needs zypper (Debian: zypper)")
def test_step_on_files_zypper_wrote(tmp_path: Path) -> None:
    """zypper's own addrepo writes the files; after the step zypper reads the history's URLs."""
    root = tmp_path / "root"

    def run(*args: str) -> str:
        return subprocess.run(
            ["zypper", "--root", str(root), "--non-interactive", *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    run("addrepo", "https://cdn.opensuse.org/tumbleweed/repo/oss/", "repo-oss")
    run("addrepo", "http://download.opensuse.org/tumbleweed/repo/non-oss/", "repo-non-oss")
    run("addrepo", "http://download.opensuse.org/update/tumbleweed/", "repo-update")
    repos_d = root / "etc" / "zypp" / "repos.d"
    files = {f"/etc/zypp/repos.d/{p.name}": p.read_bytes() for p in repos_d.iterdir()}
    files["/etc/os-release"] = TUMBLEWEED_RELEASE
    config = zypper.configure(files, "amd64")
    assert isinstance(config, zypper.ZypperConfig)
    found = zypper.step(config, "20261130", {"opensuse": "http://127.0.0.1:9/history"})
    assert isinstance(found, zypper.Step)
    line = found.line.replace("/etc/zypp/repos.d", str(repos_d))
    subprocess.run(["sh", "-c", line], check=True)
    listed = run("--no-refresh", "repos", "--uri")
    assert "http://127.0.0.1:9/history/20261130/tumbleweed/repo/oss/" in listed
    assert "http://127.0.0.1:9/history/20261130/tumbleweed/repo/non-oss/" in listed
    assert "http://download.opensuse.org/update/tumbleweed/" in listed


def test_step_leaves_a_repository_with_several_urls() -> None:
    two = REPO_OSS.replace(b"path=/", b"baseurl=http://10.0.0.1:3128/tumbleweed/repo/oss/\npath=/")
    config = zypper.configure(_tumbleweed(**{"/etc/zypp/repos.d/repo-oss.repo": two}), "amd64")
    assert isinstance(config, zypper.ZypperConfig)
    found = zypper.step(config, "20261130", {})
    assert isinstance(found, zypper.Step)
    assert found.pinned == ("repo-non-oss",)
    assert "repository repo-oss is not in the history; it is not pinned" in found.notes


def test_aliases_from_the_image_are_printed_without_control_characters() -> None:
    evil = REPO_UPDATE.replace(b"[repo-update]", b"[up\x1b[2Jdate]")
    config = zypper.configure(_tumbleweed(**{"/etc/zypp/repos.d/repo-update.repo": evil}), "amd64")
    assert isinstance(config, zypper.ZypperConfig)
    found = zypper.step(config, "20261130", {})
    assert isinstance(found, zypper.Step)
    assert "repository up [2Jdate is not in the history; it is not pinned" in found.notes
    # An ID that is no os-release identifier is left out, control characters and all.
    assert zypper.configure({"/etc/os-release": b"ID=\x1b[31mx\n"}, "amd64") == (
        "/etc/os-release names no ID, not openSUSE Tumbleweed or Leap"
    )
    assert zypper.configure({"/etc/os-release": b"ID=debian\n"}, "amd64") == (
        "/etc/os-release names debian, not openSUSE Tumbleweed or Leap"
    )


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("zypper ar -f https://example.org/repo extra", "runs zypper addrepo"),
        ("zypper -n mr -e repo-debug", "runs zypper modifyrepo"),
        ("cp my.repo /etc/zypp/repos.d/", "changes /etc/zypp/repos.d"),
        ("zypper -n in -y curl", None),
    ],
)  # fmt: skip
def test_config_changes(run: str, expected: str | None) -> None:
    assert zypper.MANAGER.config_changes(run, "\\") == expected


@needs_rpm_tools
@pytest.mark.parametrize("forced", [False, True])
def test_a_conflict_with_an_installed_package_under_force_resolution(
    tmp_path: Path, forced: bool
) -> None:
    """zypper --force-resolution gets past foo's conflict with the installed bar by removing bar
    (libsolv's allowuninstall); pinner refuses either way, and says so."""
    build_repo([Spec("foo", "1.0", conflicts=("bar",))], tmp_path / "update" / "tumbleweed")
    leap = zypper.configure(
        {"/etc/os-release": LEAP_RELEASE, "/etc/zypp/repos.d/a.repo": REPO_UPDATE}, "amd64"
    )
    assert isinstance(leap, zypper.ZypperConfig)
    evr = parse_evr("1.0-1")
    bar = rpmdb.Installed("bar", evr, "noarch", (Provide("bar", "EQ", evr),), ())
    leap = leap._replace(installed=(bar,))

    async def fetch(url: str, subject: str, limit: int) -> bytes:
        return (tmp_path / url.removeprefix("http://mirror.test/")).read_bytes()

    manager = zypper.Zypper()
    option = " --force-resolution" if forced else ""
    (invocation,) = run_invocations(f"zypper -n in{option} foo")
    install = manager.installs(invocation)
    assert install is not None
    source = managers.Source(fetch, leap, {"opensuse": "http://mirror.test"})
    with pytest.raises(PackageError) as raised:
        asyncio.run(manager.resolve(source, install.packages, Mode("")))
    said = "with --force-resolution zypper may remove installed packages"
    assert "foo conflicts with bar" in str(raised.value)
    assert (said in str(raised.value)) == forced
