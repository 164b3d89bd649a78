"""rpm's Berkeley DB and ndb package databases, read from bytes and compared with rpm itself.

testdata/rpm/rpmdb holds a Packages file written by Berkeley DB's own db5.3_load and a
Packages.db written by rpm's own ndb code (its README says how); more Berkeley DB files are made
here from RPMs rpmbuild built, and `rpm --define '_db_backend bdb_ro' -qa` is the oracle.
"""

from __future__ import annotations

import lzma
import random
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest
from rpmrepo import (
    Spec,
    berkeley_packages,
    build_repo,
    dnf_install,
    header_blobs,
    ndb_packages,
    needs_db_load,
    needs_rpm_tools,
    rpm_query_all,
)

from pinner.managers import rpmdb
from pinner.managers.rpmblobs import BlobError, bdb_blobs, ndb_blobs
from pinner.managers.rpmdb import RpmdbError, install_times, read_bdb, read_image, read_ndb

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "rpm" / "rpmdb"
BDB = (TESTDATA / "Packages").read_bytes()
NDB = (TESTDATA / "Packages.db").read_bytes()
EXPECTED = ["base-1.0-1.noarch", "bigfiles-1.0-1.noarch", "lib-3:2.1-1.noarch"]
PAGE = 4096
needs_rpm = pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm is not installed")


def _names(packages: object) -> list[str]:
    return sorted(f"{p.name}-{p.evr}.{p.arch}" for p in packages)  # type: ignore[attr-defined]


def test_berkeley_db_packages_are_read() -> None:
    packages = read_bdb(BDB)
    assert _names(packages) == EXPECTED
    lib = next(p for p in packages if p.name == "lib")
    assert [(p.name, p.flags, str(p.evr)) for p in lib.provides] == [
        ("lib", "EQ", "3:2.1-1"),
        ("libthing", "EQ", "5"),
    ]
    # bigfiles' header (20 KB) spans six overflow pages.
    assert len(next(p for p in packages if p.name == "bigfiles").files) == 150


@needs_rpm
def test_berkeley_db_testdata_is_what_rpm_reads(tmp_path: Path) -> None:
    shutil.copy(TESTDATA / "Packages", tmp_path / "Packages")
    assert rpm_query_all(tmp_path, "bdb_ro") == EXPECTED


def test_ndb_packages_are_read() -> None:
    packages = read_ndb(NDB)
    assert _names(packages) == EXPECTED
    assert len(next(p for p in packages if p.name == "bigfiles").files) == 150


def test_ndb_writer_of_the_tests_writes_what_rpm_wrote() -> None:
    blobs = [blob for _, blob in sorted(ndb_blobs(NDB))]
    assert [index for index, _ in ndb_blobs(NDB)] == [1, 2, 3]
    assert ndb_packages(blobs) == NDB


def test_a_free_ndb_slot_is_skipped() -> None:
    data = bytearray(NDB)
    struct.pack_into("<II", data, 32 + 4, 0, 0)  # package 1's slot (lib), as rpmpkgDel leaves it
    assert _names(read_ndb(bytes(data))) == ["base-1.0-1.noarch", "bigfiles-1.0-1.noarch"]


def test_a_real_el8_berkeley_db_is_read(tmp_path: Path) -> None:
    data = (TESTDATA / "el8-libuuid" / "Packages").read_bytes()
    (libuuid,) = read_bdb(data)
    assert f"{libuuid.name}-{libuuid.evr}.{libuuid.arch}" == "libuuid-2.32.1-42.el8_8.x86_64"
    assert ("libuuid.so.1()(64bit)", None, None) in libuuid.provides
    assert "/usr/lib64/libuuid.so.1" in libuuid.files
    if shutil.which("rpm") is not None:
        (tmp_path / "Packages").write_bytes(data)
        assert rpm_query_all(tmp_path, "bdb_ro") == ["libuuid-2.32.1-42.el8_8.x86_64"]


def test_a_real_sle15_ndb_is_read() -> None:
    data = lzma.decompress((TESTDATA / "sle15-bci" / "Packages.db.xz").read_bytes())
    expected = (TESTDATA / "sle15-bci" / "packages.txt").read_text().split()
    assert len(expected) == 35
    assert _names(read_ndb(data)) == expected
    # SLE 15's rpm (rpm-ndb 4.14.3) writes the clock as each package's install time.
    (note,) = install_times(read_ndb(data))
    assert note.startswith("rpm 4.14.3 in the image writes the clock")


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, bytes]:
    base = tmp_path_factory.mktemp("bdb")
    files = tuple(f"/usr/share/wide/{i:03d}" for i in range(40))
    specs = [
        Spec("one", "1.0"),
        Spec("two", "2.0", "3.el8", epoch=1, requires=("one",)),
        Spec("wide", "0.9", files=files),
    ]
    root = base / "root"
    dnf_install(root, build_repo(specs, base / "repo"), ["two", "wide"])
    return header_blobs(root)


@needs_rpm_tools
@needs_db_load
@pytest.mark.parametrize(
    ("order", "pagesize", "copies"),
    [
        pytest.param("1234", 4096, 1, id="little-endian-4k"),
        pytest.param("4321", 4096, 1, id="big-endian-4k"),
        # Hundreds of headers: the hash splits into many buckets, spread over the spares table.
        pytest.param("1234", 512, 300, id="little-endian-512-many"),
        pytest.param("4321", 1024, 300, id="big-endian-1k-many"),
    ],
)
def test_berkeley_db_read_as_rpm_reads_it(
    blobs: dict[int, bytes], tmp_path: Path, order: str, pagesize: int, copies: int
) -> None:
    many = {n + 10 * k: blob for k in range(copies) for n, blob in blobs.items()}
    path = berkeley_packages(many, tmp_path, order=order, pagesize=pagesize)
    expected = rpm_query_all(tmp_path, "bdb_ro")
    assert len(expected) == 3 * copies
    assert _names(read_bdb(path.read_bytes())) == expected


def _pages(data: bytes, kind: int) -> list[int]:
    return [p for p in range(1, len(data) // PAGE) if data[p * PAGE + 25] == kind]


def _patched(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    changed = bytearray(data)
    struct.pack_into(fmt, changed, offset, *values)
    return bytes(changed)


_OVERFLOW = _pages(BDB, 7)
_BUCKET = _pages(BDB, 13)[0]
MALFORMED_BDB = [
    pytest.param(b"\0" * 4096, "is not a Berkeley DB hash database", id="not-bdb"),
    pytest.param(BDB[:100], "is shorter than a Berkeley DB meta page", id="short"),
    pytest.param(
        _patched(BDB, 12, "<I", 0x00053162),
        "is a Berkeley DB btree, not rpm's hash Packages database",
        id="btree",
    ),
    pytest.param(
        _patched(BDB, 16, "<I", 7), "has Berkeley DB hash version 7, not 8 to 10", id="version"
    ),
    pytest.param(_patched(BDB, 20, "<I", 1000), "has a page size of 1000 bytes", id="pagesize"),
    pytest.param(BDB[: 5 * PAGE], "names 11 pages of 4096 bytes in 20480 bytes", id="truncated"),
    pytest.param(
        _patched(BDB, 72, "<I", 4000), "names 4001 hash buckets in 10 pages", id="buckets"
    ),
    pytest.param(
        _patched(BDB, _BUCKET * PAGE + 16, "<I", _BUCKET),
        f"reaches page {_BUCKET} twice (a cyclic page chain)",
        id="cyclic-bucket-chain",
    ),
    pytest.param(
        _patched(BDB, _OVERFLOW[2] * PAGE + 16, "<I", _OVERFLOW[1]),
        f"reaches page {_OVERFLOW[1]} twice (a cyclic page chain)",
        id="cyclic-overflow-chain",
    ),
    pytest.param(
        _patched(BDB, _OVERFLOW[2] * PAGE + 16, "<I", 99),
        "points at page 99, outside its 10 pages",
        id="overflow-outside",
    ),
    pytest.param(
        _patched(BDB, _OVERFLOW[2] * PAGE + 8, "<I", 3),
        f"has page {_OVERFLOW[2]} numbered otherwise",
        id="page-number",
    ),
    pytest.param(
        _patched(BDB, _OVERFLOW[2] * PAGE + 16, "<I", _BUCKET + 1),
        f"has page {_BUCKET + 1} of type 13, not one rpm reads there",
        id="overflow-into-bucket",
    ),
    pytest.param(
        _patched(BDB, _BUCKET * PAGE + 20, "<H", 2100), "has a hash page of 2100 items", id="items"
    ),
]


@pytest.mark.parametrize(("data", "message"), MALFORMED_BDB)
def test_malformed_berkeley_db_is_one_line(data: bytes, message: str) -> None:
    with pytest.raises(BlobError) as caught:
        list(bdb_blobs(data))
    assert str(caught.value) == message


_SLOT = 32  # the first slot, package 1's
_BLOB = 4096  # package 1's blob, right after the slot page
MALFORMED_NDB = [
    pytest.param(b"RpmX" + NDB[4:], "is not an rpm ndb database", id="magic"),
    pytest.param(_patched(NDB, 4, "<I", 1), "has ndb version 1, not 0", id="version"),
    pytest.param(NDB[:4000], "names 1 slot pages in 4000 bytes", id="truncated"),
    pytest.param(
        _patched(NDB, 12, "<I", 1 << 20),
        f"names {1 << 20} slot pages in {len(NDB)} bytes",
        id="slot-pages",
    ),
    pytest.param(_patched(NDB, _SLOT, "<I", 0), "has a damaged slot at byte 32", id="slot-magic"),
    pytest.param(
        _patched(NDB, _SLOT + 8, "<I", 1 << 20),
        "has a slot at byte 32 pointing outside the file",
        id="slot-outside",
    ),
    pytest.param(
        _patched(NDB, _SLOT + 8, "<I", 3),
        "has a slot at byte 32 pointing outside the file",
        id="slot-into-slot-page",
    ),
    pytest.param(_patched(NDB, _SLOT + 16 + 4, "<I", 1), "holds package 1 twice", id="index-twice"),
    pytest.param(
        _patched(NDB, _BLOB + 4, "<I", 7),
        "has package 1 pointing at a damaged blob",
        id="blob-owner",
    ),
    pytest.param(
        _patched(NDB, _BLOB + 12, "<I", 10),
        "has package 1 of 10 bytes in a blob of 1808",
        id="blob-length",
    ),
    pytest.param(
        _patched(NDB, _BLOB + 100, "<B", 0xFF),
        "has package 1 failing its blob's checksum",
        id="checksum",
    ),
]


@pytest.mark.parametrize(("data", "message"), MALFORMED_NDB)
def test_malformed_ndb_is_one_line(data: bytes, message: str) -> None:
    with pytest.raises(BlobError) as caught:
        list(ndb_blobs(data))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        pytest.param(
            "/var/lib/rpm/Packages",
            MALFORMED_BDB[8].values[0],
            f"the rpm database /var/lib/rpm/Packages reaches page {_OVERFLOW[1]} twice (a cyclic page chain)",
            id="bdb",
        ),
        pytest.param(
            "/usr/lib/sysimage/rpm/Packages.db",
            MALFORMED_NDB[-1].values[0],
            "the rpm database /usr/lib/sysimage/rpm/Packages.db has package 1 failing its blob's checksum",
            id="ndb",
        ),
    ],
)
def test_the_image_file_is_named(path: str, data: bytes, message: str) -> None:
    with pytest.raises(RpmdbError) as caught:
        read_image({path: data})
    assert str(caught.value) == message


def test_a_malformed_header_names_its_package() -> None:
    blob = b"\0\0\0\1" + bytes(4)  # one index entry promised, none there
    data = ndb_packages([blob])
    with pytest.raises(RpmdbError) as caught:
        read_image({"/var/lib/rpm/Packages.db": data})
    assert str(caught.value) == (
        "the rpm database /var/lib/rpm/Packages.db: package 1:"
        " header counts (1 tags, 0 bytes) do not match its size"
    )


@pytest.mark.parametrize("path", ["/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages.db"])
def test_the_items_of_a_database_are_capped(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    # base, lib and their provides fit; bigfiles' 150 files do not.
    monkeypatch.setattr(rpmdb, "MAX_ITEMS", 100)
    with pytest.raises(RpmdbError) as caught:
        read_image({path: BDB if path.endswith("Packages") else NDB})
    assert str(caught.value) == (
        f"the rpm database {path} holds more than 100 packages, files and capabilities"
    )


def test_a_sqlite_error_quoting_bytes_not_utf8_is_one_error(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "rpmdb.sqlite") as db:
        db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)")
    data = (tmp_path / "rpmdb.sqlite").read_bytes()
    # The schema's SQL now holds an unterminated quote, which SQLite's error message quotes.
    data = data.replace(b"hnum INTEGER", b"hnum '\xff\xfe     ")
    with pytest.raises(RpmdbError) as caught:
        read_image({"/var/lib/rpm/rpmdb.sqlite": data})
    assert str(caught.value) == (
        "the rpm database /var/lib/rpm/rpmdb.sqlite: rpmdb is not a readable SQLite database"
        " (malformed database schema (Packages) - unrecognized token:"
        ' "\'\ufffd\ufffd      PRIMARY KEY, blob BLOB NOT NULL")'
    )


def test_read_image_prefers_the_newest_format() -> None:
    assert read_image({}) is None
    found = read_image({"/var/lib/rpm/Packages": BDB, "/usr/lib/sysimage/rpm/Packages.db": NDB})
    assert found is not None and found[0] == "/usr/lib/sysimage/rpm/Packages.db"


@pytest.mark.parametrize(("name", "data"), [("bdb", BDB), ("ndb", NDB)])
def test_damaged_bytes_end_in_a_result_or_one_error(name: str, data: bytes) -> None:
    read = read_bdb if name == "bdb" else read_ndb
    chance = random.Random(13)
    outcomes = set()
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(chance.randint(1, 8)):
            damaged[chance.randrange(len(damaged))] = chance.randrange(256)
        try:
            read(bytes(damaged))
            outcomes.add("read")
        except RpmdbError:
            outcomes.add("refused")
    assert "refused" in outcomes
