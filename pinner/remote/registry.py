"""The registry HTTP API client: tag -> digest, per-platform digests, auth, retries, mirrors.

This is the one module that talks to registries. Facts from the OCI distribution spec, Docker's
token auth spec (distribution's spec/auth/token.md) and containerd's resolver
(remotes/docker/resolver.go).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import NamedTuple

import httpx

from pinner.errors import RegistryError
from pinner.manifest import DOCKER_LIST as DOCKER_LIST
from pinner.manifest import DOCKER_MANIFEST as DOCKER_MANIFEST
from pinner.manifest import INDEX_TYPES as INDEX_TYPES
from pinner.manifest import OCI_INDEX as OCI_INDEX
from pinner.manifest import OCI_MANIFEST as OCI_MANIFEST
from pinner.manifest import Manifest as Manifest
from pinner.output import untrusted
from pinner.reference import DEFAULT_DOMAIN, ImageRef, is_digest, normalize_platform
from pinner.reference import is_loopback as is_loopback
from pinner.remote import http
from pinner.remote.credentials import IDENTITY_TOKEN_USER, Credential
from pinner.remote.http import USER_AGENT, Retry
from pinner.remote.transport import for_client

ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# A token reply is a few KiB of JSON; a megabyte is generous.
MAX_TOKEN_BYTES = 1024 * 1024
# What a token may hold: visible ASCII, no space, so it is one valid header value (RFC 9110 5.5).
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
DOCKER_HUB_API = "https://registry-1.docker.io"
# The token service's own requests: the registry's auth flow must not run for them.
_NO_AUTH = httpx.Auth()
# One token request asks for the scopes of every repository the run is about to ask a host for
# (distribution's token spec: `scope` given once per scope; containerd and regclient do the same),
# up to this much text, about 30 repositories. The token names each scope it grants (about 100
# bytes apiece from the tests' issuer, on 2 KB of its own) and goes in every request's
# Authorization header, which servers commonly cap at 8 KiB.
MAX_GROUP_SCOPES_CHARS = 1000
_REPOSITORY_PATH_RE = re.compile(
    r"/v2/(.+)/(?:manifests/[^/]+|blobs/[^/]+|blobs/uploads/.*|tags/list)$"
)


def checked_digest(value: object, what: str) -> str:
    """value when it is a digest of a registered algorithm; anything else is refused here."""
    # A digest becomes a cache file name and Dockerfile text: nothing else may get that far.
    if is_digest(value):
        assert isinstance(value, str)
        return value
    shown = untrusted(value if isinstance(value, str) else json.dumps(value))
    raise RegistryError(f"{what} is not a valid digest: {shown!r}")


class Layer(NamedTuple):
    """One layer of an image manifest: its digest and media type."""

    digest: str
    media_type: str


@dataclass(frozen=True)
class Settings:
    """How to reach registries: mirrors (domain -> base URL), insecure hosts, retry bounds."""

    mirrors: Mapping[str, str] = field(default_factory=dict)
    insecure: frozenset[str] = frozenset()
    attempts: int = 4
    backoff: float = 0.5
    max_retry_after: float = 60.0
    timeout: float = http.DEFAULT_TIMEOUT
    concurrency: int = 32


def base_url(domain: str, settings: Settings) -> str:
    """Where requests for a registry domain go: its mirror, Docker Hub's API host, http or https."""
    if domain in settings.mirrors:
        return settings.mirrors[domain].rstrip("/")
    if domain == DEFAULT_DOMAIN:
        return DOCKER_HUB_API
    if is_loopback(domain) or domain in settings.insecure:
        return f"http://{domain}"
    return f"https://{domain}"


class _Challenge(NamedTuple):
    scheme: str
    params: Mapping[str, str]


def _parse_challenge(header: str) -> _Challenge | None:
    """Parse `Bearer realm="...",service="...",scope="..."` (RFC 7235, one challenge)."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i = 0
    while i < len(rest):
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip(" ,").lower()
        if rest[eq + 1 : eq + 2] == '"':
            end = rest.find('"', eq + 2)
            end = len(rest) if end < 0 else end
            params[key] = rest[eq + 2 : end]
            i = end + 1
        else:
            end = rest.find(",", eq + 1)
            end = len(rest) if end < 0 else end
            params[key] = rest[eq + 1 : end].strip()
            i = end + 1
    if not scheme:
        return None
    return _Challenge(scheme.lower(), params)


def _scope_for(path: str) -> str:
    """/v2/<name>/manifests/<ref> -> repository:<name>:pull."""
    match = _REPOSITORY_PATH_RE.match(path)
    return f"repository:{match.group(1) if match else path}:pull"


class RegistryAuth(httpx.Auth):
    """Anonymous, Basic and Bearer-token auth, one token per host and scope for the whole run."""

    def __init__(
        self,
        credentials: Callable[[str], Credential | None],
        send: Callable[[httpx.Request], Awaitable[httpx.Response]],
        insecure: frozenset[str] = frozenset(),
        on_challenge: Callable[[str], None] | None = None,
    ) -> None:
        self._lookup = credentials
        self._on_challenge = on_challenge  # told each host whose challenge a 401 taught
        # The token service is a server too: its requests go out through the run's one retry
        # policy (http.send), so the flow itself only answers a challenge with a token.
        self._send = send
        self.insecure = insecure
        self._credentials: dict[str, Credential | None] = {}
        self._challenges: dict[str, _Challenge] = {}
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._refused: dict[tuple[str, str], RegistryError] = {}
        # Token requests for several scopes at once (see expect): the scopes a host is about to
        # be asked for, those whose token is on its way in another scope's request, those whose
        # token came from such a request, and the hosts that proved they cannot be asked so.
        self._expected: dict[str, dict[str, None]] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._grouped: set[tuple[str, str]] = set()
        self._ungrouped: set[str] = set()

    def _credential(self, host: str) -> Credential | None:
        if host not in self._credentials:
            self._credentials[host] = self._lookup(host)
        return self._credentials[host]

    def expect(self, host: str, scopes: Iterable[str]) -> None:
        """Note scopes that requests to host are about to need: a token request for one of them
        asks for the others too, and the rest of them wait for its answer."""
        self._expected.setdefault(host, {}).update(dict.fromkeys(scopes))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        host = request.url.netloc.decode("ascii")
        scope = _scope_for(request.url.path)
        attempt, alone = 0, False
        while True:
            grouped = False
            if host in self._challenges:
                async with self._locks.setdefault((host, scope), asyncio.Lock()):
                    await self._authorize_waiting(request, host, scope)
                    grouped = (host, scope) in self._grouped and "authorization" in request.headers
                if attempt and "authorization" not in request.headers:
                    return
            response = yield request
            if response.status_code != 401:
                return
            if grouped and not alone:
                # The token asked for with other scopes does not grant this one (a token service
                # that reads one scope a request): ask for its own, and this host's alone now.
                token = self._tokens.get((host, scope))
                if token is not None and request.headers["authorization"] == f"Bearer {token[0]}":
                    del self._tokens[(host, scope)]  # not yet replaced by another request's
                    self._grouped.discard((host, scope))
                self._ungrouped.add(host)
                alone = True
                await response.aread()
                continue
            if attempt:
                return
            attempt = 1
            if _origin(response.request.url) != _origin(request.url):
                # Redirected to another origin, which asks for credentials: they are chosen for
                # the host that asked, and this host's never follow a redirect (as in docker and
                # containerd). The 401 stands.
                return
            challenge = _parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge is None or challenge.scheme not in ("bearer", "basic"):
                return
            if self._challenges.get(host) == challenge and "authorization" in request.headers:
                return
            self._challenges[host] = challenge
            if self._on_challenge is not None:
                self._on_challenge(host)
            await response.aread()

    async def _authorize_waiting(self, request: httpx.Request, host: str, scope: str) -> None:
        """Authorize request, asking for the token it needs unless another request's token
        request already does; the caller holds the scope's lock."""
        if (host, scope) in self._refused:
            raise self._refused[(host, scope)]
        pending = self._pending.get((host, scope))
        if pending is not None:
            await asyncio.shield(pending)  # this scope's token is on its way with another's
        if self._authorize(request, host, scope):
            return
        if not await self._ask_grouped(host, scope):
            token_request = self._token_request(host, (scope,))
            try:
                self._tokens[(host, scope)] = await self._token(token_request, host)
            except RegistryError as e:
                # One token request per scope per run, even when it is refused.
                self._refused[(host, scope)] = e
                raise
        self._authorize(request, host, scope)

    async def _ask_grouped(self, host: str, scope: str) -> bool:
        """Ask one token for scope and the expected scopes of host that have none and are not
        being asked for; False when there are no others, or the request failed (each scope
        then asks alone, as it would have)."""
        if host in self._ungrouped:
            return False
        now, size = time.monotonic(), len(scope)
        others = []
        for other in self._expected.get(host, ()):
            token = self._tokens.get((host, other))
            if other == scope or (host, other) in self._pending or (token and token[1] > now):
                continue
            if (host, other) in self._refused or size + len(other) > MAX_GROUP_SCOPES_CHARS:
                continue
            others.append(other)
            size += len(other)
        if not others:
            return False
        scopes = [scope, *others]
        token_request = self._token_request(host, scopes)
        answered = asyncio.get_running_loop().create_future()
        for other in others:
            self._pending[(host, other)] = answered
        try:
            token = await self._token(token_request, host)
        except RegistryError:
            self._ungrouped.add(host)
            return False
        finally:
            for other in others:
                del self._pending[(host, other)]
            answered.set_result(None)
        for each in scopes:
            self._tokens[(host, each)] = token
            self._grouped.add((host, each))
        return True

    async def _token(self, token_request: httpx.Request, host: str) -> tuple[str, float]:
        """Ask the token service (retried as any request is) and read its token."""
        response = await self._send(token_request)
        body = await http.read(
            response,
            MAX_TOKEN_BYTES,
            lambda m: RegistryError(f"{host}: {m}"),
            "the token service's answer",
        )
        return _parse_token(response.status_code, body, host)

    def _authorize(self, request: httpx.Request, host: str, scope: str) -> bool:
        """Set the Authorization header for host's challenge; False when a token is due."""
        if self._challenges[host].scheme == "basic":
            credential = self._credential(host)
            if credential is not None:
                request.headers["Authorization"] = _basic(credential)
            return True
        token = self._tokens.get((host, scope))
        if token is None or token[1] <= time.monotonic():
            return False
        request.headers["Authorization"] = f"Bearer {token[0]}"
        return True

    def _may_receive(self, realm: httpx.URL) -> bool:
        """A realm gets credentials over https, or over http to loopback or an insecure host."""
        host = realm.netloc.decode("ascii")
        insecure = host in self.insecure or realm.host in self.insecure
        return realm.scheme == "https" or is_loopback(host) or insecure

    def _token_request(self, host: str, scopes: Sequence[str]) -> httpx.Request:
        """The request for a token of host's Bearer challenge that grants scopes."""
        challenge, credential = self._challenges[host], self._credential(host)
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryError("registry sent a Bearer challenge without a realm")
        try:
            realm_url = httpx.URL(realm)
        except httpx.InvalidURL:
            realm_url = None
        if realm_url is None or realm_url.scheme not in ("http", "https") or not realm_url.host:
            raise RegistryError(f"token realm is not an http(s) URL: {untrusted(realm)!r}")
        if credential is not None and not self._may_receive(realm_url):
            realm_host = realm_url.netloc.decode("ascii")
            raise RegistryError(
                f"not sending credentials to the token realm {realm_host} over plain http"
                f" (use --insecure-registry {realm_host} to allow it)"
            )
        service = challenge.params.get("service")
        if credential is not None and credential.username == IDENTITY_TOKEN_USER:
            # The OAuth2 form takes its scopes space-separated in one field (RFC 6749 3.3).
            form = {
                "scope": " ".join(scopes),
                **({} if service is None else {"service": service}),
                "grant_type": "refresh_token",
                "refresh_token": credential.secret,
                "client_id": "pinner",
            }
            return httpx.Request("POST", realm_url, data=form)
        params: list[tuple[str, str | int | float | bool | None]] = [("scope", s) for s in scopes]
        if service is not None:
            params.append(("service", service))
        request = httpx.Request("GET", realm_url, params=params)
        if credential is not None:
            request.headers["Authorization"] = _basic(credential)
        return request


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port: what two URLs share when they are the same origin (RFC 6454)."""
    return url.scheme, url.host, url.port


def _basic(credential: Credential) -> str:
    pair = f"{credential.username}:{credential.secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _parse_token(status: int, body: bytes, host: str) -> tuple[str, float]:
    """The token and its expiry (monotonic) from a token endpoint's reply."""
    if status in (401, 403):
        raise RegistryError(f"{host}: authentication failed: the token service answered {status}")
    if status != 200:
        raise RegistryError(f"{host}: token service answered {status}")
    try:
        data = json.loads(body)
        token = data.get("access_token") or data.get("token")
        expires_in = float(data.get("expires_in") or 60)
    except (ValueError, AttributeError, TypeError, OverflowError, RecursionError):
        token, expires_in = None, 0.0
    if not isinstance(token, str) or not token:
        raise RegistryError(f"{host}: token service gave no token")
    if not _TOKEN_RE.fullmatch(token):
        # It would go into an Authorization header, and httpx would quote it in its error.
        raise RegistryError(f"{host}: token service gave a token that is not a header value")
    if expires_in != expires_in:  # NaN
        expires_in = 60.0
    # Renew a little early so a token does not expire between check and use.
    return token, time.monotonic() + max(expires_in - 10, 1)


def _error_message(response: httpx.Response) -> str:
    """The registry's own error text (distribution's errors[] list), else the HTTP status."""
    if response.status_code == 401:
        host = response.request.url.netloc.decode("ascii")
        return f"unauthorized: {host} refused the credentials (or has none for it)"
    try:
        errors = response.json().get("errors") or []
        message = untrusted(str(errors[0].get("message") or errors[0].get("code")).lower())
        if message:
            return message
    except (ValueError, AttributeError, IndexError, TypeError, KeyError, RecursionError):
        pass
    if response.status_code == 404:
        return "manifest unknown"
    return untrusted(f"{response.status_code} {response.reason_phrase}")


def platforms_of(body: bytes) -> tuple[tuple[str, str], ...]:
    """Per-platform manifest digests of an index, attestation entries skipped, sorted."""
    try:
        entries = json.loads(body)["manifests"]
        found: dict[str, str] = {}
        for entry in entries:
            platform = entry.get("platform") or {}
            annotations = entry.get("annotations") or {}
            if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
                continue
            os_name, arch = platform.get("os", ""), platform.get("architecture", "")
            if not os_name or not arch or "unknown" in (os_name, arch):
                continue
            key = normalize_platform(os_name, arch, platform.get("variant"))
            found.setdefault(key, checked_digest(entry["digest"], f"index entry for {key}"))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        shown = untrusted(str(e))
        raise RegistryError(f"index is not valid JSON of the expected shape ({shown})") from None
    return tuple(sorted(found.items()))


def config_of(body: bytes, subject: str) -> str:
    """The config digest of an image manifest, checked; an index is refused."""
    layers_of(body, subject)
    digest: str = json.loads(body)["config"]["digest"]
    return digest


def layers_of(body: bytes, subject: str) -> tuple[Layer, ...]:
    """The layers of an image manifest, bottom first, each digest checked; an index is refused."""
    try:
        doc = json.loads(body)
        if doc.get("mediaType") in INDEX_TYPES or "manifests" in doc:
            raise RegistryError(f"{subject}: is an index; pick a platform's manifest")
        checked_digest(doc["config"]["digest"], f"{subject}: config")
        layers = tuple(
            Layer(checked_digest(d["digest"], f"{subject}: layer"), d.get("mediaType", ""))
            for d in doc["layers"]
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise RegistryError(f"{subject}: not an image manifest") from None
    if not all(isinstance(layer.media_type, str) for layer in layers):
        raise RegistryError(f"{subject}: a layer's mediaType is not a string")
    return layers


class Registry:
    """One run's registry client: a single httpx.AsyncClient, shared tokens and manifest cache."""

    def __init__(
        self,
        settings: Settings,
        credentials: Callable[[str], Credential | None],
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.retry = Retry(settings.attempts, settings.backoff, settings.max_retry_after)
        self.auth = RegistryAuth(
            credentials, self._send_token, settings.insecure, self._challenge_learned
        )
        self._sleep = sleep
        # Keep every connection the pool may open, rather than close one idle to open another.
        limits = httpx.Limits(
            max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
        )
        if transport is None:
            transport = for_client(limits, http.trust())
        self._client = httpx.AsyncClient(
            auth=self.auth,
            transport=transport,
            timeout=httpx.Timeout(min(settings.timeout, 30.0), connect=min(settings.timeout, 10.0)),
            event_hooks={"response": [http.bound_response]},
            limits=limits,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            follow_redirects=True,
            verify=http.trust(),
        )
        http.keep_no_cookies(self._client)
        self.requests: dict[str, int] = {"HEAD": 0, "GET": 0}
        self._token_counts: dict[str, int] = {}
        self._index_gets: dict[str, asyncio.Future[tuple[Manifest, bytes]]] = {}
        # Per registry origin: set once its first request has learned the auth challenge.
        self.challenged: dict[str, asyncio.Event] = {}
        # The references being resolved at once, over every resolve_all call of the run: no more
        # than the pool has connections, so requests wait here rather than in the pool's queue.
        self.slots = asyncio.Semaphore(settings.concurrency)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _challenge_learned(self, host: str) -> None:
        # The requests held for the first one's answer go out now, while it asks for its token:
        # each asks for its own repository's token, and no other 401 is drawn.
        for origin, challenged in self.challenged.items():
            if httpx.URL(origin).netloc.decode("ascii") == host:
                challenged.set()

    async def _send(self, method: str, url: str) -> httpx.Response:
        """Send with the run's retry policy; connection failures become RegistryError."""
        return await http.send(
            self._client,
            method,
            url,
            retry=self.retry,
            sleep=self._sleep,
            error=RegistryError,
            headers={"Accept": ACCEPT},
            counts=self.requests,
            timeout=self.settings.timeout,
        )

    async def _send_token(self, request: httpx.Request) -> httpx.Response:
        """Send a token request with the same retry policy, and with no registry auth of its own."""
        return await http.send(
            self._client,
            request.method,
            str(request.url),
            retry=self.retry,
            sleep=self._sleep,
            error=RegistryError,
            headers=request.headers,
            content=request.content,
            counts=self._token_counts,
            timeout=self.settings.timeout,
            auth=_NO_AUTH,
        )

    @property
    def token_requests(self) -> int:
        """Requests sent to token services so far, retries included."""
        return sum(self._token_counts.values())

    def _url(self, ref: ImageRef, target: str) -> str:
        return f"{base_url(ref.domain, self.settings)}/v2/{ref.path}/manifests/{target}"

    def expect(self, origin: str, refs: Iterable[ImageRef]) -> None:
        """Tell the auth flow the repositories of origin (a base_url) about to be asked for:
        their tokens are asked for together, one token request (or a few) rather than one each."""
        host = httpx.URL(origin).netloc.decode("ascii")
        self.auth.expect(host, (_scope_for(f"/v2/{ref.path}/manifests/latest") for ref in refs))

    async def head(self, ref: ImageRef) -> Manifest | None:
        """HEAD the tag or digest; None when the registry needs a GET to tell the digest."""
        response = await self._send("HEAD", self._url(ref, ref.manifest_key))
        # Read to the end (nothing, for a HEAD) so the connection goes back to the pool.
        await response.aread()
        await response.aclose()
        if response.status_code == 405:
            return None
        if response.status_code != 200:
            return await self._raise_from_get(ref)
        header = response.headers.get("Docker-Content-Digest")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if not header or not media_type:
            return None
        return Manifest(checked_digest(header, "Docker-Content-Digest"), media_type)

    async def _raise_from_get(self, ref: ImageRef) -> Manifest:
        """A HEAD failed: GET for the registry's error text (a HEAD has no body)."""
        response = await self._send("GET", self._url(ref, ref.manifest_key))
        if response.status_code == 200:
            await response.aclose()
            raise RegistryError("HEAD failed where GET succeeds")
        await response.aread()
        message = _error_message(response)
        if response.status_code == 404 and message == "manifest unknown":
            # distribution says "manifest unknown" for a missing repository too; tags/list tells.
            tags_url = f"{base_url(ref.domain, self.settings)}/v2/{ref.path}/tags/list?n=1"
            tags = await self._send("GET", tags_url)
            if tags.status_code == 404:
                await tags.aread()
                message = _error_message(tags)
            await tags.aclose()
        raise RegistryError(message)

    async def get(self, ref: ImageRef, target: str) -> tuple[Manifest, bytes]:
        """GET a manifest by tag or digest, verifying its digest against the bytes."""
        response = await self._send("GET", self._url(ref, target))
        if response.status_code != 200:
            await response.aread()  # an error's text, cut short by http.bound_response
            await response.aclose()
            raise RegistryError(_error_message(response))
        body = await http.read(response, MAX_MANIFEST_BYTES, RegistryError, "manifest")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        header = response.headers.get("Docker-Content-Digest")
        if header and checked_digest(header, "Docker-Content-Digest") != digest:
            raise RegistryError(
                f"Docker-Content-Digest {header} does not match the body ({digest})"
            )
        if target.startswith("sha256:") and target != digest:
            raise RegistryError(f"registry served {digest} for {target}")
        media_type: object = response.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            media_type = json.loads(body).get("mediaType") or media_type
        except (ValueError, AttributeError, RecursionError):
            raise RegistryError("manifest is not valid JSON") from None
        if not isinstance(media_type, str):
            raise RegistryError("manifest's mediaType is not a string")
        platforms = platforms_of(body) if media_type in INDEX_TYPES else ()
        return Manifest(digest, media_type, platforms), body

    async def blob_chunks(self, ref: ImageRef, digest: str) -> AsyncIterator[bytes]:
        """Stream a blob's bytes (a layer or config); the caller may stop early."""
        url = f"{base_url(ref.domain, self.settings)}/v2/{ref.path}/blobs/{digest}"
        response = await self._send("GET", url)
        try:
            if response.status_code != 200:
                await response.aread()
                raise RegistryError(f"blob {digest}: {_error_message(response)}")
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as e:
            raise RegistryError(f"reading blob {digest}: {http.describe(e)}") from None
        finally:
            await response.aclose()

    async def resolve(self, ref: ImageRef, known: Mapping[str, Manifest]) -> Manifest:
        """Resolve ref: HEAD first; GET only when HEAD cannot tell or for an index not yet seen."""
        found = await self.head(ref)
        if found is None:
            manifest, _ = await self.get(ref, ref.manifest_key)
            found = manifest
        if ref.digest and found.digest != ref.digest:
            raise RegistryError(f"registry answered {found.digest} for {ref.digest}")
        if not found.is_index or found.platforms:
            return found
        if found.digest in known:
            return known[found.digest]
        # Tags in a run often share an index (1, 1.3, latest): fetch each digest once.
        task = self._index_gets.get(found.digest)
        if task is None:
            task = asyncio.ensure_future(self.get(ref, found.digest))
            self._index_gets[found.digest] = task
        manifest, _ = await asyncio.shield(task)
        return manifest


async def resolve_all(
    registry: Registry,
    refs: Iterable[ImageRef],
    known: Mapping[str, Manifest],
    on_done: Callable[[], None] | None = None,
) -> dict[ImageRef, Manifest | RegistryError]:
    """Resolve distinct references concurrently; each gets its manifest or its error."""

    async def one(ref: ImageRef) -> Manifest | RegistryError:
        async with registry.slots:
            try:
                return await registry.resolve(ref, known)
            except RegistryError as e:
                return e
            finally:
                if on_done is not None:
                    on_done()

    async def host(origin: str, batch: list[ImageRef]) -> list[Manifest | RegistryError]:
        # The first request to a host in the run learns its auth challenge; the rest, in this
        # call or a later one, then go out with their token instead of each drawing a 401. They
        # go once the 401 is read (Registry._challenge_learned), or the first request is done.
        challenged = registry.challenged.get(origin)
        if challenged is not None:
            await challenged.wait()
            return list(await asyncio.gather(*(one(ref) for ref in batch)))
        challenged = registry.challenged[origin] = asyncio.Event()
        first = asyncio.ensure_future(one(batch[0]))
        learned = asyncio.ensure_future(challenged.wait())
        try:
            await asyncio.wait((first, learned), return_when=asyncio.FIRST_COMPLETED)
            if first.done():
                first.result()  # an error other than the registry's is raised here at once
            challenged.set()
            rest = await asyncio.gather(*(one(ref) for ref in batch[1:]))
            return [await first, *rest]
        except BaseException:
            first.cancel()
            raise
        finally:
            learned.cancel()
            challenged.set()

    by_host: dict[str, list[ImageRef]] = {}
    for ref in dict.fromkeys(refs):
        by_host.setdefault(base_url(ref.domain, registry.settings), []).append(ref)
    for origin, batch in by_host.items():
        registry.expect(origin, batch)
    batches = await asyncio.gather(*(host(origin, batch) for origin, batch in by_host.items()))
    return {
        ref: result
        for batch, results in zip(by_host.values(), batches, strict=True)
        for ref, result in zip(batch, results, strict=True)
    }
