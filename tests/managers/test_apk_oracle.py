"""pinner's apk resolution against apk-tools' own, recorded on the real v3.17 index.

apk-tools is not packaged in Debian: scripts/record-apk-oracle ran a locally built apk once per
case (`apk --simulate`, no network, the 3.16 root of testdata/alpine) and wrote what it installs
to testdata/alpine/apk-oracle.json; testdata/alpine/README.md says how apk was built.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
from typing import Any

import pytest
from alpine_support import REAL_INDEX, REAL_KEY, ROOTFS, TESTDATA, rootfs_files

from pinner import managers
from pinner.apt.shell import run_invocations
from pinner.errors import PackageError
from pinner.managers import Mode, PackageArg, Removed, Resolved, Source, apk

ORACLE: dict[str, Any] = json.loads((TESTDATA / "apk-oracle.json").read_text())
# pinner records what apk installs in every recorded case: none is listed as a known difference.
CASES = {case["id"]: case["steps"] for case in ORACLE["cases"]}
# The versioned world entries a case gives the base image, in place of their names' own.
HELD = {case["id"]: case["world"] for case in ORACLE["cases"] if "world" in case}
MAIN = "https://dl-cdn.alpinelinux.org/alpine/v3.17/main"
# The recorder's tagged repository (its own index and key, made for the tests), as `@testing`.
TESTING = "https://dl-cdn.alpinelinux.org/alpine/edge/testing"
TESTING_KEY = "pinner-testing@example.org-00000001.rsa.pub"
INDEXES = {
    f"{MAIN}/aarch64/APKINDEX.tar.gz": REAL_INDEX,
    f"{TESTING}/aarch64/APKINDEX.tar.gz": TESTDATA / "testing/aarch64/APKINDEX.tar.gz",
}


def _config(held: list[str] = []) -> apk.ApkConfig:  # noqa: B006 (read only)
    names = {re.split(r"[<>=~@]", word)[0] for word in held}
    world = "".join(f"{name}\n" for name in [*ORACLE["world"], *held] if name not in names)
    world += "".join(f"{word}\n" for word in held)
    keys = {
        REAL_KEY: (ROOTFS / "etc/apk/keys" / REAL_KEY).read_bytes(),
        TESTING_KEY: (TESTDATA / "testing" / TESTING_KEY).read_bytes(),
    }
    repositories = f"{MAIN}\n@testing {TESTING}\n"
    files = rootfs_files(repositories, keys=keys, world=world)
    files = {f"/{path}": data for path, data in files.items()}
    config = apk.configure(files, "linux/arm64")
    assert isinstance(config, apk.ApkConfig)
    return config


CONFIG = _config()
# One manager for every case: it reads and verifies the index once per fetch function.
MANAGER = apk.Apk()


def _resolve(commands: list[str], config: apk.ApkConfig = CONFIG) -> Resolved:
    """What pinner records for one RUN's apk commands: its removals, then all its words."""
    gone: set[str] = set()
    cascaded: set[str] = set()
    before: set[str] = set()
    # Each word installed before a removal -> the names removed when it went in.
    held: dict[str, frozenset[str]] = {}
    then: dict[str, frozenset[str]] = {}
    words: list[PackageArg] = []
    read_in: dict[str, int] = {}  # name -> the command its word was last read from
    upgrades = False
    for number, command in enumerate(commands):
        (invocation,) = run_invocations(command, "\\")
        removal = apk.read_removal(invocation)
        if removal is not None:
            assert command is not commands[-1]
            # The words before it joined apk's world (outcome.stage_removals says so too).
            before.update(w.name for w in words)
            held.update((w.name, then[w.name]) for w in words if w.name not in held)
            gone.update(removal.names)
            if removal.cascade:
                cascaded.update(removal.names)
            continue
        install = apk.read_install(invocation)
        assert install is not None and not install.notes, command
        for word in install.packages:
            # Each name once, as lock reads a stage's commands (outcome.manager_packages).
            earlier = next((w for w in words if w.name == word.name), None)
            one = read_in.get(word.name) == number
            merged = managers.merged_word("apk", earlier, word, same_command=one)
            words = [w for w in words if w.name != word.name] + [merged]
            read_in[word.name] = number
        then.update((w.name, frozenset(gone)) for w in install.packages if w.name not in then)
        upgrades = upgrades or install.upgrades
    sets = (frozenset(gone), frozenset(cascaded), frozenset(gone))
    removed = Removed(*sets, installed_before=frozenset(before), installed_on=tuple(held.items()))
    mode = Mode("", upgrade=upgrades, removed=removed)
    source = Source(_fetch, config, {})
    return asyncio.run(MANAGER.resolve(source, words, mode))


async def _fetch(url: str, subject: str, limit: int) -> bytes:
    return INDEXES[url].read_bytes()


def _installed(steps: list[dict[str, Any]]) -> dict[str, str]:
    """The packages apk fetches for a RUN's commands: new ones and the new builds of those it
    replaces, an `apk del`'s too (`apk del busybox` installs busybox-binsh)."""
    found: dict[str, str] = {}
    for step in steps:
        answer = step["apk"]
        found.update(answer.get("installing", {}))
        for action in ("upgrading", "downgrading", "replacing"):
            found.update({n: v.rpartition(" -> ")[2] for n, v in answer.get(action, {}).items()})
        if step["command"].startswith("apk add"):
            # A later word moving a name to another tag purges what only its old build needed.
            for name in answer.get("purging", {}):
                found.pop(name, None)
    return found


def _pinned(commands: list[str], config: apk.ApkConfig = CONFIG) -> dict[str, str] | str:
    try:
        resolved = _resolve(commands, config)
    except PackageError as e:
        return f"error: {e}"
    return {p.name: p.version for p in resolved.packages}


def test_the_oracle_covers_what_it_says() -> None:
    assert ORACLE["apk_tools"].startswith("apk-tools 2.12.10")
    assert len(CASES) >= 20
    answers = [steps[-1]["apk"] for steps in CASES.values()]
    assert sum(1 for a in answers if a["exit"]) >= 3
    assert sum(1 for a in answers if a.get("upgrading")) >= 5
    for steps in CASES.values():
        for step in steps:
            # The command as recorded is the one apk ran, after the root and --simulate.
            words = shlex.split(step["command"])[1:]
            assert step["argv"][-len(words) :] == words and "--simulate" in step["argv"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_pinner_records_what_apk_installs(case: str) -> None:
    steps = CASES[case]
    answer = steps[-1]["apk"]
    config = _config(HELD[case]) if case in HELD else CONFIG
    pinned = _pinned([step["command"] for step in steps], config)
    if answer["exit"]:
        assert isinstance(pinned, str), f"apk refuses: {answer['error']}"
    else:
        assert pinned == _installed(steps)


def test_a_run_builds_each_universe_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolves against the same indexes and world holds share one Universe; other holds not."""
    built: list[object] = []

    class Counted(apk.Universe):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(apk, "Universe", Counted)
    manager = apk.Apk()
    monkeypatch.setattr(sys.modules[__name__], "MANAGER", manager)
    assert _pinned(["apk add curl"]) == _pinned(["apk add curl"])
    assert len(built) == 1
    held = _config(["zlib<1.2.13"])
    _pinned(["apk add zlib-dev"], held)
    _pinned(["apk add zlib-dev"], held)
    assert len(built) == 2
