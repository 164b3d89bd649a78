"""InRelease: the clearsigned text, its fields, index hashes and gpgv's verdict."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from pinner.errors import ConfigError, MirrorError


class GpgvMissing(MirrorError):
    """gpgv is not installed, so no signature can be checked."""


class FileHash(NamedTuple):
    """An index file's entry in the SHA256 list of a Release file."""

    sha256: str
    size: int


class Release(NamedTuple):
    """The fields of an InRelease that pinning uses."""

    suite: str
    codename: str
    date: datetime
    sha256: Mapping[str, FileHash]  # path under dists/<codename>/ -> hash and size
    # NotAutomatic suites (backports) get apt priority 1, or 100 with ButAutomaticUpgrades.
    not_automatic: bool = False
    but_automatic_upgrades: bool = False


_BEGIN_MESSAGE = b"-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = b"-----BEGIN PGP SIGNATURE-----"
_END_SIGNATURE = b"-----END PGP SIGNATURE-----"
_HASH_LINE = re.compile(r"([0-9a-f]{64})\s+([0-9]+)\s+(\S+)")


def signed_text(inrelease: bytes, *, source: str = "InRelease") -> bytes:
    """The cleartext of a clearsigned message, dash-unescaped (RFC 4880 section 7.1)."""
    # Strict like apt's SplitClearSignedFile: gpgv checks only what is inside the armor,
    # so a file with anything outside it (or a second message) is refused.
    lines = [line.rstrip(b"\r") for line in inrelease.split(b"\n")]
    if lines[0].rstrip(b" \t") != _BEGIN_MESSAGE:
        raise MirrorError(f"{source}: not a clearsigned message")
    try:
        start = lines.index(b"", 1) + 1  # armor headers ("Hash: SHA256") end at an empty line
        end = lines.index(_BEGIN_SIGNATURE, start)
        signature_end = lines.index(_END_SIGNATURE, end)
    except ValueError:
        raise MirrorError(f"{source}: clearsigned message is incomplete") from None
    if any(line.strip() for line in lines[signature_end + 1 :]):
        raise MirrorError(f"{source}: text after the signature")
    text = []
    for number, line in enumerate(lines[start:end], start=start + 1):
        if line.startswith(b"-"):
            if not line.startswith(b"- "):
                raise MirrorError(f"{source}:{number}: line starting with '-' is not escaped")
            line = line[2:]
        text.append(line)
    # The line break before the signature belongs to the armor, not to the text.
    return b"\n".join(text)


def _parse_date(value: str, field: str, source: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MirrorError(f"{source}: {field} is not an RFC 2822 date with a zone: {value!r}")
    return parsed.astimezone(UTC)


def parse_release(text: str | bytes, *, source: str = "InRelease") -> Release:
    """Read a Release file, or the signed_text() of an InRelease."""
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            raise MirrorError(f"{source}: not UTF-8") from None
    fields: dict[str, str] = {}
    hashes: dict[str, FileHash] = {}
    current = ""
    ended = False  # an empty line after the fields: nothing but empty lines may follow
    # Split on "\n" only: str.splitlines() would also split inside a value at \x0c, \x1c...
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            ended = bool(fields)
            continue
        if ended:
            raise MirrorError(f"{source}:{number}: more than one stanza")
        if line[0] in " \t":
            if not current:
                raise MirrorError(f"{source}:{number}: continuation line outside a field")
            if current == "sha256":
                match = _HASH_LINE.fullmatch(line.strip())
                if match is None:
                    raise MirrorError(f"{source}:{number}: not '<sha256> <size> <path>'")
                hashes[match[3]] = FileHash(match[1], int(match[2]))
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise MirrorError(f"{source}:{number}: not a field: {line!r}")
        current = name.strip().lower()
        fields[current] = value.strip()
    if "date" not in fields:
        raise MirrorError(f"{source}: no Date field")
    # apt refuses a Release without a hash it considers strong; SHA256 is the one we check.
    if not hashes:
        raise MirrorError(f"{source}: no SHA256 entries")
    date = _parse_date(fields["date"], "Date", source)
    if "valid-until" in fields:  # apt refuses a Release whose Valid-Until it cannot read
        _parse_date(fields["valid-until"], "Valid-Until", source)
    return Release(
        suite=fields.get("suite", ""),
        codename=fields.get("codename", ""),
        date=date,
        not_automatic=fields.get("notautomatic", "").lower() == "yes",
        but_automatic_upgrades=fields.get("butautomaticupgrades", "").lower() == "yes",
        sha256=MappingProxyType(hashes),
    )


def verify_index(release: Release, path: str, data: bytes) -> None:
    """Check an index's bytes against the size and SHA256 that the Release lists for path."""
    subject = f"dists/{release.codename}/{path}" if release.codename else path
    expected = release.sha256.get(path)
    if expected is None:
        raise MirrorError(f"{subject}: not listed in InRelease")
    if len(data) != expected.size:
        # apt: "File has unexpected size (%llu != %llu). Mirror sync in progress?"
        raise MirrorError(
            f"{subject}: size {len(data)} != {expected.size} in InRelease"
            " (mirror sync in progress?)"
        )
    if hashlib.sha256(data).hexdigest() != expected.sha256:
        raise MirrorError(f"{subject}: Hash Sum mismatch (SHA256 does not match InRelease)")


def verify_signature(
    inrelease: bytes, keyrings: Sequence[Path], *, source: str = "InRelease"
) -> bool:
    """Check a clearsigned file's signature with gpgv: True, or MirrorError."""
    signing_key(inrelease, keyrings, source=source)
    return True


def signing_key(
    inrelease: bytes,
    keyrings: Sequence[Path],
    *,
    source: str = "InRelease",
    detached: bytes | None = None,
) -> str:
    """verify_signature, answering the primary key fingerprint of the good signature."""
    gpgv = shutil.which("gpgv")
    if gpgv is None:
        raise GpgvMissing(f"{source}: gpgv is not installed; signature not checked")
    if not keyrings:
        raise ConfigError(f"{source}: no keyring to check the signature with")
    command = [gpgv, "--status-fd", "1"]
    for keyring in keyrings:
        if not keyring.is_file():
            raise ConfigError(f"{keyring}: keyring not found")
        if keyring.suffix == ".asc":
            raise ConfigError(f"{keyring}: gpgv needs a binary keyring (gpg --dearmor)")
        # gpgv looks for a keyring name without a slash in its home directory.
        command += ["--keyring", str(keyring.absolute())]
    with tempfile.TemporaryDirectory(prefix="pinner-gpgv-") as folder:
        if detached is not None:
            # A detached signature (repomd.xml.asc) is a file; the signed data comes on stdin.
            signature = Path(folder) / "signature"
            signature.write_bytes(detached)
            command += [str(signature), "-"]
        # With no file argument gpgv reads the clearsigned message from stdin.
        return _gpgv(command, inrelease, source)


def _gpgv(command: list[str], data: bytes, source: str) -> str:
    """Run gpgv and read its status lines: the fingerprint of the key whose signature is good
    (its primary key's), or MirrorError when no signature is good."""
    try:
        result = subprocess.run(
            command,
            input=data,
            capture_output=True,
            timeout=60,
            env={**os.environ, "LC_ALL": "C"},  # stderr is quoted when no status line explains
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MirrorError(f"{source}: cannot run gpgv: {exc}") from None
    status: list[tuple[str, str]] = []
    fingerprint = ""
    for line in result.stdout.decode(errors="replace").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "[GNUPG:]":
            status.append((words[1], " ".join(words[1:3])))
        if len(words) >= 3 and words[1] == "VALIDSIG" and not fingerprint:
            # VALIDSIG <signing key fpr> ... <primary key fpr> (gnupg doc/DETAILS)
            fingerprint = words[11] if len(words) >= 12 else words[2]
    # As apt's gpgv method: a BADSIG fails it all; otherwise one GOODSIG with its VALIDSIG
    # is enough, since the archive signs with several keys and a keyring may hold only
    # some of them (NO_PUBKEY). EXPKEYSIG and REVKEYSIG count for nothing.
    bad = [short for keyword, short in status if keyword == "BADSIG"]
    if bad:
        raise MirrorError(f"{source}: invalid signature: {', '.join(bad)}")
    keywords = {keyword for keyword, _ in status}
    if {"GOODSIG", "VALIDSIG"} <= keywords:
        return fingerprint
    unusable = [
        short for keyword, short in status if keyword in ("NO_PUBKEY", "EXPKEYSIG", "REVKEYSIG")
    ]
    if not unusable:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        unusable = [lines[0] if lines else f"gpgv exited with {result.returncode}"]
    raise MirrorError(f"{source}: no good signature: {', '.join(unusable)}")
