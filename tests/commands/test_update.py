"""`pinner update` and `pinner check --remote` against the real test registry."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from cli import no_process, on_one_cpu_and_two, run, tree_files
from registryd import Registry, push_image, push_index

from pinner import dockerfile as dockerfile_module
from pinner import parallel
from pinner.commands import update as update_command
from pinner.reference import ImageRef
from pinner.refresh import short
from pinner.remote.session import Session

pytestmark = pytest.mark.usefixtures("docker_config")


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def locked(registry: Registry, folder: Path, capsys: pytest.CaptureFixture[str], text: str) -> Path:
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(text.format(h=registry.host))
    assert run(capsys, "lock", "--images-only", str(dockerfile))[0] == 0
    return dockerfile


def test_moved_tag_is_rewritten_and_reported_then_a_quiet_run_touches_nothing(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = push_image(registry, "upd/app", "1")
    push_image(registry, "upd/other", "1")
    dockerfile = locked(registry, tmp_path, capsys, "FROM {h}/upd/app:1\nFROM {h}/upd/other:1\n")
    new = push_image(registry, "upd/app", "1", seed="v2")
    report = tmp_path / "r.md"

    code, _out, err = run(
        capsys, "update", "--images-only", "--report", str(report), str(dockerfile)
    )

    h = registry.host
    assert code == 0, err
    assert dockerfile.read_text() == (
        f"FROM {h}/upd/app:1@{new}\nFROM {h}/upd/other:1@{push_image(registry, 'upd/other', '1')}\n"
    )
    assert report.read_text() == (
        "pinner update: 1 image(s) and 0 package version(s) changed in 1 file(s).\n\n"
        f"### `{dockerfile}`\n\n"
        "| image | tag | old | new | platforms changed |\n|---|---|---|---|---|\n"
        f"| `{h}/upd/app` | `1` | `{short(old)}` | `{short(new)}` | - |\n"
    )
    assert f'digest = "{new}"' in (tmp_path / "Dockerfile.lock").read_text()
    assert run(capsys, "check", str(dockerfile))[0] == 0

    before = files(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != "r.md"}
    code, _, err = run(capsys, "update", "--images-only", "--report", str(report), str(dockerfile))

    assert code == 0
    assert report.read_text() == ""
    assert {k: v for k, v in files(tmp_path).items() if k != "r.md"} == {
        k: v for k, v in before.items() if k != "r.md"
    }
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != "r.md"} == mtimes
    assert "nothing changed" in err


def test_quiet_update_makes_only_head_requests(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(registry, "upd/head", "1")
    push_index(registry, "upd/head", "2", seed="2")
    dockerfile = locked(registry, tmp_path, capsys, "FROM {h}/upd/head:1\nFROM {h}/upd/head:2\n")
    registry.clear_requests()

    assert run(capsys, "update", "--images-only", str(dockerfile))[0] == 0

    assert sorted(registry.requests()) == [
        ("HEAD", "/v2/upd/head/manifests/1"),
        ("HEAD", "/v2/upd/head/manifests/2"),
    ]


def test_update_asks_the_registry_before_it_parses_a_dockerfile(
    registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The HEADs need only the locks: they are out while the Dockerfiles parse.
    push_image(registry, "upd/early", "1")
    dockerfile = locked(registry, tmp_path, capsys, "FROM {h}/upd/early:1\n")
    second = tmp_path / "two" / "Dockerfile"
    second.parent.mkdir()
    second.write_text(f"FROM {registry.host}/upd/early:1\n")
    assert run(capsys, "lock", "--images-only", str(second))[0] == 0
    events = record_asks_and_parses(monkeypatch)
    registry.clear_requests()

    assert run(capsys, "update", "--images-only", str(tmp_path))[0] == 0

    assert events == ["ask", f"parse {dockerfile}", f"parse {second}"]
    assert registry.requests() == [("HEAD", "/v2/upd/early/manifests/1")]


@pytest.mark.parametrize("broken", ["unlocked", "unparsable"])
def test_update_of_a_tree_with_a_failing_file_fails_as_before(
    broken: str,
    registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    push_image(registry, "upd/fail", "1")
    locked(registry, tmp_path, capsys, "FROM {h}/upd/fail:1\n")
    bad = tmp_path / "bad" / "Dockerfile"
    bad.parent.mkdir()
    bad.write_text(f"FROM {registry.host}/upd/fail:1\n")
    if broken == "unparsable":
        assert run(capsys, "lock", "--images-only", str(bad))[0] == 0
        bad.write_text("FROM ${NOT_DECLARED}\n")
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    events = record_asks_and_parses(monkeypatch)
    push_image(registry, "upd/fail", "1", seed="moved")

    code, _, err = run(capsys, "update", "--images-only", str(tmp_path))

    message = {
        "unlocked": f"{bad}: no lockfile; run pinner lock {bad} first",
        "unparsable": f"{bad}:1: ${{NOT_DECLARED}}: ARG NOT_DECLARED is not declared",
    }[broken]
    assert code == 1
    assert message in err
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()} == before
    # A file without a lock is known before any parse: nothing is asked. A parse failure is
    # known only once the requests are out: their answers are dropped.
    assert ("ask" in events) == (broken == "unparsable")


def record_asks_and_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A list that gets "ask" when a run asks the registry, "parse PATH" per Dockerfile parse."""
    events: list[str] = []
    real_resolve, real_parse = Session.resolve_images, dockerfile_module.parse

    async def resolve(self: Session, queries: Iterable[ImageRef]) -> object:
        events.append("ask")
        return await real_resolve(self, queries)

    def parse(text: str, path: str, *args: object, **kwargs: object) -> object:
        events.append(f"parse {path}")
        return real_parse(text, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Session, "resolve_images", resolve)
    monkeypatch.setattr(dockerfile_module, "parse", parse)
    return events


def test_platform_only_change_is_not_a_change_unless_strict(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two = (("linux", "amd64", None), ("linux", "arm64", None))
    old, platforms = push_index(registry, "upd/multi", "1", two)
    dockerfile = locked(registry, tmp_path, capsys, "FROM {h}/upd/multi:1\n")
    before = files(tmp_path)
    # Another arch lands, and an attestation: the index digest moves, no locked platform does.
    new, new_platforms = push_index(
        registry, "upd/multi", "1", (*two, ("linux", "arm", "v7")), attestation=True
    )
    assert new != old and new_platforms["linux/amd64"] == platforms["linux/amd64"]

    code, out, _ = run(capsys, "update", "--images-only", "--exit-code", "--json", str(dockerfile))

    assert (code, files(tmp_path)) == (0, before)
    data = json.loads(out)
    assert data["changed"] is False
    assert data["files"][0]["images"][0]["noise"] is True
    assert data["files"][0]["images"][0]["platforms"] == ["linux/arm/v7"]

    code, _, _ = run(capsys, "update", "--images-only", "--strict", "--exit-code", str(dockerfile))
    assert code == 5
    assert f"@{new}" in dockerfile.read_text()


def test_image_option_limits_the_refresh(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = push_image(registry, "upd/a", "1")
    push_image(registry, "upd/b", "1")
    dockerfile = locked(registry, tmp_path, capsys, "FROM {h}/upd/a:1\nFROM {h}/upd/b:1\n")
    new_a = push_image(registry, "upd/a", "1", seed="new")
    new_b = push_image(registry, "upd/b", "1", seed="new")

    name = f"{registry.host}/upd/b:1"
    assert run(capsys, "update", "--images-only", "--image", name, str(dockerfile))[0] == 0

    text = dockerfile.read_text()
    assert f"upd/a:1@{a}" in text and f"upd/b:1@{new_b}" in text and new_a not in text


def test_check_remote_sees_a_moved_tag(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = push_image(registry, "upd/remote", "1")
    dockerfile = locked(registry, tmp_path, capsys, "FROM {h}/upd/remote:1\n")
    assert run(capsys, "check", "--remote", str(dockerfile))[0] == 0
    before = files(tmp_path)
    new = push_image(registry, "upd/remote", "1", seed="moved")

    code, out, _ = run(capsys, "check", "--remote", str(dockerfile))

    assert code == 1
    assert out == (
        f"{dockerfile}: {registry.host}/upd/remote:1: moved from {short(old)} to {short(new)}"
        " (single manifest)\n"
    )
    assert files(tmp_path) == before


def test_update_needs_a_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    code, _, err = run(capsys, "update", str(dockerfile))
    assert (code, err.splitlines()[0]) == (
        1,
        f"{dockerfile}: no lockfile; run pinner lock {dockerfile} first",
    )


def test_update_with_epoch_moves_snapshot_and_epoch_together(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(registry, "docker/dockerfile", "1.23")
    push_image(registry, "upd/full", "1")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {registry.host}/upd/full:1\n")
    mirror = ("--registry-mirror", f"docker.io={registry.url}")
    assert run(capsys, "lock", *mirror, "--snapshot", "20240101T000000Z", str(dockerfile))[0] == 0
    quiet = files(tmp_path)
    assert run(capsys, "update", *mirror, "--snapshot", "20250101T000000Z", str(dockerfile))[0] == 0
    assert files(tmp_path) == quiet  # nothing moved: the old snapshot and epoch stay

    new = push_image(registry, "upd/full", "1", seed="new")
    assert run(capsys, "update", *mirror, "--snapshot", "20250101T000000Z", str(dockerfile))[0] == 0

    text = dockerfile.read_text()
    assert f"upd/full:1@{new}" in text
    assert "ARG SOURCE_DATE_EPOCH=1735689600\n" in text
    assert 'time = "20250101T000000Z"' in (tmp_path / "Dockerfile.lock").read_text()
    assert run(capsys, "check", str(dockerfile))[0] == 0


def test_users_own_epoch_survives_relocks(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(registry, "docker/dockerfile", "1.23")
    push_image(registry, "upd/epoch", "1")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"ARG SOURCE_DATE_EPOCH=0\nFROM {registry.host}/upd/epoch:1\n")
    mirror = ("--registry-mirror", f"docker.io={registry.url}")
    for snapshot in ("20240101T000000Z", "20250101T000000Z"):
        code, _, err = run(capsys, "lock", *mirror, "--snapshot", snapshot, str(dockerfile))
        assert code == 0
        assert f"{dockerfile}: keeps its own ARG SOURCE_DATE_EPOCH=0" in err
        assert "\nARG SOURCE_DATE_EPOCH=0\n" in dockerfile.read_text()
        assert "source-date-epoch = 0\n" in (tmp_path / "Dockerfile.lock").read_text()
        assert run(capsys, "check", str(dockerfile))[0] == 0


@pytest.mark.parametrize("syntax", ["", "# syntax=docker/dockerfile:1\n"], ids=["inserted", "kept"])
def test_full_relock_makes_no_request(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str], syntax: str
) -> None:
    push_image(registry, "docker/dockerfile", "1.23")
    push_index(registry, "docker/dockerfile", "1", seed="major")
    push_image(registry, "upd/relock", "1")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"{syntax}FROM {registry.host}/upd/relock:1\n")
    mirror = ("--registry-mirror", f"docker.io={registry.url}")
    assert run(capsys, "lock", *mirror, str(dockerfile))[0] == 0
    before = files(tmp_path)
    registry.clear_requests()

    assert run(capsys, "lock", *mirror, str(dockerfile))[0] == 0

    assert registry.requests() == []
    assert files(tmp_path) == before


@pytest.mark.parametrize("command", ["lock", "update"])
def test_bad_snapshot_is_a_usage_error(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    code, _, err = run(capsys, command, "--snapshot", "yesterday", str(tmp_path / "Dockerfile"))
    assert (code, err) == (2, "pinner: --snapshot yesterday: expected YYYYMMDDTHHMMSSZ or 'base'\n")


def test_a_reference_without_a_tag_keeps_its_text_and_refreshes_from_latest(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`FROM alpine` becomes `alpine@sha256:...` (no `:latest` added); update follows latest."""
    old = push_image(registry, "upd/notag", "latest")
    dockerfile = locked(registry, tmp_path, capsys, "FROM {h}/upd/notag\n")
    h = registry.host
    assert dockerfile.read_text() == f"FROM {h}/upd/notag@{old}\n"
    lock = (tmp_path / "Dockerfile.lock").read_text()
    assert f'reference = "{h}/upd/notag@{old}"\n' in lock
    assert 'tag = "latest"\n' in lock
    before = files(tmp_path)
    assert run(capsys, "lock", "--images-only", str(dockerfile))[0] == 0
    assert files(tmp_path) == before
    assert run(capsys, "check", str(dockerfile))[0] == 0

    new = push_image(registry, "upd/notag", "latest", seed="v2")
    code, _, err = run(capsys, "update", "--images-only", str(dockerfile))

    assert code == 0, err
    assert dockerfile.read_text() == f"FROM {h}/upd/notag@{new}\n"
    assert 'tag = "latest"\n' in (tmp_path / "Dockerfile.lock").read_text()
    assert run(capsys, "check", str(dockerfile))[0] == 0


@pytest.mark.parametrize("command", ["lock", "update"])
@pytest.mark.parametrize(
    "value", ["20250230T000000Z", "20991301T000000Z", "20250228T246000Z", "19691231T235959Z"]
)
def test_item13_a_snapshot_time_that_does_not_exist_is_a_usage_error(
    command: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The format check alone let these through, to a mirror 404 or a ValueError (exit 3) later.
    (tmp_path / "app").mkdir()
    (tmp_path / "app/Dockerfile").write_text("FROM scratch\n")
    code, _, err = run(capsys, command, "--snapshot", value, str(tmp_path / "app/Dockerfile"))
    assert (code, err) == (2, f"pinner: --snapshot {value}: not a real UTC time from 1970 on\n")
    assert sorted(p.name for p in (tmp_path / "app").iterdir()) == ["Dockerfile"]


@pytest.mark.parametrize("case", ["moved", "unparsable", "pinned by hand", "no process"])
def test_update_says_the_same_with_the_parse_in_a_forked_process(
    case: str,
    registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over many files the Dockerfiles parse in a forked process; what update does is the same."""
    monkeypatch.setattr(parallel, "MIN_PER_PROCESS", 4)
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    forks = []

    class Child(parallel.Child[object]):
        def __init__(self, work: Callable[[], object]) -> None:
            forks.append(work)
            super().__init__(work)

    monkeypatch.setattr(parallel, "Child", Child)
    if case == "no process":
        monkeypatch.setattr(os, "fork", no_process)
    push_image(registry, "upd/fork", "1")
    push_image(registry, "upd/still", "1")
    tree = tmp_path / "tree"
    for n in range(12):
        folder = tree / f"svc{n:02}"
        folder.mkdir(parents=True)
        name = "fork" if n % 3 == 0 else "still"
        (folder / "Dockerfile").write_text(f"FROM {registry.host}/upd/{name}:1\nRUN true\n")
    assert run(capsys, "lock", "--images-only", str(tree))[0] == 0
    push_image(registry, "upd/fork", "1", seed="v2")
    broken = tree / "svc05" / "Dockerfile"
    if case == "unparsable":
        broken.write_text("FROM ${NOT_DECLARED}\n")
    elif case == "pinned by hand":
        broken.write_text(broken.read_text().replace("@sha256:", "@sha256:0", 1))

    def update(_: int, copy: Path) -> tuple[int, str, str, dict[str, bytes]]:
        code, out, err = run(capsys, "update", "--json", "--report", "r.md", ".")
        return code, out, err, tree_files(copy)

    said = on_one_cpu_and_two(monkeypatch, tree, tmp_path, update)
    # The run with two CPUs parses in one (the reads of the files are shared out too).
    parses = [w for w in forks if getattr(w, "func", None) is update_command._parse_each]
    assert len(parses) == 1
    assert said[1] == said[2]
    code, out, err, _ = said[2]
    if case in ("moved", "no process"):
        assert code == 0, err
        assert json.loads(out)["changed"] is True
        assert (tmp_path / "cpus2" / "r.md").read_text().count("upd/fork") == 4
    else:
        assert code == 1
        assert "svc05/Dockerfile:1: " in err
