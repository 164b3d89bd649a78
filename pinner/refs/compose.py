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


# The files `docker compose` reads in a folder when given none (compose-go's DefaultFileNames
# and DefaultOverrideFileNames): the first base file there, then the first override file,
# merged over it.
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)

# A service's build as written: its context and Dockerfile, None where not set.
_Build = tuple[str | None, str | None]


def builds(*texts: str) -> list[tuple[str, str]]:
    """(context, Dockerfile) of each service that builds: the context relative to the compose
    file's folder, the Dockerfile relative to the context.

    `build: DIR` or `build: {context: DIR, dockerfile: FILE}`; the Dockerfile is relative to the
    context, `Dockerfile` by default. A context or file set by a variable is not read. Several
    texts are read as compose merges an override file over its base: a later `context` or
    `dockerfile` of a service replaces the earlier one, what it leaves out stays.
    """
    found = []
    for context, file in services(*texts).values():
        context, file = context or ".", file or "Dockerfile"
        if "$" not in context + file:
            found.append((context, file))
    return found


def services(*texts: str) -> dict[str, _Build]:
    """Each service that builds, by name, and its build's context and Dockerfile as written,
    the texts merged as compose merges files (a later `context` or `dockerfile` replaces)."""
    found: dict[str, _Build] = {}
    for text in texts:
        for name, (context, file) in _written(text):
            before = found.get(name, (None, None))
            found[name] = (context or before[0], file or before[1])
    return found


def _written(text: str) -> list[tuple[str, _Build]]:
    """Each service that builds, and its build's context and Dockerfile as written."""
    found: list[tuple[str, _Build]] = []
    for document in documents(text, "compose"):
        for name, service in pairs(get(document, "services")):
            build = get(service, "build")
            if build is None:
                continue
            context = scalar(build)  # `build: DIR`
            file = None
            if context is None:
                context, file = scalar(get(build, "context")), scalar(get(build, "dockerfile"))
            found.append((name, (context, file)))
    return found
