"""What lock, update and check --remote are asked alike: files, registry, options, output."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from pinner import files
from pinner.outcome import Options, Outcome, diffs
from pinner.output import Reporter
from pinner.remote.cache import default_cache_dir
from pinner.remote.registry import Settings
from pinner.remote.session import Session
from pinner.workspace import Selection, Target


class Run(NamedTuple):
    """The files a command reads, how it reaches registries and mirrors, and how it answers."""

    selection: Selection
    settings: Settings
    options: Options = Options()
    dry_run: bool = False
    as_json: bool = False
    quiet: bool = False
    cache_dir: Path | None = None

    def session(
        self, targets: Iterable[Target], report: Reporter, *, refresh: bool = False
    ) -> Session:
        """The run's session: the targets' locks answer first, unless refresh asks again."""
        return Session.for_run(
            targets,
            self.settings,
            report,
            snapshot_mirrors=self.options.snapshot_mirrors,
            cache_dir=self.cache_dir or default_cache_dir(),
            refresh=refresh,
        )

    def write(self, outcomes: Sequence[Outcome], writes: Mapping[str, str]) -> None:
        """Write every changed file at once, or with --dry-run print their diffs instead."""
        if self.dry_run:
            sys.stdout.write(diffs(outcomes, writes))
        else:
            files.write_all(writes)
