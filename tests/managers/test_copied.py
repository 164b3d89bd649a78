"""Whether a COPY or ADD of a tree may put repository files in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinner.managers.copied import may_write
from pinner.managers.rpmcommands import CONFIG_PATHS

# The build context every case reads: one tree with a .repo file, one without, one file.
CONTEXT = {
    "rootfs/etc/yum.repos.d/extra.repo": "[extra]\n",
    "overlay/etc/motd": "hello\n",
    "overlay/usr/bin/tool": "#!/bin/sh\n",
    "dnfconf/dnf/dnf.conf": "[main]\n",
    "app.py": "print()\n",
    "yum.conf": "[main]\n",
    "rootfs.tar": "not really a tar\n",
}

# keyword, words after it, WORKDIR, the destination named (None: cannot write a repository file).
CASES: dict[str, tuple[str, str, str, str | None]] = {
    # Sushrut1101/Docker (FROM fedora): `COPY ./rootfs /`.
    "rootfs-to-root": ("COPY", "./rootfs /", "/", "/"),
    "rootfs-slash-to-root": ("COPY", "rootfs/ /", "/", "/"),
    # Dirk1980ac/nas4ipa (fedora-bootc): `COPY etc /etc`.
    "etc-tree-to-etc": ("COPY", "rootfs/etc /etc/", "/", "/etc"),
    "tree-without-repo-files": ("COPY", "overlay/ /", "/", None),
    "dnf-conf-in-a-tree": ("COPY", "dnfconf /etc", "/", "/etc"),
    # The context holds no etc/ at its top: copied whole to /, it writes no repository file.
    "whole-context-to-root": ("COPY", ". /", "/", None),
    "relative-destination-under-workdir-root": ("COPY", ". .", "/", None),
    "relative-destination-under-workdir-etc": ("COPY", "rootfs/etc .", "/etc", "/etc"),
    "relative-destination-elsewhere": ("COPY", ". .", "/app", None),
    "destination-not-above-a-repository-path": ("COPY", "rootfs/ /opt/", "/", None),
    "a-file-to-root": ("COPY", "app.py /", "/", None),
    "a-file-landing-on-yum-conf": ("COPY", "yum.conf /etc/", "/", "/etc"),
    "missing-source": ("COPY", "absent/ /", "/", "/"),
    "glob-source": ("COPY", "root* /", "/", "/"),
    "variable-source": ("COPY", "$ROOTFS /", "/", "/"),
    "from-another-stage": ("COPY", "--from=build /out/ /", "/", "/"),
    "flags-are-not-sources": ("COPY", "--chown=0:0 --link overlay/ /", "/", None),
    "source-outside-the-context": ("COPY", "../rootfs /", "/", "/"),
    "add-a-local-archive": ("ADD", "rootfs.tar /", "/", "/"),
    "add-a-url": ("ADD", "https://example.invalid/rootfs.tar.gz /", "/", "/"),
    "exec-form": ("COPY", '["rootfs/", "/"]', "/", "/"),
    "exec-form-clean": ("COPY", '["overlay/", "/"]', "/", None),
    "variable-destination-is-not-read": ("COPY", "rootfs/ $ROOT", "/", None),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_may_write(case: str, tmp_path: Path) -> None:
    keyword, words, workdir, expected = CASES[case]
    context = tmp_path / "context"
    for name, text in CONTEXT.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)
    # Beside the context, reached only through `..`.
    (tmp_path / "rootfs/etc/yum.repos.d").mkdir(parents=True)
    found = may_write(keyword, words.split(), workdir, str(context), CONFIG_PATHS)
    assert found == expected


def test_without_a_context_any_tree_may_write() -> None:
    assert may_write("COPY", ["overlay/", "/"], "/", None, CONFIG_PATHS) == "/"
    assert may_write("COPY", ["overlay/", "/opt"], "/", None, CONFIG_PATHS) is None


def test_the_whole_context_holding_repository_files_may_write(tmp_path: Path) -> None:
    (tmp_path / "etc/yum.repos.d").mkdir(parents=True)
    assert may_write("COPY", [".", "/"], "/", str(tmp_path), CONFIG_PATHS) == "/"
    assert may_write("COPY", [".", "."], "/", str(tmp_path), CONFIG_PATHS) == "/"
