"""dnf's cache kept for the RUNs that read only it: by -C, --setopt=cacheonly, or a cacheonly
setting a RUN writes into dnf's configuration; pinner's rewrite, offline."""

from __future__ import annotations

import pytest

from pinner import dockerfile, reproducible
from pinner.managers.rpmcommands import cache_use
from pinner.reproducible import Rewrite
from tests.shell_syntax import run_errors

INSTALL = "RUN dnf install -y app"
LEFT = "rm -rf /usr/lib/sysimage/libdnf5/transaction_history.* /var/log/dnf* /var/cache/ldconfig/aux-cache"
KEPT = f"{INSTALL} \\\n    && {LEFT}\n"
CLEANED = f"{INSTALL} \\\n    && dnf clean all && {LEFT}\n"
WRITE = "RUN echo cacheonly=True >> /etc/dnf/dnf.conf"


def _rewritten(text: str) -> tuple[str, list[str]]:
    """text rewritten for Fedora 41 stages (dnf is dnf5 there), offline."""
    parsed = dockerfile.parse(text, "Dockerfile")
    labels = [stage.label for stage in parsed.stages]
    inputs = Rewrite(
        "20261201T000000Z",
        1764547200,
        dict.fromkeys(labels, "fedora"),
        {},
        {},
        releases=dict.fromkeys(labels, "41"),
    )
    new, notes, _ = reproducible.rewritten(parsed, inputs)
    return new, notes


@pytest.mark.parametrize(
    ("before", "after", "kept"),
    [
        ("", "RUN dnf --setopt=cacheonly=True install -y tool\n", True),
        ("", "RUN dnf5 --setopt=cacheonly=metadata install -y tool\n", True),
        ("", "FROM 0\nRUN dnf --setopt cacheonly=all install -y tool\n", True),
        ("", "RUN dnf --setopt=cacheonly=none install -y tool\n", False),
        ("", "RUN dnf --setopt=cacheonly=False install -y tool\n", False),
        # A RUN writes cacheonly into dnf's configuration: dnf after it reads only the cache.
        ("", f"{WRITE}\nRUN dnf install -y tool\n", True),
        (f"{WRITE}\n", "RUN dnf install -y tool\n", True),
        ("", "RUN dnf config-manager setopt cacheonly=all && dnf install -y tool\n", True),
        ("", "RUN echo cacheonly=0 >> /etc/dnf/dnf.conf && dnf install -y tool\n", False),
        # Written after the last dnf RUN, or in a stage not FROM this one: nothing reads it.
        ("", f"RUN dnf install -y tool\n{WRITE}\n", False),
        ("", f"FROM fedora:41\n{WRITE}\nRUN dnf install -y tool\n", False),
        # Each line of stages FROM the stage on its own: a sibling's setting is not read.
        ("", f"FROM 0 AS a\n{WRITE}\nFROM 0\nRUN dnf install -y tool\n", False),
        ("", "FROM 0 AS a\nRUN true\nFROM 0\nRUN dnf -C install -y tool\n", True),
        ("", f"FROM 0 AS a\n{WRITE}\nFROM a\nRUN dnf install -y tool\n", True),
        # cacheonly is not written anywhere dnf reads it.
        ("", "RUN echo cacheonly=True > /tmp/x && dnf install -y tool\n", False),
    ],
)
def test_the_cache_stays_for_a_later_run_that_reads_only_it(
    before: str, after: str, kept: bool
) -> None:
    text = f"FROM fedora:41\n{before}{INSTALL}\n{after}"
    new, notes = _rewritten(text)
    assert (KEPT in new) is kept
    assert (CLEANED in new) is not kept
    assert any("reads only dnf's cache" in note for note in notes) is kept
    assert run_errors(new) == []


def test_a_cacheonly_setting_a_parent_stage_wrote_is_read_in_the_stage_from_it() -> None:
    text = f"FROM fedora:41 AS base\n{WRITE}\nFROM base\n{INSTALL}\nRUN dnf install -y tool\n"
    new, _ = _rewritten(text)
    assert KEPT in new


def test_a_run_that_writes_cacheonly_and_one_that_sets_it_are_told_apart() -> None:
    written = cache_use("echo 'cacheonly=True' >> /etc/dnf/dnf.conf")
    assert (written.reads, written.runs, written.configures) == (False, False, True)
    saved = cache_use("dnf config-manager --save --setopt=cacheonly=True")
    assert (saved.reads, saved.runs, saved.configures) == (False, False, True)
    option = cache_use("dnf --setopt=cacheonly=True install -y app")
    assert (option.reads, option.runs, option.configures) == (True, True, False)
    # dnf after the write in the same RUN reads only the cache; before it, not.
    assert cache_use("echo cacheonly=1 >> /etc/dnf/dnf.conf && dnf install -y app").reads
    assert not cache_use("dnf install -y app && echo cacheonly=1 >> /etc/dnf/dnf.conf").reads


def test_each_dnf_run_of_a_stage_keeps_the_cache_only_a_later_run_reads() -> None:
    text = (
        f"FROM fedora:41\n{INSTALL}\nRUN dnf install -y b\nRUN dnf -C install -y c\n"
        "RUN dnf install -y d\n"
    )
    new, notes = _rewritten(text)
    assert KEPT in new
    assert f"RUN dnf install -y b \\\n    && {LEFT}\n" in new
    assert f"RUN dnf -C install -y c \\\n    && dnf clean all && {LEFT}\n" in new
    assert f"RUN dnf install -y d \\\n    && dnf clean all && {LEFT}\n" in new
    assert [note.split(":")[0] for note in notes] == ["RUN at line 2", "RUN at line 3"]
