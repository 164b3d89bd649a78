"""The version locks an image sets for dnf: which package names they may hold back.

dnf 4's versionlock plugin (dnf-plugins-core plugins/versionlock.py) reads the lock list its
versionlock.conf names; dnf5 reads /etc/dnf/versionlock.toml itself (libdnf5 VersionlockConfig).
Either hides every build of a locked name but the locked ones, and what obsoletes them. pinner
does not follow the rules: it reads which names they may lock, so the words those name (and
commands that would take a build of one) are left unpinned.
"""

from __future__ import annotations

import configparser
import tomllib
from collections.abc import Mapping
from typing import NamedTuple

from pinner.managers import globmatch
from pinner.managers.ini import IniParser

PLUGIN_CONF = "/etc/dnf/plugins/versionlock.conf"
DNF5_LOCKS = "/etc/dnf/versionlock.toml"
IMAGE_PATHS = ("/etc/dnf/plugins/*.conf", "/etc/dnf/plugins/*.list", DNF5_LOCKS)
_MAX_FILE = 1 << 20
_TRUE = frozenset(["1", "yes", "true", "on"])


class Versionlock(NamedTuple):
    """One program's lock list: where it is and the name globs its rules may lock."""

    path: str
    names: tuple[str, ...]  # ("*",) where pinner cannot read the list

    def locks(self, name: str) -> bool:
        """Whether a rule of the list may lock (or exclude) the package name."""
        return any(globmatch.fnmatchcase(name, glob) for glob in self.names)


def _text(files: Mapping[str, bytes], path: str) -> str | None:
    data = files.get(path)
    if data is None or len(data) > _MAX_FILE:
        return None
    return data.decode("utf-8", "replace")


def _rule_names(rule: str) -> list[str]:
    """The names a lock-list rule may stand for: dnf reads it as a NEVRA, NEVR, NEV, NA or a
    name (hawkey's forms), so the rule with its last dot's part, then one or two of its last
    dashes' parts, left off."""
    rule = rule.removeprefix("!")
    names = []
    for stem in (rule, rule.rpartition(".")[0]):
        names += [stem, stem.rsplit("-", 1)[0], stem.rsplit("-", 2)[0]]
    # An epoch is written after the version's dash (name-E:V-R), never in a name.
    return [name for name in dict.fromkeys(names) if name and ":" not in name]


def dnf4(
    files: Mapping[str, bytes], main: Mapping[str, str], notes: list[str]
) -> Versionlock | None:
    """The versionlock plugin's list where dnf 4 loads the plugin and it names one."""
    if (main.get("plugins") or "1").strip().lower() not in _TRUE:
        return None
    text = _text(files, PLUGIN_CONF)
    if text is None:
        return None
    parser = IniParser(interpolation=None, strict=False, default_section="\0")
    try:
        parser.read_string(text, source=PLUGIN_CONF)
    except configparser.Error:
        return _unread(PLUGIN_CONF, "is not a valid INI file", notes)
    section = parser["main"] if parser.has_section("main") else {}
    # dnf's plugin loader (dnf/plugin.py): a plugin whose conf sets enabled off is not loaded.
    if (section.get("enabled") or "1").strip().lower() not in _TRUE:
        return None
    path = (section.get("locklist") or "").strip()
    if not path:
        return None
    listed = _text(files, path)
    if listed is None:
        return _unread(path, "is not one pinner reads (or is missing or too large)", notes)
    rules = [line.strip() for line in listed.splitlines()]
    rules = [rule for rule in rules if rule and not rule.startswith("#")]
    return _found(path, [n for rule in rules for n in _rule_names(rule)], notes)


def dnf5(files: Mapping[str, bytes], notes: list[str]) -> Versionlock | None:
    """dnf5's lock list (version "1.0"; libdnf5 ignores any other), each package's name a glob."""
    text = _text(files, DNF5_LOCKS)
    if text is None:
        return None if DNF5_LOCKS not in files else _unread(DNF5_LOCKS, "is too large", notes)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return _unread(DNF5_LOCKS, "is not valid TOML", notes)
    if data.get("version") != "1.0":
        return None
    packages = data.get("packages", [])
    if not isinstance(packages, list):
        return _unread(DNF5_LOCKS, "has packages that are not a list", notes)
    names = [p.get("name") for p in packages if isinstance(p, dict)]
    if len(names) != len(packages) or not all(isinstance(n, str) for n in names):
        return _unread(DNF5_LOCKS, "has a package without a name", notes)
    return _found(DNF5_LOCKS, [n for n in names if isinstance(n, str)], notes)


def _found(path: str, names: list[str], notes: list[str]) -> Versionlock | None:
    if not names:
        return None
    notes.append(
        f"{path}: dnf's version locks are not followed; the words they may lock, and commands"
        " that would install a build of a locked name, are not pinned"
    )
    return Versionlock(path, tuple(dict.fromkeys(names)))


def _unread(path: str, why: str, notes: list[str]) -> Versionlock:
    notes.append(f"{path}: dnf's version lock list {why}; no word dnf resolves with it is pinned")
    return Versionlock(path, ("*",))


def reason(lock: Versionlock) -> str:
    """Why a word is left unpinned."""
    return f"not pinned: {lock.path} may lock its version (dnf's versionlock is not followed)"
