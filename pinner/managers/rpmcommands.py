"""dnf, yum and microdnf commands in a Dockerfile RUN: verbs, options and package words.

Words come from pinner's RUN lexer (`pinner.apt.shell`) with their offsets, so pins are written
in place. Nothing is evaluated: a package list pinner cannot see becomes a note, not a guess.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import NamedTuple

from pinner.apt.shell import (
    Invocation,
    Word,
    is_option,
    option_width,
    run_invocations,
    split_options,
    words,
)
from pinner.managers.leftovers import LDCONFIG, Leftover, left, removals, rm

PROGRAMS = frozenset(["dnf", "dnf5", "yum", "microdnf"])
# dnf(8), yum(8) and microdnf --help options whose value may be the next word.
_VALUE_OPTIONS = words(
    "-c --config --installroot --releasever --setopt --enablerepo --disablerepo --repo --repoid"
    " --repofrompath -x --exclude --excludepkgs --disableexcludes --disableexcludepkgs --color"
    " --destdir --downloaddir --forcearch -d --debuglevel -e --errorlevel --rpmverbosity"
    " -R --randomwait --advisory --advisories --bz --bzs --cve --cves --sec-severity"
    " --secseverity --comment --enableplugin --disableplugin --set-enabled --set-disabled"
    " --add-repo --from-repo"
)
_INSTALL_VERBS = frozenset(["install", "in", "reinstall", "localinstall"])
_GROUP_VERBS = frozenset(["groupinstall", "groupupdate"])
# Module commands that change which streams are enabled, so what later commands see.
_MODULE_VERBS = frozenset(
    ["module enable", "module disable", "module reset", "module switch-to", "module install"]
)
# Verbs that fetch packages the command line does not name, or newer builds of installed ones.
_UNNAMED_VERBS = words("upgrade update up upgrade-minimal update-minimal distro-sync distrosync")
_FALSE = frozenset(["0", "false", "no", "off"])
_TRUE = frozenset(["1", "true", "yes", "on"])
# The boolean --setopt keys pinner reads; dnf refuses other values than those above.
_BOOLEANS = frozenset(["install_weak_deps", "exclude_from_weak_autodetect", "obsoletes", "best"])
_GLOB = re.compile(r"[*?\[]")
_SPEC = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_+.:~^-]*")
# libdnf's OptionNumber<int32_t> (priority, cost): a decimal integer, a sign allowed.
_INTEGER = re.compile(r"[+-]?[0-9]{1,9}")
# -C, --cacheonly, and -C in a cluster of flags (-yC).
_CACHE_ONLY = re.compile(r"--cacheonly|-[a-zA-BD-Z]*C[a-zA-BD-Z]*")
_PROVIDE = re.compile(r"[A-Za-z0-9_/+.-]+\([A-Za-z0-9_/+.:-]*\)(\([A-Za-z0-9_-]*\))?")


class RpmArg(NamedTuple):
    """A package word as dnf reads it (a name, NEVRA form, provide or file path) and its span."""

    spec: str
    start: int
    end: int
    plain: bool = True  # written without quotes or escapes: a pin can replace it as it stands


class RpmOptions(NamedTuple):
    """The options of one command that change what it installs from where."""

    releasever: str | None = None
    installroot: str | None = None
    enable: tuple[str, ...] = ()  # --enablerepo, --repo (globs allowed)
    disable: tuple[str, ...] = ()  # --disablerepo; --repo disables every other
    weak_deps: bool | None = None  # --setopt=install_weak_deps=...; None when not set
    exclude_weak: bool | None = None  # --setopt=exclude_from_weak_autodetect=...
    obsoletes: bool | None = None  # --obsoletes, --setopt=obsoletes=...
    # --setopt=REPO.priority=N / REPO.cost=N in order: (repository id glob, option, value).
    repo_settings: tuple[tuple[str, str, int], ...] = ()
    # The first --setopt whose value dnf refuses, as written, and why ("...: not a number").
    invalid: str = ""
    # --best, --nobest; --setopt=best=... wins over them in any order (dnf 4.14, run).
    best: bool | None = None
    # -C, --cacheonly or --setopt=cacheonly=...: the command reads only the cache.
    cacheonly: bool = False
    # -x/--exclude/--excludepkgs (and --setopt=excludepkgs=): package specs added to dnf.conf's.
    excludes: tuple[str, ...] = ()
    # --disableexcludes/--disableexcludepkgs: "all", "main" or repository ids.
    disable_excludes: tuple[str, ...] = ()


class RpmCommand(NamedTuple):
    """A dnf, yum or microdnf command: program, verb, packages, options, notes and span."""

    program: str
    verb: str
    packages: tuple[RpmArg, ...]
    options: RpmOptions
    notes: tuple[str, ...]
    start: int
    end: int
    # What a module command pinner follows changes for the commands after it (module_state).
    state: tuple[str, ...] = ()


def _options(texts: list[tuple[str, str | None]]) -> RpmOptions:
    """The options that matter for resolution, from (option, value) pairs in order."""
    found = RpmOptions()
    best: bool | None = None
    forced = False  # -C: dnf 4 reads only the cache whatever --setopt=cacheonly says
    for option, value in texts:
        if value is None:
            forced = forced or bool(_CACHE_ONLY.fullmatch(option))
            if option == "--obsoletes":
                found = found._replace(obsoletes=True)
            elif option in ("--best", "--nobest") and best is None:
                found = found._replace(best=option == "--best")
            continue
        if option == "--releasever":
            found = found._replace(releasever=value)
        elif option == "--installroot":
            found = found._replace(installroot=value)
        elif option in ("--enablerepo", "--repo", "--repoid"):
            if option != "--enablerepo":
                found = found._replace(disable=(*found.disable, "*"))
            found = found._replace(enable=(*found.enable, *value.split(",")))
        elif option == "--disablerepo":
            found = found._replace(disable=(*found.disable, *value.split(",")))
        elif option in ("-x", "--exclude", "--excludepkgs"):
            found = found._replace(excludes=(*found.excludes, *split_list(value)))
        elif option in ("--disableexcludes", "--disableexcludepkgs"):
            found = found._replace(disable_excludes=(*found.disable_excludes, *split_list(value)))
        elif option == "--setopt":
            key, _, setting = value.partition("=")
            key, flag = key.strip(), setting.strip().lower()
            if key in _BOOLEANS and flag not in _FALSE | _TRUE:
                # dnf: "Error parsing --setopt with key 'best' ...: invalid boolean value".
                found = found._replace(invalid=found.invalid or f"{option}={value}: not a boolean")
            if key == "install_weak_deps":
                found = found._replace(weak_deps=flag not in _FALSE)
            elif key == "exclude_from_weak_autodetect":
                found = found._replace(exclude_weak=flag not in _FALSE)
            elif key == "obsoletes":
                found = found._replace(obsoletes=flag not in _FALSE)
            elif key == "best":
                best = flag not in _FALSE
                found = found._replace(best=best)
            elif key == "cacheonly":
                found = found._replace(cacheonly=cache_only_value(setting))
            elif key in ("exclude", "excludepkgs"):
                found = found._replace(excludes=(*found.excludes, *split_list(setting)))
            elif key.rpartition(".")[2] in ("priority", "cost") and "." in key:
                glob, _, name = key.rpartition(".")
                if not _INTEGER.fullmatch(setting.strip()):
                    why = f"{option}={value}: not a number"
                    found = found._replace(invalid=found.invalid or why)
                    continue
                entry = (glob, name, int(setting))
                found = found._replace(repo_settings=(*found.repo_settings, entry))
    return found._replace(cacheonly=forced or found.cacheonly)


def split_list(value: str) -> list[str]:
    """The items of a dnf list option's value (libdnf's OptionStringList: commas or spaces)."""
    return [item for item in re.split(r"[,\s]+", value) if item]


def cache_only_value(value: str) -> bool:
    """Whether a cacheonly setting makes dnf read only the cache: dnf 4's boolean (libdnf's
    OptionBool, any case) true, or dnf5's `all` or `metadata` (libdnf5's OptionEnum, exact);
    false, `none` and what neither program accepts do not."""
    value = value.strip()
    return value.lower() in _TRUE or value in ("all", "metadata")


def _width(text: str) -> int:
    """How many words a dnf option spans: --opt=value one, --opt value two."""
    return 1 if "=" in text else option_width(text, _VALUE_OPTIONS)


def read_command(invocation: Invocation) -> RpmCommand | None:
    """One dnf, yum or microdnf invocation as pinner reads it; None when it names no verb."""
    written, operands = split_options(invocation.args, _width)
    # --opt=value and --opt value read alike.
    options = [
        (t.partition("=")[0], t.partition("=")[2]) if "=" in t else (t, v) for t, v in written
    ]
    if not operands:
        return None
    verb = operands.pop(0).text
    if verb in ("group", "groups", "module") and operands:
        verb = f"{verb} {operands.pop(0).text}"
    program = invocation.program
    notes: list[str] = []
    parsed = _options(options)
    if verb in _UNNAMED_VERBS:
        notes.append(f"{program} {verb} takes whatever the repositories serve; not recorded")
    elif verb in ("swap", "downgrade"):
        # swap removes one package and installs another, downgrade installs older builds.
        notes.append(f"{program} {verb} installs from the repositories; not recorded")
    elif verb in _GROUP_VERBS or verb in ("group install", "groups install", "module install"):
        notes.append(f"{program} {verb} installs what the group or module lists; not recorded")
    elif verb in _MODULE_VERBS:
        # Into another root, or streams xargs names: not what the image's later commands read.
        followed = not invocation.via_xargs and parsed.installroot is None
        state = module_state(verb, operands) if followed else ()
        if state:
            return RpmCommand(program, verb, (), parsed, (), *_span(invocation), state)
        notes.append(
            f"{program} {verb} {' '.join(w.text for w in operands)} changes which module streams"
            f" {program} reads; the words of the commands after it are not pinned"
        )
    elif verb == "config-manager":
        added = [value for option, value in options if option == "--add-repo" and value]
        notes += [
            f"{program} config-manager adds a repository ({url}); not followed" for url in added
        ]
    if verb not in _INSTALL_VERBS:
        return RpmCommand(program, verb, (), parsed, tuple(notes), *_span(invocation))
    if invocation.via_xargs:
        notes.append(f"xargs supplies packages to {program} {verb}; they are not recorded")
        return RpmCommand(program, verb, (), parsed, tuple(notes), *_span(invocation))
    if parsed.installroot is not None:
        notes.append(
            f"{program} --installroot={parsed.installroot} installs into another root;"
            " its packages are not recorded"
        )
        return RpmCommand(program, verb, (), parsed, tuple(notes), *_span(invocation))
    packages: list[RpmArg] = []
    for word in operands:
        note = _note(word)
        if note is not None:
            if note not in notes:
                notes.append(note)
            continue
        plain = word.end - word.start == len(word.text)
        packages.append(RpmArg(word.text, word.start, word.end, plain))
    return RpmCommand(program, verb, tuple(packages), parsed, tuple(notes), *_span(invocation))


# The module commands whose change pinner follows: each stream dnf enables, each module it
# disables or resets, written `NAME[:STREAM][/PROFILE]` (a profile is ignored by enable; a
# stream by disable and reset).
_FOLLOWED = {"module enable": "enable", "module disable": "disable", "module reset": "reset"}
_MODULE_SPEC = re.compile(r"([A-Za-z0-9_+.-]+)(?::([A-Za-z0-9_+.-]+))?(?:/[A-Za-z0-9_+.-]*)?")


def module_state(verb: str, operands: Sequence[Word]) -> tuple[str, ...]:
    """The state items of a module command pinner follows (`enable nodejs:20`, `disable
    nodejs`); () where it does not: another verb, a word it cannot read (a variable, a glob,
    name:stream:version), or none."""
    action = _FOLLOWED.get(verb)
    specs = [_MODULE_SPEC.fullmatch(word.text) for word in operands if not word.expansions]
    if action is None or not operands or len(specs) != len(operands) or None in specs:
        return ()
    items = []
    for match in specs:
        assert match is not None
        name, stream = match.group(1), match.group(2)
        items.append(
            f"{action} {name}:{stream}" if action == "enable" and stream else f"{action} {name}"
        )
    return tuple(items)


# rpm(8) query and verify options that make the words something other than installed packages
# (files, package files, groups, capabilities) or ask for every package.
_NOT_PACKAGES = words(
    "-a --all -f --file -p --package -g --group --whatprovides --whatrequires --whatrecommends"
    " --whatsuggests --whatsupplements --whatenhances --whatobsoletes --whatconflicts --triggeredby"
)


# dnf(8) and yum(8) removals read their words as package specs, `name-[epoch:]version-release`
# among them (checked with the real dnf 4 on an installed root). microdnf is left out: not checked.
_REMOVE_VERBS = words("remove erase rm autoremove")


def removes_packages(invocation: Invocation) -> bool:
    """Whether an invocation is a dnf or yum removal of the packages it names."""
    if invocation.program not in PROGRAMS - {"microdnf"}:
        return False
    command = read_command(invocation)
    return command is not None and command.verb in _REMOVE_VERBS


def erases(invocation: Invocation) -> bool:
    """Whether an invocation is `rpm -e` (`--erase`), which reads `name-version-release` as
    `rpm -q` does; no other rpm option changes what its words are."""
    if invocation.program != "rpm":
        return False
    options = [word.text for word in invocation.args if is_option(word.text)]
    modes = [o for o in options if o == "--erase" or re.fullmatch(r"-[a-zA-Z]+", o)]
    return bool(modes) and all(o == "--erase" or re.fullmatch(r"-[evh]*e[evh]*", o) for o in modes)


def queries(invocation: Invocation) -> bool:
    """Whether an invocation is `rpm -q` or `rpm -V` of installed packages by name, which read
    `name-version-release` as dnf does."""
    if invocation.program != "rpm":
        return False
    options = [word.text for word in invocation.args if is_option(word.text)]
    mode = options[0] if options else ""
    if mode not in ("--query", "--verify") and not re.fullmatch(r"-[qV][ilcdsR]*", mode):
        return False
    return not any(text.partition("=")[0] in _NOT_PACKAGES for text in options)


def _span(invocation: Invocation) -> tuple[int, int]:
    return invocation.start, invocation.end


def _note(word: Word) -> str | None:
    """Why pinner cannot record what one package word installs, or None when it can."""
    text = word.text
    if word.expansions:
        return f"package word uses a variable ({text}); it is not recorded"
    if "://" in text:
        return f"installs an RPM from a URL ({text}); not pinned by the repositories"
    if text.endswith(".rpm"):
        return f"installs a local RPM file ({text}); not pinned by the repositories"
    if text.startswith("@"):
        return f"installs a group or module ({text}); its packages are not recorded"
    if text.startswith("/"):
        return None if not _GLOB.search(text) else f"file pattern ({text}) is not recorded"
    if _GLOB.search(text):
        return f"package name is a pattern ({text}); what it matches is not recorded"
    if _SPEC.fullmatch(text) or _PROVIDE.fullmatch(text):
        return None
    return f"package word {text!r} is not a package name; it is not recorded"


# Where each dnf keeps its cache: dnf5 in its own folder alone, so a mount or rm of the other's
# folder (a Dockerfile kept across Fedora 41's move to dnf5) leaves the cache in the image.
_CACHE_PATHS = ("/var/cache/dnf", "/var/cache/yum")
_CACHE_PATHS5 = ("/var/cache/libdnf5",)
# What an install leaves that differs from build to build: the transaction history and the logs
# (each with its times), and ldconfig's cache. dnf 4 (and yum on EL 8 and later) writes these, as
# a real `dnf --installroot` install shows (tests/managers/test_rpm_leftovers.py).
HISTORY = "/var/lib/dnf/history.*"
_DNF4 = (
    Leftover(HISTORY, tuple(f"/var/lib/dnf/history.sqlite{end}" for end in ("", "-shm", "-wal"))),
    Leftover(
        "/var/log/dnf*", ("/var/log/dnf.log", "/var/log/dnf.librepo.log", "/var/log/dnf.rpm.log")
    ),
    Leftover("/var/log/hawkey.log", ("/var/log/hawkey.log",)),
    LDCONFIG,
)
# microdnf before dnf5 (RHEL and UBI): libdnf's DnfContext keeps the history (Swdb's defaultPath)
# and logs through GLib only, to no file.
_MICRODNF = (_DNF4[0], LDCONFIG)
# dnf5: its one log is dnf5.log in the logdir, rotated to dnf5.log.1 and on.
HISTORY5 = "/usr/lib/sysimage/libdnf5/transaction_history.*"
_DNF5 = (
    Leftover(HISTORY5, tuple(f"{HISTORY5[:-2]}.sqlite{end}" for end in ("", "-shm", "-wal"))),
    Leftover("/var/log/dnf*", ("/var/log/dnf5.log",)),
    LDCONFIG,
)
# yum 3 (EL 7, Amazon Linux 2): its log of each transaction (timestamped lines) and its history,
# a database named by the day with a folder of that day beside it (yum/history.py), as these
# example files.
_YUM3 = (
    Leftover(
        "/var/lib/yum/history",
        (
            "/var/lib/yum/history/history-2026-12-02.sqlite",
            "/var/lib/yum/history/2026-12-02/1/config-main",
        ),
    ),
    Leftover("/var/log/yum.log", ("/var/log/yum.log",)),
    LDCONFIG,
)
# The programs that are dnf5 wherever they run; Rpm.cleanup adds those the image makes dnf5.
DNF5 = frozenset(["dnf5"])


def cleanup_for(
    run_text: str,
    *,
    escape: str = "\\",
    mounts: Sequence[str] = (),
    dnf5: Collection[str] = DNF5,
    yum3: bool = False,
    invocations: Sequence[Invocation] | None = None,
    braces: bool = True,
) -> str | None:
    """What a RUN that installs packages must append to leave neither the package cache nor the
    history, logs and ldconfig cache (which differ from build to build) in the image, else None.

    dnf5: the programs that are dnf5 in the image (dnf and yum from Fedora 41, microdnf from 38).
    yum3: whether the image's yum is yum 3 (EL 7 and older, Amazon Linux 2), not dnf.
    braces: the RUN's shell expands `{a,b}` (the /bin/sh of Fedora and the RHEL family, bash,
    does).
    """
    cleaned = False
    # The RUN's invocations as the engine read them (with the stage's ENV and ARG), if given.
    invocations = run_invocations(run_text, escape) if invocations is None else invocations
    program = next((i.program for i in invocations if _installs(i)), None)
    if program is None:
        return None
    caches = _CACHE_PATHS5 if program in dnf5 else _CACHE_PATHS
    removed = removals(invocations, run_text, braces)
    last = 0  # every dnf command writes its log: only an rm after the last one removes it
    for index, invocation in enumerate(invocations):
        texts = [word.text for word in invocation.args]
        if invocation.program in PROGRAMS:
            last = index
            # Any other command may fetch metadata again: a clean before it leaves that behind.
            cleaned = "clean" in texts and "all" in texts[texts.index("clean") :]
        elif invocation.program == "rm":
            cleaned = cleaned or any(_removes_cache(path, caches) for path in removed[index])
    cleaned = cleaned or any(_removes_cache(mount, caches) for mount in mounts)
    leftovers: tuple[Leftover, ...] = _DNF4
    if program in dnf5:
        leftovers = _DNF5
    elif program == "microdnf":
        leftovers = _MICRODNF
    elif program == "yum" and yum3:
        leftovers = _YUM3
    # An appended clean logs again (dnf.log): then only mounts keep the logs out.
    after = [path for each in removed[last:] for path in each] if cleaned else []
    parts = ([] if cleaned else [f"{program} clean all"]) + rm(left(leftovers, [*after, *mounts]))
    return " && ".join(parts) or None


# Verbs that install packages, recorded or not (upgrades, swaps and downgrades take what the
# repositories serve): each fills dnf's cache and writes its history.
_FILLING_VERBS = (
    _INSTALL_VERBS
    | _GROUP_VERBS
    | _UNNAMED_VERBS
    | {"group install", "groups install", "module install", "swap", "downgrade"}
)


def _installs(invocation: Invocation) -> bool:
    """Whether invocation is a dnf, yum or microdnf command that installs packages into the
    image: also those pinner does not record (a local or remote RPM file, a group), which fill
    the cache all the same. An install into another root and a metadata refresh
    (makecache, check-update, whose cache a later `-C` command may read) are not."""
    if invocation.program not in PROGRAMS:
        return False
    command = read_command(invocation)
    return (
        command is not None
        and command.verb in _FILLING_VERBS
        and command.options.installroot is None
    )


# Where any dnf keeps its cache: a RUN whose later RUNs read it keeps all of them.
CACHES = (*_CACHE_PATHS, *_CACHE_PATHS5)


class CacheUse(NamedTuple):
    """What a RUN's dnf, yum and microdnf commands do with the cache an earlier RUN left."""

    # One reads only the cache: by -C/--cacheonly/--setopt=cacheonly=..., or after the RUN
    # wrote cacheonly into dnf's configuration.
    reads: bool
    runs: bool  # one runs at all: it reads only the cache where the configuration says so
    configures: bool  # it writes cacheonly into dnf's configuration, for the commands after it


def cache_use(run_text: str, escape: str = "\\") -> CacheUse:
    """How a RUN uses dnf's cache: a `dnf clean all` appended to an earlier RUN fails a RUN that
    reads only the cache, by an option or by a configuration a RUN wrote."""
    if not any(program in run_text for program in ("dnf", "yum")):
        return CacheUse(False, False, False)
    commands = [c for c in _commands(run_text, escape) if c.verb != "config-manager"]
    written = _cache_only_written(run_text, escape)
    return CacheUse(
        any(c.options.cacheonly or (written is not None and c.start > written) for c in commands),
        bool(commands),
        written is not None,
    )


# A cacheonly setting as written in dnf.conf, in a --setopt, or to config-manager setopt.
_CACHE_ONLY_SETTING = re.compile(r"\bcacheonly[ \t]*=[ \t]*['\"]?([A-Za-z0-9]*)")


def _cache_only_written(run_text: str, escape: str) -> int | None:
    """Where a RUN writes a cacheonly setting that reads only the cache into dnf's configuration
    (`echo cacheonly=True >> /etc/dnf/dnf.conf`, config-manager setopt), or None."""
    found = [m for m in _CACHE_ONLY_SETTING.finditer(run_text) if cache_only_value(m.group(1))]
    if not found:
        return None
    why = repositories_change(run_text, escape)
    return found[0].start() if why is not None and why.startswith(("changes ", "runs ")) else None


def _commands(run_text: str, escape: str) -> list[RpmCommand]:
    """The dnf, yum and microdnf commands of a RUN that name a verb."""
    found = (read_command(i) for i in run_invocations(run_text, escape) if i.program in PROGRAMS)
    return [command for command in found if command is not None]


def _removes_cache(path: str, caches: tuple[str, ...]) -> bool:
    """Whether `rm -rf path` removes the package cache in caches: the cache, its contents or
    /var/cache."""
    path = path.rstrip("/*")
    return path.startswith(caches) or path == "/var/cache"


# Where dnf, yum and microdnf read repositories and their own configuration from.
CONFIG_PATHS = (
    "/etc/yum.repos.d",
    "/etc/distro.repos.d",
    # Read by dnf 4, libdnf's microdnf and yum 3; by dnf5.
    "/etc/yum/repos.d",
    "/usr/share/dnf5/repos.d",
    "/etc/dnf/dnf.conf",
    "/etc/dnf/vars",
    "/etc/yum.conf",
    "/etc/yum/vars",
    # dnf5's: its [main] drop-ins and its repository overrides.
    "/etc/dnf/libdnf5.conf.d",
    "/usr/share/dnf5/libdnf.conf.d",
    "/etc/dnf/repos.override.d",
    "/usr/share/dnf5/repos.override.d",
    # The version locks: dnf 4's plugin configuration and lock list, dnf5's lock file.
    "/etc/dnf/plugins",
    "/etc/dnf/versionlock.toml",
)
_CONFIG_WRITE = re.compile(
    r">>?[ \t]*['\"]?(?:" + "|".join(re.escape(path) for path in CONFIG_PATHS) + r")\b"
)
# Programs that may write a file named on their command line (or, cd, make the next ones do).
_WRITERS = frozenset(
    ["tee", "sed", "cp", "mv", "install", "ln", "rm", "curl", "wget", "cd", "echo", "printf"]
)
# Packages that bring repositories: epel-release, epel-next-release, centos-release-scl,
# rpmfusion-free-release, remi-release, centos-stream-repos, fedora-repos-rawhide.
_REPO_PACKAGE = re.compile(r"(?:[A-Za-z0-9_+.-]*[-_])?(?:release|repos)(?:[-_.][A-Za-z0-9_+.-]*)?")
# config-manager forms that add, enable or set repositories or options (dnf 4 and dnf5).
_CONFIG_MANAGER = frozenset(
    ["--add-repo", "--set-enabled", "--enable", "--setopt", "--save", "addrepo", "setopt"]
)


_QUOTES = " \t'\""


def config_path(path: str) -> bool:
    """Whether path is (or holds) a file dnf reads its repositories or configuration from."""
    path = path.strip("'\"").rstrip("/")
    return any(path == p or path.startswith(f"{p}/") for p in CONFIG_PATHS)


def repositories_change(
    run_text: str, escape: str = "\\", env: tuple[tuple[str, str], ...] = ()
) -> str | None:
    """How a RUN changes the repositories later dnf, yum and microdnf commands read (adds or
    enables one, installs a package that ships one, writes their configuration); None if not.
    env: the ENV and ARG values the RUN starts with (`ENV PKGS=epel-release`)."""
    for invocation in run_invocations(run_text, escape, env):
        program, texts = invocation.program, [word.text for word in invocation.args]
        if program in ("yum-config-manager", "crb", "subscription-manager"):
            return f"runs {program} {' '.join(texts[:1])}".rstrip()
        if program in PROGRAMS:
            command = read_command(invocation)
            if command is None:
                continue
            if command.verb == "config-manager" and any(
                text.partition("=")[0] in _CONFIG_MANAGER for text in texts
            ):
                return f"runs {program} config-manager"
            if command.verb == "versionlock":
                # add, exclude, delete, clear (and the plugin's bare `dnf versionlock NAME`,
                # an add) change the lock list; list, or no subcommand, reads it.
                sub = [w.text for w in split_options(invocation.args, _width)[1][1:2]]
                if sub and sub[0] != "list":
                    return f"runs {program} versionlock {sub[0]}"
            if command.verb == "copr" or command.verb.startswith("copr "):
                return f"runs {program} copr"
            if command.verb in _MODULE_VERBS and not command.state:
                streams = " ".join(w.text for w in split_options(invocation.args, _width)[1][2:])
                return f"runs {program} {command.verb} {streams}".rstrip()
            if command.verb in _INSTALL_VERBS:
                brought = _repository_package(texts)
                if brought is not None:
                    return f"installs {brought}, which adds repositories"
        elif program == "rpm" and any(t.startswith(("-i", "-U", "-F", "--install")) for t in texts):
            brought = _repository_package(texts)
            if brought is not None:
                return f"installs {brought}, which adds repositories"
        elif program in _WRITERS and any(config_path(text) for text in texts):
            return f"changes {next(t for t in texts if config_path(t))}"
    found = _CONFIG_WRITE.search(run_text)
    return f"changes {found.group(0).lstrip('>').strip(_QUOTES)}" if found else None


def _repository_package(texts: list[str]) -> str | None:
    """The first word naming a package (or .rpm file, or URL) that ships repositories."""
    for text in texts:
        if text.startswith("-"):
            continue
        name = text.rsplit("/", 1)[-1]
        if _REPO_PACKAGE.fullmatch(name) and ("release" in name or "repos" in name):
            return name
    return None
