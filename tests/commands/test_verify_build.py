"""`pinner verify` and `pinner diff` on real buildah builds of locked Dockerfiles.

A real Debian bookworm base image (mmdebstrap) in the test registry as docker.io's mirror; the
"published" image is built once with buildah at the lock's SOURCE_DATE_EPOCH and pushed to the
registry; `pinner verify --builder buildah` builds it again and compares.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from buildah import Buildah
from debian_image import DebianImageSpec, build_debian_image, default_cache_dir, push_oci_image
from registryd import Registry, push_image

from pinner.main import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("mmdebstrap", "buildah")),
        reason="needs root with mmdebstrap and buildah",
    ),
]

STEADY = "FROM debian:bookworm\nENV MODE=dev\nRUN echo hello > /greeting\n"
PLANTED = "FROM debian:bookworm\nRUN date +%s%N > /built-at\n"


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    """The test registry as Docker Hub: the real Debian image and a Dockerfile frontend."""
    image = build_debian_image(default_cache_dir() / "images", DebianImageSpec(sources="deb822"))
    push_oci_image(image, registry.url, "library/debian", "bookworm", as_index=True)
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


@pytest.fixture(scope="module")
def builder(hub: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    with Buildah(tmp_path_factory.mktemp("buildah"), docker_io_mirror=hub) as b:
        yield b


@pytest.fixture(autouse=True)
def environment(builder: Buildah, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pinner's buildah runs in the test's private storage, through the registry mirror."""
    for key in ("CONTAINERS_REGISTRIES_CONF", "CONTAINERS_STORAGE_CONF", "BUILDAH_ISOLATION"):
        monkeypatch.setenv(key, builder.env()[key])
    monkeypatch.setenv("TMPDIR", str(builder.tmp))
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "docker-config" / "config.json").write_text("{}")  # buildah reads it when set
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def lock(folder: Path, hub: str, text: str) -> tuple[Path, int]:
    """Write and lock a Dockerfile; return it and its SOURCE_DATE_EPOCH."""
    folder.mkdir()
    (folder / "Dockerfile").write_text(text)
    argv = [
        "lock",
        "-q",
        "--registry-mirror",
        f"docker.io=http://{hub}",
        str(folder / "Dockerfile"),
    ]
    assert main(argv) == 0
    lock_text = (folder / "Dockerfile.lock").read_text()
    return folder / "Dockerfile", int(lock_text.split("source-date-epoch = ")[1].split("\n")[0])


def publish(builder: Buildah, dockerfile: Path, epoch: int, dest: str) -> str:
    """Build as the project's CI would and push to dest; return the pushed manifest digest."""
    tag = f"localhost/published-{dockerfile.parent.name}"
    args = {"SOURCE_DATE_EPOCH": str(epoch)}
    builder.bud(dockerfile.parent, tag, timestamp=epoch, build_args=args)
    return builder.push(tag, dest, "--tls-verify=false")


def verify(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["verify", "-q", "--builder", "buildah", "--platform", "linux/amd64", *argv])
    return code, capsys.readouterr().out


def test_locked_dockerfile_is_reproduced_and_the_three_sources_agree(
    hub: str, builder: Buildah, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile, epoch = lock(tmp_path / "steady", hub, STEADY)
    image = f"{hub}/verify/steady:1"
    digest = publish(builder, dockerfile, epoch, f"docker://{image}")

    code, out = verify(capsys, image, str(dockerfile))
    # The push to the registry reused the base image's blob; the rebuild compressed it anew.
    assert (code, out) == (
        0,
        f"reproduced: {digest} (linux/amd64; rebuilt as {out.split()[5]} same config and layers,"
        " layer 1 compressed differently)\n",
    )

    tag = "localhost/published-steady"
    builder.push(tag, f"oci:{tmp_path / 'layout'}")
    builder.push(tag, f"docker-archive:{tmp_path / 'image.tar'}")
    for other in (f"oci:{tmp_path / 'layout'}", f"docker-archive:{tmp_path / 'image.tar'}"):
        assert main(["diff", image, other]) == 0, other
        assert capsys.readouterr().out.startswith("identical\n")

    changed = dockerfile.read_text().replace("ENV MODE=dev", "ENV MODE=prod")
    dockerfile.write_text(changed)
    code, out = verify(capsys, image, str(dockerfile))
    assert code == 1
    assert out.startswith(f"NOT reproduced: linux/amd64: {digest} was rebuilt as sha256:")
    assert "  config:\n    Env MODE: differs (dev -> prod)\n" in out


def test_planted_nondeterminism_is_named(
    hub: str, builder: Buildah, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile, epoch = lock(tmp_path / "planted", hub, PLANTED)
    image = f"{hub}/verify/planted:1"
    publish(builder, dockerfile, epoch, f"docker://{image}")

    code, out = verify(capsys, image, str(dockerfile))
    assert code == 1
    assert out.startswith("NOT reproduced: linux/amd64: ")
    files = out[out.index("  files:\n") :].splitlines()[1:]
    assert files[0] == "    /built-at: content differs (20 bytes -> 20 bytes)"
    assert [line for line in files if not line.startswith("      ")] == [files[0]]
