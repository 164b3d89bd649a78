"""`pinner lock`, `update` and `check --remote` on apk stages: a real registry holding an
Alpine-like image with Alpine's own files, and a local mirror serving recorded and signed indexes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alpine_support import (
    REAL_INDEX,
    REAL_KEY,
    ROOTFS,
    index_archive,
    make_key,
    push_alpine_index,
    record,
    rootfs_files,
    sign,
)
from cli import run
from handmade import Entry, HandImage, layer_tar, push
from registryd import Registry, push_image
from shell_syntax import run_errors
from stand_in import Mirror, files_image, pinner_at

from pinner import lockfile

REAL = "https://dl-cdn.alpinelinux.org/alpine/v3.17/main\n"
DOCKERFILE = """\
FROM alpine:3.16
RUN apk add --no-cache curl
RUN set -eux; \\
    apk add --no-cache --virtual .build-deps gcc bash; \\
    apk del --no-network .build-deps
RUN apk add git
"""

# Dozens of runs over the same recorded index: each is read once (see the fixture).
pytestmark = pytest.mark.usefixtures("each_index_read_once")


@pytest.fixture(scope="module")
def mirror() -> Iterator[Mirror]:
    with Mirror({"/v3.17/main/aarch64/APKINDEX.tar.gz": REAL_INDEX.read_bytes()}) as m:
        yield m


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    push(files_image(rootfs_files(REAL), "arm64"), registry, "library/alpine", "3.16")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _pinner(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, *args: str
) -> tuple[int, str, str]:
    """`pinner COMMAND ...` with hub as docker.io and mirror as Alpine's, for linux/arm64."""
    return pinner_at(capsys, hub, f"alpine={mirror.url}", "linux/arm64", *args)


def _lock(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, *args: str
) -> tuple[int, str, str]:
    return _pinner(capsys, hub, mirror, "lock", *args)


def test_lock_records_the_closure_from_the_real_signed_index(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE)
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    (stage,) = lock.stages
    assert stage.package_manager == "apk"
    assert stage.distro == "alpine"
    assert stage.release == "3.16.2"
    assert stage.signature == "verified"
    assert "pinned, not rebuildable once the branch moves on" in stage.notes
    versions = {p.name: p.version for p in stage.packages}
    # curl's closure minus what the 3.16 base holds (zlib, musl, ca-certificates-bundle).
    assert versions["curl"] == "8.1.1-r1"
    assert versions["libcurl"] == "8.1.1-r1"
    assert versions["git"] == "2.38.5-r0"
    assert versions["bash"] == "5.2.15-r0"
    assert "zlib" not in versions and "musl" not in versions
    curl = next(p for p in stage.packages if p.name == "curl")
    assert curl.checksum == "Q15PbnQa1gDcsHbkMOWDlD8LEJ5ys="
    assert curl.filename == "v3.17/main/aarch64/curl-8.1.1-r1.apk"
    assert curl.architecture == "aarch64"
    text = (env / "Dockerfile").read_text()
    # Without --pin-versions no version is written; the cache cleanup only where apk keeps one.
    assert "curl=" not in text
    assert "RUN apk add git \\\n    && rm -rf /var/cache/apk/*\n" in text
    assert text.count("rm -rf /var/cache/apk/*") == 1
    assert run_errors(text) == []
    assert mirror.log.count("/v3.17/main/aarch64/APKINDEX.tar.gz") >= 1


def test_check_reports_a_word_added_or_dropped_since_the_lock(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    code, _, err = _lock(capsys, hub, mirror, str(dockerfile))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert stage.words == ("bash", "curl", "gcc", "git")
    assert run(capsys, "check", str(dockerfile))[0] == 0
    locked = dockerfile.read_text()
    lines = locked.split("\n")
    first = next(i for i, line in enumerate(lines, 1) if line.startswith("RUN apk"))
    for text, change in [
        (locked.replace("apk add git", "apk add git jq"), "new: jq; gone: none"),
        (locked.replace("apk add git", "apk add jq"), "new: jq; gone: git"),
        (locked.replace(" gcc bash;", " gcc;"), "new: none; gone: bash"),
    ]:
        dockerfile.write_text(text)
        code, out, _ = run(capsys, "check", str(dockerfile))
        assert code == 1
        assert (
            f"{dockerfile}:{first}: stage 0: packages differ from the lock ({change});"
            f" run pinner lock {dockerfile}"
        ) in out.splitlines()
    # A lock made before words were recorded is not compared.
    lock_text = (env / "Dockerfile.lock").read_text()
    assert 'words = [\n    "bash",' in lock_text
    (env / "Dockerfile.lock").write_text(re.sub(r"words = \[[^]]*\]\n", "", lock_text))
    assert run(capsys, "check", str(dockerfile))[0] == 0
    # A lock run over the changed file records the new word.
    code, _, err = _lock(capsys, hub, mirror, str(dockerfile))
    assert code == 0, err
    assert run(capsys, "check", str(dockerfile))[0] == 0


def test_pin_versions_writes_pins_into_package_words_only(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    text = (env / "Dockerfile").read_text()
    assert "RUN apk add --no-cache curl=8.1.1-r1\n" in text
    assert (
        "apk add --no-cache --virtual .build-deps gcc=12.2.1_git20220924-r4 bash=5.2.15-r0;" in text
    )
    assert "apk del --no-network .build-deps\n" in text
    assert "RUN apk add git=2.38.5-r0 \\\n    && rm -rf /var/cache/apk/*\n" in text
    assert run_errors(text) == []
    # A second lock changes nothing: the pins are the versions the branch serves.
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    assert (env / "Dockerfile").read_text() == text
    assert (env / "Dockerfile.lock").read_text() == before


# The forms of real Dockerfiles: misskey's `ENV BUILD_DEPS a b c` (the older ENV form) in a
# stage the installing stage is FROM; direwolf's ENV with several names, installed and removed;
# an ARG's default (noted: a --build-arg changes it); unbound's list set in the RUN and removed
# with `apk del` (not pinned in place); cgitize's lists set in the RUN and only installed.
VARIABLES = """\
FROM alpine:3.16 AS base
ENV BUILD_DEPS gcc bash

FROM base AS builder
ENV DIREWOLF_BRANCH=master \\
    RUNTIME_DEPS="git"
ARG EXTRA_PKGS="curl"
RUN apk add --no-cache $BUILD_DEPS $RUNTIME_DEPS && apk del $BUILD_DEPS
RUN apk add --no-cache ${EXTRA_PKGS}
RUN build_deps="gcc" && \\
    apk add --no-cache $build_deps && \\
    apk del $build_deps
RUN runtime_deps='bash curl' && apk add $runtime_deps
RUN tools=git sh -c 'apk add --no-cache $tools'
"""


def test_lists_in_env_arg_and_the_run_are_recorded_and_pinned_only_in_the_run(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(VARIABLES)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    (stage,) = [s for s in lock.stages if s.stage == "builder"]
    versions = {p.name: p.version for p in stage.packages}
    assert {"gcc", "bash", "git", "curl"} <= versions.keys()
    assert "uses a variable" not in err
    text = (env / "Dockerfile").read_text()
    assert "RUN runtime_deps='bash=5.2.15-r0 curl=8.1.1-r1' && apk add $runtime_deps \\\n" in text
    assert 'RUN build_deps="gcc" && \\\n' in text
    assert "RUN tools=git=2.38.5-r0 sh -c 'apk add --no-cache $tools'\n" in text
    assert "RUN apk add --no-cache $BUILD_DEPS $RUNTIME_DEPS && apk del $BUILD_DEPS\n" in text
    assert run_errors(text) == []
    for note in (
        "RUN at line 8: $BUILD_DEPS (its value is set outside this RUN) names gcc, bash; their"
        " versions are recorded in the lock, not written",
        "RUN at line 8: $RUNTIME_DEPS (its value is set outside this RUN) names git;",
        "RUN at line 9: $EXTRA_PKGS (its value is set outside this RUN) names curl;",
        "RUN at line 10: $build_deps (which `apk del` also reads) names gcc;",
        "packages named by ARG EXTRA_PKGS are recorded for its value here (curl); a build with"
        " another --build-arg EXTRA_PKGS installs others",
    ):
        assert note in err
    code, _, err = run(capsys, "check", str(env / "Dockerfile"))
    assert code == 0, err


# docker-library/php's Dockerfile-linux.template sets PHPIZE_DEPS in the php image's own ENV, and
# child images install it (the php image's docs: `apk add --no-cache --virtual .build-deps
# $PHPIZE_DEPS ...` then `apk del`). Here the image config's Env holds the alpine variant's list,
# a value with an escape sequence and an entry that is no NAME=value.
PHP_ENV = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PHPIZE_DEPS=autoconf dpkg-dev dpkg file g++ gcc libc-dev make pkgconf re2c",
    "PHP_INI_DIR=/usr/local/etc/php",
    "HOSTILE=curl\x1b[2J",
    "not an entry",
]
PHP_CHILD = """\
FROM php:8.3-fpm-alpine AS base
RUN apk add --no-cache --virtual .build-deps $PHPIZE_DEPS linux-headers \\
    && apk del --no-network .build-deps

FROM base
ENV PHPIZE_DEPS=make
RUN apk add --no-cache $PHPIZE_DEPS $HOSTILE
"""


@pytest.fixture(scope="module")
def php(registry: Registry, hub: str) -> str:
    image = files_image(rootfs_files(REAL), "arm64")
    image.env = PHP_ENV
    push(image, registry, "library/php", "8.3-fpm-alpine")
    broken = files_image(rootfs_files(REAL), "arm64")
    broken.extra = {"config": {"Env": "PHPIZE_DEPS=make"}}
    push(broken, registry, "library/php", "broken")
    return hub


def test_a_list_in_the_base_images_env_is_recorded_and_checked(
    capsys: pytest.CaptureFixture[str], php: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(PHP_CHILD)
    code, _, err = _lock(capsys, php, mirror, "--pin-versions", str(dockerfile))
    assert code == 0, err
    base, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert base.words == tuple(
        sorted(
            [
                "autoconf",
                "dpkg-dev",
                "dpkg",
                "file",
                "g++",
                "gcc",
                "libc-dev",
                "make",
                "pkgconf",
                "re2c",
                "linux-headers",
            ]
        )
    )
    assert {"autoconf", "re2c", "g++", "linux-headers"} <= {p.name for p in base.packages}
    assert base.base_env == (
        "PHPIZE_DEPS=autoconf dpkg-dev dpkg file g++ gcc libc-dev make pkgconf re2c",
    )
    # The stage's own ENV wins over the image's; a value with a control character is unknown.
    assert child.words == ("make",)
    assert child.base_env == ()
    assert "Dockerfile:7: package word uses a variable ($HOSTILE); it is not recorded" in err
    assert "\x1b" not in err
    assert (
        "$PHPIZE_DEPS (its value is set outside this RUN) names autoconf, dpkg-dev, dpkg, file,"
        " g++, gcc, libc-dev, make, pkgconf, re2c; their versions are recorded in the lock"
    ) in err
    text = dockerfile.read_text()
    assert "RUN apk add --no-cache --virtual .build-deps $PHPIZE_DEPS linux-headers=" in text
    assert run_errors(text) == []
    # check reads the recorded ENV, so the words agree without asking the registry.
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err
    before = (env / "Dockerfile.lock").read_text()
    assert '"PHPIZE_DEPS=autoconf dpkg-dev dpkg file g++ gcc libc-dev make pkgconf re2c"' in before
    code, _, err = _lock(capsys, php, mirror, "--pin-versions", str(dockerfile))
    assert code == 0, err
    assert (dockerfile.read_text(), (env / "Dockerfile.lock").read_text()) == (text, before)


PHP_DERIVED = """\
FROM php:8.3-fpm-alpine AS base
ARG DEPS="$PHPIZE_DEPS linux-headers"
ENV KEPT="$PHPIZE_DEPS linux-headers"
ENV PHPIZE_DEPS=git
RUN apk add --no-cache --virtual .build-deps $DEPS \\
    && apk add --no-cache $PHPIZE_DEPS

FROM base
ENV MORE="$KEPT curl"
RUN apk add --no-cache $MORE
"""


def test_an_env_made_of_the_base_images_env_is_expanded_from_it(
    capsys: pytest.CaptureFixture[str], php: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(PHP_DERIVED)
    code, _, err = _lock(capsys, php, mirror, str(dockerfile))
    assert code == 0, err
    base, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    php_deps = "autoconf dpkg-dev dpkg file g++ gcc libc-dev make pkgconf re2c"
    # The ARG's default and KEPT are expanded where they are set, from the image's PHPIZE_DEPS
    # (BuildKit's dispatchArg expands a default with the stage's environment), before the
    # stage's own ENV PHPIZE_DEPS=git, which the second command reads.
    assert base.words == tuple(sorted([*php_deps.split(), "linux-headers", "git"]))
    assert child.words == tuple(sorted([*php_deps.split(), "linux-headers", "curl"]))
    assert base.base_env == child.base_env == (f"PHPIZE_DEPS={php_deps}",)
    assert "uses a variable" not in err
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _lock(capsys, php, mirror, str(dockerfile))
    assert code == 0, err
    assert (env / "Dockerfile.lock").read_text() == before


def test_a_stage_from_a_stage_that_only_sets_the_env_reads_it_as_made_there(
    capsys: pytest.CaptureFixture[str], php: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        'FROM php:8.3-fpm-alpine AS base\nENV DEPS="$PHPIZE_DEPS linux-headers"\n'
        "FROM base\nRUN apk add --no-cache $DEPS\n"
    )
    code, _, err = _lock(capsys, php, mirror, str(dockerfile))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    php_deps = "autoconf dpkg-dev dpkg file g++ gcc libc-dev make pkgconf re2c"
    assert stage.words == tuple(sorted([*php_deps.split(), "linux-headers"]))
    assert stage.base_env == (f"PHPIZE_DEPS={php_deps}",)
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err


# meiskam's dashd Dockerfile's `rm -rf /var/cache/{apk,tcpdump}/*`, on a base image built
# elsewhere with `SHELL ["/bin/bash", "-c"]`, which its config's Shell carries on.
@pytest.mark.parametrize(
    ("shell", "appended", "recorded"),
    [
        (["/bin/bash", "-c"], False, "bash"),
        (["/bin/sh", "-c"], True, "sh"),
        (["/bin/ba\x1bsh", "-c"], True, None),
        ("/bin/bash -c", True, None),
        (None, True, None),
    ],
)
def test_the_base_images_shell_decides_its_braces(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    php: str,
    mirror: Mirror,
    env: Path,
    shell: object,
    appended: bool,
    recorded: str | None,
) -> None:
    image = files_image(rootfs_files(REAL), "arm64")
    image.extra = {"config": {"Env": ["PATH=/usr/bin:/bin"], "Shell": shell}}
    push(image, registry, "library/php", "shell")
    dockerfile = env / "Dockerfile"
    run_line = "RUN apk add curl && rm -rf /var/cache/{apk,tcpdump}/*\n"
    dockerfile.write_text(f"FROM php:shell\n{run_line}")
    code, _, err = _lock(capsys, php, mirror, str(dockerfile))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert stage.base_shell == recorded
    text = dockerfile.read_text()
    assert (f"{run_line[:-1]} \\\n    && rm -rf /var/cache/apk/*\n" in text) is appended
    assert (run_line in text) is not appended
    assert "\x1b" not in err + (env / "Dockerfile.lock").read_text()
    assert run_errors(text) == []
    # check reads the recorded Shell: the cleanup agrees without asking the registry.
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err


def test_update_reads_the_env_of_the_image_the_tag_moved_to(
    capsys: pytest.CaptureFixture[str], registry: Registry, php: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM php:moving\nRUN apk add --no-cache $PHPIZE_DEPS\n")
    image = files_image(rootfs_files(REAL), "arm64")
    image.env = ["PHPIZE_DEPS=autoconf make"]
    push(image, registry, "library/php", "moving")
    code, _, err = _lock(capsys, php, mirror, str(dockerfile))
    assert code == 0, err
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _pinner(capsys, php, mirror, "update", str(dockerfile))
    assert code == 0, err
    assert (env / "Dockerfile.lock").read_text() == before
    image.env = ["PHPIZE_DEPS=autoconf re2c"]
    push(image, registry, "library/php", "moving")
    code, _, err = _pinner(capsys, php, mirror, "update", str(dockerfile))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert (stage.base_env, stage.words) == (("PHPIZE_DEPS=autoconf re2c",), ("autoconf", "re2c"))
    assert "re2c" in {p.name for p in stage.packages}
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err


def test_a_base_image_whose_env_is_not_a_list_is_one_line(
    capsys: pytest.CaptureFixture[str], php: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM php:broken\nRUN apk add --no-cache $PHPIZE_DEPS\n")
    code, _, err = _lock(capsys, php, mirror, str(dockerfile))
    assert code == 1
    lines = [line for line in err.splitlines() if "Env" in line]
    assert len(lines) == 1, err
    assert lines[0].endswith(": config: Env: not a list of strings"), err
    assert not (env / "Dockerfile.lock").exists()


MULTISTAGE = """\
FROM alpine:3.16 AS base
RUN apk add --no-cache curl

FROM base AS tools
COPY . /src

FROM tools AS build
RUN apk add --no-cache git curl
"""


def test_a_stage_from_a_stage_sets_aside_what_the_parent_installed(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE.split("\n")[0] + "\nRUN apk add curl git\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (one,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    (env / "Dockerfile").write_text(MULTISTAGE)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    before = (env / "Dockerfile.lock").read_text()
    base, build = lockfile.parse(before, "lock").stages
    assert (base.stage, build.stage) == ("base", "build")
    # build is FROM tools FROM base: curl's closure is installed already; git's own part and
    # the curl word (with base's record, the version it builds on) are build's.
    assert {p.name for p in base.packages} & {p.name for p in build.packages} == {"curl"}
    assert {p.name for p in build.packages} - {"curl"} == {p.name for p in one.packages} - {
        p.name for p in base.packages
    }
    assert set(base.packages) | set(build.packages) == set(one.packages)
    assert "libcurl" not in {p.name for p in build.packages}
    text = (env / "Dockerfile").read_text()
    assert "RUN apk add --no-cache git=2.38.5-r0 curl=8.1.1-r1\n" in text
    assert_settled(capsys, hub, mirror, env, before)


# The 3.16 base holds ssl_client 1.35.0-r17 (for libssl1.1), which nothing else needs, and zlib,
# which apk-tools needs: `apk del zlib` leaves it ("not removed due to: apk-tools").
REMOVED_UPSTREAM = """\
FROM alpine:3.16 AS base
RUN apk del alpine-keys zlib

FROM base AS build
RUN apk add --no-cache --virtual .build-deps gcc bash \\
    && apk del .build-deps

FROM build
RUN apk add --no-cache alpine-keys zlib gcc
"""


def test_what_a_parent_stage_removed_is_resolved_again(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE.split("\n")[0] + "\nRUN apk add gcc alpine-keys\n")
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (alone,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # In one stage, alpine-keys is the base image's: apk keeps it.
    assert "alpine-keys" not in {p.name for p in alone.packages}
    (env / "Dockerfile").write_text(REMOVED_UPSTREAM)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    before = (env / "Dockerfile.lock").read_text()
    build, last = lockfile.parse(before, "lock").stages[1:]
    assert {p.name for p in build.packages} >= {"gcc", "bash", "binutils"}
    # alpine-keys is gone from the image (nothing needs it): the branch's; gcc went with
    # .build-deps, so its whole closure is installed again, as when installed alone. zlib,
    # which apk-tools needs, stayed.
    versions = {p.name: p.version for p in last.packages}
    assert versions["alpine-keys"] == "2.4-r1"
    assert set(versions) - {"alpine-keys"} == {p.name for p in alone.packages}
    assert [u.name for u in last.unpinned] == ["zlib"]
    text = (env / "Dockerfile").read_text()
    assert "RUN apk add --no-cache alpine-keys=2.4-r1 zlib gcc=12.2.1_git20220924-r4\n" in text
    assert_settled(capsys, hub, mirror, env, before)


def test_a_removal_in_the_same_stage_counts_for_the_installs_after_it(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16\nRUN apk add --no-cache curl\nRUN apk del alpine-keys\n"
        "RUN apk add --no-cache alpine-keys\n"
    )
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert {"curl", "alpine-keys"} <= {p.name for p in stage.packages}
    assert stage.unpinned == ()


def test_what_a_removal_leaves_unneeded_in_the_base_image_goes_too(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path, registry: Registry
) -> None:
    # The minirootfs' world (aports scripts/mkimg.minirootfs.sh), as apk writes it: sorted.
    world = "alpine-baselayout\nalpine-keys\napk-tools\nbusybox\nlibc-utils\n"
    push(files_image(rootfs_files(REAL, world=world), "arm64"), registry, "library/alpine", "3.16w")
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16w\nRUN apk del libc-utils && apk add --no-cache lddtree musl-utils\n"
    )
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # libc-utils took musl-utils and scanelf with it: lddtree needs scanelf, fetched again, and
    # the word musl-utils, after the removal, installs v3.17's build (as apk-tools 2.12.10 does).
    assert {p.name: p.version for p in stage.packages} == {
        "lddtree": "1.26-r3",
        "musl-utils": "1.2.3-r5",
        "scanelf": "1.3.5-r1",
    }
    assert stage.unpinned == ()
    text = (env / "Dockerfile").read_text()
    assert "apk add --no-cache lddtree=1.26-r3 musl-utils=1.2.3-r5\n" in text
    assert run_errors(text) == []
    # Installed before the removal, musl-utils joins the world: apk keeps the base image's build.
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16w\nRUN apk add --no-cache musl-utils && apk del libc-utils"
        " && apk add --no-cache lddtree\n"
    )
    (env / "Dockerfile.lock").unlink()
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert {p.name: p.version for p in stage.packages} == {"lddtree": "1.26-r3"}
    assert [(u.name, u.reason) for u in stage.unpinned] == [
        ("musl-utils", "not pinned: already in the base image: 1.2.3-r0; apk keeps it")
    ]
    # lddtree, installed before the removal, needs scanelf: apk keeps the base image's build
    # ("not removed due to"), so the branch's scanelf is not recorded (apk-tools 2.12.10 alike).
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16w\nRUN apk add --no-cache lddtree && apk del libc-utils"
        " && apk add --no-cache bash\n"
    )
    (env / "Dockerfile.lock").unlink()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    names = {p.name for p in stage.packages}
    assert {"lddtree", "bash"} <= names and "scanelf" not in names
    assert stage.unpinned == ()
    assert run_errors((env / "Dockerfile").read_text()) == []
    # Installed after a removal took scanelf, lddtree fetched the branch's: a later removal
    # leaves that build, which is recorded (apk-tools 2.12.10 alike).
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16w\nRUN apk del libc-utils && apk add --no-cache lddtree"
        " && apk del ssl_client && apk add --no-cache bash\n"
    )
    (env / "Dockerfile.lock").unlink()
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert {"lddtree", "scanelf", "bash"} <= {p.name for p in stage.packages}
    # Installed between two removals, lddtree holds the base scanelf the first one left.
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16w\nRUN apk del ssl_client && apk add --no-cache lddtree"
        " && apk del libc-utils && apk add --no-cache bash\n"
    )
    (env / "Dockerfile.lock").unlink()
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    names = {p.name for p in stage.packages}
    assert {"lddtree", "bash"} <= names and "scanelf" not in names
    # apk del -r libssl1.1 takes apk-tools (which needs it), and with it zlib: curl needs zlib.
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16w\nRUN apk del -r libssl1.1 && apk add --no-cache curl\n"
    )
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert {"curl", "zlib"} <= {p.name for p in stage.packages}
    assert stage.notes == ("pinned, not rebuildable once the branch moves on",)


def _names(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path, run: str
) -> set[str]:
    """The packages one alpine:3.16 stage with this RUN records, locked afresh."""
    (env / "Dockerfile").write_text(f"FROM alpine:3.16\nRUN {run}\n")
    (env / "Dockerfile.lock").unlink(missing_ok=True)
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    return {p.name for p in stage.packages}


# apk-tools' del -r (app_del.c delete_pkg) takes each installed package with a dependency the
# removed one meets, in turn, out of the world; the solver then removes them with what only
# they needed. g++ depends on gcc: `apk del -r gcc` takes it (the pattern of Dockerfiles that
# build with `apk add gcc g++ ...` and then `apk del -r --purge gcc ...`). In the 3.16 image,
# lddtree needs scanelf, which musl-utils and libc-utils need too: `apk del -r scanelf` takes
# all four.
CASCADES = {
    "words-before": (
        "FROM alpine:3.16 AS build\n"
        "RUN apk add --no-cache g++ git \\\n    && apk del -r --purge --no-cache gcc\n\n"
        "FROM build\nRUN apk add --no-cache g++ curl\n",
        ("apk add --no-cache git g++ curl", "apk add --no-cache git"),
    ),
    "parents-words": (
        "FROM alpine:3.16 AS tools\nRUN apk add --no-cache lddtree\n\n"
        "FROM tools\nRUN apk del -r scanelf && apk add --no-cache bash\n",
        ("apk del libc-utils musl-utils scanelf && apk add --no-cache bash", None),
    ),
}


@pytest.mark.parametrize("case", CASCADES.values(), ids=CASCADES.keys())
def test_words_a_later_del_r_takes_are_not_counted_as_installed(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    mirror: Mirror,
    env: Path,
    case: tuple[str, tuple[str, str | None]],
) -> None:
    dockerfile, (alone, under) = case
    # What the last stage installs: its words on the image the removal left, as one stage
    # that installs them (after what stayed) has it.
    expected = _names(capsys, hub, mirror, env, alone)
    expected -= _names(capsys, hub, mirror, env, under) if under else set()
    (env / "Dockerfile").write_text(dockerfile)
    (env / "Dockerfile.lock").unlink()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    before = (env / "Dockerfile.lock").read_text()
    first, last = lockfile.parse(before, "lock").stages
    assert {p.name for p in last.packages} == expected
    # words-before: the build stage records what it installed, gcc's closure too; g++ and gcc
    # come again in the last. parents-words: scanelf went with lddtree; bash does not need it.
    assert {"gcc", "g++"} <= {p.name for p in last.packages} or "scanelf" not in expected
    assert not any("not followed" in n for s in (first, last) for n in s.notes)
    assert_settled(capsys, hub, mirror, env, before)


def test_words_a_del_r_takes_in_the_same_stage_are_resolved_on_the_image_before_it(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    # lddtree is installed with the base image's scanelf; `apk del -r scanelf` takes both (and
    # musl-utils, libc-utils), and bash needs none of them: the branch's scanelf is never
    # installed, so it is not recorded.
    expected = _names(capsys, hub, mirror, env, "apk add --no-cache lddtree")
    assert expected == {"lddtree"}
    expected |= _names(
        capsys, hub, mirror, env, "apk del libc-utils musl-utils scanelf && apk add --no-cache bash"
    )
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16\nRUN apk add --no-cache lddtree \\\n"
        "    && apk del -r scanelf \\\n    && apk add --no-cache bash\n"
    )
    (env / "Dockerfile.lock").unlink()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    before = (env / "Dockerfile.lock").read_text()
    (stage,) = lockfile.parse(before, "lock").stages
    assert {p.name for p in stage.packages} == expected
    text = (env / "Dockerfile").read_text()
    assert "RUN apk add --no-cache lddtree=1.26-r3 \\\n" in text
    assert_settled(capsys, hub, mirror, env, before)


def test_words_taken_by_a_later_del_r_are_resolved_on_the_image_they_were_installed_on(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    # The first `apk del -r` takes the base image's scanelf (with lddtree); pax-utils, installed
    # after it, fetches the branch's scanelf, which the second `apk del -r` takes with pax-utils:
    # the build fetched both scanelf builds' worth, so the branch's scanelf is recorded
    # (apk-tools 2.12.10: lddtree, then libcap2, pax-utils, scanelf 1.3.5-r1, then bash's).
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16\nRUN apk add --no-cache lddtree && apk del -r scanelf"
        " && apk add --no-cache pax-utils && apk del -r libcap2 && apk add --no-cache bash\n"
    )
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    before = (env / "Dockerfile.lock").read_text()
    (stage,) = lockfile.parse(before, "lock").stages
    assert {p.name: p.version for p in stage.packages} == {
        "bash": "5.2.15-r0",
        "lddtree": "1.26-r3",
        "libcap2": "2.66-r1",
        "ncurses-libs": "6.3_p20221119-r1",
        "ncurses-terminfo-base": "6.3_p20221119-r1",
        "pax-utils": "1.3.5-r1",
        "readline": "8.2.0-r0",
        "scanelf": "1.3.5-r1",
    }
    assert run_errors((env / "Dockerfile").read_text()) == []
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    assert (env / "Dockerfile.lock").read_text() == before


def test_a_word_of_the_stage_it_is_from_holds_what_it_needs_through_a_removal(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path, registry: Registry
) -> None:
    # The parent's lddtree is in apk's world: `apk del libc-utils` keeps the base image's
    # scanelf it needs, so the child records bash's packages alone.
    world = "alpine-baselayout\nalpine-keys\napk-tools\nbusybox\nlibc-utils\n"
    push(files_image(rootfs_files(REAL, world=world), "arm64"), registry, "library/alpine", "3.16w")
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16w AS tools\nRUN apk add --no-cache lddtree\n"
        "FROM tools\nRUN apk del libc-utils && apk add --no-cache bash\n"
    )
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    tools, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert {p.name for p in tools.packages} == {"lddtree"}
    assert {p.name for p in child.packages} == {
        "bash",
        "ncurses-libs",
        "ncurses-terminfo-base",
        "readline",
    }


def test_a_removal_that_moves_a_needed_name_to_another_provider_is_recorded(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    # Out of the world, busybox stays only for the /bin/sh alpine-baselayout needs, whose best
    # provider is busybox-binsh (with busybox's newer build); curl's libssl3 brings the newer
    # ssl_client (apk-tools 2.12.10: the same packages).
    (env / "Dockerfile").write_text("FROM alpine:3.16\nRUN apk del busybox && apk add curl\n")
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    versions = {p.name: p.version for p in stage.packages}
    assert {n: versions.get(n) for n in ("busybox", "busybox-binsh", "ssl_client", "curl")} == {
        "busybox": "1.35.0-r29",
        "busybox-binsh": "1.35.0-r29",
        "ssl_client": "1.35.0-r29",
        "curl": "8.1.1-r1",
    }
    assert run_errors((env / "Dockerfile").read_text()) == []


def test_a_del_r_over_words_whose_dependencies_are_unknown_is_noted(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    # g++ comes after the repositories change: not resolved, so what it depends on is unknown.
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16\nRUN echo https://example.org/x >> /etc/apk/repositories"
        " && apk add --no-cache g++ git && apk del -r gcc\n"
    )
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert (
        "apk removes what depends on gcc: not followed for g++, git, whose dependencies are not"
        " known; stages FROM this one may count them as installed"
    ) in stage.notes


# --------------------------------------------------------------------------- real RUN patterns
# Each case reproduces the apk RUNs of a real Dockerfile (named above it) with packages the
# recorded v3.17 index serves: (Dockerfile, lines the locked file must hold, unpinned words).
REAL_PATTERNS = {
    # docker-library/postgres 15/alpine3.21/Dockerfile: tab-indented `set -eux;` script, a
    # --virtual group removed with --no-network, words from a variable and a command substitution.
    "postgres-alpine": (
        "FROM alpine:3.16\n"
        "RUN set -eux; \\\n"
        "\t\\\n"
        "\tapk add --no-cache --virtual .gosu-deps \\\n"
        "\t\tca-certificates \\\n"
        "\t\tdpkg \\\n"
        "\t\tgnupg \\\n"
        "\t; \\\n"
        "\tapk del --no-network .gosu-deps; \\\n"
        "\trunDeps=\"$(echo so:libz.so.1)\"; \\\n"
        "\tapk add --no-cache --virtual .postgresql-rundeps \\\n"
        "\t\t$runDeps \\\n"
        "\t\tbash \\\n"
        "\t\t$([ \"$(apk --print-arch)\" != 'ppc64le' ] && echo 'tzdata') \\\n"
        "\t;\n",
        [
            "\t\tca-certificates=20230506-r0 \\\n\t\tdpkg=1.21.9-r0 \\\n\t\tgnupg=2.2.40-r0 \\\n",
            "\t\t$runDeps \\\n\t\tbash=5.2.15-r0 \\\n"
            "\t\t$([ \"$(apk --print-arch)\" != 'ppc64le' ] && echo 'tzdata') \\\n\t;\n",
        ],
        [],
    ),
    # nginxinc/docker-nginx mainline/alpine/Dockerfile: apk add inside `case`, a comment inside
    # the continued RUN, and nginx.org's repository appended to /etc/apk/repositories
    # (`| tee -a`) before `apk add`: what follows may come from it, so nothing is resolved.
    "nginx-alpine": (
        "FROM alpine:3.16\n"
        "RUN set -x \\\n"
        "    && apkArch=\"$(cat /etc/apk/arch)\" \\\n"
        "    && case \"$apkArch\" in \\\n"
        "        x86_64) \\\n"
        "            apk add --no-cache --virtual .cert-deps openssl curl \\\n"
        "            && printf \"%s\\n\" \"https://nginx.org/packages/mainline/alpine/v3.16/main\" \\\n"
        "            | tee -a /etc/apk/repositories \\\n"
        "            && apk del .cert-deps \\\n"
        "            ;; \\\n"
        "        *) \\\n"
        "            apk add --no-cache --virtual .build-deps gcc make \\\n"
        "            && apk del .build-deps \\\n"
        "            ;; \\\n"
        "    esac \\\n"
        "    && apk add --no-cache $nginxPackages \\\n"
        "# remove the last line with the packages repos in the repositories file\n"
        "    && sed -i '$ d' /etc/apk/repositories \\\n"
        "    && apk add --no-cache tzdata\n",
        [],
        # openssl and curl are added before tee changes the repositories; gcc and make come
        # after it in the text (another case branch: unpinned, the cautious reading).
        ["gcc", "make", "tzdata"],
    ),
    # After barbietunnie/docker-tiny-nginx's Dockerfile (whose line is tagged, see
    # test_a_tagged_word_is_locked_from_the_tagged_repository_a_run_appends): an untagged
    # repository appended in an earlier RUN, then `apk update && apk upgrade` and a word: the
    # upgrade is not recorded either.
    "appended-edge": (
        "FROM alpine:3.16\n"
        "RUN echo 'http://nl.alpinelinux.org/alpine/edge/testing' >> /etc/apk/repositories\n"
        "RUN apk update && apk upgrade \\\n"
        "  && apk add nginx bash \\\n"
        "  && rm -rf /var/cache/apk/*\n",
        ["  && apk add nginx bash \\\n"],
        ["bash", "nginx"],
    ),
    # huggla/alpine-official Dockerfile: `apk update && apk upgrade && apk add` with the cache
    # kept, and apk reading another repositories file for one command.
    "update-upgrade": (
        "FROM alpine:3.16\n"
        "RUN apk update \\\n"
        " && apk upgrade \\\n"
        " && apk add ca-certificates \\\n"
        " && echo \"http://dl-cdn.alpinelinux.org/alpine/edge/testing\" > /tmp/testing \\\n"
        " && apk --repositories-file /tmp/testing update \\\n"
        " && rm /tmp/testing\n",
        [" && apk add ca-certificates=20230506-r0 \\\n", " && rm /tmp/testing \\\n"
         " && rm -rf /var/cache/apk/*\n"],
        [],
    ),
    # alpine/git-style images (several found with the search index): a bare `apk fix` (nothing
    # to repair on a sound image) before `apk --no-cache --update add`.
    "fix-then-add": (
        "FROM alpine:3.16\n"
        "RUN apk fix && \\\n"
        "    apk --no-cache --update add git gpg less openssh patch && \\\n"
        "    git --version\n",
        ["    apk --no-cache --update add git=2.38.5-r0 gpg=2.2.40-r0 less=608-r1"
         " openssh=9.1_p1-r3 patch=2.7.6-r9 && \\\n"],
        [],
    ),
    # orangootan/git-docker-image Dockerfile: an exact pin, then --repository and --no-cache
    # after the word.
    "options-after-words": (
        "FROM alpine:3.16\n"
        "RUN apk add git=2.38.5-r0 \\\n"
        "    --repository https://dl-cdn.alpinelinux.org/alpine/v3.17/main \\\n"
        "    --no-cache\n",
        ["RUN apk add git=2.38.5-r0 \\\n    --repository"],
        [],
    ),
    # docker-library/docker 27/dind/Dockerfile: a `set -eux;` list ended by a lone `;`, and a
    # RUN going on after apk add with a `for` loop.
    "dind": (
        "FROM alpine:3.16\n"
        "RUN set -eux; \\\n"
        "\tapk add --no-cache \\\n"
        "\t\te2fsprogs \\\n"
        "\t\tgit \\\n"
        "\t\tpigz \\\n"
        "\t\txz \\\n"
        "\t;\n"
        "RUN set -eux; \\\n"
        "\tapk add --no-cache iptables; \\\n"
        "\tfor f in iptables iptables-save; do \\\n"
        "\t\tb=\"$(command -v \"$f\")\"; \\\n"
        "\t\t\"$b\" --version; \\\n"
        "\tdone\n",
        ["\t\tgit=2.38.5-r0 \\\n\t\tpigz=", "\tapk add --no-cache iptables="],
        [],
    ),
    # nodejs/docker-node 22/alpine3.21/Dockerfile: `apk add` in both branches of an `if`, two
    # --virtual groups, `apk --print-arch` in a substitution.
    "node-alpine": (
        "FROM alpine:3.16\n"
        "RUN apk add --no-cache \\\n"
        "        libstdc++ \\\n"
        "    && apk add --no-cache --virtual .build-deps \\\n"
        "        curl \\\n"
        "    && alpineArch=\"$(apk --print-arch)\" \\\n"
        "    && if [ -n \"${CHECKSUM}\" ]; then \\\n"
        "      echo \"$CHECKSUM  node.tar.xz\" | sha256sum -c; \\\n"
        "    else \\\n"
        "      echo \"Building from source\" \\\n"
        "      && apk add --no-cache --virtual .build-deps-full \\\n"
        "          binutils-gold \\\n"
        "          g++ \\\n"
        "          make \\\n"
        "      && apk del .build-deps-full; \\\n"
        "    fi \\\n"
        "    && apk del .build-deps\n",
        ["        curl=8.1.1-r1 \\\n", "          make=", "    && apk del .build-deps\n"],
        [],
    ),
    # goreleaser/goreleaser Dockerfile and others: local .apk files with --allow-untrusted, and
    # `apk --no-cache add` with the option before the verb.
    "untrusted-files": (
        "FROM alpine:3.16\n"
        "COPY goreleaser_*.apk /tmp/\n"
        "RUN apk add --no-cache --allow-untrusted /tmp/goreleaser_*.apk\n"
        "RUN apk --no-cache add ca-certificates\n",
        ["RUN apk add --no-cache --allow-untrusted /tmp/goreleaser_*.apk\n",
         "RUN apk --no-cache add ca-certificates=20230506-r0\n"],
        [],
    ),
    # A dotfiles image: build tools installed with the runtime words, a comment line inside the
    # continued RUN, and `apk del -r --purge` of the tools after pip; g++ (which depends on
    # gcc) goes with them, the runtime words stay; the pins are the versions installed.
    "del-r-purge": (
        "FROM alpine:3.16\n"
        "RUN apk add --no-cache \\\n"
        "  python3 \\\n"
        "  \\\n"
        "# python pkg compilation: \\\n"
        "  gcc \\\n"
        "  g++ \\\n"
        "  python3-dev \\\n"
        "  \\\n"
        "  && pip3 install --no-cache-dir awscli \\\n"
        "  && apk del -r --purge --no-cache \\\n"
        "  gcc \\\n"
        "  \\\n"
        "  && apk add --no-cache bash\n",
        ["  python3=3.10.11-r0 \\\n", "  g++=12.2.1_git20220924-r4 \\\n",
         "  && apk add --no-cache bash=5.2.15-r0\n"],
        [],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REAL_PATTERNS))
def test_real_run_patterns_lock_into_valid_shell(
    case: str, capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    text, expected, unpinned = REAL_PATTERNS[case]
    (env / "Dockerfile").write_text(text)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    new = (env / "Dockerfile").read_text()
    assert run_errors(new) == []
    for line in expected:
        assert line in new
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    (stage,) = lock.stages
    versions = {p.name: p.version for p in stage.packages}
    # A pin written is the version the lock records, which the index serves.
    for word in re.findall(r"\b([a-z0-9+_.-]+)=([0-9][^ \t\\\n;]*)", new):
        assert versions.get(word[0]) == word[1], word
    assert sorted(u.name for u in stage.unpinned if u.architecture is None) == unpinned
    code, out, err = run(capsys, "check", str(env / "Dockerfile"))
    assert code == 0, out + err
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    assert (env / "Dockerfile").read_text() == new
    assert (env / "Dockerfile.lock").read_text() == before


def test_apk_upgrade_records_the_newer_builds_and_a_repositories_change_unpins(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(REAL_PATTERNS["update-upgrade"][0])
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    versions = {p.name: p.version for p in stage.packages}
    # The 3.16 base's musl 1.2.3-r0 and busybox 1.35.0-r17 are upgraded to v3.17's builds;
    # libcrypto1.1, which v3.17 no longer serves, stays as it is.
    assert versions["musl"] == "1.2.3-r5"
    assert versions["busybox"] == "1.35.0-r29"
    assert versions["ca-certificates"] == "20230506-r0"
    assert "libcrypto1.1" not in versions
    (env / "Dockerfile").write_text(REAL_PATTERNS["appended-edge"][0])
    code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
    assert code == 0, err
    assert (
        "Dockerfile:3: apk upgrade: this RUN or an earlier one changes /etc/apk/repositories;"
        " the upgraded versions are not recorded" in err
    )
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert stage.packages == ()
    assert stage.unpinned == tuple(
        lockfile.UnpinnedPackage(
            name, "not pinned: this RUN or an earlier one changes /etc/apk/repositories"
        )
        for name in ("bash", "nginx")
    )


def test_add_upgrade_records_the_newer_builds_down_the_words_dependencies(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(
        "FROM alpine:3.16\nRUN apk add --no-cache zlib\nRUN apk add --no-cache -u zlib\n"
    )
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # The base's zlib 1.2.12-r3 and the musl it needs, at v3.17's builds; busybox as it is.
    assert {p.name: p.version for p in stage.packages} == {
        "musl": "1.2.3-r5",
        "zlib": "1.2.13-r0",
    }
    text = (env / "Dockerfile").read_text()
    assert "RUN apk add --no-cache -u zlib=1.2.13-r0\n" in text
    assert run_errors(text) == []


# Build contexts holding a repositories file, in a tree and at the top.
TREE = {
    "rootfs/etc/apk/repositories": "https://example.org/alpine/v3.17/main\n",
    "rootfs/etc/motd": "hello\n",
}
TOP = {"etc/apk/repositories": "https://example.org/alpine/v3.17/main\n", "etc/motd": "hello\n"}
IN_TREE = "copies a tree to / that may hold repository files (`COPY rootfs/ /`)"
WHOLE = "copies a tree to / that may hold repository files (`COPY . /`)"


@pytest.mark.parametrize(
    ("copy", "context", "why"),
    [
        ("COPY repositories /etc/apk/repositories", {}, "copies a file to /etc/apk/repositories"),
        (
            "COPY rootfs/ /",
            {"rootfs/etc/apk/repositories": "https://example.org/alpine/v3.17/main\n"},
            "copies a tree to / that may hold repository files (`COPY rootfs/ /`)",
        ),
        (
            "COPY repositories /etc/apk/",
            {"repositories": "https://example.org/alpine/v3.17/main\n"},
            "copies a tree to /etc/apk that may hold repository files"
            " (`COPY repositories /etc/apk/`)",
        ),
        # The build context shows the tree holds no repositories file: words stay pinned.
        ("COPY rootfs/ /", {"rootfs/etc/motd": "hello\n"}, None),
        ("COPY docker-entrypoint.sh /", {"docker-entrypoint.sh": "#!/bin/sh\n"}, None),
        # The ignore file leaves the tree's repositories file out of the build context.
        (
            "COPY rootfs/ /",
            {
                **TREE,
                ".dockerignore": "# for local runs only\n\n/rootfs/etc/apk/repositories\n",
            },
            None,
        ),
        # Everything left out but what the image needs, the repositories file among it or not.
        ("COPY . /", {**TOP, ".dockerignore": "*\n!etc/apk/repositories\n"}, WHOLE),
        ("COPY . /", {**TOP, ".dockerignore": "*\n!etc/motd\n"}, None),
        # A folder left out, one file in it taken back.
        ("COPY rootfs/ /", {**TREE, ".dockerignore": "rootfs/etc\n!rootfs/etc/motd\n"}, None),
        (
            "COPY rootfs/ /",
            {**TREE, ".dockerignore": "rootfs/etc\n!rootfs/etc/apk/repositories\n"},
            IN_TREE,
        ),
        # Dockerfile.dockerignore is read in place of .dockerignore, not with it.
        (
            "COPY rootfs/ /",
            {**TREE, ".dockerignore": "**/motd\n", "Dockerfile.dockerignore": "**/repositories\n"},
            None,
        ),
        (
            "COPY rootfs/ /",
            {**TREE, ".dockerignore": "**/repositories\n", "Dockerfile.dockerignore": "**/motd\n"},
            IN_TREE,
        ),
    ],
    ids=[
        "file",
        "tree",
        "into-dir",
        "tree-without",
        "entrypoint",
        "ignored",
        "allow-list-with",
        "allow-list-without",
        "folder-out-other-back",
        "folder-out-file-back",
        "dockerfile-specific-out",
        "dockerfile-specific-in",
    ],
)
def test_words_after_a_copy_that_may_put_the_repositories_in_place_are_not_pinned(
    copy: str,
    context: dict[str, str],
    why: str | None,
    capsys: pytest.CaptureFixture[str],
    hub: str,
    mirror: Mirror,
    env: Path,
) -> None:
    for name, text in context.items():
        (env / name).parent.mkdir(parents=True, exist_ok=True)
        (env / name).write_text(text)
    (env / "Dockerfile").write_text(
        f"FROM alpine:3.16\nRUN apk add --no-cache curl\n{copy}\nRUN apk add --no-cache bash\n"
    )
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    text = (env / "Dockerfile").read_text()
    # curl, before the COPY, is pinned; bash, after it, only where the COPY cannot change
    # the repositories.
    assert "RUN apk add --no-cache curl=8.1.1-r1\n" in text
    assert run_errors(text) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert "curl" in {p.name for p in stage.packages}
    if why is None:
        assert "RUN apk add --no-cache bash=5.2.15-r0\n" in text
        assert stage.unpinned == ()
    else:
        assert "RUN apk add --no-cache bash\n" in text
        assert "bash" not in {p.name for p in stage.packages}
        assert stage.unpinned == (
            lockfile.UnpinnedPackage("bash", f"not pinned: this RUN or an earlier one {why}"),
        )


# `docker build -f app/Dockerfile .`: the context is the repository's root, whose rootfs holds a
# repositories file; app/ holds the Dockerfile and a rootfs of its own without one.
SPLIT_CONTEXT = {
    ".git/HEAD": "ref: refs/heads/main\n",
    "rootfs/etc/apk/repositories": "https://example.org/alpine/v3.17/main\n",
    "app/rootfs/etc/motd": "hello\n",
}
COMPOSE_APP = "services:\n  app:\n    build:\n      context: .\n      dockerfile: app/Dockerfile\n"


@pytest.mark.parametrize(
    ("files", "flags", "pinned"),
    [
        # Nothing says otherwise: the Dockerfile's folder, whose rootfs holds no repositories.
        ({}, [], True),
        ({}, ["--context", "."], False),
        ({"compose.yaml": COMPOSE_APP}, [], False),
        ({"docker-bake.hcl": 'target "app" {\n  dockerfile = "app/Dockerfile"\n}\n'}, [], False),
        ({"pinner.toml": '[contexts]\n"app/Dockerfile" = "."\n'}, [], False),
        # The flag wins over the configuration and the compose file.
        ({"compose.yaml": COMPOSE_APP}, ["--context", "app"], True),
        ({"pinner.toml": '[contexts]\n"app/Dockerfile" = "."\n'}, ["--context", "app"], True),
        # The context's ignore files, podman's where docker has none, leave the file out.
        ({".dockerignore": "rootfs/etc/apk\n"}, ["--context", "."], True),
        ({".containerignore": "rootfs/etc/apk\n"}, ["--context", "."], True),
        ({"app/.dockerignore": "rootfs/etc/apk\n"}, ["--context", "."], False),
        # A compose file in a sibling folder (`docker compose -f deploy/compose.yaml`), and a
        # docker-bake.override.hcl moving the bake target's context to app/.
        (
            {"deploy/compose.yaml": COMPOSE_APP.replace("context: .", "context: ..")},
            [],
            False,
        ),
        (
            {
                "docker-bake.hcl": 'target "app" {\n  dockerfile = "app/Dockerfile"\n}\n',
                "docker-bake.override.hcl": (
                    'target "app" {\n  context = "app"\n  dockerfile = "Dockerfile"\n}\n'
                ),
            },
            [],
            True,
        ),
    ],
    ids=[
        "default",
        "flag",
        "compose",
        "bake",
        "config",
        "flag-over-compose",
        "flag-over-config",
        "context-dockerignore",
        "context-containerignore",
        "dockerfile-folder-dockerignore",
        "sibling-compose",
        "bake-override",
    ],
)
def test_the_build_context_is_where_the_copied_tree_is_read(
    files: dict[str, str],
    flags: list[str],
    pinned: bool,
    capsys: pytest.CaptureFixture[str],
    hub: str,
    mirror: Mirror,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, text in {**SPLIT_CONTEXT, **files}.items():
        (env / name).parent.mkdir(parents=True, exist_ok=True)
        (env / name).write_text(text)
    (env / "app/Dockerfile").write_text(
        "FROM alpine:3.16\nCOPY rootfs/ /\nRUN apk add --no-cache bash\n"
    )
    monkeypatch.chdir(env)  # where the configuration is found and relative paths start
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", *flags, "app/Dockerfile")
    assert code == 0, err
    # The build commands pinner suggests take the context given, else the Dockerfile's folder.
    folder = flags[1] if flags else "." if "pinner.toml" in files else "app"
    assert re.search(rf"^  buildah build -f app/Dockerfile --timestamp \d+ {folder}$", err, re.M)
    text = (env / "app/Dockerfile").read_text()
    (stage,) = lockfile.parse((env / "app/Dockerfile.lock").read_text(), "lock").stages
    if pinned:
        assert "RUN apk add --no-cache bash=5.2.15-r0\n" in text
        assert stage.unpinned == ()
    else:
        assert "RUN apk add --no-cache bash\n" in text
        why = "copies a tree to / that may hold repository files (`COPY rootfs/ /`)"
        assert stage.unpinned == (
            lockfile.UnpinnedPackage("bash", f"not pinned: this RUN or an earlier one {why}"),
        )


def test_the_lock_records_the_build_context_for_update_and_lock(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    mirror: Mirror,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, text in SPLIT_CONTEXT.items():
        (env / name).parent.mkdir(parents=True, exist_ok=True)
        (env / name).write_text(text)
    dockerfile = env / "app/Dockerfile"
    dockerfile.write_text("FROM alpine:3.16\nCOPY rootfs/ /\nRUN apk add --no-cache bash\n")
    monkeypatch.chdir(env)
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", "--context", ".", "app/Dockerfile")
    assert code == 0, err
    locked = (env / "app/Dockerfile.lock").read_text()
    # The lock records the context, from the Dockerfile's folder, as it records --build-arg.
    assert '\ncontext = ".."\n' in locked
    assert lockfile.parse(locked, "lock").context == ".."
    # update and a later lock read it again: nothing moved, nothing written.
    for command in ("update", "lock"):
        code, _, err = _pinner(capsys, hub, mirror, command, "--pin-versions", "app/Dockerfile")
        assert code == 0, err
        assert (env / "app/Dockerfile.lock").read_text() == locked
        assert "RUN apk add --no-cache bash\n" in dockerfile.read_text()
    # Another --context replaces it: the Dockerfile's folder, whose rootfs holds no
    # repositories file, so bash is pinned.
    flags = ("--pin-versions", "--context", "app", "app/Dockerfile")
    code, _, err = _pinner(capsys, hub, mirror, "update", *flags)
    assert code == 0, err
    assert "RUN apk add --no-cache bash=5.2.15-r0\n" in dockerfile.read_text()
    assert lockfile.parse((env / "app/Dockerfile.lock").read_text(), "lock").context == "."


@pytest.mark.parametrize(
    ("files", "flags", "message", "exit_code"),
    [
        ({}, ["--context", "nowhere"], "pinner: --context nowhere: not a folder", 2),
        (
            {"pinner.toml": '[contexts]\n"app/Dockerfile" = "nowhere"\n'},
            [],
            "pinner.toml: contexts.app/Dockerfile: nowhere: not a folder",
            1,
        ),
    ],
)
def test_a_context_that_is_not_a_folder_is_one_line(
    files: dict[str, str],
    flags: list[str],
    message: str,
    exit_code: int,
    capsys: pytest.CaptureFixture[str],
    hub: str,
    mirror: Mirror,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, text in {**SPLIT_CONTEXT, **files}.items():
        (env / name).parent.mkdir(parents=True, exist_ok=True)
        (env / name).write_text(text)
    (env / "app/Dockerfile").write_text("FROM alpine:3.16\nRUN apk add --no-cache bash\n")
    monkeypatch.chdir(env)
    code, _, err = _lock(capsys, hub, mirror, *flags, "app/Dockerfile")
    assert code == exit_code
    assert err.strip().endswith(message)
    assert len(err.strip().splitlines()) == 1
    assert not (env / "app/Dockerfile.lock").exists()


# --------------------------------------------------------------------------- a branch that moves
# Indexes signed here (tests/alpine_support.py): records as the real index has them for curl's
# closure, then the same branch a release later.

MUSL = "so:libc.musl-aarch64.so.1"


def _apkindex(curl: str) -> str:
    return "\n".join(
        [
            record("curl", curl, f"ca-certificates {MUSL} so:libcurl.so.4 so:libz.so.1"),
            record(
                "libcurl", curl, f"ca-certificates {MUSL} so:libz.so.1", "so:libcurl.so.4=4.8.0"
            ),
            record("ca-certificates", "20230506-r0", MUSL),
        ]
    )


@pytest.fixture(scope="module")
def test_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return make_key(tmp_path_factory.mktemp("key"))


@pytest.fixture(scope="module")
def signed_hub(registry: Registry, test_key: tuple[Path, str]) -> str:
    private, name = test_key
    keys = {name: private.with_name(name).read_bytes()}
    push(files_image(rootfs_files(REAL, keys=keys)), registry, "library/alpine", "3.16-signed")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _signed(test_key: tuple[Path, str], folder: Path, curl: str) -> bytes:
    private, name = test_key
    return sign(index_archive(_apkindex(curl)), private, name, folder)


INDEX_PATH = "/v3.17/main/aarch64/APKINDEX.tar.gz"
SIGNED_DOCKERFILE = "FROM alpine:3.16-signed\nRUN apk add --no-cache curl\n"


def test_update_moves_pins_the_branch_stopped_serving_and_check_remote_reports_them(
    capsys: pytest.CaptureFixture[str],
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(SIGNED_DOCKERFILE)
    registry = ("--registry-mirror", f"docker.io=http://{signed_hub}")
    with Mirror({INDEX_PATH: _signed(test_key, tmp_path, "8.1.1-r1")}) as mirror:
        pin = ("--pin-versions", str(dockerfile))
        code, _, err = _lock(capsys, signed_hub, mirror, *pin)
        assert code == 0, err
        assert "RUN apk add --no-cache curl=8.1.1-r1\n" in dockerfile.read_text()
        remote = ("check", "--remote", *registry, f"--snapshot-mirror=alpine={mirror.url}")
        assert run(capsys, *remote, str(dockerfile))[0] == 0

        # The branch moves on: the pinned build is gone from it.
        mirror.files[INDEX_PATH] = _signed(test_key, tmp_path, "8.1.2-r0")
        code, out, _ = run(capsys, *remote, str(dockerfile))
        assert code == 1
        assert out.splitlines() == [
            f"{env / 'Dockerfile.lock'}: stage 0: curl=8.1.1-r1 (aarch64): no longer served by"
            " v3.17 (it serves 8.1.2-r0); run pinner update",
            f"{env / 'Dockerfile.lock'}: stage 0: libcurl=8.1.1-r1 (aarch64): no longer served by"
            " v3.17 (it serves 8.1.2-r0); run pinner update",
        ]

        # A lock without update keeps what the lock says; update moves the pins.
        code, _, err = _lock(capsys, signed_hub, mirror, *pin)
        assert code == 0, err
        assert "curl=8.1.1-r1" in dockerfile.read_text()
        code, _, err = _pinner(capsys, signed_hub, mirror, "update", *pin)
        assert code == 0, err
        text = dockerfile.read_text()
        assert "RUN apk add --no-cache curl=8.1.2-r0\n" in text
        assert run_errors(text) == []
        lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
        assert {p.name: p.version for p in lock.stages[0].packages} == {
            "curl": "8.1.2-r0",
            "libcurl": "8.1.2-r0",
            "ca-certificates": "20230506-r0",
        }
        code, _, err = run(capsys, *remote, str(dockerfile))
        assert code == 0, err


def _tampered(data: bytes) -> bytes:
    # The last byte of the gzip trailer (ISIZE): the stream still inflates, the signature fails.
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        pytest.param(
            lambda key, other, folder: _tampered(_signed(key, folder, "8.1.1-r1")),
            "the signature by pinner-test@example.org-00000001.rsa.pub does not verify",
            id="tampered",
        ),
        pytest.param(
            lambda key, other, folder: _signed(other, folder, "8.1.1-r1"),
            "signed with someone-else@example.org-00000002.rsa.pub, not a key in the image's"
            " /etc/apk/keys",
            id="unknown-key",
        ),
        pytest.param(
            lambda key, other, folder: index_archive(_apkindex("8.1.1-r1")),
            "not signed (no .SIGN.RSA entry before the index)",
            id="no-signature",
        ),
    ],
)
def test_an_index_that_does_not_verify_is_one_line_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str],
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
    serve: Callable[[tuple[Path, str], tuple[Path, str], Path], bytes],
    message: str,
) -> None:
    other = make_key(tmp_path, "someone-else@example.org-00000002")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(SIGNED_DOCKERFILE)
    with Mirror({INDEX_PATH: serve(test_key, other, tmp_path)}) as mirror:
        code, _, err = _lock(capsys, signed_hub, mirror, str(dockerfile))
    assert code == 1
    assert err.splitlines() == [
        f"{dockerfile}: stage 0: https://dl-cdn.alpinelinux.org/alpine/v3.17/main (aarch64)"
        f" APKINDEX: {message}",
        "1 error(s); nothing written",
    ]
    assert dockerfile.read_text() == SIGNED_DOCKERFILE
    assert not (env / "Dockerfile.lock").exists()


def test_each_platform_reads_its_own_index_and_pins_only_what_all_agree_on(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    private, name = test_key
    keys = {name: private.with_name(name).read_bytes()}
    real = (ROOTFS / "etc/apk/keys" / REAL_KEY).read_bytes()
    arm = files_image(rootfs_files(REAL, keys={REAL_KEY: real}), "arm64")
    # The amd64 image trusts the test key; its x86_64 index is signed with it.
    amd = files_image(rootfs_files(REAL, keys=keys, arch="x86_64", installed=False), "amd64")
    push_alpine_index(
        registry, "library/alpine", "3.16-multi", {"linux/arm64": arm, "linux/amd64": amd}
    )
    push_image(registry, "docker/dockerfile", "1.23")
    x86 = "\n".join(
        [
            record("curl", "8.1.1-r1", "so:libcurl.so.4", arch="x86_64"),
            record("libcurl", "8.1.1-r2", "", "so:libcurl.so.4=4.8.0", arch="x86_64"),
            record("tzdata", "2023c-r1", arch="x86_64"),
        ]
    )
    files = {
        INDEX_PATH: REAL_INDEX.read_bytes(),
        "/v3.17/main/x86_64/APKINDEX.tar.gz": sign(index_archive(x86), private, name, tmp_path),
    }
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM alpine:3.16-multi\nRUN apk add --no-cache curl libcurl\n")
    with Mirror(files) as mirror:
        code, _, err = run(
            capsys,
            "lock",
            "--registry-mirror",
            f"docker.io=http://{registry.host}",
            "--snapshot-mirror",
            f"alpine={mirror.url}",
            "--platform",
            "linux/amd64",
            "--platform",
            "linux/arm64",
            "--pin-versions",
            str(dockerfile),
        )
    assert code == 0, err
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    got = {(p.name, p.architecture): p.version for p in lock.stages[0].packages}
    assert got[("curl", "x86_64")] == got[("curl", "aarch64")] == "8.1.1-r1"
    assert (got[("libcurl", "x86_64")], got[("libcurl", "aarch64")]) == ("8.1.1-r2", "8.1.1-r1")
    # curl agrees on both architectures and is pinned; libcurl does not and is left alone.
    assert "RUN apk add --no-cache curl=8.1.1-r1 libcurl\n" in dockerfile.read_text()
    assert "libcurl: versions differ by architecture (8.1.1-r1, 8.1.1-r2); not written" in err


def test_a_pin_the_branch_no_longer_serves_stops_lock_and_update_without_pin_versions(
    capsys: pytest.CaptureFixture[str],
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    dockerfile = env / "Dockerfile"
    text = "FROM alpine:3.16-signed\nRUN apk add --no-cache \\\n    curl=8.1.1-r1\n"
    dockerfile.write_text(text.replace("8.1.1-r1", "8.1.0-r0"))
    with Mirror({INDEX_PATH: _signed(test_key, tmp_path, "8.1.1-r1")}) as mirror:
        # A word pinned to a version the branch does not serve is refused: apk would fail.
        code, _, err = _lock(capsys, signed_hub, mirror, str(dockerfile))
        assert code == 1
        assert err.splitlines()[0] == (
            f"{dockerfile}:3: curl=8.1.0-r0: the repositories serve 8.1.1-r1, not =8.1.0-r0"
            " (v3.17 aarch64)"
        )
        dockerfile.write_text(text)
        assert _lock(capsys, signed_hub, mirror, str(dockerfile))[0] == 0

        # The branch moves on. update without --pin-versions leaves the words alone, so it must
        # not record a version other than the pin: it refuses, naming the word.
        mirror.files[INDEX_PATH] = _signed(test_key, tmp_path, "8.1.2-r0")
        lock_text = (env / "Dockerfile.lock").read_text()
        code, _, err = _pinner(capsys, signed_hub, mirror, "update", str(dockerfile))
        assert code == 1
        locked = dockerfile.read_text()
        line = locked.split("\n").index("    curl=8.1.1-r1") + 1
        assert err.splitlines()[0] == (
            f"{dockerfile}:{line}: curl=8.1.1-r1: the repositories serve 8.1.2-r0,"
            " not =8.1.1-r1 (v3.17 aarch64)"
        )
        assert (env / "Dockerfile.lock").read_text() == lock_text
        code, _, err = _pinner(
            capsys, signed_hub, mirror, "update", "--pin-versions", str(dockerfile)
        )
    assert code == 0, err
    assert "RUN apk add --no-cache \\\n    curl=8.1.2-r0\n" in dockerfile.read_text()
    assert "8.1.1-r1" not in dockerfile.read_text()


def test_an_unreachable_index_is_one_line(
    capsys: pytest.CaptureFixture[str], signed_hub: str, env: Path
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(SIGNED_DOCKERFILE)
    with Mirror({}) as mirror:
        code, _, err = _lock(capsys, signed_hub, mirror, str(dockerfile))
    assert code == 1
    assert err.splitlines() == [
        f"{dockerfile}: stage 0: https://dl-cdn.alpinelinux.org/alpine/v3.17/main (aarch64)"
        f" APKINDEX: not found on the snapshot mirror (404 for {mirror.url}{INDEX_PATH})",
        "1 error(s); nothing written",
    ]
    assert not (env / "Dockerfile.lock").exists()


def test_packages_an_upper_layer_of_the_base_image_installed_count_as_installed(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    # As python:alpine: the OS layer, then a layer whose `apk add` grew the installed database.
    private, name = test_key
    keys = {name: private.with_name(name).read_bytes()}
    base = files_image(rootfs_files(REAL, keys=keys))
    installed = (ROOTFS / "lib/apk/db/installed").read_text() + "\n" + _apkindex("8.1.1-r1")
    upper = layer_tar([Entry("lib/apk/db/installed", installed.encode())])
    image = HandImage([*base.layers, upper], architecture="arm64")
    push(image, registry, "library/alpine", "3.16-layered")
    push_image(registry, "docker/dockerfile", "1.23")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM alpine:3.16-layered\nRUN apk add --no-cache curl tzdata\n")
    index = _apkindex("8.1.1-r1") + "\n" + record("tzdata", "2023c-r0")
    with Mirror({INDEX_PATH: sign(index_archive(index), private, name, tmp_path)}) as mirror:
        code, _, err = _lock(capsys, registry.host, mirror, str(dockerfile))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [p.name for p in stage.packages] == ["tzdata"]
    assert [(u.name, u.reason) for u in stage.unpinned] == [
        ("curl", "not pinned: already in the base image: 8.1.1-r1; apk keeps it")
    ]


# (Dockerfile, records the index holds beside curl's closure, the line curl's pin stands on)
HAND_EDITS = [
    pytest.param(SIGNED_DOCKERFILE, [], "RUN apk add --no-cache curl=8.1.1-r1", id="one-line"),
    pytest.param(
        "FROM alpine:3.16-signed\n"
        "RUN --mount=type=cache,target=/var/cache/apk \\\n"
        "    apk add --no-cache tzdata \\\n"
        "    && apk add --no-cache curl\n",
        [record("tzdata", "2023c-r0")],
        "    && apk add --no-cache curl=8.1.1-r1",
        # check reads a stage's install words as lock does: the line is the word's own, not the
        # line its RUN's flags stand on.
        id="below-the-run-flags",
    ),
]


@pytest.mark.parametrize(("written", "records", "pinned"), HAND_EDITS)
def test_a_pin_edited_by_hand_is_reported_by_check_on_its_line_and_resolved_again_by_lock(
    capsys: pytest.CaptureFixture[str],
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
    written: str,
    records: list[str],
    pinned: str,
) -> None:
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(written)
    index = index_archive("\n".join([_apkindex("8.1.1-r1"), *records]))
    with Mirror({INDEX_PATH: sign(index, *test_key, tmp_path)}) as mirror:
        code, _, err = _lock(capsys, signed_hub, mirror, "--pin-versions", str(dockerfile))
        assert code == 0, err
        assert run(capsys, "check", str(dockerfile))[0] == 0
        text = dockerfile.read_text()
        dockerfile.write_text(text.replace("curl=8.1.1-r1", "curl=8.1.0-r0"))
        code, out, _ = run(capsys, "check", str(dockerfile))
        assert code == 1
        lines = text.split("\n")
        stage = next(i for i, line in enumerate(lines, 1) if line.startswith("FROM "))
        assert out.splitlines() == [
            f"{dockerfile}:{stage}: warning: stage 0: apk packages pinned, not rebuildable"
            " once the branch moves on",
            f"{dockerfile}:{lines.index(pinned) + 1}: stage 0: curl=8.1.0-r0: the lock records"
            f" 8.1.1-r1; run pinner lock {dockerfile}",
        ]
        # lock does not take the old entry for the edited word: the branch lacks 8.1.0-r0.
        code, _, err = _lock(capsys, signed_hub, mirror, str(dockerfile))
        assert code == 1
        assert "curl=8.1.0-r0: the repositories serve 8.1.1-r1, not =8.1.0-r0" in err


def test_a_word_from_apk_add_repository_is_locked_from_that_repository_too(
    capsys: pytest.CaptureFixture[str],
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    private, name = test_key
    testing = record("hello-edge", "2.12-r0", "so:libcurl.so.4")
    files = {
        INDEX_PATH: _signed(test_key, tmp_path, "8.1.1-r1"),
        "/edge/testing/aarch64/APKINDEX.tar.gz": sign(
            index_archive(testing), private, name, tmp_path
        ),
    }
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM alpine:3.16-signed\n"
        "RUN apk add --no-cache curl \\\n"
        "    && apk add --no-cache -X https://dl-cdn.alpinelinux.org/alpine/edge/testing"
        " hello-edge\n"
    )
    with Mirror(files) as mirror:
        code, _, err = _lock(capsys, signed_hub, mirror, "--pin-versions", str(dockerfile))
        assert code == 0, err
        (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
        assert {p.name: p.filename for p in stage.packages} == {
            "curl": "v3.17/main/aarch64/curl-8.1.1-r1.apk",
            "libcurl": "v3.17/main/aarch64/libcurl-8.1.1-r1.apk",
            "ca-certificates": "v3.17/main/aarch64/ca-certificates-20230506-r0.apk",
            "hello-edge": "edge/testing/aarch64/hello-edge-2.12-r0.apk",
        }
        text = dockerfile.read_text()
        assert "edge/testing hello-edge=2.12-r0\n" in text
        assert run_errors(text) == []
        # check --remote asks the same repository for it.
        mirror.log.clear()
        remote = [
            f"--registry-mirror=docker.io=http://{signed_hub}",
            f"--snapshot-mirror=alpine={mirror.url}",
        ]
        code, out, err = run(capsys, "check", "--remote", *remote, str(dockerfile))
        assert (code, out) == (0, ""), err
        assert "/edge/testing/aarch64/APKINDEX.tar.gz" in mirror.log


def assert_settled(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path, lock: str
) -> None:
    """The pinned Dockerfile parses in dash and busybox sh, checks, and a re-lock with
    --pin-versions leaves the lock as it is."""
    assert run_errors((env / "Dockerfile").read_text()) == []
    code, out, err = run(capsys, "check", str(env / "Dockerfile"))
    assert code == 0, out + err
    code, _, err = _lock(capsys, hub, mirror, "--pin-versions", str(env / "Dockerfile"))
    assert code == 0, err
    assert (env / "Dockerfile.lock").read_text() == lock


TESTING_URL = "https://dl-cdn.alpinelinux.org/alpine/edge/testing"
TESTING_PATH = "/edge/testing/aarch64/APKINDEX.tar.gz"


def _testing(test_key: tuple[Path, str], folder: Path) -> bytes:
    """A tagged repository's index: a package only it serves, needing one only it serves and
    libcurl, of which it serves a newer build than main."""
    private, name = test_key
    text = "\n".join(
        [
            record("hello-tag", "1.0-r0", f"{MUSL} libcurl tag-only-lib"),
            record("tag-only-lib", "1.0-r0", MUSL),
            record("libcurl", "9.0.0-r0", f"ca-certificates {MUSL}", "so:libcurl.so.4=4.8.0"),
        ]
    )
    return sign(index_archive(text), private, name, folder)


def test_a_tagged_word_is_locked_from_the_tagged_repository_a_run_appends(
    capsys: pytest.CaptureFixture[str],
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    # The form of docker-volume-s3fs's and viewprof's Dockerfiles: echo the tagged line, then
    # apk add a word naming the tag beside untagged ones.
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM alpine:3.16-signed\n"
        f'RUN echo "@testing {TESTING_URL}" >> /etc/apk/repositories \\\n'
        "    && apk add --no-cache curl hello-tag@testing\n"
    )
    files = {INDEX_PATH: _signed(test_key, tmp_path, "8.1.1-r1"), TESTING_PATH: b""}
    files[TESTING_PATH] = _testing(test_key, tmp_path)
    with Mirror(files) as mirror:
        code, _, err = _lock(capsys, signed_hub, mirror, "--pin-versions", str(dockerfile))
        assert code == 0, err
        text = dockerfile.read_text()
        # apk reads `name@tag=version` (the operator splits first, then the tag).
        assert "    && apk add --no-cache curl=8.1.1-r1 hello-tag@testing=1.0-r0\n" in text
        assert run_errors(text) == []
        lock = (env / "Dockerfile.lock").read_text()
        (stage,) = lockfile.parse(lock, "lock").stages
        # The dependency a tagged package shares with main comes from main, as apk prefers the
        # untagged repositories for dependencies; the one only the tag serves from it.
        assert {p.name: p.filename for p in stage.packages} == {
            "curl": "v3.17/main/aarch64/curl-8.1.1-r1.apk",
            "libcurl": "v3.17/main/aarch64/libcurl-8.1.1-r1.apk",
            "ca-certificates": "v3.17/main/aarch64/ca-certificates-20230506-r0.apk",
            "hello-tag": "edge/testing/aarch64/hello-tag-1.0-r0.apk",
            "tag-only-lib": "edge/testing/aarch64/tag-only-lib-1.0-r0.apk",
        }
        assert stage.unpinned == ()
        # The words keep the tag: check and lock see a word that changes its tag.
        assert stage.words == ("curl", "hello-tag@testing")
        assert_settled(capsys, signed_hub, mirror, env, lock)
        mirror.log.clear()
        remote = [
            f"--registry-mirror=docker.io=http://{signed_hub}",
            f"--snapshot-mirror=alpine={mirror.url}",
        ]
        code, out, err = run(capsys, "check", "--remote", *remote, str(dockerfile))
        assert (code, out) == (0, ""), err
        assert TESTING_PATH in mirror.log

        # An untagged word takes nothing from the tagged repository (though the lock holds
        # tag-only-lib as hello-tag's dependency); an unknown tag is refused.
        for words, why in [
            ("curl tag-only-lib", "tag-only-lib: no such package in the repositories (v3.17"),
            (
                "libcurl@testing tag-only-lib",
                "tag-only-lib: no such package in the repositories (the tagged @testing serve"
                " only words naming their tag)",
            ),
            ("curl@nosuch", "no repository is tagged @nosuch in /etc/apk/repositories"),
        ]:
            dockerfile.write_text(
                "FROM alpine:3.16-signed\n"
                f"RUN echo '@testing {TESTING_URL}' >> /etc/apk/repositories"
                f" && apk add {words}\n"
            )
            code, _, err = _lock(capsys, signed_hub, mirror, str(dockerfile))
            assert code == 1, (words, err)
            assert why in err and err.endswith("1 error(s); nothing written\n"), err


def test_a_tagged_repository_of_the_base_image_serves_its_tag_alone(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    private, name = test_key
    keys = {name: private.with_name(name).read_bytes()}
    repositories = f"{REAL}@testing {TESTING_URL}\n"
    image = files_image(rootfs_files(repositories, keys=keys))
    push(image, registry, "library/alpine", "3.16-tagged")
    dockerfile = env / "Dockerfile"
    files = {INDEX_PATH: _signed(test_key, tmp_path, "8.1.1-r1")}
    with Mirror(files) as mirror:
        # The tagged index is read only for a word naming the tag: unserved, it is not asked.
        dockerfile.write_text("FROM alpine:3.16-tagged\nRUN apk add --no-cache curl\n")
        code, _, err = _lock(capsys, signed_hub, mirror, "--pin-versions", str(dockerfile))
        assert code == 0, err
        assert TESTING_PATH not in mirror.log
        mirror.files[TESTING_PATH] = _testing(test_key, tmp_path)
        # The lock holds libcurl from main; the word now names the tag: resolved again.
        dockerfile.write_text(
            "FROM alpine:3.16-tagged\nRUN apk add --no-cache libcurl@testing curl\n"
        )
        code, _, err = _lock(capsys, signed_hub, mirror, "--pin-versions", str(dockerfile))
        assert code == 0, err
        text = dockerfile.read_text()
        assert "RUN apk add --no-cache libcurl@testing=9.0.0-r0 curl=8.1.1-r1\n" in text
        lock = (env / "Dockerfile.lock").read_text()
        (stage,) = lockfile.parse(lock, "lock").stages
        assert {p.name: p.filename for p in stage.packages} == {
            "curl": "v3.17/main/aarch64/curl-8.1.1-r1.apk",
            "libcurl": "edge/testing/aarch64/libcurl-9.0.0-r0.apk",
            "ca-certificates": "v3.17/main/aarch64/ca-certificates-20230506-r0.apk",
        }
        assert_settled(capsys, signed_hub, mirror, env, lock)
        # check --remote asks the image's tagged repository for what the lock took from it.
        mirror.log.clear()
        remote = [
            f"--registry-mirror=docker.io=http://{signed_hub}",
            f"--snapshot-mirror=alpine={mirror.url}",
        ]
        code, out, err = run(capsys, "check", "--remote", *remote, str(dockerfile))
        assert (code, out) == (0, ""), out + err
        assert TESTING_PATH in mirror.log
        # An untagged word beside a tagged one: apk says it is masked in @testing.
        dockerfile.write_text(
            "FROM alpine:3.16-tagged\nRUN apk add --no-cache libcurl@testing tag-only-lib\n"
        )
        code, _, err = _lock(capsys, signed_hub, mirror, str(dockerfile))
        assert code == 1
        assert (
            "tag-only-lib: served only by the tagged repository @testing (tag-only-lib@testing)"
            in err
        )


def _lock_libcurl_words(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
    cases: list[tuple[str, str, str]],
) -> None:
    """Lock each RUN written on an image with a signed `@testing` repository: the RUN pinned as
    given, the lock's libcurl from the given file, and a second lock settled."""
    private, name = test_key
    keys = {name: private.with_name(name).read_bytes()}
    repositories = f"{REAL}@testing {TESTING_URL}\n"
    push(files_image(rootfs_files(repositories, keys=keys)), registry, "library/alpine", "3.16-tt")
    dockerfile = env / "Dockerfile"
    files = {INDEX_PATH: _signed(test_key, tmp_path, "8.1.1-r1")}
    files[TESTING_PATH] = _testing(test_key, tmp_path)
    with Mirror(files) as mirror:
        for written, pinned, filename in cases:
            dockerfile.write_text(f"FROM alpine:3.16-tt\nRUN {written}\n")
            (env / "Dockerfile.lock").unlink(missing_ok=True)
            code, _, err = _lock(capsys, signed_hub, mirror, "--pin-versions", str(dockerfile))
            assert code == 0, err
            assert dockerfile.read_text().endswith(f"\nRUN {pinned}\n")
            lock = (env / "Dockerfile.lock").read_text()
            (stage,) = lockfile.parse(lock, "lock").stages
            assert {p.name: p.filename for p in stage.packages}["libcurl"] == filename
            assert_settled(capsys, signed_hub, mirror, env, lock)


def test_a_later_word_naming_another_tag_is_what_apk_installs(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    # apk replaces the world's entry of the name with the later word and moves the package to
    # its repositories (apk-tools 2.12.10: tag-same-name-* in the oracle): the later word is
    # pinned; the earlier one, whose tag names other builds, is left as written.
    cases = [
        (
            "apk add --no-cache libcurl@testing && apk add --no-cache libcurl",
            "apk add --no-cache libcurl@testing && apk add --no-cache libcurl=8.1.1-r1",
            "v3.17/main/aarch64/libcurl-8.1.1-r1.apk",
        ),
        (
            "apk add --no-cache libcurl curl && apk add --no-cache libcurl@testing",
            "apk add --no-cache libcurl curl=8.1.1-r1"
            " && apk add --no-cache libcurl@testing=9.0.0-r0",
            "edge/testing/aarch64/libcurl-9.0.0-r0.apk",
        ),
    ]
    _lock_libcurl_words(capsys, registry, signed_hub, test_key, env, tmp_path, cases)


def test_a_later_word_with_another_constraint_is_what_apk_installs(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    # The later command's constraint replaces the world entry and apk moves the package to it
    # (apk-tools 2.12.10: same-name-* in the oracle), and a later tagged word takes its tag's
    # build over the one installed. Every word of the name then carries the build apk ends with.
    cases = [
        (
            "apk add --no-cache libcurl@testing && apk add --no-cache libcurl@testing=8.1.1-r1",
            "apk add --no-cache libcurl@testing=8.1.1-r1"
            " && apk add --no-cache libcurl@testing=8.1.1-r1",
            "v3.17/main/aarch64/libcurl-8.1.1-r1.apk",
        ),
        (
            "apk add --no-cache libcurl@testing=8.1.1-r1 && apk add --no-cache libcurl@testing",
            "apk add --no-cache libcurl@testing=9.0.0-r0"
            " && apk add --no-cache libcurl@testing=9.0.0-r0",
            "edge/testing/aarch64/libcurl-9.0.0-r0.apk",
        ),
    ]
    _lock_libcurl_words(capsys, registry, signed_hub, test_key, env, tmp_path, cases)


def test_an_apk_tools_3_image_is_locked_from_its_repositories_d_and_lib_keys(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    # apk-tools 3 reads /lib/apk/repositories.d/*.list (`set` variables, `v2 URL component`)
    # and /lib/apk/keys (testdata/alpine/apk-tools-3.md); the base image's scan finds them.
    private, name = test_key
    files = rootfs_files("", keys={})
    del files["etc/apk/repositories"]
    files[f"lib/apk/keys/{name}"] = private.with_name(name).read_bytes()
    files["lib/apk/repositories.d/distribution.list"] = (
        b"set -default mirror=https://dl-cdn.alpinelinux.org/alpine\nv2 ${mirror}/v3.17 main\n"
    )
    push(files_image(files), registry, "library/alpine", "3.23-like")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM alpine:3.23-like\nRUN apk add --no-cache curl\n")
    with Mirror({INDEX_PATH: _signed(test_key, tmp_path, "8.1.1-r1")}) as mirror:
        code, _, err = _lock(capsys, signed_hub, mirror, "--pin-versions", str(dockerfile))
        assert code == 0, err
        assert "RUN apk add --no-cache curl=8.1.1-r1\n" in dockerfile.read_text()
        lock = (env / "Dockerfile.lock").read_text()
        (stage,) = lockfile.parse(lock, "lock").stages
        assert stage.signature == "verified"
        assert {p.name for p in stage.packages} == {"curl", "libcurl", "ca-certificates"}
        assert_settled(capsys, signed_hub, mirror, env, lock)


def test_a_version_the_base_images_world_holds_is_weighed(
    capsys: pytest.CaptureFixture[str], registry: Registry, hub: str, mirror: Mirror, env: Path
) -> None:
    # A base image whose world pins zlib (as an image built with `apk add zlib=1.2.12-r3` has):
    # apk keeps that build, and refuses what needs another (apk-oracle.json, world-* cases).
    world = "alpine-baselayout\nalpine-keys\napk-tools\nbusybox\nlibc-utils\nzlib=1.2.12-r3\n"
    push(files_image(rootfs_files(REAL, world=world), "arm64"), registry, "library/alpine", "held")
    dockerfile = env / "Dockerfile"
    dockerfile.write_text("FROM alpine:held\nRUN apk add --no-cache -u curl\n")
    code, _, err = _lock(capsys, hub, mirror, str(dockerfile))
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    versions = {p.name: p.version for p in stage.packages}
    assert versions["curl"] == "8.1.1-r1" and versions["musl"] == "1.2.3-r5"
    assert "zlib" not in versions
    dockerfile.write_text("FROM alpine:held\nRUN apk add --no-cache zlib-dev\n")
    code, _, err = _lock(capsys, hub, mirror, str(dockerfile))
    assert code == 1
    assert (
        "zlib: needed by zlib-dev, but the base image's /etc/apk/world holds zlib=1.2.12-r3" in err
    ), err


def test_package_runs_on_scratch_are_one_line(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    for run_line in ("RUN apk add --no-cache curl", "RUN apk add --no-cache $X"):
        (env / "Dockerfile").write_text(f"FROM scratch\n{run_line}\n")
        code, _, err = _lock(capsys, hub, mirror, str(env / "Dockerfile"))
        assert code == 1
        assert err.splitlines() == [
            f"{env / 'Dockerfile'}:1: stage 0: its package RUNs build on scratch or on an image"
            " that differs by platform; pinner cannot read a base image to lock them",
            "1 error(s); nothing written",
        ], err
        assert not (env / "Dockerfile.lock").exists()


def test_check_remote_asks_a_tagged_repository_outside_alpines_layout_again(
    capsys: pytest.CaptureFixture[str],
    registry: Registry,
    signed_hub: str,
    test_key: tuple[Path, str],
    env: Path,
    tmp_path: Path,
) -> None:
    private, name = test_key
    files = {INDEX_PATH: _signed(test_key, tmp_path, "8.1.1-r1")}
    files["/custom/aarch64/APKINDEX.tar.gz"] = _testing(test_key, tmp_path)
    with Mirror(files) as mirror:
        # A company repository with no vX.Y or edge folder: the lock's file names have no folder.
        repositories = f"{REAL}@custom {mirror.url}/custom\n"
        keys = {name: private.with_name(name).read_bytes()}
        image = files_image(rootfs_files(repositories, keys=keys))
        push(image, registry, "library/alpine", "3.16-custom")
        dockerfile = env / "Dockerfile"
        dockerfile.write_text("FROM alpine:3.16-custom\nRUN apk add --no-cache hello-tag@custom\n")
        code, _, err = _lock(capsys, signed_hub, mirror, "--pin-versions", str(dockerfile))
        assert code == 0, err
        (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
        assert {p.name: p.filename for p in stage.packages}["hello-tag"] == "hello-tag-1.0-r0.apk"
        remote = [
            f"--registry-mirror=docker.io=http://{signed_hub}",
            f"--snapshot-mirror=alpine={mirror.url}",
        ]
        code, out, err = run(capsys, "check", "--remote", *remote, str(dockerfile))
        assert (code, out) == (0, ""), out + err
