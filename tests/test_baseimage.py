"""Reading a base image's os-release, apt sources and keyrings from its layers on a real registry."""

from __future__ import annotations

import asyncio
import bz2
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import zstandard
from handmade import hostile_tars
from registryd import MEDIA_TYPES, Registry, push_blob, push_image, push_manifest

from pinner.baseimage import (
    BaseImage,
    BaseImageError,
    FileEntry,
    KeyringFile,
    SourceFile,
    describe,
    merge,
    parse_os_release,
    read_file,
    scan_layer,
    snapshot_of,
)
from pinner.errors import RegistryError
from pinner.main import main
from pinner.reference import parse
from pinner.remote.cache import default_cache_dir
from pinner.remote.layers import inspect
from pinner.remote.registry import Registry as Client
from pinner.remote.registry import Settings

TESTDATA = Path(__file__).resolve().parents[1] / "testdata" / "debian-official-images"
HOST_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
BOOKWORM = TESTDATA / "amd64" / "bookworm"
BULLSEYE = TESTDATA / "amd64" / "bullseye"
KEYRING = HOST_KEYRING.read_bytes() if HOST_KEYRING.is_file() else b"\x99\x02\x0d" * 1000
SNAPSHOT = "20241202T000000Z"

# Ubuntu 24.04's /usr/lib/os-release and /etc/apt/sources.list.d/ubuntu.sources, as shipped.
UBUNTU_OS_RELEASE = """\
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""
UBUNTU_SOURCES = """\
Types: deb
URIs: http://archive.ubuntu.com/ubuntu/
Suites: noble noble-updates noble-backports
Components: main universe restricted multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

Types: deb
URIs: http://security.ubuntu.com/ubuntu/
Suites: noble-security
Components: main universe restricted multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
"""
DPKG_STATUS = b"""\
Package: adduser
Status: install ok installed
Priority: important
Version: 3.134
Description: add and remove users and groups
 This package includes the 'adduser' and 'deluser' commands.
 Package: apt

Package: apt
Status: install ok installed
Priority: important
Architecture: amd64
Version: 2.6.1
Description: commandline package manager
 This package provides commandline tools.

Package: base-files
Status: install ok installed
Version: 12.4+deb12u8
"""


# --------------------------------------------------------------------------- building layers


class Member(NamedTuple):
    """One tar member: a file (data), a directory, a symlink or hard link (target)."""

    name: str
    kind: str = "file"
    data: bytes = b""
    target: str = ""


def file(name: str, data: str | bytes) -> Member:
    return Member(name, "file", data.encode() if isinstance(data, str) else data)


def link(name: str, target: str) -> Member:
    return Member(name, "symlink", target=target)


def hardlink(name: str, target: str) -> Member:
    return Member(name, "hardlink", target=target)


def folder(name: str) -> Member:
    return Member(name, "dir")


def tar_bytes(members: Sequence[Member]) -> bytes:
    """A deterministic tar (PAX, as BuildKit writes them) of the members, in order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.mtime = 1733097600
            if m.kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif m.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, m.target
            elif m.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, m.target
            else:
                info.size, info.mode = len(m.data), 0o644
            tar.addfile(info, io.BytesIO(m.data) if m.kind == "file" else None)
    return raw.getvalue()


def debian_rootfs(
    os_release: str | None = None,
    sources: tuple[str, str] | None = None,
    noise: int = 20,
) -> list[Member]:
    """A Debian-like root: os-release behind its symlink, deb822 sources, keyring, dpkg status."""
    if os_release is None:
        os_release = (BOOKWORM / "rootfs.os-release").read_text()
    if sources is None:
        sources = (
            "etc/apt/sources.list.d/debian.sources",
            (BOOKWORM / "rootfs.debian-sources").read_text(),
        )
    return [
        folder("./"),
        link("./bin", "usr/bin"),
        folder("./etc/"),
        folder("./etc/apt/"),
        folder("./etc/apt/sources.list.d/"),
        file(f"./{sources[0]}", sources[1]),
        folder("./etc/apt/trusted.gpg.d/"),
        link("./etc/os-release", "../usr/lib/os-release"),
        file("./etc/hostname", "noise\n"),
        folder("./usr/"),
        folder("./usr/bin/"),
        *(file(f"./usr/bin/tool{i}", bytes([i]) * 5000) for i in range(noise)),
        folder("./usr/lib/"),
        file("./usr/lib/os-release", os_release),
        folder("./usr/share/"),
        folder("./usr/share/keyrings/"),
        file("./usr/share/keyrings/debian-archive-keyring.gpg", KEYRING),
        file("./usr/share/keyrings/README", "not a keyring\n"),
        folder("./var/"),
        folder("./var/lib/"),
        folder("./var/lib/dpkg/"),
        file("./var/lib/dpkg/status", DPKG_STATUS),
    ]


def push_layers(
    reg: Registry,
    repo: str,
    layers: Sequence[bytes],
    media_type: str = MEDIA_TYPES["oci_layer"],
    blobs: Sequence[bytes] = (),
) -> tuple[str, list[str]]:
    """Push plain tars as layers of an OCI image, gzip unless blobs are given; return (manifest
    digest, layer digests)."""
    blobs = list(blobs) or [gzip.compress(t, mtime=0) for t in layers]
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-12-02T00:00:00Z",
            "config": {"Cmd": ["bash"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        },
        sort_keys=True,
    ).encode()
    with reg.client() as c:
        config_digest = push_blob(c, reg.url, repo, config)
        digests = [push_blob(c, reg.url, repo, b) for b in blobs]
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_TYPES["oci_manifest"],
                "config": {
                    "mediaType": MEDIA_TYPES["oci_config"],
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": media_type, "digest": d, "size": len(b)}
                    for d, b in zip(digests, blobs, strict=True)
                ],
            },
            sort_keys=True,
        ).encode()
        digest = push_manifest(c, reg.url, repo, "latest", manifest, MEDIA_TYPES["oci_manifest"])
    return digest, digests


def run_inspect(
    host: str,
    repo: str,
    digest: str,
    cache_dir: Path | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BaseImage:
    async def main() -> BaseImage:
        client = Client(Settings(attempts=1), lambda host: None, transport=transport)
        try:
            return await inspect(client, parse(f"{host}/{repo}@{digest}"), digest, cache_dir)
        finally:
            await client.aclose()

    return asyncio.run(main())


def chunked(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# --------------------------------------------------------------------------- inspect, real registry


def test_inspect_bookworm_layout(registry: Registry) -> None:
    digest, _ = push_layers(registry, "baseimage/bookworm", [tar_bytes(debian_rootfs())])

    image = run_inspect(registry.host, "baseimage/bookworm", digest)

    # os-release is among the files the package-manager modules ask for (dnf reads it).
    assert [path for path, _ in image.files] == ["/etc/os-release", "/usr/lib/os-release"]
    assert image._replace(files=()) == BaseImage(
        distro="debian",
        codename="bookworm",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
        sources=(
            SourceFile(
                "/etc/apt/sources.list.d/debian.sources",
                (BOOKWORM / "rootfs.debian-sources").read_text(),
            ),
        ),
        keyrings=(KeyringFile("/usr/share/keyrings/debian-archive-keyring.gpg", KEYRING),),
        snapshot=SNAPSHOT,
        architecture="amd64",
    )


def test_a_single_manifest_of_another_architecture_is_refused(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A single manifest names no platform; its dpkg does. Locking it for arm64 would record
    # arm64 packages for an amd64 base.
    digest, _ = push_layers(registry, "baseimage/single", [tar_bytes(debian_rootfs())])
    ref = f"{registry.host}/baseimage/single@{digest}"
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {ref}\nRUN apt-get update && apt-get install -y hello\n")
    push_image(registry, "docker/dockerfile", "1.23")  # the frontend lock asks for
    mirror = f"docker.io=http://{registry.host}"
    argv = ["--platform", "linux/arm64", "--snapshot", SNAPSHOT, "--registry-mirror", mirror]
    assert main(["lock", *argv, str(dockerfile)]) == 1
    assert capsys.readouterr().err == (
        f"{dockerfile}:1: {ref}: a single amd64 image, not linux/arm64; choose with --platform\n"
        "1 error(s); nothing written\n"
    )
    assert not (tmp_path / "Dockerfile.lock").exists()


def test_inspect_bullseye_one_line_sources(registry: Registry) -> None:
    sources = (BULLSEYE / "rootfs.sources-list").read_text()
    root = debian_rootfs(
        (BULLSEYE / "rootfs.os-release").read_text(), ("etc/apt/sources.list", sources)
    )
    digest, _ = push_layers(registry, "baseimage/bullseye", [tar_bytes(root)])

    image = run_inspect(registry.host, "baseimage/bullseye", digest)

    assert (image.distro, image.codename, image.snapshot) == (
        "debian",
        "bullseye",
        SNAPSHOT,
    )
    assert image.sources == (SourceFile("/etc/apt/sources.list", sources),)


def test_inspect_ubuntu(registry: Registry) -> None:
    root = debian_rootfs(
        UBUNTU_OS_RELEASE, ("etc/apt/sources.list.d/ubuntu.sources", UBUNTU_SOURCES)
    )
    digest, _ = push_layers(registry, "baseimage/ubuntu", [tar_bytes(root)])

    image = run_inspect(registry.host, "baseimage/ubuntu", digest)

    assert image._replace(keyrings=(), sources=(), files=()) == BaseImage(
        distro="ubuntu",
        codename="noble",
        pretty_name="Ubuntu 24.04.1 LTS",
        sources=(),
        keyrings=(),
        snapshot=None,
        architecture="amd64",
    )
    assert image.sources == (SourceFile("/etc/apt/sources.list.d/ubuntu.sources", UBUNTU_SOURCES),)


def test_inspect_merges_lower_layers_and_stops_at_os_release(registry: Registry) -> None:
    lower = tar_bytes(
        [
            file(
                "etc/apt/sources.list.d/old.list", "deb http://old.example/debian bookworm main\n"
            ),
            file("etc/apt/trusted.gpg.d/old.asc", "old key\n"),
            file("usr/share/keyrings/kept.gpg", b"kept"),
            file("usr/share/keyrings/gone.gpg", b"gone"),
        ]
    )
    middle = tar_bytes(
        [
            *debian_rootfs(noise=0),
            file("etc/apt/sources.list.d/.wh..wh..opq", b""),  # hides old.list
            file("usr/share/keyrings/.wh.gone.gpg", b""),
            file("etc/apt/trusted.gpg.d/.wh.old.asc", b""),
        ]
    )
    upper = tar_bytes([file("etc/os-release", "ID=changed\n")])
    digest, [_, _, upper_digest] = push_layers(registry, "baseimage/layers", [lower, middle, upper])
    registry.clear_requests()

    image = run_inspect(registry.host, "baseimage/layers", digest)

    assert [s.path for s in image.sources] == ["/etc/apt/sources.list.d/debian.sources"]
    assert [k.path for k in image.keyrings] == [
        "/usr/share/keyrings/debian-archive-keyring.gpg",
        "/usr/share/keyrings/kept.gpg",
    ]
    assert image.distro == "debian"
    assert ("GET", f"/v2/baseimage/layers/blobs/{upper_digest}") not in registry.requests()


def test_inspect_without_os_release(registry: Registry) -> None:
    digest, _ = push_layers(registry, "baseimage/none", [tar_bytes([file("app/main.py", "")])])

    with pytest.raises(BaseImageError) as e:
        run_inspect(registry.host, "baseimage/none", digest)

    assert str(e.value) == (
        f"{registry.host}/baseimage/none@{digest}: image has no /etc/os-release (1 layer read)"
    )


def test_inspect_second_time_reads_the_cache_only(registry: Registry, tmp_path: Path) -> None:
    digest, [layer] = push_layers(registry, "baseimage/cached", [tar_bytes(debian_rootfs())])
    registry.clear_requests()

    first = run_inspect(registry.host, "baseimage/cached", digest, cache_dir=tmp_path)
    assert registry.requests() == [
        ("GET", f"/v2/baseimage/cached/manifests/{digest}"),
        ("GET", f"/v2/baseimage/cached/blobs/{layer}"),
    ]
    registry.clear_requests()

    second = run_inspect(registry.host, "baseimage/cached", digest, cache_dir=tmp_path)

    assert registry.requests() == []
    assert second == first
    assert (tmp_path / "layers" / f"{layer.replace(':', '-')}.json").is_file()


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "pinner"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "pinner"


def test_inspect_refetches_a_damaged_cache(registry: Registry, tmp_path: Path) -> None:
    digest, [layer] = push_layers(registry, "baseimage/damaged", [tar_bytes(debian_rootfs())])
    first = run_inspect(registry.host, "baseimage/damaged", digest, cache_dir=tmp_path)
    (tmp_path / "layers" / f"{layer.replace(':', '-')}.json").write_text("{not json")
    (tmp_path / "manifests" / f"{digest.replace(':', '-')}.json").write_text("{}")
    registry.clear_requests()

    assert run_inspect(registry.host, "baseimage/damaged", digest, cache_dir=tmp_path) == first
    assert len(registry.requests()) == 2


def test_inspect_reads_zstd_layers(registry: Registry) -> None:
    """Layers pushed with `--compression-format zstd` (many frames, as zstd:chunked writes them)."""
    media_type = "application/vnd.oci.image.layer.v1.tar+zstd"
    plain = tar_bytes(debian_rootfs())
    zstd = zstandard.ZstdCompressor()
    frames = b"".join(zstd.compress(plain[i : i + 4096]) for i in range(0, len(plain), 4096))
    digest, _ = push_layers(registry, "baseimage/zstd", [plain], media_type, blobs=[frames])

    image = run_inspect(registry.host, "baseimage/zstd", digest)

    assert image.codename == "bookworm"
    assert image.sources == run_inspect(registry.host, *_gzip_twin(registry, plain)).sources


def _gzip_twin(registry: Registry, plain: bytes) -> tuple[str, str]:
    digest, _ = push_layers(registry, "baseimage/gzip-twin", [plain])
    return "baseimage/gzip-twin", digest


def test_inspect_refuses_an_index(registry: Registry) -> None:
    digest, _ = push_layers(registry, "baseimage/index", [tar_bytes(debian_rootfs())])
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPES["oci_index"],
            "manifests": [
                {
                    "mediaType": MEDIA_TYPES["oci_manifest"],
                    "digest": digest,
                    "size": 1,
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        }
    ).encode()
    with registry.client() as c:
        index_digest = push_manifest(
            c, registry.url, "baseimage/index", "multi", index, MEDIA_TYPES["oci_index"]
        )

    with pytest.raises(RegistryError) as e:
        run_inspect(registry.host, "baseimage/index", index_digest)

    assert str(e.value) == (
        f"{registry.host}/baseimage/index@{index_digest}: is an index; pick a platform's manifest"
    )


def test_inspect_refuses_a_blob_that_does_not_match_its_digest() -> None:
    # A real registry checks digests on upload, so only a fake one can serve wrong bytes.
    layer = gzip.compress(tar_bytes(debian_rootfs()), mtime=0)
    claimed = "sha256:" + "0" * 64
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPES["oci_manifest"],
            "config": {"mediaType": MEDIA_TYPES["oci_config"], "digest": claimed, "size": 2},
            "layers": [{"mediaType": MEDIA_TYPES["oci_layer"], "digest": claimed, "size": 1}],
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        if "/manifests/" in request.url.path:
            headers = {"Content-Type": MEDIA_TYPES["oci_manifest"]}
            return httpx.Response(200, content=manifest, headers=headers)
        return httpx.Response(200, content=layer)

    with pytest.raises(RegistryError) as e:
        run_inspect("fake.test", "x", digest, transport=httpx.MockTransport(handler))

    got = "sha256:" + hashlib.sha256(layer).hexdigest()
    assert str(e.value) == f"blob {claimed}: registry served bytes whose digest is {got}"


# --------------------------------------------------------------------------- scan_layer, pure


@pytest.mark.parametrize(
    "data", hostile_tars("etc/os-release").values(), ids=list(hostile_tars(""))
)
def test_a_layer_whose_pax_headers_do_not_parse_is_one_base_image_error(data: bytes) -> None:
    # tarfile raises ValueError on these, not TarError; an infinite mtime is no matter here.
    try:
        scan_layer([gzip.compress(data)])
    except BaseImageError as error:
        assert str(error).startswith("layer is not a readable tar archive (")


def test_scan_layer_reads_gzip_bz2_zstd_and_plain_tar_in_small_chunks() -> None:
    plain = tar_bytes(debian_rootfs())
    expected = scan_layer([plain])
    zstd = zstandard.ZstdCompressor().compress
    for data in (plain, gzip.compress(plain), bz2.compress(plain), zstd(plain)):
        assert scan_layer(chunked(data, 7)) == expected
    assert read_file(expected, "etc/os-release") == (BOOKWORM / "rootfs.os-release").read_bytes()
    assert "usr/bin/tool1" not in expected
    assert "usr/share/keyrings/README" not in expected


def test_scan_layer_keeps_only_the_apt_stanza_of_dpkg_status() -> None:
    entries = scan_layer([tar_bytes(debian_rootfs())])
    assert entries["var/lib/dpkg/status"].data == (
        b"Package: apt\nStatus: install ok installed\nPriority: important\nArchitecture: amd64\n"
        b"Version: 2.6.1\nDescription: commandline package manager\n"
        b" This package provides commandline tools.\n"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            # A cut inside zstd's first block unpacks to nothing at all.
            zstandard.ZstdCompressor().compress(tar_bytes(debian_rootfs()))[:5000],
            "layer is not a readable tar archive (empty file)",
        ),
        (
            gzip.compress(b"not a tar " * 100),
            "layer is not a readable tar archive (invalid header)",
        ),
        (
            gzip.compress(tar_bytes(debian_rootfs()))[:5000],
            "layer is not a readable tar archive (unexpected end of data)",
        ),
    ],
    ids=["zstd", "gzip-not-tar", "truncated"],
)
def test_scan_layer_errors(data: bytes, message: str) -> None:
    with pytest.raises(BaseImageError) as e:
        scan_layer([data])
    assert str(e.value) == message


def test_scan_layer_of_nothing_is_empty() -> None:
    assert scan_layer([]) == {}
    assert scan_layer([tar_bytes([])]) == {}


def test_scan_layer_refuses_a_huge_wanted_file() -> None:
    with pytest.raises(BaseImageError) as e:
        scan_layer([tar_bytes([file("etc/apt/sources.list", b"#" * (4 * 1024 * 1024 + 1))])])
    assert str(e.value) == "/etc/apt/sources.list is over the 4 MiB limit"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        (
            [link("etc/os-release", "../usr/lib/os-release"), file("usr/lib/os-release", "ID=a\n")],
            "ID=a\n",
        ),
        (
            [link("etc/os-release", "/usr/lib/os-release"), file("usr/lib/os-release", "ID=b\n")],
            "ID=b\n",
        ),
        ([file("usr/lib/os-release", "ID=fallback\n")], "ID=fallback\n"),
        (
            # a wanted link's target is collected when it comes later, even outside the wanted set
            [link("etc/os-release", "../opt/os/release"), file("opt/os/release", "ID=c\n")],
            "ID=c\n",
        ),
        (
            # through a directory symlink (merged /usr) and a chain of links
            [
                link("lib", "usr/lib"),
                link("etc/os-release", "/lib/os-release"),
                link("usr/lib/os-release", "os-release.real"),
                file("usr/lib/os-release.real", "ID=d\n"),
            ],
            "ID=d\n",
        ),
        (
            [
                file("usr/lib/os-release", "ID=e\n"),
                hardlink("etc/os-release", "usr/lib/os-release"),
            ],
            "ID=e\n",
        ),
        ([link("etc/os-release", "os-release"), file("usr/lib/os-release", "ID=f\n")], "ID=f\n"),
        ([link("etc/os-release", "nowhere")], None),
    ],
    ids=[
        "relative",
        "absolute",
        "fallback",
        "later-target",
        "dir-link-chain",
        "hardlink",
        "loop-falls-back",
        "dangling",
    ],
)
def test_symlinks(members: list[Member], expected: str | None) -> None:
    entries = scan_layer([tar_bytes(members)])
    text = read_file(entries, "etc/os-release") or read_file(entries, "usr/lib/os-release")
    assert (text.decode() if text else None) == expected


def test_merge_applies_whiteouts_to_lower_layers_only() -> None:
    lower = {
        "etc/apt/sources.list.d": FileEntry("dir"),
        "etc/apt/sources.list.d/a.list": FileEntry("file", b"a"),
        "usr/share/keyrings/k.gpg": FileEntry("file", b"k"),
        "etc/os-release": FileEntry("symlink", target="../usr/lib/os-release"),
    }
    upper = {
        "etc/apt/sources.list.d": FileEntry("opaque"),
        "etc/apt/sources.list.d/b.list": FileEntry("file", b"b"),
        "usr/share/keyrings/k.gpg": FileEntry("whiteout"),
        "etc/os-release": FileEntry("file", b"ID=x\n"),
    }
    assert merge(lower, upper) == {
        "etc/apt/sources.list.d": FileEntry("dir"),
        "etc/apt/sources.list.d/b.list": FileEntry("file", b"b"),
        "etc/os-release": FileEntry("file", b"ID=x\n"),
    }


def test_describe_without_os_release() -> None:
    with pytest.raises(BaseImageError) as e:
        describe({})
    assert str(e.value) == "image has no /etc/os-release"


# --------------------------------------------------------------------------- parsing tables

OFFICIAL = sorted(TESTDATA.glob("*/*/**/rootfs.os-release"))
VERSIONS = {"bullseye": "11", "bookworm": "12", "trixie": None}


def suite_of(path: Path) -> str:
    return next(part for part in path.parts if part in VERSIONS)


@pytest.mark.parametrize("path", OFFICIAL, ids=lambda p: str(p.parent.relative_to(TESTDATA)))
def test_parse_os_release_of_official_images(path: Path) -> None:
    fields = parse_os_release(path.read_text())
    suite = suite_of(path)
    image = describe({"etc/os-release": FileEntry("file", path.read_bytes())})
    assert (fields["ID"], fields.get("VERSION_ID"), fields["VERSION_CODENAME"]) == (
        "debian",
        VERSIONS[suite],
        suite,
    )
    assert (image.distro, image.codename) == ("debian", suite)
    assert fields["NAME"] == "Debian GNU/Linux"
    assert fields["HOME_URL"] == "https://www.debian.org/"


def test_official_testdata_is_all_there() -> None:
    assert len(OFFICIAL) == 12  # amd64, arm64v8 x bullseye, bookworm, trixie x default, slim


def test_parse_os_release_exactly() -> None:
    assert parse_os_release((BOOKWORM / "rootfs.os-release").read_text()) == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)",
        "NAME": "Debian GNU/Linux",
        "VERSION_ID": "12",
        "VERSION": "12 (bookworm)",
        "VERSION_CODENAME": "bookworm",
        "ID": "debian",
        "HOME_URL": "https://www.debian.org/",
        "SUPPORT_URL": "https://www.debian.org/support",
        "BUG_REPORT_URL": "https://bugs.debian.org/",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ID=debian\n", {"ID": "debian"}),
        ('NAME="Debian GNU/Linux"\n', {"NAME": "Debian GNU/Linux"}),
        ("NAME='single quoted'\n", {"NAME": "single quoted"}),
        ("X='a\\b \"c\"'\n", {"X": 'a\\b "c"'}),
        ('X="a \\"b\\" \\$c \\\\ d"\n', {"X": 'a "b" $c \\ d'}),
        ("# comment\n\n  ID=x  \r\n", {"ID": "x"}),
        ('VERSION_ID=""\n', {"VERSION_ID": ""}),
        ('BROKEN="unterminated\n', {"BROKEN": "unterminated"}),
        ("not a line\n1X=y\n=z\n", {}),
        ("ID=a\nID=b\n", {"ID": "b"}),
    ],
    ids=[
        "plain",
        "double",
        "single",
        "single-literal",
        "escapes",
        "comment-blank-crlf",
        "empty",
        "unbalanced",
        "invalid",
        "last-wins",
    ],
)
def test_parse_os_release(text: str, expected: dict[str, str]) -> None:
    assert parse_os_release(text) == expected


@pytest.mark.parametrize(
    ("text", "codename", "distro"),
    [
        ('ID=debian\nVERSION_ID=8\nVERSION="8 (jessie)"\n', "jessie", "debian"),
        ("ID=ubuntu\nUBUNTU_CODENAME=jammy\n", "jammy", "ubuntu"),
        ('ID=ubuntu\nVERSION="16.04.7 LTS (Xenial Xerus)"\n', None, "ubuntu"),
        ("ID=alpine\nVERSION_ID=3.20.3\n", None, "alpine"),
        ("NAME=x\n", None, "linux"),
    ],
    ids=["jessie-version", "ubuntu-codename", "no-lowercase-codename", "alpine", "defaults"],
)
def test_codename_fallbacks(text: str, codename: str | None, distro: str) -> None:
    image = describe({"usr/lib/os-release": FileEntry("file", text.encode())})
    assert (image.codename, image.distro) == (codename, distro)


OFFICIAL_SOURCES = sorted(
    [*TESTDATA.glob("**/rootfs.debian-sources"), *TESTDATA.glob("**/rootfs.sources-list")]
)


@pytest.mark.parametrize("path", OFFICIAL_SOURCES, ids=lambda p: str(p.relative_to(TESTDATA)))
def test_snapshot_of_official_images(path: Path) -> None:
    assert snapshot_of([SourceFile("/etc/apt/sources.list", path.read_text())]) == SNAPSHOT


def test_official_sources_are_all_there() -> None:
    assert len(OFFICIAL_SOURCES) == 12


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"], "20250520T000000Z"),
        (
            ["# deb http://snapshot.debian.org/archive/debian/20230101T000000Z bookworm main\n"],
            "20230101T000000Z",
        ),
        (
            [
                "deb [check-valid-until=no] https://snapshot.debian.org/archive/debian/20240101T120000Z bookworm main\n"
            ],
            "20240101T120000Z",
        ),
        (["# http://snapshot.debian.org/archive/debian-security/20241202T000000Z\n"], None),
        (
            [
                "# http://snapshot.debian.org/archive/debian-security/20241202T000000Z\n",
                "# http://snapshot.debian.org/archive/debian/20241203T000000Z\n",
            ],
            "20241203T000000Z",
        ),
        (["deb http://deb.debian.org/debian bookworm main\n"], None),
        (["# http://snapshot.debian.org/archive/debian/2024\n"], None),
        ([], None),
    ],
    ids=[
        "deb822",
        "one-line",
        "active-uri",
        "security-only",
        "security-first",
        "none",
        "short",
        "no-files",
    ],
)
def test_snapshot_of(texts: list[str], expected: str | None) -> None:
    sources = [SourceFile(f"/etc/apt/sources.list.d/{i}.list", t) for i, t in enumerate(texts)]
    assert snapshot_of(sources) == expected


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ('VERSION_ID="9.4"', "9.4"),
        ("VERSION_ID=", ""),
        ('VERSION_ID="\u00b2"', None),  # str.isdigit takes it, int() does not
        ("VERSION_ID=" + "9" * 65, None),
        ('VERSION_ID="9\x1b[2J"', None),
        ('VERSION_ID="9 4"', None),
    ],
    ids=["release", "empty", "superscript", "too-long", "control-character", "space"],
)
def test_an_os_release_identifier_with_other_characters_is_left_out(
    line: str, kept: str | None
) -> None:
    fields = parse_os_release(f'ID=rhel\nVERSION_ID=8\n{line}\nNAME="Any Name"\n')

    assert fields.get("VERSION_ID") == kept
    assert (fields["ID"], fields["NAME"]) == ("rhel", "Any Name")
