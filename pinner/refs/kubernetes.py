"""Kubernetes manifests: every container image of every Pod template, in any workload kind.

A Pod spec is found wherever it sits (Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob's
jobTemplate, a List's items, custom workloads): any mapping with `containers`, `initContainers`
or `ephemeralContainers` holding mappings with an `image` (the core/v1 PodSpec fields).
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, SequenceNode

from pinner.errors import Problem
from pinner.refs import Found, Scan
from pinner.refs.yamltext import documents, get, items, located, pairs, scalar

CONTAINER_LISTS = {
    "containers": "container",
    "initContainers": "initContainer",
    "ephemeralContainers": "ephemeralContainer",
}


def scan(text: str, path: str) -> Scan:
    """Every container image in a (multi-document) manifest file."""
    found: list[Found] = []
    notes: list[Problem] = []
    for document in documents(text, path):
        _walk(text, path, document, "", found, notes)
    return Scan(tuple(found), tuple(notes))


def _walk(
    text: str, path: str, node: Node, owner: str, found: list[Found], notes: list[Problem]
) -> None:
    if isinstance(node, SequenceNode):
        for item in node.value:
            _walk(text, path, item, owner, found, notes)
        return
    if not isinstance(node, MappingNode):
        return
    kind, name = scalar(get(node, "kind")), scalar(get(get(node, "metadata"), "name"))
    if kind is not None:
        owner = f"{kind} {name}" if name else kind
    for key, value in pairs(node):
        role = CONTAINER_LISTS.get(key)
        if role is None:
            _walk(text, path, value, owner, found, notes)
            continue
        for number, container in enumerate(items(value), start=1):
            image = get(container, "image")
            if image is None or not scalar(image):  # absent, null or empty: no reference
                continue
            label = scalar(get(container, "name")) or str(number)
            used_by = f"{owner}: {role} {label}" if owner else f"{role} {label}"
            site = located(text, image, used_by, path, notes)
            if site is not None:
                found.append(site)
