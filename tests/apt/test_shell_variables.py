"""Package lists held in shell variables: the RUN lexer expands a variable whose value is a literal
known at that point, for every package manager alike."""

from __future__ import annotations

import pytest

from pinner import managers
from pinner.apt import commands
from pinner.apt.shell import run_invocations
from pinner.managers import rpmcommands


def installed(
    run: str, manager: str, env: tuple[tuple[str, str], ...] = ()
) -> tuple[list[str], list[str]]:
    """The package names a RUN's install commands name, and their notes."""
    if manager == "apt":
        found = commands.install_packages(run) if not env else ()
        return [p.name for p in found], [n for c in commands.apt_commands(run) for n in c.notes]
    module = managers.get(manager)
    assert module is not None
    names: list[str] = []
    notes: list[str] = []
    for install in managers.invocations_installs(module, run_invocations(run, "\\", env)):
        names += [p.name for p in install.packages]
        notes += install.notes
    return names, notes


# Real RUN forms (shortened where the list is long), each with its source.
REAL = [
    # sclorg/s2i-base-container base/Dockerfile.fedora: a multi-line value, checked with rpm -V
    pytest.param(
        'INSTALL_PKGS="autoconf \\\n  automake \\\n  bzip2 \\\n  zlib-devel" && \\\n'
        "  dnf install -y --setopt=tsflags=nodocs $INSTALL_PKGS && \\\n"
        "  rpm -V $INSTALL_PKGS && \\\n  dnf clean all -y",
        "dnf",
        ["autoconf", "automake", "bzip2", "zlib-devel"],
        id="sclorg-s2i-base-fedora",
    ),
    # sclorg/s2i-base-container base/Dockerfile.c9s: a module enabled first, a comment line
    # inside the continued RUN (BuildKit drops it)
    pytest.param(
        "\\\n  dnf -y module enable nodejs:22 && \\\n"
        '  INSTALL_PKGS="autoconf \\\n  nodejs \\\n  which" && \\\n'
        "  dnf install -y --setopt=tsflags=nodocs $INSTALL_PKGS && \\\n"
        "  #rpm -V $INSTALL_PKGS && \\\n"
        "  dnf -y clean all --enablerepo='*'",
        "dnf",
        ["autoconf", "nodejs", "which"],
        id="sclorg-s2i-base-c9s",
    ),
    # openshift/origin-haproxy-router based Dockerfile (a search excerpt that names no
    # repository): one package in the variable
    pytest.param(
        'INSTALL_PKGS="openssl" && \\\n    yum install -y $INSTALL_PKGS && \\\n'
        "    rpm -V $INSTALL_PKGS && \\\n    yum clean all",
        "yum",
        ["openssl"],
        id="haproxy-router",
    ),
    # openshift/cluster-logging-operator Dockerfile: the value starts and ends with a newline
    pytest.param(
        'INSTALL_PKGS=" \\\n      openssl \\\n      rsync \\\n      file \\\n      xz \\\n'
        '      " && \\\n    yum install -y $INSTALL_PKGS && \\\n    rpm -V $INSTALL_PKGS && \\\n'
        "    yum clean all && \\\n    mkdir /tmp/ocp-clo",
        "yum",
        ["openssl", "rsync", "file", "xz"],
        id="cluster-logging-operator",
    ),
    # A Jenkins agent image (search excerpt): the assignment after `cmd || : &&`
    pytest.param(
        "yum-config-manager --disable epel >/dev/null || : && \\\n"
        '    INSTALL_PKGS="bc gettext git lsof rsync tar unzip which zip" && \\\n'
        "    yum install -y $INSTALL_PKGS && \\\n    rpm -V $INSTALL_PKGS && \\\n"
        "    yum clean all -y",
        "yum",
        ["bc", "gettext", "git", "lsof", "rsync", "tar", "unzip", "which", "zip"],
        id="jenkins-agent-after-or",
    ),
    # An nginx + php-fpm CentOS image (search excerpt): a lower-case name, spaces in the value
    pytest.param(
        'install_PKGs="         ca-certificates         nginx         php-fpm      " '
        "    && yum install -y $install_PKGs     && rpm -V $install_PKGs     && yum clean all",
        "yum",
        ["ca-certificates", "nginx", "php-fpm"],
        id="nginx-php-fpm",
    ),
    # A UBI 9 minimal operator image (must-gather, search excerpt): microdnf
    pytest.param(
        'INSTALL_PKGS=" \\\n  rsync \\\n  tar \\\n  " && \\\n'
        "  microdnf install -y $INSTALL_PKGS && \\\n  microdnf clean all",
        "microdnf",
        ["rsync", "tar"],
        id="ubi9-minimal-microdnf",
    ),
    # freeipa/ipa-tuura Containerfile (search excerpt): the value opens with an escaped newline
    pytest.param(
        'INSTALL_PKGS="\\\npython3-sssdconfig maven unzip \\\ngcc \\\n" && '
        "dnf install -y $INSTALL_PKGS && dnf clean all",
        "dnf",
        ["python3-sssdconfig", "maven", "unzip", "gcc"],
        id="ipa-tuura",
    ),
    # ibmtimwang/rhel7_unzip Dockerfiles: rpm -V with options
    pytest.param(
        'INSTALL_PKGS="unzip" && \\\n    microdnf -y install $INSTALL_PKGS && \\\n'
        "    rpm -V --nosize --nofiledigest --nomtime $INSTALL_PKGS && \\\n"
        "    microdnf clean all && \\\n    rm -rf /usr/local/man",
        "microdnf",
        ["unzip"],
        id="rhel7-unzip",
    ),
    # A Fedora systemd image (search excerpt): single quotes, dnf makecache between
    pytest.param(
        "sed -e 's|^#baseurl=x|baseurl=y|g' -i.bak /etc/yum.repos.d/fedora.repo && "
        "INSTALL_PKGS='findutils initscripts iproute python3 sudo' \\\n"
        "    && dnf makecache &&  dnf install -y $INSTALL_PKGS \\\n    && dnf clean all",
        "dnf",
        ["findutils", "initscripts", "iproute", "python3", "sudo"],
        id="fedora-systemd-single-quotes",
    ),
    # An HAProxy dev image (search excerpt): one variable known, one not ($HAPROXY_RPMS, an ARG
    # not handed in): the known one's words are recorded, the other keeps its note
    pytest.param(
        'INSTALL_PKGS="procps-ng lsof strace" && \\\n'
        '    [ "$DNF_UPDATE" = "true" ] && dnf update -y || echo "Skipping dnf update" && \\\n'
        "    dnf install -y $INSTALL_PKGS $HAPROXY_RPMS",
        "dnf",
        ["procps-ng", "lsof", "strace"],
        id="haproxy-dev-unknown-second",
    ),
    # NLnetLabs unbound image (search excerpt): the variable beside literal words
    pytest.param(
        'build_deps="curl gcc musl-dev make openssl-dev" && \\\n'
        "    apk update && apk add --no-cache $build_deps ca-certificates ldns && \\\n"
        "    apk del $build_deps",
        "apk",
        ["curl", "gcc", "musl-dev", "make", "openssl-dev", "ca-certificates", "ldns"],
        id="unbound-apk",
    ),
    # A LibreSSL build image (search excerpt): `;` between commands, set -ex after the assignment
    pytest.param(
        "BUILD_DEPS='build-base curl file linux-headers sed'; \\\n"
        '    LIBRESSL_DOWNLOAD_URL="https://ftp.openbsd.org/x.tar.gz"; \\\n'
        "    set -ex; \\\n    apk add --no-cache $BUILD_DEPS; \\\n    mkdir -p /tmp/src/libressl",
        "apk",
        ["build-base", "curl", "file", "linux-headers", "sed"],
        id="libressl-semicolons",
    ),
    # cgitize Dockerfile (search excerpt): two variables in one install
    pytest.param(
        "build_deps='gcc libffi-dev make' && \\\n"
        "    runtime_deps='bash git openssh-client python3 tini' && \\\n"
        "    apk add --no-cache $build_deps $runtime_deps",
        "apk",
        ["gcc", "libffi-dev", "make", "bash", "git", "openssh-client", "python3", "tini"],
        id="cgitize-two-variables",
    ),
]


@pytest.mark.parametrize(("run", "manager", "names"), REAL)
def test_real_forms_record_the_words_of_the_variable(
    run: str, manager: str, names: list[str]
) -> None:
    found, notes = installed(run, manager)
    assert found == names
    assert not [note for note in notes if "$" in note and "HAPROXY_RPMS" not in note]


def test_an_unknown_variable_beside_a_known_one_keeps_its_note() -> None:
    run = 'A="curl" && dnf install -y $A $B'
    assert installed(run, "dnf") == (
        ["curl"],
        ["package word uses a variable ($B); it is not recorded"],
    )


# (run, expected names, expected notes' variables): what the shell would make of each.
SEMANTICS = [
    pytest.param('P="a b" && apk add "$P"', [], id="quoted-is-one-word"),
    pytest.param('P="a b" && apk add ${P}', ["a", "b"], id="braces"),
    pytest.param('P="b" && apk add a${P}c', ["abc"], id="inside-a-word"),
    pytest.param('P="a" && P="$P b" && apk add $P', ["a", "b"], id="value-from-a-value"),
    pytest.param('P="a" && P+=" b" && apk add $P', ["a", "b"], id="append"),
    pytest.param('export P="a b" && apk add $P', ["a", "b"], id="export"),
    pytest.param('P="a"\napk add $P', ["a"], id="newline"),
    pytest.param('P="a" apk add $P', [], id="prefix-assignment-not-seen-by-its-command"),
    pytest.param('P="a" true && apk add $P', [], id="prefix-assignment-does-not-stay"),
    pytest.param('true || P="a"; apk add $P', [], id="after-or"),
    pytest.param('[ -n "$X" ] && P="a"; apk add $P', [], id="after-and-then-a-new-list"),
    pytest.param('[ -n "$X" ] && P="a" && apk add $P', ["a"], id="after-and-in-the-list"),
    pytest.param('cd /x && P="a" || apk add $P', [], id="after-and-then-or"),
    pytest.param('cd /x && P="a" &&\napk add $P', ["a"], id="after-and-over-a-newline"),
    pytest.param('P="a"; cd /x && P="b"; apk add $P', [], id="changed-after-and"),
    pytest.param('P="a" | true; apk add $P', [], id="in-a-pipeline"),
    pytest.param('(P="a"); apk add $P', [], id="in-a-subshell"),
    pytest.param('P="a"; (apk add $P)', ["a"], id="subshell-reads"),
    pytest.param('if true; then P="a"; fi; apk add $P', [], id="in-an-if"),
    pytest.param('P="a"; if true; then P="b"; fi; apk add $P', [], id="changed-in-an-if"),
    pytest.param("for P in a b; do apk add $P; done", [], id="loop-variable"),
    pytest.param('case x in x) P="a";; esac; apk add $P', [], id="in-a-case"),
    pytest.param('P="a"; read P; apk add $P', [], id="read"),
    pytest.param('P="a"; unset P; apk add $P', [], id="unset"),
    pytest.param('P="a"; . /etc/os-release; apk add $P', [], id="sourced-file"),
    pytest.param('P="a"; eval "$X"; apk add $P', [], id="eval"),
    pytest.param('IFS=:; P="a:b"; apk add $P', [], id="ifs"),
    pytest.param('P="a"; apk add ${P:-b}', [], id="default-form"),
    pytest.param("P=$(cat list) && apk add $P", [], id="command-substitution"),
    pytest.param('P="$(cat list) a" && apk add $P', [], id="command-substitution-inside"),
    pytest.param('apk add $P; P="a"', [], id="assigned-after-use"),
    pytest.param('export P="a b"; sh -c "apk add \\$P"', ["a", "b"], id="exported-to-sh-c"),
    pytest.param('P="a b"; sh -c "apk add \\$P"', [], id="not-exported-to-sh-c"),
    pytest.param("P='a b' sh -c 'apk add $P'", ["a", "b"], id="prefix-assignment-to-sh-c"),
    pytest.param("P='a b' bash -ec 'apk add $P'", ["a", "b"], id="prefix-assignment-to-bash"),
    pytest.param("env P='a b' sh -c 'apk add $P'", ["a", "b"], id="env-assignment-to-sh-c"),
    pytest.param("P=a; P='b' sh -c 'apk add $P'", ["b"], id="prefix-wins-over-the-value"),
    pytest.param("P='a b' Q=$P sh -c 'apk add $Q'", [], id="prefix-reads-another-prefix"),
    pytest.param("P=a; Q=$P sh -c 'apk add $Q'", ["a"], id="prefix-reads-a-known-value"),
    pytest.param("P='a b' sh -c \"apk add $P\"", [], id="outer-shell-expands-double-quotes"),
    pytest.param("P=a sh -c 'true'; apk add $P", [], id="prefix-to-sh-c-does-not-stay"),
    pytest.param("export P=a; env -i sh -c 'apk add $P'", [], id="env-i-empties"),
    pytest.param("export P=a; env -u P sh -c 'apk add $P'", [], id="env-u-drops"),
    pytest.param("export P=a; sudo sh -c 'apk add $P'", [], id="sudo-resets-the-environment"),
    pytest.param("export P=a; sudo -E sh -c 'apk add $P'", ["a"], id="sudo-E-keeps-it"),
    pytest.param("sudo P=a sh -c 'apk add $P'", ["a"], id="sudo-assignment"),
    pytest.param('P="a"; f() { P="b"; }; apk add $P', [], id="in-a-function"),
    pytest.param('P="a*"; apk add $P', [], id="glob-in-the-value"),
]


@pytest.mark.parametrize(("run", "names"), SEMANTICS)
def test_expansion_follows_the_shell(run: str, names: list[str]) -> None:
    found, _ = installed(run, "apk")
    assert found == names


def test_a_dollar_in_single_quotes_is_text_not_a_variable() -> None:
    assert installed("P='$X' && apk add $P", "apk") == (
        [],
        ["package word $X is not a package name; not recorded"],
    )


def test_a_word_from_a_variable_knows_its_variable_and_where_it_is_written() -> None:
    run = 'P="curl git" && apk add $P'
    (invocation,) = run_invocations(run)
    curl, git = invocation.args[1:]
    assert (curl.text, run[curl.start : curl.end], curl.origin) == ("curl", "curl", ("P", 24))
    assert (git.text, run[git.start : git.end], git.origin) == ("git", "git", ("P", 24))


def test_a_value_handed_in_is_placed_at_the_word_that_names_it() -> None:
    run = "apk add $BUILD_DEPS"
    (invocation,) = run_invocations(run, "\\", (("BUILD_DEPS", "gcc make"),))
    gcc, make = invocation.args[1:]
    assert [(w.text, w.start, w.end, w.origin) for w in (gcc, make)] == [
        ("gcc", 8, 19, ("BUILD_DEPS", 8)),
        ("make", 8, 19, ("BUILD_DEPS", 8)),
    ]


def test_apt_records_the_words_and_writes_no_version_into_the_value() -> None:
    run = 'PKGS="curl git" && apt-get install -y $PKGS'
    assert [p.name for p in commands.install_packages(run)] == ["curl", "git"]
    assert commands.pin_versions(run, {"curl": "8.0-1", "git": "1:2.39-1"}) == run


def test_a_value_is_removed_as_its_words_but_its_braces_are_not_expanded() -> None:
    # bash expands braces before variables: `rm -rf $D` removes a file named with braces.
    run = 'D="/var/log/{dnf*,hawkey.log}" && dnf install -y curl && dnf clean all'
    assert rpmcommands.cleanup_for(f"{run} && rm -rf $D") == (
        "rm -rf /var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log"
        " /var/cache/ldconfig/aux-cache"
    )
    assert rpmcommands.cleanup_for(f"{run} && rm -rf /var/log/{{dnf*,hawkey.log}}") == (
        "rm -rf /var/lib/dnf/history.* /var/cache/ldconfig/aux-cache"
    )
    removes_logs = 'L="/var/log/dnf*" && dnf install -y a && dnf clean all && rm -rf $L'
    assert rpmcommands.cleanup_for(removes_logs) == (
        "rm -rf /var/lib/dnf/history.* /var/log/hawkey.log /var/cache/ldconfig/aux-cache"
    )
