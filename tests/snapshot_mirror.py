"""A local stand-in for snapshot.debian.org, backed by this machine's Debian mirror.

Serves ``GET|HEAD /archive/<archive>/<YYYYMMDDTHHMMSSZ>/<path>`` by fetching ``<path>`` from the
real mirror and caching it on disk. Every timestamp serves the mirror's current content, frozen
per timestamp for ``dists/`` (indexes) and shared across timestamps for everything else (``pool/``
files never change). Requests are logged in ``.log``; ``.fail()`` injects errors for fault tests.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

import httpx

DEFAULT_ARCHIVES = {
    "debian": "http://deb.debian.org/debian",
    "debian-security": "http://deb.debian.org/debian-security",
}
APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))
TIMESTAMP_RE = re.compile(r"^\d{8}T\d{6}Z$")
CHUNK = 1 << 16


@dataclass(frozen=True)
class LogEntry:
    """One request the stand-in answered."""

    method: str
    path: str
    status: int


@dataclass
class FailRule:
    """Answer `status` to requests whose path matches `pattern`, `times` times (None: always)."""

    pattern: re.Pattern[str]
    status: int
    retry_after: str | None
    times: int | None

    def take(self, path: str) -> bool:
        """Consume one use of this rule if it matches `path`."""
        if not self.pattern.search(path) or self.times == 0:
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass(frozen=True)
class Upstream:
    """What the real mirror answered, with the body cached in `file` when status is 200."""

    status: int
    headers: Mapping[str, str]
    file: Path | None = None


def _source_uris(text: str) -> Iterator[str]:
    """Yield mirror URIs from deb822 `URIs:` fields and one-line `deb` entries."""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("URIs:"):
            yield from line.split()[1:]
        elif line.startswith("deb "):
            yield from (w for w in line.split()[1:] if "://" in w)


def _apt_source_files() -> list[Path]:
    """The apt sources files of this machine."""
    files: list[Path] = []
    for entry in APT_SOURCES:
        files += sorted(entry.glob("*")) if entry.is_dir() else [entry]
    return [f for f in files if f.is_file()]


def system_archives() -> dict[str, str]:
    """Map archive name (debian, debian-security) to the mirror URL this machine's apt uses."""
    found: dict[str, str] = {}
    for file in _apt_source_files():
        for uri in _source_uris(file.read_text(errors="replace")):
            name = urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1]
            if name in DEFAULT_ARCHIVES:
                found.setdefault(name, uri.rstrip("/"))
    if "debian" in found and "debian-security" not in found:
        found["debian-security"] = found["debian"] + "-security"
    return {**DEFAULT_ARCHIVES, **found}


def valid_timestamp(ts: str) -> bool:
    """True for a real UTC time written as YYYYMMDDTHHMMSSZ."""
    if not TIMESTAMP_RE.match(ts):
        return False
    try:
        datetime.strptime(ts, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False
    return True


class SnapshotMirror:
    """A threaded HTTP server on 127.0.0.1 that imitates snapshot.debian.org."""

    def __init__(
        self,
        cache_dir: Path,
        archives: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Start serving at once; `archives` maps archive names to upstream mirror URLs."""
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.archives = dict(archives or system_archives())
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)
        self._lock = threading.Lock()
        self._log: list[LogEntry] = []
        self._rules: list[FailRule] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        # shutdown() waits for the loop's next poll: 0.5 s by default, paid at every stop.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def log(self) -> list[LogEntry]:
        """A copy of the requests answered so far, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the requests logged so far."""
        with self._lock:
            self._log.clear()

    def fail(
        self, pattern: str, status: int, retry_after: str | int | None = None, times: int | None = 1
    ) -> FailRule:
        """Answer `status` to the next `times` requests whose path re.search-es `pattern`."""
        rule = FailRule(
            re.compile(pattern), status, None if retry_after is None else str(retry_after), times
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_failures(self) -> None:
        """Drop every fail() rule."""
        with self._lock:
            self._rules.clear()

    def stop(self) -> None:
        """Stop the server and close the upstream client."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._client.close()

    def __enter__(self) -> SnapshotMirror:
        """Use as a context manager; the server is already running."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving the block."""
        self.stop()

    def record(self, method: str, path: str, status: int) -> None:
        """Append one request to the log."""
        with self._lock:
            self._log.append(LogEntry(method, path, status))

    def injected_failure(self, path: str) -> FailRule | None:
        """The first fail() rule that applies to `path`, consuming one of its uses."""
        with self._lock:
            return next((r for r in self._rules if r.take(path)), None)

    def cache_path(self, archive: str, ts: str, rel: str) -> Path:
        """Where the response for `rel` is cached: per timestamp for dists/, shared otherwise."""
        scope = ts if rel.startswith("dists/") else "any"
        return self.cache_dir / archive / scope / rel

    def fetch(self, method: str, archive: str, ts: str, rel: str) -> Upstream:
        """Answer from the cache, else from the upstream mirror (caching a 200 GET)."""
        cached = self.cache_path(archive, ts, rel)
        if cached.is_file():
            return Upstream(200, _file_headers(cached), cached)
        url = f"{self.archives[archive]}/{rel}"
        if method == "HEAD":
            resp = self._client.head(url)
            return Upstream(resp.status_code, _pass_headers(resp.headers))
        with self._client.stream("GET", url) as resp:
            if resp.status_code != 200:
                return Upstream(resp.status_code, _pass_headers(resp.headers))
            _download(resp, cached)
        return Upstream(200, _file_headers(cached), cached)


def _pass_headers(headers: httpx.Headers) -> dict[str, str]:
    """The upstream headers worth passing on to the client."""
    keep = ("content-length", "content-type", "last-modified")
    return {k: headers[k] for k in keep if k in headers}


def _file_headers(file: Path) -> dict[str, str]:
    """Headers for serving a cached file."""
    return {"Content-Length": str(file.stat().st_size), "Content-Type": "application/octet-stream"}


def _download(resp: httpx.Response, dest: Path) -> None:
    """Stream a response body into `dest` atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in resp.iter_bytes(CHUNK):
                out.write(chunk)
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise


def _make_handler(mirror: SnapshotMirror) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `mirror`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            """Serve a GET."""
            self._serve("GET")

        def do_HEAD(self) -> None:
            """Serve a HEAD."""
            self._serve("HEAD")

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output quiet: requests go to mirror.log instead."""

        def _serve(self, method: str) -> None:
            """Answer one request; an unreachable upstream is a 502."""
            try:
                self._answer(method, urlsplit(self.path).path)
            except httpx.HTTPError:
                self._reply(HTTPStatus.BAD_GATEWAY)

        def _begin(self, status: int) -> None:
            """Log the request, then send the status line (so a client never beats the log)."""
            mirror.record(self.command, urlsplit(self.path).path, int(status))
            self.send_response(status)

        def _answer(self, method: str, path: str) -> int:
            """Route a request: injected failure, validation, redirect, or the mirror."""
            rule = mirror.injected_failure(path)
            if rule is not None:
                extra = {"Retry-After": rule.retry_after} if rule.retry_after else {}
                return self._reply(rule.status, extra)
            parts = unquote(path).split("/", 4)
            if len(parts) < 4 or parts[:2] != ["", "archive"]:
                return self._reply(HTTPStatus.NOT_FOUND)
            archive, ts = parts[2], parts[3]
            rel = parts[4] if len(parts) == 5 else None
            if archive not in mirror.archives or not valid_timestamp(ts):
                return self._reply(HTTPStatus.NOT_FOUND)
            if rel is None:
                return self._reply(HTTPStatus.MOVED_PERMANENTLY, {"Location": path + "/"})
            if rel == "":
                return self._reply(HTTPStatus.OK, body=f"{archive} {ts}\n".encode())
            if {"", ".", ".."} & set(rel.split("/")):  # no listings, no escapes from the cache
                return self._reply(HTTPStatus.NOT_FOUND)
            return self._send_upstream(method, mirror.fetch(method, archive, ts, rel))

        def _send_upstream(self, method: str, up: Upstream) -> int:
            """Relay what the mirror (or the cache) answered, streaming a cached body."""
            if method == "GET" and up.file is None:
                return self._reply(up.status)
            self._begin(up.status)
            for key, value in up.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if method == "GET" and up.file is not None:
                try:
                    with up.file.open("rb") as f:
                        shutil.copyfileobj(f, self.wfile, CHUNK)
                except ConnectionError:
                    self.close_connection = True
            return up.status

        def _reply(
            self, status: int, headers: Mapping[str, str] | None = None, body: bytes = b""
        ) -> int:
            """Send a small, fully known response."""
            self._begin(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return int(status)

    return Handler
