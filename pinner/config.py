"""Configuration from `pinner.toml` or `[tool.pinner]` in pyproject.toml at the repository root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pinner.apt.sources import TIMESTAMP_RE, is_timestamp
from pinner.errors import TOO_LONG_INTEGER, ConfigError
from pinner.managers import MIRROR_NAMES


class Config(NamedTuple):
    """Settings a repository keeps in its configuration file; flags on the command line win."""

    registry_mirrors: Mapping[str, str] = {}
    insecure_registries: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    snapshot: str | None = None
    snapshot_mirrors: Mapping[str, str] = {}
    exclude: tuple[str, ...] = ()
    pin_versions: bool = False
    kubernetes: tuple[str, ...] = ()
    images_only: bool = False
    contexts: Mapping[str, str] = {}
    path: str | None = None


_KEYS = {
    "registry-mirrors": "table",
    "insecure-registries": "list",
    "platforms": "list",
    "snapshot": "str",
    "snapshot-mirrors": "table",
    "exclude": "list",
    "pin-versions": "bool",
    "kubernetes": "list",
    "images-only": "bool",
    "contexts": "table",
}


def find(start: str) -> Path | None:
    """The nearest pinner.toml, or pyproject.toml with [tool.pinner], up to the repo root."""
    folder = Path(start).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "pinner.toml").is_file():
            return candidate / "pinner.toml"
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "pinner" in _read(pyproject).get("tool", {}):
            return pyproject
        if (candidate / ".git").exists():
            return None
    return None


def load(start: str | None = None) -> Config:
    """Read the configuration that applies to the working directory; none means defaults."""
    path = find(start or os.getcwd())
    if path is None:
        return Config()
    data = _read(path)
    table = data if path.name == "pinner.toml" else data.get("tool", {}).get("pinner", {})
    prefix = "" if path.name == "pinner.toml" else "tool.pinner."
    return parse(table, str(path), prefix)


def _read(path: Path) -> dict[str, Any]:
    import tomllib  # only where a configuration file exists

    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except ValueError:  # tomllib's int() of more digits than Python converts
        raise ConfigError(f"{path}: not valid TOML: {TOO_LONG_INTEGER}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return data


def parse(table: Mapping[str, Any], path: str, prefix: str = "") -> Config:
    """Validate a configuration table; unknown keys and wrong types are errors naming the key."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        kind = _KEYS.get(key)
        if kind is None:
            known = ", ".join(sorted(_KEYS))
            raise ConfigError(f"{path}: unknown key {prefix}{key} (known: {known})")
        values[key.replace("-", "_")] = _check(value, kind, f"{path}: {prefix}{key}")
    unknown = sorted(set(values.get("snapshot_mirrors", {})) - MIRROR_NAMES)
    if unknown:
        names = ", ".join(sorted(MIRROR_NAMES))
        raise ConfigError(f"{path}: {prefix}snapshot-mirrors.{unknown[0]}: not one of {names}")
    for table_key in ("registry_mirrors", "snapshot_mirrors"):
        for name, url in values.get(table_key, {}).items():
            if not url.startswith(("http://", "https://")):
                key = f"{prefix}{table_key.replace('_', '-')}.{name}"
                raise ConfigError(f"{path}: {key}: {url}: URL must start with http(s)://")
    snapshot = values.get("snapshot")
    if snapshot is not None and snapshot != "base" and not is_timestamp(snapshot):
        why = "expected YYYYMMDDTHHMMSSZ or base"
        if TIMESTAMP_RE.match(snapshot):
            why = "not a real UTC time from 1970 on"
        raise ConfigError(f"{path}: {prefix}snapshot: {snapshot}: {why}")
    return Config(**values, path=path)


def _check(value: Any, kind: str, where: str) -> Any:
    if kind == "table":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: expected a table of strings")
        return dict(value)
    if kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings")
        return tuple(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string")
    return value
