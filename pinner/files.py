"""File discovery, and atomic all-or-nothing writes of the Dockerfiles and locks pinner edits."""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import itertools
import os
import re
import shutil
import signal
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from pinner.errors import DockerfileError, Problem, UsageError
from pinner.parallel import write_fully

_PATTERNS = ("Dockerfile", "Containerfile", "*.Dockerfile", "*.dockerfile", "Dockerfile.*")
_SKIP_SUFFIXES = (".lock", ".dockerignore", ".swp", "~", ".orig", ".rej", ".bak")
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "__pycache__", ".tox"})
# Every name a walk meets is tested: the patterns as one compiled regex (fnmatch's translation).
_PATTERNS_RE = re.compile("|".join(map(fnmatch.translate, _PATTERNS)))


def is_dockerfile(name: str) -> bool:
    """Dockerfile, Containerfile, *.Dockerfile and Dockerfile.*, not their locks."""
    if name.endswith(_SKIP_SUFFIXES):
        return False
    return _PATTERNS_RE.match(name) is not None


def discover(
    paths: Sequence[str],
    exclude: Iterable[str] = (),
    also: Callable[[str], bool] = lambda path: False,
) -> list[str]:
    """Expand paths: files as given, directories walked; none means ./Dockerfile.

    A walk finds Dockerfiles and the files `also` accepts (by path): the reference files.
    """
    patterns = tuple(exclude)
    found: list[str] = []
    for path in paths or ["Dockerfile"]:
        if os.path.isdir(path):
            found.extend(_walk(path, patterns, also))
        elif os.path.exists(path):
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    if not found:
        raise UsageError(f"{', '.join(paths)}: no Dockerfile found")
    return list(dict.fromkeys(found))


def _walk(top: str, exclude: tuple[str, ...], also: Callable[[str], bool]) -> list[str]:
    """os.walk's files, top-down in sorted order, less the skipped folders: by os.scandir,
    whose entries tell a folder and a symbolic link apart without os.walk's lstat of each
    folder (a tenth of a 1,000-file check's start). As os.walk does, a link to a folder is not
    followed, and a folder that cannot be listed is passed over."""
    found = []
    base = os.path.normpath(top)
    # A file's path is its folder's normal form and its name (a listing's names hold no slash
    # and are neither "." nor ".."); the relative path only matters to --exclude.
    folders = [(top, "" if base == "." else base if base.endswith("/") else base + "/", ".")]
    while folders:
        folder, prefix, rel = folders.pop()
        names, dirs = [], []
        try:
            with os.scandir(folder) as listing:
                for entry in listing:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    if not is_dir:
                        names.append(entry.name)
                    elif entry.name not in _SKIP_DIRS and not entry.is_symlink():
                        dirs.append(entry.name)
        except OSError:
            continue
        for name in sorted(names):
            path = prefix + name
            wanted = is_dockerfile(name) or (not name.endswith(_SKIP_SUFFIXES) and also(path))
            if wanted and not (exclude and _excluded(os.path.join(rel, name), exclude)):
                found.append(path)
        folders.extend(
            (os.path.join(folder, d), prefix + d + "/", os.path.join(rel, d))
            for d in sorted(dirs, reverse=True)
            if not (exclude and _excluded(os.path.join(rel, d), exclude))
        )
    return found


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    rel = os.path.normpath(rel)
    return any(
        fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(rel, p.rstrip("/") + "/*")
        for p in patterns
    )


def read_bytes(path: str) -> bytes:
    """A file's bytes, with OS errors turned into one line naming the file."""
    try:
        # Unbuffered: the whole file is read at once, and a buffered open also asks whether the
        # file is a terminal (one ioctl per file, 2,000 in a run over 1,000 Dockerfiles).
        with open(path, "rb", buffering=0) as f:
            return f.read()
    except IsADirectoryError:
        raise DockerfileError(Problem(path, None, "is a directory")) from None
    except OSError as e:
        raise DockerfileError(Problem(path, None, f"cannot read: {e.strerror}")) from None


def read_optional(path: str) -> str | None:
    """A UTF-8 file's text, or None when it does not exist."""
    try:
        with open(path, "rb", buffering=0) as f:  # as read_bytes
            return f.read().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise DockerfileError(Problem(path, None, "not valid UTF-8")) from None
    except OSError as e:
        raise DockerfileError(Problem(path, None, f"cannot read: {e.strerror}")) from None


class _Staged(NamedTuple):
    """One file of a write: the path as given, the file it writes, its temp file and its backup."""

    shown: str
    real: str
    temp: str
    backup: str | None


def write_all(texts: Mapping[str, str]) -> None:
    """Write every file or none: check all, stage temp files, rename all, undo on failure.

    A symlink is written through to the file it points to, as `sed -i --follow-symlinks` does.
    """
    targets = _targets(texts)
    folders: dict[str, tuple[int, int]] = {}
    for real, shown, _, found in targets:
        _check_writable(real, shown, found, folders)
    owner = _Owner(os.geteuid(), os.getegid(), _umask())
    staged: list[_Staged] = []
    committed = False
    with _sigint_deferred() as interrupted:
        try:
            # One at a time: four threads were no faster (benchmarks/bench_write.py).
            for real, shown, text, found in targets:
                staged.append(_stage(real, shown, text, found, owner))
                if interrupted:
                    raise KeyboardInterrupt
            _commit(staged)
            committed = True  # every temp file is renamed: none is left to remove
        finally:
            if not committed:
                for item in staged:
                    _remove(item.temp)
            _remove_all([item.backup for item in staged if item.backup is not None])


class _Owner(NamedTuple):
    """The process's effective user and group and its umask, asked once per write."""

    uid: int
    gid: int
    umask: int


def _remove_all(paths: Sequence[str]) -> None:
    """Remove the backups, on several threads when there are many.

    Removing a backup frees the replaced file's inode, and the file system makes each such
    unlink wait for its journal: one by one, 1,000 of them took 0.1 to 2 s of waiting and
    hardly any CPU; eight threads wait together.
    """
    if len(paths) >= _THREADED_REMOVALS:
        # Imported here: check, which writes nothing, need not load it (nor logging with it).
        from concurrent.futures import ThreadPoolExecutor

        try:
            # A share of the paths per thread: a task per path cost more of this thread's CPU
            # (a submit and a lock each) than the unlinks do where they do not wait.
            with ThreadPoolExecutor(max_workers=_REMOVAL_THREADS) as pool:
                shares = [paths[n::_REMOVAL_THREADS] for n in range(_REMOVAL_THREADS)]
                for _ in pool.map(_remove_each, shares):
                    pass
            return
        except RuntimeError:
            pass  # no thread could start (a process or thread limit): one by one instead
    _remove_each(paths)


_THREADED_REMOVALS = 32
_REMOVAL_THREADS = 8


def _remove_each(paths: Sequence[str]) -> None:
    for path in paths:
        _remove(path)


# What a write found of a file before writing it: its mode, owner and group; None where there is
# none; why it cannot tell (an lstat's error). Not its whole stat: 20,000 of those are 10 MB.
_Found = tuple[int, int, int] | str | None


def _targets(texts: Mapping[str, str]) -> list[tuple[str, str, str, _Found]]:
    """(real path, path as given, text, what is there) per file; two names of one file must
    agree on its text."""
    seen: dict[str, tuple[str, str, _Found]] = {}
    folders: dict[str, str] = {}
    for shown, text in texts.items():
        real, found = _resolve(shown, folders)
        if real in seen and seen[real][1] != text:
            raise DockerfileError(f"{shown}: same file as {seen[real][0]}, with other content")
        seen.setdefault(real, (shown, text, found))
    return [(real, shown, text, found) for real, (shown, text, found) in seen.items()]


def _resolve(path: str, folders: dict[str, str]) -> tuple[str, _Found]:
    """os.path.realpath(path), resolving each folder once (folders caches them), and what is
    at that real path (_Found), from the same lstat: the write's checks and stage read it.

    realpath resolves a path one part at a time, a Python step and an lstat each; a run writes a
    Dockerfile and its lock per folder. When the last part is not a symlink, the real path is
    the real folder's plus that name.
    """
    folder, name = os.path.split(path)
    if name not in ("", ".", ".."):
        try:
            there = os.lstat(path)
        except FileNotFoundError:  # a new lock: realpath keeps a missing last part as it is
            return os.path.join(_real_folder(folder, folders), name), None
        except OSError:
            pass
        else:
            if not stat.S_ISLNK(there.st_mode):
                real = os.path.join(_real_folder(folder, folders), name)
                return real, (there.st_mode, there.st_uid, there.st_gid)
    real = os.path.realpath(path)
    try:
        there = os.stat(real)  # a link left in real is a loop, which stat refuses
    except FileNotFoundError:
        return real, None
    except OSError as e:
        return real, e.strerror or str(e)
    return real, (there.st_mode, there.st_uid, there.st_gid)


def _real_folder(folder: str, folders: dict[str, str]) -> str:
    """os.path.realpath(folder), made from its parent's where folder is no symlink.

    realpath lstats every part of a path: for 1,000 folders under /home/me/project it would
    stat each of their parents 1,000 times; here each folder of the tree is lstat-ed once.
    """
    real = folders.get(folder)
    if real is None:
        parent, name = os.path.split(folder)
        if parent and parent != folder and name not in ("", ".", ".."):
            try:
                is_link = stat.S_ISLNK(os.lstat(folder).st_mode)
            except OSError:
                is_link = True  # missing or unreadable: realpath says what it makes of it
            if not is_link:
                real = os.path.join(_real_folder(parent, folders), name)
        if real is None:
            real = os.path.realpath(folder or ".")
        folders[folder] = real
    return real


def _check_writable(
    real: str, shown: str, there: _Found, folders: dict[str, tuple[int, int]]
) -> None:
    """Refuse, before anything is written, a target whose temp file or rename would fail.

    folders keeps the mode and owner of each folder found writable: a Dockerfile and its lock
    share one. (Not its whole stat: 10,000 of those would hold 7 MB.)
    """
    folder = os.path.dirname(real)
    found = folders.get(folder)
    if found is None:
        try:
            folder_stat = os.stat(folder)
        except OSError as e:
            raise DockerfileError(f"{shown}: cannot write: {e.strerror}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise DockerfileError(f"{shown}: cannot write: directory {folder} is not writable")
        found = folders[folder] = (folder_stat.st_mode, folder_stat.st_uid)
    folder_mode, folder_uid = found
    if there is None:
        return
    if isinstance(there, str):
        raise DockerfileError(f"{shown}: cannot write: {there}")
    mode, owner, _ = there
    if stat.S_ISDIR(mode):
        raise DockerfileError(f"{shown}: cannot write: is a directory")
    # In a sticky directory (/tmp, shared folders) only the file's or the directory's owner may
    # replace a file (rename(2): EPERM); root always may.
    uid = os.geteuid()
    if folder_mode & stat.S_ISVTX and uid not in (0, owner, folder_uid):
        raise DockerfileError(f"{shown}: cannot write: owned by another user in a sticky directory")


def _stage(real: str, shown: str, text: str, there: _Found, owner: _Owner) -> _Staged:
    """Write text to a temp file beside real, with real's mode (new files: 0644 less the umask).

    there is what _resolve found at real, and _check_writable let through: no file, or one."""
    folder = os.path.dirname(real)
    temp = backup = None
    try:
        old = there if not isinstance(there, str) else None
        fd, temp = _temp_file(folder)
        # The bytes go straight to the descriptor: a text-mode file object would also ask the
        # descriptor's size, whether it is a terminal and its position (four calls per file).
        try:
            write_fully(fd, text.encode("utf-8"))
            if old is None:
                os.fchmod(fd, 0o644 & ~owner.umask)
            else:
                mode, uid, gid = old
                if (uid, gid) != (owner.uid, owner.gid):
                    # Keep the owner where we may (as root); elsewhere the file becomes ours.
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, uid, gid)
                # After the write and the chown, which both clear setuid.
                os.fchmod(fd, stat.S_IMODE(mode))
        finally:
            os.close(fd)
        if old is not None:
            backup = _backup(real, folder, temp)
    except OSError as e:
        if temp is not None:
            _remove(temp)
        raise DockerfileError(f"{shown}: cannot write: {e.strerror}") from None
    return _Staged(shown, real, temp, backup)


def _temp_file(folder: str) -> tuple[int, str]:
    """A new file of this process's own in folder (mode 0600), open for writing, and its path.

    Named after the process and a count, which is enough to be unique among pinner's own: the
    name is created exclusively (O_EXCL, and no symlink followed), and a name taken already
    gives way to random ones. tempfile.mkstemp made up a random name for every file, at
    three times the cost of the open itself (15 µs a file).
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    name = f".pinner-{os.getpid()}-{next(_TEMP_COUNT)}"
    for _ in range(_TEMP_TRIES):
        path = os.path.join(folder, name)
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            name = f".pinner-{os.urandom(6).hex()}"
    raise FileExistsError(errno.EEXIST, "no temp file name left free", folder)


_TEMP_COUNT = itertools.count()
_TEMP_TRIES = 100


def _backup(real: str, folder: str, temp: str) -> str:
    """A second name for the file as it is now (a hard link, else a copy), to roll back to."""
    # Named after our temp file, so no other process should hold the name (link() would refuse
    # to replace one): creating a file only to reserve a name cost a third of a 1,000-file write.
    backup = temp + ".old"
    with contextlib.suppress(OSError):
        os.link(real, backup)
        return backup
    fd, backup = _temp_file(folder)
    os.close(fd)
    try:
        os.unlink(backup)
        os.link(real, backup)
    except OSError:
        try:
            shutil.copy2(real, backup)
        except OSError:
            _remove(backup)
            raise
    return backup


def _commit(staged: Sequence[_Staged]) -> None:
    """Rename every temp file over its target; on any failure put back the files already renamed."""
    done: list[_Staged] = []
    try:
        for item in staged:
            os.replace(item.temp, item.real)
            done.append(item)
    except BaseException as e:
        lost = []
        for item in reversed(done):
            try:
                if item.backup is not None:
                    os.replace(item.backup, item.real)
                else:
                    os.unlink(item.real)
            except OSError:
                lost.append(item.shown)
        if not isinstance(e, OSError):
            raise
        message = f"{staged[len(done)].shown}: cannot write: {e.strerror}"
        if lost:
            message += f"; could not restore {', '.join(reversed(lost))}"
        raise DockerfileError(message) from None


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[list[int]]:
    """Hold Ctrl-C back until the block ends (raising it then); the list says if one came."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.signal(signal.SIGINT, lambda signum, _: received.append(signum))
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
