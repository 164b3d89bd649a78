"""Tests of the registry harness itself (tests/registryd.py)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import registryd
from registryd import (
    MEDIA_TYPES,
    Registry,
    RegistryError,
    http,
    parse_challenge,
    push_image,
    push_index,
    skopeo_digest,
    start_registry,
)

ACCEPT_ALL = ", ".join(
    MEDIA_TYPES[k] for k in ("oci_index", "docker_list", "oci_manifest", "docker_manifest")
)


def get_manifest(reg: Registry, repo: str, ref: str) -> httpx.Response:
    """GET a manifest with every manifest media type accepted."""
    with reg.client() as client:
        r = client.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT_ALL})
    r.raise_for_status()
    return r


def test_push_oci_image(registry: Registry) -> None:
    digest = push_image(registry, "harness/oci", "v1")
    assert skopeo_digest(registry, "harness/oci:v1") == digest
    r = get_manifest(registry, "harness/oci", "v1")
    assert r.headers["Content-Type"] == MEDIA_TYPES["oci_manifest"]
    assert r.headers["Docker-Content-Digest"] == digest
    manifest = r.json()
    assert manifest["config"]["mediaType"] == MEDIA_TYPES["oci_config"]
    assert [layer["mediaType"] for layer in manifest["layers"]] == [MEDIA_TYPES["oci_layer"]]


def test_push_docker_schema2_image(registry: Registry) -> None:
    digest = push_image(registry, "harness/docker", "v1", arch="arm64", oci=False)
    assert skopeo_digest(registry, "harness/docker:v1") == digest
    r = get_manifest(registry, "harness/docker", "v1")
    assert r.headers["Content-Type"] == MEDIA_TYPES["docker_manifest"]
    manifest = r.json()
    assert manifest["config"]["mediaType"] == MEDIA_TYPES["docker_config"]
    assert [layer["mediaType"] for layer in manifest["layers"]] == [MEDIA_TYPES["docker_layer"]]


def test_push_image_is_deterministic_per_seed(registry: Registry) -> None:
    a = push_image(registry, "harness/seed", "a", seed="one")
    assert push_image(registry, "harness/seed", "b", seed="one") == a
    assert push_image(registry, "harness/seed", "c", seed="two") != a
    assert push_image(registry, "harness/seed", "d", seed="one", variant="v8") != a


def test_push_image_by_digest_only(registry: Registry) -> None:
    digest = push_image(registry, "harness/untagged", None, seed="untagged")
    assert skopeo_digest(registry, f"harness/untagged@{digest}") == digest
    with registry.client() as client:
        tags = client.get("/v2/harness/untagged/tags/list").json()
    assert not tags.get("tags")


def test_push_oci_index(registry: Registry) -> None:
    index_digest, children = push_index(registry, "harness/index", "multi")
    assert set(children) == {"linux/amd64", "linux/arm64", "linux/arm/v7"}
    assert skopeo_digest(registry, "harness/index:multi") == index_digest
    r = get_manifest(registry, "harness/index", "multi")
    assert r.headers["Content-Type"] == MEDIA_TYPES["oci_index"]
    entries = r.json()["manifests"]
    assert [e["digest"] for e in entries] == list(children.values())
    assert {e["mediaType"] for e in entries} == {MEDIA_TYPES["oci_manifest"]}
    assert entries[2]["platform"] == {"os": "linux", "architecture": "arm", "variant": "v7"}
    for key, digest in children.items():
        assert skopeo_digest(registry, f"harness/index@{digest}") == digest, key


def test_push_docker_manifest_list_with_attestation(registry: Registry) -> None:
    index_digest, children = push_index(
        registry, "harness/list", "multi", oci=False, attestation=True
    )
    assert skopeo_digest(registry, "harness/list:multi") == index_digest
    r = get_manifest(registry, "harness/list", "multi")
    assert r.headers["Content-Type"] == MEDIA_TYPES["docker_list"]
    *images, att = r.json()["manifests"]
    assert [e["digest"] for e in images] == list(children.values())
    assert {e["mediaType"] for e in images} == {MEDIA_TYPES["docker_manifest"]}
    assert att["platform"] == {"os": "unknown", "architecture": "unknown"}
    assert att["annotations"] == {
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": children["linux/amd64"],
    }
    assert skopeo_digest(registry, f"harness/list@{att['digest']}") == att["digest"]
    layers = get_manifest(registry, "harness/list", att["digest"]).json()["layers"]
    assert [layer["mediaType"] for layer in layers] == [MEDIA_TYPES["in_toto"]]


def test_requests_sees_a_head(registry: Registry) -> None:
    digest = push_image(registry, "harness/log", "v1", seed="log")
    registry.clear_requests()
    assert registry.requests() == []
    with registry.client(headers={"Accept": ACCEPT_ALL}) as client:
        assert client.head("/v2/harness/log/manifests/v1?x=1").status_code == 200
        assert client.head(f"/v2/harness/log/manifests/{digest}").status_code == 200
    assert registry.requests() == [
        ("HEAD", "/v2/harness/log/manifests/v1"),
        ("HEAD", f"/v2/harness/log/manifests/{digest}"),
    ]
    registry.clear_requests()
    assert registry.requests() == []


def test_basic_registry_challenges_anonymous(basic_registry: Registry) -> None:
    r = http("GET", f"{basic_registry.url}/v2/")
    assert r.status_code == 401
    assert parse_challenge(r.headers["WWW-Authenticate"])[0] == "basic"
    assert (basic_registry.username, basic_registry.password) == ("alice", "s3cret")
    bad = http("GET", f"{basic_registry.url}/v2/", auth=("alice", "wrong"))
    assert bad.status_code == 401
    with basic_registry.client() as client:
        assert client.get("/v2/").status_code == 200


def test_basic_registry_push_and_skopeo(basic_registry: Registry) -> None:
    digest = push_image(basic_registry, "harness/basic", "v1")
    assert skopeo_digest(basic_registry, "harness/basic:v1") == digest
    index_digest, _ = push_index(basic_registry, "harness/basic", "multi", seed="b")
    assert skopeo_digest(basic_registry, "harness/basic:multi") == index_digest


def test_token_registry_challenge(token_registry: Registry) -> None:
    r = http("HEAD", f"{token_registry.url}/v2/harness/token/manifests/v1")
    assert r.status_code == 401
    scheme, params = parse_challenge(r.headers["WWW-Authenticate"])
    assert scheme == "bearer"
    assert params["realm"].startswith("http://127.0.0.1:")
    assert params["realm"].endswith("/token")
    assert params["service"] == registryd.TOKEN_SERVICE
    assert params["scope"] == "repository:harness/token:pull"


def test_token_registry_anonymous_pull_only(token_registry: Registry) -> None:
    digest = push_image(token_registry, "harness/anon", "v1")
    _, params = parse_challenge(
        http("GET", f"{token_registry.url}/v2/").headers["WWW-Authenticate"]
    )
    token_registry.clear_requests()
    reply = http(
        "GET",
        params["realm"],
        params={"service": params["service"], "scope": "repository:harness/anon:pull,push"},
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == registryd.TOKEN_LIFETIME
    assert token_registry.token_requests == [
        registryd.TokenRequest(
            ("repository:harness/anon:pull,push",), False, registryd.TOKEN_SERVICE, 200
        )
    ]
    bearer = {"Authorization": f"Bearer {body['token']}"}
    url = f"{token_registry.url}/v2/harness/anon"
    pulled = http("GET", f"{url}/manifests/v1", headers=bearer | {"Accept": ACCEPT_ALL})
    assert pulled.status_code == 200
    assert pulled.headers["Docker-Content-Digest"] == digest
    pushed = http("POST", f"{url}/blobs/uploads/", headers=bearer)
    assert pushed.status_code == 401
    assert parse_challenge(pushed.headers["WWW-Authenticate"])[1]["error"] == "insufficient_scope"
    anon = subprocess.run(
        [
            *("skopeo", "inspect", "--raw", "--tls-verify=false", "--no-creds"),
            f"docker://{token_registry.host}/harness/anon:v1",
        ],
        capture_output=True,
        check=True,
    )
    assert registryd.sha256_digest(anon.stdout) == digest


def test_token_issuer_rejects_wrong_credentials(token_registry: Registry) -> None:
    _, params = parse_challenge(
        http("GET", f"{token_registry.url}/v2/").headers["WWW-Authenticate"]
    )
    token_registry.clear_requests()
    r = http(
        "GET",
        params["realm"],
        params={"service": params["service"], "scope": "repository:x:pull"},
        auth=("alice", "not-the-password"),
    )
    assert r.status_code == 401
    assert token_registry.token_requests == [
        registryd.TokenRequest(("repository:x:pull",), True, registryd.TOKEN_SERVICE, 401)
    ]
    assert "not-the-password" not in repr(token_registry.token_requests)


def test_token_registry_push_one_token_per_repository(token_registry: Registry) -> None:
    token_registry.clear_requests()
    index_digest, children = push_index(token_registry, "harness/token-index", "v1", seed="t")
    assert token_registry.token_requests == [
        registryd.TokenRequest(
            ("repository:harness/token-index:pull,push",), True, registryd.TOKEN_SERVICE, 200
        )
    ]
    assert skopeo_digest(token_registry, "harness/token-index:v1") == index_digest
    assert (
        skopeo_digest(token_registry, f"harness/token-index@{children['linux/arm64']}")
        == (children["linux/arm64"])
    )


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port bound (not listening) by this process."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_start_retries_when_port_is_taken(
    tmp_path: Path, held_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = iter([held_port])
    real_free_port = registryd._free_port
    monkeypatch.setattr(registryd, "_free_port", lambda: next(ports, None) or real_free_port())
    with start_registry(tmp_path) as reg:
        assert reg.host != f"127.0.0.1:{held_port}"
        assert http("GET", f"{reg.url}/v2/").status_code == 200
    assert "address already in use" in (tmp_path / "registry-1.log").read_text()


def test_start_failure_reports_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake-registry"
    fake.write_text("#!/bin/sh\necho 'configuration error: it broke' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(registryd, "_REGISTRY_BIN", str(fake))
    live = set(registryd._live)
    with pytest.raises(RegistryError, match="it broke"):
        start_registry(tmp_path / "w")
    assert registryd._live == live


def test_stop_is_clean_and_idempotent(tmp_path: Path) -> None:
    reg = start_registry(tmp_path, "token")
    config = json.loads((tmp_path / "config.yml").read_text())
    assert config["log"]["level"] == "error"
    assert config["storage"]["filesystem"]["rootdirectory"].startswith(str(tmp_path))
    reg.stop()
    reg.stop()
    assert reg.process.returncode is not None
    assert reg not in registryd._live
    with pytest.raises(httpx.TransportError):
        http("GET", f"{reg.url}/v2/")
    with pytest.raises(httpx.TransportError):
        http("GET", config["auth"]["token"]["realm"])
