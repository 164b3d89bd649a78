from __future__ import annotations

import pytest

from pinner.managers.rpmversionlock import Versionlock, dnf4, dnf5

CONF = "/etc/dnf/plugins/versionlock.conf"
LIST = "/etc/dnf/plugins/versionlock.list"
ON = b"[main]\nenabled = 1\nlocklist = /etc/dnf/plugins/versionlock.list\n"


@pytest.mark.parametrize(
    ("rules", "locked", "free"),
    [
        # What `dnf versionlock add` writes.
        (b"# Added lock on Mon\ncurl-0:7.76.1-26.el9.*\n", ["curl"], ["curl-minimal", "libcurl"]),
        (b"!kernel-core\n", ["kernel-core", "kernel"], ["kernel-modules"]),
        (b"nginx.x86_64\n", ["nginx"], ["nginx-core"]),
        (b"python3-foo-1.0-1.el9.x86_64\n", ["python3-foo"], ["python3"]),
        (b"gcc*\n", ["gcc", "gcc-c++"], ["libgcc"]),
    ],
    ids=["nevra", "exclude", "name-arch", "dashed-name", "glob"],
)
def test_the_names_a_plugin_rule_may_lock(rules: bytes, locked: list[str], free: list[str]) -> None:
    notes: list[str] = []
    lock = dnf4({CONF: ON, LIST: rules}, {}, notes)
    assert lock is not None and lock.path == LIST
    assert [n for n in locked + free if lock.locks(n)] == locked
    assert notes == [
        f"{LIST}: dnf's version locks are not followed; the words they may lock, and commands"
        " that would install a build of a locked name, are not pinned"
    ]


@pytest.mark.parametrize(
    ("files", "main"),
    [
        ({CONF: ON, LIST: b"# nothing locked\n\n"}, {}),
        ({CONF: b"[main]\nenabled=0\nlocklist=" + LIST.encode() + b"\n", LIST: b"curl\n"}, {}),
        ({CONF: ON, LIST: b"curl\n"}, {"plugins": "False"}),
        ({CONF: b"[main]\nenabled=1\n", LIST: b"curl\n"}, {}),
        ({LIST: b"curl\n"}, {}),
    ],
    ids=["empty-list", "plugin-off", "plugins-off", "no-locklist", "no-conf"],
)
def test_no_plugin_lock(files: dict[str, bytes], main: dict[str, str]) -> None:
    notes: list[str] = []
    assert dnf4(files, main, notes) is None
    assert notes == []


def test_a_lock_list_pinner_cannot_read_locks_every_name() -> None:
    notes: list[str] = []
    conf = b"[main]\nenabled=1\nlocklist=/srv/locks.list\n"
    assert dnf4({CONF: conf}, {}, notes) == Versionlock("/srv/locks.list", ("*",))
    assert notes == [
        "/srv/locks.list: dnf's version lock list is not one pinner reads (or is missing or too"
        " large); no word dnf resolves with it is pinned"
    ]


TOML = "/etc/dnf/versionlock.toml"


@pytest.mark.parametrize(
    ("text", "expected", "note"),
    [
        (
            b'version = "1.0"\n[[packages]]\nname = "curl"\n[[packages]]\nname = "gcc*"\n',
            Versionlock(TOML, ("curl", "gcc*")),
            "dnf's version locks are not followed",
        ),
        (b'version = "2.0"\n[[packages]]\nname = "curl"\n', None, None),
        (b'[[packages]]\nname = "curl"\n', None, None),
        (b'version = "1.0"\n', None, None),
        (b"version = \n", Versionlock(TOML, ("*",)), "is not valid TOML"),
        (
            b'version = "1.0"\n[[packages]]\nevr = "1"\n',
            Versionlock(TOML, ("*",)),
            "without a name",
        ),
    ],
    ids=["names", "other-version", "unversioned", "no-packages", "bad-toml", "nameless"],
)
def test_dnf5_s_lock_file(text: bytes, expected: Versionlock | None, note: str | None) -> None:
    notes: list[str] = []
    assert dnf5({TOML: text}, notes) == expected
    assert [note in n for n in notes] == ([True] if note else [])
