"""A hostile registry, token service and snapshot mirror against the whole CLI (tests/hostile.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hostile import Reply, Seen, serving

from pinner.baseimage import BaseImageError, _cache_path
from pinner.credentials import Credential
from pinner.errors import RegistryError
from pinner.main import main
from pinner.reference import parse
from pinner.registry import Registry, Settings

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
USER, PASSWORD = "alice", "pw-3f9a1c7e"
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


# --------------------------------------------------------------------------- item 2


def login(home: Path, monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    """Docker credentials for host alone, as `docker login host` stores them."""
    config = home / ".docker-config"
    config.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))


def carries_password(seen: Seen) -> bool:
    """True when a request carries the test password in any form."""
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    text = f"{seen.path}?{seen.query} {seen.headers}"
    return PASSWORD in text or encoded in text


def test_item2_redirect_to_another_host_gets_no_credentials(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Registry A redirects every request to host B; B answers with a Bearer challenge whose realm
    # it also serves. A's credentials must go neither to B nor to B's realm.
    def b_route(seen: Seen) -> Reply:
        if seen.path == "/token":
            return Reply(headers={"Content-Type": "application/json"}, body=b'{"token": "t"}')
        if seen.headers.get("Authorization") == "Bearer t":
            return Reply(headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST})
        realm = f'Bearer realm="http://{b.host}/token",service="b"'
        return Reply(401, headers={"WWW-Authenticate": realm})

    with serving(b_route, host="127.0.0.2") as b:

        def a_route(seen: Seen) -> Reply:
            return Reply(307, headers={"Location": f"{b.url}{seen.path}"})

        with serving(a_route) as a:
            login(home, monkeypatch, a.host)
            path = tmp_path / "Dockerfile"
            path.write_text(f"FROM {a.host}/app:1\n")
            code, _, err = run(capsys, "lock", "--images-only", str(path))
    assert not any(carries_password(s) for s in b.seen), b.seen
    assert {s.path for s in b.seen} == {"/v2/app/manifests/1"}
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1: {a.host}/app:1: unauthorized: {b.host} refused the credentials (or has none for it)",
        NOTHING_WRITTEN,
    ]


def test_item2_credentials_reach_a_realm_on_another_loopback_host(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The honest case the rules still allow: a realm over http on loopback, no redirect.
    tokens: list[Seen] = []

    def realm_route(seen: Seen) -> Reply:
        tokens.append(seen)
        return Reply(headers={"Content-Type": "application/json"}, body=b'{"token": "t"}')

    with serving(realm_route, host="127.0.0.2") as realm:

        def route(seen: Seen) -> Reply:
            if seen.headers.get("Authorization") == "Bearer t":
                return Reply(
                    headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST}
                )
            return Reply(401, headers={"WWW-Authenticate": f'Bearer realm="{realm.url}/token"'})

        with serving(route) as registry:
            login(home, monkeypatch, registry.host)
            path = tmp_path / "Dockerfile"
            path.write_text(f"FROM {registry.host}/app:1\n")
            code, _, err = run(capsys, "lock", "--images-only", str(path))
    assert (code, err) == (0, "1 Dockerfile(s); changed 1\n")
    assert [carries_password(s) for s in tokens] == [True]


def resolve_with_realm(
    realm: str, insecure: frozenset[str] = frozenset()
) -> tuple[str, list[httpx.Request]]:
    """Resolve reg.example/app:1 whose registry sends a Bearer challenge naming realm."""
    # Non-loopback hosts over plain http cannot be served from this machine (every address a
    # test can bind is loopback, which the rules trust), so a MockTransport stands in for both.
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.host == "reg.example" and "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})
        if request.url.host == "reg.example":
            headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST}
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, json={"token": "t"})

    def credentials(host: str) -> Credential | None:
        return Credential(USER, PASSWORD) if host == "reg.example" else None

    async def main() -> str:
        registry = Registry(
            Settings(insecure=insecure), credentials, transport=httpx.MockTransport(handler)
        )
        try:
            return (await registry.resolve(parse("reg.example/app:1"), {})).digest
        except RegistryError as e:
            return str(e)
        finally:
            await registry.aclose()

    return asyncio.run(main()), sent


def test_item2_plain_http_realm_on_another_host_gets_no_credentials() -> None:
    outcome, sent = resolve_with_realm("http://auth.example/token")
    assert outcome == (
        "not sending credentials to the token realm auth.example over plain http"
        " (use --insecure-registry auth.example to allow it)"
    )
    assert [r.url.host for r in sent] == ["reg.example"]
    assert not any("authorization" in r.headers for r in sent)


@pytest.mark.parametrize(
    ("realm", "insecure"),
    [
        ("https://auth.example/token", frozenset()),
        ("http://auth.example/token", frozenset({"auth.example"})),
    ],
    ids=["https", "insecure-registry"],
)
def test_item2_realm_gets_credentials_over_https_or_when_declared_insecure(
    realm: str, insecure: frozenset[str]
) -> None:
    outcome, sent = resolve_with_realm(realm, insecure)
    assert outcome == DIGEST
    [token_request] = [r for r in sent if r.url.host == "auth.example"]
    assert (
        token_request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    )
