"""Python modules: image literals handed to testcontainers, Dagger, Airflow and the docker SDK.

The modules in testdata/refs/python are written the way public projects write them (pytest
fixtures with testcontainers, an Airflow DAG with CRLF line ends, a Dagger pipeline that also
uses the docker SDK); pinning them must change the image literals and not one other byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from refs_support import DIGEST, notes, pin_text, used_by

from pinner.errors import ReferenceFileError

D = DIGEST
MODULES = Path(__file__).parents[2] / "testdata" / "refs" / "python"


def module(name: str) -> str:
    return (MODULES / name).read_bytes().decode()


@pytest.mark.parametrize(
    ("name", "literals"),
    [
        pytest.param(
            "db_fixtures.py",
            ['"postgres:16-alpine"', "'minio/minio:RELEASE.2024-06-13T22-53-53Z'", '"redis:7.2"'],
            id="testcontainers-fixtures",
        ),
        pytest.param(
            "dag_export.py",
            ["'quay.io/acme/exporter:2.3.1'", '"alpine:3.20"', '"python:3.12-slim"'],
            id="airflow-dag-crlf",
        ),
        pytest.param(
            "ci.py",
            [
                '"python:3.12-slim"',
                '"ghcr.io/astral-sh/ruff:0.6.9"',
                '"postgres:16"',
                '"busybox:1.36"',
                '"hello-world"',
            ],
            id="dagger-and-docker-sdk",
        ),
    ],
)
def test_real_modules_change_only_their_image_literals(name: str, literals: list[str]) -> None:
    text = module(name)
    expected = text
    for literal in literals:
        assert text.count(literal) == 1, literal
        expected = expected.replace(literal, f"{literal[:-1]}@{D}{literal[-1]}")

    assert pin_text("python", text) == expected


def test_names_the_call_or_constant() -> None:
    assert used_by("python", module("db_fixtures.py")) == [
        (11, "postgres:16-alpine", "constant POSTGRES_IMAGE"),
        (24, "redis:7.2", "Redis()"),
        (12, "minio/minio:RELEASE.2024-06-13T22-53-53Z", "constant MINIO"),
    ]


def test_computed_images_are_reported_with_their_line() -> None:
    assert notes("python", module("db_fixtures.py"), "db_fixtures.py") == (
        "db_fixtures.py:38: PostgresContainer(): the image is an f-string; not pinned",
    )
    assert notes("python", module("ci.py"), "ci.py") == (
        "ci.py:31: pull: the tag is a separate argument; not pinned",
    )


TC = "from testcontainers.core.container import DockerContainer\n"

PINNED = [
    pytest.param(
        TC + 'DockerContainer(r"alpine:3.20")\n',
        TC + f'DockerContainer(r"alpine:3.20@{D}")\n',
        id="raw-prefix",
    ),
    pytest.param(
        TC + 'DockerContainer("""alpine:3.20""")\n',
        TC + f'DockerContainer("""alpine:3.20@{D}""")\n',
        id="triple-quoted",
    ),
    pytest.param(
        TC + "c = DockerContainer(\n    image='nginx',  # bare\n).with_exposed_ports(80)\n",
        TC + f"c = DockerContainer(\n    image='nginx@{D}',  # bare\n).with_exposed_ports(80)\n",
        id="keyword-bare-name",
    ),
    pytest.param(
        "import testcontainers.postgres\n"
        'testcontainers.postgres.PostgresContainer("postgres:16")\n',
        "import testcontainers.postgres\n"
        f'testcontainers.postgres.PostgresContainer("postgres:16@{D}")\n',
        id="dotted-module-call",
    ),
]


@pytest.mark.parametrize(("before", "after"), PINNED)
def test_pins_literals(before: str, after: str) -> None:
    assert pin_text("python", before) == after


def test_escaped_literal_is_noted_not_edited() -> None:
    text = TC + 'DockerContainer("alpine\\x3a3")\n'
    assert pin_text("python", text) == text
    assert notes("python", text, "m.py") == (
        "m.py:2: alpine:3: not written as one plain string; not pinned",
    )


NO_OP = [
    pytest.param(
        f'from testcontainers.redis import RedisContainer\nRedisContainer("redis:7@{D}")\n',
        id="already-pinned",
    ),
    pytest.param('RedisContainer("redis:7")\n', id="no-import-no-api"),
    pytest.param(
        "import dagger\nclass Box:\n    def from_(self, x): ...\nIMAGE = 3\nBox().from_(IMAGE)\n",
        id="constant-not-a-string",
    ),
    pytest.param(
        "from testcontainers.core.container import DockerContainer\n"
        'def f():\n    IMAGE = "redis:7"\n    return DockerContainer(IMAGE)\n',
        id="local-name-not-module-constant",
    ),
    pytest.param(
        "import docker\nclient = docker.from_env()\nclient.containers.list(all=True)\n"
        'print("python:3.12")\n',
        id="other-calls-and-strings",
    ),
    pytest.param(
        'from airflow.operators.bash import BashOperator\nBashOperator(task_id="t", bash_command="docker run alpine:3")\n',
        id="airflow-without-image",
    ),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("text", NO_OP)
def test_leaves_alone(text: str) -> None:
    assert pin_text("python", text) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "import dagger\ndef f(:\n    pass\n",
            "m.py:2: not valid Python: invalid syntax",
            id="syntax-error",
        ),
        # libcst's native parser crashed the process a few thousand brackets deep; CPython's
        # refuses more than 200, and libcst's visitors run out of recursion below that.
        pytest.param(
            "import docker\nx = " + "[" * 5_000 + "]" * 5_000 + "\n",
            "m.py:2: not valid Python: too many nested parentheses",
            id="deep-nesting",
        ),
        pytest.param(
            "import docker\nx = " + "[" * 199 + "]" * 199 + "\n",
            "m.py: not valid Python: nested deeper than pinner reads",
            id="nesting-past-the-visitors",
        ),
        # Nesting without brackets: libcst's native parser recursed until the process crashed.
        pytest.param(
            "import docker\nx = " + "+" * 10_000 + "1\n",
            "m.py: not valid Python: nested deeper than pinner reads",
            id="unary-chain",
        ),
        pytest.param(
            "import docker\nx = " + "lambda: " * 5_000 + "1\n",
            "m.py: not valid Python: nested deeper than pinner reads",
            id="lambda-chain",
        ),
        # CPython's parser overflowed its stack and raised MemoryError.
        pytest.param(
            'import docker\n"""x"""' + "{" * 5_000,
            "m.py: not valid Python: nested deeper than pinner reads",
            id="parser-stack-overflow",
        ),
        # libcst read it; evaluating the literal raised SyntaxError.
        pytest.param(
            'from testcontainers.redis import RedisContainer\nRedisContainer("redis:7\0")\n',
            "m.py:2: not valid Python: source code cannot contain null bytes",
            id="nul",
        ),
        pytest.param(
            'from testcontainers.redis import RedisContainer\nRedisContainer("Redis:7")\n',
            "m.py:2: Redis:7: repository name must be lowercase",
            id="invalid-reference",
        ),
    ],
)
def test_bad_input_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ReferenceFileError) as caught:
        pin_text("python", text, "m.py")
    assert str(caught.value) == message
