"""A build context's ignore file (`.dockerignore`), read and matched as BuildKit does.

A port of github.com/moby/patternmatcher (Apache-2.0): `ignorefile.ReadAll` reads the file,
`New` cleans and checks the patterns, `MatchesOrParentMatches` tells whether a path is left out
of the context. Each pattern is a Go `filepath.Match` glob (`*` and `?` stop at `/`), with `**`
for any number of folders; a leading `!` takes matching paths back; the last pattern that
matches a path, or one of its parent folders, decides.
"""

from __future__ import annotations

import os
import posixpath
import re
import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

# Go's unicode.IsSpace, which strings.TrimSpace strips (Python's strip() also takes \x1c-\x1f).
_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)

# Characters that mean something in a regular expression but nothing in filepath.Match, escaped
# when a pattern becomes one: patternmatcher's shouldEscape lists `.+()|{}$`, but its bitmap
# holds only characters below 64, so `{`, `|` and `}` reach the regular expression as they are
# (a `|` alternates), as here; `^` is not listed at all.
_ESCAPED = frozenset(".+()$")

# The context's own ignore file, read where no `<Dockerfile>.dockerignore` is beside the Dockerfile;
# podman's and buildah's name for it, which they read first.
ROOT_NAME = ".dockerignore"
CONTAINER_NAME = ".containerignore"


def _clean(path: str) -> str:
    """Go's filepath.Clean on a slash-separated path (posixpath keeps a leading `//`)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _dir(path: str) -> str:
    """Go's filepath.Dir: all but the last element, cleaned; `.` for a bare name."""
    return _clean(path[: path.rfind("/") + 1] or ".")


def read(text: str) -> list[str]:
    """The patterns of an ignore file's text, as ignorefile.ReadAll returns them."""
    patterns = []
    for line in text.removeprefix("\ufeff").split("\n"):
        line = line.removesuffix("\r")  # bufio.ScanLines drops one carriage return
        if line.startswith("#"):
            continue  # only a `#` in the first column starts a comment
        pattern = line.strip(_SPACE)
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip(_SPACE)
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]  # `/etc` and `etc` both name the context's etc
        patterns.append(f"!{pattern}" if invert else pattern)
    return patterns


def _bad_rune(char: str) -> bool:
    """Whether a character stands for a byte that is not UTF-8 (read with surrogateescape)."""
    return "\udc80" <= char <= "\udcff"


def _class_char(pattern: str, at: int) -> int:
    """The offset past one character of a `[...]` class (filepath's getEsc), ValueError if bad."""
    if at >= len(pattern) or pattern[at] in "-]":
        raise ValueError("syntax error in pattern")
    if pattern[at] == "\\":
        at += 1
        if at >= len(pattern):
            raise ValueError("syntax error in pattern")
    if _bad_rune(pattern[at]) or at + 1 >= len(pattern):
        raise ValueError("syntax error in pattern")
    return at + 1


def _check(pattern: str) -> None:
    """ValueError where Go's filepath.Match calls the pattern malformed (ErrBadPattern)."""
    at = 0
    while at < len(pattern):
        char = pattern[at]
        at += 1
        if char == "\\":
            if at >= len(pattern):
                raise ValueError("syntax error in pattern")
            at += 1
        elif char == "[":
            at += pattern.startswith("^", at)
            ranges = 0
            while not (ranges and pattern.startswith("]", at)):
                at = _class_char(pattern, at)
                if pattern[at] == "-":
                    at = _class_char(pattern, at + 1)
                ranges += 1
            at += 1


class Compiled(NamedTuple):
    """A pattern as patternmatcher compiles it: how it matches, and its regular expression."""

    kind: str  # exact, prefix, suffix or regexp
    regexp: str  # Go's regular expression text, for regexp patterns


def compile_pattern(pattern: str) -> Compiled:
    """How patternmatcher's Pattern.compile matches a cleaned pattern."""
    text, kind = "^", "exact"
    at = 0
    while at < len(pattern):
        start = at == 0
        char = pattern[at]
        at += 1
        if char == "*":
            if pattern.startswith("*", at):
                at += 1
                at += pattern.startswith("/", at)  # `**/` is taken as `**`
                if at == len(pattern):
                    # A trailing `**` takes everything below, as in .gitignore.
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        text, kind = f"{text}.*", "regexp"
                else:
                    text, kind = f"{text}(.*/)?", "regexp"  # any number of folders, even none
                if start:
                    kind = "suffix"
            else:
                text, kind = f"{text}[^/]*", "regexp"
        elif char == "?":
            text, kind = f"{text}[^/]", "regexp"
        elif char in _ESCAPED:
            text += f"\\{char}"
        elif char == "\\":
            if at < len(pattern):
                text, kind = f"{text}\\{pattern[at]}", "regexp"
                at += 1
            else:
                text += "\\"
        elif char in "[]":
            text, kind = f"{text}{char}", "regexp"
        else:
            text += char
    return Compiled(kind, f"{text}$" if kind == "regexp" else "")


# Escaped letters and digits Go's regexp and Python's read alike, outside and inside a `[...]`
# class (`\\0` starts an octal code in both); Go refuses an escaped non-ASCII character, which
# Python takes as the character. Others are refused here, which passes the ignore file over.
_LETTERS = frozenset("afntrvdDsSwWbBA0")
_CLASS_LETTERS = frozenset("afntrvdDsSwW0")


def _python(text: str) -> str:
    """Go's regular expression text as Python's, ValueError where the two would read it apart."""
    out: list[str] = []
    at, in_class = 0, False
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text):
            after = text[at + 1]
            if after == "z" and not in_class:
                after = "Z"  # the end of the text
            elif (after.isalnum() or not after.isascii()) and after not in (
                _CLASS_LETTERS if in_class else _LETTERS
            ):
                raise ValueError(f"syntax error in pattern: escape \\{after}")
            out.append(f"\\{after}")
            at += 2
            continue
        if in_class and text.startswith("[:", at):
            raise ValueError("syntax error in pattern: a POSIX class")  # Python has none
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        out.append(char)
        at += 1
    # Python's `$` would also match before a final newline; Go's ends the text.
    return "".join(out[:-1]) + "\\Z"


def _test(pattern: str) -> Callable[[str], bool]:
    """A function telling whether a path matches one cleaned pattern."""
    kind, text = compile_pattern(pattern)
    if kind == "exact":
        return lambda path: path == pattern
    if kind == "prefix":
        return lambda path: path.startswith(pattern[:-2])
    if kind == "suffix":
        suffix = pattern[2:]
        # `**/foo` matches `foo` at the top too.
        return lambda path: path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # `[[` is a set in Go as in Python
            # ASCII: Go's \b, \w, \d and \s know ASCII alone.
            regexp = re.compile(_python(text), re.ASCII)
    except re.error as e:
        # Go's regexp refuses it too (`[Local-Only]`: the range l-O is backwards).
        raise ValueError(f"syntax error in pattern: {e}") from None
    # Go's MatchString searches, so `^` and `$` anchor only the alternatives they touch.
    return lambda path: regexp.search(path) is not None


class _Pattern(NamedTuple):
    exclusion: bool
    test: Callable[[str], bool]


class Matcher:
    """The patterns of one ignore file, ready to match paths relative to the context."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns: list[_Pattern] = []
        for each in patterns:
            pattern = each.strip(_SPACE)
            if not pattern:
                continue
            pattern = _clean(pattern)
            exclusion = pattern.startswith("!")
            if exclusion:
                if len(pattern) == 1:
                    raise ValueError('illegal exclusion pattern: "!"')
                pattern = pattern[1:]
            _check(pattern)
            # Upstream compiles at the first match and then fails the build; here at once.
            self.patterns.append(_Pattern(exclusion, _test(pattern)))

    def excludes(self, path: str) -> bool:
        """Whether a slash-separated path in the context is left out (MatchesOrParentMatches)."""
        matched = False
        parent = _dir(path)
        parents = parent.split("/")
        for pattern in self.patterns:
            # An inclusion cannot change a path already left out, nor an exception one kept.
            if pattern.exclusion != matched:
                continue
            match = pattern.test(path)
            if not match and parent != ".":
                match = any(pattern.test("/".join(parents[: i + 1])) for i in range(len(parents)))
            if match:
                matched = not pattern.exclusion
        return matched


def ignore_files(dockerfile: str, context: str | None = None) -> tuple[str, ...]:
    """The ignore files builds of dockerfile read: BuildKit's, then buildah's if another.

    BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile, else the context's
    `.dockerignore` (docs.docker.com/build/concepts/context/#filename-and-location). buildah and
    podman read `<Dockerfile>.dockerignore`, else `<Dockerfile>.containerignore`, else the
    context's `.containerignore`, else its `.dockerignore` (containers/buildah
    pkg/parse/parse.go, ContainerIgnoreFile). Where BuildKit has none, buildah's alone is read.
    context: the build context's folder (default: the Dockerfile's).
    """
    folder = context or os.path.dirname(dockerfile) or "."
    beside = (f"{dockerfile}.dockerignore", f"{dockerfile}.containerignore")
    root = (os.path.join(folder, CONTAINER_NAME), os.path.join(folder, ROOT_NAME))
    buildkit = next((p for p in (beside[0], root[1]) if os.path.isfile(p)), None)
    buildah = next((p for p in (*beside, *root) if os.path.isfile(p)), None)
    if buildkit is None:
        return (buildah,) if buildah else ()
    return (buildkit,) if buildah in (None, buildkit) else (buildkit, buildah)


class Ignored(NamedTuple):
    """The matchers of the ignore files builds read; a path is left out only if all leave it
    out, since a file one builder copies may reach the image."""

    matchers: tuple[Matcher, ...]

    def excludes(self, path: str) -> bool:
        """Whether every build leaves a slash-separated path in the context out."""
        return all(m.excludes(path) for m in self.matchers)


def _load_one(path: str) -> Matcher | None:
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        return Matcher(read(text))
    except (OSError, ValueError):
        return None


def load(dockerfile: str, context: str | None = None) -> Ignored | None:
    """What dockerfile's ignore files leave out; None if there is none, or one cannot be read.

    A file that cannot be read or holds a malformed pattern fails the build itself; here it is
    passed over, so every file of the context counts, which leaves nothing out wrongly.
    """
    matchers = []
    for path in ignore_files(dockerfile, context):
        matcher = _load_one(path)
        if matcher is None:
            return None  # that build keeps every file
        matchers.append(matcher)
    return Ignored(tuple(matchers)) if matchers else None
