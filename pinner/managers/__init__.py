"""Package managers beyond apt: the interface each module implements, and the table of modules.

A manager module reads the install commands of a RUN (words from pinner.apt.shell's lexer, with
offsets so pins are written in place), reads the base image's own configuration from files its
layers hold, resolves the named packages from the indexes that configuration names, and says how
a package word is pinned. The parts that read bytes are pure; the network is one `Fetch` handed in.
Adding a manager is adding a module and a line to MODULES.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import NamedTuple, Protocol, TypeVar

from pinner.apt.shell import Invocation
from pinner.lockfile import LockedPackage, UnpinnedPackage

# The lock's package-manager (as pinner.apt.commands names a RUN's manager) -> its module.
MODULES: Mapping[str, str] = {
    "apk": "pinner.managers.apk",
    "dnf": "pinner.managers.rpm",
    "yum": "pinner.managers.rpm",
    "microdnf": "pinner.managers.rpm",
    "pacman": "pinner.managers.pacman",
    "zypper": "pinner.managers.zypper",
}
# Every name --snapshot-mirror NAME=URL and the config's snapshot-mirrors table accept: apt's
# snapshot services and each distribution's mirror, whether or not its manager is pinned yet.
MIRROR_NAMES = frozenset(
    {"debian", "ubuntu", "alpine", "fedora", "centos", "rocky", "alma", "ubi", "arch", "opensuse"}
)
# What a stage's lock says when its versions can be installed only while the mirror serves them.
NOT_REBUILDABLE = "pinned, not rebuildable once the branch moves on"

# The ENV and ARG values a RUN starts with, name and value, as the RUN lexer takes them.
Env = tuple[tuple[str, str], ...]
# fetch(url, subject, limit) -> the body, at most limit bytes; raises MirrorError naming subject.
Fetch = Callable[[str, str, int], Awaitable[bytes]]


class ImageFileError(ValueError):
    """A file of the base image the manager must read is malformed (the message names it): the
    stage cannot be resolved as the build's package manager would, so the run fails."""


class Source(NamedTuple):
    """Where a stage's packages come from: the image's configuration, fetched through fetch."""

    fetch: Fetch
    config: ImageConfig
    # The run's snapshot mirrors (--snapshot-mirror NAME=URL): distribution name -> base URL.
    mirrors: Mapping[str, str]


class Removed(NamedTuple):
    """What removals (`apk del`, `pacman -R`) have taken out of the image by some point."""

    # Names gone from the base image's installed packages.
    names: frozenset[str] = frozenset()
    # Names among them that `pacman -Rc` or `apk del -r` took with the installed packages that
    # need them.
    cascaded: frozenset[str] = frozenset()
    # Names among them that `pacman -Rs` took with their dependencies (installed as such and
    # needed by nothing left), and whether `pacman -Rns $(pacman -Qtdq)` took the orphans.
    recursive: frozenset[str] = frozenset()
    orphans: bool = False
    # Words `pacman -R` removed without -s: their dependencies stay installed.
    left: tuple[PackageArg, ...] = ()
    # Names of the words installed before one of the removals: apk's world holds them, so the
    # removal keeps their packages; a word installed after every removal is installed anew.
    installed_before: frozenset[str] = frozenset()
    # Those words, each with the names removals had taken out of the image when it went in: what
    # it needs of the base image's packages left then stays installed through later removals
    # (its needs that a removal had taken were fetched anew).
    installed_on: tuple[tuple[str, frozenset[str]], ...] = ()


class Mode(NamedTuple):
    """How a stage's words are resolved; fields a manager has no use for it leaves alone."""

    # The lock's time: managers with dated snapshots resolve from that date's indexes, the others
    # from what their mirrors serve now. A manager whose snapshots expire (snapshot_on_request)
    # gets "" unless --snapshot asked for one or the stage already has its step.
    snapshot: str
    # `update --pin-versions`, which rewrites the words: ignore their exact pins.
    refresh: bool = False
    # A command of the stage upgrades the installed packages (Install.upgrades): the packages it
    # would fetch are resolved and recorded too.
    upgrade: bool = False
    # What removals (`apk del`, `pacman -R` in the stage or the stages it is FROM) took out of
    # the image before these words are installed: what they satisfied is resolved.
    removed: Removed = Removed()
    # The words of each name that one install command names more than once, in order (the
    # requests hold the merged word): pacman refuses two that pick different packages.
    repeated: tuple[tuple[PackageArg, ...], ...] = ()


class PackageArg(NamedTuple):
    """A package word of an install command; start/end span the word in the RUN's shell text."""

    name: str
    # What follows the name as written ("=1.2-r0", "~1.2", ">1.0"), None for a bare name.
    constraint: str | None
    start: int
    end: int
    # Written without quotes, escapes or expansions: a pin can replace the word as it stands.
    plain: bool = True
    # Repositories named for this word alone: apk add --repository URL adds them; pacman's
    # `core/glibc` takes the word from that repository only.
    repositories: tuple[str, ...] = ()
    # `apk add --virtual NAME`: the word is installed as a dependency of NAME, and `apk del NAME`
    # removes it.
    group: str | None = None
    # `apk add --upgrade`: the newest build of the word and of everything it depends on is
    # installed, also where the image has an older one.
    upgrade: bool = False
    # `apk add foo@testing`: the tag of the repositories the word may take its package from
    # (tagged repositories serve only the words that name their tag).
    tag: str | None = None
    # `zypper install --oldpackage`: the word's build goes in also over a newer one installed.
    oldpackage: bool = False
    # What the commands before the word, in its stage and the stages it is FROM, changed that
    # its resolution reads (`dnf module enable nodejs:20`): Install.state items, in order.
    state: tuple[str, ...] = ()


class Install(NamedTuple):
    """One install command: its package words and what pinner cannot pin in it."""

    program: str
    packages: tuple[PackageArg, ...]
    notes: tuple[str, ...]
    start: int
    end: int
    # The command also upgrades what is installed (pacman -Su).
    upgrades: bool = False
    # What the command changes for the install commands after it, in the manager's own words
    # (`enable nodejs:20`): the engine hands them on in each later word's PackageArg.state, and
    # the lock records the command among the install commands.
    state: tuple[str, ...] = ()


class ImageConfig(Protocol):
    """What configure() read from a base image; each manager keeps its own fields beside these."""

    @property
    def distro(self) -> str: ...

    @property
    def release(self) -> str | None: ...

    @property
    def arch(self) -> str: ...


class System(NamedTuple):
    """A stage's distribution and release, as its lock records them (None where unknown), the
    shell a RUN's SHELL instruction names (None: the image's /bin/sh) and where the RUN's
    --mount flags mount something (what is written there stays out of the image)."""

    distro: str | None
    release: str | None
    shell: str | None = None
    mounts: tuple[str, ...] = ()


class Resolved(NamedTuple):
    """What a manager resolved for one architecture."""

    packages: tuple[LockedPackage, ...]
    unpinned: tuple[UnpinnedPackage, ...] = ()
    notes: tuple[str, ...] = ()
    signature: str | None = None
    # False where the mirror keeps only the newest build (apk branches, dnf without composes).
    rebuildable: bool = False


# requires(source, words, mode) -> each word's name -> what its packages need (Manager.requires).
Requires = Callable[[Source, Sequence[PackageArg], Mode], Awaitable[dict[str, frozenset[str]]]]


class Manager(Protocol):
    """One package manager, as the engine, the rewrite, the lock reader and check use it."""

    @property
    def name(self) -> str:
        """The lock's package-manager value, e.g. "apk"."""

    @property
    def programs(self) -> frozenset[str]:
        """The programs whose invocations this module reads, e.g. {"apk"}."""

    @property
    def image_paths(self) -> tuple[str, ...]:
        """Absolute paths the base image must yield: files, or "dir/*" and "dir/*.suffix"."""

    def platform(self, arch: str) -> str | None:
        """The platform ("linux/arm64") whose packages carry this lock architecture ("aarch64")."""

    @property
    def snapshots(self) -> bool:
        """Whether the distribution keeps dated snapshots: a stage gets the step even when its
        RUNs name no package (`pacman -Syu`)."""

    @property
    def version_pins(self) -> bool:
        """Whether --pin-versions writes versions into install words (pacman cannot take them)."""

    @property
    def snapshot_on_request(self) -> bool:
        """Whether the snapshots expire (composes kept for weeks): resolve() and step() get the
        lock's time only when --snapshot asks for it or the stage already has the step."""

    @property
    def reads_every_layer(self) -> bool:
        """Whether the engine reads image_paths from every layer of the base image, so what its
        upper layers installed or configured counts, not from the OS layer alone."""

    @property
    def copied_paths(self) -> tuple[str, ...]:
        """The files and folders of its configuration a COPY or ADD may put in place (a file
        copied onto or under one, or a tree holding one, `COPY rootfs/ /`)."""

    @property
    def unpins_after_changes(self) -> bool:
        """Whether words after a RUN or COPY that changes the repositories are recorded as not
        pinned: they may come from repositories pinner did not read."""

    @property
    def step_paths(self) -> tuple[str, ...]:
        """The files the snapshot step writes: a copy of one before the step is overwritten."""

    def installs(self, invocation: Invocation) -> Install | None:
        """The package words one invocation installs, or None if it installs nothing."""

    @property
    def removes(self) -> Callable[[Invocation], Removal | None] | None:
        """What one invocation removes (`apk del`, `pacman -R`), None for other commands; None
        for a manager that does not follow removals."""

    @property
    def appended_repositories(self) -> Callable[[str, str], tuple[tuple[int, str], ...]] | None:
        """For a manager whose words name a repository by a tag a RUN may add (`echo '@testing
        URL' >> /etc/apk/repositories`, `apk add foo@testing`): (RUN shell, escape) -> each
        repository line the RUN appends, with the offset after the command; None otherwise."""

    @property
    def step_unserved(self) -> Callable[[Source, str], Awaitable[list[str]]] | None:
        """For a stage with the step, one line per thing its text names that is gone (an
        expired compose), asked instead of unserved(); None where the step does not expire."""

    @property
    def requires(self) -> Requires | None:
        """For a manager that follows `apk del -r` or `pacman -Rc` to the words installed before
        it: each word's name -> the names, and names provided, its packages need down their
        dependencies on the source's image (words it cannot say are left out); None otherwise."""

    def configure(self, files: Mapping[str, bytes], platform: str) -> ImageConfig | str:
        """The image's own configuration from its files (absolute path -> bytes), or why not;
        ImageFileError when a file it must read is malformed."""

    async def resolve(self, source: Source, requests: Sequence[PackageArg], mode: Mode) -> Resolved:
        """Resolve the requested words for the source configuration's architecture, as mode says."""

    def step(
        self, config: ImageConfig, snapshot: str, mirrors: Mapping[str, str]
    ) -> tuple[str, ...] | str | None:
        """The shell lines pointing the image at the snapshot, why they cannot, or None (no
        dated snapshots: apk). Asked before resolve() and again after it, for a step that
        depends on what resolve read (Tumbleweed's history date)."""

    def config_changes(self, run_text: str, escape: str, env: Env = ()) -> str | None:
        """Why a RUN may point the manager past pinner's step (its own mirrors or repositories),
        or None; env: the ENV and ARG values it starts with."""

    def pin_word(self, name: str, version: str) -> str:
        """The word that installs exactly version: "curl=8.5.0-r0"."""

    def takes_pins(self, invocation: Invocation, word: str) -> bool:
        """Whether a command other than an install reads the pinned word as the name it pins
        (`rpm -V curl-8.5.0-1.fc40`), so a variable both name can hold the pin."""

    def cleanup(
        self, run_text: str, invocations: Sequence[Invocation], system: System
    ) -> str | None:
        """The cleanup to append to a RUN (its shell and invocations) on the stage's system, None
        if not needed: the package cache, and what else differs between builds."""

    def checked(self, package: LockedPackage) -> LockedPackage:
        """package, when every field is what an index could say; ValueError says why not."""

    async def unserved(self, source: Source, packages: Sequence[LockedPackage]) -> list[str]:
        """One line per locked package the configured repositories no longer serve."""


_Config = TypeVar("_Config")


def own(config: ImageConfig, kind: type[_Config]) -> _Config:
    """The configuration a manager's configure() made: the engine hands each manager its own."""
    if not isinstance(config, kind):
        raise TypeError(f"a manager was handed {type(config).__name__}, not its {kind.__name__}")
    return config


_loaded: dict[str, Manager] = {}


def get(name: str | None) -> Manager | None:
    """The manager module for a lock's package-manager name, or None where none is written."""
    if name is None or name not in MODULES:
        return None
    if name not in _loaded:
        module = importlib.import_module(MODULES[name])
        _loaded[name] = module.MANAGER
    return _loaded[name]


def dropins(files: Mapping[str, bytes], folders: Sequence[str], suffix: str = ".conf") -> list[str]:
    """The `*.conf` (or `*suffix`) files of folders ("/etc/x.d/") in file-name order, as libeconf
    and libdnf5 read drop-ins: a later folder's file hides an earlier one's of the same name."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in files:
            name = path.removeprefix(folder)
            if path.startswith(folder) and "/" not in name and name.endswith(suffix):
                found[name] = path
    return [found[name] for name in sorted(found)]


def image_paths() -> tuple[str, ...]:
    """Every path any manager module wants from a base image."""
    found: dict[str, None] = {}
    for name in MODULES:
        manager = get(name)
        assert manager is not None
        found.update(dict.fromkeys(manager.image_paths))
    return tuple(found)


class Removal(NamedTuple):
    """One remove command: the names it removes, and whether their dependencies go too."""

    names: tuple[str, ...]
    # apk del and pacman -Rs remove the dependencies nothing else needs; pacman -R leaves them.
    recursive: bool = True
    # pacman -Rc and apk del -r: the installed packages that need the names go too.
    cascade: bool = False
    # `pacman -Rns $(pacman -Qtdq)`: the packages installed as dependencies that nothing needs
    # any more (those of words removed without their dependencies).
    orphans: bool = False


def merged_word(
    manager: str, held: PackageArg | None, word: PackageArg, *, same_command: bool = False
) -> PackageArg:
    """What a name's word held so far becomes when a later install word names it again."""
    if held is None:
        return word
    upgrade = word.upgrade or held.upgrade
    if manager == "zypper":
        # zypper installs or updates: a bare name takes the newest build, an older build than
        # the one installed is not taken without --oldpackage (zypper 1.14, one command or two).
        # A later command's versioned word with --oldpackage is installed whatever is there; in
        # one command the bare name still takes the newest.
        if word.oldpackage and word.constraint is not None and not same_command:
            return word
        if held.constraint is None or word.constraint is None:
            return held if held.constraint is None else word
        if held.constraint.startswith("=") and word.constraint.startswith("="):
            newer = _rpm_newer(word.constraint[1:], held.constraint[1:])
            return word if newer else held
        return word
    if manager == "pacman":
        # pacman -S takes each target from the sync databases whatever is installed (a later
        # `pacman -S foo` after `foo=1.0-1` or `extra/foo` moves foo back to the first
        # repository's build); one command naming two packages of foo is refused ("duplicate
        # target"), which Pacman.resolve reads from Mode.repeated.
        return word
    if word.tag != held.tag or (same_command and manager == "apk"):
        # `apk add foo@testing` after `apk add foo`, or `apk add foo foo=1.2-r0`: the later word
        # replaces foo's world entry (apk_deps_add), its tag and constraint.
        return word._replace(upgrade=upgrade)
    # A later command: what the earlier one installed stays where the later word allows it (apk
    # keeps an installed package that meets the world, dnf says "Nothing to do"); otherwise the
    # later word's build is installed over it. dnf 4 reads one command naming `foo-1.0-1 foo`
    # so too (with best=False; best=True refuses it). A tagged apk word takes its tag's build
    # over the one installed.
    kept = word.constraint is None and word.tag is None
    exact = held.constraint is not None and held.constraint.startswith("=")
    if manager == "apk" and exact and word.constraint is not None:
        from pinner.managers import apk  # apk imports this module

        kept = apk.meets((held.constraint or "")[1:], held.name + word.constraint)
    if kept and not word.upgrade:
        return held._replace(upgrade=upgrade)
    return word._replace(upgrade=upgrade)


def _rpm_newer(one: str, other: str) -> bool:
    """Whether [epoch:]version[-release] one is newer than other."""
    from pinner.managers import rpmversion

    try:
        return rpmversion.compare_evr(rpmversion.parse_evr(one), rpmversion.parse_evr(other)) > 0
    except ValueError:
        return True


def invocations_installs(manager: Manager, invocations: Sequence[Invocation]) -> list[Install]:
    """The install commands among a RUN's invocations that this manager reads."""
    found = []
    for invocation in invocations:
        if invocation.program in manager.programs:
            install = manager.installs(invocation)
            if install is not None:
                found.append(install)
    return found
