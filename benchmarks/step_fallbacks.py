"""How often the exact snapshot step must fall back, over a folder of real Dockerfiles.

    python benchmarks/step_fallbacks.py CORPUS_DIR

Every file under CORPUS_DIR is read as a Dockerfile (the first folder level names the project).
For each apt stage that needs its own step (not FROM an earlier stage), the stage falls back to the
generic step when an instruction before its first apt RUN may write apt sources
(`reproducible.writes_sources`). The other cause, a base image whose own layer holds no
Debian/Ubuntu archive, needs the image and is not counted here: every base in the corpora measured
so far is an official Debian or Ubuntu image or built on one.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

from pinner import dockerfile, reproducible
from pinner.errors import PinnerError


def main(root: Path) -> None:
    counts: collections.Counter[str] = collections.Counter()
    fallbacks: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            parsed = dockerfile.parse(path.read_text(), str(path), {})
        except (PinnerError, UnicodeDecodeError, ValueError):
            counts["not parsed (e.g. an ARG without default in FROM)"] += 1
            continue
        counts["Dockerfiles"] += 1
        plans = [p for p in reproducible.plans(parsed) if p.apt_runs]
        counts["Dockerfiles with apt"] += bool(plans)
        for plan in plans:
            counts["apt stages"] += 1
            if not plan.needs_step:
                counts["apt stages inheriting a step"] += 1
                continue
            counts["apt stages needing a step"] += 1
            line = reproducible.writes_sources(parsed, plan)
            if line is not None:
                fallbacks.append(f"{path.relative_to(root)}:{line}")
    counts["fall back to the generic step"] = len(fallbacks)
    for key, value in counts.items():
        print(f"{key}: {value}")
    needing = counts["apt stages needing a step"]
    if needing:
        print(f"fallback rate: {len(fallbacks) / needing:.1%}")
    for where in fallbacks:
        print(f"  {where}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
