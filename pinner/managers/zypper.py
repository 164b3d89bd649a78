"""openSUSE's zypper: install commands, the image's repositories, Tumbleweed's dated history.

Pure: words from the RUN lexer and files from the base image in, values out. Tumbleweed is
pinned by pointing its repositories at download.opensuse.org's history of released snapshots
(`history/<YYYYMMDD>/tumbleweed/repo/oss/`); Leap, which has no such history, by version pins.
"""

from __future__ import annotations

import datetime
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pinner import managers
from pinner.apt.shell import Invocation, Word, run_invocations, split_options, words
from pinner.apt.sources import covers
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
    own,
    rpmdb,
    zyppconf,
)
from pinner.managers import repodata as rd
from pinner.managers.leftovers import (
    LDCONFIG,
    Leftover,
    expands_braces,
    left,
    removed_paths,
    rm,
)
from pinner.managers.rpm import checked, locked
from pinner.managers.rpmdb import Provide
from pinner.managers.rpmresolve import Missing, Pool, Resolution, covered, overlaps
from pinner.managers.rpmresolve import resolve as rpm_resolve
from pinner.managers.rpmversion import compare_evr, evr_key, parse_evr
from pinner.output import untrusted

HISTORY = "https://download.opensuse.org/history"
REPOS_DIR = "/etc/zypp/repos.d"
IMAGE_PATHS = (f"{REPOS_DIR}/*.repo", "/etc/os-release", *rpmdb.PATHS, *zyppconf.IMAGE_PATHS)
CACHE = "/var/cache/zypp"
# Docker's architecture words and rpm's; the history keeps the x86_64 tree alone.
ARCHITECTURES: Mapping[str, str] = {"amd64": "x86_64"}

# --------------------------------------------------------------------------- install commands

_VERBS: Mapping[str, str] = {
    "install": "install",
    "in": "install",
    "remove": "remove",
    "rm": "remove",
    "update": "update",
    "up": "update",
    "dist-upgrade": "dist-upgrade",
    "dup": "dist-upgrade",
    "patch": "patch",
    "refresh": "refresh",
    "ref": "refresh",
    "clean": "clean",
    "cc": "clean",
    "addrepo": "addrepo",
    "ar": "addrepo",
    "modifyrepo": "modifyrepo",
    "mr": "modifyrepo",
    "removerepo": "removerepo",
    "rr": "removerepo",
    "source-install": "source-install",
    "si": "source-install",
    "install-new-recommends": "install-new-recommends",
    "inr": "install-new-recommends",
}
# zypper's global options (src/Config.cc, Config::cliOptions, 1.14): long name -> whether it
# takes a value, and the short letters. zypper reads them with getopt_long, stopping at the
# verb, and refuses any other option there ("Unknown option"): install's --oldpackage or
# --force-resolution written before the verb fail the build.
_GLOBAL_LONG: Mapping[str, bool] = {
    **dict.fromkeys(
        words(
            "help version promptids quiet verbose debug color no-color no-abbrev non-interactive"
            " non-interactive-include-reboot-patches xmlout ignore-unknown terse normal-output"
            " rug-compatible no-gpg-checks gpg-auto-import-keys disable-repositories no-refresh"
            " no-cd no-remote disable-system-resolvables"
        ),
        False,
    ),
    **dict.fromkeys(
        words(
            "config userdata table-style reposd-dir cache-dir raw-cache-dir solv-cache-dir"
            " pkg-cache-dir plus-repo plus-content releasever root installroot"
        ),
        True,
    ),
}
_GLOBAL_SHORT: Mapping[str, str] = {
    "h": "help", "V": "version", "c": "config", "q": "quiet", "v": "verbose", "A": "no-abbrev",
    "s": "table-style", "n": "non-interactive", "x": "xmlout", "i": "ignore-unknown",
    "t": "terse", "r": "rug-compatible", "D": "reposd-dir", "C": "cache-dir", "p": "plus-repo",
    "R": "root",
}  # fmt: skip
# Options of install (and of the verbs that share its options) that take a value; -n after the
# verb is --name, a flag.
_INSTALL_VALUES = words("-t --type -r --repo --from --download")
_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*")
_CAPABILITY = re.compile(
    r"(?P<name>[A-Za-z0-9_+][A-Za-z0-9._+:()-]*?)(?P<op>[<>=]=?|==)(?P<version>\S+)"
)


class Target(NamedTuple):
    """A package word of `zypper install`: its name, the version constraint written, its span."""

    name: str
    constraint: str | None  # ">=1.2", "=8.0.1-150400.5.41.1"; None for a bare name
    start: int
    end: int


class ZypperCommand(NamedTuple):
    """One zypper invocation: its verb, targets, options that matter, and notes."""

    verb: str
    targets: tuple[Target, ...]
    options: frozenset[str]
    notes: tuple[str, ...]
    start: int
    end: int
    # The file `--config FILE` (`-c`) names in place of zypper.conf, as written.
    config: str | None = None
    # The first word before the verb that zypper refuses, as written.
    refused: str | None = None

    @property
    def installs(self) -> bool:
        return self.verb == "install" and "--dry-run" not in self.options


def _width(text: str, values: frozenset[str]) -> int:
    return 2 if text in values else 1


def _target(word: Word, options: frozenset[str]) -> tuple[Target | None, str | None]:
    text = word.text
    if word.expansions:
        return None, f"package list uses a variable or command ({text}); it is not recorded"
    if "://" in text or text.endswith(".rpm"):
        return None, f"installs an rpm file or URL ({text}); not pinned by the snapshot"
    if text.startswith(("pattern:", "product:", "patch:", "srcpackage:")) or (
        {"-t", "--type"} & options
    ):
        return None, f"installs a pattern, product or patch ({text}); its packages are not recorded"
    if text[:1] in "-!~+":
        return None, None  # `-name` and `!name` remove; `~name` and `+name` are rare spellings
    match = _CAPABILITY.fullmatch(text)
    if match is not None:
        op = "=" if match["op"] == "==" else match["op"]
        return Target(match["name"], op + match["version"], word.start, word.end), None
    if _NAME.fullmatch(text):
        return Target(text, None, word.start, word.end), None
    return None, f"package word {text!r} is a pattern or capability; it is not recorded"


def _long(written: str) -> str | None:
    """The global option a `--name` word means as getopt_long reads it, None where zypper knows
    none. A prefix abbreviates: glibc takes the first of several it fits unless they differ in
    whether they take a value (zypper gives every option the same flag and val)."""
    if written in _GLOBAL_LONG:
        return written
    found = sorted(name for name in _GLOBAL_LONG if name.startswith(written))
    return found[0] if len({_GLOBAL_LONG[name] for name in found}) == 1 else None


def _global_options(args: Sequence[Word]) -> tuple[int, dict[str, str], str | None]:
    """zypper's global options before the verb: the verb's index, each option's long name ->
    its value ("" for a flag), and the first word zypper refuses (None if none)."""
    found: dict[str, str] = {}
    refused = None
    i = 0
    while i < len(args) and args[i].text.startswith("-") and args[i].text != "-":
        text = args[i].text
        i += 1
        if text == "--":
            break
        if text.startswith("--"):
            written, eq, value = text[2:].partition("=")
            name = _long(written)
            if name is None or (eq and not _GLOBAL_LONG[name]):
                refused = refused or text  # read on as a flag, to find the verb
                continue
            if _GLOBAL_LONG[name] and not eq:
                value = args[i].text if i < len(args) else ""
                i += 1
            found[name] = value
            continue
        for at, letter in enumerate(text[1:], start=1):  # a cluster: `-nq`, `-cFILE`
            name = _GLOBAL_SHORT.get(letter)
            if name is None:
                refused = refused or text
                break
            if _GLOBAL_LONG[name]:
                value = text[at + 1 :]
                if not value:
                    value = args[i].text if i < len(args) else ""
                    i += 1
                found[name] = value
                break
            found[name] = ""
    return i, found, refused


def parse_command(invocation: Invocation) -> ZypperCommand | None:
    """Read a zypper invocation; None when it names no verb."""
    args = invocation.args
    i, found, refused = _global_options(args)
    global_options = {f"--{name}" for name in found}
    config = found.get("config")
    if i >= len(args):
        return None
    verb = _VERBS.get(args[i].text, args[i].text)
    written, operands = split_options(
        args[i + 1 :], lambda text: 1 if "=" in text else _width(text, _INSTALL_VALUES)
    )
    frozen = frozenset(global_options | {text.partition("=")[0] for text, _ in written})
    notes: list[str] = []
    if {"--no-gpg-checks", "--allow-unsigned-rpm"} & frozen:
        notes.append("zypper runs with signature checks off (--no-gpg-checks)")
    targets: list[Target] = []
    for word in operands if verb == "install" else ():
        target, note = _target(word, frozen)
        if target is not None:
            targets.append(target)
        if note is not None and note not in notes:
            notes.append(note)
    if verb in ("update", "dist-upgrade", "patch"):
        notes.append(f"zypper {verb} takes whatever the repositories serve; it is not recorded")
    span = (invocation.start, invocation.end)
    return ZypperCommand(verb, tuple(targets), frozen, tuple(notes), *span, config, refused)


def zypper_commands(invocations: Sequence[Invocation]) -> tuple[ZypperCommand, ...]:
    """Every zypper command among a RUN's invocations, in order."""
    found = []
    for invocation in invocations:
        if invocation.program == "zypper":
            command = parse_command(invocation)
            if command is not None:
                found.append(command)
    return tuple(found)


# What an install leaves that differs from build to build: zypper's log and libzypp's history,
# with times (as real zypper shows, tests/managers/test_zypper_leftovers.py), the random id
# libzypp writes where the image has none (TargetImpl::createAnonymousId, on root / only), and
# ldconfig's cache.
_LEFTOVERS = (
    Leftover("/var/log/zypp*", ("/var/log/zypper.log", "/var/log/zypp/history")),
    Leftover("/var/lib/zypp/AnonymousUniqueId", ("/var/lib/zypp/AnonymousUniqueId",)),
    LDCONFIG,
)


def _cleans_all(command: ZypperCommand) -> bool:
    """Whether a command is `zypper clean -a`: without -a, clean keeps the metadata it downloaded
    (zypper(8): "By default, only caches of downloaded packages are deleted")."""
    return command.verb == "clean" and not command.options.isdisjoint(("-a", "--all"))


def cleanup(
    run_text: str,
    invocations: Sequence[Invocation],
    *,
    mounts: Sequence[str] = (),
    braces: bool = True,
) -> str | None:
    """`zypper clean -a` and one rm of the logs, id and ldconfig cache for a RUN that installs
    and leaves them; None if nothing. invocations: the RUN's, as the engine read them; braces:
    its shell expands `{a,b}` (openSUSE's /bin/sh, bash, does)."""
    found = zypper_commands(invocations)
    if not any(command.installs for command in found):
        return None
    # Each zypper command logs and may fetch: only a clean or an rm after the last one counts.
    last = max((i for i, run in enumerate(invocations) if run.program == "zypper"), default=0)
    removed = removed_paths(invocations, run_text, braces, start=last)
    command = parse_command(invocations[last]) if invocations else None
    cleans = (command is not None and _cleans_all(command)) or any(
        path.startswith(CACHE) or covers(path, CACHE) for path in [*removed, *mounts]
    )
    # An appended clean logs again: then only mounts keep the logs out.
    after = removed if cleans else []
    parts = ([] if cleans else ["zypper clean -a"]) + rm(left(_LEFTOVERS, [*after, *mounts]))
    return " && ".join(parts) or None


def pin_word(name: str, version: str) -> str:
    """The word that makes zypper install exactly version-release: `curl=8.0.1-150400.5.41.1`."""
    return f"{name}={version}"


# --------------------------------------------------------------------------- repositories


class RepoFile(NamedTuple):
    """One repository of /etc/zypp/repos.d: alias, file, base URLs and the settings that matter."""

    alias: str
    path: str
    baseurls: tuple[str, ...]
    enabled: bool
    priority: int


_LEADING_NUMBER = re.compile(r"[ \t]*([+-]?)([0-9]+)")
_DEFAULT_PRIORITY = 99


def _zypp_true(value: str) -> bool:
    """A boolean as libzypp's str::strToTrue reads it: yes, true, on, always or + in any case,
    or a leading number other than 0 ("2", "1x"); anything else is false, also an empty value
    or "perhaps" (zypper 1.14, run)."""
    text = value.strip()
    if text.lower() in ("1", "yes", "true", "on", "always", "+"):
        return True
    number = _LEADING_NUMBER.match(text)
    return number is not None and number.group(2).strip("0") != ""


def _zypp_priority(value: str) -> int:
    """A repository's priority as libzypp reads it: strtoul's leading number as an unsigned int
    ("12abc" is 12, "-1" wraps to 4294967295, the lowest), and 99 for 0 or no number (zypper
    1.14, run)."""
    number = _LEADING_NUMBER.match(value.strip())
    if number is None:
        return _DEFAULT_PRIORITY
    sign, digits = number.groups()
    digits = digits.lstrip("0")[:21] or "0"  # past 20 digits it overflows all the same
    found = int(digits)
    if found >= 1 << 64:
        found = (1 << 64) - 1  # strtoul's ULONG_MAX, whatever the sign
    elif sign == "-":
        found = -found % (1 << 64)
    return found % (1 << 32) or _DEFAULT_PRIORITY


def parse_repo_file(path: str, data: bytes) -> list[RepoFile]:
    """The repositories one .repo file defines (INI; a key may repeat, as baseurl does)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    repos: list[RepoFile] = []
    section: dict[str, list[str]] | None = None
    alias = ""

    def close() -> None:
        if section is None:
            return
        enabled = _zypp_true(section.get("enabled", ["1"])[-1])
        priority = _zypp_priority(section.get("priority", ["99"])[-1])
        urls = tuple(url.strip() for url in section.get("baseurl", []) if url.strip())
        repos.append(RepoFile(alias, path, urls, enabled, priority))

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            close()
            alias, section = line[1:-1].strip(), {}
        elif "=" in line and section is not None:
            key, _, value = line.partition("=")
            section.setdefault(key.strip(), []).append(value.strip())
        else:
            raise ValueError(f"{path}:{number}: not a repository setting")
    close()
    return repos


class ZypperConfig(NamedTuple):
    """What pinner needs of a base image's zypper: flavour, release, architecture, repositories."""

    distro: str  # "opensuse-tumbleweed", "opensuse-leap"
    release: str | None  # Tumbleweed's snapshot date, Leap's version (15.6)
    arch: str
    repos: tuple[RepoFile, ...]
    installed: tuple[rpmdb.Installed, ...] | None = None  # None when the image holds no rpmdb
    # Whether `zypper install` weighs Recommends when the command does not say (zypp.conf's
    # solver.onlyRequires, zypper.conf's installRecommends), and the file that decided it.
    recommends: bool = True
    recommends_source: str | None = None
    # The image's zypp.conf and zypper.conf files, and those a command's --config may name.
    confs: tuple[tuple[str, bytes], ...] = ()


def configure(files: Mapping[str, bytes], arch: str) -> ZypperConfig | str:
    """The image's zypper configuration for one Docker architecture, or why it cannot be pinned."""
    release = parse_os_release(files.get("/etc/os-release", b"").decode("utf-8", "replace"))
    distro = release.get("ID", "")
    if distro not in ("opensuse-tumbleweed", "opensuse-leap"):
        shown = untrusted(distro) or "no ID"
        return f"/etc/os-release names {shown}, not openSUSE Tumbleweed or Leap"
    machine = ARCHITECTURES.get(arch)
    if machine is None:
        return f"download.opensuse.org's history serves x86_64 alone, not {arch}"
    repos: list[RepoFile] = []
    for path in sorted(files):
        if path.startswith(f"{REPOS_DIR}/") and path.endswith(".repo"):
            try:
                repos += parse_repo_file(path, files[path])
            except ValueError as error:
                return str(error)
    if not any(repo.enabled for repo in repos):
        return f"the base image enables no repository in {REPOS_DIR}"
    # An unreadable rpmdb raises RpmdbError: zypper reads the same file in the build.
    found = rpmdb.read_image(files)
    installed = found[1] if found is not None else None
    weighed, source = zyppconf.recommends(files)
    confs = tuple((path, files[path]) for path in sorted(files) if zyppconf.wanted(path))
    return ZypperConfig(
        distro, release.get("VERSION_ID"), machine, tuple(repos), installed, weighed, source, confs
    )


# --------------------------------------------------------------------------- Tumbleweed history

_TUMBLEWEED = re.compile(
    r"https?://(?:download|cdn)\.opensuse\.org/tumbleweed/repo/(oss|non-oss)/?"
)
_DATE = re.compile(r"[0-9]{8}")


def history_dates(data: bytes) -> list[str]:
    """The snapshot dates `history/list` names, one YYYYMMDD per line; others are refused."""
    dates = []
    for number, line in enumerate(data.decode("ascii", "replace").splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        if not _DATE.fullmatch(text):
            raise ValueError(f"history/list:{number}: {text[:40]!r} is not a date")
        dates.append(text)
    return sorted(dates)


def history_date(dates: Sequence[str], snapshot: str) -> str | None:
    """The newest released snapshot from a day before the snapshot time's, None if none is kept.

    A snapshot dated D is published during D or later, so only those dated before the snapshot
    time's day are sure to have been released by then.
    """
    day = datetime.datetime.strptime(snapshot, "%Y%m%dT%H%M%SZ").strftime("%Y%m%d")
    before = [date for date in dates if date < day]
    return before[-1] if before else None


def history_base(mirrors: Mapping[str, str]) -> str:
    """The history's URL, or the mirror given for it (`--snapshot-mirror opensuse=URL`)."""
    base = mirrors.get("opensuse", HISTORY).rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9._~:/@!&()*+,;=%-]+", base) or "#" in base:
        raise ValueError(f"opensuse mirror {base[:80]!r} cannot be written into a sed expression")
    return base


class Step(NamedTuple):
    """The Tumbleweed snapshot step: the shell line, and the repositories it pins."""

    line: str
    pinned: tuple[str, ...]
    notes: tuple[str, ...]


def step(config: ZypperConfig, date: str, mirrors: Mapping[str, str]) -> Step | str:
    """One `sed -i` pointing each Tumbleweed repository at the history's date, or why not."""
    if config.distro != "opensuse-tumbleweed":
        return f"{config.distro} has no dated history; its packages are pinned by version"
    base = history_base(mirrors)
    prefixes: dict[str, None] = {}
    files: dict[str, None] = {}
    pinned: list[str] = []
    notes: list[str] = []
    for repo in config.repos:
        if not repo.enabled:
            continue
        matches = [_TUMBLEWEED.fullmatch(url) for url in repo.baseurls]
        if len(repo.baseurls) == 1 and matches[0] is not None:
            url = repo.baseurls[0]
            prefixes[url[: url.index("/tumbleweed/") + len("/tumbleweed/")]] = None
            files[repo.path] = None
            pinned.append(repo.alias)
        else:
            notes.append(
                f"repository {untrusted(repo.alias)} is not in the history; it is not pinned"
            )
    if not pinned:
        return "no enabled repository is Tumbleweed's own (download.opensuse.org/tumbleweed)"
    # Dots left unescaped, as people write them: the prefix is anchored on `^baseurl=`.
    expressions = [
        f"'s#^baseurl={prefix}#baseurl={base}/{date}/tumbleweed/#'" for prefix in prefixes
    ]
    if len(expressions) > 1:
        expressions = [f"-e {expression}" for expression in expressions]
    line = f"sed -i {' '.join(expressions)} {' '.join(shlex.quote(f) for f in files)}"
    return Step(line, tuple(pinned), tuple(notes))


# --------------------------------------------------------------------------- the Manager

SIGNATURE = "not checked by pinner: zypper checks repomd.xml's and each package's signature"
_NO_RPMDB = "the image has no rpm database; every dependency is recorded"
MAX_PRIMARY_BYTES = 128 * 1024 * 1024  # compressed; Tumbleweed's oss primary is about 40 MiB


def _upgrade(pool: Pool, name: str) -> str | None:
    """The exact word for an installed package the repositories hold a newer build of, else None.

    zypper(8): install "installs or updates packages": a name already installed is updated to the
    best candidate, where dnf would leave it. Dependencies already satisfied stay as they are.
    """
    present = pool.installed.get(name)
    candidates = pool.by_name.get(name, [])
    if present is None or not candidates:
        return None
    best = max(candidates, key=lambda p: evr_key(p.evr))
    return f"{name}-{best.evr}" if compare_evr(best.evr, present.evr) > 0 else None


_FLAGS = {"<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}


def _in_range(pool: Pool, name: str, constraint: str) -> str:
    """The exact word for the newest build of name a range word (`foo<2`) allows, which zypper
    installs; the word as written where no build does (zypper finds no provider)."""
    op = next((op for op in ("<=", ">=", "<", ">") if constraint.startswith(op)), None)
    if op is None:
        return name + constraint
    try:
        dep = rd.Dep(name, _FLAGS[op], parse_evr(constraint[len(op) :]))
    except ValueError:
        return name + constraint
    allowed = [p for p in pool.by_name.get(name, []) if overlaps(Provide(name, "EQ", p.evr), dep)]
    if not allowed:
        return name + constraint
    return f"{name}-{max(allowed, key=lambda p: evr_key(p.evr)).evr}"


def _asks_recommends(options: frozenset[str]) -> bool | None:
    """Whether a zypper command says to weigh recommended packages; None when it does not say
    (the image's configuration decides). --recommends wins when both are written."""
    if "--recommends" in options:
        return True
    return False if "--no-recommends" in options else None


# One zypper command: whether it weighs recommends, its words as (name, exact spec or None), and
# whether it installs older builds than those installed (--oldpackage).
_Command = tuple[bool, list[tuple[str, str | None]], bool]


def _resolve_commands(pool: Pool, commands: Sequence[_Command]) -> Resolution:
    """rpm_resolve over each command's words in order, each on what the ones before installed
    (libsolv does not weigh an installed package's recommends again); a later command's newer
    build of a name replaces the earlier one's."""
    chosen: dict[str, rd.RpmPackage] = {}
    pins: dict[str, str] = {}
    notes: list[str] = []
    missing: list[Missing] = []
    added: dict[str, rd.RpmPackage] = {}
    for weighed, targets, older in commands:
        now = pool.installing(added.values()) if added else pool
        specs = [exact or _upgrade(now, name) or name for name, exact in targets]
        # zypper installs a package its bare name names even where another obsoletes it
        # (1.14.42 `install --dry-run`): dnf's swap for the obsoleter is not libsolv's.
        asked = covered(now, specs, bare_wins=True)
        found = rpm_resolve(now, asked, weak_deps=weighed, obsoletes=False)
        for package in found.chosen:
            before = chosen.get(package.name) or now.installed.get(package.name)
            if not older and before is not None and compare_evr(package.evr, before.evr) < 0:
                # zypper 1.14 takes no older build than the one installed without
                # --oldpackage ("has lower version than the installed one"; nothing to do).
                continue
            # A later command's newer build replaces the earlier's (`zypper in foo-1.0 && zypper
            # in foo` updates foo).
            chosen[package.name] = package
            added[package.name] = package
        pins |= found.pins
        notes += found.notes
        # Named by its word (`foo=1.0`, read as foo-1.0) or, for a requirement, by the
        # command's first word, so the error gives the line the word is on.
        words = dict(zip(specs, (name for name, _ in targets), strict=True))
        missing += [m._replace(name=words.get(m.name, targets[0][0])) for m in found.missing]
    return Resolution(
        tuple(chosen[name] for name in sorted(chosen)),
        pins,
        tuple(dict.fromkeys(notes)),
        tuple(dict.fromkeys(missing)),
    )


def read_install(invocation: Invocation) -> Install | None:
    """One zypper invocation as the manager interface reads it; None if it installs nothing."""
    command = parse_command(invocation)
    if command is None or not command.installs:
        return None
    older = "--oldpackage" in command.options
    packages = tuple(
        PackageArg(
            t.name,
            t.constraint,
            t.start,
            t.end,
            not t.constraint or "=" in t.constraint,
            oldpackage=older,
        )
        for t in command.targets
    )
    return Install("zypper", packages, command.notes, command.start, command.end)


def _custom_conf(config: ZypperConfig, written: str) -> tuple[bool, str | None] | str:
    """Whether a command written with `--config FILE` weighs Recommends, and the file that said
    so, or why pinner cannot tell. zypper reads FILE in place of zypper.conf and
    /root/.zypper.conf; where FILE is missing it says so and keeps its defaults, but a COPY or
    RUN before the command may add FILE, which the base image does not show."""
    shown = f"zypper --config {untrusted(written)[:80]}"
    path = posixpath.normpath(written)
    if not written.startswith("/") or not zyppconf.wanted(path):
        return (
            f"{shown}: pinner reads such a file from the base image in {zyppconf.CUSTOM_DIR}"
            " only, and its installRecommends decides what the command installs"
        )
    files = dict(config.confs)
    if path not in files:
        return (
            f"{shown}: the base image has no such file, and the one the build reads decides"
            " by its installRecommends what the command installs"
        )
    return zyppconf.recommends(files, path)


class Zypper:
    """zypper, as pinner.managers.Manager."""

    name = "zypper"
    programs = frozenset({"zypper"})
    image_paths = IMAGE_PATHS
    snapshots = True
    snapshot_on_request = False
    version_pins = True
    # An upper layer's zypp.conf, repositories or rpm database count as the OS layer's do.
    reads_every_layer = True
    unpins_after_changes = True
    # What a tree copied to / or /etc may hold (COPY rootfs/ /).
    copied_paths = (REPOS_DIR,)
    step_paths = ()
    removes = None
    requires = None
    step_unserved = None
    appended_repositories = None

    def __init__(self) -> None:
        # history/list's date per (history URL, snapshot): resolve() reads it, step() writes it.
        self._dates: dict[tuple[str, str], str] = {}
        self._primaries: dict[str, tuple[rd.RpmPackage, ...]] = {}
        # The words of commands written with --recommends (True) or --no-recommends (False);
        # resolve() weighs the others' recommends as the image's configuration says.
        self._recommends: dict[PackageArg, bool] = {}
        # The file each word's command names with --config (where the command says neither
        # --recommends nor --no-recommends): it decides whether recommends are weighed.
        self._configs: dict[PackageArg, str] = {}
        # The words of commands written with --force-resolution.
        self._forced: set[PackageArg] = set()
        # The word zypper refuses before the verb of each word's command (`--oldpackage in`).
        self._refused: dict[PackageArg, str] = {}
        # The command each word came from, numbered as installs() reads them: a stage's commands
        # are resolved one after the other, each on what the ones before it installed.
        self._commands: dict[PackageArg, int] = {}
        self._read = 0

    def platform(self, arch: str) -> str | None:
        return next((f"linux/{p}" for p, a in ARCHITECTURES.items() if a == arch), None)

    def installs(self, invocation: Invocation) -> Install | None:
        found = read_install(invocation)
        command = parse_command(invocation)
        asked = _asks_recommends(command.options) if command is not None else None
        if found is not None:
            if asked is not None:
                self._recommends.update(dict.fromkeys(found.packages, asked))
            elif command is not None and command.config is not None:
                self._configs.update(dict.fromkeys(found.packages, command.config))
            if command is not None and "--force-resolution" in command.options:
                self._forced.update(found.packages)
            if command is not None and command.refused is not None:
                self._refused.update(dict.fromkeys(found.packages, command.refused))
            for word in found.packages:
                self._commands.setdefault(word, self._read)
            self._read += 1
        return found

    def configure(self, files: Mapping[str, bytes], platform: str) -> ZypperConfig | str:
        return configure(files, platform.removeprefix("linux/"))

    async def _date(self, fetch: Fetch, snapshot: str, mirrors: Mapping[str, str]) -> str:
        base = history_base(mirrors)
        key = (base, snapshot)
        if key not in self._dates:
            data = await fetch(f"{base}/list", "openSUSE history/list", 1024 * 1024)
            try:
                date = history_date(history_dates(data), snapshot)
            except ValueError as error:
                raise MirrorError(str(error)) from None
            if date is None:
                raise MirrorError(f"{base}/list: no Tumbleweed snapshot before {snapshot[:8]}")
            self._dates[key] = date
        return self._dates[key]

    async def _primary(self, fetch: Fetch, base: str, alias: str) -> tuple[rd.RpmPackage, ...]:
        if base not in self._primaries:
            subject = f"[{alias}] {base}repodata/repomd.xml"
            repomd = await fetch(f"{base}repodata/repomd.xml", subject, rd.MAX_DOCUMENT)
            try:
                entry = rd.parse_repomd(repomd, subject)["primary"]
                limit = min(entry.size or MAX_PRIMARY_BYTES, MAX_PRIMARY_BYTES)
                data = await fetch(f"{base}{entry.href}", f"[{alias}] {entry.href}", limit)
                packages = rd.primary_packages(entry, data, f"[{alias}] {entry.href}")
            except rd.RepodataError as error:
                raise MirrorError(str(error)) from None
            self._primaries[base] = tuple(packages)
        return self._primaries[base]

    async def _bases(
        self, fetch: Fetch, config: ZypperConfig, snapshot: str, mirrors: Mapping[str, str]
    ) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
        """(alias, base URL) of each repository resolution reads, and notes on those it skips."""
        if config.distro == "opensuse-tumbleweed":
            date = await self._date(fetch, snapshot, mirrors)
            found = step(config, date, mirrors)
            if isinstance(found, str):
                raise MirrorError(found)
            base = history_base(mirrors)
            bases = []
            for repo in config.repos:
                if repo.alias in found.pinned:
                    match = _TUMBLEWEED.fullmatch(repo.baseurls[0])
                    assert match is not None
                    bases.append((repo.alias, f"{base}/{date}/tumbleweed/repo/{match[1]}/"))
            return bases, found.notes
        mirror = mirrors.get("opensuse")
        bases = []
        for repo in config.repos:
            url = next((u for u in repo.baseurls if u.startswith(("https://", "http://"))), None)
            if not repo.enabled or url is None:
                continue
            if mirror:
                url = mirror.rstrip("/") + "/" + url.split("/", 3)[3]
            bases.append((repo.alias, url if url.endswith("/") else f"{url}/"))
        return bases, ()

    async def resolve(
        self, source: managers.Source, requests: Sequence[PackageArg], mode: managers.Mode
    ) -> Resolved:
        fetch, image, mirrors = source
        snapshot, refresh = mode.snapshot, mode.refresh
        config = own(image, ZypperConfig)
        packages: list[rd.RpmPackage] = []
        bases, skipped = await self._bases(fetch, config, snapshot, mirrors)
        # libsolv weighs a repository's priority (a lower number wins) before versions.
        priorities = {repo.alias: repo.priority for repo in config.repos}
        for alias, base in bases:
            served = await self._primary(fetch, base, alias)
            priority = priorities.get(alias, 99)
            packages += (
                served if priority == 99 else [p._replace(priority=priority) for p in served]
            )
        pool = Pool(packages, config.installed or (), config.arch)
        commands: list[_Command] = []
        last: int | None = None
        unpinned: list[UnpinnedPackage] = []
        left_out: list[str] = []  # the files that said to leave recommends out
        for request in requests:
            refused = self._refused.get(request)
            if refused is not None:
                raise PackageError(
                    request.name,
                    f"zypper {untrusted(refused)[:80]}: zypper knows no such option before the"
                    " verb and refuses the command (Unknown option); a command's options go after"
                    " its verb",
                )
            exact = request.constraint is not None and request.constraint.startswith("=")
            version = (request.constraint or "=")[1:]
            number = self._commands.get(request)
            asked = self._recommends.get(request)
            weighs = (config.recommends, config.recommends_source)
            if asked is None and request in self._configs:
                found_conf = _custom_conf(config, self._configs[request])
                if isinstance(found_conf, str):
                    unpinned.append(UnpinnedPackage(request.name, f"not pinned: {found_conf}"))
                    continue
                weighs = found_conf
            if asked is None and not weighs[0]:
                left_out.append(str(weighs[1]))
            if not commands or number is None or number != last:
                weighed = weighs[0] if asked is None else asked
                commands.append((weighed, [], request.oldpackage))
            last = number
            spec = f"{request.name}-{version}" if exact and not refresh else None
            if request.constraint and not exact and not refresh:
                # `foo<2`: the newest build the range allows, not the newest of all.
                spec = _in_range(pool, request.name, request.constraint)
            commands[-1][1].append((request.name, spec))
        found = _resolve_commands(pool, commands) if commands else Resolution((), {}, (), ())
        if found.missing:
            missing = found.missing[0]
            forced = ""
            if "conflicts" in (missing.why or "") and any(
                r.name == missing.name for r in self._forced.intersection(requests)
            ):
                # libsolv's allowuninstall: zypper gets past a conflict with an installed
                # package by removing it, which of them pinner cannot tell for certain.
                forced = (
                    "; with --force-resolution zypper may remove installed packages to get past"
                    " this, which pinner does not follow"
                )
            raise PackageError(
                missing.name,
                f"{missing.text}: {missing.why or 'nothing in the repositories provides it'}"
                f" ({config.distro} {config.arch}){forced}",
            )
        locked_packages = tuple(
            locked(package, config.arch) for package in sorted(found.chosen, key=lambda p: p.name)
        )
        tumbleweed = config.distro == "opensuse-tumbleweed"
        weak = [f"recommended packages left out, as {source} says" for source in left_out]
        return Resolved(
            locked_packages,
            unpinned=tuple(unpinned),
            notes=(
                *skipped,
                *found.notes,
                *dict.fromkeys(weak),
                *([_NO_RPMDB] if config.installed is None else []),
                *rpmdb.install_times(config.installed),
            ),
            signature=SIGNATURE,
            rebuildable=tumbleweed,
        )

    async def unserved(
        self, source: managers.Source, packages: Sequence[LockedPackage]
    ) -> list[str]:
        return []  # a history snapshot does not change; Leap's moves are found by update

    def step(
        self, config: ImageConfig, snapshot: str, mirrors: Mapping[str, str]
    ) -> tuple[str, ...] | str | None:
        zypper = own(config, ZypperConfig)
        if zypper.distro != "opensuse-tumbleweed":
            return None  # Leap: pinned by versions
        date = self._dates.get((history_base(mirrors), snapshot))
        if date is None:
            return None  # asked before resolve() read history/list; asked again after it
        found = step(zypper, date, mirrors)
        return found if isinstance(found, str) else (found.line,)

    def config_changes(self, run_text: str, escape: str, env: managers.Env = ()) -> str | None:
        for command in zypper_commands(run_invocations(run_text, escape, env)):
            if command.verb in ("addrepo", "modifyrepo", "removerepo"):
                return f"runs zypper {command.verb}"
        if re.search(rf"(>|\b(tee|cp|mv|sed)\b.*){re.escape(REPOS_DIR)}", run_text):
            return f"changes {REPOS_DIR}"
        return None

    def takes_pins(self, invocation: Invocation, word: str) -> bool:
        # `zypper remove` reads `name=version` as a capability (zypper(8), install's package
        # selection), with or without -n / -C, and fails on one no installed package provides,
        # as the real zypper 1.14 does; rpm reads `name-version-release`, not zypper's word.
        if invocation.program != "zypper":
            return False
        command = parse_command(invocation)
        return (
            command is not None
            and command.verb == "remove"
            and not {"-t", "--type"} & command.options
        )

    pin_word = staticmethod(pin_word)

    def cleanup(
        self, run_text: str, invocations: Sequence[Invocation], system: managers.System
    ) -> str | None:
        braces = expands_braces(system.shell, True)
        return cleanup(run_text, invocations, mounts=system.mounts, braces=braces)

    checked = staticmethod(checked)


MANAGER: Manager = Zypper()
