"""Compose files: `services.<name>.image` (the Compose specification, services.image)."""

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
