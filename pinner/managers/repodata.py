"""RPM repository metadata from bytes: metalink, mirrorlist, repomd.xml and primary.xml.

Every document is hostile until checked: the XML is read by expat with any DTD refused (so no
entity, internal or external, is ever defined or expanded), compressed files are decompressed in
a stream with a cap on their size, and each file's checksum is checked against the one the
document above it names (metalink -> repomd.xml -> primary.xml).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import NamedTuple, NoReturn
from xml.parsers import expat

from pinner import unpack
from pinner.managers.rpmdb import Provide
from pinner.managers.rpmversion import EVR

# Decompressed primary.xml of Fedora's largest repository is a few hundred MiB.
MAX_PRIMARY = 1 << 30
MAX_DOCUMENT = 4 << 20  # repomd.xml, metalink, mirrorlist
_MAX_TEXT = 1 << 16  # characters kept of one element's text
# Elements open at once: repository metadata nests six deep; each element keeps its ancestors'
# names, so memory grows with the square of the depth.
_MAX_DEPTH = 64
_HEX = {"sha256": 64, "sha512": 128, "sha1": 40, "sha": 40, "md5": 32, "sha384": 96, "sha224": 56}
_FLAGS = frozenset(["EQ", "LT", "LE", "GT", "GE"])
_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_+.~^-]*")
_HREF = re.compile(r"[A-Za-z0-9_+.~^/:@%=-]+")
# An epoch or a size: ASCII digits, few enough for int() (str.isdigit also takes "²", which int()
# refuses, and int() refuses more than 4300 digits).
_NUMBER = re.compile(r"[0-9]{1,20}")


class RepodataError(ValueError):
    """Repository metadata that is malformed, too large, or does not match its checksum."""


class Checksum(NamedTuple):
    """A hash algorithm (hashlib's name) and its lower-case hex digest."""

    kind: str
    hexdigest: str

    def check(self, data: bytes, subject: str) -> None:
        """Raise RepodataError unless data has this checksum."""
        if hashlib.new(self.kind, data).hexdigest() != self.hexdigest:
            raise RepodataError(f"{subject}: {self.kind} checksum does not match")


def _checksum(kind: str, value: str, subject: str) -> Checksum:
    kind = "sha1" if kind == "sha" else kind
    value = value.strip().lower()
    if _HEX.get(kind) != len(value) or not re.fullmatch(r"[0-9a-f]+", value):
        raise RepodataError(f"{subject}: {kind!r} checksum {value[:80]!r} is malformed")
    return Checksum(kind, value)


# --------------------------------------------------------------------------- XML


def _parser() -> expat.XMLParserType:
    """An expat parser that refuses any DTD: no entity can be declared, so none expands."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_: object) -> NoReturn:
        raise RepodataError("document has a DTD; repository metadata never does")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    return parser


class _Element(NamedTuple):
    name: str
    attrs: dict[str, str]
    text: str
    path: tuple[str, ...]


def _elements(
    chunks: Iterator[bytes], subject: str, texts: frozenset[str] | None = None
) -> Iterator[_Element]:
    """Each element once it closes, with its attributes, text and ancestors' names.

    texts names the elements whose text is kept (None: all); primary.xml's descriptions and
    summaries are most of its bytes and are never read.
    """
    parser = _parser()
    # name, attributes, ancestors, text pieces (None: not kept), text length so far: text past
    # _MAX_TEXT is dropped.
    stack: list[tuple[str, dict[str, str], tuple[str, ...], list[str] | None, list[int]]] = []
    done: list[_Element] = []
    ancestors: list[tuple[str, ...]] = [()]

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= _MAX_DEPTH:
            raise RepodataError(f"{subject}: elements nested over {_MAX_DEPTH} deep")
        local = name.rpartition(" ")[2]  # expat reports `namespace-uri name`
        path = ancestors[-1]
        kept: list[str] | None = [] if texts is None or local in texts else None
        stack.append((local, attrs, path, kept, [0]))
        ancestors.append((*path, local))

    def end(_: str) -> None:
        name, attrs, path, text, _length = stack.pop()
        ancestors.pop()
        done.append(_Element(name, attrs, "".join(text) if text else "", path))

    def data(text: str) -> None:
        top = stack[-1] if stack else None
        if top is not None and top[3] is not None and top[4][0] < _MAX_TEXT:
            top[3].append(text)
            top[4][0] += len(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
            yield from done
            done.clear()
        parser.Parse(b"", True)
        yield from done
    except expat.ExpatError as error:
        raise RepodataError(f"{subject}: not well-formed XML ({error})") from None
    except LookupError:  # the XML declaration names an encoding Python has no codec for
        raise RepodataError(f"{subject}: XML in an encoding pinner cannot read") from None


# --------------------------------------------------------------------------- metalink, mirrorlist


class Metalink(NamedTuple):
    """What a metalink says of repomd.xml: its checksums (current and alternates) and URLs."""

    checksums: tuple[Checksum, ...]
    size: int | None
    urls: tuple[str, ...]  # base URLs of the repository (without repodata/repomd.xml)


def parse_metalink(data: bytes, subject: str) -> Metalink:
    """The repomd.xml entry of a MirrorManager metalink (metalink 3.0 with mm0 alternates)."""
    _cap(data, MAX_DOCUMENT, subject)
    checksums: list[Checksum] = []
    urls: list[str] = []
    size = None
    for element in _elements(iter([data]), subject):
        if "file" not in element.path and element.name != "file":
            continue
        if element.name == "hash" and "verification" in element.path:
            kind = element.attrs.get("type", "")
            if kind in ("sha256", "sha512"):
                checksums.append(_checksum(kind, element.text, subject))
        elif element.name == "size" and "alternate" not in element.path and size is None:
            size = _number(element.text)
        elif element.name == "url" and _mirror_url(element):
            urls.append(element.text.strip().removesuffix("repodata/repomd.xml"))
    if not checksums:
        raise RepodataError(f"{subject}: metalink gives no sha256 or sha512 of repomd.xml")
    if not urls:
        raise RepodataError(f"{subject}: metalink lists no http(s) mirror")
    return Metalink(tuple(checksums), size, tuple(urls))


def _mirror_url(element: _Element) -> bool:
    url = element.text.strip()
    return url.startswith(("https://", "http://")) and url.endswith("/repodata/repomd.xml")


def parse_mirrorlist(data: bytes, subject: str) -> tuple[str, ...]:
    """The base URLs of a mirrorlist: one per line, # comments skipped."""
    _cap(data, MAX_DOCUMENT, subject)
    text = data.decode("utf-8", "replace")
    urls = tuple(
        line.strip()
        for line in text.splitlines()
        if line.strip().startswith(("http://", "https://"))
    )
    if not urls:
        raise RepodataError(f"{subject}: mirrorlist lists no http(s) mirror")
    return urls


# --------------------------------------------------------------------------- repomd


class RepomdEntry(NamedTuple):
    """One metadata file repomd.xml names: where, its checksum and size."""

    href: str
    checksum: Checksum
    size: int | None


def parse_repomd(data: bytes, subject: str) -> dict[str, RepomdEntry]:
    """repomd.xml's data entries by type (primary, filelists, ...)."""
    _cap(data, MAX_DOCUMENT, subject)
    found: dict[str, RepomdEntry] = {}
    fields: dict[str, _Element] = {}
    for element in _elements(iter([data]), subject):
        if element.path[-1:] == ("data",):
            fields[element.name] = element
        elif element.name == "data":
            kind = element.attrs.get("type", "")
            location, checksum = fields.get("location"), fields.get("checksum")
            if location is None or checksum is None:
                raise RepodataError(f"{subject}: {kind!r} entry lacks a location or checksum")
            href = location.attrs.get("href", "")
            if not _HREF.fullmatch(href) or ".." in href.split("/") or "://" in href:
                raise RepodataError(f"{subject}: {kind!r} location {href[:80]!r} is not a path")
            found[kind] = RepomdEntry(
                href,
                _checksum(checksum.attrs.get("type", ""), checksum.text, subject),
                _size(fields.get("size")),
            )
            fields = {}
    if "primary" not in found:
        raise RepodataError(f"{subject}: repomd.xml names no primary metadata")
    return found


def _number(text: str) -> int | None:
    """text as a decimal number (blanks around it allowed); None for anything else."""
    return int(text) if _NUMBER.fullmatch(text.strip()) else None


def _size(element: _Element | None) -> int | None:
    return None if element is None else _number(element.text)


def _cap(data: bytes, limit: int, subject: str) -> None:
    if len(data) > limit:
        raise RepodataError(f"{subject}: larger than {limit} bytes")


# --------------------------------------------------------------------------- primary


class Dep(NamedTuple):
    """A requirement: a capability name, and (flags, EVR) when it asks for a version."""

    name: str
    flags: str | None = None
    evr: EVR | None = None


class RpmPackage(NamedTuple):
    """One package of primary.xml: NEVRA, checksum, location and its dependencies."""

    name: str
    arch: str
    evr: EVR
    checksum: Checksum
    href: str
    provides: tuple[Provide, ...]
    requires: tuple[Dep, ...]
    recommends: tuple[Dep, ...]
    files: tuple[str, ...]
    obsoletes: tuple[Dep, ...] = ()
    supplements: tuple[Dep, ...] = ()
    suggests: tuple[Dep, ...] = ()
    enhances: tuple[Dep, ...] = ()
    conflicts: tuple[Dep, ...] = ()
    # The repository's dnf priority (a lower number wins); 99 is dnf's default.
    priority: int = 99
    # The repository's dnf cost: of one build several repositories serve, the cheapest's.
    cost: int = 1000


def decompress(data: bytes, href: str, limit: int = MAX_PRIMARY) -> Iterator[bytes]:
    """Chunks of a metadata file, decompressed by its suffix; RepodataError past limit bytes."""
    kind = href.rsplit(".", 1)[-1]
    if kind not in unpack.KINDS and kind != "xml":
        raise RepodataError(f"{href}: compression is not gz, xz, bz2 or zst")
    try:
        yield from unpack.chunks(data, "" if kind == "xml" else kind, limit)
    except unpack.UnpackError as error:
        raise RepodataError(f"{href}: {error}") from None


_PRIMARY_TEXTS = frozenset(["name", "arch", "checksum", "file"])


_DEP_KINDS = (
    ("provides",),
    ("requires",),
    ("recommends",),
    ("obsoletes",),
    ("supplements",),
    ("suggests",),
    ("enhances",),
    ("conflicts",),
)


def parse_primary(chunks: Iterator[bytes], subject: str) -> Iterator[RpmPackage]:
    """The packages of primary.xml (rpm-metadata's common and rpm namespaces), streamed."""
    fields: dict[str, _Element] = {}
    provides: list[Provide] = []
    requires: list[Dep] = []
    recommends: list[Dep] = []
    obsoletes: list[Dep] = []
    supplements: list[Dep] = []
    # What libsolv's choice among providers weighs: a candidate suggested, or enhancing, and
    # none that conflicts with what is installed or chosen.
    weak: dict[str, list[Dep]] = {"suggests": [], "enhances": [], "conflicts": []}
    files: list[str] = []
    shared = _Shared()
    for element in _elements(chunks, subject, _PRIMARY_TEXTS):
        name = element.name
        if name == "entry" and element.path[-1:] in _DEP_KINDS:
            dep = shared.dep(element.attrs, subject)
            kind = element.path[-1]
            if kind == "provides":
                provides.append(shared.provide(dep))
            elif kind == "requires":
                requires.append(dep)
            elif kind == "recommends":
                recommends.append(dep)
            elif kind == "supplements":
                supplements.append(dep)
            elif kind in weak:
                weak[kind].append(dep)
            else:
                obsoletes.append(dep)
        elif name == "file" and element.path[-1:] == ("format",):
            files.append(element.text)
        elif element.path[-1:] == ("package",) or element.path[-1:] == ("format",):
            fields[name] = element
        elif name == "package":
            package = _package(fields, provides, requires, recommends, files, subject, shared)
            if obsoletes or supplements or any(weak.values()):
                package = package._replace(
                    obsoletes=tuple(obsoletes),
                    supplements=tuple(supplements),
                    suggests=tuple(weak["suggests"]),
                    enhances=tuple(weak["enhances"]),
                    conflicts=tuple(weak["conflicts"]),
                )
            yield package
            fields, provides, requires, recommends, files = {}, [], [], [], []
            obsoletes, supplements = [], []
            weak = {"suggests": [], "enhances": [], "conflicts": []}


class _Shared:
    """One object per distinct dependency, provide, EVR and name of one primary.xml.

    A repository repeats them: CentOS Stream 9 AppStream's 406,000 dependencies and provides are
    138,000 distinct ones over 7,600 distinct EVRs. Keeping each once is most of the memory its
    parsed packages hold.
    """

    def __init__(self) -> None:
        # Each keyed by the value itself, so a key holds no second copy of its strings.
        self.deps: dict[Dep, Dep] = {}
        self.provides: dict[Dep, Provide] = {}
        self.evrs: dict[EVR, EVR] = {}
        self.names: dict[str, str] = {}

    def dep(self, attrs: dict[str, str], subject: str) -> Dep:
        dep = _dep(attrs, subject, self)
        return self.deps.setdefault(dep, dep)

    def provide(self, dep: Dep) -> Provide:
        found = self.provides.get(dep)
        if found is None:
            found = self.provides[dep] = Provide(*dep)
        return found

    def evr(self, epoch: str, ver: str, rel: str) -> EVR:
        evr = EVR(int(epoch), ver, rel)
        return self.evrs.setdefault(evr, evr)

    def name(self, text: str) -> str:
        return self.names.setdefault(text, text)


def _dep(attrs: dict[str, str], subject: str, shared: _Shared) -> Dep:
    name = attrs.get("name", "")
    flags = attrs.get("flags")
    if not name:
        raise RepodataError(f"{subject}: dependency without a name")
    if flags is None:
        return Dep(shared.name(name))
    if flags not in _FLAGS:
        raise RepodataError(f"{subject}: dependency {name[:80]!r} has flags {flags[:20]!r}")
    epoch = attrs.get("epoch", "0") or "0"
    if not _NUMBER.fullmatch(epoch):
        raise RepodataError(f"{subject}: dependency {name[:80]!r} has epoch {epoch[:20]!r}")
    evr = shared.evr(epoch, attrs.get("ver", ""), attrs.get("rel", ""))
    return Dep(shared.name(name), flags, evr)


def _package(
    fields: dict[str, _Element],
    provides: list[Provide],
    requires: list[Dep],
    recommends: list[Dep],
    files: list[str],
    subject: str,
    shared: _Shared,
) -> RpmPackage:
    name = fields.get("name")
    arch = fields.get("arch")
    version = fields.get("version")
    checksum = fields.get("checksum")
    location = fields.get("location")
    if None in (name, arch, version, checksum, location):
        raise RepodataError(f"{subject}: a package lacks name, arch, version, checksum or location")
    assert name and arch and version and checksum and location
    if not _NAME.fullmatch(name.text) or not _NAME.fullmatch(arch.text):
        raise RepodataError(f"{subject}: package name {name.text[:80]!r} is malformed")
    attrs = version.attrs
    epoch, ver, rel = attrs.get("epoch", "0") or "0", attrs.get("ver", ""), attrs.get("rel", "")
    if not _NUMBER.fullmatch(epoch) or not _NAME.fullmatch(ver) or not _NAME.fullmatch(rel):
        raise RepodataError(
            f"{subject}: {name.text}: version {ver[:40]!r}-{rel[:40]!r} is malformed"
        )
    href = location.attrs.get("href", "")
    if not _HREF.fullmatch(href) or ".." in href.split("/") or "://" in href:
        raise RepodataError(f"{subject}: {name.text}: location {href[:80]!r} is not a path")
    return RpmPackage(
        shared.name(name.text),
        shared.name(arch.text),
        shared.evr(epoch, ver, rel),
        _checksum(checksum.attrs.get("type", ""), checksum.text, subject),
        href,
        tuple(provides),
        tuple(requires),
        tuple(recommends),
        tuple(files),
    )


def primary_packages(entry: RepomdEntry, data: bytes, subject: str) -> list[RpmPackage]:
    """The packages of a primary file whose bytes match the checksum repomd.xml gives."""
    if entry.size is not None and len(data) != entry.size:
        raise RepodataError(f"{subject}: {len(data)} bytes, repomd.xml says {entry.size}")
    entry.checksum.check(data, subject)
    return list(parse_primary(decompress(data, entry.href), subject))


def check_repomd(metalink: Metalink, data: bytes, subject: str) -> None:
    """Raise RepodataError unless repomd.xml matches a checksum the metalink gives for it.

    MirrorManager lists the current repomd.xml and recent ones (mm0:alternates), because mirrors
    lag: dnf accepts any of them, and so does pinner.
    """
    for checksum in metalink.checksums:
        if hashlib.new(checksum.kind, data).hexdigest() == checksum.hexdigest:
            return
    raise RepodataError(f"{subject}: repomd.xml matches no checksum its metalink gives")
