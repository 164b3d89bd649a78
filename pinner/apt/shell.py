"""The shell of a Dockerfile RUN as BuildKit hands it over, in words and commands with offsets.

Two layers, each keeping every character's offset in the RUN text: BuildKit's (flags, line
continuations, comment lines, exec form, heredocs) and the shell's (quotes, expansions,
operators, redirections; prefixes such as sudo, env and `sh -c`). It is not a shell: it does not
evaluate `$(...)`, functions, aliases or `eval`. A variable is expanded only where its value is a
literal known at that point (an assignment earlier in the script, or a value handed in: the
stage's ENV and ARG); any other stays as written.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

# --------------------------------------------------------------------------- shell words


class _Char(NamedTuple):
    """A character the shell reads, and the span of RUN text that wrote it (two for `\\"`)."""

    ch: str
    start: int
    end: int


class Word(NamedTuple):
    """A shell word after quote removal; expansions ($X, ${X}, $(...), `...`) kept as written."""

    text: str
    chars: tuple[_Char, ...]
    start: int
    end: int
    expansions: tuple[tuple[int, int], ...]
    # The expansions outside double quotes, which the shell splits into fields.
    unquoted: tuple[tuple[int, int], ...] = ()
    # For a word a variable's value gave: the variable, and the offset of the word written with it.
    origin: tuple[str, int] | None = None

    def expands(self, begin: int, end: int) -> bool:
        """Whether the shell expands any of text[begin:end]."""
        return any(b < end and begin < e for b, e in self.expansions)


class _Op(NamedTuple):
    """A shell operator: a separator such as && or ;, or a redirection such as > or <<."""

    text: str
    start: int
    end: int


class _Body(NamedTuple):
    """The lines of a heredoc."""

    chars: tuple[_Char, ...]


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Longest first, so that << is not read as two <.
_OPERATORS = sorted(
    words("&& || ;; ;& |& <<- <<< << >> <& >& <> >| &>> &> & | ; ( ) < >"), key=len
)[::-1]
_REDIRECTIONS = words("< > >> <& >& <> >| &> &>> << <<- <<<")
_WORD_ENDS = frozenset(" \t\r\n&|;()<>")


class _WordBuilder:
    """A word being read; end follows its last character or closing quote, never a continuation."""

    def __init__(self, first: _Char) -> None:
        self.chars: list[_Char] = []
        self.expansions: list[tuple[int, int]] = []
        self.unquoted: list[tuple[int, int]] = []
        self.start = first.start
        self.end = first.end

    def add(self, char: _Char) -> None:
        self.chars.append(char)
        self.end = char.end

    def add_expansion(self, chars: Sequence[_Char], quoted: bool) -> None:
        begin = len(self.chars)
        for char in chars:
            self.add(char)
        self.expansions.append((begin, len(self.chars)))
        if not quoted:
            self.unquoted.append((begin, len(self.chars)))

    def build(self) -> Word:
        text = "".join(char.ch for char in self.chars)
        return Word(
            text,
            tuple(self.chars),
            self.start,
            self.end,
            tuple(self.expansions),
            tuple(self.unquoted),
        )


class _Lexer:
    """Split shell text into words, operators and heredoc bodies (POSIX sh, Token Recognition)."""

    def __init__(self, chars: Sequence[_Char]) -> None:
        self.chars = chars
        self.i = 0
        self.heredocs: list[tuple[str, bool]] = []  # delimiter, strip leading tabs (<<-)

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.chars[j].ch if j < len(self.chars) else ""

    def tokens(self) -> Iterator[Word | _Op | _Body]:
        heredoc_op = ""  # a << or <<- waiting for its delimiter word
        while self.i < len(self.chars):
            ch, start, end = self.chars[self.i]
            if ch in " \t\r":
                self.i += 1
            elif ch == "\\" and self.peek(1) == "\n":
                self.i += 2
            elif ch == "#":
                while self.peek() not in ("", "\n"):
                    self.i += 1
            elif ch == "\n":
                self.i += 1
                for delimiter, strip_tabs in self.heredocs:
                    yield self.heredoc_body(delimiter, strip_tabs)
                self.heredocs = []
                yield _Op("\n", start, end)
            elif ch in "&|;()<>":
                op = next(o for o in _OPERATORS if self.lookahead(len(o)) == o)
                self.i += len(op)
                heredoc_op = op if op in ("<<", "<<-") else ""
                yield _Op(op, start, self.chars[self.i - 1].end)
            else:
                word = self.word()
                if word.text.isdigit() and self.peek() in ("<", ">"):
                    continue  # the file descriptor of a redirection, as in 2>&1
                if heredoc_op:
                    self.heredocs.append((word.text, heredoc_op == "<<-"))
                    heredoc_op = ""
                yield word

    def lookahead(self, size: int) -> str:
        return "".join(char.ch for char in self.chars[self.i : self.i + size])

    def word(self) -> Word:
        builder = _WordBuilder(self.chars[self.i])
        while self.peek() not in ("", *_WORD_ENDS):
            ch = self.peek()
            if ch == "\\":
                self.escape(builder, None)
            elif ch == "'":
                self.i += 1
                while self.peek() not in ("", "'"):
                    builder.add(self.chars[self.i])
                    self.i += 1
                self.close_quote(builder)
            elif ch == '"':
                self.i += 1
                while self.peek() not in ("", '"'):
                    if self.peek() == "\\":
                        self.escape(builder, '$`"\\')
                    elif self.peek() in ("$", "`"):
                        self.expansion(builder, quoted=True)
                    else:
                        builder.add(self.chars[self.i])
                        self.i += 1
                self.close_quote(builder)
            elif ch in ("$", "`"):
                self.expansion(builder, quoted=False)
            else:
                builder.add(self.chars[self.i])
                self.i += 1
        return builder.build()

    def close_quote(self, builder: _WordBuilder) -> None:
        if self.i < len(self.chars):  # else the quote is never closed
            builder.end = self.chars[self.i].end
            self.i += 1

    def escape(self, builder: _WordBuilder, escapable: str | None) -> None:
        """A backslash: a line continuation, an escaped character, or (in "...") itself."""
        following = self.peek(1)
        if following == "\n":
            self.i += 2
        elif following and (escapable is None or following in escapable):
            backslash, char = self.chars[self.i], self.chars[self.i + 1]
            builder.add(_Char(char.ch, backslash.start, char.end))
            self.i += 2
        else:
            builder.add(self.chars[self.i])
            self.i += 1

    def expansion(self, builder: _WordBuilder, quoted: bool) -> None:
        """Copy $NAME, $1, ${...}, $(...), $((...)) or `...` into the word as written."""
        begin = self.i
        following = self.peek(1)
        if self.peek() == "`":
            self.i = self.closing(self.i + 1, "", "`")
        elif following in ("(", "{"):
            self.i = self.closing(self.i + 1, following, ")" if following == "(" else "}")
        elif following.isalpha() or following == "_":
            self.i += 2
            while self.peek().isalnum() or self.peek() == "_":
                self.i += 1
        elif following and following in "@*#?$!-0123456789":
            self.i += 2
        else:  # a $ that starts no expansion is an ordinary character
            builder.add(self.chars[self.i])
            self.i += 1
            return
        builder.add_expansion(self.chars[begin : self.i], quoted)

    def closing(self, j: int, opening: str, close: str) -> int:
        """The index after the `close` balancing chars[j]: an `opening`, or the text after a `."""
        depth = 0
        while j < len(self.chars):
            ch = self.chars[j].ch
            if ch == "\\":
                j += 1
            elif ch in ("'", '"') and opening:
                j += 1
                while j < len(self.chars) and self.chars[j].ch != ch:
                    j += 2 if self.chars[j].ch == "\\" and ch == '"' else 1
            elif ch == opening:
                depth += 1
            elif ch == close:
                depth -= 1
                if depth <= 0:
                    return j + 1
            j += 1
        return len(self.chars)

    def heredoc_body(self, delimiter: str, strip_tabs: bool) -> _Body:
        """Consume the lines after a newline up to the delimiter line."""
        body: list[_Char] = []
        while self.i < len(self.chars):
            begin = self.i
            while self.peek() not in ("", "\n"):
                self.i += 1
            line = "".join(char.ch for char in self.chars[begin : self.i]).rstrip("\r")
            self.i = min(self.i + 1, len(self.chars))
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                break
            body.extend(self.chars[begin : self.i])
        return _Body(tuple(body))


# --------------------------------------------------------------------------- shell commands


class _Command(NamedTuple):
    """A simple command: its words with redirections removed, its heredocs, and its span."""

    words: tuple[Word, ...]
    bodies: tuple[_Body, ...]
    start: int
    end: int
    # The words of the command whose output this one reads (`a | b`: a's, for b).
    piped: tuple[Word, ...] = ()
    # Each redirection's operator and target word, in order (`: > log`: (">", log)).
    redirects: tuple[tuple[str, Word], ...] = ()
    # The operators between the command before and this one (`a && b`: ("&&",), for b).
    before: tuple[str, ...] = ()


class Invocation(NamedTuple):
    """The program a simple command runs, once prefixes and wrappers are peeled off."""

    program: str
    args: tuple[Word, ...]
    start: int
    end: int
    via_xargs: bool
    # The words of the simple command piped into it (`pacman -Qtdq | pacman -Rns -`), or ().
    piped: tuple[Word, ...] = ()
    # The command's redirections, operator and target word (`: > log`: (">", log)).
    redirects: tuple[tuple[str, Word], ...] = ()
    # The string xargs replaces with each input line (`xargs -I{} rm {}`: "{}"), or None.
    replace: str | None = None
    # The program as written, with its folder (`/tmp/setup` where program is setup).
    written: str = ""


def _commands(tokens: Iterable[Word | _Op | _Body]) -> Iterator[_Command]:
    """Group tokens into simple commands; any operator that is not a redirection separates them."""
    words: list[Word] = []
    bodies: list[_Body] = []
    spans: list[Word | _Op] = []
    redirects: list[tuple[str, Word]] = []
    redirect_op = ""  # a redirection operator waiting for its target word
    piped: tuple[Word, ...] = ()
    before: list[str] = []
    for token in itertools.chain(tokens, [None]):  # None: the end, which ends the last command
        if isinstance(token, _Body):
            bodies.append(token)
        elif isinstance(token, Word):
            spans.append(token)
            if redirect_op:
                redirects.append((redirect_op, token))
            else:
                words.append(token)
            redirect_op = ""
        elif token is not None and token.text in _REDIRECTIONS:
            spans.append(token)
            redirect_op = token.text
        else:
            if spans:
                yield _Command(
                    tuple(words),
                    tuple(bodies),
                    spans[0].start,
                    spans[-1].end,
                    piped,
                    tuple(redirects),
                    tuple(before),
                )
                before = []
            if token is None:
                return
            before.append(token.text)
            piped = tuple(words) if token.text == "|" and spans else ()
            words, bodies, spans, redirects, redirect_op = [], [], [], [], ""


# Reserved words that can stand before a command: `if ! apt-get ...; then apt-get ...; fi`.
_RESERVED = frozenset(["if", "then", "else", "elif", "do", "while", "until", "!", "{"])
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
# Commands that run another command: the options of theirs that take a value, and how many
# operands come before the command (timeout's duration).
_WRAPPERS: Mapping[str, tuple[frozenset[str], int]] = {
    "sudo": (
        words(
            "-u --user -g --group -C --close-from -D --chdir -h --host -p --prompt"
            " -R --chroot -r --role -t --type -T --command-timeout -U --other-user"
        ),
        0,
    ),
    "env": (words("-u --unset -C --chdir -S --split-string"), 0),
    "xargs": (words("-a -d -E -I -L -n -P -s"), 0),
    "nice": (frozenset(["-n", "--adjustment"]), 0),
    "ionice": (frozenset(["-c", "-n", "--class", "--classdata"]), 0),
    "nohup": (frozenset(), 0),
    "time": (frozenset(["-f", "-o", "--format", "--output"]), 0),
    "command": (frozenset(), 0),
    "exec": (frozenset(["-a"]), 0),
    "eatmydata": (frozenset(), 0),
    "timeout": (frozenset(["-k", "--kill-after", "-s", "--signal"]), 1),
}
_SHELLS = frozenset(["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"])
_SHELL_VALUE_OPTIONS = frozenset(["-o", "+o", "-O", "+O", "--rcfile", "--init-file"])


def is_option(text: str) -> bool:
    return text.startswith("-") and text != "-"


def option_width(text: str, takes_value: frozenset[str]) -> int:
    """How many words an option spans: 2 when its value is the next word, else 1."""
    if text.startswith("--"):
        return 2 if text in takes_value else 1
    # A cluster of short options (-qqy, -oAPT::Get::Foo=1): the first that takes a value ends it.
    for k, letter in enumerate(text[1:], start=1):
        if f"-{letter}" in takes_value:
            return 2 if k == len(text) - 1 else 1
    return 1


def split_options(
    args: Sequence[Word], width: Callable[[str], int]
) -> tuple[list[tuple[str, str | None]], list[Word]]:
    """A command's options in order, each with the next word as its value when width(option) is
    2, and its operands (every word after `--` among them)."""
    options: list[tuple[str, str | None]] = []
    operands: list[Word] = []
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            operands.extend(args[i + 1 :])
            break
        if not is_option(text):
            operands.append(args[i])
            i += 1
            continue
        step = width(text)
        options.append((text, args[i + 1].text if step == 2 and i + 1 < len(args) else None))
        i += step
    return options, operands


def _skip_options(words: Sequence[Word], i: int, takes_value: frozenset[str]) -> int:
    while i < len(words) and is_option(words[i].text):
        if words[i].text == "--":
            return i + 1
        i += option_width(words[i].text, takes_value)
    return i


def _skip_assignments(words: Sequence[Word], i: int) -> int:
    while i < len(words) and _ASSIGNMENT.match(words[i].text):
        i += 1
    return i


def _unwrap(command: _Command, variables: _Variables) -> Iterator[Invocation]:
    """The program a command runs, looking through `X=1`, sudo, env, xargs, `sh -c` and such;
    variables: the script's, whose exported values a shell it starts inherits."""
    words = command.words
    i = _skip_reserved(words)
    start = words[i].start if 0 < i < len(words) else command.start  # not from `then`
    # What a shell it starts has in its environment: the exported values, and the assignments
    # before the command (`PKGS=curl sh -c 'apk add $PKGS'`), each expanded as the shell does.
    env = variables.environment()
    j = _skip_assignments(words, i)
    _exported(env, words[i:j], variables)
    i = j
    via_xargs = False
    replace = None
    while i < len(words):
        program = words[i].text.rpartition("/")[2]
        if program in _SHELLS:
            script = _shell_script(words[i + 1 :], command.bodies)
            if script is None:
                break  # a script file, which the shell runs as a program of its own
            yield from _invocations(script.chars, _unexpanded(env, script))
            return
        if program == "command" and i + 1 < len(words) and words[i + 1].text in ("-v", "-V"):
            return  # `command -v apt-get` asks whether apt-get exists
        if program not in _WRAPPERS:
            break
        takes_value, operands = _WRAPPERS[program]
        options = i + 1
        i = _skip_options(words, options, takes_value) + operands
        if program == "xargs":
            via_xargs = True
            replace = _xargs_replace([word.text for word in words[options:i]])
        if program in ("sudo", "env"):
            _wrapper_environment(env, program, [word.text for word in words[options:i]])
            j = _skip_assignments(words, i)
            _exported(env, words[i:j], variables)
            i = j
    if i < len(words):
        yield Invocation(
            program,
            words[i + 1 :],
            start,
            command.end,
            via_xargs,
            command.piped,
            command.redirects,
            replace,
            words[i].text,
        )
    elif not words and command.bodies:
        # RUN <<EOF: BuildKit runs the heredoc itself as the script.
        yield from _invocations(command.bodies[0].chars, env)
    elif not words and command.redirects:
        # `> file` alone: the shell opens (and truncates) the file and runs nothing.
        yield Invocation("", (), command.start, command.end, False, (), command.redirects)


def _exported(env: dict[str, _Value], assignments: Sequence[Word], variables: _Variables) -> None:
    """Put into env the assignments before a command, which the command alone sees: each value
    from the values before the command, and unknown where it reads one of the others."""
    names = [word.text.partition("=")[0] for word in assignments]
    for word, name in zip(assignments, names, strict=True):
        plain = name.removesuffix("+")
        value = None if name.endswith("+") else variables.value(word, len(name) + 1)
        if value is None or any(n in names for n in _REFERENCE_NAME.findall(word.text)):
            env.pop(plain, None)
        else:
            env[plain] = value


def _wrapper_environment(env: dict[str, _Value], program: str, options: Sequence[str]) -> None:
    """Take out of env what sudo or env does not hand on: sudo starts from a reset environment
    (sudoers' env_reset, on by default) unless -E; `env -i` starts empty; `env -u X` drops X."""
    if program == "sudo":
        if not any(o in ("-E", "--preserve-env") for o in options):
            env.clear()
        return
    for k, option in enumerate(options):
        if option in ("-i", "--ignore-environment", "-"):
            env.clear()
        elif option in ("-u", "--unset") and k + 1 < len(options):
            env.pop(options[k + 1], None)
        elif option.startswith("--unset="):
            env.pop(option.partition("=")[2], None)


def _unexpanded(env: dict[str, _Value], script: Word) -> dict[str, _Value]:
    """env without the names of the expansions the outer shell left in a script word: it
    expands `sh -c "apk add $P"` itself, so the inner shell never sees `$P` (pinner could not
    know the outer value)."""
    names = {n for b, e in script.expansions for n in _REFERENCE_NAME.findall(script.text[b:e])}
    return {name: value for name, value in env.items() if name not in names}


def _xargs_replace(options: Sequence[str]) -> str | None:
    """The string xargs's options replace with each input line: `-I R`, `-IR`, `-i[R]`,
    `--replace[=R]` (`{}` where no R is given); None without one."""
    replace = None
    for k, text in enumerate(options):
        if text == "-I" and k + 1 < len(options):
            replace = options[k + 1]
        elif text.startswith(("-I", "-i")) and not text.startswith("--"):
            replace = text[2:] or "{}"
        elif text == "--replace" or text.startswith("--replace="):
            replace = text.partition("=")[2] or "{}"
    return replace


# Commands that write nothing: redirected with > or >|, each leaves its file empty.
_SILENT = frozenset(["", ":", "true"])
_TRUNCATING = frozenset([">", ">|"])


def emptied(invocation: Invocation) -> list[str]:
    """The files a command leaves empty, or holding the same text in every build: `: > f`,
    `> f`, `cat /dev/null > f`, `truncate -s 0 f…`, `echo "" > f`, `printf '' > f`."""
    args = [word.text for word in invocation.args]
    if invocation.program == "truncate":
        return truncated(invocation.args)
    if not (
        (invocation.program in _SILENT and not args)
        or (invocation.program == "cat" and args == ["/dev/null"])
        or _fixed_text(invocation)
    ):
        return []
    # The shell does not expand a pattern in a redirection's target (dash opens a file named
    # `*.log`; bash stops on more than one match), so only a plain path is emptied.
    return [
        target.text
        for op, target in invocation.redirects
        if op in _TRUNCATING and not target.expansions and not _GLOB_CHARS & set(target.text)
    ]


_GLOB_CHARS = frozenset("*?[")


def _fixed_text(invocation: Invocation) -> bool:
    """Whether a command writes the same text in every build: echo, or printf with a format
    that has no conversion (bash's `%(…)T` prints the time), nothing expanded."""
    if any(word.expansions for word in invocation.args):
        return False
    if invocation.program == "echo":
        return True
    args = invocation.args
    return invocation.program == "printf" and len(args) == 1 and "%" not in args[0].text


def truncated(args: Sequence[Word]) -> list[str]:
    """The files `truncate -s 0 [-c] FILE…` empties (the shell expands globs among them)."""
    size = None
    i = 0
    while i < len(args) and is_option(args[i].text):
        text = args[i].text
        i += 1
        if text == "--":
            break
        short = "" if text.startswith("--") else text[1:].lstrip("c")  # -c, -cs 0, -s0
        if text == "--no-create" or set(text[1:]) == {"c"}:
            continue
        if text.startswith("--size="):
            size = text.partition("=")[2]
        elif text == "--size" or short == "s":
            size = args[i].text if i < len(args) else None
            i += 1
        elif short.startswith("s"):
            size = short[1:]
        else:
            return []  # --reference, --io-blocks: not an empty file
    files = args[i:]
    if size != "0" or any(word.expansions for word in files):
        return []
    return [word.text for word in files]


def _shell_script(args: Sequence[Word], bodies: Sequence[_Body]) -> Word | None:
    """The script a shell runs: its -c string, or a heredoc on stdin; None for a script file."""
    command_string = False
    i = 0
    while i < len(args) and args[i].text[:1] in ("-", "+") and len(args[i].text) > 1:
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in _SHELL_VALUE_OPTIONS:
            i += 1
        elif text.startswith("-") and not text.startswith("--") and "c" in text:
            command_string = True
        i += 1
    if command_string:
        return args[i] if i < len(args) else None
    if i == len(args) and bodies:
        chars = bodies[0].chars
        return Word("", chars, chars[0].start if chars else 0, chars[-1].end if chars else 0, ())
    return None


def executed_file(invocation: Invocation) -> str | None:
    """The file an invocation runs as a program or script of its own, as named: the program
    (`install-deps`, `/tmp/setup`), the script a shell is given (`bash -e /tmp/setup.sh`), or
    the file `.` or `source` reads; None where a shell reads its stdin."""
    program = invocation.program
    if program in (".", "source"):
        return invocation.args[0].text if invocation.args else None
    if program not in _SHELLS:
        return invocation.written
    i = _skip_options(invocation.args, 0, _SHELL_VALUE_OPTIONS)
    return invocation.args[i].text if i < len(invocation.args) else None


def script_invocations(script: Word) -> tuple[Invocation, ...]:
    """The programs a word given to `sh -c` runs, read as a script of its own."""
    return tuple(_invocations(script.chars, {}))


def _invocations(chars: Sequence[_Char], env: Mapping[str, _Value]) -> Iterator[Invocation]:
    variables = _Variables(env)
    commands = list(_commands(_Lexer(chars).tokens()))
    for k, command in enumerate(commands):
        # A command's words are expanded with the values before its own assignments take effect.
        yield from _unwrap(variables.expand(command), variables)
        variables.track(command, commands[k + 1].before if k + 1 < len(commands) else ())


# --------------------------------------------------------------------------- variables

# A variable's value: its characters, each at the offset of the RUN text that wrote it (-1 for a
# value handed in from outside the RUN, ENV or ARG); None where pinner cannot know it.
_Value = tuple[_Char, ...]
# The longest value pinner follows in a script; a longer one (`A=$A$A`, 40 times over, would fill
# memory) is unknown. Real values are a few kilobytes at most.
MAX_VALUE = 1 << 16
_REFERENCE = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STATUS = re.compile(r"[0-9]{1,9}")  # an exit status int() takes (isdigit also takes "²")
_REFERENCE_NAME = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_IFS = frozenset(" \t\n")
_OPENERS = frozenset(["if", "while", "until", "for", "select", "case", "{"])
_CLOSERS = frozenset(["fi", "done", "esac", "}"])
# Operators after which a command at the top of the script runs whenever the script gets there:
# not `||` (only on failure), `|` and `&` (a subshell, whose assignments are lost).
_SEQUENCE = frozenset([";", "\n", "&&"])
_DECLARERS = frozenset(["export", "readonly", "declare", "typeset", "local"])
_DECLARE_OPTIONS = frozenset(["-x", "-r", "-g", "-rx", "-xr"])
# Commands that set variables to what pinner cannot know, or (eval, `.`) any variable at all.
_SETTERS = frozenset(["read", "getopts", "mapfile", "readarray", "unset", "for", "select"])
_ANY_SETTERS = frozenset(["eval", ".", "source"])


class _Variables:
    """The variables of one script as it runs: what pinner knows of each, command by command."""

    def __init__(self, env: Mapping[str, _Value]) -> None:
        self.values: dict[str, _Value | None] = dict(env)
        self.exported = set(env)
        self.split = True  # whether unquoted expansions split as with the default IFS
        self.depth = 0  # compound commands and subshells open around the current command
        self.cases = 0  # open `case`s, whose patterns end in a `)` that closes nothing
        # Set after a `&&` (`cd x && P=a && apk add $P`): known only while the list goes on with
        # `&&`, since the command before may have failed and left the value as it was.
        self.chained: set[str] = set()

    def environment(self) -> dict[str, _Value]:
        """The known values a shell started from here inherits."""
        found = {}
        for name in self.exported:
            value = self.values.get(name)
            if value is not None:
                found[name] = value
        return found

    def expand(self, command: _Command) -> _Command:
        """command with the words after its program expanded where each variable is known."""
        if any(op not in ("&&", "\n") for op in command.before) or "&&" not in command.before:
            for name in self.chained:
                self.values[name] = None
            self.chained.clear()
        words = command.words
        i = _skip_assignments(words, _skip_reserved(words))
        expanded = list(words[: i + 1])
        changed = False
        for word in words[i + 1 :]:
            fields = self.fields(word) if word.expansions else None
            expanded.extend([word] if fields is None else fields)
            changed = changed or fields is not None
        return command._replace(words=tuple(expanded)) if changed else command

    def fields(self, word: Word) -> list[Word] | None:
        """The words the shell makes of word (field splitting), or None if a value is unknown."""
        ends = dict(word.expansions)
        unquoted = set(word.unquoted)
        fields: list[list[_Char]] = []
        current: list[_Char] | None = None
        origin: tuple[str, int] | None = None
        taken = 0  # characters taken in from variables
        k = 0
        while k < len(word.chars):
            if k not in ends:
                current = [] if current is None else current
                current.append(word.chars[k])
                k += 1
                continue
            end = ends[k]
            value = self.reference(word.text[k:end])
            taken += 0 if value is None else len(value)
            if value is None or ((k, end) in unquoted and not self.split) or taken > MAX_VALUE:
                return None
            origin = origin or (word.text[k:end].strip("${}"), word.start)
            # A value from outside the RUN is placed at the word written with it.
            value = tuple(c if c.start >= 0 else _Char(c.ch, word.start, word.end) for c in value)
            if (k, end) not in unquoted:
                current = [] if current is None else current
                current.extend(value)
            else:
                for char in value:
                    if char.ch in _IFS:
                        if current is not None:
                            fields.append(current)
                        current = None
                    else:
                        current = [] if current is None else current
                        current.append(char)
            k = end
        if current is not None:
            fields.append(current)
        return [
            Word(
                "".join(char.ch for char in field),
                tuple(field),
                field[0].start if field else word.start,
                field[-1].end if field else word.end,
                (),
                (),
                origin,
            )
            for field in fields
        ]

    def reference(self, text: str) -> _Value | None:
        """The value of a plain `$NAME` or `${NAME}`; None for one unknown or any other form."""
        match = _REFERENCE.fullmatch(text)
        if match is None:
            return None
        return self.values.get(match.group(1) or match.group(2))

    def value(self, word: Word, begin: int) -> _Value | None:
        """The value word.text[begin:] assigns (not split), or None if it uses an unknown."""
        ends = {b: e for b, e in word.expansions if b >= begin}
        chars: list[_Char] = []
        k = begin
        while k < len(word.chars):
            if k not in ends:
                chars.append(word.chars[k])
                k += 1
                continue
            value = self.reference(word.text[k : ends[k]])
            if value is None or len(chars) + len(value) > MAX_VALUE:
                return None
            chars.extend(value)
            k = ends[k]
        return tuple(chars)

    def track(self, command: _Command, after: tuple[str, ...]) -> None:
        """Take in the assignments command makes; after: the operators that follow it."""
        words = command.words
        texts = [word.text for word in words]
        for op in command.before:
            if not self.cases and op in ("(", ")"):
                self.depth = max(0, self.depth + (1 if op == "(" else -1))
        i = _skip_reserved(words)
        opened = _opened(words)
        self.depth += len(opened)
        self.cases += opened.count("case")
        if texts[:1] and texts[0] in _CLOSERS:
            self.depth = max(0, self.depth - 1)
            self.cases = max(0, self.cases - (texts[0] == "esac"))
        definite = (
            self.depth == 0
            and i == 0
            and set(command.before) <= _SEQUENCE
            and not {"|", "&", "|&"} & set(after)
        )
        chained = definite and "&&" in command.before
        j = _skip_assignments(words, i)
        if j == len(words):
            for word in words[i:]:
                self.assign(word, definite, chained)
            return
        program = texts[j]
        if "IFS" in (text.partition("=")[0] for text in texts[i:j]):
            self.split = False
        if program in _ANY_SETTERS:
            self.values = dict.fromkeys(self.values)
            self.split = False
        elif program in _SETTERS:
            for text in texts[j + 1 :]:
                if _NAME.fullmatch(text):
                    self.values[text] = None
        elif program in _DECLARERS:
            plain = all(t in _DECLARE_OPTIONS for t in texts[j + 1 :] if is_option(t))
            for word in words[j + 1 :]:
                name = word.text.partition("=")[0].removesuffix("+")
                if _ASSIGNMENT.match(word.text):
                    self.assign(word, definite and plain, chained)
                elif _NAME.fullmatch(name) and not plain:
                    self.values[name] = None
                if program == "export" and _NAME.fullmatch(name):
                    self.exported.add(name)

    def assign(self, word: Word, definite: bool, chained: bool) -> None:
        """Take in `NAME=value` or `NAME+=value` (chained: after a `&&`)."""
        name, _, _ = word.text.partition("=")
        append = name.endswith("+")
        name = name.removesuffix("+")
        if chained:
            self.chained.add(name)
        if name == "IFS":
            self.split = False
        value = self.value(word, len(name) + 1 + append) if definite else None
        if append and value is not None:
            old = self.values.get(name)
            value = None if old is None or len(old) + len(value) > MAX_VALUE else old + value
        self.values[name] = value


def _skip_reserved(words: Sequence[Word]) -> int:
    i = 0
    while i < len(words) and words[i].text in _RESERVED:
        i += 1
    return i


def _opened(words: Sequence[Word]) -> list[str]:
    """The compound commands a simple command's words open (`if`, `while`, `{`, `for`, `case`)."""
    texts = [word.text for word in words]
    i = _skip_reserved(words)
    opened = [text for text in texts[:i] if text in _OPENERS]
    if texts[i : i + 1] and texts[i] in _OPENERS:
        opened.append(texts[i])  # `for` and `case` are read as programs by _skip_reserved
    return opened


# --------------------------------------------------------------------------- BuildKit's layer


def _has_heredoc(chars: Sequence[_Char]) -> bool:
    return any(isinstance(t, _Op) and t.text in ("<<", "<<-") for t in _Lexer(chars).tokens())


def _plain_chars(text: str, begin: int) -> list[_Char]:
    """The characters of text, which starts at offset begin of the RUN text."""
    return [_Char(ch, begin + k, begin + k + 1) for k, ch in enumerate(text)]


def _buildkit_chars(run_text: str, escape: str = "\\") -> list[_Char]:
    """The characters BuildKit hands to the shell: continuations and comment lines removed.

    A RUN whose first line opens a heredoc is passed on as written: BuildKit does not join the
    heredoc's lines, and the shell reads its own continuations and comments.
    """
    first_line = run_text.split("\n", 1)[0]
    if _has_heredoc(_plain_chars(first_line, 0)):
        return _plain_chars(run_text, 0)
    chars: list[_Char] = []
    lines = run_text.split("\n")
    begin = 0
    continued = False
    for n, line in enumerate(lines):
        body = line.removesuffix("\r")
        last = n == len(lines) - 1
        if continued and (not body.strip() or body.lstrip().startswith("#")):
            pass  # BuildKit drops empty and comment lines inside a continued instruction
        elif body.rstrip(" \t").endswith(escape):
            kept = body.rstrip(" \t")[:-1]
            chars.extend(_plain_chars(kept, begin))
            continued = True
        else:
            chars.extend(_plain_chars(body, begin))
            if not last:
                chars.append(_Char("\n", begin + len(line), begin + len(line) + 1))
            continued = False
        begin += len(line) + 1
    return chars


def _split_flags(chars: Sequence[_Char]) -> tuple[list[str], Sequence[_Char]]:
    """RUN's own flags (--mount=..., --network=...) as written, and the command after them."""
    flags: list[str] = []
    i = 0
    while True:
        while i < len(chars) and chars[i].ch in " \t\r\n":
            i += 1
        if "".join(char.ch for char in chars[i : i + 2]) != "--":
            return flags, chars[i:]
        start = i
        quote = ""
        while i < len(chars) and (quote or chars[i].ch not in " \t\r\n"):
            if quote:
                quote = "" if chars[i].ch == quote else quote
            elif chars[i].ch in ("'", '"'):
                quote = chars[i].ch
            i += 1
        flags.append("".join(char.ch for char in chars[start:i]))


def _skip_flags(chars: Sequence[_Char]) -> Sequence[_Char]:
    """Drop RUN's own flags, which come before the command."""
    return _split_flags(chars)[1]


def run_flags(run_text: str, escape: str = "\\") -> tuple[str, ...]:
    """A RUN's own flags as written, e.g. `--mount=type=cache,target=/var/cache/apt`."""
    return tuple(_split_flags(_buildkit_chars(run_text, escape))[0])


def is_exec_form(run_text: str, escape: str = "\\") -> bool:
    """Whether a RUN is in exec form (a JSON array): it runs no shell."""
    return _exec_form(_skip_flags(_buildkit_chars(run_text, escape))) is not None


def _exec_form(chars: Sequence[_Char]) -> tuple[Word, ...] | None:
    """The words of an exec-form RUN (a JSON array of strings), or None when it is shell form."""
    text = "".join(char.ch for char in chars)
    if not text.startswith("["):
        return None
    import json  # exec form is rare: a tree of shell-form RUNs does without the import

    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # json recurses once per nested array
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    words: list[Word] = []
    i = 0
    while len(words) < len(value):  # the array holds only strings, so each " opens the next
        while chars[i].ch != '"':
            i += 1
        i, word = _json_string(chars, i)
        words.append(word)
    return tuple(words)


def _json_string(chars: Sequence[_Char], i: int) -> tuple[int, Word]:
    """The JSON string whose opening quote is chars[i], each character at its offset."""
    import json

    j = i + 1
    builder = _WordBuilder(chars[i])
    while chars[j].ch != '"':
        size = 1
        if chars[j].ch == "\\":
            size = 6 if chars[j + 1].ch == "u" else 2
        escape = "".join(char.ch for char in chars[j : j + size])
        decoded = json.loads(f'"{escape}"') if size > 1 else escape
        builder.add(_Char(decoded, chars[j].start, chars[j + size - 1].end))
        j += size
    builder.start, builder.end = chars[i].end, chars[j].start
    return j + 1, builder.build()


# lock and check ask several questions of each RUN (package manager, apt commands, added sources,
# cleanup), and a tree repeats the same RUNs across files: lex each distinct one once per run.
@functools.lru_cache(maxsize=4096)
def run_invocations(
    run_text: str, escape: str = "\\", env: tuple[tuple[str, str], ...] = ()
) -> tuple[Invocation, ...]:
    """The programs a RUN's shell runs, in order, once wrappers and prefixes are peeled off;
    env: the values it starts with (ENV, ARG), expanded as its own literal assignments are."""
    return tuple(_run_invocations(run_text, escape, env))


def _run_invocations(
    run_text: str, escape: str, env: tuple[tuple[str, str], ...]
) -> Iterator[Invocation]:
    chars = _skip_flags(_buildkit_chars(run_text, escape))
    values = {name: tuple(_Char(ch, -1, -1) for ch in value) for name, value in env}
    words = _exec_form(chars)
    if words is None:
        yield from _invocations(chars, values)
    elif words:
        # The command's span takes in the quotes around the first and last strings.
        command = _Command(words, (), words[0].start - 1, words[-1].end + 1)
        yield from _unwrap(command, _Variables(values))


# --------------------------------------------------------------------------- where a script ends


class Ending(NamedTuple):
    """Where a RUN's script ends, so that a command can be joined on without breaking it.

    `last` is the offset after the script's last word (comments, continuations and trailing
    separators excluded); `separators` are the operators after it (`;`, `&`, or a dangling `&&`)
    and `after` the offset after them; `line_end` is where the line holding them ends, when the rest
    of that line is blank or a comment. `heredoc` tells whether the script is a heredoc's body
    (`RUN <<EOF`), and `errexit` whether a `set -e` is in force at the end. `exits_at` is where
    the final command that can exit the script starts (an `exit`, or a compound command holding
    one): a command joined on goes before it when `last` is before it.
    """

    last: int
    separators: tuple[str, ...]
    after: int
    line_end: int | None
    heredoc: bool
    errexit: bool
    inline_heredoc: bool
    exits_at: int | None = None


def _errexit(command: _Command, current: bool) -> bool:
    """Whether `set -e` is in force after command (`set -eux`, `set -o errexit`, `set +e`)."""
    texts = [word.text for word in command.words]
    if texts[:1] != ["set"]:
        return current
    for i, text in enumerate(texts[1:], start=1):
        if text in ("-o", "+o") and texts[i + 1 : i + 2] == ["errexit"]:
            current = text == "-o"
        elif re.fullmatch(r"[-+][A-Za-z]+", text) and "e" in text:
            current = text[0] == "-"
    return current


def _script_ending(tokens: Sequence[Word | _Op | _Body]) -> tuple[int, list[str], int] | None:
    """The offset after the last word or `)`, the separators after it, and the offset after them."""
    last: int | None = None
    separators: list[str] = []
    after = 0
    for token in tokens:
        if isinstance(token, _Body) or token.text == "\n":
            continue
        if isinstance(token, Word) or token.text == ")":
            last, separators, after = token.end, [], token.end
        else:
            separators.append(token.text)
            after = token.end
    return None if last is None else (last, separators, after)


def _before_exit(
    tokens: Sequence[Word | _Op | _Body], commands: Sequence[_Command]
) -> tuple[Sequence[Word | _Op | _Body], int | None]:
    """tokens up to the script's final command that can exit it, so that a command joined on runs
    before that command, and the offset where it starts; else all of them and None.

    That command is the last of the final top-level and-or list, after a `&&`, when it can exit
    with status 0 (`a && { b || exit 0; }`, `a; b && if ...; then exit 0; fi`); else that list,
    after a `;` or newline, when any of its commands can (`...; exit 0`, `...; [ -f x ] && exit 0
    || true`); or a final `exit` (`...; exit 1`). Anywhere else (after `||`, `|` or `&`, or with
    nothing before) all tokens are kept, with the offset of the exiting command.
    """
    found = _final_exit(commands)
    if found is not None:
        index, placeable = found
        start = commands[index].start
        if not placeable:
            return tokens, start
        if "&&" in commands[index].before:
            cut = max(
                i
                for i, token in enumerate(tokens)
                if isinstance(token, _Op) and token.text == "&&" and token.end <= start
            )
            return tokens[:cut], start
        return tokens[: _token_at(tokens, start)], start
    words = commands[-1].words if commands else ()
    found_end = _script_ending(tokens)
    if not words or words[0].text != "exit" or found_end is None or found_end[0] != words[-1].end:
        return tokens, None  # no exit, or one inside `(...; exit 0)`
    index = _token_at(tokens, words[0].start)
    ops = [t for t in tokens[:index] if not isinstance(t, _Body)]
    between = []
    while ops and isinstance(ops[-1], _Op) and ops[-1].text != ")":
        between.append(ops.pop().text)
    if not between or not set(between) <= {";", "\n"} or not ops:
        return tokens, None
    return tokens[:index], words[0].start


def _token_at(tokens: Sequence[Word | _Op | _Body], start: int) -> int:
    """The index of the word or operator of tokens that starts at offset start."""
    return next(
        i for i, token in enumerate(tokens) if not isinstance(token, _Body) and token.start == start
    )


def _nesting(commands: Sequence[_Command]) -> Iterator[tuple[int, int]]:
    """For each command, the compound commands and the subshells open around it (a closing `fi`,
    `done`, `esac` or `}` outside the compound it closes). Inside a `case`, whose patterns end in
    a `)` that closes nothing, parentheses are not counted."""
    compounds = subshells = cases = 0
    for command in commands:
        if not cases:
            for op in command.before:
                if op in ("(", ")"):
                    subshells = max(0, subshells + (1 if op == "(" else -1))
        first = command.words[0].text if command.words else ""
        if first in _CLOSERS:
            compounds = max(0, compounds - 1)
            cases = max(0, cases - (first == "esac"))
        yield compounds, subshells
        opened = _opened(command.words)
        compounds += len(opened)
        cases += opened.count("case")


def _final_exit(commands: Sequence[_Command]) -> tuple[int, bool] | None:
    """Where a command joined on goes in a script whose final top-level and-or list can exit with
    status 0 outside any subshell: the index of the command it goes before, and whether it can go
    there. That is the list's last element where it can exit and follows a `&&` (`a && if ...;
    then exit 0; fi`), else the list's first command after a `;` or newline: one joined before
    another element would be skipped where the list goes on past it (`a && [ -f x ] && exit 0 ||
    b`). None where no command of the list can exit."""
    nesting = list(_nesting(commands))
    tops = [
        i
        for i, (command, (compounds, subshells)) in enumerate(zip(commands, nesting, strict=True))
        if not compounds and not subshells and command.words[:1]
        if command.words[0].text not in _CLOSERS
    ]
    lists = [i for i in tops if i == 0 or {";", "\n", "&"} & set(commands[i].before)]
    if not lists:
        return None
    first = lists[-1]
    elements = [i for i in tops if i >= first]
    exiting = [
        element
        for element, stop in zip(elements, [*elements[1:], len(commands)], strict=True)
        if any(
            not subshells and _exits_ok(command)
            for command, (_, subshells) in zip(
                commands[element:stop], nesting[element:stop], strict=True
            )
        )
    ]
    if not exiting:
        return None
    last = elements[-1]
    if exiting[-1] == last and set(commands[last].before) - {"\n"} == {"&&"}:
        return last, True
    if first > 0 and not {"&", "|", "||", "&&"} & set(commands[first].before):
        return first, True
    return exiting[0], False


def _exits_ok(command: _Command) -> bool:
    """Whether command is an `exit` that may end the script with status 0 (`exit`, `exit 0`,
    `exit $rc`); an `exit 1` fails the build, which then leaves no image to clean."""
    words = command.words[_skip_reserved(command.words) :]
    if not words or words[0].text != "exit" or {"|", "|&"} & set(command.before):
        return False
    status = words[1].text if len(words) > 1 else "0"
    return not _STATUS.fullmatch(status) or int(status) % 256 == 0


def ending(run_text: str, escape: str = "\\") -> Ending | None:
    """Where the script of a shell-form RUN ends; None for exec form or an empty script."""
    chars = _skip_flags(_buildkit_chars(run_text, escape))
    if _exec_form(chars) is not None:
        return None
    tokens = list(_Lexer(chars).tokens())
    commands = list(_commands(tokens))
    heredoc = False
    inline_heredoc = any(command.bodies for command in commands)
    if len(commands) == 1 and commands[0].bodies:
        words = commands[0].words
        program = words[0].text.rpartition("/")[2] if words else ""
        if not words or (program in _SHELLS and _shell_script(words[1:], ()) is None):
            # RUN <<EOF, or RUN bash <<EOF: the heredoc's body is the script.
            chars = commands[0].bodies[0].chars
            tokens = list(_Lexer(chars).tokens())
            commands = list(_commands(tokens))
            heredoc, inline_heredoc = True, False
    cut, exits_at = _before_exit(tokens, commands)
    found = _script_ending(cut)
    if found is None:
        return None
    last, separators, after = found
    errexit = False
    for command in commands:
        if command.start < last:
            errexit = _errexit(command, errexit)
    newline = run_text.find("\n", after)
    stop = len(run_text) if newline < 0 else newline
    if run_text[stop - 1 : stop] == "\r":
        stop -= 1
    rest = run_text[after:stop].strip(" \t")
    line_end = stop if not rest or rest.startswith("#") else None
    return Ending(
        last, tuple(separators), after, line_end, heredoc, errexit, inline_heredoc, exits_at
    )


@functools.lru_cache(maxsize=4096)
def scripts(run_text: str, escape: str = "\\") -> tuple[tuple[str, str], ...]:
    """The scripts a shell-form RUN has parsed, with the shell that parses each ("" for the RUN's).

    The command line goes to the RUN's shell; a heredoc that is the script goes to the shell
    named before it (`RUN bash <<EOF`), else to the RUN's (`RUN <<EOF`).
    """
    chars = _skip_flags(_buildkit_chars(run_text, escape))
    if not chars or _exec_form(chars) is not None:
        return ()
    found = [("", "".join(char.ch for char in chars))]
    commands = list(_commands(_Lexer(chars).tokens()))
    for command in commands:
        words = command.words
        program = words[0].text.rpartition("/")[2] if words else ""
        if command.bodies and (not words or program in _SHELLS):
            if words and _shell_script(words[1:], ()) is not None:
                continue  # sh -c '...' <<EOF: the heredoc is data on stdin
            body = "".join(char.ch for char in command.bodies[0].chars)
            first = body.partition("\n")[0]
            if not first.startswith("#!"):
                found.append((program, body))
            elif shebang := re.search(r"\b(sh|bash|dash|ash)\b", first):
                found.append((shebang.group(1), body))
    return tuple(found)
