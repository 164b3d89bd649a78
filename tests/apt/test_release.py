"""Tests for pinner.apt.release: clearsigned text, Release fields, index hashes, gpgv."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pinner.apt.packages import decompress
from pinner.apt.release import (
    FileHash,
    GpgvMissing,
    Release,
    parse_release,
    signed_text,
    verify_index,
    verify_signature,
)
from pinner.errors import ConfigError, MirrorError

APT_DATA = Path(__file__).parents[2] / "testdata" / "apt"
BOOKWORM = (APT_DATA / "bookworm_InRelease").read_bytes()
UPDATES = (APT_DATA / "bookworm-updates_InRelease").read_bytes()
SECURITY = (APT_DATA / "bookworm-security_InRelease").read_bytes()
UPDATES_XZ = (APT_DATA / "bookworm-updates_main_binary-amd64_Packages.xz").read_bytes()

KEYRINGS = Path("/usr/share/keyrings")
DEBIAN_KEYRING = KEYRINGS / "debian-archive-keyring.gpg"
needs_gpgv = pytest.mark.skipif(
    shutil.which("gpgv") is None or not DEBIAN_KEYRING.is_file(),
    reason="gpgv or debian-archive-keyring is not installed",
)


def _one_byte_changed(data: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and data.count(old) == 1
    changed = data.replace(old, new)
    assert sum(a != b for a, b in zip(data, changed, strict=True)) == 1
    return changed


# ------------------------------------------------------------------------- signed_text


BOOKWORM_LAST = (
    " 5d27e4146c269f89eb420bd8884da52498658fcf9612bb2725aeacb051fe905a    77952"
    " non-free/source/Sources.xz"
)
UPDATES_LAST = (
    " 0040f94d11d0039505328a90b2ff48968db873e9e7967307631bf40ef5679275       32"
    " non-free/source/Sources.xz"
)


@pytest.mark.parametrize(
    ("inrelease", "lines", "last"),
    [
        pytest.param(BOOKWORM, 1558, BOOKWORM_LAST, id="bookworm"),
        pytest.param(UPDATES, 492, UPDATES_LAST, id="bookworm-updates"),
        pytest.param(SECURITY, 304, UPDATES_LAST, id="bookworm-security"),
    ],
)
def test_signed_text_real(inrelease: bytes, lines: int, last: str) -> None:
    text = signed_text(inrelease).decode()
    # From after the empty line that ends "Hash: SHA256" up to the signature, without the
    # last line break (it belongs to the armor).
    body = inrelease.decode().split("\n\n", 1)[1].split("\n-----BEGIN PGP SIGNATURE-----")[0]
    assert text == body
    text_lines = text.split("\n")
    assert (len(text_lines), text_lines[0], text_lines[-1]) == (lines, "Origin: Debian", last)


SIGNATURE = "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"
HEADER = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(HEADER + "A: 1\nB: 2\n" + SIGNATURE, b"A: 1\nB: 2", id="plain"),
        pytest.param(
            HEADER + "- -----BEGIN PGP SIGNATURE-----\n- - x\nA: 1\n" + SIGNATURE,
            b"-----BEGIN PGP SIGNATURE-----\n- x\nA: 1",
            id="dash-escaped",
        ),
        pytest.param((HEADER + "A: 1\n" + SIGNATURE).replace("\n", "\r\n"), b"A: 1", id="crlf"),
        pytest.param(HEADER + "A: 1\n\n" + SIGNATURE, b"A: 1\n", id="empty-last-line-kept"),
        pytest.param(HEADER + "A: 1\n" + SIGNATURE + "\n\n", b"A: 1", id="blank-lines-after"),
        pytest.param(
            HEADER.replace("SHA256\n", "SHA256\nComment: x\n") + "A: 1\n" + SIGNATURE,
            b"A: 1",
            id="more-armor-headers",
        ),
    ],
)
def test_signed_text(message: str, expected: bytes) -> None:
    assert signed_text(message.encode()) == expected


@pytest.mark.parametrize(
    ("message", "error"),
    [
        pytest.param("Origin: Debian\n", "InRelease: not a clearsigned message", id="release"),
        pytest.param("", "InRelease: not a clearsigned message", id="empty"),
        pytest.param(
            "junk\n" + HEADER + "A: 1\n" + SIGNATURE,
            "InRelease: not a clearsigned message",
            id="text-before",
        ),
        pytest.param(
            HEADER + "A: 1\n" + SIGNATURE + "B: 2\n",
            "InRelease: text after the signature",
            id="text-after",
        ),
        pytest.param(
            HEADER + "A: 1\n" + SIGNATURE + HEADER + "A: 2\n" + SIGNATURE,
            "InRelease: text after the signature",
            id="second-message",
        ),
        pytest.param(
            HEADER + "A: 1\n", "InRelease: clearsigned message is incomplete", id="no-signature"
        ),
        pytest.param(
            HEADER + "A: 1\n" + SIGNATURE.replace("-----END PGP SIGNATURE-----\n", ""),
            "InRelease: clearsigned message is incomplete",
            id="signature-not-ended",
        ),
        pytest.param(
            HEADER + "A: 1\n-x\n" + SIGNATURE,
            "InRelease:5: line starting with '-' is not escaped",
            id="unescaped-dash",
        ),
    ],
)
def test_signed_text_errors(message: str, error: str) -> None:
    with pytest.raises(MirrorError) as excinfo:
        signed_text(message.encode())
    assert str(excinfo.value) == error


# ----------------------------------------------------------------------- parse_release


@pytest.mark.parametrize(
    ("inrelease", "expected", "count"),
    [
        pytest.param(
            BOOKWORM,
            ("oldstable", "bookworm", datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC)),
            772,
            id="bookworm",
        ),
        pytest.param(
            UPDATES,
            (
                "oldstable-updates",
                "bookworm-updates",
                datetime(2026, 11, 24, 2, 12, 15, tzinfo=UTC),
            ),
            480,
            id="bookworm-updates",
        ),
        pytest.param(
            SECURITY,
            (
                "oldstable-security",
                "bookworm-security",
                datetime(2026, 11, 24, 0, 34, 33, tzinfo=UTC),
            ),
            292,
            id="bookworm-security",
        ),
    ],
)
def test_parse_release_real(inrelease: bytes, expected: tuple[object, ...], count: int) -> None:
    release = parse_release(signed_text(inrelease))
    assert release[:3] == expected
    assert len(release.sha256) == count


def test_parse_release_hashes() -> None:
    release = parse_release(signed_text(UPDATES))
    assert release.sha256["main/binary-amd64/Packages.xz"] == FileHash(
        "87e7e94047fb7fb6f4ceecc7022d4bee55b66031cc2a7666d3196f3e0aabb846", 6924
    )
    assert release.sha256["main/binary-amd64/Packages"] == (
        "80a1f6ee524222c49f230fc5700d00f946d0a47eb5258180106dd03df126e16a",
        32757,
    )
    with pytest.raises(TypeError):
        release.sha256["x"] = FileHash("0" * 64, 0)  # type: ignore[index]


H = "0" * 64
MINIMAL = f"Suite: s\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n {H} 5 main/P\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            MINIMAL,
            Release(
                "s",
                "",
                datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC),
                {"main/P": FileHash(H, 5)},
            ),
            id="minimal",
        ),
        pytest.param(
            MINIMAL.replace("Suite", "suite")
            .replace("Date", "DATE")
            .replace("10:16:37 UTC", "12:16:37 +0200")
            + "acquire-by-hash: Yes\nValid-Until: Sat, 18 Jul 2026 12:16:37 +0200\n",
            Release(
                "s",
                "",
                datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC),
                {"main/P": FileHash(H, 5)},
            ),
            id="field-case-and-zone-offset",
        ),
        pytest.param(
            MINIMAL.replace("\n", "\r\n") + "\r\n\r\n",
            Release(
                "s",
                "",
                datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC),
                {"main/P": FileHash(H, 5)},
            ),
            id="crlf-and-trailing-empty-lines",
        ),
        pytest.param(
            "MD5Sum:\n 00 5 main/P\n" + MINIMAL + f" {H}  123 main/Q.xz\n",
            Release(
                "s",
                "",
                datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC),
                {"main/P": FileHash(H, 5), "main/Q.xz": FileHash(H, 123)},
            ),
            id="only-sha256-is-read",
        ),
    ],
)
def test_parse_release(text: str, expected: Release) -> None:
    assert parse_release(text) == expected
    assert parse_release(text.encode()) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(MINIMAL.replace("Date", "X-Date"), "InRelease: no Date field", id="no-date"),
        pytest.param(
            MINIMAL.replace("SHA256", "MD5Sum"), "InRelease: no SHA256 entries", id="no-sha256"
        ),
        pytest.param(
            MINIMAL.replace("Sat, 11 Jul 2026 10:16:37 UTC", "yesterday"),
            "InRelease: Date is not an RFC 2822 date with a zone: 'yesterday'",
            id="bad-date",
        ),
        pytest.param(
            MINIMAL.replace(" UTC", ""),
            "InRelease: Date is not an RFC 2822 date with a zone: 'Sat, 11 Jul 2026 10:16:37'",
            id="date-without-zone",
        ),
        pytest.param(
            MINIMAL + "Valid-Until: soon\n",
            "InRelease: Valid-Until is not an RFC 2822 date with a zone: 'soon'",
            id="bad-valid-until",
        ),
        pytest.param(
            MINIMAL.replace(" 5 ", " five "),
            "InRelease:4: not '<sha256> <size> <path>'",
            id="bad-hash-line",
        ),
        pytest.param(
            MINIMAL + "\nSuite: t\n", "InRelease:6: more than one stanza", id="two-stanzas"
        ),
        pytest.param(
            " x\n" + MINIMAL,
            "InRelease:1: continuation line outside a field",
            id="continuation-first",
        ),
        pytest.param(MINIMAL + "junk\n", "InRelease:5: not a field: 'junk'", id="junk"),
        pytest.param(b"Date: \xff\n", "InRelease: not UTF-8", id="not-utf8"),
    ],
)
def test_parse_release_errors(text: str | bytes, error: str) -> None:
    with pytest.raises(MirrorError) as excinfo:
        parse_release(text)
    assert str(excinfo.value) == error


def test_parse_release_names_the_source() -> None:
    with pytest.raises(MirrorError) as excinfo:
        parse_release("Suite: s\n", source="http://deb.debian.org/debian/dists/x/InRelease")
    assert str(excinfo.value) == "http://deb.debian.org/debian/dists/x/InRelease: no Date field"


# ------------------------------------------------------------------------ verify_index

UPDATES_RELEASE = parse_release(signed_text(UPDATES))
PACKAGES_XZ = "main/binary-amd64/Packages.xz"
SUBJECT = "dists/bookworm-updates/main/binary-amd64/Packages.xz"


def test_verify_index_real_bytes() -> None:
    verify_index(UPDATES_RELEASE, PACKAGES_XZ, UPDATES_XZ)
    plain = decompress(UPDATES_XZ, PACKAGES_XZ)
    verify_index(UPDATES_RELEASE, "main/binary-amd64/Packages", plain)


@pytest.mark.parametrize(
    ("path", "data", "error"),
    [
        pytest.param(
            PACKAGES_XZ,
            UPDATES_XZ[:100] + bytes([UPDATES_XZ[100] ^ 1]) + UPDATES_XZ[101:],
            f"{SUBJECT}: Hash Sum mismatch (SHA256 does not match InRelease)",
            id="one-byte-changed",
        ),
        pytest.param(
            PACKAGES_XZ,
            UPDATES_XZ[:-1],
            f"{SUBJECT}: size 6923 != 6924 in InRelease (mirror sync in progress?)",
            id="truncated",
        ),
        pytest.param(
            "main/binary-amd64/Packages",
            UPDATES_XZ,
            "dists/bookworm-updates/main/binary-amd64/Packages: size 6924 != 32757 in "
            "InRelease (mirror sync in progress?)",
            id="compressed-bytes-for-plain-path",
        ),
        pytest.param(
            "main/binary-riscv64/Packages.xz",
            UPDATES_XZ,
            "dists/bookworm-updates/main/binary-riscv64/Packages.xz: not listed in InRelease",
            id="not-listed",
        ),
    ],
)
def test_verify_index_refuses(path: str, data: bytes, error: str) -> None:
    with pytest.raises(MirrorError) as excinfo:
        verify_index(UPDATES_RELEASE, path, data)
    assert str(excinfo.value) == error


def test_verify_index_without_codename() -> None:
    release = parse_release(MINIMAL)
    with pytest.raises(MirrorError) as excinfo:
        verify_index(release, "main/P", b"12345")
    assert str(excinfo.value) == "main/P: Hash Sum mismatch (SHA256 does not match InRelease)"


# -------------------------------------------------------------------- verify_signature


@needs_gpgv
@pytest.mark.parametrize(
    ("inrelease", "keyrings"),
    [
        pytest.param(BOOKWORM, [DEBIAN_KEYRING], id="bookworm"),
        pytest.param(UPDATES, [DEBIAN_KEYRING], id="bookworm-updates"),
        pytest.param(SECURITY, [DEBIAN_KEYRING], id="bookworm-security"),
        # Signed by three keys; one in the keyring is enough (apt's rule).
        pytest.param(
            BOOKWORM, [KEYRINGS / "debian-archive-bookworm-automatic.gpg"], id="one-of-three-keys"
        ),
        pytest.param(
            SECURITY,
            [KEYRINGS / "debian-archive-bullseye-stable.gpg", DEBIAN_KEYRING],
            id="several-keyrings",
        ),
    ],
)
def test_verify_signature_good(inrelease: bytes, keyrings: list[Path]) -> None:
    assert verify_signature(inrelease, keyrings) is True


@needs_gpgv
@pytest.mark.parametrize(
    ("inrelease", "keyrings", "error"),
    [
        pytest.param(
            _one_byte_changed(SECURITY, b"Date: Tue, 24 Nov", b"Date: Tue, 25 Nov"),
            [DEBIAN_KEYRING],
            "InRelease: invalid signature: BADSIG 54404762BBB6E853",
            id="one-byte-changed-in-date",
        ),
        pytest.param(
            _one_byte_changed(
                UPDATES,
                b"87e7e94047fb7fb6f4ceecc7022d4bee55b66031cc2a7666d3196f3e0aabb846",
                b"87e7e94047fb7fb6f4ceecc7022d4bee55b66031cc2a7666d3196f3e0aabb847",
            ),
            [DEBIAN_KEYRING],
            "InRelease: invalid signature: BADSIG 6ED0E7B82643E131",
            id="one-byte-changed-in-a-hash",
        ),
        pytest.param(
            UPDATES,
            [KEYRINGS / "debian-archive-bullseye-stable.gpg"],
            "InRelease: no good signature: NO_PUBKEY 6ED0E7B82643E131, NO_PUBKEY 78DBA3BC47EF2265",
            id="no-key-in-keyring",
        ),
        pytest.param(
            b"Origin: Debian\n",
            [DEBIAN_KEYRING],
            "InRelease: no good signature: gpgv: no valid OpenPGP data found.",
            id="not-signed",
        ),
    ],
)
def test_verify_signature_refuses(inrelease: bytes, keyrings: list[Path], error: str) -> None:
    with pytest.raises(MirrorError) as excinfo:
        verify_signature(inrelease, keyrings)
    assert str(excinfo.value) == error


@needs_gpgv
def test_tampered_text_still_parses_but_is_refused() -> None:
    # The attack the signature check is for: the text alone looks fine.
    tampered = _one_byte_changed(SECURITY, b"Date: Tue, 24 Nov", b"Date: Tue, 25 Nov")
    assert parse_release(signed_text(tampered)).date == datetime(
        2026, 11, 25, 0, 34, 33, tzinfo=UTC
    )
    with pytest.raises(MirrorError):
        verify_signature(tampered, [DEBIAN_KEYRING], source="bookworm-security")


@pytest.mark.parametrize(
    ("keyrings", "error"),
    [
        pytest.param([], "InRelease: no keyring to check the signature with", id="none"),
        pytest.param(
            [Path("/nonexistent/k.gpg")], "/nonexistent/k.gpg: keyring not found", id="missing"
        ),
    ],
)
def test_verify_signature_keyring_errors(keyrings: list[Path], error: str) -> None:
    if shutil.which("gpgv") is None:
        pytest.skip("gpgv is not installed")
    with pytest.raises(ConfigError) as excinfo:
        verify_signature(UPDATES, keyrings)
    assert str(excinfo.value) == error


def test_verify_signature_armored_keyring(tmp_path: Path) -> None:
    if shutil.which("gpgv") is None:
        pytest.skip("gpgv is not installed")
    keyring = tmp_path / "archive.asc"
    keyring.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    with pytest.raises(ConfigError) as excinfo:
        verify_signature(UPDATES, [keyring])
    assert str(excinfo.value) == f"{keyring}: gpgv needs a binary keyring (gpg --dearmor)"


def test_gpgv_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GpgvMissing) as excinfo:
        verify_signature(UPDATES, [DEBIAN_KEYRING], source="bookworm-updates")
    assert str(excinfo.value) == "bookworm-updates: gpgv is not installed; signature not checked"
    assert isinstance(excinfo.value, MirrorError)  # unhandled, it still fails closed
