"""Which provider dnf installs for a capability several packages provide, against the real dnf.

libsolv's policy_filter_unwanted (src/policy.c, POLICY_MODE_CHOOSE) orders the candidates: the
newest build of each name, names in strcmp order, a provider another one obsoletes dropped; then
those a decided package recommends, or whose supplements the decided packages meet, if any are;
then reordered: by a versioned provide they share, the higher version first (sort_by_common_dep),
a name the image has installed to the front (move_installed_to_front), and before all those
the ones a decided package suggests or that enhance one (prefer_suggested). The first is taken.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rpmrepo import (
    Spec,
    build_repo,
    dnf_install,
    dnf_refusal,
    dnf_would_install,
    needs_rpm_tools,
    repo_packages,
    rpmdb_path,
)

from pinner.apt.shell import run_invocations
from pinner.managers.repodata import RpmPackage
from pinner.managers.rpmcommands import PROGRAMS, RpmCommand, read_command
from pinner.managers.rpmconfig import RpmConfig, configure, enabled_repos
from pinner.managers.rpmdb import read_rpmdb
from pinner.managers.rpmresolve import Pool, resolve
from pinner.managers.zypper import _resolve_commands

SPECS = [
    # Two names: strcmp order, whatever order the repository lists them in.
    Spec("zz-shell", "1.0", provides=("shell-x",)),
    Spec("aa-shell", "1.0", provides=("shell-x",)),
    Spec("needs-shell", "1.0", requires=("shell-x",)),
    # A package named as the capability, and another name before it.
    Spec("mta", "1.0"),
    Spec("exim", "1.0", provides=("mta",)),
    Spec("needs-mta", "1.0", requires=("mta",)),
    # A versioned provide both share: the higher version first.
    Spec("va", "1.0", provides=("vshell = 1.0",)),
    Spec("vb", "1.0", provides=("vshell = 2.0",)),
    Spec("needs-vshell", "1.0", requires=("vshell",)),
    Spec("vrec-user", "1.0", requires=("vshell",), recommends=("va",)),  # recommended first
    # The package that needs it recommends one provider.
    Spec("ra", "1.0", provides=("rshell",)),
    Spec("rz", "1.0", provides=("rshell",)),
    Spec("rec-user", "1.0", requires=("rshell",), recommends=("rz",)),
    # One provider supplements the package that needs it.
    Spec("sa", "1.0", provides=("sshell",)),
    Spec("sz", "1.0", provides=("sshell",), supplements=("sup-user",)),
    Spec("sup-user", "1.0", requires=("sshell",)),
    # The package that needs it suggests one provider, or one provider enhances it.
    Spec("ga", "1.0", provides=("gshell",)),
    Spec("gz", "1.0", provides=("gshell",)),
    Spec("sug-user", "1.0", requires=("gshell",), suggests=("gz",)),
    Spec("ea", "1.0", provides=("eshell",)),
    Spec("ez", "1.0", provides=("eshell",), enhances=("enh-user",)),
    Spec("enh-user", "1.0", requires=("eshell",)),
    Spec("vsug-user", "1.0", requires=("vshell",), suggests=("va",)),  # suggested first
    # A Recommends several packages meet: one is installed, chosen as for a requirement.
    Spec("wrec", "1.0", recommends=("shell-x",)),
    Spec("wrec-v", "1.0", recommends=("vshell",)),
    # Versions of one name: the newest build, names still in order.
    Spec("ma", "1.0", provides=("mshell",)),
    Spec("ma", "2.0", provides=("mshell",)),
    Spec("mb", "3.0", provides=("mshell",)),
    Spec("needs-mshell", "1.0", requires=("mshell",)),
    # One provider's name is installed at a build that does not provide it yet.
    Spec("ia", "1.0", provides=("ishell",)),
    Spec("iz", "1.0"),
    Spec("iz", "2.0", provides=("ishell",)),
    Spec("needs-ishell", "1.0", requires=("ishell",)),
    # An installed package suggests one provider.
    Spec("ha", "1.0", provides=("hshell",)),
    Spec("hz", "1.0", provides=("hshell",)),
    Spec("sug-holder", "1.0", suggests=("hz",)),
    Spec("needs-hshell", "1.0", requires=("hshell",)),
]

# (words, weak_deps): what `dnf install words` installs on an empty root.
CASES = [
    pytest.param(["needs-shell"], True, id="names-in-order"),
    pytest.param(["shell-x"], True, id="word-names-in-order"),
    pytest.param(["needs-mta"], True, id="a-package-named-as-the-capability"),
    pytest.param(["needs-vshell"], True, id="higher-shared-provide-version"),
    pytest.param(["vshell"], True, id="word-higher-shared-provide-version"),
    pytest.param(["rec-user"], True, id="recommended-provider"),
    pytest.param(["vrec-user"], True, id="recommended-before-higher-shared-provide-version"),
    pytest.param(["rec-user"], False, id="recommended-provider-without-weak-deps"),
    pytest.param(["sup-user"], True, id="supplementing-provider"),
    pytest.param(["sup-user"], False, id="supplementing-provider-without-weak-deps"),
    pytest.param(["sug-user"], True, id="suggested-provider"),
    pytest.param(["sug-user"], False, id="suggested-provider-without-weak-deps"),
    pytest.param(["enh-user"], True, id="enhancing-provider"),
    pytest.param(["vsug-user"], True, id="suggested-before-higher-shared-provide-version"),
    pytest.param(["wrec"], True, id="recommends-names-in-order"),
    pytest.param(["wrec-v"], True, id="recommends-higher-shared-provide-version"),
    pytest.param(["needs-mshell"], True, id="newest-build-of-each-name"),
    pytest.param(["needs-ishell"], True, id="no-name-installed"),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo(SPECS, tmp_path_factory.mktemp("rpm-providers") / "repo")


def _nevras(packages: tuple[RpmPackage, ...]) -> list[str]:
    return sorted(f"{p.name}-{p.evr}.{p.arch}" for p in packages)


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(("words", "weak_deps"), CASES)
def test_provider_is_the_one_dnf_installs(
    repo: Path, tmp_path: Path, words: list[str], weak_deps: bool
) -> None:
    expected = dnf_would_install(tmp_path, repo, words, weak_deps=weak_deps)
    found = resolve(Pool(repo_packages(repo), (), "x86_64"), words, weak_deps=weak_deps)
    assert _nevras(found.chosen) == expected
    assert found.missing == ()


@pytest.fixture(scope="module")
def with_iz(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installroot holding iz 1.0, which does not provide ishell, and sug-holder."""
    root = tmp_path_factory.mktemp("root-iz")
    dnf_install(root, repo, ["iz-1.0", "sug-holder"], "--setopt=install_weak_deps=False")
    return root


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("words", "taken"),
    [
        (["needs-ishell"], "iz-2.0-1.noarch"),
        (["ishell"], "iz-2.0-1.noarch"),
        (["needs-hshell"], "hz-1.0-1.noarch"),
    ],
    ids=["installed-name-requirement", "installed-name-word", "installed-package-suggests"],
)
def test_what_is_installed_weighs_as_dnf_weighs_it(
    repo: Path, with_iz: Path, words: list[str], taken: str
) -> None:
    root = with_iz.parent / f"{with_iz.name}-{words[0]}"
    shutil.copytree(with_iz, root, symlinks=True, dirs_exist_ok=True)
    expected = dnf_would_install(root, repo, words)
    installed = read_rpmdb(rpmdb_path(with_iz).read_bytes())
    found = resolve(Pool(repo_packages(repo), installed, "x86_64"), words)
    assert _nevras(found.chosen) == expected
    assert taken in expected


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize("best", ["True", "False"])
@pytest.mark.parametrize("words", [["shell-x"], ["vshell"], ["rec-user"], ["mshell"]], ids=str)
def test_best_does_not_change_the_provider(
    repo: Path, tmp_path: Path, words: list[str], best: str
) -> None:
    """dnf's `best` makes libsolv keep the best build of each candidate name (solver_addbestrules
    prunes in POLICY_MODE_RECOMMEND, which keeps every name): the name is chosen as without it."""
    expected = dnf_would_install(tmp_path, repo, words, f"--setopt=best={best}")
    found = resolve(Pool(repo_packages(repo), (), "x86_64"), words)
    assert _nevras(found.chosen) == expected


def _zypper(root: Path, *args: str) -> str:
    # ZYPP_LOGFILE keeps zypper's log under root, not in this machine's /var/log.
    env = {**os.environ, "ZYPP_LOGFILE": f"{root}/var/log/zypper.log"}
    command = ["zypper", "--root", str(root), "--non-interactive", "--no-gpg-checks", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture(scope="module")
def zypper_root(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty root whose one zypper repository is the providers' repository."""
    if shutil.which("zypper") is None:
        pytest.skip("needs zypper (Debian: zypper)")
    root = tmp_path_factory.mktemp("zypper-providers")
    (root / "var/log").mkdir(parents=True)
    _zypper(root, "addrepo", "--no-gpgcheck", f"file://{repo}", "local")
    _zypper(root, "refresh")
    return root


_NEW = re.compile(r"NEW packages? (?:is|are) going to be installed:\n((?:  .*\n)+)")

ZYPPER_WORDS = [
    ["needs-shell"], ["shell-x"], ["needs-mta"], ["needs-vshell"], ["vshell"], ["rec-user"],
    ["vrec-user"], ["sup-user"], ["sug-user"], ["enh-user"], ["vsug-user"], ["needs-mshell"],
]  # fmt: skip


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize("recommends", [True, False], ids=["recommends", "no-recommends"])
@pytest.mark.parametrize("words", ZYPPER_WORDS, ids=str)
def test_provider_is_the_one_zypper_installs(
    repo: Path, zypper_root: Path, words: list[str], recommends: bool
) -> None:
    """zypper (libzypp over the same libsolv) takes the same provider."""
    flag = "--recommends" if recommends else "--no-recommends"
    out = _zypper(zypper_root, "install", "--dry-run", flag, *words)
    listed = _NEW.search(out)
    assert listed is not None, out
    found = resolve(Pool(repo_packages(repo), (), "x86_64"), words, weak_deps=recommends)
    assert sorted(p.name for p in found.chosen) == sorted(listed[1].split())


# A second repository with dnf priority 10 (the first has dnf's default, 99).
PRIORITY_SPECS = [
    Spec("plib", "1.0"),
    Spec("pz", "1.0", provides=("pcap",)),
    Spec("needs-plib", "1.0", requires=("plib",)),
]
MAIN_SPECS = [
    Spec("plib", "2.0"),
    Spec("pa", "1.0", provides=("pcap",)),
    Spec("needs-pcap", "1.0", requires=("pcap",)),
]


def _dnf_two_repos(root: Path, main: Path, other: Path, words: list[str], best: str) -> list[str]:
    """What `dnf install --assumeno words` would install from main and other (priority 10)."""
    result = subprocess.run(
        [
            "dnf",
            f"--installroot={root}",
            "--releasever=1",
            "--setopt=reposdir=/nonexistent",
            f"--setopt=cachedir={root}/cache",
            f"--repofrompath=main,file://{main}",
            f"--repofrompath=other,file://{other}",
            "--repo=main",
            "--repo=other",
            "--setopt=other.priority=10",
            f"--setopt=best={best}",
            "--nogpgcheck",
            "install",
            "--assumeno",
            *words,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Operation aborted" in result.stdout + result.stderr, result.stdout + result.stderr
    rows = re.findall(r"^ (\S+)\s+(\S+)\s+(\S+)\s+(?:main|other)\s", result.stdout, re.MULTILINE)
    return sorted(f"{n}-{evr}.{arch}" for n, arch, evr in rows)


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize("best", ["True", "False"])
@pytest.mark.parametrize(
    ("words", "taken"),
    [
        (["plib"], "plib-1.0-1.noarch"),
        (["needs-plib"], "plib-1.0-1.noarch"),
        (["needs-pcap"], "pz-1.0-1.noarch"),
        (["pcap"], "pz-1.0-1.noarch"),
    ],
    ids=["word", "requirement", "provider-requirement", "provider-word"],
)
def test_repository_priority_wins_as_dnf_weighs_it(
    tmp_path_factory: pytest.TempPathFactory, words: list[str], taken: str, best: str
) -> None:
    base = tmp_path_factory.mktemp("rpm-priority")
    main = build_repo(MAIN_SPECS, base / "main")
    other = build_repo(PRIORITY_SPECS, base / "other")
    expected = _dnf_two_repos(base / "root", main, other, words, best)
    packages = repo_packages(main) + [p._replace(priority=10) for p in repo_packages(other)]
    found = resolve(Pool(packages, (), "x86_64"), words)
    assert _nevras(found.chosen) == expected
    assert taken in expected


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize("words", [["plib"], ["needs-plib"], ["needs-pcap"]], ids=str)
def test_repository_priority_wins_as_zypper_weighs_it(
    tmp_path_factory: pytest.TempPathFactory, words: list[str]
) -> None:
    if shutil.which("zypper") is None:
        pytest.skip("needs zypper (Debian: zypper)")
    base = tmp_path_factory.mktemp("zypper-priority")
    main = build_repo(MAIN_SPECS, base / "main")
    other = build_repo(PRIORITY_SPECS, base / "other")
    root = base / "root"
    (root / "var/log").mkdir(parents=True)
    _zypper(root, "addrepo", "--no-gpgcheck", f"file://{main}", "main")
    _zypper(root, "addrepo", "--no-gpgcheck", "--priority", "10", f"file://{other}", "other")
    _zypper(root, "refresh")
    listed = _NEW.search(_zypper(root, "install", "--dry-run", *words))
    assert listed is not None
    packages = repo_packages(main) + [p._replace(priority=10) for p in repo_packages(other)]
    found = resolve(Pool(packages, (), "x86_64"), words)
    assert sorted(p.name for p in found.chosen) == sorted(listed[1].split())
    assert {p.priority for p in found.chosen if p.name in ("plib", "pz")} == {10}


# Conflicts: libsolv's conflict rules decide a candidate out before the policy orders the rest,
# where a build older than its name's newest goes behind the other names (dislike_old_versions).
CONFLICT_SPECS = [
    # An installed package conflicts with the first provider.
    Spec("ca", "1.0", provides=("cshell",)),
    Spec("cz", "1.0", provides=("cshell",)),
    Spec("chold", "1.0", conflicts=("ca",)),
    Spec("needs-cshell", "1.0", requires=("cshell",)),
    # The first provider conflicts with an installed package.
    Spec("da", "1.0", provides=("dshell",), conflicts=("dhold",)),
    Spec("dz", "1.0", provides=("dshell",)),
    Spec("dhold", "1.0"),
    Spec("needs-dshell", "1.0", requires=("dshell",)),
    # Another word of the command conflicts with the first provider, or it with that word.
    Spec("fa", "1.0", provides=("fshell",)),
    Spec("fz", "1.0", provides=("fshell",)),
    Spec("fblock", "1.0", conflicts=("fa",)),
    Spec("needs-fshell", "1.0", requires=("fshell",)),
    Spec("ka", "1.0", provides=("kshell",), conflicts=("kblock",)),
    Spec("kz", "1.0", provides=("kshell",)),
    Spec("kblock", "1.0"),
    Spec("needs-kshell", "1.0", requires=("kshell",)),
    # A versioned Conflicts: only the newer build of the first name conflicts.
    Spec("na", "1.0", provides=("nshell",)),
    Spec("na", "2.0", provides=("nshell",)),
    Spec("nz", "1.0", provides=("nshell",)),
    Spec("nblock", "1.0", conflicts=("na >= 2.0",)),
    Spec("needs-nshell", "1.0", requires=("nshell",)),
    # Only the name's older build is left: taken (nothing else provides it).
    Spec("oa", "1.0", provides=("oshell",)),
    Spec("oa", "2.0", provides=("oshell",)),
    Spec("oblock", "1.0", conflicts=("oa >= 2.0",)),
    Spec("needs-oshell", "1.0", requires=("oshell",)),
    # No conflict: the first name's newer build does not provide it (dislike_old_versions).
    Spec("ua", "1.0", provides=("ushell",)),
    Spec("ua", "2.0"),
    Spec("uz", "1.0", provides=("ushell",)),
    Spec("needs-ushell", "1.0", requires=("ushell",)),
    # The one provider conflicts: dnf refuses.
    Spec("la", "1.0", provides=("lshell",)),
    Spec("lblock", "1.0", conflicts=("lshell",)),
    Spec("needs-lshell", "1.0", requires=("lshell",)),
    Spec("xa", "1.0", provides=("xshell",), conflicts=("dhold",)),
    Spec("needs-xshell", "1.0", requires=("xshell",)),
]


@pytest.fixture(scope="module")
def conflicts_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo(CONFLICT_SPECS, tmp_path_factory.mktemp("rpm-conflicts") / "repo")


@pytest.fixture(scope="module")
def holders(conflicts_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installroot holding chold (Conflicts: ca) and dhold (which da conflicts with)."""
    root = tmp_path_factory.mktemp("root-holders") / "root"
    dnf_install(root, conflicts_repo, ["chold", "dhold"])
    return root


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("words", "on_holders", "taken"),
    [
        (["needs-cshell"], True, "cz-1.0-1.noarch"),
        (["cshell"], True, "cz-1.0-1.noarch"),
        (["needs-dshell"], True, "dz-1.0-1.noarch"),
        (["needs-fshell", "fblock"], False, "fz-1.0-1.noarch"),
        (["fblock", "needs-fshell"], False, "fz-1.0-1.noarch"),
        (["fshell", "fblock"], False, "fz-1.0-1.noarch"),
        (["needs-kshell", "kblock"], False, "kz-1.0-1.noarch"),
        (["needs-nshell", "nblock"], False, "nz-1.0-1.noarch"),
        (["needs-oshell", "oblock"], False, "oa-1.0-1.noarch"),
        # dnf lists oa-2.0 under "Skipping packages with conflicts": not installed.
        (["oshell", "oblock"], False, "oa-1.0-1.noarch"),
        (["needs-ushell"], False, "uz-1.0-1.noarch"),
        (["ushell"], False, "uz-1.0-1.noarch"),
    ],
    ids=[
        "installed-conflicts-with-it",
        "word-installed-conflicts-with-it",
        "it-conflicts-with-installed",
        "another-word-conflicts-with-it",
        "another-word-first-conflicts-with-it",
        "word-another-word-conflicts-with-it",
        "it-conflicts-with-another-word",
        "versioned-conflict-older-build-behind-another-name",
        "versioned-conflict-older-build-alone",
        "word-versioned-conflict-older-build-alone",
        "older-build-behind-another-name",
        "word-older-build-behind-another-name",
    ],
)
def test_a_conflicting_provider_is_passed_over_as_dnf_does(
    conflicts_repo: Path,
    holders: Path,
    tmp_path: Path,
    words: list[str],
    on_holders: bool,
    taken: str,
) -> None:
    root = holders if on_holders else tmp_path / "empty"
    expected = dnf_would_install(root, conflicts_repo, words)
    installed = read_rpmdb(rpmdb_path(holders).read_bytes()) if on_holders else ()
    found = resolve(Pool(repo_packages(conflicts_repo), installed, "x86_64"), words)
    assert _nevras(found.chosen) == expected
    assert taken in expected
    assert found.missing == ()


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("words", "on_holders", "why"),
    [
        (["needs-lshell", "lblock"], False, "every provider conflicts (lblock conflicts with la)"),
        (["needs-xshell"], True, "every provider conflicts (xa conflicts with dhold)"),
    ],
    ids=["with-another-word", "with-installed"],
)
def test_no_provider_left_is_missing_as_dnf_refuses(
    conflicts_repo: Path,
    holders: Path,
    tmp_path: Path,
    words: list[str],
    on_holders: bool,
    why: str,
) -> None:
    root = holders if on_holders else tmp_path / "empty"
    problem = dnf_refusal(root, conflicts_repo, words)
    assert "none of the providers can be installed" in problem
    installed = read_rpmdb(rpmdb_path(holders).read_bytes()) if on_holders else ()
    found = resolve(Pool(repo_packages(conflicts_repo), installed, "x86_64"), words)
    (missing,) = found.missing
    assert missing.text == f"{words[0][len('needs-') :]} (needed by {words[0]})"
    assert missing.why == why


ZYPPER_CONFLICT_WORDS = [
    ["needs-fshell", "fblock"], ["fblock", "needs-fshell"], ["fshell", "fblock"],
    ["needs-kshell", "kblock"], ["needs-nshell", "nblock"], ["needs-oshell", "oblock"],
    ["needs-ushell"], ["ushell"],
]  # fmt: skip


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize("words", ZYPPER_CONFLICT_WORDS, ids=str)
def test_a_conflicting_provider_is_passed_over_as_zypper_does(
    conflicts_repo: Path, tmp_path: Path, words: list[str]
) -> None:
    """zypper (libzypp over the same libsolv) passes over the same providers."""
    if shutil.which("zypper") is None:
        pytest.skip("needs zypper (Debian: zypper)")
    (tmp_path / "var/log").mkdir(parents=True)
    _zypper(tmp_path, "addrepo", "--no-gpgcheck", f"file://{conflicts_repo}", "local")
    _zypper(tmp_path, "refresh")
    listed = _NEW.search(_zypper(tmp_path, "install", "--dry-run", *words))
    assert listed is not None
    found = resolve(Pool(repo_packages(conflicts_repo), (), "x86_64"), words)
    assert sorted(p.name for p in found.chosen) == sorted(listed[1].split())


# Two package words that cannot be installed together: libsolv meets neither job's rule without
# breaking the other's, and dnf refuses ("conflicting requests"), whichever word comes first.
REQUEST_CONFLICT_SPECS = [
    Spec("wa", "1.0"),
    Spec("wb", "1.0", conflicts=("wa",)),
    Spec("wc", "1.0", provides=("wcap",)),
    Spec("wd", "1.0", conflicts=("wcap",)),
    # Obsoletes act as a conflict between two packages of one transaction.
    Spec("oa", "1.0"),
    Spec("ob", "1.0", obsoletes=("oa",)),
    Spec("needs-oa", "1.0", requires=("oa",)),
    Spec("pa", "1.0"),
    Spec("pb", "1.0", obsoletes=("pa < 2",)),
]


@pytest.fixture(scope="module")
def request_conflicts_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rpm-request-conflicts") / "repo"
    return build_repo(REQUEST_CONFLICT_SPECS, directory)


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("words", "holding", "refused", "why"),
    [
        (["wa", "wb"], None, "wb", "wb conflicts with wa (conflicting requests)"),
        (["wb", "wa"], None, "wa", "wb conflicts with wa (conflicting requests)"),
        (["wc", "wd"], None, "wd", "wd conflicts with wc (conflicting requests)"),
        (["ob", "oa-1.0"], None, "oa-1.0", "ob obsoletes oa (conflicting requests)"),
        (["oa-1.0", "ob"], None, "ob", "ob obsoletes oa (conflicting requests)"),
        (["ob", "needs-oa"], None, "oa", "every provider conflicts (ob obsoletes oa)"),
        (["wb"], "wa", "wb", "wb conflicts with wa (conflicting requests)"),
        (["wa"], "wb", "wa", "wb conflicts with wa (conflicting requests)"),
    ],
    ids=[
        "second-word-conflicts-with-first",
        "first-word-conflicts-with-second",
        "by-a-provide-of-the-other",
        "obsoletes-another-word",
        "obsoleted-by-a-later-word",
        "obsoletes-what-another-word-needs",
        "conflicts-with-installed",
        "installed-conflicts-with-it",
    ],
)
def test_two_words_that_conflict_are_refused_as_dnf_refuses(
    request_conflicts_repo: Path,
    tmp_path: Path,
    words: list[str],
    holding: str | None,
    refused: str,
    why: str,
) -> None:
    root = tmp_path / "root"
    if holding is not None:
        dnf_install(root, request_conflicts_repo, [holding])
    problem = dnf_refusal(root, request_conflicts_repo, words)
    assert "conflicting requests" in problem
    installed = read_rpmdb(rpmdb_path(root).read_bytes()) if holding is not None else ()
    found = resolve(Pool(repo_packages(request_conflicts_repo), installed, "x86_64"), words)
    (missing,) = found.missing
    assert (missing.name, missing.why) == (refused, why)


@pytest.mark.oracle
@needs_rpm_tools
def test_a_bare_word_another_word_obsoletes_is_not_refused_by_dnf(
    request_conflicts_repo: Path, tmp_path: Path
) -> None:
    """dnf installs the obsoleter for a bare name: `dnf install pb pa` is pb alone."""
    expected = dnf_would_install(tmp_path / "empty", request_conflicts_repo, ["pb", "pa"])
    found = resolve(Pool(repo_packages(request_conflicts_repo), (), "x86_64"), ["pb", "pa"])
    assert _nevras(found.chosen) == expected == ["pb-1.0-1.noarch"]
    assert found.missing == ()


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("words", "why"),
    [
        (["wa", "wb"], "wb conflicts with wa (conflicting requests)"),
        (["wc", "wd"], "wd conflicts with wc (conflicting requests)"),
        (["ob", "needs-oa"], "every provider conflicts (ob obsoletes oa)"),
        # zypper installs pa itself, obsoleted or not, so the two words clash.
        (["pb", "pa"], "pb obsoletes pa (conflicting requests)"),
        (["pa"], None),
    ],
    ids=str,
)
def test_two_words_that_conflict_are_refused_as_zypper_refuses(
    request_conflicts_repo: Path, tmp_path: Path, words: list[str], why: str | None
) -> None:
    if shutil.which("zypper") is None:
        pytest.skip("needs zypper (Debian: zypper)")
    (tmp_path / "var/log").mkdir(parents=True)
    _zypper(tmp_path, "addrepo", "--no-gpgcheck", f"file://{request_conflicts_repo}", "local")
    _zypper(tmp_path, "refresh")
    env = {**os.environ, "ZYPP_LOGFILE": f"{tmp_path}/var/log/zypper.log"}
    command = ["zypper", "--root", str(tmp_path), "--non-interactive", "install", "--dry-run"]
    result = subprocess.run([*command, *words], capture_output=True, text=True, env=env)
    pool = Pool(repo_packages(request_conflicts_repo), (), "x86_64")
    found = _resolve_commands(pool, [(True, [(word, None) for word in words], False)])
    if why is None:
        listed = _NEW.search(result.stdout)
        assert listed is not None, result.stdout
        assert sorted(p.name for p in found.chosen) == sorted(listed[1].split())
        assert found.missing == ()
        return
    assert result.returncode != 0
    assert "Problem:" in result.stdout
    (missing,) = found.missing
    assert missing.why == why


# One build (cpkg-1.0-1) in both repositories, each with its own file, so the two differ.
COST_MAIN_SPECS = [Spec("cpkg", "1.0", files=("/usr/share/cpkg/main",))]
COST_OTHER_SPECS = [Spec("cpkg", "1.0", files=("/usr/share/cpkg/other",))]


def _dnf_rows(
    root: Path, main: Path, other: Path, options: list[str], words: list[str]
) -> dict[str, str]:
    """{name-evr.arch: repository} of what `dnf OPTIONS install --assumeno words` would install
    from the repositories main and other."""
    result = subprocess.run(
        [
            "dnf",
            f"--installroot={root}",
            "--releasever=1",
            "--setopt=reposdir=/nonexistent",
            f"--setopt=cachedir={root}/cache",
            f"--repofrompath=main,file://{main}",
            f"--repofrompath=other,file://{other}",
            "--repo=main",
            "--repo=other",
            "--nogpgcheck",
            *options,
            "install",
            "--assumeno",
            *words,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Operation aborted" in result.stdout + result.stderr, result.stdout + result.stderr
    rows = re.findall(r"^ (\S+)\s+(\S+)\s+(\S+)\s+(main|other)\s", result.stdout, re.MULTILINE)
    return {f"{n}-{evr}.{arch}": repo for n, arch, evr, repo in rows}


def rpm_commands(run: str) -> list[RpmCommand]:
    found = (read_command(i) for i in run_invocations(run) if i.program in PROGRAMS)
    return [command for command in found if command is not None]


def _pinner_rows(main: Path, other: Path, options: list[str], words: list[str]) -> dict[str, str]:
    """The same as pinner reads it: the options from the command's own words, applied to the
    two repositories of an image's .repo file."""
    (command,) = rpm_commands(f"dnf {' '.join(options)} install -y {' '.join(words)}")
    text = f"[main]\nbaseurl=file://{main}\n[other]\nbaseurl=file://{other}\n"
    files = {
        "/etc/os-release": b"ID=fedora\nVERSION_ID=40\n",
        "/etc/yum.repos.d/t.repo": text.encode(),
    }
    config = configure(files, "amd64")
    assert isinstance(config, RpmConfig), config
    packages: list[RpmPackage] = []
    origin: dict[tuple[str, str], str] = {}
    for repo in enabled_repos(config, command.options):
        for package in repo_packages(main if repo.id == "main" else other):
            origin[package.name, package.checksum.hexdigest] = repo.id
            packages.append(package._replace(priority=repo.priority, cost=repo.cost))
    found = resolve(Pool(packages, (), "x86_64"), words)
    return {
        f"{p.name}-{p.evr}.{p.arch}": origin[p.name, p.checksum.hexdigest] for p in found.chosen
    }


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("options", "words", "expected"),
    [
        (["--setopt=other.priority=10"], ["plib"], {"plib-1.0-1.noarch": "other"}),
        (["--setopt", "oth*.priority=10"], ["needs-pcap"], None),
        (
            ["--setopt=other.priority=10", "--setopt=other.priority=99"],
            ["plib"],
            {"plib-2.0-1.noarch": "main"},
        ),
        (["--setopt=main.priority=+5"], ["pcap"], {"pa-1.0-1.noarch": "main"}),
    ],
    ids=["word", "glob-provider", "last-wins", "signed"],
)
def test_a_priority_the_command_sets_wins_as_dnf_weighs_it(
    tmp_path_factory: pytest.TempPathFactory,
    options: list[str],
    words: list[str],
    expected: dict[str, str] | None,
) -> None:
    """`--setopt=REPO.priority=N` on dnf's command line, as dnf reads it."""
    base = tmp_path_factory.mktemp("rpm-setopt-priority")
    main = build_repo(MAIN_SPECS, base / "main")
    other = build_repo(PRIORITY_SPECS, base / "other")
    found = _dnf_rows(base / "root", main, other, options, words)
    assert _pinner_rows(main, other, options, words) == found
    if expected is not None:
        assert found == expected


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("options", "repository"),
    [
        ([], "main"),
        (["--setopt=other.cost=500"], "other"),
        (["--setopt=main.cost=2000"], "other"),
        (["--setopt=main.cost=500"], "main"),
        # Priority first: a worse priority loses whatever its cost.
        (["--setopt=other.priority=98", "--setopt=main.cost=1"], "other"),
    ],
    ids=["default", "cheaper-other", "dearer-main", "cheaper-main", "priority-before-cost"],
)
def test_the_cheapest_repository_serves_a_build_both_hold_as_dnf_takes_it(
    tmp_path_factory: pytest.TempPathFactory, options: list[str], repository: str
) -> None:
    """A repository's cost (`cost=`, `--setopt=REPO.cost=`) decides whose file of one build
    dnf installs, and so the checksum the lock records."""
    base = tmp_path_factory.mktemp("rpm-cost")
    main = build_repo(COST_MAIN_SPECS, base / "main")
    other = build_repo(COST_OTHER_SPECS, base / "other")
    found = _dnf_rows(base / "root", main, other, options, ["cpkg"])
    assert found == {"cpkg-1.0-1.noarch": repository}
    assert _pinner_rows(main, other, options, ["cpkg"]) == found


def test_a_setopt_dnf_refuses_is_kept_for_one_line() -> None:
    (command,) = rpm_commands("dnf --setopt=other.priority=abc --setopt=x.cost=1 install -y a")
    assert command.options.invalid == "--setopt=other.priority=abc: not a number"
    assert command.options.repo_settings == (("x", "cost", 1),)
