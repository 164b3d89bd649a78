"""Image references, parsed and normalised exactly as Docker does (distribution/reference)."""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import NamedTuple

from pinner.errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
# What a reference names when it has neither tag nor digest (distribution/reference).
DEFAULT_TAG = "latest"

# distribution/reference regexp.go
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
_TAG_RE = re.compile(_TAG)
_DIGEST_RE = re.compile(_DIGEST)
# go-digest's registered algorithms and their hex lengths.
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_LOWER_HEX_RE = re.compile(r"[0-9a-f]+")
_MAX_NAME = 255


class ImageRef(NamedTuple):
    """A normalised image reference: domain, path, and an optional tag and digest."""

    domain: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The canonical repository name, e.g. docker.io/library/python."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The short name Docker prints, e.g. python or ghcr.io/o/r."""
        if self.domain == DEFAULT_DOMAIN:
            short = self.path.removeprefix(OFFICIAL_PREFIX)
            return short if "/" not in short else self.path
        return self.name

    @property
    def tag_or_latest(self) -> str:
        """The tag, or "latest" when none is given and no digest decides."""
        return self.tag or DEFAULT_TAG

    @property
    def manifest_key(self) -> str:
        """What the registry's manifest endpoint is asked for: the digest, else the tag."""
        return self.digest or self.tag_or_latest

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def split_domain(name: str) -> tuple[str, str]:
    """Split a repository name into domain and path as Docker's splitDockerDomain does."""
    first, sep, rest = name.partition("/")
    if not sep or (
        first != "localhost" and "." not in first and ":" not in first and first == first.lower()
    ):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def pinned(text: str, digest: str) -> str:
    """A reference as written, name and tag kept, pinned to digest: <name>[:<tag>]@<digest>."""
    # No `:latest` is added to a reference without a tag: the user's text stays, the lock records
    # the tag the digest came from.
    return f"{text.partition('@')[0]}@{digest}"


# A tree names the same few references in every file: one ImageRef each, shared (it is
# immutable), saves parsing them again and 6 MB over 10,000 Dockerfiles.
@functools.lru_cache(maxsize=8192)
def parse(text: str) -> ImageRef:
    """Parse and normalise a reference; raise InvalidReference with Docker's wording."""
    if not text:
        raise InvalidReference("invalid reference format: empty")
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(
            "invalid repository name: cannot specify 64-byte hexadecimal strings"
        )
    remainder, at, digest = text.partition("@")
    if at and not digest:
        raise InvalidReference("invalid reference format")
    if digest:
        if not _DIGEST_RE.fullmatch(digest):
            raise InvalidReference(f"invalid digest format: {digest}")
        algorithm, _, hex_part = digest.partition(":")
        if algorithm not in _DIGEST_LENGTHS:
            raise InvalidReference(f"unsupported digest algorithm: {digest}")
        if len(hex_part) != _DIGEST_LENGTHS[algorithm] or hex_part != hex_part.lower():
            raise InvalidReference(
                f"invalid digest: {digest} ({algorithm} takes"
                f" {_DIGEST_LENGTHS[algorithm]} lowercase hex)"
            )
    name, tag = remainder, None
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        name, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReference(f"invalid tag format: {tag!r}")
    domain, path = split_domain(name)
    if not _DOMAIN_RE.fullmatch(domain):
        raise InvalidReference(f"invalid registry host: {domain!r}")
    if path != path.lower():
        raise InvalidReference("repository name must be lowercase")
    if not _PATH_RE.fullmatch(path):
        raise InvalidReference("invalid reference format")
    if len(domain) + 1 + len(path) > _MAX_NAME:
        raise InvalidReference(f"repository name must not be more than {_MAX_NAME} characters")
    return ImageRef(domain, path, tag, digest or None)


def normalize_platform(os: str, arch: str, variant: str | None) -> str:
    """Return "os/arch[/variant]" normalised as containerd's platforms package does."""
    arch = arch.lower()
    variant = (variant or "").lower() or None
    if arch in ("x86_64", "x86-64", "amd64"):
        arch = "amd64"
        variant = None if variant == "v1" else variant
    elif arch == "aarch64":
        arch = "arm64"
    elif arch == "armhf":
        arch, variant = "arm", "v7"
    elif arch == "armel":
        arch, variant = "arm", "v6"
    elif arch in ("i386", "i686"):
        arch = "386"
    if arch == "arm64" and variant in ("v8", "8"):
        variant = None
    if arch == "arm":
        if variant is None:
            variant = "v7"
        elif variant in ("5", "6", "7", "8"):
            variant = "v" + variant
    parts = [os.lower(), arch] + ([variant] if variant else [])
    return "/".join(parts)


def is_digest(value: object) -> bool:
    """True for a digest of a registered algorithm: sha256/384/512, then its lowercase hex."""
    if not isinstance(value, str):
        return False
    algorithm, sep, hex_part = value.partition(":")
    length = _DIGEST_LENGTHS.get(algorithm)
    return bool(sep) and length == len(hex_part) and _LOWER_HEX_RE.fullmatch(hex_part) is not None


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1, with or without a port."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") and host.count(":") == 1 else host
    name = name.split("]")[0].lstrip("[") if name.startswith("[") else name
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
