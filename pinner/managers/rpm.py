"""dnf, yum and microdnf (Fedora, CentOS Stream, RHEL/UBI, Rocky, AlmaLinux) as a pinner manager.

The repositories these images configure keep only their current builds (Fedora's and EL's
`updates`), so a lock records what they serve today: NEVRA and checksum per architecture, pins
`name-[epoch:]version-release` with --pin-versions, and `update` moves them on. Asked with
--snapshot, Fedora's and CentOS Stream's stages are pointed at the dated compose of the lock's
time instead (pinner.managers.rpmcompose), which their hosts keep for some weeks.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from pinner import managers
from pinner.apt.release import GpgvMissing, signing_key
from pinner.apt.shell import Invocation
from pinner.errors import MirrorError, PackageError
from pinner.lockfile import LockedPackage, UnpinnedPackage, is_relative_file
from pinner.managers import (
    Fetch,
    ImageConfig,
    Install,
    Manager,
    PackageArg,
    Resolved,
    own,
    pgpkey,
    rpmcompose,
    rpmconfig,
    rpmmodules,
    rpmversionlock,
)
from pinner.managers import repodata as rd
from pinner.managers.leftovers import expands_braces
from pinner.managers.rpmcommands import (
    CONFIG_PATHS,
    DNF5,
    PROGRAMS,
    RpmOptions,
    cleanup_for,
    erases,
    queries,
    read_command,
    removes_packages,
    repositories_change,
)
from pinner.managers.rpmconfig import (
    BASEARCH,
    IMAGE_PATHS,
    Repo,
    RpmConfig,
    configure,
    configured,
    enabled_repos,
)
from pinner.managers.rpmresolve import Pool, clash, covered, resolve
from pinner.managers.rpmversion import ARCHES, parse_evr
from pinner.outcome import SIGNATURE_UNCHECKED, SIGNATURE_VERIFIED
from pinner.output import untrusted
from pinner.reference import is_loopback

NAME = "dnf"
# The distribution's os-release ID -> the --snapshot-mirror name that replaces its repositories.
MIRROR_NAMES: Mapping[str, str] = {
    "fedora": "fedora",
    "centos": "centos",
    "rocky": "rocky",
    "almalinux": "alma",
    "rhel": "ubi",
}
MAX_PRIMARY_BYTES = 128 * 1024 * 1024  # compressed; Fedora's largest is about 40 MiB
MAX_SIGNATURE_BYTES = 64 * 1024  # repomd.xml.asc: one armored signature is under 1 KiB
MAX_KEY_BYTES = 1024 * 1024  # a gpgkey= URL's keys: a few KiB, more with many signatures
SIGNATURE_OFF = "not checked: repo_gpgcheck is off"
_KEY_DIR = "/etc/pki/rpm-gpg/"
_MIRRORS_TRIED = 3
_COMPOSES_TRIED = 5  # the newest composes before the day whose STATUS is read
_NAME_RE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_+.~^-]*")
_VERSION_RE = re.compile(r"([0-9]+:)?[A-Za-z0-9_+.~^]+-[A-Za-z0-9_+.~^]+")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_CHECKSUM_RE = re.compile(r"(sha1|sha384|sha512):[0-9a-f]{40,128}")
_FILENAME_RE = re.compile(r"[A-Za-z0-9_+.~^/%@=-]+\.rpm")
# A word as --pin-versions writes it: name-[epoch:]version-release, the version starting with a
# digit and the release holding one. Names such as java-17-openjdk or gcc-toolset-13 do not
# match (their last part has no digit, or there is no second dash after the name).
_PINNED_RE = re.compile(
    r"(?P<name>[A-Za-z0-9_+][A-Za-z0-9_+.-]*)"
    r"-(?P<evr>(?:[0-9]+:)?[0-9][A-Za-z0-9_+.~^]*-[A-Za-z0-9_+.~^]*[0-9][A-Za-z0-9_+.~^]*)"
)


class _Repodata(NamedTuple):
    packages: tuple[rd.RpmPackage, ...]
    base: str
    signature: str = SIGNATURE_OFF  # what came of repomd.xml's signature
    modules: rpmmodules.Modules = rpmmodules.Modules()  # its modules.yaml (EL 8 and 9)


class _Pool(NamedTuple):
    """The packages of the repositories one command uses, and what reading them found."""

    pool: Pool
    repo_ids: tuple[str, ...]
    notes: tuple[str, ...]
    signatures: frozenset[str]
    targets: tuple[rpmcompose.Target, ...] = ()  # repositories the compose step re-points
    live: bool = True  # some repository was read as served now, not from a compose


def _keyrings(
    config: RpmConfig, repo: Repo, remote: Mapping[str, bytes], folder: Path
) -> list[Path]:
    """The repository's gpgkey= files the image holds and the keys fetched from its gpgkey=
    URLs (remote: URL -> binary packets), written to folder for gpgv."""
    held = dict(config.key_files)
    paths = []
    for n, url in enumerate(repo.gpgkeys):
        path = url.removeprefix("file://")
        if url.startswith("file://") and path.startswith(_KEY_DIR) and path in held:
            data = pgpkey.dearmor(held[path])
        elif url in remote:
            data = remote[url]
        else:
            continue
        keyring = folder / f"{n}.gpg"
        keyring.write_bytes(data)
        paths.append(keyring)
    return paths


def _key_url(url: str) -> bool:
    """Whether a gpgkey= URL may be fetched: https, or plain http to this machine (a stand-in)."""
    if url.startswith("https://"):
        return _http(url)
    host = url.removeprefix("http://").split("/", 1)[0].rpartition("@")[2]
    return url.startswith("http://") and _http(url) and is_loopback(host)


def _bare(word: PackageArg) -> PackageArg:
    """word as installs() read it, before the engine added what earlier commands changed."""
    return word._replace(state=()) if word.state else word


def _stage_signature(signatures: set[str]) -> str | None:
    """ "verified" when every repository's repomd.xml was (naming the keys fetched to do so);
    otherwise what was not checked."""
    unchecked = sorted(s for s in signatures if not s.startswith(SIGNATURE_VERIFIED))
    if unchecked or not signatures:
        return unchecked[0] if unchecked else None
    keys = sorted(
        s.removeprefix(f"{SIGNATURE_VERIFIED} (")[:-1] for s in signatures - {SIGNATURE_VERIFIED}
    )
    return f"{SIGNATURE_VERIFIED} ({'; '.join(keys)})" if keys else SIGNATURE_VERIFIED


def _http(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not any(c.isspace() for c in url)


def locked(package: rd.RpmPackage, arch: str) -> LockedPackage:
    """The lock's record of a primary.xml package installed on basearch arch."""
    sha256 = package.checksum.hexdigest if package.checksum.kind == "sha256" else ""
    checksum = None if sha256 else f"{package.checksum.kind}:{package.checksum.hexdigest}"
    return LockedPackage(
        package.name, arch, str(package.evr), sha256, package.href, checksum=checksum
    )


def checked(package: LockedPackage) -> LockedPackage:
    """A locked dnf package whose every field is what primary.xml could say."""
    where = f"package {untrusted(package.name)!r}"
    if not _NAME_RE.fullmatch(package.name):
        raise ValueError(f"{where}: not an RPM package name")
    if package.architecture not in ARCHES:
        raise ValueError(f"{where}: architecture {untrusted(package.architecture)!r} is not valid")
    if not _VERSION_RE.fullmatch(package.version):
        raise ValueError(f"{where}: version {untrusted(package.version)!r} is not an RPM EVR")
    if package.sha256:
        if not _SHA256_RE.fullmatch(package.sha256) or package.checksum is not None:
            raise ValueError(f"{where}: sha256 {untrusted(package.sha256)!r} is malformed")
    elif package.checksum is None or not _CHECKSUM_RE.fullmatch(package.checksum):
        raise ValueError(f"{where}: neither a sha256 nor a checksum primary.xml could give")
    if not is_relative_file(package.filename, _FILENAME_RE):
        raise ValueError(f"{where}: filename {untrusted(package.filename)!r} is not an RPM path")
    return package


def dnf5_programs(system: managers.System) -> frozenset[str]:
    """The programs that are dnf5 in the stage's image: dnf5 itself, microdnf from Fedora 38
    (dnf5 ships it), dnf and yum from Fedora 41 (Rawhide since then)."""
    release = system.release or ""

    def since(first: int) -> bool:
        return system.distro == "fedora" and (
            release == "rawhide" or (release.isdigit() and int(release) >= first)
        )

    return DNF5 | {
        name for name, first in (("microdnf", 38), ("dnf", 41), ("yum", 41)) if since(first)
    }


def yum3(system: managers.System) -> bool:
    """Whether the stage's yum is yum 3: EL 7 and older, Amazon Linux 2."""
    return rpmconfig.yum3(system.distro or "", system.release or "")


class Rpm:
    """dnf, yum and microdnf, as pinner.managers.Manager."""

    name = NAME
    programs = PROGRAMS
    image_paths = IMAGE_PATHS
    snapshots = False
    # Fedora's and CentOS Stream's composes are kept for some weeks (Rawhide's for days) only.
    snapshot_on_request = True
    version_pins = True
    # Language images (ubi9/python-312 and the like) install packages in upper layers, and the
    # rpmdb there is the one dnf will see.
    reads_every_layer = True
    unpins_after_changes = True
    # What a tree copied to / or /etc may hold (COPY rootfs/ /).
    copied_paths = CONFIG_PATHS
    step_paths = ()
    appended_repositories = None
    removes = None
    requires = None

    def __init__(self) -> None:
        # A repository's primary is read once per content (repomd.xml names it by checksum).
        self._repodata: dict[str, _Repodata] = {}
        # The options of the command of each word (--enablerepo, weak deps): installs() sees the
        # command, resolve() only its words.
        self._options: dict[PackageArg, RpmOptions] = {}
        # The program each word's command runs (dnf, dnf5, yum, microdnf).
        self._programs: dict[PackageArg, str] = {}
        # The arch a word names after its package (curl.x86_64), which the PackageArg leaves out.
        self._arches: dict[PackageArg, str] = {}
        # The command each word came from, numbered as installs() reads them: a stage's commands
        # are resolved one after the other, each on what the ones before it installed.
        self._commands: dict[PackageArg, int] = {}
        self._read = 0
        # The compose chosen per (series, snapshot), and the step each resolved stage needs.
        self._composes: dict[tuple[str, str, str], str] = {}
        self._steps: dict[tuple[str, RpmConfig], tuple[rpmcompose.Target, ...]] = {}

    def platform(self, arch: str) -> str | None:
        return next((f"linux/{p}" for p, a in BASEARCH.items() if a == arch), None)

    def installs(self, invocation: Invocation) -> Install | None:
        command = read_command(invocation)
        if command is None:
            return None
        packages = []
        number = self._read
        self._read += 1
        for arg in command.packages:
            # name.arch and name-[E:]V-R.arch: the word's span stops before ".arch", so a pin
            # written there keeps the arch, and resolve() asks for that arch again.
            spec, arch = arg.spec, None
            stem, dot, tail = spec.rpartition(".")
            if dot and stem and tail in ARCHES and arg.plain:
                spec, arch = stem, tail
            end = arg.end - (len(arch) + 1 if arch else 0)
            pinned = _PINNED_RE.fullmatch(spec)
            named = pinned is not None or _NAME_RE.fullmatch(spec) is not None
            plain = arg.plain and named
            if pinned is not None:
                word = PackageArg(pinned["name"], f"={pinned['evr']}", arg.start, end, plain)
            else:
                word = PackageArg(spec, None, arg.start, end, plain)
            self._options.setdefault(word, command.options)
            self._programs.setdefault(word, command.program)
            if arch is not None:
                self._arches[word] = arch
            self._commands.setdefault(word, number)
            packages.append(word)
        return Install(
            command.program,
            tuple(packages),
            command.notes,
            command.start,
            command.end,
            state=command.state,
        )

    def configure(self, files: Mapping[str, bytes], platform: str) -> RpmConfig | str:
        return configure(files, platform.removeprefix("linux/"))

    async def _fetch_repo(
        self, fetch: Fetch, config: RpmConfig, repo: Repo, mirrors: Mapping[str, str]
    ) -> _Repodata:
        """A repository's primary packages, read down its checksum chain."""
        mirror = mirrors.get(MIRROR_NAMES.get(config.distro, ""))
        metalink = None
        bases: tuple[str, ...]
        try:
            if mirror:
                # A company mirror or a test stand-in lays each repository out under its id.
                bases = (f"{mirror.rstrip('/')}/{repo.id}/",)
            elif repo.baseurls:
                bases = repo.baseurls
            elif repo.metalink:
                if not _http(repo.metalink):
                    raise MirrorError(f"{repo.source}: [{repo.id}] metalink is not an http(s) URL")
                data = await fetch(repo.metalink, f"[{repo.id}] metalink", rd.MAX_DOCUMENT)
                metalink = rd.parse_metalink(data, f"[{repo.id}] metalink")
                bases = metalink.urls
            elif repo.mirrorlist:
                if not _http(repo.mirrorlist):
                    raise MirrorError(
                        f"{repo.source}: [{repo.id}] mirrorlist is not an http(s) URL"
                    )
                data = await fetch(repo.mirrorlist, f"[{repo.id}] mirrorlist", rd.MAX_DOCUMENT)
                bases = rd.parse_mirrorlist(data, f"[{repo.id}] mirrorlist")
            else:
                raise MirrorError(
                    f"{repo.source}: [{repo.id}] has no baseurl, metalink or mirrorlist"
                )
        except rd.RepodataError as error:
            raise MirrorError(str(error)) from None
        candidates = [b if b.endswith("/") else f"{b}/" for b in bases if _http(b)]
        if not candidates:
            raise MirrorError(f"{repo.source}: [{repo.id}] names no http(s) URL")
        # As dnf does, a mirror that fails or serves metadata that does not verify gives way to
        # the next one the metalink or mirrorlist names (at most three are tried).
        failure = MirrorError(f"[{repo.id}]: no mirror answered")
        for base in candidates[:_MIRRORS_TRIED]:
            try:
                return await self._read_base(fetch, config, repo, base, metalink)
            except MirrorError as error:
                failure = error
        raise failure

    async def _remote_keys(
        self, fetch: Fetch, repo: Repo
    ) -> dict[str, tuple[bytes, tuple[str, ...]]]:
        """The keys of the repository's https gpgkey= URLs: URL -> (binary packets, primary
        fingerprints), each checked to be OpenPGP public keys alone."""
        found = {}
        for url in repo.gpgkeys:
            if not _key_url(url):
                continue
            subject = f"[{repo.id}] gpgkey {untrusted(url)}"
            data = await fetch(url, subject, MAX_KEY_BYTES)
            try:
                found[url] = pgpkey.public_keys(data)
            except ValueError as error:
                raise MirrorError(f"{subject}: not an OpenPGP public key: {error}") from None
        return found

    async def _check_signature(
        self, fetch: Fetch, config: RpmConfig, repo: Repo, base: str, repomd: bytes
    ) -> str:
        """Verify repomd.xml.asc with the repository's keys (repo_gpgcheck=1): those the image
        holds, and those its https gpgkey= URLs serve, which the answer then names."""
        subject = f"[{repo.id}] {untrusted(base)}repodata/repomd.xml.asc"
        try:
            signature = await fetch(f"{base}repodata/repomd.xml.asc", subject, MAX_SIGNATURE_BYTES)
        except MirrorError as error:
            raise MirrorError(f"{error} (repo_gpgcheck=1 asks for it)") from None
        remote = await self._remote_keys(fetch, repo)
        with tempfile.TemporaryDirectory(prefix="pinner-rpm-keys-") as folder:
            packets = {url: key[0] for url, key in remote.items()}
            keyrings = _keyrings(config, repo, packets, Path(folder))
            if not keyrings:
                raise MirrorError(
                    f"{repo.source}: [{repo.id}] has repo_gpgcheck=1 but none of its gpgkey="
                    f" is a file in the image's {_KEY_DIR} or an https URL"
                )
            try:
                key = signing_key(repomd, keyrings, source=subject, detached=signature)
            except GpgvMissing:
                return SIGNATURE_UNCHECKED
        # A key from the network is named in the lock: the image's digest does not pin it.
        url = next((u for u, (_, fprs) in remote.items() if key in fprs), None)
        if url is not None:
            return f"{SIGNATURE_VERIFIED} ([{repo.id}] with key {key} from {untrusted(url)})"
        return SIGNATURE_VERIFIED

    async def _read_base(
        self,
        fetch: Fetch,
        config: RpmConfig,
        repo: Repo,
        base: str,
        metalink: rd.Metalink | None,
    ) -> _Repodata:
        subject = f"[{repo.id}] {untrusted(base)}repodata/repomd.xml"
        repomd = await fetch(f"{base}repodata/repomd.xml", subject, rd.MAX_DOCUMENT)
        signature = SIGNATURE_OFF
        if repo.repo_gpgcheck:
            # Before anything in repomd.xml is read: dnf refuses metadata that does not verify.
            signature = await self._check_signature(fetch, config, repo, base, repomd)
        try:
            if metalink is not None:
                rd.check_repomd(metalink, repomd, subject)
            entries = rd.parse_repomd(repomd, subject)
            entry, listed = entries["primary"], entries.get("modules")
            key = f"{base}{entry.href} {entry.checksum.hexdigest}"
            if listed is not None:
                key += f" {listed.href} {listed.checksum.hexdigest}"
            if key in self._repodata:
                return self._repodata[key]._replace(signature=signature)
            limit = min(entry.size or MAX_PRIMARY_BYTES, MAX_PRIMARY_BYTES)
            primary_subject = f"[{repo.id}] {entry.href}"
            data = await fetch(f"{base}{entry.href}", primary_subject, limit)
            packages = rd.primary_packages(entry, data, primary_subject)
            modules = rpmmodules.Modules()
            if listed is not None:
                modules = await self._modules(fetch, base, f"[{repo.id}] {listed.href}", listed)
        except (rd.RepodataError, rpmmodules.ModulesError) as error:
            raise MirrorError(str(error)) from None
        found = _Repodata(tuple(packages), base, signature, modules)
        self._repodata[key] = found
        return found

    async def _modules(
        self, fetch: Fetch, base: str, subject: str, entry: rd.RepomdEntry
    ) -> rpmmodules.Modules:
        """A repository's modules.yaml, checked against repomd.xml as primary is."""
        limit = min(entry.size or rpmmodules.MAX_MODULES, rpmmodules.MAX_MODULES)
        data = await fetch(f"{base}{entry.href}", subject, limit)
        if entry.size is not None and len(data) != entry.size:
            raise MirrorError(f"{subject}: {len(data)} bytes, repomd.xml says {entry.size}")
        entry.checksum.check(data, subject)
        text = b"".join(rd.decompress(data, entry.href, rpmmodules.MAX_MODULES))
        return rpmmodules.parse_modules(text, subject)

    async def _compose(self, fetch: Fetch, line: rpmcompose.Series, snapshot: str) -> str:
        """The newest finished compose of a series dated before the snapshot's day."""
        key = (line.listing, line.prefix, snapshot)  # one choice for every variant
        if key not in self._composes:
            subject = f"{untrusted(line.listing)} ({line.prefix} composes)"
            listing = await fetch(line.listing, subject, rpmcompose.MAX_LISTING)
            ids = rpmcompose.candidates(listing, line, snapshot)
            for compose in ids[:_COMPOSES_TRIED]:
                status_url = f"{line.listing}{compose}/STATUS"
                status = await fetch(status_url, status_url, rpmcompose.MAX_STATUS)
                if rpmcompose.finished(status):
                    self._composes[key] = compose
                    break
            else:
                raise MirrorError(
                    f"{subject}: no finished compose dated before {snapshot[:8]}"
                    f" (newest {_COMPOSES_TRIED} tried)"
                )
        return self._composes[key]

    async def _pool(
        self,
        fetch: Fetch,
        config: RpmConfig,
        options: RpmOptions,
        mirrors: Mapping[str, str],
        snapshot: str = "",
        changes: tuple[str, ...] = (),
    ) -> _Pool:
        """The packages of the repositories a command uses: from the compose of snapshot's time
        where one is asked for and kept, else as served now. changes: what the build's module
        commands before it changed (rpmmodules.changed); StateError where dnf refuses them."""
        composes = bool(snapshot) and rpmcompose.family(config) is not None
        mirrored = not composes and bool(mirrors.get(MIRROR_NAMES.get(config.distro, "")))
        repos, notes = [], []
        for repo in enabled_repos(config, options):
            urls = (*repo.baseurls, repo.metalink or "", repo.mirrorlist or "")
            if mirrored or any(_http(url) for url in urls):
                repos.append(repo)
            else:
                # A file:// or media repository the build brings along: nothing to fetch here.
                notes.append(
                    f"[{repo.id}] ({repo.source}) is not an http(s) repository; its packages"
                    " are not considered"
                )
        served: list[tuple[Sequence[rd.RpmPackage], bool]] = []
        excluded: list[rd.RpmPackage] = []  # what excludepkgs and includepkgs hide
        modules: list[rpmmodules.Modules] = []
        signatures = set()
        targets: list[rpmcompose.Target] = []
        pinned: dict[tuple[str, str, str], list[str]] = {}
        live = False
        files = dict(config.repo_files)
        # In compose mode the family's --snapshot-mirror names the compose host, not a mirror
        # of the repositories that have no compose (extras-common, a third party's).
        own_host = rpmcompose.family(config) if composes else None
        others = {k: v for k, v in mirrors.items() if k != own_host}
        for repo in repos:
            try:
                line = rpmcompose.series(config, repo, mirrors) if composes else None
            except ValueError as error:
                raise MirrorError(str(error)) from None
            found: _Repodata | None = None
            if line is not None:
                compose = await self._compose(fetch, line, snapshot)
                pointed = rpmcompose.target(repo, files, line.tree(compose))
                if isinstance(pointed, str):
                    notes.append(pointed)
                else:
                    targets.append(pointed)
                    where = (compose, line.listing.split("/")[2], line.expiry())
                    pinned.setdefault(where, []).append(repo.id)
                    base = line.tree(compose, config.arch)
                    found = await self._read_base(fetch, config, repo, base, None)
            elif composes and not rpmcompose.frozen(config, repo):
                notes.append(
                    f"[{repo.id}] ({repo.source}) has no dated compose;"
                    " its packages are what it serves now"
                )
            if found is None:
                live = live or not rpmcompose.frozen(config, repo)
                found = await self._fetch_repo(fetch, config, repo, others)
            weighed: Sequence[rd.RpmPackage] = found.packages
            if (repo.priority, repo.cost) != (99, 1000):
                weighed = [
                    p._replace(priority=repo.priority, cost=repo.cost) for p in found.packages
                ]
            shown, dropped = configured(weighed, repo, config, options)
            excluded += dropped
            served.append((shown, repo.module_hotfixes))
            modules.append(found.modules)
            signatures.add(found.signature)
        for (compose, host, expiry), ids in pinned.items():
            listed = ", ".join(f"[{i}]" for i in ids)
            notes.append(f"{listed} pinned to the compose {compose}; {host} {expiry}")
        # dnf hides what modular filtering leaves out (rpmmodules): a build nobody can install.
        together = rpmmodules.merged(modules)
        state = config.modules
        if changes:
            state = rpmmodules.changed(state, together, config.platform, changes)
        try:
            packages, hidden = rpmmodules.visible(served, together, state, config.platform)
        except rpmmodules.ModulesError as error:
            raise MirrorError(str(error)) from None
        pool = Pool(packages, config.installed or (), config.arch, [*hidden, *excluded])
        return _Pool(
            pool,
            tuple(r.id for r in repos),
            tuple(notes),
            frozenset(signatures),
            tuple(targets),
            live or not composes,
        )

    async def resolve(
        self, source: managers.Source, requests: Sequence[PackageArg], mode: managers.Mode
    ) -> Resolved:
        fetch, image, mirrors = source
        snapshot, refresh = mode.snapshot, mode.refresh
        config = own(image, RpmConfig)
        commands: list[tuple[RpmOptions, list[str]]] = []
        # Each spec's request, so an error names the word's line, not the spec's text.
        asked: list[dict[str, PackageArg]] = []
        last: int | None = None

        def spec_of(request: PackageArg) -> str:
            # An exact pin asks for that build; update (refresh) asks for the newest again.
            exact = request.constraint is not None and not refresh
            spec = f"{request.name}-{(request.constraint or '=')[1:]}" if exact else request.name
            arch = self._arches.get(_bare(request))
            return f"{spec}.{arch}" if arch else spec

        # The words lock merged away where one command names a name twice, by command.
        merged: dict[int | None, dict[str, PackageArg]] = {}
        for group in mode.repeated:
            for word in group:
                merged.setdefault(self._commands.get(_bare(word)), {})[spec_of(word)] = word
        numbers: list[int | None] = []
        # Whether each command's program is dnf5, which reads best and install_weak_deps its
        # own way (Dnf5Main), and its repository overrides (RpmConfig.dnf5_repos).
        dnf5 = dnf5_programs(managers.System(config.distro, config.releasever))
        fives: list[bool] = []
        # The lock list each command's program reads (dnf5 its own, dnf 4's plugin; libdnf's
        # microdnf runs no plugins): a word it may lock is not pinned.
        locks: list[rpmversionlock.Versionlock | None] = []
        unpinned: list[UnpinnedPackage] = []
        # What the module commands before each command changed (PackageArg.state).
        states: list[tuple[str, ...]] = []
        for request in requests:
            program = self._programs.get(_bare(request))
            lock = config.versionlock5 if program in dnf5 else config.versionlock
            if program == "microdnf" and program not in dnf5:
                lock = None
            if lock is not None and lock.locks(request.name):
                unpinned.append(UnpinnedPackage(request.name, rpmversionlock.reason(lock)))
                continue
            options = self._options.get(_bare(request), RpmOptions())
            number = self._commands.get(_bare(request))
            if not commands or number is None or number != last:
                commands.append((options, []))
                asked.append({})
                numbers.append(number)
                fives.append(self._programs.get(_bare(request)) in dnf5)
                locks.append(lock)
                states.append(request.state)
            spec = spec_of(request)
            commands[-1][1].append(spec)
            asked[-1].setdefault(spec, request)
            last = number
        chosen: dict[str, rd.RpmPackage] = {}
        notes = list(config.notes)
        if snapshot and rpmcompose.family(config) is None:
            notes.append(rpmcompose.no_composes(config))
        signatures: set[str] = set()
        targets: dict[str, rpmcompose.Target] = {}
        live = False
        pools: dict[tuple[RpmOptions, bool, tuple[str, ...]], _Pool] = {}
        # What the stage's earlier commands installed: dnf resolves each RUN on the system the
        # ones before it left (what they recommended and went without is not added as weak).
        added: dict[str, rd.RpmPackage] = {}
        for (options, specs), words, number, five, lock, changes in zip(
            commands, asked, numbers, fives, locks, states, strict=True
        ):
            main = config.dnf5 if five else None
            if options.invalid:
                # dnf: "Error parsing --setopt with key 'x.priority', value 'abc': invalid value".
                raise PackageError(
                    next(iter(words.values())).name,
                    f"{untrusted(options.invalid)}, so dnf refuses the command",
                )
            repos5 = config.dnf5_repos if five else None
            read5 = repos5 is not None
            found_pool = pools.get((options, read5, changes))
            if found_pool is None:
                seen = config if repos5 is None else config._replace(repos=repos5)
                try:
                    found_pool = await self._pool(fetch, seen, options, mirrors, snapshot, changes)
                except rpmmodules.StateError as error:
                    # The module command fails the build before this command runs.
                    first = next(iter(words.values())).name
                    raise PackageError(first, f"{error} (before this command)") from None
                pools[(options, read5, changes)] = found_pool
                signatures |= found_pool.signatures
                notes += found_pool.notes
                targets |= {t.repo: t for t in found_pool.targets}
                live = live or found_pool.live
            weak = (main or config).weak_deps if options.weak_deps is None else options.weak_deps
            exclude = options.exclude_weak
            if exclude is None:
                exclude = config.exclude_weak_autodetect
            pool = found_pool.pool.installing(added.values()) if added else found_pool.pool
            best = (main or config).best if options.best is None else options.best
            hidden = merged.get(number, {})
            twice = clash(pool, [*hidden, *specs], best=best)
            if twice is not None:
                first, later = twice
                why = "best is on: each word's best build" if best else "no build meets both"
                raise PackageError(
                    {**words, **hidden}.get(later, next(iter(words.values()))).name,
                    f"{first} {later}: one dnf command asks for two builds of one package ({why});"
                    " dnf refuses it (cannot install both)",
                )
            obsoletes = options.obsoletes if options.obsoletes is not None else config.obsoletes
            found = resolve(
                pool,
                covered(pool, specs),
                weak_deps=weak,
                exclude_weak_autodetect=exclude,
                obsoletes=obsoletes,
            )
            if found.missing:
                where = untrusted(f"{config.distro} {config.release} {config.arch}")
                missing = found.missing[0]
                why = missing.why or "nothing in the enabled repositories provides it"
                # A requirement names no word: the command's first word gives the line.
                word = words.get(missing.name) or next(iter(words.values()))
                raise PackageError(
                    word.name,
                    f"{missing.text}: {why}"
                    f" ({', '.join(found_pool.repo_ids) or 'none enabled'}; {where})",
                )
            notes += found.notes
            # A build the lock list may hold back: dnf could take another, so neither the
            # command's words nor what it installs are recorded.
            held = lock is not None and any(lock.locks(p.name) for p in found.chosen)
            if held and lock is not None:
                unpinned += [
                    UnpinnedPackage(w.name, rpmversionlock.reason(lock)) for w in words.values()
                ]
            for package in found.chosen:
                # A later command's build of a name replaces an earlier one's (`dnf install foo
                # && dnf install foo-1.0` downgrades foo), as it does on the system.
                if not held:
                    chosen[package.name] = package
                added[package.name] = package
        if snapshot:
            self._steps[(snapshot, config)] = tuple(targets.values())
        packages = tuple(locked(p, config.arch) for _, p in sorted(chosen.items()))
        signature = _stage_signature(signatures)
        return Resolved(
            packages, tuple(unpinned), tuple(dict.fromkeys(notes)), signature, rebuildable=not live
        )

    async def unserved(
        self, source: managers.Source, packages: Sequence[LockedPackage]
    ) -> list[str]:
        fetch, image, mirrors = source
        config = own(image, RpmConfig)
        # A package resolve took from the repositories dnf5 reads (dnf5_repos) is served where
        # either view serves it: the lock does not say which program installed it.
        views = [config]
        if config.dnf5_repos is not None:
            views.append(config._replace(repos=config.dnf5_repos))
        pools = [await self._pool(fetch, view, RpmOptions(), mirrors) for view in views]
        repo_ids = list(dict.fromkeys(i for found in pools for i in found.repo_ids))
        lines = []
        for package in packages:
            if package.architecture != config.arch:
                continue
            # A build modular filtering hides is served all the same: a module command of the
            # build (`dnf module enable`) may be what made it the one installed.
            served = [
                p
                for found in pools
                for p in (
                    *found.pool.by_name.get(package.name, []),
                    *found.pool.hidden.get(package.name, []),
                )
            ]
            if any(locked(p, config.arch) == package for p in served):
                continue
            now = ", ".join(sorted({str(p.evr) for p in served})) or "nothing"
            lines.append(
                f"{package.name}-{package.version} ({package.architecture}): no longer served"
                f" by {', '.join(repo_ids) or 'the repositories'} (they serve {now});"
                " run pinner update"
            )
        return lines

    async def step_unserved(self, source: managers.Source, step: str) -> list[str]:
        """For a stage pinned to composes: the compose trees its step names that are gone."""
        fetch, image, _ = source
        config = own(image, RpmConfig)
        lines = []
        for tree in dict.fromkeys(re.findall(r"\|baseurl=(https?://[^|'\s]+/)\|", step)):
            url = f"{tree.replace('$basearch', config.arch)}repodata/repomd.xml"
            try:
                await fetch(url, untrusted(url), rd.MAX_DOCUMENT)
            except MirrorError:
                lines.append(
                    f"{untrusted(tree)} is no longer served (compose hosts keep composes for some"
                    " days or weeks only); run pinner update"
                )
        return lines

    def step(
        self, config: ImageConfig, snapshot: str, mirrors: Mapping[str, str]
    ) -> tuple[str, ...] | str | None:
        rpm = own(config, RpmConfig)
        # Known once resolve() chose the composes; None before it and where none is used.
        targets = self._steps.get((snapshot, rpm)) if snapshot else None
        return rpmcompose.step(targets) if targets else None

    config_changes = staticmethod(repositories_change)

    def takes_pins(self, invocation: Invocation, word: str) -> bool:
        # rpm before 4.18 may not read an epoch in a label; dnf and yum do.
        if removes_packages(invocation):
            return True
        return (queries(invocation) or erases(invocation)) and ":" not in word

    def pin_word(self, name: str, version: str) -> str:
        if not _NAME_RE.fullmatch(name) or not _VERSION_RE.fullmatch(version):
            raise ValueError(f"{name}-{version} is not an RPM package word")
        parse_evr(version)
        return f"{name}-{version}"

    def cleanup(
        self, run_text: str, invocations: Sequence[Invocation], system: managers.System
    ) -> str | None:
        return cleanup_for(
            run_text,
            mounts=system.mounts,
            dnf5=dnf5_programs(system),
            yum3=yum3(system),
            invocations=invocations,
            braces=expands_braces(system.shell, True),
        )

    checked = staticmethod(checked)


MANAGER: Manager = Rpm()
