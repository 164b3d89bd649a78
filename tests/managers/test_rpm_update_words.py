"""`lock --pin-versions` and `update --pin-versions` on the dnf word forms beyond `name` and
`name-[epoch:]version-release`: `name.arch`, `name-version-release.arch` and `name-version`, against
a real registry and a stand-in repository createrepo_c made from RPMs rpmbuild built.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli import run
from handmade import push
from registryd import Registry, push_image
from rpmrepo import Spec, build_repo, needs_rpm_tools
from shell_syntax import run_errors
from stand_in import Mirror, files_image, pinner_at

from pinner import lockfile

OS_RELEASE = b'NAME="CentOS Stream"\nID="centos"\nVERSION_ID="9"\n'
REPO = b"[baseos]\nname=BaseOS\nbaseurl=https://mirror.example/baseos/\ngpgcheck=1\n"
FIRST = [Spec("app", "1.0", "1"), Spec("tool", "1.0", "1"), Spec("cli", "1.0", "1")]
# The repository moves on: a new release of app 1.0, an app 2.0, new tool and cli builds.
LATER = [Spec("app", "1.0", "2"), Spec("app", "2.0", "1"), Spec("tool", "1.1", "1")]
LATER += [Spec("cli", "1.2", "1")]
DOCKERFILE = "FROM centos:words\nRUN dnf install -y app-1.0 tool.noarch cli-1.0-1.noarch\n"


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    files = {"etc/os-release": OS_RELEASE, "etc/yum.repos.d/b.repo": REPO}
    push(files_image(files), registry, "library/centos", "words")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _served(specs: list[Spec], folder: Path) -> dict[str, bytes]:
    repo = build_repo(specs, folder)
    return {f"/baseos/repodata/{p.name}": p.read_bytes() for p in (repo / "repodata").iterdir()}


def _pinner(capsys: pytest.CaptureFixture[str], hub: str, url: str, *args: str) -> str:
    code, _, err = pinner_at(capsys, hub, f"centos={url}", "linux/amd64", *args)
    assert code == 0, err
    return err


def _locked(env: Path) -> dict[str, str]:
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    return {p.name: p.version for p in stage.packages}


@needs_rpm_tools
def test_update_refreshes_arch_words_and_keeps_a_name_version_word_its_range(
    capsys: pytest.CaptureFixture[str], hub: str, env: Path, tmp_path: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    with Mirror(_served(FIRST, tmp_path / "first")) as mirror:
        _pinner(capsys, hub, mirror.url, "lock", "--pin-versions", str(dockerfile))
        text = dockerfile.read_text()
        # name.arch gets its pin before the arch; name-version is the user's range, kept.
        assert text.endswith(
            "RUN dnf install -y app-1.0 tool-1.0-1.noarch cli-1.0-1.noarch \\\n"
            "    && dnf clean all && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache\n"
        )
        assert run_errors(text) == []
        assert _locked(env) == {"app": "1.0-1", "tool": "1.0-1", "cli": "1.0-1"}

        mirror.files = _served(FIRST + LATER, tmp_path / "later")
        # Without --pin-versions the words stay and the lock keeps what they pin.
        _pinner(capsys, hub, mirror.url, "update", str(dockerfile))
        after = dockerfile.read_text()  # SOURCE_DATE_EPOCH moves with the update's time
        assert after[after.index("FROM") :] == text[text.index("FROM") :]
        assert _locked(env) == {"app": "1.0-2", "tool": "1.0-1", "cli": "1.0-1"}

        _pinner(capsys, hub, mirror.url, "update", "--pin-versions", str(dockerfile))
        moved = dockerfile.read_text()
        assert moved.endswith(
            "RUN dnf install -y app-1.0 tool-1.1-1.noarch cli-1.2-1.noarch \\\n"
            "    && dnf clean all && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache\n"
        )
        assert run_errors(moved) == []
        # app: the newest release of 1.0, as dnf reads `app-1.0`, not 2.0.
        assert _locked(env) == {"app": "1.0-2", "tool": "1.1-1", "cli": "1.2-1"}
    code, _, err = run(capsys, "check", str(dockerfile))
    assert code == 0, err
