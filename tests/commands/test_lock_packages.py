"""`pinner lock` locks apt packages per stage: the CLI against a real registry holding a real
Debian image, and the snapshot.debian.org stand-in serving Debian's archive.

The image (mmdebstrap) and the stand-in's indexes are cached under ~/.cache/pinner-tests; pinner's
own cache ($XDG_CACHE_HOME) is per module, so the first lock fetches through the stand-in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli import on_one_cpu_and_two, punted_files, tree_files
from debian_image import (
    OCI_MANIFEST,
    DebianImageSpec,
    build_debian_image,
    default_cache_dir,
    push_blob,
    push_oci_image,
)
from registryd import Registry, push_image, push_manifest
from registryd import push_blob as push_raw_blob
from shell_syntax import run_errors
from snapshot_mirror import SnapshotMirror as StandIn

from pinner import lockfile, parallel
from pinner.apt import packages
from pinner.apt.sources import MARKER_PREFIX
from pinner.commands import lock as lock_command
from pinner.lockfile import Lock, LockedPackage
from pinner.main import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("mmdebstrap", "gpgv")),
        reason="needs root with mmdebstrap and gpgv",
    ),
]

TS = "20241202T000000Z"  # the base image's own snapshot time (DebianImageSpec)
EPOCH = 1733097600
NEW_TS = "20250101T000000Z"
NEW_EPOCH = 1735689600
SUITES = "bookworm, bookworm-updates, bookworm-security"
DOCKERFILE = """\
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends hello

FROM debian:bookworm
COPY --from=build /usr/bin/hello /usr/bin/hello
RUN apt-get update \\
    && apt-get install -y --no-install-recommends netbase
"""

LockRun = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    with StandIn(default_cache_dir() / "snapshot") as m:
        yield m


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    """The test registry as Docker Hub: the real Debian image, an Alpine stand-in, a frontend."""
    image = build_debian_image(default_cache_dir() / "images", DebianImageSpec(sources="deb822"))
    push_oci_image(image, registry.url, "library/debian", "bookworm", as_index=True)
    push_image(registry, "library/alpine", "3.20")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


@pytest.fixture(scope="module")
def module_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An empty Docker config and a pinner cache of this module's own."""
    return {
        "DOCKER_CONFIG": str(tmp_path_factory.mktemp("docker-config")),
        "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("xdg-cache")),
    }


def _lock_with(hub: str, standin: StandIn) -> Callable[..., int]:
    def run(folder: Path, *args: str) -> int:
        argv = [
            "lock",
            "--registry-mirror",
            f"docker.io=http://{hub}",
            "--snapshot-mirror",
            f"debian={standin.url}/archive",
            *args,
            str(folder / "Dockerfile"),
        ]
        return main(argv)

    return run


@pytest.fixture(scope="module")
def locked(
    hub: str, standin: StandIn, module_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """DOCKERFILE locked with --snapshot 20241202T000000Z; tests copy it before changing it."""
    folder = tmp_path_factory.mktemp("locked")
    (folder / "Dockerfile").write_text(DOCKERFILE)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in module_env.items():
            patch.setenv(key, value)
        assert _lock_with(hub, standin)(folder, "--quiet", "--snapshot", TS) == 0
    return folder


@pytest.fixture
def lock(
    hub: str,
    standin: StandIn,
    module_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> LockRun:
    """Run `pinner lock ARGS FOLDER/Dockerfile`; return exit code, stdout and stderr."""
    for key, value in module_env.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    run = _lock_with(hub, standin)

    def call(folder: Path, *args: str) -> tuple[int, str, str]:
        code = run(folder, *args)
        out, err = capsys.readouterr()
        return code, out, err

    return call


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def copy(locked: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(locked, folder)
    return folder


def read_lock(folder: Path) -> Lock:
    return lockfile.parse((folder / "Dockerfile.lock").read_text(), "Dockerfile.lock")


def served(standin: StandIn, name: str, ts: str = TS) -> LockedPackage:
    """A package as the stand-in's bookworm main index lists it at ts (bookworm has no update)."""
    data = standin.cache_path("debian", ts, "dists/bookworm/main/binary-amd64/Packages.xz")
    entries = packages.parse_packages(packages.decompress(data.read_bytes(), "Packages.xz"))
    entry = next(e for e in entries if e.name == name)
    return LockedPackage(name, "amd64", entry.version, entry.sha256, entry.filename)


def markers(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.startswith(MARKER_PREFIX)]


# --------------------------------------------------------------------------- lock and re-lock


def test_snapshot_is_recorded_with_each_stage_packages(locked: Path, standin: StandIn) -> None:
    lock = read_lock(locked)
    assert (lock.snapshot, lock.source_date_epoch) == (TS, EPOCH)
    hello, netbase = served(standin, "hello"), served(standin, "netbase")
    assert (hello.version, netbase.version) == ("2.10-3", "6.4")
    assert hello.filename == "pool/main/h/hello/hello_2.10-3_amd64.deb"
    assert [
        (s.stage, s.distro, s.release, s.package_manager, s.snapshot, s.signature, s.packages)
        for s in lock.stages
    ] == [
        ("build", "debian", "bookworm", "apt", TS, "verified", (hello,)),
        ("1", "debian", "bookworm", "apt", TS, "verified", (netbase,)),
    ]
    text = (locked / "Dockerfile").read_text()
    assert markers(text) == [f"{MARKER_PREFIX} debian {TS}"] * 2
    assert f"ARG SOURCE_DATE_EPOCH={EPOCH}\nFROM debian:bookworm@sha256:" in text


def test_relock_without_snapshot_keeps_it_and_asks_nobody(
    locked: Path, tmp_path: Path, lock: LockRun, standin: StandIn, registry: Registry
) -> None:
    folder = copy(locked, tmp_path)
    before = files(folder)
    standin.clear_log()
    registry.clear_requests()

    code, out, err = lock(folder, "--quiet")

    assert (code, out, err) == (0, "", "")
    assert files(folder) == before
    assert standin.log == []
    assert registry.requests() == []


def test_new_snapshot_moves_time_epoch_and_steps_in_place(
    locked: Path, tmp_path: Path, lock: LockRun, standin: StandIn
) -> None:
    folder = copy(locked, tmp_path)
    old_text = (folder / "Dockerfile").read_text()

    code, _, _ = lock(folder, "--quiet", "--snapshot", NEW_TS)

    assert code == 0
    text = (folder / "Dockerfile").read_text()
    assert text == old_text.replace(TS, NEW_TS).replace(str(EPOCH), str(NEW_EPOCH))
    assert markers(text) == [f"{MARKER_PREFIX} debian {NEW_TS}"] * 2
    lock_ = read_lock(folder)
    assert (lock_.snapshot, lock_.source_date_epoch) == (NEW_TS, NEW_EPOCH)
    assert [(s.stage, s.snapshot, s.packages) for s in lock_.stages] == [
        ("build", NEW_TS, (served(standin, "hello", NEW_TS),)),
        ("1", NEW_TS, (served(standin, "netbase", NEW_TS),)),
    ]


def test_pin_versions_writes_them_into_the_install_lines(
    locked: Path, tmp_path: Path, lock: LockRun, standin: StandIn
) -> None:
    folder = copy(locked, tmp_path)
    old = files(folder)
    standin.clear_log()

    code, _, _ = lock(folder, "--quiet", "--pin-versions")

    assert code == 0
    text = (folder / "Dockerfile").read_text()
    assert text == (
        old["Dockerfile"]
        .decode()
        .replace("--no-install-recommends hello ", "--no-install-recommends hello=2.10-3 ")
        .replace("--no-install-recommends netbase ", "--no-install-recommends netbase=6.4 ")
    )
    assert (folder / "Dockerfile.lock").read_bytes() == old["Dockerfile.lock"]
    assert standin.log == []  # the versions come from the lock


def test_snapshot_base_is_the_time_the_base_image_records(lock: LockRun, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    code, _, _ = lock(tmp_path, "--quiet", "--snapshot", "base")
    assert code == 0
    assert DebianImageSpec().snapshot == TS
    assert (read_lock(tmp_path).snapshot, read_lock(tmp_path).source_date_epoch) == (TS, EPOCH)


# --------------------------------------------------------------------------- failures and notes


def test_unknown_package_is_one_error_and_nothing_is_written(lock: LockRun, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:bookworm\nRUN apt-get install -y hello no-such-pkg-0\n")
    before = files(tmp_path)

    code, out, err = lock(tmp_path, "--snapshot", TS)

    assert (code, out) == (1, "")
    assert err == (
        f"{dockerfile}:2: no-such-pkg-0: no amd64 package in {SUITES} at {TS}\n"
        "1 error(s); nothing written\n"
    )
    assert files(tmp_path) == before


def test_snapshot_404_names_suite_and_time_and_nothing_is_written(
    lock: LockRun,
    tmp_path: Path,
    standin: StandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh-cache"))
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE)
    standin.fail(r"/dists/bookworm-security/InRelease$", 404, times=None)
    try:
        code, out, err = lock(folder, "--snapshot", TS)
    finally:
        standin.clear_failures()

    url = f"{standin.url}/archive/debian-security/{TS}/dists/bookworm-security/InRelease"
    assert (code, out) == (1, "")
    assert err == (
        f"{folder / 'Dockerfile'}: debian-security bookworm-security at {TS}:"
        f" not found on the snapshot mirror (404 for {url})\n"
        "1 error(s); nothing written\n"
    )
    assert files(folder) == {"Dockerfile": DOCKERFILE.encode()}


def test_variables_and_upgrade_are_noted(lock: LockRun, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM debian:bookworm\nARG PKGS\n"
        "RUN apt-get update && apt-get upgrade -y && apt-get install -y netbase $PKGS\n"
    )
    code, _, err = lock(tmp_path, "--snapshot", TS)
    assert code == 0
    notes = [line for line in err.splitlines() if line.startswith(f"{dockerfile}:3: ")]
    assert notes == [
        f"{dockerfile}:3: apt-get upgrade takes whatever the snapshot serves;"
        " versions are not recorded",
        f"{dockerfile}:3: package list uses a variable ($PKGS); its packages are not recorded",
    ]
    [stage] = read_lock(tmp_path).stages
    assert [p.name for p in stage.packages] == ["netbase"]
    assert len(stage.notes) == 2


def test_a_list_in_env_or_an_arg_default_is_recorded(
    lock: LockRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # osdldbt-dbt2's Dockerfile: `ENV PACKAGES_DEPENDENCIES='...'`, then `apt-get install -y
    # $PACKAGES_DEPENDENCIES` (its list shortened to packages the stand-in serves).
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM debian:bookworm\nENV PACKAGES_DEPENDENCIES='netbase'\nARG EXTRA=\"hello\"\n"
        "RUN apt-get update && apt-get install -y $PACKAGES_DEPENDENCIES $EXTRA\n"
    )
    code, _, err = lock(tmp_path, "--snapshot", TS)
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith(f"{dockerfile}:4: ")]
    assert notes == [
        f"{dockerfile}:4: packages named by ARG EXTRA are recorded for its value here (hello);"
        " a build with another --build-arg EXTRA installs others",
    ]
    [stage] = read_lock(tmp_path).stages
    assert {p.name for p in stage.packages} >= {"netbase", "hello"}
    text = dockerfile.read_text()
    assert "apt-get install -y $PACKAGES_DEPENDENCIES $EXTRA" in text
    assert run_errors(text) == []
    capsys.readouterr()
    assert main(["check", str(dockerfile)]) == 0
    # A word added to the ENV's list, or another ARG value, is a word the lock does not record.
    dockerfile.write_text(text.replace("='netbase'", "='netbase curl'"))
    assert main(["check", str(dockerfile)]) == 1
    assert "packages differ from the lock (new: curl; gone: none)" in capsys.readouterr().out
    dockerfile.write_text(text)
    assert main(["check", "--build-arg", "EXTRA=wget", str(dockerfile)]) == 1
    assert "(new: wget; gone: hello)" in capsys.readouterr().out


def test_a_list_in_the_base_images_env_is_recorded(
    registry: Registry, hub: str, lock: LockRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # docker-library/php's Dockerfile-linux.template (Debian variant): the php image's own
    # `ENV PHPIZE_DEPS ...`, installed by `apt-get install -y $PHPIZE_DEPS` in child images.
    # Here the real Debian image's layers under a config whose Env adds a shortened list.
    image = build_debian_image(default_cache_dir() / "images", DebianImageSpec(sources="deb822"))
    manifest = image.manifest()
    config = image.config()
    config["config"]["Env"] = [*config["config"]["Env"], "PHPIZE_DEPS=netbase hello"]
    data = json.dumps(config, sort_keys=True).encode()
    with registry.client() as client:
        for layer in manifest["layers"]:
            push_blob(
                client,
                registry.url,
                "library/php",
                image.blob_path(layer["digest"]),
                layer["digest"],
            )
        manifest["config"] = {
            **manifest["config"],
            "digest": push_raw_blob(client, registry.url, "library/php", data),
            "size": len(data),
        }
        body = json.dumps(manifest).encode()
        push_manifest(client, registry.url, "library/php", "8.3-cli", body, OCI_MANIFEST)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM php:8.3-cli\nRUN apt-get update && apt-get install -y --no-install-recommends"
        " $PHPIZE_DEPS\n"
    )
    code, _, err = lock(tmp_path, "--snapshot", TS)
    assert code == 0, err
    assert "uses a variable" not in err
    [stage] = read_lock(tmp_path).stages
    assert {p.name for p in stage.packages} >= {"netbase", "hello"}
    assert stage.base_env == ("PHPIZE_DEPS=netbase hello",)
    assert run_errors(dockerfile.read_text()) == []
    capsys.readouterr()
    assert main(["check", str(dockerfile)]) == 0, capsys.readouterr()


def test_apk_stage_on_an_image_pinner_cannot_read_is_one_line_and_writes_nothing(
    lock: LockRun, tmp_path: Path
) -> None:
    # The Alpine stand-in is one layer without /etc/os-release: apk stages now read their base
    # image (tests/managers/test_apk_lock.py locks a real Alpine root), so this one is refused.
    dockerfile = tmp_path / "Dockerfile"
    text = "FROM alpine:3.20\nRUN apk add --no-cache curl\n"
    dockerfile.write_text(text)
    code, _, err = lock(tmp_path, "--snapshot", TS)
    assert code == 1
    assert re.fullmatch(
        rf"{re.escape(str(dockerfile))}: docker\.io/library/alpine@sha256:[0-9a-f]{{64}}:"
        r" image has no /etc/os-release \(1 layer read\)",
        err.splitlines()[0],
    )
    assert files(tmp_path) == {"Dockerfile": text.encode()}


# --------------------------------------------------------------------------- output modes


def test_dry_run_prints_a_diff_and_writes_nothing(lock: LockRun, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    code, out, _ = lock(tmp_path, "--quiet", "--dry-run", "--snapshot", TS)
    assert code == 0
    assert files(tmp_path) == {"Dockerfile": DOCKERFILE.encode()}
    path = tmp_path / "Dockerfile"
    assert out.startswith(f"--- a/{path}\n+++ b/{path}\n@@ ")
    assert f"\n+{MARKER_PREFIX} debian {TS}\n" in out
    assert f"\n--- /dev/null\n+++ b/{path}.lock\n" in out
    assert '\n+name = "hello"\n' in out


def test_json_includes_stages(
    lock: LockRun, locked: Path, tmp_path: Path, standin: StandIn
) -> None:
    folder = copy(locked, tmp_path)
    code, out, _ = lock(folder, "--quiet", "--json")
    assert code == 0
    [result] = json.loads(out)["files"]
    assert (result["snapshot"], result["source_date_epoch"]) == (TS, EPOCH)
    hello = served(standin, "hello")
    build = result["stages"][0]
    # The base's sources, each recorded by path and digest, so a new base can be told apart.
    [source] = build.pop("sources")
    assert re.fullmatch(r"/etc/apt/\S+ sha256:[0-9a-f]{64}", source), source
    assert build == {
        "stage": "build",
        "distro": "debian",
        "release": "bookworm",
        "package_manager": "apt",
        "packages": [hello._asdict()],
        "step": "exact",
        "notes": [],
    }
    assert [s["stage"] for s in result["stages"]] == ["build", "1"]


def test_check_passes_after_lock(locked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", str(locked / "Dockerfile")]) == 0
    assert capsys.readouterr().out == ""


def test_users_own_epoch_is_kept_and_check_passes(
    lock: LockRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "ARG SOURCE_DATE_EPOCH=0\nFROM debian:bookworm\nRUN apt-get install -y hello\n"
    )
    assert lock(tmp_path, "--quiet", "--snapshot", TS)[0] == 0
    assert "\nARG SOURCE_DATE_EPOCH=0\n" in dockerfile.read_text()
    assert main(["check", str(dockerfile)]) == 0, capsys.readouterr().out


# --------------------------------------------------------------------------- check verifies packages


def check_packages(
    folder: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """Run `pinner check ARGS` with the stand-in as the snapshot host, as the lock had it."""
    capsys.readouterr()
    code = main(["check", *args, str(folder / "Dockerfile")])
    out, err = capsys.readouterr()
    return code, out, err


def test_item17_check_verifies_package_entries_against_the_cached_indexes(
    locked: Path,
    tmp_path: Path,
    hub: str,
    standin: StandIn,
    module_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in module_env.items():
        monkeypatch.setenv(key, value)  # the cache the lock filled
    folder = copy(locked, tmp_path)
    mirror = ("--snapshot-mirror", f"debian={standin.url}/archive")
    ok = "1 file(s) pinned and in agreement with their locks\n"
    standin.clear_log()
    assert check_packages(folder, capsys, *mirror) == (0, "", ok)
    assert standin.log == []  # offline: the cache answered
    change_lock = (folder / "Dockerfile.lock").read_text()
    (folder / "Dockerfile.lock").write_text(
        change_lock.replace('version = "2.10-3"', 'version = "2.10-4"')
    )

    code, out, err = check_packages(folder, capsys, *mirror)

    lock_path = folder / "Dockerfile.lock"
    bad = f"{lock_path}: stage build: hello 2.10-4 (amd64): not in the snapshot's indexes at {TS}\n"
    assert (code, out, err) == (1, bad, "1 finding(s) in 1 file(s)\n")
    assert standin.log == []

    # Without the cache it says it could not, and passes on what it can check.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    assert check_packages(folder, capsys, *mirror) == (
        0,
        "",
        f"{lock_path}: package entries not verified: the cache lacks the base image or the"
        f" snapshot's indexes; pinner check --remote verifies them\n{ok}",
    )

    # --remote asks the snapshot's signed indexes.
    code, out, err = check_packages(
        folder, capsys, "--remote", "--registry-mirror", f"docker.io=http://{hub}", *mirror
    )
    assert (code, out, err) == (
        1,
        bad,
        "0 pinned tag(s) moved\n1 locked package entr(ies) the snapshot does not serve\n",
    )


def test_an_apt_stage_records_its_install_commands_and_a_changed_one_is_locked_again(
    lock: LockRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM debian:bookworm\nRUN apt-get update && apt-get install -y netbase\n"
    )
    code, _, err = lock(tmp_path, "--snapshot", TS)
    assert code == 0, err
    [stage] = read_lock(tmp_path).stages
    assert stage.commands == ("apt-get install -y netbase",)
    text = dockerfile.read_text()
    changed = text.replace("apt-get install -y netbase", "apt-get install -y -t bookworm netbase")
    dockerfile.write_text(changed)
    capsys.readouterr()
    assert main(["check", str(dockerfile)]) == 1
    assert "install command `apt-get install -y -t bookworm netbase` was" in capsys.readouterr().out
    code, _, err = lock(tmp_path, "--snapshot", TS)
    assert code == 0, err
    [stage] = read_lock(tmp_path).stages
    assert stage.commands == ("apt-get install -y -t bookworm netbase",)
    capsys.readouterr()
    assert main(["check", str(dockerfile)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_many_files_with_apt_stages_lock_the_same_with_a_helper(
    cache: str,
    hub: str,
    standin: StandIn,
    locked: Path,
    module_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Over many files a forked helper locks them; one whose lock must fetch (a base image's
    files, a snapshot's indexes) is punted to the first process, which holds the connections.
    With the cache warm (the module's, filled by `locked`), the helper locks them itself."""
    monkeypatch.setattr(parallel, "MIN_PER_PROCESS", 4)
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    monkeypatch.setattr(lock_command, "_MIN_HANDED_BACK", 9)  # none handed back: punts alone
    punted = punted_files(monkeypatch)
    tree = tmp_path / "tree"
    for n in range(8):
        folder = tree / f"svc{n}"
        folder.mkdir(parents=True)
        text = DOCKERFILE if n % 2 else DOCKERFILE.replace("netbase", "hello")
        (folder / "Dockerfile").write_text(text if n != 5 else "FROM debian:bookworm\n")
    monkeypatch.setenv("DOCKER_CONFIG", module_env["DOCKER_CONFIG"])

    def lock(cpus: int, copy: Path) -> tuple[int, str, str, dict[str, bytes]]:
        xdg = module_env["XDG_CACHE_HOME"] if cache == "warm" else str(tmp_path / f"xdg{cpus}")
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
        argv = ["lock", "--json", "--registry-mirror", f"docker.io=http://{hub}"]
        argv += ["--snapshot-mirror", f"debian={standin.url}/archive", "--snapshot", TS, "."]
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err, tree_files(copy)

    said = on_one_cpu_and_two(monkeypatch, tree, tmp_path, lock)
    assert said[1] == said[2]
    assert said[2][0] == 0, said[2][2]
    apt_files = [0, 1, 2, 3, 4, 6, 7]
    assert sorted(punted) == (apt_files if cache == "cold" else [])
