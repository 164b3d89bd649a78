"""Compose files: `services.<name>.image` (the Compose specification, services.image), and the
build context each service builds its Dockerfile with (services.build)."""

from __future__ import annotations

from pinner.errors import Problem
from pinner.refs import Found, Scan
from pinner.refs.yamltext import documents, get, located, pairs, scalar


def scan(text: str, path: str) -> Scan:
    """Every service image in a compose file."""
    found: list[Found] = []
    notes: list[Problem] = []
    for document in documents(text, path):
        for name, service in pairs(get(document, "services")):
            image = get(service, "image")
            if image is None or not scalar(image):  # absent, null or empty: no reference
                continue
            site = located(text, image, f"service {name}", path, notes)
            if site is not None:
                found.append(site)
    return Scan(tuple(found), tuple(notes))


def builds(text: str) -> list[tuple[str, str]]:
    """(context, Dockerfile) of each service that builds: the context relative to the compose
    file's folder, the Dockerfile relative to the context.

    `build: DIR` or `build: {context: DIR, dockerfile: FILE}`; the Dockerfile is relative to the
    context, `Dockerfile` by default. A context or file set by a variable is not read.
    """
    found = []
    for document in documents(text, "compose"):
        for _, service in pairs(get(document, "services")):
            build = get(service, "build")
            if build is None:
                continue
            context = scalar(build)  # `build: DIR`
            file = None
            if context is None:
                context, file = scalar(get(build, "context")), scalar(get(build, "dockerfile"))
            context, file = context or ".", file or "Dockerfile"
            if "$" not in context + file:
                found.append((context, file))
    return found
