"""pacman: install commands, the image's configuration (real files), the archive step, cleanup."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import shell_syntax
from arch_repo import (
    Pkg,
    install_local,
    local_desc,
    needs_pacman,
    pacman_in,
    pacman_print,
    repo_add,
)
from shell_syntax import checkers
from stand_in import Mirror

from pinner import outcome, syntax
from pinner.apt.shell import run_invocations
from pinner.errors import PackageError
from pinner.lockfile import LockedPackage, UnpinnedPackage
from pinner.managers import Mode, PackageArg, Resolved, Source, alpm, pacman
from pinner.managers.alpm import Depend
from pinner.managers.leftovers import mounted

ARCH = Path(__file__).parents[2] / "testdata" / "arch"

COMMANDS = [
    ("pacman -S --noconfirm --needed curl git", [("S", "", ["curl", "git"], [])]),
    ("pacman -Syu --noconfirm base-devel", [("S", "uy", ["base-devel"], [])]),
    ("pacman -Syyu --noconfirm --overwrite '*' python", [("S", "uy", ["python"], [])]),
    ("pacman --sync --refresh --noconfirm vim", [("S", "y", ["vim"], [])]),
    ("pacman -S --overwrite=/usr/lib/* --noconfirm vim", [("S", "", ["vim"], [])]),
    ("pacman -S -r /mnt --noconfirm vim", [("S", "", ["vim"], [])]),
    ("pacman -S --noconfirm core/glibc 'bash>=5'", [("S", "", ["glibc", "bash>=5"], [])]),
    ("pacman -Scc --noconfirm", [("S", "c", [], [])]),
    ("pacman -Ss vim", [("S", "s", [], [])]),
    ("pacman -Qi bash && pacman -Rns --noconfirm vim", [("Q", "i", [], []), ("R", "ns", [], [])]),
    (
        "pacman-key --init && pacman-key --populate archlinux"
        " && pacman -Sy --noconfirm archlinux-keyring && pacman -Su --noconfirm",
        [("S", "y", ["archlinux-keyring"], []), ("S", "u", [], [])],
    ),
    (
        "pacman -U --noconfirm https://example.org/foo-1-1-any.pkg.tar.zst",
        [
            (
                "U",
                "",
                [],
                [
                    "pacman -U installs a file or URL"
                    " (https://example.org/foo-1-1-any.pkg.tar.zst); not pinned by the snapshot"
                ],
            )
        ],
    ),
    (
        "sudo pacman -S --noconfirm $PACKAGES",
        [
            (
                "S",
                "",
                [],
                ["package list uses a variable or command ($PACKAGES); it is not recorded"],
            )
        ],
    ),
    (
        "pacman -S --noconfirm 'vim*'",
        [("S", "", [], ["package word 'vim*' is not a package name; it is not recorded"])],
    ),
    ("echo pacman -S vim", []),
]


def _installs(run: str) -> list[pacman.Target]:
    """The targets of the RUN's installing pacman commands, in order, each name once."""
    found: dict[str, pacman.Target] = {}
    for command in pacman.pacman_commands(run_invocations(run)):
        for target in command.targets if command.installs else ():
            found.setdefault(target.name, target)
    return list(found.values())


@pytest.mark.parametrize(("run", "expected"), COMMANDS, ids=[run for run, _ in COMMANDS])
def test_commands(run: str, expected: list[tuple[str, str, list[str], list[str]]]) -> None:
    found = pacman.pacman_commands(run_invocations(run))
    assert [
        (c.operation, "".join(sorted(c.flags)), [t.name for t in c.targets], list(c.notes))
        for c in found
    ] == expected


def test_target_spans_and_repo() -> None:
    run = "pacman -S --noconfirm core/glibc \\\n    curl"
    targets = _installs(run)
    assert [(t.name, t.repo, run[t.start : t.end]) for t in targets] == [
        ("glibc", "core", "core/glibc"),
        ("curl", None, "curl"),
    ]


def test_installs_each_name_once_and_skips_queries() -> None:
    run = "pacman -Sy --noconfirm git && pacman -Ss vim && pacman -S --noconfirm git curl"
    assert [t.name for t in _installs(run)] == ["git", "curl"]


def _image(conf: str = "pacman.conf", installed: tuple[Pkg, ...] = ()) -> dict[str, bytes]:
    files = {
        "/etc/pacman.conf": (ARCH / conf).read_bytes(),
        "/etc/pacman.d/mirrorlist": (ARCH / "mirrorlist").read_bytes(),
        "/etc/os-release": (ARCH / "os-release").read_bytes(),
    }
    for pkg in installed:
        files[f"/var/lib/pacman/local/{pkg.name}-{pkg.version}/desc"] = local_desc(pkg).encode()
    return files


@pytest.mark.parametrize("conf", ["pacman.conf", "pacman.conf-docker-rootfs"])
def test_configure_real_files(conf: str) -> None:
    installed = (Pkg("bash", "5.2.026-2", provides=["sh"]), Pkg("glibc", "2.40-1"))
    config = pacman.configure(_image(conf, installed), "amd64")
    assert isinstance(config, pacman.PacmanConfig)
    assert config.architecture == "x86_64"
    assert config.os_id == "arch"
    assert [r.name for r in config.repos] == ["core", "extra", "community"]
    mirrors = [
        "https://mirror.leaseweb.net/archlinux/$repo/os/$arch",
        "https://mirror.rackspace.com/archlinux/$repo/os/$arch",
    ]
    assert [url for _, url in config.repos[0].servers] == mirrors
    assert [(p.name, p.version, p.provides) for p in config.installed] == [
        ("bash", "5.2.026-2", (Depend("sh", "", ""),)),
        ("glibc", "2.40-1", ()),
    ]
    assert pacman.snapshot_repos(config) == (["core", "extra", "community"], [])
    assert pacman.signature_checks(config) == (
        "not checked: Arch Linux does not sign its databases; pacman checks each package"
    )


@pytest.mark.skipif(shutil.which("pacman-conf") is None, reason="needs pacman-conf")
def test_ignores_agree_with_pacman_conf(tmp_path: Path) -> None:
    """IgnorePkg and IgnoreGroup as pacman-conf reads them: [options] only, lines added up."""
    text = (
        (ARCH / "pacman.conf")
        .read_text()
        .replace("#IgnorePkg   =", "IgnorePkg = glibc linux*\nIgnorePkg = bash\n#")
        .replace("#IgnoreGroup =", "IgnoreGroup = base-devel\n#")
    )
    mirrorlist = tmp_path / "mirrorlist"
    mirrorlist.write_bytes((ARCH / "mirrorlist").read_bytes())
    conf = tmp_path / "pacman.conf"
    text = text.replace("/etc/pacman.d/mirrorlist", str(mirrorlist))
    conf.write_text(text + "[custom]\nServer = file:///srv/repo\nIgnorePkg = notread\n")
    found = pacman.parse_conf({"/etc/pacman.conf": conf.read_bytes()}).ignore

    def ask(key: str) -> list[str]:
        out = subprocess.run(
            ["pacman-conf", "--config", str(conf), key], capture_output=True, text=True
        )
        return out.stdout.splitlines()

    assert list(found.packages) == ask("IgnorePkg") == ["glibc", "linux*", "bash"]
    assert list(found.groups) == ask("IgnoreGroup") == ["base-devel"]


@pytest.mark.skipif(shutil.which("pacman-conf") is None, reason="needs pacman-conf")
def test_conf_agrees_with_pacman_conf(tmp_path: Path) -> None:
    """pacman-conf reads the same repositories and servers, in the same order."""
    mirrorlist = tmp_path / "mirrorlist"
    mirrorlist.write_bytes((ARCH / "mirrorlist").read_bytes())
    conf = tmp_path / "pacman.conf"
    text = (ARCH / "pacman.conf").read_text().replace("/etc/pacman.d/mirrorlist", str(mirrorlist))
    conf.write_text(text + "[custom]\nServer = file:///srv/repo\nSigLevel = Never\n")

    def ask(*args: str) -> list[str]:
        out = subprocess.run(
            ["pacman-conf", "--config", str(conf), *args], capture_output=True, text=True
        )
        return out.stdout.splitlines()

    files = {"/etc/pacman.conf": conf.read_bytes(), str(mirrorlist): mirrorlist.read_bytes()}
    repos = pacman.parse_conf(files).repos
    assert [r.name for r in repos] == ask("--repo-list")
    for repo in repos:
        servers = [
            f"Server = {url.replace('$repo', repo.name).replace('$arch', 'x86_64')}"
            for _, url in repo.servers
        ]
        assert servers == [line for line in ask("--repo", repo.name) if line.startswith("Server")]


CONFIGS = [
    ("[options]\nArchitecture = aarch64\n[core]\nInclude = /etc/pacman.d/mirrorlist\n", "amd64",
     "/etc/pacman.conf sets Architecture = aarch64, not x86_64"),
    ("[core]\nInclude = /etc/pacman.d/mirrorlist\n", "arm64",
     "archive.archlinux.org serves x86_64 alone, not arm64"),
    ("[core\xff]\n", "amd64", "/etc/pacman.conf: not UTF-8 text"),
]  # fmt: skip


@pytest.mark.parametrize(("conf", "arch", "why"), CONFIGS, ids=[w for _, _, w in CONFIGS])
def test_configure_refuses(conf: str, arch: str, why: str) -> None:
    files = {"/etc/pacman.conf": conf.encode("latin-1")}
    assert pacman.configure(files, arch) == why


def test_configure_without_pacman_conf() -> None:
    assert pacman.configure({}, "amd64") == "the base image has no /etc/pacman.conf"


def test_configure_bad_local_desc() -> None:
    files = _image()
    files["/var/lib/pacman/local/x-1-1/desc"] = b"%NAME%\n../x\n"
    assert pacman.configure(files, "amd64") == (
        "/var/lib/pacman/local/x-1-1/desc: %NAME% '../x' is not valid"
    )


REPOS = [
    ("[core]\nServer = https://example.org/$repo\nInclude = /etc/pacman.d/mirrorlist\n",
     [], ["[core] has servers from /etc/pacman.conf; it is not pinned"]),
    ("[core]\nInclude = /etc/pacman.d/other\n",
     [], ["[core] does not include /etc/pacman.d/mirrorlist; it is not pinned"]),
    ("[core]\nInclude = /etc/pacman.d/mirrorlist\n[chaotic-aur]\nInclude = /etc/pacman.d/chaotic\n",
     ["core"], ["[chaotic-aur] is not an Arch Linux repository; not pinned"]),
    ("[options]\nInclude = /etc/pacman.d/*.conf\n",
     ["extra"], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("conf", "pinned", "notes"), REPOS, ids=[n[0] if n else p[0] for _, p, n in REPOS]
)
def test_snapshot_repos(conf: str, pinned: list[str], notes: list[str]) -> None:
    files = {
        "/etc/pacman.conf": conf.encode(),
        "/etc/pacman.d/mirrorlist": b"Server = https://geo.mirror.pkgbuild.com/$repo/os/$arch\n",
        "/etc/pacman.d/other": b"Server = https://example.org/$repo/os/$arch\n",
        "/etc/pacman.d/extra.conf": b"[extra]\nInclude = /etc/pacman.d/mirrorlist\n",
    }
    config = pacman.configure(files, "amd64")
    assert isinstance(config, pacman.PacmanConfig)
    assert pacman.snapshot_repos(config) == (pinned, notes)


def test_signature_checks_off_is_reported() -> None:
    files = _image()
    files["/etc/pacman.conf"] += b"[custom]\nSigLevel = Optional TrustAll\nServer = file:///x\n"
    files["/etc/pacman.conf"] += b"[own]\nSigLevel = Never\nServer = file:///y\n"
    config = pacman.configure(files, "amd64")
    assert isinstance(config, pacman.PacmanConfig)
    assert pacman.signature_checks(config) == (
        "pacman.conf turns package signature checks off for [own]"
    )


def test_step() -> None:
    assert pacman.step("20261201T101500Z", {}) == (
        "echo 'Server = https://archive.archlinux.org/repos/2026/11/30/$repo/os/$arch'"
        " > /etc/pacman.d/mirrorlist"
    )
    assert pacman.step("20260101T000000Z", {"arch": "http://127.0.0.1:8080/arch/repos/"}) == (
        "echo 'Server = http://127.0.0.1:8080/arch/repos/2025/12/31/$repo/os/$arch'"
        " > /etc/pacman.d/mirrorlist"
    )
    assert pacman.database_url("core", "x86_64", "20261201T101500Z", {}) == (
        "https://archive.archlinux.org/repos/2026/11/30/core/os/x86_64/core.db"
    )


def test_step_parses_and_writes_one_line(tmp_path: Path) -> None:
    line = pacman.step("20261201T101500Z", {})
    for name, argv in checkers():
        assert syntax.errors(line, [(name, argv)]) == []
    target = tmp_path / "mirrorlist"
    subprocess.run(["sh", "-c", line.replace("/etc/pacman.d/mirrorlist", str(target))], check=True)
    assert target.read_text() == (
        "Server = https://archive.archlinux.org/repos/2026/11/30/$repo/os/$arch\n"
    )


@pytest.mark.parametrize("url", ["http://x/it's", "file:///srv", "http://x/a b", "http://x/$(id)"])
def test_step_refuses_mirror_it_cannot_quote(url: str) -> None:
    with pytest.raises(ValueError, match="cannot be written into a shell line"):
        pacman.step("20261201T101500Z", {"arch": url})


AUX = "/var/cache/ldconfig/aux-cache"
LEFT = f"/var/log/pacman.log {AUX}"
CLEANUPS = [
    ("pacman -Syu --noconfirm git", f"rm -rf /var/cache/pacman/pkg/* {LEFT}"),
    # The shell reads one word `pacman` where the text never spells it out.
    ("pac\\\nman -Syu --noconfirm git", f"rm -rf /var/cache/pacman/pkg/* {LEFT}"),
    # Real pacman keeps every cached file for -Scc --noconfirm (its [y/N] default) and on an empty
    # stdin, and the installed packages' files for -Sc; only `yes | pacman -Scc` empties it.
    (
        "pacman -S --noconfirm git && pacman -Scc --noconfirm",
        f"rm -rf /var/cache/pacman/pkg/* {LEFT}",
    ),
    (
        "pacman -S --noconfirm git && pacman -Sc --noconfirm",
        f"rm -rf /var/cache/pacman/pkg/* {LEFT}",
    ),
    ("pacman -S --noconfirm git && pacman -Scc", f"rm -rf /var/cache/pacman/pkg/* {LEFT}"),
    ("pacman -S --noconfirm git && yes | pacman -Sc", f"rm -rf /var/cache/pacman/pkg/* {LEFT}"),
    ("pacman -S --noconfirm git && yes | pacman -Scc", f"rm -rf {LEFT}"),
    ("pacman -S --noconfirm git && yes | sudo pacman -S -c --clean", f"rm -rf {LEFT}"),
    ("pacman -S --noconfirm git && yes y | pacman --sync -cc", f"rm -rf {LEFT}"),
    ("pacman -S --noconfirm git && rm -rf /var/cache/pacman/pkg/*", f"rm -rf {LEFT}"),
    ("--mount=type=cache,target=/var/cache/pacman/pkg pacman -S --noconfirm git", f"rm -rf {LEFT}"),
    ("pacman -Ss git", None),
    ("--mount=type=cache,dst=/var/cache/pacman pacman -S --noconfirm git", f"rm -rf {LEFT}"),
    (
        "--mount=type=cache,target=/var/cache/pacman/pkg --mount=type=tmpfs,target=/var/log"
        " pacman -S --noconfirm git",
        f"rm -rf {AUX}",
    ),
    ("pacman -S --noconfirm git && paccache -rk0", f"rm -rf {LEFT}"),
    ("pacman -S --noconfirm git && paccache -r -k 0", f"rm -rf {LEFT}"),
    # Each part is judged by the files pacman writes: folders, globs and parents count.
    (f"pacman -S --noconfirm git && rm -rf /var/cache/pacman /var/log/* {AUX}", None),
    (
        "pacman -S --noconfirm git && rm -rf /var/cache/pacman/pkg /var/log /var/cache/ldconfig",
        None,
    ),
    (
        f"pacman -Syu --noconfirm git && rm -rf /var/cache/pacman/pkg/*.zst {AUX}",
        "rm -rf /var/log/pacman.log",
    ),
    (
        f"pacman -S --noconfirm git && rm -f /var/log/pacman.log {AUX}",
        "rm -rf /var/cache/pacman/pkg/*",
    ),
    # pacman logs each command: an rm of its log before a later pacman does not count.
    (
        f"pacman -S --noconfirm git && rm -rf /var/log/pacman.log {AUX} && yes | pacman -Scc",
        f"rm -rf {LEFT}",
    ),
    ("pacman -S --noconfirm git && paccache -rk1", f"rm -rf /var/cache/pacman/pkg/* {LEFT}"),
    ("apt-get install -y git", None),
    (
        "pacman -U --noconfirm /tmp/foo-1-1-any.pkg.tar.zst",
        f"rm -rf /var/cache/pacman/pkg/* {LEFT}",
    ),
]


@pytest.mark.parametrize(("run", "expected"), CLEANUPS, ids=[run for run, _ in CLEANUPS])
def test_cleanup(run: str, expected: str | None) -> None:
    # run stands for a RUN's arguments: its --mount flags are read as the rewrite reads them.
    mounts = mounted(run)
    assert pacman.cleanup(run, run_invocations(run), mounts=mounts) == expected
    if expected is not None:
        assert shell_syntax.run_errors(f"RUN {run} && {expected}\n") == []
        again = f"{run} && {expected}"
        assert pacman.cleanup(again, run_invocations(again), mounts=mounts) is None


def test_include_glob_reads_files_in_order() -> None:
    files = {
        "/etc/pacman.conf": b"[options]\nInclude = /etc/pacman.d/repos/*.conf\n",
        "/etc/pacman.d/repos/b.conf": b"[extra]\nInclude = /etc/pacman.d/mirrorlist\n",
        "/etc/pacman.d/repos/a.conf": b"[core]\nInclude = /etc/pacman.d/mirrorlist\n",
        "/etc/pacman.d/mirrorlist": b"Server = https://geo.mirror.pkgbuild.com/$repo/os/$arch\n",
    }
    repos = pacman.parse_conf(files).repos
    assert [(r.name, len(r.servers)) for r in repos] == [("core", 1), ("extra", 1)]


def test_a_mirrorlist_of_90000_servers_is_read_whole() -> None:
    # Each Server line once copied the servers read so far: quadratic, minutes for this file.
    files = {
        "/etc/pacman.conf": b"[core]\nInclude = /etc/pacman.d/mirrorlist\n",
        "/etc/pacman.d/mirrorlist": b"Server = https://x.example/$repo/os/$arch\n" * 90_000,
    }
    repos = pacman.parse_conf(files).repos
    assert [(r.name, len(r.servers)) for r in repos] == [("core", 90_000)]


def test_an_include_of_a_megabyte_of_brackets_names_no_file() -> None:
    # fnmatch.translate alone took hours over this glob.
    files = {"/etc/pacman.conf": b"[core]\nInclude = /etc/pacman.d/m" + b"[" * 1_000_000 + b"\n"}
    config = pacman.configure(files, "amd64")
    assert isinstance(config, pacman.PacmanConfig)
    assert [(r.name, r.servers) for r in config.repos] == [("core", ())]


def test_a_mostly_blank_file_included_2000_times_is_split_once() -> None:
    # Blank lines do not count toward the cap; splitting this file at each Include took 10 s.
    files = {
        "/etc/pacman.conf": b"[core]\n" + b"Include = /etc/pacman.d/mirrorlist\n" * 2000,
        "/etc/pacman.d/mirrorlist": b"Server = https://x.example/$repo/os/$arch\n" + b"\n" * 50_000,
    }
    repos = pacman.parse_conf(files).repos
    assert [(r.name, len(r.servers), len(r.includes)) for r in repos] == [("core", 2000, 2000)]


def test_includes_that_multiply_the_lines_read_are_refused() -> None:
    # 40 Include lines a level, four levels: 2.5 million lines for pacman.conf's 41.
    files = {
        "/etc/pacman.conf": b"[core]\n" + b"Include = /etc/pacman.d/b\n" * 40,
        "/etc/pacman.d/b": b"Include = /etc/pacman.d/c\n" * 40,
        "/etc/pacman.d/c": b"Include = /etc/pacman.d/d\n" * 40,
        "/etc/pacman.d/d": b"Server = https://x.example/$repo/os/$arch\n" * 40,
    }
    assert pacman.configure(files, "amd64") == (
        "/etc/pacman.conf: over 100000 lines with its includes"
    )


CORE = [
    Pkg("glibc", "2.40-1"),
    Pkg("bash", "5.2.026-2", depends=["glibc"], provides=["sh"]),
    Pkg("curl", "8.10.1-1", depends=["glibc"]),
]
EXTRA = [Pkg("git", "2.47.0-1", depends=["curl", "perl", "sh"]), Pkg("perl", "5.40.0-1")]


@pytest.mark.oracle
@needs_pacman
def test_real_pacman_follows_the_step_to_the_archive(tmp_path: Path) -> None:
    """pacman, pointed by the step at a stand-in archive, fetches what pinner resolves."""
    repos = tmp_path / "archive" / "repos"
    for name, pkgs in (("core", CORE), ("extra", EXTRA)):
        repo_add(repos / "2026" / "11" / "30" / name / "os" / "x86_64", name, pkgs)
    # The snapshot's own day is not complete at the snapshot time: the step must not name it.
    repo_add(repos / "2026" / "12" / "01" / "core" / "os" / "x86_64", "core", [Pkg("curl", "9-1")])
    etc = tmp_path / "etc"
    etc.mkdir()
    conf = etc / "pacman.conf"
    real = (ARCH / "pacman.conf-docker-rootfs").read_text()
    # The test's packages are unsigned: the oracle's pacman checks their checksums alone.
    real = real.replace("SigLevel = Required DatabaseOptional", "SigLevel = Optional TrustAll")
    conf.write_text(
        real.replace("/etc/pacman.d/mirrorlist", str(etc / "mirrorlist")).split("[community]")[0]
    )
    snapshot = "20261201T101500Z"
    with Mirror(root=tmp_path / "archive") as archive:
        mirrors = {"arch": f"{archive.url}/repos"}
        line = pacman.step(snapshot, mirrors).replace(pacman.MIRRORLIST, str(etc / "mirrorlist"))
        subprocess.run(["sh", "-c", line], check=True)
        root = tmp_path / "root"
        pacman_in(root, conf, "-Sy")
        pacman_in(root, conf, "-Sw", "git")
        fetched = {
            name: alpm.parse_database(
                httpx.get(pacman.database_url(name, "x86_64", snapshot, mirrors)).content
            )
            for name in ("core", "extra")
        }
    assert "/repos/2026/11/30/core/os/x86_64/core.db" in archive.log
    assert not any("/2026/12/01/" in path for path in archive.log)
    found = alpm.resolve([alpm.Repository(n, p) for n, p in fetched.items()], ["git"])
    cache = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "cache").iterdir()}
    assert {p.filename: p.sha256 for _, p in found.packages} == cache
    assert sorted(p.name for _, p in found.packages) == ["bash", "curl", "git", "glibc", "perl"]


def test_names_from_the_image_are_printed_without_control_characters() -> None:
    files = _image()
    files["/etc/pacman.conf"] += b"[evil\x1b[2Jrepo]\nServer = file:///x\n"
    config = pacman.configure(files, "amd64")
    assert isinstance(config, pacman.PacmanConfig)
    _, notes = pacman.snapshot_repos(config)
    assert notes == ["[evil [2Jrepo] is not an Arch Linux repository; not pinned"]


CHANGES = [
    ("reflector --country DE --save /etc/pacman.d/mirrorlist", "runs reflector, which rewrites /etc/pacman.d/mirrorlist; later pacman RUNs may not use the snapshot"),
    ("printf '[multilib]\\nInclude = /etc/pacman.d/mirrorlist\\n' >> /etc/pacman.conf", "changes /etc/pacman.conf or /etc/pacman.d/mirrorlist; later pacman RUNs may not use the snapshot"),
    ("sed -i 's/^#Color/Color/' /etc/pacman.conf", "changes /etc/pacman.conf or /etc/pacman.d/mirrorlist; later pacman RUNs may not use the snapshot"),
    ("pacman -S --noconfirm git", None),
    ("cat /etc/pacman.d/mirrorlist", None),
]  # fmt: skip


@pytest.mark.parametrize(("run", "expected"), CHANGES, ids=[run for run, _ in CHANGES])
def test_config_changes(run: str, expected: str | None) -> None:
    assert pacman.config_changes(run) == expected


def test_read_install_keeps_the_named_repository() -> None:
    (invocation,) = run_invocations("pacman -S --noconfirm extra/zsh 'bash>=5'", "\\")
    install = pacman.read_install(invocation)
    assert install is not None
    assert [(p.name, p.constraint, p.repositories) for p in install.packages] == [
        ("zsh", None, ("extra",)),
        ("bash", ">=5", ()),
    ]


# zsh in both: a bare `zsh` is core's (repository order), `extra/zsh` is extra's.
NAMED_CORE = [*CORE, Pkg("zsh", "5.9-1", depends=["glibc"])]
NAMED_EXTRA = [
    *EXTRA,
    Pkg("zsh", "5.9.1-1", depends=["glibc", "pcre2"]),
    Pkg("pcre2", "10.44-1"),
    # A dependency with an epoch that no repository serves.
    Pkg("orphaned", "1.0-1", depends=["glibc", "libgone>=1:2.0"]),
]
SNAPSHOT = "20261201T101500Z"
# The image's real pacman.conf without [community] (gone from the archive since 2024), plus a
# third party's repository the step leaves alone.
NAMED_CONF = (ARCH / "pacman.conf").read_text().split("[community]")[0] + (
    "[custom]\nServer = https://example.org/$repo\n"
)


@pytest.fixture(scope="module")
def named_repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("repo-add") is None:
        pytest.skip("needs repo-add (Debian: pacman-package-manager)")
    root = tmp_path_factory.mktemp("named")
    for name, pkgs in (("core", NAMED_CORE), ("extra", NAMED_EXTRA)):
        repo_add(root / name, name, pkgs)
    return {"core": root / "core", "extra": root / "extra"}


def _resolve(repos: dict[str, Path], words: str) -> Resolved:
    """Pacman.resolve over the repo-add made databases, for the words of one pacman -S."""
    mirrors = {"arch": "https://archive.example/repos"}

    async def fetch(url: str, subject: str, limit: int) -> bytes:
        for name, directory in repos.items():
            if url == pacman.database_url(name, "x86_64", SNAPSHOT, mirrors):
                return (directory / f"{name}.db.tar.gz").read_bytes()
        raise AssertionError(url)

    files = _image(installed=(Pkg("glibc", "2.40-1"),))
    files["/etc/pacman.conf"] = NAMED_CONF.encode()
    config = pacman.configure(files, "amd64")
    assert isinstance(config, pacman.PacmanConfig)
    (invocation,) = run_invocations(f"pacman -S --noconfirm {words}", "\\")
    install = pacman.read_install(invocation)
    assert install is not None
    return asyncio.run(
        pacman.Pacman().resolve(Source(fetch, config, mirrors), install.packages, Mode(SNAPSHOT))
    )


NAMED = ["extra/zsh", "zsh", "core/curl extra/git", "extra/zsh git"]


@needs_pacman
@pytest.mark.parametrize("words", NAMED, ids=NAMED)
def test_named_repository_is_honoured_and_recorded(
    named_repos: dict[str, Path], tmp_path: Path, words: str
) -> None:
    """The lock's files come from the repositories real pacman takes them from (`pacman -Sp`)."""
    resolved = _resolve(named_repos, words)
    install_local(tmp_path, [Pkg("glibc", "2.40-1")])
    expected = pacman_print(tmp_path, list(named_repos.items()), words.split())
    assert resolved.unpinned == ()
    found = [(p.filename.split("/")[0], p.name, p.version) for p in resolved.packages]
    assert sorted(found) == expected
    for package in resolved.packages:
        file = f"{package.name}-{package.version}-x86_64.pkg.tar.gz"
        assert package.filename.endswith(f"/os/x86_64/{file}")
        assert pacman.MANAGER.checked(package) == package


def test_named_repository_the_image_lacks_or_the_step_leaves_alone(
    named_repos: dict[str, Path],
) -> None:
    with pytest.raises(PackageError) as raised:
        _resolve(named_repos, "core-testing/glibc")
    assert (raised.value.package, str(raised.value)) == (
        "glibc",
        "core-testing/glibc: /etc/pacman.conf has no [core-testing]",
    )
    with pytest.raises(PackageError) as raised:
        _resolve(named_repos, "core/git")
    assert (raised.value.package, str(raised.value)) == (
        "git",
        "core/git: not in core of 2026/11/30",
    )
    resolved = _resolve(named_repos, "custom/tool curl")
    assert resolved.unpinned == (
        UnpinnedPackage("tool", "not pinned: [custom] is not on the snapshot's mirrorlist"),
    )
    assert [p.filename for p in resolved.packages] == [
        "core/os/x86_64/curl-8.10.1-1-x86_64.pkg.tar.gz"
    ]
    resolved = _resolve(named_repos, "orphaned")
    assert resolved.unpinned == (
        UnpinnedPackage("libgone>=1:2.0", "not pinned: required by orphaned, no repository has it"),
    )


LOCKED = [
    ("core/os/x86_64/curl-8.10.1-1-x86_64.pkg.tar.zst", True),
    ("curl-8.10.1-1-x86_64.pkg.tar.zst", True),  # written before the repository was recorded
    ("custom/os/x86_64/curl-8.10.1-1-x86_64.pkg.tar.zst", False),
    ("core/os/aarch64/curl-8.10.1-1-x86_64.pkg.tar.zst", False),
    ("../os/x86_64/curl-8.10.1-1-x86_64.pkg.tar.zst", False),
    ("core/x86_64/curl-8.10.1-1-x86_64.pkg.tar.zst", False),
]


@pytest.mark.parametrize(("filename", "valid"), LOCKED, ids=[f for f, _ in LOCKED])
def test_checked_filenames(filename: str, valid: bool) -> None:
    package = LockedPackage("curl", "x86_64", "8.10.1-1", "a" * 64, filename)
    if valid:
        assert pacman.MANAGER.checked(package) == package
    else:
        with pytest.raises(ValueError):
            pacman.MANAGER.checked(package)


def test_read_install_says_when_the_command_upgrades() -> None:
    found = [
        pacman.read_install(invocation)
        for invocation in run_invocations(
            "pacman -Sy --noconfirm archlinux-keyring && pacman -Su --noconfirm"
            " && pacman -S --noconfirm git",
            "\\",
        )
    ]
    assert [(i.upgrades, [p.name for p in i.packages]) for i in found if i is not None] == [
        (False, ["archlinux-keyring"]),
        (True, []),
        (False, ["git"]),
    ]


# The image's installed set: glibc and curl older than the day's, bash as the day's, a local
# build no repository has, and netkit-base, which core's inetutils replaces.
UPGRADE_INSTALLED = [
    Pkg("glibc", "2.39-1"),
    Pkg("bash", "5.2.026-2", depends=["glibc"], provides=["sh"]),
    Pkg("curl", "8.9.0-1", depends=["glibc"]),
    Pkg("mytool", "1.0-1"),
    Pkg("netkit-base", "0.17-1"),
]
UPGRADE_CORE = [
    *CORE[:2],
    Pkg("curl", "8.10.1-1", depends=["glibc", "openssl"]),
    Pkg("openssl", "3.4.0-1", depends=["glibc"]),
    Pkg("inetutils", "2.5-1", depends=["glibc"], replaces=["netkit-base"]),
]


@pytest.mark.oracle
@needs_pacman
@pytest.mark.parametrize("words", ["", "git"])
def test_upgrade_matches_real_pacman_at_the_archive(tmp_path: Path, words: str) -> None:
    """What `pacman -Syu [git]` fetches, per real `pacman -Sup` following the step to a stand-in
    archive from the same installed set, is what Pacman.resolve records."""
    repos = tmp_path / "archive" / "repos"
    for name, pkgs in (("core", UPGRADE_CORE), ("extra", EXTRA)):
        repo_add(repos / "2026" / "11" / "30" / name / "os" / "x86_64", name, pkgs)
    etc = tmp_path / "etc"
    etc.mkdir()
    real = (ARCH / "pacman.conf-docker-rootfs").read_text().split("[community]")[0]
    conf = etc / "pacman.conf"
    conf.write_text(
        real.replace(
            "SigLevel = Required DatabaseOptional", "SigLevel = Optional TrustAll"
        ).replace(pacman.MIRRORLIST, str(etc / "mirrorlist"))
    )
    root = tmp_path / "root"
    install_local(root, UPGRADE_INSTALLED)
    with Mirror(root=tmp_path / "archive") as archive:
        mirrors = {"arch": f"{archive.url}/repos"}
        line = pacman.step(SNAPSHOT, mirrors).replace(pacman.MIRRORLIST, str(etc / "mirrorlist"))
        subprocess.run(["sh", "-c", line], check=True)
        pacman_in(root, conf, "-Sy")
        printed = pacman_in(root, conf, "-Sup", "--print-format", "%r %n %v %l", *words.split())

        async def fetch(url: str, subject: str, limit: int) -> bytes:
            async with httpx.AsyncClient() as client:
                return (await client.get(url)).raise_for_status().content

        files = _image("pacman.conf-docker-rootfs", tuple(UPGRADE_INSTALLED))
        files["/etc/pacman.conf"] = real.encode()
        config = pacman.configure(files, "amd64")
        assert isinstance(config, pacman.PacmanConfig)
        (invocation,) = run_invocations(f"pacman -Syu --noconfirm {words}", "\\")
        install = pacman.read_install(invocation)
        assert install is not None and install.upgrades
        plain = asyncio.run(
            pacman.Pacman().resolve(
                Source(fetch, config, mirrors), install.packages, Mode(SNAPSHOT)
            )
        )
        upgraded = asyncio.run(
            pacman.Pacman().resolve(
                Source(fetch, config, mirrors),
                install.packages,
                Mode(SNAPSHOT, upgrade=install.upgrades),
            )
        )
    expected = sorted(tuple(line.split(" ")) for line in printed.splitlines())
    assert expected  # curl, glibc and inetutils at least
    # %l is the URL pacman downloads: the lock's filename is its path under the day's archive.
    day = f"{mirrors['arch']}/2026/11/30"
    found = sorted(
        (p.filename.split("/")[0], p.name, p.version, f"{day}/{p.filename}")
        for p in upgraded.packages
    )
    assert found == expected
    # Without the upgrade only the named words and what the installed set lacks are fetched.
    assert {p.name for p in plain.packages} == ({"git", "perl"} if words else set())


@needs_pacman
def test_needed_skips_what_the_image_has_at_the_days_version(
    named_repos: dict[str, Path],
) -> None:
    # The image has glibc 2.40-1, the version core serves: --needed fetches zsh alone.
    mirrors = {"arch": "https://archive.example/repos"}

    async def fetch(url: str, subject: str, limit: int) -> bytes:
        for name, directory in named_repos.items():
            if url == pacman.database_url(name, "x86_64", SNAPSHOT, mirrors):
                return (directory / f"{name}.db.tar.gz").read_bytes()
        raise AssertionError(url)

    files = _image(installed=(Pkg("glibc", "2.40-1"),))
    files["/etc/pacman.conf"] = NAMED_CONF.encode()
    config = pacman.configure(files, "amd64")
    assert isinstance(config, pacman.PacmanConfig)
    found = {}
    for flag in ("--needed", ""):
        manager = pacman.Pacman()
        (invocation,) = run_invocations(f"pacman -S {flag} --noconfirm glibc core/zsh", "\\")
        install = manager.installs(invocation)
        assert install is not None
        resolved = asyncio.run(
            manager.resolve(Source(fetch, config, mirrors), install.packages, Mode(SNAPSHOT))
        )
        found[flag] = [(p.name, p.version) for p in resolved.packages]
    assert found == {"--needed": [("zsh", "5.9-1")], "": [("glibc", "2.40-1"), ("zsh", "5.9-1")]}


REMOVALS = [
    ("pacman -R --noconfirm git", (("git",), False, False, False)),
    ("pacman -Rns --noconfirm git perl", (("git", "perl"), True, False, False)),
    ("pacman --remove --recursive --noconfirm core/zsh", (("zsh",), True, False, False)),
    ("pacman -Rns --noconfirm $(pacman -Qtdq)", ((), True, False, True)),
    ("pacman -Rns --noconfirm `pacman -Qdtq`", ((), True, False, True)),
    ("pacman -Rns --noconfirm $(pacman -Qq)", ((), True, False, False)),
    # The orphans piped in: "-" reads the targets from stdin, xargs puts them on the command.
    ("pacman -Qtdq | pacman -Rns --noconfirm -", ((), True, False, True)),
    ("sudo pacman -Qdtq | xargs -r sudo pacman --noconfirm -Rcns", ((), True, True, True)),
    ("pacman -Qq | pacman -Rns --noconfirm -", ((), True, False, False)),
    ("echo pacman -Qtdq | pacman -Rns --noconfirm -", ((), True, False, False)),
    ("pacman -Qtdq || pacman -Rns --noconfirm -", ((), True, False, False)),
    ("pacman -Qtdq; pacman -Rns --noconfirm -", ((), True, False, False)),
    ("pacman -Qtdq | pacman -Rns --noconfirm git", (("git",), True, False, False)),
    ("pacman -Rcns --noconfirm glibc", (("glibc",), True, True, False)),
    ("pacman -R --cascade --noconfirm glibc", (("glibc",), False, True, False)),
    ("pacman -Rp git", None),
    ("pacman -S --noconfirm git", None),
]


@pytest.mark.parametrize(("run", "expected"), REMOVALS, ids=[r for r, _ in REMOVALS])
def test_read_removal(run: str, expected: tuple[tuple[str, ...], bool, bool, bool] | None) -> None:
    *_, invocation = run_invocations(run, "\\")
    found = pacman.read_removal(invocation)
    assert (tuple(found) if found is not None else None) == expected


def test_an_upgrade_holding_packages_back_on_the_command_line_is_not_recorded() -> None:
    (held,) = run_invocations("pacman -Syu --noconfirm --ignore=linux git", "\\")
    (plain,) = run_invocations("pacman -Syu --noconfirm git", "\\")
    found = pacman.read_install(held)
    assert found is not None and not found.upgrades
    assert [p.name for p in found.packages] == ["git"]
    assert found.notes == ("pacman -Su --ignore: the upgraded versions are not recorded",)
    every = pacman.read_install(plain)
    assert every is not None and every.upgrades


def _git_and_zsh_installed(
    named_repos: dict[str, Path], tmp_path: Path
) -> tuple[Resolved, Resolved, Path]:
    """A local database in tmp_path as `pacman -S git zsh` leaves it (the base and the words
    installed explicitly, their dependencies as dependencies): the resolutions of `git zsh` and
    of `zsh`, and a pacman.conf real pacman can remove with."""
    both = _resolve(named_repos, "git zsh")
    left = _resolve(named_repos, "zsh")
    served = {(p.name, p.version): p for p in [*NAMED_CORE, *NAMED_EXTRA]}
    installed = [Pkg("glibc", "2.40-1"), *(served[p.name, p.version] for p in both.packages)]
    install_local(tmp_path, installed)
    for pkg in installed:
        reason = "1" if pkg.name in {p.name for p in both.packages} - {"git", "zsh"} else "0"
        desc = tmp_path / "db" / "local" / f"{pkg.name}-{pkg.version}" / "desc"
        desc.write_text(desc.read_text().replace("%REASON%\n1\n", f"%REASON%\n{reason}\n"))
    conf = tmp_path / "pacman.conf"
    conf.write_text("[options]\nArchitecture = x86_64\n")
    return both, left, conf


@pytest.mark.oracle
@needs_pacman
@pytest.mark.parametrize("flags", ["-R", "-Rs", "-Rns"])
def test_removal_leaves_what_real_pacman_leaves(
    named_repos: dict[str, Path], tmp_path: Path, flags: str
) -> None:
    """After `pacman -S git zsh`, `pacman -R git` takes git alone and `-Rs git` also the
    dependencies zsh does not need (real `pacman -Rp`), as pinner.outcome's removals assume:
    -R keeps the records of git's dependencies, -Rs keeps only the closure of the words left."""
    both, left, conf = _git_and_zsh_installed(named_repos, tmp_path)
    # -n keeps no .pacsave files, which pacman will not combine with --print.
    printing = flags.replace("n", "") + "p"
    printed = pacman_in(tmp_path, conf, printing, "--print-format", "%n", "git").split()
    (invocation,) = run_invocations(f"pacman {flags} --noconfirm git", "\\")
    removal = pacman.read_removal(invocation)
    assert removal is not None and removal.names == ("git",)
    if removal.recursive:
        kept = {p.name for p in left.packages}
    else:
        kept = {p.name for p in both.packages} - {"git"}
    assert sorted(printed) == sorted({p.name for p in both.packages} - kept)
    assert ("perl" in printed) == (flags != "-R")


def _local(pkgs: list[Pkg]) -> list[alpm.Package]:
    return [alpm.parse_desc(local_desc(pkg), sync=False) for pkg in pkgs]


def test_removal_walks_a_chain_of_5000_dependencies_once() -> None:
    # Each needs the next, all installed as dependencies. `pacman -Rs a0` and the orphans
    # of `pacman -R b` asked every package of every dependency per step: cubic, hours here.
    chain = [Pkg(f"a{i}", "1-1", depends=[f"a{i + 1}"] if i < 4999 else []) for i in range(5000)]
    local = _local([*chain, Pkg("b", "1-1", depends=["a2500"])])
    assert all(p.dependency for p in local)
    assert alpm.after_removal(local, {"a0"}, recursive={"a0"}) == local[2500:]
    assert alpm.after_removal(local, {"b"}, orphans=True) == []
    # What -Rc follows from a word: every package of the chain, found by name, not by a scan.
    assert alpm.needs(local, ["a0"]) == {"a0": frozenset(f"a{i}" for i in range(5000))}


@pytest.mark.oracle
@needs_pacman
@pytest.mark.parametrize("target", ["perl", "curl", "bash", "glibc", "zsh"])
def test_cascade_removes_what_real_pacman_removes(
    named_repos: dict[str, Path], tmp_path: Path, target: str
) -> None:
    """After `pacman -S git zsh`, real `pacman -Rcp TARGET` prints what alpm.after_removal takes
    with cascaded names: the target and every installed package that needs it, in turn."""
    both = _resolve(named_repos, "git zsh")
    served = {(p.name, p.version): p for p in [*NAMED_CORE, *NAMED_EXTRA]}
    installed = [Pkg("glibc", "2.40-1"), *(served[p.name, p.version] for p in both.packages)]
    install_local(tmp_path, installed)
    conf = tmp_path / "pacman.conf"
    conf.write_text("[options]\nArchitecture = x86_64\n")
    printed = pacman_in(tmp_path, conf, "-Rcp", "--print-format", "%n", target).split()
    (invocation,) = run_invocations(f"pacman -Rc --noconfirm {target}", "\\")
    removal = pacman.read_removal(invocation)
    assert removal is not None and removal.cascade
    every = {p.name for p in installed}
    left = alpm.after_removal(_local(installed), {target}, {target})
    assert sorted(printed) == sorted(every - {p.name for p in left})
    # alpm.needs, which follows -Rc to the words installed before it, takes the same packages.
    needs = alpm.needs(_local(installed), every)
    assert sorted(printed) == sorted(n for n in every if target in needs[n])
    # Without -c, the target alone goes.
    assert every - {p.name for p in alpm.after_removal(_local(installed), {target})} == {target}
    assert len(printed) > 1 or target == "zsh"


@pytest.mark.oracle
@needs_pacman
def test_orphans_removed_are_what_the_words_left_do_not_need(
    named_repos: dict[str, Path], tmp_path: Path
) -> None:
    """`pacman -S git zsh; pacman -R git; pacman -Rns $(pacman -Qtdq)` with real pacman leaves
    the base and zsh's closure, which is what pinner resolves again from the words left."""
    _, left, conf = _git_and_zsh_installed(named_repos, tmp_path)
    pacman_in(tmp_path, conf, "-R", "git")
    orphans = pacman_in(tmp_path, conf, "-Qtdq").split()
    assert orphans  # git's dependencies zsh does not need
    pacman_in(tmp_path, conf, "-Rns", *orphans)
    remaining = pacman_in(tmp_path, conf, "-Qq").split()
    assert sorted(remaining) == sorted({"glibc", *(p.name for p in left.packages)})


@pytest.mark.oracle
@needs_pacman
@pytest.mark.parametrize("target", ["git", "zsh"])
def test_recursive_removal_of_a_base_package_and_orphans_as_real_pacman_has_them(
    named_repos: dict[str, Path], tmp_path: Path, target: str
) -> None:
    """An image whose git and zsh came with it (explicitly installed, their dependencies as
    dependencies, plus an orphan): real `pacman -Rsp` and `-Qtdq` print what
    alpm.after_removal takes with recursive names and with orphans."""
    both = _resolve(named_repos, "git zsh")
    served = {(p.name, p.version): p for p in [*NAMED_CORE, *NAMED_EXTRA]}
    orphan = Pkg("lonely", "1.0-1", depends=["glibc"])
    installed = [
        Pkg("glibc", "2.40-1"),
        orphan,
        *(served[p.name, p.version] for p in both.packages),
    ]
    install_local(tmp_path, installed)
    explicit = {"glibc", "git", "zsh"}
    for pkg in installed:
        reason = "0" if pkg.name in explicit else "1"
        desc = tmp_path / "db" / "local" / f"{pkg.name}-{pkg.version}" / "desc"
        desc.write_text(desc.read_text().replace("%REASON%\n1\n", f"%REASON%\n{reason}\n"))
    conf = tmp_path / "pacman.conf"
    conf.write_text("[options]\nArchitecture = x86_64\n")
    local = [
        alpm.parse_desc(
            (tmp_path / "db" / "local" / f"{p.name}-{p.version}" / "desc").read_text(), sync=False
        )
        for p in installed
    ]
    every = {p.name for p in installed}
    printed = pacman_in(tmp_path, conf, "-Rsp", "--print-format", "%n", target).split()
    left = alpm.after_removal(local, {target}, recursive={target})
    assert sorted(printed) == sorted(every - {p.name for p in left})
    assert len(printed) > 1 or target == "zsh"  # git: the dependencies only it needed
    orphans = pacman_in(tmp_path, conf, "-Qtdq").split()
    assert orphans == ["lonely"]
    assert every - {p.name for p in alpm.after_removal(local, set(), orphans=True)} == {"lonely"}


@pytest.mark.oracle
@needs_pacman
@pytest.mark.parametrize("targets", [["dash"], ["zsh"], ["dash", "zsh"]], ids=str)
def test_cascade_keeps_what_another_provider_still_serves(
    tmp_path: Path, targets: list[str]
) -> None:
    """dash and zsh both provide sh, which app needs: real `pacman -Rcp dash` leaves app (zsh
    still meets sh), removing both takes it; alpm.needs with the cascade agrees."""
    installed = [
        Pkg("zsh", "5.9-1", provides=["sh"]),
        Pkg("dash", "0.5.12-1", provides=["sh"]),
        Pkg("app", "1.0-1", depends=["sh"]),
    ]
    install_local(tmp_path, installed)
    conf = tmp_path / "pacman.conf"
    conf.write_text("[options]\nArchitecture = x86_64\n")
    printed = pacman_in(tmp_path, conf, "-Rcp", "--print-format", "%n", *targets).split()
    needs = alpm.needs(_local(installed), ["app"])
    live = [PackageArg("app", None, 0, 3)]
    taken = outcome._cascaded_words(live, targets, needs)
    assert sorted(printed) == sorted([*targets, *taken])
    assert ("app" in printed) == (len(targets) == 2)
