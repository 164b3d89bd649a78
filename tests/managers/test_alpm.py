"""Arch Linux metadata: vercmp against pacman's own, databases made by repo-add, resolution."""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import io
import lzma
import shutil
import subprocess
import tarfile
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest
import zstandard
from arch_repo import (
    Pkg,
    install_local,
    local_desc,
    needs_pacman,
    pacman_print,
    recompress_zstd,
    repo_add,
)
from handmade import hostile_tars
from hypothesis import given, settings
from hypothesis import strategies as st

from examples import examples
from pinner.managers import alpm
from pinner.managers.alpm import Depend, DescError, Repository

VERCMP = [
    ("1.0", "1.0", 0),
    ("1.0", "1.1", -1),
    ("1.0a", "1.0", -1),
    ("1.0", "1.0.1", -1),
    ("1.0.a", "1.0", 1),
    ("1.0alpha", "1.0beta", -1),
    ("1.0-1", "1.0-2", -1),
    ("1.0-1", "1.0", 0),
    ("1:1.0", "2.0", 1),
    ("0:1.0", "1.0", 0),
    ("1.01", "1.1", 0),
    ("1..0", "1.0", 1),
    ("1.0", "1_0", 0),
    ("2.10", "2.9", 1),
    ("1.0-1.1", "1.0-1", 1),
    ("20240101", "1:1", -1),
    ("1.0+git", "1.0", 1),
    ("1.0git", "1.0", -1),
    ("a", "1", -1),
]


@pytest.mark.parametrize(("a", "b", "expected"), VERCMP, ids=[f"{a} {b}" for a, b, _ in VERCMP])
def test_vercmp(a: str, b: str, expected: int) -> None:
    assert alpm.vercmp(a, b) == expected
    assert alpm.vercmp(b, a) == -expected


needs_vercmp = pytest.mark.skipif(
    shutil.which("vercmp") is None, reason="needs vercmp (Debian: makepkg)"
)
_segment = st.text(alphabet="0123456789abzAZ._+~:-", min_size=0, max_size=10)


@needs_vercmp
@settings(max_examples=examples(300), deadline=None)
@given(_segment, _segment)
def test_vercmp_agrees_with_pacman(a: str, b: str) -> None:
    out = subprocess.run(["vercmp", a, b], capture_output=True, text=True, check=True).stdout
    assert alpm.vercmp(a, b) == int(out)


def test_vercmp_table_agrees_with_pacman() -> None:
    if shutil.which("vercmp") is None:
        pytest.skip("needs vercmp (Debian: makepkg)")
    for a, b, expected in VERCMP:
        out = subprocess.run(["vercmp", a, b], capture_output=True, text=True, check=True).stdout
        assert int(out) == expected, (a, b)


DESC = """%FILENAME%
bash-5.2.026-2-x86_64.pkg.tar.zst

%NAME%
bash

%BASE%
bash

%VERSION%
5.2.026-2

%DESC%
The GNU Bourne Again shell

%SHA256SUM%
b5430cfb37427821e4b2ba8bacb7271c3af2fa57af51ef4eee2d419f1c07352a

%ARCH%
x86_64

%PROVIDES%
sh

%DEPENDS%
readline
libreadline.so=8-64
glibc
ncurses

%OPTDEPENDS%
bash-completion: for tab completion

"""


def test_parse_desc() -> None:
    package = alpm.parse_desc(DESC)
    assert package == alpm.Package(
        "bash",
        "5.2.026-2",
        "x86_64",
        "bash-5.2.026-2-x86_64.pkg.tar.zst",
        "b5430cfb37427821e4b2ba8bacb7271c3af2fa57af51ef4eee2d419f1c07352a",
        (
            Depend("readline", "", ""),
            Depend("libreadline.so", "=", "8-64"),
            Depend("glibc", "", ""),
            Depend("ncurses", "", ""),
        ),
        (Depend("sh", "", ""),),
    )


BAD_DESC = [
    ("%NAME%\n../x\n", "%NAME% '../x' is not valid"),
    (DESC.replace("5.2.026-2\n", "5.2\n", 1), "%VERSION% '5.2' is not valid"),
    (DESC.replace("b5430cfb", "B5430CFB"), "%SHA256SUM% 'B5430CFB37427821e4b2ba8bacb7271c3af2fa57af51ef4eee2d419f1c07' is not valid"),
    (DESC.replace("bash-5.2.026-2-x86_64.pkg.tar.zst", "../../etc/passwd"), "%FILENAME% '../../etc/passwd' is not valid"),
    (DESC.replace("%FILENAME%\nbash-5.2.026-2-x86_64.pkg.tar.zst\n\n", ""), "%FILENAME% 'missing' is not valid"),
    (DESC + "%NAME%\nbash\n", "%NAME% appears twice"),
    ("stray\n" + DESC, "value outside a field: 'stray'"),
    (DESC.replace("glibc\n", "glibc>>2\n"), "%DEPENDS% 'glibc>>2' is not valid"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_DESC, ids=[m for _, m in BAD_DESC])
def test_parse_desc_refuses(text: str, message: str) -> None:
    with pytest.raises(DescError) as raised:
        alpm.parse_desc(text)
    assert str(raised.value) == message


def test_satisfies() -> None:
    bash = alpm.Package("bash", "5.2-1", "x86_64", provides=(Depend("sh", "=", "5.2"),))
    dash = alpm.Package("dash", "0.5-1", "x86_64", provides=(Depend("sh", "", ""),))
    assert bash.satisfies(Depend("bash", ">=", "5"))
    assert not bash.satisfies(Depend("bash", "<", "5"))
    assert bash.satisfies(Depend("sh", ">=", "5.1"))
    assert dash.satisfies(Depend("sh", "", ""))
    # An unversioned provision does not meet a versioned dependency.
    assert not dash.satisfies(Depend("sh", ">=", "1"))


CORE = [
    Pkg("glibc", "2.40-1"),
    Pkg("bash", "5.2.026-2", depends=["glibc", "readline>=8"], provides=["sh"]),
    Pkg("readline", "8.2.013-1", depends=["glibc", "ncurses"]),
    Pkg("ncurses", "6.5-3", depends=["glibc"]),
    Pkg("curl", "8.10.1-1", depends=["glibc", "libcurl.so=4-64"], provides=["libcurl.so=4-64"]),
    Pkg("gcc", "14.2.1-1", depends=["glibc>=2.27", "binutils"], groups=["base-devel"]),
    Pkg("binutils", "2.43-1", depends=["glibc"], groups=["base-devel"]),
    Pkg("make", "4.4.1-2", depends=["glibc", "sh"], groups=["base-devel"]),
]
EXTRA = [
    Pkg("git", "2.47.0-1", depends=["curl", "perl-error", "sh"]),
    Pkg("perl-error", "0.17029-7", depends=["perl"]),
    Pkg("perl", "5.40.0-1", depends=["glibc"]),
    Pkg("bash", "9.9-1"),  # core comes first: pacman takes core's bash
]


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, bytes]]:
    base = tmp_path_factory.mktemp("arch")
    if shutil.which("repo-add") is None:
        pytest.skip("needs repo-add (Debian: pacman-package-manager)")
    return [
        (name, base / name, repo_add(base / name, name, pkgs))
        for name, pkgs in (("core", CORE), ("extra", EXTRA))
    ]


@needs_pacman
def test_parse_database_made_by_repo_add(repos: list[tuple[str, Path, bytes]]) -> None:
    _, directory, data = repos[0]
    packages = alpm.parse_database(data)
    assert sorted(packages) == sorted(p.name for p in CORE)
    bash = packages["bash"]
    assert (bash.version, bash.filename) == ("5.2.026-2", "bash-5.2.026-2-x86_64.pkg.tar.gz")
    assert bash.sha256 == hashlib.sha256((directory / bash.filename).read_bytes()).hexdigest()
    assert bash.depends == (Depend("glibc", "", ""), Depend("readline", ">=", "8"))


RESOLVE = [
    (["git"], [], "--"),
    (["bash"], [], "--"),
    (["make"], [], "--"),
    (["base-devel"], [], "--"),
    (["git"], [Pkg("glibc", "2.40-1"), Pkg("curl", "8.10.1-1", provides=["libcurl.so=4-64"])], "--"),
    (["gcc"], [Pkg("glibc", "2.20-1")], "--"),
    (["extra/bash"], [], "--"),
]  # fmt: skip


@needs_pacman
@pytest.mark.parametrize(
    ("targets", "installed", "flag"),
    RESOLVE,
    ids=[" ".join(t) + f" ({len(i)} installed)" for t, i, _ in RESOLVE],
)
def test_resolution_matches_pacman(
    repos: list[tuple[str, Path, bytes]],
    tmp_path: Path,
    targets: list[str],
    installed: list[Pkg],
    flag: str,
) -> None:
    install_local(tmp_path, installed)
    expected = pacman_print(tmp_path, [(n, d) for n, d, _ in repos], targets)
    dbs = [Repository(n, alpm.parse_database(data)) for n, _, data in repos]
    local = [
        alpm.Package(
            p.name,
            p.version,
            p.arch,
            provides=tuple(filter(None, map(alpm.parse_depend, p.provides))),
        )
        for p in installed
    ]
    found = alpm.resolve(dbs, targets, local)
    assert found.missing == ()
    assert sorted((r, p.name, p.version) for r, p in found.packages) == expected


# Arch Linux's real core database of 2022-09-12 (testdata/arch/README.md gives its source).
REAL_CORE = Path(__file__).resolve().parents[2] / "testdata" / "arch" / "core.db.tar.gz"
REAL_TARGETS = [
    ["linux"],  # initramfs: the provider pacman picks
    ["systemd"],
    ["curl", "openssh", "sudo"],
    ["gcc", "make", "patch", "which"],
    ["python", "perl", "man-db"],
]
# Words whose dependencies reach past core (glib2 needs extra's libsysprof-capture that day):
# pacman refuses the transaction, pinner names what no repository has.
REAL_BEYOND_CORE = [["base"], ["base-devel"], ["gnupg", "pacman"]]
# What an image might hold already: these are not fetched again (their dependencies are).
REAL_INSTALLED = [Pkg("glibc", "2.36-3"), Pkg("bash", "5.1.016-1", provides=["sh"])]


@needs_pacman
@pytest.mark.parametrize("installed", [[], REAL_INSTALLED], ids=["empty", "glibc-bash"])
@pytest.mark.parametrize("targets", REAL_TARGETS, ids=[" ".join(t) for t in REAL_TARGETS])
def test_real_core_database_resolves_as_pacman_does(
    tmp_path: Path, targets: list[str], installed: list[Pkg]
) -> None:
    repository, local = _real_core(tmp_path, installed)
    expected = pacman_print(tmp_path, [("core", tmp_path / "core")], targets)
    found = alpm.resolve([repository], targets, local)
    assert found.missing == ()
    assert sorted((r, p.name, p.version) for r, p in found.packages) == expected
    assert len(expected) > 2 * len(targets)  # dependencies came along


@needs_pacman
@pytest.mark.parametrize("targets", REAL_BEYOND_CORE, ids=[" ".join(t) for t in REAL_BEYOND_CORE])
def test_real_core_database_names_what_pacman_cannot_satisfy(
    tmp_path: Path, targets: list[str]
) -> None:
    repository, local = _real_core(tmp_path, [])
    with pytest.raises(subprocess.CalledProcessError) as refused:
        pacman_print(tmp_path, [("core", tmp_path / "core")], targets)
    assert "could not satisfy dependencies" in refused.value.stderr
    found = alpm.resolve([repository], targets, local)
    assert found.missing == (
        alpm.Missing("libsysprof-capture", "required by glib2, no repository has it"),
    )


@functools.cache
def _real_core_packages() -> Mapping[str, alpm.Package]:
    """The real core database's packages by name, parsed once per run (each an immutable tuple)."""
    data = REAL_CORE.read_bytes()
    packages = alpm.parse_database(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert len(packages) == sum(m.name.endswith("/desc") for m in archive.getmembers()) == 261
    return MappingProxyType(packages)


def _real_core(tmp_path: Path, installed: list[Pkg]) -> tuple[Repository, list[alpm.Package]]:
    """The real core database, parsed and in a folder pacman reads, and installed as pinner
    reads an image's local database (installed is also written where pacman reads it)."""
    packages = dict(_real_core_packages())
    (tmp_path / "core").mkdir()
    shutil.copyfile(REAL_CORE, tmp_path / "core" / "core.db.tar.gz")
    install_local(tmp_path, installed)
    local = [
        alpm.Package(p.name, p.version, p.arch, provides=tuple(map(alpm.parse_depend, p.provides)))
        for p in installed
    ]
    return Repository("core", packages), local


UPGRADE_CORE = [
    Pkg("glibc", "2.40-1"),
    Pkg("bash", "5.2.026-2", depends=["glibc", "readline>=8"], provides=["sh"]),
    Pkg("readline", "8.2.013-1", depends=["glibc", "ncurses"]),
    Pkg("ncurses", "6.5-3", depends=["glibc"]),
    Pkg("openssl", "3.4.0-1", depends=["glibc"]),
    Pkg("curl", "8.10.1-1", depends=["glibc", "openssl"]),
    Pkg("inetutils", "2.5-1", depends=["glibc"], replaces=["netkit-base"]),
]
UPGRADE_EXTRA = [
    Pkg("git", "2.47.0-1", depends=["curl", "perl", "sh"]),
    Pkg("perl", "5.40.0-1", depends=["glibc"]),
    Pkg("glibc", "9.9-1"),  # core comes first: -Su takes core's glibc
]
# (installed, targets): what `pacman -Su [targets]` fetches for that installed set.
UPGRADES = [
    ([Pkg("glibc", "2.39-1"), Pkg("ncurses", "6.5-3")], []),
    ([Pkg("glibc", "2.40-1"), Pkg("bash", "5.1.016-1", depends=["glibc"])], []),
    ([Pkg("glibc", "2.40-1"), Pkg("curl", "8.99-1")], []),
    ([Pkg("glibc", "2.40-1"), Pkg("mytool", "1.0-1")], []),
    ([Pkg("glibc", "2.40-1"), Pkg("netkit-base", "0.17-1")], []),
    ([Pkg("glibc", "2.40-1"), Pkg("perl", "1:5.0-1")], []),
    ([Pkg("glibc", "2.39-1")], ["git"]),
    ([Pkg("glibc", "2.40-1"), Pkg("curl", "8.9.0-1", depends=["glibc"])], []),
    ([Pkg("glibc", "2.39-1"), Pkg("bash", "5.2.026-2", depends=["glibc"])], ["bash"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def upgrade_repos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, bytes]]:
    base = tmp_path_factory.mktemp("upgrade")
    if shutil.which("repo-add") is None:
        pytest.skip("needs repo-add (Debian: pacman-package-manager)")
    return [
        (name, base / name, repo_add(base / name, name, pkgs))
        for name, pkgs in (("core", UPGRADE_CORE), ("extra", UPGRADE_EXTRA))
    ]


@needs_pacman
@pytest.mark.parametrize(
    ("installed", "targets"),
    UPGRADES,
    ids=[" ".join(f"{p.name}-{p.version}" for p in i) + " " + " ".join(t) for i, t in UPGRADES],
)
def test_sysupgrade_matches_pacman(
    upgrade_repos: list[tuple[str, Path, bytes]],
    tmp_path: Path,
    installed: list[Pkg],
    targets: list[str],
) -> None:
    """`pacman -Sup` over the same databases and local database is the oracle."""
    install_local(tmp_path, installed)
    expected = pacman_print(tmp_path, [(n, d) for n, d, _ in upgrade_repos], targets, "-u")
    dbs = [Repository(n, alpm.parse_database(data)) for n, _, data in upgrade_repos]
    local = [alpm.parse_desc(local_desc(p), sync=False) for p in installed]
    found = alpm.resolve(dbs, targets, local, upgrade=True)
    assert found.missing == ()
    assert sorted((r, p.name, p.version) for r, p in found.packages) == expected


# (installed, ignore): IgnorePkg/IgnoreGroup, given to pacman as --ignore/--ignoregroup.
IGNORED = [
    ([Pkg("glibc", "2.39-1"), Pkg("curl", "8.9.0-1", depends=["glibc"])], alpm.Ignore(("glibc",))),
    ([Pkg("glibc", "2.39-1"), Pkg("curl", "8.9.0-1", depends=["glibc"])], alpm.Ignore(("c*",))),
    ([Pkg("glibc", "2.40-1"), Pkg("netkit-base", "0.17-1")], alpm.Ignore(("inetutils",))),
    ([Pkg("glibc", "2.39-1", groups=["base"]), Pkg("ncurses", "6.4-1")], alpm.Ignore((), ("base",))),
]  # fmt: skip


@needs_pacman
@pytest.mark.parametrize(
    ("installed", "ignore"), IGNORED, ids=[" ".join(i.packages + i.groups) for _, i in IGNORED]
)
def test_sysupgrade_leaves_ignored_packages_as_pacman_does(
    upgrade_repos: list[tuple[str, Path, bytes]],
    tmp_path: Path,
    installed: list[Pkg],
    ignore: alpm.Ignore,
) -> None:
    install_local(tmp_path, installed)
    flags = [f"--ignore={p}" for p in ignore.packages]
    flags += [f"--ignoregroup={g}" for g in ignore.groups]
    expected = pacman_print(tmp_path, [(n, d) for n, d, _ in upgrade_repos], [], "-u", *flags)
    dbs = [Repository(n, alpm.parse_database(data)) for n, _, data in upgrade_repos]
    local = [alpm.parse_desc(local_desc(p), sync=False) for p in installed]
    found = alpm.resolve(dbs, [], local, upgrade=True, ignore=ignore)
    assert sorted((r, p.name, p.version) for r, p in found.packages) == expected
    # Without the ignore list something more is upgraded: the cases are not empty.
    assert len(alpm.resolve(dbs, [], local, upgrade=True).packages) > len(found.packages)


def _tar(members: list[tuple[str, bytes]], *, kind: int = tarfile.REGTYPE) -> bytes:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.type = len(data), kind
            archive.addfile(info, io.BytesIO(data))
    return stream.getvalue()


ONE = _tar([("bash-5.2.026-2/desc", DESC.encode())])
ZSTD_ONE = zstandard.ZstdCompressor().compress(ONE)
# Two frames, the tar split between them: zstd(1) writes a frame per input file (zstd a b > c).
ZSTD_SPLIT = zstandard.ZstdCompressor().compress(ONE[:700]) + zstandard.ZstdCompressor().compress(
    ONE[700:]
)


@pytest.mark.parametrize(
    "data",
    [ONE, gzip.compress(ONE), lzma.compress(ONE), bz2.compress(ONE), ZSTD_ONE, ZSTD_SPLIT],
    ids=["tar", "gzip", "xz", "bzip2", "zstd", "zstd in two frames"],
)
def test_parse_database_formats(data: bytes) -> None:
    assert list(alpm.parse_database(data)) == ["bash"]


BAD_DATABASES = [
    (b"<html>not found</html>", "not a tar archive (gzip, xz, bzip2, zstd or plain)"),
    (gzip.compress(ONE)[:40], "truncated: the compressed stream ends early"),
    (ZSTD_ONE[:-4], "truncated: the compressed stream ends early"),
    (ZSTD_SPLIT[: len(ZSTD_SPLIT) - 4], "truncated: the compressed stream ends early"),
    (ZSTD_ONE[:4] + b"\xff" * 16, "cannot decompress: not a valid zstd stream"),
    (ZSTD_ONE + b"trailing", "cannot decompress: not a valid zstd stream"),
    (_tar([("bash-1.0-1/desc", DESC.encode())]), "'bash-1.0-1': names bash 5.2.026-2"),
    (_tar([("bash-5.2.026-2/desc", DESC.encode()), ("bash-5.2.026-2/desc", DESC.encode())]), "bash appears twice"),
    (_tar([("bash-5.2.026-2/desc", b"")], kind=tarfile.SYMTYPE), "'bash-5.2.026-2/desc': not a desc file pinner reads"),
    (_tar([("bash-5.2.026-2/desc", b"\xff")]), "'bash-5.2.026-2': 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), BAD_DATABASES, ids=[m for _, m in BAD_DATABASES])
def test_parse_database_refuses(data: bytes, message: str) -> None:
    with pytest.raises(DescError) as raised:
        alpm.parse_database(data)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "data", [gzip.compress(ONE), ZSTD_ONE, ZSTD_SPLIT], ids=["gzip", "zstd", "zstd in two frames"]
)
def test_parse_database_cap(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alpm, "MAX_DATABASE", 1000)
    with pytest.raises(DescError) as raised:
        alpm.parse_database(data)
    assert str(raised.value) == "decompresses to more than 1000 bytes"


def test_zstd_bomb_stops_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 GiB of zeros packs into a few KiB: reading stops a piece past the cap, never near 1 GiB.
    writer = zstandard.ZstdCompressor().compressobj()
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(writer.compress(zeros) for _ in range(1024)) + writer.flush()
    monkeypatch.setattr(alpm, "MAX_DATABASE", 1 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(DescError) as raised:
            alpm.parse_database(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(raised.value) == f"decompresses to more than {1 << 20} bytes"
    assert peak < 16 << 20


@needs_pacman
@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs zstd")
def test_zstd_database_reads_as_its_gzip_twin(
    repos: list[tuple[str, Path, bytes]], tmp_path: Path
) -> None:
    for _, _, data in repos:
        recompressed = recompress_zstd(data)
        assert recompressed.startswith(b"\x28\xb5\x2f\xfd")
        assert alpm.parse_database(recompressed) == alpm.parse_database(data)
    # repo-add writes zstd itself when the database is named .tar.zst.
    made = repo_add(tmp_path, "core", CORE, suffix=".tar.zst")
    assert made.startswith(b"\x28\xb5\x2f\xfd")
    assert sorted(alpm.parse_database(made)) == sorted(p.name for p in CORE)


# (installed, targets): what `pacman -S --needed targets` fetches; CORE serves bash 5.2.026-2.
NEEDED = [
    ([Pkg("glibc", "2.40-1"), Pkg("bash", "5.2.026-2")], ["bash"]),
    ([Pkg("glibc", "2.40-1"), Pkg("bash", "5.1.016-1")], ["bash"]),
    ([Pkg("glibc", "2.40-1"), Pkg("bash", "9.0-1")], ["bash"]),
    ([Pkg("glibc", "2.40-1"), Pkg("bash", "1:5.2.026-2")], ["bash"]),
    ([Pkg("glibc", "2.40-1"), Pkg("make", "4.4.1-2")], ["base-devel"]),
    ([Pkg("glibc", "2.40-1"), Pkg("bash", "5.2.026-2")], ["bash", "glibc", "ncurses"]),
]  # fmt: skip


@needs_pacman
@pytest.mark.parametrize(
    ("installed", "targets"),
    NEEDED,
    ids=[" ".join(f"{p.name}-{p.version}" for p in i) + " " + " ".join(t) for i, t in NEEDED],
)
def test_needed_matches_pacman(
    repos: list[tuple[str, Path, bytes]],
    tmp_path: Path,
    installed: list[Pkg],
    targets: list[str],
) -> None:
    install_local(tmp_path, installed)
    expected = pacman_print(tmp_path, [(n, d) for n, d, _ in repos], targets, "--needed")
    dbs = [Repository(n, alpm.parse_database(data)) for n, _, data in repos]
    local = [alpm.Package(p.name, p.version, p.arch) for p in installed]
    found = alpm.resolve(dbs, targets, local, needed=set(targets))
    assert found.missing == ()
    assert sorted((r, p.name, p.version) for r, p in found.packages) == expected


@pytest.mark.parametrize(
    "data", hostile_tars("bash-5.2-1/desc").values(), ids=list(hostile_tars(""))
)
def test_a_database_whose_pax_headers_do_not_parse_is_one_desc_error(data: bytes) -> None:
    # tarfile raises ValueError on these, not TarError; the line still says the tar is broken.
    for packed in (data, gzip.compress(data)):
        with pytest.raises(DescError, match=r"^(not a readable tar archive: |'bash-5.2-1': )"):
            alpm.parse_database(packed)
