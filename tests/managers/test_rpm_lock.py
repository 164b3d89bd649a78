"""`pinner lock` on dnf and microdnf stages: a real registry holding a CentOS Stream 9-like image
(its real c9s.repo, an rpmdb written by dnf), and a local mirror serving repodata made by
createrepo_c (baseos) and recorded from CentOS Stream 9 (appstream).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli import run
from handmade import Entry, HandImage, layer_tar, push
from registryd import Registry, push_image
from rpmrepo import (
    Spec,
    berkeley_packages,
    build_repo,
    dnf_install,
    dnf_would_install,
    header_blobs,
    needs_db_load,
    needs_rpm_tools,
    rpmdb_path,
)
from shell_syntax import run_errors
from stand_in import Mirror, files_image, pinner_at

from pinner import lockfile

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "rpm"
OS_RELEASE = (
    b'NAME="CentOS Stream"\nVERSION="9"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\n'
    b'PRETTY_NAME="CentOS Stream 9"\n'
)
# What the real AppStream packages need from glibc, which the trimmed data does not hold.
GLIBC_PROVIDES = (
    "libm.so.6()(64bit)",
    "libm.so.6(GLIBC_2.2.5)(64bit)",
    "libm.so.6(GLIBC_2.23)(64bit)",
    "libm.so.6(GLIBC_2.29)(64bit)",
    "rtld(GNU_HASH)",
    "libc.so.6(GLIBC_2.34)(64bit)",
    "libc.so.6(GLIBC_2.14)(64bit)",
)
BASEOS = [
    Spec("glibc", "2.34", "100.el9", provides=GLIBC_PROVIDES),
    Spec("base", "1.0"),
    Spec("lib", "1.5"),
    Spec("lib", "2.1"),
    Spec("app", "1.0", requires=("lib >= 2.0", "/usr/bin/tool"), recommends=("weak",)),
    Spec("toolpkg", "1.0", files=("/usr/bin/tool",)),
    Spec("weak", "1.0"),
    Spec("extra", "1.0", epoch=2, requires=("base",)),
    Spec("foo-old", "1.0"),
    Spec("foo-new", "2.0", obsoletes=("foo-old < 2",)),
    # Served so that the commands installing them before a repository change keep their pins.
    Spec("epel-release", "9", "7.el9"),
    Spec("dnf-plugins-core", "4.3.0"),
]
DOCKERFILE = """\
FROM centos:stream9
RUN dnf install -y --setopt=install_weak_deps=False app jq \\
    && dnf clean all
RUN microdnf install -y extra
"""
PINNED_RUNS = """\
ARG SOURCE_DATE_EPOCH
RUN dnf install -y --setopt=install_weak_deps=False app-1.0-1 jq-1.6-15.el9 \\
    && dnf clean all \\
    && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache
RUN microdnf install -y extra-2:1.0-1 \\
    && microdnf clean all && rm -rf /var/lib/dnf/history.* /var/cache/ldconfig/aux-cache
"""


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo(BASEOS, tmp_path_factory.mktemp("rpm") / "baseos")


@pytest.fixture(scope="module")
def mirror(repos: Path) -> Iterator[Mirror]:
    files = {}
    for name, root in (("baseos", repos), ("appstream", TESTDATA / "cs9-appstream")):
        for path in (root / "repodata").iterdir():
            files[f"/{name}/repodata/{path.name}"] = path.read_bytes()
    with Mirror(files) as served:
        yield served


@pytest.fixture(scope="module")
def hub(registry: Registry, repos: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("root")
    dnf_install(root, repos, ["glibc", "base", "lib-1.5"])
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/yum.repos.d/c9s.repo": (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes(),
        "var/lib/rpm/rpmdb.sqlite": rpmdb_path(root).read_bytes(),
    }
    push(files_image(files), registry, "library/centos", "stream9")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _lock(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, *args: str
) -> tuple[int, str, str]:
    return pinner_at(capsys, hub, f"centos={mirror.url}", "linux/amd64", "lock", *args)


@needs_rpm_tools
def test_lock_records_the_closure_minus_the_rpmdb(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE)
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert (stage.package_manager, stage.distro, stage.release) == ("dnf", "centos", "9")
    assert "pinned, not rebuildable once the branch moves on" in stage.notes
    found = {(p.name, p.version, p.architecture) for p in stage.packages}
    # lib is upgraded (app needs >= 2.0, the image has 1.5); glibc and base are in the rpmdb;
    # weak deps are off for app's command; jq and oniguruma come from the real AppStream data.
    assert found == {
        ("app", "1.0-1", "x86_64"),
        ("lib", "2.1-1", "x86_64"),
        ("toolpkg", "1.0-1", "x86_64"),
        ("jq", "1.6-15.el9", "x86_64"),
        ("oniguruma", "6.9.6-1.el9.4", "x86_64"),
        ("extra", "2:1.0-1", "x86_64"),
    }
    jq = next(p for p in stage.packages if p.name == "jq")
    assert jq.filename == "Packages/jq-1.6-15.el9.x86_64.rpm"
    assert len(jq.sha256) == 64
    text = (env / "Dockerfile").read_text()
    # After the pinned FROM, only the missing cache cleanup is added.
    unpinned = PINNED_RUNS.replace("app-1.0-1 jq-1.6-15.el9", "app jq").replace("-2:1.0-1", "")
    assert text.endswith(unpinned)
    assert run_errors(text) == []
    # repomd.xml is asked once per set of command options; primary once per content.
    assert sum(path.endswith("-primary.xml.gz") for path in mirror.log) == 2


@needs_rpm_tools
def test_pin_versions_writes_nevr_words(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    text = (env / "Dockerfile").read_text()
    assert text.endswith(PINNED_RUNS)
    assert run_errors(text) == []
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    assert (env / "Dockerfile").read_text() == text
    assert (env / "Dockerfile.lock").read_text() == before


# sclorg/s2i-base-container base/Dockerfile.fedora: the list in a variable, checked with rpm -V
# (NVRs as rpm -V takes them); the OpenShift sriov-dp-admission-controller Dockerfile's
# `yum autoremove $INSTALL_PKGS`, which reads NVRs too; and `dnf info`, which pinner does not
# take to read pins.
VARIABLE_RUNS = """\
FROM centos:stream9
RUN INSTALL_PKGS="app \\
  jq" && \\
  dnf install -y --setopt=tsflags=nodocs --setopt=install_weak_deps=False $INSTALL_PKGS && \\
  rpm -V $INSTALL_PKGS && \\
  dnf clean all -y
RUN BUILD="toolpkg" && dnf install -y $BUILD && dnf autoremove -y $BUILD
RUN LIBS="lib" && dnf install -y $LIBS && dnf info $LIBS
RUN LIB=lib && dnf install -y $LIB && rpm -q --whatrequires $LIB
"""
PINNED_VARIABLE_RUNS = """\
RUN INSTALL_PKGS="app-1.0-1 \\
  jq-1.6-15.el9" && \\
  dnf install -y --setopt=tsflags=nodocs --setopt=install_weak_deps=False $INSTALL_PKGS && \\
  rpm -V $INSTALL_PKGS && \\
  dnf clean all -y \\
  && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache
RUN BUILD="toolpkg-1.0-1" && dnf install -y $BUILD && dnf autoremove -y $BUILD \\
    && dnf clean all && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache
RUN LIBS="lib" && dnf install -y $LIBS && dnf info $LIBS \\
    && dnf clean all && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache
RUN LIB=lib && dnf install -y $LIB && rpm -q --whatrequires $LIB \\
    && dnf clean all && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache
"""


@needs_rpm_tools
def test_a_list_in_a_variable_is_recorded_and_pinned_where_each_use_takes_pins(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(VARIABLE_RUNS)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    found = {(p.name, p.version) for p in stage.packages}
    assert found == {
        ("app", "1.0-1"),
        ("lib", "2.1-1"),
        ("toolpkg", "1.0-1"),
        ("jq", "1.6-15.el9"),
        ("oniguruma", "6.9.6-1.el9.4"),
    }
    text = (env / "Dockerfile").read_text()
    assert text.endswith(PINNED_VARIABLE_RUNS)
    assert run_errors(text) == []
    assert (
        "RUN at line 8: $LIBS (which `dnf info` also reads) names lib; their versions"
        " are recorded in the lock, not written"
    ) in err
    # The command is named by the words before the variable's, not by the variable's value.
    assert "RUN at line 9: $LIB (which `rpm -q --whatrequires` also reads) names lib;" in err
    assert "uses a variable" not in err
    code, _, err = run(capsys, "check", str(env / "Dockerfile"))
    assert code == 0, err
    # A second lock reads the pinned value (name-version-release words) and changes nothing.
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    assert (env / "Dockerfile").read_text() == text
    assert (env / "Dockerfile.lock").read_text() == before


@needs_rpm_tools
def test_a_word_no_repository_serves_is_one_line(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text("FROM centos:stream9\nRUN dnf install -y nosuch\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 1
    assert (
        "Dockerfile:2: nosuch: nothing in the enabled repositories provides it"
        " (baseos, appstream; centos 9 x86_64)"
    ) in err


@needs_rpm_tools
def test_two_words_dnf_cannot_install_together_are_one_line(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    """foo-new obsoletes foo-old: dnf refuses both at once ("conflicting requests")."""
    text = "FROM centos:stream9\nRUN dnf install -y foo-new foo-old-1.0-1\n"
    (env / "Dockerfile").write_text(text)
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 1
    assert (
        "Dockerfile:2: foo-old-1.0-1: foo-new obsoletes foo-old (conflicting requests)"
        " (baseos, appstream; centos 9 x86_64)"
    ) in err
    assert err.strip().splitlines()[1:] == ["1 error(s); nothing written"], err
    assert (env / "Dockerfile").read_text() == text
    assert not (env / "Dockerfile.lock").exists()


def _served(repo: Path) -> dict[str, bytes]:
    files = {}
    for name, root in (("baseos", repo), ("appstream", TESTDATA / "cs9-appstream")):
        for path in (root / "repodata").iterdir():
            files[f"/{name}/repodata/{path.name}"] = path.read_bytes()
    return files


@needs_rpm_tools
def test_update_moves_pins_the_repositories_stopped_serving_and_check_remote_reports_them(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    env: Path,
    tmp_path: Path,
) -> None:
    first = build_repo(BASEOS, tmp_path / "baseos")
    # The same builds, but app 1.0 replaced by 1.1, as a repository that moved on.
    app = next(s for s in BASEOS if s.name == "app")._replace(version="1.1")
    moved = build_repo([app], tmp_path / "baseos-moved")
    for rpm in (first / "Packages").iterdir():
        if not rpm.name.startswith("app-"):
            shutil.copy(rpm, moved / "Packages" / rpm.name)
    subprocess.run(["createrepo_c", "--quiet", "--no-database", str(moved)], check=True)
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM centos:stream9\nRUN dnf install -y app\n")
    registry = ("--registry-mirror", f"docker.io=http://{hub}")
    with Mirror(_served(first)) as mirror:
        mirrors = ("--snapshot-mirror", f"centos={mirror.url}")
        platform = ("--platform", "linux/amd64")
        code, _, err = run(
            capsys, "lock", *registry, *mirrors, *platform, "--pin-versions", str(dockerfile)
        )
        assert code == 0, err
        assert (
            "RUN dnf install -y app-1.0-1 \\\n    && dnf clean all && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache\n"
            in dockerfile.read_text()
        )
        remote = ("check", "--remote", *registry, *mirrors, str(dockerfile))
        assert run(capsys, *remote)[0] == 0

        # The repository moves on: app 1.0 is gone, 1.1 is served.
        mirror.files = _served(moved)
        code, out, _ = run(capsys, *remote)
        assert code == 1
        assert out.splitlines() == [
            f"{env / 'Dockerfile.lock'}: stage 0: app-1.0-1 (x86_64): no longer served by"
            " baseos, appstream (they serve 1.1-1); run pinner update",
        ]
        code, _, err = run(
            capsys, "update", *registry, *mirrors, *platform, "--pin-versions", str(dockerfile)
        )
        assert code == 0, err
        text = dockerfile.read_text()
        assert (
            "RUN dnf install -y app-1.1-1 \\\n    && dnf clean all && rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache\n"
            in text
        )
        assert run_errors(text) == []
        lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
        assert {p.name: p.version for p in lock.stages[0].packages} == {
            "app": "1.1-1",
            "lib": "2.1-1",
            "toolpkg": "1.0-1",
            "weak": "1.0-1",
        }
        assert run(capsys, *remote)[0] == 0


@needs_rpm_tools
def test_an_upper_layer_rpmdb_counts_as_installed(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    repos: Path,
    mirror: Mirror,
    env: Path,
    tmp_path: Path,
) -> None:
    # As a language image: the OS layer, then a layer whose dnf install grew the rpmdb.
    root = tmp_path / "root"
    dnf_install(root, repos, ["glibc", "base", "lib-1.5"])
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/yum.repos.d/c9s.repo": (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes(),
        "var/lib/rpm/rpmdb.sqlite": rpmdb_path(root).read_bytes(),
    }
    base = files_image(files)
    dnf_install(root, repos, ["app"])
    upper = layer_tar([Entry("var/lib/rpm/rpmdb.sqlite", rpmdb_path(root).read_bytes())])
    push(
        HandImage([*base.layers, upper], architecture="amd64"),
        registry,
        "library/centos",
        "layered",
    )
    (env / "Dockerfile").write_text("FROM centos:layered\nRUN dnf install -y app extra\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # app, lib 2.1, toolpkg and weak came with the upper layer: only extra is installed here.
    assert [(p.name, p.version) for p in stage.packages] == [("extra", "2:1.0-1")]


@needs_rpm_tools
@needs_db_load
def test_an_el8_berkeley_db_counts_as_installed(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    repos: Path,
    mirror: Mirror,
    env: Path,
    tmp_path: Path,
) -> None:
    # EL 8 keeps its rpmdb in Berkeley DB: the same installed set, as rpm's bdb backend keeps it.
    root = tmp_path / "root"
    dnf_install(root, repos, ["glibc", "base", "lib-1.5"])
    packages = berkeley_packages(header_blobs(root), tmp_path / "bdb")
    files = {
        "etc/os-release": OS_RELEASE.replace(b'VERSION_ID="9"', b'VERSION_ID="8"'),
        "etc/yum.repos.d/c9s.repo": (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes(),
        "var/lib/rpm/Packages": packages.read_bytes(),
    }
    push(files_image(files), registry, "library/centos", "stream8")
    (env / "Dockerfile").write_text("FROM centos:stream8\nRUN dnf install -y app extra base\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # base is installed (nothing to add for it, nor for extra's need of it); lib 1.5 is too old.
    assert [(p.name, p.version) for p in stage.packages] == [
        ("app", "1.0-1"),
        ("extra", "2:1.0-1"),
        ("lib", "2.1-1"),
        ("toolpkg", "1.0-1"),
        ("weak", "1.0-1"),
    ]
    assert not any("rpmdb" in note for note in stage.notes)


BDB_CUT = "/var/lib/rpm/Packages names 11 pages of 4096 bytes in 20480 bytes"
SQLITE_BAD = "/var/lib/rpm/rpmdb.sqlite: rpmdb is not a readable SQLite database"


@pytest.mark.parametrize(
    ("path", "damage", "why"),
    [
        pytest.param("var/lib/rpm/Packages", "cut", BDB_CUT, id="bdb-cut"),
        pytest.param(
            "var/lib/rpm/rpmdb.sqlite",
            "zeroed",
            f"{SQLITE_BAD} (file is not a database)",
            id="sqlite-header-zeroed",
        ),
        pytest.param(
            "var/lib/rpm/rpmdb.sqlite",
            "no-table",
            "/var/lib/rpm/rpmdb.sqlite: rpmdb has no Packages table",
            id="sqlite-without-packages",
        ),
    ],
)
def test_a_malformed_rpmdb_fails_the_file_naming_line_image_and_database(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    repos: Path,
    mirror: Mirror,
    env: Path,
    tmp_path: Path,
    path: str,
    damage: str,
    why: str,
) -> None:
    # dnf in the build reads this database: pinner cannot say what it would install, so the
    # file fails (exit 1) and neither the Dockerfile nor its lock is written.
    if damage == "cut":
        data = (TESTDATA / "rpmdb" / "Packages").read_bytes()[: 5 * 4096]
    else:
        table = "Packages" if damage == "zeroed" else "Other"
        with sqlite3.connect(tmp_path / "rpmdb.sqlite") as db:
            db.execute(f"CREATE TABLE {table} (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)")
        data = (tmp_path / "rpmdb.sqlite").read_bytes()
        if damage == "zeroed":
            data = bytes(100) + data[100:]
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/yum.repos.d/c9s.repo": (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes(),
        path: data,
    }
    push(files_image(files), registry, "library/centos", damage)
    dockerfile = f"FROM centos:{damage}\nRUN true\nRUN dnf install -y app\n"
    (env / "Dockerfile").write_text(dockerfile)
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 1, err
    where = f"{env / 'Dockerfile'}:3: stage 0: dnf on centos:{damage} (linux/amd64)"
    assert [x for x in err.splitlines() if "rpm database" in x] == [
        f"{where}: the rpm database {why}"
    ]
    assert (env / "Dockerfile").read_text() == dockerfile
    assert not (env / "Dockerfile.lock").exists()


@needs_rpm_tools
@pytest.mark.parametrize(
    ("dnf_conf", "options", "expected"),
    [
        pytest.param(b"[main]\ngpgcheck=1\n", "", "foo-new", id="default-follows-obsoletes"),
        pytest.param(b"[main]\nobsoletes=False\n", "", "foo-old", id="dnf-conf-off"),
        pytest.param(
            b"[main]\nobsoletes=0\n", " --setopt=obsoletes=1", "foo-new", id="command-wins"
        ),
        # dnf reads obsoletes in [main] alone; a repository's own line is ignored.
        pytest.param(b"[main]\n[baseos]\nobsoletes=0\n", "", "foo-new", id="not-a-repo-option"),
    ],
)
def test_dnf_conf_obsoletes(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    dnf_conf: bytes,
    options: str,
    expected: str,
) -> None:
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/dnf/dnf.conf": dnf_conf,
        "etc/yum.repos.d/c9s.repo": (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes(),
    }
    tag = f"obsoletes-{len(dnf_conf)}"
    push(files_image(files), registry, "library/centos", tag)
    (env / "Dockerfile").write_text(f"FROM centos:{tag}\nRUN dnf{options} install -y foo-old\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [p.name for p in stage.packages] == [expected]


@needs_rpm_tools
def test_a_stage_from_a_stage_records_what_each_adds_as_dnf_installs_it(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    repos: Path,
    mirror: Mirror,
    env: Path,
    tmp_path: Path,
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM centos:stream9 AS base\n"
        "RUN dnf install -y --setopt=install_weak_deps=False app\n\n"
        "FROM base\nRUN dnf install -y extra app\n"
    )
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(dockerfile))
    assert code == 0, err
    base, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # dnf itself, on the image's installed set: the first stage's RUN installed for real, the
    # second's asked with --assumeno on what it left.
    root = tmp_path / "root"
    dnf_install(root, repos, ["glibc", "base", "lib-1.5"])
    first = dnf_would_install(root, repos, ["app"], weak_deps=False)
    dnf_install(root, repos, ["app"], "--setopt=install_weak_deps=False")
    second = dnf_would_install(root, repos, ["extra", "app"])
    assert [f"{p.name}-{p.version}.noarch" for p in base.packages] == first
    # The second stage records what dnf adds there, and its word app keeps the first stage's
    # record (the build it builds on; dnf leaves the installed app alone).
    adds = [f"{p.name}-{p.version}.noarch" for p in child.packages if p.name != "app"]
    assert adds == second == ["extra-2:1.0-1.noarch"]
    assert [p for p in child.packages if p.name == "app"] == [base.packages[0]]
    assert [p.name for p in base.packages] == ["app", "lib", "toolpkg"]
    text = dockerfile.read_text()
    assert "RUN dnf install -y extra-2:1.0-1 app-1.0-1" in text
    assert run_errors(text) == []
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err


def test_check_remote_names_a_malformed_rpmdb_of_the_pinned_image(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM centos:stream9\nRUN dnf install -y app\n")
    code, _, err = _lock(capsys, hub, mirror, str(dockerfile))
    assert code == 0, err
    # The same Dockerfile and lock, pinned to an image whose rpmdb is not SQLite.
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/yum.repos.d/c9s.repo": (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes(),
        "var/lib/rpm/rpmdb.sqlite": b"not sqlite",
    }
    bad = push(files_image(files), registry, "library/centos", "notsqlite")
    good = dockerfile.read_text().split("centos:stream9@", 1)[1].split()[0]
    for path in (dockerfile, env / "Dockerfile.lock"):
        path.write_text(path.read_text().replace(good, bad))
    assert run(capsys, "check", str(dockerfile))[0] == 0
    remote = ("--registry-mirror", f"docker.io=http://{hub}", "--snapshot-mirror")
    code, out, _ = run(
        capsys, "check", "--remote", *remote, f"centos={mirror.url}", str(dockerfile)
    )
    assert code == 1
    # (The registry fixture's docker/dockerfile tag may have moved too: other tests push it.)
    assert [line for line in out.splitlines() if "rpm" in line] == [
        f"{env / 'Dockerfile.lock'}: stage 0: linux/amd64: the rpm database"
        " /var/lib/rpm/rpmdb.sqlite: rpmdb is not a readable SQLite database"
        " (file is not a database)"
    ]


# RUN patterns that add or enable repositories before later installs, each reduced from a real
# Dockerfile (the source named per case): the words after the change are recorded as not pinned
# with the reason, never resolved from the image's repositories alone; the words before it are.
# Values: Dockerfile after FROM, {pinned word: version} written by --pin-versions, the words left
# unpinned, the reason's end.
ADDED_REPOS: dict[str, tuple[str, dict[str, str], list[str], str]] = {
    # carlospeon/buildrpm Dockerfile (rockylinux:9): crb, devel and EPEL in the installing RUN.
    "set-enabled-and-epel-in-one-run": (
        "RUN dnf install -y dnf-plugins-core && \\\n"
        "    dnf config-manager --set-enabled crb && \\\n"
        "    dnf install -y app epel-release\n",
        {"dnf-plugins-core": "4.3.0-1"},
        ["app", "epel-release"],
        "this RUN or an earlier one runs dnf config-manager",
    ),
    # jiangti/fedora-go-docker Dockerfile and monofuel/nim-docker Dockerfile.builder: add-repo
    # in its own RUN, then (sudo) dnf/yum install from it.
    "add-repo-then-install": (
        "RUN dnf install -y app\n"
        "RUN dnf config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo\n"
        "RUN sudo dnf install -y docker-ce extra\n",
        {"app": "1.0-1"},
        ["docker-ce", "extra"],
        "this RUN or an earlier one runs dnf config-manager",
    ),
    # A rockylinux:8 Dockerfile of the code corpus: EPEL's release RPM by URL, then installs.
    "epel-release-rpm-url": (
        'RUN dnf -y install "https://dl.fedoraproject.org/pub/epel/epel-release-latest-9.noarch.rpm"\n'
        "RUN dnf --setopt=install_weak_deps=False -y install extra\n",
        {},
        ["extra"],
        "this RUN or an earlier one installs epel-release-latest-9.noarch.rpm, which adds"
        " repositories",
    ),
    # An Oracle Linux 9 install script: curl -o into /etc/yum.repos.d, then dnf install.
    "curl-repo-file": (
        "RUN dnf install -y app\n"
        "RUN curl -fsSLo /etc/yum.repos.d/docker-ce.repo \\\n"
        "        https://download.docker.com/linux/centos/docker-ce.repo && \\\n"
        "    dnf install -y docker-ce extra\n",
        {"app": "1.0-1"},
        ["docker-ce", "extra"],
        "this RUN or an earlier one changes /etc/yum.repos.d/docker-ce.repo",
    ),
    # A rocky-bootc Containerfile and a mongo.repo setup script: the .repo file is copied in.
    "copy-repo-file": (
        "COPY mongo.repo /etc/yum.repos.d/\nRUN dnf install -y extra mongodb-mongosh\n",
        {},
        ["extra", "mongodb-mongosh"],
        "this RUN or an earlier one copies a file to /etc/yum.repos.d/",
    ),
    # A rockylinux:10 Dockerfile: epel-release and EPEL's crb script, then a later install.
    "epel-release-then-crb": (
        "RUN dnf install -y epel-release && crb enable\nRUN dnf install -y app\n",
        {"epel-release": "9-7.el9"},
        ["app"],
        "this RUN or an earlier one installs epel-release, which adds repositories",
    ),
    # Sensu's documentation and a Grafana setup script: a repo file written through tee.
    "tee-repo-file-microdnf": (
        "RUN printf '[sensu]\\nbaseurl=https://example.invalid/yum/\\n' \\\n"
        "    | tee /etc/yum.repos.d/sensu.repo >/dev/null\n"
        "RUN microdnf install -y extra\n",
        {},
        ["extra"],
        "this RUN or an earlier one changes /etc/yum.repos.d/sensu.repo",
    ),
    # A Centreon build script and Remi's instructions: a release RPM through rpm -Uvh.
    "rpm-uvh-release": (
        "RUN dnf install -y app && \\\n"
        "    rpm -Uvh https://rpms.remirepo.net/enterprise/remi-release-9.rpm\n"
        "RUN yum install -y extra\n",
        {"app": "1.0-1"},
        ["extra"],
        "this RUN or an earlier one installs remi-release-9.rpm, which adds repositories",
    ),
    # The commands before the one that changes the repositories read the image's own: in one
    # transaction (the first command) dnf reads the repositories before epel-release lands.
    "epel-release-then-install-in-one-run": (
        "RUN dnf install -y epel-release app && dnf install -y extra\n",
        {"epel-release": "9-7.el9", "app": "1.0-1"},
        ["extra"],
        "this RUN or an earlier one installs epel-release, which adds repositories",
    ),
    # An ENV list naming the release package (as redhat-nfvpe/cni-route-override's
    # `ENV INSTALL_PKGS "git golang"` holds its list): its value is set outside the RUN, so
    # epel-release is recorded, not written, and the install after it is not pinned.
    "env-held-release-package": (
        'ENV REPO_PKGS="epel-release"\n'
        "RUN dnf install -y $REPO_PKGS && dnf install -y extra\n",
        {},
        ["extra"],
        "this RUN or an earlier one installs epel-release, which adds repositories",
    ),
    "sudo-add-repo-between-installs": (
        "RUN sudo dnf install -y app && \\\n"
        "    sudo dnf config-manager --add-repo https://example.invalid/x.repo; \\\n"
        "    sudo dnf install -y extra\n",
        {"app": "1.0-1"},
        ["extra"],
        "this RUN or an earlier one runs dnf config-manager",
    ),
    # Sushrut1101/Docker Dockerfile (FROM fedora): `COPY ./rootfs /`; here the tree holds a
    # .repo file under etc/yum.repos.d, so the words after it are not pinned.
    "copy-rootfs-tree": (
        "RUN dnf install -y app\nCOPY ./rootfs /\nRUN dnf install -y extra\n",
        {"app": "1.0-1"},
        ["extra"],
        "this RUN or an earlier one copies a tree to / that may hold repository files"
        " (`COPY ./rootfs /`)",
    ),
    # Dirk1980ac/nas4ipa Containerfile (fedora-bootc): `COPY etc /etc`.
    "copy-etc-tree": (
        "COPY rootfs/etc /etc\nRUN dnf install -y extra\n",
        {},
        ["extra"],
        "this RUN or an earlier one copies a tree to /etc that may hold repository files"
        " (`COPY rootfs/etc /etc`)",
    ),
    # A tree the build context shows without repository files changes nothing.
    "copy-tree-without-repository-files": (
        "COPY overlay/ /\nWORKDIR /\nCOPY . .\nRUN dnf install -y app\n",
        {"app": "1.0-1"},
        [],
        "",
    ),
    # A reading of the repositories changes nothing (a script that lists their priorities).
    "reading-repo-files-changes-nothing": (
        "RUN cat /etc/yum.repos.d/*.repo && dnf install -y app\n",
        {"app": "1.0-1"},
        [],
        "",
    ),
}  # fmt: skip


@needs_rpm_tools
@pytest.mark.parametrize("case", sorted(ADDED_REPOS))
def test_words_after_a_repository_change_are_not_pinned(
    case: str, capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    body, pins, unpinned, reason = ADDED_REPOS[case]
    dockerfile = env / "Dockerfile"
    (env / "mongo.repo").write_text("[mongo]\nbaseurl=https://example.invalid/\n")
    (env / "rootfs/etc/yum.repos.d").mkdir(parents=True)
    (env / "rootfs/etc/yum.repos.d/extra.repo").write_text("[extra]\nbaseurl=https://x.invalid/\n")
    (env / "overlay/etc").mkdir(parents=True)
    (env / "overlay/etc/motd").write_text("hello\n")
    dockerfile.write_text(f"FROM centos:stream9\n{body}")
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(dockerfile))
    assert code == 0, err
    text = dockerfile.read_text()
    assert run_errors(text) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    versions = {p.name: p.version for p in stage.packages}
    for name, version in pins.items():
        assert versions[name] == version
        assert f"{name}-{version}" in text
    assert sorted(u.name for u in stage.unpinned) == unpinned
    assert {u.reason for u in stage.unpinned} == ({f"not pinned: {reason}"} if reason else set())
    # No word after the change is pinned in the text, and nothing it may need is recorded.
    assert not set(unpinned) & set(versions)
    assert "extra-2:" not in text
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err
    before = dockerfile.read_text(), (env / "Dockerfile.lock").read_text()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(dockerfile))
    assert code == 0, err
    assert (dockerfile.read_text(), (env / "Dockerfile.lock").read_text()) == before


@needs_rpm_tools
@pytest.mark.parametrize("ignored", [True, False], ids=["ignored", "not-ignored"])
def test_repo_files_the_ignore_file_leaves_out_of_the_context_change_nothing(
    ignored: bool, capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    # A common .dockerignore line: the .repo files of a developer's machine stay out of the build.
    (env / "rootfs/etc/yum.repos.d").mkdir(parents=True)
    (env / "rootfs/etc/yum.repos.d/local.repo").write_text("[local]\nbaseurl=file:///srv/\n")
    (env / "rootfs/etc/motd").write_text("hello\n")
    if ignored:
        (env / ".dockerignore").write_text("# local mirrors\n**/*.repo\n")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM centos:stream9\nCOPY ./rootfs /\nRUN dnf install -y app\n")
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(dockerfile))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    if ignored:
        assert {p.name: p.version for p in stage.packages}["app"] == "1.0-1"
        assert stage.unpinned == ()
        assert "RUN dnf install -y app-1.0-1 " in dockerfile.read_text()
    else:
        assert stage.packages == ()
        why = "copies a tree to / that may hold repository files (`COPY ./rootfs /`)"
        assert stage.unpinned == (
            lockfile.UnpinnedPackage("app", f"not pinned: this RUN or an earlier one {why}"),
        )
    assert run_errors(dockerfile.read_text()) == []


@needs_rpm_tools
def test_a_repository_change_in_the_parent_stage_unpins_the_child_words(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM centos:stream9 AS base\nRUN dnf install -y epel-release\n\n"
        "FROM base\nRUN dnf install -y extra\n"
    )
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(dockerfile))
    assert code == 0, err
    _, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [(u.name, u.reason) for u in child.unpinned] == [
        ("extra", "not pinned: an earlier stage installs epel-release, which adds repositories")
    ]
    assert child.packages == ()
    assert run_errors(dockerfile.read_text()) == []


@contextlib.contextmanager
def _prio_served(mirror: Mirror, tmp_path: Path) -> Iterator[None]:
    """A repository [prio] serving toolpkg 0.9 at mirror.url/prio/ while the block runs."""
    prio = build_repo([Spec("toolpkg", "0.9", files=("/usr/bin/tool",))], tmp_path / "prio")
    served = {f"/prio/repodata/{p.name}": p.read_bytes() for p in (prio / "repodata").iterdir()}
    mirror.files.update(served)
    try:
        yield
    finally:
        for path in served:
            del mirror.files[path]


def _prio_image(mirror: Mirror, settings: str) -> HandImage:
    """A CentOS Stream 9 image whose prio.repo names [prio] with settings (`priority=10\\n`)."""
    prio_repo = f"[prio]\nbaseurl={mirror.url}/prio/\ngpgcheck=0\n{settings}"
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/yum.repos.d/c9s.repo": (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes(),
        "etc/yum.repos.d/prio.repo": prio_repo.encode(),
    }
    return files_image(files)


@needs_rpm_tools
def test_a_repository_of_better_priority_wins_over_a_newer_build(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    tmp_path: Path,
) -> None:
    # dnf takes toolpkg 0.9 from [prio] (priority 10) over baseos's 1.0 (priority 99).
    with _prio_served(mirror, tmp_path):
        push(_prio_image(mirror, "priority=10\n"), registry, "library/centos", "priority")
        (env / "Dockerfile").write_text("FROM centos:priority\nRUN dnf install -y toolpkg\n")
        code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
        assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [(p.name, p.version) for p in stage.packages] == [("toolpkg", "0.9-1")]


@needs_rpm_tools
def test_a_priority_the_command_sets_is_weighed_and_a_bad_one_is_one_line(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    tmp_path: Path,
) -> None:
    # [prio] has dnf's default priority; the command gives it 10, so dnf takes toolpkg 0.9.
    with _prio_served(mirror, tmp_path):
        push(_prio_image(mirror, ""), registry, "library/centos", "setopt-priority")
        run = "RUN dnf install -y --setopt=prio.priority=10 toolpkg\n"
        (env / "Dockerfile").write_text(f"FROM centos:setopt-priority\n{run}")
        code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
        assert code == 0, err
        (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
        assert [(p.name, p.version) for p in stage.packages] == [("toolpkg", "0.9-1")]
        # dnf refuses a value that is not a number ("Error parsing --setopt ...").
        text = (
            "FROM centos:setopt-priority\nRUN dnf install -y --setopt=prio.priority=ten toolpkg\n"
        )
        (env / "Dockerfile").write_text(text)
        (env / "Dockerfile.lock").unlink()
        code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 1
    assert (
        "Dockerfile:2: --setopt=prio.priority=ten: not a number, so dnf refuses the command\n"
    ) in err
    assert not (env / "Dockerfile.lock").exists()


@needs_rpm_tools
@pytest.mark.parametrize("options", ["", " --nobest"])
def test_one_command_naming_two_builds_with_best_on_is_one_line(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    options: str,
) -> None:
    """RHEL and UBI set best=True in dnf.conf: dnf refuses `lib lib-1.5-1` (lib's best build
    is 2.1), and takes 1.5 with --nobest."""
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/dnf/dnf.conf": b"[main]\ngpgcheck=1\nbest=True\n",
        "etc/yum.repos.d/c9s.repo": (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes(),
    }
    push(files_image(files), registry, "library/centos", "best")
    text = f"FROM centos:best\nRUN dnf install -y{options} \\\n    lib lib-1.5-1\n"
    (env / "Dockerfile").write_text(text)
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    if options:
        assert code == 0, err
        (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
        assert [(p.name, p.version) for p in stage.packages] == [("lib", "1.5-1")]
        return
    assert code == 1
    assert err.strip().splitlines() == [
        f"{env / 'Dockerfile'}:3: lib lib-1.5-1: one dnf command asks for two builds of one"
        " package (best is on: each word's best build); dnf refuses it (cannot install both)",
        "1 error(s); nothing written",
    ], err
    assert (env / "Dockerfile").read_text() == text
    assert not (env / "Dockerfile.lock").exists()


def _fedora(version: str) -> bytes:
    return f'NAME="Fedora Linux"\nID=fedora\nVERSION_ID={version}\n'.encode()


BEST_OFF = b"[main]\nbest=False\n"


@needs_rpm_tools
@pytest.mark.parametrize(
    ("os_release", "program", "extra", "refused"),
    [
        # dnf 4 and libdnf's microdnf: best is off unless dnf.conf says so.
        pytest.param(_fedora("40"), "dnf", {}, False, id="fedora-40-dnf4"),
        pytest.param(OS_RELEASE, "microdnf", {}, False, id="el9-microdnf-libdnf"),
        # dnf5 (libdnf5's ConfigMain): on by default; dnf and yum are dnf5 from Fedora 41,
        # microdnf from 38.
        pytest.param(_fedora("40"), "dnf5", {}, True, id="fedora-40-dnf5"),
        pytest.param(_fedora("41"), "dnf", {}, True, id="fedora-41-dnf-is-dnf5"),
        pytest.param(_fedora("38"), "microdnf", {}, True, id="fedora-38-microdnf-is-dnf5"),
        pytest.param(
            _fedora("41"), "dnf", {"etc/dnf/dnf.conf": BEST_OFF}, False, id="dnf5-dnf-conf-off"
        ),
        # dnf5's drop-ins, which dnf.conf overrides and dnf 4 does not read.
        pytest.param(
            _fedora("41"),
            "dnf",
            {"usr/share/dnf5/libdnf.conf.d/20-best.conf": BEST_OFF},
            False,
            id="dnf5-vendor-drop-in",
        ),
        pytest.param(
            _fedora("41"),
            "dnf",
            {
                "usr/share/dnf5/libdnf.conf.d/20-best.conf": BEST_OFF,
                "etc/dnf/libdnf5.conf.d/20-best.conf": b"[main]\n",
            },
            True,
            id="dnf5-etc-drop-in-hides-the-vendor-one",
        ),
        pytest.param(
            _fedora("41"),
            "dnf",
            {
                "etc/dnf/libdnf5.conf.d/20-best.conf": BEST_OFF,
                "etc/dnf/dnf.conf": b"[main]\nbest=True\n",
            },
            True,
            id="dnf5-dnf-conf-wins",
        ),
        pytest.param(
            _fedora("40"),
            "dnf",
            {"etc/dnf/libdnf5.conf.d/20-best.conf": b"[main]\nbest=True\n"},
            False,
            id="dnf4-reads-no-drop-in",
        ),
    ],
)
def test_best_as_the_program_the_run_names_reads_it(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    os_release: bytes,
    program: str,
    extra: dict[str, bytes],
    refused: bool,
) -> None:
    """`lib lib-1.5-1` in one command: refused with best on (lib's best build is 2.1), lib
    1.5-1 with it off."""
    files = {
        "etc/os-release": os_release,
        "etc/yum.repos.d/local.repo": f"[baseos]\nbaseurl={mirror.url}/baseos/\ngpgcheck=0\n".encode(),
        **extra,
    }
    tag = f"best-{abs(hash((os_release, program, tuple(sorted(extra.items()))))):x}"
    push(files_image(files), registry, "library/fedora", tag)
    text = f"FROM fedora:{tag}\nRUN {program} install -y lib lib-1.5-1\n"
    (env / "Dockerfile").write_text(text)
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    if not refused:
        assert code == 0, err
        (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
        assert [(p.name, p.version) for p in stage.packages] == [("lib", "1.5-1")]
        return
    assert code == 1, err
    assert "(best is on: each word's best build)" in err, err
    assert (env / "Dockerfile").read_text() == text


@needs_rpm_tools
@pytest.mark.parametrize(("version", "weighed"), [("41", False), ("40", True)])
def test_a_dnf5_drop_in_decides_weak_dependencies_for_dnf5_alone(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    version: str,
    weighed: bool,
) -> None:
    """/etc/dnf/libdnf5.conf.d/ is dnf5's (Fedora 41's dnf); dnf 4 (Fedora 40's) does not read it."""
    files = {
        "etc/os-release": _fedora(version),
        "etc/yum.repos.d/local.repo": f"[baseos]\nbaseurl={mirror.url}/baseos/\ngpgcheck=0\n".encode(),
        "etc/dnf/libdnf5.conf.d/20-weak.conf": b"[main]\ninstall_weak_deps=False\n",
    }
    push(files_image(files), registry, "library/fedora", f"weak-{version}")
    (env / "Dockerfile").write_text(f"FROM fedora:weak-{version}\nRUN dnf install -y app\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # app recommends weak.
    assert ("weak" in {p.name for p in stage.packages}) == weighed


@needs_rpm_tools
@pytest.mark.parametrize(("version", "enabled"), [("41", True), ("40", False)])
def test_a_dnf5_repository_override_is_read_by_dnf5_alone(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    version: str,
    enabled: bool,
) -> None:
    """/etc/dnf/repos.override.d/ (what `dnf5 config-manager setopt` writes) is dnf5's (Fedora
    41's dnf): it enables the repository the .repo file disables; dnf 4 (Fedora 40's) does not
    read it."""
    repo = f"[baseos]\nbaseurl={mirror.url}/baseos/\ngpgcheck=0\nenabled=0\n"
    files = {
        "etc/os-release": _fedora(version),
        "etc/yum.repos.d/local.repo": repo.encode(),
        "etc/dnf/repos.override.d/99-config_manager.repo": b"[base*]\nenabled=1\n",
    }
    push(files_image(files), registry, "library/fedora", f"override-{version}")
    (env / "Dockerfile").write_text(f"FROM fedora:override-{version}\nRUN dnf install -y toolpkg\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert (code == 0) is enabled, err
    if not enabled:
        assert "toolpkg: nothing in the enabled repositories provides it (none enabled" in err
        return
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [(p.name, p.version) for p in stage.packages] == [("toolpkg", "1.0-1")]


@needs_rpm_tools
@pytest.mark.parametrize(("version", "locked"), [("41", "1.5-1"), ("40", "2.1-1")])
def test_a_dnf5_repository_override_s_excludes_hide_packages_from_dnf5_alone(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    version: str,
    locked: str,
) -> None:
    """An override's excludepkgs add to the repository's own for dnf5 (Fedora 41's dnf): lib
    2.1 is hidden and 1.5 is taken; dnf 4 (Fedora 40's) takes 2.1."""
    repo = f"[baseos]\nbaseurl={mirror.url}/baseos/\ngpgcheck=0\nexcludepkgs=nothing-*\n"
    files = {
        "etc/os-release": _fedora(version),
        "etc/yum.repos.d/local.repo": repo.encode(),
        "etc/dnf/repos.override.d/50-lib.repo": b"[base*]\nexcludepkgs=lib-2*\n",
    }
    push(files_image(files), registry, "library/fedora", f"override-x-{version}")
    (env / "Dockerfile").write_text(f"FROM fedora:override-x-{version}\nRUN dnf install -y lib\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [(p.name, p.version) for p in stage.packages] == [("lib", locked)]


PLUGIN_LOCKS = {
    "etc/dnf/plugins/versionlock.conf": b"[main]\nenabled=1\nlocklist=/etc/dnf/plugins/versionlock.list\n",
    "etc/dnf/plugins/versionlock.list": b"# Added lock on Mon Jan  1\nlib-0:1.5-1.*\n",
}
DNF5_LOCKS = {
    "etc/dnf/versionlock.toml": b'version = "1.0"\n[[packages]]\nname = "lib"\n'
    b'[[packages.conditions]]\nkey = "evr"\ncomparator = "="\nvalue = "1.5-1"\n',
}


@needs_rpm_tools
@pytest.mark.parametrize(
    ("version", "program", "locks", "held"),
    [
        ("40", "dnf", PLUGIN_LOCKS, True),
        ("40", "dnf", {**PLUGIN_LOCKS, "etc/dnf/dnf.conf": b"[main]\nplugins=0\n"}, False),
        ("40", "microdnf", PLUGIN_LOCKS, False),
        ("40", "dnf", DNF5_LOCKS, False),
        ("41", "dnf", DNF5_LOCKS, True),
        ("41", "dnf", PLUGIN_LOCKS, False),
    ],
    ids=["plugin", "plugins-off", "microdnf-no-plugins", "toml-dnf4", "toml-dnf5", "plugin-dnf5"],
)
def test_words_a_version_lock_may_hold_back_are_not_pinned(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    version: str,
    program: str,
    locks: dict[str, bytes],
    held: bool,
) -> None:
    """A lock on lib (dnf 4's versionlock plugin, or dnf5's versionlock.toml) makes dnf take
    lib 1.5, not 2.1, and refuse app (which needs lib >= 2.0): pinner does not follow the lock,
    so the word lib and the command installing app are left unpinned; toolpkg is pinned."""
    files = {
        "etc/os-release": _fedora(version),
        "etc/yum.repos.d/local.repo": f"[baseos]\nbaseurl={mirror.url}/baseos/\ngpgcheck=0\n".encode(),
        **locks,
    }
    tag = f"vlock-{version}-{program}-{len(locks)}-{held}"
    push(files_image(files), registry, "library/fedora", tag)
    (env / "Dockerfile").write_text(
        f"FROM fedora:{tag}\nRUN {program} install -y lib toolpkg && {program} install -y app\n"
    )
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    names = [p.name for p in stage.packages]
    if not held:
        assert (stage.unpinned, names) == ((), ["app", "lib", "toolpkg", "weak"]), stage
        return
    path = "/etc/dnf/versionlock.toml" if version == "41" else "/etc/dnf/plugins/versionlock.list"
    reason = f"not pinned: {path} may lock its version (dnf's versionlock is not followed)"
    assert [(u.name, u.reason) for u in stage.unpinned] == [("app", reason), ("lib", reason)]
    assert names == ["toolpkg"]
    assert any(
        note.startswith(f"{path}: dnf's version locks are not followed") for note in stage.notes
    )


@needs_rpm_tools
def test_a_dnf5_run_is_locked_and_cleaned_as_dnf5(
    capsys: pytest.CaptureFixture[str], registry: Registry, hub: str, mirror: Mirror, env: Path
) -> None:
    files = {
        "etc/os-release": _fedora("40"),
        "etc/yum.repos.d/local.repo": f"[baseos]\nbaseurl={mirror.url}/baseos/\ngpgcheck=0\n".encode(),
    }
    push(files_image(files), registry, "library/fedora", "dnf5-run")
    (env / "Dockerfile").write_text("FROM fedora:dnf5-run\nRUN dnf5 install -y toolpkg\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    text = (env / "Dockerfile").read_text()
    assert "RUN dnf5 install -y toolpkg \\\n    && dnf5 clean all && rm -rf " in text, text
    assert run_errors(text) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert (stage.package_manager, [(p.name, p.version) for p in stage.packages]) == (
        "dnf",
        [("toolpkg", "1.0-1")],
    )


@needs_rpm_tools
def test_a_run_whose_cache_a_later_cacheonly_run_reads_keeps_it(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    env: Path,
    tmp_path: Path,
) -> None:
    repo = build_repo(BASEOS, tmp_path / "baseos")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM centos:stream9 AS base\nRUN dnf install -y app\n"
        "FROM base\nRUN dnf -C install -y toolpkg\n"
    )
    with Mirror(_served(repo)) as mirror:
        code, _, err = run(
            capsys,
            "lock",
            "--registry-mirror",
            f"docker.io=http://{hub}",
            "--snapshot-mirror",
            f"centos={mirror.url}",
            "--platform",
            "linux/amd64",
            str(dockerfile),
        )
    assert code == 0, err
    text = dockerfile.read_text()
    left = "rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache"
    # The cache stays for the -C RUN of the stage FROM it; the history and logs go.
    assert f"RUN dnf install -y app \\\n    && {left}\n" in text
    assert f"RUN dnf -C install -y toolpkg \\\n    && dnf clean all && {left}\n" in text
    assert "a later RUN reads only dnf's cache (-C, --cacheonly or a cacheonly setting)" in err
    assert run_errors(text) == []


@needs_rpm_tools
@pytest.mark.parametrize(("version", "dnf5"), [("41", True), ("40", False)])
def test_a_repository_in_dnf5_s_own_folder_is_read_and_checked_for_dnf5_alone(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    mirror: Mirror,
    env: Path,
    version: str,
    dnf5: bool,
) -> None:
    """/usr/share/dnf5/repos.d is read by dnf5 (Fedora 41's dnf) alone, and `check --remote`
    finds the packages lock took from it still served; dnf 4 (Fedora 40's) does not read it."""
    repo = f"[baseos]\nbaseurl={mirror.url}/baseos/\ngpgcheck=0\n"
    files = {
        "etc/os-release": _fedora(version),
        "usr/share/dnf5/repos.d/local.repo": repo.encode(),
    }
    push(files_image(files), registry, "library/fedora", f"dnf5-dir-{version}")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(f"FROM fedora:dnf5-dir-{version}\nRUN dnf install -y toolpkg\n")
    code, _, err = _lock(capsys, hub, mirror, str(dockerfile))
    assert (code == 0) is dnf5, err
    if not dnf5:
        assert "toolpkg: nothing in the enabled repositories provides it (none enabled" in err
        return
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [(p.name, p.version) for p in stage.packages] == [("toolpkg", "1.0-1")]
    registry_mirror = ("--registry-mirror", f"docker.io=http://{hub}")
    code, out, err = run(capsys, "check", "--remote", *registry_mirror, str(dockerfile))
    assert (code, out) == (0, ""), err
