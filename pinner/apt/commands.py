"""Find apt usage in the shell of a Dockerfile RUN instruction, with offsets into its text.

Words and commands come from `shell.py` (BuildKit's layer and the shell's); this module reads
apt's options and package words. Nothing is evaluated, so a package list it cannot see becomes
a note rather than a guess.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from pinner.apt.shell import Invocation, Word, option_width, run_invocations, split_options, words
from pinner.dockerfile import Edit, apply_edits


class PackageArg(NamedTuple):
    """A package word of an apt command as apt reads it; start/end span the word as written."""

    name: str
    version: str | None
    start: int
    end: int
    arch: str | None = None
    release: str | None = None
    target_release: str | None = None  # the command's -t: apt's default release


class AptCommand(NamedTuple):
    """An apt-get, apt or aptitude command: verb, packages, what pinner cannot pin, and its span."""

    verb: str
    packages: tuple[PackageArg, ...]
    notes: tuple[str, ...]
    start: int
    end: int
    # It fetches the package lists first: `update`, or apt 3's `install --update`.
    updates: bool = False


# --------------------------------------------------------------------------- apt


_MANAGERS: Mapping[str, str] = {
    "apt-get": "apt",
    "apt": "apt",
    "aptitude": "apt",
    "apk": "apk",
    "dnf": "dnf",
    "dnf5": "dnf",
    "yum": "yum",
    "microdnf": "microdnf",
    "zypper": "zypper",
    "pacman": "pacman",
}
# The programs whose words can name packages: an ARG the other commands read (useradd -u "$UID")
# changes no package.
MANAGER_PROGRAMS = frozenset(_MANAGERS)
# Every manager's name holds one of these: a RUN with none of them runs no package manager, and
# lexing it can be skipped (most RUNs of a large tree).
_MANAGER_HINT = re.compile("apt|apk|dnf|yum|zypper|pacman")
# apt-get(8), apt(8) and aptitude(8) options that take the next word as their value.
_APT_VALUE_OPTIONS = words(
    "-o --option -t --target-release --default-release -c --config-file -a --host-architecture"
    " -P --build-profiles -F --display-format -w --width -S -O --sort"
)
INSTALL_VERBS = frozenset(["install", "reinstall"])
# Verbs whose package words name what apt fetches from the archive.
_FETCH_VERBS = INSTALL_VERBS | {"build-dep", "source", "download"}
# Verbs that fetch packages the command line does not name.
_UNNAMED_VERBS = words(
    "upgrade dist-upgrade full-upgrade safe-upgrade dselect-upgrade build-dep satisfy"
)
# Verbs that fail, or install less, without the package lists an `apt-get update` fetched.
READS_LISTS = _FETCH_VERBS | _UNNAMED_VERBS
_PACKAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*")
_DEBIAN_VERSION = re.compile(r"[A-Za-z0-9.+~:-]+")


class _Found(NamedTuple):
    """An apt command, with the word each of its packages was read from."""

    command: AptCommand
    words: tuple[Word, ...]


def _apt(invocation: Invocation) -> _Found | None:
    """Read an apt-get, apt or aptitude invocation; None when it names no verb."""
    options, operands = split_options(
        invocation.args, lambda text: option_width(text, _APT_VALUE_OPTIONS)
    )
    target_release = None
    for text, value in options:
        target_release = _target_release(text, value) or target_release
    if not operands:
        return None
    verb = operands.pop(0).text
    notes: list[str] = []
    if verb in _UNNAMED_VERBS:
        notes.append(
            f"{invocation.program} {verb} takes whatever the snapshot serves;"
            " versions are not recorded"
        )
    fetches = verb in _FETCH_VERBS
    if fetches and invocation.via_xargs:
        notes.append(
            f"xargs supplies packages to {invocation.program} {verb}; they are not recorded"
        )
    packages: list[PackageArg] = []
    words: list[Word] = []
    for word in operands if verb != "satisfy" else ():
        package, note = _package(word)
        if package is not None:
            packages.append(package._replace(target_release=target_release))
            words.append(word)
        if note is not None and fetches and not invocation.via_xargs and note not in notes:
            notes.append(note)
    updates = verb == "update" or any(text == "--update" for text, _ in options)
    command = AptCommand(
        verb, tuple(packages), tuple(notes), invocation.start, invocation.end, updates
    )
    return _Found(command, tuple(words))


@functools.cache
def _default_release() -> re.Pattern[str]:
    return re.compile(r"APT::Default-Release=(.+)", re.IGNORECASE)


def _target_release(option: str, value: str | None) -> str | None:
    """The release an apt option makes the default (-t, --target-release, -o APT::...)."""
    name, eq, inline = option.partition("=") if option.startswith("--") else (option, "", "")
    setting: str | None = inline if eq else value
    if not option.startswith("--"):
        # A cluster of short options: the first that takes a value takes the rest or the next word.
        for k, letter in enumerate(option[1:], start=1):
            if f"-{letter}" in _APT_VALUE_OPTIONS:
                name, setting = f"-{letter}", option[k + 1 :] or value
                break
    if name in ("-t", "--target-release", "--default-release"):
        return setting
    if name in ("-o", "--option") and setting is not None:
        match = _default_release().fullmatch(setting)
        return match.group(1) if match is not None else None
    return None


def _package(word: Word) -> tuple[PackageArg | None, str | None]:
    """What apt makes of one operand: a package, and a note on what pinner cannot record."""
    text = word.text
    if text and sum(e - b for b, e in word.expansions) == len(text):
        kind = "command substitution" if text.startswith(("$(", "`")) else "variable"
        return None, f"package list uses a {kind} ({text}); its packages are not recorded"
    if "://" in text:
        return None, f"installs a .deb from a URL ({text}); not pinned by the snapshot"
    if text.endswith(".deb"):
        return None, f"installs a local .deb file ({text}); not pinned by the snapshot"
    if text.startswith(("/", "./", "../", "~/")) or text in (".", ".."):
        return None, f"uses a local path ({text}); not pinned by the snapshot"
    spec, eq, version = text.partition("=")
    name_arch, slash, release = spec.partition("/")
    name, colon, arch = name_arch.partition(":")
    if not name:
        return None, None
    if word.expands(0, len(name)):
        return None, f"package name uses a variable ({text}); it is not recorded"
    if not _PACKAGE_NAME.fullmatch(name):
        return None, f"package name is a pattern ({text}); what it matches is not recorded"
    note = None
    if eq and word.expands(len(spec), len(text)):
        note = f"version of {name} uses a variable ({version}); it is left as written"
    package = PackageArg(
        name,
        version if eq else None,
        word.start,
        word.end,
        arch if colon else None,
        release if slash else None,
    )
    return package, note


def _apt_found(
    run_text: str, escape: str = "\\", env: tuple[tuple[str, str], ...] = ()
) -> Iterator[_Found]:
    for invocation in run_invocations(run_text, escape, env):
        if _MANAGERS.get(invocation.program) == "apt":
            found = _apt(invocation)
            if found is not None:
                yield found


# --------------------------------------------------------------------------- API


def may_run_a_manager(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] may run a package manager: False for most RUNs, told without
    slicing or lexing them."""
    return _MANAGER_HINT.search(text, start, end) is not None


def package_manager(run_text: str, *, escape: str = "\\") -> str | None:
    """The package manager the first package-manager command of a RUN uses, or None."""
    if not _MANAGER_HINT.search(run_text):
        return None
    for invocation in run_invocations(run_text, escape):
        if invocation.program in _MANAGERS:
            return _MANAGERS[invocation.program]
    return None


def added_architectures(run_text: str, *, escape: str = "\\") -> tuple[str, ...]:
    """The architectures a RUN adds with `dpkg --add-architecture ARCH`, in order."""
    if "--add-architecture" not in run_text:
        return ()
    found: list[str] = []
    for invocation in run_invocations(run_text, escape):
        if invocation.program == "dpkg":
            texts = [w.text for w in invocation.args]
            found += [a for o, a in itertools.pairwise(texts) if o == "--add-architecture"]
            found += [t.partition("=")[2] for t in texts if t.startswith("--add-architecture=")]
    return tuple(found)


def apt_commands(
    run_text: str, *, escape: str = "\\", env: tuple[tuple[str, str], ...] = ()
) -> tuple[AptCommand, ...]:
    """Every apt-get, apt and aptitude command a RUN's text runs, in order (env: the variables
    it starts with, as run_invocations takes them)."""
    return tuple(found.command for found in _apt_found(run_text, escape, env))


def installs(run_text: str, *, escape: str = "\\", env: tuple[tuple[str, str], ...] = ()) -> bool:
    """Whether a RUN installs or upgrades packages, whether or not pinner can read which (`$PKGS`,
    xargs, a local .deb, `upgrade`): the lists and caches it leaves differ all the same."""
    return any(c.verb in READS_LISTS for c in apt_commands(run_text, escape=escape, env=env))


def install_packages(
    run_text: str, *, escape: str = "\\", env: tuple[tuple[str, str], ...] = ()
) -> tuple[PackageArg, ...]:
    """The packages a RUN installs, in order, each name once (its first mention)."""
    seen: set[str] = set()
    packages: list[PackageArg] = []
    for command in apt_commands(run_text, escape=escape, env=env):
        if command.verb in INSTALL_VERBS:
            for package in command.packages:
                if package.name not in seen:
                    seen.add(package.name)
                    packages.append(package)
    return tuple(packages)


def pin_versions(run_text: str, versions: Mapping[str, str], *, escape: str = "\\") -> str:
    """run_text with each installed package in versions written `name[:arch]=version`.

    versions is looked up by `name:arch` first, then by name. Words naming a release
    (`name/release`) or a version through a variable are left as written.
    """
    edits: list[Edit] = []
    for found in _apt_found(run_text, escape):
        if found.command.verb not in INSTALL_VERBS:
            continue
        for package, word in zip(found.command.packages, found.words, strict=True):
            version = versions.get(f"{package.name}:{package.arch}") if package.arch else None
            version = version if version is not None else versions.get(package.name)
            if version is None or version == package.version or package.release is not None:
                continue
            if word.origin is not None:
                continue  # a snapshot pins what a variable's words install; its value is left

            if package.version is not None and word.expands(word.text.find("="), len(word.text)):
                continue
            if not _DEBIAN_VERSION.fullmatch(version):
                raise ValueError(f"{package.name}: {version!r} is not a Debian version")
            edits.append(_pin_edit(run_text, word, version))
    return apply_edits(run_text, edits)


def _pin_edit(run_text: str, word: Word, version: str) -> Edit:
    """The edit that makes word read name[:arch]=version, touching only what follows the name."""
    cut = word.text.find("=")
    if cut < 0:
        after_name = word.chars[-1].end  # inside any closing quote: "curl" -> "curl=1.0"
        return Edit(after_name, after_name, f"={version}")
    start, end = word.chars[cut].start, word.chars[-1].end
    if run_text[start:end] == word.text[cut:]:
        return Edit(start, end, f"={version}")
    # The old version is quoted or escaped in pieces (curl="7.88"): write the word anew.
    return Edit(word.start, word.end, f"{word.text[:cut]}={version}")
