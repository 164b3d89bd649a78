"""`pinner verify`: refusals, builder choice, the exact build commands, and the verdict.

The build itself is a stand-in `buildah` on PATH that copies a prepared OCI layout, so these tests
stay fast; test_verify_build.py runs the real buildah.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
from cli import readme_schema
from handmade import Entry, HandImage, layer_tar, push, write_layout
from registryd import Registry, push_image

from pinner.main import main

FAKE_BUILDAH = """\
#!/bin/sh
echo "$@" >> "$FAKE_LOG"
case "$1" in
  push) cp -r "$FAKE_LAYOUT" "${3#oci:}" ;;
esac
"""
BASE = [Entry("etc", kind="dir"), Entry("etc/os-release", b"ID=debian\n")]


pytestmark = pytest.mark.usefixtures("docker_config")


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    """The test registry as Docker Hub, with a base image and a Dockerfile frontend."""
    push_image(registry, "docker/dockerfile", "1.23")
    push_image(registry, "library/debian", "bookworm")
    return registry.host


def locked(folder: Path, hub: str, text: str = "FROM debian:bookworm\nRUN echo hi > /hi\n") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "Dockerfile").write_text(text)
    argv = [
        "lock",
        "-q",
        "--registry-mirror",
        f"docker.io=http://{hub}",
        str(folder / "Dockerfile"),
    ]
    assert main(argv) == 0
    return folder / "Dockerfile"


def epoch_of(dockerfile: Path) -> int:
    lock = Path(str(dockerfile) + ".lock").read_text()
    return int(lock.split("source-date-epoch = ")[1].split("\n")[0])


def fake_buildah(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: Path) -> Path:
    """Put a stand-in buildah first on PATH that 'builds' the given layout; return its log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "buildah").write_text(FAKE_BUILDAH)
    (bin_dir / "buildah").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LAYOUT", str(layout))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "buildah.log"))
    return tmp_path / "buildah.log"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["verify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_refuses_a_dockerfile_that_check_objects_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm\n")
    code, out, err = run(capsys, "--dry-run", "app:1", str(tmp_path / "Dockerfile"))
    assert (code, out) == (1, "")
    lock = tmp_path / "Dockerfile.lock"
    assert err == (
        f"{tmp_path / 'Dockerfile'}: no lockfile {lock}; run pinner lock {tmp_path / 'Dockerfile'};"
        " verify rebuilds only what pinner check passes\n"
    )


def test_refuses_an_images_only_lock(
    hub: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm\n")
    assert (
        main(
            [
                "lock",
                "-q",
                "--images-only",
                "--registry-mirror",
                f"docker.io=http://{hub}",
                str(tmp_path / "Dockerfile"),
            ]
        )
        == 0
    )
    code, out, err = run(capsys, "--dry-run", "app:1", str(tmp_path / "Dockerfile"))
    assert (code, out) == (1, "")
    assert err.endswith(
        "records no SOURCE_DATE_EPOCH (an --images-only lock); run pinner lock "
        + str(tmp_path / "Dockerfile")
        + "\n"
    )


def test_no_builder_is_one_line_naming_the_builders(
    hub: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dockerfile = locked(tmp_path / "ctx", hub)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, err = run(capsys, "app:1", str(dockerfile))
    assert (code, out) == (1, "")
    assert err == (
        "no image builder found: verify needs docker buildx, buildctl (BuildKit) or buildah;"
        " install one, e.g. apt-get install buildah\n"
    )


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (
            "buildah",
            [
                "buildah build --no-cache --platform linux/amd64 --timestamp {e} --build-arg SOURCE_DATE_EPOCH={e} -f {df} -t localhost/pinner-verify:{e}-linux-amd64 {ctx}",
                "buildah push localhost/pinner-verify:{e}-linux-amd64 oci:{out}",
                "buildah rmi localhost/pinner-verify:{e}-linux-amd64",
            ],
        ),
        (
            "buildctl",
            [
                "buildctl build --no-cache --frontend dockerfile.v0 --local context={ctx} --local dockerfile={ctx} --opt filename=Dockerfile --opt platform=linux/amd64 --opt build-arg:SOURCE_DATE_EPOCH={e} --output type=oci,dest={out},tar=false,rewrite-timestamp=true",
            ],
        ),
        (
            "buildx",
            [
                "docker buildx build --no-cache --platform linux/amd64 --build-arg SOURCE_DATE_EPOCH={e} --output type=oci,dest={out},tar=false,rewrite-timestamp=true -f {df} {ctx}",
            ],
        ),
    ],
)
def test_dry_run_prints_the_exact_build_commands(
    hub: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    builder: str,
    expected: list[str],
) -> None:
    dockerfile = locked(tmp_path / "ctx", hub)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("buildah", "buildctl", "docker"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    code, out, err = run(
        capsys,
        "--dry-run",
        "--builder",
        builder,
        "--platform",
        "linux/amd64",
        "app:1",
        str(dockerfile),
    )
    assert (code, err) == (0, "")
    output = Path("pinner-verify/linux-amd64")
    values = {"e": epoch_of(dockerfile), "df": dockerfile, "ctx": dockerfile.parent, "out": output}
    assert out.splitlines() == [line.format(**values) for line in expected]


def test_dry_run_builds_with_the_context_the_lock_records(
    hub: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "repo/.git").mkdir(parents=True)
    dockerfile = locked(tmp_path / "repo/app", hub)
    lock = dockerfile.with_name("Dockerfile.lock")
    locked_text = lock.read_text()
    lock.write_text(locked_text.replace("version = 1\n", 'version = 1\ncontext = ".."\n'))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "buildah").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "buildah").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    flags = ("--dry-run", "--builder", "buildah", "--platform", "linux/amd64")
    code, out, err = run(capsys, *flags, "app:1", str(dockerfile))
    assert (code, err) == (0, "")
    assert out.splitlines()[0].endswith(f" -f {dockerfile} -t {_tag(out)} {tmp_path / 'repo'}")
    # --context wins over it.
    code, out, err = run(capsys, *flags, "--context", str(tmp_path), "app:1", str(dockerfile))
    assert (code, err) == (0, "")
    assert out.splitlines()[0].endswith(f" {tmp_path}")
    # A recorded context above the repository is refused: the change under review would let
    # its RUNs read the builder's own files. --context, given by whoever runs verify, is not.
    lock.write_text(locked_text.replace("version = 1\n", 'version = 1\ncontext = "../.."\n'))
    code, out, err = run(capsys, *flags, "app:1", str(dockerfile))
    assert (code, out) == (1, "")
    assert err == (
        f"{lock}: context '../..' is outside {tmp_path / 'repo'}; give --context to build with it\n"
    )
    code, out, err = run(capsys, *flags, "--context", str(tmp_path), "app:1", str(dockerfile))
    assert (code, err) == (0, "")


def _tag(out: str) -> str:
    return out.split(" -t ", 1)[1].split()[0]


def test_reproduced_prints_the_digest(
    registry: Registry,
    hub: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = HandImage([layer_tar(BASE), layer_tar([Entry("hi", b"hi\n")])])
    digest = push(made, registry, "verify/same", "1")
    write_layout(made, tmp_path / "built")
    dockerfile = locked(tmp_path / "ctx", hub)
    log = fake_buildah(tmp_path, monkeypatch, tmp_path / "built")
    code, out, err = run(
        capsys, "--platform", "linux/amd64", f"{registry.host}/verify/same:1", str(dockerfile)
    )
    assert (code, out) == (0, f"reproduced: {digest} (linux/amd64)\n")
    epoch = epoch_of(dockerfile)
    assert (
        f"+ buildah build --no-cache --platform linux/amd64 --timestamp {epoch} --build-arg SOURCE_DATE_EPOCH={epoch} -f {dockerfile}"
        in err
    )
    assert [line.split()[0] for line in log.read_text().splitlines()] == ["build", "push", "rmi"]


def test_same_config_and_layers_compressed_otherwise_is_reproduced(
    registry: Registry,
    hub: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layers = [layer_tar(BASE), layer_tar([Entry("hi", b"hi\n" * 100)])]
    published = HandImage(layers, compresslevel=1)  # as when a push reuses the base's blobs
    rebuilt = HandImage(layers)
    digest = push(published, registry, "verify/recompressed", "1")
    assert digest != rebuilt.digest()
    write_layout(rebuilt, tmp_path / "built")
    dockerfile = locked(tmp_path / "ctx", hub)
    fake_buildah(tmp_path, monkeypatch, tmp_path / "built")
    image = f"{registry.host}/verify/recompressed:1"
    code, out, _ = run(capsys, "-q", image, str(dockerfile))
    assert (code, out) == (
        0,
        f"reproduced: {digest} (linux/amd64; rebuilt as {rebuilt.digest()}: same config and"
        " layers, layers 1, 2 compressed differently)\n",
    )


def test_not_reproduced_names_the_differing_files(
    registry: Registry,
    hub: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published = HandImage([layer_tar(BASE), layer_tar([Entry("built-at", b"1764115200123\n")])])
    rebuilt = HandImage([layer_tar(BASE), layer_tar([Entry("built-at", b"1764115299456\n")])])
    digest = push(published, registry, "verify/differs", "1")
    write_layout(rebuilt, tmp_path / "built")
    dockerfile = locked(tmp_path / "ctx", hub)
    fake_buildah(tmp_path, monkeypatch, tmp_path / "built")
    report = tmp_path / "report.md"
    image = f"{registry.host}/verify/differs:1"
    code, out, _ = run(capsys, "-q", "--report", str(report), image, str(dockerfile))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"NOT reproduced: linux/amd64: {digest} was rebuilt as {rebuilt.digest()}"
    assert "    /built-at: content differs (14 bytes -> 14 bytes)" in lines
    assert "## Verification of `" + image + "`" in report.read_text()
    assert "| `/built-at` | content differs |" in report.read_text()

    shutil.rmtree(tmp_path / "built")
    write_layout(rebuilt, tmp_path / "built")
    code, out, _ = run(capsys, "-q", "--json", image, str(dockerfile))
    data = json.loads(out)
    assert code == 1 and data["reproduced"] is False
    jsonschema.validate(data, {**readme_schema(), "$ref": "#/$defs/verify"})
    [platform] = data["platforms"]
    assert (platform["published"], platform["rebuilt"]) == (digest, rebuilt.digest())
    assert ["files", "/built-at", "content differs"] in [
        [d["section"], d["subject"], d["message"]] for d in platform["diff"]["differences"]
    ]
