"""Which provider pacman takes for a name several packages provide, against the real pacman.

libalpm's resolvedep (lib/libalpm/deps.c): a package of that name and version, in repository
order, comes first; then, of the packages providing it (each repository's in name order), one
whose name is installed already, else the first (what --noconfirm answers to "There are N
providers available"). A dependency is met first by what the transaction already resolved,
depth first, then by the other targets of the command.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from arch_repo import Pkg, install_local, needs_pacman, pacman_print, repo_add

from pinner.managers import alpm
from pinner.managers.alpm import Repository

# Names chosen so that neither the order a database lists them in nor the order the desc files
# were added decides: repo-add is given them out of name order.
CORE = [
    Pkg("zsh", "5.9-1", provides=["sh"]),
    Pkg("dash", "0.5.12-1", provides=["sh"]),
    Pkg("mksh", "59c-1", provides=["sh=9"]),
    Pkg("app", "1.0-1", depends=["sh"]),
    Pkg("app-new", "1.0-1", depends=["sh>=10"]),
    Pkg("app-helper", "1.0-1", depends=["helper", "sh"]),
    Pkg("helper", "1.0-1", depends=["zsh"]),
    Pkg("awk-user", "1.0-1", depends=["awk"]),
    Pkg("awk-new", "1.0-1", depends=["awk>=2"]),
]
EXTRA = [
    Pkg("abash", "1.0-1", provides=["sh=20"]),  # first by name, but in the second repository
    Pkg("mawk", "1.3-1", provides=["awk"]),
    Pkg("gawk", "5.3-1", provides=["awk=5.3"]),
    Pkg("awk", "1.0-1"),  # a package of the name itself beats core's providers
]

# (installed, targets): what `pacman -S targets` fetches with that installed.
CASES = [
    ([], ["app"]),  # dash: core's providers by name, before extra's abash
    ([], ["sh"]),  # a target is resolved as a dependency is
    ([], ["app-new"]),  # sh>=10: only abash's sh=20 (an unversioned provision does not count)
    ([], ["app", "zsh"]),  # another target provides it
    ([], ["zsh", "app"]),
    ([], ["app-helper"]),  # helper pulls zsh in first, and zsh meets sh (not dash)
    ([Pkg("zsh", "5.8-1")], ["app"]),  # zsh installed, without the provision: its newer build
    ([Pkg("mksh", "58-1")], ["app"]),
    ([], ["awk-user"]),  # the package named awk, in extra, before core's providers
    ([], ["awk-new"]),  # awk 1.0 is too old: gawk's awk=5.3
    ([Pkg("mawk", "1.2-1")], ["awk-user"]),  # the name wins over an installed provider
]  # fmt: skip


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, bytes]]:
    base = tmp_path_factory.mktemp("arch-providers")
    if shutil.which("repo-add") is None:
        pytest.skip("needs repo-add (Debian: pacman-package-manager)")
    return [
        (name, base / name, repo_add(base / name, name, pkgs))
        for name, pkgs in (("core", CORE), ("extra", EXTRA))
    ]


@needs_pacman
@pytest.mark.parametrize(
    ("installed", "targets"),
    CASES,
    ids=[" ".join(t) + "".join(f" ({p.name} installed)" for p in i) for i, t in CASES],
)
def test_provider_is_the_one_pacman_takes(
    repos: list[tuple[str, Path, bytes]],
    tmp_path: Path,
    installed: list[Pkg],
    targets: list[str],
) -> None:
    install_local(tmp_path, installed)
    expected = pacman_print(tmp_path, [(n, d) for n, d, _ in repos], targets)
    dbs = [Repository(n, alpm.parse_database(data)) for n, _, data in repos]
    local = [alpm.Package(p.name, p.version, p.arch) for p in installed]
    found = alpm.resolve(dbs, targets, local)
    assert found.missing == ()
    assert sorted((r, p.name, p.version) for r, p in found.packages) == expected


def test_provider_order_does_not_follow_the_database_order() -> None:
    """Providers are taken in name order whatever order the database lists them in."""
    zsh = alpm.Package("zsh", "5.9-1", "x86_64", provides=(alpm.Depend("sh", "", ""),))
    dash = alpm.Package("dash", "0.5-1", "x86_64", provides=(alpm.Depend("sh", "", ""),))
    repo = Repository("core", {"zsh": zsh, "dash": dash})
    found = alpm.resolve([repo], ["sh"])
    assert [p.name for _, p in found.packages] == ["dash"]


# (targets, IgnorePkg): a dependency passes over ignored providers; a target is asked about, and
# --noconfirm installs it; a dependency nothing but an ignored package meets is refused.
IGNORED = [
    (["app"], ["dash"]),
    (["app"], ["dash", "mksh", "zsh"]),
    (["sh"], ["dash"]),
    (["awk-user"], ["awk"]),
    (["dash"], ["dash"]),
]


@needs_pacman
@pytest.mark.parametrize(
    ("targets", "ignored"),
    IGNORED,
    ids=[f"{' '.join(t)} (ignore {','.join(i)})" for t, i in IGNORED],
)
def test_ignored_providers_as_pacman_passes_them_over(
    repos: list[tuple[str, Path, bytes]], tmp_path: Path, targets: list[str], ignored: list[str]
) -> None:
    flags = ("--ignore", ",".join(ignored))
    expected = pacman_print(tmp_path, [(n, d) for n, d, _ in repos], targets, *flags)
    dbs = [Repository(n, alpm.parse_database(data)) for n, _, data in repos]
    found = alpm.resolve(dbs, targets, ignore=alpm.Ignore(tuple(ignored)))
    assert found.missing == ()
    assert sorted((r, p.name, p.version) for r, p in found.packages) == expected


@needs_pacman
def test_a_dependency_only_an_ignored_package_meets_is_missing(
    repos: list[tuple[str, Path, bytes]], tmp_path: Path
) -> None:
    with pytest.raises(subprocess.CalledProcessError) as refused:
        pacman_print(tmp_path, [(n, d) for n, d, _ in repos], ["app-helper"], "--ignore", "zsh")
    assert "could not satisfy dependencies" in refused.value.stderr
    dbs = [Repository(n, alpm.parse_database(data)) for n, _, data in repos]
    found = alpm.resolve(dbs, ["app-helper"], ignore=alpm.Ignore(("zsh",)))
    assert found.missing == (alpm.Missing("zsh", "required by helper, no repository has it"),)
