"""The note lock prints for short names podman and buildah resolve off docker.io."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from cli import run
from registryd import Registry, push_image

from pinner import dockerfile, pinning, shortnames
from pinner.lockfile import Lock
from pinner.manifest import OCI_MANIFEST, Manifest

DIGEST = "sha256:" + "a" * 64
MACHINE_FILE = Path("/etc/containers/registries.conf.d/shortnames.conf")
# Names containers/shortnames moved off docker.io after the 2021 file older distributions ship
# (Debian bookworm's containers-common 0.50.1): such a machine's file names docker.io's image.
MOVED_SINCE_2021 = {"hello-world", "rockylinux"}


def notes(text: str) -> tuple[str, ...]:
    parsed = dockerfile.parse(text, "Dockerfile")
    resolved = {pinning.query(u): Manifest(DIGEST, OCI_MANIFEST) for u in parsed.uses}
    return pinning.pin(parsed, resolved, Lock()).notes("Dockerfile")


def note(line: int, written: str, short: str, target: str, qualified: str) -> str:
    return (
        f"Dockerfile:{line}: {written}: podman and buildah resolve `{short}` to {target}"
        " (containers-common short-name alias), not docker.io; the digest pinned is docker.io's;"
        f" write {qualified} to pin one image for every builder"
    )


FEDORA = "registry.fedoraproject.org/fedora"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "FROM fedora:40\n",
            (note(1, "fedora:40", "fedora", FEDORA, "docker.io/library/fedora:40"),),
            id="fedora",
        ),
        pytest.param(
            "FROM python:3.12 AS a\nFROM opensuse/tumbleweed\nFROM centos@" + DIGEST + "\n",
            (
                note(
                    2,
                    "opensuse/tumbleweed",
                    "opensuse/tumbleweed",
                    "registry.opensuse.org/opensuse/tumbleweed",
                    "docker.io/opensuse/tumbleweed",
                ),
                note(
                    3,
                    "centos@" + DIGEST,
                    "centos",
                    "quay.io/centos/centos",
                    "docker.io/library/centos",
                ),
            ),
            id="path-and-digest",
        ),
        pytest.param(
            "ARG BASE=fedora:40\nFROM ${BASE}\nCOPY --from=fedora:40 /a /a\n",
            (
                note(2, "${BASE}", "fedora", FEDORA, "docker.io/library/fedora:40"),
                note(3, "fedora:40", "fedora", FEDORA, "docker.io/library/fedora:40"),
            ),
            id="arg-and-copy-from",
        ),
        pytest.param("FROM python:3.12\nFROM debian:bookworm\nFROM alpine\n", (), id="docker-io"),
        pytest.param(
            "FROM docker.io/library/fedora:40\nFROM docker.io/fedora\n"
            "FROM quay.io/centos/centos:stream9\nFROM localhost/fedora\nFROM library/fedora\n",
            (),
            id="qualified",
        ),
    ],
)
def test_lock_notes_short_names_aliased_off_docker_io(text: str, expected: tuple[str, ...]) -> None:
    assert notes(text) == expected


def test_the_note_leaves_the_users_reference_alone() -> None:
    parsed = dockerfile.parse("FROM fedora:40\n", "Dockerfile")
    resolved = {pinning.query(u): Manifest(DIGEST, OCI_MANIFEST) for u in parsed.uses}
    assert pinning.pin(parsed, resolved, Lock()).text == f"FROM fedora:40@{DIGEST}\n"


def test_lock_prints_the_note_once(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fedora = push_image(registry, "library/fedora", "40")
    python = push_image(registry, "library/python", "3.12-shortnames")
    dockerfile_path = tmp_path / "Dockerfile"
    dockerfile_path.write_text(
        "FROM fedora:40\nFROM python:3.12-shortnames\nFROM docker.io/library/fedora:40\n"
    )

    code, _, err = run(
        capsys,
        "lock",
        "--images-only",
        "--registry-mirror",
        f"docker.io={registry.url}",
        str(dockerfile_path),
    )

    assert code == 0, err
    assert dockerfile_path.read_text() == (
        f"FROM fedora:40@{fedora}\nFROM python:3.12-shortnames@{python}\n"
        f"FROM docker.io/library/fedora:40@{fedora}\n"
    )
    assert [line for line in err.splitlines() if "short-name" in line] == [
        note(1, "fedora:40", "fedora", FEDORA, "docker.io/library/fedora:40").replace(
            "Dockerfile:", f"{dockerfile_path}:", 1
        )
    ]


@pytest.mark.skipif(not MACHINE_FILE.exists(), reason=f"no {MACHINE_FILE} (containers-common)")
def test_the_table_agrees_with_this_machines_containers_common() -> None:
    machine = tomllib.loads(MACHINE_FILE.read_text())["aliases"]
    held = {name: target for name, target in shortnames.ALIASES.items() if name in machine}
    older = {
        name: machine[name]
        for name in MOVED_SINCE_2021 & held.keys()
        if machine[name] == f"docker.io/library/{name}"
    }
    assert {name: machine[name] for name in held} == held | older
    # Every alias off docker.io this machine has is in the table.
    assert {n for n, t in machine.items() if not t.startswith("docker.io/")} <= held.keys()


def test_no_alias_names_a_registry() -> None:
    # alias() looks names up as written: a qualified reference must never match a key.
    # A first component with "." or ":", or localhost, names a registry (distribution/reference).
    registries = [n for n in shortnames.ALIASES if "/" in n and "." in n.partition("/")[0]]
    registries += [n for n in shortnames.ALIASES if ":" in n or n.startswith("localhost/")]
    assert registries == []
