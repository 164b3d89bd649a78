"""The proof: a Dockerfile that `pinner lock` pinned builds bit for bit identically, twice.

A real Debian bookworm base image (mmdebstrap from Debian's archive) in the test registry, a
stand-in for snapshot.debian.org serving Debian's archive under /archive/<archive>/<ts>/, and
buildah (vfs storage, chroot isolation) building with --timestamp = the locked SOURCE_DATE_EPOCH.
Twice: with deb822 sources (debian.sources, as Debian 12 and later ship) and with a one-line
sources.list (the layout of Debian 11 and older), each pinned by the exact snapshot step.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from buildah import Buildah
from debian_image import (
    DebianImageSpec,
    Sources,
    build_debian_image,
    default_cache_dir,
    push_oci_image,
)
from registryd import Registry, push_image
from snapshot_mirror import SnapshotMirror

from pinner import lockfile
from pinner.main import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("mmdebstrap", "buildah", "gpgv")),
        reason="needs root with mmdebstrap, buildah and gpgv",
    ),
]

BASE_SNAPSHOT = "20241202T000000Z"  # what the base image's sources record (DebianImageSpec)
EPOCH = 1733097600
DOCKERFILE = """\
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends hello
RUN hello > /greeting

FROM debian:bookworm
COPY --from=build /greeting /greeting
RUN apt-get update \\
    && apt-get install -y --no-install-recommends netbase
"""


# docker-library style (buildpack-deps, python): `libz-dev` is virtual, zlib1g-dev provides it.
VIRTUAL_DOCKERFILE = """\
FROM debian:bookworm
RUN set -eux; \\
	apt-get update; \\
	apt-get install -y --no-install-recommends \\
		libz-dev \\
	; \\
	rm -rf /var/lib/apt/lists/*
"""


# rust-lang/docker-rust stable/bookworm/slim style: a `set -eux` script whose RUN ends in `;`.
SEMICOLON_DOCKERFILE = """\
FROM debian:bookworm
RUN set -eux; \\
    apt-get update; \\
    apt-get install -y --no-install-recommends \\
        hello \\
        ; \\
    hello --version; \\
    rm -rf /var/lib/apt/lists/*;
"""


@pytest.fixture(scope="module")
def mirror() -> Iterator[SnapshotMirror]:
    with SnapshotMirror(default_cache_dir() / "snapshot") as m:
        yield m


@pytest.fixture(scope="module", params=["deb822", "one-line"])
def layout(request: pytest.FixtureRequest) -> str:
    """The base image's apt sources: deb822 debian.sources or a one-line sources.list."""
    return str(request.param)


@pytest.fixture(scope="module")
def hub(registry: Registry, layout: Sources) -> str:
    """The test registry as Docker Hub: the real Debian image and a Dockerfile frontend."""
    image = build_debian_image(default_cache_dir() / "images", DebianImageSpec(sources=layout))
    push_oci_image(image, registry.url, "library/debian", "bookworm", as_index=True)
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def lock_at_base_time(
    text: str, name: str, hub: str, mirror: SnapshotMirror, factory: pytest.TempPathFactory
) -> Path:
    """A folder holding text as its Dockerfile, locked at the base image's snapshot time."""
    folder = factory.mktemp(name)
    (folder / "Dockerfile").write_text(text)
    argv = [
        "lock",
        "--quiet",
        "--snapshot",
        BASE_SNAPSHOT,  # the one-line layout records no snapshot time to take as "base"
        "--registry-mirror",
        f"docker.io=http://{hub}",
        "--snapshot-mirror",
        f"debian={mirror.url}/archive",
        str(folder / "Dockerfile"),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_CONFIG", str(factory.mktemp("docker-config")))
        assert main(argv) == 0
    return folder


@pytest.fixture(scope="module")
def locked(hub: str, mirror: SnapshotMirror, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A legacy Dockerfile, locked."""
    return lock_at_base_time(DOCKERFILE, "locked", hub, mirror, tmp_path_factory)


@pytest.fixture(scope="module")
def locked_virtual(
    hub: str, mirror: SnapshotMirror, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """VIRTUAL_DOCKERFILE, locked."""
    return lock_at_base_time(VIRTUAL_DOCKERFILE, "virtual", hub, mirror, tmp_path_factory)


@pytest.fixture(scope="module")
def builder(hub: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    with Buildah(tmp_path_factory.mktemp("buildah"), docker_io_mirror=hub) as b:
        yield b


def build_digest(builder: Buildah, context: Path, tag: str) -> str:
    builder.bud(context, tag, timestamp=EPOCH)
    return builder.manifest_digest(tag)


def test_lock_records_snapshot_epoch_and_packages(locked: Path) -> None:
    lock = lockfile.parse((locked / "Dockerfile.lock").read_text(), "Dockerfile.lock")
    assert (lock.snapshot, lock.source_date_epoch) == (BASE_SNAPSHOT, EPOCH)
    packages = {
        (s.stage, p.name, p.architecture, p.version) for s in lock.stages for p in s.packages
    }
    assert packages == {("build", "hello", "amd64", "2.10-3"), ("1", "netbase", "amd64", "6.4")}
    assert {(s.stage, s.distro, s.release, s.signature) for s in lock.stages} == {
        ("build", "debian", "bookworm", "verified"),
        ("1", "debian", "bookworm", "verified"),
    }
    assert {s.step for s in lock.stages} == {"exact"}
    text = (locked / "Dockerfile").read_text()
    assert text.startswith("# syntax=docker/dockerfile:1.23@sha256:")
    assert text.count("# pinner: apt snapshot debian 20241202T000000Z\nRUN sed -Ei ") == 2
    assert text.count("ARG SOURCE_DATE_EPOCH\n") == 2
    assert f"ARG SOURCE_DATE_EPOCH={EPOCH}\n" in text


def test_check_passes_and_relock_changes_nothing(
    locked: Path, hub: str, mirror: SnapshotMirror
) -> None:
    before = {p.name: p.read_bytes() for p in locked.iterdir()}
    mirror.clear_log()
    argv = [
        "lock",
        "--quiet",
        "--registry-mirror",
        f"docker.io=http://{hub}",
        str(locked / "Dockerfile"),
    ]
    assert main(argv) == 0
    assert {p.name: p.read_bytes() for p in locked.iterdir()} == before
    assert mirror.log == []
    assert main(["check", "--quiet", str(locked / "Dockerfile")]) == 0


def test_two_builds_are_bit_identical_and_fetch_only_from_the_snapshot(
    locked: Path, builder: Buildah, mirror: SnapshotMirror, tmp_path: Path
) -> None:
    mirror.clear_log()
    first = build_digest(builder, locked, "pinned-a")
    log = mirror.log
    second = build_digest(builder, locked, "pinned-b")

    assert first == second
    fetched = [e.path for e in log]
    assert any(p.endswith("/pool/main/h/hello/hello_2.10-3_amd64.deb") for p in fetched)
    assert all(re.match(rf"/archive/debian(-security)?/{BASE_SNAPSHOT}/", p) for p in fetched), (
        fetched
    )


def test_the_printed_buildah_command_builds_the_same_image(
    locked: Path, hub: str, builder: Buildah, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["lock", "--registry-mirror", f"docker.io=http://{hub}", str(locked / "Dockerfile")]
    assert main(argv) == 0
    (printed,) = [
        line.strip()
        for line in capsys.readouterr().err.splitlines()
        if line.strip().startswith("buildah build ")
    ]
    assert printed == f"buildah build -f {locked / 'Dockerfile'} --timestamp {EPOCH} {locked}"
    iidfile = tmp_path / "iid"
    # As printed, with this test's isolation, policy and image-ID file after the subcommand
    # (buildah takes no option after the context).
    command, subcommand, *args = shlex.split(printed)
    builder.run(
        subcommand,
        "--isolation",
        "chroot",
        "--signature-policy",
        str(builder.policy),
        "--iidfile",
        str(iidfile),
        *args,
    )
    assert command == "buildah"
    built = builder.manifest_digest(iidfile.read_text().strip())
    assert built == build_digest(builder, locked, "pinned-c")


def test_negative_control_without_cleanup_the_digests_differ(
    locked: Path, builder: Buildah, tmp_path: Path
) -> None:
    text = (locked / "Dockerfile").read_text()
    stripped = re.sub(r" \\\n    && apt-get clean && rm -rf [^\n]*", "", text)
    assert stripped != text
    (tmp_path / "Dockerfile").write_text(stripped)
    assert build_digest(builder, tmp_path, "dirty-a") != build_digest(builder, tmp_path, "dirty-b")


def test_build_args_prints_the_epoch(locked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build-args", str(locked / "Dockerfile")]) == 0
    assert capsys.readouterr().out == f"--build-arg SOURCE_DATE_EPOCH={EPOCH}\n"
    assert main(["build-args", "--json", str(locked / "Dockerfile")]) == 0
    assert json.loads(capsys.readouterr().out) == {"SOURCE_DATE_EPOCH": str(EPOCH)}


def test_a_virtual_package_is_locked_as_its_provider_and_builds_identically(
    locked_virtual: Path, builder: Buildah, mirror: SnapshotMirror
) -> None:
    lock = lockfile.parse((locked_virtual / "Dockerfile.lock").read_text(), "Dockerfile.lock")
    ((package,),) = [s.packages for s in lock.stages]
    assert (package.name, package.provider, package.architecture) == (
        "libz-dev",
        "zlib1g-dev",
        "amd64",
    )
    mirror.clear_log()
    first = build_digest(builder, locked_virtual, "virtual-a")
    fetched = [e.path for e in mirror.log]
    second = build_digest(builder, locked_virtual, "virtual-b")

    assert first == second
    # apt quotes `+` in pool paths (zlib1g-dev_1.2.13.dfsg-1%2bdeb12u1_amd64.deb).
    assert any(unquote(p).endswith("/" + package.filename) for p in fetched), fetched


def test_a_run_ending_in_a_semicolon_gets_its_cleanup_and_builds_identically(
    hub: str,
    mirror: SnapshotMirror,
    builder: Buildah,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docker-rust's ending: `; \\` then `&& cleanup` was a syntax error in every build."""
    folder = lock_at_base_time(SEMICOLON_DOCKERFILE, "semicolon", hub, mirror, tmp_path_factory)
    text = (folder / "Dockerfile").read_text()
    assert "    rm -rf /var/lib/apt/lists/* \\\n    && apt-get clean && rm -rf " in text
    assert text.endswith(";\n")
    assert main(["check", str(folder / "Dockerfile")]) == 0, capsys.readouterr().out

    first = build_digest(builder, folder, "semicolon-a")
    second = build_digest(builder, folder, "semicolon-b")

    assert first == second
