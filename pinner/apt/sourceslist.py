"""Parse apt sources (deb822 and one-line formats) into the indexes apt fetches."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

# Archive paths pinner knows snapshots of; the same table as the snapshot step's (sources.py).
_ARCHIVES = {
    "/debian": "debian",
    "/debian-security": "debian-security",
    "/debian-archive/debian": "debian-archive",
    "/debian-archive/debian-security": "debian-archive",
    "/ubuntu": "ubuntu",
    "/ubuntu-ports": "ubuntu",
}
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
    """The snapshot archive a URI belongs to, by its path; None for third-party repositories."""
    match = re.match(r"^[a-z+]+://[^/]+(?P<path>/[^?#]*?)/*$", uri)
    if not match:
        return None
    path = match.group("path")
    # A URI already on a snapshot keeps its archive: .../archive/<archive>/<ts>, .../ubuntu/<ts>.
    snap = re.search(r"/archive/(debian(?:-security|-archive)?)/\d{8}T\d{6}Z$", path)
    if snap:
        return snap.group(1)
    if re.search(r"/ubuntu/\d{8}T\d{6}Z$", path):
        return "ubuntu"
    return _ARCHIVES.get(path)


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
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        sources.extend(
            _sources(
                fields.get("uris", "").split(),
                fields.get("suites", "").split(),
                fields.get("components", "").split(),
            )
        )
    return sources


def _sources(uris: Iterable[str], suites: Iterable[str], components: list[str]) -> list[Source]:
    result = []
    for uri in uris:
        archive = archive_of(uri)
        if archive is None:
            continue
        for suite in suites:
            result.append(Source(archive, uri, suite, tuple(components)))
    return result
