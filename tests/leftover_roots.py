"""A package manager's real install into a folder, then pinner's appended cleanup run there."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterable
from pathlib import Path

from pinner.managers.leftovers import Leftover


def files(root: Path) -> set[str]:
    """Every file and link under root, as image paths."""
    return {
        "/" + str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_symlink() or not path.is_dir()
    }


def run_rm(root: Path, command: str) -> None:
    """Run one `rm -rf PATH...` of an appended cleanup on root's paths, globs expanded by sh."""
    words = shlex.split(command)
    assert words[:2] == ["rm", "-rf"], command
    # Unquoted, so sh expands the globs as the build's shell does.
    subprocess.run(["sh", "-c", "rm -rf " + " ".join(f"{root}{w}" for w in words[2:])], check=True)


def present(leftovers: Iterable[Leftover]) -> str:
    """A shell script printing each file of leftovers that exists (for a built image)."""
    paths = " ".join(file for leftover in leftovers for file in leftover.files)
    return f'for f in {paths}; do if [ -e "$f" ]; then echo "$f"; fi; done'
