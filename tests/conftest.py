"""Shared pytest fixtures."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from registryd import AuthKind, Registry, start_registry
from testcache import stored_answer, tools_stamp

from pinner import syntax
from pinner.remote import http

# Property tests assert behaviour, never time: on a shared, loaded machine hypothesis' per-example
# deadline and its slow-generation health check fail tests that are right.
settings.register_profile("pinner", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# `make test-fast` (--hypothesis-profile=fast): a tenth of the examples, see tests/examples.py.
settings.register_profile("fast", settings.get_profile("pinner"), max_examples=10)
settings.load_profile("pinner")

# --------------------------------------------------------------------------- Docker config


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Docker config, so the machine's own credentials never leak into a test."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


# --------------------------------------------------------------------------- registries
# Real docker-registry processes (see tests/registryd.py), one per kind and session, started
# only when a test asks for them. Tests share them: use unique repository names, and call
# reg.clear_requests() before asserting on reg.requests() or reg.token_requests.


def _session_registry(factory: pytest.TempPathFactory, auth: AuthKind) -> Iterator[Registry]:
    """Start one registry of the given kind and stop it at the end of the session."""
    reg = start_registry(factory.mktemp(f"registry-{auth}"), auth)
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An open registry: no auth."""
    yield from _session_registry(tmp_path_factory, "open")


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry with htpasswd Basic auth (reg.username / reg.password)."""
    yield from _session_registry(tmp_path_factory, "basic")


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry with Bearer token auth: anonymous pulls, reg.username / reg.password push."""
    yield from _session_registry(tmp_path_factory, "token")


# --------------------------------------------------------------------------- retries


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries follow one another at once, for tests that assert what the last attempt reports."""
    monkeypatch.setattr(http.Retry, "wait", lambda *_: 0.0)


# --------------------------------------------------------------------------- shells


@pytest.fixture(scope="session", autouse=True)
def shell_answers_kept() -> Iterator[None]:
    """What dash or busybox sh -n says of a script is kept in the test cache (tests/testcache.py).

    The suite asks about a thousand scripts, each a process (3 ms of CPU). The answer depends on
    the script and the shell alone: the key holds the script, the command line and the shell's
    binary (its path, size and time, and dpkg's status). A shell that fails to run or times out
    raises, and nothing is kept.
    """
    check = syntax._error
    stamp = functools.cache(tools_stamp)

    @functools.cache
    def error(script: str, argv: tuple[str, ...]) -> str | None:
        key = repr((argv, stamp(argv[0]), script))
        answer: str | None = json.loads(
            stored_answer("shell-syntax", key, lambda: json.dumps(check(script, argv)))
        )
        return answer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(syntax, "_error", error)
        yield
