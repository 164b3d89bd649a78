"""Alpine for the tests: the files of Alpine-like base images and APKINDEX files signed here with
openssl, as abuild-sign signs them.

The recorded real files live in testdata/alpine (see its README).
"""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handmade import HandImage
from testcache import copy_tree, stored_tree, tools_stamp

TESTDATA = Path(__file__).resolve().parent.parent / "testdata" / "alpine"
ROOTFS = TESTDATA / "rootfs"
REAL_KEY = "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"
REAL_INDEX = TESTDATA / "v3.17" / "main" / "aarch64" / "APKINDEX.tar.gz"
OS_RELEASE = (
    'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.16.2\nPRETTY_NAME="Alpine Linux v3.16"\n'
    'HOME_URL="https://alpinelinux.org/"\n'
    'BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"\n'
)


def rootfs_files(
    repositories: str = "https://dl-cdn.alpinelinux.org/alpine/v3.17/main\n",
    keys: Mapping[str, bytes] | None = None,
    arch: str = "aarch64",
    installed: bool = True,
    world: str | None = None,
) -> dict[str, bytes]:
    """An Alpine root's package-manager files: the recorded ones, with repositories as given."""
    files = {
        "etc/os-release": OS_RELEASE.encode(),
        "etc/alpine-release": b"3.16.2\n",
        "etc/apk/arch": f"{arch}\n".encode(),
        "etc/apk/repositories": repositories.encode(),
    }
    if keys is None:
        keys = {REAL_KEY: (ROOTFS / "etc/apk/keys" / REAL_KEY).read_bytes()}
    files.update({f"etc/apk/keys/{name}": data for name, data in keys.items()})
    if installed:
        files["lib/apk/db/installed"] = (ROOTFS / "lib/apk/db/installed").read_bytes()
    if world is not None:
        files["etc/apk/world"] = world.encode()
    return files


# --------------------------------------------------------------------------- signing


def make_key(folder: Path, name: str = "pinner-test@example.org-00000001") -> tuple[Path, str]:
    """An RSA key made with openssl: the private key's path and its public key file's name.

    The pair is made once per name and kept in the test cache (tests/testcache.py): keys of
    different names differ, which is all the tests ask of them.
    """

    def generate(into: Path) -> None:
        into.mkdir(parents=True)
        private = into / f"{name}.rsa"
        subprocess.run(
            ["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
        )
        subprocess.run(
            ["openssl", "rsa", "-in", str(private), "-pubout", "-out", f"{private}.pub"],
            check=True,
            capture_output=True,
        )

    copy_tree(stored_tree("rsa-keys", repr((name, tools_stamp("openssl"))), generate), folder)
    return folder / f"{name}.rsa", f"{name}.rsa.pub"


def _tar(members: Mapping[str, bytes], end: bool = True) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    # abuild-sign cuts the end-of-archive blocks so the two gzip streams read as one tar.
    return data if end else data[: 512 + ((len(next(iter(members.values()))) + 511) // 512) * 512]


def index_archive(apkindex: str, description: str = "v3.17-test") -> bytes:
    """The unsigned index part: a gzip tar of DESCRIPTION and APKINDEX."""
    tar = _tar({"DESCRIPTION": description.encode(), "APKINDEX": apkindex.encode()})
    return gzip.compress(tar, mtime=0)


def sign(index: bytes, private: Path, key_name: str, folder: Path, digest: str = "sha1") -> bytes:
    """index with abuild-sign's signature stream before it, made with `openssl dgst -sign`."""
    unsigned = folder / "index.unsigned"
    unsigned.write_bytes(index)
    signature = subprocess.run(
        ["openssl", "dgst", f"-{digest}", "-sign", str(private), str(unsigned)],
        check=True,
        capture_output=True,
    ).stdout
    kind = "RSA" if digest == "sha1" else "RSA256"
    head = _tar({f".SIGN.{kind}.{key_name}": signature}, end=False)
    return gzip.compress(head, mtime=0) + index


def record(
    name: str, version: str, depends: str = "", provides: str = "", arch: str = "aarch64"
) -> str:
    """One APKINDEX record with a checksum made from name and version."""
    import base64
    import hashlib

    checksum = "Q1" + base64.b64encode(hashlib.sha1(f"{name}-{version}".encode()).digest()).decode()
    lines = [f"C:{checksum}", f"P:{name}", f"V:{version}", f"A:{arch}", "S:1000", "I:4096"]
    lines += [f"D:{depends}"] if depends else []
    lines += [f"p:{provides}"] if provides else []
    return "\n".join(lines) + "\n"


def push_alpine_index(reg: Any, repo: str, tag: str, images: Mapping[str, HandImage]) -> str:
    """Push one image per platform ("linux/arm64") and an OCI index over them; its digest."""
    import json

    from handmade import push, sha
    from registryd import MEDIA_TYPES, push_manifest

    entries = []
    for platform, image in images.items():
        _, arch = platform.split("/", 1)
        digest = push(image, reg, repo, sha(image.manifest_bytes()))
        size = len(image.manifest_bytes())
        entries.append(
            {
                "mediaType": MEDIA_TYPES["oci_manifest"],
                "digest": digest,
                "size": size,
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": MEDIA_TYPES["oci_index"], "manifests": entries}
    ).encode()
    with reg.client() as client:
        return push_manifest(client, reg.url, repo, tag, body, MEDIA_TYPES["oci_index"])
