"""Configuration: finding pinner.toml or [tool.pinner], validating it, and flags winning over it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cli import run
from registryd import Registry, push_image

from pinner import config
from pinner.config import Config
from pinner.errors import ConfigError

KNOWN = (
    "contexts, exclude, images-only, insecure-registries, kubernetes, pin-versions, platforms,"
    " registry-mirrors, snapshot, snapshot-mirrors"
)


pytestmark = pytest.mark.usefixtures("docker_config")


def make_tree(root: Path, layout: dict[str, str | None]) -> None:
    """Create files (text) and folders (None, or a name ending in /) under root."""
    for name, text in layout.items():
        path = root / name
        if text is None or name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- find


PYPROJECT = '[project]\nname = "app"\n'
TOOL_PINNER = '[project]\nname = "app"\n\n[tool.pinner]\nexclude = ["vendor"]\n'


@pytest.mark.parametrize(
    ("layout", "start", "expected"),
    [
        pytest.param(
            {".git/": None, "pinner.toml": "", "a/b/": None},
            "a/b",
            "pinner.toml",
            id="pinner.toml at the root, from a subdirectory",
        ),
        pytest.param(
            {".git/": None, "pyproject.toml": TOOL_PINNER, "src/": None},
            "src",
            "pyproject.toml",
            id="[tool.pinner] in pyproject.toml",
        ),
        pytest.param(
            {".git/": None, "pyproject.toml": PYPROJECT},
            ".",
            None,
            id="pyproject.toml without [tool.pinner] is not configuration",
        ),
        pytest.param(
            {".git/": None, "pinner.toml": "", "svc/pyproject.toml": PYPROJECT},
            "svc",
            "pinner.toml",
            id="a pyproject.toml without [tool.pinner] is passed over",
        ),
        pytest.param(
            {".git/": None, "pinner.toml": "", "pyproject.toml": TOOL_PINNER},
            ".",
            "pinner.toml",
            id="pinner.toml before pyproject.toml in one folder",
        ),
        pytest.param(
            {".git/": None, "pinner.toml": "", "svc/pinner.toml": ""},
            "svc",
            "svc/pinner.toml",
            id="the nearest wins",
        ),
        pytest.param(
            {".git/": None, "pinner.toml": ""},
            ".",
            "pinner.toml",
            id="beside .git",
        ),
        pytest.param(
            {"pinner.toml": "", "repo/.git/": None, "repo/sub/": None},
            "repo/sub",
            None,
            id="the search stops at the .git folder",
        ),
        pytest.param(
            {"pinner.toml": "", "repo/.git": "gitdir: ../elsewhere\n", "repo/sub/": None},
            "repo/sub",
            None,
            id="and at a .git file (worktree, submodule)",
        ),
    ],
)
def test_find(
    tmp_path: Path, layout: dict[str, str | None], start: str, expected: str | None
) -> None:
    make_tree(tmp_path, layout)
    found = config.find(str(tmp_path / start))
    assert found == (None if expected is None else tmp_path.resolve() / expected)


@pytest.mark.parametrize(
    "pyproject",
    [
        pytest.param(
            '[tool.pinner.registry-mirrors]\n"docker.io" = "https://mirror.example"\n',
            id="sub-table only",
        ),
        pytest.param('[tool]\npinner.exclude = ["vendor"]\n', id="dotted key"),
    ],
)
def test_find_reads_pyproject_as_toml(tmp_path: Path, pyproject: str) -> None:
    make_tree(tmp_path, {".git/": None, "pyproject.toml": pyproject})
    assert config.find(str(tmp_path)) == tmp_path.resolve() / "pyproject.toml"


# --------------------------------------------------------------------------- load and parse


def test_load_reads_every_key(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        {
            ".git/": None,
            "pinner.toml": (
                'registry-mirrors = {"docker.io" = "https://mirror.example"}\n'
                'insecure-registries = ["registry.lan:5000"]\n'
                'platforms = ["linux/amd64", "linux/arm64"]\n'
                'snapshot = "20250101T000000Z"\n'
                'exclude = ["vendor", "tests/fixtures"]\n'
                "pin-versions = true\n"
                "[snapshot-mirrors]\n"
                'debian = "http://snapshot.lan/debian"\n'
                "[contexts]\n"
                '"app/Dockerfile" = "."\n'
            ),
        },
    )
    path = str(tmp_path.resolve() / "pinner.toml")

    assert config.load(str(tmp_path)) == Config(
        registry_mirrors={"docker.io": "https://mirror.example"},
        insecure_registries=("registry.lan:5000",),
        platforms=("linux/amd64", "linux/arm64"),
        snapshot="20250101T000000Z",
        snapshot_mirrors={"debian": "http://snapshot.lan/debian"},
        exclude=("vendor", "tests/fixtures"),
        pin_versions=True,
        contexts={"app/Dockerfile": "."},
        path=path,
    )


def test_load_tool_pinner(tmp_path: Path) -> None:
    make_tree(tmp_path, {".git/": None, "pyproject.toml": TOOL_PINNER, "src/": None})
    path = str(tmp_path.resolve() / "pyproject.toml")
    assert config.load(str(tmp_path / "src")) == Config(exclude=("vendor",), path=path)


def test_no_configuration_is_the_defaults(tmp_path: Path) -> None:
    make_tree(tmp_path, {".git/": None, "pyproject.toml": PYPROJECT})
    assert config.load(str(tmp_path)) == Config()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        pytest.param(
            "pinner.toml",
            'registy-mirrors = {"docker.io" = "https://m"}\n',
            f"unknown key registy-mirrors (known: {KNOWN})",
            id="unknown key",
        ),
        pytest.param(
            "pyproject.toml",
            "[tool.pinner]\npin_versions = true\n",
            f"unknown key tool.pinner.pin_versions (known: {KNOWN})",
            id="unknown key in [tool.pinner]",
        ),
        pytest.param(
            "pinner.toml",
            'exclude = "vendor"\n',
            "exclude: expected a list of strings",
            id="a string for a list",
        ),
        pytest.param(
            "pinner.toml",
            'platforms = ["linux/amd64", 1]\n',
            "platforms: expected a list of strings",
            id="a number in a list",
        ),
        pytest.param(
            "pyproject.toml",
            '[tool.pinner]\ninsecure-registries = "registry.lan"\n',
            "tool.pinner.insecure-registries: expected a list of strings",
            id="a string for a list in [tool.pinner]",
        ),
        pytest.param(
            "pinner.toml",
            'pin-versions = "yes"\n',
            "pin-versions: expected true or false",
            id="a string for a boolean",
        ),
        pytest.param(
            "pinner.toml",
            "snapshot = 20250101\n",
            "snapshot: expected a string",
            id="a number for a string",
        ),
        pytest.param(
            "pinner.toml",
            'snapshot = "20250230T000000Z"\n',
            "snapshot: 20250230T000000Z: not a real UTC time from 1970 on",
            id="item13-snapshot-on-a-day-that-does-not-exist",
        ),
        pytest.param(
            "pinner.toml",
            'registry-mirrors = ["docker.io=https://m"]\n',
            "registry-mirrors: expected a table of strings",
            id="a list for a table",
        ),
        pytest.param(
            "pinner.toml",
            'registry-mirrors = {docker.io = "https://m"}\n',
            "registry-mirrors: expected a table of strings",
            id="an unquoted host is a dotted key, a nested table",
        ),
        pytest.param(
            "pinner.toml",
            'snapshot-mirrors = {gentoo = "https://m"}\n',
            "snapshot-mirrors.gentoo: not one of alma, alpine, arch, centos, debian, fedora,"
            " opensuse, rocky, ubi, ubuntu",
            id="snapshot mirror for another distro",
        ),
        pytest.param(
            "pyproject.toml",
            '[tool.pinner.snapshot-mirrors]\ndebian = "https://d"\nnixos = "https://a"\n'
            "[tool.pinner]\n",
            "tool.pinner.snapshot-mirrors.nixos: not one of alma, alpine, arch, centos, debian,"
            " fedora, opensuse, rocky, ubi, ubuntu",
            id="snapshot mirror for another distro in [tool.pinner]",
        ),
    ],
)
def test_invalid_configuration_names_file_and_key(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    make_tree(tmp_path, {".git/": None, name: text})
    path = tmp_path.resolve() / name

    with pytest.raises(ConfigError) as e:
        config.load(str(tmp_path))

    assert str(e.value) == f"{path}: {message}"


def test_invalid_toml(tmp_path: Path) -> None:
    make_tree(tmp_path, {".git/": None, "pinner.toml": "exclude = [\n"})
    with pytest.raises(ConfigError) as e:
        config.load(str(tmp_path))
    assert str(e.value).startswith(f"{tmp_path.resolve() / 'pinner.toml'}: not valid TOML: ")


def test_an_integer_too_long_for_python_is_invalid_toml(tmp_path: Path) -> None:
    # tomllib raises a bare ValueError for it, not TOMLDecodeError.
    make_tree(tmp_path, {".git/": None, "pinner.toml": "x = " + "9" * 5000 + "\n"})
    with pytest.raises(ConfigError) as e:
        config.load(str(tmp_path))
    path = tmp_path.resolve() / "pinner.toml"
    assert str(e.value) == f"{path}: not valid TOML: an integer of more than 4300 digits"


def test_parse_table() -> None:
    assert config.parse({"exclude": ["a"]}, "x.toml") == Config(exclude=("a",), path="x.toml")
    with pytest.raises(ConfigError) as e:
        config.parse({"exclude": ["a"], "colour": True}, "x.toml", "tool.pinner.")
    assert str(e.value) == f"x.toml: unknown key tool.pinner.colour (known: {KNOWN})"


# --------------------------------------------------------------------------- through the CLI


def test_cli_reports_a_bad_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_tree(tmp_path, {".git/": None, "pinner.toml": "exclude = 1\n", "Dockerfile": "FROM a\n"})
    monkeypatch.chdir(tmp_path)

    assert run(capsys, "check") == (
        1,
        "",
        f"{tmp_path.resolve() / 'pinner.toml'}: exclude: expected a list of strings\n",
    )


def test_exclude_from_config_and_exclude_flag_replaces_it(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    digest = push_image(registry, "cfg/exclude", "1")
    line = f"FROM {registry.host}/cfg/exclude:1\n"
    make_tree(
        tmp_path,
        {
            ".git/": None,
            "pinner.toml": 'exclude = ["vendor"]\n',
            "Dockerfile": line,
            "vendor/Dockerfile": line,
            "tools/Dockerfile": line,
        },
    )
    monkeypatch.chdir(tmp_path)

    code, _, err = run(capsys, "lock", "--images-only", ".")

    assert code == 0, err
    pinned = f"FROM {registry.host}/cfg/exclude:1@{digest}\n"
    assert (tmp_path / "Dockerfile").read_text() == pinned
    assert (tmp_path / "tools" / "Dockerfile").read_text() == pinned
    assert (tmp_path / "vendor" / "Dockerfile").read_text() == line
    assert not (tmp_path / "vendor" / "Dockerfile.lock").exists()

    code, _, err = run(capsys, "lock", "--images-only", "--exclude", "tools", ".")

    assert code == 0, err
    assert (tmp_path / "vendor" / "Dockerfile").read_text() == pinned  # the file's list is gone
    assert (tmp_path / "vendor" / "Dockerfile.lock").exists()


def test_registry_mirrors_from_config_found_from_a_subdirectory(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    digest = push_image(registry, "cfg/mirror", "1")
    make_tree(
        tmp_path,
        {
            ".git/": None,
            "pinner.toml": f'[registry-mirrors]\n"docker.io" = "{registry.url}"\n',
            "svc/Dockerfile": "FROM cfg/mirror:1\n",
        },
    )
    monkeypatch.chdir(tmp_path / "svc")

    code, _, err = run(capsys, "lock", "--images-only")

    assert code == 0, err
    assert (tmp_path / "svc" / "Dockerfile").read_text() == f"FROM cfg/mirror:1@{digest}\n"
    assert 'name = "docker.io/cfg/mirror"' in (tmp_path / "svc" / "Dockerfile.lock").read_text()


def test_flags_win_over_the_file(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(registry, "docker/dockerfile", "1.23")
    digest = push_image(registry, "cfg/flags", "1")
    dead = f"http://127.0.0.1:{closed_port()}"
    make_tree(
        tmp_path,
        {
            ".git/": None,
            "pinner.toml": (
                f'snapshot = "20240101T000000Z"\n[registry-mirrors]\n"docker.io" = "{dead}"\n'
            ),
            "a/Dockerfile": "FROM cfg/flags:1\n",
            "b/Dockerfile": "FROM cfg/flags:1\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    flag = ("--registry-mirror", f"docker.io={registry.url}")

    code, _, err = run(capsys, "lock", *flag, "a/Dockerfile")
    assert code == 0, err
    text = (tmp_path / "a" / "Dockerfile").read_text()
    assert f"FROM cfg/flags:1@{digest}\n" in text
    assert "ARG SOURCE_DATE_EPOCH=1704067200\n" in text  # the file's snapshot, 2024-01-01

    code, _, err = run(capsys, "lock", *flag, "--snapshot", "20250101T000000Z", "b/Dockerfile")
    assert code == 0, err
    assert "ARG SOURCE_DATE_EPOCH=1735689600\n" in (tmp_path / "b" / "Dockerfile").read_text()


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        pytest.param(
            '[registry-mirrors]\n"docker.io" = "ftp://m"\n', "--registry-mirror", id="url"
        ),
        pytest.param('snapshot = "yesterday"\n', "--snapshot", id="snapshot"),
    ],
)
def test_bad_value_in_the_file_names_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    flag: str,
) -> None:
    make_tree(tmp_path, {".git/": None, "pinner.toml": text, "Dockerfile": "FROM scratch\n"})
    monkeypatch.chdir(tmp_path)

    code, _, err = run(capsys, "lock")

    assert code == 1
    assert err.startswith(f"{tmp_path.resolve() / 'pinner.toml'}: ")
    assert flag not in err
