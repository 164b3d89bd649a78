"""Bake files (docker-bake.hcl, docker-bake.json): `docker-image://` contexts and base-image
variables.

A target's named context `docker-image://<image>` is pinned after the scheme. A variable's
default is pinned when some target passes the variable, whole, as a build arg that its
Dockerfile uses as a whole image reference (`FROM ${BASE}`, `COPY --from=${BASE}`): bake's
value wins over the Dockerfile's ARG default at build time. Other variables (versions, tags) are
not references and stay. The default files buildx merges are weighed together for which
variables feed an image (scan). HCL is read with python-hcl2's lark tree, whose tokens carry
offsets into the original text; JSON with PyYAML's node marks, as Compose files are.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple

import hcl2
import lark
from yaml.nodes import Node

from pinner import dockerfile
from pinner.dockerfile import Span
from pinner.errors import PinnerError, Problem, ReferenceFileError
from pinner.refs import Found, Scan, yamltext

SCHEME = "docker-image://"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE_ARG = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class Literal(NamedTuple):
    """A string as written: its value, 1-based line and span (None when not a plain literal)."""

    value: str
    line: int
    span: Span | None


class Target(NamedTuple):
    """What pinner needs of a bake target."""

    name: str
    contexts: tuple[tuple[str, Literal], ...]
    args: tuple[tuple[str, str], ...]  # build arg -> the variable it passes whole
    context: str | None
    dockerfile: str | None
    inherits: tuple[str, ...]


class Bake(NamedTuple):
    """Variables with literal defaults, and targets."""

    variables: dict[str, Literal]
    targets: dict[str, Target]


def scan(text: str, path: str, read: Callable[[str], str | None] | None = None) -> Scan:
    """Contexts and FROM-feeding variable defaults; read gives a file's text, or None.

    A file buildx reads with others when given none (DEFAULT_FILES) is weighed with them merged,
    as buildx builds: an override's target may pass the base file's variable to a Dockerfile, or
    name another Dockerfile. Each file's own contexts and variable defaults are what is pinned
    in it (a default an override replaces too: it stays an image reference)."""
    read = read or _read
    bake = _parse(text, path)
    whole_build = _with_defaults(bake, text, path, read)
    found: list[Found] = []
    notes: list[Problem] = []
    feeding = _from_args(whole_build, path, read)
    for target in whole_build.targets.values():
        for _, literal in target.contexts:
            whole = _VARIABLE.fullmatch(literal.value.removeprefix(SCHEME))
            if literal.value.startswith(SCHEME) and whole is not None:
                feeding.add(whole.group(1))  # `docker-image://${BASE}`: the default is the image
    for target in bake.targets.values():
        for key, literal in target.contexts:
            if not literal.value.startswith(SCHEME):
                continue
            whole = _VARIABLE.fullmatch(literal.value.removeprefix(SCHEME))
            if whole is not None and whole.group(1) in whole_build.variables:
                continue
            where = f"target {target.name}: context {key}"
            found.extend(_site(literal, where, path, notes, SCHEME))
    for name in sorted(feeding):
        default = bake.variables.get(name)
        if default is not None:
            found.extend(_site(default, f"variable {name}", path, notes))
    return Scan(tuple(sorted(found, key=lambda f: f.span.start)), tuple(notes))


def _with_defaults(bake: Bake, text: str, path: str, read: Callable[[str], str | None]) -> Bake:
    """bake merged with the other default files of its folder, in buildx's order; bake alone
    where it is not one of them, or one of them does not parse (buildx would stop there)."""
    name = os.path.basename(path)
    if name not in DEFAULT_FILES:
        return bake
    folder = os.path.dirname(path)
    bakes = []
    for each in DEFAULT_FILES:
        if each == name:
            bakes.append(bake)
            continue
        other = read(os.path.join(folder, each))
        if other is None:
            continue
        try:
            bakes.append(_parse(other, each))
        except PinnerError:
            return bake  # reported where that file is read for its own references
    return _merged_bakes(bakes) if len(bakes) > 1 else bake


def _site(
    literal: Literal, used_by: str, path: str, notes: list[Problem], prefix: str = ""
) -> list[Found]:
    """The reference a literal holds (after prefix), or nothing and a note why not."""
    value = literal.value.removeprefix(prefix)
    if "$" in value or "{" in value:
        notes.append(Problem(path, literal.line, f"{value}: set by a variable; not pinned"))
        return []
    if literal.span is None or "\\" in value:
        notes.append(
            Problem(path, literal.line, f"{value}: not written as one plain string; not pinned")
        )
        return []
    span = Span(literal.span.start + len(prefix), literal.span.end)
    return [Found(literal.line, value, span, used_by)]


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def _build(bake: Bake, target: Target) -> tuple[str, str]:
    """A target's context, relative to the bake file's folder, and Dockerfile, relative to it."""
    chain = list(_lineage(bake, target))
    context = next((t.context for t in chain if t.context is not None), ".")
    name = next((t.dockerfile for t in chain if t.dockerfile is not None), "Dockerfile")
    return context, name


def builds(text: str, path: str) -> list[tuple[str, str]]:
    """(context, Dockerfile) of each target; those set by a variable are not read."""
    return _builds(_parse(text, path))


# The files `docker buildx bake` reads when given none, in its order: each later one's targets
# are merged over the earlier ones' (buildx's defaultFilenames, after the compose files).
DEFAULT_FILES = (
    "docker-bake.json",
    "docker-bake.hcl",
    "docker-bake.override.json",
    "docker-bake.override.hcl",
)


def merged_builds(
    files: Sequence[tuple[str, str]],
    services: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> list[tuple[str, str]]:
    """builds() of bake files (text, path) read as one, each merged over those before it as
    buildx merges targets of the same name (Target.Merge): a later `context`, `dockerfile`,
    `inherits` replaces the earlier, `contexts` and `args` are merged key by key.

    services: the compose services that build (name -> context, Dockerfile as written), which
    buildx reads as targets before the bake files (bake.go ParseFiles: the compose files first,
    then the HCL and JSON ones; dedupeConfig merges targets of one name in that order), a dot
    in a service's name read as `_` (sanitizeTargetName).
    """
    bakes = [_parse(text, path) for text, path in files]
    if services:
        targets = {
            name.replace(".", "_"): Target(name.replace(".", "_"), (), (), context, file, ())
            for name, (context, file) in services.items()
        }
        bakes.insert(0, Bake({}, targets))
    return _builds(_merged_bakes(bakes)) if bakes else []


def _merged_bakes(bakes: Sequence[Bake]) -> Bake:
    """Bakes read as one, each later one's variables and targets merged over the earlier."""
    variables: dict[str, Literal] = {}
    targets: dict[str, Target] = {}
    for bake in bakes:
        variables.update(bake.variables)
        for name, target in bake.targets.items():
            before = targets.get(name)
            targets[name] = target if before is None else _merged(before, target)
    return Bake(variables, targets)


def _merged(before: Target, after: Target) -> Target:
    return Target(
        after.name,
        tuple({**dict(before.contexts), **dict(after.contexts)}.items()),
        tuple({**dict(before.args), **dict(after.args)}.items()),
        after.context if after.context is not None else before.context,
        after.dockerfile if after.dockerfile is not None else before.dockerfile,
        after.inherits or before.inherits,
    )


def _builds(bake: Bake) -> list[tuple[str, str]]:
    found = [_build(bake, target) for target in bake.targets.values()]
    return [(context, name) for context, name in found if "$" not in context + name]


def _parse(text: str, path: str) -> Bake:
    return _json(text, path) if path.endswith(".json") else _hcl(text, path)


def _from_args(bake: Bake, path: str, read: Callable[[str], str | None]) -> set[str]:
    """The variables some target passes whole as a build arg its Dockerfile uses as an image."""
    variables: set[str] = set()
    for target in bake.targets.values():
        args = dict(a for t in reversed(list(_lineage(bake, target))) for a in t.args)
        if not args:
            continue
        context, name = _build(bake, target)
        # Bake passes these args, so the Dockerfile's ARGs need no default of their own.
        values = {arg: _default(bake, variable) for arg, variable in args.items()}
        # The Dockerfile as bake finds it from each folder it may run in (working_dirs).
        for folder in working_dirs(path):
            text = read(os.path.join(folder, context, name))
            if text is None:
                continue
            try:
                parsed = dockerfile.parse(text, name, values)
            except PinnerError:
                continue
            used = set()
            for use in parsed.uses:
                whole = _WHOLE_ARG.fullmatch(use.written)
                if whole:
                    used.add(whole.group(1) or whole.group(2))
            variables.update(variable for arg, variable in args.items() if arg in used)
    return variables


def working_dirs(path: str) -> tuple[str, ...]:
    """The folders `docker buildx bake` may run in to read the bake file at path: its own (the
    only one where buildx finds its default files itself) and the repository's root (the
    nearest folder above holding `.git`, where CI actions and Makefiles run `bake -f`). Bake's
    paths are relative to that folder, which pinner cannot see."""
    folder = os.path.dirname(path)
    at = os.path.abspath(folder)
    while not os.path.exists(os.path.join(at, ".git")):
        parent = os.path.dirname(at)
        if parent == at:
            return (folder,)
        at = parent
    return (folder,) if at == os.path.abspath(folder) else (folder, at)


def _default(bake: Bake, variable: str) -> str:
    literal = bake.variables.get(variable)
    return literal.value if literal is not None else "scratch"


def _lineage(bake: Bake, target: Target) -> Iterator[Target]:
    """A target, then the targets it inherits from, depth first, each once."""
    seen: set[str] = set()
    stack = [target]
    while stack:
        current = stack.pop(0)
        if current.name in seen:
            continue
        seen.add(current.name)
        yield current
        stack.extend(bake.targets[n] for n in current.inherits if n in bake.targets)


def _argument_variable(value: object) -> str | None:
    """The variable an arg value passes whole: `VAR` in HCL, `"${VAR}"` in both."""
    if isinstance(value, Literal):
        match = _VARIABLE.fullmatch(value.value)
        return match.group(1) if match else None
    if isinstance(value, str):
        return value
    return None


# HCL ----------------------------------------------------------------------------------------


def _hcl(text: str, path: str) -> Bake:
    """The variables and targets of an HCL bake file; invalid HCL is one line."""
    try:
        return _hcl_bake(text, path)
    except RecursionError:  # lark's tree and its walk recurse once per level of nesting
        deep = Problem(path, None, "not valid HCL: nested deeper than pinner reads")
        raise ReferenceFileError(deep) from None


def _hcl_bake(text: str, path: str) -> Bake:
    try:
        tree = hcl2.parses_to_tree(text)
    except lark.exceptions.UnexpectedInput as e:
        token = getattr(e, "token", None) or getattr(e, "char", None) or ""
        shown = str(token).strip().splitlines()[0][:40] if str(token).strip() else "end of file"
        raise ReferenceFileError(
            Problem(path, e.line, f"not valid HCL: unexpected {shown!r}")
        ) from None
    except lark.exceptions.LarkError as e:
        raise ReferenceFileError(Problem(path, None, f"not valid HCL: {e}")) from None
    variables: dict[str, Literal] = {}
    targets: dict[str, Target] = {}
    for block in _children(_body(tree), "block"):
        kind, labels, body = _block(block)
        attributes = dict(_attributes(body))
        if kind == "variable" and labels:
            default = attributes.get("default")
            if isinstance(default, Literal):
                variables[labels[0]] = default
        elif kind == "target" and labels:
            targets[labels[0]] = _hcl_target(labels[0], attributes)
    return Bake(variables, targets)


def _hcl_target(name: str, attributes: dict[str, object]) -> Target:
    contexts = attributes.get("contexts")
    args = attributes.get("args")
    inherits = attributes.get("inherits")
    context, file = attributes.get("context"), attributes.get("dockerfile")
    return Target(
        name,
        tuple((k, v) for k, v in _pairs(contexts) if isinstance(v, Literal)),
        tuple((k, var) for k, v in _pairs(args) if (var := _argument_variable(v)) is not None),
        context.value if isinstance(context, Literal) else None,
        file.value if isinstance(file, Literal) else None,
        tuple(i.value for i in inherits if isinstance(i, Literal))
        if isinstance(inherits, list)
        else (),
    )


def _pairs(value: object) -> list[tuple[str, object]]:
    return list(value.items()) if isinstance(value, dict) else []


def _children(tree: lark.Tree[lark.Token], data: str) -> Iterator[lark.Tree[lark.Token]]:
    for child in tree.children:
        if isinstance(child, lark.Tree) and child.data == data:
            yield child


def _body(tree: lark.Tree[lark.Token]) -> lark.Tree[lark.Token]:
    return next(_children(tree, "body"), tree)


def _block(block: lark.Tree[lark.Token]) -> tuple[str, list[str], lark.Tree[lark.Token]]:
    kind = ""
    labels: list[str] = []
    for child in block.children:
        if isinstance(child, lark.Tree) and child.data == "identifier":
            # `variable BASE {` labels a block with a bare identifier, as `variable "BASE" {`.
            if kind:
                labels.append(str(child.children[0]))
            else:
                kind = str(child.children[0])
        elif isinstance(child, lark.Tree) and child.data == "string":
            literal = _string(child)
            labels.append(literal.value if literal else "")
    return kind, labels, _body(block)


def _attributes(body: lark.Tree[lark.Token]) -> Iterator[tuple[str, object]]:
    for attribute in _children(body, "attribute"):
        name, value = attribute.children[0], attribute.children[-1]
        if isinstance(name, lark.Tree) and isinstance(value, lark.Tree):
            yield str(name.children[0]), _value(value)


def _value(node: lark.Tree[lark.Token]) -> object:
    """A literal string, a variable name (str), a list, a dict of these, or None."""
    if (
        node.data == "expr_term"
        and len(node.children) == 1
        and isinstance(node.children[0], lark.Tree)
    ):
        return _value(node.children[0])
    if node.data == "string":
        return _string(node)
    if node.data == "identifier":
        return str(node.children[0])
    if node.data == "tuple":
        return [_value(c) for c in node.children if isinstance(c, lark.Tree)]
    if node.data == "object":
        result: dict[str, object] = {}
        for elem in _children(node, "object_elem"):
            key, value = elem.children[0], elem.children[-1]
            if isinstance(key, lark.Tree) and isinstance(value, lark.Tree):
                name = _value(key.children[0]) if isinstance(key.children[0], lark.Tree) else None
                label = name.value if isinstance(name, Literal) else name
                if isinstance(label, str):
                    result[label] = _value(value)
        return result
    return None


def _string(node: lark.Tree[lark.Token]) -> Literal | None:
    """A quoted string: its raw text, line, and the span inside the quotes."""
    quotes = [c for c in node.children if isinstance(c, lark.Token) and c.type == "DBLQUOTE"]
    if len(quotes) != 2:
        return None
    start, end = quotes[0].end_pos, quotes[1].start_pos
    parts = [c for c in node.children if isinstance(c, lark.Tree)]
    plain = all(
        all(isinstance(t, lark.Token) and t.type == "STRING_CHARS" for t in p.children)
        for p in parts
    )
    raw = "".join(_raw(p) for p in parts)
    line = quotes[0].line or 1
    if start is None or end is None:
        return Literal(raw, line, None)
    return Literal(raw, line, Span(start, end) if plain else None)


def _raw(node: lark.Tree[lark.Token]) -> str:
    return "".join(str(c) if isinstance(c, lark.Token) else _raw(c) for c in node.children)


# JSON ---------------------------------------------------------------------------------------


def _json(text: str, path: str) -> Bake:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise ReferenceFileError(Problem(path, e.lineno, f"not valid JSON: {e.msg}")) from None
    except RecursionError:
        deep = Problem(path, None, "not valid JSON: nested deeper than pinner reads")
        raise ReferenceFileError(deep) from None
    documents = yamltext.documents(text, path)
    document = documents[0] if documents else None
    variables: dict[str, Literal] = {}
    for name, body in yamltext.pairs(yamltext.get(document, "variable")):
        default = yamltext.get(body, "default")
        if default is not None and yamltext.scalar(default) is not None:
            variables[name] = _json_literal(text, default)
    targets: dict[str, Target] = {}
    for name, body in yamltext.pairs(yamltext.get(document, "target")):
        contexts = tuple(
            (key, _json_literal(text, node))
            for key, node in yamltext.pairs(yamltext.get(body, "contexts"))
            if yamltext.scalar(node) is not None
        )
        args = tuple(
            (key, var)
            for key, node in yamltext.pairs(yamltext.get(body, "args"))
            if (value := yamltext.scalar(node)) is not None
            and (var := _argument_variable(Literal(value, 0, None))) is not None
        )
        targets[name] = Target(
            name,
            contexts,
            args,
            yamltext.scalar(yamltext.get(body, "context")),
            yamltext.scalar(yamltext.get(body, "dockerfile")),
            tuple(
                v
                for item in yamltext.items(yamltext.get(body, "inherits"))
                if (v := yamltext.scalar(item)) is not None
            ),
        )
    return Bake(variables, targets)


def _json_literal(text: str, node: Node) -> Literal:
    start, end = node.start_mark.index + 1, node.end_mark.index - 1
    value = yamltext.scalar(node) or ""
    line = node.start_mark.line + 1
    return Literal(value, line, Span(start, end) if text[start:end] == value else None)
