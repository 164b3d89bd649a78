"""Modularity (EL 8 and EL 9): which module streams are active, and which packages dnf hides.

A repository's modules.yaml (repomd.xml's `modules` entry) lists module streams (modulemd v2:
name, stream, version, context, arch, the module streams it requires, the rpm NEVRAs it holds)
and default streams (modulemd-defaults v1). libdnf's modular filtering (dnf-sack.cpp
setModuleExcludes, ModulePackageContainer::resolveActiveModulePackages), as pinner follows it:

- libdnf's module solver (ModulePackageContainer::moduleSolve) installs each stream the image
  enables (/etc/dnf/modules.d/NAME.module, `state=enabled`) and, where it can, each module's
  default stream (/etc/dnf/modules.defaults.d, then the repositories' defaults) unless the
  image enables another stream or disables the module, in the modules' order (by name); with
  each, the streams its newest build requires (`platform` is os-release's PLATFORM_ID). A
  default that conflicts with what came before is dropped; a stream required where the module
  has none chosen is the module's own enabled or default stream where allowed, else the first
  allowed by name. Of a stream's contexts (builds known by their requirements), the solver
  takes the first by name (`NoRequires`, `lib:[1]`, `lib:[2]`) whose newest build's
  requirements hold, and every version of that context is active; the streams of a disabled
  module never are.
- In every repository but those with `module_hotfixes=1`, a package is hidden when an inactive
  stream lists it, or when it is named as, or provides the name of, a binary package an active
  stream lists, and no active stream lists it itself: an enabled stream's builds replace the
  plain ones, and the other streams' are not seen. Installed packages are never hidden.

So `dnf install nodejs` on UBI 9 installs the plain nodejs, not the newest modular build, and a
pin naming a hidden build fails the build ("All matches were filtered out by modular filtering").
"""

from __future__ import annotations

import configparser
import itertools
import re
import reprlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

import yaml

from pinner.managers.ini import IniParser
from pinner.managers.repodata import RpmPackage
from pinner.managers.rpmversion import EVR

# What the image must yield: the module states dnf keeps, and defaults an administrator set.
STATE_DIR = "/etc/dnf/modules.d/"
DEFAULTS_DIR = "/etc/dnf/modules.defaults.d/"
MAX_MODULES = 128 << 20  # decompressed modules.yaml (EL 8 AppStream's is about 10 MiB)
_MAX_DOCUMENTS = 100_000
_MAX_PREFIX = 100  # a line's leading spaces and dashes (modulemd indents 12 at most)
_MAX_FLOW = 32  # brackets open at once (modulemd opens one: `platform: [el9]`)
# One document's bytes: PyYAML holds a document's nodes at once, some hundred bytes each for
# as few as two bytes of text ("a,"); EL 8 AppStream's largest document is far smaller.
_MAX_DOCUMENT = 2 << 20
# YAML nodes of a file: each needs a line or a comma of its own, and real modulemd spends about
# 34 bytes on each (EL 8 AppStream's 10 MiB: some 300,000), PyYAML some microseconds.
_MAX_NODES = 2_000_000
_MARKER = re.compile(rb"^(?:---|\.\.\.)(?=[ \t\r\n]|\Z)", re.MULTILINE)
_NAME = re.compile(r"[A-Za-z0-9_+.-]+")
# rpm's NEVRA as modulemd lists artifacts: name-epoch:version-release.arch.
_NEVRA = re.compile(
    r"(?P<name>[A-Za-z0-9_+][A-Za-z0-9_+.~^-]*)-(?P<epoch>[0-9]+):(?P<version>[A-Za-z0-9_+.~^]+)"
    r"-(?P<release>[A-Za-z0-9_+.~^]+)\.(?P<arch>[A-Za-z0-9_]+)"
)
_SOURCE_ARCHES = frozenset(["src", "nosrc"])


Nevra = tuple[str, EVR, str]


class ModulesError(ValueError):
    """A modules.yaml or module state file pinner cannot read."""


class StateError(ModulesError):
    """A module command of the build that dnf refuses: a stream no repository serves, a switch
    of an enabled stream, a module with no stream to enable."""


class Stream(NamedTuple):
    """One module stream build of modules.yaml (a name:stream:version:context.arch)."""

    name: str
    stream: str
    version: int
    context: str
    arch: str
    # Each required module and its streams: "-s" excludes s, () takes any.
    requires: tuple[tuple[str, tuple[str, ...]], ...]
    artifacts: frozenset[Nevra]  # (name, EVR, arch) of each rpm it holds
    demodularized: frozenset[str]  # names the stream holds that dnf does not treat as modular
    static_context: bool = False  # else libdnf knows the build by its requirements, not context


class Modules(NamedTuple):
    """What the repositories' modules.yaml files hold."""

    streams: tuple[Stream, ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()  # module -> its default stream


class State(NamedTuple):
    """The image's module states: enabled streams and disabled modules."""

    enabled: tuple[tuple[str, str], ...] = ()
    disabled: frozenset[str] = frozenset()
    defaults: tuple[tuple[str, str], ...] = ()  # /etc/dnf/modules.defaults.d, which wins


def _shallow(data: bytes, subject: str) -> None:
    """Refuse data nested deeper than modulemd ever is, or a document larger, before a YAML
    parser sees it: libyaml's composer recurses in C (100,000 open brackets crash the process)
    and the constructor in Python. Block nesting needs a line's leading spaces or dashes; flow
    nesting, brackets."""
    deep = ModulesError(f"{subject}: nested deeper than modulemd is")
    if re.search(rb"^[ \t-]{%d,}" % (_MAX_PREFIX + 1), data, re.MULTILINE):
        raise deep
    depth = 0
    for bracket in re.finditer(rb"[\[\]{}]", data):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        if depth > _MAX_FLOW:
            raise deep
    if data.count(b"\n") + data.count(b",") > _MAX_NODES:
        raise ModulesError(f"{subject}: more than {_MAX_NODES} lines and commas")
    # libyaml takes `---` or `...` and a blank at a line's start as a document's end anywhere.
    start = 0
    for end in itertools.chain((m.start() for m in _MARKER.finditer(data)), [len(data)]):
        if end - start > _MAX_DOCUMENT:
            raise ModulesError(f"{subject}: a document over {_MAX_DOCUMENT} bytes")
        start = end


def _documents(data: bytes, subject: str) -> Iterator[object]:
    """The YAML documents of data, every scalar a string (so stream 1.10 stays "1.10"), one at a
    time: what pinner does not keep of one is freed before the next is read."""
    _shallow(data, subject)
    loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
    try:
        for count, document in enumerate(yaml.load_all(data, Loader=loader), 1):
            if count > _MAX_DOCUMENTS:
                raise ModulesError(f"{subject}: more than {_MAX_DOCUMENTS} documents")
            yield document
    except yaml.YAMLError as error:
        raise ModulesError(f"{subject}: not YAML ({str(error).splitlines()[0]})") from None
    except RecursionError:
        raise ModulesError(f"{subject}: nested deeper than modulemd is") from None


def _mapping(value: object, what: str) -> dict[str, object]:
    if value is None or value == "":  # the base loader reads a null as ""
        return {}
    if not isinstance(value, dict):
        raise ModulesError(f"{what}: not a mapping")
    return value


def _strings(value: object, what: str) -> list[str]:
    if value is None or value == "":
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModulesError(f"{what}: not a list of strings")
    return value


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ModulesError(f"{what}: {_shown(value, 60)} is not a module name or stream")
    return value


def _shown(value: object, limit: int) -> str:
    """A value for a message, cut to limit: str() of a list that aliases share at each level
    (`&b [*a, *a]`) would spell out every repeat, nine to the ninth for nine levels of nine."""
    return repr((value if isinstance(value, str) else reprlib.repr(value))[:limit])


def _artifact(text: str, what: str) -> Nevra | None:
    """(name, EVR, arch) of an artifact's NEVRA; None for a source package."""
    match = _NEVRA.fullmatch(text)
    if match is None:
        raise ModulesError(f"{what}: artifact {text[:80]!r} is not name-epoch:version-release.arch")
    if match["arch"] in _SOURCE_ARCHES:
        return None
    evr = EVR(int(match["epoch"]), match["version"], match["release"])
    return match["name"], evr, match["arch"]


def _stream(data: dict[str, object], subject: str) -> Stream:
    name = _name(data.get("name"), f"{subject}: a module")
    where = f"{subject}: module {name}"
    stream = _name(data.get("stream"), f"{where} stream")
    version = data.get("version")
    if not isinstance(version, str) or not version.isdigit() or len(version) > 30:
        raise ModulesError(f"{where}:{stream}: version {_shown(version, 30)} is not a number")
    context = _name(data.get("context", "00000000"), f"{where}:{stream} context")
    arch = _name(data.get("arch", "noarch"), f"{where}:{stream} arch")
    requires: dict[str, list[str]] = {}
    dependencies = data.get("dependencies")
    if dependencies is not None and not isinstance(dependencies, list):
        raise ModulesError(f"{where}:{stream}: dependencies is not a list")
    for block in dependencies or ():
        for module, streams in _mapping(_mapping(block, where).get("requires"), where).items():
            listed = _strings(streams, f"{where}:{stream} requires {module}")
            requires.setdefault(_name(module, f"{where}:{stream} requires"), []).extend(listed)
    held = _mapping(data.get("artifacts"), f"{where}:{stream} artifacts")
    texts = _strings(held.get("rpms"), f"{where}:{stream} artifacts")
    artifacts = {a for a in (_artifact(t, f"{where}:{stream}") for t in texts) if a is not None}
    demodularized = _mapping(data.get("demodularized"), f"{where}:{stream} demodularized")
    return Stream(
        name,
        stream,
        int(version),
        context,
        arch,
        tuple((module, tuple(streams)) for module, streams in requires.items()),
        frozenset(artifacts),
        frozenset(_strings(demodularized.get("rpms"), f"{where}:{stream} demodularized")),
        data.get("static_context") == "true",
    )


def parse_modules(data: bytes, subject: str) -> Modules:
    """The module streams and default streams of one repository's modules.yaml."""
    streams: list[Stream] = []
    defaults: dict[str, str] = {}
    for document in _documents(data, subject):
        fields = _mapping(document, subject)
        kind, body = fields.get("document"), _mapping(fields.get("data"), subject)
        if kind == "modulemd" and fields.get("version") == "2":
            streams.append(_stream(body, subject))
        elif kind == "modulemd-defaults":
            module = _name(body.get("module"), f"{subject}: modulemd-defaults module")
            if body.get("stream") is not None:
                defaults[module] = _name(body.get("stream"), f"{subject}: {module} default")
        # modulemd-obsoletes and modulemd-translations change nothing dnf installs here.
    return Modules(tuple(streams), tuple(defaults.items()))


def read_state(files: Mapping[str, bytes]) -> State:
    """The image's module states (NAME.module files, as dnf writes them) and its own defaults."""
    enabled: dict[str, str] = {}
    disabled: set[str] = set()
    for path in sorted(p for p in files if p.startswith(STATE_DIR) and p.endswith(".module")):
        parser = IniParser(interpolation=None, strict=False)
        try:
            parser.read_string(files[path].decode("utf-8", "replace"), path)
        except configparser.Error as error:
            first = error.message.splitlines()[0]
            raise ModulesError(f"{path}: not an INI file ({first})") from None
        for section in parser.sections():
            fields = parser[section]
            name = _name(fields.get("name", section), f"{path}: [{section[:40]}] name")
            state = fields.get("state", "").strip().lower()
            if state == "enabled" and fields.get("stream", "").strip():
                enabled[name] = _name(fields.get("stream", "").strip(), f"{path}: {name} stream")
            elif state == "disabled":
                disabled.add(name)
    defaults: dict[str, str] = {}
    for path in sorted(p for p in files if p.startswith(DEFAULTS_DIR) and p.endswith(".yaml")):
        defaults.update(parse_modules(files[path], path).defaults)
    return State(tuple(enabled.items()), frozenset(disabled), tuple(defaults.items()))


def _holds(requires: Sequence[tuple[str, tuple[str, ...]]], chosen: Mapping[str, str]) -> bool:
    """Whether a stream's module requirements hold with the streams chosen (platform among them)."""
    for module, streams in requires:
        present = chosen.get(module)
        wanted = [s for s in streams if not s.startswith("-")]
        if present is None:
            return False
        if present in {s[1:] for s in streams if s.startswith("-")}:
            return False
        if wanted and present not in wanted:
            return False
    return True


def _requirements(build: Stream) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((m, tuple(sorted(s))) for m, s in build.requires if m != "platform"))


def _solvables(builds: Sequence[Stream]) -> dict[Stream, str]:
    """Each build of one stream -> the context libdnf's module solver knows it by: a static
    context as written; else its requirements but the platform's, as addVersion2Modules writes
    them (`perl:[5.26];python36`, or `NoRequires`), or the static context of a build that
    requires the same. Builds for other platforms share it."""
    static = {_requirements(b): b.context for b in builds if b.static_context}
    return {
        b: b.context if b.static_context else static.get(_requirements(b)) or _written(b)
        for b in builds
    }


def _written(build: Stream) -> str:
    """A build's requirements as libdnf's concentrateVectorString joins getRequires(true)."""
    each = [m if not s else f"{m}:[{','.join(sorted(s))}]" for m, s in _requirements(build)]
    return ";".join(sorted(each)) or "NoRequires"


# Builds the module solver may try for one job: real requirement trees take a handful, and a
# hostile modules.yaml could make the search grow with the number of its contexts' choices.
_MOST_TRIES = 20_000
Taken = dict[str, tuple[str, "Stream | None"]]  # module -> its stream and build (None: platform)


class _TooMany(Exception):
    """The module solver's search tried _MOST_TRIES builds for one job."""


def active(modules: Modules, state: State, platform: str | None) -> frozenset[Stream]:
    """The stream builds dnf treats as active: libdnf's module solver (moduleSolve) asked to
    install each enabled stream, and each default stream where it can, with what they require."""
    defaults = dict(modules.defaults) | dict(state.defaults)
    enabled = dict(state.enabled)
    wanted = {n: s for n, s in defaults.items() if n not in state.disabled} | enabled
    solver = _Solver(modules, state.disabled, wanted)
    taken: Taken = {}
    if platform is not None:
        name, _, stream = platform.partition(":")
        taken[name] = (stream, None)
    # libdnf asks for the streams in its modules' order (by name); the enabled ones must be
    # installed, a default one that conflicts with what came before is dropped (libsolv
    # disables the later weak job).
    jobs = sorted(enabled.items()) + sorted(i for i in wanted.items() if i[0] not in enabled)
    for job in jobs:
        solver.tries = _MOST_TRIES
        try:
            taken = solver.install(job, taken) or taken
        except _TooMany:
            name, stream = job
            message = (
                f"module {name}:{stream}: over {_MOST_TRIES} builds tried for its requirements"
            )
            raise ModulesError(message) from None
    picked: set[Stream] = set()
    for name, (stream, chosen) in taken.items():
        if chosen is not None:
            known = solver.known((name, stream))
            picked.update(b for b, c in known.items() if c == known[chosen])
    return frozenset(picked)


class _Solver:
    """The module streams of the repositories, as libdnf's module solver chooses among them."""

    def __init__(self, modules: Modules, disabled: frozenset[str], wanted: dict[str, str]):
        self.builds: dict[tuple[str, str], list[Stream]] = {}
        for build in modules.streams:
            if build.name not in disabled:  # libdnf excludes a disabled module's every build
                self.builds.setdefault((build.name, build.stream), []).append(build)
        self.streams: dict[str, list[str]] = {}
        for name, stream in sorted(self.builds):
            self.streams.setdefault(name, []).append(stream)
        self.wanted = wanted
        self.tries = _MOST_TRIES
        self._known: dict[tuple[str, str], dict[Stream, str]] = {}
        self._choices: dict[tuple[str, str], list[Stream]] = {}

    def known(self, key: tuple[str, str]) -> dict[Stream, str]:
        """Each build of a stream -> its context as the solver names it."""
        if key not in self._known:
            self._known[key] = _solvables(self.builds.get(key, []))
        return self._known[key]

    def choices(self, key: tuple[str, str]) -> list[Stream]:
        """A stream's choices: each context's newest build (libsolv keeps the best version of a
        name), contexts in name order, as the solver tries them. Where the newest build of a
        context does not meet its requirements, that context is not taken (dnf 4.14, run)."""
        if key not in self._choices:
            newest: dict[str, Stream] = {}
            for build, context in self.known(key).items():
                best = newest.get(context)
                if best is None or (build.version, build.context) > (best.version, best.context):
                    newest[context] = build
            self._choices[key] = [newest[context] for context in sorted(newest)]
        return self._choices[key]

    def install(self, job: tuple[str, str], taken: Taken) -> Taken | None:
        """taken with the stream of job and what it requires, trying its contexts in order
        and, for a requirement that allows several streams, the module's own enabled or
        default stream first, then the others by name; None where nothing holds."""
        name, stream = job
        if name in taken:
            return taken if taken[name][0] == stream else None
        for build in self.choices(job):
            self.tries -= 1
            if self.tries < 0:
                raise _TooMany
            trial: Taken | None = {**taken, name: (stream, build)}
            for module, streams in build.requires:
                if trial is None or module in trial:
                    continue  # checked below, with everything taken
                trial = self._required(module, streams, trial)
            if trial is None:
                continue
            # What was taken before holds: each requirement of it named a module taken then.
            added = [b for m, (_, b) in trial.items() if m not in taken and b is not None]
            chosen = {module: taken_stream for module, (taken_stream, _) in trial.items()}
            if all(_holds(b.requires, chosen) for b in added):
                return trial
        return None

    def _required(self, module: str, streams: Sequence[str], taken: Taken) -> Taken | None:
        """taken with a stream of module that streams allow, and what it requires."""
        refused = {s[1:] for s in streams if s.startswith("-")}
        allowed = [s for s in streams if not s.startswith("-")] or self.streams.get(module, [])
        candidates = [s for s in allowed if s not in refused and (module, s) in self.builds]
        own = self.wanted.get(module)
        ordered = [own] if own in candidates else []
        for candidate in [*ordered, *(s for s in candidates if s != own)]:
            found = self.install((module, candidate), taken)
            if found is not None:
                return found
        return None


def changed(state: State, modules: Modules, platform: str | None, items: Sequence[str]) -> State:
    """The module state after a build's module commands, as dnf 4 writes it (items, in order:
    `enable NAME[:STREAM]`, `disable NAME`, `reset NAME`, as rpmcommands.module_state reads
    them). Enabling a stream enables the streams it requires too, as the module solver takes
    them; a module reset leaves those enabled. StateError where dnf refuses the command."""
    enabled, disabled = dict(state.enabled), set(state.disabled)
    defaults = dict(modules.defaults) | dict(state.defaults)
    streams: dict[str, set[str]] = {}
    for build in modules.streams:
        streams.setdefault(build.name, set()).add(build.stream)
    for item in items:
        action, _, spec = item.partition(" ")
        name, _, stream = spec.partition(":")
        if name not in streams:
            raise StateError(f"module {name}: no repository serves it, so dnf refuses `{item}`")
        if action == "disable":
            enabled.pop(name, None)
            disabled.add(name)
        elif action == "reset":
            enabled.pop(name, None)
            disabled.discard(name)
        else:
            _enable(name, stream, modules, platform, defaults, enabled, disabled)
    return state._replace(enabled=tuple(enabled.items()), disabled=frozenset(disabled))


def _enable(
    name: str,
    stream: str,
    modules: Modules,
    platform: str | None,
    defaults: Mapping[str, str],
    enabled: dict[str, str],
    disabled: set[str],
) -> None:
    """Enable name:stream (its enabled or default stream where stream is ""), and the streams
    it requires, in enabled and disabled."""
    stream = stream or enabled.get(name) or defaults.get(name, "")
    if not stream:
        raise StateError(
            f"module {name}: no stream is enabled or default, so `enable {name}` names none and"
            " dnf refuses it"
        )
    wanted = {n: s for n, s in defaults.items() if n not in disabled} | enabled
    solver = _Solver(modules, frozenset(disabled - {name}), wanted)
    if not solver.builds.get((name, stream)):
        raise StateError(f"module {name}:{stream}: no repository serves that stream")
    taken: Taken = {}
    if platform is not None:
        platform_name, _, platform_stream = platform.partition(":")
        taken[platform_name] = (platform_stream, None)
    try:
        found = solver.install((name, stream), taken)
    except _TooMany:
        raise StateError(
            f"module {name}:{stream}: over {_MOST_TRIES} builds tried for its requirements"
        ) from None
    if found is None:
        raise StateError(f"module {name}:{stream}: the streams it requires cannot be enabled")
    for module, (chosen, build) in sorted(found.items()):
        if build is None:
            continue  # the platform
        held = enabled.get(module)
        if held is not None and held != chosen:
            raise StateError(
                f"module {module}: stream {held} is enabled, and enabling {name}:{stream}"
                f" would switch it to {chosen}; dnf refuses that"
            )
        enabled[module] = chosen
        disabled.discard(module)


def _seen(package: RpmPackage, include: set[Nevra], exclude: set[Nevra], names: set[str]) -> bool:
    """Whether dnf sees package: an active stream lists it, or no stream hides it (an inactive
    one listing it, an active one listing a package of its name or of a name it provides)."""
    key = (package.name, package.evr, package.arch)
    if key in include:
        return True
    replaced = package.name in names or any(p.name in names for p in package.provides)
    return key not in exclude and not replaced


def visible(
    repositories: Iterable[tuple[Sequence[RpmPackage], bool]],
    modules: Modules,
    state: State,
    platform: str | None,
) -> tuple[list[RpmPackage], list[RpmPackage]]:
    """The packages of each (packages, module_hotfixes) repository dnf sees, and those it hides
    (which libsolv still weighs as newer builds of a name: dislike_old_versions)."""
    on = active(modules, state, platform)
    include = {a for build in on for a in build.artifacts}
    names: set[str] = set()
    for build in on:
        names.update(n for n, _, _ in build.artifacts if n not in build.demodularized)
    exclude = {a for build in modules.streams if build not in on for a in build.artifacts}
    exclude -= include
    seen: list[RpmPackage] = []
    hidden: list[RpmPackage] = []
    for packages, hotfixes in repositories:
        if hotfixes or not (exclude or names):
            seen += packages
            continue
        for package in packages:
            (seen if _seen(package, include, exclude, names) else hidden).append(package)
    return seen, hidden


def merged(found: Iterable[Modules]) -> Modules:
    """The modules of several repositories together; two default streams of one module cancel
    out, as libdnf drops defaults that conflict."""
    streams: dict[Stream, None] = {}
    defaults: dict[str, str | None] = {}
    for modules in found:
        streams.update(dict.fromkeys(modules.streams))
        for module, stream in modules.defaults:
            defaults[module] = stream if defaults.get(module, stream) == stream else None
    kept = tuple((module, stream) for module, stream in defaults.items() if stream is not None)
    return Modules(tuple(streams), kept)
