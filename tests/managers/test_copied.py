"""Whether a COPY or ADD of a tree may put repository files in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinner.managers.copied import Context, may_write
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
    dockerfile = Context(str(context / "Dockerfile"))
    found = may_write(keyword, words.split(), workdir, dockerfile, CONFIG_PATHS)
    assert found == expected


def test_without_a_context_any_tree_may_write() -> None:
    assert may_write("COPY", ["overlay/", "/"], "/", None, CONFIG_PATHS) == "/"
    assert may_write("COPY", ["overlay/", "/opt"], "/", None, CONFIG_PATHS) is None


def test_the_whole_context_holding_repository_files_may_write(tmp_path: Path) -> None:
    context = Context(str(tmp_path / "Dockerfile"))
    (tmp_path / "etc/yum.repos.d").mkdir(parents=True)
    # An empty folder copied onto the image's own adds nothing to it.
    assert may_write("COPY", [".", "/"], "/", context, CONFIG_PATHS) is None
    (tmp_path / "etc/yum.repos.d/extra.repo").write_text("[extra]\n")
    assert may_write("COPY", [".", "/"], "/", context, CONFIG_PATHS) == "/"
    assert may_write("COPY", [".", "."], "/", context, CONFIG_PATHS) == "/"


# The ignore file (name, text), the COPY's words, whether it may write a repository file.
# The context: a tree with a .repo file and a dnf.conf, and the same paths at the top.
TREE = {
    "rootfs/etc/yum.repos.d/extra.repo": "[extra]\n",
    "rootfs/etc/yum.repos.d/sub/nested.repo": "[nested]\n",
    "rootfs/etc/motd": "hello\n",
    "etc/yum.repos.d/local.repo": "[local]\n",
    "etc/dnf/dnf.conf": "[main]\n",
}
IGNORED: dict[str, tuple[str, str, str, bool]] = {
    "no-ignore-file": ("", "", "rootfs/ /", True),
    # Common in real contexts: every .repo file is for the developer's own machine.
    "all-repo-files": (".dockerignore", "**/*.repo\n", "rootfs/ /", False),
    "all-repo-files-whole-context": (".dockerignore", "**/*.repo\n", ". /", True),  # dnf.conf
    "the-tree-leaves-repo-folders": (".dockerignore", "rootfs/etc/yum.repos.d\n", "rootfs/ /", False),
    "leading-slash-is-the-context": (".dockerignore", "/rootfs/etc/yum.repos.d/\n", "rootfs/ /", False),
    "a-pattern-for-another-folder": (".dockerignore", "etc/yum.repos.d\n", "rootfs/ /", True),
    "one-of-two-left": (".dockerignore", "rootfs/etc/yum.repos.d/*.repo\n", "rootfs/ /", True),
    "comments-and-blank-lines": (
        ".dockerignore",
        "# local repositories\n\n**/*.repo\n  \n#!rootfs/etc/yum.repos.d/extra.repo\n",
        "rootfs/ /",
        False,
    ),
    # Everything left out but what the image needs: the allow-list style.
    "allow-list-without-repos": (".dockerignore", "*\n!rootfs/etc/motd\n", "rootfs/ /", False),
    "allow-list-with-repos": (".dockerignore", "*\n!rootfs/etc/yum.repos.d\n", "rootfs/ /", True),
    "folder-out-file-back": (
        ".dockerignore",
        "rootfs/etc\n!rootfs/etc/yum.repos.d/sub/nested.repo\n",
        "rootfs/ /",
        True,
    ),
    "folder-out-other-file-back": (
        ".dockerignore", "rootfs/etc\n!rootfs/etc/motd\n", "rootfs/ /", False
    ),
    "last-match-wins": (
        ".dockerignore",
        "!rootfs/etc/yum.repos.d/extra.repo\n**/*.repo\n",
        "rootfs/ /",
        False,
    ),
    # A source the ignore file leaves out is not in the context: the build fails on it.
    "the-source-left-out": (".dockerignore", "rootfs\n", "rootfs/ /", True),
    "the-source-left-out-but-motd": (".dockerignore", "rootfs\n!rootfs/etc/motd\n", "rootfs/ /", False),
    "a-malformed-file-is-passed-over": (".dockerignore", "**/*.repo\n[\n", "rootfs/ /", True),
    "dockerfile-specific": ("Dockerfile.dockerignore", "**/*.repo\n", "rootfs/ /", False),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(IGNORED))
def test_files_the_ignore_file_leaves_out_are_not_copied(case: str, tmp_path: Path) -> None:
    name, text, words, writes = IGNORED[case]
    for path, content in TREE.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    if name:
        (tmp_path / name).write_text(text)
    context = Context(str(tmp_path / "Dockerfile"))
    found = may_write("COPY", words.split(), "/", context, CONFIG_PATHS)
    assert found == ("/" if writes else None)


def test_the_dockerfile_specific_ignore_file_overrides_the_root_one(tmp_path: Path) -> None:
    (tmp_path / "rootfs/etc/yum.repos.d").mkdir(parents=True)
    (tmp_path / "rootfs/etc/yum.repos.d/extra.repo").write_text("[extra]\n")
    (tmp_path / ".dockerignore").write_text("rootfs/etc/yum.repos.d\n")
    words = ["rootfs/", "/"]
    assert (
        may_write("COPY", words, "/", Context(str(tmp_path / "Dockerfile")), CONFIG_PATHS) is None
    )
    # Containerfile.dockerignore is read for Containerfile alone, in place of .dockerignore.
    (tmp_path / "Containerfile.dockerignore").write_text("# nothing left out\n")
    other = Context(str(tmp_path / "Containerfile"))
    assert may_write("COPY", words, "/", other, CONFIG_PATHS) == "/"
    assert (
        may_write("COPY", words, "/", Context(str(tmp_path / "Dockerfile")), CONFIG_PATHS) is None
    )


# `docker build -f app/Dockerfile .`: the repository's root is the context, app/ holds the
# Dockerfile and a rootfs of its own without repository files.
SPLIT = {
    ".git/HEAD": "ref: refs/heads/main\n",
    "rootfs/etc/yum.repos.d/extra.repo": "[extra]\n",
    "app/Dockerfile": "FROM fedora\n",
    "app/rootfs/etc/motd": "hello\n",
}


def _split(tmp_path: Path, extra: dict[str, str]) -> str:
    for path, text in {**SPLIT, **extra}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return str(tmp_path / "app/Dockerfile")


COMPOSE = "services:\n  app:\n    build:\n      context: .\n      dockerfile: app/Dockerfile\n"


@pytest.mark.parametrize(
    ("given", "extra", "writes"),
    [
        # The Dockerfile's folder: its rootfs holds no repository file.
        (None, {}, False),
        # The context given: its rootfs does, unless its ignore file leaves it out.
        (".", {}, True),
        (".", {".dockerignore": "**/*.repo\n"}, False),
        (".", {"app/.dockerignore": "**/*.repo\n"}, True),
        (".", {".containerignore": "**/*.repo\n"}, False),
        (".", {"app/Dockerfile.containerignore": "**/*.repo\n"}, False),
        # Declared by a compose or bake file above the Dockerfile.
        (None, {"compose.yaml": COMPOSE}, True),
        (None, {"compose.yaml": COMPOSE, ".dockerignore": "**/*.repo\n"}, False),
        (None, {"docker-bake.hcl": 'target "app" {\n  dockerfile = "app/Dockerfile"\n}\n'}, True),
        # Given wins over declared.
        ("app", {"compose.yaml": COMPOSE}, False),
        # Two declared contexts: none tells what the COPY takes, so it counts.
        (None, {"compose.yaml": COMPOSE, "app/compose.yaml": "services:\n  a:\n    build: .\n"}, True),
    ],
)  # fmt: skip
def test_the_build_context_a_dockerfile_is_built_with(
    tmp_path: Path, given: str | None, extra: dict[str, str], writes: bool
) -> None:
    dockerfile = _split(tmp_path, extra)
    context = Context(dockerfile, str(tmp_path / given) if given else None)
    found = may_write("COPY", ["rootfs/", "/"], "/", context, CONFIG_PATHS)
    assert found == ("/" if writes else None)
