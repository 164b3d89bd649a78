"""pinner's dnf resolution against dnf itself, on RPMs built here and repodata from createrepo_c."""

from __future__ import annotations

import asyncio
import shutil
import struct
from pathlib import Path

import pytest
from rpmrepo import (
    Spec,
    build_repo,
    dnf_install,
    dnf_would_install,
    needs_rpm_tools,
    repo_packages,
    rpmdb_path,
)

from pinner.apt.shell import run_invocations
from pinner.managers import Mode, Source, rpmdb
from pinner.managers.repodata import (
    Checksum,
    Dep,
    RepodataError,
    RpmPackage,
    parse_repomd,
    primary_packages,
)
from pinner.managers.rpm import MANAGER
from pinner.managers.rpmconfig import RpmConfig
from pinner.managers.rpmdb import Installed, Provide, RpmdbError, parse_header, read_rpmdb
from pinner.managers.rpmresolve import Pool, clash, overlaps, resolve
from pinner.managers.rpmversion import EVR, parse_evr

SPECS = [
    Spec("base", "1.0"),
    Spec("lib", "1.5"),
    Spec("lib", "2.1", provides=("libfoo(x) = 2.1",)),
    Spec("app", "1.0", requires=("lib >= 2.0", "/usr/bin/tool"), recommends=("extra",)),
    Spec("toolpkg", "1.0", files=("/usr/bin/tool",)),
    Spec("extra", "1.0", requires=("base",)),
    Spec("libe", "3.0"),
    Spec("libe", "0.5", epoch=1),
    Spec("tv", "1.9"),
    Spec("tv", "2.0~rc1"),
    Spec("uses-foo", "1.0", requires=("libfoo(x) >= 2",)),
    Spec("pinned-dep", "1.0", requires=("lib = 1.5-1",)),
    Spec("mta-user", "1.0", requires=("mta",)),
    Spec("postfixish", "3.0", provides=("mta",)),
    Spec("alt-a", "1.0"),
    Spec("rich-or", "1.0", requires=("(missing-x or alt-a)",)),
    Spec("plugin", "1.0"),
    Spec("rich-if", "1.0", requires=("(plugin if app)",)),
    Spec(
        "rich-and",
        "1.0",
        requires=("((lib >= 2.0 with lib < 3) and (toolpkg if base else alt-a))",),
    ),
    Spec("wants-extra", "1.0", recommends=("extra",)),
    Spec("foo-old", "1"),
    Spec("foo-new", "2", obsoletes=("foo-old < 2",)),
    Spec("cap-old", "1"),
    Spec("cap-new", "2", provides=("cap-old = 2",), obsoletes=("cap-old < 2",)),
    Spec("needs-cap", "1", requires=("cap-old",)),
    Spec("rich-rec", "1.0", recommends=("(plugin if app)", "(missing-x or alt-a)")),
    Spec("wants-supp", "1.0"),
    Spec("supplier", "1.0", supplements=("wants-supp",)),
    Spec("supplier", "2.0", supplements=("wants-supp",)),
    Spec("sup-base", "1.0", supplements=("base",)),
    Spec("sup-base-and", "1.0", supplements=("(base and alt-a)",)),
    Spec("sv-base", "1.0"),
    Spec("sv-base", "2.0"),
    Spec("sup-ver", "1.0", supplements=("sv-base >= 2.0",)),
    Spec("sa-x", "1.0"),
    Spec("sa-y", "1.0"),
    Spec("sup-and", "1.0", supplements=("(sa-x and sa-y)",)),
    Spec("sup-or", "1.0", supplements=("(sa-y or missing-x)",)),
    Spec("sr-trigger", "1.0"),
    Spec("sr-dep", "1.0"),
    Spec("sup-req", "1.0", requires=("sr-dep",), supplements=("sr-trigger",)),
    Spec("sup-chain", "1.0", supplements=("sup-req",)),
    Spec("sup-unless", "1.0", supplements=("(sa-x unless sa-y)",)),
    Spec("sa-z", "1.0"),
    Spec("sup-unless-else", "1.0", supplements=("(sa-x unless sa-y else sa-z)",)),
    Spec("sw-both", "1.0", provides=("cap-a", "cap-b")),
    Spec("sw-a", "1.0", provides=("cap-a",)),
    Spec("sw-b", "1.0", provides=("cap-b",)),
    Spec("sup-with", "1.0", supplements=("(cap-a with cap-b)",)),
    Spec("sup-without", "1.0", supplements=("(cap-a without cap-b)",)),
    Spec("sup-base-unless", "1.0", supplements=("(base unless sa-y)",)),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo(SPECS, tmp_path_factory.mktemp("rpm") / "repo")


def _nevras(packages: list[RpmPackage]) -> list[str]:
    return sorted(f"{p.name}-{p.evr}.{p.arch}" for p in packages)


@pytest.mark.oracle
@needs_rpm_tools
def test_primary_from_createrepo(repo: Path) -> None:
    packages = {(p.name, str(p.evr)): p for p in repo_packages(repo)}
    assert len(packages) == len(SPECS)
    app = packages["app", "1.0-1"]
    assert app.arch == "noarch"
    assert app.checksum.kind == "sha256"
    assert app.href == "Packages/app-1.0-1.noarch.rpm"
    assert Dep("lib", "GE", EVR(0, "2.0", "")) in app.requires
    assert Dep("/usr/bin/tool") in app.requires
    assert app.recommends == (Dep("extra"),)
    assert packages["foo-new", "2-1"].obsoletes == (Dep("foo-old", "LT", EVR(0, "2", "")),)
    assert packages["libe", "1:0.5-1"].evr == EVR(1, "0.5", "1")
    assert "/usr/bin/tool" in packages["toolpkg", "1.0-1"].files
    assert Provide("libfoo(x)", "EQ", EVR(0, "2.1", "")) in packages["lib", "2.1-1"].provides


@pytest.mark.oracle
@needs_rpm_tools
def test_primary_checksum_is_chained(repo: Path) -> None:
    entries = parse_repomd((repo / "repodata" / "repomd.xml").read_bytes(), "repomd.xml")
    primary = entries["primary"]
    data = bytearray((repo / primary.href).read_bytes())
    data[-1] ^= 1
    with pytest.raises(RepodataError) as raised:
        primary_packages(primary, bytes(data), "primary.xml.gz")
    assert str(raised.value) == "primary.xml.gz: sha256 checksum does not match"


ORACLE = [
    pytest.param(["app"], True, id="closure-newest-file-weak"),
    pytest.param(["app"], False, id="closure-without-weak-deps"),
    pytest.param(["libe", "tv"], True, id="epoch-and-tilde"),
    pytest.param(["uses-foo"], True, id="versioned-provide"),
    pytest.param(["pinned-dep"], True, id="exact-version-requirement"),
    pytest.param(["lib-1.5", "toolpkg-1.0-1"], True, id="nev-and-nevr-words"),
    pytest.param(["libfoo(x)", "/usr/bin/tool"], True, id="provide-and-file-words"),
    pytest.param(["mta-user"], True, id="virtual-provide"),
    pytest.param(["rich-or"], True, id="rich-or"),
    pytest.param(["rich-if"], True, id="rich-if-condition-absent"),
    pytest.param(["rich-if", "app"], True, id="rich-if-condition-chosen"),
    pytest.param(["rich-and"], True, id="rich-with-and-if-else"),
    pytest.param(["foo-old"], True, id="a-bare-name-obsoleted-installs-the-obsoleter"),
    pytest.param(["foo-old-1"], True, id="a-versioned-word-obsoleted-installs-itself"),
    pytest.param(["needs-cap"], True, id="a-provider-obsoleted-by-another-is-not-chosen"),
    pytest.param(["rich-rec"], True, id="boolean-recommends-condition-absent"),
    pytest.param(["rich-rec", "app"], True, id="boolean-recommends-condition-chosen"),
    pytest.param(["rich-rec", "app"], False, id="boolean-recommends-without-weak-deps"),
    pytest.param(["wants-supp"], False, id="supplements-without-weak-deps"),
    pytest.param(["wants-supp"], True, id="supplements-newest-supplier"),
    pytest.param(["sv-base-1.0"], True, id="versioned-supplements-unmet"),
    pytest.param(["sv-base"], True, id="versioned-supplements-met"),
    pytest.param(["sa-x", "sa-y"], True, id="supplements-and-or-met"),
    pytest.param(["sr-trigger"], True, id="supplier-requires-and-chains"),
    pytest.param(["base", "alt-a"], True, id="supplements-of-a-base-word"),
    # unless / with / without Supplements (rpm refuses `if` in Supplements).
    pytest.param(["sa-x"], True, id="supplements-unless-met"),
    pytest.param(["sa-x", "sa-y"], True, id="supplements-unless-blocked"),
    pytest.param(["sa-y", "sa-z"], True, id="supplements-unless-else-other-branch"),
    pytest.param(["sa-z"], True, id="supplements-unless-else-unmet"),
    pytest.param(["sw-both"], True, id="supplements-with-one-package"),
    pytest.param(["sw-a", "sw-b"], True, id="supplements-with-two-packages"),
    pytest.param(["sw-a"], True, id="supplements-without-met"),
    pytest.param(["sw-both", "sw-a"], True, id="supplements-without-and-with"),
    pytest.param(["sa-x"], False, id="supplements-unless-without-weak-deps"),
]


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(("names", "weak_deps"), ORACLE)
def test_resolution_matches_dnf(
    repo: Path, tmp_path: Path, names: list[str], weak_deps: bool
) -> None:
    expected = dnf_would_install(tmp_path, repo, names, weak_deps=weak_deps)
    found = resolve(Pool(repo_packages(repo), (), "x86_64"), names, weak_deps=weak_deps)
    assert _nevras(list(found.chosen)) == expected
    assert found.missing == ()


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["foo-old"], id="a-bare-name-obsoleted-installs-itself"),
        pytest.param(["needs-cap"], id="a-provider-obsoleted-by-another-is-still-not-chosen"),
    ],
)
def test_obsoletes_off_matches_dnf(repo: Path, tmp_path: Path, names: list[str]) -> None:
    # dnf.conf's obsoletes=False: hawkey's selectors add no obsoleters, libsolv still prunes.
    expected = dnf_would_install(tmp_path, repo, names, "--setopt=obsoletes=False")
    found = resolve(Pool(repo_packages(repo), (), "x86_64"), names, obsoletes=False)
    assert _nevras(list(found.chosen)) == expected
    with_obsoletes = resolve(Pool(repo_packages(repo), (), "x86_64"), names)
    assert (found.chosen == with_obsoletes.chosen) == (names == ["needs-cap"])


@pytest.fixture(scope="module")
def system(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installroot holding base and the old lib, installed by dnf (without sup-base, which
    supplements base)."""
    root = tmp_path_factory.mktemp("root")
    dnf_install(root, repo, ["base", "lib-1.5"], "--setopt=install_weak_deps=False")
    return root


@pytest.mark.oracle
@needs_rpm_tools
def test_rpmdb_from_dnf(system: Path) -> None:
    installed = read_rpmdb(rpmdb_path(system).read_bytes())
    assert [(p.name, str(p.evr), p.arch) for p in installed] == [
        ("base", "1.0-1", "noarch"),
        ("lib", "1.5-1", "noarch"),
    ]
    assert Provide("lib", "EQ", EVR(0, "1.5", "1")) in installed[1].provides
    assert installed[0].files == ("/usr/share/base/1.0",)


INSTALLED_ORACLE = [
    pytest.param(["app"], id="upgrade-installed-dependency-skip-installed-weak-dep-requirement"),
    pytest.param(["pinned-dep", "base"], id="installed-satisfies"),
    pytest.param(["rich-and"], id="rich-if-else-installed"),
    pytest.param(["extra"], id="installed-requirement"),
    # sup-base supplements the installed base alone: not added; sup-base-and's `(base and
    # alt-a)` is met with the new alt-a: added.
    pytest.param(["alt-a"], id="supplements-met-by-installed-packages-alone-add-nothing"),
    pytest.param(["sv-base"], id="supplements-met-by-a-new-package"),
    # sup-base-unless's `(base unless sa-y)` is met by the installed base alone: not added.
    pytest.param(["sa-z"], id="supplements-unless-met-by-installed-packages-alone"),
]


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize("names", INSTALLED_ORACLE)
def test_resolution_on_installed_set_matches_dnf(
    repo: Path, system: Path, names: list[str]
) -> None:
    root = system.parent / f"{system.name}-copy"
    shutil.copytree(system, root, symlinks=True, dirs_exist_ok=True)
    expected = dnf_would_install(root, repo, names)
    installed = read_rpmdb(rpmdb_path(system).read_bytes())
    found = resolve(Pool(repo_packages(repo), installed, "x86_64"), names)
    assert _nevras(list(found.chosen)) == expected


@pytest.mark.oracle
@needs_rpm_tools
def test_pins_follow_the_words(repo: Path) -> None:
    found = resolve(Pool(repo_packages(repo), (), "x86_64"), ["app", "libe", "toolpkg.noarch"])
    assert found.pins == {
        "app": "app-1.0-1",
        "libe": "libe-1:0.5-1",
        "toolpkg.noarch": "toolpkg-1.0-1.noarch",
    }


@pytest.mark.oracle
@needs_rpm_tools
def test_missing_is_reported(repo: Path) -> None:
    found = resolve(Pool(repo_packages(repo), (), "x86_64"), ["nosuch", "app"])
    assert [(m.name, m.text) for m in found.missing] == [("nosuch", "nosuch")]


def _provide(flags: str | None, evr: str | None) -> Provide:
    return Provide("x", flags, parse_evr(evr) if evr else None)


@pytest.mark.parametrize(
    ("provide", "dep", "expected"),
    [
        pytest.param(("EQ", "2.1-1"), ("GE", "2.0"), True, id="ge"),
        pytest.param(("EQ", "1.5-1"), ("GE", "2.0"), False, id="ge-too-old"),
        pytest.param(("EQ", "1.5-1"), ("EQ", "1.5"), True, id="no-release-matches-any"),
        pytest.param(("EQ", "1.5-1"), ("EQ", "1.5-2"), False, id="release-differs"),
        pytest.param((None, None), ("GE", "9"), True, id="unversioned-provide"),
        pytest.param(("EQ", "1:0.5-1"), ("GT", "3.0"), True, id="epoch"),
        pytest.param(("EQ", "2.0~rc1-1"), ("LT", "2.0"), True, id="tilde"),
        pytest.param(("LT", "3"), ("GT", "2"), True, id="ranges-overlap"),
        pytest.param(("LT", "2"), ("GT", "3"), False, id="ranges-apart"),
    ],
)
def test_overlaps(
    provide: tuple[str | None, str | None], dep: tuple[str, str], expected: bool
) -> None:
    assert overlaps(_provide(*provide), Dep("x", dep[0], parse_evr(dep[1]))) == expected


def test_installed_name_is_not_installed_again() -> None:
    evr = EVR(0, "2.1", "1")
    present = Installed("lib", evr, "noarch", (Provide("lib", "EQ", evr),), ())
    found = resolve(Pool((), [present], "x86_64"), ["lib"])
    assert (found.chosen, found.missing) == ((), ())


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        pytest.param(b"\0\0", "header is shorter than its counts", id="short"),
        pytest.param(
            struct.pack(">II", 1, 4) + b"\0" * 8,
            "header counts (1 tags, 4 bytes) do not match its size",
            id="counts-lie",
        ),
        pytest.param(
            struct.pack(">IIIIII", 1, 4, 1000, 6, 99, 1) + b"abc\0",
            "tag 1000 points outside the header",
            id="offset-outside",
        ),
        pytest.param(
            struct.pack(">IIIIII", 1, 4, 1000, 6, 0, 1) + b"abcd",
            "tag 1000 holds an unterminated string",
            id="unterminated",
        ),
    ],
)
def test_hostile_header(blob: bytes, message: str) -> None:
    with pytest.raises(RpmdbError) as raised:
        parse_header(blob)
    assert str(raised.value) == message


def test_header_entries_may_not_share_data() -> None:
    # Entries naming the same bytes let one run of empty strings be read once per entry.
    entries = struct.pack(">IIII", 1047, 8, 0, 4) * 2
    with pytest.raises(RpmdbError) as raised:
        parse_header(struct.pack(">II", 2, 4) + entries + b"\0" * 4)
    assert str(raised.value) == "tag 1047 overlaps the data of the tag before it"


def test_header_items_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpmdb, "MAX_ITEMS", 1)
    blob = struct.pack(">IIIIII", 1, 5, 1047, 8, 0, 5) + b"\0" * 5
    with pytest.raises(RpmdbError) as raised:
        parse_header(blob)
    assert str(raised.value) == "header holds more than 4 items"


@pytest.fixture(scope="module")
def went_without(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installroot where dnf installed app without weak deps: its Recommends extra is unmet."""
    root = tmp_path_factory.mktemp("without")
    dnf_install(root, repo, ["app"], "--setopt=install_weak_deps=False")
    return root


@pytest.mark.oracle
@needs_rpm_tools
def test_rpmdb_keeps_recommends(went_without: Path) -> None:
    installed = {p.name: p for p in read_rpmdb(rpmdb_path(went_without).read_bytes())}
    assert installed["app"].recommends == (Provide("extra"),)
    assert installed["lib"].recommends == ()


WEAK_AUTODETECT = [
    pytest.param(["wants-extra"], True, id="unmet-recommends-not-added-as-weak"),
    pytest.param(["wants-extra"], False, id="exclude-from-weak-autodetect-off"),
    pytest.param(["wants-extra", "extra"], True, id="named-word-still-installed"),
]


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(("names", "autodetect"), WEAK_AUTODETECT)
def test_unmet_recommends_of_installed_packages_as_dnf(
    repo: Path, went_without: Path, tmp_path: Path, names: list[str], autodetect: bool
) -> None:
    root = tmp_path / "root"
    shutil.copytree(went_without, root, symlinks=True)
    option = f"--setopt=exclude_from_weak_autodetect={autodetect}"
    expected = dnf_would_install(root, repo, names, option)
    assert ("extra-1.0-1.noarch" in expected) == (not autodetect or "extra" in names)
    installed = read_rpmdb(rpmdb_path(went_without).read_bytes())
    pool = Pool(repo_packages(repo), installed, "x86_64")
    found = resolve(pool, names, exclude_weak_autodetect=autodetect)
    assert _nevras(list(found.chosen)) == expected


def _stage(repo: Path, runs: list[str]) -> list[str]:
    """`name-evr.noarch` of what pinner's dnf manager locks for a stage of runs on an image
    whose one repository serves repo and whose rpmdb is empty."""
    served = {
        f"https://m.example/local/{path.relative_to(repo)}": path.read_bytes()
        for path in repo.rglob("*")
        if path.is_file()
    }

    async def fetch(url: str, subject: str, limit: int) -> bytes:
        return served[url][: limit + 1]

    files = {
        "/etc/os-release": b'ID="centos"\nVERSION_ID="9"\n',
        "/etc/yum.repos.d/local.repo": b"[local]\nbaseurl=https://m.example/local/\n",
    }
    config = MANAGER.configure(files, "linux/amd64")
    assert isinstance(config, RpmConfig), config
    installs = [MANAGER.installs(i) for run in runs for i in run_invocations(run)]
    requests = [word for install in installs if install is not None for word in install.packages]
    found = asyncio.run(MANAGER.resolve(Source(fetch, config, {}), requests, Mode("")))
    return sorted(f"{p.name}-{p.version}.noarch" for p in found.packages)


RUNS = [
    pytest.param(
        ["dnf install -y --setopt=install_weak_deps=False app", "dnf install -y wants-extra"],
        id="an-earlier-run-went-without-a-recommends",
    ),
    pytest.param(
        [
            "dnf install -y --setopt=install_weak_deps=False app",
            "dnf install -y --setopt=exclude_from_weak_autodetect=False wants-extra",
        ],
        id="setopt-turns-autodetect-off",
    ),
    pytest.param(
        ["dnf install -y wants-extra", "dnf install -y app"],
        id="an-earlier-run-installed-the-dependency",
    ),
]


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize("runs", RUNS)
def test_runs_resolve_one_after_the_other_as_dnf(
    repo: Path, tmp_path: Path, runs: list[str]
) -> None:
    expected: set[str] = set()
    for run in runs:
        words = run.split()[3:]
        options, names = [w for w in words if w.startswith("--")], [w for w in words if w[0] != "-"]
        expected.update(dnf_would_install(tmp_path, repo, names, *options))
        dnf_install(tmp_path, repo, names, *options)
    assert _stage(repo, runs) == sorted(expected)


def test_words_of_one_build_are_no_clash_and_of_two_are_where_dnf_refuses() -> None:
    """The forms dnf reads (name, name.arch, name-version, NEVRA) as one package's words."""

    def build(version: str) -> RpmPackage:
        checksum = Checksum("sha256", "0" * 64)
        return RpmPackage("glibc", "x86_64", parse_evr(f"{version}-1"), checksum, "x", *[()] * 4)

    pool = Pool([build("2.34"), build("2.39")], (), "x86_64")
    for best in (True, False):
        assert clash(pool, ["glibc", "glibc.x86_64", "glibc-2.39"], best=best) is None
        assert clash(pool, ["glibc-2.34-1.x86_64", "glibc-2.34"], best=best) is None
        assert clash(pool, ["glibc-2.34-1", "glibc-2.39"], best=best) == (
            "glibc-2.34-1",
            "glibc-2.39",
        )
    # Each word's best build with best on; any build both words allow without it.
    assert clash(pool, ["glibc", "glibc-2.34-1.x86_64"], best=True) == (
        "glibc",
        "glibc-2.34-1.x86_64",
    )
    assert clash(pool, ["glibc", "glibc-2.34-1.x86_64"], best=False) is None
