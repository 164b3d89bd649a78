"""Registry credentials from Docker's config.json and credential helpers, never printed."""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from pinner.errors import ConfigError, RegistryError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
# In this order: the key `docker login` writes first.
_DOCKER_HUB_HOSTS = ("index.docker.io", "docker.io", "registry-1.docker.io")
IDENTITY_TOKEN_USER = "<token>"


class Credential(NamedTuple):
    """A username and secret; username "<token>" marks an identity (refresh) token."""

    username: str
    secret: str

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, secret=<hidden>)"


def _host_of(key: str) -> str:
    """ "https://reg.example:5000/v1/" -> "reg.example:5000", as docker/cli matches auths keys."""
    key = key.split("://", 1)[-1]
    return key.split("/", 1)[0].lower()


class DockerConfig(NamedTuple):
    """The parts of config.json that say where credentials live."""

    auths: Mapping[str, Mapping[str, str]]
    creds_store: str | None
    cred_helpers: Mapping[str, str]
    path: Path | None

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> DockerConfig:
        """Read $DOCKER_CONFIG/config.json or ~/.docker/config.json; a missing file means none."""
        environ = os.environ if environ is None else environ
        folder = environ.get("DOCKER_CONFIG")
        path = Path(folder) / "config.json" if folder else Path.home() / ".docker" / "config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls({}, None, {}, None)
        except (OSError, ValueError, RecursionError) as e:
            raise ConfigError(f"{path}: cannot read Docker config: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: Docker config is not a JSON object")
        auths, helpers, store = (
            data.get("auths") or {},
            data.get("credHelpers") or {},
            data.get("credsStore"),
        )
        if not isinstance(auths, dict) or not all(isinstance(v, dict) for v in auths.values()):
            raise ConfigError(f"{path}: auths is not an object of objects")
        if not isinstance(helpers, dict) or not all(isinstance(v, str) for v in helpers.values()):
            raise ConfigError(f"{path}: credHelpers is not an object of strings")
        if store is not None and not isinstance(store, str):
            raise ConfigError(f"{path}: credsStore is not a string")
        entries = {_host_of(k): v for k, v in auths.items()}
        return cls(entries, store or None, {_host_of(k): v for k, v in helpers.items()}, path)

    def lookup(self, host: str) -> Credential | None:
        """Credentials for a registry host: credHelpers, then credsStore, then auths."""
        host = host.lower()
        server = DOCKER_HUB_KEY if host in _DOCKER_HUB_HOSTS else host
        keys = _DOCKER_HUB_HOSTS if host in _DOCKER_HUB_HOSTS else (host,)
        for key in keys:
            if key in self.cred_helpers:
                return run_helper(self.cred_helpers[key], server)
        if self.creds_store:
            found = run_helper(self.creds_store, server)
            if found is not None:
                return found
        for key in keys:
            if key in self.auths:
                return self._from_auths(key, self.auths[key])
        return None

    def _from_auths(self, key: str, entry: Mapping[str, str]) -> Credential | None:
        if not all(isinstance(v, str) for v in entry.values() if v is not None):
            raise ConfigError(f"{self.path}: auths[{key!r}] holds a value that is not a string")
        if entry.get("identitytoken"):
            return Credential(IDENTITY_TOKEN_USER, entry["identitytoken"])
        if entry.get("auth"):
            try:
                user, sep, secret = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, sep, secret = "", "", ""
            if not sep:
                raise ConfigError(
                    f"{self.path}: auths[{key!r}].auth is not base64 of user:password"
                )
            return Credential(user, secret)
        if entry.get("username") and entry.get("password"):
            return Credential(entry["username"], entry["password"])
        return None


def run_helper(name: str, server: str) -> Credential | None:
    """Ask docker-credential-<name> for server's credentials, as the Docker CLI does."""
    program = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [program, "get"], input=server.encode(), capture_output=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise RegistryError(f"{server}: credential helper {program} is not installed") from None
    except subprocess.TimeoutExpired:
        raise RegistryError(f"{server}: credential helper {program} timed out") from None
    if done.returncode != 0:
        message = done.stdout.decode(errors="replace").strip()
        if "credentials not found" in message.lower():
            return None
        raise RegistryError(
            f"{server}: credential helper {program} failed (exit {done.returncode})"
        )
    try:
        data = json.loads(done.stdout)
        return Credential(str(data["Username"]), str(data["Secret"]))
    except (ValueError, KeyError, TypeError, RecursionError):
        raise RegistryError(f"{server}: credential helper {program} gave no credentials") from None
