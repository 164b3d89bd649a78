"""Alpine's apk: `apk add` words, the image's repositories and keys, signed APKINDEX resolution.

Alpine keeps no dated snapshot: a branch (v3.19, edge) serves only the newest build of each
package. A lock records what the branch serves today, so its pins hold only until the branch
moves on; `update` moves them and `check --remote` reports the ones no longer served.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
import weakref
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pinner import managers, unpack
from pinner.apt.shell import (
    Invocation,
    Word,
    is_option,
    option_width,
    run_invocations,
    split_options,
    words,
)
from pinner.apt.sources import covers
from pinner.errors import MirrorError, PackageError
from pinner.lockfile import LockedPackage, UnpinnedPackage, is_relative_file
from pinner.managers import Fetch, ImageConfig, Install, Manager, PackageArg, Resolved, own
from pinner.managers.leftovers import expands_braces, removed_paths
from pinner.outcome import SIGNATURE_VERIFIED
from pinner.output import untrusted

NAME = "apk"
MIRROR = "alpine"
ALPINE_RELEASE = "/etc/alpine-release"
REPOSITORIES = "/etc/apk/repositories"
KEYS_DIR = "/etc/apk/keys"
ARCH_FILE = "/etc/apk/arch"
INSTALLED = "/lib/apk/db/installed"
WORLD = "/etc/apk/world"
SCRIPTS_DB = "/lib/apk/db/scripts.tar"
_SCRIPT_TIMES_FIXED = "2.12.8"
# apk-tools 2.14 also reads /etc/apk/repositories.d/*.list; apk-tools 3 (Alpine 3.23 and later)
# /lib/apk/repositories.d/*.list too, and keys from /lib/apk/keys (context.c, database.c).
REPOSITORIES_DIRS = ("/etc/apk/repositories.d", "/lib/apk/repositories.d")
LIB_KEYS_DIR = "/lib/apk/keys"
IMAGE_PATHS = (
    ALPINE_RELEASE,
    REPOSITORIES,
    *(f"{folder}/*.list" for folder in REPOSITORIES_DIRS),
    f"{KEYS_DIR}/*",
    f"{LIB_KEYS_DIR}/*",
    ARCH_FILE,
    INSTALLED,
    WORLD,
)
CACHE_CLEANUP = "rm -rf /var/cache/apk/*"
# The start of the reason closure() gives for a word the base image already satisfies.
KEPT = "already in the base image: "
_NO_SUCH = "no such package in the repositories"
# The start of the reason Universe.best() gives for a name whose builds the world rules out.
_HELD = f"the base image's {WORLD} holds "
# The start of the reason Universe.best() gives for a name only tagged repositories serve.
_MASKED = "served only by the tagged repository "
# A branch's APKINDEX.tar.gz: main is about 1 MiB, community about 2 MiB, unpacked 5-10 times that.
MAX_INDEX_BYTES = 32 * 1024 * 1024
MAX_UNPACKED = 64 * 1024 * 1024
MAX_SIGNATURE_TAR = 64 * 1024
# containerd platform -> Alpine's architecture (apk-tools' APK_DEFAULT_ARCH per build target).
APK_ARCH: Mapping[str, str] = {
    "linux/amd64": "x86_64",
    "linux/arm64": "aarch64",
    "linux/arm/v7": "armv7",
    "linux/arm/v6": "armhf",
    "linux/386": "x86",
    "linux/ppc64le": "ppc64le",
    "linux/s390x": "s390x",
    "linux/riscv64": "riscv64",
    "linux/loong64": "loongarch64",
}

# apk(8) options that take the next word as their value (apk-tools 2.14, and 3.0's
# --repository-config, --preupgrade-depends and --uvol-manager: src/apk.c GLOBAL_OPTIONS).
_VALUE_OPTIONS = words(
    "-X --repository -t --virtual -p --root --arch --cache-dir --keys-dir --repositories-file"
    " --wait --progress-fd --cache-max-age --timeout -I --interactive-fd --repository-config"
    " --preupgrade-depends --uvol-manager"
)
_INSTALL_VERBS = frozenset({"add"})
# Options that make apk install for something other than the image it runs in.
_ELSEWHERE = frozenset({"-p", "--root", "--arch", "--repositories-file", "--keys-dir"})
_NAME = r"[A-Za-z0-9_][A-Za-z0-9+._-]*"
_NAME_RE = re.compile(_NAME)
# apk's version grammar (apk_version.c): digits, letter, suffixes, -rN.
_SUFFIXES = {
    "alpha": -4,
    "beta": -3,
    "pre": -2,
    "rc": -1,
    "cvs": 1,
    "svn": 2,
    "git": 3,
    "hg": 4,
    "p": 5,
}
# Each number is capped at 100 digits: int() refuses more than 4300 (a ValueError from a 5000-digit
# V: field), and no version apk installs holds a number of that size.
_VERSION_RE = re.compile(
    r"(?P<nums>[0-9]{1,100}(?:\.[0-9]{1,100})*)(?P<letter>[a-z]?)"
    r"(?P<lettered>(?<=[a-z])[0-9]{1,100})?"
    r"(?P<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,100})*)"
    r"(?:-r(?P<rev>[0-9]{1,100}))?"
)
_SUFFIX_RE = re.compile(r"_([a-z]+)([0-9]*)")
_OPS = ("<=", ">=", "><", "=", "~", "<", ">")
_WORD_RE = re.compile(
    r"(?P<name>" + _NAME + r"|[a-z0-9.]+:[A-Za-z0-9+._-]+)"
    r"(?:@(?P<tag>[A-Za-z0-9_.-]+))?"
    r"(?:(?P<op><=|>=|><|=|~|<|>)(?P<version>[A-Za-z0-9._+~-]*))?"
)
_TAG_RE = re.compile(r"[A-Za-z0-9_.-]+")
_CHECKSUM_RE = re.compile(r"Q1[A-Za-z0-9+/]{27}=")
_ARCH_RE = re.compile(r"[a-z0-9_]+")
# A provider priority (k:) int() takes: str.isdigit also takes "²", and int() no 5000 digits.
_PRIORITY_RE = re.compile(r"[0-9]{1,9}")
_FILENAME_RE = re.compile(r"(?:[A-Za-z0-9._+-]+/)*[A-Za-z0-9._+-]+\.apk")
_REPOSITORY_RE = re.compile(
    r"https?://[A-Za-z0-9.:\[\]-]+(?P<path>(?:/[A-Za-z0-9._~%+-]+)*?)"
    r"(?P<tail>/(?:v[0-9]+\.[0-9]+|edge|latest-stable)/[A-Za-z0-9._-]+)/?"
)


# --------------------------------------------------------------------------- versions


def parse_version(
    text: str,
) -> tuple[tuple[int, ...], str, int, tuple[tuple[int, int], ...], int]:
    """An apk version as a key that sorts as apk's comparison does; ValueError if invalid."""
    match = _VERSION_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{untrusted(text)!r} is not an apk version")
    nums = tuple(int(n) for n in match.group("nums").split("."))
    suffixes = tuple(
        (_SUFFIXES[s.group(1)], int(s.group(2) or 0))
        for s in _SUFFIX_RE.finditer(match.group("suffixes"))
    )
    # No suffix sits between the pre-release ones (_rc) and the post-release ones (_p).
    # A letter may carry a number in Alpine's own indexes (aspell-ru 0.99f7, 6.8.0p2).
    lettered = int(match.group("lettered") or 0)
    return nums, match.group("letter"), lettered, (*suffixes, (0, 0)), int(match.group("rev") or 0)


def is_version(text: str) -> bool:
    """Whether text is a valid apk version."""
    return _VERSION_RE.fullmatch(text) is not None


def satisfies(version: str, op: str | None, wanted: str | None) -> bool:
    """Whether version meets a constraint (`=1.2-r0`, `~1.2`, `>=1.0`); None: any."""
    if op is None or wanted is None:
        return True
    if op == "~":
        # apk's fuzzy match: the version starts with the given one at a token boundary.
        rest = version[len(wanted) :]
        return version.startswith(wanted) and (not rest or rest[0] in ".-_" or rest[0].isalpha())
    try:
        mine, theirs = parse_version(version), parse_version(wanted)
    except ValueError:
        return False
    return {
        "=": mine == theirs,
        "<": mine < theirs,
        ">": mine > theirs,
        "<=": mine <= theirs,
        ">=": mine >= theirs,
        "><": True,
    }[op]


# --------------------------------------------------------------------------- apk add


def _package(word: Word) -> tuple[PackageArg | None, str | None]:
    """What apk makes of one `apk add` operand: a package word, and a note if it is not pinned."""
    text = word.text
    if word.expansions:
        return None, f"package word uses a variable ({text}); it is not recorded"
    if "://" in text or text.endswith(".apk") or text.startswith(("/", "./", "../")):
        return None, f"installs a file or URL ({text}); not pinned"
    match = _WORD_RE.fullmatch(text)
    if match is None:
        return None, f"package word {text} is not a package name; not recorded"
    op = match.group("op")
    constraint = f"{op}{match.group('version')}" if op else None
    plain = word.end - word.start == len(text)
    package = PackageArg(match.group("name"), constraint, word.start, word.end, plain)
    return package._replace(tag=match.group("tag")), None


def read_install(invocation: Invocation) -> Install | None:
    """The package words of an `apk add` invocation; None for other verbs."""
    options, operands = split_options(
        invocation.args, lambda text: option_width(text, _VALUE_OPTIONS)
    )
    repositories: list[str] = []
    elsewhere: list[str] = []
    group = None
    upgrade = False
    for text, value in options:
        name, eq, inline = text.partition("=")
        # --upgrade (and --latest, whose solver flag works alike) makes apk prefer the newest
        # build over the installed one, for the words and all they depend on (apk-tools'
        # solver: the flag is set on each word's name and inherited down its dependencies).
        if name in ("--upgrade", "--latest") or _short_flags(text) & {"u", "l"}:
            upgrade = True
        if name in ("-X", "--repository"):
            repositories.append(inline if eq else value or "")
        elif name == "--repository-config":
            # apk-tools 3: one line of a repositories file ([v2] [@tag] URL [component...]).
            line = inline if eq else value or ""
            found = repository_lines(line, {})
            read = [r for r in found if isinstance(r, Repository)]
            if read and len(read) == len(found):
                repositories += [f"@{r.tag} {r.url}" if r.tag else r.url for r in read]
            else:
                repositories.append(line)  # refused below, with the others that are no URL
        elif text.startswith("-X") and len(text) > 2:
            repositories.append(text[2:])
        elif name in ("-t", "--virtual"):
            group = inline if eq else value
        elif text.startswith("-t") and len(text) > 2:
            group = text[2:]
        elif name in _ELSEWHERE or (text[:2] in _ELSEWHERE and len(text) > 2):
            elsewhere.append(text if eq or value is None else f"{text} {value}")
    if operands and operands[0].text == "upgrade":
        return _upgrade(invocation, operands[1:])
    if operands and operands[0].text == "fix" and (len(operands) > 1 or upgrade):
        # apk fix NAME reinstalls (with -u upgrades) packages without touching the world; a
        # bare `apk fix` on a sound image changes nothing.
        named = " ".join(word.text for word in operands[1:]) or "--upgrade"
        fixed = f"apk fix {named}: the reinstalled or upgraded versions are not recorded"
        return Install(invocation.program, (), (fixed,), invocation.start, invocation.end)
    if not operands or operands[0].text not in _INSTALL_VERBS:
        return None
    notes: list[str] = []
    packages: list[PackageArg] = []
    for word in operands[1:]:
        package, note = _package(word)
        if note is not None:
            notes.append(note)
        if package is not None:
            packages.append(package)
    if elsewhere and packages:
        # Another root, architecture or repositories file: not what the image's files describe.
        notes.append(
            f"apk add {' '.join(elsewhere)}: not the image's own packages; not pinned:"
            f" {', '.join(p.name for p in packages)}"
        )
        packages = []
    if repositories and packages:
        # apk reads these repositories besides the image's for this command's words alone.
        refused = [r for r in repositories if not isinstance(repository_line(r), Repository)]
        if refused:
            notes.append(
                f"apk add --repository {untrusted(refused[0])}: not an http(s) repository;"
                f" not pinned: {', '.join(p.name for p in packages)}"
            )
            packages = []
        else:
            extra = tuple(dict.fromkeys(r.rstrip("/") for r in repositories))
            packages = [p._replace(repositories=extra) for p in packages]
    if group is not None:
        packages = [p._replace(group=group) for p in packages]
    if upgrade:
        packages = [p._replace(upgrade=True) for p in packages]
    return Install(
        invocation.program, tuple(packages), tuple(notes), invocation.start, invocation.end
    )


def _short_flags(text: str) -> set[str]:
    """The letters of a cluster of short options (`-Uu`) before any that takes a value."""
    if not re.fullmatch(r"-[A-Za-z]+", text):
        return set()
    letters = text[1:]
    for at, letter in enumerate(letters):
        if f"-{letter}" in _VALUE_OPTIONS:
            return set(letters[:at])
    return set(letters)


def _upgrade(invocation: Invocation, operands: Sequence[Word]) -> Install:
    """`apk upgrade`: every installed package the repositories serve a newer build of."""
    if operands:
        # Upgrading only the named packages: recording every newer build would be too much.
        named = " ".join(word.text for word in operands)
        note = f"apk upgrade {named}: the upgraded versions are not recorded"
        return Install(invocation.program, (), (note,), invocation.start, invocation.end)
    return Install(invocation.program, (), (), invocation.start, invocation.end, upgrades=True)


def read_removal(invocation: Invocation) -> managers.Removal | None:
    """What an `apk del` invocation removes from the image; None for other verbs."""
    options, operands = split_options(
        invocation.args, lambda text: option_width(text, _VALUE_OPTIONS)
    )
    if not operands or operands[0].text != "del":
        return None
    if any(o.partition("=")[0] in _ELSEWHERE or o[:2] in _ELSEWHERE for o, _ in options):
        return None  # another root: the image's own packages stay
    names = []
    for word in operands[1:]:
        # A virtual package's name may start with a dot (.build-deps), as apk allows.
        dot = "." if word.text.startswith(".") else ""
        match = None if word.expansions else _WORD_RE.fullmatch(word.text.removeprefix(dot))
        if match is not None:
            names.append(dot + match.group("name"))
    # apk takes out what no package left in its world needs; --rdepends (-r) also takes the
    # installed packages that depend on the names, in turn (apk-tools' del: delete_pkg).
    rdepends = any(o == "--rdepends" or _short_flags(o) & {"r"} for o, _ in options)
    return managers.Removal(tuple(names), cascade=rdepends)


_REPOSITORIES_WRITE = re.compile(
    r">>?[ \t]*['\"]?(?:/etc/apk/repositories\b|/(?:etc|lib)/apk/repositories\.d/)"
)
_WRITERS = frozenset({"tee", "sed", "cp", "mv", "install", "ln", "rm"})


def _repositories_file(path: str) -> bool:
    """Whether path is a file apk reads repositories from, or a repositories.d folder."""
    return path == REPOSITORIES or any(
        path.rstrip("/") == folder or path.startswith(f"{folder}/") for folder in REPOSITORIES_DIRS
    )


def _appended_text(invocation: Invocation) -> str | None:
    """What an echo or printf writes, where it is plain lines ending in a newline; else None."""
    if any(w.expansions for w in invocation.args):
        return None
    args = [w.text for w in invocation.args]
    if invocation.program == "echo":
        # BusyBox ash's echo reads \n only after -e; -n would join the next line to this one.
        escapes = bool(args) and args[0] == "-e"
        text = " ".join(args[1:] if escapes else args)
        if escapes:
            text = text.replace("\\n", "\n")
        return None if "\\" in text else text + "\n"
    if invocation.program == "printf" and args:
        form, rest = args[0], args[1:]
        if form == "%s\\n" and rest and not any("\\" in a for a in rest):
            return "".join(f"{a}\n" for a in rest)
        text = form.replace("\\n", "\n")
        if not rest and "%" not in text and "\\" not in text and text.endswith("\n"):
            return text
    return None


def _tagged_lines(invocation: Invocation) -> tuple[str, ...] | None:
    """The `@tag URL` lines an echo or printf appends to /etc/apk/repositories (`>>`), or None
    if the command is another write or appends any other line."""
    targets = [w.text for _, w in invocation.redirects]
    if [op for op, _ in invocation.redirects] != [">>"] or targets != [REPOSITORIES]:
        return None
    text = _appended_text(invocation)
    if text is None:
        return None
    lines = [line.strip() for line in text.split("\n")]
    found = [repository_line(line) for line in lines if line]
    if not found or not all(isinstance(r, Repository) and r.tag for r in found):
        return None
    return tuple(" ".join(line.split()) for line in lines if line)


def appended_repositories(run_text: str, escape: str = "\\") -> tuple[tuple[int, str], ...]:
    """The tagged repository lines a RUN appends to /etc/apk/repositories with echo, each with
    the offset after the command that appends it."""
    if REPOSITORIES not in run_text:
        return ()
    return tuple(
        (invocation.end, line)
        for invocation in run_invocations(run_text, escape)
        for line in _tagged_lines(invocation) or ()
    )


def config_changes(
    run_text: str, escape: str = "\\", env: tuple[tuple[str, str], ...] = ()
) -> str | None:
    """Whether a RUN changes /etc/apk/repositories, which apk add reads after it; None if not."""
    # Appending tagged repositories (`echo '@testing URL' >> ...`) is no change for the words
    # that name no tag: apk takes their packages from the untagged repositories alone.
    if not env and not any(
        p in run_text for p in (REPOSITORIES, "repositories.d", "setup-apkrepos")
    ):
        return None
    tagged = 0
    for invocation in run_invocations(run_text, escape, env):
        if _tagged_lines(invocation) is not None:
            tagged += 1
        elif invocation.program == "setup-apkrepos" or (
            invocation.program in _WRITERS
            and any(_repositories_file(word.text) for word in invocation.args)
        ):
            return f"changes {REPOSITORIES}"
    # A redirection the lexer did not read as a command's (inside `sh -c '...'`) counts too.
    writes = len(_REPOSITORIES_WRITE.findall(run_text))
    return f"changes {REPOSITORIES}" if writes > tagged else None


# apk-tools (setup_cache in database.c) writes its indexes to /etc/apk/cache when that folder
# exists (a cache mount there makes it one), else to /var/cache/apk; `apk cache clean` and
# `apk cache purge` keep the index of each configured repository, so they do not stand for an rm.
_INDEX = "/var/cache/apk/APKINDEX.00000000.tar.gz"
_CACHE_LINK = "/etc/apk/cache/APKINDEX.00000000.tar.gz"


def needs_cleanup(
    invocations: Sequence[Invocation],
    run_text: str,
    mounts: Sequence[str] = (),
    braces: bool = False,
) -> bool:
    """Whether a RUN runs apk with its cache on and leaves indexes in /var/cache/apk; braces:
    its shell expands `{a,b}` (Alpine's /bin/sh, BusyBox ash, does not)."""
    last = None
    for index, invocation in enumerate(invocations):
        if invocation.program != "apk":
            continue
        texts = [a.text for a in invocation.args]
        verb = next((t for t in texts if not is_option(t)), None)
        # --no-network reads no index: nothing is written to the cache (apk-tools 3 also
        # takes --cache=no and --network=no).
        off = {"--no-cache", "--no-network", "--cache=no", "--network=no"}
        if verb in ("add", "upgrade", "update") and not off & set(texts):
            last = index
    if last is None:
        return False
    if any(covers(mount, _CACHE_LINK) for mount in mounts):
        return False
    # Only an rm after the last apk command that writes the cache empties it.
    removed = removed_paths(invocations, run_text, braces, start=last)
    return not any(covers(path, _INDEX) for path in [*removed, *mounts])


# --------------------------------------------------------------------------- the image


class Repository(NamedTuple):
    """One line of /etc/apk/repositories: the URL apk uses, and where pinner fetches from."""

    url: str
    fetch_url: str
    tail: str  # "v3.19/main": where the repository sits under an Alpine mirror, "" if unknown
    # `@testing URL`: a tagged repository serves only words that name its tag (foo@testing) and
    # what their packages depend on.
    tag: str = ""


class ApkConfig(NamedTuple):
    """What an Alpine image says about its package manager."""

    distro: str
    release: str | None
    arch: str
    branch: str | None
    repositories: tuple[Repository, ...]
    keys: Mapping[str, bytes]
    installed: Mapping[str, str]  # name and every name it provides -> version ("" if none)
    notes: tuple[str, ...] = ()
    # The installed database's packages, for what `apk del` leaves of them.
    entries: tuple[Entry, ...] = ()
    # The names /etc/apk/world asks for (None where the image has no world file): what apk
    # keeps installed, with what they depend on, once `apk del` took names out of it.
    world: tuple[str, ...] | None = None
    # The world's versioned dependencies (zlib<1.2.13, busybox=1.35.0-r17): apk installs no build
    # of that name outside them, unless a word names it again (apk add replaces the entry).
    held: tuple[tuple[str, str, str], ...] = ()
    # The world's entries naming a repository tag (name, tag): zlib@testing.
    world_tags: tuple[tuple[str, str], ...] = ()


class Entry(NamedTuple):
    """One package of an APKINDEX (or of the installed database)."""

    name: str
    version: str
    arch: str
    checksum: str
    depends: tuple[str, ...]
    provides: tuple[str, ...]
    install_if: tuple[str, ...]
    priority: int
    repository: str = ""
    tag: str = ""  # the tag of the repository whose index lists it ("" for an untagged one)


def parse_records(text: str, source: str) -> list[dict[str, str]]:
    """The `X:value` records of an APKINDEX or installed database (blank-line separated)."""
    records: list[dict[str, str]] = []
    record: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            if record:
                records.append(record)
                record = {}
            continue
        key, sep, value = line.partition(":")
        if not sep or len(key) != 1:
            raise MirrorError(f"{source}: line {number} is not a field (X:value)")
        if key in "FRMaZ":  # files of the installed database: not needed
            continue
        record.setdefault(key, value)
    if record:
        records.append(record)
    return records


def _entry(record: Mapping[str, str], source: str, repository: str = "", tag: str = "") -> Entry:
    name, version = record.get("P", ""), record.get("V", "")
    if not _NAME_RE.fullmatch(name):
        raise MirrorError(f"{source}: package name {untrusted(name)!r} is not valid")
    if not is_version(version):
        raise MirrorError(f"{source}: {name}: version {untrusted(version)!r} is not valid")
    arch = record.get("A", "noarch")
    if not _ARCH_RE.fullmatch(arch):
        raise MirrorError(f"{source}: {name}: architecture {untrusted(arch)!r} is not valid")
    priority = record.get("k", "0")
    return Entry(
        name,
        version,
        arch,
        record.get("C", ""),
        tuple(record.get("D", "").split()),
        tuple(record.get("p", "").split()),
        tuple(record.get("i", "").split()),
        int(priority) if _PRIORITY_RE.fullmatch(priority) else 0,
        repository,
        tag,
    )


def parse_index(text: str, source: str, repository: str = "", tag: str = "") -> list[Entry]:
    """The packages an APKINDEX lists."""
    return [_entry(r, source, repository, tag) for r in parse_records(text, source) if "P" in r]


def _installed(entries: Iterable[Entry]) -> dict[str, str]:
    """Names the installed database holds, and every name they provide, with their versions."""
    found: dict[str, str] = {}
    for entry in entries:
        found[entry.name] = entry.version
        for provided in entry.provides:
            name, _, version = provided.partition("=")
            found.setdefault(name, version)
    return found


def repository_line(line: str) -> Repository | str | None:
    """One repositories line as a Repository, a note why it is not used, or None (blank)."""
    line = line.split("#", 1)[0].strip()
    if not line:
        return None
    tag = ""
    if line.startswith("@"):
        # apk-tools (add_repository): `@tag URL`, the tag up to the first blank.
        tag, _, line = line[1:].replace("\t", " ").partition(" ")
        line = line.strip()
        if not _TAG_RE.fullmatch(tag) or not line:
            return f"repository line @{untrusted(tag)} is not `@tag URL`; not read"
    match = _REPOSITORY_RE.fullmatch(line)
    if match is None:
        if line.startswith(("http://", "https://")):
            return Repository(line.rstrip("/"), line.rstrip("/"), "", tag)
        return f"repository {untrusted(line)!r} is not an http(s) URL; not read"
    return Repository(line.rstrip("/"), line.rstrip("/"), match.group("tail").lstrip("/"), tag)


def _repository_files(files: Mapping[str, bytes]) -> list[tuple[str, bytes]]:
    """The image's repository files in apk's order: /etc/apk/repositories, then the .list files
    of the repositories.d folders by name, /etc's hiding /lib's of the same name."""
    found = [(REPOSITORIES, files[REPOSITORIES])] if REPOSITORIES in files else []
    lists: dict[str, str] = {}
    for folder in REPOSITORIES_DIRS:
        for path in sorted(files):
            name = path.removeprefix(folder + "/")
            if path.startswith(folder + "/") and name.endswith(".list") and "/" not in name:
                lists.setdefault(name, path)
    return found + [(lists[name], files[lists[name]]) for name in sorted(lists)]


_VARIABLE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MOST_EXPANDED = 4096  # characters in one expanded repositories word; URLs are far shorter
_SET_RE = re.compile(
    r"set\s+(?P<default>-default\s+)?(?P<key>[A-Za-z][A-Za-z0-9_]*)=(?P<value>\S*)"
)


def repository_lines(line: str, variables: dict[str, str]) -> list[Repository | str]:
    """One line of a repositories file as apk-tools 3 reads it (`[v2|v3|ndx] [@tag] URL
    [component...]`, `${NAME}` expanded, `set [-default] NAME=VALUE` kept in variables; older
    apk reads `[@tag] URL`): its repositories, and notes for what is not read."""
    words = line.split("#", 1)[0].split()
    if not words:
        return []
    text = " ".join(words)

    def expand(word: str) -> str | None:
        names = _VARIABLE_RE.findall(word)
        if any(n not in variables for n in names):
            return None
        if len(word) + sum(len(variables[n]) for n in names) > _MOST_EXPANDED:
            return None  # `set B=${A}${A}`, line after line, would fill memory
        return _VARIABLE_RE.sub(lambda m: variables[m.group(1)], word)

    if words[0] == "set":
        match = _SET_RE.fullmatch(text)
        value = expand(match.group("value")) if match else None
        if match is None or value is None or match.group("key").startswith("APK_"):
            return [f"repositories line {untrusted(text)!r} sets no variable pinner can read"]
        if not (match.group("default") and match.group("key") in variables):
            variables[match.group("key")] = value
        return []
    kind = words.pop(0) if words[0] in ("v2", "v3", "ndx") else ""
    tag = words.pop(0) if words and words[0].startswith("@") else ""
    expanded = [expand(word) for word in words]
    if not words or any(word is None for word in expanded):
        return [f"repositories line {untrusted(text)!r}: not read (an undefined variable)"]
    url, *components = [word for word in expanded if word is not None]
    if not kind and url.endswith((".adb", ".tar.gz")):
        kind = "ndx"
    if kind in ("v3", "ndx"):
        # apk-tools 3 reads Packages.adb (v3) or the named index file (ndx) there.
        what = "an apk v3 index (Packages.adb)" if kind == "v3" else "a named index file"
        return [f"repository {untrusted(url)!r} is {what}; not read (pinner reads APKINDEX.tar.gz)"]
    urls = [f"{url.rstrip('/')}/{c}" for c in components] or [url]
    return [
        found for u in urls if (found := repository_line(f"{tag} {u}" if tag else u)) is not None
    ]


def configure(files: Mapping[str, bytes], platform: str) -> ApkConfig | str:
    """An Alpine image's release, repositories, keys and installed packages, or why not."""
    arch = APK_ARCH.get(platform)
    if arch is None:
        return f"apk has no architecture for {platform}"
    sources = _repository_files(files)
    if not sources:
        return f"the image has no {REPOSITORIES}"
    own_arch = files.get(ARCH_FILE, b"").decode("utf-8", "replace").strip()
    if own_arch and own_arch != arch:
        return f"the image is {untrusted(own_arch)}, not {arch} ({platform})"
    release = files.get(ALPINE_RELEASE, b"").decode("utf-8", "replace").strip() or None
    if release is not None and not re.fullmatch(r"[0-9A-Za-z._-]+", release):
        return f"{ALPINE_RELEASE} holds {untrusted(release)!r}, not a release"
    repositories: list[Repository] = []
    notes: list[str] = []
    # apk-tools 3's `set NAME=VALUE` lines define ${NAME} for the lines after them.
    variables = {"APK_ARCH": arch}
    for path, data in sources:
        for line in data.decode("utf-8", "replace").splitlines():
            for found in repository_lines(line, variables):
                if isinstance(found, Repository):
                    repositories.append(found)
                else:
                    notes.append(found if path == REPOSITORIES else f"{path}: {found}")
    where = REPOSITORIES if len(sources) == 1 else f"{REPOSITORIES} and repositories.d"
    if not repositories:
        return f"{where} names no http(s) repository"
    if all(r.tag for r in repositories):
        return f"{where} names only tagged repositories"
    keys: dict[str, bytes] = {}
    for folder in (KEYS_DIR, LIB_KEYS_DIR):
        for path, data in sorted(files.items()):
            if path.startswith(folder + "/"):
                keys.setdefault(path.rpartition("/")[2], data)
    branch = next((r.tail.split("/")[0] for r in repositories if r.tail and not r.tag), None)
    text = files.get(INSTALLED, b"").decode("utf-8", "replace")
    entries = tuple(parse_index(text, INSTALLED))
    notes += _script_times(entries)
    world = None
    held: list[tuple[str, str, str]] = []
    world_tags: list[tuple[str, str]] = []
    if WORLD in files:
        # One dependency a word (name, name@tag, name=version); conflicts (!name) keep nothing.
        dependencies = [
            parse_dependency(word)
            for word in files[WORLD].decode("utf-8", "replace").split()
            if not word.startswith("!")
        ]
        world = tuple(name.partition("@")[0] for name, _, _, _ in dependencies)
        held = [
            (name.partition("@")[0], op, version)
            for name, op, version, _ in dependencies
            if op is not None and version is not None and op != "><"
        ]
        world_tags = [
            (name, tag) for name, _, tag in (n.partition("@") for n, _, _, _ in dependencies) if tag
        ]
    return ApkConfig(
        "alpine",
        release,
        arch,
        branch,
        tuple(repositories),
        keys,
        _installed(entries),
        tuple(notes),
        entries,
        world,
        tuple(held),
        tuple(world_tags),
    )


def _script_times(entries: Iterable[Entry]) -> tuple[str, ...]:
    """A note if the image's apk writes the clock into its database at each install; else ()."""
    tools = next((e for e in entries if e.name == "apk-tools"), None)
    # apk-tools before 2.12.8 gave each entry of scripts.tar the clock as its time; later ones
    # give 0 or the package's build time (apk_db_scriptdb_write).
    if tools is None or not is_version(tools.version):
        return ()
    if parse_version(tools.version) >= parse_version(_SCRIPT_TIMES_FIXED):
        return ()
    return (
        f"apk-tools {tools.version} in the image writes the clock as the time of each package"
        f" script it keeps in {SCRIPTS_DB} ({_SCRIPT_TIMES_FIXED} and later do not): that file"
        " differs from build to build",
    )


def after_removal(
    entries: Sequence[Entry],
    removed: Iterable[str],
    world: Sequence[str] | None = None,
    rdepends: Iterable[str] = (),
) -> dict[str, str]:
    """What the installed database holds once `apk del` removed the names in removed.

    apk takes the names out of its world and keeps what the world left still needs: a removed
    package another one needs stays ("not removed due to"), an install_if package stays while
    what it is installed for is there, and what only the removed packages needed goes with them
    (apk-tools' del: the solver removes what no world dependency reaches). Without a world
    file, only the removed names go, unless needed. Names in rdepends (`apk del -r`) take the
    installed packages that depend on them along, in turn.
    """
    names = set(removed)
    # Indexed once, not scanned per name: a chain of an installed database's dependents was
    # quadratic in its length.
    by_name: dict[str, list[Entry]] = {}
    dependents: dict[str, list[str]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
        for depend in entry.depends:
            if not depend.startswith("!"):
                dependents.setdefault(parse_dependency(depend)[0], []).append(entry.name)
    queue = [n for n in rdepends if n in names]
    while queue:
        name = queue.pop()
        for entry in by_name.get(name, ()):
            for provided in (entry.name, *_provided(entry)):
                for dependent in dependents.get(provided, ()):
                    if dependent not in names:
                        names.add(dependent)
                        queue.append(dependent)
    if world is not None:
        reached = _reached(entries, [n for n in world if n not in names])
        return _installed(e for e in entries if e.name in reached)
    gone = {e.name: e for e in entries if e.name in names}
    while True:
        left = {n for e in entries if e.name not in gone for n in (e.name, *_provided(e))}
        needed = {
            name
            for e in entries
            if e.name not in gone
            for name, _, _, conflict in map(parse_dependency, e.depends)
            if not conflict
        }
        kept = [
            n
            for n, e in gone.items()
            if {n, *_provided(e)} & needed
            or (e.install_if and all(parse_dependency(c)[0] in left for c in e.install_if))
        ]
        if not kept:
            return _installed(e for e in entries if e.name not in gone)
        for name in kept:
            del gone[name]


def needs(entries: Sequence[Entry], words: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each word -> the names, and names provided, of the packages it needs down its dependencies.

    `apk del -r NAME` takes every installed package with a dependency NAME's package meets, and
    in turn those that depend on these (apk-tools' app_del.c delete_pkg walks reverse
    dependencies): a word goes when NAME is among its needs. Each name is met by the first of
    entries holding it (the word's closure first, then the installed database), as apk keeps
    one provider; a word no entry holds is left out (its needs are unknown).
    """
    holders: dict[str, Entry] = {}
    for entry in entries:
        holders.setdefault(entry.name, entry)
    for entry in entries:
        for name in _provided(entry):
            holders.setdefault(name, entry)
    found: dict[str, frozenset[str]] = {}
    for word in words:
        if word not in holders:
            continue
        names: set[str] = set()
        seen: set[str] = set()
        queue = [word]
        while queue:
            held = holders.get(queue.pop())
            if held is None or held.name in seen:
                continue
            seen.add(held.name)
            names.update((held.name, *_provided(held)))
            queue += [d[0] for d in map(parse_dependency, held.depends) if not d[3]]
        found[word] = frozenset(names)
    return found


def _reached(entries: Sequence[Entry], roots: Iterable[str]) -> set[str]:
    """The installed packages the names in roots need, down their dependencies, with the
    install_if packages whose conditions those meet (as ssl_client comes with busybox)."""
    providers: dict[str, list[Entry]] = {}
    # Each install_if package counts the names of its conditions not reached yet, and comes
    # when none is left (a rescan of every entry per round was quadratic in a chain's length).
    missing: list[int] = []
    waiting: dict[str, list[int]] = {}
    conditional = [entry for entry in entries if entry.install_if]
    for entry in entries:
        for name in (entry.name, *_provided(entry)):
            providers.setdefault(name, []).append(entry)
    for index, entry in enumerate(conditional):
        conditions = {parse_dependency(c)[0] for c in entry.install_if}
        missing.append(len(conditions))
        for name in conditions:
            waiting.setdefault(name, []).append(index)
    kept: set[str] = set()
    names: set[str] = set()
    queue = list(roots)
    while queue:
        for entry in providers.get(queue.pop(), []):
            if entry.name in kept:
                continue
            kept.add(entry.name)
            for name, _, _, conflict in map(parse_dependency, entry.depends):
                if not conflict:
                    queue.append(name)
            for name in {entry.name, *_provided(entry)} - names:
                names.add(name)
                for index in waiting.get(name, ()):
                    missing[index] -= 1
                    if not missing[index]:
                        queue.append(conditional[index].name)
    return kept


# --------------------------------------------------------------------------- signed indexes


def _gzip_members(data: bytes) -> tuple[bytes, bytes]:
    """The first gzip stream of data (decompressed, capped) and the raw bytes that follow it."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        first = decoder.decompress(data, MAX_SIGNATURE_TAR + 1)
    except zlib.error as e:
        raise MirrorError(f"not a gzip stream ({e})") from None
    if len(first) > MAX_SIGNATURE_TAR or not decoder.eof:
        raise MirrorError("no signature: the first gzip stream is not a small signature tar")
    return first, decoder.unused_data


def _signature_entry(tar: bytes) -> tuple[str, bytes] | None:
    """The first member of the signature tar: name and bytes (apk writes it without end blocks)."""
    if len(tar) < 512:
        return None
    header = tar[:512]
    name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
    try:
        size = int(header[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        return None
    if 512 + size > len(tar):
        return None
    return name, tar[512 : 512 + size]


def verify_index(data: bytes, keys: Mapping[str, bytes], source: str) -> bytes:
    """The signed index part of an APKINDEX.tar.gz, once its signature verifies with keys."""
    try:
        first, signed = _gzip_members(data)
    except MirrorError as e:
        raise MirrorError(f"{source}: {e}") from None
    entry = _signature_entry(first)
    if entry is None or not entry[0].startswith(".SIGN."):
        raise MirrorError(f"{source}: not signed (no .SIGN.RSA entry before the index)")
    name, signature = entry
    digest: hashes.HashAlgorithm
    if name.startswith(".SIGN.RSA256."):
        key_name, digest = name.removeprefix(".SIGN.RSA256."), hashes.SHA256()
    elif name.startswith(".SIGN.RSA."):
        # abuild-sign's signature: SHA-1, as every Alpine index has been signed since 2010.
        key_name, digest = name.removeprefix(".SIGN.RSA."), hashes.SHA1()
    else:
        raise MirrorError(f"{source}: signature {untrusted(name)!r} is of an unknown kind")
    key_data = keys.get(key_name)
    if key_data is None:
        raise MirrorError(
            f"{source}: signed with {untrusted(key_name)}, not a key in the image's /etc/apk/keys"
        )
    try:
        key = serialization.load_pem_public_key(key_data)
    except (ValueError, UnsupportedAlgorithm):
        raise MirrorError(f"{source}: /etc/apk/keys/{key_name} is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise MirrorError(f"{source}: /etc/apk/keys/{key_name} is not an RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise MirrorError(f"{source}: the signature by {key_name} does not verify") from None
    return signed


def index_text(signed: bytes, source: str) -> str:
    """The APKINDEX file of the signed part (a gzip tar of DESCRIPTION and APKINDEX)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(signed)) as stream:
            plain = stream.read(MAX_UNPACKED + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise MirrorError(f"{source}: the index is not a gzip stream ({e})") from None
    if len(plain) > MAX_UNPACKED:
        raise MirrorError(f"{source}: the index is over {MAX_UNPACKED >> 20} MiB unpacked")
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
            member = tar.getmember("APKINDEX")
            handle = tar.extractfile(member) if member.isreg() else None
            if handle is None:
                raise KeyError("APKINDEX")
            return handle.read().decode("utf-8", "replace")
    except KeyError:
        raise MirrorError(f"{source}: the archive holds no APKINDEX") from None
    except unpack.TAR_ERRORS as e:
        raise MirrorError(f"{source}: the index is not a tar archive ({e})") from None


# --------------------------------------------------------------------------- resolution


def parse_dependency(text: str) -> tuple[str, str | None, str | None, bool]:
    """A depends word: name, operator, version, and whether it is a conflict (`!name`)."""
    conflict = text.startswith("!")
    text = text.removeprefix("!")
    for op in _OPS:
        name, sep, version = text.partition(op)
        if sep and name:
            return name, op, version, conflict
    return text, None, None, conflict


def meets(version: str, dependency: str) -> bool:
    """Whether an apk version meets a dependency word's constraint (`zlib>1.2`)."""
    _, op, wanted, _ = parse_dependency(dependency)
    return satisfies(version, op, wanted)


class Universe:
    """Every package the repositories serve for one architecture, by name and by provided name."""

    def __init__(
        self, entries: Iterable[Entry], held: Mapping[str, tuple[str, str]] | None = None
    ) -> None:
        self.by_name: dict[str, list[Entry]] = {}
        self.providers: dict[str, list[tuple[Entry, str | None]]] = {}
        # Each install_if package with its conditions read once: every resolve pass weighs them.
        self.install_if: list[tuple[Entry, tuple[tuple[str, str | None, str | None], ...]]] = []
        # Builds the world's versioned dependencies rule out, by name -> the constraint.
        self.withheld: dict[str, str] = {}
        # Each name such a build has or provides -> the package name the world holds.
        self._withheld_by: dict[str, str] = {}
        for entry in entries:
            constraint = (held or {}).get(entry.name)
            if constraint is not None and not satisfies(entry.version, *constraint):
                self.withheld[entry.name] = "".join(constraint)
                for name in (entry.name, *_provided(entry)):
                    self._withheld_by.setdefault(name, entry.name)
                continue
            self.by_name.setdefault(entry.name, []).append(entry)
            for provided in entry.provides:
                name, eq, version = provided.partition("=")
                self.providers.setdefault(name, []).append((entry, version if eq else None))
            if entry.install_if:
                conditions = tuple(parse_dependency(c)[:3] for c in entry.install_if)
                self.install_if.append((entry, conditions))

    def best(
        self,
        name: str,
        op: str | None,
        version: str | None,
        tag: str | None = None,
        allowed: frozenset[str] = frozenset(),
    ) -> Entry | str:
        """The package apk picks for a name and constraint (tag: the word's), or why none."""
        # A tagged repository's packages count only for a word naming its tag, and for what the
        # word's packages depend on (allowed: the tags they inherit). A word prefers its tag's
        # repositories, a dependency the untagged ones (apk-tools' solver: tag_ok, then
        # tag_preferred, before the version).
        tags = {"", tag, *allowed}
        served = [e for e in self.by_name.get(name, []) if e.tag in tags]
        own = _preferred([e for e in served if satisfies(e.version, op, version)], tag or "")
        if own:
            return max(own, key=lambda e: parse_version(e.version))
        if served:
            versions = ", ".join(sorted({e.version for e in served}))
            return f"the repositories serve {versions}, not {op}{version}"
        providers = [
            (e, v)
            for e, v in self.providers.get(name, [])
            if e.tag in tags and (op is None or (v is not None and satisfies(v, op, version)))
        ]
        preferred = {e.tag for e in _preferred([e for e, _ in providers], tag or "")}
        providers = [(e, v) for e, v in providers if e.tag in preferred]
        if not providers and name in self._withheld_by:
            held = self._withheld_by[name]
            return f"{_HELD}{held}{self.withheld[held]}"
        if not providers:
            masked = sorted({f"@{e.tag}" for e in self.by_name.get(name, []) if e.tag not in tags})
            if masked:
                return f"{_MASKED}{masked[0]} ({name}{masked[0]})"
            return _NO_SUCH
        # apk's choice among providers: the highest provider_priority (k:), then the highest
        # provided version (so:libisl.so.23=0.25 over =0.24); unversioned ties are ambiguous.
        top = max(e.priority for e, _ in providers)
        providers = [(e, v) for e, v in providers if e.priority == top]
        versioned = [(e, v) for e, v in providers if v is not None and is_version(v)]
        if versioned:
            entry, _ = max(
                versioned, key=lambda p: (parse_version(p[1]), parse_version(p[0].version))
            )
            return entry
        names = {e.name for e, _ in providers}
        if len(names) > 1:
            return f"provided by several packages ({', '.join(sorted(names))}); none chosen"
        return max((e for e, _ in providers), key=lambda e: parse_version(e.version))


def _preferred(entries: list[Entry], tag: str) -> list[Entry]:
    """Those of entries from repositories of the given tag ("": untagged), or all if none is."""
    return [e for e in entries if e.tag == tag] or entries


def _newer(universe: Universe, installed: Entry, tag: str | None = None) -> Entry | None:
    """The newer build of an installed package the repositories serve (tag's first), if any."""
    best = universe.best(installed.name, None, None, tag, frozenset({tag}) if tag else frozenset())
    if not isinstance(best, Entry) or best.name != installed.name:
        return None
    return best if parse_version(best.version) > parse_version(installed.version) else None


def _provided(entry: Entry) -> list[str]:
    return [p.partition("=")[0] for p in entry.provides]


def _installed_satisfies(
    installed: Mapping[str, str], name: str, op: str | None, v: str | None
) -> bool:
    if name not in installed:
        return False
    have = installed[name]
    return op is None or (bool(have) and satisfies(have, op, v))


def conflict(entry: Entry, other: Entry) -> str | None:
    """Why apk cannot have entry and other installed together, or None.

    A `!name` dependency excludes what it names, and a name provided with a version is held by
    one package alone (apk-tools 2.12 refuses byacc with bison: both provide cmd:yacc=...).
    """
    if entry.name == other.name:
        return None
    for one, two in ((entry, other), (other, entry)):
        for dependency in one.depends:
            name, op, version, excluded = parse_dependency(dependency)
            if excluded and (
                (two.name == name and satisfies(two.version, op, version))
                or any(
                    n == name and (op is None or (bool(eq) and satisfies(v, op, version)))
                    for n, eq, v in (p.partition("=") for p in two.provides)
                )
            ):
                return f"{one.name} depends on {dependency}"
    held = [
        {e.name} | {n for n, eq, _ in (p.partition("=") for p in e.provides) if eq}
        for e in (entry, other)
    ]
    shared = sorted(held[0] & held[1])
    return f"both provide {shared[0]}" if shared else None


def _clashes(entries: Iterable[Entry], others: Iterable[Entry]) -> list[tuple[Entry, Entry, str]]:
    """The pairs of an entry and an other that conflict, with why: only those whose names meet
    are compared (a `!name` or a versioned provide of one among the other's names)."""
    holders: dict[str, list[Entry]] = {}
    for other in others:
        for name in {other.name, *_provided(other)}:
            holders.setdefault(name, []).append(other)
    found: dict[tuple[str, str], tuple[Entry, Entry, str]] = {}
    for entry in entries:
        claims = {entry.name, *(p.partition("=")[0] for p in entry.provides if "=" in p)}
        claims.update(parse_dependency(d)[0] for d in entry.depends if d.startswith("!"))
        for other in (o for name in claims for o in holders.get(name, [])):
            pair = (entry.name, other.name)
            if pair not in found and (why := conflict(entry, other)) is not None:
                found[pair] = (entry, other, why)
    return list(found.values())


def revisit(
    universe: Universe,
    base: Sequence[Entry],
    chosen: Mapping[str, Entry],
    current: dict[str, str],
    revisited: set[str],
    queue: list[tuple[str, str | None, str | None, str | None, bool]],
    take: Callable[[Entry], None],
) -> bool:
    """See to the installed packages a newer build of another leaves wanting; whether any was.

    A newer build may drop a name the installed one provided (busybox 1.35.0-r29 provides no
    /bin/sh, which alpine-baselayout needs: apk finds another provider), or no longer meet an
    installed package's versioned need or install_if (ssl_client's `busybox=1.35.0-r17`): apk
    moves that package to the branch's newer build, or takes an install_if one out where the
    newer build's conditions do not hold either (nothing to record).
    """
    replaced = [e for e in base if e.name in chosen and chosen[e.name].version != e.version]
    if not replaced:
        return False
    stay = [e for e in base if e.name in current and e.name not in chosen]
    held = {n for e in [*stay, *chosen.values()] for n in (e.name, *_provided(e))}
    lost = {n for e in replaced for n in _provided(e)} - held
    for name in lost:
        current.pop(name, None)
    affected = lost | {n for e in replaced for n in (e.name, *_provided(chosen[e.name]))}

    def met(name: str, op: str | None, version: str | None) -> bool:
        if name in chosen:
            return satisfies(chosen[name].version, op, version)
        if any(name in _provided(e) for e in chosen.values()):
            return op is None or any(
                p == f"{name}={v}" and satisfies(v, op, version)
                for e in chosen.values()
                for p in e.provides
                for v in [p.partition("=")[2]]
            )
        return _installed_satisfies(current, name, op, version)

    changed = False
    for entry in stay:
        if entry.name in revisited:
            continue
        needs = [parse_dependency(d)[:3] for d in entry.depends if not d.startswith("!")]
        wanting = [n for n in needs if n[0] in affected and not met(*n)]
        conditions = [parse_dependency(c)[:3] for c in entry.install_if]
        unmet = any(c[0] in affected and not met(*c) for c in conditions)
        if not (wanting or unmet):
            continue
        revisited.add(entry.name)
        changed = True
        newer = _newer(universe, entry)
        if unmet:
            if newer is not None and all(met(*parse_dependency(c)[:3]) for c in newer.install_if):
                take(newer)
        elif newer is not None and any(n[0] in chosen for n in wanting):
            take(newer)
        else:
            queue.extend((*n, entry.name, False) for n in wanting)
    return changed


def closure(
    universe: Universe,
    installed: Mapping[str, str],
    requests: Sequence[PackageArg],
    base: Sequence[Entry] = (),
    needed: Mapping[str, str] | None = None,
    forced: Mapping[str, tuple[Entry, frozenset[str]]] | None = None,
    world_tags: Mapping[str, str] | None = None,
) -> tuple[list[Entry], list[tuple[str, str]], list[str]]:
    """The packages apk installs for the requests, minus what is installed; misses; notes.

    base holds the installed packages: one the result conflicts with is replaced by the
    branch's newer build where that build does not conflict, as apk's solver upgrades it, and
    those a newer build of another leaves wanting are seen to (revisit). needed: names an
    installed package needs (name -> that package) that the installed ones no longer meet.
    forced: a word's package (and the tags it inherits) that another's dependency asks for.
    world_tags: the tag a world entry names (name -> tag), which an upgrade of it takes.
    """
    forced = forced or {}
    # Words another chosen package needs in a build the word's first choice is not.
    clash: dict[str, tuple[Entry, frozenset[str]]] = {}
    constraints = {r.name: r.constraint for r in requests}
    chosen: dict[str, Entry] = {}
    # What is installed, less the names an installed package's replaced build no longer provides.
    current = dict(installed)
    revisited: set[str] = set()
    provided: dict[str, str] = {}
    missing: list[tuple[str, str]] = []
    notes: list[str] = []
    # (name, operator, version, the package that needs it or None for a word, --upgrade)
    queue: list[tuple[str, str | None, str | None, str | None, bool]] = []
    # Packages whose dependencies were walked with --upgrade's preference for the newest.
    upgraded: set[str] = set()
    # The tags a word names (foo@testing), and those each chosen package's dependencies may
    # take packages from: a tagged word's, inherited down its dependencies.
    word_tags = {r.name: r.tag for r in requests if r.tag}
    tags_of: dict[str, frozenset[str]] = {}
    # Words only a tagged repository serves: apk takes them where a tagged word's package
    # depends on them (the tag is inherited), else refuses them.
    masked: list[tuple[str, str | None, str | None, str]] = []
    for request in requests:
        op = version = None
        if request.constraint:
            name, op, version, _ = parse_dependency(request.name + request.constraint)
        queue.append((request.name, op, version, None, request.upgrade))
    queue += [(name, None, None, by, False) for name, by in (needed or {}).items()]

    def have(name: str, op: str | None, version: str | None) -> bool:
        if name in chosen:
            return satisfies(chosen[name].version, op, version)
        if name in provided and op is None:
            return True
        return _installed_satisfies(current, name, op, version)

    def walk(entry: Entry, upgrade: bool) -> None:
        if upgrade:
            upgraded.add(entry.name)
        for dependency in entry.depends:
            name, op, version, conflict = parse_dependency(dependency)
            # A path (/bin/sh) is a name packages provide like any other: v3.17's busybox no
            # longer provides /bin/sh, busybox-binsh does, and apk installs it with the new busybox.
            if not conflict:
                queue.append((name, op, version, entry.name, upgrade))

    def take(entry: Entry, upgrade: bool = False, allowed: frozenset[str] = frozenset()) -> None:
        chosen[entry.name] = entry
        tags_of[entry.name] = tags_of.get(entry.name, frozenset()) | allowed
        for word in entry.provides:
            provided.setdefault(word.partition("=")[0], entry.name)
        walk(entry, upgrade)

    while True:
        while queue:
            name, op, version, wanted_by, upgrade = queue.pop(0)
            tag = word_tags.get(name) if wanted_by is None else None
            allowed = frozenset({tag}) if tag else tags_of.get(wanted_by or "", frozenset())
            if wanted_by is None and name in forced and name not in chosen:
                take(forced[name][0], upgrade, forced[name][1])
                continue
            if tag is not None:
                # apk prefers the tag's repositories over what is installed for such a word.
                found = universe.best(name, op, version, tag, allowed)
                if isinstance(found, Entry) and found.tag == tag and found.name not in chosen:
                    if current.get(found.name) == found.version:
                        missing.append((name, f"{KEPT}{found.version}"))
                    else:
                        take(found, upgrade, allowed)
                    continue
            if upgrade:
                # apk add --upgrade: the newest build wins over an installed older one, for the
                # word and down its dependencies, installed or not; a tagged world entry's
                # from its tag (apk prefers the entry's pinning).
                found = universe.best(name, op, version, tag, allowed)
                # The provider's own name carries the entry (so:libz.so.1 -> zlib@testing).
                pin = (world_tags or {}).get(found.name) if isinstance(found, Entry) else None
                if pin and wanted_by is not None:
                    found = universe.best(name, op, version, pin, allowed | {pin})
                if isinstance(found, Entry) and found.name in chosen:
                    if found.name not in upgraded:
                        walk(chosen[found.name], True)
                    continue
                have_version = current.get(found.name) if isinstance(found, Entry) else None
                if isinstance(found, Entry) and have_version:
                    if found.name in upgraded:
                        continue
                    if parse_version(found.version) > parse_version(have_version):
                        take(found, True, allowed)
                    else:
                        walk(found, True)
                        if wanted_by is None:
                            missing.append((name, f"{KEPT}{have_version}"))
                    continue
                if isinstance(found, Entry) and found.name not in current:
                    # Upgrading, apk takes the best provider of a name over an installed package
                    # that provides it too (busybox-binsh's /bin/sh over 3.16's busybox's).
                    take(found, True, allowed)
                    continue
            if wanted_by is not None and have(name, op, version):
                continue
            if wanted_by is None and name in chosen:
                continue
            if wanted_by is None and name in current and have(name, op, version):
                # apk keeps an installed package that meets the word: nothing new to record.
                kept = current[name] or "installed"
                missing.append((name, f"{KEPT}{kept}"))
                continue
            found = universe.best(name, op, version, tag, allowed)
            if isinstance(found, str):
                if wanted_by is None and found.startswith(_MASKED):
                    masked.append((name, op, version, found))
                elif wanted_by is None:
                    missing.append((name, found))
                elif found.startswith(_HELD):
                    # apk cannot meet the need within the world's constraints: it refuses.
                    missing.append((name, f"needed by {wanted_by}, but {found}"))
                else:
                    notes.append(f"{name} (needed by {wanted_by}): {found}")
                continue
            if wanted_by is None and found.name != name:
                notes.append(f"{name}: provided by {found.name}; no version written for {name}")
            if found.name not in chosen:
                take(found, upgrade, allowed)
            elif (
                found.name in constraints
                and found.name not in forced
                and found != chosen[found.name]
            ):
                # `apk add libcurl curl@testing`: curl@testing needs testing's libcurl, which
                # the word allows (the tag is inherited): apk installs that build for both.
                word_op = word_version = None
                if constraints[found.name]:
                    _, word_op, word_version, _ = parse_dependency(
                        found.name + (constraints[found.name] or "")
                    )
                if satisfies(found.version, word_op, word_version):
                    clash.setdefault(found.name, (found, allowed))
        # install_if: a package whose every condition the result meets comes along (apk(8)).
        extra = [
            e
            for e, conditions in universe.install_if
            if not e.tag
            and e.name not in chosen
            and e.name not in current
            and any(name in chosen for name, _, _ in conditions)
            and all(have(*condition) for condition in conditions)
        ]
        for entry in extra:
            if entry.name not in chosen:
                best = universe.best(entry.name, None, None)
                take(best if isinstance(best, Entry) else entry)
        if extra:
            continue
        replaced = False
        stay = [e for e in base if e.name in current and e.name not in chosen]
        for entry, old, why in _clashes(chosen.values(), stay):
            newer = _newer(universe, old)
            if (
                newer is not None
                and newer.name not in chosen
                and all(conflict(newer, e) is None for e in chosen.values())
            ):
                take(newer)
                replaced = True
            elif old.name not in chosen:
                # apk may take it out if nothing needs it, or refuse: not guessed here.
                note = f"{entry.name} conflicts with the installed {old.name}: {why}"
                notes += [note] if note not in notes else []
        if not (replaced or revisit(universe, base, chosen, current, revisited, queue, take)):
            break
    if clash:
        # Chosen again from the start with those builds: the first choice's dependencies go.
        again = {**forced, **clash}
        return closure(universe, installed, requests, base, needed, again, world_tags)
    missing += [(name, why) for name, op, version, why in masked if not have(name, op, version)]
    for entry, other, why in _clashes(chosen.values(), chosen.values())[:1]:
        # apk refuses the whole command ("unable to select packages").
        missing.append((entry.name, f"conflicts with {other.name}: {why}"))
    return list(chosen.values()), missing, notes


def _by_repositories(requests: Iterable[PackageArg]) -> dict[tuple[str, ...], list[PackageArg]]:
    """The words by the repositories their command adds: an `apk add --repository` command's
    words resolve with its repositories too."""
    groups: dict[tuple[str, ...], list[PackageArg]] = {}
    for request in requests:
        groups.setdefault(request.repositories, []).append(request)
    return groups


def _tags(requests: Iterable[PackageArg]) -> set[str]:
    """The repository tags the words name."""
    return {r.tag for r in requests if r.tag}


def _relinked(
    universe: Universe, staying: Sequence[Entry], removed: Iterable[str]
) -> dict[str, str]:
    """Names a package `apk del` named but others keep provides, that others need, and that a
    better provider serves (name -> a package needing it).

    Out of the world, the package stays only for what needs it: where nothing needs it by its
    own name, apk takes the best provider of each name it provided (`apk del busybox`:
    busybox-binsh's /bin/sh, which alpine-baselayout needs, with busybox's newer build).
    """
    found: dict[str, str] = {}
    for entry in staying:
        if entry.name not in removed:
            continue
        needed_by = {
            parse_dependency(d)[0]: other.name
            for other in staying
            if other.name != entry.name
            for d in other.depends
            if not d.startswith("!")
        }
        if entry.name in needed_by:
            continue
        for name in _provided(entry):
            best = universe.best(name, None, None)
            if name in needed_by and isinstance(best, Entry) and best.name != entry.name:
                found[name] = needed_by[name]
    return found


def _by_removed(
    requests: Iterable[PackageArg], installed_on: Iterable[tuple[str, frozenset[str]]]
) -> dict[frozenset[str], list[PackageArg]]:
    """The words installed before a removal by the names removals had taken when they went in."""
    gone = dict(installed_on)
    groups: dict[frozenset[str], list[PackageArg]] = {}
    for request in requests:
        if request.name in gone:
            groups.setdefault(gone[request.name], []).append(request)
    return groups


def _filename(entry: Entry, arch: str, tail: str) -> str:
    apk = f"{entry.name}-{entry.version}.apk"
    return f"{tail}/{arch}/{apk}" if tail else apk


def locked(entry: Entry, arch: str, tail: str) -> LockedPackage:
    """The lock's record of an index entry."""
    if not _CHECKSUM_RE.fullmatch(entry.checksum):
        raise ValueError(f"{entry.name}: checksum {untrusted(entry.checksum)!r} is not Q1 sha1")
    return LockedPackage(
        entry.name, arch, entry.version, "", _filename(entry, arch, tail), checksum=entry.checksum
    )


def checked(package: LockedPackage) -> LockedPackage:
    """A locked apk package whose every field is what an APKINDEX could say."""
    where = f"package {untrusted(package.name)!r}"
    if not _NAME_RE.fullmatch(package.name):
        raise ValueError(f"{where}: not an apk package name")
    if not _ARCH_RE.fullmatch(package.architecture):
        raise ValueError(f"{where}: architecture {untrusted(package.architecture)!r} is not valid")
    if not is_version(package.version):
        raise ValueError(f"{where}: version {untrusted(package.version)!r} is not an apk version")
    if package.checksum is None or not _CHECKSUM_RE.fullmatch(package.checksum):
        raise ValueError(f"{where}: checksum is not an APKINDEX Q1 checksum")
    if package.sha256:
        raise ValueError(f"{where}: an APKINDEX records no sha256")
    if not is_relative_file(package.filename, _FILENAME_RE):
        raise ValueError(f"{where}: filename {untrusted(package.filename)!r} is not an apk path")
    return package


class Apk:
    """apk, as pinner.managers.Manager."""

    name = NAME
    programs = frozenset({"apk"})
    image_paths = IMAGE_PATHS
    snapshots = False
    snapshot_on_request = False
    version_pins = True
    # Language images (python:alpine) install their own packages in upper layers.
    reads_every_layer = True
    unpins_after_changes = True
    # What a tree copied to / or /etc may hold (COPY rootfs/ /).
    copied_paths = (REPOSITORIES, *REPOSITORIES_DIRS)
    step_paths = ()
    step_unserved = None
    appended_repositories = staticmethod(appended_repositories)

    def __init__(self) -> None:
        # One run (one fetch's client) reads a repository's index once per architecture, whatever
        # the stages; the next run reads it again, since a branch's index changes.
        self._indexes: weakref.WeakKeyDictionary[
            object, dict[tuple[str, str, str], list[Entry]]
        ] = weakref.WeakKeyDictionary()
        # The universe of each set of indexes and world holds, built once per run: a stage's
        # apk commands, and each stage of the same base, resolve against the same one.
        self._universes: weakref.WeakKeyDictionary[
            object, dict[tuple[tuple[tuple[str, str, str], ...], tuple[object, ...]], Universe]
        ] = weakref.WeakKeyDictionary()

    def platform(self, arch: str) -> str | None:
        return next((p for p, a in APK_ARCH.items() if a == arch), None)

    installs = staticmethod(read_install)
    removes = staticmethod(read_removal)
    configure = staticmethod(configure)

    async def _universe(
        self,
        fetch: Fetch,
        config: ApkConfig,
        mirrors: Mapping[str, str],
        extra: Sequence[str] = (),
        tags: Iterable[str] = (),
        held: Mapping[str, tuple[str, str]] | None = None,
    ) -> Universe:
        """Every untagged repository's verified index for config's arch, those of extra lines
        (`apk add -X URL`, `@tag URL` a RUN appends) and of the repositories of the given tags."""
        mirror = mirrors.get(MIRROR)
        read: list[tuple[str, str, str]] = []
        keys = hashlib.sha256(repr(sorted(config.keys.items())).encode()).hexdigest()
        owner = getattr(fetch, "__self__", fetch)
        indexes = self._indexes.setdefault(owner, {})
        added = [r for u in extra if isinstance(r := repository_line(u), Repository)]
        wanted = set(tags)
        for repository in [*config.repositories, *added]:
            if repository.tag and repository.tag not in wanted:
                continue  # read only for words naming its tag
            fetch_url = repository.fetch_url
            if mirror and repository.tail:
                fetch_url = f"{mirror.rstrip('/')}/{repository.tail}"
            url = f"{fetch_url}/{config.arch}/APKINDEX.tar.gz"
            key = (url, keys, repository.tag)
            if key not in indexes:
                source = f"{repository.url} ({config.arch}) APKINDEX"
                data = await fetch(url, source, MAX_INDEX_BYTES)
                signed = verify_index(data, config.keys, source)
                text = index_text(signed, source)
                indexes[key] = parse_index(text, source, repository.tail, repository.tag)
            read.append(key)
        universes = self._universes.setdefault(owner, {})
        built = (tuple(read), tuple(sorted((held or {}).items())))
        if built not in universes:
            universes[built] = Universe([e for key in read for e in indexes[key]], held)
        return universes[built]

    async def resolve(
        self, source: managers.Source, requests: Sequence[PackageArg], mode: managers.Mode
    ) -> Resolved:
        fetch, image, mirrors = source
        refresh = mode.refresh
        config = own(image, ApkConfig)
        # Each name once, as apk's world keeps it: words read as one command's, where the later
        # replaces the earlier (lock merges a stage's commands before this).
        merged: dict[str, PackageArg] = {}
        for request in requests:
            merged[request.name] = managers.merged_word(
                NAME, merged.get(request.name), request, same_command=True
            )
        requests = list(merged.values())
        defined = {r.tag for r in config.repositories}
        named_words = {r.name for r in requests}
        for request in requests:
            lines = [repository_line(line) for line in request.repositories]
            tags = defined | {r.tag for r in lines if isinstance(r, Repository)}
            if request.tag and request.tag not in tags:
                # apk-tools refuses to commit: "missing repository tags" (apk_db_check_world).
                raise PackageError(
                    request.name,
                    f"{request.name}@{request.tag}: no repository is tagged @{request.tag}"
                    f" in {REPOSITORIES}; apk refuses the command",
                )
        # The world's own tagged entries must name a tag too, or apk commits nothing.
        appended = {
            r.tag
            for q in requests
            for r in map(repository_line, q.repositories)
            if isinstance(r, Repository)
        }
        for name, tag in config.world_tags:
            if tag not in defined | appended:
                raise PackageError(
                    name,
                    f"the base image's {WORLD} asks for {name}@{tag}, but no repository is tagged"
                    f" @{tag} in {REPOSITORIES}; apk refuses every command",
                )
        # A world entry naming a tag keeps its package on that tag's repositories: where apk
        # upgrades it (apk upgrade, apk add -u down to it), it takes that tag's newest build.
        world_tag = {name: tag for name, tag in config.world_tags if name not in {*named_words}}
        upgrading = mode.upgrade or any(r.upgrade for r in requests)
        world_tags = set(world_tag.values()) if upgrading else set()
        wanted = [
            r._replace(constraint=None) if refresh and (r.constraint or "").startswith("=") else r
            for r in requests
        ]
        # apk add NAME replaces the world's entry for NAME: the others' constraints hold.
        named = named_words
        holds = {n: (op, v) for n, op, v in config.held if n not in named}
        entries: list[Entry] = []
        missing: list[tuple[str, str]] = []
        notes: list[str] = []
        installed = config.installed
        orphaned: list[PackageArg] = []
        # Names a removed package provided that others need, now from another provider.
        relinked: dict[str, str] = {}
        removed = mode.removed
        if removed.names:
            # The words installed before a removal joined apk's world: it keeps their packages,
            # and the base packages those need ("not removed due to"), named in the removal or
            # not, that were there when the word went in.
            world = config.world
            if world is not None:
                world = (*world, *sorted(removed.installed_before))
            held = [*config.entries]
            # A base package gone when a word went in stays gone: the word fetched the branch's.
            went: set[str] = set()
            for names, earlier in _by_removed(wanted, removed.installed_on).items():
                then = config.installed
                if names:
                    cascaded = removed.cascaded & names
                    then = after_removal(config.entries, names, world, cascaded)
                    went.update(e.name for e in config.entries if e.name not in then)
                base = [e for e in config.entries if e.name in then]
                for extra, group in _by_repositories(earlier).items():
                    universe = await self._universe(
                        fetch, config, mirrors, extra, _tags(group), holds
                    )
                    held += closure(universe, then, group, base)[0]
            left = after_removal(held, removed.names, world, removed.cascaded)
            installed = _installed(
                e for e in config.entries if e.name in left and e.name not in went
            )
            # A word naming a base package the removal left without a reason to stay: apk
            # installs the branch's build if the word came after every removal; one before a
            # removal (with no world file to say what it keeps) is not guessed.
            gone = {e.name for e in config.entries if e.name not in installed} - removed.names
            orphaned = [r for r in wanted if r.name in gone and r.name in removed.installed_before]
            wanted = [r for r in wanted if r not in orphaned]
            universe = await self._universe(fetch, config, mirrors, held=holds)
            staying = [e for e in held if e.name in left]
            relinked = _relinked(universe, staying, removed.names)
            installed = {k: v for k, v in installed.items() if k not in relinked}
        if mode.upgrade:
            # apk upgrade replaces each installed package the repositories serve newer: those
            # are resolved as words, with what their new builds depend on.
            universe = await self._universe(fetch, config, mirrors, (), world_tags, holds)
            newer = [
                e
                for e in config.entries
                if e.name in installed and _newer(universe, e, world_tag.get(e.name)) is not None
            ]
            stale = {name for e in newer for name in (e.name, *_provided(e))}
            installed = {k: v for k, v in installed.items() if k not in stale}
            named = {w.name for w in wanted}
            # An install_if package moves with what it is installed for (revisit), not by
            # itself: ssl_client's newer build comes only where busybox's does.
            wanted += [
                PackageArg(e.name, None, 0, 0, tag=world_tag.get(e.name))
                for e in newer
                if e.name not in named and not e.install_if
            ]
        for extra, group in _by_repositories(wanted).items():
            tags = _tags(group) | world_tags
            universe = await self._universe(fetch, config, mirrors, extra, tags, holds)
            base = [e for e in config.entries if e.name in installed]
            found, lacking, said = closure(
                universe, installed, group, base, relinked, world_tags=world_tag
            )
            entries += [e for e in found if e.name not in {x.name for x in entries}]
            missing += lacking
            notes += said
        kept = [(n, why) for n, why in missing if why.startswith(KEPT)]
        missing = [(n, why) for n, why in missing if not why.startswith(KEPT)]
        if missing:
            name, why = missing[0]
            word = next((r for r in requests if r.name == name), None)
            at = f"@{word.tag}" if word and word.tag else ""
            shown = name + at + (word.constraint or "") if word else name
            tagged = sorted({f"@{t}" for t in defined | appended if t})
            if word and not word.tag and why == _NO_SUCH and tagged:
                # Their indexes were not read for this word: apk takes nothing from them for it.
                why += f" (the tagged {', '.join(tagged)} serve only words naming their tag)"
            raise PackageError(name, f"{shown}: {why} ({config.branch or 'alpine'} {config.arch})")
        unpinned = tuple(
            UnpinnedPackage(n, f"not pinned: {why}; apk keeps it", config.arch) for n, why in kept
        ) + tuple(
            UnpinnedPackage(
                r.name,
                "not pinned: a removal leaves this base image package unneeded; apk keeps its"
                " build only if this word came before the removal",
                config.arch,
            )
            for r in orphaned
        )
        packages = []
        for entry in sorted(entries, key=lambda e: e.name):
            try:
                packages.append(locked(entry, config.arch, entry.repository))
            except ValueError as e:
                raise PackageError(entry.name, f"APKINDEX: {e}") from None
        return Resolved(
            tuple(packages),
            unpinned=unpinned,
            notes=(*config.notes, *notes),
            signature=SIGNATURE_VERIFIED,
            rebuildable=False,
        )

    async def unserved(
        self, source: managers.Source, packages: Sequence[LockedPackage]
    ) -> list[str]:
        fetch, image, mirrors = source
        config = own(image, ApkConfig)
        # Packages locked from a repository an `apk add --repository` named, or a RUN appended
        # with a tag: the same mirror; those from the image's tagged ones: that repository.
        tails = {p.filename.rsplit("/", 2)[0] for p in packages if p.filename.count("/") >= 2}
        # A file name with no folder comes from a repository outside Alpine's layout, tagged
        # ones included.
        loose = any("/" not in p.filename for p in packages)
        tags = {
            r.tag
            for r in config.repositories
            if r.tag and (r.tail in tails or (loose and not r.tail))
        }
        known = {r.tail for r in config.repositories if not r.tag or r.tag in tags}
        base = next((r.url[: -len(r.tail)] for r in config.repositories if r.tail), "")
        extra = [f"{base}{t}" for t in sorted(tails - known) if base]
        universe = await self._universe(fetch, config, mirrors, extra, tags)
        lines = []
        for package in packages:
            if package.architecture != config.arch:
                continue
            served = [e for e in universe.by_name.get(package.name, [])]
            if any(e.version == package.version and e.checksum == package.checksum for e in served):
                continue
            now = ", ".join(sorted({e.version for e in served})) or "nothing"
            lines.append(
                f"{package.name}={package.version} ({package.architecture}): no longer served"
                f" by {config.branch or 'the repositories'} (it serves {now}); run pinner update"
            )
        return lines

    async def requires(
        self, source: managers.Source, requests: Sequence[PackageArg], mode: managers.Mode
    ) -> dict[str, frozenset[str]]:
        fetch, image, mirrors = source
        config = own(image, ApkConfig)
        found: dict[str, frozenset[str]] = {}
        for extra, group in _by_repositories(requests).items():
            universe = await self._universe(fetch, config, mirrors, extra, _tags(group))
            chosen, _, _ = closure(universe, config.installed, group)
            found.update(needs([*chosen, *config.entries], [r.name for r in group]))
        return found

    def step(
        self, config: ImageConfig, snapshot: str, mirrors: Mapping[str, str]
    ) -> tuple[str, ...] | str | None:
        return None  # Alpine keeps no dated snapshots

    config_changes = staticmethod(config_changes)

    def takes_pins(self, invocation: Invocation, word: str) -> bool:
        # apk del matches its words as names (apk-tools 2.12 del_main:
        # apk_name_foreach_matching), so `curl=8.5.0-r0` is no package there.
        return False

    def pin_word(self, name: str, version: str) -> str:
        # name may carry the word's tag (foo@testing): apk reads `foo@testing=1.2-r0`.
        if not re.fullmatch(f"{_NAME}(?:@{_TAG_RE.pattern})?", name) or not is_version(version):
            raise ValueError(f"{name}={version} is not an apk package word")
        return f"{name}={version}"

    def cleanup(
        self, run_text: str, invocations: Sequence[Invocation], system: managers.System
    ) -> str | None:
        braces = expands_braces(system.shell, False)
        cleans = needs_cleanup(invocations, run_text, system.mounts, braces)
        return CACHE_CLEANUP if cleans else None

    checked = staticmethod(checked)


MANAGER: Manager = Apk()
