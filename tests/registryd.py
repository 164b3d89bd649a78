"""Run real docker-registry (distribution 2.8) instances for tests, and push test images to them."""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import hmac
import io
import itertools
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import parse_qs, urlsplit

import certifi
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

AuthKind = Literal["open", "basic", "token"]

MEDIA_TYPES: dict[str, str] = {
    "oci_index": "application/vnd.oci.image.index.v1+json",
    "oci_manifest": "application/vnd.oci.image.manifest.v1+json",
    "oci_config": "application/vnd.oci.image.config.v1+json",
    "oci_layer": "application/vnd.oci.image.layer.v1.tar+gzip",
    "docker_list": "application/vnd.docker.distribution.manifest.list.v2+json",
    "docker_manifest": "application/vnd.docker.distribution.manifest.v2+json",
    "docker_config": "application/vnd.docker.container.image.v1+json",
    "docker_layer": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "in_toto": "application/vnd.in-toto+json",
}

USERNAME = "alice"
PASSWORD = "s3cret"
# bcrypt of PASSWORD at cost 4 (the registry checks it on every request, so keep it cheap), made
# once with `crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))`: no bcrypt dep.
_HTPASSWD_HASH = "$2b$04$QrPbaHJPOGTJxgt06IE1E.dSyLxOcwoXboCfPGxMN6zfcWWn5ZS7y"

TOKEN_SERVICE = "registryd-registry"
TOKEN_ISSUER = "registryd-issuer"
TOKEN_LIFETIME = 300

_REGISTRY_BIN = "docker-registry"
_START_TIMEOUT = 10.0
_START_ATTEMPTS = 5
_ACCESS_LINE = re.compile(
    rb'^\S+ \S+ \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" '
)
_MARKER_PARAM = "registryd-marker"
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REPO_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests|blobs|tags)/")

_live: set[Registry] = set()


@lru_cache(maxsize=1)
def trust() -> ssl.SSLContext:
    """httpx's default verifying context, made once: each new one loads certifi's bundle again.

    The registries here speak plain http, so no client ever uses it; what it spares is the 30 ms
    of CPU httpx spends making one for every client (a push, a log read) it builds.
    """
    return ssl.create_default_context(cafile=certifi.where())


def http(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, as httpx.get or httpx.head makes it, with the shared TLS context (trust)."""
    return httpx.request(method, url, verify=trust(), **kwargs)


class RegistryError(RuntimeError):
    """The registry failed to start or answered unexpectedly."""


@dataclass(frozen=True)
class TokenRequest:
    """One request the token issuer answered (never holds the password)."""

    scopes: tuple[str, ...]
    authenticated: bool
    service: str | None
    status: int


# --------------------------------------------------------------------------- the registry


@dataclass(eq=False)
class Registry:
    """A running docker-registry process (and its token issuer, for auth_kind "token")."""

    host: str
    url: str
    auth_kind: AuthKind
    username: str | None
    password: str | None
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    token_requests: list[TokenRequest] = field(default_factory=list)
    _issuer: _TokenIssuer | None = None
    _log_file: IO[bytes] | None = None
    _log_offset: int = 0
    _markers: itertools.count[int] = field(default_factory=itertools.count)

    def client(self, **kwargs: Any) -> httpx.Client:
        """Return an httpx.Client (base_url=self.url) authorised to pull and push."""
        auth: httpx.Auth | None = None
        if self.auth_kind == "basic":
            assert self.username is not None and self.password is not None
            auth = httpx.BasicAuth(self.username, self.password)
        elif self.auth_kind == "token":
            auth = BearerAuth(self.username, self.password)
        kwargs.setdefault("timeout", 10.0)
        kwargs.setdefault("trust_env", False)  # no proxies for loopback
        kwargs.setdefault("verify", trust())
        return httpx.Client(base_url=self.url, auth=auth, **kwargs)

    def requests(self) -> list[tuple[str, str]]:
        """Return (method, path without query) of every request logged since clear_requests()."""
        out: list[tuple[str, str]] = []
        for line in self._sync_log()[0].splitlines():
            m = _ACCESS_LINE.match(line)
            if m is None:
                continue
            target = urlsplit(m["target"].decode())
            if _MARKER_PARAM not in target.query:
                out.append((m["method"].decode(), target.path))
        return out

    def grant_first_scope_only(self, only: bool) -> None:
        """Make the token issuer grant the first scope a request names and ignore the others."""
        assert self._issuer is not None
        self._issuer.first_scope_only = only

    def clear_requests(self) -> None:
        """Forget the requests logged so far and the token issuer's requests."""
        _, self._log_offset = self._sync_log()
        self.token_requests.clear()

    def log_text(self) -> str:
        """Return the registry's whole log (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the registry and its token issuer; safe to call twice."""
        _live.discard(self)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._issuer is not None:
            self._issuer.stop()
            self._issuer = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _sync_log(self) -> tuple[bytes, int]:
        """Log a marker request; return (log from the offset to the marker, offset past it)."""
        if self.process.poll() is not None:
            raise RegistryError(
                f"registry exited with {self.process.returncode}:\n{self.log_text()}"
            )
        marker = f"{_MARKER_PARAM}={next(self._markers)}"
        httpx.get(f"{self.url}/v2/?{marker}", timeout=5.0, trust_env=False, verify=trust())
        needle = f"?{marker} HTTP/".encode()
        deadline = time.monotonic() + 5.0
        with self.log_path.open("rb") as log:
            while True:
                log.seek(self._log_offset)
                data = log.read()
                at = data.find(needle)
                end = data.find(b"\n", at) if at >= 0 else -1
                if end >= 0:
                    return data[:end], self._log_offset + end + 1
                if time.monotonic() > deadline:
                    raise RegistryError(f"marker request never reached the access log:\n{data!r}")
                time.sleep(0.002)


def start_registry(workdir: Path, auth: AuthKind = "open") -> Registry:
    """Start docker-registry on a free loopback port, storing under workdir; wait until ready."""
    if shutil.which(_REGISTRY_BIN) is None:
        raise RegistryError(f"{_REGISTRY_BIN} is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    issuer = _TokenIssuer() if auth == "token" else None
    try:
        for attempt in range(1, _START_ATTEMPTS + 1):
            reg = _try_start(workdir, auth, issuer, attempt)
            if reg is not None:
                return reg
    except BaseException:
        if issuer is not None:
            issuer.stop()
        raise
    raise RegistryError(f"no free port after {_START_ATTEMPTS} attempts; see {workdir}")


def _try_start(
    workdir: Path, auth: AuthKind, issuer: _TokenIssuer | None, attempt: int
) -> Registry | None:
    """Start one registry process; return None when its port was taken meanwhile."""
    port = _free_port()
    instance = uuid.uuid4().hex
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "error", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "storage")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            "secret": secrets.token_hex(16),
            "headers": {"X-Registryd-Instance": [instance]},
        },
        "health": {"storagedriver": {"enabled": False}},
    }
    if auth == "basic":
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(f"{USERNAME}:{_HTPASSWD_HASH}\n")
        config["auth"] = {"htpasswd": {"realm": "registryd", "path": str(htpasswd)}}
    elif auth == "token":
        assert issuer is not None
        cert = workdir / "token-cert.pem"
        cert.write_bytes(issuer.cert_pem)
        config["auth"] = {
            "token": {
                "realm": f"{issuer.url}/token",
                "service": TOKEN_SERVICE,
                "issuer": TOKEN_ISSUER,
                "rootcertbundle": str(cert),
            }
        }
    config_path = workdir / "config.yml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log_path = workdir / f"registry-{attempt}.log"
    log_file = log_path.open("ab")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    # One OS thread and a garbage collection at 4x the live heap, not 2x: about 30% less CPU per
    # request, which adds up over the suite's thousands of pushes and pulls.
    env |= {"GOMAXPROCS": "1", "GOGC": "400"}
    process = subprocess.Popen(
        [_REGISTRY_BIN, "serve", str(config_path)],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
    )
    host = f"127.0.0.1:{port}"
    reg = Registry(
        host=host,
        url=f"http://{host}",
        auth_kind=auth,
        username=None if auth == "open" else USERNAME,
        password=None if auth == "open" else PASSWORD,
        workdir=workdir,
        log_path=log_path,
        process=process,
        _issuer=issuer,
        _log_file=log_file,
    )
    if issuer is not None:
        reg.token_requests = issuer.requests
    _live.add(reg)
    try:
        ready = _wait_ready(reg, instance)
    except BaseException:
        reg._issuer = None  # the caller owns the issuer until success
        reg.stop()
        raise
    if not ready:
        reg._issuer = None
        reg.stop()
        return None
    reg.clear_requests()
    return reg


def _wait_ready(reg: Registry, instance: str) -> bool:
    """Poll GET /v2/ until this instance answers; False if the port was in use."""
    deadline = time.monotonic() + _START_TIMEOUT
    with httpx.Client(timeout=0.5, trust_env=False, verify=trust()) as probe:
        while True:
            if reg.process.poll() is not None:
                log = reg.log_text()
                if "address already in use" in log:
                    return False
                raise RegistryError(f"registry exited with {reg.process.returncode}:\n{log}")
            with contextlib.suppress(httpx.TransportError):
                r = probe.get(f"{reg.url}/v2/")
                if r.headers.get("X-Registryd-Instance") == instance:
                    return True
            if time.monotonic() > deadline:
                raise RegistryError(
                    f"registry not ready after {_START_TIMEOUT} s:\n{reg.log_text()}"
                )
            time.sleep(0.005)


def _free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@atexit.register
def _stop_all() -> None:
    """Stop every registry still running when the interpreter exits."""
    for reg in list(_live):
        reg.stop()


# --------------------------------------------------------------------------- token auth


@lru_cache(maxsize=1)
def _signing_material() -> tuple[rsa.RSAPrivateKey, bytes, bytes]:
    """Return a throwaway RSA key, its self-signed cert as PEM and as DER (one per process)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registryd token issuer")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    der = cert.public_bytes(serialization.Encoding.DER)
    return key, pem, der


def _b64url(data: bytes) -> str:
    """Base64url without padding, as JWS wants."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any]) -> str:
    """Sign claims as an RS256 JWT whose header carries the issuer cert in x5c."""
    key, _, der = _signing_material()
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _grant(scopes: Iterable[str], allowed: set[str]) -> list[dict[str, Any]]:
    """Turn requested repository scopes into the access claim, keeping only allowed actions."""
    access: list[dict[str, Any]] = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind != "repository" or not name:
            continue
        wanted = [a for a in actions.split(",") if a in allowed]
        access.append({"type": kind, "name": name, "actions": wanted})
    return access


class _Server(ThreadingHTTPServer):
    """A threaded server whose listen backlog takes a client's whole burst of token requests."""

    request_queue_size = 128


class _TokenIssuer:
    """A threaded loopback token server: anonymous gets pull, alice/s3cret gets pull+push."""

    def __init__(self) -> None:
        _, self.cert_pem, _ = _signing_material()
        self.requests: list[TokenRequest] = []
        # As a token service that reads one `scope` a request: the first, the rest ignored.
        self.first_scope_only = False
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        """Answer one GET /token request."""
        url = urlsplit(h.path)
        if url.path != "/token":
            self._reply(h, 404, {"errors": [{"code": "NOT_FOUND"}]})
            return
        query = parse_qs(url.query)
        scopes = tuple(s for value in query.get("scope", []) for s in value.split())
        granted = scopes[:1] if self.first_scope_only else scopes
        service = query.get("service", [None])[0]
        header = h.headers.get("Authorization")
        user: str | None = None
        if header is not None:
            user = _check_basic(header)
            if user is None:
                self.requests.append(TokenRequest(scopes, True, service, 401))
                self._reply(
                    h,
                    401,
                    {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                    {"WWW-Authenticate": 'Basic realm="registryd"'},
                )
                return
        now = int(time.time())
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": user or "",
            "aud": service or TOKEN_SERVICE,
            "exp": now + TOKEN_LIFETIME,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": _grant(granted, {"pull", "push"} if user else {"pull"}),
        }
        token = make_jwt(claims)
        issued = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.requests.append(TokenRequest(scopes, user is not None, service, 200))
        body = {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME}
        self._reply(h, 200, body | {"issued_at": issued})

    @staticmethod
    def _reply(
        h: BaseHTTPRequestHandler, status: int, body: object, headers: dict[str, str] | None = None
    ) -> None:
        """Send a JSON response."""
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _check_basic(header: str) -> str | None:
    """Return the user name if a Basic Authorization header holds the test credentials."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except ValueError:
        return None
    ok = hmac.compare_digest(user.encode(), USERNAME.encode()) & hmac.compare_digest(
        password.encode(), PASSWORD.encode()
    )
    return user if ok else None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split a WWW-Authenticate header into its scheme and its key="value" parameters."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


class BearerAuth(httpx.Auth):
    """Answer registry Bearer challenges with a token for pull+push on the repository."""

    requires_response_body = True

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        actions: Sequence[str] = ("pull", "push"),
    ) -> None:
        self._basic: str | None = None
        if username is not None and password is not None:
            pair = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._basic = f"Basic {pair}"
        self._actions = ",".join(actions)
        self._tokens: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with a cached token; on a Bearer 401 fetch one from the realm and retry once."""
        m = _REPO_PATH.match(request.url.path)
        key = m["name"] if m else ""
        if key in self._tokens:
            request.headers["Authorization"] = f"Bearer {self._tokens[key]}"
        response = yield request
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if response.status_code != 401 or scheme != "bearer" or "realm" not in params:
            return
        realm = httpx.URL(params["realm"])
        if "service" in params:
            realm = realm.copy_add_param("service", params["service"])
        for scope in params.get("scope", "").split():
            kind, _, rest = scope.partition(":")
            name, _, _ = rest.rpartition(":")
            if kind == "repository" and name:
                key = name
                realm = realm.copy_add_param("scope", f"repository:{name}:{self._actions}")
            else:
                realm = realm.copy_add_param("scope", scope)
        headers = {"Authorization": self._basic} if self._basic else {}
        token_response = yield httpx.Request("GET", realm, headers=headers)
        token_response.raise_for_status()
        reply = token_response.json()
        token = reply.get("access_token") or reply["token"]
        self._tokens[key] = token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


# --------------------------------------------------------------------------- pushing


def sha256_digest(data: bytes) -> str:
    """Return "sha256:<hex>" of data."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(client: httpx.Client, base_url: str, repo: str, data: bytes) -> str:
    """Upload a blob (monolithic POST+PUT) unless the registry has it; return its digest."""
    digest = sha256_digest(data)
    base = base_url.rstrip("/")
    head = client.head(f"{base}/v2/{repo}/blobs/{digest}")
    if head.status_code == 200:
        return digest
    started = client.post(f"{base}/v2/{repo}/blobs/uploads/")
    if started.status_code != 202:
        raise RegistryError(f"blob upload start: {started.status_code} {started.text}")
    location = httpx.URL(f"{base}/").join(started.headers["Location"])
    done = client.put(
        location.copy_merge_params({"digest": digest}),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if done.status_code != 201:
        raise RegistryError(f"blob upload: {done.status_code} {done.text}")
    return digest


def push_manifest(
    client: httpx.Client, base_url: str, repo: str, ref: str, body: bytes, media_type: str
) -> str:
    """PUT a manifest under ref (tag or digest); return its digest, checked against the registry."""
    digest = sha256_digest(body)
    r = client.put(
        f"{base_url.rstrip('/')}/v2/{repo}/manifests/{ref}",
        content=body,
        headers={"Content-Type": media_type},
    )
    if r.status_code != 201:
        raise RegistryError(f"manifest PUT {repo}:{ref}: {r.status_code} {r.text}")
    got = r.headers.get("Docker-Content-Digest")
    assert got == digest, f"registry says {got}, body hashes to {digest}"
    return digest


def _json(obj: object) -> bytes:
    """Serialise JSON compactly and deterministically."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _layer(text: str) -> tuple[bytes, str]:
    """Return a deterministic gzip'd tar holding one file, and its diff_id."""
    payload = text.encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("registryd.txt")
        info.size = len(payload)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), sha256_digest(tar_bytes)


def _platform(os_: str, arch: str, variant: str | None) -> dict[str, str]:
    """Return an OCI platform object."""
    p = {"os": os_, "architecture": arch}
    if variant:
        p["variant"] = variant
    return p


def _push_image_with(
    client: httpx.Client,
    base_url: str,
    repo: str,
    ref: str | None,
    *,
    os_: str,
    arch: str,
    variant: str | None,
    oci: bool,
    seed: str,
) -> tuple[str, int, str]:
    """Push config, layer and manifest with client; return (digest, size, media type)."""
    kind = "oci" if oci else "docker"
    plat = "/".join(filter(None, (os_, arch, variant)))
    layer, diff_id = _layer(f"repo={repo} platform={plat} seed={seed}\n")
    config = _json(
        {
            **_platform(os_, arch, variant),
            "created": "2024-01-01T00:00:00Z",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"registryd {seed}"}],
        }
    )
    config_digest = push_blob(client, base_url, repo, config)
    layer_digest = push_blob(client, base_url, repo, layer)
    media_type = MEDIA_TYPES[f"{kind}_manifest"]
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": MEDIA_TYPES[f"{kind}_config"],
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": MEDIA_TYPES[f"{kind}_layer"],
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        }
    )
    digest = sha256_digest(manifest)
    push_manifest(client, base_url, repo, ref or digest, manifest, media_type)
    return digest, len(manifest), media_type


def push_image(
    reg: Registry,
    repo: str,
    tag: str | None,
    *,
    os: str = "linux",
    arch: str = "amd64",
    variant: str | None = None,
    oci: bool = True,
    seed: str = "",
) -> str:
    """Push a one-layer single-platform image (OCI or Docker schema 2); return its digest."""
    with reg.client() as client:
        digest, _, _ = _push_image_with(
            client, reg.url, repo, tag, os_=os, arch=arch, variant=variant, oci=oci, seed=seed
        )
    return digest


def _push_attestation(
    client: httpx.Client, base_url: str, repo: str, subject: str
) -> tuple[str, int]:
    """Push a BuildKit-style attestation manifest for subject; return (digest, size)."""
    statement = _json(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": f"pkg:docker/{repo}", "digest": {"sha256": subject[7:]}}],
            "predicate": {"builder": {"id": "registryd"}},
        }
    )
    config = _json(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(statement)]},
        }
    )
    config_digest = push_blob(client, base_url, repo, config)
    statement_digest = push_blob(client, base_url, repo, statement)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPES["oci_manifest"],
            "config": {
                "mediaType": MEDIA_TYPES["oci_config"],
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": MEDIA_TYPES["in_toto"],
                    "digest": statement_digest,
                    "size": len(statement),
                    "annotations": {
                        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"
                    },
                }
            ],
        }
    )
    digest = sha256_digest(manifest)
    push_manifest(client, base_url, repo, digest, manifest, MEDIA_TYPES["oci_manifest"])
    return digest, len(manifest)


def push_index(
    reg: Registry,
    repo: str,
    tag: str | None,
    platforms: Sequence[tuple[str, str, str | None]] = (
        ("linux", "amd64", None),
        ("linux", "arm64", None),
        ("linux", "arm", "v7"),
    ),
    *,
    oci: bool = True,
    attestation: bool = False,
    seed: str = "",
) -> tuple[str, dict[str, str]]:
    """Push per-platform images and an index over them; return (digest, {"os/arch[/v]": digest})."""
    entries: list[dict[str, Any]] = []
    digests: dict[str, str] = {}
    with reg.client() as client:
        for os_, arch, variant in platforms:
            digest, size, media_type = _push_image_with(
                client, reg.url, repo, None, os_=os_, arch=arch, variant=variant, oci=oci, seed=seed
            )
            digests["/".join(filter(None, (os_, arch, variant)))] = digest
            entries.append(
                {
                    "mediaType": media_type,
                    "digest": digest,
                    "size": size,
                    "platform": _platform(os_, arch, variant),
                }
            )
        if attestation:  # BuildKit-style, for the amd64 image (else the first one)
            subject = digests.get("linux/amd64") or next(iter(digests.values()))
            att_digest, att_size = _push_attestation(client, reg.url, repo, subject)
            entries.append(
                {
                    "mediaType": MEDIA_TYPES["oci_manifest"],
                    "digest": att_digest,
                    "size": att_size,
                    "platform": {"architecture": "unknown", "os": "unknown"},
                    "annotations": {
                        "vnd.docker.reference.digest": subject,
                        "vnd.docker.reference.type": "attestation-manifest",
                    },
                }
            )
        media_type = MEDIA_TYPES["oci_index" if oci else "docker_list"]
        index = _json({"schemaVersion": 2, "mediaType": media_type, "manifests": entries})
        index_digest = sha256_digest(index)
        push_manifest(client, reg.url, repo, tag or index_digest, index, media_type)
    return index_digest, digests


# --------------------------------------------------------------------------- oracle


def skopeo_digest(reg: Registry, ref: str) -> str:
    """Return sha256 of `skopeo inspect --raw` for HOST/ref: an independent digest oracle."""
    cmd = ["skopeo", "inspect", "--raw", "--tls-verify=false"]
    if reg.username is not None and reg.password is not None:
        cmd += ["--creds", f"{reg.username}:{reg.password}"]
    else:
        cmd.append("--no-creds")
    cmd.append(f"docker://{reg.host}/{ref}")
    proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RegistryError(f"skopeo inspect {ref} failed: {proc.stderr.decode(errors='replace')}")
    return sha256_digest(proc.stdout)
