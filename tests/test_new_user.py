"""Wrong answers a new user got (issue 7, items 11 to 17), against the real test registry."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli import run
from registryd import Registry, push_image, push_index

from pinner.apt import packages, release
from pinner.errors import MirrorError
from pinner.main import main
from pinner.outcome import platform_option
from pinner.refresh import short
from pinner.remote import http
from pinner.remote.snapshot import SnapshotMirror

TS = "20241202T000000Z"


pytestmark = pytest.mark.usefixtures("docker_config")


def write(folder: Path, text: str, name: str = "Dockerfile") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- item 16


def test_item16_unreachable_snapshot_host_hints_at_snapshot_mirror(tmp_path: Path) -> None:
    async def release() -> None:
        mirror = SnapshotMirror(
            {"debian": "http://snapshot.invalid/archive"},
            tmp_path,
            retry=http.Retry(attempts=1, backoff=0.0, max_retry_after=0.0),
        )
        try:
            await mirror.release("debian", TS, "bookworm", [])
        finally:
            await mirror.aclose()

    with pytest.raises(MirrorError) as excinfo:
        asyncio.run(release())

    assert str(excinfo.value) == (
        f"debian bookworm at {TS}: cannot reach snapshot.invalid:"
        " host name not found (no DNS answer; offline, or use --snapshot-mirror)"
    )


def test_item16_check_remote_without_a_lock_fails(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(registry, "answers/unlocked", "1")
    dockerfile = write(tmp_path, f"FROM {registry.host}/answers/unlocked:1\n")

    code, out, err = run(capsys, "check", "--remote", str(dockerfile))

    assert (code, out, err) == (
        1,
        "",
        f"{dockerfile}: no lockfile; run pinner lock {dockerfile} first\n",
    )


def test_item16_a_moved_single_manifest_is_not_called_index_only(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = push_image(registry, "answers/single", "1")
    dockerfile = write(tmp_path, f"FROM {registry.host}/answers/single:1\n")
    assert run(capsys, "lock", "--images-only", str(dockerfile))[0] == 0
    new = push_image(registry, "answers/single", "1", seed="moved")

    code, out, err = run(capsys, "check", "--remote", str(dockerfile))

    assert (code, out, err) == (
        1,
        f"{dockerfile}: {registry.host}/answers/single:1: moved from {short(old)} to"
        f" {short(new)} (single manifest)\n",
        "1 pinned tag(s) moved\n",
    )


def test_item16_build_args_without_a_lock_names_the_missing_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = write(tmp_path, "FROM scratch\n")

    code, out, err = run(capsys, "build-args", str(dockerfile))

    assert (code, out, err) == (
        1,
        "",
        f"{dockerfile}: no lockfile {dockerfile}.lock; run pinner lock {dockerfile}\n",
    )


def test_item16_a_broken_lock_counts_its_dockerfile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = write(tmp_path, "FROM scratch\n")
    write(tmp_path, "version = 99\n", "Dockerfile.lock")

    code, out, err = run(capsys, "check", str(dockerfile))

    assert (code, out, err) == (
        1,
        f"{dockerfile}.lock: unknown lockfile version 99 (pinner reads 1)\n",
        "1 finding(s) in 1 file(s)\n",
    )


def test_item16_check_image_help_says_check(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert "  --image NAME          check only this image (name or name:tag; repeatable)\n" in out


def test_item16_unknown_option_shows_the_commands_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["lock", "--bogus"])
    err = capsys.readouterr().err
    assert excinfo.value.code == 2
    assert err.startswith("usage: pinner lock [-h]")
    assert err.endswith("\npinner lock: error: unrecognized arguments: --bogus\n")


# --------------------------------------------------------------------------- item 12


@pytest.mark.parametrize(
    ("value", "platform"),
    [
        ("linux/arm64/v8", "linux/arm64"),
        ("arm64", "linux/arm64"),
        ("aarch64", "linux/arm64"),
        ("linux/s390x", "linux/s390x"),
        ("x86_64", "linux/amd64"),
        ("linux/arm", "linux/arm/v7"),
        ("Linux/AMD64", "linux/amd64"),
    ],
)
def test_item12_platform_values_are_normalised_as_containerd_does(
    value: str, platform: str
) -> None:
    assert platform_option(value) == platform


@pytest.mark.parametrize("value", ["foo", "windows/amd64", "linux/foo", "linux//", "a/b/c/d", ""])
def test_item12_malformed_platform_is_a_usage_error(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = write(tmp_path, "FROM scratch\n")

    code, out, err = run(capsys, "lock", "--platform", value, str(dockerfile))

    known = (
        "linux/386, linux/amd64, linux/arm/v5, linux/arm/v6, linux/arm/v7, linux/arm64,"
        " linux/mips64le, linux/ppc64le, linux/riscv64, linux/s390x"
    )
    assert (code, out) == (2, "")
    assert err == f"pinner: --platform {value}: expected OS/ARCH[/VARIANT], one of {known}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile", "docker-config"]


APT_STAGE = "FROM {ref}\nRUN apt-get update && apt-get install -y hello\n"


def lock_apt(
    registry: Registry, folder: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """Lock a Dockerfile with an apt stage, the test registry standing in for Docker Hub."""
    push_image(registry, "docker/dockerfile", "1.23")
    return run(
        capsys,
        "lock",
        "--registry-mirror",
        f"docker.io=http://{registry.host}",
        "--snapshot",
        TS,
        *args,
        str(folder / "Dockerfile"),
    )


@pytest.mark.parametrize("value", ["linux/arm64/v8", "arm64"])
def test_item12_a_platform_the_image_lacks_fails_naming_file_line_and_reference(
    value: str, registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_index(registry, "answers/noarm", "1", [("linux", "amd64", None), ("linux", "s390x", None)])
    ref = f"{registry.host}/answers/noarm:1"
    write(tmp_path, APT_STAGE.format(ref=ref))
    before = (tmp_path / "Dockerfile").read_text()

    code, out, err = lock_apt(registry, tmp_path, capsys, "--platform", value)

    assert (code, out) == (1, "")
    assert err == (
        f"{tmp_path / 'Dockerfile'}:1: {ref}: no linux/arm64 image in its index"
        " (it has linux/amd64, linux/s390x); choose with --platform\n1 error(s); nothing written\n"
    )
    assert (tmp_path / "Dockerfile").read_text() == before
    assert not (tmp_path / "Dockerfile.lock").exists()


def test_item16_an_index_with_only_s390x_is_not_picked_for_the_default_platform(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_index(registry, "answers/s390x", "1", [("linux", "s390x", None)])
    ref = f"{registry.host}/answers/s390x:1"
    write(tmp_path, APT_STAGE.format(ref=ref))

    code, out, err = lock_apt(registry, tmp_path, capsys)

    assert (code, out) == (1, "")
    assert err == (
        f"{tmp_path / 'Dockerfile'}:1: {ref}: no linux/amd64 image in its index"
        " (it has linux/s390x); choose with --platform\n1 error(s); nothing written\n"
    )


# --------------------------------------------------------------------------- item 11


def test_item11_a_composed_reference_whose_arg_changed_is_resolved_again(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = registry.host
    d12 = push_image(registry, "answers/py", "3.12-slim", seed="3.12")
    d11 = push_image(registry, "answers/py", "3.11-slim", seed="3.11")
    dockerfile = write(tmp_path, f"ARG PY=3.12\nFROM {h}/answers/py:${{PY}}-slim\n")
    assert run(capsys, "lock", "--images-only", str(dockerfile))[0] == 0
    assert dockerfile.read_text() == f"ARG PY=3.12\nFROM {h}/answers/py:${{PY}}-slim@{d12}\n"
    dockerfile.write_text(f"ARG PY=3.11\nFROM {h}/answers/py:${{PY}}-slim@{d12}\n")

    code, out, _ = run(capsys, "check", str(dockerfile))

    assert (code, out) == (
        1,
        f"{dockerfile}:2: {h}/answers/py:3.11-slim@{d12}: changed since {dockerfile}.lock"
        f" pinned it as {h}/answers/py:3.12-slim@{d12}; run pinner lock {dockerfile}\n",
    )
    code, _, err = run(capsys, "update", "--images-only", str(dockerfile))
    assert (code, err) == (1, out + "1 error(s); nothing written\n")

    assert run(capsys, "lock", "--images-only", str(dockerfile))[0] == 0

    assert dockerfile.read_text() == f"ARG PY=3.11\nFROM {h}/answers/py:${{PY}}-slim@{d11}\n"
    lock = (tmp_path / "Dockerfile.lock").read_text()
    assert (
        "[[image]]\n"
        f'reference = "{h}/answers/py:3.11-slim@{d11}"\n'
        f'name = "{h}/answers/py"\n'
        'tag = "3.11-slim"\n'
        f'digest = "{d11}"\n'
    ) in lock
    assert d12 not in lock
    assert run(capsys, "check", str(dockerfile))[0] == 0


def test_item11_a_digest_changed_by_hand_is_kept(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = registry.host
    older = push_image(registry, "answers/hand", "0", seed="older")
    push_image(registry, "answers/hand", "1")
    dockerfile = write(tmp_path, f"FROM {h}/answers/hand:1\n")
    assert run(capsys, "lock", "--images-only", str(dockerfile))[0] == 0
    dockerfile.write_text(f"FROM {h}/answers/hand:1@{older}\n")

    assert run(capsys, "lock", "--images-only", str(dockerfile))[0] == 0

    assert dockerfile.read_text() == f"FROM {h}/answers/hand:1@{older}\n"
    assert run(capsys, "check", str(dockerfile))[0] == 0


# --------------------------------------------------------------------------- item 14


def test_item14_the_lock_remembers_its_build_args(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = registry.host
    push_image(registry, "answers/base", "old", seed="old")
    bookworm = push_image(registry, "answers/base", "bookworm", seed="bookworm")
    frontend = push_image(registry, "docker/dockerfile", "1.23")
    text = f"ARG BASE={h}/answers/base:old\nFROM ${{BASE}}\nRUN true\n"
    dockerfile = write(tmp_path, text)
    given = f"BASE={h}/answers/base:bookworm"
    mirror = f"docker.io=http://{h}"

    code, _, err = run(
        capsys,
        "lock",
        "--registry-mirror",
        mirror,
        "--snapshot",
        TS,
        "--build-arg",
        given,
        str(dockerfile),
    )

    assert code == 0, err
    assert dockerfile.read_text() == (
        f"# syntax=docker/dockerfile:1.23@{frontend}\n"
        f"ARG BASE={h}/answers/base:old\n"
        "ARG SOURCE_DATE_EPOCH=1733097600\n"
        "FROM ${BASE}\n"
        "ARG SOURCE_DATE_EPOCH\n"
        "RUN true\n"
    )
    assert (f'[build-args]\nBASE = "{h}/answers/base:bookworm"\n') in (
        tmp_path / "Dockerfile.lock"
    ).read_text()
    assert run(capsys, "build-args", str(dockerfile)) == (
        0,
        f"--build-arg BASE={h}/answers/base:bookworm@{bookworm}\n"
        "--build-arg SOURCE_DATE_EPOCH=1733097600\n",
        "",
    )
    assert run(capsys, "check", "--build-arg", given, str(dockerfile)) == (
        0,
        "",
        "1 file(s) pinned and in agreement with their locks\n",
    )
    # Without --build-arg, check uses the ones the lock records.
    assert run(capsys, "check", str(dockerfile))[0] == 0
    other = f"BASE={h}/answers/base:old"
    assert run(capsys, "check", "--build-arg", other, str(dockerfile))[:2] == (
        1,
        f"{dockerfile}.lock: locked with --build-arg {given}, checked with --build-arg {other}\n"
        f"{dockerfile}:4: {h}/answers/base:old: not pinned to a digest\n"
        f"{dockerfile}.lock: {h}/answers/base:bookworm@{bookworm}: not used by {dockerfile}\n",
    )
    # A later lock without --build-arg keeps them, and changes nothing.
    before = (tmp_path / "Dockerfile.lock").read_text()
    assert run(capsys, "lock", "--registry-mirror", mirror, str(dockerfile))[0] == 0
    assert (tmp_path / "Dockerfile.lock").read_text() == before


# --------------------------------------------------------------------------- item 15


def locked_times(folder: Path) -> tuple[set[str], set[str]]:
    """The snapshot times and SOURCE_DATE_EPOCH values the locks in folder record."""
    texts = [p.read_text() for p in folder.glob("*.lock")]
    times = {m for t in texts for m in re.findall(r'^time = "(\w+)"$', t, re.M)}
    epochs = {m for t in texts for m in re.findall(r"^source-date-epoch = (\d+)$", t, re.M)}
    return times, epochs


def test_item15_one_run_one_time(
    registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = registry.host
    push_image(registry, "answers/clock", "1")
    push_image(registry, "docker/dockerfile", "1.23")
    tree = tmp_path / "tree"
    tree.mkdir()
    for n in range(5):
        write(tree, f"FROM {h}/answers/clock:1\nRUN true\n", f"{n}.Dockerfile")
    # A clock that moves a second each time it is read: one reading per run gives one time.
    ticks = iter(range(1764115200, 1764115200 + 10**6))
    monkeypatch.setattr(time, "time", lambda: float(next(ticks)))
    mirror = f"docker.io=http://{h}"

    assert run(capsys, "lock", "--registry-mirror", mirror, str(tree))[0] == 0

    times, epochs = locked_times(tree)
    assert (len(list(tree.glob("*.lock"))), len(times), len(epochs)) == (5, 1, 1)

    push_image(registry, "answers/clock", "1", seed="moved")
    code, _, err = run(capsys, "update", "--registry-mirror", mirror, str(tree))

    assert code == 0, err
    new_times, new_epochs = locked_times(tree)
    assert (len(new_times), len(new_epochs)) == (1, 1)
    assert new_times != times


def test_item15_a_run_fetches_verifies_and_parses_each_index_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apt = Path(__file__).parent.parent / "testdata" / "apt"
    base = f"http://snapshot.test/archive/debian/{TS}/dists/bookworm-updates"
    files = {
        f"{base}/InRelease": (apt / "bookworm-updates_InRelease").read_bytes(),
        f"{base}/main/binary-amd64/Packages.xz": (
            apt / "bookworm-updates_main_binary-amd64_Packages.xz"
        ).read_bytes(),
    }
    asked: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, content=files[str(request.url)])

    calls: list[str] = []
    for module, name in ((release, "verify_signature"), (packages, "parse_packages")):
        real = getattr(module, name)

        def counted(*args: object, _real: Any = real, _name: str = name, **kw: object) -> Any:
            calls.append(_name)
            return _real(*args, **kw)

        monkeypatch.setattr(module, name, counted)
    keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

    async def three_stages() -> list[int]:
        mirror = SnapshotMirror(
            {"debian": "http://snapshot.test/archive"}, None, transport=httpx.MockTransport(serve)
        )
        found = []
        try:
            for _ in range(3):  # three stages, or three files, on the same snapshot
                signed, _ = await mirror.release("debian", TS, "bookworm-updates", [keyring])
                entries = await mirror.packages(
                    "debian", TS, "bookworm-updates", "main", "amd64", signed
                )
                found.append(len(entries))
        finally:
            await mirror.aclose()
        return found

    assert asyncio.run(three_stages()) == [38, 38, 38]
    assert sorted(asked) == sorted(files)
    assert sorted(calls) == ["parse_packages", "verify_signature"]
