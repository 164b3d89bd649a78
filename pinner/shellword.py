"""Variable expansion in Dockerfile words, ported from BuildKit's shell lexer.

moby/buildkit frontend/dockerfile/shell/lex.go (shellWord: processStopOn, processDollar,
processName, the quote handlers, convertShellPatternToRegex, trimPrefix, trimSuffix): $VAR,
${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word}, ${VAR?msg}, ${VAR:?msg},
${VAR#pattern}, ${VAR##pattern}, ${VAR%pattern}, ${VAR%%pattern}, ${VAR/pattern/replacement} and
${VAR//pattern/replacement}, with quote removal and the Dockerfile's escape character. What
BuildKit refuses is refused here with its message; nothing else is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Lookup = Callable[[str], "str | None"]
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
# What one word may take in from its variables. BuildKit sets no limit, but an ARG that doubles
# the one before it (`ARG B=$A$A`, 40 times over) would otherwise fill memory; real values are
# a few kilobytes at most.
MAX_EXPANDED = 1 << 20


class ExpansionError(ValueError):
    """A word BuildKit would refuse to expand, with BuildKit's reason."""


_PLAIN_RUNS: dict[tuple[str, str], re.Pattern[str]] = {}


def _plain_run(stop: str, escape: str) -> re.Pattern[str]:
    """What stop_on copies unchanged: anything but stop, the escape, `$` and quotes."""
    pattern = _PLAIN_RUNS.get((stop, escape))
    if pattern is None:
        pattern = re.compile(f"[^{re.escape(stop + escape)}$'\"]+")
        _PLAIN_RUNS[(stop, escape)] = pattern
    return pattern


class _Word:
    """One word being expanded: the text, a cursor, and how variables are looked up."""

    def __init__(self, text: str, lookup: Lookup, escape: str) -> None:
        self.text = text
        self.i = 0
        self.lookup = lookup
        self.escape = escape
        self.unset: list[tuple[str, str]] = []
        self.taken = 0  # characters taken in from variables so far

    def took(self, value: str, counted: int = 0) -> str:
        """value, counted against MAX_EXPANDED (but for the counted characters already were)."""
        self.taken += len(value) - counted
        if self.taken > MAX_EXPANDED:
            raise ExpansionError(f"expands to over {MAX_EXPANDED} characters")
        return value

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1 if ch else 0
        return ch

    def stop_on(self, stop: str, raw_escapes: bool) -> str:
        """Expand up to the unquoted, unescaped stop character (consumed), or to the end."""
        out: list[str] = []
        plain = _plain_run(stop, self.escape)
        while self.peek():
            # A run of characters that mean nothing here is copied as it is, in one slice.
            run = plain.match(self.text, self.i)
            if run:
                out.append(run.group())
                self.i = run.end()
                continue
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
            elif ch == "'":
                out.append(self.single_quote())
            elif ch == '"':
                out.append(self.double_quote(raw_escapes))
            else:
                ch = self.next()
                if ch == self.escape:
                    if raw_escapes:
                        out.append(ch)
                    ch = self.next()
                    if not ch:
                        break
                out.append(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out)

    def single_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.next()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quote(self, raw_escapes: bool) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                if raw_escapes:
                    out.append(ch)
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        """A variable name: letters, digits and _, or a run of digits, or one special parameter."""
        start = self.i
        if self.peek().isdigit():
            while self.peek().isdigit():
                self.next()
            return self.text[start : self.i]
        if self.peek() and self.peek() in _SPECIAL_PARAMS:
            return self.next()
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.text[start : self.i]

    def value(self, name: str) -> str | None:
        value = self.lookup(name)
        return None if value is None else self.took(value)

    def required(self, name: str, start: int) -> str:
        """The value of a variable whose expansion supplies no default; an unset one is noted."""
        value = self.value(name)
        if value is None:
            self.unset.append((name, self.text[start : self.i]))
        return value or ""

    def dollar(self) -> str:
        start = self.i
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.required(name, start)
        self.next()
        if not self.peek():
            raise ExpansionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        modifier = ch
        null_is_unset = False
        if ch == "}":
            return self.required(name, start)
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        if ch and ch in "+-?#%":
            raw = ch in "#%"
            if null_is_unset and raw:
                raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
            word = self.closing("}", raw)
            if raw:
                self.required(name, start)
            return self.modify(name, ch, null_is_unset, word)
        if ch == "/" and not null_is_unset:
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            pattern = self.closing("/", True, "syntax error: missing '/' in ${}")
            replacement = self.closing("}", True)
            value = self.required(name, start)
            regex = _pattern_regex(pattern, greedy=True, anchored=False)
            count = 0 if replace_all else 1
            if replace_all and len(value) * len(replacement) > MAX_EXPANDED:
                raise ExpansionError(f"expands to over {MAX_EXPANDED} characters")
            return self.took(regex.sub(lambda _: replacement, value, count=count), len(value))
        raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")

    def closing(self, stop: str, raw: bool, missing: str = "syntax error: missing '}'") -> str:
        try:
            return self.stop_on(stop, raw)
        except ExpansionError:
            if not self.peek():
                raise ExpansionError(missing) from None
            raise

    def modify(self, name: str, op: str, null_is_unset: bool, word: str) -> str:
        value = self.value(name)
        unset = value is None or (null_is_unset and value == "")
        if op == "-":
            return word if unset else value or ""
        if op == "+":
            return "" if unset else word
        if op == "?":
            if value is None:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word[:1] == op
        pattern = word[1:] if greedy else word
        if op == "#":
            return _trim_prefix(pattern, value or "", greedy)
        return _reverse(_trim_prefix(_reverse_pattern(pattern), _reverse(value or ""), greedy))


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (`*`, `?`, backslash escapes; no brackets) as a regex."""
    out = ["^"] if anchored else []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i : i + 1]
            if following in ("}", "/"):
                continue  # escaped to get past ${}'s own parsing; not part of the pattern
            if following not in ("*", "?", "\\"):
                raise ExpansionError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'"
                )
            out.append("\\" + following)
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern, keeping each escape before the character it escapes (a\\*c -> c\\*a)."""
    pieces = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i != len(pattern) - 1:
            pieces.append(pattern[i : i + 2])
            i += 2
        else:
            pieces.append(pattern[i])
            i += 1
    return "".join(reversed(pieces))


def _reverse(text: str) -> str:
    return text[::-1]


def plain(text: str, escape: str = "\\") -> bool:
    """True when text has no variable, quote or escape character: it expands to itself."""
    return _plain_run("", escape).fullmatch(text) is not None


def expand_noting_unset(
    text: str, lookup: Lookup, escape: str = "\\"
) -> tuple[str, list[tuple[str, str]]]:
    """text expanded as BuildKit's ProcessWord does, and each unset variable it used: name, text."""
    if plain(text, escape):
        return text, []  # no variable, quote or escape: most words are this
    word = _Word(text, lookup, escape)
    return word.stop_on("", raw_escapes=False), word.unset


# ------------------------------------------------------------------------- an image's Env and Shell

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A shell program's name as a Shell argv may give it (bash, busybox, ksh93).
SHELL_PROGRAM = re.compile(r"[A-Za-z0-9._+-]{1,64}")
MAX_ENV_ENTRIES = 256
MAX_ENV_VALUE = 4096
MAX_SHELL_WORDS = 16
MAX_SHELL_WORD = 256


def env_values(entries: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The NAME=value entries of a config's Env a RUN's shell may read, in order: a shell name
    and a printable value of at most MAX_ENV_VALUE characters; any other is left out (its value
    stays unknown), so no control character reaches a word pinner prints or records."""
    found = []
    for entry in entries[:MAX_ENV_ENTRIES]:
        name, eq, value = entry.partition("=")
        if eq and _ENV_NAME.fullmatch(name) and len(value) <= MAX_ENV_VALUE and value.isprintable():
            found.append((name, value))
    return tuple(found)


def shell_program(argv: object) -> str | None:
    """The program a Shell argv names (`["/bin/bash", "-c"]`: bash), a SHELL instruction's or a
    config's; None where it is not a list of at most MAX_SHELL_WORDS printable strings of at most
    MAX_SHELL_WORD characters each, or names its program with other characters."""
    if not isinstance(argv, list) or not 0 < len(argv) <= MAX_SHELL_WORDS:
        return None
    if not all(isinstance(w, str) and len(w) <= MAX_SHELL_WORD and w.isprintable() for w in argv):
        return None
    program = argv[0].rpartition("/")[2]
    return program if SHELL_PROGRAM.fullmatch(program) else None
