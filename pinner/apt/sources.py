"""Shell pointing a Dockerfile stage's apt sources at a dated snapshot, and cleanup after apt."""

# What the generated step does, and why this way:
#
# * It rewrites URIs in place rather than using apt's own snapshot support (deb822 `Snapshot:`,
#   one-line `[snapshot=...]`, apt >= 2.7). Debian 11/12 and Ubuntu 20.04/22.04 images carry an
#   apt without it (or without it enabled), apt >= 2.7 resolves snapshots to https URLs that need a
#   CA bundle the images lack, and for ports.ubuntu.com it has no built-in server at all
#   (apt-pkg/init.cc presets only archive/security.ubuntu.com and deb.debian.org; other hosts need
#   the `Snapshots:` field of a Release file fetched by an earlier unpinned `apt-get update`).
#   A rewritten URI works on every apt and can be read in the image.
# * Debian: any URI whose whole path is /debian, /debian-security, /debian-ports, /debian-debug or
#   /debian-archive/debian[-security|-backports] (any host, so deb.debian.org, security.debian.org
#   and mirrors all match) becomes http://snapshot.debian.org/archive/<archive>/<ts>; the same
#   paths on archive.debian.org go to the debian-archive archive. Matching the whole path, not its
#   last part, keeps third-party repositories such as download.docker.com/linux/debian untouched.
#   Plain http: the images have no CA bundle, and apt verifies the signed InRelease either way.
# * Ubuntu: /ubuntu and /ubuntu-ports on any host but archive.canonical.com (partner) become
#   https://snapshot.ubuntu.com/ubuntu/<ts>, ports included. Canonical's snapshot service
#   documents one archive, /ubuntu (https://documentation.ubuntu.com/server/how-to/software/
#   snapshot-service/); /ubuntu-ports/<ts> was reported answering 401 (2026-09). apt's fallback
#   for any Release with Origin: Ubuntu is that same /ubuntu URL
#   (Acquire::Snapshots::URI::Origin::Ubuntu), and other projects map ports.ubuntu.com there
#   explicitly. arm64 is in it because Canonical now publishes arm64 into the primary archive:
#   from 25.10 on, and for 22.04 and 24.04 once they were copied there (announced in
#   canonical/apport#622, 2026-07). So a snapshot taken before that copy has no binary-arm64
#   indexes for 22.04/24.04, and 20.04 arm64 is not known to be served at all: `lock` must check
#   that the snapshot's InRelease lists the stage's architecture (apt itself only says "Unable to
#   locate package").
# * snapshot.ubuntu.com is https-only and Ubuntu images have no CA bundle. When
#   /etc/ssl/certs/ca-certificates.crt is missing, the step adds to its apt.conf file a line that
#   turns off TLS peer verification for the snapshot host alone
#   (Acquire::https::<host>::Verify-Peer; apt's https method reads per-host options,
#   methods/aptmethod.h, and with no system certificates it only warns). Integrity still rests where
#   it always does for apt: the archive key's signature on InRelease and the hashes it lists. What
#   is lost is what the Debian step, over plain http, never had: an attacker on the path could serve
#   another validly signed state of the archive instead of the pinned one (Check-Valid-Until is
#   off); a lock that records package hashes catches that. With a CA bundle present the line is left
#   out and TLS is verified. The alternative some scripts use, installing ca-certificates from the
#   live archive first, would take an unpinned package into every build.
# * A snapshot's Release files expire (Debian security: Date + 7 days), so the generic step turns
#   the Valid-Until check off in its apt.conf file (Acquire::Check-Valid-Until), which keeps the
#   sources edit to URIs: one sed, no stanza bookkeeping. It holds for every source, third-party
#   ones too (whose Release files seldom carry a Valid-Until); a one-line entry of ours that says
#   check-valid-until=yes itself is set to no, but a deb822 stanza's own `Check-Valid-Until: yes`
#   still wins and apt then stops with "Release file ... is expired" (loudly, not unpinned). The
#   exact step (exactstep.py) turns it off per source instead.
# * Idempotent: URIs that already point at a snapshot are re-pointed to the step's timestamp, so a
#   second run changes nothing and a stage built on a pinned image follows its own timestamp. A
#   snapshot is recognised under the configured base, or by snapshot.debian.org's layout
#   (/archive/<archive>/<ts>) or snapshot.ubuntu.com's (the whole path /ubuntu/<ts>) on any host,
#   which keeps PPA snapshots (/<owner>/<ppa>/ubuntu/<ts>) out. A file is written only when its
#   content changes (sed writes a copy, cmp compares).
# * The step fails the build if no source of the distribution was found, rather than leaving a
#   stage silently unpinned.
# * POSIX sh, sed -E and grep only (dash with GNU tools, and busybox alone, are tested), since that
#   is all the images have. Known gaps of the sed rewrite: a deb822 URI must follow a blank
#   (`URIs:http://...` is missed), and an Ubuntu line naming archive.canonical.com is skipped
#   whole (one-line entries hold one URI, so only a deb822 line listing partner and archive
#   together would leave the archive unpinned; the guard then still passes on other sources).

from __future__ import annotations

import datetime
import fnmatch
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from pinner.apt.shell import (
    Invocation,
    is_exec_form,
    run_flags,
    run_invocations,
    words,
)

Distro = Literal["debian", "ubuntu"]

DEFAULT_MIRRORS: Mapping[str, str] = {
    "debian": "http://snapshot.debian.org/archive",
    "ubuntu": "https://snapshot.ubuntu.com/ubuntu",
}
_NAMES: Mapping[str, str] = {"debian": "Debian", "ubuntu": "Ubuntu"}

TIMESTAMP_RE = re.compile(r"^\d{8}T\d{6}Z$")
_STRPTIME_RE = re.compile(
    r"(\d\d\d\d)(1[0-2]|0[1-9]|[1-9])(3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])"
    r"T(2[0-3]|[0-1]\d|\d)([0-5]\d|\d)(6[0-1]|[0-5]\d|\d)Z",
    re.IGNORECASE,
)


def is_timestamp(value: str) -> bool:
    """True for YYYYMMDDTHHMMSSZ naming a real UTC time from 1970 on (not 20250230T000000Z)."""
    if not TIMESTAMP_RE.match(value):
        return False
    # strptime's own patterns for %Y%m%dT%H%M%SZ, so as not to import _strptime (a tenth of
    # check's start): the same answers, Unicode digits included.
    fields = _STRPTIME_RE.match(value)
    if fields is None or fields.end() != len(value):
        return False
    try:
        year, month, day, hour, minute, second = (int(field) for field in fields.groups())
        moment = datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return moment.year >= 1970


# The patterns of apt's stages and --snapshot-mirror are compiled on first use, not on import:
# a lock of images and plain RUNs uses neither.
@functools.cache
def _mirror_re() -> re.Pattern[str]:
    return re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+(?:/[A-Za-z0-9._~%+-]+)*$")


MARKER_PREFIX = "# pinner: apt snapshot"


@functools.cache
def marker_re() -> re.Pattern[str]:
    """The marker line above an inserted snapshot step: distro and timestamp."""
    return re.compile(
        r"^[ \t]*# pinner: apt snapshot (?P<distro>debian|ubuntu)"
        r" (?P<timestamp>\d{8}T\d{6}Z)[ \t]*$"
    )


TLS_CONF = "/etc/apt/apt.conf.d/80pinner-snapshot"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# The sed expressions, one a line. A URI is a token after a blank on an entry line ($l: one-line
# `deb` lines, deb822 `URIs:` fields and their continuation lines), so `tor+http://` and
# prefixed paths such as /pub/debian stay untouched. An archive URI must end at a blank or the end
# of the line, which the match consumes: the `:a`...`ta` loop picks up a neighbour that lost its
# leading blank, and ends because no archive expression matches its own output. A snapshot URI
# (already pinned: re-pointed to this timestamp) needs no end, so it keeps any tail such as the
# /debian of debian-archive. No line may start with "#" or hold a single quote.
_BLANK = "([[:blank:]])"
_HOST = "https?://[^/[:blank:]]+"
_END = "(/?)([[:blank:]]|$)"
_SNAP_TS = "[0-9]+T[0-9]+Z"


def _ere(text: str) -> str:
    """`text` as a literal in an extended regular expression (mirror URLs: see _mirror_re())."""
    return re.sub(r"([.\[\]+])", r"\\\1", text)


def _sed_lines(distro: Distro, base: str, ts: str) -> list[str]:
    """The sed arguments rewriting archive and snapshot URIs of `distro` to `base` at `ts`."""
    if distro == "debian":
        archives = "(debian(-security|-archive|-ports|-debug)?)"
        snap = [f"s#{_BLANK}{_HOST}/archive/{archives}/{_SNAP_TS}#\\1{base}/\\2/{ts}#g"]
        if not base.endswith("/archive"):
            snap.append(f"s#{_BLANK}{_ere(base)}/{archives}/{_SNAP_TS}#\\1{base}/\\2/{ts}#g")
        rewrite = [
            f"s#{_BLANK}https?://(archive\\.debian\\.org|[^/[:blank:]]+/debian-archive)"
            f"/(debian(-security|-backports)?){_END}#\\1{base}/debian-archive/{ts}/\\3\\5\\6#g",
            f"s#{_BLANK}{_HOST}/(debian(-security|-ports|-debug)?){_END}#\\1{base}/\\2/{ts}\\4\\5#g",
        ]
    else:
        snap = [f"s#{_BLANK}{_HOST}/ubuntu/{_SNAP_TS}#\\1{base}/{ts}#g"]
        if not base.endswith("/ubuntu"):
            snap.append(f"s#{_BLANK}{_ere(base)}/{_SNAP_TS}#\\1{base}/{ts}#g")
        # archive.canonical.com serves the partner archive, which no snapshot holds.
        snap.append(r"/:\/\/archive\.canonical\.com\//b")
        rewrite = [f"s#{_BLANK}{_HOST}/ubuntu(-ports)?{_END}#\\1{base}/{ts}\\3\\4#g"]
    # An entry's own check-valid-until=yes would override the apt.conf.d setting.
    valid = f"/\\/{ts}/s#check-valid-until=[a-z]+#check-valid-until=no#"
    args = ["sed -E", '-e "/$l/!b"', *(f"-e '{e}'" for e in snap)]
    lines = [args[0]]
    for arg in args[1:]:  # short expressions share a line
        lines[-1:] = [f"{lines[-1]} {arg}"] if len(lines[-1]) + len(arg) < 200 else [lines[-1], arg]
    return [
        *lines,
        *(f"-e {':a -e ' if i == 0 else ''}'{e}'" for i, e in enumerate(rewrite)),
        f'-e ta -e \'{valid}\' "$f" >"$t"; cmp -s "$t" "$f" || cat "$t" >"$f"; }}; done;',
    ]


class SnapshotStep(NamedTuple):
    """An inserted snapshot step: lines[start] is the marker, lines[start + 1:end] its RUN."""

    start: int
    end: int
    distro: Distro
    timestamp: str


def _check_timestamp(timestamp: str) -> None:
    if not is_timestamp(timestamp):
        raise ValueError(f"{timestamp!r}: a snapshot timestamp is YYYYMMDDTHHMMSSZ")


def _check_distro(distro: str) -> None:
    if distro not in DEFAULT_MIRRORS:
        raise ValueError(f"{distro!r}: snapshots are for debian or ubuntu")


def mirror_base(distro: Distro, mirrors: Mapping[str, str] | None) -> str:
    """The snapshot base URL for `distro`: the override in `mirrors`, else the public one."""
    mirrors = mirrors or {}
    unknown = sorted(set(mirrors) - set(DEFAULT_MIRRORS))
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: mirrors are given for debian and ubuntu only")
    base = mirrors.get(distro, DEFAULT_MIRRORS[distro]).rstrip("/")
    if not _mirror_re().match(base):
        raise ValueError(f"{base!r}: a snapshot mirror is an http(s) URL without query or spaces")
    return base


def _host(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()


def script_lines(distro: Distro, timestamp: str, mirrors: Mapping[str, str] | None) -> list[str]:
    """The step as lines that stay valid sh when joined by spaces or by line continuations."""
    _check_distro(distro)
    _check_timestamp(timestamp)
    base = mirror_base(distro, mirrors)
    apt = "/etc/apt"
    files = f"{apt}/sources.list {apt}/sources.list.d/*.list {apt}/sources.list.d/*.sources"
    lines = [
        "set -eu; t=$(mktemp); trap 'rm -f \"$t\"' EXIT;",
        f'for f in {files}; do [ ! -f "$f" ] || {{ case $f in'
        " *.sources) l='^([Uu][Rr][Ii][Ss]:|[[:blank:]])';;"
        " *) l='^[[:blank:]]*deb(-src)?[[:blank:]]';; esac;",
        *("  " + line for line in _sed_lines(distro, base, timestamp)),
        f"grep -qs '^[^#]*/{timestamp}' {files} || {{ echo \"pinner: no {_NAMES[distro]} archive"
        ' in the apt sources of this stage, so it cannot be pinned to a snapshot" >&2; exit 1; };',
        # A snapshot's Release files expire (Debian security: Date + 7 days).
        f"echo 'Acquire::Check-Valid-Until \"false\";' >{TLS_CONF};",
    ]
    if base.startswith("https://"):
        setting = f'Acquire::https::{_host(base)}::Verify-Peer "false";'
        lines += [
            f"[ -s {CA_BUNDLE} ] || printf '%s\\n' '// pinner: no CA bundle; apt still verifies the"
            f" InRelease signature' '{setting}' >>{TLS_CONF};",
        ]
    lines[-1] = lines[-1].rstrip(";")
    return lines


def step_text(marker: str, lines: Sequence[str], escape: str) -> str:
    """A snapshot step (apt's or a manager's): its marker comment and a RUN of lines, joined by
    "\\n", with no final newline."""
    body = f" {escape}\n    ".join(lines)
    return f"{marker}\nRUN {body}"


def _continues(line: str, escape: str) -> bool:
    """True if a Dockerfile line ends with the escape character, trailing blanks aside."""
    return line.rstrip(" \t\r\n").endswith(escape)


def find_markers(lines: Sequence[str], *, escape: str = "\\") -> list[SnapshotStep]:
    """Every inserted snapshot step in a Dockerfile's lines (as split on "\\n"), in order."""
    steps: list[SnapshotStep] = []
    i = 0
    while i < len(lines):
        match = marker_re().match(lines[i].rstrip("\r\n"))
        if not match or i + 1 >= len(lines) or not re.match(r"(?i)[ \t]*RUN\b", lines[i + 1]):
            i += 1
            continue
        end = i + 1
        while end < len(lines) and _continues(lines[end], escape):
            end += 1
            # Blank and comment lines inside a continuation belong to the instruction.
            while end < len(lines) and re.match(r"[ \t]*(#|\r?$)", lines[end]):
                end += 1
        end = min(end + 1, len(lines))
        distro: Distro = "debian" if match["distro"] == "debian" else "ubuntu"
        steps.append(SnapshotStep(i, end, distro, match["timestamp"]))
        i = end
    return steps


def find_marker(
    lines: Sequence[str], start: int = 0, stop: int | None = None, *, escape: str = "\\"
) -> SnapshotStep | None:
    """The first inserted step whose marker lies in lines[start:stop], e.g. one stage's lines."""
    stop = len(lines) if stop is None else stop
    return next(
        (s for s in find_markers(lines, escape=escape) if start <= s.start < stop),
        None,
    )


def update_timestamp(lines: Sequence[str], step: SnapshotStep, timestamp: str) -> list[str]:
    """A copy of `lines` with `step` re-pointed at `timestamp`; every other byte is kept."""
    _check_timestamp(timestamp)
    new = list(lines)
    for i in range(step.start, step.end):
        new[i] = new[i].replace(step.timestamp, timestamp)
    return new


# --------------------------------------------------------------------------- cleanup

# Files an apt install leaves that differ between otherwise identical builds (seen with buildah
# --timestamp on a bookworm base), each with one representative path for deciding whether a
# RUN already removes it.
_LISTS = "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"
_ARCHIVES = "/var/cache/apt/archives/hello_2.10-3_amd64.deb"
_PKGCACHE = "/var/cache/apt/pkgcache.bin"
_LOGS = (
    "/var/log/dpkg.log",
    "/var/log/apt/history.log",
    "/var/log/alternatives.log",
    "/var/cache/ldconfig/aux-cache",
)
_LOG_GLOBS = (
    "/var/log/dpkg.log",
    "/var/log/apt/*",
    "/var/log/alternatives.log",
    "/var/cache/ldconfig/aux-cache",
)
# What makes a RUN leave those files: apt changing packages or their lists, or dpkg doing so.
_APT_PROGRAMS = words("apt-get apt aptitude")
_APT_VERBS = words(
    "update install upgrade dist-upgrade full-upgrade build-dep reinstall remove purge autoremove"
    " satisfy"
)
# The verbs that download packages into /var/cache/apt/archives.
_DOWNLOAD_VERBS = words("install upgrade dist-upgrade full-upgrade build-dep reinstall satisfy")
_DPKG_ACTIONS = words("-i --install -r --remove -P --purge --unpack --configure")
_RUN_KEYWORD = re.compile(r"(?i)\s*RUN\s+")


def mount_targets(flags: Sequence[str]) -> list[str]:
    """Where a RUN's --mount flags mount something, e.g. a cache at /var/cache/apt."""
    targets: list[str] = []
    for flag in map(_unquoted, flags):
        name, _, value = flag.partition("=")
        if name == "--mount":
            for item in value.split(","):
                key, _, path = item.partition("=")
                if key in ("target", "dst", "destination") and path:
                    targets.append("/" + path.strip("/"))
    return targets


def _unquoted(flag: str) -> str:
    """A RUN flag as BuildKit reads it: its quotes dropped, as a shell would
    (`--mount="type=cache,target=/var/cache/apt"` is the bare flag)."""
    found, quote = [], ""
    for char in flag:
        if quote and char == quote:
            quote = ""
        elif not quote and char in "\"'":
            quote = char
        else:
            found.append(char)
    return "".join(found)


def _changes_packages(invocation: Invocation) -> bool:
    """Whether a command runs apt or dpkg in a way that leaves lists, caches or logs."""
    args = {word.text for word in invocation.args}
    if invocation.program in _APT_PROGRAMS:
        return not args.isdisjoint(_APT_VERBS)
    return invocation.program == "dpkg" and not args.isdisjoint(_DPKG_ACTIONS)


def covers(pattern: str, path: str) -> bool:
    """True if removing `pattern` (a path glob, maybe a directory) removes `path`; a relative
    pattern, from a folder not known, covers nothing."""
    if not pattern.startswith("/"):
        return False
    want = pattern.rstrip("/").split("/")
    have = path.split("/")
    return len(want) <= len(have) and all(
        fnmatch.fnmatchcase(h, w) for h, w in zip(have, want, strict=False)
    )


def _writes(invocation: Invocation) -> tuple[str, ...]:
    """The cleanup targets a command writes: the lists (update), the archives (a command that
    downloads packages), and the caches and logs (any that changes packages)."""
    if not _changes_packages(invocation):
        return ()
    args = {word.text for word in invocation.args}
    apt = invocation.program in _APT_PROGRAMS
    # apt 3's `install --update` (docker-library's trixie images) runs the update first.
    lists = (_LISTS,) if apt and not args.isdisjoint(("update", "--update")) else ()
    archives = (_ARCHIVES,) if apt and not args.isdisjoint(_DOWNLOAD_VERBS) else ()
    return (*lists, *archives, _PKGCACHE, *_LOGS)


def _removed(invocations: Sequence[Invocation], run_text: str, braces: bool) -> set[str]:
    """The cleanup targets the RUN removes: each by a command after the last one that writes it
    (an rm of the lists before `apt-get update` leaves what the update fetches; before
    `apt-get purge`, which fetches nothing, it counts for the lists, not for the logs)."""
    from pinner.managers.leftovers import removals  # the managers' reading of rm, cd and find

    targets = (_LISTS, _ARCHIVES, _PKGCACHE, *_LOGS)
    removed: set[str] = set()
    # An emptied log is the same in every build, as a removed one is.
    for invocation, paths in zip(invocations, removals(invocations, run_text, braces), strict=True):
        removed -= set(_writes(invocation))
        args = [word.text for word in invocation.args]
        if invocation.program in ("apt-get", "apt") and ("clean" in args or "distclean" in args):
            # `apt-get clean` empties the archives and removes the *.bin caches (RemoveCaches).
            removed |= {_ARCHIVES, _PKGCACHE}
        if invocation.program in ("apt-get", "apt") and "dist-clean" in args:
            # apt >= 2.7's dist-clean (docker-library's trixie images): clean, and the lists too.
            removed |= {_ARCHIVES, _PKGCACHE, _LISTS}
        removed |= {t for t in targets for path in paths if covers(path, t)}
    return removed


def _analyse(
    run_text: str, escape: str, braces: bool, keep_lists: bool = False
) -> tuple[bool, set[str], list[str]]:
    """Whether the RUN uses apt, which targets it leaves behind, and its mount targets."""
    if keyword := _RUN_KEYWORD.match(run_text):
        run_text = run_text[keyword.end() :]
    if is_exec_form(run_text, escape):  # no shell to append to
        return False, set(), []
    mounts = mount_targets(run_flags(run_text, escape))
    invocations = run_invocations(run_text, escape)
    uses_apt = any(_changes_packages(invocation) for invocation in invocations)
    removed = _removed(invocations, run_text, braces)
    removed |= {t for t in (_LISTS, _ARCHIVES, _PKGCACHE, *_LOGS) for m in mounts if covers(m, t)}
    # Only what the RUN writes: lists an earlier RUN's `apt-get update` fetched are in that RUN's
    # layer already, and a later `RUN apt-get install` without an update of its own reads them
    # (grafana's `RUN apt-get update`, then one RUN per package).
    written = {t for invocation in invocations for t in _writes(invocation)}
    left = written - removed - ({_LISTS} if keep_lists else set())
    return uses_apt, left, mounts


def needs_cleanup(
    run_text: str, *, escape: str = "\\", braces: bool = False, keep_lists: bool = False
) -> bool:
    """True if a RUN runs apt or dpkg and leaves some build-varying file behind; braces: its
    shell expands `{a,b}` (a SHELL instruction's bash: Debian's and Ubuntu's dash does not);
    keep_lists: a later RUN installs with the lists this one fetched (lists_read_later)."""
    uses_apt, left, _ = _analyse(run_text, escape, braces, keep_lists)
    return uses_apt and bool(left)


def cleanup_for(
    run_text: str, *, escape: str = "\\", braces: bool = False, keep_lists: bool = False
) -> str | None:
    """The cleanup to append to a RUN with " && ": only what it does not already remove, or None;
    braces and keep_lists as for needs_cleanup."""
    uses_apt, left, _ = _analyse(run_text, escape, braces, keep_lists)
    if not (uses_apt and left):
        return None
    # `apt-get clean` empties the archives and removes the *.bin caches (apt's RemoveCaches);
    # the rm list names the rest, in the order of the full cleanup.
    paths = (["/var/lib/apt/lists/*"] if _LISTS in left else []) + (
        ["/var/cache/apt/*.bin"] if _PKGCACHE in left else []
    )
    paths += [glob for glob, target in zip(_LOG_GLOBS, _LOGS, strict=True) if target in left]
    rm = "rm -rf " + " ".join(paths) if paths else ""
    if _ARCHIVES in left:
        return f"apt-get clean && {rm}" if rm else "apt-get clean"
    return rm
