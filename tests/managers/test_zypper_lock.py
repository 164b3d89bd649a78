"""`pinner lock`, `check` and `update` on zypper stages: an openSUSE Tumbleweed-like image in the
test registry and a stand-in download.opensuse.org/history whose repodata createrepo_c made from
RPMs rpmbuild built.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli import run
from handmade import Entry, HandImage, layer_tar, push
from registryd import Registry, push_image
from rpmrepo import Spec, build_repo, dnf_install, header_blobs, ndb_packages, needs_rpm_tools
from shell_syntax import run_errors
from stand_in import Mirror, files_image, pinner_at

from pinner import lockfile

OS_RELEASE = b'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nVERSION_ID="20261125"\n'
REPO_OSS = b"""[repo-oss]
name=openSUSE-Tumbleweed-Oss
enabled=1
autorefresh=1
baseurl=http://download.opensuse.org/tumbleweed/repo/oss/
path=/
type=rpm-md
keeppackages=0
"""
REPO_UPDATE = b"""[repo-update]
name=openSUSE-Tumbleweed-Update
enabled=1
autorefresh=1
baseurl=http://download.opensuse.org/update/tumbleweed/
path=/
type=rpm-md
keeppackages=0
"""
# libcurl4 recommends ca-certificates: `--no-recommends` leaves it out, as zypper does.
SNAPSHOTS = {
    "20261128": [
        Spec("curl", "8.10.1", requires=("libcurl4",)),
        Spec("libcurl4", "8.10.1", recommends=("ca-certificates",)),
        Spec("ca-certificates", "2024.1"),
    ],
    "20261208": [
        Spec("curl", "8.11.0", requires=("libcurl4",)),
        Spec("libcurl4", "8.11.0", recommends=("ca-certificates",)),
        Spec("ca-certificates", "2024.2"),
    ],
}
DOCKERFILE = """\
FROM opensuse/tumbleweed
RUN zypper --non-interactive install --no-recommends curl
"""


def tumbleweed_image(extra: dict[str, bytes] | None = None) -> HandImage:
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/zypp/repos.d/repo-oss.repo": REPO_OSS,
        "etc/zypp/repos.d/repo-update.repo": REPO_UPDATE,
        **(extra or {}),
    }
    return files_image(files)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    if shutil.which("rpmbuild") is None or shutil.which("createrepo_c") is None:
        pytest.skip("needs rpmbuild and createrepo_c")
    root = tmp_path_factory.mktemp("opensuse")
    for date, specs in SNAPSHOTS.items():
        build_repo(specs, root / "history" / date / "tumbleweed" / "repo" / "oss")
    (root / "history" / "list").write_text("20261120\n" + "\n".join(SNAPSHOTS) + "\n")
    with Mirror(root=root) as served:
        yield served


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    push(tumbleweed_image(), registry, "opensuse/tumbleweed", "latest")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _pinner(
    capsys: pytest.CaptureFixture[str], hub: str, history: Mirror, *args: str
) -> tuple[int, str, str]:
    return pinner_at(capsys, hub, f"opensuse={history.url}/history", "linux/amd64", *args)


def test_tumbleweed_lock_check_update(
    capsys: pytest.CaptureFixture[str], hub: str, history: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    code, _, err = _pinner(
        capsys, hub, history, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    text = dockerfile.read_text()
    step = (
        "# pinner: zypper snapshot 20261201T101500Z\n"
        "RUN sed -i 's#^baseurl=http://download.opensuse.org/tumbleweed/#"
        f"baseurl={history.url}/history/20261128/tumbleweed/#'"
        " /etc/zypp/repos.d/repo-oss.repo\n"
        "RUN zypper --non-interactive install --no-recommends curl \\\n"
        "    && zypper clean -a && rm -rf /var/log/zypp* /var/lib/zypp/AnonymousUniqueId /var/cache/ldconfig/aux-cache\n"
    )
    assert step in text
    assert run_errors(text) == []
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    (stage,) = lock.stages
    assert (stage.package_manager, stage.distro, stage.snapshot) == (
        "zypper",
        "opensuse-tumbleweed",
        "20261201T101500Z",
    )
    assert {p.name: p.version for p in stage.packages} == {
        "curl": "8.10.1-1",
        "libcurl4": "8.10.1-1",
    }
    assert "repository repo-update is not in the history; it is not pinned" in stage.notes
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err

    code, _, err = _pinner(
        capsys, hub, history, "update", "--snapshot", "20261210T000000Z", str(dockerfile)
    )
    assert code == 0, err
    updated = dockerfile.read_text()
    assert f"baseurl={history.url}/history/20261208/tumbleweed/#'" in updated
    assert updated.count("# pinner: zypper snapshot") == 1
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    assert {p.name: p.version for p in lock.stages[0].packages}["curl"] == "8.11.0-1"


LEAP_RELEASE = b'NAME="openSUSE Leap"\nID="opensuse-leap"\nVERSION_ID="15.6"\n'
LEAP_OSS = REPO_OSS.replace(b"tumbleweed/repo/oss/", b"distribution/leap/$releasever/repo/oss/")


def test_leap_is_pinned_by_versions(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    history: Mirror,
    env: Path,
) -> None:
    files = {
        "etc/os-release": LEAP_RELEASE,
        "etc/zypp/repos.d/repo-oss.repo": LEAP_OSS.replace(b"$releasever", b"15.6"),
    }
    push(files_image(files), registry, "opensuse/leap", "15.6")
    push_image(registry, "docker/dockerfile", "1.23")
    leap = history.root / "distribution" / "leap" / "15.6" / "repo" / "oss"
    if not leap.exists():
        build_repo(SNAPSHOTS["20261208"], leap)
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM opensuse/leap:15.6\nRUN zypper -n in -y curl && zypper clean -a\n")
    code, _, err = pinner_at(
        capsys,
        registry.host,
        f"opensuse={history.url}",
        "linux/amd64",
        "lock",
        "--pin-versions",
        str(dockerfile),
    )
    assert code == 0, err
    text = dockerfile.read_text()
    assert (
        "RUN zypper -n in -y curl=8.11.0-1 && zypper clean -a \\\n"
        "    && rm -rf /var/log/zypp* /var/lib/zypp/AnonymousUniqueId /var/cache/ldconfig/aux-cache\n"
    ) in text
    assert "# pinner: zypper snapshot" not in text
    assert run_errors(text) == []
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    assert lock.stages[0].snapshot is None
    assert "pinned, not rebuildable once the branch moves on" in lock.stages[0].notes
    # Without --no-recommends zypper installs what libcurl4 recommends.
    assert {p.name for p in lock.stages[0].packages} == {"curl", "libcurl4", "ca-certificates"}


@needs_rpm_tools
def test_tumbleweed_ndb_rpmdb_counts_as_installed(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    history: Mirror,
    env: Path,
    tmp_path: Path,
) -> None:
    # The image already has libcurl4 8.10.1, in rpm's ndb database as openSUSE keeps it.
    root = tmp_path / "root"
    oss = history.root / "history" / "20261128" / "tumbleweed" / "repo" / "oss"
    dnf_install(root, oss, ["libcurl4"])
    rpmdb = ndb_packages(list(header_blobs(root).values()))
    image = tumbleweed_image({"usr/lib/sysimage/rpm/Packages.db": rpmdb})
    push(image, registry, "opensuse/tumbleweed", "ndb")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM opensuse/tumbleweed:ndb\nRUN zypper --non-interactive install curl libcurl4\n"
    )
    code, _, err = _pinner(
        capsys, hub, history, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # libcurl4 is installed at the snapshot's version: nothing to add for the word or for curl.
    assert {p.name: p.version for p in stage.packages} == {"curl": "8.10.1-1"}
    assert not any("rpm database" in note for note in stage.notes)

    code, _, err = _pinner(
        capsys, hub, history, "update", "--snapshot", "20261210T000000Z", str(dockerfile)
    )
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # zypper install updates a named package that is installed older; curl's need of libcurl4
    # alone would not have.
    assert {p.name: p.version for p in stage.packages} == {
        "curl": "8.11.0-1",
        "libcurl4": "8.11.0-1",
    }


def test_a_malformed_ndb_rpmdb_fails_the_file(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    history: Mirror,
    env: Path,
) -> None:
    # zypper in the build reads this database: one line, exit 1, nothing written.
    image = tumbleweed_image({"usr/lib/sysimage/rpm/Packages.db": b"\0" * 64})
    push(image, registry, "opensuse/tumbleweed", "badndb")
    dockerfile = env / "Dockerfile"
    text = "FROM opensuse/tumbleweed:badndb\nRUN zypper --non-interactive install curl\n"
    dockerfile.write_text(text)
    code, _, err = _pinner(
        capsys, hub, history, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 1, err
    assert [x for x in err.splitlines() if "rpm database" in x] == [
        f"{dockerfile}:2: stage 0: zypper on opensuse/tumbleweed:badndb (linux/amd64):"
        " the rpm database /usr/lib/sysimage/rpm/Packages.db is not an rpm ndb database"
    ]
    assert dockerfile.read_text() == text
    assert not (env / "Dockerfile.lock").exists()


ONLY_REQUIRES = b"[main]\nsolver.onlyRequires = true\n"


@pytest.mark.parametrize(
    ("conf", "flag", "weighed"),
    [
        pytest.param(ONLY_REQUIRES, "", False, id="only-requires"),
        pytest.param(b"[main]\nsolver.onlyRequires = false\n", "", True, id="recommends"),
        pytest.param(ONLY_REQUIRES, " --recommends", True, id="command-wins"),
    ],
)
def test_an_upper_layer_zypp_conf_decides_recommends(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    history: Mirror,
    env: Path,
    conf: bytes,
    flag: str,
    weighed: bool,
) -> None:
    # As Tumbleweed's image ships it, a zypp.conf.d drop-in, here in a layer above the OS one.
    path = "usr/etc/zypp/zypp.conf.d/no-recommends.conf"
    base = tumbleweed_image()
    upper = layer_tar([Entry("usr/etc/zypp/zypp.conf.d", kind="dir"), Entry(path, conf)])
    tag = "only" if conf == ONLY_REQUIRES else "weak"
    push(HandImage([*base.layers, upper], architecture="amd64"), registry, "opensuse/tw", tag)
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        f"FROM opensuse/tw:{tag}\nRUN zypper --non-interactive install{flag} curl\n"
    )
    code, _, err = _pinner(
        capsys, hub, history, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # libcurl4 recommends ca-certificates.
    names = {p.name for p in stage.packages}
    assert names == {"curl", "libcurl4"} | ({"ca-certificates"} if weighed else set())
    left_out = f"recommended packages left out, as /{path} says"
    assert (left_out in stage.notes) == (not weighed)


def test_a_stage_from_a_stage_records_only_what_it_adds(
    capsys: pytest.CaptureFixture[str], hub: str, history: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM opensuse/tumbleweed AS base\n"
        "RUN zypper --non-interactive install --no-recommends libcurl4\n\n"
        "FROM base\nRUN zypper --non-interactive install curl libcurl4\n"
    )
    code, _, err = _pinner(
        capsys, hub, history, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    text = dockerfile.read_text()
    # One step, in the first stage: the second builds on it.
    assert text.count("sed -i") == 1
    assert run_errors(text) == []
    base, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [(p.name, p.version) for p in base.packages] == [("libcurl4", "8.10.1-1")]
    # The second adds curl; its word libcurl4 keeps the first stage's record, and libcurl4's
    # Recommends (ca-certificates) are not weighed again: the first stage installed it without.
    assert [(p.name, p.version) for p in child.packages] == [
        ("curl", "8.10.1-1"),
        ("libcurl4", "8.10.1-1"),
    ]
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(
            "RUN zypper -n ar -f https://download.opensuse.org/repositories/devel:/tools/"
            "openSUSE_Tumbleweed/ devel-tools \\\n    && zypper -n in ca-certificates\n",
            "this RUN or an earlier one runs zypper addrepo",
            id="addrepo",
        ),
        # The command before addrepo in its RUN reads the snapshot still: libcurl4 is pinned.
        pytest.param(
            "RUN zypper -n in --no-recommends libcurl4 \\\n"
            "    && zypper -n ar -f https://download.opensuse.org/repositories/devel:/tools/"
            "openSUSE_Tumbleweed/ devel-tools \\\n    && zypper -n in ca-certificates\n",
            "this RUN or an earlier one runs zypper addrepo",
            id="install-addrepo-install",
        ),
        pytest.param(
            "COPY devel-tools.repo /etc/zypp/repos.d/\nRUN zypper -n in ca-certificates\n",
            "this RUN or an earlier one copies a file to /etc/zypp/repos.d/",
            id="copy-repo-file",
        ),
        # A tree whose etc/zypp/repos.d holds a .repo file, copied to / (`COPY rootfs/ /`).
        pytest.param(
            "COPY rootfs/ /\nRUN zypper -n in ca-certificates\n",
            "this RUN or an earlier one copies a tree to / that may hold repository files"
            " (`COPY rootfs/ /`)",
            id="copy-rootfs-tree",
        ),
    ],
)
def test_words_after_a_repository_change_are_not_pinned(
    change: str,
    reason: str,
    capsys: pytest.CaptureFixture[str],
    hub: str,
    history: Mirror,
    env: Path,
) -> None:
    dockerfile = env / "Dockerfile"
    (env / "devel-tools.repo").write_text("[devel-tools]\nbaseurl=https://example.invalid/\n")
    (env / "rootfs/etc/zypp/repos.d").mkdir(parents=True)
    (env / "rootfs/etc/zypp/repos.d/devel-tools.repo").write_text("[devel-tools]\n")
    dockerfile.write_text(f"{DOCKERFILE}{change}")
    args = ("lock", "--snapshot", "20261201T101500Z", str(dockerfile))
    code, _, err = _pinner(capsys, hub, history, *args)
    assert code == 0, err
    text = dockerfile.read_text()
    assert run_errors(text) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # curl, before the change, from the snapshot; ca-certificates after it, not resolved.
    assert {p.name: p.version for p in stage.packages} == {
        "curl": "8.10.1-1",
        "libcurl4": "8.10.1-1",
    }
    assert [(u.name, u.reason) for u in stage.unpinned] == [
        ("ca-certificates", f"not pinned: {reason}")
    ]
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err
    before = text, (env / "Dockerfile.lock").read_text()
    code, _, err = _pinner(capsys, hub, history, *args)
    assert code == 0, err
    assert (dockerfile.read_text(), (env / "Dockerfile.lock").read_text()) == before


NO_RECOMMENDS = b"[solver]\ninstallRecommends = no\n"
ABSENT = (
    ": the base image has no such file, and the one the build reads decides by its"
    " installRecommends what the command installs"
)


@pytest.mark.parametrize(
    ("files", "run_line", "weighed", "unpinned"),
    [
        # zypper reads that file in place of zypper.conf: its installRecommends decides.
        pytest.param(
            {"etc/zypp/build.conf": NO_RECOMMENDS},
            "RUN zypper --config /etc/zypp/build.conf -n in libcurl4\n",
            False,
            None,
            id="config-file",
        ),
        # ... and /etc/zypp/zypper.conf is not read then: zypp.conf's default weighs them.
        pytest.param(
            {"etc/zypp/zypper.conf": NO_RECOMMENDS, "etc/zypp/build.conf": b"[main]\n"},
            "RUN zypper -n -c /etc/zypp/build.conf in libcurl4\n",
            True,
            None,
            id="in-place-of-zypper-conf",
        ),
        pytest.param(
            {"etc/zypp/zypper.conf": NO_RECOMMENDS},
            "RUN zypper -n --config=/etc/zypp/zypper.conf in libcurl4\n",
            False,
            None,
            id="the-default-file-named",
        ),
        # A file the base image lacks: a COPY before the RUN may add it.
        pytest.param(
            {},
            "RUN zypper --config /etc/zypp/build.conf -n in libcurl4\n",
            None,
            f"zypper --config /etc/zypp/build.conf{ABSENT}",
            id="absent",
        ),
        pytest.param(
            {},
            "RUN zypper -n -c build.conf in libcurl4\n",
            None,
            "zypper --config build.conf: pinner reads such a file from the base image in"
            " /etc/zypp/ only, and its installRecommends decides what the command installs",
            id="relative",
        ),
        # The command's own --no-recommends wins over any zypper.conf: resolved as usual.
        pytest.param(
            {},
            "RUN zypper -c /etc/zypp/build.conf -n in --no-recommends libcurl4\n",
            False,
            None,
            id="command-wins",
        ),
    ],
)
def test_a_command_with_its_own_zypper_conf(
    files: dict[str, bytes],
    run_line: str,
    weighed: bool | None,
    unpinned: str | None,
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    history: Mirror,
    env: Path,
) -> None:
    tag = "conf-" + "-".join(sorted(path.rsplit("/", 1)[1] for path in files))
    push(tumbleweed_image(files), registry, "opensuse/tumbleweed", tag)
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(f"FROM opensuse/tumbleweed:{tag}\n{run_line}")
    args = ("lock", "--snapshot", "20261201T101500Z", str(dockerfile))
    code, _, err = _pinner(capsys, hub, history, *args)
    assert code == 0, err
    assert run_errors(dockerfile.read_text()) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    reasons = [(u.name, u.reason) for u in stage.unpinned]
    assert reasons == ([("libcurl4", f"not pinned: {unpinned}")] if unpinned else [])
    names = {p.name for p in stage.packages}
    if weighed is None:
        assert names == set()
    else:
        assert names == {"libcurl4"} | ({"ca-certificates"} if weighed else set())
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err


@pytest.mark.parametrize("option", ["--oldpackage", "--force-resolution"])
def test_an_install_option_before_the_verb_is_refused(
    option: str, capsys: pytest.CaptureFixture[str], hub: str, history: Mirror, env: Path
) -> None:
    """zypper reads only its global options before the verb: it fails on these there."""
    text = f"FROM opensuse/tumbleweed\nRUN true\nRUN zypper -n {option} in libcurl4\n"
    (env / "Dockerfile").write_text(text)
    args = ("lock", "--snapshot", "20261201T101500Z", str(env / "Dockerfile"))
    code, _, err = _pinner(capsys, hub, history, *args)
    assert code == 1
    why = "zypper knows no such option before the verb and refuses the command"
    assert f"Dockerfile:3: zypper {option}: {why}" in err, err
    assert err.strip().splitlines()[1:] == ["1 error(s); nothing written"], err
    assert (env / "Dockerfile").read_text() == text
    assert not (env / "Dockerfile.lock").exists()


def test_a_versioned_word_no_repository_serves_names_its_line(
    capsys: pytest.CaptureFixture[str], hub: str, history: Mirror, env: Path
) -> None:
    text = "FROM opensuse/tumbleweed\nRUN zypper --non-interactive install curl=7.0\n"
    (env / "Dockerfile").write_text(text)
    args = ("lock", "--snapshot", "20261201T101500Z", str(env / "Dockerfile"))
    code, _, err = _pinner(capsys, hub, history, *args)
    assert code == 1
    assert "Dockerfile:2: curl-7.0: nothing in the repositories provides it" in err, err
    assert (env / "Dockerfile").read_text() == text


@needs_rpm_tools
@pytest.mark.parametrize(
    ("options", "expected"), [("", {}), (" --oldpackage", {"libcurl4": "8.10.1-1"})]
)
def test_an_older_build_than_the_installed_one_needs_oldpackage(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    hub: str,
    history: Mirror,
    env: Path,
    tmp_path: Path,
    options: str,
    expected: dict[str, str],
) -> None:
    """The image has libcurl4 8.11.0; zypper 1.14 installs the day's 8.10.1 over it only with
    --oldpackage ("has lower version than the installed one", nothing to do without)."""
    root = tmp_path / "root"
    oss = history.root / "history" / "20261208" / "tumbleweed" / "repo" / "oss"
    dnf_install(root, oss, ["libcurl4"])
    rpmdb = ndb_packages(list(header_blobs(root).values()))
    push(
        tumbleweed_image({"usr/lib/sysimage/rpm/Packages.db": rpmdb}),
        registry,
        "opensuse/tumbleweed",
        "newer",
    )
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        f"FROM opensuse/tumbleweed:newer\nRUN zypper --non-interactive install{options} --no-recommends libcurl4=8.10.1\n"
    )
    code, _, err = _pinner(
        capsys, hub, history, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert {p.name: p.version for p in stage.packages} == expected
