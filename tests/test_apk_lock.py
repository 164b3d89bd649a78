"""`pinner lock`, `update` and `check --remote` on apk stages: a real registry holding an
Alpine-like image with Alpine's own files, and a local mirror serving recorded and signed indexes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alpine_support import (
    REAL_INDEX,
    AlpineMirror,
    alpine_image,
    rootfs_files,
)
from cli import run
from handmade import push
from registryd import Registry, push_image
from shell_syntax import run_errors

from pinner import lockfile

REAL = "https://dl-cdn.alpinelinux.org/alpine/v3.17/main\n"
DOCKERFILE = """\
FROM alpine:3.16
RUN apk add --no-cache curl
RUN set -eux; \\
    apk add --no-cache --virtual .build-deps gcc bash; \\
    apk del --no-network .build-deps
RUN apk add git
"""


@pytest.fixture(scope="module")
def mirror() -> Iterator[AlpineMirror]:
    with AlpineMirror({"/v3.17/main/aarch64/APKINDEX.tar.gz": REAL_INDEX.read_bytes()}) as m:
        yield m


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    push(alpine_image(rootfs_files(REAL)), registry, "library/alpine", "3.16")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_config: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def _lock(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: AlpineMirror, *args: str
) -> tuple[int, str, str]:
    return run(
        capsys,
        "lock",
        "--registry-mirror",
        f"docker.io=http://{hub}",
        "--snapshot-mirror",
        f"alpine={mirror.url}",
        "--platform",
        "linux/arm64",
        *args,
    )


def test_lock_records_the_closure_from_the_real_signed_index(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: AlpineMirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE)
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    (stage,) = lock.stages
    assert stage.package_manager == "apk"
    assert stage.distro == "alpine"
    assert stage.release == "3.16.2"
    assert stage.signature == "verified"
    assert "pinned, not rebuildable once the branch moves on" in stage.notes
    versions = {p.name: p.version for p in stage.packages}
    # curl's closure minus what the 3.16 base holds (zlib, musl, ca-certificates-bundle).
    assert versions["curl"] == "8.1.1-r1"
    assert versions["libcurl"] == "8.1.1-r1"
    assert versions["git"] == "2.38.5-r0"
    assert versions["bash"] == "5.2.15-r0"
    assert "zlib" not in versions and "musl" not in versions
    curl = next(p for p in stage.packages if p.name == "curl")
    assert curl.checksum == "Q15PbnQa1gDcsHbkMOWDlD8LEJ5ys="
    assert curl.filename == "v3.17/main/aarch64/curl-8.1.1-r1.apk"
    assert curl.architecture == "aarch64"
    text = (env / "Dockerfile").read_text()
    # Without --pin-versions no version is written; the cache cleanup only where apk keeps one.
    assert "curl=" not in text
    assert "RUN apk add git \\\n    && rm -rf /var/cache/apk/*\n" in text
    assert text.count("rm -rf /var/cache/apk/*") == 1
    assert run_errors(text) == []
    assert mirror.log.count("/v3.17/main/aarch64/APKINDEX.tar.gz") >= 1


def test_pin_versions_writes_pins_into_package_words_only(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: AlpineMirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    text = (env / "Dockerfile").read_text()
    assert "RUN apk add --no-cache curl=8.1.1-r1\n" in text
    assert (
        "apk add --no-cache --virtual .build-deps gcc=12.2.1_git20220924-r4 bash=5.2.15-r0;" in text
    )
    assert "apk del --no-network .build-deps\n" in text
    assert "RUN apk add git=2.38.5-r0 \\\n    && rm -rf /var/cache/apk/*\n" in text
    assert run_errors(text) == []
    # A second lock changes nothing: the pins are the versions the branch serves.
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    assert (env / "Dockerfile").read_text() == text
    assert (env / "Dockerfile.lock").read_text() == before
