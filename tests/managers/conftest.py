"""Fixtures every package-manager test shares."""

from __future__ import annotations

from collections.abc import Iterator
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
def each_index_parsed_once() -> Iterator[None]:
    """apk.parse_index answers a text, source, repository and tag it parsed before from memory.

    A module that runs pinner over the recorded 5,000-package index dozens of times otherwise
    parses it again in every run (about 70 ms each). The answer is a function of those four
    arguments alone, its entries are immutable, and a text that fails is parsed (and fails)
    again.
    """
    parse = apk.parse_index
    parsed: dict[tuple[str, str, str, str], tuple[apk.Entry, ...]] = {}

    def parse_index(text: str, source: str, repository: str = "", tag: str = "") -> list[apk.Entry]:
        key = (text, source, repository, tag)
        if key not in parsed:
            parsed[key] = tuple(parse(text, source, repository, tag))
        return list(parsed[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(apk, "parse_index", parse_index)
        yield
