"""The build context compose and bake files declare for a Dockerfile."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinner.refs import bake, compose, contexts


@pytest.mark.parametrize(
    ("text", "builds"),
    [
        ("services:\n  app:\n    build: .\n", [(".", "Dockerfile")]),
        ("services:\n  app:\n    build: ./web\n", [("./web", "Dockerfile")]),
        (
            "services:\n  app:\n    build:\n      context: .\n      dockerfile: app/Dockerfile\n",
            [(".", "app/Dockerfile")],
        ),
        (
            "services:\n  app:\n    build:\n      dockerfile: app.Dockerfile\n",
            [(".", "app.Dockerfile")],
        ),
        # An image alone builds nothing; a variable is not read.
        ("services:\n  db:\n    image: postgres:16\n", []),
        ("services:\n  app:\n    build:\n      context: ${CONTEXT}\n", []),
        # YAML anchors, as compose files use them for shared build settings.
        (
            "x-build: &build\n  context: ..\n  dockerfile: app/Dockerfile\n"
            "services:\n  app:\n    build:\n      <<: *build\n",
            [("..", "app/Dockerfile")],
        ),
    ],
)
def test_compose_builds(text: str, builds: list[tuple[str, str]]) -> None:
    assert compose.builds(text) == builds


@pytest.mark.parametrize(
    ("text", "builds"),
    [
        ('target "app" {\n  dockerfile = "app/Dockerfile"\n}\n', [(".", "app/Dockerfile")]),
        ('target "app" {\n  context = "web"\n}\n', [("web", "Dockerfile")]),
        # Inherited from another target.
        (
            'target "base" {\n  context = ".."\n}\n'
            'target "app" {\n  inherits = ["base"]\n  dockerfile = "app/Dockerfile"\n}\n',
            [("..", "Dockerfile"), ("..", "app/Dockerfile")],
        ),
        ('target "app" {\n  context = "${ROOT}"\n}\n', []),
    ],
)
def test_bake_builds(text: str, builds: list[tuple[str, str]]) -> None:
    assert bake.builds(text, "docker-bake.hcl") == builds


def test_bake_json_builds() -> None:
    text = '{"target": {"app": {"context": ".", "dockerfile": "app/Dockerfile"}}}'
    assert bake.builds(text, "docker-bake.json") == [(".", "app/Dockerfile")]


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


COMPOSE_APP = "services:\n  app:\n    build:\n      context: .\n      dockerfile: app/Dockerfile\n"


@pytest.mark.parametrize(
    ("files", "declared"),
    [
        ({}, []),
        ({"compose.yaml": COMPOSE_APP}, ["."]),
        ({"docker-compose.yml": COMPOSE_APP}, ["."]),
        ({"docker-bake.hcl": 'target "app" {\n  dockerfile = "app/Dockerfile"\n}\n'}, ["."]),
        # Beside the Dockerfile, relative to it.
        ({"app/compose.yaml": "services:\n  app:\n    build: .\n"}, ["app"]),
        ({"app/compose.yaml": "services:\n  app:\n    build: ..\n"}, []),
        # Two files, one context; two contexts (the caller then knows no one context).
        (
            {
                "compose.yaml": COMPOSE_APP,
                "docker-bake.hcl": 'target "app" {\n  dockerfile = "app/Dockerfile"\n}\n',
            },
            ["."],
        ),
        (
            {"compose.yaml": COMPOSE_APP, "app/compose.yaml": "services:\n  app:\n    build: .\n"},
            ["app", "."],
        ),
        # Another Dockerfile, a file pinner does not read, a file that does not parse.
        ({"compose.yaml": "services:\n  web:\n    build: web\n"}, []),
        ({"build.yaml": COMPOSE_APP}, []),
        ({"compose.yaml": "services: [\n", "docker-bake.hcl": "target {"}, []),
        # Above the repository's root: not read.
        ({"../compose.yaml": "services:\n  app:\n    build:\n      context: repo\n"
          "      dockerfile: app/Dockerfile\n"}, []),
    ],
)  # fmt: skip
def test_declared_contexts(tmp_path: Path, files: dict[str, str], declared: list[str]) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    _tree(root, {"app/Dockerfile": "FROM scratch\n", **files})
    found = contexts.declared(str(root / "app/Dockerfile"))
    assert found == tuple(str((root / d).resolve()) for d in declared)
