"""The exception tree: every error a user can act on derives from PinnerError."""

from __future__ import annotations

import sys
from typing import NamedTuple

# What a TOML file (a lock, pinner.toml) is told of an integer longer than Python converts:
# tomllib raises a bare ValueError for it, not TOMLDecodeError.
TOO_LONG_INTEGER = f"an integer of more than {sys.get_int_max_str_digits()} digits"


class Problem(NamedTuple):
    """What fails where (a file, its line if known) and why; printed once, at the output edge,
    as path:line: message (path: message for no line)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class PinnerError(Exception):
    """A failure the user can act on; its message is printed as one line, exit 1."""

    def __init__(self, message: str | Problem) -> None:
        super().__init__(str(message))
        # Kept apart for reports that show path and line as fields (check --json).
        self.problem = message if isinstance(message, Problem) else None


class UsageError(PinnerError):
    """The command line itself is wrong; exit 2."""


class DockerfileError(PinnerError):
    """A Dockerfile cannot be read or holds an invalid reference."""


class InvalidReference(PinnerError):
    """An image reference does not parse."""


class LockfileError(PinnerError):
    """A lockfile cannot be read."""


class ConfigError(PinnerError):
    """A configuration file is invalid."""


class RegistryError(PinnerError):
    """A registry refused, failed or lied."""


class MirrorError(PinnerError):
    """A package snapshot mirror refused, failed or served data that does not verify."""


class ReferenceFileError(PinnerError):
    """A compose file, manifest, workflow, bake file or Python module cannot be read."""


class PackageError(MirrorError):
    """A package word the snapshot cannot answer as apt would; package names it."""

    def __init__(self, package: str, message: str | Problem) -> None:
        super().__init__(message)
        self.package = package
