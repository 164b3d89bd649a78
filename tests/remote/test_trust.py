"""The registry and snapshot clients' TLS context: httpx's default, its CA certificates loaded late."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
from certs import certificate
from cli import run
from hostile import Reply, Seen, Server, serving

from pinner.remote import http

MANIFEST = b'{"schemaVersion": 2}'
DIGEST = "sha256:" + "a" * 64


def fresh(cafile: str | None = None, capath: str | None = None) -> ssl.SSLContext:
    """A context as http.trust() builds one, not shared with other tests."""
    return http._trust.__wrapped__(cafile, capath, None)


def handshake_ready(context: ssl.SSLContext) -> None:
    """Start a client TLS object on the context, as asyncio and anyio do at a connection."""
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="registry.example")


def test_the_context_is_httpx_default_once_a_connection_starts() -> None:
    # What httpx.create_ssl_context() builds when neither SSL_CERT_FILE nor SSL_CERT_DIR is set.
    context, default = fresh(certifi.where()), ssl.create_default_context(cafile=certifi.where())
    assert context.cert_store_stats()["x509_ca"] == 0
    handshake_ready(context)
    # The store's order is not the file's: compare the certificates as sets.
    assert sorted(map(repr, context.get_ca_certs())) == sorted(map(repr, default.get_ca_certs()))
    assert len(context.get_ca_certs()) > 100
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert (context.options, context.minimum_version, context.verify_flags) == (
        default.options,
        default.minimum_version,
        default.verify_flags,
    )


def test_an_unreadable_ca_file_fails_the_connection_in_one_line(tmp_path: Path) -> None:
    context = fresh(str(tmp_path / "missing.pem"))
    with pytest.raises(ssl.SSLError, match=r"cannot read the CA certificates .*missing\.pem"):
        handshake_ready(context)


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A registry answering every manifest over https with a self-signed certificate."""

    def route(seen: Seen) -> Reply:
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        return Reply(headers={**headers, "Docker-Content-Digest": DIGEST}, body=MANIFEST)

    cert, key = certificate(tmp_path)
    with serving(route) as server:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
        yield server, cert


def lock(capsys: pytest.CaptureFixture[str], tmp_path: Path, server: Server) -> tuple[int, str]:
    """`lock --images-only` of `FROM alpine:3`, Docker Hub mirrored by the server over https."""
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine:3\nRUN true\n")
    mirror = f"docker.io=https://{server.host}"
    code, _, err = run(capsys, "lock", "--images-only", "--registry-mirror", mirror, str(path))
    return code, err


@pytest.mark.usefixtures("no_backoff")
def test_a_registry_whose_certificate_no_ca_signed_is_refused(
    tls_registry: tuple[Server, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, _ = tls_registry
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    code, err = lock(capsys, tmp_path, server)
    assert code == 1
    assert "certificate verify failed" in err
    assert server.seen == []


def test_a_registry_whose_certificate_ssl_cert_file_holds_is_trusted(
    tls_registry: tuple[Server, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, cert = tls_registry
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    code, err = lock(capsys, tmp_path, server)
    assert code == 0, err
    assert server.paths() == [("HEAD", "/v2/library/alpine/manifests/3")]
    assert http.trust().cert_store_stats()["x509_ca"] == 1


def test_a_plain_http_run_loads_no_ca_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def route(seen: Seen) -> Reply:
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        return Reply(headers={**headers, "Docker-Content-Digest": DIGEST}, body=MANIFEST)

    # A CA file of this test's own, so the context http.trust() returns is this run's alone.
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(cafile))
    monkeypatch.setenv("HOME", str(tmp_path))
    with serving(route) as server:
        path = tmp_path / "Dockerfile"
        path.write_text(f"FROM {server.host}/app:1\nRUN true\n")
        code, _, err = run(capsys, "lock", "--images-only", str(path))
    assert code == 0, err
    assert server.paths() == [("HEAD", "/v2/app/manifests/1")]
    assert http.trust().cert_store_stats()["x509_ca"] == 0
