"""`pinner lock`, `check` and `update` on pacman stages: a real registry holding an Arch-like
image with Arch's own configuration files, and a stand-in archive.archlinux.org whose databases
the real repo-add made.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from arch_repo import Pkg, local_desc, repo_add
from cli import run
from handmade import HandImage, push
from registryd import Registry, push_image
from shell_syntax import run_errors
from stand_in import Mirror, files_image, pinner_at

from pinner import lockfile
from pinner.managers import pacman

ARCH = Path(__file__).resolve().parents[2] / "testdata" / "arch"
# openssl is older than the archive's: only `pacman -Su` fetches the day's (curl needs any).
INSTALLED = [
    Pkg("glibc", "2.40-1"),
    Pkg("bash", "5.2.026-2", depends=["glibc"], provides=["sh"]),
    Pkg("openssl", "3.3.0-1", depends=["glibc"]),
]
DAYS = {
    "2026/11/30": {
        "core": [
            Pkg("glibc", "2.40-1"),
            Pkg("bash", "5.2.026-2", depends=["glibc"], provides=["sh"]),
            Pkg("curl", "8.10.1-1", depends=["glibc", "openssl"]),
            Pkg("openssl", "3.4.0-1", depends=["glibc"]),
            Pkg("zsh", "5.9-1", depends=["glibc"]),
            Pkg("archlinux-keyring", "20241203-1"),
        ],
        # zsh in both: `extra/zsh` is extra's, a bare `zsh` would be core's.
        "extra": [Pkg("git", "2.47.0-1", depends=["curl", "perl", "sh"]), Pkg("zsh", "5.9.1-1")],
        "community": [Pkg("perl", "5.40.0-1", depends=["glibc"])],
    },
    "2026/12/09": {
        "core": [
            Pkg("glibc", "2.40-1"),
            Pkg("bash", "5.2.026-2", depends=["glibc"], provides=["sh"]),
            Pkg("curl", "8.11.0-1", depends=["glibc", "openssl"]),
            Pkg("openssl", "3.4.0-1", depends=["glibc"]),
            Pkg("zsh", "5.9-1", depends=["glibc"]),
        ],
        "extra": [Pkg("git", "2.47.1-1", depends=["curl", "perl", "sh"]), Pkg("zsh", "5.9.1-1")],
        "community": [Pkg("perl", "5.40.0-1", depends=["glibc"])],
    },
}
DOCKERFILE = """\
FROM archlinux:base
RUN pacman -Syu --noconfirm --needed git \\
    && pacman -Scc --noconfirm
RUN pacman -S --noconfirm curl extra/zsh
"""


def arch_image() -> HandImage:
    """A one-layer image with Arch's real pacman.conf, mirrorlist and os-release, and a local db."""
    files = {
        "etc/os-release": (ARCH / "os-release").read_bytes(),
        "etc/pacman.conf": (ARCH / "pacman.conf-docker-rootfs").read_bytes(),
        "etc/pacman.d/mirrorlist": (ARCH / "mirrorlist").read_bytes(),
    }
    for pkg in INSTALLED:
        files[f"var/lib/pacman/local/{pkg.name}-{pkg.version}/desc"] = local_desc(pkg).encode()
    return files_image(files)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mirror, Path]]:
    root = tmp_path_factory.mktemp("archive")
    if shutil.which("repo-add") is None:
        pytest.skip("needs repo-add (Debian: pacman-package-manager)")
    for day, repos in DAYS.items():
        for name, pkgs in repos.items():
            repo_add(root / "repos" / day / name / "os" / "x86_64", name, pkgs)
    with Mirror(root=root) as served:
        yield served, root


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    push(arch_image(), registry, "library/archlinux", "base")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _pinner(
    capsys: pytest.CaptureFixture[str], hub: str, archive: Mirror, *args: str
) -> tuple[int, str, str]:
    return pinner_at(capsys, hub, f"arch={archive.url}/repos", "linux/amd64", *args)


def test_lock_check_update(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
) -> None:
    served, root = archive
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    code, _, err = _pinner(
        capsys, hub, served, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    text = dockerfile.read_text()
    step = (
        "# pinner: pacman snapshot 20261201T101500Z\n"
        f"RUN echo 'Server = {served.url}/repos/2026/11/30/$repo/os/$arch'"
        " > /etc/pacman.d/mirrorlist\n"
        "RUN pacman -Syu --noconfirm --needed git \\\n"
    )
    assert step in text
    # The cache cleanup where the RUN leaves the cache (`pacman -Scc --noconfirm` answers its
    # question "no"); nothing else in the RUNs changes.
    assert (
        "    && pacman -Scc --noconfirm \\\n    && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n"
        in text
    )
    assert (
        "RUN pacman -S --noconfirm curl extra/zsh \\\n    && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n"
    ) in text
    assert text.count("rm -rf /var/cache/pacman/pkg/*") == 2
    assert run_errors(text) == []
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    (stage,) = lock.stages
    assert (stage.package_manager, stage.distro, stage.snapshot, stage.step) == (
        "pacman",
        "arch",
        "20261201T101500Z",
        "exact",
    )
    assert stage.signature == (
        "not checked: Arch Linux does not sign its databases; pacman checks each package"
    )
    day = root / "repos" / "2026" / "11" / "30"
    recorded = {p.name: (p.version, p.sha256, p.architecture) for p in stage.packages}
    files = {str(p.relative_to(day)): p for p in day.glob("*/os/x86_64/*.pkg.tar.gz")}
    # git's and curl's closure minus what the image has (glibc, bash for sh), extra's zsh, and
    # openssl, which the image has at 3.3.0-1 and `pacman -Syu` upgrades.
    assert sorted(recorded) == ["curl", "git", "openssl", "perl", "zsh"]
    assert recorded["openssl"][0] == "3.4.0-1"
    assert recorded["zsh"][0] == "5.9.1-1"
    assert {p.name: p.filename.split("/")[0] for p in stage.packages} == {
        "curl": "core",
        "git": "extra",
        "openssl": "core",
        "perl": "community",
        "zsh": "extra",
    }
    for package in stage.packages:
        data = files[package.filename].read_bytes()
        assert recorded[package.name][1] == hashlib.sha256(data).hexdigest()
    assert recorded["git"][0] == "2.47.0-1" and recorded["git"][2] == "x86_64"

    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err

    # A second lock changes nothing.
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _pinner(capsys, hub, served, "lock", str(dockerfile))
    assert code == 0, err
    assert dockerfile.read_text() == text
    assert (env / "Dockerfile.lock").read_text() == before

    # --pin-versions writes no version: pacman cannot install one from a repository.
    code, _, err = _pinner(capsys, hub, served, "lock", "--pin-versions", str(dockerfile))
    assert code == 0, err
    assert dockerfile.read_text() == text
    assert "no versions written" in err

    # update moves the step and the records to the new day's archive.
    code, _, err = _pinner(
        capsys, hub, served, "update", "--snapshot", "20261210T000000Z", str(dockerfile)
    )
    assert code == 0, err
    updated = dockerfile.read_text()
    assert f"RUN echo 'Server = {served.url}/repos/2026/12/09/$repo/os/$arch'" in updated
    assert updated.count("# pinner: pacman snapshot") == 1
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    assert {p.name: p.version for p in lock.stages[0].packages}["git"] == "2.47.1-1"
    assert run_errors(updated) == []

    # check fails once the step is gone.
    dockerfile.write_text(
        updated.replace(
            updated[updated.index("# pinner: pacman") : updated.index("RUN pacman -Syu")], ""
        )
    )
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 1
    assert "pacman runs without pinner's snapshot step at 20261210T000000Z" in out + err


def test_a_stage_naming_no_package_still_gets_the_step(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
) -> None:
    served, _ = archive
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM archlinux:base\nRUN pacman -Syu --noconfirm\nRUN reflector --save /etc/pacman.d/mirrorlist\n"
    )
    code, _, err = _pinner(
        capsys, hub, served, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    text = dockerfile.read_text()
    assert (
        "# pinner: pacman snapshot 20261201T101500Z\n"
        f"RUN echo 'Server = {served.url}/repos/2026/11/30/$repo/os/$arch'"
        " > /etc/pacman.d/mirrorlist\n"
        "RUN pacman -Syu --noconfirm \\\n    && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n"
    ) in text
    lock = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock")
    # The upgrade is recorded: what pacman -Syu fetches from the day for the image's packages.
    assert lock.stages[0].snapshot == "20261201T101500Z"
    assert [(p.name, p.version, p.filename) for p in lock.stages[0].packages] == [
        ("openssl", "3.4.0-1", "core/os/x86_64/openssl-3.4.0-1-x86_64.pkg.tar.gz")
    ]
    assert (
        "runs reflector, which rewrites /etc/pacman.d/mirrorlist; later pacman RUNs may not use"
        " the snapshot"
    ) in lock.stages[0].notes
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err
    code, _, err = _pinner(capsys, hub, served, "lock", str(dockerfile))
    assert code == 0, err
    assert dockerfile.read_text() == text


def test_a_stage_from_a_stage_records_only_what_it_adds(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
) -> None:
    served, _ = archive
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM archlinux:base AS base\nRUN pacman -Syu --noconfirm curl\n\n"
        "FROM base\nRUN pacman -S --noconfirm git\n"
    )
    code, _, err = _pinner(
        capsys, hub, served, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    text = dockerfile.read_text()
    # One step, in the first stage: the second builds on it.
    assert text.count("# pinner: pacman snapshot 20261201T101500Z") == 1
    assert run_errors(text) == []
    base, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # base: curl, and openssl (3.3.0-1 in the image) from the upgrade; the child adds git and
    # perl only: curl and openssl are in the image it builds on.
    assert [(p.name, p.version) for p in base.packages] == [
        ("curl", "8.10.1-1"),
        ("openssl", "3.4.0-1"),
    ]
    assert [(p.name, p.version) for p in child.packages] == [
        ("git", "2.47.0-1"),
        ("perl", "5.40.0-1"),
    ]
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err


# The image's openssl (3.3.0-1) satisfies curl's dependency until `pacman -Rns` removes it. git,
# installed and removed in the parent without -s, leaves curl and perl behind; zsh removed with
# -s takes nothing else (glibc is needed).
REMOVED_UPSTREAM = """\
FROM archlinux:base AS base
RUN pacman -Rns --noconfirm openssl \\
    && pacman -S --noconfirm git zsh \\
    && pacman -R --noconfirm git \\
    && pacman -Rs --noconfirm zsh

FROM base
RUN pacman -S --noconfirm --needed git zsh
"""


def test_what_a_parent_stage_removed_is_resolved_again(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
) -> None:
    served, _ = archive
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(REMOVED_UPSTREAM)
    args = ("lock", "--snapshot", "20261201T101500Z", str(dockerfile))
    code, _, err = _pinner(capsys, hub, served, *args)
    assert code == 0, err
    text = dockerfile.read_text()
    assert run_errors(text) == []
    before = (env / "Dockerfile.lock").read_text()
    base, child = lockfile.parse(before, "lock").stages
    # openssl went before git came: the day's, fetched for curl.
    assert [(p.name, p.version) for p in base.packages] == [
        ("curl", "8.10.1-1"),
        ("git", "2.47.0-1"),
        ("openssl", "3.4.0-1"),
        ("perl", "5.40.0-1"),
        ("zsh", "5.9-1"),
    ]
    # git and zsh come again; curl, openssl and perl stayed (--needed would skip them anyway).
    assert [(p.name, p.version) for p in child.packages] == [("git", "2.47.0-1"), ("zsh", "5.9-1")]
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err
    code, _, err = _pinner(capsys, hub, served, *args)
    assert code == 0, err
    assert (env / "Dockerfile.lock").read_text() == before


def test_a_dependency_removed_upstream_is_fetched_again(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
) -> None:
    served, _ = archive
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(
        "FROM archlinux:base AS base\nRUN pacman -Rns --noconfirm openssl\n\n"
        "FROM base\nRUN pacman -S --noconfirm curl\n"
    )
    code, _, err = _pinner(
        capsys, hub, served, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    _, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    # Without the removal the image's openssl 3.3.0-1 would do; pacman fetches the day's.
    assert [(p.name, p.version) for p in child.packages] == [
        ("curl", "8.10.1-1"),
        ("openssl", "3.4.0-1"),
    ]


@pytest.mark.parametrize(
    ("parent", "child", "expected"),
    [
        # git removed without -s leaves curl and perl; `-Rns $(pacman -Qtdq)` takes them, and
        # the image's bash and openssl, installed as dependencies (%REASON% 1) that nothing
        # needs; glibc stays for zsh. git installed again needs them all fetched again.
        (
            "pacman -S --noconfirm git zsh && pacman -R --noconfirm git"
            " && pacman -Rns --noconfirm $(pacman -Qtdq)",
            "pacman -S --noconfirm git",
            [
                ("bash", "5.2.026-2"),
                ("curl", "8.10.1-1"),
                ("git", "2.47.0-1"),
                ("openssl", "3.4.0-1"),
                ("perl", "5.40.0-1"),
            ],
        ),
        # The same orphans piped in, to `pacman -Rns -` and through xargs.
        (
            "pacman -S --noconfirm git zsh && pacman -R --noconfirm git"
            " && pacman -Qtdq | pacman -Rns --noconfirm -",
            "pacman -S --noconfirm git",
            [
                ("bash", "5.2.026-2"),
                ("curl", "8.10.1-1"),
                ("git", "2.47.0-1"),
                ("openssl", "3.4.0-1"),
                ("perl", "5.40.0-1"),
            ],
        ),
        (
            "pacman -S --noconfirm git zsh && pacman -R --noconfirm git"
            " && pacman -Qtdq | xargs -r pacman --noconfirm -Rcns",
            "pacman -S --noconfirm git",
            [
                ("bash", "5.2.026-2"),
                ("curl", "8.10.1-1"),
                ("git", "2.47.0-1"),
                ("openssl", "3.4.0-1"),
                ("perl", "5.40.0-1"),
            ],
        ),
        # bash and openssl removed with -s take glibc, installed as their dependency: zsh
        # needs it fetched again.
        (
            "pacman -Rs --noconfirm bash openssl",
            "pacman -S --noconfirm zsh",
            [("glibc", "2.40-1"), ("zsh", "5.9-1")],
        ),
        # -Rc glibc takes the image's bash and openssl, which need it: git needs both again.
        (
            "pacman -Rc --noconfirm glibc",
            "pacman -S --noconfirm git",
            [
                ("bash", "5.2.026-2"),
                ("curl", "8.10.1-1"),
                ("git", "2.47.0-1"),
                ("glibc", "2.40-1"),
                ("openssl", "3.4.0-1"),
                ("perl", "5.40.0-1"),
            ],
        ),
        # -Rc curl takes git, a word that needs it, and leaves perl (no -s): git needs curl
        # fetched again, and git itself, not the parent's record of them.
        (
            "pacman -S --noconfirm git zsh && pacman -Rc --noconfirm curl",
            "pacman -S --noconfirm git",
            [("curl", "8.10.1-1"), ("git", "2.47.0-1")],
        ),
        # In the stage FROM it: -Rc openssl takes the parent's curl, which needs it; zsh does
        # not need openssl, which is not fetched again.
        (
            "pacman -S --noconfirm curl",
            "pacman -Rc --noconfirm openssl && pacman -S --noconfirm zsh",
            [("zsh", "5.9-1")],
        ),
        # -Rc curl takes the parent's git with it; git installed again needs curl fetched again
        # (perl stayed).
        (
            "pacman -S --noconfirm git",
            "pacman -Rc --noconfirm curl && pacman -S --noconfirm git",
            [("curl", "8.10.1-1"), ("git", "2.47.0-1")],
        ),
    ],
    ids=[
        "orphans",
        "orphans-piped",
        "orphans-xargs",
        "recursive",
        "cascade",
        "cascade-words",
        "cascade-parents-words",
        "cascade-then-again",
    ],
)
def test_orphans_and_cascades_removed_upstream_are_fetched_again(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
    parent: str,
    child: str,
    expected: list[tuple[str, str]],
) -> None:
    served, _ = archive
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(f"FROM archlinux:base AS base\nRUN {parent}\n\nFROM base\nRUN {child}\n")
    code, _, err = _pinner(
        capsys, hub, served, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    assert run_errors(dockerfile.read_text()) == []
    _, last = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert [(p.name, p.version) for p in last.packages] == expected
    assert not any("not followed" in note for note in last.notes)


def test_words_a_cascade_takes_in_the_same_stage_are_resolved_on_the_image_before_it(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
) -> None:
    served, _ = archive
    dockerfile = env / "Dockerfile"
    # curl is installed with the image's openssl 3.3.0-1; -Rc openssl takes both, and zsh
    # needs neither: the day's openssl is never fetched, so it is not recorded.
    dockerfile.write_text(
        "FROM archlinux:base\nRUN pacman -S --noconfirm curl"
        " && pacman -Rc --noconfirm openssl && pacman -S --noconfirm zsh\n"
    )
    args = ("lock", "--snapshot", "20261201T101500Z", str(dockerfile))
    code, _, err = _pinner(capsys, hub, served, *args)
    assert code == 0, err
    assert run_errors(dockerfile.read_text()) == []
    before = (env / "Dockerfile.lock").read_text()
    (stage,) = lockfile.parse(before, "lock").stages
    assert [(p.name, p.version) for p in stage.packages] == [("curl", "8.10.1-1"), ("zsh", "5.9-1")]
    code, _, err = _pinner(capsys, hub, served, *args)
    assert code == 0, err
    assert (env / "Dockerfile.lock").read_text() == before


@pytest.mark.parametrize(
    ("dockerfile_text", "context", "note"),
    [
        (
            "FROM archlinux:base\nRUN pacman -Syu --noconfirm\n"
            "COPY mirrorlist /etc/pacman.d/mirrorlist\nRUN pacman -S --noconfirm git\n",
            {"mirrorlist": "Server = https://example.org/$repo/os/$arch\n"},
            "copies a file to /etc/pacman.d/mirrorlist",
        ),
        (
            "FROM archlinux:base\nRUN pacman -Syu --noconfirm\n"
            "COPY rootfs/ /\nRUN pacman -S --noconfirm git\n",
            {"rootfs/etc/pacman.conf": "[options]\n"},
            "copies a tree to / that may hold repository files (`COPY rootfs/ /`)",
        ),
        # A mirrorlist copied before the first pacman RUN: the step, above that RUN, rewrites it.
        (
            "FROM archlinux:base\nCOPY mirrorlist /etc/pacman.d/mirrorlist\n"
            "RUN pacman -S --noconfirm git\n",
            {"mirrorlist": "Server = https://example.org/$repo/os/$arch\n"},
            None,
        ),
    ],
    ids=["mirrorlist-after", "tree-after", "mirrorlist-before"],
)
def test_a_copy_past_the_step_is_noted(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
    dockerfile_text: str,
    context: dict[str, str],
    note: str | None,
) -> None:
    served, _ = archive
    for name, text in context.items():
        (env / name).parent.mkdir(parents=True, exist_ok=True)
        (env / name).write_text(text)
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(dockerfile_text)
    code, _, err = _pinner(
        capsys, hub, served, "lock", "--snapshot", "20261201T101500Z", str(dockerfile)
    )
    assert code == 0, err
    assert run_errors(dockerfile.read_text()) == []
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    later = "later pacman RUNs may not use the snapshot"
    if note is None:
        assert not [n for n in stage.notes if later in n]
    else:
        assert stage.notes == (f"{note}; {later}", pacman._INSTALL_TIMES)
        assert f"Dockerfile:3: {note}; {later}" in err


# --------------------------------------------------------------------------- real RUN patterns
# Each case reproduces the pacman RUNs of a real Dockerfile (named above it) with the stand-in
# archive's packages: (Dockerfile, lines the locked file must hold, the lock's package names).
REAL_PATTERNS = {
    # luzifer-docker/aur-update Dockerfile: `pacman -Sy` alone, then `-S --needed` in the same
    # RUN, under `set -ex`.
    "aur-update": (
        "FROM archlinux:base\n"
        "RUN set -ex \\\n"
        " && pacman -Sy \\\n"
        " && pacman -S --noconfirm --needed \\\n"
        "      curl \\\n"
        "      git\n",
        [" && pacman -S --noconfirm --needed \\\n      curl \\\n      git \\\n"
         " && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n"],
        ["curl", "git", "perl"],
    ),
    # Jeremy-Gstein/arch-dev Dockerfile: `pacman -Syyu`, then a list whose last continuation
    # has a space after the backslash, which Docker still reads as one.
    "arch-dev": (
        "FROM archlinux:base\n"
        "RUN pacman -Syyu --noconfirm \\\n"
        "    && pacman -S --noconfirm \\\n"
        "    zsh \\\n"
        "    curl \\ \n"
        "    && pacman -Scc --noconfirm\n",
        ["    curl \\ \n    && pacman -Scc --noconfirm \\\n    && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n"],
        ["curl", "openssl", "zsh"],
    ),
    # QubesOS's Arch example: the keyring initialised before the upgrade, in one RUN.
    "pacman-key": (
        "FROM archlinux:base\n"
        "RUN pacman-key --init && pacman-key --populate && pacman -Syu --noconfirm curl\n",
        ["RUN pacman-key --init && pacman-key --populate && pacman -Syu --noconfirm curl \\\n"
         "    && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n"],
        ["curl", "openssl"],
    ),
    # A base-devel image's Dockerfile (makepkg refuses root): pacman run through sudo as the
    # build USER, with words a command substitution supplies, and orphans removed with
    # `-Rns $(pacman -Qtdq)`. The step goes above USER, the cleanup through sudo.
    "sudo-as-user": (
        "FROM archlinux:base\n"
        "RUN useradd -m build \\\n"
        "    && echo 'build ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/10-build\n"
        "USER build\n"
        "RUN sudo pacman --noconfirm -Syu \\\n"
        "    && sudo pacman --noconfirm -S --needed --overwrite \"*\" $(deps/get.sh run) git\n"
        "RUN sudo pacman -Rns --noconfirm $(pacman -Qtdq) || true\n",
        [
            " > /etc/pacman.d/mirrorlist\nUSER build\n",
            "$(deps/get.sh run) git \\\n    && sudo rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n",
            "RUN sudo pacman -Rns --noconfirm $(pacman -Qtdq) || true\n",
        ],
        ["curl", "git", "openssl", "perl"],
    ),
    # Many Arch Dockerfiles (found with the search index, e.g. a php-fpm image and a VNC
    # desktop image): the keyring first, then the whole upgrade, then the words. `-Scc
    # --noconfirm` answers no to emptying the cache: the cleanup is still appended.
    "keyring-first": (
        "FROM archlinux:base\n"
        "RUN pacman -Sy --noconfirm archlinux-keyring && \\\n"
        "    pacman -Syu --noconfirm\n"
        "RUN pacman -S --noconfirm git && \\\n"
        "    pacman -Scc --noconfirm\n",
        ["    pacman -Syu --noconfirm \\\n    && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n",
         "RUN pacman -S --noconfirm git && \\\n    pacman -Scc --noconfirm \\\n"
         "    && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n"],
        ["archlinux-keyring", "curl", "git", "openssl", "perl"],
    ),
    # u1and0's Arch images: orphans piped to xargs, taken as `-Rcns $(pacman -Qtdq)` (after the
    # stage's install: it counts for the stages FROM it).
    "qtdq-xargs": (
        "FROM archlinux:base\n"
        "RUN pacman -Syu --noconfirm curl &&\\\n"
        "    pacman -Qtdq | xargs -r pacman --noconfirm -Rcns\n",
        ["    pacman -Qtdq | xargs -r pacman --noconfirm -Rcns \\\n"
         "    && rm -rf /var/cache/pacman/pkg/* /var/log/pacman.log /var/cache/ldconfig/aux-cache\n"],
        ["curl", "openssl"],
    ),
    # The same image switching back to root for pacman: the step stays right above the RUN.
    "back-to-root": (
        "FROM archlinux:base\n"
        "USER build\n"
        "RUN makepkg --version\n"
        "USER root\n"
        "RUN pacman -Syu --noconfirm curl\n",
        ["USER root\n# pinner: pacman snapshot 20261201T101500Z\n"],
        ["curl", "openssl"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REAL_PATTERNS))
def test_real_run_patterns_lock_into_valid_shell(
    case: str,
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
) -> None:
    served, _ = archive
    text, expected, names = REAL_PATTERNS[case]
    dockerfile = env / "Dockerfile"
    dockerfile.write_text(text)
    args = ("lock", "--snapshot", "20261201T101500Z", str(dockerfile))
    code, _, err = _pinner(capsys, hub, served, *args)
    assert code == 0, err
    new = dockerfile.read_text()
    assert run_errors(new) == []
    assert new.count("# pinner: pacman snapshot 20261201T101500Z") == 1
    for line in expected:
        assert line in new
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert sorted(p.name for p in stage.packages) == names
    code, out, err = run(capsys, "check", str(dockerfile))
    assert code == 0, out + err
    before = (env / "Dockerfile.lock").read_text()
    code, _, err = _pinner(capsys, hub, served, *args)
    assert code == 0, err
    assert dockerfile.read_text() == new
    assert (env / "Dockerfile.lock").read_text() == before


@pytest.mark.parametrize(
    ("words", "refused"),
    [
        # core's zsh and extra's: two packages of one name, which pacman refuses.
        ("zsh extra/zsh", True),
        ("zsh=5.9.1-1 zsh", True),
        # The same package twice: pacman skips the second.
        ("zsh core/zsh", False),
        ("zsh 'zsh>5'", False),
    ],
)
def test_one_command_naming_a_package_twice_stops_lock_where_pacman_refuses(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    archive: tuple[Mirror, Path],
    env: Path,
    words: str,
    refused: bool,
) -> None:
    served, _ = archive
    dockerfile = env / "Dockerfile"
    text = f"FROM archlinux:base\nRUN pacman -Sy --noconfirm curl \\\n    {words}\n"
    dockerfile.write_text(text)
    args = ("lock", "--snapshot", "20261201T101500Z", str(dockerfile))
    code, _, err = _pinner(capsys, hub, served, *args)
    if not refused:
        assert code == 0, err
        return
    assert code == 1
    # The line of the word pacman stops at, as for a word the day's databases lack.
    assert err.splitlines() == [
        f"{dockerfile}:3: {words}: one pacman command names zsh twice, with different"
        " packages; pacman refuses it ('zsh': duplicate target)",
        "1 error(s); nothing written",
    ]
    assert dockerfile.read_text() == text
    assert not (env / "Dockerfile.lock").exists()
