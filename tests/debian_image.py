"""A real minimal Debian base image for end-to-end tests, built with mmdebstrap and cached.

The root filesystem comes from this machine's Debian mirror (``mmdebstrap --variant=minbase``) with
SOURCE_DATE_EPOCH set, so the tar is bit-reproducible for the same mirror content. It is stored as
an OCI image layout (gzip layer with a zero header mtime) under the caller's cache directory and
can be pushed to any registry with ``push_oci_image``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shlex
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urljoin

import httpx
from snapshot_mirror import system_archives
from testcache import default_cache_dir as default_cache_dir  # where the tests look for it

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
DEFAULT_EPOCH = 1733097600  # 2024-12-02T00:00:00Z, as in testdata/debian-official-images
CHUNK = 1 << 20
RECIPE = 2  # bump whenever the build below changes, so cached images are rebuilt
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
SLIM_DPKG_OPTS = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/groff/*",
    "path-exclude=/usr/share/lintian/*",
    "path-exclude=/usr/share/locale/*",
)

Sources = Literal["one-line", "deb822"]


def snapshot_timestamp(epoch: int) -> str:
    """Format a Unix time as a snapshot.debian.org timestamp (YYYYMMDDTHHMMSSZ, UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%dT%H%M%SZ")


def rfc3339(epoch: int) -> str:
    """Format a Unix time as an image config `created` time."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mirror() -> str:
    """This machine's Debian mirror URL."""
    return system_archives()["debian"]


def _security_mirror() -> str:
    """This machine's Debian security mirror URL."""
    return system_archives()["debian-security"]


@dataclass(frozen=True)
class DebianImageSpec:
    """What to build: suite, mirror, SOURCE_DATE_EPOCH, the style of apt sources and packages
    installed beyond minbase (e.g. other distributions' package managers, as Debian ships them)."""

    suite: str = "bookworm"
    epoch: int = DEFAULT_EPOCH
    sources: Sources = "one-line"
    slim: bool = True
    mirror: str = field(default_factory=_mirror)
    security_mirror: str = field(default_factory=_security_mirror)
    include: tuple[str, ...] = ()

    @property
    def snapshot(self) -> str:
        """The snapshot timestamp recorded in deb822 sources (equals the config `created`)."""
        return snapshot_timestamp(self.epoch)

    def cache_key(self) -> str:
        """A directory name unique to this spec."""
        fields = {**asdict(self), "recipe": RECIPE}
        if not self.include:
            del fields["include"]  # the keys of images cached before `include` existed
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        extra = "-plus" if self.include else ""
        return f"debian-{self.suite}-{self.sources}{extra}-{self.epoch}-{digest[:12]}"


@dataclass(frozen=True)
class OciImage:
    """A single-platform image stored as an OCI image layout directory."""

    layout: Path
    manifest_digest: str

    def blob_path(self, digest: str) -> Path:
        """The file holding a blob."""
        algorithm, hex_ = digest.split(":", 1)
        return self.layout / "blobs" / algorithm / hex_

    def blob(self, digest: str) -> bytes:
        """A (small) blob's bytes."""
        return self.blob_path(digest).read_bytes()

    def manifest(self) -> dict[str, Any]:
        """The image manifest as JSON."""
        result: dict[str, Any] = json.loads(self.blob(self.manifest_digest))
        return result

    def config(self) -> dict[str, Any]:
        """The image config as JSON."""
        result: dict[str, Any] = json.loads(self.blob(self.manifest()["config"]["digest"]))
        return result

    def platform(self) -> dict[str, str]:
        """The os/architecture pair from the config."""
        cfg = self.config()
        return {"architecture": cfg["architecture"], "os": cfg["os"]}


def canonical_json(obj: object) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256_digest(data: bytes) -> str:
    """'sha256:<hex>' of some bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def deb822_sources(spec: DebianImageSpec) -> str:
    """/etc/apt/sources.list.d/debian.sources as official Debian images write it."""
    return (
        "Types: deb\n"
        f"# http://snapshot.debian.org/archive/debian/{spec.snapshot}\n"
        f"URIs: {spec.mirror}\n"
        f"Suites: {spec.suite} {spec.suite}-updates\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        "\n"
        "Types: deb\n"
        f"# http://snapshot.debian.org/archive/debian-security/{spec.snapshot}\n"
        f"URIs: {spec.security_mirror}\n"
        f"Suites: {spec.suite}-security\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def mmdebstrap_command(spec: DebianImageSpec, workdir: Path) -> list[str]:
    """The mmdebstrap command line writing the root filesystem tar to stdout."""
    hooks = ['rm -f "$1/etc/hostname" "$1/etc/resolv.conf"']  # host-specific files
    if spec.sources == "deb822":
        sources = workdir / "debian.sources"
        sources.write_text(deb822_sources(spec))
        hooks += [
            'rm -f "$1/etc/apt/sources.list"',
            f'install -m 0644 {shlex.quote(str(sources))} "$1/etc/apt/sources.list.d/"',
        ]
    dpkg = [f"--dpkgopt={opt}" for opt in SLIM_DPKG_OPTS] if spec.slim else []
    include = [f"--include={','.join(spec.include)}"] if spec.include else []
    return [
        "mmdebstrap",
        "--quiet",
        "--variant=minbase",
        "--mode=root",
        "--format=tar",
        f"--hook-dir={MERGED_USR_HOOKS}",  # usr-is-merged, not usrmerge and its perl
        *dpkg,
        *include,
        *(f"--customize-hook={hook}" for hook in hooks),
        spec.suite,
        "-",
        spec.mirror,
    ]


class _HashingWriter:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, out: IO[bytes]) -> None:
        """Wrap `out`."""
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        """Hash, count and forward."""
        self.sha.update(data)
        self.size += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        """Flush the wrapped file."""
        self.out.flush()


@dataclass(frozen=True)
class Layer:
    """A written gzip layer: compressed digest/size and uncompressed diff_id."""

    digest: str
    size: int
    diff_id: str


def gzip_layer(tar_stream: IO[bytes], dest: Path) -> Layer:
    """Compress a tar stream into `dest` deterministically (no name, mtime 0, level 6)."""
    diff = hashlib.sha256()
    with dest.open("wb") as raw:
        counted = _HashingWriter(raw)
        gz_out: Any = counted
        with gzip.GzipFile(filename="", mode="wb", fileobj=gz_out, compresslevel=6, mtime=0) as gz:
            while chunk := tar_stream.read(CHUNK):
                diff.update(chunk)
                gz.write(chunk)
    return Layer("sha256:" + counted.sha.hexdigest(), counted.size, "sha256:" + diff.hexdigest())


def run_mmdebstrap(spec: DebianImageSpec, workdir: Path, layer_file: Path) -> Layer:
    """Run mmdebstrap | mmtarfilter (drop /dev nodes) and gzip the result into `layer_file`."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(spec.epoch)}
    log = workdir / "mmdebstrap.log"
    with log.open("wb") as err:
        # A session of its own: when writing the tar fails, mmdebstrap SIGHUPs its whole
        # process group, which would otherwise include pytest.
        strap = subprocess.Popen(
            mmdebstrap_command(spec, workdir),
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            start_new_session=True,
        )
        assert strap.stdout is not None
        filt = subprocess.Popen(
            ["mmtarfilter", "--path-exclude=/dev/*"],
            stdin=strap.stdout,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        strap.stdout.close()
        assert filt.stdout is not None
        try:
            with filt.stdout:
                layer = gzip_layer(filt.stdout, layer_file)
        except BaseException:
            _stop(strap, filt)
            raise
        codes = (strap.wait(), filt.wait())
    if codes != (0, 0):
        raise RuntimeError(f"mmdebstrap failed {codes}:\n{log.read_text(errors='replace')}")
    return layer


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    """Terminate processes (mmdebstrap unmounts and removes its tempdir on SIGTERM) and reap."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dpkg_architecture() -> str:
    """The host's Debian architecture (amd64, arm64, ...), which mmdebstrap builds for."""
    out = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
    return out.stdout.strip() or "amd64"


def image_config(spec: DebianImageSpec, layer: Layer) -> dict[str, Any]:
    """An image config in the style of the official Debian images."""
    created = rfc3339(spec.epoch)
    return {
        "architecture": dpkg_architecture(),
        "config": {
            "Cmd": ["bash"],
            "Entrypoint": [],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "created": created,
        "history": [
            {
                "comment": "pinner tests",
                "created": created,
                "created_by": f"mmdebstrap --variant=minbase {spec.suite} ({spec.sources})",
            }
        ],
        "os": "linux",
        "rootfs": {"diff_ids": [layer.diff_id], "type": "layers"},
    }


def _put_blob(layout: Path, data: bytes) -> dict[str, Any]:
    """Store bytes as a blob; return its descriptor without mediaType."""
    digest = sha256_digest(data)
    (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def write_layout(layout: Path, spec: DebianImageSpec, layer: Layer) -> OciImage:
    """Write config, manifest, index.json and oci-layout around an already stored layer."""
    config_blob = _put_blob(layout, canonical_json(image_config(spec, layer)))
    config = {"mediaType": OCI_CONFIG, **config_blob}
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer.digest, "size": layer.size}],
    }
    desc = {"mediaType": OCI_MANIFEST, **_put_blob(layout, canonical_json(manifest))}
    index = {"schemaVersion": 2, "manifests": [{**desc, "annotations": {REF_NAME: spec.suite}}]}
    (layout / "index.json").write_bytes(canonical_json(index))
    (layout / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    return OciImage(layout, desc["digest"])


def load_oci_image(layout: Path) -> OciImage:
    """Open an OCI layout holding one image manifest."""
    index = json.loads((layout / "index.json").read_bytes())
    return OciImage(layout, index["manifests"][0]["digest"])


def build_debian_image(cache_dir: Path, spec: DebianImageSpec | None = None) -> OciImage:
    """Return the cached image for `spec`, building it with mmdebstrap first if needed."""
    spec = spec or DebianImageSpec()
    final = Path(cache_dir) / spec.cache_key()
    if (final / "index.json").is_file():
        return load_oci_image(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        layout = work / "layout"
        (layout / "blobs" / "sha256").mkdir(parents=True)
        layer_tmp = work / "layer.tar.gz"
        layer = run_mmdebstrap(spec, work, layer_tmp)
        layer_tmp.rename(layout / "blobs" / "sha256" / layer.digest.split(":")[1])
        write_layout(layout, spec, layer)
        with contextlib.suppress(OSError):  # lost a race with a parallel build: keep theirs
            layout.rename(final)
    return load_oci_image(final)


def _upload_url(base_url: str, location: str, digest: str) -> str:
    """The PUT URL finishing an upload: Location plus ?digest= (or &digest=)."""
    url = urljoin(base_url + "/", location)
    return f"{url}{'&' if '?' in url else '?'}digest={digest}"


def _file_chunks(path: Path) -> Iterator[bytes]:
    """Read a file in chunks for a streaming upload."""
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def push_blob(client: httpx.Client, base_url: str, repo: str, path: Path, digest: str) -> None:
    """Upload one blob monolithically (POST then PUT), unless the registry already has it."""
    if client.head(f"{base_url}/v2/{repo}/blobs/{digest}").status_code == 200:
        return
    start = client.post(f"{base_url}/v2/{repo}/blobs/uploads/")
    start.raise_for_status()
    put = client.put(
        _upload_url(base_url, start.headers["Location"], digest),
        content=_file_chunks(path),
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Length": str(path.stat().st_size),
        },
    )
    put.raise_for_status()


def push_manifest(
    client: httpx.Client, base_url: str, repo: str, ref: str, body: bytes, media_type: str
) -> str:
    """PUT a manifest or index under a tag or digest; return its digest."""
    resp = client.put(
        f"{base_url}/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": media_type}
    )
    resp.raise_for_status()
    digest = sha256_digest(body)
    echoed = resp.headers.get("Docker-Content-Digest", digest)
    if echoed != digest:
        raise RuntimeError(f"registry says {echoed} for a manifest whose digest is {digest}")
    return digest


def image_index(image: OciImage) -> bytes:
    """An OCI index listing the image for its platform."""
    manifest = image.blob(image.manifest_digest)
    entry = {
        "mediaType": OCI_MANIFEST,
        "digest": image.manifest_digest,
        "size": len(manifest),
        "platform": image.platform(),
    }
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})


def push_oci_image(
    image: OciImage,
    base_url: str,
    repo: str,
    tag: str,
    client: httpx.Client | None = None,
    *,
    as_index: bool = False,
) -> str:
    """Push blobs and manifest to a registry (base_url like http://127.0.0.1:5000); return the
    digest the tag points to: the manifest's, or with as_index the one-entry index's."""
    own = client is None
    http = client or httpx.Client(timeout=300)
    try:
        base = base_url.rstrip("/")
        manifest = image.manifest()
        for desc in [manifest["config"], *manifest["layers"]]:
            push_blob(http, base, repo, image.blob_path(desc["digest"]), desc["digest"])
        body = image.blob(image.manifest_digest)
        if not as_index:
            return push_manifest(http, base, repo, tag, body, OCI_MANIFEST)
        push_manifest(http, base, repo, image.manifest_digest, body, OCI_MANIFEST)
        return push_manifest(http, base, repo, tag, image_index(image), OCI_INDEX)
    finally:
        if own:
            http.close()


def read_rootfs_file(image: OciImage, member: str) -> bytes:
    """Read one regular file (e.g. './etc/os-release' resolved) from the image's only layer."""
    layer = image.manifest()["layers"][0]["digest"]
    with tarfile.open(image.blob_path(layer), "r:gz") as tar:
        f = tar.extractfile(_resolve_member(tar, member))
        if f is None:
            raise FileNotFoundError(member)
        return f.read()


def _resolve_member(tar: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    """Follow symlinks of a tar member (relative or absolute) within the archive."""
    info = tar.getmember(name)
    for _ in range(10):
        if not info.issym():
            return info
        target = info.linkname
        base = "." if target.startswith("/") else os.path.dirname(info.name)
        info = tar.getmember("./" + os.path.normpath(os.path.join(base, target.lstrip("/"))))
    raise FileNotFoundError(name)
