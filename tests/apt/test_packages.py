"""Tests for pinner.apt.packages: decompress, parse_packages, PackageIndex."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from pathlib import Path

import pytest

from pinner.apt import packages
from pinner.apt.packages import PackageEntry, PackageIndex, decompress, parse_packages
from pinner.errors import MirrorError

APT_DATA = Path(__file__).parents[2] / "testdata" / "apt"
BOOKWORM = APT_DATA / "bookworm_main_binary-amd64_Packages"
SECURITY = APT_DATA / "bookworm-security_main_binary-amd64_Packages"
UPDATES_XZ = APT_DATA / "bookworm-updates_main_binary-amd64_Packages.xz"

H1 = "1" * 64
H2 = "2" * 64

# Laid out as dak writes it, with continuation lines that look like our fields.
HELLO = f"""\
Package: hello
Version: 2.10-3
Installed-Size: 277
Architecture: amd64
Depends: libc6 (>= 2.34)
Description: example package based on GNU hello
Tag: devel::debian,
 Version: 9.9
 Filename: pool/evil.deb
Filename: pool/main/h/hello/hello_2.10-3_amd64.deb
Size: 53080
MD5sum: d04c2e9639dee67aa836d8232b1ca658
SHA256: {H1}"""
HELLO_ENTRY = PackageEntry(
    "hello", "2.10-3", "amd64", "pool/main/h/hello/hello_2.10-3_amd64.deb", 53080, H1
)
TZDATA = f"""\
Package: tzdata
Version: 2025b-0+deb12u1
Architecture: all
Filename: pool/main/t/tzdata/tzdata_2025b-0+deb12u1_all.deb
Size: 299412
SHA256: {H2}"""
TZDATA_ENTRY = PackageEntry(
    "tzdata",
    "2025b-0+deb12u1",
    "all",
    "pool/main/t/tzdata/tzdata_2025b-0+deb12u1_all.deb",
    299412,
    H2,
)
ODD_LAYOUT = f"""\
SHA256:{H2}
size:   299412\t
Filename: pool/main/t/tzdata/tzdata_2025b-0+deb12u1_all.deb
ARCHITECTURE: all
Source: tzdata
package: tzdata
Version:2025b-0+deb12u1"""

# (text, expected entries, whether the one-regex fast path reads it)
PARSE_CASES = [
    pytest.param(HELLO, [HELLO_ENTRY], True, id="one-stanza-no-final-newline"),
    pytest.param(HELLO + "\n", [HELLO_ENTRY], True, id="one-stanza-final-newline"),
    pytest.param(
        HELLO + "\n\n" + TZDATA + "\n\n", [HELLO_ENTRY, TZDATA_ENTRY], True, id="two-stanzas"
    ),
    pytest.param(
        HELLO + "\n\n" + TZDATA,
        [HELLO_ENTRY, TZDATA_ENTRY],
        True,
        id="last-stanza-without-blank-line",
    ),
    pytest.param(HELLO + "\n\n\n\n\n", [HELLO_ENTRY], True, id="trailing-empty-lines"),
    pytest.param(
        HELLO + "\n\n\n" + TZDATA, [HELLO_ENTRY, TZDATA_ENTRY], True, id="two-empty-lines-between"
    ),
    pytest.param(
        HELLO + "\n\n\n\n" + TZDATA,
        [HELLO_ENTRY, TZDATA_ENTRY],
        False,
        id="three-empty-lines-between",
    ),
    pytest.param("\n" + HELLO, [HELLO_ENTRY], False, id="leading-empty-line"),
    pytest.param(ODD_LAYOUT, [TZDATA_ENTRY], False, id="any-order-case-and-spacing"),
    pytest.param(
        HELLO + "\n\n" + ODD_LAYOUT,
        [HELLO_ENTRY, TZDATA_ENTRY],
        False,
        id="one-odd-stanza-among-dak-ones",
    ),
    pytest.param(
        (HELLO + "\n\n" + TZDATA + "\n").replace("\n", "\r\n"),
        [HELLO_ENTRY, TZDATA_ENTRY],
        False,
        id="crlf",
    ),
    pytest.param(
        HELLO.replace("\n", "\n \n", 1),
        [HELLO_ENTRY],
        True,
        id="blank-continuation-line-is-not-a-separator",
    ),
    pytest.param("", [], True, id="empty"),
    pytest.param("\n\n", [], True, id="only-newlines"),
]


@pytest.mark.parametrize(("text", "expected", "fast"), PARSE_CASES)
def test_parse_packages(
    text: str, expected: list[PackageEntry], fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_calls: list[str] = []
    slow = packages._parse_slow

    def spy(data: bytes, source: str) -> list[PackageEntry]:
        slow_calls.append(source)
        return slow(data, source)

    monkeypatch.setattr(packages, "_parse_slow", spy)
    assert parse_packages(text) == expected
    assert parse_packages(text.encode()) == expected
    assert slow_calls == ([] if fast else ["Packages", "Packages"])


def test_entries_are_immutable_records() -> None:
    (entry,) = parse_packages(HELLO)
    assert type(entry) is PackageEntry
    assert entry._asdict() == {
        "name": "hello",
        "version": "2.10-3",
        "architecture": "amd64",
        "filename": "pool/main/h/hello/hello_2.10-3_amd64.deb",
        "size": 53080,
        "sha256": H1,
        "provides": (),
    }
    with pytest.raises(AttributeError):
        entry.version = "9"  # type: ignore[misc]


PARSE_ERRORS = [
    pytest.param(
        HELLO.replace(f"SHA256: {H1}", ""), "Packages:1: hello: no SHA256 field", id="no-sha256"
    ),
    pytest.param(
        HELLO + "\n\n" + TZDATA.replace("Version: 2025b-0+deb12u1\n", ""),
        "Packages:15: tzdata: no Version field",
        id="second-stanza-no-version",
    ),
    pytest.param(
        TZDATA.replace("Package: tzdata\n", ""), "Packages:1: no Package field", id="no-package"
    ),
    pytest.param(
        TZDATA.replace("Size: 299412", "Size: 299k"),
        "Packages:1: tzdata: Size is not a number: '299k'",
        id="size-not-number",
    ),
    pytest.param(
        TZDATA.replace("Size: 299412", "Size: " + "9" * 5000),
        f"Packages:1: tzdata: Size is not a number: '{'9' * 40}'",
        id="size-5000-digits",
    ),
    pytest.param(
        TZDATA.replace(H2, "ABC"),
        "Packages:1: tzdata: SHA256 is not 64 hex digits: 'ABC'",
        id="bad-sha256",
    ),
    pytest.param(
        TZDATA.replace("Size:", "Size"),
        "Packages:5: not a field: 'Size 299412'",
        id="line-without-colon",
    ),
    pytest.param(
        TZDATA.replace("Size:", " Size:", 1).replace("Filename", "Filename "),
        "Packages:4: not a field: 'Filename : pool/main/t/tzdata/tzdata_2025b-0+deb12u1_all.deb'",
        id="space-before-colon",
    ),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(MirrorError) as excinfo:
        parse_packages(text)
    assert str(excinfo.value) == message


def test_parse_error_names_the_source() -> None:
    with pytest.raises(MirrorError) as excinfo:
        parse_packages(TZDATA[:40], source="dists/bookworm/main/binary-amd64/Packages")
    assert str(excinfo.value) == (
        "dists/bookworm/main/binary-amd64/Packages:1: tzdata: no Architecture field"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"Package: h\xffllo\n", "Packages:1: Package is not UTF-8", id="our-field"),
        pytest.param(
            HELLO.encode().replace(b"example", b"\xff"), None, id="other-field-not-decoded"
        ),
    ],
)
def test_non_utf8(data: bytes, message: str | None) -> None:
    if message is None:
        assert parse_packages(data) == [HELLO_ENTRY]
        assert packages._parse_slow(data, "Packages") == [HELLO_ENTRY]
        return
    with pytest.raises(MirrorError) as excinfo:
        parse_packages(data)
    assert str(excinfo.value) == message


REAL_FILES = [
    pytest.param(BOOKWORM, 188, "0ad", "zlib1g", id="bookworm-trimmed"),
    pytest.param(SECURITY, 147, "7zip", "zookeeper", id="security-trimmed"),
    pytest.param(UPDATES_XZ, 38, "ca-certificates", "tzdata", id="updates-complete"),
]


@pytest.mark.parametrize(("path", "count", "first", "last"), REAL_FILES)
def test_real_indexes(
    path: Path, count: int, first: str, last: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = decompress(path.read_bytes(), path.name)
    slow = packages._parse_slow(data, path.name)
    # dak's layout always takes the fast path, and it reads the same as the slow one.
    monkeypatch.setattr(packages, "_parse_slow", None)
    entries = parse_packages(data)
    assert entries == slow
    assert (len(entries), entries[0].name, entries[-1].name) == (count, first, last)


def test_real_hello() -> None:
    entries = parse_packages(BOOKWORM.read_bytes())
    assert [e for e in entries if e.name == "hello"] == [
        PackageEntry(
            "hello",
            "2.10-3",
            "amd64",
            "pool/main/h/hello/hello_2.10-3_amd64.deb",
            53080,
            "2e6e2f1a0007dc43bc91c273fd36e91e40a4f1c2765a03eca68b70a42103878a",
        )
    ]


PLAIN = decompress(UPDATES_XZ.read_bytes(), UPDATES_XZ.name)


def test_decompress_real_xz_matches_inrelease() -> None:
    # bookworm-updates' InRelease lists the uncompressed index too.
    assert len(PLAIN) == 32757
    assert hashlib.sha256(PLAIN).hexdigest() == (
        "80a1f6ee524222c49f230fc5700d00f946d0a47eb5258180106dd03df126e16a"
    )


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(lzma.compress(PLAIN), "main/binary-amd64/Packages.xz", id="xz"),
        pytest.param(gzip.compress(PLAIN), "main/binary-amd64/Packages.gz", id="gz"),
        pytest.param(bz2.compress(PLAIN), "main/binary-amd64/Packages.bz2", id="bz2"),
        pytest.param(PLAIN, "main/binary-amd64/Packages", id="plain"),
        pytest.param(PLAIN, "main/binary-amd64/by-hash/SHA256/80a1f6ee", id="by-hash-plain"),
    ],
)
def test_decompress(data: bytes, path: str) -> None:
    assert decompress(data, path) == PLAIN


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        pytest.param(
            b"garbage",
            "P.xz",
            "P.xz: cannot decompress: Input format not supported by decoder",
            id="xz-garbage",
        ),
        pytest.param(
            UPDATES_XZ.read_bytes()[:-30],
            "P.xz",
            "P.xz: truncated: the compressed stream ends early",
            id="xz-truncated",
        ),
        pytest.param(
            b"garbage",
            "P.gz",
            "P.gz: cannot decompress: Error -3 while decompressing data: incorrect header check",
            id="gz-garbage",
        ),
        pytest.param(
            gzip.compress(PLAIN)[:-30],
            "P.gz",
            "P.gz: truncated: the compressed stream ends early",
            id="gz-truncated",
        ),
        pytest.param(
            b"garbage", "P.bz2", "P.bz2: cannot decompress: Invalid data stream", id="bz2-garbage"
        ),
        pytest.param(
            bz2.compress(PLAIN)[:-30],
            "P.bz2",
            "P.bz2: truncated: the compressed stream ends early",
            id="bz2-truncated",
        ),
        pytest.param(PLAIN, "P.zst", "P.zst: .zst compression is not supported", id="zst"),
    ],
)
def test_decompress_errors(data: bytes, path: str, message: str) -> None:
    with pytest.raises(MirrorError) as excinfo:
        decompress(data, path)
    assert str(excinfo.value) == message


@pytest.fixture(scope="module")
def index() -> PackageIndex:
    """bookworm, -updates and -security, in the order apt's sources list them."""
    return PackageIndex(
        parse_packages(BOOKWORM.read_bytes()),
        parse_packages(PLAIN),
        parse_packages(SECURITY.read_bytes()),
    )


@pytest.mark.parametrize(
    ("name", "arch", "version", "filename"),
    [
        pytest.param(
            "libc6",
            "amd64",
            "2.36-9+deb12u14",
            "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb",
            id="point-release-beats-older-security",
        ),
        pytest.param(
            "openssl",
            "amd64",
            "3.0.22-1~deb12u2",
            "pool/updates/main/o/openssl/openssl_3.0.22-1~deb12u2_amd64.deb",
            id="security-beats-bookworm-and-updates",
        ),
        pytest.param(
            "openssh-client",
            "amd64",
            "1:9.2p1-2+deb12u10",
            "pool/main/o/openssh/openssh-client_9.2p1-2+deb12u10_amd64.deb",
            id="epoch-in-all-suites",
        ),
        pytest.param(
            "ca-certificates",
            "amd64",
            "20250419~deb12u2",
            "pool/updates/main/c/ca-certificates/ca-certificates_20250419~deb12u2_all.deb",
            id="arch-all",
        ),
        pytest.param(
            "tzdata",
            "arm64",
            "2026f-0+deb12u1",
            "pool/updates/main/t/tzdata/tzdata_2026f-0+deb12u1_all.deb",
            id="arch-all-for-any-arch",
        ),
        pytest.param(
            "linux-doc",
            "amd64",
            "6.1.192-2",
            "pool/updates/main/l/linux/linux-doc_6.1.192-2_all.deb",
            id="several-versions-in-one-suite",
        ),
        pytest.param(
            "hello",
            "amd64",
            "2.10-3",
            "pool/main/h/hello/hello_2.10-3_amd64.deb",
            id="only-in-bookworm",
        ),
        pytest.param("hello", "arm64", None, None, id="other-arch"),
        pytest.param("no-such-package", "amd64", None, None, id="unknown"),
    ],
)
def test_candidate(
    index: PackageIndex, name: str, arch: str, version: str | None, filename: str | None
) -> None:
    found = index.candidate(name, arch)
    assert (found and (found.version, found.filename)) == (version and (version, filename))


def test_index_entries(index: PackageIndex) -> None:
    assert [e.version for e in index.entries("tzdata")] == [
        "2026b-0+deb12u1",
        "2025b-0+deb12u1",
        "2026f-0+deb12u1",
    ]
    assert index.entries("no-such-package") == ()


def _entry(version: str, filename: str, arch: str = "amd64") -> PackageEntry:
    return PackageEntry("p", version, arch, filename, 1, H1)


@pytest.mark.parametrize(
    ("suites", "expected"),
    [
        pytest.param([[_entry("1.0", "a")], [_entry("1.0", "b")]], "a", id="tie-earlier-suite"),
        pytest.param([[_entry("1.0", "a")], [_entry("1.0-0", "b")]], "a", id="tie-equal-versions"),
        pytest.param([[_entry("1.0~rc1", "a")], [_entry("1.0", "b")]], "b", id="tilde"),
        pytest.param([[_entry("9", "a", "arm64")], [_entry("1", "b", "all")]], "b", id="arch"),
        pytest.param([[_entry("2", "a"), _entry("10", "b")]], "b", id="numeric"),
        pytest.param([], None, id="no-suites"),
    ],
)
def test_candidate_rules(suites: list[list[PackageEntry]], expected: str | None) -> None:
    found = PackageIndex(*suites).candidate("p", "amd64")
    assert (found and found.filename) == expected


def test_candidate_invalid_version() -> None:
    index = PackageIndex([_entry("1.0", "a"), _entry("v2", "pool/p_v2_amd64.deb")])
    with pytest.raises(MirrorError) as excinfo:
        index.candidate("p", "amd64")
    assert str(excinfo.value) == (
        "pool/p_v2_amd64.deb: 'v2': version number does not start with digit"
    )
