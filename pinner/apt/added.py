"""apt sources a Dockerfile adds itself (PGDG, Docker's repository, a PPA): pinner cannot date them.

A stage that writes a `.list` or `.sources` file, runs add-apt-repository, COPYs a sources file or
installs a vendor's repository-setup .deb (NVIDIA's cuda-keyring) lets apt take any package from
that repository when its version is higher; a snapshot of Debian says nothing about it. Nothing is
evaluated: the repository is named by the URL written next to `deb`, `URIs:` or an `[ option ]`
block, else by the file written or the .deb installed.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from pinner.apt.shell import run_invocations

# Where apt reads sources (sources.list(5)).
_SOURCES_PATH = r"/etc/apt/sources\.list(?:\.d/[^\s\"'`;|&)<>]*)?"
# A write to a sources file by redirection or a download's output option (curl -o, wget -qO).
_WRITES = re.compile(
    r"(?:>>?|(?<!\S)(?:-[A-Za-z]*[oO]|--output(?:-document)?=?))\s*[\"']?(" + _SOURCES_PATH + r")"
)
# Programs that write their last argument (cp, mv, install, ln) or every argument (tee).
_WRITE_LAST = frozenset(["cp", "mv", "install", "ln"])
_URL = r"((?:https?|ftp|file|tor\+https?|mirror\+https?)://[^\s\"'`\\;|&)<>]+)"
# The URL of a one-line entry (after `deb [opts]`), a deb822 `URIs:` field, or a variable holding
# the part after `deb` (`aptRepo="[ signed-by=... ] http://apt.postgresql.org/..."`). No word
# boundary before `deb` or `URIs`: printf's `\ndeb` and `\nURIs:` are written in the text.
_REPOSITORY = re.compile(
    r"(?:deb(?:-src)?\s+(?:\[[^\]]*\]\s*)?|URIs:\s*|\[[^\]]*\]\s*)" + _URL, re.IGNORECASE
)
_SOURCES_IN_TEXT = re.compile(_SOURCES_PATH)
_SOURCES_FILE = re.compile(_SOURCES_PATH + "/?")
_ADD_REPOSITORY = frozenset(["add-apt-repository", "apt-add-repository"])


# A local .deb named as vendors name the package that writes their sources file: cuda-keyring and
# cuda-repo-* (NVIDIA), packages-microsoft-prod, zabbix-release, percona-release, puppet8-release,
# mysql-apt-config, ros2-apt-source, amdgpu-install (ROCm). Its contents are not read: the name is
# what the Dockerfile shows, and what the vendors' install guides have users download.
@functools.cache
def _setup_deb() -> re.Pattern[str]:
    return re.compile(
        r"[^/]*(?:keyring|release|-repo|-prod|apt-config|apt-source|amdgpu-install)[^/]*\.deb",
        re.IGNORECASE,
    )


_DEB_INSTALLERS = frozenset(["dpkg", "apt-get", "apt", "gdebi"])


class AddedSource(NamedTuple):
    """Where in a RUN's text apt sources are added, and the repository they name."""

    offset: int
    repository: str


def added_sources(run_text: str, *, escape: str = "\\") -> list[AddedSource]:
    """The apt sources a RUN adds, in order: writes to a sources file, add-apt-repository."""
    found: list[AddedSource] = []
    urls = [m.group(1) for m in _REPOSITORY.finditer(run_text)]
    for write in _WRITES.finditer(run_text):
        found.append(AddedSource(write.start(), ", ".join(dict.fromkeys(urls)) or write.group(1)))
    if "-repository" in run_text or ".deb" in run_text or _SOURCES_IN_TEXT.search(run_text):
        for invocation in run_invocations(run_text, escape):
            if invocation.program in _DEB_INSTALLERS:
                debs = [w.text.rpartition("/")[2] for w in invocation.args]
                found += [
                    AddedSource(invocation.start, d) for d in debs if _setup_deb().fullmatch(d)
                ]
            args = [w.text for w in invocation.args if not w.text.startswith("-")]
            written = args[-1:] if invocation.program in _WRITE_LAST else args
            path = next((a for a in written if _SOURCES_FILE.fullmatch(a)), None)
            if invocation.program in _WRITE_LAST | {"tee"} and path is not None:
                found.append(AddedSource(invocation.start, ", ".join(dict.fromkeys(urls)) or path))
            if invocation.program in _ADD_REPOSITORY:
                named = next((m.group(1) for w in args for m in _REPOSITORY.finditer(w)), None)
                repository = named or (args[0] if args else invocation.program)
                found.append(AddedSource(invocation.start, repository))
    return sorted(found)


def copied_sources(destination: str) -> bool:
    """Whether a COPY or ADD destination is an apt sources file or folder."""
    return _SOURCES_FILE.fullmatch(destination) is not None
