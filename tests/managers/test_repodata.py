"""Tests for pinner.managers.repodata: real metalink and repomd files, and hostile documents."""

from __future__ import annotations

import gzip
import hashlib
import lzma
import shutil
import subprocess
from pathlib import Path

import pytest
from rpmrepo import Spec, build_repo, needs_rpm_tools

from pinner.managers.repodata import (
    Checksum,
    RepodataError,
    check_repomd,
    decompress,
    parse_metalink,
    parse_mirrorlist,
    parse_primary,
    parse_repomd,
    primary_packages,
)
from pinner.managers.rpmresolve import Pool, resolve

RPM_DATA = Path(__file__).parents[2] / "testdata" / "rpm"
CS9 = RPM_DATA / "cs9-appstream"


def _error(function: object, *args: object) -> str:
    with pytest.raises(RepodataError) as raised:
        function(*args)  # type: ignore[operator]
    return str(raised.value)


def test_real_metalink() -> None:
    data = (RPM_DATA / "metalink" / "openeuler-2203-update-x86_64.xml").read_bytes()
    metalink = parse_metalink(data, "metalink")
    assert metalink.size == 3586
    assert [c.kind for c in metalink.checksums] == ["sha256", "sha512", "sha256", "sha512"]
    assert metalink.checksums[0] == Checksum(
        "sha256", "effd1df409e6936e88fd0312d7bd8efdcaccb1ca7bd9acf228b949e5a49c4620"
    )
    assert len(metalink.urls) == 11  # the rsync mirrors are left out
    assert (
        metalink.urls[0] == "https://repo.openeuler.openatom.cn/openEuler-22.03-LTS/update/x86_64/"
    )
    assert metalink.urls[-1] == "https://repo.openeuler.org/openEuler-22.03-LTS/update/x86_64/"


def test_repomd_checked_against_metalink() -> None:
    repomd = b"<repomd/>"
    digest = hashlib.sha256(repomd).hexdigest()
    metalink = parse_metalink(
        b'<metalink xmlns="http://www.metalinker.org/"><files><file name="repomd.xml">'
        b'<verification><hash type="sha256">' + digest.encode() + b"</hash></verification>"
        b'<resources><url protocol="https">https://m.example/r/repodata/repomd.xml</url>'
        b"</resources></file></files></metalink>",
        "metalink",
    )
    check_repomd(metalink, repomd, "m")
    assert _error(check_repomd, metalink, repomd + b" ", "m") == (
        "m: repomd.xml matches no checksum its metalink gives"
    )


def test_mirrorlist() -> None:
    text = b"# repo = baseos-9 arch = x86_64 country = US\nhttps://a.example/9/BaseOS/x86_64/os/\n"
    assert parse_mirrorlist(text, "m") == ("https://a.example/9/BaseOS/x86_64/os/",)
    assert _error(parse_mirrorlist, b"# nothing\nftp://x/\n", "m") == (
        "m: mirrorlist lists no http(s) mirror"
    )


def test_real_repomd() -> None:
    entries = parse_repomd((CS9 / "repomd.orig.xml").read_bytes(), "repomd.xml")
    assert sorted(entries) == [
        "filelists",
        "filelists_db",
        "group",
        "group_xz",
        "modules",
        "other",
        "other_db",
        "primary",
        "primary_db",
    ]
    primary = entries["primary"]
    assert primary.href == (
        "repodata/c03bb2ebc33bbee3046da091b45d90717273a43d3641a9d84e6eede05637bc8a-primary.xml.gz"
    )
    assert primary.size == 3597627


def _cs9() -> list:  # type: ignore[type-arg]
    entry = parse_repomd((CS9 / "repodata" / "repomd.xml").read_bytes(), "repomd.xml")["primary"]
    return primary_packages(entry, (CS9 / entry.href).read_bytes(), entry.href)


def test_real_trimmed_primary() -> None:
    packages = _cs9()
    assert len(packages) == 30
    make = next(p for p in packages if p.name == "make-latest")
    assert str(make.evr) == "1:4.4.1-3.el9"
    assert make.checksum.kind == "sha256"
    assert {p.arch for p in packages} == {"x86_64", "i686", "noarch"}


@needs_rpm_tools
def test_repeated_dependencies_and_versions_are_kept_once() -> None:
    packages = _cs9()
    deps = [d for p in packages for d in (*p.requires, *p.recommends)]
    provides = [d for p in packages for d in p.provides]
    evrs = [d.evr for d in (*deps, *provides) if d.evr] + [p.evr for p in packages]
    names = [d.name for d in (*deps, *provides)]
    # Equal values are one object: a parsed repository holds each distinct one once.
    for values in (deps, provides, evrs, names):
        assert len({id(v) for v in values}) == len(set(values)) < len(values)


def test_real_newest_builds_match_dnf(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            "dnf",
            f"--installroot={tmp_path}",
            "--releasever=9",
            "--setopt=reposdir=/nonexistent",
            f"--setopt=cachedir={tmp_path}/cache",
            f"--repofrompath=cs9,file://{CS9}",
            "--repo=cs9",
            "-q",
            "repoquery",
            "--latest-limit=1",
            "--arch=x86_64,noarch",
            "--qf=%{name} %{evr}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = dict(line.split() for line in result.stdout.splitlines())
    assert len(expected) == 7  # every name of the trimmed data, newest x86_64 or noarch build
    pool = Pool(_cs9(), (), "x86_64")
    for name, evr in expected.items():
        chosen = resolve(pool, [name]).chosen
        named = [p for p in chosen if p.name == name]
        assert [str(p.evr).removeprefix("0:") for p in named] == [evr.removeprefix("0:")]


def test_real_closure_stays_on_the_native_architecture() -> None:
    found = resolve(Pool(_cs9(), (), "x86_64"), ["python3.12"])
    assert [(p.name, str(p.evr), p.arch) for p in found.chosen] == [
        ("python3.12", "3.12.8-1.el9", "x86_64"),
        ("python3.12-libs", "3.12.8-1.el9", "x86_64"),
        ("python3.12-pip-wheel", "23.2.1-4.el9", "noarch"),
    ]
    # BaseOS is not in the trimmed data: what it would provide is reported, not guessed.
    assert (
        "libc.so.6(GLIBC_2.34)(64bit)",
        "libc.so.6(GLIBC_2.34)(64bit) (needed by python3.12)",
    ) in [(m.name, m.text) for m in found.missing]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<repomd><revision>&lol2;</revision></repomd>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><repomd><revision>&x;</revision></repomd>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(BOMB, "document has a DTD; repository metadata never does", id="entity-bomb"),
        pytest.param(EXTERNAL, "document has a DTD; repository metadata never does", id="external"),
        pytest.param(
            b"<repomd><data",
            "r: not well-formed XML (unclosed token: line 1, column 8)",
            id="truncated",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="ut-1f-8"?><repomd/>',
            "r: XML in an encoding pinner cannot read",
            id="unknown-encoding",
        ),
        pytest.param(
            b"<repomd>" + b"<a>" * 100_000,
            "r: elements nested over 64 deep",
            id="nested-100000-deep",
        ),
        pytest.param(b"<repomd/>", "r: repomd.xml names no primary metadata", id="no-primary"),
        pytest.param(
            b'<repomd><data type="primary"><checksum type="sha256">ab</checksum>'
            b'<location href="x.xml.gz"/></data></repomd>',
            "r: 'sha256' checksum 'ab' is malformed",
            id="short-checksum",
        ),
        pytest.param(
            b'<repomd><data type="primary"><checksum type="sha256">' + b"a" * 64 + b"</checksum>"
            b'<location href="../../etc/x.xml.gz"/></data></repomd>',
            "r: 'primary' location '../../etc/x.xml.gz' is not a path",
            id="location-escapes",
        ),
    ],
)
def test_hostile_repomd(data: bytes, message: str) -> None:
    assert _error(parse_repomd, data, "r") == message


def test_decompression_is_capped() -> None:
    bomb = gzip.compress(b"\0" * (4 << 20))
    assert len(bomb) < 10_000
    message = _error(lambda: list(decompress(bomb, "p.xml.gz", limit=1 << 20)))
    assert message == f"p.xml.gz: decompresses to more than {1 << 20} bytes"


@pytest.mark.parametrize(
    ("data", "href", "message"),
    [
        pytest.param(b"not gzip", "p.xml.gz", "p.xml.gz: cannot decompress", id="gz"),
        pytest.param(b"not xz", "p.xml.xz", "p.xml.xz: cannot decompress", id="xz"),
        pytest.param(b"not zstd", "p.xml.zst", "p.xml.zst: cannot decompress", id="zst"),
        pytest.param(
            b"", "p.xml.lz4", "p.xml.lz4: compression is not gz, xz, bz2 or zst", id="lz4"
        ),
    ],
)
def test_undecompressible(data: bytes, href: str, message: str) -> None:
    assert _error(lambda: list(decompress(data, href))).startswith(message)


def test_xz_primary() -> None:
    xml = (CS9 / "repodata").glob("*-primary.xml.gz").__next__().read_bytes()
    data = lzma.compress(gzip.decompress(xml))
    assert len(list(parse_primary(decompress(data, "p.xml.xz"), "p"))) == 30


@needs_rpm_tools
@pytest.mark.parametrize("compress", ["gz", "xz", "bz2"])
def test_createrepo_compressions(tmp_path: Path, compress: str) -> None:
    repo = build_repo([Spec("one", "1.0")], tmp_path / "repo", compress=compress)
    entry = parse_repomd((repo / "repodata" / "repomd.xml").read_bytes(), "r")["primary"]
    (package,) = primary_packages(entry, (repo / entry.href).read_bytes(), entry.href)
    assert (package.name, str(package.evr)) == ("one", "1.0-1")


def test_real_zstd_primary() -> None:
    # Debian's createrepo_c is built without zstd; this repodata comes from one that is not.
    repo = RPM_DATA / "custom-zst"
    entry = parse_repomd((repo / "repodata" / "repomd.xml").read_bytes(), "r")["primary"]
    (package,) = primary_packages(entry, (repo / entry.href).read_bytes(), entry.href)
    assert (package.name, str(package.evr), package.arch) == (
        "pkg-with-no-deps",
        "1.0.0-0",
        "noarch",
    )


def test_primary_rejects_a_bad_name() -> None:
    xml = (
        b'<metadata xmlns="http://linux.duke.edu/metadata/common"><package><name>a;b</name>'
        b'<arch>noarch</arch><version epoch="0" ver="1" rel="1"/><checksum type="sha256">'
        + b"a" * 64
        + b'</checksum><location href="a.rpm"/></package></metadata>'
    )
    assert _error(lambda: list(parse_primary(iter([xml]), "p"))) == (
        "p: package name 'a;b' is malformed"
    )


def _primary(version: str, requires: str = "") -> bytes:
    """primary.xml of one package with version's attributes and requires' entry attributes."""
    require = f'<rpm:requires><rpm:entry name="b" flags="GE" {requires}/></rpm:requires>'
    return (
        '<metadata xmlns="http://linux.duke.edu/metadata/common"'
        ' xmlns:rpm="http://linux.duke.edu/metadata/rpm"><package><name>a</name>'
        f'<arch>noarch</arch><version {version}/><checksum type="sha256">{"a" * 64}'
        f'</checksum><location href="a.rpm"/><format>{require if requires else ""}</format>'
        "</package></metadata>"
    ).encode()


@pytest.mark.parametrize("epoch", ["\u00b2", "9" * 5000], ids=["superscript-two", "5000-digits"])
def test_primary_rejects_an_epoch_int_cannot_read(epoch: str) -> None:
    # str.isdigit takes both; int() refuses both.
    package = _primary(f'epoch="{epoch}" ver="1" rel="1"')
    assert _error(lambda: list(parse_primary(iter([package]), "p"))).startswith(
        "p: a: version '1'-'1' is malformed"
    )
    dependency = _primary('epoch="0" ver="1" rel="1"', f'epoch="{epoch}" ver="1" rel="1"')
    assert _error(lambda: list(parse_primary(iter([dependency]), "p"))).startswith(
        "p: dependency 'b' has epoch "
    )


def test_a_size_int_cannot_read_is_no_size() -> None:
    repomd = (
        '<repomd><data type="primary"><checksum type="sha256">' + "a" * 64 + "</checksum>"
        '<location href="x.xml.gz"/><size>' + "9" * 5000 + "</size></data></repomd>"
    )
    assert parse_repomd(repomd.encode(), "r")["primary"].size is None


def test_tools_present_for_oracles() -> None:
    assert shutil.which("createrepo_c") is not None, "scripts/install-test-deps installs it"
