"""GitHub Actions workflows: job and service containers and docker:// steps, pinned in place.

The inputs reproduce how workflows are written in public repositories: GitHub's PostgreSQL
service-container guide (a bare `image: postgres`, a folded `options: >-` block), `container:` as
a string and as a mapping, and `uses: docker://` steps.
"""

from __future__ import annotations

import pytest
from refs_support import DIGEST, notes, pin_text, used_by

D = DIGEST

SERVICE_GUIDE = """\
name: PostgreSQL service example
on: push

jobs:
  # Label of the container job
  container-job:
    runs-on: ubuntu-latest
    container: node:20-bookworm-slim
    services:
      postgres:
        # Docker Hub image
        image: postgres
        env:
          POSTGRES_PASSWORD: postgres
        options: >-
          --health-cmd pg_isready
          --health-interval 10s
      redis:
        image: 'redis:7-alpine'
    steps:
      - uses: actions/checkout@v4
      - name: lint the chart
        uses: docker://quay.io/helmpack/chart-testing:v3.10.1
        with:
          args: ct lint
"""

PINNED = [
    pytest.param(
        SERVICE_GUIDE,
        SERVICE_GUIDE.replace("node:20-bookworm-slim", f"node:20-bookworm-slim@{D}")
        .replace("image: postgres\n", f"image: postgres@{D}\n")
        .replace("'redis:7-alpine'", f"'redis:7-alpine@{D}'")
        .replace("chart-testing:v3.10.1", f"chart-testing:v3.10.1@{D}"),
        id="service-container-guide",
    ),
    pytest.param(
        "jobs:\n  test:\n    container:\n      image: python:3.12\n      options: --user 1001\n",
        f"jobs:\n  test:\n    container:\n      image: python:3.12@{D}\n      options: --user 1001\n",
        id="container-mapping",
    ),
    pytest.param(
        'jobs:\r\n  t:\r\n    steps:\r\n      - uses: "docker://alpine:3.20"\r\n',
        f'jobs:\r\n  t:\r\n    steps:\r\n      - uses: "docker://alpine:3.20@{D}"\r\n',
        id="quoted-docker-step-crlf",
    ),
]

NO_OP = [
    pytest.param(
        f"jobs:\n  t:\n    container: node:20@{D}\n    steps:\n      - uses: docker://alpine:3@{D}\n",
        id="already-pinned",
    ),
    pytest.param("jobs:\n  t:\n    container: ${{ matrix.image }}\n", id="matrix-expression"),
    pytest.param(
        "jobs:\n  t:\n    services:\n      db:\n        image: ${{ inputs.db }}\n",
        id="input-expression",
    ),
    pytest.param(
        "jobs:\n  t:\n    steps:\n      - uses: actions/setup-python@v5\n        with:\n          image: python:3.12\n",
        id="action-and-an-input-named-image",
    ),
    pytest.param(
        "jobs:\n  call:\n    uses: org/repo/.github/workflows/w.yml@main\n", id="reusable-workflow"
    ),
    pytest.param("on: push\n", id="no-jobs"),
]


@pytest.mark.parametrize(("before", "after"), PINNED)
def test_pins_workflow_images(before: str, after: str) -> None:
    assert pin_text("actions", before) == after


@pytest.mark.parametrize("text", NO_OP)
def test_leaves_alone(text: str) -> None:
    assert pin_text("actions", text) == text


def test_names_job_and_role() -> None:
    assert used_by("actions", SERVICE_GUIDE) == [
        (8, "node:20-bookworm-slim", "job container-job: container"),
        (12, "postgres", "job container-job: service postgres"),
        (19, "redis:7-alpine", "job container-job: service redis"),
        (23, "quay.io/helmpack/chart-testing:v3.10.1", "job container-job: step 2"),
    ]


def test_expressions_are_noted() -> None:
    text = "jobs:\n  t:\n    container: ${{ matrix.image }}\n"
    assert notes("actions", text, "ci.yml") == (
        "ci.yml:3: ${{ matrix.image }}: set by a variable; not pinned",
    )
