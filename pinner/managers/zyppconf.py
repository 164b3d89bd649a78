"""Whether zypper installs recommended packages by default, as the image's configuration says.

`zypper install` weighs Recommends unless `solver.onlyRequires` is true in libzypp's zypp.conf
(zypper(8): "The default behavior is determined by [zypp.conf:solver.onlyRequires]"), or
zypper's own zypper.conf sets `[solver] installRecommends`, which then wins for zypper alone (its
shipped zypper.conf: "Default value: follow zypp.conf(solver.onlyRequires)"). A command's
`--recommends` / `--no-recommends` wins over both. `zypper --config FILE` reads FILE in place of
both zypper.conf files (zypper's Augeas reader: the custom file alone; one that is missing or
does not parse leaves zypper's defaults, which follow zypp.conf).

Where libzypp reads zypp.conf (its libeconf layout, Tumbleweed since 2024): /etc/zypp/zypp.conf
when the image has it, else the vendor's /usr/etc/zypp/zypp.conf; then the drop-ins `*.conf` of
/usr/etc/zypp/zypp.conf.d and /etc/zypp/zypp.conf.d in file-name order, one in /etc hiding the
one of the same name in /usr/etc; a later value wins. Tumbleweed's images ship
/usr/etc/zypp/zypp.conf.d/no-recommends.conf, Leap's an /etc/zypp/zypp.conf with
`solver.onlyRequires = true`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pinner.managers import dropins

ZYPP_CONF = ("/etc/zypp/zypp.conf", "/usr/etc/zypp/zypp.conf")
ZYPP_DROPINS = ("/usr/etc/zypp/zypp.conf.d/", "/etc/zypp/zypp.conf.d/")
# zypper.conf: the system's (/etc, else the vendor's), then root's own, which wins.
ZYPPER_CONF = ("/etc/zypp/zypper.conf", "/usr/etc/zypp/zypper.conf")
ZYPPER_USER_CONF = "/root/.zypper.conf"
# Where a file `zypper --config` names is read from: beside zypp.conf, where people keep them.
CUSTOM_DIR = "/etc/zypp/"
IMAGE_PATHS = (
    *ZYPP_CONF,
    *(f"{folder}*.conf" for folder in ZYPP_DROPINS),
    *ZYPPER_CONF,
    ZYPPER_USER_CONF,
    f"{CUSTOM_DIR}*.conf",
)
# libzypp's str::strToTrue / strToFalse; any other value leaves the setting as it was.
_TRUE = frozenset({"1", "yes", "true", "on", "always", "+"})
_FALSE = frozenset({"0", "no", "false", "off", "never", "-"})


def _values(data: bytes) -> dict[tuple[str, str], str]:
    """(section, key) -> value of an ini file as libzypp's IniParser reads it (last wins)."""
    found = {}
    section = ""
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, eq, value = line.partition("=")
        if eq:
            found[(section, key.strip())] = value.strip()
    return found


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    word = value.lower()
    return True if word in _TRUE else False if word in _FALSE else None


def _zypp_files(files: Mapping[str, bytes]) -> list[str]:
    """The zypp.conf files libzypp reads, in the order their values apply."""
    main = next((path for path in ZYPP_CONF if path in files), None)
    # /etc last: its file hides /usr/etc's of the same name.
    return [*([main] if main else []), *dropins(files, ZYPP_DROPINS)]


def wanted(path: str) -> bool:
    """Whether a file of the image is one this module reads."""
    folder, _, name = path.rpartition("/")
    return path in (*ZYPP_CONF, *ZYPPER_CONF, ZYPPER_USER_CONF) or (
        f"{folder}/" in (*ZYPP_DROPINS, CUSTOM_DIR) and name.endswith(".conf")
    )


def recommends(files: Mapping[str, bytes], config: str | None = None) -> tuple[bool, str | None]:
    """Whether `zypper install` weighs Recommends by default, and the file that said so (None:
    libzypp's default, which weighs them). config: the file `zypper --config` names, read in
    place of zypper.conf and /root/.zypper.conf."""
    system = next((path for path in ZYPPER_CONF if path in files), None)
    for path in (ZYPPER_USER_CONF, system) if config is None else (config,):
        if path is not None and path in files:
            value = _flag(_values(files[path]).get(("solver", "installRecommends")))
            if value is not None:
                return value, path
    weighed, source = True, None
    for path in _zypp_files(files):
        value = _flag(_values(files[path]).get(("main", "solver.onlyRequires")))
        if value is not None:
            weighed, source = not value, path
    return weighed, source
