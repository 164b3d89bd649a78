"""Tests for pinner.managers.rpmcommands: dnf, yum and microdnf in RUN text."""

from __future__ import annotations

import pytest
import shell_syntax
from shell_syntax import checkers

from pinner import syntax
from pinner.apt.shell import run_invocations
from pinner.managers.leftovers import mounted
from pinner.managers.rpm import MANAGER
from pinner.managers.rpmcommands import (
    DNF5,
    PROGRAMS,
    RpmCommand,
    RpmOptions,
    cache_use,
    cleanup_for,
    read_command,
    repositories_change,
)
from pinner.managers.rpmversion import EVR, Nevra, pin_word, subject_forms
from pinner.reproducible import join_cleanup


def rpm_commands(run: str) -> list[RpmCommand]:
    """Every dnf, yum and microdnf command a RUN runs, as the rpm manager reads each."""
    found = (read_command(i) for i in run_invocations(run) if i.program in PROGRAMS)
    return [command for command in found if command is not None]


def install_packages(run: str) -> list[str]:
    return [arg.spec for command in rpm_commands(run) for arg in command.packages]


INSTALLS = [
    pytest.param("dnf install -y curl jq", ["curl", "jq"], id="dnf-install-y"),
    pytest.param("dnf -y install curl", ["curl"], id="dnf-y-first"),
    pytest.param("yum install -y curl && yum clean all", ["curl"], id="yum"),
    pytest.param("microdnf install -y --nodocs curl", ["curl"], id="microdnf"),
    pytest.param(
        "dnf --setopt=install_weak_deps=False --setopt tsflags=nodocs install -y gcc",
        ["gcc"],
        id="setopt-both-forms",
    ),
    pytest.param(
        "dnf install -y --enablerepo crb --disablerepo=epel* ninja-build",
        ["ninja-build"],
        id="repo-options-with-values",
    ),
    pytest.param(
        "dnf install -y --releasever 40 -x kernel* vim-minimal",
        ["vim-minimal"],
        id="value-options-separate",
    ),
    pytest.param(
        "dnf install -y python3-3.12.1 bash-5.2.26-3.fc40 openssl-1:3.2.1-2.fc40.x86_64",
        ["python3-3.12.1", "bash-5.2.26-3.fc40", "openssl-1:3.2.1-2.fc40.x86_64"],
        id="nevra-forms",
    ),
    pytest.param(
        "dnf install -y 'pkgconfig(zlib)' /usr/bin/make",
        ["pkgconfig(zlib)", "/usr/bin/make"],
        id="provides-and-files",
    ),
    pytest.param("sudo -E dnf install -y curl", ["curl"], id="sudo"),
    pytest.param("sh -c 'dnf install -y curl'", ["curl"], id="sh-c"),
    pytest.param("dnf makecache && dnf upgrade -y", [], id="no-installs"),
    pytest.param(
        "dnf install -y @development-tools https://x.example/a.rpm ./b.rpm", [], id="unpinnable"
    ),
    pytest.param("dnf install -y $PKGS", [], id="variable"),
    pytest.param("apt-get install -y curl", [], id="not-rpm"),
]


@pytest.mark.parametrize(("run", "expected"), INSTALLS)
def test_install_packages(run: str, expected: list[str]) -> None:
    assert install_packages(run) == expected


def test_spans_point_at_the_words() -> None:
    run = "dnf -y install \\\n    curl \\\n    jq"
    (command,) = rpm_commands(run)
    assert [run[arg.start : arg.end] for arg in command.packages] == ["curl", "jq"]


NOTES = [
    pytest.param(
        "dnf install -y @development-tools https://x.example/a.rpm ./b.rpm",
        [
            "installs a group or module (@development-tools); its packages are not recorded",
            "installs an RPM from a URL (https://x.example/a.rpm); not pinned by the repositories",
            "installs a local RPM file (./b.rpm); not pinned by the repositories",
        ],
        id="group-url-file",
    ),
    pytest.param(
        "dnf install -y $PKGS 'lib*'",
        [
            "package word uses a variable ($PKGS); it is not recorded",
            "package name is a pattern (lib*); what it matches is not recorded",
        ],
        id="variable-and-glob",
    ),
    pytest.param(
        "dnf -y upgrade",
        ["dnf upgrade takes whatever the repositories serve; not recorded"],
        id="upgrade",
    ),
    pytest.param(
        'dnf module enable -y "nodejs:$(cat /stream)"',
        [
            "dnf module enable nodejs:$(cat /stream) changes which module streams dnf reads;"
            " the words of the commands after it are not pinned"
        ],
        id="module-enable-unread",
    ),
    pytest.param("dnf module enable -y nodejs:20", [], id="module-enable-followed"),
    pytest.param(
        "dnf group install -y 'Development Tools'",
        ["dnf group install installs what the group or module lists; not recorded"],
        id="group-install",
    ),
    pytest.param(
        "dnf --installroot=/sysroot install -y bash",
        ["dnf --installroot=/sysroot installs into another root; its packages are not recorded"],
        id="installroot",
    ),
    pytest.param(
        "dnf config-manager --add-repo https://x.example/r.repo",
        ["dnf config-manager adds a repository (https://x.example/r.repo); not followed"],
        id="add-repo",
    ),
    # containers/toolbox images/fedora/f39/Containerfile
    pytest.param(
        "dnf -y swap coreutils-single coreutils-full",
        ["dnf swap installs from the repositories; not recorded"],
        id="swap",
    ),
    pytest.param(
        "yum downgrade -y curl",
        ["yum downgrade installs from the repositories; not recorded"],
        id="downgrade",
    ),
    pytest.param("dnf clean all && rm -rf /var/cache/dnf", [], id="cleanup-no-notes"),
]


@pytest.mark.parametrize(("run", "expected"), NOTES)
def test_notes(run: str, expected: list[str]) -> None:
    assert [note for command in rpm_commands(run) for note in command.notes] == expected


OPTIONS = [
    pytest.param("dnf install -y a", RpmOptions(), id="none"),
    pytest.param(
        "dnf --setopt=install_weak_deps=False install -y --nodocs a",
        RpmOptions(weak_deps=False),
        id="weak-deps-off-nodocs",
    ),
    pytest.param(
        "microdnf --setopt=install_weak_deps=0 --setopt=tsflags=nodocs install a",
        RpmOptions(weak_deps=False),
        id="microdnf-setopts",
    ),
    pytest.param(
        "dnf --releasever=9 --enablerepo=crb,epel --disablerepo 'test*' install a",
        RpmOptions(releasever="9", enable=("crb", "epel"), disable=("test*",)),
        id="releasever-repos",
    ),
    pytest.param(
        "dnf --repo=fedora install a", RpmOptions(enable=("fedora",), disable=("*",)), id="repo"
    ),
]


@pytest.mark.parametrize(("run", "expected"), OPTIONS)
def test_options(run: str, expected: RpmOptions) -> None:
    (command,) = rpm_commands(run)
    assert command.options == expected


FORMS = [
    pytest.param("curl", [Nevra("curl")], id="name"),
    pytest.param("curl.x86_64", [Nevra("curl", arch="x86_64"), Nevra("curl.x86_64")], id="na"),
    pytest.param(
        "python3-devel",
        [Nevra("python3-devel"), Nevra("python3", version="devel")],
        id="name-with-dash",
    ),
    pytest.param(
        "bash-5.2-3.fc40",
        [
            Nevra("bash-5.2-3.fc40"),
            Nevra("bash", None, "5.2", "3.fc40"),
            Nevra("bash-5.2", None, "3.fc40"),
        ],
        id="nevr",
    ),
    pytest.param(
        "openssl-1:3.2.1-2.fc40.noarch",
        [
            Nevra("openssl", 1, "3.2.1", "2.fc40", "noarch"),
            Nevra("openssl-1:3.2.1-2.fc40", arch="noarch"),
            Nevra("openssl-1:3.2.1-2.fc40.noarch"),
            Nevra("openssl", 1, "3.2.1", "2.fc40.noarch"),
            Nevra("openssl-1:3.2.1", None, "2.fc40.noarch"),
        ],
        id="nevra-with-epoch",
    ),
    # An epoch int() refuses ("²" passes str.isdigit) makes no reading with an epoch.
    pytest.param(
        "openssl-\u00b2:3.2.1-2",
        [Nevra("openssl-\u00b2:3.2.1-2"), Nevra("openssl-\u00b2:3.2.1", None, "2")],
        id="superscript-epoch",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), FORMS)
def test_subject_forms(spec: str, expected: list[Nevra]) -> None:
    assert subject_forms(spec) == expected


def test_pin_word_keeps_arch_and_writes_epoch() -> None:
    assert pin_word(Nevra("curl"), EVR(0, "8.6.0", "1.fc40")) == "curl-8.6.0-1.fc40"
    assert pin_word(Nevra("ssl", arch="x86_64"), EVR(1, "3", "2")) == "ssl-1:3-2.x86_64"


def test_pin_word_refuses_shell_text() -> None:
    with pytest.raises(ValueError, match="is not an RPM package word"):
        MANAGER.pin_word("curl", "8.6.0-1;reboot")


AUX = "/var/cache/ldconfig/aux-cache"
LEFT = f"rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log {AUX}"
LEFT5 = f"rm -rf /usr/lib/sysimage/libdnf5/transaction_history.* /var/log/dnf* {AUX}"
LEFT_MICRODNF = f"rm -rf /var/lib/dnf/history.* {AUX}"
F41 = frozenset(["dnf5", "dnf", "yum", "microdnf"])
# (RUN, the programs that are dnf5 in the image, what is appended)
CLEANUPS = [
    pytest.param("dnf install -y curl", DNF5, f"dnf clean all && {LEFT}", id="dnf"),
    # libdnf's microdnf writes no log file.
    pytest.param(
        "microdnf install -y curl", DNF5, f"microdnf clean all && {LEFT_MICRODNF}", id="microdnf"
    ),
    pytest.param("yum -y install curl", DNF5, f"yum clean all && {LEFT}", id="yum"),
    pytest.param("dnf install -y curl", F41, f"dnf clean all && {LEFT5}", id="dnf-is-dnf5"),
    pytest.param("yum -y install curl", F41, f"yum clean all && {LEFT5}", id="yum-is-dnf5"),
    pytest.param("dnf5 install -y curl", DNF5, f"dnf5 clean all && {LEFT5}", id="dnf5"),
    pytest.param("microdnf install -y c", F41, f"microdnf clean all && {LEFT5}", id="microdnf5"),
    pytest.param("dnf install -y curl && dnf clean all", DNF5, LEFT, id="has-clean-all"),
    pytest.param("dnf install -y curl && rm -rf /var/cache/dnf/*", DNF5, LEFT, id="has-rm"),
    pytest.param("yum install -y c && rm -rf /var/cache/yum", DNF5, LEFT, id="has-rm-yum"),
    pytest.param(
        "dnf install -y curl && rm -rf /var/cache",
        DNF5,
        "rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log",
        id="has-rm-parent",
    ),
    pytest.param(f"dnf install -y c && dnf clean all && {LEFT}", DNF5, None, id="has-all"),
    pytest.param(
        "dnf install -y c && dnf clean all && rm -rf /var/lib/dnf/history.*",
        DNF5,
        f"rm -rf /var/log/dnf* /var/log/hawkey.log {AUX}",
        id="has-history",
    ),
    # Each part is judged alone, by the files the install writes: globs, folders, parents.
    pytest.param(
        f"dnf install -y c && rm -rf /var/cache/dnf /var/lib/dnf /var/log/* {AUX}",
        DNF5,
        None,
        id="rm-folders",
    ),
    pytest.param(
        "dnf install -y c && dnf clean all && rm -rf /var/lib/dnf /var/log /var/cache/ldconfig",
        DNF5,
        None,
        id="rm-parents",
    ),
    pytest.param(
        "dnf install -y c && dnf clean all"
        " && rm -f /var/lib/dnf/history.* /var/log/dnf.log /var/log/dnf.*.log /var/log/hawkey.log"
        f" {AUX}",
        DNF5,
        None,
        id="rm-each-log",
    ),
    pytest.param(
        f"dnf install -y c && dnf clean all && rm -rf /var/lib/dnf /var/log/dnf.log {AUX}",
        DNF5,
        "rm -rf /var/log/dnf* /var/log/hawkey.log",
        id="rm-one-log",
    ),
    # The -wal and -shm files a real install leaves beside the database stay with this rm.
    pytest.param(
        f"dnf install -y c && dnf clean all && rm -f /var/lib/dnf/history.sqlite /var/log/* {AUX}",
        DNF5,
        "rm -rf /var/lib/dnf/history.*",
        id="rm-history-file",
    ),
    # libdnf's history folder is not where dnf 4 keeps it: the files are removed still.
    pytest.param(
        f"dnf install -y c && dnf clean all && rm -rf /var/lib/dnf/history /var/log/* {AUX}",
        DNF5,
        "rm -rf /var/lib/dnf/history.*",
        id="rm-other-path",
    ),
    pytest.param(f"dnf install -y c && dnf clean all && {LEFT5}", F41, None, id="has-all-dnf5"),
    pytest.param(
        "dnf5 install -y c && dnf5 clean all && rm -rf /var/log/dnf5.log",
        DNF5,
        f"rm -rf /usr/lib/sysimage/libdnf5/transaction_history.* {AUX}",
        id="rm-dnf5-log",
    ),
    pytest.param(
        f"microdnf install -y c && rm -rf /var/cache/yum /var/lib/dnf/history.* {AUX}",
        DNF5,
        None,
        id="has-all-microdnf",
    ),
    # dnf clean all writes dnf.log again: an rm before it does not count.
    pytest.param(
        f"dnf install -y c && rm -rf /var/lib/dnf /var/log/* {AUX} && dnf clean all",
        DNF5,
        LEFT,
        id="rm-before-clean",
    ),
    # Nothing written under a mount is in the image: a cache mount needs no clean all.
    pytest.param(
        "--mount=type=cache,target=/var/cache/dnf dnf install -y c", DNF5, LEFT, id="cache-mount"
    ),
    pytest.param(
        "--mount=type=cache,target=/var/cache/dnf --mount=type=tmpfs,target=/var/log"
        " dnf install -y c",
        DNF5,
        f"rm -rf /var/lib/dnf/history.* {AUX}",
        id="log-mount",
    ),
    # A refresh leaves the cache a later `dnf -C` may read; the later install cleans it.
    pytest.param("dnf makecache", DNF5, None, id="installs-nothing"),
    pytest.param("dnf -y check-update", DNF5, None, id="check-update"),
    pytest.param("dnf --installroot=/r install -y c", DNF5, None, id="other-root"),
    # What pinner does not record fills the cache all the same.
    pytest.param("dnf install -y ./local.rpm", DNF5, f"dnf clean all && {LEFT}", id="local-rpm"),
    pytest.param(
        "dnf install -y https://example.org/epel-release-latest-9.noarch.rpm",
        DNF5,
        f"dnf clean all && {LEFT}",
        id="rpm-url",
    ),
    pytest.param(
        "yum localinstall -y /tmp/a.rpm", DNF5, f"yum clean all && {LEFT}", id="localinstall"
    ),
    pytest.param("dnf group install -y tools", DNF5, f"dnf clean all && {LEFT}", id="group"),
    # An upgrade takes what the repositories serve (nothing recorded) and fills the cache and
    # the history as an install does.
    pytest.param("dnf -y upgrade", DNF5, f"dnf clean all && {LEFT}", id="upgrade"),
    pytest.param("dnf module install -y nodejs:18", DNF5, f"dnf clean all && {LEFT}", id="module"),
    pytest.param("dnf swap -y a b", DNF5, f"dnf clean all && {LEFT}", id="swap"),
    pytest.param("yum update -y curl", DNF5, f"yum clean all && {LEFT}", id="update-words"),
    pytest.param(
        "microdnf distro-sync -y", DNF5, f"microdnf clean all && {LEFT_MICRODNF}", id="distro-sync"
    ),
]


@pytest.mark.parametrize(("run", "dnf5", "expected"), CLEANUPS)
def test_cleanup_for(run: str, dnf5: frozenset[str], expected: str | None) -> None:
    # run stands for a RUN's arguments: its --mount flags are read as the rewrite reads them.
    mounts = mounted(run)
    assert cleanup_for(run, mounts=mounts, dnf5=dnf5) == expected
    if expected is not None:
        assert shell_syntax.run_errors(f"RUN {run} && {expected}\n") == []
        assert cleanup_for(f"{run} && {expected}", mounts=mounts, dnf5=dnf5) is None


@pytest.mark.parametrize(
    "run",
    [
        "dnf install -y curl",
        "dnf install -y curl;",
        "set -e; dnf install -y curl # comment",
        "dnf install -y \\\n    curl \\\n    jq",
        "dnf install -y curl & wait",
    ],
)
def test_cleanup_joined_is_valid_shell(run: str) -> None:
    cleanup = cleanup_for(run)
    assert cleanup is not None
    new, note = join_cleanup(run, cleanup, escape="\\", nl="\n")
    assert note is None
    assert cleanup in new
    assert syntax.errors(new, checkers()) == []


@pytest.mark.parametrize(
    ("run_text", "expected"),
    [
        ("dnf install -y epel-release", "installs epel-release, which adds repositories"),
        ("dnf install -y epel-next-release", "installs epel-next-release, which adds repositories"),
        ("yum install -y centos-release-scl", "installs centos-release-scl, which adds repositories"),
        (
            'dnf -y install "https://dl.fedoraproject.org/pub/epel/epel-release-latest-9.noarch.rpm"',
            "installs epel-release-latest-9.noarch.rpm, which adds repositories",
        ),
        ("rpm -Uvh https://x.invalid/remi-release-9.rpm", "installs remi-release-9.rpm, which adds repositories"),
        ("dnf config-manager --add-repo https://x.invalid/d.repo", "runs dnf config-manager"),
        ("dnf config-manager --set-enabled crb", "runs dnf config-manager"),
        ("dnf5 config-manager addrepo --from-repofile=https://x.invalid/d.repo", "runs dnf5 config-manager"),
        ("dnf config-manager --setopt=install_weak_deps=False --save", "runs dnf config-manager"),
        ("sudo yum-config-manager --add-repo https://x.invalid/h.repo", "runs yum-config-manager --add-repo"),
        ("crb enable", "runs crb enable"),
        ("dnf -y module enable 'nodejs:2*'", "runs dnf module enable nodejs:2*"),
        ("dnf -y module enable nodejs:20:8090020240101", "runs dnf module enable nodejs:20:8090020240101"),
        ("yum module -y switch-to postgresql:16", "runs yum module switch-to postgresql:16"),
        ("dnf --installroot=/r module enable nodejs:20", "runs dnf module enable nodejs:20"),
        ("dnf module install -y nodejs:20/common", "runs dnf module install nodejs:20/common"),
        ("dnf module list nodejs", None),
        ("dnf -y copr enable sentry/kernel-fsync", "runs dnf copr"),
        ("curl -fsSLo /etc/yum.repos.d/d.repo https://x.invalid/d.repo", "changes /etc/yum.repos.d/d.repo"),
        ("wget -O /etc/yum.repos.d/epel.repo https://x.invalid/e.repo", "changes /etc/yum.repos.d/epel.repo"),
        ("echo '[x]' > /etc/yum.repos.d/x.repo", "changes /etc/yum.repos.d"),
        ("printf '[x]\\n' | tee -a /etc/yum.repos.d/x.repo", "changes /etc/yum.repos.d/x.repo"),
        ("sed -i s/enabled=0/enabled=1/ /etc/yum.repos.d/x.repo", "changes /etc/yum.repos.d/x.repo"),
        ("echo install_weak_deps=False >> /etc/dnf/dnf.conf", "changes /etc/dnf/dnf.conf"),
        ("echo '[x]' > /etc/yum/repos.d/x.repo", "changes /etc/yum/repos.d"),
        ("cp x.repo /usr/share/dnf5/repos.d/", "changes /usr/share/dnf5/repos.d/"),
        ("echo '[x]' > /etc/dnf/repos.override.d/10-x.repo", "changes /etc/dnf/repos.override.d"),
        ("cp best.conf /etc/dnf/libdnf5.conf.d/", "changes /etc/dnf/libdnf5.conf.d/"),
        ("dnf versionlock add curl", "runs dnf versionlock add"),
        ("dnf5 versionlock exclude 'kernel*'", "runs dnf5 versionlock exclude"),
        ("yum versionlock clear", "runs yum versionlock clear"),
        ("echo 'curl-0:7.76.1-26.el9.*' >> /etc/dnf/plugins/versionlock.list", "changes /etc/dnf/plugins"),
        ("cp locks.toml /etc/dnf/versionlock.toml", "changes /etc/dnf/versionlock.toml"),
        # Nothing the later commands read changes:
        # Module commands pinner follows (module_state): what they change is carried to the
        # commands after them.
        ("dnf -y module enable nodejs:20", None),
        ("microdnf module disable nodejs", None),
        ("dnf module reset -y php", None),
        ("dnf install -y git rpm-build redhat-rpm-config releasetools", None),
        ("cat /etc/yum.repos.d/*.repo", None),
        ("dnf install -y 'dnf-command(config-manager)' && dnf clean all", None),
        ("microdnf install -y tar", None),
        ("dnf versionlock list", None),
        ("dnf versionlock", None),
        ("dnf -y --setopt=reposdir=/tmp/build-repos install vim", None),
    ],
)  # fmt: skip
def test_repositories_change(run_text: str, expected: str | None) -> None:
    assert repositories_change(run_text) == expected


def test_a_repository_package_named_by_env_is_a_change() -> None:
    run_text = "dnf install -y $REPO_PKGS"
    assert repositories_change(run_text) is None
    assert repositories_change(run_text, "\\", (("REPO_PKGS", "curl epel-release"),)) == (
        "installs epel-release, which adds repositories"
    )


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("dnf -C install -y app", True),
        ("dnf install --cacheonly -y app", True),
        ("yum -yC install app", True),
        ("dnf -c /etc/dnf/dnf.conf install -y app", False),
        ("dnf install -y app", False),
        ("echo -C dnf", False),
        # The words dnf reads as options only: a value, and what follows `--`, are not.
        ("dnf --exclude -C install -y app", False),
        ("dnf install -y -- -C", False),
        # cacheonly set as an option: dnf 4's boolean, dnf5's all|metadata|none.
        ("dnf --setopt=cacheonly=True install -y app", True),
        ("dnf --setopt cacheonly=1 install -y app", True),
        ("dnf5 --setopt=cacheonly=all install -y app", True),
        ("dnf5 --setopt=cacheonly=metadata install -y app", True),
        ("dnf --setopt=cacheonly=False install -y app", False),
        ("dnf --setopt=cacheonly=0 install -y app", False),
        ("dnf5 --setopt=cacheonly=none install -y app", False),
        # The last setting wins; -C wins over any (dnf 4's demands.cacheonly).
        ("dnf --setopt=cacheonly=1 --setopt=cacheonly=0 install -y app", False),
        ("dnf -C --setopt=cacheonly=0 install -y app", True),
        ("dnf --setopt=fedora.cacheonly=1 install -y app", False),
    ],
)
def test_reads_cache_only(run: str, expected: bool) -> None:
    assert cache_use(run).reads is expected


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("dnf -y module enable nodejs:20", ("enable nodejs:20",)),
        ("dnf module enable nodejs", ("enable nodejs",)),
        ("dnf module -y enable nodejs:20/common php:8.1", ("enable nodejs:20", "enable php:8.1")),
        ("microdnf module enable ruby:3.1", ("enable ruby:3.1",)),
        ("dnf module disable -y nodejs:20", ("disable nodejs",)),
        ("yum module reset perl", ("reset perl",)),
        ("dnf module enable -y 'nodejs:2*'", ()),
        ("dnf module enable -y nodejs:20:8090020240101:abc", ()),
        ("dnf module enable -y nodejs:$V", ()),
        ("dnf module enable -y", ()),
        ("dnf module switch-to -y nodejs:20", ()),
        ("dnf module install -y nodejs:20", ()),
        ("echo nodejs:20 | xargs dnf module enable -y", ()),
        ("dnf --installroot=/r module enable -y nodejs:20", ()),
    ],
)
def test_the_module_commands_pinner_follows(text: str, state: tuple[str, ...]) -> None:
    (invocation,) = [i for i in run_invocations(text, "\\") if i.program in PROGRAMS]
    command = read_command(invocation)
    assert command is not None
    assert command.state == state
    assert (command.packages, bool(command.notes)) == ((), not state)
