"""A stage naming one package twice with different versions: pinner reads the word that decides
what dnf 4 and zypper 1.14 install, each run here on real RPMs (rpmbuild, createrepo_c), and
what pacman 6 installs from databases repo-add made."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from arch_repo import Pkg, needs_pacman, pacman_in, repo_add
from rpmrepo import Spec, _dnf, build_repo, dnf_install, needs_rpm_tools, repo_packages

from pinner import managers
from pinner.apt.shell import run_invocations
from pinner.errors import PackageError
from pinner.managers import PackageArg, alpm, pacman, rpm, zypper
from pinner.managers.rpmresolve import Pool, resolve

SPECS = [Spec("twice", "1.0"), Spec("twice", "2.0")]

# Each case: the install commands of one stage, in order, and the version the tool ends with
# (seen with the real tools; the test runs them again).
DNF_CASES = [
    # A later bare name: "Nothing to do", the earlier command's build stays.
    (["dnf install -y twice-1.0-1", "dnf install -y twice"], "1.0"),
    # A later exact word installs that build, older or newer than the one installed.
    (["dnf install -y twice", "dnf install -y twice-1.0-1"], "1.0"),
    (["dnf install -y twice-1.0-1", "dnf install -y twice-2.0-1"], "2.0"),
    # One command: dnf (best=False) skips the best candidate for the exact one, either order.
    (["dnf install -y twice-1.0-1 twice"], "1.0"),
    (["dnf install -y twice twice-1.0-1"], "1.0"),
    # name-version without the release is a word of its own, resolved in its command.
    (["dnf install -y twice", "dnf install -y twice-1.0"], "1.0"),
    (["dnf install -y twice-1.0", "dnf install -y twice"], "1.0"),
]
ZYPPER_CASES = [
    # zypper installs or updates: a bare name takes the newest build...
    (["zypper install twice=1.0", "zypper install twice"], "2.0"),
    (["zypper install twice=1.0 twice"], "2.0"),
    (["zypper install twice twice=1.0"], "2.0"),
    # ...and an older build than the one installed is not taken without --oldpackage.
    (["zypper install twice", "zypper install twice=1.0"], "2.0"),
    (["zypper install twice=2.0", "zypper install twice=1.0"], "2.0"),
    (["zypper install twice=1.0", "zypper install twice=2.0"], "2.0"),
    # name-version, which zypper reads as name and edition, likewise.
    (["zypper install twice-1.0", "zypper install twice"], "2.0"),
    (["zypper install twice", "zypper install twice-1.0"], "2.0"),
    (["zypper install twice twice-1.0"], "2.0"),
    (["zypper install twice-1.0 twice"], "2.0"),
    # --oldpackage: a later command's older build goes in over the newer one...
    (["zypper install twice=2.0", "zypper install --oldpackage twice=1.0"], "1.0"),
    (["zypper install twice", "zypper install --oldpackage twice-1.0"], "1.0"),
    (["zypper install twice=1.0", "zypper install --oldpackage twice=2.0"], "2.0"),
    (["zypper install --oldpackage twice=1.0"], "1.0"),
    # ...but in one command the bare name still takes the newest, and a bare name is no downgrade.
    (["zypper install --oldpackage twice twice=1.0"], "2.0"),
    (["zypper install --oldpackage twice=1.0 twice"], "2.0"),
    (["zypper install twice", "zypper install --oldpackage twice"], "2.0"),
    # A range word takes the newest build it allows (an older one again with --oldpackage only).
    (["zypper install 'twice<2'"], "1.0"),
    (["zypper install 'twice>=1.0'"], "2.0"),
    (["zypper install twice", "zypper install --oldpackage 'twice<2'"], "1.0"),
    (["zypper install twice", "zypper install 'twice<2'"], "2.0"),
]


def _ids(value: object) -> str | None:
    return " && ".join(value) if isinstance(value, list) else None


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo(SPECS, tmp_path_factory.mktemp("repeated") / "repo")


def _installed(root: Path) -> str:
    query = ["rpm", "--root", str(root), "-q", "--qf", "%{VERSION}", "twice"]
    return subprocess.run(query, check=True, capture_output=True, text=True).stdout


def _word(manager: managers.Manager, commands: list[str]) -> PackageArg:
    """The one word of the name that pinner resolves, merged as lock merges a stage's words."""
    held = None
    for command in commands:
        (invocation,) = run_invocations(command, "\\")
        install = manager.installs(invocation)
        assert install is not None
        for number, word in enumerate(install.packages):
            held = managers.merged_word(manager.name, held, word, same_command=number > 0)
    assert held is not None
    return held


def _resolved(
    manager: managers.Manager, repo: Path, commands: list[str], dnf_conf: bytes | None = None
) -> str:
    """The version of twice the dnf or zypper manager records for the stage, its words merged
    as lock merges them by name (each command's repeated words kept aside), from the repository
    served over a stand-in fetch."""
    files = {
        f"https://m.example/repo/{path.relative_to(repo)}": path.read_bytes()
        for path in repo.rglob("*")
        if path.is_file()
    }

    async def fetch(url: str, subject: str, limit: int) -> bytes:
        return files[url][: limit + 1]

    repo_file = b"[local]\nenabled=1\nbaseurl=https://m.example/repo/\ngpgcheck=0\n"
    image = {
        "/etc/os-release": b'ID="rocky"\nVERSION_ID="9.3"\n',
        "/etc/yum.repos.d/x.repo": repo_file,
        **({"/etc/dnf/dnf.conf": dnf_conf} if dnf_conf is not None else {}),
    }
    if manager.name == "zypper":
        image = {
            "/etc/os-release": b'ID="opensuse-leap"\nVERSION_ID="15.6"\n',
            "/etc/zypp/repos.d/x.repo": repo_file,
        }
    config = manager.configure(image, "linux/amd64")
    assert not isinstance(config, str), config
    words: dict[str, PackageArg] = {}
    repeated = []
    for command in commands:
        (invocation,) = run_invocations(command, "\\")
        install = manager.installs(invocation)
        assert install is not None
        for number, word in enumerate(install.packages):
            one = number > 0
            words[word.name] = managers.merged_word(
                manager.name, words.get(word.name), word, same_command=one
            )
        named = [
            [w for w in install.packages if w.name == n] for n in {w.name for w in install.packages}
        ]
        repeated += [tuple(group) for group in named if len(group) > 1]
    source = managers.Source(fetch, config, {})
    mode = managers.Mode("", repeated=tuple(repeated))
    found = asyncio.run(manager.resolve(source, list(words.values()), mode))
    (package,) = [p for p in found.packages if p.name == "twice"]
    return package.version.split("-")[0]


def _pinner_version(repo: Path, word: PackageArg) -> str:
    spec = f"{word.name}-{word.constraint[1:]}" if word.constraint else word.name
    (chosen,) = resolve(Pool(repo_packages(repo), (), "x86_64"), [spec]).chosen
    return chosen.evr.version


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(("commands", "version"), DNF_CASES, ids=_ids)
def test_the_word_read_is_the_one_dnf_installs(
    repo: Path, tmp_path: Path, commands: list[str], version: str
) -> None:
    root = tmp_path / "root"
    for command in commands:
        dnf_install(root, repo, command.split()[3:])
    assert _installed(root) == version
    assert _resolved(rpm.Rpm(), repo, commands) == version


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(("commands", "version"), ZYPPER_CASES, ids=_ids)
def test_the_word_read_is_the_one_zypper_installs(
    repo: Path, tmp_path: Path, commands: list[str], version: str
) -> None:
    if shutil.which("zypper") is None:
        pytest.skip("needs zypper (Debian: zypper)")
    root = tmp_path / "root"
    (root / "var/log").mkdir(parents=True)
    # ZYPP_LOGFILE keeps zypper's log under root, not in this machine's /var/log.
    env = {**os.environ, "ZYPP_LOGFILE": f"{root}/var/log/zypper.log"}
    base = ["zypper", "--root", str(root), "--non-interactive", "--no-gpg-checks"]
    for args in (["addrepo", "--no-gpgcheck", f"file://{repo}", "local"], ["refresh"]):
        subprocess.run([*base, *args], check=True, capture_output=True, env=env)
    for command in commands:
        argv = shlex.split(command)[1:]
        subprocess.run([*base, *argv], check=True, capture_output=True, env=env)
    assert _installed(root) == version
    assert _resolved(zypper.Zypper(), repo, commands) == version


# One command naming twice twice, with dnf's best (dnf.conf of the image, then --best, --nobest,
# --setopt=best=): the version dnf installs, or None where it refuses ("cannot install both").
BEST = b"[main]\nbest=True\n"
DNF_BEST_CASES = [
    (BEST, "dnf install -y twice twice-1.0-1", None),
    (BEST, "dnf install -y twice-1.0-1 twice", None),
    (BEST, "dnf install -y twice twice-1.0", None),
    (BEST, "dnf install -y twice twice-2.0-1", "2.0"),
    (BEST, "dnf install -y twice-1.0-1 twice-1.0", "1.0"),
    (BEST, "dnf install -y --nobest twice twice-1.0-1", "1.0"),
    (BEST, "dnf install -y --setopt=best=0 twice twice-1.0-1", "1.0"),
    (b"[main]\nbest=False\n", "dnf install -y --best twice twice-1.0-1", None),
    # --setopt=best wins over --nobest, in either order.
    (None, "dnf install -y --nobest --setopt=best=True twice twice-1.0-1", None),
    (None, "dnf install -y --setopt=best=yes --nobest twice-1.0-1 twice", None),
    # Without best, two exact builds no one build meets are refused too.
    (None, "dnf install -y twice-1.0-1 twice-2.0-1", None),
    (None, "dnf install -y twice twice-1.0-1", "1.0"),
    # Best off: the bare name's job is met by the build the versioned word asks for.
    (None, "dnf install -y twice twice-1.0", "1.0"),
    (None, "dnf install -y twice-1.0 twice", "1.0"),
]


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(("conf", "command", "version"), DNF_BEST_CASES)
def test_dnf_best_refuses_what_dnf_refuses(
    repo: Path, tmp_path: Path, conf: bytes | None, command: str, version: str | None
) -> None:
    root = tmp_path / "root"
    if conf is not None:
        (root / "etc/dnf").mkdir(parents=True)
        (root / "etc/dnf/dnf.conf").write_bytes(conf)
    else:
        root.mkdir()
    result = _dnf(root, repo, *command.split()[1:])
    assert (result.returncode == 0) == (version is not None), result.stderr
    if version is None:
        assert "cannot install both" in result.stderr
        with pytest.raises(PackageError, match="dnf refuses it"):
            _resolved(rpm.Rpm(), repo, [command], conf)
        return
    assert _installed(root) == version
    assert _resolved(rpm.Rpm(), repo, [command], conf) == version


# core serves foo 2.0-1, extra foo 1.0-1 (core comes first in pacman.conf).
PACMAN_CASES = [
    (["pacman -S foo=1.0-1", "pacman -S foo"], "2.0-1"),
    (["pacman -S foo", "pacman -S foo=1.0-1"], "1.0-1"),
    (["pacman -S extra/foo", "pacman -S foo"], "2.0-1"),
    (["pacman -S foo", "pacman -S extra/foo"], "1.0-1"),
    # --needed skips a target only where the same version is installed.
    (["pacman -S foo=1.0-1", "pacman -S --needed foo"], "2.0-1"),
]


@pytest.fixture(scope="module")
def arch_repos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, bytes]]:
    base = tmp_path_factory.mktemp("repeated-arch")
    if shutil.which("repo-add") is None:
        pytest.skip("needs repo-add (Debian: pacman-package-manager)")
    return [
        (name, base / name, repo_add(base / name, name, [Pkg("foo", version)]))
        for name, version in (("core", "2.0-1"), ("extra", "1.0-1"))
    ]


@pytest.mark.oracle
@needs_pacman
@pytest.mark.parametrize(("commands", "version"), PACMAN_CASES, ids=_ids)
def test_the_word_read_is_the_one_pacman_installs(
    arch_repos: list[tuple[str, Path, bytes]], tmp_path: Path, commands: list[str], version: str
) -> None:
    conf = tmp_path / "pacman.conf"
    servers = "".join(f"[{name}]\nServer = file://{path}\n" for name, path, _ in arch_repos)
    conf.write_text(f"[options]\nArchitecture = x86_64\nSigLevel = Never\n{servers}")
    pacman_in(tmp_path, conf, "-Sy")
    for command in commands:
        pacman_in(tmp_path, conf, *command.split()[1:])
    assert pacman_in(tmp_path, conf, "-Q", "foo").split() == ["foo", version]
    word = _word(pacman.Pacman(), commands)
    target = "".join([*(f"{r}/" for r in word.repositories), word.name, word.constraint or ""])
    dbs = [alpm.Repository(n, alpm.parse_database(data)) for n, _, data in arch_repos]
    ((_, chosen),) = alpm.resolve(dbs, [target]).packages
    assert chosen.version == version


def test_a_later_word_of_a_name_is_merged_as_each_manager_installs_it() -> None:
    """The rules the oracles above and apk's (testdata/alpine/apk-oracle.json) showed."""

    def word(constraint: str | None, tag: str | None = None) -> PackageArg:
        return PackageArg("foo", constraint, 0, 0, tag=tag)

    bare, old, new = word(None), word("=1.0"), word("=2.0")
    merged = managers.merged_word
    # dnf: a later command's bare name leaves the build installed; its exact word moves it.
    assert merged("dnf", old, bare) == old
    assert merged("dnf", bare, old) == old
    assert merged("dnf", new, old) == old
    # pacman: the later target, whatever is installed.
    assert merged("pacman", old, bare) == bare
    assert merged("pacman", word(None)._replace(repositories=("extra",)), bare) == bare
    # zypper: the bare name (the newest) or the newer exact build.
    assert merged("zypper", old, bare) == bare
    assert merged("zypper", bare, old) == bare
    assert merged("zypper", new, old, same_command=True) == new
    # zypper install --oldpackage: a later command's older build, not one command's.
    older = old._replace(oldpackage=True)
    assert merged("zypper", new, older) == older
    assert merged("zypper", bare, older, same_command=True) == bare
    # apk: one command's later word replaces the world entry; a later command's keeps an
    # installed build that meets it.
    assert merged("apk", old, bare, same_command=True) == bare
    assert merged("apk", old, bare) == old
    assert merged("apk", old, word(">0.9")) == old
    assert merged("apk", old, word(">1.0")) == word(">1.0")
    assert merged("apk", old, word(None, "testing")) == word(None, "testing")


# One command naming foo twice: pacman 6.0.2 refuses two targets that pick different packages
# ("error: 'foo': duplicate target") and skips one that picks the same package again.
PACMAN_ONE_COMMAND = [
    ("pacman -S foo extra/foo", True),
    ("pacman -S foo foo=1.0-1", True),
    ("pacman -S extra/foo foo", True),
    ("pacman -S foo foo", False),
    ("pacman -S foo core/foo", False),
    ("pacman -S foo foo>1", False),
    ("pacman -S extra/foo foo=1.0-1", False),
]


@pytest.mark.oracle
@needs_pacman
@pytest.mark.parametrize(("command", "refused"), PACMAN_ONE_COMMAND)
def test_one_command_naming_a_package_twice_is_refused_where_pacman_refuses(
    arch_repos: list[tuple[str, Path, bytes]], tmp_path: Path, command: str, refused: bool
) -> None:
    conf = tmp_path / "pacman.conf"
    servers = "".join(f"[{name}]\nServer = file://{path}\n" for name, path, _ in arch_repos)
    conf.write_text(f"[options]\nArchitecture = x86_64\nSigLevel = Never\n{servers}")
    pacman_in(tmp_path, conf, "-Sy")
    try:
        pacman_in(tmp_path, conf, *command.split()[1:])
    except subprocess.CalledProcessError as error:
        assert "error: 'foo': duplicate target" in error.stderr
        assert refused
    else:
        assert not refused
    (invocation,) = run_invocations(command, "\\")
    install = pacman.Pacman().installs(invocation)
    assert install is not None
    targets = [
        "".join([*(f"{r}/" for r in w.repositories), w.name, w.constraint or ""])
        for w in install.packages
    ]
    dbs = [alpm.Repository(n, alpm.parse_database(data)) for n, _, data in arch_repos]
    assert alpm.duplicate(dbs, targets) == refused


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("best=on", False),
        ("best=No", False),
        ("install_weak_deps=On", False),
        ("best=bogus", True),
        ("install_weak_deps=bogus", True),
        ("obsoletes=bogus", True),
        ("exclude_from_weak_autodetect=bogus", True),
    ],
)
def test_a_boolean_dnf_cannot_read_is_refused(
    repo: Path, tmp_path: Path, value: str, refused: bool
) -> None:
    command = f"dnf install -y --setopt={value} twice"
    (tmp_path / "root").mkdir()
    result = _dnf(tmp_path / "root", repo, *command.split()[1:])
    assert (result.returncode != 0) == refused, result.stderr
    if not refused:
        assert _resolved(rpm.Rpm(), repo, [command]) == "2.0"
        return
    assert "invalid boolean value" in result.stderr
    message = f"--setopt={value}: not a boolean, so dnf refuses the command"
    with pytest.raises(PackageError, match=message):
        _resolved(rpm.Rpm(), repo, [command])
