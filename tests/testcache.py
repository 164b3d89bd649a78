"""Trees the tests make with real tools (rpmbuild, createrepo_c, dnf), kept between runs.

Each tree is stored under the test cache, named by a hash of everything that made it: the
caller's inputs, the size and time of each tool's binary and of dpkg's status file, so a new
rpmbuild, or any package installed or upgraded, makes new trees.
A run copies the stored tree instead of running the tools again; what the tools wrote is the
same bytes either way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def default_cache_dir() -> Path:
    """$PINNER_TEST_CACHE, else ~/.cache/pinner-tests."""
    env = os.environ.get("PINNER_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "pinner-tests"


# dpkg rewrites its status file on every install and upgrade, so a new build of a library the
# tools load (libdnf, libsolv, libarchive) moves the key as well as one of the tools themselves.
_PACKAGES = "/var/lib/dpkg/status"


def tools_stamp(*tools: str) -> str:
    """Each tool's path, size and modification time, and the system's package state's."""
    parts = []
    for tool, found in [*((tool, shutil.which(tool)) for tool in tools), ("dpkg", _PACKAGES)]:
        stat = os.stat(found) if found and os.path.exists(found) else None
        parts.append(f"{tool}={found}:{stat and stat.st_size}:{stat and stat.st_mtime_ns}")
    return ";".join(parts)


def tree_stamp(root: Path, skip: Iterable[str] = ()) -> str:
    """A hash of every file's path, link target or bytes under root, leaving out the skip folders."""
    digest = hashlib.sha256()
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if relative.parts[0] in skip or (path.is_dir() and not path.is_symlink()):
                continue
            digest.update(str(relative).encode() + b"\0")
            if path.is_symlink():
                digest.update(b"->" + os.readlink(path).encode())
            else:
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def stored_tree(kind: str, key: str, build: Callable[[Path], None]) -> Path:
    """The stored tree build(folder) makes for key, running build only the first time.

    Workers running at once may both build a missing tree; the first to rename it into the cache
    keeps it, the other's copy is dropped.
    """
    name = hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()[:32]
    store = default_cache_dir() / kind
    stored = store / name
    if not stored.is_dir():
        store.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=store))
        try:
            build(fresh / "tree")
            with contextlib.suppress(OSError):  # another worker stored it first
                (fresh / "tree").rename(stored)
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
    return stored


def copy_tree(stored: Path, directory: Path) -> Path:
    """Copy a stored tree into directory (made if missing), links as links."""
    shutil.copytree(stored, directory, symlinks=True, dirs_exist_ok=True)
    return directory


def stored_answer(kind: str, key: str, answer: Callable[[], str]) -> str:
    """The text answer() gave for key, running answer only the first time."""
    name = hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()[:32]
    stored = default_cache_dir() / kind / name[:2] / name
    with contextlib.suppress(FileNotFoundError):
        return stored.read_text()
    text = answer()
    stored.parent.mkdir(parents=True, exist_ok=True)
    handle, path = tempfile.mkstemp(prefix=f"{name}.", dir=stored.parent)
    fresh = Path(path)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        fresh.replace(stored)  # whole or not at all, whichever worker stores it
    finally:
        fresh.unlink(missing_ok=True)
    return text
