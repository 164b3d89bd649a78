"""Random and garbled registry answers: only PinnerError subclasses may escape (issue item 10)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examples import examples
from pinner.errors import PinnerError
from pinner.reference import parse
from pinner.remote import layers
from pinner.remote.registry import Registry, Settings

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DIGEST = "sha256:" + "a" * 64

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def shaped(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Documents with the expected keys, each holding either a plausible or a random value."""
    return st.fixed_dictionaries({k: st.one_of(st.just(v), json_values) for k, v in fields.items()})


platform_entry = shaped(
    {
        "mediaType": OCI_MANIFEST,
        "digest": DIGEST,
        "size": 2,
        "platform": {"os": "linux", "architecture": "amd64"},
        "annotations": {},
    }
)
documents = st.one_of(
    json_values,
    shaped(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": st.lists(platform_entry, max_size=3),
        }
    ),
    shaped(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"digest": DIGEST, "mediaType": "x"},
            "layers": [{"digest": DIGEST, "mediaType": "application/vnd.oci.image.layer.v1.tar"}],
        }
    ),
    shaped({"errors": [{"code": "X", "message": "m"}]}),
    shaped({"token": "t", "access_token": "t", "expires_in": 60}),
)


header_values = st.one_of(
    st.just(DIGEST),
    st.just(OCI_INDEX),
    st.just(OCI_MANIFEST),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
)
bodies = st.one_of(
    documents.map(lambda d: json.dumps(d, default=str).encode()),
    st.binary(max_size=200),
    st.integers(0, 3000).map(lambda n: b"[" * n + b"]" * n),
)
replies = st.fixed_dictionaries(
    {
        "status": st.sampled_from([200, 200, 200, 307, 401, 404, 405, 500]),
        "digest": st.one_of(st.none(), header_values),
        "type": st.one_of(st.none(), header_values),
        "length": st.one_of(st.none(), header_values),
        "challenge": st.sampled_from(
            [
                'Bearer realm="https://reg.example/token",service="s"',
                'Basic realm="r"',
                "Bearer",
                'Bearer realm="ftp://x"',
                "",
            ]
        ),
        "location": st.sampled_from(["/v2/app/manifests/1", "https://other.example/x", "::"]),
        "body": bodies,
        "self_digest": st.booleans(),
    }
)


def answer(reply: dict[str, Any], request: httpx.Request) -> httpx.Response:
    body: bytes = reply["body"]
    headers: dict[str, str] = {}
    if reply["self_digest"]:
        headers["Docker-Content-Digest"] = "sha256:" + hashlib.sha256(body).hexdigest()
    elif reply["digest"] is not None:
        headers["Docker-Content-Digest"] = reply["digest"]
    if reply["type"] is not None:
        headers["Content-Type"] = reply["type"]
    if reply["status"] == 401 and reply["challenge"]:
        headers["WWW-Authenticate"] = reply["challenge"]
    if reply["status"] == 307:
        headers["Location"] = reply["location"]
    if reply["length"] is not None:
        headers["Content-Length"] = reply["length"]
    return httpx.Response(reply["status"], headers=headers, content=body)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(replies, min_size=1, max_size=8))
def test_item10_garbled_registry_answers_raise_only_pinner_errors(
    script: list[dict[str, Any]],
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        reply = script[calls % len(script)]
        calls += 1
        return answer(reply, request)

    async def no_sleep(seconds: float) -> None:
        pass

    async def run() -> None:
        registry = Registry(
            Settings(attempts=2),
            lambda host: None,
            transport=httpx.MockTransport(handler),
            sleep=no_sleep,
        )
        try:
            ref = parse("reg.example/app:1")
            manifest = await registry.resolve(ref, {})
            digest = dict(manifest.platforms).get("linux/amd64", manifest.digest)
            await layers.inspect(registry, ref, digest, None)
        except PinnerError:
            pass
        finally:
            await registry.aclose()

    asyncio.run(run())
