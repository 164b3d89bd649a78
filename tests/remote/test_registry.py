"""Tests of pinner.remote.registry: real docker-registry instances, and httpx.MockTransport for faults.

The real registries (tests/registryd.py) answer the protocol; skopeo is the independent oracle for
digests. A MockTransport stands in only for faults a real registry will not produce on demand.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import gzip
import json
import socket
import time
import traceback
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import registryd
from registryd import (
    PASSWORD,
    TOKEN_SERVICE,
    USERNAME,
    TokenRequest,
    push_image,
    push_index,
    sha256_digest,
    skopeo_digest,
)

import pinner.remote.registry
from pinner.errors import RegistryError
from pinner.reference import parse
from pinner.remote.credentials import Credential, DockerConfig
from pinner.remote.registry import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    Registry,
    Settings,
    base_url,
    is_loopback,
    resolve_all,
)

Result = Manifest | RegistryError
WRONG_PASSWORD = "wrong-pass-7f3a9c"


class Sleeps(list[float]):
    """A fake asyncio.sleep that records the waits instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _anonymous(host: str) -> Credential | None:
    return None


def run_resolve(
    texts: Iterable[str],
    *,
    settings: Settings | None = None,
    credentials: Callable[[str], Credential | None] = _anonymous,
    known: Mapping[str, Manifest] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleeps | None = None,
) -> tuple[list[Result], Registry]:
    """Resolve references with one Registry through resolve_all; return results and the client."""
    refs = [parse(text) for text in texts]

    async def main() -> tuple[list[Result], Registry]:
        registry = Registry(
            settings or Settings(),
            credentials,
            transport=transport,
            sleep=Sleeps() if sleep is None else sleep,
        )
        try:
            results = await resolve_all(registry, refs, known or {})
        finally:
            await registry.aclose()
        return [results[ref] for ref in refs], registry

    return asyncio.run(main())


def resolve(text: str, **kwargs: Any) -> Manifest:
    """Resolve one reference; raise its RegistryError."""
    [result], _ = run_resolve([text], **kwargs)
    if isinstance(result, RegistryError):
        raise result
    return result


def failure(text: str, **kwargs: Any) -> RegistryError:
    """Resolve one reference that must fail; return its error."""
    [result], _ = run_resolve([text], **kwargs)
    assert isinstance(result, RegistryError), result
    return result


def leaks(secret: str, error: BaseException) -> bool:
    """True when secret shows in the error's message, repr or formatted chain."""
    text = f"{error} {error!r} {''.join(traceback.format_exception(error))}"
    return secret in text


# --------------------------------------------------------------------------- real registries


def test_resolve_single_arch_oci_image(registry: registryd.Registry) -> None:
    digest = push_image(registry, "resolve/oci", "v1", seed="resolve-oci")
    assert resolve(f"{registry.host}/resolve/oci:v1") == Manifest(digest, OCI_MANIFEST)
    assert skopeo_digest(registry, "resolve/oci:v1") == digest


def test_resolve_docker_schema2_image(registry: registryd.Registry) -> None:
    digest = push_image(registry, "resolve/docker", "v1", arch="arm64", oci=False, seed="s2")
    assert resolve(f"{registry.host}/resolve/docker:v1") == Manifest(digest, DOCKER_MANIFEST)
    assert skopeo_digest(registry, "resolve/docker:v1") == digest


def test_resolve_oci_index(registry: registryd.Registry) -> None:
    index_digest, children = push_index(registry, "resolve/index", "v1", seed="oci-index")
    assert set(children) == {"linux/amd64", "linux/arm64", "linux/arm/v7"}
    manifest = resolve(f"{registry.host}/resolve/index:v1")
    assert manifest == Manifest(index_digest, OCI_INDEX, tuple(sorted(children.items())))
    assert manifest.is_index
    assert skopeo_digest(registry, "resolve/index:v1") == index_digest
    for digest in children.values():
        assert skopeo_digest(registry, f"resolve/index@{digest}") == digest


def test_resolve_docker_manifest_list_with_attestation(registry: registryd.Registry) -> None:
    # Platforms as some indexes spell them: arm64/v8 and arm without a variant.
    platforms = (("linux", "amd64", None), ("linux", "arm64", "v8"), ("linux", "arm", None))
    index_digest, children = push_index(
        registry, "resolve/list", "v1", platforms, oci=False, attestation=True, seed="list"
    )
    manifest = resolve(f"{registry.host}/resolve/list:v1")
    assert manifest == Manifest(
        index_digest,
        DOCKER_LIST,
        (
            ("linux/amd64", children["linux/amd64"]),
            ("linux/arm/v7", children["linux/arm"]),
            ("linux/arm64", children["linux/arm64/v8"]),
        ),
    )
    assert skopeo_digest(registry, "resolve/list:v1") == index_digest
    for digest in children.values():
        assert skopeo_digest(registry, f"resolve/list@{digest}") == digest


def test_single_arch_tag_costs_one_head(registry: registryd.Registry) -> None:
    digest = push_image(registry, "count/single", "v1", seed="count-single")
    registry.clear_requests()
    [result], client = run_resolve([f"{registry.host}/count/single:v1"])
    assert result == Manifest(digest, OCI_MANIFEST)
    assert registry.requests() == [("HEAD", "/v2/count/single/manifests/v1")]
    assert client.requests == {"HEAD": 1, "GET": 0}


def test_index_costs_head_and_one_get_by_digest(registry: registryd.Registry) -> None:
    index_digest, _ = push_index(registry, "count/index", "v1", seed="count-index")
    registry.clear_requests()
    [result], client = run_resolve([f"{registry.host}/count/index:v1"])
    assert isinstance(result, Manifest) and result.digest == index_digest
    assert registry.requests() == [
        ("HEAD", "/v2/count/index/manifests/v1"),
        ("GET", f"/v2/count/index/manifests/{index_digest}"),
    ]
    assert client.requests == {"HEAD": 1, "GET": 1}


def test_known_index_costs_one_head(registry: registryd.Registry) -> None:
    index_digest, _ = push_index(registry, "count/known", "v1", seed="count-known")
    # A marker platform list: the answer can only come from `known`, not from a GET.
    cached = Manifest(index_digest, OCI_INDEX, (("linux/amd64", "sha256:" + "1" * 64),))
    registry.clear_requests()
    [result], _ = run_resolve([f"{registry.host}/count/known:v1"], known={index_digest: cached})
    assert result == cached
    assert registry.requests() == [("HEAD", "/v2/count/known/manifests/v1")]


def test_digest_reference_is_verified(registry: registryd.Registry) -> None:
    digest = push_image(registry, "verify/image", "v1", seed="verify")
    registry.clear_requests()
    # The digest decides; the tag is only for humans (and points elsewhere here).
    assert resolve(f"{registry.host}/verify/image:other@{digest}") == Manifest(digest, OCI_MANIFEST)
    assert registry.requests() == [("HEAD", f"/v2/verify/image/manifests/{digest}")]


def test_digest_reference_to_an_index(registry: registryd.Registry) -> None:
    index_digest, children = push_index(registry, "verify/index", None, seed="verify-index")
    manifest = resolve(f"{registry.host}/verify/index@{index_digest}")
    assert manifest == Manifest(index_digest, OCI_INDEX, tuple(sorted(children.items())))


def test_digest_reference_that_does_not_exist(registry: registryd.Registry) -> None:
    push_image(registry, "verify/missing", "v1", seed="verify-missing")
    error = failure(f"{registry.host}/verify/missing@sha256:{'0' * 64}")
    assert str(error) == "manifest unknown"


def test_unknown_tag(registry: registryd.Registry) -> None:
    push_image(registry, "errors/tag", "v1", seed="unknown-tag")
    assert str(failure(f"{registry.host}/errors/tag:v2")) == "manifest unknown"


def test_unknown_repository(registry: registryd.Registry) -> None:
    # distribution 2.8 answers MANIFEST_UNKNOWN for a manifest of a missing repository, and
    # NAME_UNKNOWN "repository name not known to registry" for its tags/list.
    raw = httpx.get(f"{registry.url}/v2/errors/nothere/manifests/v1", trust_env=False)
    assert raw.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    error = failure(f"{registry.host}/errors/nothere:v1")
    assert str(error) == "repository name not known to registry"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound (so no one else takes it) but not listening: connections refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_registry_down(closed_port: int) -> None:
    sleeps = Sleeps()
    [error], client = run_resolve(
        [f"127.0.0.1:{closed_port}/down/image:v1"],
        settings=Settings(attempts=2, backoff=0),
        sleep=sleeps,
    )
    assert isinstance(error, RegistryError)
    assert str(error) == f"cannot reach 127.0.0.1:{closed_port}: connection refused"
    assert client.requests == {"HEAD": 2, "GET": 0}
    assert sleeps == [0]


def test_mirror_for_docker_hub(registry: registryd.Registry) -> None:
    digest = push_image(registry, "library/python", "3.12", seed="mirror")
    registry.clear_requests()
    ref = parse("python:3.12")
    assert ref.name == "docker.io/library/python"
    settings = Settings(mirrors={"docker.io": registry.url})
    assert resolve("python:3.12", settings=settings) == Manifest(digest, OCI_MANIFEST)
    assert registry.requests() == [("HEAD", "/v2/library/python/manifests/3.12")]
    assert skopeo_digest(registry, "library/python:3.12") == digest


# --------------------------------------------------------------------------- Basic auth


def test_basic_auth_with_credentials(basic_registry: registryd.Registry) -> None:
    digest = push_image(basic_registry, "basic/image", "v1", seed="basic")
    index_digest, _ = push_index(basic_registry, "basic/image", "multi", seed="basic")
    host = basic_registry.host
    asked: list[str] = []

    def credentials(h: str) -> Credential | None:
        asked.append(h)
        return Credential(USERNAME, PASSWORD) if h == host else None

    results, _ = run_resolve(
        [f"{host}/basic/image:v1", f"{host}/basic/image:multi"], credentials=credentials
    )
    assert results[0] == Manifest(digest, OCI_MANIFEST)
    assert isinstance(results[1], Manifest) and results[1].digest == index_digest
    assert asked == [host]  # looked up once per host for the run
    assert skopeo_digest(basic_registry, "basic/image:v1") == digest


def test_basic_auth_from_docker_config(basic_registry: registryd.Registry, tmp_path: Path) -> None:
    digest = push_image(basic_registry, "basic/config", "v1", seed="basic-config")
    auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {f"http://{basic_registry.host}/v2/": {"auth": auth}}})
    )
    config = DockerConfig.load({"DOCKER_CONFIG": str(tmp_path)})
    manifest = resolve(f"{basic_registry.host}/basic/config:v1", credentials=config.lookup)
    assert manifest == Manifest(digest, OCI_MANIFEST)


@pytest.mark.parametrize("password", [None, WRONG_PASSWORD], ids=["none", "wrong"])
def test_basic_auth_refused(basic_registry: registryd.Registry, password: str | None) -> None:
    push_image(basic_registry, "basic/refused", "v1", seed="basic-refused")
    credential = None if password is None else Credential(USERNAME, password)
    host = basic_registry.host
    error = failure(f"{host}/basic/refused:v1", credentials=lambda h: credential)
    assert str(error) == f"unauthorized: {host} refused the credentials (or has none for it)"
    for secret in (WRONG_PASSWORD, PASSWORD):
        assert not leaks(secret, error)
    assert WRONG_PASSWORD not in repr(credential)


# --------------------------------------------------------------------------- token auth


def test_token_anonymous_pull(token_registry: registryd.Registry) -> None:
    digest = push_image(token_registry, "tok/anon", "v1", seed="anon")
    token_registry.clear_requests()
    assert resolve(f"{token_registry.host}/tok/anon:v1") == Manifest(digest, OCI_MANIFEST)
    assert token_registry.token_requests == [
        TokenRequest(("repository:tok/anon:pull",), False, TOKEN_SERVICE, 200)
    ]
    assert skopeo_digest(token_registry, "tok/anon:v1") == digest


def test_token_with_credentials(token_registry: registryd.Registry) -> None:
    digest = push_image(token_registry, "tok/creds", "v1", seed="creds")
    token_registry.clear_requests()
    manifest = resolve(
        f"{token_registry.host}/tok/creds:v1",
        credentials=lambda host: Credential(USERNAME, PASSWORD),
    )
    assert manifest == Manifest(digest, OCI_MANIFEST)
    assert token_registry.token_requests == [
        TokenRequest(("repository:tok/creds:pull",), True, TOKEN_SERVICE, 200)
    ]


@pytest.fixture(scope="module")
def token_images(token_registry: registryd.Registry) -> dict[str, str]:
    """Tags in two repositories of the token registry: reference -> digest."""
    host = token_registry.host
    images = {
        f"{host}/tok/many:s{i}": push_image(token_registry, "tok/many", f"s{i}", seed=f"m{i}")
        for i in range(4)
    }
    for i in range(2):
        images[f"{host}/tok/many:i{i}"], _ = push_index(
            token_registry, "tok/many", f"i{i}", seed=f"mi{i}"
        )
        images[f"{host}/tok/other:s{i}"] = push_image(
            token_registry, "tok/other", f"s{i}", seed=f"o{i}"
        )
    return images


def test_one_token_request_asks_for_every_repository_of_the_run(
    token_registry: registryd.Registry, token_images: dict[str, str]
) -> None:
    token_registry.clear_requests()
    results, client = run_resolve(token_images)
    assert [r.digest if isinstance(r, Manifest) else r for r in results] == list(
        token_images.values()
    )
    [asked] = token_registry.token_requests
    assert sorted(asked.scopes) == ["repository:tok/many:pull", "repository:tok/other:pull"]
    assert client.token_requests == 1


def test_a_token_for_a_full_request_of_scopes_fits_a_header(
    token_registry: registryd.Registry,
) -> None:
    # The bound on a request's scopes keeps the token, which every request then carries, well
    # under the 8 KiB a header line commonly may take; the registry reads it whole.
    digest = push_image(token_registry, "tok/full/a", "v1", seed="full")
    challenge = httpx.get(f"{token_registry.url}/v2/", trust_env=False)
    params = registryd.parse_challenge(challenge.headers["WWW-Authenticate"])[1]
    scopes, size = [], 0
    for i in range(1000):
        scope = f"repository:tok/full/{'a' if i == 0 else f'repository-{i:04}'}:pull"
        if size + len(scope) > pinner.remote.registry.MAX_GROUP_SCOPES_CHARS:
            break
        scopes.append(scope)
        size += len(scope)
    query = [("scope", s) for s in scopes] + [("service", params["service"])]
    token = httpx.get(params["realm"], params=query, trust_env=False).json()["token"]
    assert len(scopes) > 20
    assert len(f"Authorization: Bearer {token}") < 6 * 1024
    head = httpx.head(
        f"{token_registry.url}/v2/tok/full/a/manifests/v1",
        headers={"Authorization": f"Bearer {token}", "Accept": OCI_MANIFEST},
        trust_env=False,
    )
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest


def test_a_token_service_that_grants_one_scope_a_request_gets_one_request_a_scope(
    token_registry: registryd.Registry, token_images: dict[str, str]
) -> None:
    # The registry refuses the shared token for the scopes it does not grant: each of those asks
    # for its own token, and the rest of the run asks this host one scope at a time.
    token_registry.clear_requests()
    token_registry.grant_first_scope_only(True)
    try:
        results, client = run_resolve(token_images)
    finally:
        token_registry.grant_first_scope_only(False)
    assert [r.digest if isinstance(r, Manifest) else r for r in results] == list(
        token_images.values()
    )
    first, *alone = token_registry.token_requests
    assert len(first.scopes) == 2
    assert [a.scopes for a in alone] == [first.scopes[1:]]
    assert client.token_requests == 2


def test_token_wrong_credentials(
    token_registry: registryd.Registry, token_images: dict[str, str]
) -> None:
    token_registry.clear_requests()
    refs = [ref for ref in token_images if "/tok/many:" in ref]
    results, client = run_resolve(refs, credentials=lambda h: Credential(USERNAME, WRONG_PASSWORD))
    message = f"{token_registry.host}: authentication failed: the token service answered 401"
    assert [str(r) for r in results] == [message] * len(refs)
    assert all(isinstance(r, RegistryError) and not leaks(WRONG_PASSWORD, r) for r in results)
    assert token_registry.token_requests == [
        TokenRequest(("repository:tok/many:pull",), True, TOKEN_SERVICE, 401)
    ]
    assert client.token_requests == 1


def test_token_scope_of_a_repository_with_a_tags_component(
    token_registry: registryd.Registry,
) -> None:
    digest = push_image(token_registry, "tok/tags/app", "v1", seed="tags-component")
    assert resolve(f"{token_registry.host}/tok/tags/app:v1") == Manifest(digest, OCI_MANIFEST)


# --------------------------------------------------------------------------- where requests go


@pytest.mark.parametrize(
    ("domain", "settings", "expected"),
    [
        ("docker.io", Settings(), "https://registry-1.docker.io"),
        ("ghcr.io", Settings(), "https://ghcr.io"),
        ("example.com:5000", Settings(), "https://example.com:5000"),
        ("10.0.0.1:5000", Settings(), "https://10.0.0.1:5000"),
        ("localhost", Settings(), "http://localhost"),
        ("localhost:5000", Settings(), "http://localhost:5000"),
        ("127.0.0.1:5000", Settings(), "http://127.0.0.1:5000"),
        ("127.1.2.3", Settings(), "http://127.1.2.3"),
        ("[::1]:5000", Settings(), "http://[::1]:5000"),
        (
            "reg.internal:5000",
            Settings(insecure=frozenset({"reg.internal:5000"})),
            "http://reg.internal:5000",
        ),
        (
            "reg.internal:5000",
            Settings(insecure=frozenset({"other:5000"})),
            "https://reg.internal:5000",
        ),
        (
            "docker.io",
            Settings(mirrors={"docker.io": "https://mirror.example/"}),
            "https://mirror.example",
        ),
        (
            "docker.io",
            Settings(mirrors={"docker.io": "http://127.0.0.1:5000"}),
            "http://127.0.0.1:5000",
        ),
        ("ghcr.io", Settings(mirrors={"docker.io": "https://mirror.example"}), "https://ghcr.io"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_base_url(domain: str, settings: Settings, expected: str) -> None:
    assert base_url(domain, settings) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1", True),
        ("127.0.0.1:5000", True),
        ("127.255.0.1:80", True),
        ("::1", True),
        ("[::1]", True),
        ("[::1]:5000", True),
        ("example.com", False),
        ("example.com:5000", False),
        ("localhost.example.com", False),
        ("mylocalhost:5000", False),
        ("10.0.0.1:5000", False),
        ("128.0.0.1", False),
        ("[::2]:5000", False),
        ("[2001:db8::1]:5000", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


# --------------------------------------------------------------------------- faults (MockTransport)

REG = "reg.example"
REF = f"{REG}/team/app:v1"
CHILD = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}'
CHILD_DIGEST = sha256_digest(CHILD)
MANIFEST = json.dumps(
    {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}
).encode()
MANIFEST_DIGEST = sha256_digest(MANIFEST)


def index_of(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()


INDEX = index_of(
    {
        "mediaType": OCI_MANIFEST,
        "digest": CHILD_DIGEST,
        "platform": {"os": "linux", "architecture": "amd64"},
    }
)
INDEX_DIGEST = sha256_digest(INDEX)


def reply(
    status: int,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    length: int | None = None,
) -> httpx.Response:
    """A response whose body streams, as a real transport's does (httpx reads bytes eagerly)."""
    out = {"Content-Length": str(len(body) if length is None else length), **(headers or {})}
    return httpx.Response(status, headers=out, stream=httpx.ByteStream(body))


class Chunks(httpx.AsyncByteStream):
    """A streamed body without Content-Length that counts the chunks read from it."""

    def __init__(self, parts: Sequence[bytes]) -> None:
        self.parts, self.read = parts, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            self.read += 1
            yield part


class FakeRegistry:
    """A MockTransport handler: serves manifests by tag and digest, after any scripted replies."""

    def __init__(self, manifests: Mapping[str, tuple[bytes, str]] | None = None) -> None:
        self.manifests = dict(
            manifests if manifests is not None else {"v1": (MANIFEST, OCI_MANIFEST)}
        )
        for body, media_type in list(self.manifests.values()):
            self.manifests[sha256_digest(body)] = (body, media_type)
        self.script: list[Callable[[httpx.Request], httpx.Response]] = []
        self.digest_on = {"HEAD", "GET"}
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        if self.script:
            return self.script.pop(0)(request)
        return self.serve(request)

    def serve(self, request: httpx.Request) -> httpx.Response:
        target = request.url.path.rpartition("/manifests/")[2]
        if target not in self.manifests:
            errors = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
            return reply(404, json.dumps(errors).encode(), {"Content-Type": "application/json"})
        body, media_type = self.manifests[target]
        headers = {"Content-Type": media_type}
        if request.method in self.digest_on:
            headers["Docker-Content-Digest"] = sha256_digest(body)
        return reply(200, body if request.method == "GET" else b"", headers, length=len(body))


def mock(fake: Callable[[httpx.Request], httpx.Response]) -> dict[str, Any]:
    """Keyword arguments for run_resolve that route every request to fake."""
    return {"transport": httpx.MockTransport(fake)}


def status(code: int, headers: Mapping[str, str] | None = None) -> Callable[..., httpx.Response]:
    return lambda request: reply(code, b"", headers)


def test_429_retry_after_then_success() -> None:
    fake = FakeRegistry()
    fake.script = [status(429, {"Retry-After": "2"})]
    sleeps = Sleeps()
    assert resolve(REF, sleep=sleeps, **mock(fake)) == Manifest(MANIFEST_DIGEST, OCI_MANIFEST)
    assert sleeps == [2.0]
    assert fake.seen == ["HEAD /v2/team/app/manifests/v1"] * 2


def test_retry_after_as_http_date() -> None:
    fake = FakeRegistry()
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    fake.script = [status(503, {"Retry-After": when})]
    sleeps = Sleeps()
    assert resolve(REF, sleep=sleeps, **mock(fake)).digest == MANIFEST_DIGEST
    assert len(sleeps) == 1 and 1 < sleeps[0] <= 3


def test_a_retry_after_of_a_digit_float_refuses_is_no_retry_after() -> None:
    fake = FakeRegistry()
    # The byte 0xB2 reads as "²" (latin-1): str.isdigit takes it, float() does not.
    fake.script = [lambda request: httpx.Response(503, headers=[(b"Retry-After", b"\xb2")])]
    sleeps = Sleeps()
    resolve(REF, sleep=sleeps, settings=Settings(backoff=0.25), **mock(fake))
    assert sleeps == [0.25]


def test_backoff_without_retry_after() -> None:
    fake = FakeRegistry()
    fake.script = [status(502), status(500), status(504)]
    sleeps = Sleeps()
    resolve(REF, sleep=sleeps, settings=Settings(backoff=0.25), **mock(fake))
    assert sleeps == [0.25, 0.5, 1.0]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (408, "Request Timeout"),
        (429, "Too Many Requests"),
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (504, "Gateway Timeout"),
    ],
)
def test_retryable_status_past_the_retries(code: int, reason: str) -> None:
    fake = FakeRegistry()
    fake.script = [status(code)] * 3
    sleeps = Sleeps()
    error = failure(REF, settings=Settings(attempts=3, backoff=0.5), sleep=sleeps, **mock(fake))
    assert str(error) == f"{REG}: {code} {reason} after 3 attempts"
    assert sleeps == [0.5, 1.0]
    assert len(fake.seen) == 3


def test_retry_after_past_the_limit_fails_at_once() -> None:
    fake = FakeRegistry()
    fake.script = [status(429, {"Retry-After": "61"})]
    sleeps = Sleeps()
    error = failure(REF, settings=Settings(max_retry_after=60), sleep=sleeps, **mock(fake))
    assert str(error) == f"{REG}: 429 Too Many Requests, retry after 61 s is past the limit"
    assert sleeps == []
    assert len(fake.seen) == 1


def reset(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("connection reset by peer", request=request)


def test_connection_reset_then_success() -> None:
    fake = FakeRegistry()
    fake.script = [reset]
    sleeps = Sleeps()
    assert resolve(REF, sleep=sleeps, **mock(fake)) == Manifest(MANIFEST_DIGEST, OCI_MANIFEST)
    assert sleeps == [0.5]
    assert len(fake.seen) == 2


def test_connection_reset_past_the_retries() -> None:
    fake = FakeRegistry()
    fake.script = [reset] * 2
    error = failure(REF, settings=Settings(attempts=2), **mock(fake))
    assert str(error) == f"cannot reach {REG}: connection reset by peer"


def test_connection_reset_while_reading_a_manifest() -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield MANIFEST[:10]
            raise httpx.ReadError("connection reset by peer")

    fake = FakeRegistry()
    headers = {"Content-Type": OCI_MANIFEST}
    fake.script = [status(405), lambda r: httpx.Response(200, headers=headers, stream=Broken())]
    assert str(failure(REF, **mock(fake))) == "reading manifest: connection reset by peer"


def test_head_405_falls_back_to_get() -> None:
    fake = FakeRegistry()
    fake.script = [status(405)]
    [result], client = run_resolve([REF], **mock(fake))
    assert result == Manifest(MANIFEST_DIGEST, OCI_MANIFEST)
    assert fake.seen == ["HEAD /v2/team/app/manifests/v1", "GET /v2/team/app/manifests/v1"]
    assert client.requests == {"HEAD": 1, "GET": 1}


def test_head_405_on_an_index_needs_no_second_get() -> None:
    fake = FakeRegistry({"v1": (INDEX, OCI_INDEX), "child": (CHILD, OCI_MANIFEST)})
    fake.script = [status(405)]
    manifest = resolve(REF, **mock(fake))
    assert manifest == Manifest(INDEX_DIGEST, OCI_INDEX, (("linux/amd64", CHILD_DIGEST),))
    assert fake.seen == ["HEAD /v2/team/app/manifests/v1", "GET /v2/team/app/manifests/v1"]


def test_head_without_digest_gets_and_hashes_the_body() -> None:
    fake = FakeRegistry()
    fake.digest_on = set()  # neither HEAD nor GET names the digest
    assert resolve(REF, **mock(fake)) == Manifest(MANIFEST_DIGEST, OCI_MANIFEST)
    assert fake.seen == ["HEAD /v2/team/app/manifests/v1", "GET /v2/team/app/manifests/v1"]


def test_lying_digest_header_on_get() -> None:
    fake = FakeRegistry()
    lie = "sha256:" + "0" * 64
    fake.script = [
        status(405),
        lambda r: reply(
            200, MANIFEST, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": lie}
        ),
    ]
    error = failure(REF, **mock(fake))
    assert str(error) == f"Docker-Content-Digest {lie} does not match the body ({MANIFEST_DIGEST})"


def test_registry_serving_other_bytes_for_a_digest() -> None:
    fake = FakeRegistry({"v1": (INDEX, OCI_INDEX)})
    other = index_of()
    fake.script = [
        lambda r: reply(
            200, b"", {"Content-Type": OCI_INDEX, "Docker-Content-Digest": INDEX_DIGEST}
        ),
        lambda r: reply(200, other, {"Content-Type": OCI_INDEX}),
    ]
    error = failure(REF, **mock(fake))
    assert str(error) == f"registry served {sha256_digest(other)} for {INDEX_DIGEST}"
    assert fake.seen[1] == f"GET /v2/team/app/manifests/{INDEX_DIGEST}"


def test_head_answering_another_digest_for_a_digest_reference() -> None:
    fake = FakeRegistry()
    wanted = "sha256:" + "a" * 64
    headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": MANIFEST_DIGEST}
    fake.script = [lambda r: reply(200, b"", headers)]
    error = failure(f"{REG}/team/app@{wanted}", **mock(fake))
    assert str(error) == f"registry answered {MANIFEST_DIGEST} for {wanted}"


LIMIT = 4 * 1024 * 1024


def padded_manifest(size: int) -> bytes:
    """A valid manifest of exactly size bytes."""
    head = b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'","x":"'
    return head + b"a" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "streamed"])
def test_manifest_of_exactly_4_mib_is_accepted(with_length: bool) -> None:
    body = padded_manifest(LIMIT)
    fake = FakeRegistry()
    headers = {"Content-Type": OCI_MANIFEST}
    if with_length:
        fake.script = [status(405), lambda r: reply(200, body, headers)]
    else:
        stream = Chunks([body[i : i + 65536] for i in range(0, LIMIT, 65536)])
        fake.script = [status(405), lambda r: httpx.Response(200, headers=headers, stream=stream)]
    assert resolve(REF, **mock(fake)) == Manifest(sha256_digest(body), OCI_MANIFEST)


def test_manifest_over_4_mib_by_content_length() -> None:
    stream = Chunks([b"a" * 1024] * (LIMIT // 1024 + 1))
    fake = FakeRegistry()
    headers = {"Content-Type": OCI_MANIFEST, "Content-Length": str(LIMIT + 1024)}
    fake.script = [status(405), lambda r: httpx.Response(200, headers=headers, stream=stream)]
    error = failure(REF, **mock(fake))
    assert str(error) == f"manifest is {LIMIT + 1024} bytes, over the 4 MiB limit"
    assert stream.read == 0  # refused before reading the body


def test_manifest_over_4_mib_streamed_without_content_length() -> None:
    stream = Chunks([b"a" * 65536] * 1000)  # 62.5 MiB if read to the end
    fake = FakeRegistry()
    headers = {"Content-Type": OCI_MANIFEST}
    fake.script = [status(405), lambda r: httpx.Response(200, headers=headers, stream=stream)]
    error = failure(REF, **mock(fake))
    assert str(error) == "manifest is over the 4 MiB limit"
    assert stream.read == LIMIT // 65536 + 1  # stopped at the first chunk past the limit


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "manifest is not valid JSON"),
        (b"[]", "manifest is not valid JSON"),
        (
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX}).encode(),
            "index is not valid JSON of the expected shape ('manifests')",
        ),
        (
            json.dumps({"mediaType": OCI_INDEX, "manifests": 5}).encode(),
            "index is not valid JSON of the expected shape ('int' object is not iterable)",
        ),
        (
            index_of({"platform": {"os": "linux", "architecture": "amd64"}}),
            "index is not valid JSON of the expected shape ('digest')",
        ),
        (
            index_of({"digest": CHILD_DIGEST, "platform": "linux/amd64"}),
            "index is not valid JSON of the expected shape ('str' object has no attribute 'get')",
        ),
    ],
    ids=[
        "not-json",
        "array",
        "no-manifests",
        "manifests-not-a-list",
        "no-digest",
        "platform-string",
    ],
)
def test_invalid_index(body: bytes, message: str) -> None:
    fake = FakeRegistry({"v1": (body, OCI_INDEX)})
    error = failure(REF, **mock(fake))
    assert str(error) == message
    assert fake.seen == [
        "HEAD /v2/team/app/manifests/v1",
        f"GET /v2/team/app/manifests/{sha256_digest(body)}",
    ]


def test_index_platforms_skip_attestations_and_unknowns() -> None:
    def entry(digest: str, **platform: str) -> dict[str, Any]:
        return {"mediaType": OCI_MANIFEST, "digest": digest, "platform": platform}

    d = ["sha256:" + c * 64 for c in "123456"]
    body = index_of(
        entry(d[0], os="linux", architecture="amd64"),
        entry(d[1], os="linux", architecture="aarch64", variant="v8"),
        {
            **entry(d[2], os="unknown", architecture="unknown"),
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
        },
        {"mediaType": OCI_MANIFEST, "digest": d[3]},  # no platform at all
        entry(d[4], os="linux", architecture="x86_64"),  # a second amd64: the first one wins
        entry(d[5], os="linux", architecture="armhf"),
    )
    fake = FakeRegistry({"v1": (body, OCI_INDEX)})
    assert resolve(REF, **mock(fake)).platforms == (
        ("linux/amd64", d[0]),
        ("linux/arm/v7", d[5]),
        ("linux/arm64", d[1]),
    )


def test_gzip_encoded_manifest() -> None:
    fake = FakeRegistry()
    headers = {
        "Content-Type": OCI_MANIFEST,
        "Content-Encoding": "gzip",
        "Docker-Content-Digest": MANIFEST_DIGEST,
    }
    fake.script = [status(405), lambda r: reply(200, gzip.compress(MANIFEST), headers)]
    assert resolve(REF, **mock(fake)) == Manifest(MANIFEST_DIGEST, OCI_MANIFEST)


# --------------------------------------------------------------------------- token faults

REALM = "https://auth.example/token"


class TokenRegistry(FakeRegistry):
    """A FakeRegistry behind Bearer auth, with its token service at REALM."""

    def __init__(self, replies: Iterable[dict[str, Any] | httpx.Response], valid: set[str]) -> None:
        super().__init__()
        self.replies = iter(replies)
        self.valid = valid
        self.token_requests: list[httpx.Request] = []
        self.authorizations: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            self.token_requests.append(request)
            answer = next(self.replies)
            if isinstance(answer, httpx.Response):
                return answer
            return reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
        authorization = request.headers.get("Authorization")
        self.authorizations.append(authorization)
        if authorization not in {f"Bearer {token}" for token in self.valid}:
            challenge = f'Bearer realm="{REALM}",service="{REG}",scope="repository:team/app:pull"'
            return reply(401, b"", {"WWW-Authenticate": challenge})
        return super().__call__(request)


@pytest.mark.parametrize(
    ("answer", "used"),
    [
        ({"token": "T-token"}, "T-token"),
        ({"access_token": "T-access"}, "T-access"),
        ({"token": "T-token", "access_token": "T-access"}, "T-access"),
    ],
    ids=["token", "access_token", "both"],
)
def test_token_reply_fields(answer: dict[str, str], used: str) -> None:
    fake = TokenRegistry([answer], valid={used})
    assert resolve(REF, **mock(fake)) == Manifest(MANIFEST_DIGEST, OCI_MANIFEST)
    assert fake.authorizations == [None, f"Bearer {used}"]
    [token_request] = fake.token_requests
    assert token_request.method == "GET"
    assert parse_qs(token_request.url.query.decode()) == {
        "scope": ["repository:team/app:pull"],
        "service": [REG],
    }
    assert "Authorization" not in token_request.headers


def test_token_request_with_credentials_is_basic() -> None:
    fake = TokenRegistry([{"token": "T"}], valid={"T"})
    resolve(REF, credentials=lambda h: Credential("bob", "pw"), **mock(fake))
    [token_request] = fake.token_requests
    assert token_request.headers["Authorization"] == "Basic " + base64.b64encode(b"bob:pw").decode()


def test_identity_token_uses_the_oauth2_refresh_grant_with_scopes_in_one_field() -> None:
    fake = TokenRegistry([{"access_token": "T"}], valid={"T"})
    refs = [REF, REF.replace("team/app", "team/other")]
    run_resolve(refs, credentials=lambda h: Credential("<token>", "refresh-123"), **mock(fake))
    [token_request] = fake.token_requests
    form = parse_qs(token_request.content.decode())
    assert form["scope"] == ["repository:team/app:pull repository:team/other:pull"]


def test_identity_token_uses_the_oauth2_refresh_grant() -> None:
    fake = TokenRegistry([{"access_token": "T"}], valid={"T"})
    resolve(REF, credentials=lambda h: Credential("<token>", "refresh-123"), **mock(fake))
    [token_request] = fake.token_requests
    assert token_request.method == "POST"
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["refresh-123"],
        "client_id": ["pinner"],
        "scope": ["repository:team/app:pull"],
        "service": [REG],
    }


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (reply(401, b""), f"{REG}: authentication failed: the token service answered 401"),
        (reply(403, b""), f"{REG}: authentication failed: the token service answered 403"),
        (reply(404, b""), f"{REG}: token service answered 404"),
        ({"expires_in": 60}, f"{REG}: token service gave no token"),
        (reply(200, b"<html>"), f"{REG}: token service gave no token"),
    ],
    ids=["401", "403", "404", "no-token", "not-json"],
)
def test_token_service_refusals(answer: dict[str, Any] | httpx.Response, message: str) -> None:
    fake = TokenRegistry([answer], valid=set())
    assert str(failure(REF, **mock(fake))) == message
    assert len(fake.token_requests) == 1


def test_bearer_challenge_without_realm() -> None:
    fake = FakeRegistry()
    fake.script = [status(401, {"WWW-Authenticate": f'Bearer service="{REG}"'})]
    assert str(failure(REF, **mock(fake))) == "registry sent a Bearer challenge without a realm"


def test_token_service_503_is_retried() -> None:
    fake = TokenRegistry([reply(503, b""), {"token": "T"}], valid={"T"})
    assert resolve(REF, **mock(fake)) == Manifest(MANIFEST_DIGEST, OCI_MANIFEST)


BACKOFF = [0.5, 1.0, 2.0]
FAULTS = {
    "retry-after": ([status(429, {"Retry-After": "2"})], ([2.0], 2, "")),
    "backoff": ([status(502), status(500), status(504)], (BACKOFF, 4, "")),
    "past-the-retries": (
        [status(503)] * 4,
        (BACKOFF, 4, "HOST: 503 Service Unavailable after 4 attempts"),
    ),
    "retry-after-past-the-limit": (
        [status(429, {"Retry-After": "61"})],
        ([], 1, "HOST: 429 Too Many Requests, retry after 61 s is past the limit"),
    ),
    "resets": ([reset, reset], (BACKOFF[:2], 3, "")),
    "resets-past-the-retries": (
        [reset] * 4,
        (BACKOFF, 4, "cannot reach HOST: connection reset by peer"),
    ),
}


@pytest.mark.parametrize(("faults", "expected"), FAULTS.values(), ids=FAULTS.keys())
def test_the_token_service_is_retried_as_the_registry_is(
    faults: list[Callable[[httpx.Request], httpx.Response]],
    expected: tuple[list[float], int, str],
) -> None:
    # One retry policy for every request: the same faults from the token service or from the
    # registry itself give the same waits, the same number of attempts and the same error.
    def run(where: str) -> tuple[list[float], int, str]:
        script = list(faults)
        attempts = 0

        def serve(request: httpx.Request) -> httpx.Response:
            nonlocal attempts
            token_service = request.url.host == "auth.example"
            if request.headers.get("Authorization") == "Bearer T" or token_service:
                faulty = token_service == (where == "token service")
                attempts += faulty
                if faulty and script:
                    return script.pop(0)(request)
            if token_service:
                return reply(200, b'{"token": "T"}')
            if request.headers.get("Authorization") != "Bearer T":
                challenge = f'Bearer realm="{REALM}",service="{REG}"'
                return reply(401, b"", {"WWW-Authenticate": challenge})
            return FakeRegistry().serve(request)

        sleeps = Sleeps()
        [result], _ = run_resolve([REF], sleep=sleeps, transport=httpx.MockTransport(serve))
        host = "auth.example" if where == "token service" else REG
        outcome = str(result).replace(host, "HOST") if isinstance(result, RegistryError) else ""
        return sleeps, attempts, outcome

    assert run("registry") == expected
    assert run("token service") == expected


def _scoped_token_service(
    seen: list[str], refuse_many: bool = False
) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """A registry whose token service grants every scope a request names (the token lists them)
    and whose registry takes a token that names the repository; seen records each request."""

    async def serve(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            scopes = request.url.params.get_list("scope")
            seen.append(f"token {' '.join(sorted(s.split(':')[1] for s in scopes))}")
            if refuse_many and len(scopes) > 1:
                return reply(400, b'{"errors": [{"code": "DENIED"}]}')
            return reply(200, json.dumps({"token": ",".join(scopes)}).encode())
        repository = request.url.path.removeprefix("/v2/").partition("/manifests/")[0]
        granted = request.headers.get("Authorization", "").removeprefix("Bearer ").split(",")
        if f"repository:{repository}:pull" not in granted:
            seen.append(f"401 {repository}")
            return reply(401, b"", {"WWW-Authenticate": f'Bearer realm="{REALM}"'})
        seen.append(f"{request.method} {repository}")
        return FakeRegistry().serve(request)

    return serve


def test_the_other_requests_wait_for_one_token_that_grants_them_all() -> None:
    seen: list[str] = []
    refs = [f"{REG}/team/{name}:v1" for name in ("app", "other", "third")]
    results, client = run_resolve(refs, transport=httpx.MockTransport(_scoped_token_service(seen)))
    assert results == [Manifest(MANIFEST_DIGEST, OCI_MANIFEST)] * 3
    assert seen[:2] == ["401 team/app", "token team/app team/other team/third"]
    assert sorted(seen[2:]) == ["HEAD team/app", "HEAD team/other", "HEAD team/third"]
    assert client.token_requests == 1


def test_a_refused_token_request_for_many_scopes_leaves_each_to_ask_alone() -> None:
    seen: list[str] = []
    refs = [f"{REG}/team/{name}:v1" for name in ("app", "other", "third")]
    serve = _scoped_token_service(seen, refuse_many=True)
    results, client = run_resolve(refs, transport=httpx.MockTransport(serve))
    assert results == [Manifest(MANIFEST_DIGEST, OCI_MANIFEST)] * 3
    assert seen[:2] == ["401 team/app", "token team/app team/other team/third"]
    assert sorted(t for t in seen[2:] if t.startswith("token")) == [
        "token team/app",
        "token team/other",
        "token team/third",
    ]
    assert client.token_requests == 4


def test_a_token_request_names_scopes_up_to_a_bound() -> None:
    seen: list[str] = []
    names = [f"team/{'n' * 60}{i:03}" for i in range(120)]
    refs = [f"{REG}/{name}:v1" for name in names]
    results, client = run_resolve(refs, transport=httpx.MockTransport(_scoped_token_service(seen)))
    assert results == [Manifest(MANIFEST_DIGEST, OCI_MANIFEST)] * len(refs)
    asked = [t.removeprefix("token ").split() for t in seen if t.startswith("token")]
    assert sorted(n for a in asked for n in a) == sorted(names)  # each scope once
    scope_chars = [sum(len(f"repository:{n}:pull") for n in a) for a in asked]
    bound = pinner.remote.registry.MAX_GROUP_SCOPES_CHARS
    assert max(scope_chars) <= bound
    per_request = bound // len(f"repository:{names[0]}:pull")
    assert len(asked) == -(-len(names) // per_request)  # each request filled up to the bound
    assert client.token_requests == len(asked)
    assert not [t for t in seen if t.startswith("401") and t != f"401 {names[0]}"]


class Clock:
    """Stands in for the time module inside pinner.remote.registry: monotonic() is set by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()


@pytest.mark.parametrize(
    ("answer", "later", "renewed"),
    [
        ({"token": "T", "expires_in": 100}, 50, False),
        ({"token": "T", "expires_in": 100}, 101, True),
        ({"token": "T", "expires_in": 3600}, 600, False),
        ({"token": "T"}, 30, False),  # expires_in defaults to 60 s
        ({"token": "T"}, 61, True),
    ],
    ids=[
        "100s-after-50s",
        "100s-after-101s",
        "3600s-after-600s",
        "default-after-30s",
        "default-after-61s",
    ],
)
def test_token_expiry(
    monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any], later: float, renewed: bool
) -> None:
    clock = Clock()
    monkeypatch.setattr(pinner.remote.registry, "time", clock)
    fake = TokenRegistry([answer, answer], valid={"T"})

    async def main() -> int:
        registry = Registry(Settings(), _anonymous, transport=httpx.MockTransport(fake))
        try:
            await registry.resolve(parse(REF), {})
            clock.now += later
            await registry.resolve(parse(REF), {})
        finally:
            await registry.aclose()
        return registry.token_requests

    assert asyncio.run(main()) == (2 if renewed else 1)
    assert len(fake.token_requests) == (2 if renewed else 1)


# --------------------------------------------------------------------------- blobs


def test_blob_chunks(registry: registryd.Registry) -> None:
    push_image(registry, "blob/image", "v1", seed="blob")
    manifest = httpx.get(
        f"{registry.url}/v2/blob/image/manifests/v1",
        headers={"Accept": OCI_MANIFEST},
        trust_env=False,
    ).json()
    layer = manifest["layers"][0]["digest"]
    missing = "sha256:" + "0" * 64
    ref = parse(f"{registry.host}/blob/image:v1")

    async def main() -> tuple[bytes, RegistryError]:
        client = Registry(Settings(), _anonymous)
        try:
            data = b"".join([chunk async for chunk in client.blob_chunks(ref, layer)])
            with pytest.raises(RegistryError) as e:
                [chunk async for chunk in client.blob_chunks(ref, missing)]
        finally:
            await client.aclose()
        return data, e.value

    data, error = asyncio.run(main())
    assert sha256_digest(data) == layer
    assert str(error) == f"blob {missing}: blob unknown to registry"


def test_an_unknown_host_is_named_plainly() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known") from socket.gaierror(
            -2, "Name or service not known"
        )

    registry = Registry(
        Settings(attempts=1), lambda host: None, transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(RegistryError) as info:
        asyncio.run(registry.resolve(parse("reg.invalid/x:1"), {}))
    assert str(info.value) == (
        "cannot reach reg.invalid: host name not found (no DNS answer; offline, or use --registry-mirror)"
    )
