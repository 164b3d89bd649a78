"""The layout: only networked commands' modules import pinner.remote; README maps every module."""

from __future__ import annotations

import json
import os
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pinner

ROOT = Path(__file__).resolve().parent.parent

# What drives a lock, an update or a diff: these import the network package at module level.
NETWORKED = frozenset(
    {
        "pinner.aptlock",
        "pinner.updater",
        "pinner.commands.check_remote",
        "pinner.commands.diff",
        "pinner.commands.lock",
        "pinner.commands.run",
        "pinner.commands.update",
        "pinner.commands.verify",
        "pinner.stagework",
    }
)

# Imports each module given on the command line with pinner.remote and httpx made unimportable,
# and prints the ones that could not be imported.
_PROBE = """
import importlib, json, sys
from importlib.abc import MetaPathFinder

class Blocked(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        for banned in ("pinner.remote", "httpx"):
            if name == banned or name.startswith(banned + "."):
                raise ImportError(f"{name} is behind the network boundary")
        return None

sys.meta_path.insert(0, Blocked())
failed = {}
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
    except ImportError as e:
        failed[module] = str(e)
print(json.dumps(failed))
"""


def _modules() -> list[str]:
    found = pkgutil.walk_packages(pinner.__path__, "pinner.")
    # __main__ runs the command line on import; pinner.main is what it imports.
    skip = ("pinner.remote", "pinner.__main__")
    return sorted(m.name for m in found if not m.name.startswith(skip))


def _unimportable(modules: list[str]) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    failed: dict[str, str] = json.loads(run.stdout)
    return failed


def test_pure_modules_import_nothing_from_the_network() -> None:
    modules = _modules()
    pure = [m for m in modules if m not in NETWORKED]
    assert {"pinner.dockerfile", "pinner.lockfile", "pinner.apt.packages", "pinner.outcome"} <= set(
        pure
    )
    assert _unimportable(pure) == {}


def test_the_networked_list_names_only_modules_that_need_the_network() -> None:
    # A module that no longer imports pinner.remote leaves the list, so the boundary stays tight.
    assert sorted(_unimportable(sorted(NETWORKED))) == sorted(NETWORKED)


def test_the_readme_map_names_every_module_and_folder() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("### How it works", 1)[1].split("```")[1]
    package = ROOT / "pinner"
    names = [f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()]
    names += [p.name for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")]
    assert sorted(n for n in names if n not in layout) == []


def test_the_readme_names_every_runtime_dependency() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        declared = tomllib.load(f)["project"]["dependencies"]
    names = [re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0] for requirement in declared]
    readme = (ROOT / "README.md").read_text()
    paragraph = readme.split("Runtime dependencies:", 1)[1].split("\n\n", 1)[0].lower()
    assert sorted(name for name in names if name.lower() not in paragraph) == []
