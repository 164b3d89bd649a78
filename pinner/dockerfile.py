"""Find the image references in a Dockerfile, with the exact spans of text that pin them.

Instructions are located as dockerfile-parse does (line numbers count `\\n` only); every span
returned here is an offset into the original text, so edits touch nothing else.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import sys
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from pinner import reference, shellword
from pinner.errors import DockerfileError, InvalidReference, Problem

# A parser directive up to its value, which runs to the end of the line less the blanks and the
# one CR before it: `#[ \t]*(name)[ \t]*=[ \t]*(\S.*?)[ \t]*\r?$` without the lazy value, which
# cost the regex engine a step per character (a `# syntax=` line took 60,000 instructions).
_DIRECTIVE_RE = re.compile(r"#[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(?=\S)")
_WHOLE_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class Span(NamedTuple):
    """A half-open range of offsets into the original text."""

    start: int
    end: int


class Logical(NamedTuple):
    """Where each piece of an instruction's text, continuations removed, came from.

    The text itself is not kept: its words are, and 10,000 files' instructions held 12 MB of it.
    """

    starts: tuple[int, ...]
    offsets: tuple[int, ...]

    def offset(self, index: int) -> int:
        """The original-text offset of text[index]."""
        piece = bisect.bisect_right(self.starts, index) - 1
        return self.offsets[piece] + index - self.starts[piece]


class Token(NamedTuple):
    """A word of an instruction: its text and where it starts in its logical line."""

    text: str
    at: int
    logical: Logical

    def span(self, start: int = 0, end: int | None = None) -> Span:
        """The original-text span of text[start:end]."""
        end = len(self.text) if end is None else end
        logical = self.logical
        if len(logical.starts) == 1:  # one piece (most words): offsets run straight on
            base = logical.offsets[0] + self.at
            return _new(Span, (base + start, base + end))
        first = logical.offset(self.at + start)
        return _new(Span, (first, logical.offset(self.at + end - 1) + 1))


class Instruction(NamedTuple):
    """One instruction: keyword (upper-cased), 1-based first line, span, words after the keyword."""

    keyword: str
    line: int
    span: Span
    words: tuple[Token, ...]


class ArgDefault(NamedTuple):
    """The value an ARG has, and the span of its default in the text (None when set on the CLI)."""

    value: str | None
    site: Span | None
    unset: tuple[tuple[str, str], ...] = ()


class ImageUse(NamedTuple):
    """One place a Dockerfile names an external image."""

    line: int
    written: str
    expanded: str
    ref: reference.ImageRef
    site: Span | None
    used_by: str
    platform: str | None = None  # set when the reference names another image on another platform


class Stage(NamedTuple):
    """A build stage: its index, name, and the instructions it holds (FROM first)."""

    number: int
    name: str | None
    instructions: tuple[Instruction, ...]
    parent: str | None = None

    @property
    def label(self) -> str:
        """How the lock and messages name the stage."""
        return self.name if self.name is not None else str(self.number)


class Dockerfile(NamedTuple):
    """What pinner needs of a Dockerfile: its stages and every external image it uses."""

    text: str
    stages: tuple[Stage, ...]
    uses: tuple[ImageUse, ...]
    global_args: tuple[Instruction, ...]
    escape: str = "\\"
    # The build platforms and --build-arg values it was parsed for: the same text parsed for the
    # same ones is this Dockerfile again.
    platforms: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    # What run_variables() needs to work out the ENV and ARG values each RUN starts with.
    variables: RunVariables | None = None
    # The ENV of the image each stage builds on (its config's Env), by stage label: the values
    # its RUNs start with before the stage's own ENV and ARG (php's PHPIZE_DEPS). Known once
    # lock has read the images, or from the lock that recorded them.
    base_env: Mapping[str, tuple[tuple[str, str], ...]] = {}
    # The spans of the SHELL instructions, in order (most files have none): run_shell reads them.
    shells: tuple[Span, ...] = ()
    # The program the config Shell of the image a stage builds on names (bash), by stage label:
    # read by lock only for stages whose RUNs' braces depend on it, or from the lock.
    base_shell: Mapping[str, str] = {}


class Assignment(NamedTuple):
    """A variable an ENV or ARG instruction sets; value None where it is not known."""

    keyword: str
    name: str
    value: str | None
    from_arg: bool = False  # an ENV value made of an ARG's, which a --build-arg changes


def run_variables(parsed: Dockerfile, run: Instruction) -> tuple[tuple[str, str, str], ...]:
    """The variables a RUN starts with whose value is known: name, value, and "ARG" where a
    --build-arg changes it, else "ENV". The later ENV or ARG wins, over the base image's ENV too
    (BuildKit keeps one environment per stage)."""
    if parsed.variables is None:
        return ()
    assignments, count = parsed.variables.before(parsed.stages, run.span.start, parsed.base_env)
    found: dict[str, tuple[str, str, str]] = {}
    for assignment in assignments[:count]:
        name, value = assignment.name, assignment.value
        found.pop(name, None)  # in the order last set
        if value is not None:
            from_arg = assignment.keyword == "ARG" or assignment.from_arg
            found[name] = (name, value, "ARG" if from_arg else "ENV")
    return tuple(found.values())


class ArgValue(NamedTuple):
    """One name an ARG instruction declares, as the parse of one build platform saw it."""

    name: str
    value: str | None  # the --build-arg, the global one it inherits, or its default; None: unknown
    # The default as written where it names a variable: BuildKit expands it with the stage's
    # environment at the ARG (the base image's ENV, the ENVs and ARGs before it), not only ARGs.
    default: str | None = None
    # False for `ARG NAME` with no value from anywhere: BuildKit adds nothing to the environment.
    given: bool = True


# Per stage: the index of the stage it is FROM (None: an image), and its ARG instructions' values
# by the offset each starts at, for one build platform.
_PlatformArgs = tuple[tuple[int | None, ...], dict[int, tuple[ArgValue, ...]]]


class RunVariables:
    """The ENV and ARG values each RUN of a parsed Dockerfile starts with, worked out when first
    asked for: most RUNs name no variable, and expanding every ENV of a long file as it was
    parsed cost a tenth of the parse.

    ARG values are taken as the parse declared them (build args, the global scope), their
    defaults and ENV values expanded here from what comes before them, as BuildKit does.
    """

    def __init__(self, escape: str, platforms: tuple[_PlatformArgs, ...]) -> None:
        self.escape = escape
        self.platforms = platforms
        self._resolved: list[tuple[tuple[Assignment, ...], dict[int, int]]] | None = None
        self._starts: list[int] = []
        # The base image ENV the walk was made with: lock learns it after the parse.
        self._base_env: Mapping[str, tuple[tuple[str, str], ...]] = {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunVariables):
            return NotImplemented
        return (self.escape, self.platforms) == (other.escape, other.platforms)

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> tuple[str, tuple[_PlatformArgs, ...]]:
        return self.escape, self.platforms  # update's child sends parsed files back pickled

    def __setstate__(self, state: tuple[str, tuple[_PlatformArgs, ...]]) -> None:
        self.__init__(*state)  # type: ignore[misc]

    def before(
        self,
        stages: Sequence[Stage],
        start: int,
        base_env: Mapping[str, tuple[tuple[str, str], ...]] = {},
    ) -> tuple[tuple[Assignment, ...], int]:
        """The assignments of the stage of the RUN at offset start, and how many precede it;
        base_env: the ENV of the image each stage builds on, by stage label, which the stage's
        own ENV values are expanded from."""
        if any(len(parents) != len(stages) for parents, _ in self.platforms):
            return (), 0  # not the stages parsed with these (a parse kept for its text alone)
        if self._resolved is None or base_env != self._base_env:
            self._base_env = base_env
            self._resolved = self._merged(stages)
            self._starts = [stage.instructions[0].span.start for stage in stages]
        at = bisect.bisect_right(self._starts, start) - 1
        if at < 0:
            return (), 0
        assignments, runs = self._resolved[at]
        count = runs.get(start)
        return ((), 0) if count is None else (assignments, count)

    def _merged(
        self, stages: Sequence[Stage]
    ) -> list[tuple[tuple[Assignment, ...], dict[int, int]]]:
        """The first platform's assignments, unknown where another platform gives another value
        (`ARG TARGETARCH`, an ENV made of it): one package list is recorded for every platform."""
        first, *others = [self._walk(stages, parents, args) for parents, args in self.platforms]
        if not others:
            return first
        merged = []
        for at, (assignments, runs) in enumerate(first):
            other = [o[at][0] for o in others]
            kept = tuple(
                a if all(o[i].value == a.value for o in other) else a._replace(value=None)
                for i, a in enumerate(assignments)
            )
            merged.append((kept, runs))
        return merged

    def _walk(
        self,
        stages: Sequence[Stage],
        parents: tuple[int | None, ...],
        args: Mapping[int, tuple[ArgValue, ...]],
    ) -> list[tuple[tuple[Assignment, ...], dict[int, int]]]:
        """Per stage, its ENV and ARG assignments in order (a stage starts with what the image
        or stage it is FROM gives it), and how many come before each RUN (by its offset).

        As BuildKit's dockerfile2llb: one environment per stage, the image's ENV first, then each
        ENV and each ARG with a value in order, the later winning; ENV values and ARG defaults are
        expanded from it where they stand. A stage FROM a stage starts with that stage's whole
        environment, its ARGs too (dispatchState.init takes the base's state), with the base's
        image ENV applied over it again.
        """
        found: list[tuple[tuple[Assignment, ...], dict[int, int]]] = []
        # Each stage's ENV (its image config's Env) and whole environment at its end, values None
        # where not known: what a stage FROM it starts with.
        ends: list[tuple[dict[str, Assignment], dict[str, Assignment]]] = []
        # The ENV of the image the first stage of a FROM chain builds on, known by the stages that
        # asked for it: a stage FROM a stage that only sets DEPS reads DEPS as the first made it.
        roots: list[int] = []
        image_env: dict[int, dict[str, Assignment]] = {}
        for at, (stage, parent) in enumerate(zip(stages, parents, strict=True)):
            roots.append(at if parent is None else roots[parent])
            for name, image_value in self._base_env.get(stage.label, ()):
                image_env.setdefault(roots[at], {}).setdefault(
                    name, Assignment("ENV", name, image_value)
                )
        for at, (stage, parent) in enumerate(zip(stages, parents, strict=True)):
            if parent is None:
                env = dict(image_env.get(at, {}))
                state = dict(env)
            else:
                env, state = dict(ends[parent][0]), {**ends[parent][1], **ends[parent][0]}
            assignments = list(state.values())
            runs: dict[int, int] = {}
            for instruction in stage.instructions[1:]:
                if instruction.keyword == "RUN":
                    runs[instruction.span.start] = len(assignments)
                elif instruction.keyword == "ARG":
                    for arg in args.get(instruction.span.start, ()):
                        if not arg.given:
                            continue
                        value = arg.value
                        if arg.default is not None:
                            value, _ = self._expanded(arg.default, state)
                        state[arg.name] = Assignment("ARG", arg.name, value)
                        assignments.append(state[arg.name])
                elif instruction.keyword == "ENV":
                    for name, raw in env_pairs(instruction.words):
                        value, made = self._expanded(raw, state)
                        env[name] = state[name] = Assignment("ENV", name, value, made)
                        assignments.append(state[name])
            found.append((tuple(assignments), runs))
            ends.append((env, state))
        return found

    def _expanded(self, raw: str, state: Mapping[str, Assignment]) -> tuple[str | None, bool]:
        """A value with its variables expanded from state (None if one used is not known), and
        whether one of them is made of an ARG's value."""
        if shellword.plain(raw, self.escape):
            return raw, False  # most values: nothing to look up
        unknown = made = False

        def lookup(used: str) -> str | None:
            nonlocal unknown, made
            assignment = state.get(used)
            value = None if assignment is None else assignment.value
            made = made or assignment is None or assignment.keyword == "ARG" or assignment.from_arg
            unknown = unknown or value is None
            return value

        try:
            value, _ = shellword.expand_noting_unset(raw, lookup, self.escape)
        except shellword.ExpansionError:
            return None, made
        return (None if unknown else value), made


def env_pairs(words: Sequence[Token]) -> list[tuple[str, str]]:
    """The names and unexpanded values of `ENV NAME=value ...` or the older `ENV NAME value`."""
    if words and "=" not in words[0].text:
        return [(words[0].text, " ".join(word.text for word in words[1:]))]
    return [(w.text.partition("=")[0], w.text.partition("=")[2]) for w in words]


def ancestors(parsed: Dockerfile, stage: Stage) -> list[Stage]:
    """The stages a stage is FROM, nearest first, each once (a cycle of FROMs ends the walk)."""
    by_label = {s.label: s for s in parsed.stages}
    found: list[Stage] = []
    parent = by_label.get(stage.parent or "")
    while parent is not None and parent not in found:
        found.append(parent)
        parent = by_label.get(parent.parent or "")
    return found


def shell_name(text: str) -> str:
    """The program a SHELL instruction's text names (`SHELL ["/bin/bash", "-c"]`: bash), or ""."""
    import json  # a SHELL instruction is rare: a file without one does without the import

    try:
        argv = json.loads(text.split(None, 1)[1])
    except (IndexError, ValueError, RecursionError):
        return ""
    # "" rather than None: a SHELL instruction is there, so the image's /bin/sh is not the shell.
    return shellword.shell_program(argv) or ""


def run_shell(parsed: Dockerfile, run: Instruction) -> str | None:
    """The program the last SHELL instruction before a RUN names, in its stage or a stage it is
    FROM (the image config carries it on), else the base image's config Shell where known;
    None where none does: the image's /bin/sh."""
    if not parsed.shells and not parsed.base_shell:
        return None
    # Offsets, not a walk of the stage's instructions: asked for each RUN of a stage, that walk
    # made a long Dockerfile's lock and check quadratic.
    at = bisect.bisect_right([s.instructions[0].span.start for s in parsed.stages], run.span.start)
    if at == 0:
        return None
    stage = parsed.stages[at - 1]
    if not parsed.shells:
        return parsed.base_shell.get(stage.label)
    starts = [span.start for span in parsed.shells]
    for each in (stage, *ancestors(parsed, stage)):
        # The last SHELL of the stage that starts before the RUN.
        end = min(each.instructions[-1].span.end, run.span.start)
        found = bisect.bisect_left(starts, end) - 1
        if found >= 0 and starts[found] >= each.instructions[0].span.start:
            span = parsed.shells[found]
            return shell_name(parsed.text[span.start : span.end])
    return parsed.base_shell.get(stage.label)


def decode(data: bytes, path: str) -> str:
    """Decode a Dockerfile's bytes, refusing empty, binary and non-UTF-8 files."""
    if not data.strip():
        raise DockerfileError(Problem(path, None, "file is empty"))
    if b"\0" in data:
        raise DockerfileError(Problem(path, None, "binary file (contains NUL bytes)"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DockerfileError(Problem(path, line, "not valid UTF-8")) from None


# tuple.__new__ with the class is what a named tuple's own __new__ does, without its Python
# frame: half the cost of each of the words and records parsing builds (~40 a file).
_new = tuple.__new__


def _line_offsets(text: str) -> list[int]:
    """The offset where each line starts."""
    # Each line's length plus its newline, summed: no Python code runs per line.
    return list(itertools.accumulate(map(_plus_one, map(len, text.split("\n")[:-1])), initial=0))


_plus_one = (1).__add__


def _logical(
    text: str, starts: list[int], first: int, last: int, escape: str = "\\"
) -> tuple[str, Logical]:
    """The instruction's text with continuations and interleaved comment lines removed."""
    if first == last:  # most instructions: one line, one piece
        stop = starts[first + 1] if first + 1 < len(starts) else len(text)
        return text[starts[first] : stop].rstrip("\r\n"), _new(Logical, ((0,), (starts[first],)))
    pieces: list[str] = []
    piece_starts: list[int] = []
    offsets: list[int] = []
    length = 0
    count = len(starts)
    for n in range(first, last + 1):
        begin = starts[n]
        raw = text[begin : starts[n + 1] if n + 1 < count else len(text)].rstrip("\r\n")
        if n != first:
            head = raw.lstrip()
            if not head or head[0] == "#":
                continue  # a blank or comment line between continued lines
        if n != last:
            body = raw.rstrip(" \t")
            if body.endswith(escape):
                raw = body[:-1]
        pieces.append(raw)
        piece_starts.append(length)
        offsets.append(begin)
        length += len(raw)
    return "".join(pieces), Logical(tuple(piece_starts), tuple(offsets))


def _directives(text: str) -> Iterator[tuple[str, str, Span]]:
    """The parser directives the file starts with: name, value and the value's span."""
    offset = 0
    while text.startswith("#", offset):
        end = text.find("\n", offset)
        end = len(text) if end < 0 else end
        match = _DIRECTIVE_RE.match(text, offset, end)
        if not match:
            return
        start, stop = match.end(), end
        if text[stop - 1] == "\r" and stop - 1 > start:
            stop -= 1
        while text[stop - 1] in " \t":  # never the value's first character, which is not blank
            stop -= 1
        yield match.group(1), text[start:stop], _new(Span, (start, stop))
        offset = end + 1


def escape_char(text: str) -> str:
    """The line-continuation character: a leading `# escape=` parser directive's, else "\\"."""
    for name, value, _ in _directives(text):
        if name.lower() == "escape" and value in ("\\", "`"):
            return value
    return "\\"


_HEREDOC_RE = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


def _heredoc_end(text: str, starts: list[int], words: Sequence[Token], last: int) -> int:
    """The last line of an instruction whose words open heredocs (`RUN <<EOF`), else last."""
    line = last
    for word in words:
        for match in _HEREDOC_RE.finditer(word.text):
            if word.text[max(match.start() - 1, 0) : match.start()] == "<":
                continue  # <<< is a here-string, not a heredoc
            strip_tabs, delimiter = match.group(1) == "-", match.group(3)
            line += 1
            while line < len(starts):
                stop = starts[line + 1] if line + 1 < len(starts) else len(text)
                content = text[starts[line] : stop].rstrip("\r\n")
                if (content.lstrip("\t") if strip_tabs else content) == delimiter:
                    break
                line += 1
    return min(line, len(starts) - 1)


# A word: unquoted runs and quoted strings (an unclosed quote runs to the end) up to a blank;
# quotes stay in the word's text.
# Unrolled (a run, then quoted strings each followed by a run) so that a word with no quote is
# one scan of a character class; tests hold it to `(?:[^ \t"']+|"[^"]*(?:"|$)|'[^']*(?:'|$))+`.
_WORD_RE = re.compile(r"""(?=[^ \t])[^ \t"']*(?:(?:"[^"]*(?:"|$)|'[^']*(?:'|$))[^ \t"']*)*""")


def _words(line: str, logical: Logical) -> tuple[Token, ...]:
    """The words of an instruction's logical line after its keyword."""
    if '"' in line or "'" in line:
        found = _WORD_RE.finditer(line)
        next(found, None)  # the keyword
        return tuple([_new(Token, (m.group(), m.start(), logical)) for m in found])
    # Without quotes a word is a run of anything but blanks. A plain loop over the split pieces
    # beat an itertools pipeline (accumulate, filter, islice) by half on lines of 2 to 30 words:
    # building the pipeline's iterators cost more than the few words each line has.
    words = []
    at = 0
    keyword = True
    for piece in line.replace("\t", " ").split(" "):
        if piece:
            if keyword:
                keyword = False
            else:
                words.append(_new(Token, (piece, at, logical)))
        at += len(piece) + 1
    return tuple(words)


def _unquote(token: Token, start: int) -> tuple[str, Span | None]:
    """The value of token.text[start:] with surrounding quotes removed, and its span."""
    value = token.text[start:]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if not inner:
            return "", None
        return inner, token.span(start + 1, len(token.text) - 1)
    if not value:
        return "", None
    return value, token.span(start)


# dockerfile-parse 2.0.1's `structure` rules, compiled once: tests hold the two to the same
# answers. Its own parser encoded the text, decoded it again line by line and compiled these
# patterns for every file (a fifth of parsing the whole file).
_ESCAPE_DIRECTIVE_RE = re.compile(r"^\s*#\s*escape\s*=\s*(\\|`)\s*$", re.I)
_SYNTAX_DIRECTIVE_RE = re.compile(r"^\s*#\s*syntax\s*=\s*(.*)\s*$", re.I)
# Its `^\s*#` (a comment) and `^\s*(\S+)\s+(.*)$` (an instruction) in one match: group 1 for a
# comment, group 2 for the keyword of a line that starts with a word and a blank.
_LINE_RE = re.compile(r"\s*(?:(#)|(\S+)\s)")


def located(text: str) -> Iterator[tuple[str, int, int]]:
    """Each instruction's upper-cased keyword and its first and last 0-based lines, in order."""
    return _located(text, _line_offsets(text))


def _located(text: str, starts: Sequence[int]) -> Iterator[tuple[str, int, int]]:
    """located(), given the offset each line starts at: lines are matched in place."""
    # As dockerfile-parse finds them: a line that does not start with a word and a blank is no
    # instruction, and an instruction still continued at the end of the file is dropped.
    escape = "\\"
    directive_possible = True
    in_continuation = False
    keyword, first = "", 0
    match_line = _LINE_RE.match
    for number, (start, stop) in enumerate(zip(starts, [*starts[1:], len(text)], strict=True)):
        if start == stop:
            break  # after a final newline: no line
        if directive_possible:
            line = text[start:stop]
            directive = _ESCAPE_DIRECTIVE_RE.match(line)
            if directive:
                escape = directive.group(1)
            elif not _SYNTAX_DIRECTIVE_RE.match(line):
                directive_possible = False
        match = match_line(text, start, stop)
        if match is not None and match.group(1) is not None:
            continue  # a comment, also between an instruction's continued lines
        if not in_continuation:
            if match is None:
                continue
            keyword, first = match.group(2).upper(), number
        # dockerfile-parse's `^.*\\\s*$`: the escape, then only blanks (str.rstrip's are \s's).
        in_continuation = text.find(escape, start, stop) >= 0 and text[
            start:stop
        ].rstrip().endswith(escape)
        if not in_continuation:
            yield keyword, first, number


def instructions(text: str, escape: str | None = None) -> list[Instruction]:
    """Every instruction of the Dockerfile, in order; escape is escape_char(text) if known."""
    starts = _line_offsets(text)
    escape = escape_char(text) if escape is None else escape
    result = []
    covered = -1
    lines = len(starts)
    for name, first, last in _located(text, starts):
        keyword = sys.intern(name)  # one string per keyword, not per line
        if keyword == "COMMENT" or first <= covered:
            continue  # dockerfile-parse reads heredoc bodies as instructions; they are not
        if first == last:  # most instructions: one line, one piece
            begin = starts[first]
            line = text[begin : starts[first + 1] if first + 1 < lines else len(text)]
            line = line.rstrip("\r\n")
            logical = _new(Logical, ((0,), (begin,)))
        else:
            line, logical = _logical(text, starts, first, last, escape)
        words = _words(line, logical)
        if keyword in ("RUN", "COPY", "ADD") and "<<" in line:
            last = covered = _heredoc_end(text, starts, words, last)
        end = starts[last + 1] if last + 1 < lines else len(text)
        span = _new(Span, (starts[first], end))
        result.append(_new(Instruction, (keyword, first + 1, span, words)))
    return result


def _flags(words: Sequence[Token]) -> tuple[list[tuple[str, Token]], list[Token]]:
    """Split leading --name=value flags (name lower-cased) from the remaining words."""
    count = 0
    for word in words:
        if not word.text.startswith("--"):
            break
        count += 1
    flags = [(flag.text[2:].partition("=")[0].lower(), flag) for flag in words[:count]]
    return flags, list(words[count:])


def _syntax_use(text: str) -> tuple[str, Span] | None:
    """The `# syntax=` parser directive, if the file starts with one."""
    for name, value, span in _directives(text):
        if name.lower() == "syntax":
            return value, span
    return None


class _Scope:
    """ARG values visible at a point: name -> ArgDefault."""

    def __init__(self, path: str, build_args: Mapping[str, str], escape: str = "\\") -> None:
        self.path = path
        self.build_args = build_args
        self.escape = escape
        self.values: dict[str, ArgDefault] = {}

    def declare(self, instruction: Instruction, inherit: Mapping[str, ArgDefault]) -> None:
        for word in instruction.words:
            name, eq, _ = word.text.partition("=")
            if name in self.build_args:
                self.values[name] = _new(ArgDefault, (self.build_args[name], None, ()))
            elif eq:
                raw, site = _unquote(word, len(name) + 1)
                # An unset variable fails only where a reference uses this ARG: BuildKit gives "".
                value, unset = self.expand_lazily(raw, instruction.line)
                self.values[name] = _new(ArgDefault, (value, self.pin_site(raw, site), unset))
            elif name in inherit:
                self.values[name] = inherit[name]
            else:
                self.values[name] = _new(ArgDefault, (None, None, ()))

    def expand(self, text: str, line: int) -> str:
        """Expand variables as BuildKit's shell lexer does; an unset one with no default fails."""
        value, unset = self.expand_lazily(text, line)
        if unset:
            name, written = unset[0]
            if name not in self.values:
                raise DockerfileError(
                    Problem(self.path, line, f"{written}: ARG {name} is not declared")
                )
            raise DockerfileError(
                Problem(
                    self.path,
                    line,
                    f"{written}: ARG {name} has no default; pass --build-arg {name}=...",
                )
            )
        return value

    def expand_lazily(self, text: str, line: int) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The expansion, and the unset variables it used with no default (BuildKit gives "")."""
        if shellword.plain(text, self.escape):
            return text, ()  # most words: nothing to look up
        unset: list[tuple[str, str]] = []

        def lookup(name: str) -> str | None:
            arg = self.values.get(name)
            if arg is not None and arg.unset:
                unset.extend(arg.unset)  # an ARG whose own default used an unset variable
            return None if arg is None else arg.value

        try:
            value, missing = shellword.expand_noting_unset(text, lookup, self.escape)
        except shellword.ExpansionError as e:
            raise DockerfileError(Problem(self.path, line, f"{text}: {e}")) from None
        # Each ARG's own unset names are carried into those that use it: once each, not doubled.
        return value, tuple(dict.fromkeys((*missing, *unset)))

    def pin_site(self, text: str, span: Span | None) -> Span | None:
        """Where the pin goes: follow a reference that is one whole variable to its ARG default."""
        match = _WHOLE_VAR_RE.fullmatch(text) if "$" in text else None
        if not match:
            return span
        arg = self.values.get(match.group(1) or match.group(2))
        if arg is None or arg.site is None or arg.value is None:
            return None
        return arg.site


def _raw(text: str, span: Span | None) -> str:
    return "" if span is None else text[span.start : span.end]


DEFAULT_PLATFORM = "linux/amd64"


def platform_args(platform: str) -> dict[str, str]:
    """BuildKit's automatic platform ARGs for a build of platform on a machine of that platform.

    BuildKit predefines them in the global scope (docs: "Automatic platform ARGs in the global
    scope"); pinner takes the build machine to be of the platform it builds (BUILD* = TARGET*).
    """
    os_name, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    values = {"PLATFORM": platform, "OS": os_name, "ARCH": arch, "VARIANT": variant}
    return {f"{kind}{key}": value for kind in ("TARGET", "BUILD") for key, value in values.items()}


def parse(
    text: str,
    path: str,
    build_args: Mapping[str, str] | None = None,
    platforms: Sequence[str] = (DEFAULT_PLATFORM,),
) -> Dockerfile:
    """Parse a Dockerfile's text into stages and external image uses, for every platform.

    Stages and most uses are the first platform's. A reference that names another image on
    another platform (`FROM app-${TARGETARCH}`) is one use per platform, with no pin site: one
    reference in the file cannot hold a digest per platform, the lock holds each.
    """
    args = build_args or {}
    escape = escape_char(text)
    located = instructions(text, escape)  # the same for every platform: only expansions differ
    walks = [(p, _Walker(text, path, args, p, escape).walk(located)) for p in platforms]
    first = walks[0][1]._replace(
        platforms=tuple(platforms),
        build_args=tuple(sorted(args.items())),
        shells=tuple(i.span for i in located if i.keyword == "SHELL"),
    )
    if len(walks) == 1:
        return first
    each = tuple(a for _, walk in walks if walk.variables for a in walk.variables.platforms)
    first = first._replace(variables=RunVariables(escape, each))
    seen: dict[tuple[int, str], set[str | None]] = {}
    for _, walk in walks:
        found = {(u.line, u.used_by): u.expanded for u in walk.uses}
        for key in found.keys() | seen.keys():
            seen.setdefault(key, set()).add(found.get(key))
    differ = {key for key, values in seen.items() if len(values) > 1}
    uses = [u for u in first.uses if (u.line, u.used_by) not in differ]
    for platform, walk in walks:
        uses.extend(
            u._replace(site=None, used_by=f"{u.used_by} on {platform}", platform=platform)
            for u in walk.uses
            if (u.line, u.used_by) in differ
        )
    return first._replace(uses=tuple(uses))


@functools.lru_cache(maxsize=64)
def _automatic_args(platform: str) -> Mapping[str, ArgDefault]:
    """platform_args as ARG values, built once per platform (read-only: scopes copy them)."""
    return types.MappingProxyType(
        {k: ArgDefault(v, None) for k, v in platform_args(platform).items()}
    )


_PLATFORM_USE_RE = re.compile(r" on ([a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?)$")


def locked_platforms(used_by: Iterable[str]) -> tuple[str, ...]:
    """The platforms a lock's per-platform uses name (`stage 1: FROM on linux/arm64`)."""
    found = (_PLATFORM_USE_RE.search(u) for u in used_by)
    return tuple(sorted({m.group(1) for m in found if m}))


class _Walker:
    """One pass over the instructions, collecting stages and image uses."""

    def __init__(
        self, text: str, path: str, build_args: Mapping[str, str], platform: str, escape: str
    ) -> None:
        self.text = text
        self.path = path
        self.build_args = build_args
        self.escape = escape
        self.global_scope = _Scope(path, build_args, self.escape)
        # A global `ARG TARGETARCH` without a default keeps the automatic value.
        self.automatic = _automatic_args(platform)
        self.global_scope.values.update(self.automatic)
        self.uses: list[ImageUse] = []
        self.stage_names: set[str] = set()
        self.stage_labels: dict[str, str] = {}
        # For RunVariables: the stage each stage is FROM, and each stage ARG's values. A stage
        # starts with the variables of the stage it is FROM, or the base image's ENV (once read).
        self.stage_index: dict[str, int] = {}
        self.parents: list[int | None] = []
        self.args: dict[int, tuple[ArgValue, ...]] = {}

    def walk(self, all_instructions: Sequence[Instruction]) -> Dockerfile:
        if not any(i.keyword == "FROM" for i in all_instructions):
            raise DockerfileError(Problem(self.path, None, "no FROM instruction"))
        syntax = _syntax_use(self.text)
        if syntax is not None:
            self.add_use(1, syntax[0], syntax[1], self.global_scope, "syntax")
        global_args: list[Instruction] = []
        # Each stage's instructions are gathered in a list and frozen once at the end: growing
        # the tuple per instruction made parsing quadratic in a stage's length.
        stages: list[tuple[Stage, list[Instruction]]] = []
        for instruction in all_instructions:
            if instruction.keyword == "FROM":
                stages.append((self.start_stage(instruction, len(stages)), [instruction]))
            elif not stages:
                if instruction.keyword == "ARG":
                    self.global_scope.declare(instruction, self.automatic)
                    global_args.append(instruction)
            else:
                stages[-1][1].append(instruction)
                self.stage_instruction(stages[-1][0], instruction)
        frozen = tuple(_new(Stage, (s.number, s.name, tuple(b), s.parent)) for s, b in stages)
        return Dockerfile(
            self.text,
            frozen,
            tuple(self.uses),
            tuple(global_args),
            self.escape,
            variables=RunVariables(self.escape, ((tuple(self.parents), self.args),)),
        )

    def start_stage(self, instruction: Instruction, index: int) -> Stage:
        _, rest = _flags(instruction.words)
        if not rest:
            raise DockerfileError(Problem(self.path, instruction.line, "FROM without an image"))
        name = rest[2].text.lower() if len(rest) >= 3 and rest[1].text.lower() == "as" else None
        label = name if name is not None else str(index)
        used_by = f"stage {label}: FROM"
        # One expansion names both the image and the parent stage.
        word = rest[0]
        parent = self.maybe_use(instruction, word.text, word.span(), self.global_scope, used_by)
        parent = parent.lower()
        self.scope = _Scope(self.path, self.build_args, self.escape)
        stage = _new(Stage, (index, name, (instruction,), self.stage_labels.get(parent)))
        self.parents.append(self.stage_index.get(stage.parent or ""))
        self.stage_index[label] = index
        if name is not None:
            self.stage_names.add(name)
        self.stage_names.add(str(index))
        self.stage_labels[str(index)] = self.stage_labels[label] = label
        return stage

    def stage_instruction(self, stage: Stage, instruction: Instruction) -> None:
        """Record ARGs, and COPY --from=<image> and RUN --mount=...,from=<image> uses."""
        if instruction.keyword == "ARG":
            self.scope.declare(instruction, self.global_scope.values)
            values = self.scope.values
            found = []
            for word in instruction.words:
                name, eq, _ = word.text.partition("=")
                arg = values[name]
                value = None if arg.unset else arg.value
                default = None
                if eq and name not in self.build_args:
                    default = _unquote(word, len(name) + 1)[0]
                    default = None if shellword.plain(default, self.escape) else default
                given = value is not None or bool(arg.unset) or default is not None
                found.append(ArgValue(name, value, default, given))
            self.args[instruction.span.start] = tuple(found)
            return
        if instruction.keyword not in ("COPY", "RUN"):
            return  # no other instruction names an image in its flags
        if not instruction.words or not instruction.words[0].text.startswith("--"):
            return  # no flags: most COPYs and RUNs
        flags, _ = _flags(instruction.words)
        for key, flag in flags:
            offset = flag.text.find("=") + 1
            if instruction.keyword == "COPY" and key == "from":
                value, span = _unquote(flag, offset)
                used_by = f"stage {stage.label}: COPY --from"
                self.maybe_use(instruction, value, span, self.scope, used_by)
            elif instruction.keyword == "RUN" and key == "mount":
                for field in flag.text[offset:].split(","):
                    k, _, v = field.partition("=")
                    if k.strip().lower() == "from" and v:
                        start = offset + len(k) + 1
                        span = flag.span(start, start + len(v))
                        used_by = f"stage {stage.label}: RUN --mount"
                        self.maybe_use(instruction, v, span, self.scope, used_by)
                    offset += len(field) + 1

    def maybe_use(
        self, instruction: Instruction, value: str, span: Span | None, scope: _Scope, used_by: str
    ) -> str:
        """Record value as an image use unless it names a stage or scratch; its expansion."""
        expanded = scope.expand(value, instruction.line)
        if expanded.lower() not in self.stage_names and expanded != "scratch":
            self.add_use(instruction.line, value, span, scope, used_by, expanded)
        return expanded

    def add_use(
        self,
        line: int,
        written: str,
        span: Span | None,
        scope: _Scope,
        used_by: str,
        expanded: str | None = None,
    ) -> None:
        """Record written as an image use; expanded is its expansion in scope when known."""
        expanded = scope.expand(written, line) if expanded is None else expanded
        try:
            ref = reference.parse(expanded)
        except InvalidReference as e:
            raise DockerfileError(Problem(self.path, line, f"{expanded or written}: {e}")) from None
        site = scope.pin_site(written, span)
        self.uses.append(_new(ImageUse, (line, written, expanded, ref, site, used_by, None)))


class Edit(NamedTuple):
    """Replace text[start:end] with new."""

    start: int
    end: int
    new: str


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Splice edits in, last first, refusing overlaps; insertions at one offset keep order."""
    unique = list(dict.fromkeys(edits))
    ranked = sorted(enumerate(unique), key=lambda p: (p[1].start, p[1].end, p[0]), reverse=True)
    ordered = [edit for _, edit in ranked]
    previous_start = len(text) + 1
    for edit in ordered:
        if edit.end > previous_start:
            raise ValueError(f"overlapping edits at offset {edit.start}")
        text = text[: edit.start] + edit.new + text[edit.end :]
        previous_start = edit.start
    return text


def moved_uses(parsed: Dockerfile, edits: Sequence[Edit]) -> tuple[ImageUse, ...] | None:
    """parsed's uses with the lines and pin sites they have once edits are applied.

    None when an edit overlaps a pin site or spans the start of a use's instruction. The caller
    vouches that the edits add no image use and change no value a use expands.
    """
    unique = list(dict.fromkeys(edits))  # as apply_edits takes them
    if not unique:
        return parsed.uses
    text = parsed.text
    starts = {1: 0}  # a `# syntax=` directive's use is on line 1
    starts.update((i.line, i.span.start) for s in parsed.stages for i in s.instructions)
    moved = []
    for use in parsed.uses:
        anchor = starts.get(use.line)
        if anchor is None:
            return None
        lines = 0
        for edit in unique:
            if edit.start < anchor < edit.end:
                return None
            if edit.end <= anchor:
                lines += edit.new.count("\n") - text.count("\n", edit.start, edit.end)
        site = use.site
        if site is not None:
            shift = 0
            for edit in unique:
                if (edit.start < site.end and edit.end > site.start) or (
                    site.start < edit.start < site.end
                ):
                    return None
                if edit.end <= site.start:
                    shift += len(edit.new) - (edit.end - edit.start)
            site = _new(Span, (site.start + shift, site.end + shift))
        moved.append(use._replace(line=use.line + lines, site=site))
    return tuple(moved)


def syntax_directive_use(text: str) -> ImageUse | None:
    """The use parse records for a leading `# syntax=` directive written without variables."""
    found = _syntax_use(text)
    if found is None or not _PLAIN_REFERENCE_RE.fullmatch(found[0]):
        return None  # quotes, escapes and variables are the walk's to expand
    written, span = found
    try:
        ref = reference.parse(written)
    except InvalidReference:
        return None
    return ImageUse(1, written, written, ref, span, "syntax")


_PLAIN_REFERENCE_RE = re.compile(r"[A-Za-z0-9._:/@+-]+")


def pin_edit(text: str, use: ImageUse, digest: str) -> Edit | None:
    """The edit that makes use's pin site read <name>:<tag>@<digest>; None when it already does."""
    if use.site is None:
        return None
    raw = _raw(text, use.site)
    new = reference.pinned(raw, digest)
    if new == raw:
        return None
    return Edit(use.site.start, use.site.end, new)
