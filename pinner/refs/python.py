"""Python modules: image names passed as string literals to the APIs that pull them.

testcontainers (`DockerContainer("redis:7")`, `PostgresContainer("postgres:16")`, `image=`),
Dagger (`.from_("python:3.12")`), Airflow (`DockerOperator(image=...)`,
`KubernetesPodOperator(image=...)`, `@task.docker(image=...)`) and the docker SDK
(`client.containers.run(...)`, `client.images.pull(...)`), and module-level string constants
those calls use. libcst finds them and gives their positions; the pin edits the original text
inside the quotes, so every other byte of the module stays. A computed image (an f-string, a
concatenation, a call) is reported with its line and left alone.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from pinner.dockerfile import Span
from pinner.errors import Problem, ReferenceFileError
from pinner.refs import Found, Scan, python_imports

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_AIRFLOW_OPERATORS = frozenset({"DockerOperator", "KubernetesPodOperator", "DockerSwarmOperator"})
_AIRFLOW_TASKS = frozenset({"task.docker", "task.kubernetes"})
# docker SDK: method -> the keyword that names the image.
_DOCKER_SDK = {"containers.run": "image", "containers.create": "image", "images.pull": "repository"}


def scan(text: str, path: str) -> Scan:
    """Every image literal a module hands to a known API."""
    uses = {m.group(1).decode() for m in python_imports().finditer(text.encode())}
    if not uses:
        return Scan(())
    finder = _Finder(text, path, uses)
    try:
        module = _parse(text, path)
        MetadataWrapper(module, unsafe_skip_copy=True).visit(finder)
    except RecursionError:  # libcst's tree and its visitors recurse once per level of nesting
        raise ReferenceFileError(Problem(path, None, _TOO_DEEP)) from None
    return Scan(tuple(finder.found), tuple(finder.notes))


_TOO_DEEP = "not valid Python: nested deeper than pinner reads"
# CPython's tokenizer refuses more brackets open at once (MAXLEVEL): libcst's native parser does
# not, and a few thousand crash the process.
_MAX_BRACKETS = 200


def _brackets(text: str) -> int:
    """The most brackets open at once, counting those in strings and comments too."""
    depth = deepest = 0
    for bracket in re.finditer(r"[\[\](){}]", text):
        depth += 1 if bracket.group() in "([{" else -1
        deepest = max(deepest, depth)
    return deepest


def _parse(text: str, path: str) -> cst.Module:
    if "\0" in text:
        # libcst reads it, then evaluating a string literal holding one raises SyntaxError.
        line = len(_LINE_BREAK.findall(text, 0, text.index("\0"))) + 1
        raise ReferenceFileError(Problem(path, line, f"not valid Python: {_NUL}"))
    # CPython's parser reads first: it refuses nesting libcst's native parser would recurse
    # through until the process crashes (`x = ` and 4,000 `lambda: `, 10,000 `+`), and brackets
    # past 200. Strings may hold brackets, so only CPython says whether the code nests too deep.
    error = _cpython_error(text, path)
    if error is not None and _brackets(text) > _MAX_BRACKETS:
        raise ReferenceFileError(Problem(path, error.lineno, f"not valid Python: {error.msg}"))
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as e:
        line, message = e.raw_line, e.message
    # CPython's own parser names the line and problem more exactly, when it agrees.
    if error is not None:
        line, message = error.lineno or line, error.msg
    raise ReferenceFileError(Problem(path, line, f"not valid Python: {message}"))


_NUL = "source code cannot contain null bytes"


def _cpython_error(text: str, path: str) -> SyntaxError | None:
    """Why CPython's parser refuses text, or None when it takes it (a SyntaxError may be syntax
    newer than this Python, which libcst reads)."""
    try:
        ast.parse(text, path)
    except SyntaxError as e:
        return e
    except (MemoryError, RecursionError):  # its parser's stack, or the tree's, overflowed
        raise ReferenceFileError(Problem(path, None, _TOO_DEEP)) from None
    return None


def _dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name or Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else f"?.{node.attr.value}"
    if isinstance(node, cst.Call):
        inner = _dotted(node.func)
        return f"{inner}()" if inner else None
    return None


class _Finder(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, text: str, path: str, imports: set[str]) -> None:
        super().__init__()
        self.text = text
        self.path = path
        self.imports = imports
        self.starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]
        self.containers: set[str] = set()  # names imported from testcontainers
        self.constants: dict[str, cst.SimpleString] = {}
        self.found: list[Found] = []
        self.notes: list[Problem] = []
        self.depth = 0

    # Module-level names only: a constant inside a function or class is another scope.
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.depth -= 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = _dotted(node.module) if node.module is not None else None
        if (
            module
            and module.split(".")[0] == "testcontainers"
            and not isinstance(node.names, cst.ImportStar)
        ):
            for alias in node.names:
                name = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(name, cst.Name):
                    self.containers.add(name.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self.depth == 0 and len(node.targets) == 1:
            self._constant(node.targets[0].target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if self.depth == 0 and node.value is not None:
            self._constant(node.target, node.value)

    def _constant(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name) and isinstance(value, cst.SimpleString):
            self.constants[target.value] = value

    def visit_Call(self, node: cst.Call) -> None:
        callee = _dotted(node.func) or ""
        last = callee.rpartition(".")[2]
        image: cst.BaseExpression | None = None
        if "testcontainers" in self.imports and (
            last in self.containers or callee.startswith("testcontainers.")
        ):
            image = _argument(node.args, "image", 0)
        elif "dagger" in self.imports and last == "from_":
            image = _argument(node.args, "address", 0)
        elif "airflow" in self.imports and (last in _AIRFLOW_OPERATORS or callee in _AIRFLOW_TASKS):
            image = _argument(node.args, "image", None)
        elif "docker" in self.imports:
            method = next((m for m in _DOCKER_SDK if callee.endswith("." + m)), None)
            if method is not None:
                image = _argument(node.args, _DOCKER_SDK[method], 0)
                if method == "images.pull" and _argument(node.args, "tag", 1) is not None:
                    self._note(node, f"{last}: the tag is a separate argument; not pinned")
                    return
        if image is not None:
            self._image(f"{last or callee}()", image)

    def _image(self, used_by: str, image: cst.BaseExpression) -> None:
        if isinstance(image, cst.Name) and image.value in self.constants:
            image, used_by = self.constants[image.value], f"constant {image.value}"
        if not isinstance(image, cst.SimpleString):
            kind = "an f-string" if isinstance(image, cst.FormattedString) else "computed"
            self._note(image, f"{used_by}: the image is {kind}; not pinned")
            return
        value = image.evaluated_value
        where = self._range(image)
        line = where.start.line
        start = self._offset(where.start.line, where.start.column)
        prefix = image.prefix
        quote = image.quote
        inner = Span(
            start + len(prefix) + len(quote),
            self._offset(where.end.line, where.end.column) - len(quote),
        )
        if not isinstance(value, str) or "b" in prefix.lower():
            return
        if self.text[inner.start : inner.end] != value:
            self._note(image, f"{value}: not written as one plain string; not pinned")
            return
        self.found.append(Found(line, value, inner, used_by))

    def _range(self, node: cst.CSTNode) -> CodeRange:
        return self.get_metadata(PositionProvider, node)

    def _offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column

    def _note(self, node: cst.CSTNode, message: str) -> None:
        self.notes.append(Problem(self.path, self._range(node).start.line, message))


def _argument(
    args: Sequence[cst.Arg], keyword: str, position: int | None
) -> cst.BaseExpression | None:
    """The argument passed as keyword, or at position among the positional ones."""
    positional = []
    for arg in args:
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg.value
        elif not arg.star:
            positional.append(arg.value)
    if position is not None and position < len(positional):
        return positional[position]
    return None
