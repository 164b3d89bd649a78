"""Arch Linux package metadata: vercmp, desc files, repository databases, dependency closure.

Pure: bytes in, values out. The formats are libalpm's (alpm-repo-db(7), alpm-repo-desc(5)); the
version order is pacman's `vercmp` (lib/libalpm/version.c), which tests compare with the real
`vercmp` program.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from pinner import unpack
from pinner.managers import globmatch

# --------------------------------------------------------------------------- vercmp


def _isdigit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _isalpha(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def _isalnum(ch: str) -> bool:
    return _isdigit(ch) or _isalpha(ch)


def rpmvercmp(a: str, b: str) -> int:
    """libalpm's rpmvercmp: -1, 0 or 1 as version a is older, equal or newer than b."""
    if a == b:
        return 0
    one = ptr1 = two = ptr2 = 0
    while one < len(a) and two < len(b):
        while one < len(a) and not _isalnum(a[one]):
            one += 1
        while two < len(b) and not _isalnum(b[two]):
            two += 1
        if one >= len(a) or two >= len(b):
            break
        # Separator runs of different length decide (1.0 < 1..0), as in libalpm.
        if one - ptr1 != two - ptr2:
            return -1 if one - ptr1 < two - ptr2 else 1
        ptr1, ptr2 = one, two
        kind = _isdigit if _isdigit(a[ptr1]) else _isalpha
        while ptr1 < len(a) and kind(a[ptr1]):
            ptr1 += 1
        while ptr2 < len(b) and kind(b[ptr2]):
            ptr2 += 1
        if ptr2 == two:
            # Segments of different kinds: numeric is newer than alpha.
            return 1 if kind is _isdigit else -1
        seg1, seg2 = a[one:ptr1], b[two:ptr2]
        if kind is _isdigit:
            seg1, seg2 = seg1.lstrip("0"), seg2.lstrip("0")
            if len(seg1) != len(seg2):
                return 1 if len(seg1) > len(seg2) else -1
        if seg1 != seg2:
            return 1 if seg1 > seg2 else -1
        one, two = ptr1, ptr2
    rest1, rest2 = a[one:], b[two:]
    if not rest1 and not rest2:
        return 0
    # A remaining alpha part never beats an empty string (1.0a < 1.0 < 1.0.1).
    if (not rest1 and not _isalpha(rest2[:1] or " ")) or _isalpha(rest1[:1] or " "):
        return -1
    return 1


def _evr(version: str) -> tuple[str, str, str | None]:
    """Split [epoch:]version[-release] as libalpm's parseEVR does."""
    digits = 0
    while digits < len(version) and _isdigit(version[digits]):
        digits += 1
    epoch, rest = "0", version
    if version[digits : digits + 1] == ":":
        epoch, rest = version[:digits] or "0", version[digits + 1 :]
    head, dash, release = rest.rpartition("-")
    if not dash:
        return epoch, rest, None
    return epoch, head, release


def vercmp(a: str, b: str) -> int:
    """pacman's vercmp: -1, 0 or 1 as a is older, equal or newer than b."""
    if a == b:
        return 0
    epoch1, version1, release1 = _evr(a)
    epoch2, version2, release2 = _evr(b)
    result = rpmvercmp(epoch1, epoch2)
    if result == 0:
        result = rpmvercmp(version1, version2)
        if result == 0 and release1 is not None and release2 is not None:
            result = rpmvercmp(release1, release2)
    return result


# --------------------------------------------------------------------------- dependencies


class Depend(NamedTuple):
    """A dependency or provision: name, comparison ("" for any version) and version."""

    name: str
    op: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.version}"


# Names may carry a prefix since pacman 7's soname provisions: `lib:libc.so.6`.
_DEPEND = re.compile(r"(?P<name>[A-Za-z0-9@._+:-]+)(?:(?P<op><=|>=|<|>|=)(?P<version>[^\s<>=]+))?")


def parse_depend(text: str) -> Depend | None:
    """A depend or provide string (`glibc>=2.38`, `sh`, `libfoo.so=1-64`); None if malformed."""
    match = _DEPEND.fullmatch(text.strip())
    if match is None:
        return None
    return Depend(match["name"], match["op"] or "", match["version"] or "")


def _version_matches(version: str, op: str, wanted: str) -> bool:
    order = vercmp(version, wanted)
    return {
        "=": order == 0,
        ">=": order >= 0,
        "<=": order <= 0,
        ">": order > 0,
        "<": order < 0,
    }[op]


# --------------------------------------------------------------------------- desc files


class Package(NamedTuple):
    """One package of a repository database or of the image's local database."""

    name: str
    version: str
    arch: str
    filename: str = ""
    sha256: str = ""
    depends: tuple[Depend, ...] = ()
    provides: tuple[Depend, ...] = ()
    groups: tuple[str, ...] = ()
    # Installed packages this one takes the place of on `pacman -Su` (%REPLACES%).
    replaces: tuple[Depend, ...] = ()
    # A local database's %REASON%: 1 for a package installed as a dependency.
    dependency: bool = False

    def satisfies(self, depend: Depend) -> bool:
        """Whether this package meets depend, by its own name and version or by a provision."""
        if self.name == depend.name:
            return not depend.op or _version_matches(self.version, depend.op, depend.version)
        for provide in self.provides:
            if provide.name != depend.name:
                continue
            if not depend.op:
                return True
            # An unversioned provision meets only an unversioned dependency (libalpm).
            if provide.op == "=" and _version_matches(provide.version, depend.op, depend.version):
                return True
        return False


class DescError(ValueError):
    """A desc file or database pinner will not read; the message says what is wrong."""


_NAME = re.compile(r"[a-z0-9@_+][a-z0-9@._+-]*")
_VERSION = re.compile(r"(?:[0-9]+:)?[A-Za-z0-9._+~]+-[0-9]+(?:\.[0-9]+)?")
_ARCH = re.compile(r"[A-Za-z0-9_]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILENAME = re.compile(r"[A-Za-z0-9@_+][A-Za-z0-9@._+:-]*\.pkg\.tar(?:\.[a-z0-9]+)?")
# A lock's filename: the path under the archive's day (`core/os/x86_64/<file>`); locks written
# before the repository was recorded hold the file alone.
_LOCKED_FILENAME = re.compile(r"(?:[a-z0-9][a-z0-9@._+-]*/os/[A-Za-z0-9_]+/)?" + _FILENAME.pattern)
_FIELD = re.compile(r"%[A-Z0-9]+%")


def valid_fields(name: str, version: str, sha256: str, filename: str) -> bool:
    """Whether a lock's package fields are what a sync database could say (a lock is input too)."""
    return bool(
        _NAME.fullmatch(name)
        and _VERSION.fullmatch(version)
        and _SHA256.fullmatch(sha256)
        and _LOCKED_FILENAME.fullmatch(filename)
    )


def desc_fields(text: str) -> dict[str, tuple[str, ...]]:
    """The fields of a desc file: `%NAME%` followed by value lines, blocks split by blank lines."""
    fields: dict[str, tuple[str, ...]] = {}
    key: str | None = None
    values: list[str] = []
    for line in [*text.split("\n"), ""]:
        if key is None:
            if _FIELD.fullmatch(line):
                key, values = line, []
            elif line.strip():
                raise DescError(f"value outside a field: {line[:40]!r}")
        elif line:
            values.append(line)
        else:
            if key in fields:
                raise DescError(f"{key} appears twice")
            fields[key] = tuple(values)
            key = None
    return fields


def _one(fields: Mapping[str, tuple[str, ...]], key: str, pattern: re.Pattern[str]) -> str:
    values = fields.get(key, ())
    if len(values) != 1 or not pattern.fullmatch(values[0]):
        shown = values[0][:60] if values else "missing"
        raise DescError(f"{key} {shown!r} is not valid")
    return values[0]


def _depends(fields: Mapping[str, tuple[str, ...]], key: str) -> tuple[Depend, ...]:
    found = []
    for text in fields.get(key, ()):
        depend = parse_depend(text)
        if depend is None:
            raise DescError(f"{key} {text[:60]!r} is not valid")
        found.append(depend)
    return tuple(found)


def parse_desc(text: str, *, sync: bool = True) -> Package:
    """A package from a desc file; a sync database's must name its file and checksum."""
    fields = desc_fields(text)
    name = _one(fields, "%NAME%", _NAME)
    version = _one(fields, "%VERSION%", _VERSION)
    arch = _one(fields, "%ARCH%", _ARCH) if sync or "%ARCH%" in fields else ""
    filename = _one(fields, "%FILENAME%", _FILENAME) if sync else ""
    sha256 = _one(fields, "%SHA256SUM%", _SHA256) if sync else ""
    groups = fields.get("%GROUPS%", ())
    if not all(_NAME.fullmatch(group) for group in groups):
        raise DescError("%GROUPS% is not valid")
    return Package(
        name,
        version,
        arch,
        filename,
        sha256,
        _depends(fields, "%DEPENDS%"),
        _depends(fields, "%PROVIDES%"),
        groups,
        _depends(fields, "%REPLACES%"),
        fields.get("%REASON%", ("0",))[:1] == ("1",),
    )


# --------------------------------------------------------------------------- databases

# The caps on what one database may unpack to: core and extra hold about 15,000 packages with a
# desc of 1-3 KiB each.
MAX_DATABASE = 256 * 1024 * 1024
MAX_DESC = 256 * 1024
MAX_MEMBERS = 200_000


def _decompress(data: bytes, limit: int) -> bytes:
    """The tar inside a database: gzip, xz, bzip2, zstd or none (repo-add writes any of them)."""
    kind = unpack.kind_of(data)
    if not kind and not (data[257:262] == b"ustar" or not data):
        raise DescError("not a tar archive (gzip, xz, bzip2, zstd or plain)")
    try:
        return unpack.unpack(data, kind, limit)
    except unpack.UnpackError as error:
        raise DescError(str(error)) from None


def parse_database(data: bytes) -> dict[str, Package]:
    """The packages of a sync database (`core.db`), by name."""
    raw = _decompress(data, MAX_DATABASE)
    packages: dict[str, Package] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            for count, member in enumerate(archive, start=1):
                if count > MAX_MEMBERS:
                    raise DescError(f"more than {MAX_MEMBERS} entries")
                entry, _, leaf = member.name.partition("/")
                if leaf != "desc":
                    continue
                if not member.isfile() or member.size > MAX_DESC:
                    raise DescError(f"{member.name[:80]!r}: not a desc file pinner reads")
                stream = archive.extractfile(member)
                body = stream.read() if stream is not None else b""
                try:
                    package = parse_desc(body.decode("utf-8"))
                except (UnicodeDecodeError, DescError) as error:
                    raise DescError(f"{entry[:80]!r}: {error}") from None
                if entry != f"{package.name}-{package.version}":
                    raise DescError(f"{entry[:80]!r}: names {package.name} {package.version}")
                if package.name in packages:
                    raise DescError(f"{package.name} appears twice")
                packages[package.name] = package
    except DescError:
        raise
    except unpack.TAR_ERRORS as error:
        raise DescError(f"not a readable tar archive: {error}") from None
    return packages


# --------------------------------------------------------------------------- resolution


class Repository(NamedTuple):
    """A sync database as pacman searches it: its name and packages."""

    name: str
    packages: Mapping[str, Package]


class Missing(NamedTuple):
    """A target or dependency no repository serves: as written (`core/glibc`, `so>=1:2`), why."""

    name: str
    why: str


class Resolution(NamedTuple):
    """What `pacman -S` would fetch: packages in install order, each with its repository."""

    packages: tuple[tuple[str, Package], ...]
    missing: tuple[Missing, ...]


def _find(
    repos: Sequence[Repository],
    depend: Depend,
    installed: Container[str] = (),
    excluding: Container[str] = (),
    ignore: Ignore | None = None,
) -> tuple[str, Package] | None:
    """The package pacman picks for a dependency or target, as libalpm's resolvedep.

    A package of that name that meets it, in repository order; else, of the providers in
    repository order and each repository's in name order (libalpm sorts its package cache), the
    first whose name is installed, else the first (--noconfirm's answer to the provider question).
    Names in excluding (what the transaction already holds) are passed over, and so are the
    packages ignore (IgnorePkg/IgnoreGroup) holds back: for a dependency libalpm does not ask,
    while for a target it asks and --noconfirm answers yes.
    """

    def wanted(package: Package) -> bool:
        return package.name not in excluding and not (ignore is not None and ignore(package))

    for repo in repos:
        package = repo.packages.get(depend.name)
        if package is not None and package.satisfies(depend) and wanted(package):
            return repo.name, package
    first: tuple[str, Package] | None = None
    for repo in repos:
        providers = sorted(
            (
                p
                for p in repo.packages.values()
                if p.name != depend.name and p.satisfies(depend) and wanted(p)
            ),
            key=lambda p: p.name,
        )
        for package in providers:
            if package.name in installed:
                return repo.name, package
            first = first or (repo.name, package)
    return first


def _group(repos: Sequence[Repository], name: str) -> list[tuple[str, Package]]:
    """A group's members, from the first repository that has the group (pacman -S base-devel)."""
    for repo in repos:
        members = [p for p in repo.packages.values() if name in p.groups]
        if members:
            return [(repo.name, p) for p in sorted(members, key=lambda p: p.name)]
    return []


class Ignore(NamedTuple):
    """pacman.conf's IgnorePkg and IgnoreGroup: glob patterns of names and group names."""

    packages: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def __call__(self, package: Package) -> bool:
        """Whether pacman -Su leaves package alone (alpm_pkg_should_ignore)."""
        return any(globmatch.fnmatchcase(package.name, p) for p in self.packages) or any(
            globmatch.fnmatchcase(group, p) for group in package.groups for p in self.groups
        )


IGNORE_NONE = Ignore()


def _sysupgrade(
    repos: Sequence[Repository],
    local: Mapping[str, Package],
    targets: set[str],
    ignore: Ignore,
) -> tuple[list[tuple[str, Package]], set[str]]:
    """What `pacman -Su` adds for the installed packages, and the installed names it replaces.

    As libalpm's alpm_sync_sysupgrade: for each installed package, the first repository that has
    a replacement (%REPLACES%) or a package of that name decides; a name is upgraded only to a
    newer version (a newer installed one stays, pacman warns). IgnorePkg and IgnoreGroup hold
    back an upgrade or replacement when they name either side.
    """
    upgrades: list[tuple[str, Package]] = []
    replaced: set[str] = set()
    for name, installed in sorted(local.items()):
        if name in targets:
            continue
        for repo in repos:
            replacers = [
                p
                for p in sorted(repo.packages.values(), key=lambda p: p.name)
                if p.name != name
                and any(installed.satisfies(r) for r in p.replaces)
                and not ignore(p)
                and not ignore(installed)
            ]
            if replacers:
                upgrades += [(repo.name, p) for p in replacers]
                replaced.add(name)
                break
            newer = repo.packages.get(name)
            if newer is not None:
                if vercmp(newer.version, installed.version) > 0 and not (
                    ignore(newer) or ignore(installed)
                ):
                    upgrades.append((repo.name, newer))
                break
    return upgrades, replaced


def _up_to_date(package: Package, local: Mapping[str, Package]) -> bool:
    """Whether the installed package of that name has the same version."""
    installed = local.get(package.name)
    return installed is not None and vercmp(installed.version, package.version) == 0


def _answering(packages: Iterable[Package]) -> dict[str, list[Package]]:
    """The packages by each name they answer to, their own and those they provide, in order."""
    found: dict[str, list[Package]] = {}
    for p in packages:
        for name in dict.fromkeys((p.name, *(provide.name for provide in p.provides))):
            found.setdefault(name, []).append(p)
    return found


def after_removal(
    installed: Sequence[Package],
    removed: Container[str],
    cascaded: Container[str] = (),
    recursive: Container[str] = (),
    orphans: bool = False,
) -> list[Package]:
    """The installed packages `pacman -R` leaves: all but the removed names, and with -c
    (cascaded names) every package that needs one of them and that nothing left satisfies,
    and those that need these in turn, as libalpm's cascade takes them. With -s (recursive
    names) their dependencies installed as dependencies that nothing left needs go too, in
    turn; with orphans (`pacman -Rns $(pacman -Qtdq)`) every package installed as a dependency
    that nothing needs, in turn."""
    left = _cascade(installed, removed, cascaded)
    # Counted once and kept up to date as packages go, not asked again each round: that was
    # cubic in a chain of dependencies (500 packages: 9 s).
    answering = _answering(left)

    def met(depends: Iterable[Depend], by: Package | None = None) -> Iterator[Package]:
        """The packages left that meet each of depends (a package's own needs not its own)."""
        for d in depends:
            yield from (p for p in answering.get(d.name, ()) if p is not by and p.satisfies(d))

    staying = {id(p) for p in left}
    # needers[id(p)]: the dependencies of other packages left that p meets.
    needers = Counter(id(p) for q in left for p in met(q.depends, q))

    def unneeded(p: Package) -> bool:
        return p.dependency and id(p) in staying and not needers[id(p)]

    def take(taken: Sequence[Package]) -> None:
        staying.difference_update(id(p) for p in taken)
        for g in taken:
            needers.subtract(id(p) for p in met(g.depends, g))

    gone = [p for p in installed if p.name in removed and p.name in recursive]
    while gone:
        wanted = [d for g in gone for d in g.depends]
        gone = list({id(p): p for p in met(wanted) if unneeded(p)}.values())
        take(gone)
    # Orphans go to a fixpoint, whatever the order: after the first, only what the last ones
    # needed can have become unneeded.
    taken = [p for p in left if unneeded(p)] if orphans else []
    while taken:
        take(taken)
        taken = list({id(p): p for g in taken for p in met(g.depends, g) if unneeded(p)}.values())
    return [p for p in left if id(p) in staying]


def needs(packages: Sequence[Package], words: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each word -> the names, and names provided, of the packages it needs down its dependencies.

    `pacman -Rc NAME` takes the installed packages a dependency of which NAME's removal leaves
    unmet (libalpm's checkdeps on what remains), and those that need these in turn: a word goes
    when NAME is among its needs. A dependency one package name meets (the word's resolution
    first, then the installed ones) adds that package and what it needs; one that several names
    meet adds `a|b` (it breaks only when all of them go), not followed further. A word no
    package meets is left out (its needs are unknown).
    """
    answering = _answering(packages)
    found: dict[str, frozenset[str]] = {}
    for word in words:
        depend = parse_depend(word)
        queue = [depend] if depend is not None else []
        names: set[str] = set()
        seen: set[str] = set()
        first = True
        while queue:
            wanted = queue.pop()
            meeting = [p for p in answering.get(wanted.name, ()) if p.satisfies(wanted)]
            if not meeting:
                continue
            owners = sorted({p.name for p in meeting})
            if len(owners) > 1 and not first:
                names.add("|".join(owners))
                continue
            first = False
            package = meeting[0]
            if package.name in seen:
                continue
            seen.add(package.name)
            names.update((package.name, *(p.name for p in package.provides)))
            queue += package.depends
        if names:
            found[word] = frozenset(names)
    return found


def _cascade(
    installed: Sequence[Package], removed: Container[str], cascaded: Container[str]
) -> list[Package]:
    """All but the removed names, and with -c what needs them, in turn."""
    left = [p for p in installed if p.name not in removed]
    gone = [p for p in installed if p.name in removed and p.name in cascaded]
    while gone:
        broken = [
            p
            for p in left
            if any(
                any(g.satisfies(d) for g in gone) and not any(q.satisfies(d) for q in left)
                for d in p.depends
            )
        ]
        left = [p for p in left if p not in broken]
        gone += broken
        if not broken:
            break
    return left


def duplicate(repos: Sequence[Repository], targets: Sequence[str]) -> bool:
    """Whether one command's targets pick two packages of one name (`foo extra/foo`), which
    pacman refuses ("duplicate target").

    libalpm's alpm_add_pkg skips a target that picks the very package again (`foo core/foo`).
    """
    picked: dict[str, tuple[str, Package]] = {}
    for target in targets:
        repo_name, _, spec = target.rpartition("/")
        among = [r for r in repos if r.name == repo_name] if repo_name else repos
        depend = parse_depend(spec)
        found = _find(among, depend) if depend is not None else None
        if found is None:
            continue
        if picked.setdefault(found[1].name, found) != found:
            return True
    return False


def resolve(
    repos: Sequence[Repository],
    targets: Iterable[str],
    installed: Iterable[Package] = (),
    *,
    upgrade: bool = False,
    ignore: Ignore = IGNORE_NONE,
    needed: Container[str] = (),
) -> Resolution:
    """The packages `pacman -S targets` (`-Su` with upgrade) fetches, with dependencies.

    Dependencies an installed package already meets are not fetched, as pacman does without -u;
    targets in needed (`pacman -S --needed`) are not fetched where installed at the same version.
    """
    local = {package.name: package for package in installed}
    missing: list[Missing] = []
    queue: list[tuple[str, Package]] = []
    for target in targets:
        # `extra/bash` looks in that repository alone; its dependencies come from all of them.
        repo_name, _, spec = target.rpartition("/")
        among = [r for r in repos if r.name == repo_name] if repo_name else repos
        depend = parse_depend(spec)
        found = _find(among, depend, local) if depend is not None else None
        members = [found] if found is not None else _group(among, spec)
        if not members:
            missing.append(Missing(target, "no repository has it"))
        if target in needed:
            # libalpm's alpm_add_pkg: "is up to date -- skipping" when the versions compare equal.
            members = [m for m in members if not _up_to_date(m[1], local)]
        queue.extend(members)
    replaced: set[str] = set()
    if upgrade:
        upgrades, replaced = _sysupgrade(repos, local, {p.name for _, p in queue}, ignore)
        queue.extend(upgrades)
    # libalpm's checkdeps: what the image has meets a dependency, but not a package the command
    # installs again or one an upgrade replaces.
    again = {p.name for _, p in queue} | replaced
    kept = [p for p in local.values() if p.name not in again]
    # As libalpm's _alpm_resolvedeps, depth first: a dependency is met by what is resolved
    # already, then by another target, then by what the repositories offer.
    chosen: dict[str, tuple[str, Package]] = {}
    for start in queue:
        if start[1].name in chosen:
            continue
        chosen[start[1].name] = start
        stack = [(start[1], iter(start[1].depends))]
        while stack:
            package, pending = stack[-1]
            depend = next(pending, None)
            if depend is None:
                stack.pop()
                continue
            if package.satisfies(depend) or any(p.satisfies(depend) for p in kept):
                continue
            if any(p.satisfies(depend) for _, p in chosen.values()):
                continue
            found = next((t for t in queue if t[1].satisfies(depend)), None) or _find(
                repos, depend, local, chosen, ignore
            )
            if found is None:
                missing.append(
                    Missing(str(depend), f"required by {package.name}, no repository has it")
                )
                continue
            chosen[found[1].name] = found
            stack.append((found[1], iter(found[1].depends)))
    return Resolution(tuple(chosen.values()), tuple(missing))
