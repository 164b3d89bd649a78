"""Parse apt sources (deb822 and one-line formats) into the indexes apt fetches."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from pinner.apt.sources import DEFAULT_MIRRORS

# snapshot.debian.org's layout, known here alone: <base>/<archive>/<ts> for each of these, and
# <base>/debian-archive/<ts>/<dir> for archive.debian.org's; snapshot.ubuntu.com's <base>/<ts>.
# The URIs the snapshot step re-points, by the same rules (sources.py, its module comment), are
# each named as snapshot.debian.org names the archive; debian-archive with its directory there
# (debian-archive/debian-security), which is part of the snapshot's URL.
DEBIAN_ARCHIVES = frozenset(
    {"debian", "debian-security", "debian-archive", "debian-ports", "debian-debug"}
)
_TS = r"\d{8}T\d{6}Z"
# A base image's sources name the snapshot they were built from, often in a comment.
_PUBLIC_DEBIAN_RE = re.compile(rf"snapshot\.debian\.org/archive/debian/({_TS})\b")
_URI_RE = re.compile(
    r"^[a-z+]+://(?:[^@/]*@)?(?P<host>\[[^\]]*\]|[^/:]+)(?::\d*)?(?P<path>/[^?#]*?)/*$"
)
_SNAPSHOT_RE = re.compile(
    rf"/archive/(?:(?P<archive>debian(?:-security|-ports|-debug)?)/{_TS}"
    rf"|debian-archive/{_TS}/(?P<old>debian(?:-security|-backports)?))$"
)
_OLD_RE = re.compile(r"/(debian(?:-security|-backports)?)")
_DEBIAN_RE = re.compile(r"/(debian(?:-security|-ports|-debug)?)")
_UBUNTU_RE = re.compile(rf"/ubuntu(?:-ports)?|/ubuntu/{_TS}")
_ONE_LINE_RE = re.compile(
    r"^\s*deb\s+(?:\[(?P<options>[^\]]*)\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)(?P<components>(?:\s+\S+)*)\s*$"
)


class Source(NamedTuple):
    """One binary source: its archive (as snapshot servers name it), suite and components."""

    archive: str
    uri: str
    suite: str
    components: tuple[str, ...]


def archive_of(uri: str) -> str | None:
    """The snapshot archive a URI belongs to, by its host and path; None for third parties."""
    match = _URI_RE.match(uri)
    if not match:
        return None
    host, path = match["host"].lower(), match["path"]
    # A URI already on a snapshot keeps its archive: .../archive/<archive>/<ts>, /ubuntu/<ts>.
    if snapshot := _SNAPSHOT_RE.search(path):
        return snapshot["archive"] or f"debian-archive/{snapshot['old']}"
    old = _OLD_RE.fullmatch(path.removeprefix("/debian-archive"))
    if old and (host == "archive.debian.org" or path.startswith("/debian-archive/")):
        return f"debian-archive/{old[1]}"
    if debian := _DEBIAN_RE.fullmatch(path):
        return debian[1]
    # Canonical's partner repository has the Ubuntu layout but no snapshots.
    if host != "archive.canonical.com" and _UBUNTU_RE.fullmatch(path):
        return "ubuntu"
    return None


def archive_url(archive: str, timestamp: str, mirrors: Mapping[str, str]) -> str:
    """Where a snapshot of an archive lives: <debian base>/<archive>/<ts> or <ubuntu base>/<ts>."""
    name, _, directory = archive.partition("/")
    if name in DEBIAN_ARCHIVES:
        base = mirrors.get("debian", DEFAULT_MIRRORS["debian"]).rstrip("/")
        return f"{base}/{name}/{timestamp}" + (f"/{directory}" if directory else "")
    base = mirrors.get("ubuntu", DEFAULT_MIRRORS["ubuntu"]).rstrip("/")
    return f"{base}/{timestamp}"


def debian_snapshot(text: str) -> str | None:
    """The timestamp of the first snapshot.debian.org URL of the `debian` archive in text."""
    match = _PUBLIC_DEBIAN_RE.search(text)
    return match.group(1) if match else None


def parse(text: str) -> list[Source]:
    """Binary sources of one file, deb822 or one-line; deb-src and disabled entries skipped."""
    if re.search(r"(?mi)^(Types|URIs)\s*:", text):
        return _parse_deb822(text)
    sources = []
    for line in text.splitlines():
        match = _ONE_LINE_RE.match(line)
        if match:
            sources.extend(_sources([match["uri"]], [match["suite"]], match["components"].split()))
    return sources


def _parse_deb822(text: str) -> list[Source]:
    sources = []
    for stanza in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or _disabled(fields.get("enabled", "")):
            continue
        sources.extend(
            _sources(
                fields.get("uris", "").split(),
                fields.get("suites", "").split(),
                fields.get("components", "").split(),
            )
        )
    return sources


def _disabled(value: str) -> bool:
    """Enabled: as apt's StringToBool reads it (apt-pkg/contrib/strutl.cc), any case."""
    return value.lower() in ("no", "false", "without", "off", "disable", "0")


def _sources(uris: Iterable[str], suites: Iterable[str], components: list[str]) -> list[Source]:
    result = []
    for uri in uris:
        archive = archive_of(uri)
        if archive is None:
            continue
        for suite in suites:
            result.append(Source(archive, uri, suite, tuple(components)))
    return result
