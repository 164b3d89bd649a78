"""A hostile registry, token service and snapshot mirror against the whole CLI (tests/hostile.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import Reply, Seen, serving

from pinner.baseimage import BaseImageError, _cache_path
from pinner.main import main

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "0" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()
NOTHING_WRITTEN = "1 error(s); nothing written"
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh HOME with the default cache under it, and no Docker credentials."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    yield folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dockerfile(tmp_path: Path, image: str, apt: bool = True) -> Path:
    path = tmp_path / "Dockerfile"
    text = f"FROM {image}\n"
    if apt:
        text += "RUN apt-get update && apt-get install -y curl\n"
    path.write_text(text)
    return path


def frontend(seen: Seen) -> Reply | None:
    """An honest answer for docker/dockerfile, which lock pins in the syntax line; else None."""
    if "/docker/dockerfile/" not in seen.path:
        return None
    return Reply(
        headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST}, body=MANIFEST
    )


def lock(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    """pinner lock with the hostile server standing in for Docker Hub as well."""
    return run(capsys, "lock", "--registry-mirror", f"docker.io={url}", *argv)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- item 1


def test_item1_digest_path_traversal_writes_nothing_outside_the_cache(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def route(seen: Seen) -> Reply:
        if answer := frontend(seen):
            return answer
        if seen.method == "HEAD":
            headers = {
                "Docker-Content-Digest": "../../../.docker/config",
                "Content-Type": OCI_MANIFEST,
            }
            return Reply(headers=headers)
        return Reply(headers={"Content-Type": OCI_MANIFEST}, body=b'{"auths": {"pwned": {}}}')

    with serving(route) as server:
        path = dockerfile(tmp_path, f"{server.host}/evil:1")
        before = path.read_bytes()
        code, _, err = lock(capsys, server.url, str(path))
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1: {server.host}/evil:1: Docker-Content-Digest is not a valid digest:"
        " '../../../.docker/config'",
        NOTHING_WRITTEN,
    ]
    assert not (home / ".docker").exists()
    assert all(not name.endswith("config.json") for name in files_under(home))
    assert path.read_bytes() == before


def test_item1_index_entry_digest_path_traversal(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {
        "mediaType": OCI_MANIFEST,
        "digest": "../../../.docker/config",
        "size": 2,
        "platform": {"os": "linux", "architecture": "amd64"},
    }
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}).encode()
    index_digest = "sha256:" + hashlib.sha256(index).hexdigest()

    def route(seen: Seen) -> Reply:
        if answer := frontend(seen):
            return answer
        if seen.path.endswith(("/manifests/1", f"/manifests/{index_digest}")):
            headers = {"Docker-Content-Digest": index_digest, "Content-Type": OCI_INDEX}
            return Reply(headers=headers, body=index)
        return Reply(headers={"Content-Type": OCI_MANIFEST}, body=b'{"auths": {"pwned": {}}}')

    with serving(route) as server:
        path = dockerfile(tmp_path, f"{server.host}/evil:1")
        code, _, err = lock(capsys, server.url, str(path))
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1: {server.host}/evil:1: index entry for linux/amd64 is not a valid digest:"
        " '../../../.docker/config'",
        NOTHING_WRITTEN,
    ]
    assert not (home / ".docker").exists()
    assert not any(s.path.endswith("/.docker/config") for s in server.seen)


@pytest.mark.parametrize(
    "digest", ["../manifests/x", "sha256:../../" + "a" * 58, "sha256:" + "A" * 64, ""]
)
def test_item1_cache_path_stays_inside_the_cache(tmp_path: Path, digest: str) -> None:
    with pytest.raises(BaseImageError, match="refusing to cache"):
        _cache_path(tmp_path / "cache", "manifests", digest)


# --------------------------------------------------------------------------- item 3


@pytest.mark.parametrize(
    "trailer", [" AS x", "\\", "\tAS x", " #"], ids=["as", "backslash", "tab", "comment"]
)
def test_item3_digest_header_with_trailing_text_never_reaches_the_dockerfile(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], trailer: str
) -> None:
    header = DIGEST + trailer

    def route(seen: Seen) -> Reply:
        return Reply(headers={"Docker-Content-Digest": header, "Content-Type": OCI_MANIFEST})

    with serving(route) as server:
        path = tmp_path / "Dockerfile"
        path.write_text(f"FROM {server.host}/app:1 AS x\nRUN true\n")
        code, _, err = run(capsys, "lock", "--images-only", str(path))
    assert code == 1
    assert path.read_text() == f"FROM {server.host}/app:1 AS x\nRUN true\n"
    assert not (tmp_path / "Dockerfile.lock").exists()
    (line, summary) = err.splitlines()
    assert line.startswith(f"{path}:1: {server.host}/app:1: Docker-Content-Digest is not a valid")
    assert summary == NOTHING_WRITTEN
