"""YAML read for its node marks: where each scalar is written, so pins edit the text in place.

PyYAML's composer keeps each node's start and end mark (character offsets into the text); the
document is never constructed or dumped again, so quotes, comments and layout are the user's.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pinner.dockerfile import Span
from pinner.errors import Problem, ReferenceFileError
from pinner.refs import Found

MERGE_TAG = "tag:yaml.org,2002:merge"
# The nodes of a file with its aliases expanded, as the readers walk them: nine anchors of nine
# aliases each (the "billion laughs") are a billion.
MAX_NODES = 1_000_000


def documents(text: str, path: str) -> list[Node]:
    """Every document of a YAML stream as nodes; invalid YAML is one line naming file and line."""
    try:
        found = [node for node in yaml.compose_all(text, Loader=yaml.SafeLoader) if node]
        sizes: dict[int, int] = {}
        if sum(_expanded(node, path, sizes, set()) for node in found) > MAX_NODES:
            raise _problem(path, found[0], f"aliases expand to over {MAX_NODES} nodes")
        return found
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = e.problem or e.context
        raise ReferenceFileError(Problem(path, line, f"not valid YAML: {problem}")) from None
    except yaml.YAMLError as e:
        raise ReferenceFileError(Problem(path, None, f"not valid YAML: {e}")) from None
    except RecursionError:
        # PyYAML's composer recurses once per level of nesting (`[[[[...`).
        deep = Problem(path, None, "not valid YAML: nested deeper than pinner reads")
        raise ReferenceFileError(deep) from None


def _expanded(node: Node, path: str, sizes: dict[int, int], open_: set[int]) -> int:
    """How many nodes node stands for with its aliases expanded (each node counted once)."""
    if id(node) in sizes:
        return sizes[id(node)]
    if id(node) in open_:
        raise _problem(path, node, "an alias inside the node it names")
    open_.add(id(node))
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [child for pair in node.value for child in pair]
    else:
        children = []
    size = 1 + sum(_expanded(child, path, sizes, open_) for child in children)
    open_.discard(id(node))
    sizes[id(node)] = size
    if size > MAX_NODES:
        raise _problem(path, node, f"aliases expand to over {MAX_NODES} nodes")
    return size


def _problem(path: str, node: Node, problem: str) -> ReferenceFileError:
    return ReferenceFileError(Problem(path, node.start_mark.line + 1, f"not read: {problem}"))


def pairs(node: Node | None) -> Iterator[tuple[str, Node]]:
    """A mapping's string keys and values, through `<<` merge keys; nothing for other nodes."""
    if not isinstance(node, MappingNode):
        return
    merged: list[Node] = []
    for key, value in node.value:
        if key.tag == MERGE_TAG or (isinstance(key, ScalarNode) and key.value == "<<"):
            merged.extend(value.value if isinstance(value, SequenceNode) else [value])
        elif isinstance(key, ScalarNode):
            yield key.value, value
    seen = {key.value for key, _ in node.value if isinstance(key, ScalarNode)}
    for source in merged:
        for key, value in pairs(source):
            if key not in seen:
                seen.add(key)
                yield key, value


def get(node: Node | None, key: str) -> Node | None:
    """A mapping's value for key (merge keys included), or None."""
    return next((value for k, value in pairs(node) if k == key), None)


def items(node: Node | None) -> list[Node]:
    """A sequence's items; nothing for other nodes."""
    return list(node.value) if isinstance(node, SequenceNode) else []


def scalar(node: Node | None) -> str | None:
    """A scalar's value, or None for anything else."""
    return node.value if isinstance(node, ScalarNode) else None


def located(
    text: str, node: Node, used_by: str, path: str, notes: list[Problem], prefix: str = ""
) -> Found | None:
    """A scalar reference with its span in text (after prefix), or None with a note why not."""
    assert isinstance(node, ScalarNode)
    line = node.start_mark.line + 1
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("'", '"'):
        start, end = start + 1, end - 1
    value = node.value.removeprefix(prefix)
    start += len(prefix)
    if "$" in value or "{{" in value:
        notes.append(Problem(path, line, f"{value}: set by a variable; not pinned"))
        return None
    if text[start:end] != value:
        # Escapes, folded or block scalars: the text is not the value, so no exact edit exists.
        notes.append(Problem(path, line, f"{value}: not written as one plain string; not pinned"))
        return None
    return Found(line, value, Span(start, end), used_by)
