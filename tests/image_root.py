"""Steps pinner writes for an image's root, run against a temporary root instead of /, or inside a
real root with chroot."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pinner.apt.sources import MARKER_PREFIX, Distro, script_lines, step_text

# An absolute path a step names under /etc or /var: it starts a word, or follows a redirection.
_IMAGE_PATH = re.compile(r"(?<=[\s>])/(?=(?:etc|var)/)")


def under_root(script: str, root: Path | str) -> str:
    """script with every /etc/... and /var/... path it names moved below root."""
    prefix = shlex.quote(str(root))
    return _IMAGE_PATH.sub(lambda _: prefix + "/", script)


def snapshot_run_line(
    distro: Distro, timestamp: str, *, mirrors: Mapping[str, str] | None = None, escape: str = "\\"
) -> str:
    """The generic snapshot step as pinner writes it: marker comment and RUN, no final newline."""
    marker = f"{MARKER_PREFIX} {distro} {timestamp}"
    return step_text(marker, script_lines(distro, timestamp, mirrors), escape)


def snapshot_script(
    distro: Distro, timestamp: str, *, mirrors: Mapping[str, str] | None = None
) -> str:
    """The generic snapshot step as BuildKit hands it to sh: its continuations joined."""
    run = snapshot_run_line(distro, timestamp, mirrors=mirrors).split("\n", 1)[1]
    return run.removeprefix("RUN ").replace(" \\\n    ", " ")


def chroot(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """argv run inside root with chroot, output captured, a clean environment."""
    return subprocess.run(
        ["chroot", str(root), *argv],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"},
    )
