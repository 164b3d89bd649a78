"""Arch Linux's pacman: install commands, the image's configuration, the dated-archive step.

Pure: it reads words from the RUN lexer and files from the base image, and returns values. The
snapshot is archive.archlinux.org's daily copy of the repositories (`repos/YYYY/MM/DD/`), reached
by pointing the image's mirrorlist at it; pacman then fetches those days' databases itself.
"""

from __future__ import annotations

import datetime
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from pinner import managers
from pinner.apt.shell import Invocation, Word, run_invocations, split_options, words
from pinner.baseimage import parse_os_release
from pinner.errors import MirrorError, PackageError
from pinner.lockfile import LockedPackage, UnpinnedPackage
from pinner.managers import (
    Fetch,
    ImageConfig,
    Install,
    Manager,
    PackageArg,
    Resolved,
    globmatch,
    own,
)
from pinner.managers.alpm import (
    IGNORE_NONE,
    DescError,
    Ignore,
    Package,
    Repository,
    after_removal,
    duplicate,
    needs,
    parse_database,
    parse_depend,
    parse_desc,
    resolve,
    valid_fields,
)
from pinner.managers.leftovers import (
    LDCONFIG,
    Leftover,
    expands_braces,
    left,
    removed_paths,
    rm,
)
from pinner.output import untrusted

ARCHIVE = "https://archive.archlinux.org/repos"
MIRRORLIST = "/etc/pacman.d/mirrorlist"
PACMAN_CONF = "/etc/pacman.conf"
LOCAL_DB = "/var/lib/pacman/local"
CACHE = "/var/cache/pacman/pkg"
# libalpm stamps each package it installs with the clock (commit_single_pkg: time(NULL)), with no
# SOURCE_DATE_EPOCH override.
_INSTALL_TIMES = (
    f"pacman writes the clock as each package's install time (%INSTALLDATE% in {LOCAL_DB}/*/desc):"
    " the local database differs from build to build"
)
# What the engine reads from the base image (a `*` stays within one path component).
IMAGE_PATHS = (PACMAN_CONF, "/etc/pacman.d/*", f"{LOCAL_DB}/*/desc")
# Repositories archive.archlinux.org keeps a daily copy of; any other is a third party's.
OFFICIAL_REPOS = words(
    "core extra multilib community core-testing extra-testing multilib-testing"
    " community-testing testing core-staging extra-staging multilib-staging staging"
    " gnome-unstable kde-unstable"
)
# Docker's architecture words and pacman's (uname -m); the archive serves x86_64 alone.
ARCHITECTURES: Mapping[str, str] = {"amd64": "x86_64"}

# --------------------------------------------------------------------------- install commands


class Target(NamedTuple):
    """A package word of `pacman -S`: name (or dependency string), its repository, its span."""

    name: str
    repo: str | None
    start: int
    end: int


class PacmanCommand(NamedTuple):
    """One pacman invocation: operation letter, short flags, targets, what cannot be pinned."""

    operation: str  # "S", "U", "R", "Q", ... ("" when none is given)
    flags: frozenset[str]
    targets: tuple[Target, ...]
    notes: tuple[str, ...]
    start: int
    end: int
    needed: bool = False  # --needed: targets installed at the repository's version are skipped

    @property
    def installs(self) -> bool:
        """Whether the command installs packages from the repositories (-S, -Su, -Syu)."""
        queries = {"s", "i", "l", "g", "c", "p", "w"}
        return self.operation == "S" and not (self.flags & queries)

    @property
    def upgrades(self) -> bool:
        return self.installs and "u" in self.flags


_OPERATIONS: Mapping[str, str] = {
    "--sync": "S",
    "--upgrade": "U",
    "--remove": "R",
    "--query": "Q",
    "--database": "D",
    "--files": "F",
    "--deptest": "T",
    "--version": "V",
}
_LONG_FLAGS: Mapping[str, str] = {
    "--refresh": "y",
    "--sysupgrade": "u",
    "--search": "s",
    "--info": "i",
    "--list": "l",
    "--groups": "g",
    "--clean": "c",
    "--print": "p",
    "--downloadonly": "w",
}
# pacman(8) options that take the next word as their value (short: -r ROOT, -b DBPATH).
_VALUE_OPTIONS = words(
    "-r --root -b --dbpath --cachedir --config --arch --gpgdir --hookdir --logfile --ignore"
    " --ignoregroup --assume-installed --print-format --overwrite --sysroot --color"
)
_TARGET = re.compile(r"(?:(?P<repo>[a-z0-9@._+-]+)/)?(?P<spec>[a-z0-9@._+-]+(?:[<>=]{1,2}\S+)?)")


def _target(word: Word, operation: str) -> tuple[Target | None, str | None]:
    """A package target, or a note on why pinner cannot record it."""
    text = word.text
    if word.expansions:
        return None, f"package list uses a variable or command ({text}); it is not recorded"
    if operation == "U":
        return (
            None,
            f"pacman -U installs a file or URL ({text}); not pinned by the snapshot",
        )
    match = _TARGET.fullmatch(text)
    if match is None or parse_depend(match["spec"]) is None:
        return None, f"package word {text!r} is not a package name; it is not recorded"
    return Target(match["spec"], match["repo"], word.start, word.end), None


def _option_width(text: str) -> int:
    """2 when the option's value is the next word, as for -r DIR and --root DIR."""
    if text.startswith("--"):
        return 2 if text in _VALUE_OPTIONS else 1
    # A cluster of short options (-Syu, -Syyu): -r and -b take the rest or the next word.
    for k, letter in enumerate(text[1:], start=1):
        if letter in "rb":
            return 2 if k == len(text) - 1 else 1
    return 1


def parse_command(invocation: Invocation) -> PacmanCommand:
    """Read a pacman invocation's operation, flags and targets."""
    operation = ""
    flags: set[str] = set()
    needed = False
    options, operands = split_options(invocation.args, _option_width)
    for text, _ in options:
        if text.startswith("--"):
            name = text.partition("=")[0]
            needed = needed or name == "--needed"
            operation = _OPERATIONS.get(name, operation)
            if name in _LONG_FLAGS:
                flags.add(_LONG_FLAGS[name])
            continue
        for letter in text[1:]:
            if letter in "rb":
                break
            if letter.isupper():
                operation = letter
            else:
                flags.add(letter)
    targets: list[Target] = []
    notes: list[str] = []
    installing = operation in ("S", "U") and not (flags & set("silgcpw"))
    for word in operands if installing else ():
        target, note = _target(word, operation)
        if target is not None:
            targets.append(target)
        if note is not None and note not in notes:
            notes.append(note)
    if installing and invocation.via_xargs:
        notes.append("xargs supplies packages to pacman; they are not recorded")
    return PacmanCommand(
        operation,
        frozenset(flags),
        tuple(targets),
        tuple(notes),
        invocation.start,
        invocation.end,
        needed,
    )


def pacman_commands(invocations: Sequence[Invocation]) -> tuple[PacmanCommand, ...]:
    """Every pacman command among a RUN's invocations, in order."""
    return tuple(
        parse_command(invocation) for invocation in invocations if invocation.program == "pacman"
    )


# --------------------------------------------------------------------------- the image's config


class Repo(NamedTuple):
    """A repository section of pacman.conf: its servers in order, each with the file naming it."""

    name: str
    servers: tuple[tuple[str, str], ...]  # (file, Server value)
    includes: tuple[str, ...]  # the files its Include lines named, in order
    siglevel: tuple[str, ...]


class PacmanConfig(NamedTuple):
    """What pinner needs of a base image's pacman: architecture, repositories, installed set."""

    architecture: str
    siglevel: tuple[str, ...]
    repos: tuple[Repo, ...]
    installed: tuple[Package, ...]
    os_id: str
    ignore: Ignore = IGNORE_NONE

    @property
    def distro(self) -> str:
        return self.os_id or "arch"

    @property
    def release(self) -> str | None:
        return None  # a rolling release: the snapshot is the release

    @property
    def arch(self) -> str:
        return self.architecture


def _conf_lines(files: Mapping[str, bytes], path: str) -> Iterator[tuple[str, int, str]]:
    """The lines of a pacman config file, comments and blanks left out: (path, number, text)."""
    data = files.get(path)
    if data is None:
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.partition("#")[0].strip()
        if line:
            yield path, number, line


class Conf(NamedTuple):
    """pacman.conf with its includes: [options] words pinner reads, and the repositories."""

    architecture: tuple[str, ...]
    siglevel: tuple[str, ...]
    repos: list[Repo]
    ignore: Ignore


class _Section(NamedTuple):
    """A repository section while its lines are read (lists: a tuple per line is quadratic)."""

    name: str
    servers: list[tuple[str, str]]
    includes: list[str]
    siglevel: list[str]


# The lines pacman.conf and its includes may hold in all. A real one with its mirrorlist holds
# hundreds; the cap bounds a file that includes another many times, which includes another...
# (each level multiplies the lines read).
_MAX_CONF_LINES = 100_000


def parse_conf(files: Mapping[str, bytes]) -> Conf:
    """pacman.conf's Architecture, SigLevel, IgnorePkg and IgnoreGroup words and its
    repositories, includes expanded."""
    architecture: list[str] = []
    siglevel: list[str] = []
    sections: list[_Section] = []
    ignore: dict[str, list[str]] = {"IgnorePkg": [], "IgnoreGroup": []}
    globbed: dict[str, list[str]] = {}
    # Each file decoded and split once, however many Include lines name it.
    read: dict[str, list[tuple[str, int, str]]] = {}

    def lines(path: str) -> Iterator[tuple[str, int, str]]:
        if path not in read:
            read[path] = list(_conf_lines(files, path))
        return iter(read[path])

    section = "options"
    stack = [lines(PACMAN_CONF)]
    count = 0
    while stack:
        found = next(stack[-1], None)
        if found is None:
            stack.pop()
            continue
        count += 1
        if count > _MAX_CONF_LINES:
            raise ValueError(f"{PACMAN_CONF}: over {_MAX_CONF_LINES} lines with its includes")
        path, number, line = found
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            if section != "options":
                sections.append(_Section(section, [], [], []))
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        repo = sections[-1] if section != "options" and sections else None
        if key == "Include":
            if len(stack) > 10:
                raise ValueError(f"{untrusted(path)}:{number}: Include nests more than 10 deep")
            # pacman expands Include with glob(3); a missing file is skipped with a warning.
            if value not in globbed:
                globbed[value] = sorted(p for p in files if globmatch.fnmatchcase(p, value))
            matches = globbed[value] or [value]
            if repo is not None:
                repo.includes.extend(matches)
            stack.extend(lines(posixpath.normpath(m)) for m in reversed(matches))
        elif key == "Server" and repo is not None:
            repo.servers.append((path, value))
        elif key == "SigLevel" and repo is not None:
            repo.siglevel.extend(value.split())
        elif key == "SigLevel":
            siglevel.extend(value.split())
        elif key in ignore and repo is None:
            ignore[key].extend(value.split())
        elif key == "Architecture" and repo is None:
            architecture.extend(value.split())
    return Conf(
        tuple(architecture),
        tuple(siglevel),
        [Repo(s.name, tuple(s.servers), tuple(s.includes), tuple(s.siglevel)) for s in sections],
        Ignore(tuple(ignore["IgnorePkg"]), tuple(ignore["IgnoreGroup"])),
    )


def configure(files: Mapping[str, bytes], arch: str) -> PacmanConfig | str:
    """The image's pacman configuration for one Docker architecture, or why it cannot be pinned."""
    if PACMAN_CONF not in files:
        return f"the base image has no {PACMAN_CONF}"
    try:
        architectures, siglevel, repos, ignore = parse_conf(files)
    except ValueError as error:
        return str(error)
    words_ = [a for a in architectures if a != "auto"]
    machine = ARCHITECTURES.get(arch)
    if machine is None:
        return f"archive.archlinux.org serves x86_64 alone, not {arch}"
    if words_ and machine not in words_:
        return f"{PACMAN_CONF} sets Architecture = {untrusted(' '.join(words_))}, not {machine}"
    installed = []
    local = re.compile(re.escape(LOCAL_DB) + r"/[^/]+/desc")
    for path in sorted(files):
        if local.fullmatch(path):
            try:
                installed.append(parse_desc(files[path].decode("utf-8"), sync=False))
            except (UnicodeDecodeError, DescError) as error:
                return f"{untrusted(path)}: {error}"
    os_release = files.get("/etc/os-release", b"").decode("utf-8", "replace")
    return PacmanConfig(
        machine,
        siglevel,
        tuple(repos),
        tuple(installed),
        parse_os_release(os_release).get("ID", ""),
        ignore,
    )


def snapshot_repos(config: PacmanConfig) -> tuple[list[str], list[str]]:
    """The repositories the step points at the archive, and notes on those it leaves alone."""
    pinned: list[str] = []
    notes: list[str] = []
    for repo in config.repos:
        others = sorted({origin for origin, _ in repo.servers if origin != MIRRORLIST})
        if repo.name not in OFFICIAL_REPOS:
            notes.append(f"[{untrusted(repo.name)}] is not an Arch Linux repository; not pinned")
        elif MIRRORLIST not in repo.includes:
            notes.append(f"[{repo.name}] does not include {MIRRORLIST}; it is not pinned")
        elif others:
            notes.append(f"[{repo.name}] has servers from {untrusted(others[0])}; it is not pinned")
        else:
            pinned.append(repo.name)
    return pinned, notes


def signature_checks(config: PacmanConfig) -> str:
    """What is verified, in one line: Arch does not sign its databases; pacman checks packages."""
    off = [
        f"[{repo.name}]"
        for repo in config.repos
        if {"Never", "PackageNever"} & set(repo.siglevel or config.siglevel)
    ]
    if off:
        return f"pacman.conf turns package signature checks off for {', '.join(off)}"
    return "not checked: Arch Linux does not sign its databases; pacman checks each package"


# --------------------------------------------------------------------------- the step


def archive_day(snapshot: str) -> str:
    """The archive's day for a snapshot time: the day before, the newest copy complete by then.

    archive.archlinux.org writes day D's copy during D, so at a time on D only D-1 is sure to
    exist and to hold nothing newer than the snapshot time.
    """
    moment = datetime.datetime.strptime(snapshot, "%Y%m%dT%H%M%SZ")
    return (moment.date() - datetime.timedelta(days=1)).strftime("%Y/%m/%d")


_SAFE_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!&()*+,;=%-]+")


def archive_base(mirrors: Mapping[str, str]) -> str:
    """The archive's repos/ URL, or the mirror given for it (`--snapshot-mirror arch=URL`)."""
    base = mirrors.get("arch", ARCHIVE).rstrip("/")
    if not _SAFE_URL.fullmatch(base) or "'" in base:
        raise ValueError(f"arch mirror {base[:80]!r} cannot be written into a shell line")
    return base


def server_line(snapshot: str, mirrors: Mapping[str, str]) -> str:
    """The mirrorlist's one line: the archive's copy of the snapshot's day."""
    return f"Server = {archive_base(mirrors)}/{archive_day(snapshot)}/$repo/os/$arch"


def step(snapshot: str, mirrors: Mapping[str, str]) -> str:
    """The shell line that points the image's mirrorlist at the snapshot's day."""
    return f"echo '{server_line(snapshot, mirrors)}' > {MIRRORLIST}"


def database_url(repo: str, architecture: str, snapshot: str, mirrors: Mapping[str, str]) -> str:
    """Where pacman will fetch a repository's database once the step is in place."""
    base = archive_base(mirrors)
    return f"{base}/{archive_day(snapshot)}/{repo}/os/{architecture}/{repo}.db"


# --------------------------------------------------------------------------- later changes

_CONFIG_WRITE = re.compile(r">>?[ \t]*/etc/pacman(?:\.conf|\.d/mirrorlist)\b")
_WRITERS = words("tee sed cp mv install ln")
_CHANGES = f"changes {PACMAN_CONF} or {MIRRORLIST}; later pacman RUNs may not use the snapshot"


def config_changes(
    run_text: str, escape: str = "\\", env: tuple[tuple[str, str], ...] = ()
) -> str | None:
    """Why a RUN may point pacman away from the step's mirrorlist, or None."""
    for invocation in run_invocations(run_text, escape, env):
        if invocation.program == "reflector":
            return (
                f"runs reflector, which rewrites {MIRRORLIST}; later pacman RUNs may not use"
                " the snapshot"
            )
        if invocation.program in _WRITERS and any(
            word.text in (PACMAN_CONF, MIRRORLIST) for word in invocation.args
        ):
            return _CHANGES
    return _CHANGES if _CONFIG_WRITE.search(run_text) else None


# --------------------------------------------------------------------------- cleanup

_PACCACHE_ALL = re.compile(r"\s-[a-z]*r[a-z]*k ?0\s|\s-[a-z]*r[a-z]*\s.*(-k ?0|--keep[= ]0)\s")


_SHORT_OPTIONS = re.compile(r"-[A-Za-z]+")
_YES_PIPE = re.compile(r"\byes\b[^|;&\n]*\|\s*$")


def _empties_cache(invocation: Invocation, run_text: str) -> bool:
    """Whether a pacman command leaves its package cache empty.

    `pacman -Sc` keeps the files of installed packages. `pacman -Scc` asks "remove ALL files from
    cache? [y/N]": --noconfirm and a build's empty stdin both answer no; `yes | pacman -Scc` says
    yes.
    """
    texts = [word.text for word in invocation.args]
    if parse_command(invocation).operation != "S" or "--noconfirm" in texts:
        return False
    shorts = sum(text.count("c") for text in texts if _SHORT_OPTIONS.fullmatch(text))
    if shorts + texts.count("--clean") < 2:
        return False
    return _YES_PIPE.search(run_text[: invocation.start]) is not None


# pacman's cache (one cached file stands for all), and what each transaction leaves that differs
# from build to build: its log, with times, and ldconfig's cache (libalpm runs ldconfig after
# each transaction), as real pacman shows (tests/managers/test_pacman_leftovers.py).
_CACHE_FILES = Leftover(f"{CACHE}/*", (f"{CACHE}/app-1.0-1-x86_64.pkg.tar.zst",))
_LEFTOVERS = (Leftover("/var/log/pacman.log", ("/var/log/pacman.log",)), LDCONFIG)


def cleanup(
    run_text: str,
    invocations: Sequence[Invocation],
    *,
    mounts: Sequence[str] = (),
    braces: bool = True,
) -> str | None:
    """What to append to a RUN that installs with pacman and leaves its cache, its log or
    ldconfig's cache; None if nothing. invocations: the RUN's, as the engine read them; braces:
    its shell expands `{a,b}` (Arch's /bin/sh, bash, does)."""
    found = pacman_commands(invocations)
    if not any(command.installs or command.operation == "U" for command in found):
        return None
    cleans = False
    last = 0  # each pacman command may log: only an rm after the last one removes the log
    fetches = 0  # only a clean or rm after the last command that fetches packages empties the cache
    for index, invocation in enumerate(invocations):
        args = " ".join(word.text for word in invocation.args)
        if invocation.program == "pacman":
            last = index
            command = parse_command(invocation)
            if command.installs or command.operation == "U":
                fetches, cleans = index, False
            cleans = cleans or _empties_cache(invocation, run_text)
        elif invocation.program == "paccache" and _PACCACHE_ALL.search(f" {args} "):
            cleans = True  # paccache -rk0: remove every cached package
    fetched = removed_paths(invocations, run_text, braces, start=fetches)
    cache = [] if cleans else left([_CACHE_FILES], [*fetched, *mounts])
    logs = left(_LEFTOVERS, [*removed_paths(invocations, run_text, braces, last), *mounts])
    return " && ".join(rm(cache + logs)) or None


# --------------------------------------------------------------------------- the Manager

# core.db and extra.db are 0.2 and 8 MiB (gzip) in 2026; the cap leaves room for growth.
MAX_DATABASE_BYTES = 64 * 1024 * 1024


def read_install(invocation: Invocation) -> Install | None:
    """One pacman invocation as the manager interface reads it; None if it installs nothing."""
    command = parse_command(invocation)
    if not command.installs and command.operation != "U":
        return None
    packages = []
    for target in command.targets:
        depend = parse_depend(target.name)
        if depend is None:
            continue
        constraint = f"{depend.op}{depend.version}" if depend.op else None
        repositories = (target.repo,) if target.repo else ()
        packages.append(
            PackageArg(depend.name, constraint, target.start, target.end, repositories=repositories)
        )
    notes, upgrades = command.notes, command.upgrades
    options, _ = split_options(invocation.args, _option_width)
    ignored = [text.partition("=")[0] for text, _ in options]
    ignored = [o for o in ignored if o in ("--ignore", "--ignoregroup")]
    if upgrades and ignored:
        # pacman.conf's IgnorePkg is read; these hold back packages for this command alone.
        notes = (*notes, f"pacman -Su {ignored[0]}: the upgraded versions are not recorded")
        upgrades = False
    return Install("pacman", tuple(packages), notes, command.start, command.end, upgrades)


# `pacman -Qtdq` (any order): the packages installed as dependencies that nothing requires.
_QTDQ = r"pacman\s+-(?=[a-zA-Z]*Q)(?=[a-zA-Z]*t)(?=[a-zA-Z]*d)[Qtdq]+"
_ORPHANS = re.compile(rf"(?:\$\(|`)\s*{_QTDQ}\s*(?:\)|`)")


def read_removal(invocation: Invocation) -> managers.Removal | None:
    """What a `pacman -R` invocation removes (-Rs, -Rns too); None for other operations."""
    command = parse_command(invocation)
    if command.operation != "R" or "p" in command.flags:
        return None  # -Rp prints what it would remove
    _, operands = split_options(invocation.args, _option_width)
    names = []
    for word in operands:
        # "-" reads the targets from stdin.
        match = None if word.expansions or word.text == "-" else _TARGET.fullmatch(word.text)
        depend = parse_depend(match["spec"]) if match is not None else None
        if depend is not None:
            names.append(depend.name)
    texts = [w.text for w in invocation.args]
    # -s (--recursive) takes the dependencies no other package needs too; -c (--cascade) the
    # packages that need the targets.
    recursive = "s" in command.flags or "--recursive" in texts
    cascade = "c" in command.flags or "--cascade" in texts
    # `$(pacman -Qtdq)`, or the names piped in (`pacman -Qtdq | pacman -Rns -`, or through
    # xargs): the packages installed as dependencies that nothing requires.
    orphans = any(_ORPHANS.fullmatch(w.text) for w in operands if w.expansions)
    fed = " ".join(w.text for w in invocation.piped)
    if invocation.via_xargs or any(w.text == "-" for w in operands):
        orphans = orphans or re.fullmatch(rf"(?:sudo\s+)?{_QTDQ}", fed) is not None
    return managers.Removal(tuple(names), recursive, cascade, orphans)


class Pacman:
    """pacman, as pinner.managers.Manager."""

    name = "pacman"
    programs = frozenset({"pacman"})
    image_paths = IMAGE_PATHS
    snapshots = True
    snapshot_on_request = False
    version_pins = False
    reads_every_layer = False
    unpins_after_changes = False
    # What a tree copied to / or /etc may hold (COPY rootfs/ /).
    copied_paths = (PACMAN_CONF, "/etc/pacman.d")
    # The files the snapshot step writes: a copy of one before the step is overwritten.
    step_paths = (MIRRORLIST,)
    step_unserved = None
    appended_repositories = None

    def __init__(self) -> None:
        # One run reads each day's database once, whatever the stages.
        self._databases: dict[str, Repository] = {}
        # The words of commands written with --needed: resolve() skips those installed at the
        # day's version, as pacman does.
        self._needed: set[PackageArg] = set()

    def platform(self, arch: str) -> str | None:
        return next((f"linux/{p}" for p, a in ARCHITECTURES.items() if a == arch), None)

    def installs(self, invocation: Invocation) -> Install | None:
        found = read_install(invocation)
        if found is not None and parse_command(invocation).needed:
            self._needed.update(found.packages)
        return found

    removes = staticmethod(read_removal)

    def configure(self, files: Mapping[str, bytes], platform: str) -> PacmanConfig | str:
        return configure(files, platform.rpartition("/")[2])

    def step(
        self, config: ImageConfig, snapshot: str, mirrors: Mapping[str, str]
    ) -> tuple[str, ...] | str:
        pinned, _ = snapshot_repos(own(config, PacmanConfig))
        if not pinned:
            return f"no official repository includes {MIRRORLIST}"
        return (step(snapshot, mirrors),)

    async def _repository(
        self, fetch: Fetch, name: str, arch: str, snapshot: str, mirrors: Mapping[str, str]
    ) -> Repository:
        url = database_url(name, arch, snapshot, mirrors)
        if url not in self._databases:
            data = await fetch(url, f"{name}.db ({archive_day(snapshot)})", MAX_DATABASE_BYTES)
            try:
                packages = parse_database(data)
            except DescError as error:
                raise MirrorError(f"{url}: {error}") from None
            self._databases[url] = Repository(name, packages)
        return self._databases[url]

    async def _repositories(
        self, source: managers.Source, names: Sequence[str], snapshot: str
    ) -> list[Repository]:
        """The snapshot's databases of the named repositories, for the source's architecture."""
        arch = own(source.config, PacmanConfig).architecture
        return [
            await self._repository(source.fetch, name, arch, snapshot, source.mirrors)
            for name in names
        ]

    async def requires(
        self, source: managers.Source, requests: Sequence[PackageArg], mode: managers.Mode
    ) -> dict[str, frozenset[str]]:
        config = own(source.config, PacmanConfig)
        pinned, _ = snapshot_repos(config)
        repos = await self._repositories(source, pinned, mode.snapshot)
        targets = [
            (f"{r.repositories[0]}/" if r.repositories else "") + r.name + (r.constraint or "")
            for r in requests
            if not r.repositories or r.repositories[0] in pinned
        ]
        found = resolve(repos, targets, config.installed)
        # What the words' resolution fetches meets a dependency first, then what is installed.
        packages = [p for _, p in found.packages] + list(config.installed)
        return needs(packages, [r.name for r in requests])

    async def resolve(
        self, source: managers.Source, requests: Sequence[PackageArg], mode: managers.Mode
    ) -> Resolved:
        snapshot, upgrade = mode.snapshot, mode.upgrade
        config = own(source.config, PacmanConfig)
        pinned, notes = snapshot_repos(config)
        notes.append(_INSTALL_TIMES)
        repos = await self._repositories(source, pinned, snapshot)
        day = archive_day(snapshot)
        targets: dict[str, PackageArg] = {}
        needed: set[str] = set()
        elsewhere: list[UnpinnedPackage] = []
        for request in requests:
            target = request.name + (request.constraint or "")
            if request.repositories:
                # `core/glibc`: pacman takes the word from that repository alone.
                repo = request.repositories[0]
                if repo not in {r.name for r in config.repos}:
                    raise PackageError(
                        request.name, f"{repo}/{target}: {PACMAN_CONF} has no [{repo}]"
                    )
                if repo not in pinned:
                    why = f"not pinned: [{repo}] is not on the snapshot's mirrorlist"
                    elsewhere.append(UnpinnedPackage(request.name, why))
                    continue
                target = f"{repo}/{target}"
            targets[target] = request
            if request in self._needed:
                needed.add(target)
        for group in mode.repeated:
            # One command's words of a name: pacman takes the package each picks, and refuses
            # two different ones; lock stops there, as the build would.
            written = [
                f"{''.join(f'{r}/' for r in w.repositories)}{w.name}{w.constraint or ''}"
                for w in group
            ]
            if duplicate(repos, written):
                name = group[-1].name
                raise PackageError(
                    name,
                    f"{' '.join(written)}: one pacman command names {name} twice, with different"
                    f" packages; pacman refuses it ('{name}': duplicate target)",
                )
        # pacman -Su: the installed packages the day's databases hold newer builds of, too.
        # What `pacman -R` took out of the image is fetched again where a word needs it.
        removed = mode.removed
        installed = after_removal(
            config.installed, removed.names, removed.cascaded, removed.recursive, removed.orphans
        )
        found = resolve(
            repos, targets, installed, upgrade=upgrade, ignore=config.ignore, needed=needed
        )
        for missing in found.missing:
            target = missing.name
            if target not in targets:
                continue  # a dependency: recorded unpinned below
            repo = target.partition("/")[0] if "/" in target else ", ".join(pinned)
            raise PackageError(targets[target].name, f"{target}: not in {repo} of {day}")
        unpinned = elsewhere + [
            UnpinnedPackage(m.name, f"not pinned: {m.why}") for m in found.missing
        ]
        # The filename is the path under the day's archive, so the lock says which repository
        # each package comes from (`extra/bash` takes extra's even where core has one).
        packages = tuple(
            LockedPackage(
                p.name,
                config.architecture,
                p.version,
                p.sha256,
                f"{repo}/os/{config.architecture}/{p.filename}",
            )
            for repo, p in sorted(found.packages, key=lambda rp: rp[1].name)
        )
        return Resolved(
            packages,
            unpinned=tuple(unpinned),
            notes=tuple(notes),
            signature=signature_checks(config),
            rebuildable=True,
        )

    async def unserved(
        self, source: managers.Source, packages: Sequence[LockedPackage]
    ) -> list[str]:
        return []  # the archive keeps every day: a locked day's packages stay served

    config_changes = staticmethod(config_changes)

    def takes_pins(self, invocation: Invocation, word: str) -> bool:
        return False

    def pin_word(self, name: str, version: str) -> str:
        raise ValueError(f"pacman cannot install {name} at a chosen version from a repository")

    def cleanup(
        self, run_text: str, invocations: Sequence[Invocation], system: managers.System
    ) -> str | None:
        braces = expands_braces(system.shell, True)
        return cleanup(run_text, invocations, mounts=system.mounts, braces=braces)

    def checked(self, package: LockedPackage) -> LockedPackage:
        fields = (package.name, package.version, package.sha256, package.filename)
        repo, _, rest = package.filename.partition("/")
        if (
            not valid_fields(*fields)
            or package.architecture not in ARCHITECTURES.values()
            or (rest and (repo not in OFFICIAL_REPOS or rest.split("/")[1] != package.architecture))
        ):
            raise ValueError(f"{package.name}: not a package an Arch database could name")
        return package


MANAGER: Manager = Pacman()
