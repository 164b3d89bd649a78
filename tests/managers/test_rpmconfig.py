"""Tests for pinner.managers.rpmconfig on the .repo files of real base images (testdata/rpm/repos)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rpmrepo import Spec, build_repo, dnf_install, needs_rpm_tools, rpmdb_path

from pinner.managers.rpmcommands import RpmOptions
from pinner.managers.rpmconfig import (
    REPO_DIRS,
    Dnf5Main,
    Repo,
    RpmConfig,
    configure,
    enabled_repos,
    substitute,
)
from pinner.managers.rpmdb import RpmdbError

REPOS = Path(__file__).parents[2] / "testdata" / "rpm" / "repos"

OS_RELEASE = {
    "fedora": b'NAME="Fedora Linux"\nVERSION="40 (Container Image)"\nID=fedora\nVERSION_ID=40\n',
    "rocky": b'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos'
    b' fedora"\nVERSION_ID="9.3"\n',
    "ubi9": b'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n',
    "centos-stream9": b'NAME="CentOS Stream"\nVERSION="9"\nID="centos"\nID_LIKE="rhel fedora"\n'
    b'VERSION_ID="9"\n',
}


def _image(distro: str, **extra: bytes) -> dict[str, bytes]:
    files = {"/etc/os-release": OS_RELEASE[distro]}
    for path in sorted((REPOS / distro).iterdir()):
        files[f"/etc/yum.repos.d/{path.name}"] = path.read_bytes()
    return files | extra


def _config(files: dict[str, bytes], arch: str = "amd64") -> RpmConfig:
    config = configure(files, arch)
    assert isinstance(config, RpmConfig), config
    return config


@pytest.mark.parametrize(
    ("distro", "arch", "releasever", "enabled"),
    [
        pytest.param("fedora", "amd64", "40", [], id="fedora-dist-git-disabled"),
        pytest.param(
            "rocky",
            "arm64",
            "9",
            [
                ("baseos", "https://dl.rockylinux.org/pub/rocky/9/BaseOS/aarch64/os/"),
                ("appstream", "https://dl.rockylinux.org/pub/rocky/9/AppStream/aarch64/os/"),
                (
                    "altarch-common",
                    "https://dl.rockylinux.org/pub/sig/9/altarch/aarch64/altarch-common/",
                ),
                (
                    "altarch-rockyrpi",
                    "https://dl.rockylinux.org/pub/sig/9/altarch/aarch64/altarch-rockyrpi/",
                ),
            ],
            id="rocky-major-releasever",
        ),
        pytest.param(
            "ubi9",
            "amd64",
            "9",
            [
                (
                    "ubi-9-for-x86_64-for-x86_64-for-x86_64-for-x86_64-baseos-rpms",
                    "https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi9/9/x86_64/baseos/os",
                ),
                (
                    "ubi-9-for-x86_64-for-x86_64-for-x86_64-for-x86_64-appstream-rpms",
                    "https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi9/9/x86_64/appstream/os",
                ),
                (
                    "codeready-builder-for-ubi-9-x86_64-rpms",
                    "https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi9/9/x86_64/codeready-builder/os",
                ),
            ],
            id="ubi-spaces-around-equals",
        ),
        pytest.param(
            "centos-stream9",
            "amd64",
            "9",
            [
                (
                    "baseos",
                    "https://composes.stream.centos.org/production/CentOS-Stream-9-20240520.0"
                    "/compose/BaseOS/x86_64/os",
                ),
                (
                    "appstream",
                    "https://composes.stream.centos.org/production/CentOS-Stream-9-20240520.0"
                    "/compose/AppStream/x86_64/os",
                ),
            ],
            id="centos-stream-compose",
        ),
    ],
)
def test_real_repo_files(
    distro: str, arch: str, releasever: str, enabled: list[tuple[str, str]]
) -> None:
    config = _config(_image(distro), arch)
    assert config.releasever == releasever
    assert [(r.id, r.baseurls[0]) for r in enabled_repos(config, RpmOptions())] == enabled


def test_fedora_metalink_and_keys_substituted() -> None:
    config = _config(_image("fedora"))
    # dnf 4 reads files in the order of their names less ".repo": fedora.repo first.
    fedora = next(r for r in config.repos if r.id == "fedora")
    assert (
        fedora.metalink == "https://mirrors.fedoraproject.org/metalink?repo=fedora-40&arch=x86_64"
    )
    assert fedora.gpgkeys == ("file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-40-x86_64",)
    assert (fedora.enabled, fedora.repo_gpgcheck) == (False, False)
    options = RpmOptions(enable=("fedora", "updates"))
    assert [r.id for r in enabled_repos(config, options)] == ["fedora", "updates"]


def test_options_disable_then_enable() -> None:
    config = _config(_image("rocky"))
    options = RpmOptions(enable=("appstream",), disable=("*",))
    assert [r.id for r in enabled_repos(config, options)] == ["appstream"]
    assert [r.id for r in enabled_repos(config, RpmOptions(disable=("altarch-*",)))] == [
        "baseos",
        "appstream",
    ]


def test_vars_files_and_dnf_conf() -> None:
    files = _image(
        "centos-stream9",
        **{
            "/etc/dnf/vars/stream": b"9-stream\n",
            "/etc/dnf/dnf.conf": b"[main]\nrepo_gpgcheck=1\ninstall_weak_deps=False\ntsflags=nodocs\n",
            "/etc/yum.repos.d/extra.repo": b"[extra]\nmetalink=https://mirrors.centos.org/metalink"
            b"?repo=centos-baseos-$stream&arch=$basearch&protocol=https,http\n${unknown}=1\n",
        },
    )
    config = _config(files)
    extra = next(r for r in config.repos if r.id == "extra")
    assert extra.metalink == (
        "https://mirrors.centos.org/metalink?repo=centos-baseos-9-stream&arch=x86_64"
        "&protocol=https,http"
    )
    assert extra.repo_gpgcheck  # from [main]
    assert not config.weak_deps


@pytest.mark.parametrize(
    ("vars_files", "expected"),
    [
        pytest.param(
            {"/etc/dnf/vars/stream": b"9-stream\nrm -rf /\n"}, "9-stream", id="first-line"
        ),
        pytest.param({"/etc/dnf/vars/stream": b"9-stream\rx\n"}, "9-stream", id="carriage-return"),
        pytest.param({"/etc/dnf/vars/stream": b" 9 \n"}, " 9 ", id="blanks-kept"),
        pytest.param(
            {"/etc/dnf/vars/stream": b"dnf\n", "/etc/yum/vars/stream": b"yum\n"},
            "dnf",
            id="etc-dnf-wins",
        ),
        pytest.param({"/etc/dnf/vars/sub/stream": b"x\n"}, "$stream", id="subfolder-not-read"),
    ],
)
def test_vars_files_are_read_as_dnf_reads_them(vars_files: dict[str, bytes], expected: str) -> None:
    # As dnf 4.14's Substitutions.update_from_etc read the same files.
    repo = {"/etc/yum.repos.d/x.repo": b"[x]\nmetalink=https://m.example/?r=$stream\n"}
    config = _config(_image("centos-stream9", **repo, **vars_files))
    assert (
        next(r.metalink for r in config.repos if r.id == "x") == f"https://m.example/?r={expected}"
    )


@pytest.mark.parametrize(
    ("os_release", "dnf_conf", "expected"),
    [
        pytest.param(OS_RELEASE["centos-stream9"], b"", True, id="el9-dnf-4.14-default-on"),
        pytest.param(OS_RELEASE["fedora"], b"", True, id="fedora-40-default-on"),
        pytest.param(b'ID="rocky"\nVERSION_ID="8.9"\n', b"", False, id="el8-dnf-4.7-has-none"),
        pytest.param(b"ID=fedora\nVERSION_ID=35\n", b"", False, id="fedora-35-has-none"),
        pytest.param(
            OS_RELEASE["rocky"],
            b"[main]\nexclude_from_weak_autodetect=False\n",
            False,
            id="dnf-conf-turns-it-off",
        ),
    ],
)
def test_exclude_from_weak_autodetect(os_release: bytes, dnf_conf: bytes, expected: bool) -> None:
    files = {"/etc/os-release": os_release, "/etc/dnf/dnf.conf": dnf_conf}
    assert _config(files).exclude_weak_autodetect == expected


def test_substitute_leaves_unknown() -> None:
    assert substitute("a/$basearch/${x}/$y", {"basearch": "x86_64", "x": "1"}) == "a/x86_64/1/$y"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param({}, "the image has no /etc/os-release", id="no-os-release"),
        pytest.param(
            {"/etc/os-release": b"ID=fedora\n", "/etc/yum.repos.d/x.repo": b"baseurl=x\n"},
            "/etc/yum.repos.d/x.repo: not a valid dnf configuration file (File contains no"
            " section headers.)",
            id="no-section",
        ),
        pytest.param(
            {
                "/etc/os-release": b"ID=fedora\n",
                "/etc/yum.repos.d/x.repo": b"[x]\nname" + b" " * 1_000_000 + b"x\n",
            },
            "/etc/yum.repos.d/x.repo: not a valid dnf configuration file (Source contains"
            " parsing errors: '/etc/yum.repos.d/x.repo')",
            id="megabyte-blank-run",
        ),
        pytest.param(
            {
                "/etc/os-release": b"ID=fedora\n",
                "/etc/dnf/vars/a": b"x" * 1_000_000,
                "/etc/yum.repos.d/x.repo": b"[x]\nbaseurl=" + b"$a" * 5000 + b"\n",
            },
            f"{'$a' * 30!r}: its variables make it over 1048576 characters",
            id="variables-make-gigabytes",
        ),
    ],
)
def test_unreadable_configuration_is_one_line(files: dict[str, bytes], message: str) -> None:
    assert configure(files, "amd64") == message


def test_an_unreadable_rpmdb_is_an_error_not_a_note() -> None:
    # dnf in the build reads the same file: resolving as if nothing were installed would guess.
    files = {"/etc/os-release": b"ID=fedora\n", "/var/lib/rpm/rpmdb.sqlite": b"not sqlite"}
    with pytest.raises(RpmdbError) as caught:
        configure(files, "amd64")
    assert str(caught.value) == (
        "the rpm database /var/lib/rpm/rpmdb.sqlite: rpmdb is not a readable SQLite database"
        " (file is not a database)"
    )


def test_unknown_architecture() -> None:
    assert configure(_image("rocky"), "mips") == "architecture 'mips' has no dnf basearch"


@pytest.mark.parametrize(
    "path", ["/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages.db"], ids=["bdb", "ndb"]
)
def test_older_rpm_databases_are_read(path: str) -> None:
    data = (REPOS.parent / "rpmdb" / path.rpartition("/")[2]).read_bytes()
    config = _config(_image("rocky", **{path: data}))
    assert [p.name for p in config.installed or ()] == ["base", "bigfiles", "lib"]
    assert config.notes == ()


def test_a_malformed_berkeley_db_is_one_error() -> None:
    files = _image("rocky", **{"/var/lib/rpm/Packages": b"\0" * 16})
    with pytest.raises(RpmdbError) as caught:
        configure(files, "amd64")
    assert str(caught.value) == (
        "the rpm database /var/lib/rpm/Packages is shorter than a Berkeley DB meta page"
    )


@needs_rpm_tools
def test_releasever_from_installed_system_release(tmp_path: Path) -> None:
    repo = build_repo(
        [Spec("fake-release", "9.9", provides=("system-release(releasever) = 9",))],
        tmp_path / "repo",
    )
    root = tmp_path / "root"
    dnf_install(root, repo, ["fake-release"])
    files = {
        "/etc/os-release": b"ID=fedora\nVERSION_ID=40\n",
        "/var/lib/rpm/rpmdb.sqlite": rpmdb_path(root).read_bytes(),
    }
    config = _config(files)
    assert config.releasever == "9"
    assert [p.name for p in config.installed or ()] == ["fake-release"]


def test_a_repository_id_dnf_refuses_is_skipped_with_a_printable_note() -> None:
    files = _image("rocky", **{"/etc/yum.repos.d/z.repo": b"[bad\x1b[31mid]\nbaseurl=http://x/\n"})
    config = _config(files)
    assert [r.id for r in config.repos] == [
        "baseos",
        "appstream",
        "altarch-common",
        "altarch-rockyrpi",
    ]
    assert config.notes[-1] == (
        "/etc/yum.repos.d/z.repo: repository id 'bad [31mid' is not valid; skipped"
    )


def test_a_repository_defined_twice_is_taken_from_the_file_each_program_reads_first() -> None:
    # dnf 4 reads the files of its folders in path order, dnf5 /etc/yum.repos.d's first.
    files = _image(
        "rocky",
        **{
            "/etc/distro.repos.d/a.repo": b"[twice]\nbaseurl=http://distro.example/\n",
            "/etc/yum.repos.d/z.repo": b"[twice]\nbaseurl=http://yum.example/\n",
        },
    )
    config = _config(files)
    assert config.dnf5_repos is not None
    found = {
        program: [(r.source, r.baseurls) for r in repos if r.id == "twice"]
        for program, repos in (("dnf 4", config.repos), ("dnf5", config.dnf5_repos))
    }
    assert found == {
        "dnf 4": [("/etc/distro.repos.d/a.repo", ("http://distro.example/",))],
        "dnf5": [("/etc/yum.repos.d/z.repo", ("http://yum.example/",))],
    }
    assert config.notes[-2:] == (
        "/etc/yum.repos.d/z.repo: repository twice is defined twice; the first is used",
        "/etc/distro.repos.d/a.repo: repository twice is defined twice; the first is used",
    )


# A file in each folder a program may read, each defining `a` and a repository named after it,
# and in /etc/yum.repos.d two defining `b`: dnf 4 sorts their names less ".repo", dnf5 with it.
FOLDERS = {
    path: "".join(
        f"[{id}]\nname={Path(path).stem}\nbaseurl=http://{id}.example/\n" for id in ids.split()
    ).encode()
    for path, ids in [
        ("/etc/yum.repos.d/yum.repo", "a yum b"),
        ("/etc/yum.repos.d/yum-b.repo", "b"),
        ("/etc/yum/repos.d/yumslash.repo", "a yumslash"),
        ("/etc/distro.repos.d/distro.repo", "a distro"),
        ("/usr/share/dnf5/repos.d/dnf5.repo", "a dnf5"),
    ]
}
DNF4_READ = ["a@distro", "distro@distro", "yumslash@yumslash", "yum@yum", "b@yum"]


def _read(repos: tuple[Repo, ...]) -> list[str]:
    """Each repository's id and the name of the file it is taken from."""
    return [f"{r.id}@{Path(r.source).stem}" for r in repos]


@pytest.mark.parametrize(
    ("extra", "dnf4", "dnf5", "noted"),
    [
        pytest.param(
            {},
            DNF4_READ,
            ["b@yum-b", "a@yum", "yum@yum", "distro@distro", "dnf5@dnf5"],
            [],
            id="defaults",
        ),
        pytest.param(
            {"/etc/dnf/dnf.conf": b"[main]\nreposdir=/etc/distro.repos.d/, /etc/yum/repos.d\n"},
            ["a@distro", "distro@distro", "yumslash@yumslash"],
            ["a@distro", "distro@distro", "yumslash@yumslash"],
            [],
            id="dnf-conf-replaces-both",
        ),
        pytest.param(
            {"/etc/dnf/dnf.conf": b"[main]\nreposdir=\n"}, [], [], [], id="empty-reads-none"
        ),
        pytest.param(
            {
                "/etc/dnf/dnf.conf": b"[main]\nreposdir=/srv/repos etc/yum.repos.d"
                b" //etc//yum.repos.d/\n"
            },
            ["a@yum", "yum@yum", "b@yum"],
            ["b@yum-b", "a@yum", "yum@yum"],
            [
                "/etc/dnf/dnf.conf: [main] reposdir names '/srv/repos': pinner reads"
                f" repositories only from {', '.join(REPO_DIRS)}; the ones there are not read",
                "/etc/dnf/dnf.conf: [main] reposdir names 'etc/yum.repos.d': pinner reads"
                f" repositories only from {', '.join(REPO_DIRS)}; the ones there are not read",
            ],
            id="outside-and-relative-noted-once",
        ),
        pytest.param(
            {
                "/usr/share/dnf5/libdnf.conf.d/20-dirs.conf": b"[main]\nreposdir=/etc/yum.repos.d\n",
                "/etc/dnf/libdnf5.conf.d/10-dirs.conf": b"[main]\nreposdir=/etc/distro.repos.d\n",
            },
            DNF4_READ,
            ["b@yum-b", "a@yum", "yum@yum"],
            [],
            id="dnf5-drop-in-last-wins",
        ),
    ],
)
def test_each_program_reads_its_own_repository_folders_in_its_order(
    extra: dict[str, bytes], dnf4: list[str], dnf5: list[str], noted: list[str]
) -> None:
    files = {"/etc/os-release": OS_RELEASE["fedora"], **FOLDERS, **extra}
    config = _config(files)
    assert _read(config.repos) == dnf4
    assert _read(config.dnf5_repos or config.repos) == dnf5
    assert [n for n in config.notes if "reposdir" in n] == noted


def test_yum_3_reads_its_folders_in_order_each_folder_s_files_by_name() -> None:
    os_release = b'NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
    config = _config({"/etc/os-release": os_release, **FOLDERS})
    assert _read(config.repos) == ["a@yumslash", "yumslash@yumslash", "b@yum-b", "yum@yum"]
    assert config.dnf5_repos is None


@pytest.mark.oracle
@pytest.mark.skipif(shutil.which("dnf") is None, reason="needs dnf")
@pytest.mark.parametrize(
    ("reposdir", "count"),
    [
        pytest.param(None, 5, id="defaults"),
        pytest.param("/etc/distro.repos.d/, /etc/yum/repos.d", 3, id="replaced"),
        pytest.param("//etc//distro.repos.d/ /etc/yum.repos.d", 4, id="unnormalized"),
        pytest.param("", 0, id="empty"),
    ],
)
def test_repository_folders_as_the_real_dnf_4_reads_them(
    tmp_path: Path, reposdir: str | None, count: int
) -> None:
    """The real dnf 4 in an installroot holding every folder: the repositories it reads, each
    named after the file whose definition it took."""
    conf = b"[main]\n" + (b"" if reposdir is None else f"reposdir={reposdir}\n".encode())
    files = {"/etc/os-release": OS_RELEASE["fedora"], "/etc/dnf/dnf.conf": conf, **FOLDERS}
    for path, data in files.items():
        (tmp_path / "root" / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "root" / path.lstrip("/")).write_bytes(data)
    found = subprocess.run(
        ["dnf", f"--installroot={tmp_path}/root", "--releasever=40",
         f"--setopt=cachedir={tmp_path}/cache", "repolist", "--all"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    read = [" ".join(line.split()[:2]) for line in found.stdout.splitlines()[1:] if line]
    config = _config(files)
    # repolist lists the repositories by id, each with its name: the file it was taken from.
    assert read == sorted(f"{r.id} {Path(r.source).stem}" for r in config.repos)
    assert len(read) == count


PRERELEASE = (
    b'NAME="Fedora Linux"\nVERSION="42 (Container Image Prerelease)"\nID=fedora\nVERSION_ID=42\n'
)


@pytest.mark.parametrize(
    ("os_release", "folder", "expected"),
    [
        pytest.param(PRERELEASE, "fedora-branched", True, id="branched-both"),
        pytest.param(OS_RELEASE["fedora"], "fedora-branched", True, id="branched-repo-files"),
        pytest.param(PRERELEASE, "fedora", True, id="branched-os-release"),
        pytest.param(OS_RELEASE["fedora"], "fedora", False, id="released"),
        pytest.param(OS_RELEASE["rocky"], "fedora-branched", False, id="not-fedora"),
    ],
)
def test_a_branched_fedora_is_a_prerelease(os_release: bytes, folder: str, expected: bool) -> None:
    files = {"/etc/os-release": os_release}
    for path in sorted((REPOS / folder).iterdir()):
        files[f"/etc/yum.repos.d/{path.name}"] = path.read_bytes()
    assert _config(files).prerelease is expected


def test_rawhide_is_not_read_as_branched() -> None:
    # Rawhide's $releasever is a word ("rawhide"): its own note, not Branched's.
    files = _image("fedora") | {"/etc/dnf/vars/releasever": b"rawhide\n"}
    files["/etc/os-release"] = PRERELEASE
    assert _config(files).prerelease is False


@needs_rpm_tools
@pytest.mark.parametrize(
    ("packages", "version"),
    [
        ([Spec("rpm-libs", "4.16.1.3"), Spec("rpm", "4.16.1.3")], "4.16.1.3"),  # EL 9
        ([Spec("rpm", "4.14.3")], "4.14.3"),  # Leap 15: no rpm-libs
        # dnf installs through rpm-libs' library, whatever the rpm package says.
        ([Spec("rpm-libs", "4.17.1"), Spec("rpm", "4.19.1")], "4.17.1"),
        ([Spec("rpm-libs", "4.18.0"), Spec("rpm", "4.18.0")], None),  # Fedora 37
        ([Spec("rpm-libs", "4.20.1")], None),
        ([Spec("bash", "5.1")], None),  # no rpm in the image: no claim
    ],
)
def test_an_rpm_before_418_is_said_to_write_install_times_from_the_clock(
    tmp_path: Path, packages: list[Spec], version: str | None
) -> None:
    repo = build_repo(packages, tmp_path / "repo")
    root = tmp_path / "root"
    dnf_install(root, repo, [p.name for p in packages])
    files = {
        "/etc/os-release": b"ID=fedora\nVERSION_ID=40\n",
        "/var/lib/rpm/rpmdb.sqlite": rpmdb_path(root).read_bytes(),
    }
    times = [n for n in _config(files).notes if "install time" in n]
    if version is None:
        assert times == []
    else:
        assert times == [
            f"rpm {version} in the image writes the clock as each package's install time"
            " (rpm 4.18 and later take SOURCE_DATE_EPOCH): the rpm database differs from build"
            " to build"
        ]


def test_repository_priority() -> None:
    extra = (
        b"[prio]\nbaseurl=https://example.org/prio/\npriority=10\n"
        b"[plain]\nbaseurl=https://example.org/plain/\n"
        b"[odd]\nbaseurl=https://example.org/odd/\npriority=ten\n"
    )
    config = _config(_image("rocky", **{"/etc/yum.repos.d/x.repo": extra}))
    found = {r.id: r.priority for r in config.repos if r.id in ("prio", "plain", "odd")}
    assert found == {"prio": 10, "plain": 99, "odd": 99}
    assert "/etc/yum.repos.d/x.repo: [odd] priority 'ten' is not a number; 99 used" in config.notes


# os-release as fedora-release's spec writes it for its container variant on Rawhide
# (is_rawhide: bug_version "rawhide"; a 0.N release adds " Prerelease"), and for ELN's variant
# (the same file with PLATFORM_ID, PRETTY_NAME and VARIANT_ID rewritten to ELN's).
RAWHIDE_OS_RELEASE = (
    b'NAME="Fedora Linux"\nVERSION="43 (Container Image Prerelease)"\nID=fedora\nVERSION_ID=43\n'
    b'VERSION_CODENAME=""\nPLATFORM_ID="platform:f43"\n'
    b'PRETTY_NAME="Fedora Linux 43 (Container Image Prerelease)"\n'
    b'REDHAT_BUGZILLA_PRODUCT="Fedora"\nREDHAT_BUGZILLA_PRODUCT_VERSION=rawhide\n'
    b'REDHAT_SUPPORT_PRODUCT="Fedora"\nREDHAT_SUPPORT_PRODUCT_VERSION=rawhide\n'
    b'VARIANT="Container Image"\nVARIANT_ID=container\n'
)
ELN_OS_RELEASE = (
    b'NAME="Fedora Linux"\nVERSION="43 (Rawhide Prerelease)"\nID=fedora\nVERSION_ID=43\n'
    b'PLATFORM_ID="platform:eln"\nPRETTY_NAME="Fedora ELN"\n'
    b'REDHAT_SUPPORT_PRODUCT="Fedora"\nREDHAT_SUPPORT_PRODUCT_VERSION=rawhide\n'
    b'VARIANT="ELN"\nVARIANT_ID=eln\n'
)


@pytest.mark.parametrize(
    ("os_release", "releasever"),
    [
        pytest.param(RAWHIDE_OS_RELEASE, "rawhide", id="rawhide"),
        pytest.param(ELN_OS_RELEASE, "eln", id="eln"),
        pytest.param(
            RAWHIDE_OS_RELEASE.replace(b"=rawhide", b"=43").replace(b" Prerelease", b""),
            "43",
            id="a-release",
        ),
    ],
)
def test_a_development_fedora_without_an_rpmdb_is_known_by_its_os_release(
    os_release: bytes, releasever: str
) -> None:
    """Without an rpmdb, os-release's support version names Rawhide, not VERSION_ID's 43."""
    repo = (REPOS / "fedora-rawhide" / "fedora-rawhide.repo").read_bytes()
    files = {"/etc/os-release": os_release, "/etc/yum.repos.d/fedora-rawhide.repo": repo}
    config = _config(files)
    assert config.installed is None
    assert config.releasever == releasever
    assert config.prerelease is False


BAD_BOOLEANS = {
    "/etc/dnf/dnf.conf": b"[main]\nbest=maybe\ninstall_weak_deps=sure\nobsoletes=\nrepo_gpgcheck=On\n",
    "/etc/yum.repos.d/extra.repo": b"[one]\nbaseurl=https://example.org/one/\nenabled=perhaps\n"
    b"[two]\nbaseurl=https://example.org/two/\nenabled=OFF\nrepo_gpgcheck=nah\n",
}


def test_a_value_dnf_does_not_read_as_a_boolean_keeps_the_default() -> None:
    """dnf 4.14 logs each ("invalid boolean value 'maybe'") and keeps the option's default; it
    reads the others in any case."""
    config = _config({"/etc/os-release": OS_RELEASE["fedora"], **BAD_BOOLEANS})
    assert (config.best, config.weak_deps, config.obsoletes) == (False, True, True)
    assert {r.id: (r.enabled, r.repo_gpgcheck) for r in config.repos} == {
        "one": (True, True),
        "two": (False, True),
    }
    assert sorted(note for note in config.notes if "boolean" in note) == [
        "/etc/dnf/dnf.conf: [main] best='maybe' is not a boolean; dnf keeps its default (False)",
        "/etc/dnf/dnf.conf: [main] install_weak_deps='sure' is not a boolean; dnf keeps its"
        " default (True)",
        "/etc/dnf/dnf.conf: [main] obsoletes='' is not a boolean; dnf keeps its default (True)",
        "/etc/yum.repos.d/extra.repo: [one] enabled='perhaps' is not a boolean; dnf keeps its"
        " default (True)",
        "/etc/yum.repos.d/extra.repo: [two] repo_gpgcheck='nah' is not a boolean; dnf keeps its"
        " default (True)",
    ]


@pytest.mark.oracle
@pytest.mark.skipif(shutil.which("dnf") is None, reason="needs dnf")
def test_bad_booleans_as_the_real_dnf_reads_them(tmp_path: Path) -> None:
    """The real dnf: the repositories it enables and the values it says it does not read."""
    (tmp_path / "repos").mkdir()
    conf = BAD_BOOLEANS["/etc/dnf/dnf.conf"] + f"reposdir={tmp_path}/repos\n".encode()
    (tmp_path / "dnf.conf").write_bytes(conf)
    (tmp_path / "repos" / "extra.repo").write_bytes(BAD_BOOLEANS["/etc/yum.repos.d/extra.repo"])
    found = subprocess.run(
        ["dnf", "-c", str(tmp_path / "dnf.conf"), f"--installroot={tmp_path}/root",
         "--releasever=40", f"--setopt=cachedir={tmp_path}/cache", "repolist", "--all"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    enabled = {
        line.split()[0]: line.split()[-1] == "enabled"
        for line in found.stdout.splitlines()[1:]
        if line.strip()
    }
    config = _config({"/etc/os-release": OS_RELEASE["fedora"], **BAD_BOOLEANS})
    assert enabled == {r.id: r.enabled for r in config.repos} == {"one": True, "two": False}
    refused = re.findall(r"Invalid configuration value: (\w+)=", found.stderr)
    noted = re.findall(r"\] (\w+)=.* is not a boolean", "\n".join(config.notes))
    assert sorted(refused) == sorted(noted) and len(noted) == 5


def test_dnf5_reads_its_drop_ins_then_dnf_conf() -> None:
    files = {
        "/etc/os-release": OS_RELEASE["fedora"],
        "/usr/share/dnf5/libdnf.conf.d/10-a.conf": b"[main]\ninstall_weak_deps=0\nbest=0\n",
        "/usr/share/dnf5/libdnf.conf.d/20-b.conf": b"[main]\nbest=1\n",
        "/etc/dnf/libdnf5.conf.d/20-b.conf": b"[main]\nbest=perhaps\n",
        "/etc/dnf/libdnf5.conf.d/30-c.conf.rpmsave": b"[main]\ninstall_weak_deps=1\n",
        "/etc/dnf/dnf.conf": b"[main]\nbest=0\n",
    }
    config = _config(files)
    # 10-a turns both off; /etc's 20-b hides /usr/share's and says nothing dnf reads; dnf.conf
    # has the last word on best. dnf 4 reads dnf.conf alone.
    assert config.dnf5 == Dnf5Main(weak_deps=False, best=False)
    assert (config.weak_deps, config.best) == (True, False)
    assert [n for n in config.notes if "boolean" in n] == [
        "/etc/dnf/libdnf5.conf.d/20-b.conf: [main] best='perhaps' is not a boolean; dnf keeps"
        " its default (False)"
    ]
    assert _config({"/etc/os-release": OS_RELEASE["fedora"]}).dnf5 == Dnf5Main(True, True)


@pytest.mark.parametrize(
    ("setting", "noted"),
    [
        ("True", True),
        ("1", True),
        ("all", True),
        ("metadata", True),
        ("False", False),
        ("0", False),
        ("none", False),
    ],
)
def test_an_image_whose_dnf_reads_only_its_cache_is_noted(setting: str, noted: bool) -> None:
    conf = f"[main]\ncacheonly={setting}\n".encode()
    config = _config({"/etc/os-release": OS_RELEASE["fedora"], "/etc/dnf/dnf.conf": conf})
    found = [note for note in config.notes if "cacheonly" in note]
    expected = (
        f"/etc/dnf/dnf.conf: [main] cacheonly={setting}: dnf reads only the cache the image"
        " holds, not the repositories pinner resolves from; a `dnf clean all` pinner appends"
        " removes it for later RUNs"
    )
    assert found == ([expected] if noted else [])


OVERRIDDEN = {
    "/etc/os-release": OS_RELEASE["fedora"],
    "/etc/yum.repos.d/fedora.repo": b"[fedora]\nbaseurl=https://example.org/f/\n"
    b"[updates]\nbaseurl=https://example.org/u/\n"
    b"[extra]\nbaseurl=https://example.org/e/\nenabled=0\n",
    # In file-name order, /etc's 50-a.repo hiding /usr/share's: its section is never read.
    "/usr/share/dnf5/repos.override.d/50-a.repo": b"[*]\nenabled=0\n",
    "/etc/dnf/repos.override.d/50-a.repo": b"[*]\npriority=10\n",
    "/usr/share/dnf5/repos.override.d/60-b.repo": b"[upd*]\nenabled=0\ncost=5\n"
    b"[$releasever-none]\nenabled=0\n",
    "/etc/dnf/repos.override.d/99-config_manager.repo": b"[extra]\nenabled=1\nrepo_gpgcheck=1\n"
    b"gpgkey=file:///etc/pki/rpm-gpg/k-$releasever\nbaseurl=https://example.org/other/\n",
}


def test_dnf5_reads_its_repository_overrides_in_file_name_order() -> None:
    config = _config(OVERRIDDEN)
    assert config.dnf5_repos is not None
    assert {r.id: (r.enabled, r.priority, r.cost) for r in config.dnf5_repos} == {
        "fedora": (True, 10, 1000),
        "updates": (False, 10, 5),
        "extra": (True, 10, 1000),
    }
    extra = config.dnf5_repos[2]
    assert (extra.repo_gpgcheck, extra.gpgkeys) == (True, ("file:///etc/pki/rpm-gpg/k-40",))
    # A URL is not followed; dnf 4 reads the .repo files alone.
    assert extra.baseurls == ("https://example.org/e/",)
    assert [(r.enabled, r.priority) for r in config.repos] == [(True, 99), (True, 99), (False, 99)]
    assert [note for note in config.notes if "repos.override.d" in note] == [
        "/etc/dnf/repos.override.d/99-config_manager.repo: [extra] sets baseurl for dnf5;"
        " pinner reads the repositories' own"
    ]


def test_overrides_that_change_nothing_leave_dnf5_the_repositories_dnf_reads() -> None:
    files = {
        "/etc/os-release": OS_RELEASE["fedora"],
        "/etc/yum.repos.d/fedora.repo": b"[fedora]\nbaseurl=https://example.org/f/\n",
        "/etc/dnf/repos.override.d/10-x.repo": b"[other*]\nenabled=0\n[fedora]\nenabled=1\n",
    }
    assert _config(files).dnf5_repos is None


def test_a_bad_value_in_an_override_keeps_the_repository_s_own() -> None:
    files = {
        "/etc/os-release": OS_RELEASE["fedora"],
        "/etc/yum.repos.d/fedora.repo": b"[fedora]\nbaseurl=https://example.org/f/\n",
        "/etc/dnf/repos.override.d/10-x.repo": b"[fedora]\nenabled=maybe\npriority=high\n",
    }
    config = _config(files)
    assert config.dnf5_repos is None
    assert [n for n in config.notes if "10-x.repo" in n] == [
        "/etc/dnf/repos.override.d/10-x.repo: [fedora] enabled='maybe' is not a boolean;"
        " dnf keeps its default (True)",
        "/etc/dnf/repos.override.d/10-x.repo: [fedora] priority 'high' is not a number; 99 used",
    ]


def test_a_dnf5_drop_in_that_reads_only_the_cache_is_noted() -> None:
    files = {
        "/etc/os-release": OS_RELEASE["fedora"],
        "/etc/dnf/libdnf5.conf.d/20-user-settings.conf": b"[main]\ncacheonly=all\n",
    }
    assert [note for note in _config(files).notes if "cacheonly" in note] == [
        "/etc/dnf/libdnf5.conf.d/20-user-settings.conf: [main] cacheonly=all: dnf reads only"
        " the cache the image holds, not the repositories pinner resolves from; a `dnf clean"
        " all` pinner appends removes it for later RUNs"
    ]


# An override's excludepkgs (or exclude) and includepkgs append to the repository's own, in the
# order written (libdnf5's OptionStringAppendList, set at the .repo files' REPOCONFIG priority);
# a value that is empty or starts with a comma clears what came before.
@pytest.mark.parametrize(
    ("override", "excludes", "includes"),
    [
        (b"excludepkgs=b*\n", ("a*", "b*"), ("keep",)),
        (b"exclude=b*, c\nexcludepkgs=d\n", ("a*", "b*", "c", "d"), ("keep",)),
        (b"excludepkgs=\n", (), ("keep",)),
        (b"excludepkgs=,b\nincludepkgs=more\n", ("b",), ("keep", "more")),
        (b"includepkgs=\n", ("a*",), ()),
        (b"excludepkgs=$releasever-x\n", ("a*", "40-x"), ("keep",)),
        (b"priority=5\n", ("a*",), ("keep",)),
    ],
    ids=[
        "appended",
        "alias-in-order",
        "emptied",
        "comma-clears",
        "includes-emptied",
        "variables",
        "untouched",
    ],
)
def test_an_override_s_excludes_and_includes_append_as_libdnf5_s(
    override: bytes, excludes: tuple[str, ...], includes: tuple[str, ...]
) -> None:
    files = {
        "/etc/os-release": OS_RELEASE["fedora"],
        "/etc/yum.repos.d/fedora.repo": b"[fedora]\nbaseurl=https://example.org/f/\n"
        b"excludepkgs=a*\nincludepkgs=keep\n",
        "/etc/dnf/repos.override.d/10-x.repo": b"[fed*]\n" + override,
    }
    config = _config(files)
    assert config.repos[0].excludes == ("a*",)
    repo = (config.dnf5_repos or config.repos)[0]
    assert (repo.excludes, repo.includes) == (excludes, includes)


def test_override_excludes_of_two_files_append_in_file_name_order() -> None:
    files = {
        "/etc/os-release": OS_RELEASE["fedora"],
        "/etc/yum.repos.d/fedora.repo": b"[fedora]\nbaseurl=https://example.org/f/\n",
        "/usr/share/dnf5/repos.override.d/20-b.repo": b"[*]\nexcludepkgs=second\n",
        "/etc/dnf/repos.override.d/10-a.repo": b"[fedora]\nexcludepkgs=first\n",
        "/etc/dnf/repos.override.d/30-c.repo": b"[other]\nexcludepkgs=never\n",
    }
    config = _config(files)
    assert config.dnf5_repos is not None
    assert config.dnf5_repos[0].excludes == ("first", "second")


def test_an_override_list_that_starts_on_its_next_line_is_noted() -> None:
    files = {
        "/etc/os-release": OS_RELEASE["fedora"],
        "/etc/yum.repos.d/fedora.repo": b"[fedora]\nbaseurl=https://example.org/f/\nexclude=a\n",
        "/etc/dnf/repos.override.d/10-x.repo": b"[fedora]\nexcludepkgs=\n  b\n  c\n",
    }
    config = _config(files)
    assert config.dnf5_repos is not None
    assert config.dnf5_repos[0].excludes == ("a", "b", "c")
    assert [n for n in config.notes if "10-x.repo" in n] == [
        "/etc/dnf/repos.override.d/10-x.repo: [fedora] excludepkgs starts on its next line: dnf5"
        " before 5.4 reads that as clearing the list first, later ones do not; pinner does not"
        " clear it"
    ]
