"""apk's pure parts: `apk add` words, versions, the image's files, signed indexes, resolution,
and the pins and cleanup the rewrite writes into apk RUNs.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from alpine_support import REAL_INDEX, REAL_KEY, ROOTFS, index_archive, make_key, record, sign
from handmade import hostile_tars
from shell_syntax import run_errors

from pinner import dockerfile, managers, reproducible
from pinner.apt.shell import run_invocations
from pinner.errors import MirrorError
from pinner.lockfile import LockedPackage
from pinner.managers import PackageArg, apk

KEYS = {REAL_KEY: (ROOTFS / "etc/apk/keys" / REAL_KEY).read_bytes()}


def words(run: str) -> list[tuple[str, str | None]]:
    """(name, constraint) of every package word the RUN's apk add commands install."""
    found = []
    for invocation in run_invocations(run):
        install = apk.MANAGER.installs(invocation) if invocation.program == "apk" else None
        if install is not None:
            found += [(p.name, p.constraint) for p in install.packages]
            # The offsets span the word as written.
            assert all(
                run[p.start : p.end].startswith(p.name) or not p.plain for p in install.packages
            )
    return found


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("apk add curl", [("curl", None)]),
        ("apk add --no-cache curl git", [("curl", None), ("git", None)]),
        ("apk --no-cache add -U curl", [("curl", None)]),
        ("apk add --virtual .build-deps gcc make", [("gcc", None), ("make", None)]),
        ("apk add -t .build-deps gcc", [("gcc", None)]),
        ("apk add --virtual=.build-deps gcc", [("gcc", None)]),
        (
            "apk add curl=8.1.1-r1 bash~5.2 tzdata>2023",
            # Unquoted, `>2023` is the shell's redirection, not apk's constraint.
            [("curl", "=8.1.1-r1"), ("bash", "~5.2"), ("tzdata", None)],
        ),
        ("apk add 'openssl>=3.0'", [("openssl", ">=3.0")]),
        ("apk add so:libz.so.1 cmd:bash", [("so:libz.so.1", None), ("cmd:bash", None)]),
        ("apk add --allow-untrusted ./local.apk curl", [("curl", None)]),
        ("apk del .build-deps", []),
        ("apk del --no-network curl", []),
        ("apk update && apk upgrade", []),
        (
            "apk add --repository https://dl-cdn.alpinelinux.org/alpine/edge/testing foo",
            [("foo", None)],
        ),
        ("apk add -X https://example.org/alpine/edge/testing foo", [("foo", None)]),
        ("apk add -X /media/cdrom/apks foo", []),
        ("apk add $PKGS", []),
        ("apk add --root /sysroot --initdb musl", []),
        ("apk add -p/sysroot musl", []),
        ("apk add --arch armv7 musl", []),
        ("apk add foo@testing", [("foo", None)]),
        ("apk add 'foo@testing>1.2' bar@edge=1.0-r0", [("foo", ">1.2"), ("bar", "=1.0-r0")]),
        ("apk info -e curl || apk add curl", [("curl", None)]),
    ],
)
def test_apk_add_words(run: str, expected: list[tuple[str, str | None]]) -> None:
    assert words(run) == expected


def test_apk_tools_3_options_that_take_a_value_are_not_read_as_words() -> None:
    # apk-tools 3.0 (src/apk.c GLOBAL_OPTIONS): --preupgrade-depends, --uvol-manager and
    # --repository-config take a value; --cache=no and --network=no are --no-cache's forms.
    assert words("apk add --preupgrade-depends apk-tools curl") == [("curl", None)]
    assert words("apk add --uvol-manager /bin/true curl") == [("curl", None)]
    line = "@edge https://dl-cdn.alpinelinux.org/alpine/edge/main"
    (invocation,) = run_invocations(f"apk add --repository-config '{line}' curl foo@edge")
    install = apk.read_install(invocation)
    assert install is not None and install.notes == ()
    assert [(p.name, p.tag, p.repositories) for p in install.packages] == [
        ("curl", None, (line,)),
        ("foo", "edge", (line,)),
    ]
    (invocation,) = run_invocations("apk add --repository-config 'v3 https://a/alpine main' curl")
    install = apk.read_install(invocation)
    assert install is not None and install.packages == ()
    assert install.notes == (
        "apk add --repository v3 https://a/alpine main: not an http(s) repository;"
        " not pinned: curl",
    )
    for run in ("apk add --cache=no curl", "apk add --network=no curl"):
        assert not apk.needs_cleanup(run_invocations(run), run)
    assert apk.needs_cleanup(run_invocations("apk add --cache=yes curl"), "apk add curl")


def test_a_tagged_word_keeps_its_tag_and_its_pin_is_name_at_tag_equals_version() -> None:
    (invocation,) = run_invocations("apk add curl nginx@testing")
    install = apk.read_install(invocation)
    assert install is not None
    assert [(p.name, p.tag) for p in install.packages] == [("curl", None), ("nginx", "testing")]
    # apk-tools' dependency grammar: the operator splits first, then the name at its `@`.
    assert apk.MANAGER.pin_word("nginx@testing", "1.25.3-r0") == "nginx@testing=1.25.3-r0"
    with pytest.raises(ValueError):
        apk.MANAGER.pin_word("nginx@test ing", "1.25.3-r0")


@pytest.mark.parametrize(
    ("run", "appended", "changes"),
    [
        # Real forms (docker-volume-s3fs, viewprof, rom64, a chromium@edge image).
        (
            "echo @testing https://dl-cdn.alpinelinux.org/alpine/edge/testing"
            " >> /etc/apk/repositories",
            ["@testing https://dl-cdn.alpinelinux.org/alpine/edge/testing"],
            False,
        ),
        (
            "echo '@edge http://nl.alpinelinux.org/alpine/edge/main' >> /etc/apk/repositories"
            ' && echo "@edgecommunity http://nl.alpinelinux.org/alpine/edge/community"'
            " >> /etc/apk/repositories && apk add chromium@edge",
            [
                "@edge http://nl.alpinelinux.org/alpine/edge/main",
                "@edgecommunity http://nl.alpinelinux.org/alpine/edge/community",
            ],
            False,
        ),
        # printf's and echo -e's newlines (BusyBox ash's echo reads \n only after -e).
        (
            "printf '%s\\n' '@t https://a/alpine/edge/testing' '@u https://a/alpine/edge/main'"
            " >> /etc/apk/repositories",
            ["@t https://a/alpine/edge/testing", "@u https://a/alpine/edge/main"],
            False,
        ),
        (
            "printf '@t https://a/alpine/edge/testing\\n' >> /etc/apk/repositories",
            ["@t https://a/alpine/edge/testing"],
            False,
        ),
        (
            "echo -e '@t https://a/alpine/edge/testing\\n@u https://a/alpine/edge/main'"
            " >> /etc/apk/repositories",
            ["@t https://a/alpine/edge/testing", "@u https://a/alpine/edge/main"],
            False,
        ),
        ("echo '@t https://a/alpine/edge/main\\n@u https://b' >> /etc/apk/repositories", [], True),
        ("echo -n '@t https://a/alpine/edge/main' >> /etc/apk/repositories", [], True),
        ("printf '@t https://a/alpine/edge/main' >> /etc/apk/repositories", [], True),
        ("printf '%s' '@t https://a/alpine/edge/main' >> /etc/apk/repositories", [], True),
        # An untagged line, a replaced file, a variable, a tagged line with other writes.
        ("echo https://a/alpine/edge/main >> /etc/apk/repositories", [], True),
        ("echo '@t https://a/alpine/edge/main' > /etc/apk/repositories", [], True),
        ('echo "@t $MIRROR/edge/main" >> /etc/apk/repositories', [], True),
        (
            "echo '@t https://a/alpine/edge/main' >> /etc/apk/repositories"
            " && sed -i s/v3.17/v3.18/ /etc/apk/repositories",
            ["@t https://a/alpine/edge/main"],
            True,
        ),
    ],
)
def test_appended_tagged_repositories_are_read_and_change_nothing_else(
    run: str, appended: list[str], changes: bool
) -> None:
    assert [line for _, line in apk.appended_repositories(run)] == appended
    assert (apk.config_changes(run) is not None) is changes


def test_another_root_is_said() -> None:
    (invocation,) = run_invocations("apk add --root /sysroot --initdb musl busybox")
    install = apk.MANAGER.installs(invocation)
    assert install is not None
    assert install.notes == (
        "apk add --root /sysroot: not the image's own packages; not pinned: musl, busybox",
    )


def test_what_is_not_pinned_is_said() -> None:
    (invocation,) = run_invocations("apk add -X /media/cdrom/apks foo $EXTRA")
    install = apk.MANAGER.installs(invocation)
    assert install is not None
    assert install.notes == (
        "package word uses a variable ($EXTRA); it is not recorded",
        "apk add --repository /media/cdrom/apks: not an http(s) repository; not pinned: foo",
    )


def test_repository_words_carry_the_commands_repositories() -> None:
    (invocation,) = run_invocations(
        "apk add -X https://x.example/alpine/edge/testing --repository=https://y.example/r/ foo"
    )
    install = apk.MANAGER.installs(invocation)
    assert install is not None
    assert [(p.name, p.repositories) for p in install.packages] == [
        ("foo", ("https://x.example/alpine/edge/testing", "https://y.example/r"))
    ]


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.2.3-r0", "1.2.3-r1"),
        ("1.2.3", "1.2.4"),
        ("1.2", "1.2.1"),
        ("1.2.3_rc1", "1.2.3"),
        ("1.2.3_alpha", "1.2.3_beta"),
        ("1.2.3", "1.2.3_p1"),
        ("1.2.3_git20220101", "1.2.3_p1"),
        ("6.3_p20221119-r1", "6.4-r0"),
        ("1.0a", "1.0b"),
        ("0.99f7-r0", "0.99f8-r0"),
        ("9.9", "10.0"),
    ],
)
def test_version_order(lower: str, higher: str) -> None:
    assert apk.parse_version(lower) < apk.parse_version(higher)


@pytest.mark.parametrize(
    ("version", "op", "wanted", "ok"),
    [
        ("1.2.3-r0", "=", "1.2.3-r0", True),
        ("1.2.3-r1", "=", "1.2.3-r0", False),
        ("1.2.3-r1", "~", "1.2", True),
        ("1.20.3-r1", "~", "1.2", False),
        ("1.2.3-r1", ">", "1.2.3", True),
        ("1.2.3-r1", "<", "1.2.3", False),
        ("1.2.3", ">=", "1.2.3", True),
    ],
)
def test_satisfies(version: str, op: str, wanted: str, ok: bool) -> None:
    assert apk.satisfies(version, op, wanted) is ok


def test_invalid_versions_are_refused() -> None:
    for text in ("", "abc", "1.2-rX", "1.2; rm -rf /", "1.2 3", "1" * 101, "1.0_p" + "1" * 101):
        assert not apk.is_version(text)
    assert apk.is_version("1" * 100 + "_p" + "1" * 100 + "-r" + "1" * 100)


def test_an_installed_version_int_cannot_read_is_one_error() -> None:
    # int() refuses over 4300 digits: this apk-tools version was a ValueError and a traceback.
    files = {
        "/etc/apk/repositories": b"https://dl-cdn.alpinelinux.org/alpine/v3.20/main\n",
        "/lib/apk/db/installed": b"P:apk-tools\nV:" + b"9" * 5000 + b"\n",
    }
    with pytest.raises(
        MirrorError, match=r"^/lib/apk/db/installed: apk-tools: version '9+\.\.\.' is not valid$"
    ):
        apk.configure(files, "linux/amd64")


# --------------------------------------------------------------------------- the image


def test_configure_reads_the_recorded_image_files() -> None:
    files = {
        "/etc/apk/repositories": b"https://dl-cdn.alpinelinux.org/alpine/v3.17/main\n"
        b"# a comment\n@testing https://dl-cdn.alpinelinux.org/alpine/edge/testing\n\n"
        b"/media/cdrom/apks\n",
        "/etc/apk/arch": b"aarch64\n",
        "/etc/alpine-release": b"3.16.2\n",
        f"/etc/apk/keys/{REAL_KEY}": KEYS[REAL_KEY],
        "/lib/apk/db/installed": (ROOTFS / "lib/apk/db/installed").read_bytes(),
    }
    config = apk.configure(files, "linux/arm64")
    assert isinstance(config, apk.ApkConfig)
    assert (config.distro, config.release, config.arch, config.branch) == (
        "alpine",
        "3.16.2",
        "aarch64",
        "v3.17",
    )
    # The tagged repository is kept with its tag, for the words that name it.
    assert [(r.tail, r.tag) for r in config.repositories] == [
        ("v3.17/main", ""),
        ("edge/testing", "testing"),
    ]
    assert list(config.keys) == [REAL_KEY]
    # 14 packages and the names they provide.
    assert config.installed["musl"] == "1.2.3-r0"
    assert config.installed["so:libc.musl-aarch64.so.1"] == "1"
    assert config.installed["/bin/sh"] == ""
    assert config.installed["ca-certificates-cacert"] == "20220614-r0"
    assert config.notes == ("repository '/media/cdrom/apks' is not an http(s) URL; not read",)


def test_the_worlds_versioned_entries_are_read_as_holds() -> None:
    files = {
        "/etc/apk/repositories": b"https://a/alpine/v3.17/main\n",
        "/etc/apk/world": b"busybox=1.35.0-r17 zlib<1.2.13 curl@edge~8.1 !bash git\n",
    }
    config = apk.configure(files, "linux/arm64")
    assert isinstance(config, apk.ApkConfig)
    assert config.world == ("busybox", "zlib", "curl", "git")
    assert config.held == (
        ("busybox", "=", "1.35.0-r17"),
        ("zlib", "<", "1.2.13"),
        ("curl", "~", "8.1"),
    )
    assert config.world_tags == (("curl", "edge"),)


def test_an_apk_tools_3_image_is_read_from_its_repositories_d_and_lib_keys() -> None:
    # apk-repositories(5) and apk-keys(5) of apk-tools 3.0 (testdata/alpine/apk-tools-3.md): the
    # .list files of /etc and /lib/apk/repositories.d by name after /etc/apk/repositories, `set`
    # variables, [v2|v3|ndx] [@tag] URL [component...], keys from /etc and /lib/apk/keys.
    files = {
        "/etc/apk/repositories": b"",
        "/lib/apk/repositories.d/distribution.list": b"set -default distro_mirror="
        b"https://dl-cdn.alpinelinux.org/alpine\nv2 ${distro_mirror}/v3.23 main community\n"
        b"v3 ${distro_mirror}/v3.23 main\n",
        "/etc/apk/repositories.d/00-vars.list": b"set distro_mirror=https://mirror.example.com/a\n",
        "/etc/apk/repositories.d/50-edge.list": b"@edge ${distro_mirror}/edge/${nope}\n"
        b"set -default repo=main\nset -default repo=community\n"
        b"@edge ${distro_mirror}/edge/${repo}\nset APK_ARCH=x\n",
        "/lib/apk/repositories.d/50-edge.list": b"https://hidden.example.com/alpine/edge/main\n",
        "/etc/apk/repositories.d/notes.txt": b"https://not.read.example.com/alpine/edge/main\n",
        f"/lib/apk/keys/{REAL_KEY}": KEYS[REAL_KEY],
        "/etc/apk/arch": b"x86_64\n",
        "/lib/apk/db/installed": (ROOTFS / "lib/apk/db/installed").read_bytes(),
    }
    config = apk.configure(files, "linux/amd64")
    assert isinstance(config, apk.ApkConfig)
    # By file name: 00-vars.list, 50-edge.list (/etc's hides /lib's), distribution.list.
    assert [(r.url, r.tag) for r in config.repositories] == [
        ("https://mirror.example.com/a/edge/main", "edge"),
        ("https://mirror.example.com/a/v3.23/main", ""),
        ("https://mirror.example.com/a/v3.23/community", ""),
    ]
    assert config.branch == "v3.23"
    assert list(config.keys) == [REAL_KEY]
    assert config.notes == (
        "/etc/apk/repositories.d/50-edge.list: repositories line"
        " '@edge ${distro_mirror}/edge/${nope}': not read (an undefined variable)",
        "/etc/apk/repositories.d/50-edge.list: repositories line 'set APK_ARCH=x' sets no"
        " variable pinner can read",
        "/lib/apk/repositories.d/distribution.list: repository"
        " 'https://mirror.example.com/a/v3.23' is an apk v3 index (Packages.adb); not read"
        " (pinner reads APKINDEX.tar.gz)",
    )
    # The installed database keeps apk-tools 2's text form (apk_db_fdb_read of
    # lib/apk/db/installed).
    assert config.installed["musl"] == "1.2.3-r0"
    # Only repositories.d files: their names are what the note says.
    del files["/etc/apk/repositories"]
    files["/lib/apk/repositories.d/distribution.list"] = b"v3 https://a/alpine/v3.23 main\n"
    # /lib's 50-edge.list, hidden before, is read once /etc's is gone.
    del files["/etc/apk/repositories.d/50-edge.list"]
    config = apk.configure(files, "linux/amd64")
    assert isinstance(config, apk.ApkConfig)
    assert [r.url for r in config.repositories] == ["https://hidden.example.com/alpine/edge/main"]
    del files["/lib/apk/repositories.d/50-edge.list"]
    assert apk.configure(files, "linux/amd64") == (
        "/etc/apk/repositories and repositories.d names no http(s) repository"
    )


@pytest.mark.parametrize(
    ("version", "noted"),
    [
        ("2.12.9-r3", False),
        ("2.12.8-r0", False),
        ("2.14.4-r0", False),
        ("3.0.3-r0", False),
        ("2.12.7-r3", True),
    ],
)
def test_an_apk_before_2_12_8_is_said_to_write_script_times_from_the_clock(
    version: str, noted: bool
) -> None:
    # Alpine 3.16's real installed database, its apk-tools entry at the version given.
    installed = (ROOTFS / "lib/apk/db/installed").read_text()
    assert "P:apk-tools\nV:2.12.9-r3\n" in installed
    installed = installed.replace("P:apk-tools\nV:2.12.9-r3\n", f"P:apk-tools\nV:{version}\n")
    files = {
        "/etc/apk/repositories": b"https://a/alpine/v3.14/main\n",
        "/lib/apk/db/installed": installed.encode(),
    }
    config = apk.configure(files, "linux/arm64")
    assert isinstance(config, apk.ApkConfig)
    expected = (
        f"apk-tools {version} in the image writes the clock as the time of each package script it"
        " keeps in /lib/apk/db/scripts.tar (2.12.8 and later do not): that file differs from"
        " build to build"
    )
    assert config.notes == ((expected,) if noted else ())


@pytest.mark.parametrize(
    ("files", "platform", "why"),
    [
        ({}, "linux/arm64", "the image has no /etc/apk/repositories"),
        (
            {"/etc/apk/repositories": b"# none\n"},
            "linux/arm64",
            "/etc/apk/repositories names no http(s) repository",
        ),
        (
            {"/etc/apk/repositories": b"https://a/alpine/v3.17/main\n", "/etc/apk/arch": b"x86_64"},
            "linux/arm64",
            "the image is x86_64, not aarch64 (linux/arm64)",
        ),
        (
            {"/etc/apk/repositories": b"https://a/alpine/v3.17/main\n"},
            "linux/mips64le",
            "apk has no architecture for linux/mips64le",
        ),
    ],
)
def test_configure_says_why_not(files: dict[str, bytes], platform: str, why: str) -> None:
    assert apk.configure(files, platform) == why


# --------------------------------------------------------------------------- signed indexes


def test_the_recorded_index_verifies_with_the_recorded_key_and_parses() -> None:
    source = "v3.17/main aarch64"
    entries = apk.parse_index(
        apk.index_text(apk.verify_index(REAL_INDEX.read_bytes(), KEYS, source), source), source
    )
    assert len(entries) == 5004
    assert {e.arch for e in entries} == {"aarch64"}
    curl = next(e for e in entries if e.name == "curl")
    assert curl == apk.Entry(
        "curl",
        "8.1.1-r1",
        "aarch64",
        "Q15PbnQa1gDcsHbkMOWDlD8LEJ5ys=",
        ("ca-certificates", "so:libc.musl-aarch64.so.1", "so:libcurl.so.4", "so:libz.so.1"),
        ("cmd:curl=8.1.1-r1",),
        (),
        0,
    )


def test_sha256_signatures_verify_and_a_byte_changed_does_not(tmp_path: Path) -> None:
    private, name = make_key(tmp_path)
    keys = {name: private.with_name(name).read_bytes()}
    data = sign(index_archive(record("a", "1.0-r0")), private, name, tmp_path, "sha256")
    assert (
        apk.parse_index(apk.index_text(apk.verify_index(data, keys, "x"), "x"), "x")[0].name == "a"
    )
    with pytest.raises(MirrorError, match="does not verify"):
        apk.verify_index(data[:-8] + bytes(8), keys, "x")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "x: no signature"),
        (b"not gzip at all", "x: not a gzip stream"),
        (REAL_INDEX.read_bytes()[:200], "x: no signature: the first gzip stream"),
    ],
)
def test_broken_index_files(data: bytes, message: str) -> None:
    with pytest.raises(MirrorError) as info:
        apk.verify_index(data, KEYS, "x")
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P:curl\nV:8.1.1-r1; touch /x\n", "x: curl: version '8.1.1-r1; touch /x' is not valid"),
        ("P:cu rl\nV:1.0\n", "x: package name 'cu rl' is not valid"),
        ("P:curl\nnot a field\n", "x: line 2 is not a field (X:value)"),
        ("P:curl\nV:1.0\nA:x86 64\n", "x: curl: architecture 'x86 64' is not valid"),
    ],
)
def test_index_fields_are_checked_before_use(text: str, message: str) -> None:
    with pytest.raises(MirrorError) as info:
        apk.parse_index(text, "x")
    assert str(info.value) == message


# --------------------------------------------------------------------------- resolution


@pytest.fixture(scope="module")
def universe() -> apk.Universe:
    data = apk.verify_index(REAL_INDEX.read_bytes(), KEYS, "x")
    return apk.Universe(apk.parse_index(apk.index_text(data, "x"), "x"))


@pytest.fixture(scope="module")
def installed() -> dict[str, str]:
    files = {"/etc/apk/repositories": b"https://a/alpine/v3.17/main\n"}
    files["/lib/apk/db/installed"] = (ROOTFS / "lib/apk/db/installed").read_bytes()
    config = apk.configure(files, "linux/arm64")
    assert isinstance(config, apk.ApkConfig)
    return dict(config.installed)


def _names(universe: apk.Universe, installed: dict[str, str], *words: str) -> list[str]:
    requests = []
    for word in words:
        name, op, version, _ = apk.parse_dependency(word)
        requests.append(PackageArg(name, f"{op}{version}" if op else None, 0, 0))
    entries, missing, _ = apk.closure(universe, installed, requests)
    assert not [m for m in missing if not m[1].startswith(apk.KEPT)]
    return sorted(e.name for e in entries)


def test_closure_minus_what_the_image_has(
    universe: apk.Universe, installed: dict[str, str]
) -> None:
    assert _names(universe, installed, "curl") == [
        "brotli-libs",
        "ca-certificates",
        "curl",
        "libcrypto3",
        "libcurl",
        "libssl3",
        "nghttp2-libs",
    ]
    # Without the installed database, musl and zlib come along.
    assert {"musl", "zlib"} <= set(_names(universe, {}, "curl"))


def test_installed_packages_named_are_kept(
    universe: apk.Universe, installed: dict[str, str]
) -> None:
    entries, missing, _ = apk.closure(universe, installed, [PackageArg("zlib", None, 0, 0)])
    assert entries == []
    assert missing == [("zlib", f"{apk.KEPT}1.2.12-r3")]


def test_provider_choice(universe: apk.Universe) -> None:
    # gcc needs so:libisl.so.23, which isl24 (=23.1.0) and isl25 (=23.2.0) provide: apk takes 25.
    assert "isl25" in _names(universe, {}, "gcc") and "isl24" not in _names(universe, {}, "gcc")
    best = universe.best("cmd:bash", None, None)
    assert isinstance(best, apk.Entry) and best.name == "bash"


def test_a_word_the_branch_does_not_serve(universe: apk.Universe) -> None:
    assert (
        universe.best("curl", "=", "7.0.0-r0") == "the repositories serve 8.1.1-r1, not =7.0.0-r0"
    )
    assert universe.best("no-such-package", None, None) == "no such package in the repositories"


def test_locked_packages_are_checked_as_the_lock_reader_checks_them() -> None:
    good = LockedPackage(
        "curl",
        "aarch64",
        "8.1.1-r1",
        "",
        "v3.17/main/aarch64/curl-8.1.1-r1.apk",
        checksum="Q15PbnQa1gDcsHbkMOWDlD8LEJ5ys=",
    )
    assert apk.checked(good) == good
    for bad, why in [
        (good._replace(version="1;x"), "not an apk version"),
        (good._replace(checksum="sha256:00"), "checksum is not an APKINDEX Q1 checksum"),
        (good._replace(filename="../curl.apk"), "is not an apk path"),
        (good._replace(name="-curl"), "not an apk package name"),
        (good._replace(sha256="ab" * 32), "an APKINDEX records no sha256"),
    ]:
        with pytest.raises(ValueError, match=why):
            apk.checked(bad)


# --------------------------------------------------------------------------- the rewrite


def _rewrite(text: str, versions: dict[str, str]) -> str:
    parsed = dockerfile.parse(text, "Dockerfile")
    (plan,) = reproducible.plans(parsed)
    edits, _ = reproducible.manager_edits(
        parsed,
        plan,
        reproducible.Rewrite("20240101T000000Z", 0, {"0": "alpine"}, {}, {"0": versions}),
    )
    return dockerfile.apply_edits(text, edits)


VERSIONS = {
    "curl": "8.1.1-r1",
    "gcc": "12.2.1_git20220924-r4",
    "bash": "5.2.15-r0",
    "git": "2.38.5-r0",
}


def test_a_cache_mount_after_an_escaped_line_end_gets_no_cleanup() -> None:
    # `# escape=\`` joins the RUN's lines with a backtick: the mount on the next line keeps
    # apk's cache out of the image, so no rm is appended.
    text = (
        "# escape=`\nFROM alpine\n"
        "RUN --network=default `\n    --mount=type=cache,target=/var/cache/apk apk add curl\n"
    )
    expected = text.replace("add curl", "add curl=8.1.1-r1")
    assert _rewrite(text, VERSIONS) == expected


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (
            "RUN apk add --no-cache --virtual .build-deps gcc bash && apk del .build-deps\n",
            "RUN apk add --no-cache --virtual .build-deps gcc=12.2.1_git20220924-r4"
            " bash=5.2.15-r0 && apk del .build-deps\n",
        ),
        # The group's name is no package even when a package has that name.
        (
            "RUN apk add --no-cache -t curl git\n",
            "RUN apk add --no-cache -t curl git=2.38.5-r0\n",
        ),
        # apk del and apk info words are never pinned.
        (
            "RUN apk add --no-cache git && apk del curl\n",
            "RUN apk add --no-cache git=2.38.5-r0 && apk del curl\n",
        ),
        # A user's range stays; an old exact pin moves; a quoted word is left as written.
        (
            "RUN apk add --no-cache curl~8.1 'git' bash=5.1.0-r0\n",
            "RUN apk add --no-cache curl~8.1 'git' bash=5.2.15-r0\n",
        ),
        (
            "RUN apk add git\n",
            "RUN apk add git=2.38.5-r0 \\\n    && rm -rf /var/cache/apk/*\n",
        ),
        (
            "RUN apk add git; rm -rf /var/cache/apk/*\n",
            "RUN apk add git=2.38.5-r0; rm -rf /var/cache/apk/*\n",
        ),
        (
            "RUN <<EOF\nset -e\napk add git\nEOF\n",
            "RUN <<EOF\nset -e\napk add git=2.38.5-r0\nrm -rf /var/cache/apk/*\nEOF\n",
        ),
        # --no-network reads no index, so leaves no cache to remove.
        (
            "RUN apk add --no-network --virtual .rundeps $runDeps\n",
            "RUN apk add --no-network --virtual .rundeps $runDeps\n",
        ),
        (
            "RUN apk add --no-cache git &\n",
            "RUN apk add --no-cache git=2.38.5-r0 &\n",
        ),
    ],
)
def test_pins_go_into_package_words_and_every_run_stays_valid_shell(
    run: str, expected: str
) -> None:
    text = f"FROM alpine:3.17\n{run}"
    new = _rewrite(text, VERSIONS)
    assert new == f"FROM alpine:3.17\n{expected}"
    assert run_errors(new) == []
    # Twice is once.
    assert _rewrite(new, VERSIONS) == new


def test_an_index_that_inflates_past_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, name = make_key(tmp_path)
    keys = {name: private.with_name(name).read_bytes()}
    data = sign(index_archive(record("a", "1.0-r0") + "#" * 20000), private, name, tmp_path)
    signed = apk.verify_index(data, keys, "x")
    monkeypatch.setattr(apk, "MAX_UNPACKED", 16 * 1024)
    with pytest.raises(MirrorError) as info:
        apk.index_text(signed, "x")
    assert str(info.value) == "x: the index is over 0 MiB unpacked"


REMOVALS = [
    ("apk del --no-network .build-deps", (".build-deps",)),
    ("apk del -r --purge ssl_client zlib=1.2.12-r3", ("ssl_client", "zlib")),
    ("apk --no-cache del $DEPS curl", ("curl",)),
    ("apk del --root /sysroot curl", None),
    ("apk add curl", None),
]


@pytest.mark.parametrize(("run", "names"), REMOVALS, ids=[r for r, _ in REMOVALS])
def test_read_removal(run: str, names: tuple[str, ...] | None) -> None:
    (invocation,) = run_invocations(run)
    found = apk.read_removal(invocation)
    assert (found.names if found is not None else None) == names


def test_add_virtual_marks_the_words_of_its_group() -> None:
    (invocation,) = run_invocations("apk add --no-cache -t .deps gcc musl-dev")
    found = apk.read_install(invocation)
    assert found is not None
    assert [(p.name, p.group) for p in found.packages] == [("gcc", ".deps"), ("musl-dev", ".deps")]


INSTALLED_316 = apk.parse_index((ROOTFS / "lib/apk/db/installed").read_text(), "installed")
# Alpine's minirootfs world: aports scripts/mkimg.minirootfs.sh installs these five.
WORLD_316 = ("alpine-baselayout", "alpine-keys", "apk-tools", "busybox", "libc-utils")


def test_after_removal_keeps_what_an_installed_package_still_needs() -> None:
    left = apk.after_removal(INSTALLED_316, ["ssl_client", "zlib", "libssl1.1", "alpine-keys"])
    # zlib and libssl1.1 are apk-tools' (by so: names); ssl_client stays as long as busybox
    # and libssl1.1 are there (its install_if); alpine-keys, which nothing needs, goes.
    assert {"zlib", "so:libz.so.1", "libssl1.1", "ssl_client", "cmd:ssl_client"} <= set(left)
    assert "alpine-keys" not in left


def test_after_removal_takes_the_orphans_of_a_world_package_too() -> None:
    def left(*removed: str, world: tuple[str, ...] = WORLD_316) -> set[str]:
        return {e.name for e in INSTALLED_316} & set(
            apk.after_removal(INSTALLED_316, removed, world)
        )

    every = {e.name for e in INSTALLED_316}
    assert left() == every
    # libc-utils pulled musl-utils and scanelf in; nothing else needs them: all three go.
    assert every - left("libc-utils") == {"libc-utils", "musl-utils", "scanelf"}
    # Without a world file, only the named package goes.
    assert every - set(apk.after_removal(INSTALLED_316, ["libc-utils"])) == {"libc-utils"}
    # busybox is needed by alpine-baselayout (/bin/sh): it stays, so does all it needs.
    assert left("busybox") == every
    # An install_if package stays while what it came for is there (apk-tools' installif13).
    assert left("ssl_client") == every
    # apk-tools out of the world: libssl1.1 and libcrypto1.1 go, and with them ssl_client,
    # whose install_if no longer holds; zlib and ca-certificates-bundle (apk-tools' alone) too.
    assert every - left("apk-tools") == {
        "apk-tools",
        "ca-certificates-bundle",
        "libcrypto1.1",
        "libssl1.1",
        "ssl_client",
        "zlib",
    }


def test_after_removal_as_apk_tools_solver_tests_have_it() -> None:
    # apk-tools test/solver basic14 (world a, a needs b: del a purges both) and installif4
    # (world app; app needs lib, lib needs foo, appiif1 install_if app: del app purges all).
    def entries(*records: tuple[str, str, str]) -> list[apk.Entry]:
        text = "\n".join(
            record(name, "1", depends) + (f"i:{iif}\n" if iif else "")
            for name, depends, iif in records
        )
        return apk.parse_index(text, "test")

    basic = entries(("a", "b", ""), ("b", "", ""))
    assert apk.after_removal(basic, ["a"], ("a",)) == {}
    app = entries(("app", "lib", ""), ("lib", "foo", ""), ("foo", "", ""), ("appiif1", "", "app"))
    assert apk.after_removal(app, ["app"], ("app",)) == {}
    assert set(apk.after_removal(app, ["appiif1"], ("app",))) == {"app", "lib", "foo", "appiif1"}


def test_after_removal_walks_chains_of_20000_once() -> None:
    # Each package needs the one before and is install_if it; another chain hangs on d0 with
    # `apk del -r d0`. Both walks rescanned every entry per step: minutes for these.
    text = "".join(
        f"P:a{i}\nV:1\n" + (f"D:a{i - 1}\ni:a{i - 1}\n" if i else "") + "\n" for i in range(20_000)
    ) + "".join(f"P:d{i}\nV:1\n" + (f"D:d{i - 1}\n" if i else "") + "\n" for i in range(20_000))
    entries = apk.parse_index(text, "test")
    assert len(apk.after_removal(entries, ["b"], ("a0",))) == 20_000
    assert len(apk.after_removal(entries, ["d0"], ("a0", "d19999"), ["d0"])) == 20_000


REPOSITORIES_CHANGES = [
    ("echo http://dl-cdn.alpinelinux.org/alpine/edge/community >> /etc/apk/repositories", True),
    ("printf '%s\\n' \"$url\" | tee -a /etc/apk/repositories", True),
    ("sed -i -e 's/v3.16/edge/g' /etc/apk/repositories && apk upgrade", True),
    ("cat > /etc/apk/repositories <<EOF\nhttps://example.org/alpine/v3.20/main\nEOF", True),
    ("setup-apkrepos -1", True),
    ("cat /etc/apk/repositories && apk add curl", False),
    ("apk add --repositories-file /tmp/repos curl", False),
]


@pytest.mark.parametrize(
    ("run", "changes"), REPOSITORIES_CHANGES, ids=[r[:40] for r, _ in REPOSITORIES_CHANGES]
)
def test_config_changes(run: str, changes: bool) -> None:
    found = apk.config_changes(run)
    assert found == ("changes /etc/apk/repositories" if changes else None)


def test_apk_upgrade_upgrades_only_when_it_names_no_package() -> None:
    (bare,) = run_invocations("apk upgrade --no-cache --available")
    (named,) = run_invocations("apk upgrade musl")
    every = apk.read_install(bare)
    some = apk.read_install(named)
    assert every is not None and every.upgrades and every.packages == ()
    assert some is not None and not some.upgrades
    assert some.notes == ("apk upgrade musl: the upgraded versions are not recorded",)


def test_add_upgrade_takes_the_newest_build_of_the_word_and_what_it_depends_on(
    universe: apk.Universe, installed: dict[str, str]
) -> None:
    def closure(*requests: PackageArg) -> tuple[dict[str, str], list[tuple[str, str]]]:
        entries, missing, _ = apk.closure(universe, installed, list(requests))
        return {e.name: e.version for e in entries}, missing

    # The 3.16 base has zlib 1.2.12-r3 and musl 1.2.3-r0; v3.17 serves 1.2.13-r0 and 1.2.3-r5.
    assert closure(PackageArg("zlib", None, 0, 0)) == ({}, [("zlib", f"{apk.KEPT}1.2.12-r3")])
    assert closure(PackageArg("zlib", None, 0, 0, upgrade=True)) == (
        {"zlib": "1.2.13-r0", "musl": "1.2.3-r5"},
        [],
    )
    plain, _ = closure(PackageArg("curl", None, 0, 0))
    upgraded, _ = closure(PackageArg("curl", None, 0, 0, upgrade=True))
    # curl's closure, and the installed packages down its dependencies, at v3.17's builds;
    # ca-certificates needs /bin/sh: upgrading, apk takes its best provider, busybox-binsh,
    # over 3.16's busybox, and busybox-binsh needs busybox 1.35.0-r29 (as apk-tools 2.12.10
    # does, tests/managers/test_apk_oracle.py).
    assert set(upgraded) - set(plain) == {"musl", "zlib", "busybox", "busybox-binsh"}
    assert upgraded["musl"] == "1.2.3-r5" and upgraded["zlib"] == "1.2.13-r0"
    # A word whose installed build is the newest (libc-utils 0.7.2-r3) is kept, and the older
    # builds down its dependencies are still upgraded.
    assert closure(PackageArg("libc-utils", None, 0, 0, upgrade=True)) == (
        {"musl-utils": "1.2.3-r5", "scanelf": "1.3.5-r1", "musl": "1.2.3-r5"},
        [("libc-utils", f"{apk.KEPT}0.7.2-r3")],
    )


@pytest.mark.parametrize(
    ("run", "upgrade"),
    [
        ("apk add --upgrade curl", True),
        ("apk add -u curl", True),
        ("apk add -Uu curl", True),
        ("apk -u add curl", True),
        ("apk add --no-cache --latest curl", True),
        ("apk add -U curl", False),
        ("apk add -ut .deps curl", True),
        ("apk add -tu curl", False),
    ],
)
def test_add_upgrade_marks_the_words(run: str, upgrade: bool) -> None:
    (invocation,) = run_invocations(run)
    install = apk.read_install(invocation)
    assert install is not None
    assert [p.upgrade for p in install.packages] == [upgrade]


@pytest.mark.parametrize(
    ("run", "note"),
    [
        ("apk fix", None),
        ("apk fix --no-cache", None),
        (
            "apk fix busybox",
            "apk fix busybox: the reinstalled or upgraded versions are not recorded",
        ),
        ("apk fix -u", "apk fix --upgrade: the reinstalled or upgraded versions are not recorded"),
    ],
)
def test_apk_fix_says_what_it_does_not_record(run: str, note: str | None) -> None:
    (invocation,) = run_invocations(run)
    found = apk.read_install(invocation)
    assert (found.notes if found is not None else None) == ((note,) if note else None)
    assert found is None or found.packages == ()


def test_del_rdepends_takes_what_depends_on_the_names_too() -> None:
    (plain,) = run_invocations("apk del libssl1.1")
    (cascade,) = run_invocations("apk del -r libssl1.1")
    assert apk.read_removal(plain) == managers.Removal(("libssl1.1",))
    assert apk.read_removal(cascade) == managers.Removal(("libssl1.1",), cascade=True)
    every = {e.name for e in INSTALLED_316}

    def gone(rdepends: tuple[str, ...]) -> set[str]:
        left = apk.after_removal(INSTALLED_316, ["libssl1.1"], WORLD_316, rdepends)
        return every - set(left)

    # apk-tools needs libssl1.1: a plain del keeps it ("not removed due to").
    assert gone(()) == set()
    # -r takes apk-tools and ssl_client (they need libssl.so.1.1), and with apk-tools out of
    # the world, what only it needed.
    assert gone(("libssl1.1",)) == {
        "libssl1.1",
        "apk-tools",
        "ssl_client",
        "libcrypto1.1",
        "zlib",
        "ca-certificates-bundle",
    }


def _entry(name: str, depends: str = "", provides: str = "") -> apk.Entry:
    return apk.Entry(
        name, "1.0-r0", "aarch64", "", tuple(depends.split()), tuple(provides.split()), (), 0
    )


def test_needs_are_what_del_r_walks_back_from_a_name() -> None:
    """apk-tools' del -r (app_del.c delete_pkg) takes each installed package with a dependency
    the removed one meets, by name or by what it provides, then those that depend on these:
    a package goes exactly when the removed name is among its needs."""
    entries = [
        _entry("musl", provides="so:libc.musl-aarch64.so.1=1"),
        _entry("libfoo", "so:libc.musl-aarch64.so.1", "so:libfoo.so.1=1"),
        _entry("app", "so:libfoo.so.1 /bin/sh"),
        _entry("tool", "app>=1.0"),
        _entry("other", "musl !app"),
    ]
    every = [e.name for e in entries]
    needs = apk.needs(entries, [*every, "so:libfoo.so.1", "absent"])
    assert needs["tool"] == {
        "tool",
        "app",
        "libfoo",
        "so:libfoo.so.1",
        "musl",
        "so:libc.musl-aarch64.so.1",
    }
    # A conflict (!app) is no dependency; a word no package meets is unknown.
    assert needs["other"] == {"other", "musl", "so:libc.musl-aarch64.so.1"}
    assert needs["so:libfoo.so.1"] == needs["libfoo"]
    assert "absent" not in needs
    for name in every:
        walked = set(every) - set(apk.after_removal(entries, [name], None, [name]))
        assert walked == {n for n in every if name in needs[n]}, name
    # On the real 3.16 database too, for every installed package.
    names = [e.name for e in INSTALLED_316]
    real = apk.needs(INSTALLED_316, names)
    for name in names:
        # The name itself stays where install_if keeps it (ssl_client): the walk is the rest.
        walked = set(names) - set(apk.after_removal(INSTALLED_316, [name], None, [name]))
        assert walked - {name} == {n for n in names if name in real[n]} - {name}, name
    assert sum(len(v) for v in real.values()) > 2 * len(names)


def test_conflicts_are_what_apk_refuses() -> None:
    # apk-tools 2.12.10 refuses byacc with bison (byacc depends on !bison, both provide cmd:yacc
    # with a version); names provided without a version (/bin/sh) are shared freely.
    byacc = _entry("byacc", "!bison", "cmd:yacc=2022")
    bison = _entry("bison", provides="cmd:yacc=3.8.2-r0")
    assert apk.conflict(byacc, bison) == "byacc depends on !bison"
    assert apk.conflict(bison, byacc) == "byacc depends on !bison"
    assert (
        apk.conflict(
            _entry("a", provides="cmd:x=1"), bison._replace(name="b", provides=("cmd:x=2",))
        )
        == "both provide cmd:x"
    )
    assert apk.conflict(_entry("a", provides="/bin/sh"), _entry("b", provides="/bin/sh")) is None
    # A versioned !name excludes only the versions it names.
    assert apk.conflict(_entry("a", "!b<1.0"), _entry("b")) is None
    assert apk.conflict(_entry("a", "!b<=1.0-r0"), _entry("b")) == "a depends on !b<=1.0-r0"
    assert (
        apk.conflict(_entry("a", "!cmd:b"), _entry("b", provides="cmd:b")) == "a depends on !cmd:b"
    )


def test_a_conflict_with_an_installed_package_upgrades_it_or_is_said() -> None:
    # openrc provides cmd:mkmntdirs=..., as Alpine 3.16's alpine-baselayout does: apk installs
    # v3.17's alpine-baselayout, which no longer provides it, with openrc.
    old = _entry("layout", provides="cmd:mkmntdirs=1.0-r0")
    newer = old._replace(version="2.0-r0", provides=())
    rc = _entry("rc", provides="cmd:mkmntdirs=0.45")
    installed = {"layout": "1.0-r0", "cmd:mkmntdirs": "1.0-r0"}
    word = [PackageArg("rc", None, 0, 0)]
    found, missing, notes = apk.closure(apk.Universe([newer, rc]), installed, word, [old])
    assert {(e.name, e.version) for e in found} == {("rc", "1.0-r0"), ("layout", "2.0-r0")}
    assert (missing, notes) == ([], [])
    # No build without the name: nothing replaced, and said.
    found, missing, notes = apk.closure(apk.Universe([old, rc]), installed, word, [old])
    assert [e.name for e in found] == ["rc"] and missing == []
    assert notes == ["rc conflicts with the installed layout: both provide cmd:mkmntdirs"]


def test_words_that_conflict_are_refused(universe: apk.Universe) -> None:
    words = [PackageArg("byacc", None, 0, 0), PackageArg("bison", None, 0, 0)]
    _, missing, _ = apk.closure(universe, {}, words)
    assert [name for name, _ in missing] in (["byacc"], ["bison"])
    assert "!bison" in missing[0][1]


@pytest.mark.parametrize("data", hostile_tars("APKINDEX").values(), ids=list(hostile_tars("")))
def test_an_index_whose_pax_headers_do_not_parse_is_one_mirror_error(data: bytes) -> None:
    # tarfile raises ValueError on these, not TarError; an empty APKINDEX is no error here.
    try:
        apk.index_text(gzip.compress(data), "x")
    except MirrorError as error:
        assert str(error).startswith("x: the index is not a tar archive (")


@pytest.mark.parametrize("priority", ["9" * 5000, "\u00b2"], ids=["5000-digits", "superscript-two"])
def test_a_provider_priority_int_cannot_read_counts_as_none(priority: str) -> None:
    # str.isdigit takes both; int() refuses both.
    (entry,) = apk.parse_index(record("a", "1.0-r0") + f"k:{priority}\n", "x")
    assert entry.priority == 0
