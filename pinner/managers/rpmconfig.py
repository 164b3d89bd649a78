"""What an RPM-based image configures for dnf: release, variables, repositories, keys, rpmdb.

Read from the image's own files (dnf.conf(5), yum.repos.d INI files, /etc/dnf/vars), so pinner
resolves from the repositories the build would use. Every file is the image's: malformed ones
become one line naming the file.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pinner import managers
from pinner.baseimage import parse_os_release
from pinner.managers import globmatch, rpmdb, rpmmodules, rpmversionlock
from pinner.managers.ini import IniParser
from pinner.managers.repodata import RpmPackage
from pinner.managers.rpmcommands import RpmOptions, cache_only_value, split_list
from pinner.managers.rpmdb import Installed
from pinner.output import untrusted

# The folders each program reads `*.repo` files from where [main] sets no reposdir: of a
# repository defined twice, the first read is used.
# dnf 4 (libdnf's ConfigMain reposdir default): from 4.7 it reads the files of all its folders in
# the order of their paths, split at each "/", less ".repo" (dnf.conf.read.RepoReader), so the
# folders' order does not count. libdnf's microdnf reads the same option, from dnf.conf too, folder
# by folder, each folder's files in the order the directory lists them (DnfContext's repo
# loader), which pinner cannot know: it reads them as dnf 4 does.
DNF4_REPO_DIRS = ("/etc/yum.repos.d/", "/etc/yum/repos.d/", "/etc/distro.repos.d/")
# dnf5 (libdnf5's REPOSITORY_CONF_DIRS): folder by folder, each folder's files in name order.
DNF5_REPO_DIRS = ("/etc/yum.repos.d/", "/etc/distro.repos.d/", "/usr/share/dnf5/repos.d/")
# yum 3 (yum's YumConf reposdir default): folder by folder, /etc/yum/repos.d first, each
# folder's files in name order.
YUM3_REPO_DIRS = ("/etc/yum/repos.d/", "/etc/yum.repos.d/")
# Every folder pinner reads from the image: a reposdir naming another is noted, not read.
REPO_DIRS = tuple(dict.fromkeys((*DNF4_REPO_DIRS, *DNF5_REPO_DIRS, *YUM3_REPO_DIRS)))
VAR_DIRS = ("/etc/dnf/vars/", "/etc/yum/vars/")
# dnf5's drop-ins for [main] (libdnf5 Base::load_config): the `*.conf` of both folders in file-name
# order, one in /etc hiding the one of the same name in /usr/share, then dnf.conf, which wins.
DNF5_DROPINS = ("/usr/share/dnf5/libdnf.conf.d/", "/etc/dnf/libdnf5.conf.d/")
# libdnf5's repository overrides (RepoSack::load_repos_configuration_overrides), read after
# every repository is defined: the `*.repo` of both folders in file-name order, one in /etc hiding
# the one of the same name in /usr/share. Each section names a glob of repository ids (variables
# substituted) whose options it sets; it defines none. dnf 4 and libdnf's microdnf do not read
# them. `dnf5 config-manager setopt REPO.enabled=0` writes /etc/dnf/repos.override.d/.
DNF5_OVERRIDES = ("/usr/share/dnf5/repos.override.d/", "/etc/dnf/repos.override.d/")
# The options of an override pinner does not apply: the URLs a repository is read from.
_URL_OPTIONS = ("baseurl", "metalink", "mirrorlist")
# What the image must yield for configure(): globs in the shape MANAGERS.md asks for.
IMAGE_PATHS = (
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/dnf/dnf.conf",
    "/etc/yum.conf",
    *(f"{d}*.repo" for d in REPO_DIRS),
    *(f"{d}*" for d in VAR_DIRS),
    "/etc/pki/rpm-gpg/*",
    f"{rpmmodules.STATE_DIR}*.module",
    f"{rpmmodules.DEFAULTS_DIR}*.yaml",
    *(f"{d}*.conf" for d in DNF5_DROPINS),
    *(f"{d}*.repo" for d in DNF5_OVERRIDES),
    *rpmversionlock.IMAGE_PATHS,
    *rpmdb.PATHS,
)
# Docker's architecture names -> dnf's basearch.
BASEARCH = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm64/v8": "aarch64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "386": "i386",
    "arm/v7": "armhfp",
    "riscv64": "riscv64",
}
# os-release IDs whose dnf releasever is the major version (system-release(releasever) of
# redhat-release, centos-stream-release, rocky-release, almalinux-release).
_MAJOR_RELEASEVER = frozenset(["rhel", "centos", "rocky", "almalinux", "ol", "circle"])
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
# libdnf's OptionBool, in any case; dnf logs any other value ("Invalid configuration value:
# best=maybe in /etc/dnf/dnf.conf; invalid boolean value 'maybe'", an empty one too) and keeps
# the option's default (dnf 4.14, run).
_TRUE = frozenset(["1", "yes", "true", "on"])
_FALSE = frozenset(["0", "no", "false", "off"])
# libdnf's repo id characters (ConfigParser: "Bad id for repo").
_REPO_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_MAX_FILE = 1 << 20
# os-release IDs of the Enterprise Linux family whose release 7 and older ship yum 3, not dnf.
_EL = frozenset(["centos", "rhel", "ol", "scientific"])


class Repo(NamedTuple):
    """One repository section, its variables substituted."""

    id: str
    baseurls: tuple[str, ...]
    metalink: str | None
    mirrorlist: str | None
    enabled: bool
    repo_gpgcheck: bool
    gpgkeys: tuple[str, ...]
    source: str
    priority: int = 99  # dnf's: of the candidates libsolv weighs, those with the lowest win
    cost: int = 1000  # dnf's: of one build in several repositories, the lowest cost's is taken
    module_hotfixes: bool = False  # modular filtering hides none of its packages
    excludes: tuple[str, ...] = ()  # excludepkgs (or exclude): specs dnf hides in it
    includes: tuple[str, ...] = ()  # includepkgs: where set, dnf sees only what they match


class Dnf5Main(NamedTuple):
    """The [main] options dnf5 reads differently from dnf 4 and libdnf's microdnf: libdnf5's
    ConfigMain turns best on by default (libdnf 0.x: off), and dnf5 reads the drop-ins of
    DNF5_DROPINS before dnf.conf."""

    weak_deps: bool = True
    best: bool = True


class RpmConfig(NamedTuple):
    """An image's dnf configuration."""

    distro: str  # os-release ID: fedora, centos, rhel, rocky, almalinux
    release: str  # os-release VERSION_ID
    releasever: str
    arch: str  # dnf's basearch
    repos: tuple[Repo, ...]
    weak_deps: bool
    keys: tuple[str, ...]  # /etc/pki/rpm-gpg files the image holds
    installed: tuple[Installed, ...] | None  # None when the image holds no rpmdb
    notes: tuple[str, ...]
    key_files: tuple[tuple[str, bytes], ...] = ()  # the keys' paths and bytes, for repo_gpgcheck
    # The files the repositories are defined in, as written: a compose step edits them.
    repo_files: tuple[tuple[str, bytes], ...] = ()
    # dnf.conf's exclude_from_weak_autodetect: providers of what installed packages recommend
    # and lack are not added as weak dependencies.
    exclude_weak_autodetect: bool = True
    # dnf.conf's obsoletes (a [main] option alone: dnf ignores it in a repository section).
    obsoletes: bool = True
    # A numbered Fedora before its release (Branched), whose `fedora` repository still changes.
    prerelease: bool = False
    # dnf.conf's best (RHEL and UBI set it; dnf 4's default is off): each word's best build or
    # none, so one command naming `foo foo-1.0-1` is refused.
    best: bool = False
    # What a dnf5 program reads instead (Dnf5Main): its drop-ins and dnf.conf, its defaults.
    dnf5: Dnf5Main = Dnf5Main()
    # The module streams the image enables or disables, for modular filtering, and the platform
    # pseudo-module their requirements name (os-release's PLATFORM_ID, e.g. platform:el9).
    modules: rpmmodules.State = rpmmodules.State()
    platform: str | None = None
    # The repositories as a dnf5 program reads them, where an override (DNF5_OVERRIDES) changes
    # one; None where none does.
    dnf5_repos: tuple[Repo, ...] | None = None
    # dnf.conf's [main] excludepkgs (or exclude) and includepkgs, for every repository.
    excludes: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    # The version locks dnf 4's versionlock plugin and dnf5 read, where the image sets any.
    versionlock: rpmversionlock.Versionlock | None = None
    versionlock5: rpmversionlock.Versionlock | None = None


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """text with dnf's $name and ${name} replaced where name is known; others left as written.

    A text that grows past _MAX_FILE characters is refused: each variable may hold a megabyte,
    so a line naming one a thousand times would otherwise take gigabytes.
    """
    size = len(text)

    def value(match: re.Match[str]) -> str:
        nonlocal size
        name = match.group(1) or match.group(2)
        found = variables.get(name, match.group(0))
        size += len(found) - len(match.group(0))
        if size > _MAX_FILE:
            shown = untrusted(text[:60])
            raise RpmConfigError(f"{shown!r}: its variables make it over {_MAX_FILE} characters")
        return found

    return _VARIABLE.sub(value, text)


def _ini(text: str, path: str) -> configparser.ConfigParser:
    parser = IniParser(
        interpolation=None, strict=False, default_section="\0", comment_prefixes=("#", ";")
    )
    try:
        parser.read_string(text, source=path)
    except configparser.Error as error:
        first = str(error).splitlines()[0][:200]
        raise RpmConfigError(f"{path}: not a valid dnf configuration file ({first})") from None
    return parser


class RpmConfigError(ValueError):
    """An image file dnf reads that pinner cannot read either."""


def _text(files: Mapping[str, bytes], path: str) -> str:
    data = files[path]
    if len(data) > _MAX_FILE:
        raise RpmConfigError(f"{path}: larger than {_MAX_FILE} bytes")
    return data.decode("utf-8", "replace")


def _variable(files: Mapping[str, bytes], path: str) -> str:
    """A variable file's value as dnf 4 reads it: its first line, which a newline or a carriage
    return ends (a text file's universal newlines), less that end (dnf.conf.substitutions)."""
    return re.split(r"[\r\n]", _text(files, path), maxsplit=1)[0]


def _flag(
    section: Mapping[str, str], key: str, default: bool, where: str, notes: list[str]
) -> bool:
    """A section's boolean option; its default where unset, or set to what dnf does not read
    as a boolean (noted, as dnf logs it). where: the file and section, for the note."""
    value = section.get(key)
    if value is None:
        return default
    word = value.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    shown = untrusted(value.strip()[:20])
    notes.append(f"{where} {key}={shown!r} is not a boolean; dnf keeps its default ({default})")
    return default


def _priority(value: str | None, path: str, repo_id: str, notes: list[str]) -> int:
    """A section's priority (dnf.conf(5): an integer, 99 unless set)."""
    return _number(value, 99, f"{path}: [{repo_id}] priority", notes)


def _number(value: str | None, default: int, what: str, notes: list[str]) -> int:
    """A section's integer option (priority, cost), its default where unset or unreadable."""
    text = (value or "").strip()
    if not text:
        return default
    if re.fullmatch(r"[+-]?[0-9]{1,9}", text):
        return int(text)
    notes.append(f"{what} {untrusted(text[:20])!r} is not a number; {default} used")
    return default


def _urls(value: str | None, variables: Mapping[str, str]) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(substitute(url, variables) for url in re.split(r"[\s,]+", value) if url)


def _url(value: str | None, variables: Mapping[str, str]) -> str | None:
    """A metalink or mirrorlist: one URL, whose query may hold commas."""
    return substitute(value.strip(), variables) if value and value.strip() else None


def _releasever(
    files: Mapping[str, bytes],
    fields: Mapping[str, str],
    installed: Sequence[Installed] | None,
    main: Mapping[str, str],
) -> str:
    """dnf's $releasever: dnf.conf, /etc/dnf/vars, system-release(releasever), os-release."""
    for path in ("/etc/dnf/vars/releasever", "/etc/yum/vars/releasever"):
        if path in files:
            return _variable(files, path).strip()
    if main.get("releasever"):
        return main["releasever"].strip()
    for package in installed or ():
        for provide in package.provides:
            if provide.name == "system-release(releasever)" and provide.evr is not None:
                return provide.evr.version
    version = fields.get("VERSION_ID", "")
    if fields.get("ID") == "fedora" and fields.get("REDHAT_SUPPORT_PRODUCT_VERSION") == "rawhide":
        # fedora-release writes its bug_version there, "rawhide" on its development lines,
        # whose system-release(releasever) is "eln" on ELN's variant and "rawhide" otherwise;
        # VERSION_ID is the number Rawhide will become.
        return "eln" if fields.get("VARIANT_ID") == "eln" else "rawhide"
    if fields.get("ID") in _MAJOR_RELEASEVER or "rhel" in fields.get("ID_LIKE", "").split():
        return version.partition(".")[0]
    return version


def configure(files: Mapping[str, bytes], arch: str) -> RpmConfig | str:
    """The image's dnf configuration, or one line saying why it cannot be pinned.

    An rpmdb that cannot be read raises RpmdbError: dnf in the build reads the same file, so the
    stage would be resolved against a guess of what is installed.
    """
    try:
        return _configure(files, arch)
    except RpmConfigError as error:
        return str(error)


def _configure(files: Mapping[str, bytes], arch: str) -> RpmConfig:
    release_path = next((p for p in ("/etc/os-release", "/usr/lib/os-release") if p in files), "")
    if not release_path:
        raise RpmConfigError("the image has no /etc/os-release")
    fields = parse_os_release(_text(files, release_path))
    basearch = BASEARCH.get(arch)
    if basearch is None:
        raise RpmConfigError(f"architecture {arch!r} has no dnf basearch")
    notes: list[str] = []
    installed = _installed(files, notes)
    conf_path = next((p for p in ("/etc/dnf/dnf.conf", "/etc/yum.conf") if p in files), "")
    conf = _ini(_text(files, conf_path), conf_path) if conf_path else None
    main = dict(conf["main"]) if conf is not None and conf.has_section("main") else {}
    main_where = f"{conf_path}: [main]"

    def main_flag(key: str, default: bool) -> bool:
        return _flag(main, key, default, main_where, notes)

    # dnf 4 reads /etc/yum/vars, then /etc/dnf/vars, whose files win.
    variables = {
        name: _variable(files, path)
        for folder in reversed(VAR_DIRS)
        for path in sorted(files)
        if path.startswith(folder)
        and re.fullmatch(r"[A-Za-z0-9_]+", name := path.removeprefix(folder))
    }
    releasever = _releasever(files, fields, installed, main)
    variables |= {"releasever": releasever, "basearch": basearch, "arch": basearch}
    own: list[tuple[str, configparser.SectionProxy]] = []
    if conf is not None:
        own = [(conf_path, conf[s]) for s in conf.sections() if s != "main"]
    # An image with yum 3 has no dnf5 either.
    old_yum = yum3(fields.get("ID", ""), releasever)
    default = YUM3_REPO_DIRS if old_yum else DNF4_REPO_DIRS
    folders = _reposdirs(main.get("reposdir"), default, main_where, notes)
    sections = own + _sections(files, folders, by_path=not old_yum)
    repo_gpgcheck = main_flag("repo_gpgcheck", False)
    repos = _repos(sections, variables, repo_gpgcheck, notes)
    keys = tuple(sorted(p for p in files if p.startswith("/etc/pki/rpm-gpg/")))
    # Branched (a numbered Fedora before its release): fedora-release names it "(... Prerelease)"
    # in os-release, and fedora-repos gives [fedora] metadata_expire=6h until the release (7d
    # after it), while its repository still changes.
    expiry = next((s.get("metadata_expire") for _, s in sections if s.name == "fedora"), None)
    prerelease = (
        fields.get("ID") == "fedora"
        and releasever.isdigit()
        and ("Prerelease" in fields.get("VERSION", "") or (expiry or "").strip() == "6h")
    )
    # Read before notes are: each may add one.
    weak_deps, best = main_flag("install_weak_deps", True), main_flag("best", False)
    dnf5 = _dnf5_main(files, main, notes)
    dnf5_repos = (
        None
        if old_yum
        else _dnf5_repos(files, main, main_where, own, repos, variables, repo_gpgcheck, notes)
    )
    notes += _cache_only_note(main, main_where)
    versionlock = rpmversionlock.dnf4(files, main, notes)
    versionlock5 = rpmversionlock.dnf5(files, notes)
    exclude_weak = main_flag("exclude_from_weak_autodetect", _autodetects(fields))
    obsoletes = main_flag("obsoletes", True)
    try:
        modules = rpmmodules.read_state(files)
    except rpmmodules.ModulesError as error:
        raise RpmConfigError(str(error)) from None
    # dnf.conf's module_platform_id wins over os-release's PLATFORM_ID (libdnf's dnf_context).
    platform = (main.get("module_platform_id") or fields.get("PLATFORM_ID") or "").strip()
    return RpmConfig(
        fields.get("ID", ""),
        fields.get("VERSION_ID", ""),
        releasever,
        basearch,
        repos,
        weak_deps,
        keys,
        installed,
        tuple(notes),
        tuple((path, files[path]) for path in keys),
        tuple(
            (path, files[path])
            for path in dict.fromkeys(r.source for r in (*repos, *(dnf5_repos or ())))
        ),
        exclude_weak,
        obsoletes,
        prerelease,
        best,
        dnf5,
        modules,
        platform if re.fullmatch(r"[A-Za-z0-9_.+-]+:[A-Za-z0-9_.+-]+", platform) else None,
        dnf5_repos,
        _specs(main, ("excludepkgs", "exclude"), variables),
        _specs(main, ("includepkgs",), variables),
        versionlock,
        versionlock5,
    )


def yum3(distro: str, release: str) -> bool:
    """Whether an image's yum is yum 3, not dnf: EL 7 and older, Amazon Linux 2."""
    major = release.split(".")[0]
    if distro == "amzn":
        return major == "2"
    return distro in _EL and major.isdigit() and int(major) <= 7


def _reposdirs(
    value: str | None, default: tuple[str, ...], where: str, notes: list[str]
) -> tuple[str, ...]:
    """The folders a program reads repositories from: [main]'s reposdir where set, which
    replaces its default list, else that list. A folder pinner does not read from the image (a
    relative path, one holding a variable) is noted once: its repositories are not read."""
    if value is None:
        return default
    found: list[str] = []
    for item in split_list(value):
        folder = re.sub(r"/+", "/", f"{item}/")
        if folder in REPO_DIRS:
            found.append(folder)
        else:
            notes.append(
                f"{where} reposdir names {untrusted(item[:200])!r}: pinner reads repositories"
                f" only from {', '.join(REPO_DIRS)}; the ones there are not read"
            )
    return tuple(dict.fromkeys(found))


def _sections(
    files: Mapping[str, bytes], folders: Sequence[str], by_path: bool = False
) -> list[tuple[str, configparser.SectionProxy]]:
    """The repository sections of the `*.repo` files of folders in the order a program reads
    them: folder by folder, each folder's files in name order, or (by_path, dnf 4) all of them
    in the order of their paths split at each "/", less ".repo"."""
    paths = [
        path
        for folder in folders
        for path in sorted(files)
        if path.startswith(folder)
        and path.endswith(".repo")
        and "/" not in path.removeprefix(folder)
    ]
    if by_path:
        paths.sort(key=lambda path: path.removesuffix(".repo").split("/"))
    sections: list[tuple[str, configparser.SectionProxy]] = []
    for path in paths:
        parser = _ini(_text(files, path), path)
        sections += [(path, parser[s]) for s in parser.sections()]
    return sections


def _repos(
    sections: Sequence[tuple[str, configparser.SectionProxy]],
    variables: Mapping[str, str],
    repo_gpgcheck: bool,
    notes: list[str],
) -> tuple[Repo, ...]:
    """The repositories of sections in the order read; of an id defined twice, the first."""
    repos = []
    seen: set[str] = set()
    for path, section in sections:
        repo_id = substitute(section.name, variables)
        if not _REPO_ID.fullmatch(repo_id):
            # dnf refuses such a section too ("Bad id for repo"); its name is the image's text.
            notes.append(f"{path}: repository id {untrusted(repo_id)!r} is not valid; skipped")
            continue
        if repo_id in seen:
            notes.append(f"{path}: repository {repo_id} is defined twice; the first is used")
            continue
        seen.add(repo_id)
        where = f"{path}: [{untrusted(repo_id)}]"
        metalink, mirrorlist = (
            _url(section.get("metalink"), variables),
            _url(section.get("mirrorlist"), variables),
        )
        repos.append(
            Repo(
                repo_id,
                _urls(section.get("baseurl"), variables),
                metalink,
                mirrorlist,
                _flag(section, "enabled", True, where, notes),
                _flag(section, "repo_gpgcheck", repo_gpgcheck, where, notes),
                _urls(section.get("gpgkey"), variables),
                path,
                _priority(section.get("priority"), path, repo_id, notes),
                _number(section.get("cost"), 1000, f"{path}: [{repo_id}] cost", notes),
                _flag(section, "module_hotfixes", False, where, notes),
                _specs(section, ("excludepkgs", "exclude"), variables),
                _specs(section, ("includepkgs",), variables),
            )
        )
    return tuple(repos)


def _specs(
    section: Mapping[str, str], keys: tuple[str, ...], variables: Mapping[str, str]
) -> tuple[str, ...]:
    """The package specs of a list option (excludepkgs and its alias exclude, includepkgs)."""
    found: list[str] = []
    for key in keys:
        found += split_list(substitute(section.get(key) or "", variables))
    return tuple(found)


def _dnf5_main(files: Mapping[str, bytes], main: Mapping[str, str], notes: list[str]) -> Dnf5Main:
    """dnf5's [main] options: its drop-ins in order, then dnf.conf's [main], which wins (its
    bad values, and a cacheonly, are noted once, by dnf 4's reading of it)."""
    sections: list[tuple[Mapping[str, str], str, list[str]]] = []
    # /etc last: its file hides /usr/share's of the same name.
    for path in managers.dropins(files, DNF5_DROPINS):
        parsed = _ini(_text(files, path), path)
        section: Mapping[str, str] = dict(parsed["main"]) if parsed.has_section("main") else {}
        sections.append((section, f"{path}: [main]", notes))
        notes += _cache_only_note(section, f"{path}: [main]")
    found = Dnf5Main()
    for section, where, noted in [*sections, (main, "", [])]:
        found = Dnf5Main(
            _flag(section, "install_weak_deps", found.weak_deps, where, noted),
            _flag(section, "best", found.best, where, noted),
        )
    return found


def _dnf5_repos(
    files: Mapping[str, bytes],
    main: Mapping[str, str],
    main_where: str,
    own: Sequence[tuple[str, configparser.SectionProxy]],
    repos: tuple[Repo, ...],
    variables: Mapping[str, str],
    repo_gpgcheck: bool,
    notes: list[str],
) -> tuple[Repo, ...] | None:
    """The repositories as dnf5 reads them: dnf.conf's, then those of its own folders (its
    drop-ins' and dnf.conf's reposdir, the last set winning, or DNF5_REPO_DIRS); then each
    override section's enabled, repo_gpgcheck, gpgkey, priority and cost set, and its
    excludepkgs and includepkgs appended, on the repositories its glob matches, file by file,
    the last winning. None where they are repos, as dnf 4 reads them.
    A URL an override sets is noted, not followed: pinner reads the repository's own."""
    value, where = main.get("reposdir"), main_where
    if value is None:
        for path in reversed(managers.dropins(files, DNF5_DROPINS)):
            parsed = _ini(_text(files, path), path)
            if parsed.has_section("main") and "reposdir" in parsed["main"]:
                value, where = parsed["main"]["reposdir"], f"{path}: [main]"
                break
    # A note dnf 4's reading of the same options gave already is not given twice.
    again: list[str] = []
    folders = _reposdirs(value, DNF5_REPO_DIRS, where, again)
    found = list(_repos([*own, *_sections(files, folders)], variables, repo_gpgcheck, again))
    notes += [note for note in again if note not in notes]
    for path in managers.dropins(files, DNF5_OVERRIDES, ".repo"):
        parser = _ini(_text(files, path), path)
        for name in parser.sections():
            section = parser[name]
            glob = substitute(name, variables)
            where = f"{path}: [{untrusted(glob)}]"
            found = [
                _overridden(r, section, variables, where, notes)
                if globmatch.fnmatchcase(r.id, glob)
                else r
                for r in found
            ]
            urls = [key for key in _URL_OPTIONS if key in section]
            if urls:
                notes.append(
                    f"{where} sets {', '.join(urls)} for dnf5; pinner reads the repositories' own"
                )
    return tuple(found) if tuple(found) != repos else None


def _overridden(
    repo: Repo,
    section: Mapping[str, str],
    variables: Mapping[str, str],
    where: str,
    notes: list[str],
) -> Repo:
    """repo with the options of an override section that matches its id."""
    gpgkey = section.get("gpgkey")
    return repo._replace(
        enabled=_flag(section, "enabled", repo.enabled, where, notes),
        repo_gpgcheck=_flag(section, "repo_gpgcheck", repo.repo_gpgcheck, where, notes),
        gpgkeys=repo.gpgkeys if gpgkey is None else _urls(gpgkey, variables),
        priority=_number(section.get("priority"), repo.priority, f"{where} priority", notes),
        cost=_number(section.get("cost"), repo.cost, f"{where} cost", notes),
        excludes=_appended(
            repo.excludes, section, ("excludepkgs", "exclude"), variables, where, notes
        ),
        includes=_appended(repo.includes, section, ("includepkgs",), variables, where, notes),
    )


def _appended(
    specs: tuple[str, ...],
    section: Mapping[str, str],
    keys: tuple[str, ...],
    variables: Mapping[str, str],
    where: str,
    notes: list[str],
) -> tuple[str, ...]:
    """specs with a section's values of a list option appended in the order written, as libdnf5
    sets an override's OptionStringAppendList at the .repo files' priority: a value that is
    empty or starts with a comma clears what came before it."""
    found = list(specs)
    for key, value in section.items():
        if key not in keys:
            continue
        value = substitute(value, variables)
        start = value.lstrip(" \t")
        if not value.strip() or start.startswith(","):
            found = []
        elif start.startswith("\n"):
            # libdnf5's from_string: before 5.4 a leading newline is an empty first item,
            # which clears; 5.4's skips it as blank.
            notes.append(
                f"{where} {key} starts on its next line: dnf5 before 5.4 reads that as"
                " clearing the list first, later ones do not; pinner does not clear it"
            )
        found += split_list(value)
    return tuple(found)


def _cache_only_note(main: Mapping[str, str], where: str) -> list[str]:
    """A note where the image's dnf.conf makes dnf read only its cache (-C for every command):
    the build then installs what that cache lists, not what pinner resolves from the
    repositories, and an appended `dnf clean all` leaves a later RUN no cache. The rewrite reads
    the Dockerfile and the lock alone, so it cannot keep the cache for such an image."""
    value = main.get("cacheonly")
    if value is None or not cache_only_value(value):
        return []
    shown = untrusted(value.strip()[:20])
    return [
        f"{where} cacheonly={shown}: dnf reads only the cache the image holds, not the"
        " repositories pinner resolves from; a `dnf clean all` pinner appends removes it for"
        " later RUNs"
    ]


def _autodetects(fields: Mapping[str, str]) -> bool:
    """Whether the image's dnf has exclude_from_weak_autodetect on by default: dnf 4.14 and
    later (Fedora 36 and later, EL 9); EL 8's dnf 4.7 has no such option."""
    major = fields.get("VERSION_ID", "").split(".")[0]
    if not major.isdigit():
        return True
    if fields.get("ID") == "fedora":
        return int(major) >= 36
    return int(major) >= 9


def _installed(files: Mapping[str, bytes], notes: list[str]) -> tuple[Installed, ...] | None:
    found = rpmdb.read_image(files)
    if found is None:
        notes.append("the image has no rpmdb; every dependency is recorded")
        return None
    notes += rpmdb.install_times(found[1])
    return found[1]


def enabled_repos(config: RpmConfig, options: RpmOptions) -> tuple[Repo, ...]:
    """The repositories one command uses: the enabled ones, then its --disablerepo/--enablerepo.

    dnf applies the options in the order given; pinner applies every disable before every enable,
    which is the same for the usual `--disablerepo='*' --enablerepo=x`.
    """
    found = []
    for repo in config.repos:
        enabled = repo.enabled
        if any(globmatch.fnmatchcase(repo.id, glob) for glob in options.disable):
            enabled = False
        if any(globmatch.fnmatchcase(repo.id, glob) for glob in options.enable):
            enabled = True
        if not enabled:
            continue
        # The command's --setopt=REPO.priority= / .cost= override the file's, in their order.
        for glob, option, value in options.repo_settings:
            if globmatch.fnmatchcase(repo.id, glob) and option == "priority":
                repo = repo._replace(priority=value)
            elif globmatch.fnmatchcase(repo.id, glob):
                repo = repo._replace(cost=value)
        found.append(repo)
    return tuple(found)


def _forms(package: RpmPackage) -> tuple[str, ...]:
    """The NEVRA forms a package spec may match (dnf's Subject, without provides or files)."""
    name, arch, (epoch, version, release) = package.name, package.arch, package.evr
    nvr = f"{name}-{version}-{release}"
    return (
        name,
        f"{name}.{arch}",
        f"{name}-{version}",
        nvr,
        f"{nvr}.{arch}",
        f"{name}-{epoch}:{version}-{release}",
        f"{name}-{epoch}:{version}-{release}.{arch}",
    )


def _matches(package: RpmPackage, specs: Sequence[str]) -> bool:
    return any(globmatch.fnmatchcase(form, spec) for spec in specs for form in _forms(package))


def configured(
    packages: Sequence[RpmPackage], repo: Repo, config: RpmConfig, options: RpmOptions
) -> tuple[list[RpmPackage], list[RpmPackage]]:
    """A repository's packages dnf sees and those its excludes and includes hide (libdnf's
    process_excludes): the repository's excludepkgs and includepkgs, then dnf.conf's and the
    command's (-x), unless --disableexcludes names all, the repository or main."""
    off = set(options.disable_excludes)
    if "all" in off:
        return list(packages), []
    excludes: list[str] = []
    includes: list[str] = []
    restricted = False
    if repo.id not in off:
        excludes += repo.excludes
        includes += repo.includes
        restricted = bool(repo.includes)
    if "main" not in off:
        excludes += (*config.excludes, *options.excludes)
        includes += config.includes
        restricted = restricted or bool(config.includes)
    if not excludes and not restricted:
        return list(packages), []
    seen: list[RpmPackage] = []
    hidden: list[RpmPackage] = []
    for package in packages:
        shown = not _matches(package, excludes) and (not restricted or _matches(package, includes))
        (seen if shown else hidden).append(package)
    return seen, hidden
