"""Tests for pinner.managers.rpm: words handed to the engine, pins, and locked-package checks."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from pinner.apt.shell import run_invocations
from pinner.errors import MirrorError, PackageError
from pinner.lockfile import LockedPackage
from pinner.managers import Fetch, Mode, PackageArg, Resolved, Source, System, get
from pinner.managers.rpm import MANAGER, checked
from pinner.managers.rpmconfig import RpmConfig

SHA = "a" * 64


def _words(run: str) -> list[PackageArg]:
    found = []
    for invocation in run_invocations(run):
        install = MANAGER.installs(invocation)
        if install is not None:
            found += install.packages
    return found


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        pytest.param("dnf install -y curl", [("curl", None, True)], id="name"),
        pytest.param(
            "dnf install -y curl-8.6.0-1.fc40 bash-2:5.2-3",
            [("curl", "=8.6.0-1.fc40", True), ("bash", "=2:5.2-3", True)],
            id="pins-as-written",
        ),
        pytest.param(
            "dnf install -y java-17-openjdk gcc-toolset-13 python3-3.12.1",
            [
                ("java-17-openjdk", None, True),
                ("gcc-toolset-13", None, True),
                ("python3-3.12.1", None, True),
            ],
            id="names-with-digits-are-names",
        ),
        pytest.param(
            "dnf install -y curl-8.6.0-1.fc40.x86_64 jq.noarch 'make.x86_64'",
            [("curl", "=8.6.0-1.fc40", True), ("jq", None, True), ("make.x86_64", None, False)],
            id="arch-words-read-before-their-arch",
        ),
        pytest.param(
            "dnf install -y 'pkgconfig(zlib)' \"jq\" /usr/bin/make",
            [("pkgconfig(zlib)", None, False), ("jq", None, False), ("/usr/bin/make", None, False)],
            id="quoted-provides-and-files-not-plain",
        ),
    ],
)
def test_installs(run: str, expected: list[tuple[str, str | None, bool]]) -> None:
    assert [(w.name, w.constraint, w.plain) for w in _words(run)] == expected


def test_an_arch_word_spans_the_part_a_pin_replaces() -> None:
    run = "dnf install -y curl-8.6.0-1.fc40.x86_64 jq.noarch"
    assert [run[w.start : w.end] for w in _words(run)] == ["curl-8.6.0-1.fc40", "jq"]


def test_modules_table_and_platforms() -> None:
    assert get("dnf") is get("yum") is get("microdnf") is MANAGER
    assert MANAGER.platform("x86_64") == "linux/amd64"
    assert MANAGER.platform("aarch64") == "linux/arm64"
    assert MANAGER.platform("noarch") is None


def test_pin_word() -> None:
    assert MANAGER.pin_word("curl", "8.6.0-1.fc40") == "curl-8.6.0-1.fc40"
    assert MANAGER.pin_word("openssl", "1:3.2.1-2.fc40") == "openssl-1:3.2.1-2.fc40"
    with pytest.raises(ValueError):
        MANAGER.pin_word("curl", "8.6.0;reboot-1")


GOOD = LockedPackage(
    "curl", "x86_64", "8.6.0-1.fc40", SHA, "Packages/c/curl-8.6.0-1.fc40.x86_64.rpm"
)


@pytest.mark.parametrize(
    ("package", "message"),
    [
        pytest.param(
            GOOD._replace(name="curl;x"), "package 'curl;x': not an RPM package name", id="name"
        ),
        pytest.param(
            GOOD._replace(architecture="x86-64"),
            "package 'curl': architecture 'x86-64' is not valid",
            id="arch",
        ),
        pytest.param(
            GOOD._replace(version="8.6.0"),
            "package 'curl': version '8.6.0' is not an RPM EVR",
            id="no-release",
        ),
        pytest.param(
            GOOD._replace(sha256="ab"), "package 'curl': sha256 'ab' is malformed", id="sha256"
        ),
        pytest.param(
            GOOD._replace(sha256=""),
            "package 'curl': neither a sha256 nor a checksum primary.xml could give",
            id="no-checksum",
        ),
        pytest.param(
            GOOD._replace(filename="../../x.rpm"),
            "package 'curl': filename '../../x.rpm' is not an RPM path",
            id="escape",
        ),
    ],
)
def test_checked_refuses(package: LockedPackage, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        checked(package)
    assert str(raised.value) == message


def test_checked_accepts() -> None:
    assert checked(GOOD) == GOOD
    sha512 = GOOD._replace(sha256="", checksum="sha512:" + "b" * 128)
    assert checked(sha512) == sha512


AUX = "/var/cache/ldconfig/aux-cache"
LEFT = f"/var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log {AUX}"
LEFT5 = f"/usr/lib/sysimage/libdnf5/transaction_history.* /var/log/dnf* {AUX}"


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("dnf install -y curl", f"dnf clean all && rm -rf {LEFT}"),
        ("dnf install -y curl && dnf clean all", f"rm -rf {LEFT}"),
        ("microdnf install curl", f"microdnf clean all && rm -rf /var/lib/dnf/history.* {AUX}"),
    ],
)
def test_cleanup(run: str, expected: str | None) -> None:
    assert MANAGER.cleanup(run, run_invocations(run), System(None, None)) == expected


@pytest.mark.parametrize(
    ("system", "dnf", "microdnf"),
    [
        (System("fedora", "37"), LEFT, f"/var/lib/dnf/history.* {AUX}"),
        (System("fedora", "38"), LEFT, LEFT5),
        (System("fedora", "40"), LEFT, LEFT5),
        (System("fedora", "41"), LEFT5, LEFT5),
        (System("fedora", "rawhide"), LEFT5, LEFT5),
        (System("centos", "10"), LEFT, f"/var/lib/dnf/history.* {AUX}"),
        (System("rhel", "9.4"), LEFT, f"/var/lib/dnf/history.* {AUX}"),
        (System(None, None), LEFT, f"/var/lib/dnf/history.* {AUX}"),
    ],
)
def test_cleanup_removes_what_the_stages_dnf_leaves(
    system: System, dnf: str, microdnf: str
) -> None:
    """dnf and yum are dnf5 from Fedora 41; microdnf from Fedora 38, where dnf5 ships it."""
    for program, left in (("dnf", dnf), ("yum", dnf), ("microdnf", microdnf)):
        run = f"{program} install -y curl"
        expected = f"{program} clean all && rm -rf {left}"
        assert MANAGER.cleanup(run, run_invocations(run), system) == expected


@pytest.mark.parametrize(
    ("system", "yum3"),
    [
        (System("centos", "7"), True),
        (System("rhel", "7.9"), True),
        (System("ol", "7.9"), True),
        (System("centos", "6"), True),
        (System("amzn", "2"), True),
        (System("amzn", "2023"), False),
        (System("centos", "8"), False),
        (System("rocky", "8.9"), False),
        (System(None, None), False),
    ],
)
def test_cleanup_on_yum3_removes_its_history_and_log(system: System, yum3: bool) -> None:
    """EL 7 and Amazon Linux 2's yum is yum 3: /var/lib/yum/history and /var/log/yum.log."""
    run = "yum install -y curl"
    left = f"/var/lib/yum/history /var/log/yum.log {AUX}" if yum3 else LEFT
    assert MANAGER.cleanup(run, run_invocations(run), system) == f"yum clean all && rm -rf {left}"
    run = "dnf install -y curl"  # dnf on EL 7 (from EPEL) is dnf 4 still
    assert MANAGER.cleanup(run, run_invocations(run), system) == f"dnf clean all && rm -rf {LEFT}"


# --------------------------------------------------------------------------- resolve


CUSTOM = Path(__file__).resolve().parents[2] / "testdata" / "rpm" / "custom-zst"


def _served(metalink_sha256: str | None = None) -> dict[str, bytes]:
    files = {
        f"https://m.example/custom/repodata/{p.name}": p.read_bytes()
        for p in (CUSTOM / "repodata").iterdir()
    }
    repomd = files["https://m.example/custom/repodata/repomd.xml"]
    digest = metalink_sha256 or hashlib.sha256(repomd).hexdigest()
    files["https://mirrors.example/metalink?repo=custom-9"] = (
        '<metalink version="3.0" xmlns="http://www.metalinker.org/"><files>'
        '<file name="repomd.xml"><verification><hash type="sha256">'
        f"{digest}</hash></verification><resources>"
        '<url protocol="https">https://m.example/custom/repodata/repomd.xml</url>'
        "</resources></file></files></metalink>"
    ).encode()
    return files


def _fetcher(files: dict[str, bytes]) -> Fetch:
    async def fetch(url: str, subject: str, limit: int) -> bytes:
        if url not in files:
            raise MirrorError(f"{subject}: 404")
        return files[url][: limit + 1]

    return fetch


REPOS = b"""[local]
baseurl=file:///srv/repo
[custom]
metalink=https://mirrors.example/metalink?repo=custom-$releasever
"""


def _config() -> RpmConfig:
    config = MANAGER.configure(
        {
            "/etc/os-release": b'ID="rocky"\nVERSION_ID="9.3"\n',
            "/etc/yum.repos.d/x.repo": REPOS,
        },
        "linux/amd64",
    )
    assert isinstance(config, RpmConfig), config
    return config


def _resolve(files: dict[str, bytes], *words: str) -> Resolved:
    requests = [PackageArg(word, None, 0, len(word)) for word in words]
    return asyncio.run(MANAGER.resolve(Source(_fetcher(files), _config(), {}), requests, Mode("")))


def test_resolve_through_a_metalink_skipping_a_local_repository() -> None:
    found = _resolve(_served(), "pkg-with-no-deps")
    (package,) = found.packages
    assert package == LockedPackage(
        "pkg-with-no-deps",
        "x86_64",
        "1.0.0-0",
        package.sha256,
        "pkg-with-no-deps-1.0.0-0.noarch.rpm",
    )
    assert len(package.sha256) == 64
    assert found.notes == (
        "the image has no rpmdb; every dependency is recorded",
        "[local] (/etc/yum.repos.d/x.repo) is not an http(s) repository; its packages are not"
        " considered",
    )
    assert not found.rebuildable


def test_repomd_not_matching_the_metalink_is_one_line() -> None:
    with pytest.raises(MirrorError) as raised:
        _resolve(_served("0" * 64), "pkg-with-no-deps")
    assert str(raised.value) == (
        "[custom] https://m.example/custom/repodata/repomd.xml: repomd.xml matches no checksum"
        " its metalink gives"
    )


def test_a_word_nothing_provides_is_one_line() -> None:
    with pytest.raises(PackageError) as raised:
        _resolve(_served(), "nosuch")
    assert raised.value.package == "nosuch"
    assert str(raised.value) == (
        "nosuch: nothing in the enabled repositories provides it (custom; rocky 9.3 x86_64)"
    )


def test_a_failing_mirror_gives_way_to_the_next() -> None:
    files = _served()
    metalink = files["https://mirrors.example/metalink?repo=custom-9"].decode()
    dead = '<url protocol="https">https://dead.example/custom/repodata/repomd.xml</url>'
    files["https://mirrors.example/metalink?repo=custom-9"] = metalink.replace(
        "<resources>", f"<resources>{dead}"
    ).encode()
    (package,) = _resolve(files, "pkg-with-no-deps").packages
    assert package.name == "pkg-with-no-deps"


def test_a_malformed_metalink_is_one_line() -> None:
    files = _served()
    files["https://mirrors.example/metalink?repo=custom-9"] = b"<metalink><files>"
    with pytest.raises(MirrorError) as raised:
        _resolve(files, "pkg-with-no-deps")
    assert str(raised.value) == (
        "[custom] metalink: not well-formed XML (no element found: line 1, column 17)"
    )
