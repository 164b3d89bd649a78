"""apt's choice for an install word (Provides, releases, versions), on real bookworm indexes.

The fast tables read trimmed real Packages files (testdata/apt/README.md); the cross-check runs
`apt-get install -s` in a real bookworm root against the full indexes and asks pinner the same.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from image_root import chroot

from pinner.apt.commands import install_packages
from pinner.apt.packages import PackageIndex, parse_packages
from pinner.apt.policy import PRIORITY_DEFAULT, Choice, Policy, Suite
from pinner.errors import MirrorError

APT = Path(__file__).resolve().parents[2] / "testdata" / "apt"


def _read(name: str) -> list:  # type: ignore[type-arg]
    return parse_packages((APT / name).read_bytes(), source=name)


@pytest.fixture(scope="module")
def policy() -> Policy:
    bookworm = PackageIndex(
        _read("bookworm_main_binary-amd64_Packages"),
        _read("bookworm_main_binary-amd64_Packages-providers"),
    )
    security = PackageIndex(_read("bookworm-security_main_binary-amd64_Packages"))
    return Policy(
        "amd64",
        [
            Suite("bookworm", frozenset(["bookworm", "stable"]), PRIORITY_DEFAULT, bookworm),
            Suite(
                "bookworm-security",
                frozenset(["bookworm-security", "stable-security"]),
                PRIORITY_DEFAULT,
                security,
            ),
        ],
    )


def choose(policy: Policy, command: str) -> str:
    """What pinner says `apt-get install` takes for the one word of command."""
    (package,) = install_packages(command)
    found = policy.choose(package, package.target_release)
    if isinstance(found, Choice):
        name = found.provider or package.name
        return f"{name} {found.entry.version} {Path(found.entry.filename).name}"
    return f"missing: {found.reason}"


CHOICES = [
    pytest.param(
        "libxslt-dev",
        "libxslt1-dev 1.1.35-1+deb12u4 libxslt1-dev_1.1.35-1+deb12u4_amd64.deb",
        id="virtual-one-provider",
    ),
    pytest.param(
        "libxslt-dev:amd64",
        "libxslt1-dev 1.1.35-1+deb12u4 libxslt1-dev_1.1.35-1+deb12u4_amd64.deb",
        id="virtual-with-native-arch",
    ),
    pytest.param(
        "libxslt-dev:native",
        "libxslt1-dev 1.1.35-1+deb12u4 libxslt1-dev_1.1.35-1+deb12u4_amd64.deb",
        id="virtual-with-native-qualifier",
    ),
    pytest.param(
        "node-acorn-walk",
        "node-acorn 8.8.1+ds+~cs25.17.7-2 node-acorn_8.8.1+ds+~cs25.17.7-2_all.deb",
        id="versioned-provides",
    ),
    pytest.param(
        "libfreetype6-dev",
        "libfreetype6-dev 2.12.1+dfsg-5+deb12u4 libfreetype6-dev_2.12.1+dfsg-5+deb12u4_amd64.deb",
        id="real-package-wins-over-provides",
    ),
    pytest.param(
        "openssl",
        "openssl 3.0.22-1~deb12u2 openssl_3.0.22-1~deb12u2_amd64.deb",
        id="highest-version-across-suites",
    ),
    pytest.param(
        "openssl/bookworm",
        "openssl 3.0.20-1~deb12u2 openssl_3.0.20-1~deb12u2_amd64.deb",
        id="release-by-codename",
    ),
    pytest.param(
        "openssl/stable-security",
        "openssl 3.0.22-1~deb12u2 openssl_3.0.22-1~deb12u2_amd64.deb",
        id="release-by-suite",
    ),
    pytest.param(
        "-t bookworm openssl",
        "openssl 3.0.20-1~deb12u2 openssl_3.0.20-1~deb12u2_amd64.deb",
        id="target-release-outranks-a-higher-version",
    ),
    pytest.param(
        "--target-release=stable libxslt-dev",
        "libxslt1-dev 1.1.35-1+deb12u4 libxslt1-dev_1.1.35-1+deb12u4_amd64.deb",
        id="target-release-and-virtual",
    ),
    pytest.param(
        "openssl=3.0.20-1~deb12u2",
        "openssl 3.0.20-1~deb12u2 openssl_3.0.20-1~deb12u2_amd64.deb",
        id="exact-version",
    ),
    pytest.param(
        "openssl=3.0.2*",
        "openssl 3.0.22-1~deb12u2 openssl_3.0.22-1~deb12u2_amd64.deb",
        id="version-prefix",
    ),
    pytest.param(
        "libxslt-dev=1.1.35-1+deb12u4",
        "missing: no amd64 package of version 1.1.35-1+deb12u4",
        id="virtual-has-no-versions",
    ),
    pytest.param(
        "libxslt-dev/bookworm",
        "libxslt1-dev 1.1.35-1+deb12u4 libxslt1-dev_1.1.35-1+deb12u4_amd64.deb",
        id="virtual-from-a-release",
    ),
    pytest.param(
        "libxslt-dev/bookworm-security",
        "missing: no amd64 package in release bookworm-security",
        id="virtual-not-in-that-release",
    ),
    pytest.param("openssl=9.9", "missing: no amd64 package of version 9.9", id="unknown-version"),
    pytest.param(
        "no-such-package",
        "missing: no amd64 package in bookworm, bookworm-security",
        id="unknown-name",
    ),
]


@pytest.mark.parametrize(("word", "expected"), CHOICES)
def test_choose(policy: Policy, word: str, expected: str) -> None:
    assert choose(policy, f"apt-get install -y {word}") == expected


def test_several_providers_is_apt_gets_error(policy: Policy) -> None:
    with pytest.raises(MirrorError) as info:
        choose(policy, "apt-get install -y mail-transport-agent")
    assert str(info.value) == (
        "mail-transport-agent: a virtual package provided by: courier-mta 1.0.16-3+b6,"
        " dma 0.13-1+b1, esmtp-run 1.2-18, exim4-daemon-heavy 4.96-15+deb12u10,"
        " exim4-daemon-light 4.96-15+deb12u10, msmtp-mta 1.8.23-1, nullmailer 1:2.2-4,"
        " opensmtpd 6.8.0p2-4+b4, postfix 3.7.11-0+deb12u1, sendmail-bin 8.17.1.9-2+deb12u2,"
        " ssmtp 2.64-11; you should explicitly select one to install"
    )


def test_unknown_target_release(policy: Policy) -> None:
    with pytest.raises(MirrorError) as info:
        choose(policy, "apt-get install -y -t trixie openssl")
    assert str(info.value) == "-t trixie: no such release in bookworm, bookworm-security"


@pytest.mark.parametrize(
    ("word", "foreign"),
    [("libxslt-dev:arm64", True), ("libxslt-dev:amd64", False), ("libxslt-dev:all", False)],
)
def test_foreign_architecture(policy: Policy, word: str, foreign: bool) -> None:
    (package,) = install_packages(f"apt-get install {word}")
    assert policy.foreign(package) is foreign


def test_provides_are_read_on_both_parsing_paths() -> None:
    data = (APT / "bookworm_main_binary-amd64_Packages-providers").read_bytes()
    fast = parse_packages(data)
    # Leaving dak's layout sends the index to the line-by-line reader: it reads the same.
    assert parse_packages(re.sub(rb"(?m)^SHA256:", b"sha256:", data)) == fast
    assert parse_packages(re.sub(rb"(?m)^Provides:", b"provides:", data)) == fast
    folded = re.sub(rb"(?m)^(Provides: [^,\n]*), ", rb"\1,\n ", data)
    assert folded != data
    assert parse_packages(folded) == fast
    by_name = {e.name: e.provides for e in fast}
    assert by_name["libxslt1-dev"] == ("libxslt-dev",)
    assert by_name["libfreetype-dev"] == ("libfreetype6-dev",)
    assert by_name["libfreetype6-dev"] == ()
    assert len(by_name["node-acorn"]) == 16
    assert by_name["exim4-daemon-light"] == (
        "default-mta",
        "exim4-localscanapi-6.0",
        "mail-transport-agent",
    )


@pytest.mark.parametrize(
    "provides", ["bad name", "Upper", "x (>= 1)", "", "a,,b"], ids=lambda v: repr(v)
)
def test_malformed_provides_is_refused(provides: str) -> None:
    stanza = (
        "Package: p\nVersion: 1\nArchitecture: all\nProvides: "
        + provides
        + "\nFilename: pool/p_1_all.deb\nSize: 1\nSHA256: "
        + "0" * 64
        + "\n"
    )
    with pytest.raises(MirrorError) as info:
        parse_packages(stanza)
    assert str(info.value).startswith("Packages: p: Provides is malformed: ")


def test_choice_runs_without_an_event_loop() -> None:
    assert not asyncio.iscoroutinefunction(Policy.choose)


# --------------------------------------------------------------------------- apt-get as the oracle

# Words whose choice apt-get makes without looking at what the image has installed (none of these
# packages, and none of their providers, is in a minbase root).
CROSS_CHECK = [
    "libxslt-dev",
    "libxslt-dev:amd64",
    "binutils-gold",
    "node-acorn-walk",
    "libfreetype6-dev",
    "openssl",
    "openssl/bookworm",
    "openssl/bookworm-security",
    "-t bookworm openssl",
    "-t oldstable-security openssl",
    "libxslt-dev=1.1.35-1+deb12u4",
    "libxslt-dev/bookworm",
    "no-such-package",
    "mail-transport-agent",
    "c-compiler",
]
_INST = re.compile(r"^Inst (\S+) (?:\[\S+\] )?\((\S+) ", re.MULTILINE)
_PROVIDED = re.compile(r"^  (\S+) (\S+)$", re.MULTILINE)


def _agree(root: Path, policy: Policy, word: str) -> str:
    """Whether `apt-get install -s WORD` in root does what pinner says; pinner's answer."""
    result = chroot(root, "/bin/sh", "-c", f"apt-get install -s -y --no-install-recommends {word}")
    output = result.stdout + result.stderr
    try:
        said = choose(policy, f"apt-get install -y {word}")
    except MirrorError as exc:
        listed = re.search(r"provided by: (.*); you should", str(exc))
        assert listed is not None, exc
        assert "is a virtual package provided by:" in result.stdout, output
        # The same providers and versions; apt lists them in its cache's order, pinner by name.
        apt = sorted(f"{n} {v}" for n, v in _PROVIDED.findall(result.stdout))
        assert apt == listed.group(1).split(", ")
        return "providers"
    if said.startswith("missing: "):
        assert result.returncode != 0, f"{word}: {output}"
        return "missing"
    assert result.returncode == 0, f"{word}: {output}"
    name, version, _ = said.split(" ")
    installed = dict(_INST.findall(result.stdout))
    assert installed.get(name) == version, f"{word}: {said}: {output}"
    (package,) = install_packages(f"apt-get install {word}")
    if name != package.name:  # a virtual name: apt installs the provider, nothing by that name
        assert package.name not in installed
        return f"provided by {name}"
    return name


@pytest.mark.slow
@pytest.mark.parametrize("debian_root", ["deb822"], indirect=True)
def test_apt_get_install_simulated_agrees(debian_root: Path, tmp_path: Path) -> None:
    """The same snapshot for apt in a real bookworm root and for pinner: the same choices."""
    snapshot_mirror = pytest.importorskip("snapshot_mirror")
    debian_image = pytest.importorskip("debian_image")
    from pinner.aptlock import arch_policy
    from pinner.baseimage import BaseImage, KeyringFile, SourceFile
    from pinner.remote.snapshot import SnapshotMirror

    ts = "20250102T030405Z"
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    sources = debian_root / "etc/apt/sources.list.d/debian.sources"
    image_sources = sources.read_text()
    cache = debian_image.default_cache_dir() / "snapshot-mirror"
    with snapshot_mirror.SnapshotMirror(cache) as standin:
        archive = f"{standin.url}/archive"
        sources.write_text(
            f"Types: deb\nURIs: {archive}/debian/{ts}\nSuites: bookworm bookworm-updates\n"
            f"Components: main\nSigned-By: {keyring}\n\n"
            f"Types: deb\nURIs: {archive}/debian-security/{ts}\nSuites: bookworm-security\n"
            f"Components: main\nSigned-By: {keyring}\n"
        )
        result = chroot(debian_root, "apt-get", "update")
        assert result.returncode == 0, result.stdout + result.stderr

        base = BaseImage(
            "debian",
            "bookworm",
            "Debian GNU/Linux 12 (bookworm)",
            (SourceFile("/etc/apt/sources.list.d/debian.sources", image_sources),),
            (KeyringFile(keyring, (debian_root / keyring.lstrip("/")).read_bytes()),),
            None,
        )

        async def build() -> Policy:
            mirror = SnapshotMirror({"debian": archive}, tmp_path / "cache")
            try:
                policy, _ = await arch_policy(mirror, ts, base, "amd64")
            finally:
                await mirror.aclose()
            return policy

        policy = asyncio.run(build())
        said = {word: _agree(debian_root, policy, word) for word in CROSS_CHECK}
    # The table means something: virtual names resolved, and each kind of answer seen.
    assert said == {
        "libxslt-dev": "provided by libxslt1-dev",
        "libxslt-dev:amd64": "provided by libxslt1-dev",
        "binutils-gold": "provided by binutils",
        "node-acorn-walk": "provided by node-acorn",
        "libfreetype6-dev": "libfreetype6-dev",
        "openssl": "openssl",
        "openssl/bookworm": "openssl",
        "openssl/bookworm-security": "openssl",
        "-t bookworm openssl": "openssl",
        "-t oldstable-security openssl": "openssl",
        "libxslt-dev=1.1.35-1+deb12u4": "missing",
        "libxslt-dev/bookworm": "provided by libxslt1-dev",
        "no-such-package": "missing",
        "mail-transport-agent": "providers",
        "c-compiler": "providers",
    }
