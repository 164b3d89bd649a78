"""A hostile registry, token service and snapshot mirror against the whole CLI (tests/hostile.py)."""

from __future__ import annotations

import asyncio
import base64
import bz2
import gzip
import hashlib
import io
import json
import lzma
import socket
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli import run
from hostile import Reply, Seen, drip, endless, serving

from pinner import baseimage
from pinner.apt.packages import decompress
from pinner.baseimage import MAX_FILE, MAX_STATUS_LINE, BaseImageError, scan_layer
from pinner.errors import MirrorError, PinnerError, RegistryError
from pinner.main import main
from pinner.reference import parse
from pinner.remote import cache
from pinner.remote.credentials import Credential
from pinner.remote.registry import Registry, Settings
from pinner.remote.snapshot import SnapshotMirror

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
    with pytest.raises(PinnerError, match="refusing to cache"):
        cache.digest_path(tmp_path / "cache", "manifests", digest)


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
    assert (code, err) == (0, "1 file(s); changed 1\n")
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


# --------------------------------------------------------------------------- item 4


def lock_images(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, host: str, *argv: str
) -> tuple[int, Path, str]:
    """pinner lock --images-only of a one-line Dockerfile FROM host/app:1."""
    path = tmp_path / "Dockerfile"
    path.write_text(f"FROM {host}/app:1\n")
    code, _, err = run(capsys, "lock", "--images-only", *argv, str(path))
    return code, path, err


def errors_body(message: str) -> bytes:
    return json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": message}]}).encode()


def test_item4_error_text_from_the_registry_is_printed_without_control_characters(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "\x1b]0;owned\x07\x1b[2Jgone\r\nFAKE: 0 error(s)\u202e" + "x" * 5000

    def route(seen: Seen) -> Reply:
        return Reply(404, {"Content-Type": "application/json"}, errors_body(message))

    with serving(route) as server:
        code, path, err = lock_images(capsys, tmp_path, server.host)
    assert code == 1
    line, summary = err.splitlines()
    assert line.startswith(f"{path}:1: {server.host}/app:1: ]0;owned [2jgone fake: 0 error(s) xxx")
    assert line.endswith("x...")
    assert len(line) == len(f"{path}:1: {server.host}/app:1: ") + 200
    assert summary == NOTHING_WRITTEN


def test_item4_an_echoed_authorization_header_is_not_printed(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def route(seen: Seen) -> Reply:
        authorization = seen.headers.get("Authorization")
        if authorization is None:
            return Reply(401, {"WWW-Authenticate": 'Basic realm="r"'})
        return Reply(
            404, {"Content-Type": "application/json"}, errors_body(f"no access for {authorization}")
        )

    with serving(route) as server:
        login(home, monkeypatch, server.host)
        code, _, err = lock_images(capsys, tmp_path, server.host)
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert code == 1
    assert encoded not in err and PASSWORD not in err
    assert "no access for basic <hidden>" in err


def test_item4_a_token_holding_a_newline_is_refused_and_not_printed(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "tok3n-secret\r\nX-Injected: 1"

    def route(seen: Seen) -> Reply:
        if seen.path == "/token":
            return Reply(body=json.dumps({"token": token}).encode())
        return Reply(
            401, {"WWW-Authenticate": f'Bearer realm="http://{seen.headers["Host"]}/token"'}
        )

    with serving(route) as server:
        code, path, err = lock_images(capsys, tmp_path, server.host)
    assert code == 1
    assert "tok3n-secret" not in err
    assert err.splitlines() == [
        f"{path}:1: {server.host}/app:1: {server.host}: token service gave a token that is not a header value",
        NOTHING_WRITTEN,
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://user:hunter2@[::1", "expected an http(s)://HOST[:PORT]/... URL"),
        ("http://user:hunter2@mirror.example/", "credentials in the URL are not supported"),
        ("http://user:hunter2@mirror.example:port/", "expected an http(s)://HOST[:PORT]/... URL"),
    ],
    ids=["unparsable", "credentials", "bad-port"],
)
def test_item4_snapshot_mirror_url_with_a_password_is_a_usage_error_that_hides_it(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    path = dockerfile(tmp_path, "debian:bookworm")
    code, _, err = run(capsys, "lock", "--snapshot-mirror", f"debian={url}", str(path))
    assert code == 2
    assert "hunter2" not in err
    shown = url.replace("user:hunter2", "***")
    assert err == f"pinner: --snapshot-mirror debian={shown}: {message}\n"


# --------------------------------------------------------------------------- item 5


def test_item5_an_endless_error_body_is_read_only_to_its_cap(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[int] = []

    def counted() -> Iterator[bytes]:
        for chunk in endless():
            sent.append(len(chunk))
            yield chunk

    def route(seen: Seen) -> Reply:
        return Reply(404, {"Content-Type": "application/json"}, counted(), length=False)

    with serving(route) as server:
        code, path, err = lock_images(capsys, tmp_path, server.host)
    assert code == 1
    assert err.splitlines() == [f"{path}:1: {server.host}/app:1: manifest unknown", NOTHING_WRITTEN]
    # The server stops when pinner hangs up: it could send what the socket buffers hold, never
    # the gigabytes an unbounded read would take.
    assert sum(sent) < 64 * 1024 * 1024


def test_item5_redirects_with_endless_bodies_end_in_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def route(seen: Seen) -> Reply:
        return Reply(307, {"Location": "/elsewhere"}, endless(), length=False)

    with serving(route) as server:
        code, path, err = lock_images(capsys, tmp_path, server.host)
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1: {server.host}/app:1: {server.host}: too many redirects",
        NOTHING_WRITTEN,
    ]


def test_item5_a_gzip_encoded_manifest_is_inflated_only_to_its_limit(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))

    def route(seen: Seen) -> Reply:
        if seen.method == "HEAD":
            return Reply(405)
        return Reply(headers={"Content-Type": OCI_MANIFEST, "Content-Encoding": "gzip"}, body=bomb)

    with serving(route) as server:
        code, path, err = lock_images(capsys, tmp_path, server.host)
    assert code == 1
    assert [s.headers.get("Accept-Encoding") for s in server.seen] == ["identity", "identity"]
    assert err.splitlines() == [
        f"{path}:1: {server.host}/app:1: manifest is over the 4 MiB limit",
        NOTHING_WRITTEN,
    ]


def test_item5_an_endless_token_reply_is_refused(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def route(seen: Seen) -> Reply:
        if seen.path == "/token":
            return Reply(body=endless(), length=False)
        return Reply(
            401, {"WWW-Authenticate": f'Bearer realm="http://{seen.headers["Host"]}/token"'}
        )

    with serving(route) as server:
        code, path, err = lock_images(capsys, tmp_path, server.host)
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1: {server.host}/app:1: {server.host}: the token service's answer is over the 1 MiB limit",
        NOTHING_WRITTEN,
    ]


def test_item5_an_endless_snapshot_file_is_refused(tmp_path: Path) -> None:
    def route(seen: Seen) -> Reply:
        return Reply(body=endless(), length=False)

    async def fetch(url: str) -> str:
        mirror = SnapshotMirror({"debian": url}, tmp_path / "cache")
        try:
            await mirror.release("debian", "20250101T000000Z", "bookworm", [])
        except MirrorError as e:
            return str(e)
        finally:
            await mirror.aclose()
        return "no error"

    with serving(route) as server:
        message = asyncio.run(fetch(server.url))
    assert message == (
        "debian bookworm at 20250101T000000Z:"
        f" {server.url}/debian/20250101T000000Z/dists/bookworm/InRelease is over the 16 MiB limit"
    )
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("suffix", [".xz", ".gz", ".bz2"])
def test_item5_a_decompression_bomb_stops_at_the_limit(suffix: str) -> None:
    compress = {".xz": lzma.compress, ".gz": gzip.compress, ".bz2": bz2.compress}[suffix]
    bomb = compress(b"\0" * (8 * 1024 * 1024 + 1))
    with pytest.raises(MirrorError) as e:
        decompress(bomb, f"main/binary-amd64/Packages{suffix}", 8 * 1024 * 1024)
    assert (
        str(e.value)
        == f"main/binary-amd64/Packages{suffix}: decompresses to more than 8388608 bytes"
    )
    assert decompress(compress(b"x" * 100), f"Packages{suffix}", 100) == b"x" * 100


def layer(*files: tuple[str, bytes]) -> bytes:
    """A gzip layer tar holding the given files."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_item5_a_dpkg_status_line_past_the_cap_is_refused() -> None:
    status = b"Package: apt\nDescription: " + b"x" * (MAX_STATUS_LINE + 1) + b"\n"
    with pytest.raises(BaseImageError, match="has a line over"):
        scan_layer([layer(("var/lib/dpkg/status", status))])


def test_item5_a_dpkg_status_stanza_past_the_cap_is_refused() -> None:
    status = b"Package: apt\n" + (b"X: " + b"y" * 1000 + b"\n") * (MAX_STATUS_LINE // 1000 + 1)
    with pytest.raises(BaseImageError, match="has a stanza over"):
        scan_layer([layer(("var/lib/dpkg/status", status))])


def test_item5_keyrings_past_the_total_cap_are_refused() -> None:
    keyrings = [(f"usr/share/keyrings/k{i}.gpg", bytes([i]) * (MAX_FILE - 1)) for i in range(5)]
    with pytest.raises(BaseImageError, match="its apt files come to over 16 MiB"):
        scan_layer([layer(*keyrings)])
    assert len(scan_layer([layer(*keyrings[:3])])) == 3


def test_item5_a_layer_past_the_uncompressed_cap_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(baseimage, "MAX_LAYER_BYTES", 1024 * 1024)
    with pytest.raises(BaseImageError, match="layer is over"):
        scan_layer([layer(("big", b"\0" * (2 * 1024 * 1024)))])


# --------------------------------------------------------------------------- item 6


def test_item6_a_body_dripped_a_byte_at_a_time_times_out(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[bytes] = []

    def counted() -> Iterator[bytes]:
        for byte in drip(MANIFEST, 0.2):
            sent.append(byte)
            yield byte

    def route(seen: Seen) -> Reply:
        if seen.method == "HEAD":
            return Reply(405)
        return Reply(headers={"Content-Type": OCI_MANIFEST}, body=counted(), length=False)

    with serving(route) as server:
        code, path, err = lock_images(capsys, tmp_path, server.host, "--timeout", "1")
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1: {server.host}/app:1: {server.host}: no complete answer within 1 s (see --timeout)",
        NOTHING_WRITTEN,
    ]
    assert 0 < len(sent) < len(MANIFEST)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon", "86401"])
def test_item6_timeout_must_be_a_positive_number_of_seconds(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["lock", "--timeout", value])
    assert e.value.code == 2
    assert f"expected seconds between 0 and 86400, got {value!r}" in capsys.readouterr().err


# --------------------------------------------------------------------------- item 10 (network)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "mediaType": OCI_INDEX,
                "manifests": [
                    {"digest": 12345, "platform": {"os": "linux", "architecture": "amd64"}}
                ],
            },
            "index entry for linux/amd64 is not a valid digest: '12345'",
        ),
        ({"mediaType": [OCI_INDEX], "manifests": []}, "manifest's mediaType is not a string"),
        (
            {"mediaType": OCI_INDEX, "manifests": {"digest": DIGEST}},
            "index is not valid JSON of the expected shape ('str' object has no attribute 'get')",
        ),
        (
            {"mediaType": OCI_INDEX, "manifests": [{"platform": "linux/amd64", "digest": DIGEST}]},
            "index is not valid JSON of the expected shape ('str' object has no attribute 'get')",
        ),
        ([[[]]], "manifest is not valid JSON"),
        ("DEEP", "manifest is not valid JSON"),
    ],
    ids=[
        "digest-int",
        "mediatype-list",
        "manifests-object",
        "platform-string",
        "array",
        "deep-array",
    ],
)
def test_item10_wrong_json_types_from_a_registry_fail_in_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], document: object, message: str
) -> None:
    body = b"[" * 5000 + b"]" * 5000 if document == "DEEP" else json.dumps(document).encode()

    def route(seen: Seen) -> Reply:
        if seen.method == "HEAD":
            return Reply(405)
        return Reply(headers={"Content-Type": OCI_INDEX}, body=body)

    with serving(route) as server:
        code, path, err = lock_images(capsys, tmp_path, server.host)
    assert code == 1
    assert err.splitlines() == [f"{path}:1: {server.host}/app:1: {message}", NOTHING_WRITTEN]


@pytest.mark.usefixtures("no_backoff")  # the message follows every attempt at the realm
def test_item16_an_unreachable_token_realm_is_named_not_the_registry(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The registry answers; its token service does not. The error names the realm's host, the
    # one to look at, not the registry's.
    with socket.socket() as closed:
        closed.bind(("127.0.0.2", 0))
        realm_host = f"127.0.0.2:{closed.getsockname()[1]}"

    def route(seen: Seen) -> Reply:
        return Reply(401, headers={"WWW-Authenticate": f'Bearer realm="http://{realm_host}/t"'})

    with serving(route) as registry:
        path = tmp_path / "Dockerfile"
        path.write_text(f"FROM {registry.host}/app:1\n")
        code, _, err = run(capsys, "lock", "--images-only", str(path))
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1: {registry.host}/app:1: cannot reach {realm_host}: connection refused",
        NOTHING_WRITTEN,
    ]


def test_a_cookie_the_registry_sets_is_never_sent_back(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def route(seen: Seen) -> Reply:
        headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST}
        return Reply(headers={**headers, "Set-Cookie": "session=s3cr3t; Path=/"}, body=MANIFEST)

    with serving(route) as server:
        path = tmp_path / "Dockerfile"
        path.write_text(f"FROM {server.host}/app:1 AS a\nFROM {server.host}/app:2\nRUN true\n")
        code, _, err = run(capsys, "lock", "--images-only", str(path))
    assert code == 0, err
    assert sorted(server.paths()) == [
        ("HEAD", "/v2/app/manifests/1"),
        ("HEAD", "/v2/app/manifests/2"),
    ]
    assert [s.headers.get("Cookie") for s in server.seen] == [None, None]
