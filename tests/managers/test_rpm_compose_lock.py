"""`pinner lock --snapshot`, `lock`, `check` and `update` on a CentOS Stream 9 dnf stage: a real
registry holding an image with the real c9s.repo, and a stand-in composes.stream.centos.org whose
compose trees createrepo_c made from RPMs rpmbuild built (listed by http.server's directory index,
each with its pungi STATUS file). Real dnf then follows the step pinner wrote.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli import run
from handmade import push
from registryd import Registry, push_image
from rpmrepo import Spec, build_repo, dnf_install, needs_rpm_tools, rpmdb_path
from shell_syntax import run_errors
from stand_in import Mirror, files_image, pinner_at

from pinner import lockfile

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "rpm"
C9S = (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes()
OS_RELEASE = b'NAME="CentOS Stream"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\n'
LIB = Spec("lib", "1.0")
TOOL = Spec("tool", "3.0")
# Compose id -> (STATUS, app's version in its BaseOS); None: no tree (the compose failed).
COMPOSES = {
    "CentOS-Stream-9-20261127.0": ("FINISHED", "1.0"),
    "CentOS-Stream-9-20261130.0": ("FINISHED_INCOMPLETE", "1.1"),
    "CentOS-Stream-9-20261130.1": ("DOOMED", None),
    "CentOS-Stream-9-20261201.0": ("FINISHED", "1.2"),  # the lock's own day: not yet sure
}
AUX = "/var/cache/ldconfig/aux-cache"
HISTORY = f"rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log {AUX}"
HISTORY5 = f"rm -rf /usr/lib/sysimage/libdnf5/transaction_history.* /var/log/dnf* {AUX}"
DOCKERFILE = "FROM centos:stream9\nRUN dnf install -y app tool \\\n    && dnf clean all\n"


def _step(mirror: str, compose: str) -> str:
    tree = f"{mirror}/production/{compose}/compose"
    return (
        f"RUN sed -i \\\n"
        f"    -e '/^\\[baseos\\]/,/^\\[/s|^baseurl=.*|baseurl={tree}/BaseOS/$basearch/os/|' \\\n"
        f"    -e '/^\\[appstream\\]/,/^\\[/s|^baseurl=.*|baseurl={tree}/AppStream/$basearch/os/|'"
        " \\\n    /etc/yum.repos.d/c9s.repo\n"
    )


@pytest.fixture(scope="module")
def composes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    root = tmp_path_factory.mktemp("composes")
    for compose, (status, app) in COMPOSES.items():
        folder = root / "production" / compose
        folder.mkdir(parents=True)
        (folder / "STATUS").write_text(f"{status}\n")
        (folder / "COMPOSE_ID").write_text(f"{compose}\n")
        if app is None:
            continue
        tree = folder / "compose"
        specs = [Spec("app", app, requires=("lib",)), LIB]
        build_repo(specs, tree / "BaseOS" / "x86_64" / "os")
        build_repo([TOOL], tree / "AppStream" / "x86_64" / "os")
    with Mirror(root=root) as served:
        yield served


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    files = {"etc/os-release": OS_RELEASE, "etc/yum.repos.d/c9s.repo": C9S}
    push(files_image(files), registry, "library/centos", "stream9")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _pinner(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, *args: str
) -> tuple[int, str, str]:
    return pinner_at(capsys, hub, f"centos={mirror.url}", "linux/amd64", *args)


def _pinner_remote(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, *args: str
) -> tuple[int, str, str]:
    registry = ("--registry-mirror", f"docker.io=http://{hub}")
    return run(
        capsys, "check", "--remote", *registry, "--snapshot-mirror", f"centos={mirror.url}", *args
    )


def _dnf_plan(
    script: str, repo: str, repo_file: bytes, releasever: str, words: list[str], tmp_path: Path
) -> list[tuple[str, str, str]]:
    """What real dnf would install for words (name, version, repository id), given repo_file as
    yum.repos.d/repo after script (a step's sed on /etc/yum.repos.d) ran on it."""
    reposdir = tmp_path / "yum.repos.d"
    reposdir.mkdir()
    (reposdir / repo).write_bytes(repo_file)
    subprocess.run(["sh", "-c", script.replace("/etc/yum.repos.d", str(reposdir))], check=True)
    result = subprocess.run(
        [
            "dnf",
            f"--installroot={tmp_path / 'root'}",
            f"--releasever={releasever}",
            "--forcearch=x86_64",
            f"--setopt=reposdir={reposdir}",
            f"--setopt=cachedir={tmp_path / 'cache'}",
            "--nogpgcheck",
            "install",
            "--assumeno",
            *words,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    rows = re.findall(r"^ (\S+)\s+noarch\s+(\S+)\s+(\S+)\s", result.stdout, re.MULTILINE)
    assert rows, result.stdout + result.stderr
    return sorted(rows)


def _dnf_follows(step_run: str, tmp_path: Path) -> list[str]:
    """What real dnf would install with the image's c9s.repo after the step's sed ran."""
    rows = _dnf_plan(step_run.removeprefix("RUN "), "c9s.repo", C9S, "9", ["app", "tool"], tmp_path)
    return [f"{name}-{evr} {repo}" for name, evr, repo in rows]


@needs_rpm_tools
def test_snapshot_points_the_stage_at_the_compose_of_its_time(
    capsys: pytest.CaptureFixture[str], hub: str, composes: Mirror, env: Path, tmp_path: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    code, _, err = _pinner(
        capsys,
        hub,
        composes,
        "lock",
        "--snapshot",
        "20261201T101500Z",
        "--pin-versions",
        str(dockerfile),
    )
    assert code == 0, err
    text = dockerfile.read_text()
    # The newest compose dated before the lock's day that finished (the .1 respin was DOOMED).
    step = _step(composes.url, "CentOS-Stream-9-20261130.0")
    assert text.endswith(
        "# pinner: dnf snapshot 20261201T101500Z\n"
        + step
        + "RUN dnf install -y app-1.1-1 tool-3.0-1 \\\n    && dnf clean all \\\n"
        + f"    && {HISTORY}\n"
    )
    assert run_errors(text) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert (stage.snapshot, stage.step) == ("20261201T101500Z", "exact")
    assert {(p.name, p.version) for p in stage.packages} == {
        ("app", "1.1-1"),
        ("lib", "1.0-1"),
        ("tool", "3.0-1"),
    }
    assert "pinned, not rebuildable once the branch moves on" not in stage.notes
    assert (
        "[baseos], [appstream] pinned to the compose CentOS-Stream-9-20261130.0; 127.0.0.1:"
        f"{composes.url.rsplit(':', 1)[1]} keeps composes for some weeks only: run pinner update"
        " before this one is removed"
    ) in stage.notes
    # Real dnf, given the image's repo file after the step, reads that compose too.
    assert _dnf_follows(step.rstrip("\n"), tmp_path) == [
        "app-1.1-1 baseos",
        "lib-1.0-1 baseos",
        "tool-3.0-1 appstream",
    ]
    code, _, err = run(capsys, "check", str(dockerfile))
    assert code == 0, err
    # check --remote asks whether the step's compose trees are still served, nothing else.
    asked = len(composes.log)
    code, _, err = _pinner_remote(capsys, hub, composes, str(dockerfile))
    assert code == 0, err
    tree = "/production/CentOS-Stream-9-20261130.0/compose"
    assert composes.log[asked:] == [
        f"{tree}/BaseOS/x86_64/os/repodata/repomd.xml",
        f"{tree}/AppStream/x86_64/os/repodata/repomd.xml",
    ]
    assert composes.root is not None
    kept = composes.root / "production" / "CentOS-Stream-9-20261130.0"
    kept.rename(kept.with_name("removed"))
    try:
        code, out, _ = _pinner_remote(capsys, hub, composes, str(dockerfile))
    finally:
        kept.with_name("removed").rename(kept)
    assert code == 1
    assert out.splitlines() == [
        f"{env / 'Dockerfile.lock'}: stage 0: {composes.url}{tree}/{variant}/$basearch/os/ is no"
        " longer served (compose hosts keep composes for some days or weeks only); run pinner"
        " update"
        for variant in ("BaseOS", "AppStream")
    ]

    # A plain lock keeps the compose (nothing asked again); the step's RUN is still checked.
    lock_text = (env / "Dockerfile.lock").read_text()
    asked = len(composes.log)
    code, _, err = _pinner(capsys, hub, composes, "lock", "--pin-versions", str(dockerfile))
    assert code == 0, err
    assert dockerfile.read_text() == text
    assert (env / "Dockerfile.lock").read_text() == lock_text
    assert len(composes.log) == asked

    # update to an earlier time moves the step in place to that day's compose.
    code, _, err = _pinner(
        capsys,
        hub,
        composes,
        "update",
        "--snapshot",
        "20261129T000000Z",
        "--pin-versions",
        str(dockerfile),
    )
    assert code == 0, err
    moved = dockerfile.read_text()
    # SOURCE_DATE_EPOCH moves with the snapshot; from FROM on, only the compose and app's pin.
    expected = (
        text.replace("20261201T101500Z", "20261129T000000Z")
        .replace("20261130.0", "20261127.0")
        .replace("app-1.1-1", "app-1.0-1")
    )
    assert moved[moved.index("FROM") :] == expected[expected.index("FROM") :]
    assert moved.count("# pinner: dnf snapshot") == 1
    assert run_errors(moved) == []


@needs_rpm_tools
def test_a_stage_without_its_compose_step_fails_check(
    capsys: pytest.CaptureFixture[str], hub: str, composes: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    args = ("lock", "--snapshot", "20261201T101500Z", str(dockerfile))
    assert _pinner(capsys, hub, composes, *args)[0] == 0
    text = dockerfile.read_text()
    start = text.index("# pinner: dnf snapshot")
    dockerfile.write_text(text[:start] + text[text.index("RUN dnf install") :])
    code, out, _ = run(capsys, "check", str(dockerfile))
    assert code == 1
    assert out == (
        f"{dockerfile}:5: stage 0: dnf runs without pinner's snapshot step at 20261201T101500Z\n"
    )


def _dnf_reads(
    step: str, url: str, root: Path, repo: str, repo_file: bytes, releasever: str, tmp_path: Path
) -> list[tuple[str, str, str]]:
    """_dnf_plan for `app` after the step, its mirror at url read from root instead."""
    script = step.removeprefix("RUN ").replace(f"{url}/", f"{root.as_uri()}/")
    return _dnf_plan(script, repo, repo_file, releasever, ["app"], tmp_path)


RAWHIDE_RELEASE = (
    b'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=43\nREDHAT_SUPPORT_PRODUCT_VERSION=rawhide\n'
)


@needs_rpm_tools
def test_snapshot_on_rawhide_points_its_repository_at_the_nightly_compose(
    capsys: pytest.CaptureFixture[str], registry: Registry, env: Path, tmp_path: Path
) -> None:
    # A Rawhide image: fedora-release-common provides system-release(releasever) = rawhide
    # (fedora-release.spec: "Make $releasever return rawhide on Rawhide"), so dnf reads
    # $releasever as "rawhide"; its one enabled repository is [rawhide] (a metalink).
    release = Spec(
        "fedora-release-common", "43", provides=("system-release(releasever) = rawhide",)
    )
    # A stand-in kojipkgs compose/rawhide/: nightly ids, pungi STATUS, Everything trees.
    root = tmp_path / "kojipkgs"
    for compose, status, app in (
        ("Fedora-Rawhide-20261130.n.0", "FINISHED_INCOMPLETE", "1.1"),
        ("Fedora-Rawhide-20261130.n.1", "DOOMED", None),
        ("Fedora-Rawhide-20261201.n.0", "FINISHED", "1.2"),  # the lock's own day
    ):
        folder = root / "rawhide" / compose
        folder.mkdir(parents=True)
        (folder / "STATUS").write_text(f"{status}\n")
        if app is not None:
            specs = [release, Spec("app", app, requires=("lib",)), LIB]
            build_repo(specs, folder / "compose" / "Everything" / "x86_64" / "os")
    installed = tmp_path / "root"
    tree = root / "rawhide" / "Fedora-Rawhide-20261130.n.0" / "compose" / "Everything" / "x86_64"
    dnf_install(installed, tree / "os", ["fedora-release-common"])
    repo_file = (TESTDATA / "repos/fedora-rawhide/fedora-rawhide.repo").read_bytes()
    files = {
        "etc/os-release": RAWHIDE_RELEASE,
        "etc/yum.repos.d/fedora-rawhide.repo": repo_file,
        "var/lib/rpm/rpmdb.sqlite": rpmdb_path(installed).read_bytes(),
    }
    push(files_image(files), registry, "library/fedora", "rawhide")
    push_image(registry, "docker/dockerfile", "1.23")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM fedora:rawhide\nRUN dnf install -y app\n")
    with Mirror(root=root) as mirror:
        code, _, err = pinner_at(
            capsys,
            registry.host,
            f"fedora={mirror.url}",
            "linux/amd64",
            "lock",
            "--snapshot",
            "20261201T101500Z",
            "--pin-versions",
            str(dockerfile),
        )
        assert code == 0, err
        assert "/rawhide/Fedora-Rawhide-20261130.n.1/STATUS" in mirror.log
        url = mirror.url
        # Once kojipkgs has removed the compose, check --remote names its tree.
        kept = root / "rawhide" / "Fedora-Rawhide-20261130.n.0"
        kept.rename(kept.with_name("removed"))
        try:
            code, out, _ = run(
                capsys,
                "check",
                "--remote",
                *("--registry-mirror", f"docker.io=http://{registry.host}"),
                *("--snapshot-mirror", f"fedora={url}"),
                str(dockerfile),
            )
        finally:
            kept.with_name("removed").rename(kept)
        assert (code, out) == (
            1,
            f"{env / 'Dockerfile.lock'}: stage 0: {url}/rawhide/Fedora-Rawhide-20261130.n.0"
            "/compose/Everything/$basearch/os/ is no longer served (compose hosts keep composes"
            " for some days or weeks only); run pinner update\n",
        )
    text = dockerfile.read_text()
    compose = f"{url}/rawhide/Fedora-Rawhide-20261130.n.0/compose/Everything/$basearch/os/"
    step = (
        "RUN sed -i \\\n"
        f"    -e '/^\\[rawhide\\]/,/^\\[/s|^metalink=.*|baseurl={compose}|' \\\n"
        "    /etc/yum.repos.d/fedora-rawhide.repo\n"
    )
    assert text.endswith(
        f"# pinner: dnf snapshot 20261201T101500Z\n{step}"
        f"RUN dnf install -y app-1.1-1 \\\n    && dnf clean all && {HISTORY5}\n"
    )
    assert run_errors(text) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # The lock's release is os-release's VERSION_ID; dnf's $releasever is "rawhide".
    assert (stage.distro, stage.release, stage.step) == ("fedora", "43", "exact")
    assert {(p.name, p.version) for p in stage.packages} == {("app", "1.1-1"), ("lib", "1.0-1")}
    assert (
        "[rawhide] pinned to the compose Fedora-Rawhide-20261130.n.0; 127.0.0.1:"
        f"{url.rsplit(':', 1)[1]} keeps nightly composes for some days only: run pinner update"
        " before this one is removed"
    ) in stage.notes
    assert not any("nightly composes (" in note for note in stage.notes)
    # Real dnf, given the real fedora-rawhide.repo after the step, reads that compose.
    assert _dnf_reads(step, url, root, "fedora-rawhide.repo", repo_file, "rawhide", tmp_path) == [
        ("app", "1.1-1", "rawhide"),
        ("lib", "1.0-1", "rawhide"),
    ]


# A Branched Fedora 42 image: the shape of a recorded fedora:rawhide os-release (testdata/rpm
# README), numbered as fedora-release writes it before a release ("Container Image Prerelease").
BRANCHED_RELEASE = (
    b'NAME="Fedora Linux"\nVERSION="42 (Container Image Prerelease)"\nID=fedora\nVERSION_ID=42\n'
    b'PRETTY_NAME="Fedora Linux 42 (Container Image Prerelease)"\n'
    b"REDHAT_SUPPORT_PRODUCT_VERSION=42\n"
)
RELEASED = b'NAME="Fedora Linux"\nVERSION="42 (Container Image)"\nID=fedora\nVERSION_ID=42\n'


@needs_rpm_tools
@pytest.mark.parametrize(
    "os_release",
    [
        pytest.param(BRANCHED_RELEASE, id="os-release-and-repo-file"),
        # fedora-repos' [fedora] metadata_expire=6h alone (7d once released) says it too.
        pytest.param(RELEASED, id="repo-file-alone"),
    ],
)
def test_snapshot_on_branched_fedora_points_its_fedora_repository_at_the_nightly_compose(
    os_release: bytes,
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    env: Path,
    tmp_path: Path,
) -> None:
    # fedora-repos' fedora.repo as built for Branched (testdata/rpm/repos/fedora-branched):
    # [fedora] (metalink repo=fedora-42) is Branched's newest nightly compose until the release.
    release = Spec("fedora-release-common", "42", provides=("system-release(releasever) = 42",))
    root = tmp_path / "kojipkgs"
    for compose, status, app in (
        ("Fedora-42-20261130.n.0", "FINISHED_INCOMPLETE", "1.1"),
        ("Fedora-42-20261201.n.0", "FINISHED", "1.2"),  # the lock's own day
        ("Fedora-43-20261130.n.0", "FINISHED", "9.0"),  # another release's
    ):
        folder = root / "branched" / compose
        folder.mkdir(parents=True)
        (folder / "STATUS").write_text(f"{status}\n")
        specs = [release, Spec("app", app, requires=("lib",)), LIB]
        build_repo(specs, folder / "compose" / "Everything" / "x86_64" / "os")
    tree = root / "branched" / "Fedora-42-20261130.n.0" / "compose" / "Everything" / "x86_64"
    installed = tmp_path / "root"
    dnf_install(installed, tree / "os", ["fedora-release-common"])
    repo_file = (TESTDATA / "repos/fedora-branched/fedora.repo").read_bytes()
    files = {
        "etc/os-release": os_release,
        "etc/yum.repos.d/fedora.repo": repo_file,
        "var/lib/rpm/rpmdb.sqlite": rpmdb_path(installed).read_bytes(),
    }
    push(files_image(files), registry, "library/fedora", "42")
    push_image(registry, "docker/dockerfile", "1.23")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM fedora:42\nRUN dnf install -y app\n")
    with Mirror(root=root) as mirror:
        code, _, err = pinner_at(
            capsys,
            registry.host,
            f"fedora={mirror.url}",
            "linux/amd64",
            "lock",
            "--snapshot",
            "20261201T101500Z",
            "--pin-versions",
            str(dockerfile),
        )
        url = mirror.url
    assert code == 0, err
    text = dockerfile.read_text()
    compose = f"{url}/branched/Fedora-42-20261130.n.0/compose/Everything/$basearch/os/"
    step = (
        "RUN sed -i \\\n"
        f"    -e '/^\\[fedora\\]/,/^\\[/s|^metalink=.*|baseurl={compose}|' \\\n"
        "    /etc/yum.repos.d/fedora.repo\n"
    )
    assert text.endswith(
        f"# pinner: dnf snapshot 20261201T101500Z\n{step}"
        f"RUN dnf install -y app-1.1-1 \\\n    && dnf clean all && {HISTORY5}\n"
    )
    assert run_errors(text) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert (stage.distro, stage.release, stage.step) == ("fedora", "42", "exact")
    assert {(p.name, p.version) for p in stage.packages} == {("app", "1.1-1"), ("lib", "1.0-1")}
    assert (
        "[fedora] pinned to the compose Fedora-42-20261130.n.0; 127.0.0.1:"
        f"{url.rsplit(':', 1)[1]} keeps nightly composes for some days only: run pinner update"
        " before this one is removed"
    ) in stage.notes
    assert not any("pre-release" in note for note in stage.notes)
    # Real dnf, given the real fedora.repo after the step, reads that compose.
    assert _dnf_reads(step, url, root, "fedora.repo", repo_file, "42", tmp_path) == [
        ("app", "1.1-1", "fedora"),
        ("lib", "1.0-1", "fedora"),
    ]


@needs_rpm_tools
def test_a_user_inherited_from_the_parent_stage_gets_the_step_as_root(
    capsys: pytest.CaptureFixture[str], hub: str, composes: Mirror, env: Path
) -> None:
    # The stage starts as app (its parent's USER): the step's sed must run as root.
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM centos:stream9 AS base\nUSER app\n\nFROM base\nRUN sudo dnf install -y app tool\n"
    )
    args = ("lock", "--snapshot", "20261201T101500Z", str(dockerfile))
    code, _, err = _pinner(capsys, hub, composes, *args)
    assert code == 0, err
    text = dockerfile.read_text()
    step = _step(composes.url, "CentOS-Stream-9-20261130.0")
    assert text.endswith(
        "FROM base\nARG SOURCE_DATE_EPOCH\nUSER root\n"
        f"# pinner: dnf snapshot 20261201T101500Z\n{step}USER app\n"
        f"RUN sudo dnf install -y app tool \\\n    && sudo dnf clean all && sudo {HISTORY}\n"
    )
    assert run_errors(text) == []
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err
    code, _, err = _pinner(capsys, hub, composes, *args)
    assert code == 0, err
    assert dockerfile.read_text() == text
