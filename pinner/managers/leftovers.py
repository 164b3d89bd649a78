"""Files a package manager's install leaves that differ between otherwise identical builds
(transaction histories, logs, ldconfig's cache), and which of them a RUN already removes."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Sequence
from typing import NamedTuple

from pinner.apt.shell import (
    Invocation,
    Word,
    emptied,
    run_flags,
    script_invocations,
    truncated,
)
from pinner.apt.sources import covers, mount_targets


class Leftover(NamedTuple):
    """What the cleanup removes (a path or glob) and the files an install writes there."""

    glob: str
    files: tuple[str, ...]


# ldconfig records each library's inode and times; glibc's ldconfig runs after any install that
# brings a library (rpm's file trigger, libalpm after each transaction, zypper through rpm).
LDCONFIG = Leftover("/var/cache/ldconfig/aux-cache", ("/var/cache/ldconfig/aux-cache",))


# Shells that expand `{a,b}`, and shells that keep it; `sh` is the image's /bin/sh, which the
# distribution decides (bash on Fedora, openSUSE and Arch; dash on Debian; BusyBox ash on Alpine).
_BRACE_SHELLS = frozenset(["bash", "zsh", "ksh", "ksh93", "mksh"])
_LITERAL_SHELLS = frozenset(["dash", "ash", "busybox"])


def expands_braces(shell: str | None, default: bool) -> bool:
    """Whether a RUN's shell expands braces: the program a SHELL instruction names (None: none),
    else default, what the distribution's /bin/sh does."""
    if shell in _BRACE_SHELLS:
        return True
    return False if shell in _LITERAL_SHELLS else default


def removals(
    invocations: Sequence[Invocation], run_text: str = "", braces: bool = False
) -> list[list[str]]:
    """Per command, the paths and globs its rm, `find … -delete`, `find … -exec rm|truncate` or
    `find … | xargs rm|truncate` removes, and the files it empties (an empty log is the same in
    every build).

    run_text: the text the invocations were read from; with it, a relative path after a `cd` is
    taken from that folder. braces: the image's /bin/sh expands `{a,b}` (bash does; dash and
    BusyBox ash, Debian's and Alpine's /bin/sh, do not).
    """
    found: list[list[str]] = []
    folder = None  # the working folder, where a cd set it; else unknown (WORKDIR)
    for index, invocation in enumerate(invocations):
        if index and not _same_shell(run_text, invocations[index - 1], invocation):
            folder = None
        # `find … | xargs rm`: the files find lists.
        paths = _piped_find(invocation) if invocation.via_xargs else []
        own: list[str] = []
        if invocation.program == "cd":
            folder = _cd(invocation, folder) if run_text else None
        elif invocation.program == "rm":
            for word in invocation.args:
                if not word.text.startswith("-"):
                    own += _expanded(word, run_text) if braces else [word.text]
        elif invocation.program == "find":
            own += _found(invocation.args)
        own += emptied(invocation)
        # `xargs -I {} rm {}`: a word holding {} stands for each line read, not for a path.
        replace = invocation.replace
        paths += [path for path in own if replace is None or replace not in path]
        found.append([_from(folder, path) for path in paths])
    return found


def removed_paths(
    invocations: Sequence[Invocation], run_text: str = "", braces: bool = False, start: int = 0
) -> list[str]:
    """What the commands from invocations[start] on remove, as removals() reads each."""
    return [path for each in removals(invocations, run_text, braces)[start:] for path in each]


def _same_shell(run_text: str, before: Invocation, after: Invocation) -> bool:
    """Whether a cd in the command before still holds for the one after: only `&&`, `;`, a
    newline or a subshell's opening stand between them (not `|`, `||`, `&` or a closing `)`)."""
    if not run_text or before.end > after.start:
        return False
    gap = run_text[before.end : after.start].replace("&&", "")
    return not any(char in gap for char in "|&)")


def _cd(invocation: Invocation, folder: str | None) -> str | None:
    """The folder `cd DIR` goes to, None when unknown (a variable, `cd -`, `cd` alone)."""
    args = [word for word in invocation.args if word.text not in ("-P", "-L")]
    if len(args) != 1 or args[0].expansions or args[0].text in ("-", ""):
        return None
    target = args[0].text
    if not target.startswith("/"):
        if folder is None:
            return None
        target = f"{folder}/{target}"
    return posixpath.normpath(target)


def _from(folder: str | None, path: str) -> str:
    """A path as the shell resolves it in folder (a relative one stays as written if unknown)."""
    if folder is None or path.startswith(("/", "$", "~")):
        return path
    return posixpath.normpath(f"{folder}/{path}") + ("/" if path.endswith("/") else "")


@functools.cache
def _braces() -> re.Pattern[str]:
    return re.compile(r"\{([^{}]*,[^{}]*)\}")


# More words than this from one: left as written, which counts nothing as removed.
_MOST_WORDS = 64


def _expanded(word: Word, run_text: str) -> list[str]:
    """The words bash makes of one by brace expansion (`/var/cache/{dnf,yum}`); a word with
    quotes, a backslash or a variable, which may keep its braces, stays as written."""
    written = run_text[word.start : word.end] if run_text else ""
    # A variable's value is not brace-expanded either: bash expands braces before variables.
    if not written or word.expansions or word.origin is not None:
        return [word.text]
    if any(char in written for char in "'\"\\$"):
        return [word.text]
    texts, done = [word.text], False
    while not done:
        done, expanded = True, []
        for text in texts:
            match = _braces().search(text)
            if match is None:
                expanded.append(text)
                continue
            done, head, tail = False, text[: match.start()], text[match.end() :]
            expanded += [head + part + tail for part in match.group(1).split(",")]
        if len(expanded) > _MOST_WORDS:
            return [word.text]
        texts = expanded
    return texts


# Tests of find that narrow what -delete removes without making it unknown: -type f leaves the
# folders, empty once their files are gone; -xdev and -mindepth 1 keep to what is under the start.
_FIND_KEEPS = (("-type", "f"), ("-mindepth", "1"))


def _expression(texts: Sequence[str]) -> int | None:
    """Where find's expression starts after its folders (a test, `(` or `!`); None if nowhere."""
    return next((i for i, text in enumerate(texts) if text.startswith(("-", "(", "!"))), None)


def _found(words: Sequence[Word]) -> list[str]:
    """What `find DIR… [-type f] [-name GLOB] ACTION` removes or empties, as globs (a `-name` is
    matched in DIR itself only, so deeper files count as left); ACTION is -delete, or -exec or
    -execdir of `rm`, `truncate -s 0`, `cp /dev/null` on `{}`, or of `sh -c` doing one of
    these to the file. Nothing for any other test or action."""
    texts = [word.text for word in words]
    start = _expression(texts)
    if start is None:
        return []
    # find applies its expression in order: an action before a test acts on what fails it too.
    if texts[-1] == "-delete":
        return _selected(texts[: len(texts) - 1], start)
    action = next((i for i in range(start, len(texts)) if texts[i] in _EXECS), None)
    if action is not None and _exec_removes(words[action + 1 :]):
        return _selected(texts[:action], start)
    return []


# -execdir runs the command in the file's folder on `./NAME`: the same file as -exec's `{}`
# (a find without -execdir, as BusyBox's may be, fails the RUN either way).
_EXECS = frozenset(["-exec", "-execdir"])
# What stands for one file found: find's `{}`, or xargs's replace string.
_FILE = "{}"


def _piped_find(invocation: Invocation) -> list[str]:
    """What `find DIR… [-type f] [-name GLOB] [-print|-print0] | xargs [-I R] rm|truncate -s 0`
    removes or empties, as globs; nothing for any other command or find."""
    found = [word.text for word in invocation.piped]
    if found[:1] != ["find"] or len(found) < 2:
        return []
    texts = found[1:-1] if found[-1] in ("-print", "-print0") else found[1:]
    start = _expression(texts)
    args, file = list(invocation.args), invocation.replace
    if file is None:
        # Without -I, xargs adds the files after the arguments (cp /dev/null takes only one).
        if invocation.program == "cp":
            return []
        file = _FILE
        args.append(Word(_FILE, (), 0, 0, ()))
    removes = _removes(invocation.program, args, file)
    return _selected(texts, len(texts) if start is None else start) if removes else []


def _selected(texts: list[str], start: int) -> list[str]:
    """The globs `find DIR… TESTS` selects (texts[start:] are the tests), where the tests only
    narrow them to files or to a `-name` in DIR itself; nothing for any other test."""
    tests = texts[start:]
    name = None
    while tests:
        pair = tuple(tests[:2])
        if pair in _FIND_KEEPS:
            del tests[:2]
        elif tests[0] == "-xdev":
            del tests[:1]
        elif tests[0] == "-name" and name is None and len(tests) > 1:
            name = tests[1]
            del tests[:2]
        else:
            return []
    return [f"{folder.rstrip('/')}/{name}" if name else folder for folder in texts[:start]]


def _exec_removes(words: Sequence[Word]) -> bool:
    """Whether `-exec COMMAND {} ;` (or `+`), ending find's expression, removes or empties each
    file found: rm, `truncate -s 0`, `cp /dev/null`, or a `sh -c` script doing one of these."""
    texts = [word.text for word in words]
    if len(texts) < 2 or texts[-1] not in (";", "+"):
        return False
    program = posixpath.basename(texts[0])
    if program in _SHELLS:
        return _script_removes(words[1:-1], texts[-1])
    return texts[-2] == _FILE and _removes(program, words[1:-1], _FILE)


_SHELLS = frozenset(["sh", "bash", "dash", "ash"])


def _removes(program: str, args: Sequence[Word], file: str) -> bool:
    """Whether `program args` removes or empties the one file args name as file, and no other."""
    texts = [word.text for word in args]
    if program == "rm":
        return [text for text in texts if not text.startswith("-")] == [file]
    if program == "truncate":
        return truncated(args) == [file]
    return program == "cp" and texts == ["/dev/null", file]


def _script_removes(words: Sequence[Word], end: str) -> bool:
    """Whether `sh -c SCRIPT [NAME {}]`, then `;` or `+`, removes or empties each file: SCRIPT is
    one rm, truncate, `cp /dev/null` or emptying redirection of `"$1"` (of `"$@"`, each batch's
    files, with `+`), or, with no NAME, of the `{}` find writes into SCRIPT itself."""
    texts = [word.text for word in words]
    names: tuple[str, ...]
    if len(texts) == 4 and texts[0] == "-c" and texts[3] == _FILE:
        names = ("$1", "${1}") if end == ";" else ("$@", "${@}")
    elif len(texts) == 2 and texts[0] == "-c" and end == ";":
        names = (_FILE,)  # GNU find and BusyBox put the file in place of `{}` inside a word
    else:
        return False
    script = script_invocations(words[1])
    if len(script) != 1 or script[0].via_xargs or script[0].piped:
        return False
    placeholder = Word(_FILE, (), 0, 0, ())

    def file(word: Word) -> Word:
        return placeholder if word.text in names else word

    invocation = script[0]._replace(
        args=tuple(file(word) for word in script[0].args),
        redirects=tuple((op, file(target)) for op, target in script[0].redirects),
    )
    return _removes(invocation.program, invocation.args, _FILE) or emptied(invocation) == [_FILE]


def mounted(run_text: str, escape: str = "\\") -> list[str]:
    """Where the RUN's --mount flags mount something: what is written there is not in the image."""
    return mount_targets(run_flags(run_text, escape))


def left(leftovers: Sequence[Leftover], removed: Sequence[str]) -> list[str]:
    """The globs of leftovers with a file that no removed path or glob covers."""
    return [
        leftover.glob
        for leftover in leftovers
        if not all(any(covers(path, file) for path in removed) for file in leftover.files)
    ]


def rm(globs: Sequence[str]) -> list[str]:
    """One `rm -rf` for globs, as a list of the commands to append (empty when none)."""
    return [f"rm -rf {' '.join(globs)}"] if globs else []
