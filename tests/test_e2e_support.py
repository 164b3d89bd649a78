"""Tests of the end-to-end support parts: snapshot stand-in, Debian base image, buildah builds.

Slow tests (mmdebstrap, registry, buildah) carry the `slow` marker; register it in pyproject:
    [tool.pytest.ini_options] markers = ["slow: builds real images (mmdebstrap, buildah)"]
Deselect them with `-m "not slow"`. Downloads are cached under $PINNER_TEST_CACHE
(default ~/.cache/pinner-tests), so repeated runs do not fetch again.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from buildah import Buildah, BuildResult
from debian_image import (
    OCI_INDEX,
    DebianImageSpec,
    OciImage,
    build_debian_image,
    default_cache_dir,
    push_oci_image,
    read_rootfs_file,
)
from registryd import http
from snapshot_mirror import LogEntry, SnapshotMirror

TS = "20241202T000000Z"
INRELEASE = f"/archive/debian/{TS}/dists/bookworm/InRelease"
CLEANUP = (
    "apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/dpkg.log"
    " /var/log/apt/* /var/log/alternatives.log /var/cache/ldconfig/aux-cache"
)
needs_root_tools = pytest.mark.skipif(
    os.geteuid() != 0
    or not all(shutil.which(t) for t in ("mmdebstrap", "buildah", "skopeo", "docker-registry")),
    reason="needs root with mmdebstrap, buildah, skopeo and docker-registry",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Poll `url` until it answers, failing early if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited with {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):
            http("GET", url, timeout=1)
            return
        time.sleep(0.1)
    raise TimeoutError(url)


@contextlib.contextmanager
def run_registry(workdir: Path) -> Iterator[str]:
    """Run a throwaway open docker-registry; yield its host:port."""
    host = f"127.0.0.1:{free_port()}"
    data = workdir / "data"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {data}}}}}\nhttp: {{addr: {host}}}\n"
    )
    with (workdir / "registry.log").open("wb") as log:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_http(f"http://{host}/v2/", proc)
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    """The persistent download cache shared by test runs."""
    return default_cache_dir()


@pytest.fixture(scope="module")
def mirror(cache_dir: Path) -> Iterator[SnapshotMirror]:
    """The snapshot.debian.org stand-in, caching under the persistent cache."""
    with SnapshotMirror(cache_dir / "snapshot") as m:
        yield m


@pytest.fixture(scope="module")
def base_image(cache_dir: Path) -> OciImage:
    """The deb822-style bookworm base image (mmdebstrap on first use, then cached)."""
    if not shutil.which("mmdebstrap") or os.geteuid() != 0:
        pytest.skip("needs root and mmdebstrap")
    start = time.monotonic()
    image = build_debian_image(cache_dir / "images", DebianImageSpec(sources="deb822"))
    print(f"timing: base image {time.monotonic() - start:.1f}s")
    return image


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private throwaway registry (host:port) for this module."""
    if not shutil.which("docker-registry"):
        pytest.skip("needs docker-registry")
    with run_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


@pytest.fixture(scope="module")
def pushed_base(base_image: OciImage, local_registry: str) -> str:
    """Push the base image as <registry>/debian:bookworm; return the manifest digest."""
    start = time.monotonic()
    digest = push_oci_image(base_image, f"http://{local_registry}", "debian", "bookworm")
    print(f"timing: push {time.monotonic() - start:.1f}s")
    return digest


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory, local_registry: str) -> Iterator[Buildah]:
    """A buildah with private vfs storage that may pull from the local registry."""
    if not shutil.which("buildah"):
        pytest.skip("needs buildah")
    with Buildah(tmp_path_factory.mktemp("buildah"), docker_io_mirror=local_registry) as b:
        yield b


def snapshot_dockerfile(registry: str, mirror: SnapshotMirror, run: str) -> str:
    """A Dockerfile from the pushed base whose apt sources point at the stand-in, then `run`."""
    sed = (
        f"sed -i -e 's#^URIs: .*/debian-security$#URIs: {mirror.url}/archive/debian-security/{TS}#'"
        f" -e 's#^URIs: .*/debian$#URIs: {mirror.url}/archive/debian/{TS}#'"
        " /etc/apt/sources.list.d/debian.sources"
    )
    update = "apt-get -o Acquire::Check-Valid-Until=false update"
    return f"FROM {registry}/debian:bookworm\nRUN {sed} && {update} && {run}\n"


def build(builder: Buildah, ctx: Path, tag: str, dockerfile: str) -> BuildResult:
    """Build `dockerfile` in `ctx` with the fixed timestamp."""
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    result = builder.bud(ctx, tag, timestamp=1733097600)
    print(f"timing: build {tag} {result.seconds:.1f}s")
    return result


def pushed_digest(builder: Buildah, tag: str) -> str:
    """The manifest digest of a built image, as a registry would see it."""
    start = time.monotonic()
    digest = builder.manifest_digest(tag)
    print(f"timing: digest of {tag} {time.monotonic() - start:.1f}s")
    return digest


# --------------------------------------------------------------------------- snapshot stand-in


def test_stand_in_serves_real_inrelease(mirror: SnapshotMirror, cache_dir: Path) -> None:
    """A bookworm InRelease comes through, is logged and lands in the on-disk cache."""
    mirror.clear_log()
    resp = http("GET", mirror.url + INRELEASE, timeout=60)
    assert resp.status_code == 200
    assert resp.text.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    assert "Codename: bookworm" in resp.text
    assert (mirror.log[-1].method, mirror.log[-1].path, mirror.log[-1].status) == (
        "GET",
        INRELEASE,
        200,
    )
    assert (cache_dir / "snapshot" / "debian" / TS / "dists/bookworm/InRelease").is_file()
    head = http("HEAD", mirror.url + INRELEASE, timeout=60)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(resp.content)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/archive/debian/2024-12-02T000000Z/dists/bookworm/InRelease", 404),
        ("/archive/debian/20241302T000000Z/dists/bookworm/InRelease", 404),
        (f"/archive/ubuntu/{TS}/dists/bookworm/InRelease", 404),
        (f"/archive/debian/{TS}/%2e%2e/%2e%2e/etc/passwd", 404),
        ("/debian/dists/bookworm/InRelease", 404),
        (f"/archive/debian/{TS}", 301),
        (f"/archive/debian/{TS}/", 200),
    ],
)
def test_stand_in_rejects_what_snapshot_would(
    mirror: SnapshotMirror, path: str, status: int
) -> None:
    """Bad timestamps and archives are 404; the snapshot root redirects to its slash form."""
    resp = http("GET", mirror.url + path, timeout=60)
    assert resp.status_code == status
    if status == 301:
        assert resp.headers["location"] == path + "/"


def test_fail_injects_errors_then_recovers(mirror: SnapshotMirror) -> None:
    """fail() answers the given status `times` times with Retry-After, then serves normally."""
    mirror.clear_log()
    mirror.fail(r"/dists/bookworm/InRelease$", 503, retry_after=3, times=2)
    mirror.fail(r"/pool/", 429, retry_after=1, times=None)
    statuses = [http("GET", mirror.url + INRELEASE, timeout=60) for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].headers["retry-after"] == "3"
    pool = f"/archive/debian/{TS}/pool/main/h/hello/hello_2.10-3_amd64.deb"
    assert [http("HEAD", mirror.url + pool).status_code for _ in range(2)] == [429, 429]
    mirror.clear_failures()
    assert [(e.path, e.status) for e in mirror.log] == [
        (INRELEASE, 503),
        (INRELEASE, 503),
        (INRELEASE, 200),
        (pool, 429),
        (pool, 429),
    ]


# --------------------------------------------------------------------------- base image


@pytest.mark.slow
def test_base_image_is_a_real_debian(base_image: OciImage) -> None:
    """The image has os-release, apt, the keyring and official-style deb822 sources."""
    assert b"VERSION_CODENAME=bookworm" in read_rootfs_file(base_image, "./etc/os-release")
    assert read_rootfs_file(base_image, "./usr/bin/apt-get").startswith(b"\x7fELF")
    assert read_rootfs_file(base_image, "./usr/share/keyrings/debian-archive-keyring.gpg")
    sources = read_rootfs_file(base_image, "./etc/apt/sources.list.d/debian.sources").decode()
    assert f"# http://snapshot.debian.org/archive/debian/{TS}\nURIs: " in sources
    assert f"# http://snapshot.debian.org/archive/debian-security/{TS}\nURIs: " in sources
    config = base_image.config()
    assert (config["os"], config["created"]) == ("linux", "2024-12-02T00:00:00Z")


@pytest.mark.slow
def test_base_image_layer_is_deterministic_gzip(base_image: OciImage) -> None:
    """The layer's gzip header has mtime 0 and no name; diff_id is the tar's sha256."""
    layer = base_image.manifest()["layers"][0]
    path = base_image.blob_path(layer["digest"])
    header = path.read_bytes()[:10]
    assert header[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no FNAME flag
    assert header[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    sha = hashlib.sha256()
    with gzip.open(path) as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    assert base_image.config()["rootfs"]["diff_ids"] == ["sha256:" + sha.hexdigest()]


@pytest.mark.slow
@needs_root_tools
def test_push_matches_what_skopeo_reads(
    base_image: OciImage, pushed_base: str, local_registry: str
) -> None:
    """The pushed manifest's digest is what the registry serves, also behind an index."""
    assert pushed_base == base_image.manifest_digest
    raw = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{local_registry}/debian:bookworm",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == pushed_base
    index_digest = push_oci_image(
        base_image, f"http://{local_registry}", "library/debian", "bookworm", as_index=True
    )
    resp = http(
        "GET",
        f"http://{local_registry}/v2/library/debian/manifests/bookworm",
        headers={"Accept": OCI_INDEX},
    )
    assert resp.headers["docker-content-digest"] == index_digest
    assert json.loads(resp.content)["manifests"][0]["digest"] == pushed_base


# --------------------------------------------------------------------------- buildah


@pytest.mark.slow
@needs_root_tools
def test_buildah_pulls_docker_io_names_from_the_mirror(
    builder: Buildah, base_image: OciImage, local_registry: str
) -> None:
    """With the generated registries.conf, debian:bookworm@<index digest> comes from the mirror."""
    index = push_oci_image(
        base_image, f"http://{local_registry}", "library/debian", "bookworm", as_index=True
    )
    image_id = builder.pull(f"debian:bookworm@{index}")
    assert image_id == base_image.manifest()["config"]["digest"]


INSTALL = "apt-get install -y --no-install-recommends hello"


@pytest.fixture(scope="module")
def clean_build(
    builder: Buildah,
    mirror: SnapshotMirror,
    local_registry: str,
    pushed_base: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, list[LogEntry]]:
    """Build hello-with-cleanup once; return its digest and the stand-in's log of the build."""
    mirror.clear_log()
    dockerfile = snapshot_dockerfile(local_registry, mirror, f"{INSTALL} && {CLEANUP}")
    build(builder, tmp_path_factory.mktemp("clean-a"), "clean-a", dockerfile)
    return pushed_digest(builder, "clean-a"), mirror.log


@pytest.mark.slow
@needs_root_tools
def test_buildah_run_reaches_the_stand_in(clean_build: tuple[str, list[LogEntry]]) -> None:
    """A chroot RUN does apt-get update and install through the host's loopback stand-in."""
    seen = {(e.path, e.status) for e in clean_build[1]}
    assert (INRELEASE, 200) in seen
    assert (f"/archive/debian-security/{TS}/dists/bookworm-security/InRelease", 200) in seen
    assert (f"/archive/debian/{TS}/pool/main/h/hello/hello_2.10-3_amd64.deb", 200) in seen


@pytest.mark.slow
@needs_root_tools
def test_buildah_rebuild_with_cleanup_is_identical(
    builder: Buildah,
    mirror: SnapshotMirror,
    local_registry: str,
    clean_build: tuple[str, list[LogEntry]],
    tmp_path: Path,
) -> None:
    """Same --timestamp plus the apt/log cleanup: the second build has the same digest."""
    dockerfile = snapshot_dockerfile(local_registry, mirror, f"{INSTALL} && {CLEANUP}")
    build(builder, tmp_path, "clean-b", dockerfile)
    assert pushed_digest(builder, "clean-b") == clean_build[0]


@pytest.mark.slow
@needs_root_tools
def test_buildah_rebuild_without_cleanup_differs(
    builder: Buildah, mirror: SnapshotMirror, local_registry: str, pushed_base: str, tmp_path: Path
) -> None:
    """Negative control: without the cleanup, apt caches and logs make the digests differ."""
    dockerfile = snapshot_dockerfile(local_registry, mirror, INSTALL)
    first = build(builder, tmp_path / "c", "dirty-c", dockerfile)
    second = build(builder, tmp_path / "d", "dirty-d", dockerfile)
    assert first.image_id != second.image_id  # config digests: diff_ids differ
