"""GitHub Actions workflows: job containers, service containers and `docker://` steps.

Workflow syntax: `jobs.<id>.container` (a string or `.image`), `jobs.<id>.services.<id>.image`
and `jobs.<id>.steps[*].uses: docker://<image>`.
"""

from __future__ import annotations

from pinner.errors import Problem
from pinner.refs import Found, Scan
from pinner.refs.yamltext import documents, get, items, located, pairs, scalar

DOCKER_SCHEME = "docker://"


def scan(text: str, path: str) -> Scan:
    """Every image a workflow's jobs run in, beside, or as a step."""
    found: list[Found | None] = []
    notes: list[Problem] = []
    for document in documents(text, path):
        for job, body in pairs(get(document, "jobs")):
            container = get(body, "container")
            if scalar(container) is None:
                container = get(container, "image")
            if container is not None and scalar(container):
                found.append(located(text, container, f"job {job}: container", path, notes))
            for name, service in pairs(get(body, "services")):
                image = get(service, "image")
                if image is not None and scalar(image):
                    where = f"job {job}: service {name}"
                    found.append(located(text, image, where, path, notes))
            for number, step in enumerate(items(get(body, "steps")), start=1):
                uses = get(step, "uses")
                value = scalar(uses)
                if uses is not None and value is not None and value.startswith(DOCKER_SCHEME):
                    where = f"job {job}: step {number}"
                    found.append(located(text, uses, where, path, notes, DOCKER_SCHEME))
    return Scan(tuple(f for f in found if f is not None), tuple(notes))
