"""Dated composes of Fedora and CentOS Stream: which compose a lock's time names, and the step.

Both distributions publish each compose of their repositories as a directory named by its id
(pungi's `<release>-<YYYYMMDD>.<respin>`) under one listing, with a STATUS file saying how it
ended, and keep them for some weeks:

    https://composes.stream.centos.org/production/CentOS-Stream-9-20240520.0/compose/BaseOS/x86_64/os/
    https://composes.stream.centos.org/stream-10/production/CentOS-Stream-10-20250203.0/compose/...
    https://kojipkgs.fedoraproject.org/compose/updates/Fedora-41-updates-20241125.0/compose/Everything/x86_64/os/
    https://kojipkgs.fedoraproject.org/compose/rawhide/Fedora-Rawhide-20241125.n.0/compose/Everything/x86_64/os/

Rawhide's and Branched's are nightly composes (pungi marks them `.n` in the id) and are removed
after days:

    https://kojipkgs.fedoraproject.org/compose/branched/Fedora-42-20250301.n.0/compose/Everything/x86_64/os/

Pure: listings, STATUS text and repository files in, compose ids and shell text out.
"""

from __future__ import annotations

import datetime
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pinner.managers.rpmconfig import Repo, RpmConfig
from pinner.output import untrusted

CENTOS = "https://composes.stream.centos.org"
FEDORA = "https://kojipkgs.fedoraproject.org/compose"
# pungi's STATUS: FINISHED_INCOMPLETE has every required deliverable, only optional ones
# (images of secondary architectures) may be missing; STARTED and DOOMED composes are not served.
FINISHED = frozenset(["FINISHED", "FINISHED_INCOMPLETE"])
EXPIRY = "keeps composes for some weeks only: run pinner update before this one is removed"
NIGHTLY_EXPIRY = (
    "keeps nightly composes for some days only: run pinner update before this one is removed"
)
MAX_LISTING = 4 * 1024 * 1024  # kojipkgs' compose/updates/ lists every release's composes
MAX_STATUS = 64
# CentOS Stream's repository ids -> the compose variant that holds them (centos.repo).
_CENTOS_VARIANTS: Mapping[str, str] = {
    "baseos": "BaseOS",
    "appstream": "AppStream",
    "crb": "CRB",
    "highavailability": "HighAvailability",
    "nfv": "NFV",
    "rt": "RT",
    "resilientstorage": "ResilientStorage",
}
# A mirror URL written into the step's sed: no quote, `|` (the s delimiter), `&` or `\`.
_MIRROR = re.compile(r"https?://[A-Za-z0-9._~:/@!()*+,;=%-]+")
_SECTION = re.compile(r"[A-Za-z0-9_-]+")
_SOURCE_KEYS = ("baseurl", "metalink", "mirrorlist")


class Series(NamedTuple):
    """One line of composes: where they are listed, the ids' shape, and the variant to read."""

    listing: str  # URL ending in "/"
    prefix: str  # "CentOS-Stream-9", "Fedora-41-updates"
    variant: str  # "BaseOS", "Everything"
    label: str = ""  # pungi's compose type in the id: "" production, ".n" nightly

    def id_pattern(self) -> re.Pattern[str]:
        label = re.escape(self.label)
        return re.compile(rf"{re.escape(self.prefix)}-([0-9]{{8}}){label}\.([0-9]{{1,3}})")

    def expiry(self) -> str:
        """How long the host keeps these composes, and what to do about it."""
        return NIGHTLY_EXPIRY if self.label == ".n" else EXPIRY

    def tree(self, compose: str, arch: str = "$basearch") -> str:
        """The compose's repository URL for arch (dnf's `$basearch` when written in the step)."""
        return f"{self.listing}{compose}/compose/{self.variant}/{arch}/os/"


def mirror_base(default: str, name: str, mirrors: Mapping[str, str]) -> str:
    """The compose host, or the one `--snapshot-mirror name=URL` gives, checked for the sed."""
    base = mirrors.get(name, default).rstrip("/")
    if not _MIRROR.fullmatch(base):
        raise ValueError(f"{name} mirror {untrusted(base[:80])!r} cannot be written into a sed")
    return base


def family(config: RpmConfig) -> str | None:
    """The --snapshot-mirror name of a distribution with composes (fedora, centos), else None."""
    if config.distro == "fedora" and config.releasever.isdigit():
        return "fedora"  # a release, or Branched (a numbered pre-release)
    if config.distro == "fedora" and config.releasever == "rawhide":
        return "fedora"
    if config.distro == "centos" and config.releasever.isdigit() and int(config.releasever) >= 9:
        return "centos"  # CentOS Stream 9 on; CentOS Linux and Stream 8 composes are gone
    return None


# Fedora's development lines, whose $releasever is a word (fedora-release-common provides
# system-release(releasever) = rawhide or eln there): pungi composes them nightly, with ids
# such as Fedora-eln-20240830.n.7 under compose/eln/. Rawhide's are followed (series());
# ELN's are not: which repository ids an ELN image's own files give its variants (BaseOS,
# AppStream, CRB, Extras) is not known from a real image.
_NIGHTLY = {"eln": ("ELN", "Fedora-eln")}


def no_composes(config: RpmConfig) -> str:
    """What --snapshot does for a stage whose distribution has no composes pinner follows."""
    distro, version = untrusted(config.distro), untrusted(config.releasever)
    nightly = _NIGHTLY.get(config.releasever) if config.distro == "fedora" else None
    if nightly is not None:
        line, prefix = nightly
        return (
            f"{distro} {version}: pinner does not follow {line}'s nightly composes"
            f" ({prefix}-YYYYMMDD.n.N); --snapshot pins versions only"
        )
    return f"{distro} {version} publishes no dated composes: --snapshot pins versions only"


def series(config: RpmConfig, repo: Repo, mirrors: Mapping[str, str]) -> Series | None:
    """The composes a repository of the image can be pointed at, None if it has none."""
    version = config.releasever
    if family(config) == "centos":
        variant = _CENTOS_VARIANTS.get(repo.id)
        if variant is None:
            return None
        host = mirror_base(CENTOS, "centos", mirrors)
        folder = "production" if version == "9" else f"stream-{version}/production"
        return Series(f"{host}/{folder}/", f"CentOS-Stream-{version}", variant)
    if family(config) != "fedora":
        return None
    if version.isdigit() and config.prerelease:
        # Branched: fedora-repos' [fedora] (metalink repo=fedora-N) is the Everything tree of
        # its newest nightly compose, listed under compose/branched/ until the release;
        # updates-testing's composes start only once Bodhi does and are not followed.
        if repo.id != "fedora":
            return None
        host = mirror_base(FEDORA, "fedora", mirrors)
        return Series(f"{host}/branched/", f"Fedora-{version}", "Everything", ".n")
    if version.isdigit() and repo.id in ("updates", "updates-testing"):
        host = mirror_base(FEDORA, "fedora", mirrors)
        return Series(f"{host}/updates/", f"Fedora-{version}-{repo.id}", "Everything")
    if version == "rawhide" and repo.id == "rawhide":
        # fedora-repos' [rawhide] (metalink repo=rawhide) is the Everything tree of the newest
        # nightly compose; each one stays listed under compose/rawhide/ for some days.
        host = mirror_base(FEDORA, "fedora", mirrors)
        return Series(f"{host}/rawhide/", "Fedora-Rawhide", "Everything", ".n")
    return None


def frozen(config: RpmConfig, repo: Repo) -> bool:
    """Whether a repository never changes once its release is out (Fedora's `fedora`)."""
    return (
        family(config) == "fedora"
        and config.releasever.isdigit()
        and not config.prerelease
        and repo.id == "fedora"
    )


def candidates(listing: bytes, line: Series, snapshot: str) -> list[str]:
    """The compose ids a listing names, dated before the snapshot's day, newest first.

    A compose dated D starts on D and finishes hours later, so only those dated before the
    snapshot time's day were surely finished by then (and a later run picks the same one).
    """
    day = datetime.datetime.strptime(snapshot, "%Y%m%dT%H%M%SZ").strftime("%Y%m%d")
    found = {}
    text = listing.decode("utf-8", "replace")
    for match in re.finditer(r'href="(?:\./)?([^"/?#]+)/?"', text):
        whole = line.id_pattern().fullmatch(match[1])
        if whole is not None and whole[1] < day:
            found[match[1]] = (whole[1], int(whole[2]))
    return sorted(found, key=found.__getitem__, reverse=True)


def finished(status: bytes) -> bool:
    """Whether a compose's STATUS file says it finished."""
    return status.decode("ascii", "replace").strip() in FINISHED


class Target(NamedTuple):
    """One repository to point at a compose: its id, file, the key that names its source."""

    repo: str
    path: str
    key: str  # baseurl, metalink or mirrorlist: the one line the step replaces
    url: str  # the compose tree, `$basearch` left for dnf


def _source_lines(text: str, section: str) -> list[str]:
    """The lines of section that sed's `/^\\[section\\]/,/^\\[/` range would visit."""
    found: list[str] = []
    inside = False
    for line in text.splitlines():
        if inside and line.startswith("["):
            inside = False
        if not inside and line.startswith(f"[{section}]"):
            inside = True
            continue
        if inside:
            found.append(line)
    return found


def target(repo: Repo, files: Mapping[str, bytes], url: str) -> Target | str:
    """How the step re-points repo at url, or why it cannot do so exactly."""
    where = f"[{repo.id}] ({repo.source})"
    if not _SECTION.fullmatch(repo.id):
        return f"{where}: its id cannot be written into a sed address; not pointed at a compose"
    text = files.get(repo.source, b"").decode("utf-8", "replace")
    lines = _source_lines(text, repo.id)
    keys = [k for k in _SOURCE_KEYS for line in lines if line.startswith(f"{k}=")]
    written = [line for line in lines if line.split("=", 1)[0].strip().lower() in _SOURCE_KEYS]
    if len(keys) != 1 or len(written) != 1 or len(repo.baseurls) > 1:
        return (
            f"{where}: not one `baseurl=`, `metalink=` or `mirrorlist=` line;"
            " not pointed at a compose"
        )
    return Target(repo.id, repo.source, keys[0], url)


def step(targets: Sequence[Target]) -> tuple[str, ...]:
    """One `sed -i` replacing each repository's source line by the compose's baseurl."""
    lines = ["sed -i"]
    for found in targets:
        address = rf"/^\[{found.repo}\]/,/^\[/"
        lines.append(f"-e '{address}s|^{found.key}=.*|baseurl={found.url}|'")
    lines.append(" ".join(shlex.quote(p) for p in dict.fromkeys(t.path for t in targets)))
    return tuple(lines)
