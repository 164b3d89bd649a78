"""A Dockerfile and its lock as `pinner lock --snapshot TS` writes them, made offline with the same
pure functions the engine runs (rewritten, pin, render); digests are made up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pinner import dockerfile, lockfile, pinning, reproducible
from pinner.lockfile import Lock, LockedPackage, LockedStage
from pinner.manifest import OCI_MANIFEST, Manifest
from pinner.reference import ImageRef

TS = "20241202T000000Z"
EPOCH = 1733097600
HELLO = LockedPackage(
    "hello", "amd64", "2.10-3", "ab" * 32, "pool/main/h/hello/hello_2.10-3_amd64.deb"
)
NETBASE = LockedPackage(
    "netbase", "amd64", "6.4", "cd" * 32, "pool/main/n/netbase/netbase_6.4_all.deb"
)
HELLO_RUN = "RUN apt-get update && apt-get install -y --no-install-recommends hello"
NETBASE_RUN = "RUN apt-get update && apt-get install -y netbase"
DOCKERFILE = f"""\
FROM debian:bookworm AS build
{HELLO_RUN}

FROM build
{NETBASE_RUN}
"""


def apt_stage(label: str, *packages: LockedPackage) -> LockedStage:
    return LockedStage(
        stage=label,
        distro="debian",
        release="bookworm",
        package_manager="apt",
        snapshot=TS,
        signature="verified",
        packages=packages,
    )


STAGES = (apt_stage("build", HELLO), apt_stage("1", NETBASE))


def write_locked(
    folder: Path, text: str = DOCKERFILE, stages: Sequence[LockedStage] = STAGES
) -> Path:
    """Write text and its lock as `pinner lock --snapshot TS` would, digests made up."""
    path = folder / "Dockerfile"
    rewrite = reproducible.Rewrite(TS, EPOCH, {s.stage: s.distro for s in stages}, {}, {})
    new = reproducible.rewritten(dockerfile.parse(text, str(path)), rewrite).text
    parsed = dockerfile.parse(new, str(path))
    resolved = {}
    for use in parsed.uses:
        query = pinning.query(use)
        resolved[query] = Manifest(fake_digest(query), OCI_MANIFEST)
    pinned = pinning.pin(
        parsed, resolved, Lock(snapshot=TS, source_date_epoch=EPOCH, stages=tuple(stages))
    )
    path.write_text(pinned.text)
    (folder / "Dockerfile.lock").write_text(lockfile.render(pinned.lock, "Dockerfile"))
    return path


def fake_digest(ref: ImageRef) -> str:
    """A stable stand-in digest per query, so tables can name it."""
    return "sha256:" + hashlib.sha256(str(ref).encode()).hexdigest()


def pin_text(text: str, build_args: dict[str, str] | None = None) -> str:
    """text pinned as `pinner lock` pins it, with made-up digests."""
    parsed = dockerfile.parse(text, "Dockerfile", build_args)
    resolved = {}
    for use in parsed.uses:
        query = pinning.query(use)
        digest = query.digest or fake_digest(query)
        resolved[query] = Manifest(digest, OCI_MANIFEST)
    return pinning.pin(parsed, resolved, Lock()).text
