"""OpenPGP public keys as a repository's `gpgkey=` URL serves them: armor, packets, fingerprints.

Pure: bytes in, binary key packets and fingerprints out. Only what a transferable public key may
hold (RFC 9580 section 10.1) is accepted, so a page, a secret key or anything else served in its
place is refused before gpgv sees it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

ARMOR = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"
_END = b"-----END PGP PUBLIC KEY BLOCK-----"
_PUBLIC_KEY, _SIGNATURE, _TRUST, _USER_ID, _SUBKEY, _USER_ATTRIBUTE = 6, 2, 12, 13, 14, 17
_ALLOWED = frozenset([_PUBLIC_KEY, _SIGNATURE, _TRUST, _USER_ID, _SUBKEY, _USER_ATTRIBUTE])


def dearmor(data: bytes) -> bytes:
    """A key file's binary OpenPGP packets (gpgv reads no armor); armored blocks are decoded."""
    if ARMOR not in data:
        return data
    packets = b""
    for block in data.split(ARMOR)[1:]:
        body = block.split(_END, 1)[0]
        lines = [line.strip() for line in body.splitlines()]
        # Armor headers (Version: ...) end at the first empty line; "=" starts the checksum.
        start = lines.index(b"") + 1 if b"" in lines[1:] else 1
        text = b"".join(line for line in lines[start:] if not line.startswith(b"="))
        try:
            packets += base64.b64decode(text, validate=True)
        except binascii.Error:
            continue  # not a key gpgv could use; the signature check then names no good key
    return packets


def packets(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each packet in binary OpenPGP data; ValueError when it is not that."""
    found = []
    at = 0
    while at < len(data):
        first = data[at]
        if not first & 0x80:
            raise ValueError(f"byte {at} does not start a packet")
        if first & 0x40:  # the new packet format
            tag, at = first & 0x3F, at + 1
            if at >= len(data):
                raise ValueError("a packet header is cut short")
            octet = data[at]
            if octet < 192:
                length, at = octet, at + 1
            elif octet < 224:
                if at + 1 >= len(data):
                    raise ValueError("a packet header is cut short")
                length, at = ((octet - 192) << 8) + data[at + 1] + 192, at + 2
            elif octet == 255:
                length, at = int.from_bytes(data[at + 1 : at + 5], "big"), at + 5
            else:
                raise ValueError("a partial-length packet, which no key holds")
        else:  # the old format: the length's size is in the header's low bits
            tag, size = (first >> 2) & 0x0F, first & 0x03
            if size == 3:
                raise ValueError("a packet of indeterminate length, which no key holds")
            width = (1, 2, 4)[size]
            length, at = int.from_bytes(data[at + 1 : at + 1 + width], "big"), at + 1 + width
        if at + length > len(data):
            raise ValueError("a packet runs past the end of the data")
        found.append((tag, data[at : at + length]))
        at += length
    return found


def fingerprint(body: bytes) -> str:
    """A public key packet's fingerprint (v4: SHA-1, v6: SHA-256), upper-case hex as gpg shows."""
    version = body[:1]
    if version == b"\x04" and len(body) <= 0xFFFF:
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
    if version == b"\x06":
        return hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    raise ValueError(f"a version {body[0] if body else '?'} key, which gpgv does not check with")


def public_keys(data: bytes) -> tuple[bytes, tuple[str, ...]]:
    """The binary packets and primary key fingerprints of a public key file; ValueError if the
    file is not public keys alone."""
    binary = dearmor(data)
    found = packets(binary)
    if not found or found[0][0] != _PUBLIC_KEY:
        raise ValueError("it does not start with a public key")
    tags = {tag for tag, _ in found}
    if not tags <= _ALLOWED:
        raise ValueError(f"it holds packets a public key does not (tags {sorted(tags - _ALLOWED)})")
    return binary, tuple(fingerprint(body) for tag, body in found if tag == _PUBLIC_KEY)
