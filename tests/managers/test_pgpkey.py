"""pinner.managers.pgpkey against keys gpg itself makes and exports."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from arch_repo import stop_agent

from pinner.managers import pgpkey

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")


def _gpg(home: Path, *args: str) -> bytes:
    return subprocess.run(
        ["gpg", "--batch", "--quiet", "--homedir", str(home), *args],
        capture_output=True,
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("gnupg")
    folder.chmod(0o700)
    for user, algo in (("RSA <rsa@example.org>", "rsa2048"), ("Ed <ed@example.org>", "ed25519")):
        _gpg(folder, "--passphrase", "", "--quick-gen-key", user, algo, "sign", "never")
    # A subkey too, as distribution keys often have.
    fpr = _fingerprints(folder)[0]
    _gpg(folder, "--passphrase", "", "--quick-add-key", fpr, "rsa2048", "sign", "never")
    yield folder
    stop_agent(folder)  # the agent the key generation started outlives gpg otherwise


def _fingerprints(home: Path) -> list[str]:
    colons = _gpg(home, "--with-colons", "--list-keys").decode().splitlines()
    # The fpr line that follows each pub line is the primary key's.
    return [b.split(":")[9] for a, b in itertools.pairwise(colons) if a.startswith("pub:")]


@pytest.mark.parametrize("armor", [True, False], ids=["armored", "binary"])
def test_fingerprints_are_gpgs(home: Path, armor: bool) -> None:
    exported = _gpg(home, *(["--armor"] if armor else []), "--export")
    binary, fingerprints = pgpkey.public_keys(exported)
    assert sorted(fingerprints) == sorted(_fingerprints(home))
    assert binary == _gpg(home, "--export")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"<html>Not Found</html>", "byte 0 does not start a packet"),
        (b"", "it does not start with a public key"),
        (b"\x99\x01", "a packet runs past the end of the data"),
        (b"\xc6\xe0\x00", "a partial-length packet, which no key holds"),
    ],
    ids=["html", "empty", "cut-short", "partial-length"],
)
def test_what_is_not_a_public_key_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        pgpkey.public_keys(data)
    assert str(caught.value) == why


def test_a_secret_key_is_refused(home: Path) -> None:
    secret = _gpg(home, "--pinentry-mode", "loopback", "--passphrase", "", "--export-secret-keys")
    with pytest.raises(ValueError, match="it does not start with a public key"):
        pgpkey.public_keys(secret)


def test_a_public_key_followed_by_other_packets_is_refused(home: Path) -> None:
    # A literal-data packet (tag 11) after the key: not something a key file holds.
    with pytest.raises(ValueError, match=r"tags \[11\]"):
        pgpkey.public_keys(_gpg(home, "--export") + b"\xcb\x01x")
