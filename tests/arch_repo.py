"""Arch Linux repositories made by the real tools: packages with a .PKGINFO, repo-add, pacman."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pytest
from testcache import copy_tree, stored_tree, tools_stamp, tree_stamp

needs_pacman = pytest.mark.skipif(
    not (shutil.which("repo-add") and shutil.which("pacman")),
    reason="needs repo-add and pacman (Debian: pacman-package-manager)",
)


class Pkg(NamedTuple):
    """A package to build: what its .PKGINFO says."""

    name: str
    version: str
    depends: Sequence[str] = ()
    provides: Sequence[str] = ()
    groups: Sequence[str] = ()
    arch: str = "x86_64"
    replaces: Sequence[str] = ()

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.arch}.pkg.tar.gz"


def _tar_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), 1_700_000_000
    archive.addfile(info, io.BytesIO(data))


def build(directory: Path, pkg: Pkg) -> Path:
    """A package file holding only its .PKGINFO (makepkg's metadata; repo-add reads nothing else)."""
    lines = [
        f"pkgname = {pkg.name}",
        f"pkgbase = {pkg.name}",
        f"pkgver = {pkg.version}",
        "pkgdesc = a package built by the tests",
        "builddate = 1700000000",
        "packager = Tests <tests@example.org>",
        "size = 4",
        f"arch = {pkg.arch}",
        "license = MIT",
        *(f"group = {g}" for g in pkg.groups),
        *(f"provides = {p}" for p in pkg.provides),
        *(f"replaces = {r}" for r in pkg.replaces),
        *(f"depend = {d}" for d in pkg.depends),
    ]
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        _tar_member(archive, ".PKGINFO", ("\n".join(lines) + "\n").encode())
        _tar_member(archive, "usr/share/doc/" + pkg.name, b"doc\n")
    path = directory / pkg.filename
    path.write_bytes(gzip.compress(stream.getvalue(), mtime=0))
    return path


def repo_add(
    directory: Path,
    repo: str,
    pkgs: Sequence[Pkg],
    suffix: str = ".tar.gz",
    gnupghome: Path | None = None,
) -> bytes:
    """Build pkgs into directory and index them with repo-add: the database's bytes.

    With gnupghome, each package is signed with that keyring's key first (PKG.sig beside it), so
    repo-add records the signature in the database as Arch's databases do (%PGPSIG%).
    Without gnupghome the folder repo-add leaves is kept in the test cache (tests/testcache.py),
    keyed by the folder before, the packages and repo-add's build: the same repository is made
    once. Signed ones are made each time, with the key of the run.
    """
    database = directory / f"{repo}.db{suffix}"
    if gnupghome is None:
        key = repr((tree_stamp(directory), repo, pkgs, suffix, tools_stamp("repo-add", "bsdtar")))
        made = stored_tree(
            "pacman-repos", key, lambda to: _repo_add(to, directory, repo, pkgs, suffix)
        )
        copy_tree(made, directory)
        return database.read_bytes()
    directory.mkdir(parents=True, exist_ok=True)
    files = [str(build(directory, pkg)) for pkg in pkgs]
    for path in files:
        _gpg(gnupghome, "--detach-sign", "--no-armor", "--output", f"{path}.sig", path)
    subprocess.run(["repo-add", "-q", str(database), *files], check=True, capture_output=True)
    return database.read_bytes()


def _repo_add(into: Path, directory: Path, repo: str, pkgs: Sequence[Pkg], suffix: str) -> None:
    """Make in `into` what repo-add leaves in directory (copied first, when it exists)."""
    if directory.is_dir():
        shutil.copytree(directory, into, symlinks=True)
    else:
        into.mkdir(parents=True)
    files = [str(build(into, pkg)) for pkg in pkgs]
    database = into / f"{repo}.db{suffix}"
    subprocess.run(["repo-add", "-q", str(database), *files], check=True, capture_output=True)


def recompress_zstd(data: bytes) -> bytes:
    """A gzip database as zstd(1) writes it (Arch's own core.db and extra.db may be zstd)."""
    return subprocess.run(
        ["zstd", "-q", "-c", "-19"], input=gzip.decompress(data), check=True, capture_output=True
    ).stdout


def pacman_print(
    root: Path, repos: Sequence[tuple[str, Path]], targets: Sequence[str], *flags: str
) -> list[tuple[str, str, str]]:
    """What real pacman would install: `pacman -Sp` over the given databases, as (repo, name, version).

    Each repository is (name, directory holding NAME.db); pacman reads them as its sync databases.
    """
    db = root / "db"
    (db / "sync").mkdir(parents=True, exist_ok=True)
    (db / "local").mkdir(exist_ok=True)
    (db / "local" / "ALPM_DB_VERSION").write_text("9\n")
    conf = ["[options]", "Architecture = x86_64", "SigLevel = Optional TrustAll"]
    for name, directory in repos:
        shutil.copyfile(directory / f"{name}.db.tar.gz", db / "sync" / f"{name}.db")
        conf += [f"[{name}]", f"Server = file://{directory}"]
    (root / "pacman.conf").write_text("\n".join(conf) + "\n")
    out = subprocess.run(
        [
            "pacman",
            "--root", str(root),
            "--dbpath", str(db),
            "--cachedir", str(root / "cache"),
            "--gpgdir", str(root / "gnupg"),
            "--config", str(root / "pacman.conf"),
            "--noconfirm",
            "-Sp",
            "--print-format", "%r %n %v",
            *flags,
            *targets,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return sorted(tuple(line.split(" ")) for line in out.splitlines())  # type: ignore[misc]


def install_local(root: Path, pkgs: Sequence[Pkg]) -> None:
    """Record pkgs as installed in root's local database, as pacman writes it."""
    for pkg in pkgs:
        entry = root / "db" / "local" / f"{pkg.name}-{pkg.version}"
        entry.mkdir(parents=True, exist_ok=True)
        (entry / "desc").write_text(local_desc(pkg))
        (entry / "files").write_text("%FILES%\n\n")


def local_desc(pkg: Pkg) -> str:
    """A local database desc as pacman writes it for an installed package."""
    fields = [
        ("%NAME%", [pkg.name]),
        ("%VERSION%", [pkg.version]),
        ("%BASE%", [pkg.name]),
        ("%ARCH%", [pkg.arch]),
        ("%GROUPS%", list(pkg.groups)),
        ("%INSTALLDATE%", ["1700000000"]),
        ("%REASON%", ["1"]),
        ("%PROVIDES%", list(pkg.provides)),
        ("%DEPENDS%", list(pkg.depends)),
    ]
    return "".join(
        f"{key}\n" + "".join(f"{v}\n" for v in values) + "\n" for key, values in fields if values
    )


def pacman_in(root: Path, conf: Path, *args: str) -> str:
    """Run real pacman against root with conf (its own databases, cache and keyring dirs)."""
    db = root / "db"
    (db / "local").mkdir(parents=True, exist_ok=True)
    (db / "local" / "ALPM_DB_VERSION").write_text("9\n")
    return subprocess.run(
        [
            "pacman",
            "--root", str(root),
            "--dbpath", str(db),
            "--cachedir", str(root / "cache"),
            "--gpgdir", str(root / "gnupg"),
            "--config", str(conf),
            "--noconfirm",
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout  # fmt: skip


def _gpg(home: Path | None, *args: str, stdin: bytes = b"") -> bytes:
    """gpg in its own home directory, with no tty and no passphrase."""
    command = ["gpg", "--homedir", str(home), "--batch", "--quiet", "--pinentry-mode", "loopback"]
    return subprocess.run(
        [*command, "--passphrase", "", *args], input=stdin, check=True, capture_output=True
    ).stdout


def packager_key(home: Path) -> str:
    """Make a signing key in a new gpg home (a packager's); return its fingerprint."""
    home.mkdir(mode=0o700, parents=True)
    _gpg(home, "--quick-gen-key", "Tests <tests@example.org>", "ed25519", "sign", "never")
    listing = _gpg(home, "--with-colons", "--list-secret-keys").decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def pacman_keyring(packager: Path, fingerprint: str, home: Path) -> dict[str, bytes]:
    """The files of a pacman keyring (/etc/pacman.d/gnupg) trusting the packager's key.

    pacman-key --populate would have the keyring's master key sign the packager's key; marking
    the key itself ultimately trusted gives its signatures the same full validity pacman needs.
    """
    home.mkdir(mode=0o700, parents=True)
    _gpg(home, "--import", stdin=_gpg(packager, "--export", fingerprint))
    _gpg(home, "--import-ownertrust", stdin=f"{fingerprint}:6:\n".encode())
    _gpg(home, "--check-trustdb")
    return {name: (home / name).read_bytes() for name in ("pubring.kbx", "trustdb.gpg")}


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent a key generation started in home."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
