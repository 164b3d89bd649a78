"""pinner.remote.snapshot.SnapshotMirror against the snapshot.debian.org stand-in and real Debian indexes.

The stand-in (tests/snapshot_mirror.py) serves Debian's archive under /archive/<archive>/<ts>/ and
caches it under ~/.cache/pinner-tests, so after a first run these tests make no outside request.
Faults a real server will not produce on demand are served by an httpx MockTransport from the
real InRelease files in testdata/apt.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from debian_image import default_cache_dir
from snapshot_mirror import LogEntry
from snapshot_mirror import SnapshotMirror as StandIn

from pinner.apt import packages, release
from pinner.apt.release import Release
from pinner.apt.sourceslist import archive_url
from pinner.errors import MirrorError
from pinner.remote.snapshot import SNAPSHOT_RETRY, SnapshotMirror

T = TypeVar("T")

TS = "20241202T000000Z"  # what the Debian base image of the e2e tests records, already cached
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
APT_DATA = Path(__file__).parents[2] / "testdata" / "apt"
UPDATES = (APT_DATA / "bookworm-updates_InRelease").read_bytes()
UPDATES_XZ = (APT_DATA / "bookworm-updates_main_binary-amd64_Packages.xz").read_bytes()
XZ_PATH = "main/binary-amd64/Packages.xz"
MOCK_BASE = "http://snapshot.test/archive"
MOCK_RELEASE = f"{MOCK_BASE}/debian/{TS}/dists/bookworm-updates/InRelease"
MOCK_XZ = f"{MOCK_BASE}/debian/{TS}/dists/bookworm-updates/{XZ_PATH}"

needs_gpgv = pytest.mark.skipif(
    shutil.which("gpgv") is None or not KEYRING.is_file(),
    reason="gpgv or debian-archive-keyring is not installed",
)


class Sleeps(list[float]):
    """A fake asyncio.sleep that records the waits instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    with StandIn(default_cache_dir() / "snapshot") as m:
        yield m


@pytest.fixture
def standin_clean(standin: StandIn) -> Iterator[StandIn]:
    """The stand-in with an empty log and no injected failures, before and after the test."""
    standin.clear_log()
    standin.clear_failures()
    yield standin
    standin.clear_failures()


def run(
    action: Callable[[SnapshotMirror], Awaitable[T]],
    *,
    mirrors: dict[str, str],
    cache_dir: Path | None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleeps | None = None,
) -> tuple[T, SnapshotMirror]:
    """Run action with a fresh SnapshotMirror; return its result and the (closed) client."""

    async def main() -> tuple[T, SnapshotMirror]:
        client = SnapshotMirror(
            mirrors,
            cache_dir,
            transport=transport,
            sleep=Sleeps() if sleep is None else sleep,
        )
        try:
            return await action(client), client
        finally:
            await client.aclose()

    return asyncio.run(main())


def standin_file(standin: StandIn, archive: str, suite: str, rel: str) -> bytes:
    """The bytes the stand-in serves for dists/<suite>/<rel> at TS (from its own cache)."""
    return standin.cache_path(archive, TS, f"dists/{suite}/{rel}").read_bytes()


async def release_and_packages(
    client: SnapshotMirror, archive: str = "debian", suite: str = "bookworm-updates"
) -> tuple[Release, bool, list[packages.PackageEntry]]:
    signed, checked = await client.release(archive, TS, suite, [KEYRING])
    entries = await client.packages(archive, TS, suite, "main", "amd64", signed)
    return signed, checked, entries


# --------------------------------------------------------------------------- the stand-in


@needs_gpgv
@pytest.mark.parametrize(
    ("archive", "suite"),
    [
        pytest.param("debian", "bookworm-updates", id="bookworm-updates"),
        pytest.param("debian-security", "bookworm-security", id="bookworm-security"),
    ],
)
def test_release_and_packages_verified(
    standin_clean: StandIn, tmp_path: Path, archive: str, suite: str
) -> None:
    mirrors = {"debian": f"{standin_clean.url}/archive"}
    (signed, checked, entries), client = run(
        lambda c: release_and_packages(c, archive, suite), mirrors=mirrors, cache_dir=tmp_path
    )

    inrelease = standin_file(standin_clean, archive, suite, "InRelease")
    xz = standin_file(standin_clean, archive, suite, XZ_PATH)
    assert checked is True
    assert signed == release.parse_release(release.signed_text(inrelease))
    assert signed.codename == suite
    assert signed.sha256[XZ_PATH].size == len(xz)
    assert entries == packages.parse_packages(packages.decompress(xz, XZ_PATH))
    assert entries and {e.architecture for e in entries} <= {"amd64", "all"}
    base = f"/archive/{archive}/{TS}/dists/{suite}"
    assert standin_clean.log == [
        LogEntry("GET", f"{base}/InRelease", 200),
        LogEntry("GET", f"{base}/{XZ_PATH}", 200),
    ]
    assert client.requests == {"GET": 2}


@needs_gpgv
def test_disk_cache_hit_makes_no_request(standin_clean: StandIn, tmp_path: Path) -> None:
    mirrors = {"debian": f"{standin_clean.url}/archive"}
    first, _ = run(release_and_packages, mirrors=mirrors, cache_dir=tmp_path)
    standin_clean.clear_log()

    second, client = run(release_and_packages, mirrors=mirrors, cache_dir=tmp_path)

    assert second == first
    assert standin_clean.log == []
    assert client.requests == {}


@needs_gpgv
def test_without_a_cache_dir_every_run_asks(standin_clean: StandIn) -> None:
    mirrors = {"debian": f"{standin_clean.url}/archive"}
    run(release_and_packages, mirrors=mirrors, cache_dir=None)
    _, client = run(release_and_packages, mirrors=mirrors, cache_dir=None)
    assert client.requests == {"GET": 2}
    assert len(standin_clean.log) == 4


def test_404_names_archive_suite_and_time(standin_clean: StandIn, tmp_path: Path) -> None:
    standin_clean.fail(r"/dists/bookworm-updates/InRelease$", 404)
    mirrors = {"debian": f"{standin_clean.url}/archive"}
    with pytest.raises(MirrorError) as excinfo:
        run(
            lambda c: c.release("debian", TS, "bookworm-updates", [KEYRING]),
            mirrors=mirrors,
            cache_dir=tmp_path,
        )
    url = f"{standin_clean.url}/archive/debian/{TS}/dists/bookworm-updates/InRelease"
    assert str(excinfo.value) == (
        f"debian bookworm-updates at {TS}: not found on the snapshot mirror (404 for {url})"
    )
    assert not (tmp_path / "snapshot").exists()  # a failure is not cached


@needs_gpgv
def test_429_waits_retry_after_then_succeeds(standin_clean: StandIn, tmp_path: Path) -> None:
    standin_clean.fail(r"/InRelease$", 429, retry_after=7, times=1)
    sleeps = Sleeps()
    mirrors = {"debian": f"{standin_clean.url}/archive"}
    (signed, checked), client = run(
        lambda c: c.release("debian", TS, "bookworm-updates", [KEYRING]),
        mirrors=mirrors,
        cache_dir=tmp_path,
        sleep=sleeps,
    )
    assert (signed.codename, checked) == ("bookworm-updates", True)
    assert sleeps == [7.0]
    assert client.requests == {"GET": 2}
    path = f"/archive/debian/{TS}/dists/bookworm-updates/InRelease"
    assert standin_clean.log == [LogEntry("GET", path, 429), LogEntry("GET", path, 200)]


def test_503_past_the_retries(standin_clean: StandIn, tmp_path: Path) -> None:
    standin_clean.fail(r"/InRelease$", 503, times=None)
    sleeps = Sleeps()
    mirrors = {"debian": f"{standin_clean.url}/archive"}
    with pytest.raises(MirrorError) as excinfo:
        run(
            lambda c: c.release("debian", TS, "bookworm-updates", [KEYRING]),
            mirrors=mirrors,
            cache_dir=tmp_path,
            sleep=sleeps,
        )
    host = standin_clean.url.removeprefix("http://")
    assert str(excinfo.value) == (
        f"debian bookworm-updates at {TS}: {host}: 503 Service Unavailable after 5 attempts"
    )
    assert SNAPSHOT_RETRY.attempts == 5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert [e.status for e in standin_clean.log] == [503] * 5


def test_retry_after_past_the_limit_gives_up_at_once(
    standin_clean: StandIn, tmp_path: Path
) -> None:
    standin_clean.fail(r"/InRelease$", 429, retry_after=3600, times=None)
    sleeps = Sleeps()
    mirrors = {"debian": f"{standin_clean.url}/archive"}
    with pytest.raises(MirrorError) as excinfo:
        run(
            lambda c: c.release("debian", TS, "bookworm-updates", [KEYRING]),
            mirrors=mirrors,
            cache_dir=tmp_path,
            sleep=sleeps,
        )
    host = standin_clean.url.removeprefix("http://")
    assert str(excinfo.value) == (
        f"debian bookworm-updates at {TS}: {host}: 429 Too Many Requests,"
        " retry after 3600 s is past the limit"
    )
    assert (sleeps, len(standin_clean.log)) == ([], 1)


def test_mirror_down_names_the_suite(tmp_path: Path) -> None:
    with StandIn(tmp_path / "standin") as down:
        url = down.url
    with pytest.raises(MirrorError) as excinfo:
        run(
            lambda c: c.release("debian", TS, "bookworm-updates", [KEYRING]),
            mirrors={"debian": f"{url}/archive"},
            cache_dir=tmp_path,
        )
    host = url.removeprefix("http://")
    assert str(excinfo.value) == (
        f"debian bookworm-updates at {TS}: cannot reach {host}: connection refused"
    )


# --------------------------------------------------------------------------- MockTransport faults


def serving(files: dict[str, bytes]) -> tuple[httpx.MockTransport, list[str]]:
    """A transport answering 200 with files[url], else 404; and the URLs asked for."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        body = files.get(str(request.url))
        return httpx.Response(404) if body is None else httpx.Response(200, content=body)

    return httpx.MockTransport(handler), asked


def one_byte_changed(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_index_that_does_not_match_inrelease_is_refused_and_not_cached(tmp_path: Path) -> None:
    tampered = one_byte_changed(UPDATES_XZ, len(UPDATES_XZ) // 2)
    transport, _ = serving({MOCK_RELEASE: UPDATES, MOCK_XZ: tampered})
    with pytest.raises(MirrorError) as excinfo:
        run(
            release_and_packages,
            mirrors={"debian": MOCK_BASE},
            cache_dir=tmp_path,
            transport=transport,
        )
    assert str(excinfo.value) == (
        f"dists/bookworm-updates/{XZ_PATH}: Hash Sum mismatch (SHA256 does not match InRelease)"
    )

    # The mirror is fixed: the bad bytes were not kept, so the next run succeeds.
    transport, asked = serving({MOCK_RELEASE: UPDATES, MOCK_XZ: UPDATES_XZ})
    (_, _, entries), client = run(
        release_and_packages, mirrors={"debian": MOCK_BASE}, cache_dir=tmp_path, transport=transport
    )
    assert len(entries) == 38
    assert asked == [MOCK_XZ]  # InRelease verified the first time and came from the cache
    assert client.requests == {"GET": 1}


def test_index_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    transport, _ = serving({MOCK_RELEASE: UPDATES, MOCK_XZ: UPDATES_XZ[:-1]})
    with pytest.raises(MirrorError) as excinfo:
        run(
            release_and_packages,
            mirrors={"debian": MOCK_BASE},
            cache_dir=tmp_path,
            transport=transport,
        )
    assert str(excinfo.value) == (
        f"dists/bookworm-updates/{XZ_PATH}: size 6923 != 6924 in InRelease"
        " (mirror sync in progress?)"
    )


def test_architecture_the_suite_does_not_list(tmp_path: Path) -> None:
    transport, asked = serving({MOCK_RELEASE: UPDATES})

    async def action(client: SnapshotMirror) -> object:
        signed, _ = await client.release("debian", TS, "bookworm-updates", [KEYRING])
        return await client.packages("debian", TS, "bookworm-updates", "main", "sparc", signed)

    with pytest.raises(MirrorError) as excinfo:
        run(action, mirrors={"debian": MOCK_BASE}, cache_dir=tmp_path, transport=transport)
    assert str(excinfo.value) == (
        f"debian bookworm-updates at {TS}: InRelease lists no main/binary-sparc/Packages"
        " (no sparc packages in main)"
    )
    assert asked == [MOCK_RELEASE]


@needs_gpgv
def test_bad_signature_is_refused_and_not_cached(tmp_path: Path) -> None:
    # One byte inside the signed text: a hex digit of Packages.xz's SHA256.
    digest = b"87e7e94047fb7fb6f4ceecc7022d4bee55b66031cc2a7666d3196f3e0aabb846"
    at = UPDATES.index(digest) + len(digest) - 1
    tampered = UPDATES[:at] + b"7" + UPDATES[at + 1 :]
    transport, _ = serving({MOCK_RELEASE: tampered})
    with pytest.raises(MirrorError) as excinfo:
        run(
            lambda c: c.release("debian", TS, "bookworm-updates", [KEYRING]),
            mirrors={"debian": MOCK_BASE},
            cache_dir=tmp_path,
            transport=transport,
        )
    assert str(excinfo.value) == (
        f"debian bookworm-updates at {TS}: InRelease: invalid signature: BADSIG 6ED0E7B82643E131"
    )

    transport, asked = serving({MOCK_RELEASE: UPDATES})
    (_, checked), _ = run(
        lambda c: c.release("debian", TS, "bookworm-updates", [KEYRING]),
        mirrors={"debian": MOCK_BASE},
        cache_dir=tmp_path,
        transport=transport,
    )
    assert (checked, asked) == (True, [MOCK_RELEASE])


@needs_gpgv
def test_keyring_without_the_archive_key_is_refused(tmp_path: Path) -> None:
    transport, _ = serving({MOCK_RELEASE: UPDATES})
    with pytest.raises(MirrorError) as excinfo:
        run(
            lambda c: c.release(
                "debian",
                TS,
                "bookworm-updates",
                [KEYRING.with_name("debian-archive-bullseye-stable.gpg")],
            ),
            mirrors={"debian": MOCK_BASE},
            cache_dir=tmp_path,
            transport=transport,
        )
    assert str(excinfo.value) == (
        f"debian bookworm-updates at {TS}: InRelease: no good signature:"
        " NO_PUBKEY 6ED0E7B82643E131, NO_PUBKEY 78DBA3BC47EF2265"
    )


def test_gpgv_missing_returns_unchecked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(release.shutil, "which", lambda name: None)
    transport, _ = serving({MOCK_RELEASE: UPDATES, MOCK_XZ: UPDATES_XZ})
    (signed, checked, entries), _ = run(
        release_and_packages, mirrors={"debian": MOCK_BASE}, cache_dir=tmp_path, transport=transport
    )
    assert checked is False
    assert signed.sha256[XZ_PATH].sha256 == (
        "87e7e94047fb7fb6f4ceecc7022d4bee55b66031cc2a7666d3196f3e0aabb846"
    )
    assert len(entries) == 38  # the index is still checked against InRelease


def test_not_a_clearsigned_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(release.shutil, "which", lambda name: None)
    transport, _ = serving({MOCK_RELEASE: b"<html>captive portal</html>\n"})
    with pytest.raises(MirrorError) as excinfo:
        run(
            lambda c: c.release("debian", TS, "bookworm-updates", [KEYRING]),
            mirrors={"debian": MOCK_BASE},
            cache_dir=tmp_path,
            transport=transport,
        )
    assert str(excinfo.value) == (
        f"debian bookworm-updates at {TS}: InRelease: not a clearsigned message"
    )
    assert not (tmp_path / "snapshot").exists()


@pytest.mark.parametrize(
    ("archive", "mirrors", "url"),
    [
        pytest.param("debian", {}, f"http://snapshot.debian.org/archive/debian/{TS}", id="debian"),
        pytest.param(
            "debian-security",
            {"debian": "http://m.test/snap/"},
            f"http://m.test/snap/debian-security/{TS}",
            id="debian-mirror",
        ),
        pytest.param(
            "debian-archive/debian-security",
            {},
            f"http://snapshot.debian.org/archive/debian-archive/{TS}/debian-security",
            id="debian-archive",
        ),
        pytest.param(
            "debian-debug", {}, f"http://snapshot.debian.org/archive/debian-debug/{TS}", id="debug"
        ),
        pytest.param("ubuntu", {}, f"https://snapshot.ubuntu.com/ubuntu/{TS}", id="ubuntu"),
        pytest.param(
            "ubuntu",
            {"ubuntu": "http://u.test/ubuntu"},
            f"http://u.test/ubuntu/{TS}",
            id="ubuntu-mirror",
        ),
    ],
)
def test_archive_url(archive: str, mirrors: dict[str, str], url: str) -> None:
    assert archive_url(archive, TS, mirrors) == url
