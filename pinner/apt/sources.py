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
#   /etc/ssl/certs/ca-certificates.crt is missing, the step writes an apt.conf file that turns off
#   TLS peer verification for the snapshot host alone (Acquire::https::<host>::Verify-Peer; apt's
#   https method reads per-host options, methods/aptmethod.h, and with no system certificates it
#   only warns). Integrity still rests where it always does for apt: the archive key's signature
#   on InRelease and the hashes it lists. What is lost is what the Debian step, over plain http,
#   never had: an attacker on the path could serve another validly signed state of the archive
#   instead of the pinned one (Check-Valid-Until is off); a lock that records package hashes
#   catches that. With a CA bundle present the file is removed and TLS is verified. The
#   alternative some scripts use, installing ca-certificates from the live archive first, would
#   take an unpinned package into every build.
# * Every stanza or line whose URI was rewritten gets Check-Valid-Until: no / check-valid-until=no,
#   since a snapshot's Release files expire (Debian security: Date + 7 days).
# * Idempotent: URIs that already point at a snapshot are re-pointed to the step's timestamp, so a
#   second run changes nothing and a stage built on a pinned image follows its own timestamp. A
#   snapshot is recognised under the configured base, or by snapshot.debian.org's layout
#   (/archive/<archive>/<ts>) or snapshot.ubuntu.com's (the whole path /ubuntu/<ts>) on any host,
#   which keeps PPA snapshots (/<owner>/<ppa>/ubuntu/<ts>) out. A file is written only when its
#   content changes.
# * The step fails the build if no source of the distribution was found, rather than leaving a
#   stage silently unpinned.
# * POSIX sh and awk only (dash, mawk and busybox are tested), since that is all the images have.

from __future__ import annotations

import datetime
import fnmatch
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

Distro = Literal["debian", "ubuntu"]

DEFAULT_MIRRORS: Mapping[str, str] = {
    "debian": "http://snapshot.debian.org/archive",
    "ubuntu": "https://snapshot.ubuntu.com/ubuntu",
}
_NAMES: Mapping[str, str] = {"debian": "Debian", "ubuntu": "Ubuntu"}

TIMESTAMP_RE = re.compile(r"^\d{8}T\d{6}Z$")


def is_timestamp(value: str) -> bool:
    """True for YYYYMMDDTHHMMSSZ naming a real UTC time from 1970 on (not 20250230T000000Z)."""
    if not TIMESTAMP_RE.match(value):
        return False
    try:
        moment = datetime.datetime.strptime(value, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False
    return moment.year >= 1970


_MIRROR_RE = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+(?:/[A-Za-z0-9._~%+-]+)*$")

MARKER_PREFIX = "# pinner: apt snapshot"
MARKER_RE = re.compile(
    r"^[ \t]*# pinner: apt snapshot (?P<distro>debian|ubuntu) (?P<timestamp>\d{8}T\d{6}Z)[ \t]*$"
)
TLS_CONF = "/etc/apt/apt.conf.d/80pinner-snapshot"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# The awk program, one statement group a line, so the lines can be joined with spaces (one
# logical line) or with Dockerfile line continuations: every line ends in ";", "{" or "}". No line
# may start with "#" (BuildKit drops such lines inside a continuation) or hold a single quote.
# rw() returns the new URI, or "" for a URI to leave alone; the lines standing for @SNAP@ and
# @ARCHIVE@ are the distribution's rules. snap(r) sets S to the re-pointed URL when r, the path
# after a snapshot base, is "/<archive>/<ts>[/...]" (Debian) or "/<ts>" (Ubuntu).
_AWK = r"""
function snap(r) {
  @SNAP@
}
function rw(u,  h, p, t) {
  t = (u ~ /\/$/) ? "/" : ""; sub(/\/+$/, "", u);
  if (index(u, base "/") == 1 && snap(substr(u, length(base) + 1))) return S t;
  if (!match(u, /^https?:\/\/[^\/]+/)) return "";
  h = tolower(substr(u, 1, RLENGTH)); p = substr(u, RLENGTH + 1);
  sub(/^https?:\/\/([^@\/]*@)?/, "", h); sub(/:[0-9]*$/, "", h);
  @ARCHIVE@
  return "";
}
function opt(o,  s, out, tok, done) {
  s = substr(o, 2, length(o) - 2); out = "";
  while (match(s, /[^ \t]+/)) {
    tok = substr(s, RSTART, RLENGTH); out = out substr(s, 1, RSTART - 1);
    s = substr(s, RSTART + RLENGTH);
    if (tok ~ /^check-valid-until=/) { tok = "check-valid-until=no"; done = 1 } out = out tok;
  }
  if (!done) out = out (out == "" ? "" : " ") "check-valid-until=no";
  return "[" out s "]";
}
function line1(l,  pre, o, rest, mid, u, nu) {
  if (!match(l, /^[ \t]*deb(-src)?[ \t]+/)) return l;
  pre = substr(l, 1, RLENGTH); rest = substr(l, RLENGTH + 1); o = "";
  if (substr(rest, 1, 1) == "[" && index(rest, "]")) {
    o = substr(rest, 1, index(rest, "]")); rest = substr(rest, length(o) + 1);
  }
  match(rest, /^[ \t]*/); mid = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1);
  match(rest, /^[^ \t]*/); u = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1);
  nu = rw(u); if (nu == "") return l;
  n++; if (o == "") { o = "[check-valid-until=no]"; mid = " " } else o = opt(o);
  return pre o mid nu rest;
}
function uris(l, off,  s, out, tok, nu) {
  s = substr(l, off + 1); out = substr(l, 1, off);
  while (match(s, /[^ \t]+/)) {
    tok = substr(s, RSTART, RLENGTH); out = out substr(s, 1, RSTART - 1);
    s = substr(s, RSTART + RLENGTH);
    nu = rw(tok); if (nu != "") { tok = nu; k++ } out = out tok;
  }
  return out s;
}
function flush(  i, f, last, cvu) {
  k = 0; f = ""; last = 0; cvu = 0;
  for (i = 1; i <= np; i++) {
    if (P[i] ~ /^#/) continue;
    if (P[i] ~ /^[ \t]/) { if (f == "uris") P[i] = uris(P[i], 0) }
    else if (match(P[i], /^[^: \t]+:/)) {
      f = tolower(substr(P[i], 1, RLENGTH - 1));
      if (f == "uris") P[i] = uris(P[i], RLENGTH); if (f == "check-valid-until") cvu = i;
    }
    last = i;
  }
  if (k && cvu) { match(P[cvu], /^[^:]*:[ \t]*/); P[cvu] = substr(P[cvu], 1, RLENGTH) "no" }
  for (i = 1; i <= np; i++) {
    print P[i]; if (k && !cvu && i == last) print "Check-Valid-Until: no";
  }
  n += k; np = 0;
}
FILENAME ~ /\.sources$/ { if ($0 ~ /^[ \t]*$/) { flush(); print } else P[++np] = $0; next }
{ print line1($0) }
END { flush(); exit (n ? 0 : 3) }
"""
_AWK_SNAP: Mapping[str, tuple[str, ...]] = {
    "debian": (
        r"if (!match(r, /^\/debian(-security|-archive|-ports|-debug)?\/[0-9]+T[0-9]+Z/)) return 0;",
        r'if (RLENGTH < length(r) && substr(r, RLENGTH + 1, 1) != "/") return 0;',
        r'S = base substr(r, 1, index(substr(r, 2), "/") + 1) ts substr(r, RLENGTH + 1); return 1;',
    ),
    "ubuntu": (r'if (r !~ /^\/[0-9]+T[0-9]+Z$/) return 0; S = base "/" ts; return 1;',),
}
# The snapshot layout on any host; then the archive paths (module comment).
_AWK_ARCHIVE: Mapping[str, tuple[str, ...]] = {
    "debian": (
        r'if (index(p, "/archive/") == 1 && snap(substr(p, 9))) return S t;',
        r'if (h == "archive.debian.org" && p ~ /^\/debian(-security|-backports)?$/)'
        r' return base "/debian-archive/" ts p t;',
        r'if (p ~ /^\/debian(-security|-ports|-debug)?$/) return base p "/" ts t;',
        r"if (p ~ /^\/debian-archive\/debian(-security|-backports)?$/)"
        r' return base "/debian-archive/" ts substr(p, 16) t;',
    ),
    "ubuntu": (
        r'if (index(p, "/ubuntu/") == 1 && snap(substr(p, 8))) return S t;',
        r'if (h != "archive.canonical.com" && p ~ /^\/ubuntu(-ports)?$/) return base "/" ts t;',
    ),
}


def _awk_lines(distro: Distro) -> list[str]:
    """The awk program for `distro`, as lines."""
    fill = {"@SNAP@": _AWK_SNAP[distro], "@ARCHIVE@": _AWK_ARCHIVE[distro]}
    lines: list[str] = []
    for line in _AWK.strip("\n").split("\n"):
        rules = fill.get(line.strip())
        indent = line[: len(line) - len(line.lstrip())]
        lines += [indent + rule for rule in rules] if rules else [line]
    return lines


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
    if not _MIRROR_RE.match(base):
        raise ValueError(f"{base!r}: a snapshot mirror is an http(s) URL without query or spaces")
    return base


def _host(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()


def _script_lines(
    distro: Distro, timestamp: str, mirrors: Mapping[str, str] | None, root: str
) -> list[str]:
    """The step as lines that stay valid sh when joined by spaces or by line continuations."""
    _check_distro(distro)
    _check_timestamp(timestamp)
    base = mirror_base(distro, mirrors)
    apt = (shlex.quote(root) if root else "") + "/etc/apt"
    lines = [
        "set -eu; t=$(mktemp); trap 'rm -f \"$t\"' EXIT; found=;",
        f"for f in {apt}/sources.list {apt}/sources.list.d/*.list {apt}/sources.list.d/*.sources;"
        " do",
        '  [ -f "$f" ] || continue;',
        f"  if awk -v ts={timestamp} -v {shlex.quote('base=' + base)} '",
        *("    " + line for line in _awk_lines(distro)),
        '  \' "$f" >"$t"; then found=1; cmp -s "$t" "$f" || cat "$t" >"$f";',
        "  elif [ $? -ne 3 ]; then exit 1; fi;",
        "done;",
        f'[ -n "$found" ] || {{ echo "pinner: no {_NAMES[distro]} archive in the apt sources'
        ' of this stage, so it cannot be pinned to a snapshot" >&2; exit 1; };',
    ]
    if base.startswith("https://"):
        conf = (shlex.quote(root) if root else "") + TLS_CONF
        ca = (shlex.quote(root) if root else "") + CA_BUNDLE
        setting = f'Acquire::https::{_host(base)}::Verify-Peer "false";'
        lines += [
            f"if [ -s {ca} ]; then rm -f {conf};",
            f"else printf '%s\\n' '// pinner: no CA bundle; apt still verifies the InRelease"
            f" signature' '{setting}' >{conf}; fi;",
        ]
    lines[-1] = lines[-1].rstrip(";")
    return lines


def snapshot_script(
    distro: Distro,
    timestamp: str,
    *,
    mirrors: Mapping[str, str] | None = None,
    root: str = "",
) -> str:
    """The step as one line of POSIX sh; `root` prefixes every path (for tests only)."""
    return " ".join(_script_lines(distro, timestamp, mirrors, root))


def snapshot_run_line(
    distro: Distro,
    timestamp: str,
    *,
    mirrors: Mapping[str, str] | None = None,
    escape: str = "\\",
) -> str:
    """The marker comment and RUN instruction, joined by "\\n", with no final newline."""
    body = f" {escape}\n    ".join(_script_lines(distro, timestamp, mirrors, ""))
    return f"{MARKER_PREFIX} {distro} {timestamp}\nRUN {body}"


def _continues(line: str, escape: str) -> bool:
    """True if a Dockerfile line ends with the escape character, trailing blanks aside."""
    return line.rstrip(" \t\r\n").endswith(escape)


def find_markers(lines: Sequence[str], *, escape: str = "\\") -> list[SnapshotStep]:
    """Every inserted snapshot step in a Dockerfile's lines (as split on "\\n"), in order."""
    steps: list[SnapshotStep] = []
    i = 0
    while i < len(lines):
        match = MARKER_RE.match(lines[i].rstrip("\r\n"))
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
_APT_VERBS = (
    "update|install|upgrade|dist-upgrade|full-upgrade|build-dep|reinstall|remove|purge"
    "|autoremove|satisfy"
)
_APT_RUN_RE = re.compile(
    rf"(?:^|[\s;&|(`])(?:apt-get|apt|aptitude)\s+(?:[^;&|\n]*?\s)?(?:{_APT_VERBS})(?=$|[\s;&|)])"
)
_DPKG_RUN_RE = re.compile(
    r"(?:^|[\s;&|(`])dpkg\s+(?:[^;&|\n]*?\s)?"
    r"(?:-i|--install|-r|--remove|-P|--purge|--unpack|--configure)(?=$|[\s;&|)])"
)


def cleanup_script(*, apt_cache: bool = True, apt_lists: bool = True, root: str = "") -> str:
    """Shell removing apt's leftovers; False for cache-mounted dirs; `root` is for tests only."""
    prefix = shlex.quote(root) if root else ""
    paths = (
        (["/var/lib/apt/lists/*"] if apt_lists else [])
        + (["/var/cache/apt/*.bin"] if apt_cache else [])
        + list(_LOG_GLOBS)
    )
    rm = "rm -rf " + " ".join(prefix + p for p in paths)
    return f"apt-get clean && {rm}" if apt_cache else rm


def _command_text(run_text: str) -> tuple[str, list[str]]:
    """Split a RUN's text (with or without the RUN keyword) into shell text and --mount targets."""
    text = re.sub(r"\\[ \t]*\r?\n", " ", run_text).strip()
    text = re.sub(r"(?i)^RUN\s+", "", text)
    targets: list[str] = []
    while match := re.match(r"--([a-z-]+)(?:=(\S*))?\s*", text):
        if match[1] == "mount" and match[2]:
            for item in match[2].split(","):
                key, _, value = item.partition("=")
                if key in ("target", "dst", "destination") and value:
                    targets.append("/" + value.strip("/"))
        text = text[match.end() :]
    return text, targets


def _commands(text: str) -> list[list[str]]:
    """Simple commands of a shell text, split on ; & | && || and newlines (best effort)."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace = " \t\r"
    commands: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token and set(token) <= set(";&|()\n"):
                commands.append([])
            else:
                commands[-1].append(token)
    except ValueError:  # an unbalanced quote: no reliable commands
        return []
    return [c for c in commands if c]


def _covers(pattern: str, path: str) -> bool:
    """True if removing `pattern` (a path glob, maybe a directory) removes `path`."""
    want = pattern.rstrip("/").split("/")
    have = path.split("/")
    return len(want) <= len(have) and all(
        fnmatch.fnmatchcase(h, w) for h, w in zip(have, want, strict=False)
    )


def _removed(text: str) -> tuple[set[str], bool]:
    """Paths among the cleanup targets that `text` removes, and whether it runs apt-get clean."""
    targets = (_LISTS, _ARCHIVES, _PKGCACHE, *_LOGS)
    removed: set[str] = set()
    cleans = False
    for words in _commands(text):
        while words and (re.match(r"[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] == "sudo"):
            words = words[1:]
        if words[:1] in (["apt-get"], ["apt"]) and ("clean" in words or "distclean" in words):
            cleans = True
        if words[:1] == ["rm"]:
            for arg in (w for w in words[1:] if not w.startswith("-")):
                removed |= {t for t in targets if _covers(arg, t)}
    return removed, cleans


def _analyse(run_text: str) -> tuple[bool, set[str], list[str]]:
    """Whether the RUN uses apt, which targets it leaves behind, and its mount targets."""
    if re.match(r"(?i)\s*(RUN\s+)?(--\S+\s+)*\[", run_text):  # exec form: no shell to append to
        return False, set(), []
    text, mounts = _command_text(run_text)
    uses_apt = bool(_APT_RUN_RE.search(text) or _DPKG_RUN_RE.search(text))
    removed, cleans = _removed(text)
    if cleans:
        removed |= {_ARCHIVES, _PKGCACHE}
    removed |= {t for t in (_LISTS, _ARCHIVES, _PKGCACHE, *_LOGS) for m in mounts if _covers(m, t)}
    left = {_LISTS, _ARCHIVES, _PKGCACHE, *_LOGS} - removed
    return uses_apt, left, mounts


def needs_cleanup(run_text: str) -> bool:
    """True if a RUN runs apt or dpkg and leaves some build-varying file behind."""
    uses_apt, left, _ = _analyse(run_text)
    return uses_apt and bool(left)


def cleanup_for(run_text: str) -> str | None:
    """The cleanup to append to a RUN with " && ": only what it does not already remove, or None."""
    uses_apt, left, _ = _analyse(run_text)
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
