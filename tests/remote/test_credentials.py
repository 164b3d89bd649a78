"""Tests of pinner.remote.credentials: Docker's config.json and real credential-helper processes."""

from __future__ import annotations

import base64
import json
import os
import stat
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from pinner.errors import ConfigError, RegistryError
from pinner.remote.credentials import Credential, DockerConfig, run_helper

SECRET = "hunter2-secret-value"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "docker-config"
    folder.mkdir()
    return folder


def load(folder: Path, config: object) -> DockerConfig:
    """Write config.json into folder and load it through $DOCKER_CONFIG."""
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text)
    return DockerConfig.load({"DOCKER_CONFIG": str(folder)})


# A fake docker-credential-<name>: logs its argv and stdin, then answers from a table keyed by the
# server URL, as docker-credential-helpers do (not found: exit 1, message on stdout).
HELPER = """#!/bin/sh
server=$(cat)
printf '%s %s|%s\\n' "${0##*/}" "$*" "$server" >> 'LOG'
case "$server" in
CASES
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"""


@pytest.fixture
def helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Return make(name, {server: shell snippet}) writing docker-credential-<name> onto PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "helper.log"
    log.touch()

    def make(name: str, answers: dict[str, str]) -> Path:
        cases = "".join(f"  '{server}') {snippet} ;;\n" for server, snippet in answers.items())
        script = bin_dir / f"docker-credential-{name}"
        script.write_text(HELPER.replace("LOG", str(log)).replace("CASES", cases.rstrip("\n")))
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return log

    return make


def answer(server: str, user: str, secret: str) -> str:
    reply = json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
    return f"printf '%s' '{reply}'"


def calls(log: Path) -> list[str]:
    """The helper invocations logged so far, as "name args|stdin"."""
    return log.read_text().splitlines()


# --------------------------------------------------------------------------- config.json


def test_missing_config_means_no_credentials(config_dir: Path) -> None:
    config = DockerConfig.load({"DOCKER_CONFIG": str(config_dir)})
    assert config == DockerConfig({}, None, {}, None)
    assert config.lookup("docker.io") is None


def test_load_reads_docker_config_from_the_environment(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config_dir / "config.json").write_text(
        json.dumps({"auths": {"ghcr.io": {"auth": b64("u:p")}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    config = DockerConfig.load()
    assert config.path == config_dir / "config.json"
    assert config.lookup("ghcr.io") == Credential("u", "p")


def test_load_defaults_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text(
        json.dumps({"auths": {"ghcr.io": {"auth": b64("home:p")}}})
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    config = DockerConfig.load({})
    assert config.path == tmp_path / ".docker" / "config.json"
    assert config.lookup("ghcr.io") == Credential("home", "p")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"auth": b64("alice:s3cret")}, Credential("alice", "s3cret")),
        ({"auth": b64("alice:pa:ss:word")}, Credential("alice", "pa:ss:word")),
        ({"auth": b64("alice:")}, Credential("alice", "")),
        ({"username": "bob", "password": "pw"}, Credential("bob", "pw")),
        ({"identitytoken": "refresh-123"}, Credential("<token>", "refresh-123")),
        # An identity token wins over the auth Docker stores next to it.
        ({"auth": b64("bob:x"), "identitytoken": "tok"}, Credential("<token>", "tok")),
        ({}, None),
        ({"email": "x@example.com"}, None),
        ({"username": "bob"}, None),
    ],
    ids=[
        "auth",
        "auth-colon-in-secret",
        "auth-empty-secret",
        "username-password",
        "identitytoken",
        "identitytoken-first",
        "empty",
        "email-only",
        "username-only",
    ],
)
def test_auths_entry(config_dir: Path, entry: dict[str, str], expected: Credential | None) -> None:
    config = load(config_dir, {"auths": {"reg.example": entry}})
    assert config.lookup("reg.example") == expected


@pytest.mark.parametrize(
    ("key", "host", "found"),
    [
        ("https://index.docker.io/v1/", "docker.io", True),
        ("https://index.docker.io/v1/", "index.docker.io", True),
        ("https://index.docker.io/v1/", "registry-1.docker.io", True),
        ("https://index.docker.io/v1/", "ghcr.io", False),
        ("reg.example:5000", "reg.example:5000", True),
        ("https://reg.example:5000", "reg.example:5000", True),
        ("http://reg.example:5000/v2/", "reg.example:5000", True),
        ("HTTPS://Reg.Example:5000/", "reg.example:5000", True),
        ("reg.example:5000", "Reg.Example:5000", True),
        ("reg.example:5000", "reg.example", False),
        ("reg.example", "reg.example:5000", False),
        ("reg.example", "other.example", False),
        ("127.0.0.1:5000", "127.0.0.1:5000", True),
    ],
)
def test_auths_key_matching(config_dir: Path, key: str, host: str, found: bool) -> None:
    config = load(config_dir, {"auths": {key: {"auth": b64("u:p")}}})
    assert config.lookup(host) == (Credential("u", "p") if found else None)


def test_auths_not_base64_of_user_password(config_dir: Path) -> None:
    config = load(config_dir, {"auths": {"reg.example": {"auth": b64(SECRET)}}})
    with pytest.raises(ConfigError) as e:
        config.lookup("reg.example")
    path = config_dir / "config.json"
    assert str(e.value) == f"{path}: auths['reg.example'].auth is not base64 of user:password"
    assert SECRET not in str(e.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "{",
            "cannot read Docker config: Expecting property name enclosed in double quotes:"
            " line 1 column 2 (char 1)",
        ),
        ("", "cannot read Docker config: Expecting value: line 1 column 1 (char 0)"),
        (
            '{"auths": {}}\n{"auths": {}}',
            "cannot read Docker config: Extra data: line 2 column 1 (char 14)",
        ),
        ("[]", "Docker config is not a JSON object"),
        ('"auths"', "Docker config is not a JSON object"),
    ],
    ids=["truncated", "empty", "two-objects", "array", "string"],
)
def test_malformed_config(config_dir: Path, text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(config_dir, text)
    assert str(e.value) == f"{config_dir / 'config.json'}: {reason}"
    assert "\n" not in str(e.value)


def test_unreadable_config(config_dir: Path) -> None:
    (config_dir / "config.json").mkdir()  # a directory: read_text fails with IsADirectoryError
    with pytest.raises(ConfigError) as e:
        DockerConfig.load({"DOCKER_CONFIG": str(config_dir)})
    path = config_dir / "config.json"
    assert str(e.value) == f"{path}: cannot read Docker config: [Errno 21] Is a directory: '{path}'"


@pytest.mark.parametrize(
    "config",
    [
        {"auths": ["reg.example"]},
        {"credHelpers": "ecr-login"},
        {"auths": {"reg.example": {"auth": 12345}}},
    ],
    ids=["auths-list", "credHelpers-string", "auth-number"],
)
def test_config_of_the_wrong_shape(config_dir: Path, config: object) -> None:
    with pytest.raises(ConfigError):
        load(config_dir, config).lookup("reg.example")


def test_credential_repr_hides_the_secret() -> None:
    credential = Credential("alice", SECRET)
    assert repr(credential) == "Credential(username='alice', secret=<hidden>)"
    assert SECRET not in str(credential)
    assert SECRET not in f"{credential!r} {[credential]} {{'c': {credential}}}"
    assert SECRET not in repr({"host": credential})


# --------------------------------------------------------------------------- credential helpers


def test_cred_helper(config_dir: Path, helpers: Callable[..., Path]) -> None:
    log = helpers("fake", {"ghcr.io": answer("ghcr.io", "helper-user", SECRET)})
    config = load(config_dir, {"credHelpers": {"ghcr.io": "fake"}})
    assert config.lookup("ghcr.io") == Credential("helper-user", SECRET)
    assert config.lookup("quay.io") is None  # no helper, no store, no auths: nothing is run
    assert calls(log) == ["docker-credential-fake get|ghcr.io"]


def test_cred_helper_for_docker_hub_gets_the_index_url(
    config_dir: Path, helpers: Callable[..., Path]
) -> None:
    hub = "https://index.docker.io/v1/"
    log = helpers("hub", {hub: answer(hub, "hubuser", SECRET)})
    config = load(config_dir, {"credHelpers": {hub: "hub"}})
    assert config.lookup("docker.io") == Credential("hubuser", SECRET)
    assert calls(log) == [f"docker-credential-hub get|{hub}"]


def test_cred_helper_not_found_is_anonymous_and_final(
    config_dir: Path, helpers: Callable[..., Path]
) -> None:
    # Docker uses a host's credHelper exclusively: "not found" there does not fall back.
    log = helpers("fake", {})
    helpers("store", {"ghcr.io": answer("ghcr.io", "store-user", "x")})
    config = load(
        config_dir,
        {
            "credHelpers": {"ghcr.io": "fake"},
            "credsStore": "store",
            "auths": {"ghcr.io": {"auth": b64("auths-user:x")}},
        },
    )
    assert config.lookup("ghcr.io") is None
    assert calls(log) == ["docker-credential-fake get|ghcr.io"]


def test_creds_store(config_dir: Path, helpers: Callable[..., Path]) -> None:
    log = helpers("desktop", {"ghcr.io": answer("ghcr.io", "store-user", SECRET)})
    config = load(config_dir, {"credsStore": "desktop"})
    assert config.lookup("ghcr.io") == Credential("store-user", SECRET)
    assert config.lookup("quay.io") is None
    assert calls(log) == [
        "docker-credential-desktop get|ghcr.io",
        "docker-credential-desktop get|quay.io",
    ]


def test_lookup_order(config_dir: Path, helpers: Callable[..., Path]) -> None:
    log = helpers("helper", {"a.example": answer("a.example", "from-helper", "x")})
    helpers(
        "store",
        {
            "a.example": answer("a.example", "from-store", "x"),
            "b.example": answer("b.example", "from-store", "x"),
        },
    )
    config = load(
        config_dir,
        {
            "credHelpers": {"a.example": "helper"},
            "credsStore": "store",
            "auths": {
                host: {"auth": b64("from-auths:x")}
                for host in ("a.example", "b.example", "c.example")
            },
        },
    )
    assert config.lookup("a.example") == Credential("from-helper", "x")  # credHelpers first
    assert config.lookup("b.example") == Credential("from-store", "x")  # then credsStore
    assert config.lookup("c.example") == Credential("from-auths", "x")  # the store has none
    assert calls(log) == [
        "docker-credential-helper get|a.example",
        "docker-credential-store get|b.example",
        "docker-credential-store get|c.example",
    ]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (f"echo 'keychain locked for {SECRET}'; echo '{SECRET}' >&2; exit 1", "failed (exit 1)"),
        (f"echo '{SECRET}' >&2; exit 3", "failed (exit 3)"),
        (f"printf 'Username={SECRET}'", "gave no credentials"),
        ("""printf '{"Username": "u"}'""", "gave no credentials"),
        ("printf '[1, 2]'", "gave no credentials"),
    ],
    ids=["exit-1-other-message", "exit-3", "not-json", "no-secret", "json-array"],
)
def test_failing_helper(
    config_dir: Path, helpers: Callable[..., Path], snippet: str, message: str
) -> None:
    helpers("fake", {"ghcr.io": snippet})
    config = load(config_dir, {"credHelpers": {"ghcr.io": "fake"}})
    with pytest.raises(RegistryError) as e:
        config.lookup("ghcr.io")
    assert str(e.value) == f"ghcr.io: credential helper docker-credential-fake {message}"
    assert SECRET not in "".join(traceback.format_exception(e.value))


def test_helper_not_installed(helpers: Callable[..., Path]) -> None:
    with pytest.raises(RegistryError) as e:
        run_helper("pinner-test-absent", "ghcr.io")
    assert str(e.value) == (
        "ghcr.io: credential helper docker-credential-pinner-test-absent is not installed"
    )


def test_helper_stdin_is_the_server_url_only(helpers: Callable[..., Path]) -> None:
    log = helpers("fake", {"reg.example:5000": answer("reg.example:5000", "u", "p")})
    assert run_helper("fake", "reg.example:5000") == Credential("u", "p")
    assert calls(log) == ["docker-credential-fake get|reg.example:5000"]
