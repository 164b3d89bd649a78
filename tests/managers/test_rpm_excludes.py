"""dnf's excludes and includes (excludepkgs, includepkgs, -x, --disableexcludes): pinner sees the
packages dnf sees, checked against the real dnf. libdnf's process_excludes matches each spec to
a package's NEVRA forms, globs allowed, never to what it provides."""

from __future__ import annotations

from pathlib import Path

import pytest
from rpmrepo import Spec, build_repo, dnf_refusal, dnf_would_install, needs_rpm_tools, repo_packages

from pinner.apt.shell import run_invocations
from pinner.managers.rpmcommands import PROGRAMS, read_command
from pinner.managers.rpmconfig import RpmConfig, configure, configured, enabled_repos
from pinner.managers.rpmresolve import Pool, resolve

SPECS = [
    Spec("foo", "1.0"),
    Spec("foo", "2.0"),
    Spec("bar", "1.0", requires=("foo",)),
    Spec("baz", "1.0", provides=("cap",)),
    Spec("qux", "1.0", provides=("cap",)),
    Spec("needs-cap", "1.0", requires=("cap",)),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo(SPECS, tmp_path_factory.mktemp("rpm-excludes") / "repo")


def _pinner(repo: Path, main: str, section: str, options: list[str], words: list[str]) -> Pool:
    """The pool pinner resolves the command from: its image's dnf.conf [main] lines and the
    repository section's, the command's options."""
    run = f"dnf {' '.join(options)} install -y {' '.join(words)}"
    (command,) = [read_command(i) for i in run_invocations(run) if i.program in PROGRAMS]
    assert command is not None
    files = {
        "/etc/os-release": b"ID=fedora\nVERSION_ID=40\n",
        "/etc/dnf/dnf.conf": f"[main]\n{main}\n".encode(),
        "/etc/yum.repos.d/t.repo": f"[local]\nbaseurl=file://{repo}\n{section}\n".encode(),
    }
    config = configure(files, "amd64")
    assert isinstance(config, RpmConfig), config
    (local,) = enabled_repos(config, command.options)
    seen, hidden = configured(repo_packages(repo), local, config, command.options)
    return Pool(seen, (), "x86_64", hidden)


def _root(tmp_path: Path, main: str) -> Path:
    root = tmp_path / "root"
    (root / "etc/dnf").mkdir(parents=True)
    (root / "etc/dnf/dnf.conf").write_text(f"[main]\n{main}\n")
    return root


# (dnf.conf [main] lines, the repository's lines, the command's options, its words)
CASES = {
    "x-version": ("", "", ["-x", "foo-2.0"], ["bar"]),
    "exclude-glob": ("", "", ["--exclude=qu*"], ["needs-cap"]),
    "exclude-list": ("", "", ["--exclude=baz,foo-1.0-1.noarch"], ["needs-cap", "bar"]),
    "setopt": ("", "", ["--setopt=excludepkgs=foo.noarch,baz"], ["needs-cap"]),
    "main-excludepkgs": ("excludepkgs=foo-2*", "", [], ["bar"]),
    "main-exclude-alias": ("exclude=baz", "", [], ["needs-cap"]),
    "disableexcludes-main": ("excludepkgs=foo-2*", "", ["--disableexcludes=main"], ["bar"]),
    "disableexcludes-all": ("", "excludepkgs=foo-2*", ["--disableexcludes=all"], ["bar"]),
    "repo-excludepkgs": ("", "excludepkgs=foo-2.0-1", [], ["bar"]),
    "repo-includepkgs": ("", "includepkgs=foo-1*,bar,qux,needs-cap", [], ["bar", "needs-cap"]),
    "main-includepkgs": ("includepkgs=foo-2*,bar,baz,needs-cap", "", [], ["bar", "needs-cap"]),
    "disableexcludes-repo": ("", "includepkgs=bar", ["--disableexcludes=local"], ["bar"]),
}


def _setopts(section: str) -> list[str]:
    """The repository's lines as dnf's command line gives them to a --repofrompath repository."""
    return [f"--setopt=local.{line}" for line in section.splitlines() if line]


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(("main", "section", "options", "words"), CASES.values(), ids=CASES.keys())
def test_pinner_sees_what_dnf_sees(
    repo: Path, tmp_path: Path, main: str, section: str, options: list[str], words: list[str]
) -> None:
    root = _root(tmp_path, main)
    expected = dnf_would_install(root, repo, words, *_setopts(section), *options)
    found = resolve(_pinner(repo, main, section, options, words), words)
    assert not found.missing
    assert sorted(f"{p.name}-{p.evr}.{p.arch}" for p in found.chosen) == expected


REFUSED = {
    "excluded-word": ("", "", ["-x", "foo-1*"], ["foo-1.0"]),
    "every-provider-excluded": ("excludepkgs=baz qux", "", [], ["needs-cap"]),
    "not-included": ("", "includepkgs=bar", [], ["bar"]),
}


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("main", "section", "options", "words"), REFUSED.values(), ids=REFUSED.keys()
)
def test_where_dnf_finds_nothing_pinner_records_nothing(
    repo: Path, tmp_path: Path, main: str, section: str, options: list[str], words: list[str]
) -> None:
    """A pin of an excluded build is a word dnf refuses: pinner must not write it."""
    root = _root(tmp_path, main)
    dnf_refusal(root, repo, [*_setopts(section), *options, *words])
    assert resolve(_pinner(repo, main, section, options, words), words).missing


def test_without_excludes_the_repository_is_read_whole(repo: Path) -> None:
    pool = _pinner(repo, "", "", [], ["bar"])
    assert sorted(str(p.evr) for p in pool.by_name["foo"]) == ["1.0-1", "2.0-1"]
    assert not pool.hidden
