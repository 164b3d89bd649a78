"""pinner.apt.sources: the generated shell is run by real shells against real apt sources files."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from image_root import chroot, snapshot_run_line, snapshot_script, under_root

from pinner.apt.sources import (
    CA_BUNDLE,
    TLS_CONF,
    SnapshotStep,
    cleanup_for,
    find_marker,
    find_markers,
    marker_re,
    needs_cleanup,
    update_timestamp,
)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "testdata" / "sources"
EXPECTED = DATA / "expected"
OFFICIAL = REPO / "testdata" / "debian-official-images"
TS = "20250102T030405Z"
TS2 = "20260304T050607Z"
DEB = f"http://snapshot.debian.org/archive/debian/{TS}"
UBU = f"https://snapshot.ubuntu.com/ubuntu/{TS}"
NO_DEBIAN = (
    "pinner: no Debian archive in the apt sources of this stage,"
    " so it cannot be pinned to a snapshot\n"
)
NO_UBUNTU = NO_DEBIAN.replace("Debian", "Ubuntu")
VALID_UNTIL_OFF = b'Acquire::Check-Valid-Until "false";\n'
UBUNTU_TLS_CONF = VALID_UNTIL_OFF + (
    b"// pinner: no CA bundle; apt still verifies the InRelease signature\n"
    b'Acquire::https::snapshot.ubuntu.com::Verify-Peer "false";\n'
)
BUSYBOX_APPLETS = ("sed", "grep", "cat", "cmp", "mktemp", "rm", "printf")

Shell = Callable[[str], "subprocess.CompletedProcess[str]"]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def busybox_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH directory holding only busybox applets, so no GNU or mawk tool can sneak in."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    bin_dir = tmp_path_factory.mktemp("busybox-bin")
    for applet in BUSYBOX_APPLETS:
        (bin_dir / applet).symlink_to(busybox)
    return bin_dir


@pytest.fixture(params=["dash", "busybox"])
def shell(request: pytest.FixtureRequest) -> Shell:
    """Run a script with dash and mawk (as Debian and Ubuntu images do), or with busybox only."""
    if request.param == "dash":
        if not Path("/bin/dash").exists():
            pytest.skip("dash is not installed")
        argv, env = ["/bin/dash", "-c"], dict(os.environ)
    else:
        bin_dir: Path = request.getfixturevalue("busybox_bin")
        argv, env = [str(shutil.which("busybox")), "sh", "-c"], {"PATH": str(bin_dir)}

    def run(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, script], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    return run


def image_root(tmp_path: Path) -> Path:
    """An empty root with the apt directories every Debian and Ubuntu image has."""
    root = tmp_path / "root"
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    (root / "etc/apt/apt.conf.d").mkdir()
    return root


def tree(top: Path) -> dict[str, bytes]:
    """Every file under `top`, by relative path."""
    return {
        p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()
    }


def pin(
    shell: Shell,
    distro: str,
    root: Path,
    timestamp: str = TS,
    mirrors: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the snapshot step against `root` and insist it succeeds quietly."""
    script = under_root(snapshot_script(distro, timestamp, mirrors=mirrors), root)  # type: ignore[arg-type]
    result = shell(script)
    assert (result.returncode, result.stderr) == (0, "")
    return result


def official(*parts: str) -> Path:
    """A file of the official Debian image test data (testdata/debian-official-images)."""
    return OFFICIAL.joinpath(*parts)


def buildkit_join(instruction: str) -> str:
    """What BuildKit hands the shell: continuation escapes and newlines removed."""
    return instruction.replace("\\\n", "")


# --------------------------------------------------------------------------- official images

DEBIAN_FILES = {
    "bullseye": ("rootfs.sources-list", "etc/apt/sources.list"),
    "bookworm": ("rootfs.debian-sources", "etc/apt/sources.list.d/debian.sources"),
    "trixie": ("rootfs.debian-sources", "etc/apt/sources.list.d/debian.sources"),
}
DEBIAN_CASES = [
    pytest.param(release, variant, arch, id=f"debian-{release}-{variant}-{arch}")
    for release in DEBIAN_FILES
    for variant in ("default", "slim")
    for arch in ("amd64", "arm64v8")
]
UBUNTU_CASES = [
    pytest.param(f"ubuntu-{version}-{arch}", id=f"ubuntu-{version}-{arch}")
    for version in ("20.04", "22.04", "24.04")
    for arch in ("amd64", "arm64")
]


def without_valid_until(text: str) -> str:
    """A reviewed expected file as the generic step writes it: Valid-Until is off in apt.conf.d."""
    text = re.sub(r"(?m)^Check-Valid-Until: no\n", "", text)
    text = text.replace("[check-valid-until=no] ", "").replace(" check-valid-until=no", "")
    return text.replace("check-valid-until=no ", "")


def generic_tree(expected: Path) -> dict[str, bytes]:
    """The files the generic step gives for testdata/sources/expected/<name> (shared with the
    exact step, which turns Valid-Until off per source)."""
    files = {k: without_valid_until(v.decode()).encode() for k, v in tree(expected).items()}
    files["apt/apt.conf.d/80pinner-snapshot"] = (
        UBUNTU_TLS_CONF if "apt/apt.conf.d/80pinner-snapshot" in files else VALID_UNTIL_OFF
    )
    return files


def assert_pins_and_is_idempotent(shell: Shell, distro: str, root: Path, expected: Path) -> None:
    """Pin once: files equal `expected`; pin again: no change, and no sources file rewritten."""
    pin(shell, distro, root)
    assert tree(root / "etc") == generic_tree(expected / "etc")
    sources = [f for f in (root / "etc/apt").glob("sources.list*") if f.is_file()]
    sources += list((root / "etc/apt/sources.list.d").iterdir())
    for file in sources:
        os.utime(file, ns=(1_000_000_000, 1_000_000_000))
    pin(shell, distro, root)
    assert tree(root / "etc") == generic_tree(expected / "etc")
    assert {f.stat().st_mtime_ns for f in sources} == {1_000_000_000}


@pytest.mark.parametrize(("release", "variant", "arch"), DEBIAN_CASES)
def test_debian_official_image_sources(
    tmp_path: Path, shell: Shell, release: str, variant: str, arch: str
) -> None:
    name, dest = DEBIAN_FILES[release]
    source = official(arch, release, *(["slim"] if variant == "slim" else []), name)
    root = image_root(tmp_path)
    shutil.copyfile(source, root / dest)
    assert_pins_and_is_idempotent(shell, "debian", root, EXPECTED / f"debian-{release}")


@pytest.mark.parametrize("name", UBUNTU_CASES)
def test_ubuntu_official_image_sources(tmp_path: Path, shell: Shell, name: str) -> None:
    root = image_root(tmp_path)
    shutil.copytree(DATA / name / "etc", root / "etc", dirs_exist_ok=True)
    assert_pins_and_is_idempotent(shell, "ubuntu", root, EXPECTED / name)


def test_debian_sources_are_the_same_bytes_across_variants_and_arches() -> None:
    """The table above checks all of them against one expected file per release; make sure."""
    for release, (name, _) in DEBIAN_FILES.items():
        copies = {
            official(arch, release, *slim, name).read_bytes()
            for arch in ("amd64", "arm64v8")
            for slim in ([], ["slim"])
        }
        assert len(copies) == 1, release


# --------------------------------------------------------------------------- one-line entries

LINE_CASES = [
    pytest.param(
        "debian",
        "deb [signed-by=/x.gpg] http://deb.debian.org/debian bookworm main",
        f"deb [signed-by=/x.gpg] {DEB} bookworm main",
        id="options-merged",
    ),
    pytest.param(
        "debian",
        "deb [ arch=amd64 signed-by=/x.gpg ] http://deb.debian.org/debian bookworm main",
        f"deb [ arch=amd64 signed-by=/x.gpg ] {DEB} bookworm main",
        id="options-with-inner-spaces",
    ),
    pytest.param(
        "debian",
        "deb [check-valid-until=yes arch=arm64] http://deb.debian.org/debian bookworm main",
        f"deb [check-valid-until=no arch=arm64] {DEB} bookworm main",
        id="valid-until-turned-off",
    ),
    pytest.param(
        "debian",
        "deb [] http://deb.debian.org/debian bookworm main",
        f"deb [] {DEB} bookworm main",
        id="empty-options",
    ),
    pytest.param(
        "debian",
        "deb-src http://deb.debian.org/debian bookworm main",
        f"deb-src {DEB} bookworm main",
        id="deb-src",
    ),
    pytest.param(
        "debian",
        "\tdeb\thttps://ftp.de.debian.org/debian/\tbookworm main  # nearest mirror",
        f"\tdeb\t{DEB}/\tbookworm main  # nearest mirror",
        id="https-mirror-tabs-trailing-slash-comment",
    ),
    pytest.param(
        "debian",
        "deb http://security.debian.org/debian-security bookworm-security main",
        f"deb http://snapshot.debian.org/archive/debian-security/{TS} bookworm-security main",
        id="security-host",
    ),
    pytest.param(
        "debian",
        "deb http://deb.debian.org/debian-ports sid main",
        f"deb http://snapshot.debian.org/archive/debian-ports/{TS} sid main",
        id="debian-ports",
    ),
    pytest.param(
        "debian",
        "deb http://archive.debian.org/debian buster main",
        f"deb http://snapshot.debian.org/archive/debian-archive/{TS}/debian buster main",
        id="archive-debian-org",
    ),
    pytest.param(
        "debian",
        "deb http://archive.debian.org/debian-security buster/updates main",
        "deb http://snapshot.debian.org/archive/debian-archive/"
        f"{TS}/debian-security buster/updates main",
        id="archive-debian-org-security",
    ),
    pytest.param(
        "debian",
        "deb http://mirror.example/debian-archive/debian stretch main",
        f"deb http://snapshot.debian.org/archive/debian-archive/{TS}/debian stretch main",
        id="mirror-of-the-debian-archive",
    ),
    pytest.param(
        "debian",
        "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20200101T000000Z"
        " bookworm main",
        f"deb [check-valid-until=no] {DEB} bookworm main",
        id="snapshot-re-pointed",
    ),
    pytest.param(
        "debian",
        "deb https://snapshot.debian.org/archive/debian-security/20200101T000000Z/"
        " bookworm-security main",
        f"deb http://snapshot.debian.org/archive/debian-security/{TS}/ bookworm-security main",
        id="https-snapshot-re-pointed",
    ),
    pytest.param(
        "debian",
        "deb http://snapshot.debian.org/archive/debian-archive/20200101T000000Z/debian"
        " stretch main",
        f"deb http://snapshot.debian.org/archive/debian-archive/{TS}/debian stretch main",
        id="debian-archive-snapshot-re-pointed",
    ),
    pytest.param(
        "ubuntu",
        "deb http://us.archive.ubuntu.com/ubuntu/ jammy main",
        f"deb {UBU}/ jammy main",
        id="ubuntu-country-mirror",
    ),
    pytest.param(
        "ubuntu",
        "deb http://us-east-1.ec2.ports.ubuntu.com/ubuntu-ports jammy main",
        f"deb {UBU} jammy main",
        id="ubuntu-ports-cloud-mirror",
    ),
    pytest.param(
        "ubuntu",
        "deb [arch=amd64] http://archive.ubuntu.com/ubuntu noble main",
        f"deb [arch=amd64] {UBU} noble main",
        id="ubuntu-options",
    ),
    pytest.param(
        "ubuntu",
        "deb [check-valid-until=no] https://snapshot.ubuntu.com/ubuntu/20240101T000000Z noble main",
        f"deb [check-valid-until=no] {UBU} noble main",
        id="ubuntu-snapshot-re-pointed",
    ),
]


@pytest.mark.parametrize(("distro", "line", "expected"), LINE_CASES)
def test_one_line_entries(
    tmp_path: Path, shell: Shell, distro: str, line: str, expected: str
) -> None:
    root = image_root(tmp_path)
    listing = root / "etc/apt/sources.list.d/extra.list"
    listing.write_text(f"# first\n{line}\n# last\n")
    pin(shell, distro, root)
    assert listing.read_text() == f"# first\n{expected}\n# last\n"


NOOP_CASES = [
    pytest.param(
        "debian",
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc]"
        " https://download.docker.com/linux/debian bookworm stable",
        id="docker-repository",
    ),
    pytest.param("debian", "# deb http://deb.debian.org/debian bookworm main", id="commented-out"),
    pytest.param(
        "debian", "  #deb http://deb.debian.org/debian bookworm main", id="indented-comment"
    ),
    pytest.param("debian", "deb http://mirror.example/pub/debian bookworm main", id="prefix-path"),
    pytest.param(
        "debian",
        "deb https://artifactory.example/artifactory/debian-remote bookworm main",
        id="internal-proxy",
    ),
    pytest.param(
        "debian",
        "deb [signed-by=/usr/share/keyrings/nodesource.gpg]"
        " https://deb.nodesource.com/node_20.x nodistro main",
        id="nodesource",
    ),
    pytest.param("debian", "deb http://deb.debian.org/debian-foo bookworm main", id="lookalike"),
    pytest.param(
        "debian", "deb http://snapshot.debian.org/archive/debian/latest bookworm main", id="no-ts"
    ),
    pytest.param("debian", "deb http://archive.ubuntu.com/ubuntu noble main", id="other-distro"),
    pytest.param(
        "ubuntu", "deb https://ppa.launchpadcontent.net/deadsnakes/ppa/ubuntu jammy main", id="ppa"
    ),
    pytest.param("ubuntu", "deb http://archive.canonical.com/ubuntu focal partner", id="partner"),
    pytest.param(
        "ubuntu",
        "deb https://snapshot.ppa.launchpadcontent.net/deadsnakes/ppa/ubuntu/20240101T000000Z"
        " jammy main",
        id="ppa-snapshot",
    ),
    pytest.param(
        "ubuntu",
        "deb [arch=amd64] https://download.docker.com/linux/ubuntu jammy stable",
        id="ubuntu-docker",
    ),
    pytest.param(
        "ubuntu", "deb https://esm.ubuntu.com/apps/ubuntu jammy-apps-security main", id="esm"
    ),
    pytest.param("ubuntu", "deb cdrom:[Ubuntu 22.04 LTS]/ jammy main", id="cdrom"),
    pytest.param("debian", "deb ftp://ftp.example/debian bookworm main", id="ftp-scheme"),
    pytest.param("debian", "deb tor+http://deb.debian.org/debian bookworm main", id="tor-scheme"),
    pytest.param("ubuntu", "deb http://deb.debian.org/debian bookworm main", id="ubuntu-other"),
]


@pytest.mark.parametrize(("distro", "line"), NOOP_CASES)
def test_other_sources_are_left_alone_and_the_step_fails(
    tmp_path: Path, shell: Shell, distro: str, line: str
) -> None:
    """Nothing to pin is an error (a stage must not pass as pinned); no file is touched."""
    root = image_root(tmp_path)
    listing = root / "etc/apt/sources.list"
    listing.write_text(line + "\n")
    result = shell(under_root(snapshot_script(distro, TS), root))  # type: ignore[arg-type]
    assert (result.returncode, result.stderr) == (1, NO_DEBIAN if distro == "debian" else NO_UBUNTU)
    assert tree(root) == {"etc/apt/sources.list": (line + "\n").encode()}


def test_no_sources_at_all_fails(tmp_path: Path, shell: Shell) -> None:
    root = image_root(tmp_path)
    result = shell(under_root(snapshot_script("ubuntu", TS), root))
    assert (result.returncode, result.stderr) == (1, NO_UBUNTU)
    assert tree(root) == {}


def test_third_party_lines_next_to_distro_lines(tmp_path: Path, shell: Shell) -> None:
    root = image_root(tmp_path)
    listing = root / "etc/apt/sources.list"
    docker = (
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc]"
        " https://download.docker.com/linux/debian bookworm stable\n"
    )
    listing.write_text("deb http://deb.debian.org/debian bookworm main\n" + docker)
    (root / "etc/apt/sources.list.d/docker.list").write_text(docker)
    pin(shell, "debian", root)
    assert listing.read_text() == f"deb {DEB} bookworm main\n" + docker
    assert (root / "etc/apt/sources.list.d/docker.list").read_text() == docker


# --------------------------------------------------------------------------- deb822 stanzas

DEB822_CASES = [
    pytest.param(
        "Types: deb\n"
        "URIs: http://deb.debian.org/debian\n"
        "Suites: bookworm\n"
        "Components: main\n"
        "Check-Valid-Until: yes\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        "Types: deb\n"
        f"URIs: {DEB}\n"
        "Suites: bookworm\n"
        "Components: main\n"
        "Check-Valid-Until: yes\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        id="a-stanza-s-own-valid-until-is-kept",
    ),
    pytest.param(
        "types: deb deb-src\nuris: https://deb.debian.org/debian/\nsuites: bookworm\n",
        f"types: deb deb-src\nuris: {DEB}/\nsuites: bookworm\nCheck-Valid-Until: no\n",
        id="lower-case-fields",
    ),
    pytest.param(
        "Types: deb\n"
        "URIs: http://deb.debian.org/debian\n"
        "  https://download.docker.com/linux/debian\thttps://ftp.example/debian/\n"
        "Suites: bookworm\n",
        "Types: deb\n"
        f"URIs: {DEB}\n"
        f"  https://download.docker.com/linux/debian\t{DEB}/\n"
        "Suites: bookworm\n"
        "Check-Valid-Until: no\n",
        id="several-uris-continued",
    ),
    pytest.param(
        "Types: deb\n"
        "URIs: https://download.docker.com/linux/debian\n"
        "Suites: bookworm\n"
        "Components: stable\n"
        "Signed-By: /etc/apt/keyrings/docker.asc\n"
        "\n"
        "Types: deb\n"
        "URIs: http://deb.debian.org/debian\n"
        "Suites: bookworm\n",
        "Types: deb\n"
        "URIs: https://download.docker.com/linux/debian\n"
        "Suites: bookworm\n"
        "Components: stable\n"
        "Signed-By: /etc/apt/keyrings/docker.asc\n"
        "\n"
        "Types: deb\n"
        f"URIs: {DEB}\n"
        "Suites: bookworm\n"
        "Check-Valid-Until: no\n",
        id="third-party-stanza-untouched",
    ),
    pytest.param(
        "# Types: deb\n"
        "# URIs: http://deb.debian.org/debian\n"
        "\n"
        "\n"
        "Types: deb\n"
        "#URIs: http://deb.debian.org/debian-debug\n"
        "URIs: http://deb.debian.org/debian\n"
        "Suites: bookworm\n"
        "Enabled: no\n"
        "# trailing note\n"
        "\n",
        "# Types: deb\n"
        "# URIs: http://deb.debian.org/debian\n"
        "\n"
        "\n"
        "Types: deb\n"
        "#URIs: http://deb.debian.org/debian-debug\n"
        f"URIs: {DEB}\n"
        "Suites: bookworm\n"
        "Enabled: no\n"
        "Check-Valid-Until: no\n"
        "# trailing note\n"
        "\n",
        id="comments-blank-lines-disabled-stanza",
    ),
    pytest.param(
        "Types: deb\n"
        "URIs: http://deb.debian.org/debian https://ftp.example/debian/ http://deb.debian.org/debian\n"
        " http://snapshot.debian.org/archive/debian/20200101T000000Z"
        " http://snapshot.debian.org/archive/debian/20200101T000000Z/\n"
        "Suites: bookworm\n",
        f"Types: deb\nURIs: {DEB} {DEB}/ {DEB}\n {DEB} {DEB}/\nSuites: bookworm\n",
        id="neighbouring-uris-on-one-line",
    ),
]


@pytest.mark.parametrize(("text", "expected"), DEB822_CASES)
def test_deb822_stanzas(tmp_path: Path, shell: Shell, text: str, expected: str) -> None:
    root = image_root(tmp_path)
    sources = root / "etc/apt/sources.list.d/extra.sources"
    sources.write_text(text)
    pin(shell, "debian", root)
    assert sources.read_text() == without_valid_until(expected)
    pin(shell, "debian", root)
    assert sources.read_text() == without_valid_until(expected)


def test_a_list_file_named_sources_is_read_as_one_line(tmp_path: Path, shell: Shell) -> None:
    """Only *.sources files are deb822; sources.list and *.list are one-line, by file name."""
    root = image_root(tmp_path)
    (root / "etc/apt/sources.list").write_text("URIs: http://deb.debian.org/debian\n")
    (root / "etc/apt/sources.list.d/a.list").write_text(
        "deb http://deb.debian.org/debian sid main\n"
    )
    pin(shell, "debian", root)
    assert tree(root / "etc/apt") == {
        "sources.list": b"URIs: http://deb.debian.org/debian\n",
        "sources.list.d/a.list": f"deb {DEB} sid main\n".encode(),
        "apt.conf.d/80pinner-snapshot": VALID_UNTIL_OFF,
    }


# --------------------------------------------------------------------------- mirrors and TLS


def test_mirror_override_and_re_pinning(tmp_path: Path, shell: Shell) -> None:
    root = image_root(tmp_path)
    shutil.copyfile(
        official("amd64", "bookworm", "rootfs.debian-sources"),
        root / "etc/apt/sources.list.d/debian.sources",
    )
    mirrors = {"debian": "http://127.0.0.1:8123/archive"}

    def uris() -> list[str]:
        text = (root / "etc/apt/sources.list.d/debian.sources").read_text()
        return re.findall(r"^URIs: (.*)$", text, re.M)

    pin(shell, "debian", root, mirrors=mirrors)
    assert uris() == [
        f"http://127.0.0.1:8123/archive/debian/{TS}",
        f"http://127.0.0.1:8123/archive/debian-security/{TS}",
    ]
    pin(shell, "debian", root, TS2, mirrors=mirrors)
    assert uris() == [
        f"http://127.0.0.1:8123/archive/debian/{TS2}",
        f"http://127.0.0.1:8123/archive/debian-security/{TS2}",
    ]
    pin(shell, "debian", root, TS2)  # a child stage of a pinned image, on the public mirror
    assert uris() == [
        f"http://snapshot.debian.org/archive/debian/{TS2}",
        f"http://snapshot.debian.org/archive/debian-security/{TS2}",
    ]
    text = (root / "etc/apt/sources.list.d/debian.sources").read_text()
    assert "Check-Valid-Until" not in text
    assert (root / TLS_CONF.lstrip("/")).read_bytes() == VALID_UNTIL_OFF


def test_ubuntu_http_mirror_needs_no_tls_setting(tmp_path: Path, shell: Shell) -> None:
    root = image_root(tmp_path)
    shutil.copytree(DATA / "ubuntu-24.04-arm64/etc", root / "etc", dirs_exist_ok=True)
    pin(shell, "ubuntu", root, mirrors={"ubuntu": "http://127.0.0.1:8123/ubuntu/"})
    text = (root / "etc/apt/sources.list.d/ubuntu.sources").read_text()
    assert re.findall(r"^URIs: (.*)$", text, re.M) == [f"http://127.0.0.1:8123/ubuntu/{TS}/"] * 2
    assert (root / "etc/apt/apt.conf.d/80pinner-snapshot").read_bytes() == VALID_UNTIL_OFF


def test_tls_setting_follows_the_ca_bundle(tmp_path: Path, shell: Shell) -> None:
    root = image_root(tmp_path)
    shutil.copytree(DATA / "ubuntu-22.04-amd64/etc", root / "etc", dirs_exist_ok=True)
    conf = root / "etc/apt/apt.conf.d/80pinner-snapshot"
    pin(shell, "ubuntu", root)
    assert conf.read_bytes() == UBUNTU_TLS_CONF
    bundle = root / "etc/ssl/certs/ca-certificates.crt"
    bundle.parent.mkdir(parents=True)
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    pin(shell, "ubuntu", root)
    assert conf.read_bytes() == VALID_UNTIL_OFF


def test_https_debian_mirror_gets_its_own_tls_setting(tmp_path: Path, shell: Shell) -> None:
    root = image_root(tmp_path)
    (root / "etc/apt/sources.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
    pin(shell, "debian", root, mirrors={"debian": "https://snapshot.example:8443/archive"})
    assert tree(root / "etc/apt") == {
        "sources.list": (
            f"deb https://snapshot.example:8443/archive/debian/{TS} bookworm main\n"
        ).encode(),
        "apt.conf.d/80pinner-snapshot": UBUNTU_TLS_CONF.replace(
            b"snapshot.ubuntu.com", b"snapshot.example"
        ),
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: snapshot_script("debian", "2025-01-02"),
            "'2025-01-02': a snapshot timestamp is YYYYMMDDTHHMMSSZ",
        ),
        (
            lambda: snapshot_script("alpine", TS),  # type: ignore[arg-type]
            "'alpine': snapshots are for debian or ubuntu",
        ),
        (
            lambda: snapshot_script("debian", TS, mirrors={"fedora": "http://x"}),
            "fedora: mirrors are given for debian and ubuntu only",
        ),
        (
            lambda: snapshot_script("debian", TS, mirrors={"debian": "http://x/a b"}),
            "'http://x/a b': a snapshot mirror is an http(s) URL without query or spaces",
        ),
        (
            lambda: snapshot_script("debian", TS, mirrors={"debian": "ftp://x/archive"}),
            "'ftp://x/archive': a snapshot mirror is an http(s) URL without query or spaces",
        ),
        (
            lambda: update_timestamp([], SnapshotStep(0, 0, "debian", TS), "now"),
            "'now': a snapshot timestamp is YYYYMMDDTHHMMSSZ",
        ),
    ],
    ids=["timestamp", "distro", "mirror-key", "mirror-space", "mirror-scheme", "update"],
)
def test_invalid_arguments(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


# --------------------------------------------------------------------------- Dockerfile form


def test_run_line_is_the_script_with_continuations() -> None:
    text = snapshot_run_line("ubuntu", TS)
    marker, run = text.split("\n", 1)
    assert marker == f"# pinner: apt snapshot ubuntu {TS}"
    lines = run.split("\n")
    # BuildKit drops comment lines inside a continuation; the step must have none.
    assert not [line for line in lines[1:] if line.lstrip().startswith("#")]
    assert all(line.endswith(" \\") for line in lines[:-1])
    assert not lines[-1].endswith("\\")


@pytest.mark.parametrize(
    ("distro", "mirrors", "most"),
    [
        ("debian", None, 8),
        ("ubuntu", None, 8),
        # A mirror not laid out like the public one adds a line for re-pointing its own
        # snapshots, https one for the TLS setting.
        ("debian", {"debian": "https://snapshot.example:8443/snap"}, 10),
        ("ubuntu", {"ubuntu": "http://127.0.0.1:8123/mirror"}, 8),
    ],
)
def test_the_generic_step_is_short(distro: str, mirrors: dict[str, str] | None, most: int) -> None:
    """A marker and at most 8 lines of RUN (it was 74-76, an awk program), none over 260 chars."""
    lines = snapshot_run_line(distro, TS, mirrors=mirrors).split("\n")  # type: ignore[arg-type]
    assert len(lines) - 1 <= most
    assert max(len(line) for line in lines) <= 260
    assert len(snapshot_script(distro, TS, mirrors=mirrors)) <= 200 * most  # type: ignore[arg-type]


def test_run_line_with_backtick_escape() -> None:
    text = snapshot_run_line("debian", TS, escape="`")
    run = text.split("\n", 1)[1]
    assert run.replace(" `\n    ", " ") == "RUN " + snapshot_script("debian", TS)


DOCKERFILE = f"""\
# syntax=docker/dockerfile:1.23
FROM debian:bookworm AS build
{snapshot_run_line("debian", TS)}
RUN apt-get update && apt-get install -y gcc

FROM ubuntu:24.04
# pinner: apt snapshot ubuntu {TS}
# (a marker without its RUN is not a step)
{snapshot_run_line("ubuntu", TS, mirrors={"ubuntu": "http://127.0.0.1:8123/ubuntu"})}
RUN apt-get update
"""


def test_find_markers_in_a_multi_stage_dockerfile() -> None:
    lines = DOCKERFILE.split("\n")
    steps = find_markers(lines)
    assert [(s.distro, s.timestamp) for s in steps] == [("debian", TS), ("ubuntu", TS)]
    first, second = steps
    assert "\n".join(lines[first.start : first.end]) == snapshot_run_line("debian", TS)
    assert lines[first.end] == "RUN apt-get update && apt-get install -y gcc"
    assert lines[second.end] == "RUN apt-get update"
    stage2 = lines.index("FROM ubuntu:24.04")
    assert find_marker(lines) == first
    assert find_marker(lines, stage2) == second
    assert find_marker(lines, 0, stage2) == first
    assert find_marker(lines, second.end) is None


def test_update_timestamp_re_points_one_step_and_keeps_every_other_byte() -> None:
    lines = DOCKERFILE.replace("\n", "\r\n").split("\n")
    second = find_markers(lines)[1]
    updated = update_timestamp(lines, second, TS2)
    mirrors = {"ubuntu": "http://127.0.0.1:8123/ubuntu"}
    expected = DOCKERFILE.replace(
        snapshot_run_line("ubuntu", TS, mirrors=mirrors),
        snapshot_run_line("ubuntu", TS2, mirrors=mirrors),
    )
    assert "\n".join(updated) == expected.replace("\n", "\r\n")
    assert [(s.distro, s.timestamp) for s in find_markers(updated)] == [
        ("debian", TS),
        ("ubuntu", TS2),
    ]


def test_find_markers_with_backtick_escape_and_odd_layout() -> None:
    step = snapshot_run_line("debian", TS, escape="`").replace("RUN ", "run ", 1)
    lines = ["# escape=`", "FROM debian", *step.split("\n"), "RUN true"]
    (found,) = find_markers(lines, escape="`")
    assert (found.start, found.end) == (2, len(lines) - 1)
    assert find_markers(lines) == [SnapshotStep(2, 4, "debian", TS)]  # wrong escape: one line
    assert marker_re().match(f"  # pinner: apt snapshot debian {TS}  ")


# --------------------------------------------------------------------------- cleanup

CLEANUP = (
    "apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/dpkg.log"
    " /var/log/apt/* /var/log/alternatives.log /var/cache/ldconfig/aux-cache"
)
# A RUN that fetches no lists (no `apt-get update`) leaves none: an earlier RUN's layer has them.
NO_LISTS = CLEANUP.replace(" /var/lib/apt/lists/*", "")
LOGS_ONLY = (
    "rm -rf /var/log/dpkg.log /var/log/apt/* /var/log/alternatives.log"
    " /var/cache/ldconfig/aux-cache"
)
CACHE_MOUNTS = (
    "--mount=type=cache,target=/var/cache/apt,sharing=locked"
    " --mount=type=cache,target=/var/lib/apt,sharing=locked"
)
CLEANUP_CASES = [
    pytest.param("RUN apt-get update && apt-get install -y curl", CLEANUP, id="install"),
    pytest.param(
        "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
        "apt-get clean && rm -rf /var/cache/apt/*.bin " + LOGS_ONLY.removeprefix("rm -rf "),
        id="lists-removed-logs-left",
    ),
    pytest.param(
        "RUN apt-get update \\\n && apt-get install -y curl \\\n && apt-get clean",
        "rm -rf /var/lib/apt/lists/* " + LOGS_ONLY.removeprefix("rm -rf "),
        id="continuations-clean-only",
    ),
    pytest.param(
        "RUN apt-get install -y curl && apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt",
        "rm -rf /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache",
        id="some-logs-left",
    ),
    pytest.param(
        "RUN apt-get install -y curl && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin"
        " /var/log/* /var/cache/ldconfig",
        "apt-get clean",
        id="archives-left",
    ),
    pytest.param(
        "RUN dpkg -i /tmp/tool.deb", NO_LISTS.removeprefix("apt-get clean && "), id="dpkg-install"
    ),
    pytest.param("apt-get -y --no-install-recommends install curl", NO_LISTS, id="no-keyword"),
    pytest.param(
        f"RUN {CACHE_MOUNTS} apt-get update && apt-get install -y curl", LOGS_ONLY, id="mounts"
    ),
    pytest.param(
        "RUN --mount=type=cache,dst=/var/cache/apt/ apt-get update && apt-get install -y curl",
        "rm -rf /var/lib/apt/lists/* " + LOGS_ONLY.removeprefix("rm -rf "),
        id="cache-mount-only",
    ),
    pytest.param(f"RUN apt-get update && apt-get install -y curl && {CLEANUP}", None, id="done"),
    pytest.param(
        "RUN apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* /var/log/* /var/cache/ldconfig/aux-cache",
        None,
        id="done-with-log-glob",
    ),
    pytest.param(
        "RUN sudo apt-get install -y x && sudo apt-get clean"
        ' && sudo rm -rf "/var/lib/apt/lists/"* /var/log /var/cache/ldconfig',
        None,
        id="done-with-sudo-quotes-dirs",
    ),
    pytest.param(
        f"RUN {CACHE_MOUNTS} apt-get install -y curl && {LOGS_ONLY}", None, id="mounts-done"
    ),
    pytest.param(
        "RUN env DEBIAN_FRONTEND=noninteractive apt-get install -y x"
        " && env X=1 rm -rf /var/lib/apt/lists/*",
        "apt-get clean && rm -rf /var/cache/apt/*.bin " + LOGS_ONLY.removeprefix("rm -rf "),
        id="rm-behind-env",
    ),
    # MelonSmasher/papercut-mf-site Dockerfile: emptied logs are the same in every build.
    pytest.param(
        "RUN --mount=type=cache,id=apt-cache,target=/var/cache/apt,sharing=locked \\\n"
        "    --mount=type=cache,id=apt-lib,target=/var/lib/apt,sharing=locked \\\n"
        "    set -exu && \\\n    apt-get update -qq && \\\n"
        "    apt-get -y install -y -qq --no-install-recommends curl && \\\n"
        "    truncate -s 0 /var/log/apt/* && \\\n    truncate -s 0 /var/log/dpkg.log && \\\n"
        "    rm -rf /etc/supervisor",
        "rm -rf /var/log/alternatives.log /var/cache/ldconfig/aux-cache",
        id="truncated-logs",
    ),
    pytest.param(
        "RUN apt-get install -y curl && apt-get clean && rm -rf /var/lib/apt/lists/*"
        " /var/log/apt /var/cache/ldconfig && : > /var/log/dpkg.log"
        " && cat /dev/null > /var/log/alternatives.log",
        None,
        id="emptied-logs",
    ),
    pytest.param(
        "RUN apt-get install -y curl && apt-get clean && rm -rf /var/lib/apt/lists/*"
        " /var/log/apt /var/cache/ldconfig && date > /var/log/dpkg.log"
        " && : >> /var/log/alternatives.log",
        "rm -rf /var/log/dpkg.log /var/log/alternatives.log",
        id="written-logs",
    ),
    pytest.param("RUN [ -d /opt ] && apt-get install -y curl", NO_LISTS, id="test-command"),
    pytest.param(
        "RUN apt-get purge -y curl", NO_LISTS.removeprefix("apt-get clean && "), id="purge"
    ),
    pytest.param("RUN apt-get install --update -y curl", CLEANUP, id="apt-3-install-update"),
    pytest.param(
        "RUN set -eux; apt-get install --update -y curl; apt-get dist-clean",
        LOGS_ONLY,
        id="apt-dist-clean-removes-the-lists",
    ),
    pytest.param("RUN make install", None, id="no-apt"),
    pytest.param("RUN cp /etc/apt/sources.list /tmp/install", None, id="apt-in-a-path"),
    pytest.param('RUN ["apt-get", "install", "-y", "curl"]', None, id="exec-form"),
]


@pytest.mark.parametrize(("run_text", "expected"), CLEANUP_CASES)
def test_cleanup_for(run_text: str, expected: str | None) -> None:
    assert cleanup_for(run_text) == expected
    assert needs_cleanup(run_text) is (expected is not None)


def test_lists_a_later_run_reads_are_kept() -> None:
    run = "RUN apt-get update && apt-get install -y curl"
    assert cleanup_for(run, keep_lists=True) == NO_LISTS
    assert not needs_cleanup(f"{run} && {NO_LISTS}", keep_lists=True)
    assert needs_cleanup(f"{run} && {NO_LISTS}")


def test_cleanup_script_removes_exactly_the_varying_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    varying = [
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
        "var/lib/apt/lists/lock",
        "var/lib/apt/lists/partial/x",
        "var/cache/apt/pkgcache.bin",
        "var/cache/apt/srcpkgcache.bin",
        "var/log/dpkg.log",
        "var/log/apt/history.log",
        "var/log/apt/term.log",
        "var/log/apt/eipp.log.xz",
        "var/log/alternatives.log",
        "var/cache/ldconfig/aux-cache",
    ]
    kept = ["var/lib/apt/extended_states", "var/log/bootstrap.log", "var/cache/debconf/config.dat"]
    for rel in varying + kept:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"  # the real one would clean this machine's cache
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/apt-get.calls\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    cleanup = cleanup_for("apt-get update && apt-get install -y hello")
    assert cleanup == CLEANUP
    subprocess.run(["/bin/sh", "-c", under_root(cleanup, root)], env=env, check=True)
    assert (tmp_path / "apt-get.calls").read_text() == "clean\n"
    assert sorted(tree(root)) == sorted(kept)


# --------------------------------------------------------------------------- real apt


@pytest.mark.chroot
@pytest.mark.parametrize("debian_root", ["deb822", "one-line"], indirect=True)
def test_real_apt_installs_from_the_snapshot_and_cleanup_leaves_nothing(
    debian_root: Path,
) -> None:
    """The Dockerfile text, as BuildKit hands it to the image's sh, then apt-get against it."""
    snapshot_mirror = pytest.importorskip("snapshot_mirror")
    debian_image = pytest.importorskip("debian_image")
    cache = debian_image.default_cache_dir() / "snapshot-mirror"
    with snapshot_mirror.SnapshotMirror(cache) as mirror:
        step = snapshot_run_line("debian", TS, mirrors={"debian": mirror.url + "/archive"})
        run = buildkit_join(step.split("\n", 1)[1]).removeprefix("RUN ")
        result = chroot(debian_root, "/bin/sh", "-c", run)
        assert (result.returncode, result.stderr) == (0, "")
        install = "apt-get update && apt-get install -y --no-install-recommends hello"
        result = chroot(debian_root, "/bin/sh", "-c", install)
        assert result.returncode == 0, result.stdout + result.stderr
        paths = [entry.path for entry in mirror.log]
        assert all(entry.status == 200 for entry in mirror.log), mirror.log
    assert f"/archive/debian/{TS}/dists/bookworm/InRelease" in paths
    assert f"/archive/debian-security/{TS}/dists/bookworm-security/InRelease" in paths
    assert any(p.startswith(f"/archive/debian/{TS}/pool/main/h/hello/hello_") for p in paths)
    assert (debian_root / "var/log/dpkg.log").exists()
    assert list((debian_root / "var/lib/apt/lists").glob("*InRelease"))

    cleanup = cleanup_for(f"RUN {install}")
    assert cleanup == CLEANUP
    result = chroot(debian_root, "/bin/sh", "-c", cleanup)
    assert result.returncode == 0, result.stderr
    leftovers = [
        *(debian_root / "var/lib/apt/lists").iterdir(),
        *(debian_root / "var/cache/apt").glob("*.bin"),
        *(debian_root / "var/cache/apt/archives").glob("*.deb"),
        *(debian_root / "var/log/apt").iterdir(),
        *(debian_root / p for p in ("var/log/dpkg.log", "var/log/alternatives.log")),
        debian_root / "var/cache/ldconfig/aux-cache",
    ]
    assert [p for p in leftovers if p.exists()] == []


@pytest.fixture
def https_front(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start an HTTPS server with a self-signed certificate that forwards to an http URL."""
    if not shutil.which("openssl"):
        pytest.skip("needs openssl")
    cert = tmp_path / "cert.pem"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [*openssl, "-subj", "/CN=127.0.0.1", "-keyout", str(cert), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    servers: list[ThreadingHTTPServer] = []
    client = httpx.Client(timeout=120)

    def start(upstream: str) -> str:
        class Forward(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.forward()

            def do_HEAD(self) -> None:
                self.forward()

            def log_message(self, format: str, *args: object) -> None:
                pass

            def forward(self) -> None:
                response = client.request(self.command, upstream + self.path)
                self.send_response(response.status_code)
                for name in ("content-type", "content-length", "last-modified"):
                    if name in response.headers:
                        self.send_header(name, response.headers[name])
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(response.content)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        # shutdown() waits for the loop's next poll: 0.5 s by default, paid at every stop.
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    client.close()


@pytest.mark.chroot
@pytest.mark.parametrize("debian_root", ["deb822"], indirect=True)
def test_real_apt_over_https_without_a_ca_bundle(
    debian_root: Path, https_front: Callable[[str], str]
) -> None:
    """The Verify-Peer setting is what lets a CA-less image's apt use an https-only snapshot."""
    snapshot_mirror = pytest.importorskip("snapshot_mirror")
    debian_image = pytest.importorskip("debian_image")
    assert not (debian_root / CA_BUNDLE.lstrip("/")).exists()
    cache = debian_image.default_cache_dir() / "snapshot-mirror"
    with snapshot_mirror.SnapshotMirror(cache) as mirror:
        base = https_front(mirror.url) + "/archive"
        result = chroot(
            debian_root, "/bin/sh", "-c", snapshot_script("debian", TS, mirrors={"debian": base})
        )
        assert (result.returncode, result.stderr) == (0, "")
        conf = debian_root / TLS_CONF.lstrip("/")
        assert conf.read_text().splitlines()[2] == 'Acquire::https::127.0.0.1::Verify-Peer "false";'
        update = ["apt-get", "update"]
        result = chroot(debian_root, *update)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Get:1 {base}/debian/{TS} bookworm InRelease" in result.stdout
        conf.unlink()  # the control: without it, the same apt refuses the snapshot
        shutil.rmtree(debian_root / "var/lib/apt/lists")
        result = chroot(debian_root, *update)
        assert "Certificate verification failed" in result.stdout + result.stderr
        assert not list((debian_root / "var/lib/apt/lists").glob("*InRelease"))
