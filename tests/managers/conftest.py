"""Fixtures every package-manager test shares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from pinner.managers import apk


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_config: Path) -> Path:
    """An empty working folder, with pinner's cache and Docker config kept inside tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def each_index_read_once() -> Iterator[None]:
    """apk's index work, done once per module for each input: unpacking, parsing, the universe.

    A module that runs pinner over the recorded 5,000-package index dozens of times otherwise
    unpacks it (15 ms), parses it (70 ms) and builds its universe (40 ms) again in every run.
    Each answer is a function of its arguments alone, kept under all of them: index_text's
    signed bytes and source; parse_index's text, source, repository and tag (its entries are
    immutable, each call gets its own list); a Universe's entries and holds (nothing changes a
    Universe once built). An input that fails is tried, and fails, again.
    """
    unpack, parse, build = apk.index_text, apk.parse_index, apk.Universe
    texts: dict[tuple[bytes, str], str] = {}
    parsed: dict[tuple[str, str, str, str], tuple[apk.Entry, ...]] = {}
    built: dict[tuple[tuple[apk.Entry, ...], tuple[object, ...]], apk.Universe] = {}

    def index_text(signed: bytes, source: str) -> str:
        if (signed, source) not in texts:
            texts[signed, source] = unpack(signed, source)
        return texts[signed, source]

    def parse_index(text: str, source: str, repository: str = "", tag: str = "") -> list[apk.Entry]:
        key = (text, source, repository, tag)
        if key not in parsed:
            parsed[key] = tuple(parse(text, source, repository, tag))
        return list(parsed[key])

    def universe(
        entries: Iterable[apk.Entry], held: Mapping[str, tuple[str, str]] | None = None
    ) -> apk.Universe:
        key = (tuple(entries), tuple(sorted((held or {}).items())))
        if key not in built:
            built[key] = build(key[0], held)
        return built[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(apk, "index_text", index_text)
        patch.setattr(apk, "parse_index", parse_index)
        patch.setattr(apk, "Universe", universe)
        yield
