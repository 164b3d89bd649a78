"""The GitHub Action, the example workflow and the pre-commit hook, run as their hosts run them."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from registryd import Registry, push_image

from pinner import refs
from pinner.files import is_dockerfile
from pinner.refresh import short

yaml = pytest.importorskip("yaml", reason="PyYAML reads action.yml and .pre-commit-hooks.yaml")

ROOT = Path(__file__).resolve().parent.parent
INPUT = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A process environment with `pinner` (this tree) on PATH and an empty Docker config."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "pinner"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m pinner "$@"\n')
    shim.chmod(0o755)
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DOCKER_CONFIG": str(docker_config),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "LANG": "C.UTF-8",
    }


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=pinner", "-c", "user.email=pinner@example.com"]
    cmd = ["git", *identity, "-c", "commit.gpgsign=false", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout


def locked_repo(path: Path, registry: Registry, env: Mapping[str, str], repo_name: str) -> Path:
    """A git repository whose Dockerfile is locked (images only) against the test registry."""
    path.mkdir()
    git(path, "init", "-q")
    (path / "Dockerfile").write_text(f"FROM {registry.host}/{repo_name}:1\n")
    lock = ["pinner", "lock", "--images-only", "-q", "Dockerfile"]
    subprocess.run(lock, cwd=path, env=env, check=True, capture_output=True)
    git(path, "add", "Dockerfile", "Dockerfile.lock")
    git(path, "commit", "-q", "-m", "locked")
    return path


# --------------------------------------------------------------------------- action.yml


def expand(value: object, inputs: Mapping[str, str]) -> str:
    """Evaluate an `env:` value as the runner does; only `${{ inputs.NAME }}` is expected."""
    text = str(value)
    match = INPUT.fullmatch(text.strip())
    if match:
        return inputs[match[1]]
    assert "${{" not in text, f"unexpected expression in env: {text}"
    return text


def run_action(
    repo: Path, env: Mapping[str, str], tmp: Path, **given: str
) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    """Run action.yml's shell steps after the install step, as a runner would; return outputs."""
    action = load_yaml(ROOT / "action.yml")
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update(given)
    runner_temp = tmp / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    output, path_file = tmp / "github-output", tmp / "github-path"
    output.write_text("")
    path_file.write_text("")
    base = {
        **env,
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_PATH": str(path_file),
        "GITHUB_WORKSPACE": str(repo),
        "RUNNER_TEMP": str(runner_temp),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
    }
    proc = subprocess.CompletedProcess[str]([], 0, "", "")
    for step in action["runs"]["steps"]:
        if "uses" in step or step["id"] == "install":  # pinner is already installed here
            continue
        script = tmp / f"step-{step['id']}.sh"
        script.write_text(step["run"])
        step_env = {**base, **{k: expand(v, inputs) for k, v in step.get("env", {}).items()}}
        # GitHub's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
        assert step["shell"] == "bash"
        cmd = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
        proc = subprocess.run(cmd, cwd=repo, env=step_env, capture_output=True, text=True)
        if proc.returncode != 0:
            break
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return outputs, proc


def test_action_scripts_take_inputs_only_through_env() -> None:
    action = load_yaml(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    install = next(s for s in steps if s.get("id") == "install")
    assert '"$GITHUB_ACTION_PATH"' in install["run"]
    for step in steps:
        for name in INPUT.findall(str(step)):
            assert name in action["inputs"]
        if "run" in step:
            assert "${{" not in step["run"], step["id"]
    update = next(s for s in steps if s.get("id") == "update")
    for name, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.update.outputs.{name} }}}}"
        assert f'echo "{name}=' in update["run"]


def test_action_reports_nothing_then_a_moved_tag(
    registry: Registry, tmp_path: Path, env: dict[str, str]
) -> None:
    old = push_image(registry, "integ/action", "1")
    repo = locked_repo(tmp_path / "repo", registry, env, "integ/action")

    outputs, proc = run_action(repo, env, tmp_path, args="--images-only")

    assert proc.returncode == 0, proc.stderr
    assert outputs == {
        "changed": "false",
        "report": "pinner-report.md",
        "summary": "pinner update: nothing changed.",
    }
    assert (repo / "pinner-report.md").read_text() == ""
    assert git(repo, "status", "--porcelain") == "?? pinner-report.md\n"

    new = push_image(registry, "integ/action", "1", seed="moved")
    outputs, proc = run_action(repo, env, tmp_path, args="--images-only")

    assert proc.returncode == 0, proc.stderr
    assert outputs["changed"] == "true"
    assert outputs["report"] == "pinner-report.md"
    report = (repo / "pinner-report.md").read_text()
    assert f"| `{short(old)}` | `{short(new)}` |" in report
    assert git(repo, "diff", "--name-only") == "Dockerfile\nDockerfile.lock\n"
    assert f"integ/action:1@{new}" in (repo / "Dockerfile").read_text()
    assert sorted(git(repo, "status", "--porcelain").splitlines()) == [
        " M Dockerfile",
        " M Dockerfile.lock",
        "?? pinner-report.md",
    ]


def test_action_inputs_are_data_not_shell(
    registry: Registry, tmp_path: Path, env: dict[str, str]
) -> None:
    push_image(registry, "integ/inject", "1")
    repo = locked_repo(tmp_path / "repo", registry, env, "integ/inject")

    outputs, proc = run_action(
        repo, env, tmp_path, paths="$(touch pwned) *", args="--images-only;touch pwned2"
    )

    assert proc.returncode == 2  # pinner's usage error for the unknown words, nothing else ran
    assert outputs == {}
    assert not (repo / "pwned").exists() and not (repo / "pwned2").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_example_workflow_uses_the_action_outputs() -> None:
    action = load_yaml(ROOT / "action.yml")
    path = ROOT / "examples" / "workflows" / "pinner-update.yml"
    workflow = load_yaml(path)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert triggers["schedule"][0]["cron"]
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    steps = workflow["jobs"]["update"]["steps"]
    pinner = next(s for s in steps if s.get("id") == "pinner")
    assert pinner["uses"].endswith("/pinner@v0")
    assert set(pinner["with"]) <= set(action["inputs"])
    used = set(re.findall(r"steps\.pinner\.outputs\.([\w-]+)", path.read_text()))
    assert used and used <= set(action["outputs"])
    pr = next(s for s in steps if s.get("uses", "").startswith("peter-evans/create-pull-request@"))
    assert pr["if"] == "steps.pinner.outputs.changed == 'true'"
    assert pr["with"]["body-path"] == "${{ steps.pinner.outputs.report }}"
    assert pr["with"]["branch"] == "pinner/update"
    assert pr["with"]["title"] == "Refresh pinned images and packages"


def test_docs_show_the_example_workflow_as_it_is() -> None:
    doc = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    workflow = (ROOT / "examples" / "workflows" / "pinner-update.yml").read_text(encoding="utf-8")
    assert f"```yaml\n{workflow}```\n" in doc
    blocks = re.findall(r"^```yaml\n(.*?)^```$", doc, re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 4
    for block in blocks:
        assert yaml.safe_load(textwrap.dedent(block)) is not None


# --------------------------------------------------------------------------- pre-commit


def hook() -> dict[str, Any]:
    hooks = load_yaml(ROOT / ".pre-commit-hooks.yaml")
    return next(h for h in hooks if h["id"] == "pinner-check")


def triggers(name: str) -> bool:
    h = hook()
    return bool(re.search(h["files"], name)) and not re.search(h.get("exclude", "^$"), name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Dockerfile", True),
        ("svc/api/Dockerfile", True),
        ("Containerfile", True),
        ("app.Dockerfile", True),
        ("app.dockerfile", True),
        ("Dockerfile.dev", True),
        ("Dockerfile.lock", True),
        ("svc/Dockerfile.lock", True),
        ("app.Dockerfile.lock", True),
        ("Dockerfile.dev.lock", True),
        ("Containerfile.lock", True),
        ("Containerfile.dev", False),
        ("Dockerfile.dockerignore", False),
        ("Dockerfile.bak", False),
        ("Dockerfile~", False),
        ("MyDockerfile", False),
        ("Dockerfile/README.md", False),
        ("docs/Dockerfile.md.orig", False),
        ("README.md", False),
        ("compose.yaml", True),
        ("svc/compose.override.yml", True),
        ("docker-compose.prod.yml.lock", True),
        ("composer.json", False),
        (".github/workflows/ci.yml", True),
        ("sub/.github/workflows/ci.yaml.lock", True),
        (".github/dependabot.yml", False),
        ("workflows/ci.yml", False),
        ("docker-bake.hcl", True),
        ("docker-bake.override.json", True),
        ("tests/conftest.py", True),
        ("tests/conftest.py.lock", True),
        ("setup.pyc", False),
        ("deploy/app.yaml", False),
    ],
)
def test_hook_runs_for_dockerfiles_and_their_locks(name: str, expected: bool) -> None:
    assert triggers(name) is expected

    def found(path: str) -> bool:
        return is_dockerfile(path.rsplit("/", 1)[-1]) or refs.kind_of(path) is not None

    ours = found(name) or (name.endswith(".lock") and found(name[: -len(".lock")]))
    assert ours is expected  # the hook fires exactly for what `pinner lock .` finds, and locks


def run_hook(repo: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str] | None:
    """Run the hook as `pre-commit run --all-files` would; None when no file selects it."""
    h = hook()
    assert h["language"] == "python"
    staged = git(repo, "ls-files").splitlines()
    selected = [name for name in staged if triggers(name)]
    if not selected:
        return None
    cmd = [*shlex.split(h["entry"]), *h.get("args", [])]
    if h.get("pass_filenames", True):
        cmd += selected
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)


def test_hook_passes_locked_and_fails_unlocked_or_edited_locks(
    registry: Registry, tmp_path: Path, env: dict[str, str]
) -> None:
    push_image(registry, "integ/hook", "1")
    repo = locked_repo(tmp_path / "repo", registry, env, "integ/hook")
    (repo / "README.md").write_text("no Dockerfile here\n")
    git(repo, "add", "README.md")

    proc = run_hook(repo, env)
    assert proc is not None
    assert proc.returncode == 0, proc.stdout

    # A hand-edited lock, with the Dockerfile untouched, fails.
    lock = repo / "Dockerfile.lock"
    good = lock.read_text()
    lock.write_text(
        re.sub(r'digest = "sha256:[0-9a-f]{64}"', f'digest = "sha256:{"0" * 64}"', good)
    )
    proc = run_hook(repo, env)
    assert proc is not None and proc.returncode == 1
    assert proc.stdout.startswith("Dockerfile.lock: malformed [[image]] entry (")
    assert proc.stdout.endswith(" disagrees with the reference)\n")
    lock.write_text(good)

    # A new, unlocked Dockerfile fails and is named.
    (repo / "svc").mkdir()
    (repo / "svc" / "Dockerfile").write_text(f"FROM {registry.host}/integ/hook:1\n")
    git(repo, "add", "svc/Dockerfile")
    proc = run_hook(repo, env)
    assert proc is not None and proc.returncode == 1
    assert proc.stdout == (
        "svc/Dockerfile: no lockfile svc/Dockerfile.lock; run pinner lock svc/Dockerfile\n"
    )

    # pinner.toml's exclude is honoured, as `pinner lock .` honours it.
    (repo / "pinner.toml").write_text('exclude = ["svc"]\n')
    proc = run_hook(repo, env)
    assert proc is not None
    assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed")
def test_pre_commit_try_repo(registry: Registry, tmp_path: Path, env: dict[str, str]) -> None:
    # pre-commit installs the hook from a git repository: a commit of this tree's package files.
    hook_repo = tmp_path / "hook-repo"
    hook_repo.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, hook_repo / name)
    shutil.copytree(ROOT / "pinner", hook_repo / "pinner", ignore=shutil.ignore_patterns("__py*"))
    git(hook_repo, "init", "-q")
    git(hook_repo, "add", ".")
    git(hook_repo, "commit", "-q", "-m", "hook")
    push_image(registry, "integ/try-repo", "1")
    repo = locked_repo(tmp_path / "repo", registry, env, "integ/try-repo")
    (repo / "Containerfile").write_text("FROM scratch\n")
    git(repo, "add", "Containerfile")
    # pre-commit's own environment, without the PATH shim: the hook must run its own install.
    pc_env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    pc_env.pop("PYTHONPATH", None)
    try_repo = ["pre-commit", "try-repo", str(hook_repo), "pinner-check", "--all-files"]

    failed = subprocess.run(try_repo, cwd=repo, env=pc_env, capture_output=True, text=True)
    git(repo, "rm", "-q", "--cached", "Containerfile")
    (repo / "Containerfile").unlink()
    passed = subprocess.run(try_repo, cwd=repo, env=pc_env, capture_output=True, text=True)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Containerfile: no lockfile Containerfile.lock" in failed.stdout
    assert passed.returncode == 0, passed.stdout + passed.stderr
