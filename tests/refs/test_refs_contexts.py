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


BAKE_APP = 'target "app" {\n  dockerfile = "app/Dockerfile"\n}\n'


@pytest.mark.parametrize(
    ("files", "declared"),
    [
        # A compose file in a sibling folder: a deployment README's `context: ../` with
        # `dockerfile: ./docker/scheduler/Dockerfile`, and meklaw/autodrome's Makefile running
        # `docker-compose -f ./deploy/docker-compose.yml` (search excerpts).
        (
            {"deploy/docker-compose.yml": "services:\n  app:\n    build:\n      context: ../\n"
             "      dockerfile: ./app/Dockerfile\n"},
            ["."],
        ),
        # Compose notes' `context: ../app` with `dockerfile: ../docker/Dockerfile` (search
        # excerpt): the Dockerfile is relative to the context.
        (
            {"deploy/compose.yaml": "services:\n  web:\n    build:\n      context: ../web\n"
             "      dockerfile: ../app/Dockerfile\n"},
            ["web"],
        ),
        # Deeper folders, a bake file, .devcontainer (only .git and node_modules are skipped).
        ({"ops/docker/prod/compose.yaml": "services:\n  app:\n    build:\n      context: ../../..\n"
          "      dockerfile: app/Dockerfile\n"}, ["."]),
        ({"ci/docker-bake.hcl": 'target "app" {\n  context = ".."\n'
          '  dockerfile = "app/Dockerfile"\n}\n'}, ["."]),
        ({".devcontainer/compose.yaml": "services:\n  app:\n    build:\n      context: ..\n"
          "      dockerfile: app/Dockerfile\n"}, ["."]),
        ({"node_modules/x/compose.yaml": "services:\n  app:\n    build:\n      context: ../..\n"
          "      dockerfile: app/Dockerfile\n"}, []),
        # Below the depth searched (4 folders under the root).
        ({"a/b/c/d/e/compose.yaml": "services:\n  app:\n    build:\n      context: ../../../../..\n"
          "      dockerfile: app/Dockerfile\n"}, []),
        # A sibling building another Dockerfile; two files, two contexts: the caller trusts none.
        ({"deploy/compose.yaml": "services:\n  app:\n    build: ../web\n"}, []),
        (
            {"compose.yaml": COMPOSE_APP,
             "deploy/compose.yaml": "services:\n  app:\n    build:\n      context: ../app\n"
             "      dockerfile: Dockerfile\n"},
            [".", "app"],
        ),
    ],
)  # fmt: skip
def test_declared_contexts_in_sibling_folders(
    tmp_path: Path, files: dict[str, str], declared: list[str]
) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    _tree(root, {"app/Dockerfile": "FROM scratch\n", "web/README": "", **files})
    found = contexts.declared(str(root / "app/Dockerfile"))
    assert found == tuple(str((root / d).resolve()) for d in declared)


def test_sibling_folders_are_searched_within_a_repository_only(tmp_path: Path) -> None:
    # Without a folder holding .git above the Dockerfile there is no root to search below.
    _tree(
        tmp_path,
        {
            "app/Dockerfile": "FROM scratch\n",
            "deploy/compose.yaml": "services:\n  app:\n    build:\n      context: ..\n"
            "      dockerfile: app/Dockerfile\n",
        },
    )
    assert contexts.declared(str(tmp_path / "app/Dockerfile")) == ()


@pytest.mark.parametrize(
    ("files", "declared"),
    [
        # docker-bake.override.hcl changes the target's context: buildx builds
        # app/app/Dockerfile, not this one.
        ({"docker-bake.hcl": BAKE_APP,
          "docker-bake.override.hcl": 'target "app" {\n  context = "app"\n}\n'}, []),
        # The override names the Dockerfile and context the base file gave otherwise: one
        # context, not two.
        ({"docker-bake.hcl": 'target "app" {\n  context = "app"\n}\n',
          "docker-bake.override.hcl": 'target "app" {\n  context = "."\n'
          '  dockerfile = "app/Dockerfile"\n}\n'}, ["."]),
        # The ROS bakefile's suggested override (`target "ci" { platforms = [...] }`, search
        # excerpt) keeps the base's context and Dockerfile.
        ({"docker-bake.hcl": BAKE_APP,
          "docker-bake.override.hcl": 'target "app" {\n  platforms = ["linux/amd64"]\n}\n'},
         ["."]),
        # JSON and HCL merge in buildx's order: json, hcl, override.json, override.hcl.
        ({"docker-bake.json": '{"target": {"app": {"context": "app", "dockerfile": "Dockerfile"}}}',
          "docker-bake.hcl": 'target "app" {\n  context = "."\n  dockerfile = "app/Dockerfile"\n}\n'},
         ["."]),
        ({"docker-bake.hcl": 'target "app" {\n  context = "web"\n}\n',
          "docker-bake.override.json": '{"target": {"app": {"context": ".",'
          ' "dockerfile": "app/Dockerfile"}}}'}, ["."]),
        # Another file name is read on its own, as `bake -f` reads it: here a second context.
        ({"docker-bake.hcl": BAKE_APP,
          "docker-bake.prod.hcl": 'target "app" {\n  context = "app"\n}\n'}, ["app", "."]),
        # buildx stops on an override that does not parse: nothing from the pair is trusted.
        ({"docker-bake.hcl": BAKE_APP, "docker-bake.override.hcl": "target {"}, []),
    ],
)  # fmt: skip
def test_bake_override_merges_over_the_bake_file(
    tmp_path: Path, files: dict[str, str], declared: list[str]
) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    _tree(root, {"app/Dockerfile": "FROM scratch\n", **files})
    found = contexts.declared(str(root / "app/Dockerfile"))
    assert found == tuple(str((root / d).resolve()) for d in declared)


def test_bake_merged_builds() -> None:
    base = ('target "app" {\n  context = "a"\n  dockerfile = "A"\n}\n', "docker-bake.hcl")
    override = ('{"target": {"app": {"dockerfile": "B"}, "new": {}}}', "x.json")
    assert bake.merged_builds([base, override]) == [("a", "B"), (".", "Dockerfile")]
    assert bake.merged_builds([]) == []


APP_BUILD = (
    "services:\n  backend:\n    build:\n      context: ..\n      dockerfile: app/Dockerfile\n"
)
# A development override's `build: {target: development}` (search excerpt, no repository).
TARGET_ONLY = "services:\n  backend:\n    build:\n      target: development\n"


@pytest.mark.parametrize(
    ("files", "declared"),
    [
        # The override keeps the base's context and Dockerfile: read alone it would build
        # app/Dockerfile with app/ as the context too, and two contexts trust none.
        ({"app/compose.yaml": APP_BUILD, "app/compose.override.yml": TARGET_ONLY}, ["."]),
        ({"app/docker-compose.yml": APP_BUILD,
          "app/docker-compose.override.yaml": TARGET_ONLY}, ["."]),
        # The override's context replaces the base's: compose builds app/app/Dockerfile, not
        # this one; `docker buildx bake` reads no override file, so it builds this one from ..
        ({"app/compose.yaml": APP_BUILD,
          "app/compose.override.yaml": "services:\n  backend:\n    build: .\n"}, ["."]),
        # Compose takes the first base name and the first override name only; another is
        # read on its own, as `-f` reads it.
        ({"app/compose.yaml": APP_BUILD, "app/docker-compose.yml": TARGET_ONLY}, ["app", "."]),
        ({"app/compose.override.yml": TARGET_ONLY}, ["app"]),
        # An override that does not parse: compose stops, nothing of the pair is trusted; bake
        # does not read it.
        ({"app/compose.yaml": APP_BUILD, "app/compose.override.yml": "services: [\n"}, ["."]),
    ],
)  # fmt: skip
def test_compose_override_merges_over_the_compose_file(
    tmp_path: Path, files: dict[str, str], declared: list[str]
) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    _tree(root, {"app/Dockerfile": "FROM scratch\n", **files})
    found = contexts.declared(str(root / "app/Dockerfile"))
    assert found == tuple(str((root / d).resolve()) for d in declared)


def test_compose_builds_merged() -> None:
    base = (
        "services:\n  a:\n    build:\n      context: x\n      dockerfile: A\n  b:\n    build: y\n"
    )
    override = "services:\n  a:\n    build:\n      dockerfile: B\n  c:\n    build: z\n"
    assert compose.builds(base, override) == [("x", "B"), ("y", "Dockerfile"), ("z", "Dockerfile")]


WEB_SERVICE = "services:\n  app:\n    build:\n      context: web\n"


@pytest.mark.parametrize(
    ("files", "declared"),
    [
        # buildx reads the compose services as targets, then merges the bake file's targets of
        # the same name over them: context web from compose, Dockerfile from bake (relative to
        # the context). compose alone builds web/Dockerfile; the bake file alone ../app/...
        ({"compose.yaml": WEB_SERVICE,
          "docker-bake.hcl": 'target "app" {\n  dockerfile = "../app/Dockerfile"\n}\n'}, ["web"]),
        # A dot in a service's name is `_` in the target's (sanitizeTargetName).
        ({"compose.yaml": WEB_SERVICE.replace("app:", "app.web:"),
          "docker-bake.hcl": 'target "app_web" {\n  dockerfile = "../app/Dockerfile"\n}\n'},
         ["web"]),
        ({"compose.yaml": WEB_SERVICE.replace("app:", "app.web:"),
          "docker-bake.hcl": 'target "app.web" {\n  dockerfile = "../app/Dockerfile"\n}\n'},
         []),
        # Every compose file of a default name is read, merged in buildx's order, then bake's.
        ({"compose.yaml": WEB_SERVICE,
          "docker-compose.yml": "services:\n  app:\n    build:\n      dockerfile: x\n",
          "docker-bake.json": '{"target": {"app": {"dockerfile": "../app/Dockerfile"}}}'},
         ["web"]),
        # Another compose name is not one buildx reads when given none.
        ({"build.compose.yaml": WEB_SERVICE,
          "docker-bake.hcl": 'target "app" {\n  dockerfile = "../app/Dockerfile"\n}\n'}, []),
        # A bake file below the root: run in its folder, deploy/app/Dockerfile is built; run
        # from the root (`bake -f deploy/docker-bake.hcl`), this one, with the root as context.
        ({"deploy/docker-bake.hcl": BAKE_APP}, ["."]),
        ({"deploy/docker-bake.hcl": 'target "app" {\n  context = "app"\n}\n'}, ["app"]),
        # The two working directories give this Dockerfile two contexts: none is trusted.
        ({"deploy/docker-bake.hcl": 'target "app" {\n  context = "../app"\n}\n'
          'target "root" {\n  dockerfile = "app/Dockerfile"\n}\n'}, ["app", "."]),
    ],
)  # fmt: skip
def test_bake_reads_compose_services_as_targets_from_its_working_directory(
    tmp_path: Path, files: dict[str, str], declared: list[str]
) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    _tree(root, {"app/Dockerfile": "FROM scratch\n", "web/README": "", **files})
    found = contexts.declared(str(root / "app/Dockerfile"))
    assert sorted(found) == sorted(str((root / d).resolve()) for d in declared)
