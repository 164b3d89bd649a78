"""pinner.apt.sourceslist: apt sources of real images and of tables, as the indexes apt fetches."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinner.apt.sourceslist import Source, archive_of, parse

REPO = Path(__file__).resolve().parents[2]
UBUNTU_DATA = REPO / "testdata" / "sources"
OFFICIAL = REPO / "testdata" / "debian-official-images"
TS = "20241202T000000Z"


def official_files() -> list[Path]:
    """The apt sources of the official Debian images, every arch, release and variant."""
    patterns = ("*/*/rootfs.debian-sources", "*/*/rootfs.sources-list")
    found = [p for pattern in patterns for p in OFFICIAL.glob(pattern)]
    found += [p for pattern in patterns for p in OFFICIAL.glob(pattern.replace("*/r", "*/slim/r"))]
    return sorted(found)


def _release(path: Path) -> str:
    return path.parent.parent.name if path.parent.name == "slim" else path.parent.name


def D(archive: str, suite: str, *components: str, host: str = "mirror.example") -> Source:
    return Source(archive, f"http://{host}/{archive}", suite, components)


OFFICIAL_EXPECTED = {
    "bookworm": [
        D("debian", "bookworm", "main"),
        D("debian", "bookworm-updates", "main"),
        D("debian-security", "bookworm-security", "main"),
    ],
    "trixie": [
        D("debian", "trixie", "main"),
        D("debian", "trixie-updates", "main"),
        D("debian-security", "trixie-security", "main"),
    ],
    "bullseye": [
        D("debian", "bullseye", "main"),
        D("debian-security", "bullseye-security", "main"),
        D("debian", "bullseye-updates", "main"),
    ],
}


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=str(p.relative_to(OFFICIAL))) for p in official_files()]
)
def test_official_debian_images(path: Path) -> None:
    assert parse(path.read_text()) == OFFICIAL_EXPECTED[_release(path)]


def test_every_official_image_is_covered() -> None:
    assert len(official_files()) == 12  # amd64 and arm64v8; 3 releases; default and slim


def _ubuntu_one_line(codename: str, archive: str, security: str) -> list[Source]:
    main = ("main", "restricted")
    return [
        Source("ubuntu", archive, codename, main),
        Source("ubuntu", archive, f"{codename}-updates", main),
        Source("ubuntu", archive, codename, ("universe",)),
        Source("ubuntu", archive, f"{codename}-updates", ("universe",)),
        Source("ubuntu", archive, codename, ("multiverse",)),
        Source("ubuntu", archive, f"{codename}-updates", ("multiverse",)),
        Source(
            "ubuntu",
            archive,
            f"{codename}-backports",
            ("main", "restricted", "universe", "multiverse"),
        ),
        Source("ubuntu", security, f"{codename}-security", main),
        Source("ubuntu", security, f"{codename}-security", ("universe",)),
        Source("ubuntu", security, f"{codename}-security", ("multiverse",)),
    ]


def _ubuntu_deb822(archive: str, security: str) -> list[Source]:
    components = ("main", "universe", "restricted", "multiverse")
    return [
        Source("ubuntu", archive, "noble", components),
        Source("ubuntu", archive, "noble-updates", components),
        Source("ubuntu", archive, "noble-backports", components),
        Source("ubuntu", security, "noble-security", components),
    ]


ARCHIVE = "http://archive.ubuntu.com/ubuntu/"
SECURITY = "http://security.ubuntu.com/ubuntu/"
PORTS = "http://ports.ubuntu.com/ubuntu-ports/"
UBUNTU_CASES = [
    pytest.param(
        "ubuntu-20.04-amd64/etc/apt/sources.list",
        _ubuntu_one_line("focal", ARCHIVE, SECURITY),
        id="20.04-amd64",
    ),
    pytest.param(
        "ubuntu-20.04-arm64/etc/apt/sources.list",
        _ubuntu_one_line("focal", PORTS, PORTS),
        id="20.04-arm64",
    ),
    pytest.param(
        "ubuntu-22.04-amd64/etc/apt/sources.list",
        _ubuntu_one_line("jammy", ARCHIVE, SECURITY),
        id="22.04-amd64",
    ),
    pytest.param(
        "ubuntu-22.04-arm64/etc/apt/sources.list",
        _ubuntu_one_line("jammy", PORTS, PORTS),
        id="22.04-arm64",
    ),
    pytest.param(
        "ubuntu-24.04-amd64/etc/apt/sources.list.d/ubuntu.sources",
        _ubuntu_deb822(ARCHIVE, SECURITY),
        id="24.04-amd64",
    ),
    pytest.param(
        "ubuntu-24.04-arm64/etc/apt/sources.list.d/ubuntu.sources",
        _ubuntu_deb822(PORTS, PORTS),
        id="24.04-arm64",
    ),
    pytest.param("ubuntu-24.04-amd64/etc/apt/sources.list", [], id="24.04-moved-notice"),
]


@pytest.mark.parametrize(("path", "expected"), UBUNTU_CASES)
def test_official_ubuntu_images(path: str, expected: list[Source]) -> None:
    assert parse((UBUNTU_DATA / path).read_text()) == expected


DEB = "http://deb.debian.org/debian"
DOCKER = "https://download.docker.com/linux/debian"
PARSE_CASES = [
    pytest.param("", [], id="empty"),
    pytest.param("# nothing here\n\n", [], id="comments-only"),
    pytest.param(
        f"deb {DEB} bookworm main contrib\n",
        [Source("debian", DEB, "bookworm", ("main", "contrib"))],
        id="one-line",
    ),
    pytest.param(
        f"deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] {DEB} bookworm main\n",
        [Source("debian", DEB, "bookworm", ("main",))],
        id="one-line-options",
    ),
    pytest.param(
        f"  deb\t{DEB}\tbookworm\tmain  \n",
        [Source("debian", DEB, "bookworm", ("main",))],
        id="one-line-tabs-and-blanks",
    ),
    pytest.param(
        f"deb {DEB} bookworm main\r\ndeb {DEB} bookworm-updates main\r\n",
        [
            Source("debian", DEB, "bookworm", ("main",)),
            Source("debian", DEB, "bookworm-updates", ("main",)),
        ],
        id="one-line-crlf",
    ),
    pytest.param(
        f"deb-src {DEB} bookworm main\n# deb {DEB} bookworm-backports main\n#deb {DEB} sid main\n",
        [],
        id="one-line-deb-src-and-commented-out",
    ),
    pytest.param(
        f"deb [arch=amd64] {DOCKER} bookworm stable\ndeb {DEB} bookworm main\n",
        [Source("debian", DEB, "bookworm", ("main",))],
        id="one-line-third-party-skipped",
    ),
    pytest.param(
        f"deb http://snapshot.debian.org/archive/debian/{TS} bookworm main\n"
        f"deb [check-valid-until=no] http://snapshot.debian.org/archive/debian-security/{TS}/"
        " bookworm-security main\n",
        [
            Source(
                "debian", f"http://snapshot.debian.org/archive/debian/{TS}", "bookworm", ("main",)
            ),
            Source(
                "debian-security",
                f"http://snapshot.debian.org/archive/debian-security/{TS}/",
                "bookworm-security",
                ("main",),
            ),
        ],
        id="one-line-snapshot-uris",
    ),
    pytest.param(
        f"Types: deb\nURIs: {DEB}\nSuites: bookworm bookworm-updates\nComponents: main contrib\n",
        [
            Source("debian", DEB, "bookworm", ("main", "contrib")),
            Source("debian", DEB, "bookworm-updates", ("main", "contrib")),
        ],
        id="deb822",
    ),
    pytest.param(
        f"types: deb\nuris: {DEB}\nsuites: bookworm\ncomponents: main\n",
        [Source("debian", DEB, "bookworm", ("main",))],
        id="deb822-field-names-any-case",
    ),
    pytest.param(
        f"Types: deb deb-src\nURIs: {DEB} http://mirror.example/debian\nSuites: bookworm\n"
        "Components: main\n",
        [
            Source("debian", DEB, "bookworm", ("main",)),
            Source("debian", "http://mirror.example/debian", "bookworm", ("main",)),
        ],
        id="deb822-two-types-two-uris",
    ),
    pytest.param(
        f"Types: deb\nURIs:\n {DEB}\n http://mirror.example/debian\nSuites: bookworm\n"
        "# a comment inside the stanza\nComponents: main\n",
        [
            Source("debian", DEB, "bookworm", ("main",)),
            Source("debian", "http://mirror.example/debian", "bookworm", ("main",)),
        ],
        id="deb822-continuation-lines-and-comment",
    ),
    pytest.param(
        f"Types: deb-src\nURIs: {DEB}\nSuites: bookworm\nComponents: main\n\n"
        f"Types: deb\nURIs: {DEB}\nSuites: sid\nComponents: main\nEnabled: no\n\n"
        f"Types: deb\nURIs: {DEB}\nSuites: bookworm\nComponents: main\n",
        [Source("debian", DEB, "bookworm", ("main",))],
        id="deb822-deb-src-and-disabled-stanzas",
    ),
    pytest.param(
        f"Enabled: No\nTypes: deb\nURIs: {DEB}\nSuites: sid\nComponents: main\n\n"
        f"Types: deb\nURIs: {DEB}\nSuites: trixie\nComponents: main\nEnabled: false\n\n"
        f"Types: deb\nURIs: {DEB}\nSuites: bookworm\nComponents: main\nEnabled: yes\n",
        [Source("debian", DEB, "bookworm", ("main",))],
        id="deb822-enabled-as-apt-reads-it",
    ),
    pytest.param(
        f"Types: deb\nURIs: {DOCKER}\nSuites: bookworm\nComponents: stable\n\n"
        f"Types: deb\nURIs: {DEB}\nSuites: bookworm\nComponents: main\n",
        [Source("debian", DEB, "bookworm", ("main",))],
        id="deb822-third-party-skipped",
    ),
    pytest.param(
        "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble\nComponents: main\n"
        "\n  \t\n"
        "Types: deb\nURIs: http://archive.canonical.com/ubuntu\nSuites: noble\n"
        "Components: partner\n",
        [Source("ubuntu", "http://archive.ubuntu.com/ubuntu/", "noble", ("main",))],
        id="deb822-blank-line-with-spaces-separates-partner-skipped",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse(text: str, expected: list[Source]) -> None:
    assert parse(text) == expected


ARCHIVE_CASES = [
    ("http://deb.debian.org/debian", "debian"),
    ("http://deb.debian.org/debian/", "debian"),
    ("https://deb.debian.org/debian//", "debian"),
    ("http://ftp.de.debian.org/debian", "debian"),
    ("http://mirror.example:8080/debian", "debian"),
    ("http://user:secret@mirror.example/debian", "debian"),
    ("http://security.debian.org/debian-security", "debian-security"),
    ("http://deb.debian.org/debian-security/", "debian-security"),
    ("http://deb.debian.org/debian-ports", "debian-ports"),
    ("http://deb.debian.org/debian-debug", "debian-debug"),
    ("http://archive.debian.org/debian", "debian-archive/debian"),
    ("http://archive.debian.org/debian-security/", "debian-archive/debian-security"),
    ("http://archive.debian.org/debian-backports", "debian-archive/debian-backports"),
    ("http://deb.debian.org/debian-archive/debian", "debian-archive/debian"),
    ("http://deb.debian.org/debian-archive/debian-security", "debian-archive/debian-security"),
    ("http://archive.ubuntu.com/ubuntu/", "ubuntu"),
    ("http://security.ubuntu.com/ubuntu", "ubuntu"),
    ("http://ports.ubuntu.com/ubuntu-ports/", "ubuntu"),
    ("http://de.archive.ubuntu.com/ubuntu/", "ubuntu"),
    (f"http://snapshot.debian.org/archive/debian/{TS}", "debian"),
    (f"http://snapshot.debian.org/archive/debian-security/{TS}/", "debian-security"),
    (f"http://127.0.0.1:8080/archive/debian/{TS}", "debian"),
    (f"http://snapshot.debian.org/archive/debian-archive/{TS}/debian", "debian-archive/debian"),
    (
        f"http://snapshot.debian.org/archive/debian-archive/{TS}/debian-security/",
        "debian-archive/debian-security",
    ),
    (f"https://snapshot.ubuntu.com/ubuntu/{TS}", "ubuntu"),
    (f"https://snapshot.ubuntu.com/ubuntu/{TS}/", "ubuntu"),
    # Third-party repositories and what is not a URI of an archive: None.
    (DOCKER, None),
    ("https://download.docker.com/linux/ubuntu", None),
    ("http://apt.postgresql.org/pub/repos/apt", None),
    ("http://mirror.example/pub/debian", None),
    ("http://mirror.example/debian/extra", None),
    ("http://archive.canonical.com/ubuntu", None),
    ("https://ppa.launchpadcontent.net/deadsnakes/ppa/ubuntu", None),
    (f"https://snapshot.ppa.launchpadcontent.net/deadsnakes/ppa/ubuntu/{TS}", None),
    ("http://snapshot.debian.org/archive/debian/2024", None),
    ("file:///srv/debian", None),
    ("cdrom:[Debian GNU/Linux 12]/", None),
    ("debian", None),
    ("", None),
]


@pytest.mark.parametrize(("uri", "archive"), [pytest.param(u, a, id=u) for u, a in ARCHIVE_CASES])
def test_archive_of(uri: str, archive: str | None) -> None:
    assert archive_of(uri) == archive
