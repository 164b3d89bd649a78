"""Compose files: services.*.image pinned in place, everything else kept byte for byte."""

from __future__ import annotations

import pytest
from refs_support import DIGEST, OLD, notes, pin_text, used_by

from pinner.errors import ReferenceFileError

D = DIGEST

PINNED = [
    pytest.param(
        'services:\n  web:\n    image: nginx:1.27-alpine\n    ports: ["80:80"]\n',
        f'services:\n  web:\n    image: nginx:1.27-alpine@{D}\n    ports: ["80:80"]\n',
        id="plain",
    ),
    pytest.param(
        'services:\n  db:\n    image: "postgres:16"   # the database\n',
        f'services:\n  db:\n    image: "postgres:16@{D}"   # the database\n',
        id="double-quoted-with-comment",
    ),
    pytest.param(
        "services:\n  cache: {image: 'redis:7', restart: always}\n",
        f"services:\n  cache: {{image: 'redis:7@{D}', restart: always}}\n",
        id="flow-mapping-single-quoted",
    ),
    pytest.param(
        "services:\n  web:\n    image: nginx\n",
        f"services:\n  web:\n    image: nginx@{D}\n",
        id="bare-name-gets-digest-only",
    ),
    pytest.param(
        "services:\r\n  web:\r\n    image: ghcr.io/org/app:v2.1.0\r\n    build: .\r\n",
        f"services:\r\n  web:\r\n    image: ghcr.io/org/app:v2.1.0@{D}\r\n    build: .\r\n",
        id="crlf",
    ),
    pytest.param(
        "version: '3.8'\nservices:\n  a:\n    image: mcr.microsoft.com/mssql/server:2022-latest\n"
        "  b:\n    image: localhost:5000/team/b:1\n",
        f"version: '3.8'\nservices:\n  a:\n    image: mcr.microsoft.com/mssql/server:2022-latest@{D}\n"
        f"  b:\n    image: localhost:5000/team/b:1@{D}\n",
        id="registries-and-ports",
    ),
    pytest.param(
        "x-worker: &worker\n  image: python:3.12-slim\n  restart: always\n"
        "services:\n  w1:\n    <<: *worker\n  w2:\n    <<: *worker\n    command: two\n",
        f"x-worker: &worker\n  image: python:3.12-slim@{D}\n  restart: always\n"
        "services:\n  w1:\n    <<: *worker\n  w2:\n    <<: *worker\n    command: two\n",
        id="extension-field-through-merge-key",
    ),
    pytest.param(
        f"services:\n  web:\n    image: nginx:1.27@{OLD}\n",
        f"services:\n  web:\n    image: nginx:1.27@{OLD}\n",
        id="digest-kept-as-written",
    ),
    pytest.param(
        "\ufeffservices:\n  web:\n    image: nginx:1\n",
        f"\ufeffservices:\n  web:\n    image: nginx:1@{D}\n",
        id="byte-order-mark",
    ),
]

NO_OP = [
    pytest.param(f"services:\n  web:\n    image: nginx:1.27@{D}\n", id="already-pinned"),
    pytest.param("services:\n  web:\n    image: ${WEB_IMAGE:-nginx:1.27}\n", id="variable"),
    pytest.param("services:\n  api:\n    image: ${REGISTRY}/api:${TAG}\n", id="variables-in-parts"),
    pytest.param("services:\n  app:\n    build: .\n", id="build-only"),
    pytest.param(
        "services:\n  app:\n    build:\n      context: .\n      args:\n        image: python:3.12\n",
        id="image-key-under-build-args",
    ),
    pytest.param("x-image: python:3.12\nservices: {}\n", id="extension-field-not-a-service"),
    pytest.param("", id="empty"),
    pytest.param(
        "services:\n  a:\n    image:\n    build: .\n  b:\n    image: ''\n",
        id="null-and-empty-image",
    ),
    pytest.param("# nothing yet\n", id="comment-only"),
    pytest.param(
        "services:\n  web:\n    image: >-\n      nginx:1\n", id="folded-scalar-not-editable"
    ),
]


@pytest.mark.parametrize(("before", "after"), PINNED)
def test_pins_service_images(before: str, after: str) -> None:
    assert pin_text("compose", before) == after


@pytest.mark.parametrize("text", NO_OP)
def test_leaves_alone(text: str) -> None:
    assert pin_text("compose", text) == text


def test_names_each_service() -> None:
    text = "services:\n  web:\n    image: nginx:1\n  db:\n    image: postgres:16\n"
    assert used_by("compose", text) == [
        (3, "nginx:1", "service web"),
        (5, "postgres:16", "service db"),
    ]


def test_says_what_it_cannot_pin() -> None:
    text = 'services:\n  a:\n    image: ${A}\n  b:\n    image: "nginx\\u003a1"\n'
    assert notes("compose", text, "compose.yaml") == (
        "compose.yaml:3: ${A}: set by a variable; not pinned",
        "compose.yaml:5: nginx:1: not written as one plain string; not pinned",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "services:\n  web:\n    image: [nginx\n",
            "compose.yaml:4: not valid YAML: expected ',' or ']', but got '<stream end>'",
            id="unclosed-flow",
        ),
        pytest.param(
            "services:\n  web:\n  image: a\n   b: c\n",
            "compose.yaml:4: not valid YAML: mapping values are not allowed here",
            id="bad-indent",
        ),
        pytest.param(
            "services:\n  web:\n    image: " + "[" * 5_000 + "]" * 5_000 + "\n",
            "compose.yaml: not valid YAML: nested deeper than pinner reads",
            id="deep-nesting",
        ),
        pytest.param(
            "a: &a [x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{n}: &{n} [{','.join([f'*{a}'] * 9)}]\n"
                for a, n in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "services:\n  web:\n    image: nginx:1\n    x: *i\n",
            "compose.yaml:7: not read: aliases expand to over 1000000 nodes",
            id="alias-bomb",
        ),
        pytest.param(
            "services: &s\n  web: {image: nginx:1, <<: *s}\n",
            "compose.yaml:1: not read: an alias inside the node it names",
            id="recursive-alias",
        ),
        pytest.param(
            "services:\n  web:\n    image: Nginx:1\n",
            "compose.yaml:3: Nginx:1: repository name must be lowercase",
            id="invalid-reference",
        ),
    ],
)
def test_bad_input_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ReferenceFileError) as caught:
        pin_text("compose", text, "compose.yaml")
    assert str(caught.value) == message
