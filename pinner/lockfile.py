"""The lockfile: deterministic TOML beside the Dockerfile, rendered from and parsed into records."""

from __future__ import annotations

import functools
import posixpath
import re
import reprlib
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from pinner import reference
from pinner.apt.sources import is_timestamp
from pinner.errors import TOO_LONG_INTEGER, InvalidReference, LockfileError, Problem
from pinner.shellword import SHELL_PROGRAM, env_values

VERSION = 1
SUFFIX = ".lock"


class LockedImage(NamedTuple):
    """One distinct reference: as the build sees it, canonical name, tag, digest, platforms."""

    reference: str
    name: str
    tag: str | None
    digest: str
    platforms: tuple[tuple[str, str], ...]
    used_by: tuple[str, ...]


class LockedPackage(NamedTuple):
    """A package named in an install command, as the snapshot serves it for one architecture."""

    name: str
    architecture: str
    version: str
    sha256: str
    filename: str
    # The package apt installs when name is a virtual package (libxslt1-dev for libxslt-dev).
    provider: str | None = None
    # The index's own checksum where it has no sha256 of the package (apk: Q1 + sha1 of control);
    # sha256 is then "" and not written.
    checksum: str | None = None


class UnpinnedPackage(NamedTuple):
    """A package named in an install command that the lock does not pin, and why."""

    name: str
    reason: str
    architecture: str | None = None  # None: on every locked architecture


class LockedStage(NamedTuple):
    """What a stage's packages were pinned to, or why they could not be."""

    stage: str
    base: str | None = None
    distro: str | None = None
    release: str | None = None
    package_manager: str | None = None
    snapshot: str | None = None
    signature: str | None = None
    packages: tuple[LockedPackage, ...] = ()
    notes: tuple[str, ...] = ()
    unpinned: tuple[UnpinnedPackage, ...] = ()
    step: str | None = None
    sources: tuple[str, ...] = ()
    # A manager stage's install words by name, sorted (its packages hold what they pulled in,
    # not which were asked for); None where the lock holds none (apt's, or made without them).
    words: tuple[str, ...] | None = None
    # Each install command of a manager stage as written, its package words left out (`dnf
    # install -y --exclude=foo`): what else decides what it installs. None where not recorded.
    commands: tuple[str, ...] | None = None
    # The ENV of the base image the stage's RUNs read (`PHPIZE_DEPS=autoconf ...`), by name:
    # check expands them as lock did, without asking the registry.
    base_env: tuple[str, ...] = ()
    # The program the base image's config Shell names (bash), where lock read it because the
    # stage's RUNs have braces whose meaning depends on it: check reads them as lock did.
    base_shell: str | None = None


class Lock(NamedTuple):
    """Everything a lockfile records."""

    images: tuple[LockedImage, ...] = ()
    snapshot: str | None = None
    source_date_epoch: int | None = None
    stages: tuple[LockedStage, ...] = ()
    images_only: bool = False
    build_args: tuple[tuple[str, str], ...] = ()
    # The build context --context gave, from the Dockerfile's folder ("..").
    context: str | None = None

    def canonical(self) -> Lock:
        """The same lock in the order render writes it, to compare locks without rendering."""
        images = tuple(
            sorted(map(_canonical_image, self.images), key=lambda i: (i.reference, i.digest))
        )
        stages = tuple(map(_canonical_stage, self.stages))
        return self._replace(
            images=images, stages=stages, build_args=tuple(sorted(self.build_args))
        )

    def by_reference(self) -> dict[str, LockedImage]:
        """Locked images keyed by the pinned reference as the build sees it."""
        return {image.reference: image for image in self.images}


def _canonical_image(image: LockedImage) -> LockedImage:
    """image with its used-by set and platforms sorted; image itself when they already are."""
    used_by = tuple(sorted(set(image.used_by)))
    platforms = tuple(sorted(image.platforms))
    if used_by == image.used_by and platforms == image.platforms:
        return image  # as read from a rendered lock: no copy (check compares 2,000 a run)
    return image._replace(used_by=used_by, platforms=platforms)


def _canonical_stage(stage: LockedStage) -> LockedStage:
    """stage with its packages and unpinned packages sorted; stage itself when they already are."""
    packages = tuple(sorted(stage.packages, key=_package_key))
    unpinned = tuple(sorted(stage.unpinned, key=_unpinned_key))
    if packages == stage.packages and unpinned == stage.unpinned:
        return stage
    return stage._replace(packages=packages, unpinned=unpinned)


def _package_key(package: LockedPackage) -> tuple[str, ...]:
    return (*package[:5], package.provider or "", package.checksum or "")


def _unpinned_key(package: UnpinnedPackage) -> tuple[str, ...]:
    return (package.name, package.architecture or "", package.reason)


def lock_path(dockerfile: str) -> str:
    """Dockerfile -> Dockerfile.lock."""
    return dockerfile + SUFFIX


def render(lock: Lock, dockerfile_name: str) -> str:
    """The lockfile text: a header, the version, the snapshot, images sorted, then stages.

    Written line by line for a fixed schema: tomlkit's document model took 1.1 s for 1,000 locks,
    this takes 0.02 s; tests keep tomlkit as the oracle and compare the two byte for byte.
    """
    lock = lock.canonical()
    mode = "--images-only " if lock.images_only else ""
    out = [
        "# Generated by pinner; do not edit by hand.",
        f"# Regenerate with: pinner lock {mode}{dockerfile_name}",
        f"version = {VERSION}",
    ]
    if lock.images_only:
        # The mode the lock was made in: check, update and build-args honour it.
        out.append("images-only = true")
    if lock.context is not None:
        # The context the lock was made with: update reads it again.
        out.append(f"context = {_quote(lock.context)}")
    if lock.snapshot is not None or lock.source_date_epoch is not None:
        out += ["", "[snapshot]"]
        if lock.snapshot is not None:
            out.append(f"time = {_quote(lock.snapshot)}")
        if lock.source_date_epoch is not None:
            out.append(f"source-date-epoch = {lock.source_date_epoch}")
    if lock.build_args:
        # The --build-arg values the lock was made with: check and build-args use them again.
        out += ["", "[build-args]"]
        out += [f"{_key(name)} = {_quote(value)}" for name, value in lock.build_args]
    for image in lock.images:
        out += ["", "[[image]]"]
        out += _pairs(
            ("reference", image.reference),
            ("name", image.name),
            ("tag", image.tag),
            ("digest", image.digest),
        )
        out += _array("used-by", image.used_by)
        if image.platforms:
            out += ["", "[image.platforms]"]
            out += [f"{_key(platform)} = {_quote(digest)}" for platform, digest in image.platforms]
    for stage in lock.stages:
        out += ["", "[[stage]]"]
        out += _pairs(
            ("stage", stage.stage),
            ("base", stage.base),
            ("distro", stage.distro),
            ("release", stage.release),
            ("package-manager", stage.package_manager),
            ("snapshot", stage.snapshot),
            ("signature", stage.signature),
            ("step", stage.step),
            ("base-shell", stage.base_shell),
        )
        if stage.sources:
            out += _array("sources", stage.sources)
        if stage.words is not None:
            out += _array("words", stage.words)
        if stage.commands is not None:
            out += _array("commands", stage.commands)
        if stage.base_env:
            out += _array("base-env", stage.base_env)
        if stage.notes:
            out += _array("notes", stage.notes)
        for package in stage.packages:
            out += ["", "[[stage.package]]"]
            out += _pairs(
                ("name", package.name),
                ("provided-by", package.provider),
                ("architecture", package.architecture),
                ("version", package.version),
                ("sha256", package.sha256 or None),
                ("checksum", package.checksum),
                ("filename", package.filename),
            )
        for unpinned in stage.unpinned:
            out += ["", "[[stage.unpinned]]"]
            out += _pairs(
                ("name", unpinned.name),
                ("architecture", unpinned.architecture),
                ("reason", unpinned.reason),
            )
    return "\n".join(out) + "\n"


# TOML basic-string escapes (toml.io v1.0.0, "String"); other control characters as \uXXXX.
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SPECIAL = re.compile(r'["\\\x00-\x1f\x7f]')


def _quote(value: str) -> str:
    """A TOML basic string."""
    if not _SPECIAL.search(value):
        return f'"{value}"'
    return '"' + _SPECIAL.sub(_escape, value) + '"'


def _escape(match: re.Match[str]) -> str:
    char: str = match.group(0)
    return _ESCAPES.get(char, f"\\u{ord(char):04x}")


def _key(key: str) -> str:
    """A bare key where TOML allows one, else a quoted key."""
    return key if _BARE_KEY.fullmatch(key) else _quote(key)


def _pairs(*pairs: tuple[str, str | None]) -> list[str]:
    return [f"{key} = {_quote(value)}" for key, value in pairs if value is not None]


def _array(key: str, items: Iterable[str]) -> list[str]:
    """One item inline; more, one a line with a trailing comma (as tomlkit's multiline)."""
    values = [_quote(item) for item in items]
    if len(values) == 1:
        return [f"{key} = [{values[0]}]"]
    if not values:
        return [f"{key} = []"]
    return [f"{key} = [", *(f"    {v}," for v in values), "]"]


# The TOML render writes, line by line: strings without escapes, a decimal integer, a boolean,
# an array of strings (one inline, more one a line); keys bare or quoted without escapes.
_STRING = r'"[^"\\\x00-\x1f\x7f]*"'
_VALUE = rf"{_STRING}|0|[1-9][0-9]{{0,17}}|true|false|\[(?:{_STRING})?\]|\["
_KEY_VALUE = re.compile(rf"([A-Za-z0-9_-]+|{_STRING}) = ({_VALUE})")
_ARRAY_ITEM = re.compile(rf"    ({_STRING}),")
_COMMENT = re.compile(r"#[^\x00-\x08\x0a-\x1f\x7f]*")  # TOML: no control character but tab
_TABLES = ("[snapshot]", "[build-args]")
_ARRAYS = ("[[image]]", "[[stage]]")
_NESTED = ("[[stage.package]]", "[[stage.unpinned]]")


# `key = "string"` lines already read, by their text: a tree's locks repeat the same references,
# digests and times (immutable values only, so sharing them is safe).
_SCALARS: dict[str, tuple[str, str]] = {}
_MAX_SCALARS = 1 << 14


def _read_rendered(text: str) -> dict[str, Any] | None:
    """What tomllib reads from text laid out as render writes it; None for any other layout.

    tomllib was most of the time `check` spent on 1,000 locks (0.21 to 0.25 s of CPU); this
    reads them in 0.04 s. Anything it does not recognise exactly (escapes, comments after
    values, repeated keys or tables, other tables) goes to tomllib, which reads it or says what
    is wrong. Strings are interned: a tree's locks repeat the same references, digests and uses.
    """
    lines = text.split("\n")
    if lines.pop() != "":
        return None
    root: dict[str, Any] = {}
    table = root
    from_headers: set[int] = set()  # arrays of tables made by [[...]] headers, by id
    rows = iter(lines)
    for line in rows:
        if not line or line[0] == "#":
            if line and not _COMMENT.fullmatch(line):
                return None
            continue
        if line[0] == "[":
            if line in _TABLES:
                if line[1:-1] in root:
                    return None
                table = root[line[1:-1]] = {}
                continue
            owner, name = root, line[2:-2]
            if line in _NESTED:
                stages = root.get("stage")
                if not stages or id(stages) not in from_headers:
                    return None
                owner, name = stages[-1], name.partition(".")[2]
            elif line == "[image.platforms]":
                images = root.get("image")
                if not images or id(images) not in from_headers or "platforms" in images[-1]:
                    return None
                table = images[-1]["platforms"] = {}
                continue
            elif line not in _ARRAYS:
                return None
            items = owner.get(name)
            if items is None:
                items = owner[name] = []
                from_headers.add(id(items))
            elif id(items) not in from_headers:
                return None
            table = {}
            items.append(table)
            continue
        known = _SCALARS.get(line)
        if known is not None:
            if known[0] in table:
                return None
            table[known[0]] = known[1]
            continue
        match = _KEY_VALUE.fullmatch(line)
        if match is None:
            return None
        key, raw = match.groups()
        key = key[1:-1] if key[0] == '"' else key
        if key in table:
            return None
        value: object
        if raw[0] == '"':
            value = sys.intern(raw[1:-1])
            if len(_SCALARS) < _MAX_SCALARS:
                _SCALARS[line] = (key, value)
        elif raw[0] == "[":
            value = [raw[2:-2]] if len(raw) > 2 else [] if raw == "[]" else _read_items(rows)
            if value is None:
                return None
        else:
            value = raw == "true" if raw in ("true", "false") else int(raw)
        table[key] = value
    return root


def _read_items(rows: Iterator[str]) -> list[str] | None:
    """The items of an array written one a line, through its closing bracket."""
    items: list[str] = []
    for line in rows:
        if line == "]":
            return items
        match = _ARRAY_ITEM.fullmatch(line)
        if match is None:
            return None
        items.append(sys.intern(match.group(1)[1:-1]))
    return None


def _read_toml(text: str, path: str) -> dict[str, Any]:
    """Any other lock, read by tomllib (imported here: a tree of rendered locks never needs it)."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LockfileError(Problem(path, None, f"not valid TOML: {e}")) from None
    except ValueError:  # tomllib's int() of more digits than Python converts
        raise LockfileError(Problem(path, None, f"not valid TOML: {TOO_LONG_INTEGER}")) from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise LockfileError(Problem(path, None, "not valid TOML: nested too deeply")) from None


def parse(text: str, path: str) -> Lock:
    """Parse lockfile text, refusing invalid TOML, an unknown version or a malformed entry."""
    # A lock as render writes it takes the fast reader; anything else, tomllib.
    data = _read_rendered(text)
    if data is None:
        data = _read_toml(text, path)
    version = data.get("version")
    if version != VERSION:
        raise LockfileError(
            Problem(
                path, None, f"unknown lockfile version {_shown(version)} (pinner reads {VERSION})"
            )
        )
    try:
        images = tuple(_image(entry) for entry in _tables(data.get("image", [])))
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise LockfileError(Problem(path, None, f"malformed [[image]] entry ({e})")) from None
    try:
        snapshot = data.get("snapshot", {})
        time = _opt_timestamp(snapshot.get("time"))
        epoch = snapshot.get("source-date-epoch")
        if epoch is not None and (
            not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < 2**63
        ):
            raise TypeError(
                f"source-date-epoch must be a non-negative integer, got {_shown(epoch)}"
            )
    except (TypeError, AttributeError, ValueError) as e:
        raise LockfileError(Problem(path, None, f"malformed [snapshot] table ({e})")) from None
    try:
        stages = tuple(_stage(entry) for entry in _tables(data.get("stage", [])))
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise LockfileError(Problem(path, None, f"malformed [[stage]] entry ({e})")) from None
    images_only = data.get("images-only", False)
    if not isinstance(images_only, bool):
        raise LockfileError(
            Problem(path, None, f"images-only must be true or false, got {_shown(images_only)}")
        )
    try:
        build_args = _build_args(data.get("build-args", {}))
    except TypeError as e:
        raise LockfileError(Problem(path, None, f"malformed [build-args] table ({e})")) from None
    context = data.get("context")
    if context is not None and not is_context(context):
        raise LockfileError(
            Problem(path, None, f"context must be a relative folder, got {_shown(context)}")
        )
    return Lock(images, time, epoch, stages, images_only, build_args, context)


def is_context(value: object) -> bool:
    """Whether a value is a context a lock may record: a clean relative path of printable
    characters (`..`, `../..`, `app`), the Dockerfile's folder being `.`."""
    return (
        isinstance(value, str)
        and value.isprintable()
        and not value.startswith("/")
        and posixpath.normpath(value) == value
    )


def _build_args(table: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise TypeError("not a table")
    return tuple(sorted((str(name), _str(value)) for name, value in table.items()))


def _tables(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError("expected an array of tables")
    return value


# Debian policy 5.6.1 (Package) and dpkg's architecture names; a file name inside the archive.
_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_ARCHITECTURE = re.compile(r"[a-z0-9][a-z0-9-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9._~+-]{0,64}")  # as baseimage reads os-release
_POOL_FILE = re.compile(r"[A-Za-z0-9_.+~%:-]+(?:/[A-Za-z0-9_.+~%:-]+)*")


def _stage(entry: Mapping[str, Any]) -> LockedStage:
    manager = _opt_str(entry.get("package-manager"))
    packages = tuple(_package(p, manager) for p in _tables(entry.get("package", [])))
    unpinned = tuple(_unpinned(u) for u in _tables(entry.get("unpinned", [])))
    return LockedStage(
        stage=_str(entry["stage"]),
        base=_opt_str(entry.get("base")),
        distro=_opt_identifier(entry.get("distro"), "distro"),
        release=_opt_identifier(entry.get("release"), "release"),
        package_manager=manager,
        snapshot=_opt_timestamp(entry.get("snapshot")),
        signature=_opt_str(entry.get("signature")),
        packages=packages,
        notes=tuple(_str(n) for n in _list(entry.get("notes", []))),
        unpinned=unpinned,
        step=_opt_str(entry.get("step")),
        sources=tuple(_str(s) for s in entry.get("sources", [])),
        words=_words(entry.get("words")),
        commands=_commands(entry.get("commands")),
        base_env=_base_env(entry.get("base-env", [])),
        base_shell=_base_shell(entry.get("base-shell")),
    )


def _base_shell(value: object) -> str | None:
    """A stage's base image Shell program, as ImageConfig.shell gives it."""
    text = _opt_str(value)
    if text is not None and not SHELL_PROGRAM.fullmatch(text):
        raise ValueError(f"base-shell {_shown(text)} is not a program name")
    return text


def _base_env(value: object) -> tuple[str, ...]:
    """A stage's base image ENV entries: NAME=value, each as a config's Env may give it."""
    entries = tuple(_str(entry) for entry in _list(value))
    kept = env_values(entries)
    if len(kept) != len(entries):
        bad = next(e for e in entries if (e.partition("=")[0], e.partition("=")[2]) not in kept)
        raise ValueError(f"base-env entry {_shown(bad)} is not NAME=value")
    return entries


def _commands(value: object) -> tuple[str, ...] | None:
    """A stage's install commands: printable strings, since check shows them."""
    return _printables(value, "command", "an install command")


def _words(value: object) -> tuple[str, ...] | None:
    """A stage's install words: printable strings, since check names them."""
    return _printables(value, "word", "a package word")


def _printables(value: object, item: str, kind: str) -> tuple[str, ...] | None:
    """A list of non-empty printable strings; None where the key is absent."""
    if value is None:
        return None
    found = tuple(_str(text) for text in _list(value))
    bad = next((text for text in found if not text or not text.isprintable()), None)
    if bad is not None:
        raise ValueError(f"{item} {_shown(bad)} is not {kind}")
    return found


def _package(entry: Mapping[str, Any], manager: str | None = None) -> LockedPackage:
    """A package entry whose every field is what its manager's index could have said."""
    package = LockedPackage(
        _str(entry["name"]),
        _str(entry["architecture"]),
        _str(entry["version"]),
        _str(entry["sha256"]) if "sha256" in entry or "checksum" not in entry else "",
        _str(entry["filename"]),
        _opt_str(entry.get("provided-by")),
        _opt_str(entry.get("checksum")),
    )
    from pinner import managers  # a manager module loads only for a lock that names it

    module = managers.get(manager)
    if module is not None:
        return module.checked(package)
    if package.checksum is not None:
        raise ValueError(f"package {_shown(package.name)}: apt packages record a sha256")
    return checked_package(package)


def checked_package(package: LockedPackage) -> LockedPackage:
    """package, when every field is what a snapshot index could say; ValueError says why not."""
    where = f"package {_shown(package.name)}"
    if not _PACKAGE_NAME.fullmatch(package.name):
        raise ValueError(f"{where}: not a Debian package name")
    if package.provider is not None and not _PACKAGE_NAME.fullmatch(package.provider):
        raise ValueError(f"{where}: provided-by {_shown(package.provider)} is not a package name")
    if not _ARCHITECTURE.fullmatch(package.architecture):
        raise ValueError(f"{where}: architecture {_shown(package.architecture)} is not valid")
    from pinner.apt.debversion import parse_version  # locks of apt packages alone need it

    try:
        parse_version(package.version)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    if package.version != package.version.strip(" \t"):
        raise ValueError(f"{where}: version {_shown(package.version)} has blanks")
    if not _SHA256.fullmatch(package.sha256):
        raise ValueError(f"{where}: sha256 {_shown(package.sha256)} is not 64 lowercase hex")
    if not is_relative_file(package.filename, _POOL_FILE):
        raise ValueError(
            f"{where}: filename {_shown(package.filename)} is not a path in the archive"
        )
    return package


# A package word as apt-get reads it (pinner/apt/commands.py): what an unpinned entry names.
_PACKAGE_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*")


def is_relative_file(filename: str, pattern: re.Pattern[str]) -> bool:
    """Whether a package's filename matches pattern and stays below the mirror's root."""
    parts = filename.split("/")
    return bool(pattern.fullmatch(filename)) and ".." not in parts and "." not in parts


def _unpinned(entry: Mapping[str, Any]) -> UnpinnedPackage:
    """An unpinned entry: a package word, an optional architecture, the reason as text."""
    item = UnpinnedPackage(
        _str(entry["name"]), _str(entry["reason"]), _opt_str(entry.get("architecture"))
    )
    where = f"unpinned {_shown(item.name)}"
    if not _PACKAGE_WORD.fullmatch(item.name):
        raise ValueError(f"{where}: not a package name")
    if item.architecture is not None and not _ARCHITECTURE.fullmatch(item.architecture):
        raise ValueError(f"{where}: architecture {_shown(item.architecture)} is not valid")
    return item


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _opt_identifier(value: object, what: str) -> str | None:
    """An os-release identifier (ID, VERSION_ID, a codename), as pinner reads it from an image."""
    text = _opt_str(value)
    if text is not None and not _IDENTIFIER.fullmatch(text):
        raise ValueError(f"{what} {_shown(text)} is not an os-release identifier")
    return text


def _opt_timestamp(value: object) -> str | None:
    text = _opt_str(value)
    if text is not None and not _is_timestamp(text):
        raise ValueError(f"time {_shown(text)} is not a real UTC time YYYYMMDDTHHMMSSZ")
    return text


def _image(entry: Mapping[str, Any]) -> LockedImage:
    """An image entry whose name, tag and digest are those of its reference."""
    platforms = entry.get("platforms", {})
    if not isinstance(platforms, dict):
        raise TypeError("platforms is not a table")
    # tuple.__new__ with the class: the named tuple's own __new__ is a Python frame per entry.
    image: LockedImage = tuple.__new__(
        LockedImage,
        (
            _str(entry["reference"]),
            _str(entry["name"]),
            _str(entry["tag"]) if "tag" in entry else None,
            _str(entry["digest"]),
            tuple(sorted([(str(k), _str(v)) for k, v in platforms.items()])),
            tuple([_str(u) for u in _list(entry.get("used-by", []))]),
        ),
    )
    _check_image(image.reference, image.name, image.tag, image.digest, image.platforms)
    return image


@functools.lru_cache(maxsize=4096)
def _check_image(
    text: str, name: str, tag: str | None, digest: str, platforms: tuple[tuple[str, str], ...]
) -> None:
    """ValueError unless name, tag, digest and platform digests agree with the reference text.

    Cached: a tree's locks name the same few images again and again.
    """
    # An entry edited by hand (a tag, a digest) must not pass for what the reference says.
    shown = _shown(text)
    try:
        ref = reference.parse(text)
    except InvalidReference as e:
        raise ValueError(f"{shown}: {e}") from None
    # `FROM alpine@sha256:...` keeps the tag it was resolved from (latest) in the lock.
    for field, value, expected in (
        ("name", name, ref.name),
        ("tag", tag, ref.tag if ref.tag is not None else tag),
        ("digest", digest, ref.digest),
    ):
        if value != expected:
            raise ValueError(f"{shown}: {field} {_shown(value)} disagrees with the reference")
    if tag is not None and ref.tag is None:
        try:
            reference.parse(f"{ref.name}:{tag}")
        except InvalidReference as e:
            raise ValueError(f"{shown}: tag {_shown(tag)}: {e}") from None
    for platform, platform_digest in platforms:
        if not reference.is_digest(platform_digest):
            raise ValueError(
                f"{shown}: {_shown(platform)}: {_shown(platform_digest)} is not a digest"
            )


# strptime per lock was a tenth of reading one; a tree's locks share a few times.
_is_timestamp = functools.lru_cache(maxsize=1024)(is_timestamp)

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 300
_REPR.maxlevel = 2


def _shown(value: object) -> str:
    """A value from the file, quoted and cut short, so a message stays one readable line."""
    return _REPR.repr(value)


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected an array, got {_shown(value)}")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_shown(value)}")
    return value
