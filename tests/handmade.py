"""Small images made by hand for diff tests: tar layers written here, stored three ways.

An image is written as an OCI layout, as a docker-archive tar (uncompressed layers, as `docker
save` and `buildah push docker-archive:` write them) and pushed to the test registry, so one image
can be read through every kind of source pinner supports.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registryd import MEDIA_TYPES, Registry, push_blob, push_manifest


def sha(data: bytes) -> str:
    """'sha256:<hex>' of data."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One tar entry: a file (data), a dir, a symlink or hard link (target)."""

    name: str
    data: bytes = b""
    kind: str = "file"
    mode: int = 0o644
    mtime: int = 1700000000
    target: str = ""
    uid: int = 0
    gid: int = 0


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
}


def layer_tar(entries: list[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """An uncompressed tar of the entries, in the order given."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = _TYPES[e.kind]
            info.mode = e.mode if e.kind != "dir" or e.mode != 0o644 else 0o755
            info.mtime = e.mtime
            info.uid, info.gid = e.uid, e.gid
            info.linkname = e.target
            if e.kind == "file":
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return raw.getvalue()


def _pax_member(name: str, record: bytes) -> bytes:
    """A tar of one empty file name whose PAX header holds record as written, checked or not."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, len(record)
    padding = b"\0" * (-len(record) % tarfile.BLOCKSIZE)
    member = tarfile.TarInfo(name).tobuf(tarfile.USTAR_FORMAT)
    return header.tobuf(tarfile.USTAR_FORMAT) + record + padding + member + b"\0" * 1024


def _pax_record(keyword: str, value: str) -> bytes:
    """One short PAX record: its length (two digits, themselves counted), keyword and value."""
    body = f" {keyword}={value}\n".encode()
    assert len(body) < 98
    return b"%d" % (len(body) + 2) + body


def hostile_tars(name: str) -> dict[str, bytes]:
    """Tars of one member name whose PAX header tarfile turns into ValueError or OverflowError
    rather than TarError; by what is wrong with them."""
    return {
        "a sparse map of words": _pax_member(name, _pax_record("GNU.sparse.map", "a,b")),
        "a record length of 5000 digits": _pax_member(name, b"9" * 5000 + b" path=x\n"),
        "an infinite mtime": _pax_member(name, _pax_record("mtime", "1e999")),
    }


@dataclass
class HandImage:
    """An image: uncompressed layer tars and config fields; blobs derived from them."""

    layers: list[bytes]
    env: list[str] = field(default_factory=lambda: ["PATH=/usr/bin:/bin"])
    created: str = "2024-01-01T00:00:00Z"
    architecture: str = "amd64"
    extra: dict[str, Any] = field(default_factory=dict)
    compresslevel: int = 9

    def config_bytes(self) -> bytes:
        config = {
            "architecture": self.architecture,
            "os": "linux",
            "created": self.created,
            "config": {"Env": self.env, "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in self.layers]},
            "history": [
                {"created": self.created, "created_by": f"layer {i}"}
                for i in range(len(self.layers))
            ],
            **self.extra,
        }
        return json.dumps(config, sort_keys=True).encode()

    def gzipped(self) -> list[bytes]:
        return [gzip.compress(t, self.compresslevel, mtime=0) for t in self.layers]

    def manifest_bytes(self) -> bytes:
        config = self.config_bytes()
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPES["oci_manifest"],
            "config": {
                "mediaType": MEDIA_TYPES["oci_config"],
                "digest": sha(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": MEDIA_TYPES["oci_layer"], "digest": sha(g), "size": len(g)}
                for g in self.gzipped()
            ],
        }
        return json.dumps(manifest, sort_keys=True).encode()

    def digest(self) -> str:
        return sha(self.manifest_bytes())


def write_layout(image: HandImage, directory: Path, tag: str = "latest") -> str:
    """Write the image as an OCI layout; return its manifest digest."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in [image.config_bytes(), *image.gzipped(), image.manifest_bytes()]:
        (blobs / sha(blob).split(":")[1]).write_bytes(blob)
    manifest = image.manifest_bytes()
    entry = {
        "mediaType": MEDIA_TYPES["oci_manifest"],
        "digest": sha(manifest),
        "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return sha(manifest)


def write_archive(image: HandImage, path: Path, tag: str = "hand/made:latest") -> None:
    """Write the image as a legacy docker-archive tar (<id>/layer.tar, <hex>.json)."""
    config = image.config_bytes()
    members: dict[str, bytes] = {}
    names = []
    for i, layer in enumerate(image.layers):
        name = f"{i:064x}/layer.tar"
        members[name] = layer
        names.append(name)
    config_name = sha(config).split(":")[1] + ".json"
    members[config_name] = config
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": names}]
    members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def push(image: HandImage, reg: Registry, repo: str, tag: str) -> str:
    """Push the image to the test registry; return its manifest digest."""
    with reg.client() as client:
        for blob in [image.config_bytes(), *image.gzipped()]:
            push_blob(client, reg.url, repo, blob)
        return push_manifest(
            client, reg.url, repo, tag, image.manifest_bytes(), MEDIA_TYPES["oci_manifest"]
        )
