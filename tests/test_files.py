"""files.write_all: every file or none, through temp files and renames, leaving nothing behind."""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pinner import files
from pinner.errors import DockerfileError, PinnerError

ROOT = Path(__file__).resolve().parent.parent


def contents(folder: Path) -> dict[str, bytes]:
    """Every file below folder (links as links), to compare a whole tree before and after."""
    found: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            found[name] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            found[name] = path.read_bytes()
    return found


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".pinner-*"))


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a" / "Dockerfile", tmp_path / "b" / "Dockerfile"
    for path in (a, b):
        path.parent.mkdir()
        path.write_text("FROM old\n")
    return a, b


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_item7_writes_every_file(tmp_path: Path, two: tuple[Path, Path]) -> None:
    a, b = two
    files.write_all({str(a): "FROM a\n", str(b): "FROM b\n", f"{b}.lock": "version = 1\n"})
    assert contents(tmp_path) == {
        "a/Dockerfile": b"FROM a\n",
        "b/Dockerfile": b"FROM b\n",
        "b/Dockerfile.lock": b"version = 1\n",
    }


def test_item7_a_failed_rename_puts_back_the_files_already_replaced(
    tmp_path: Path, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    before = contents(tmp_path)
    real_replace = os.replace
    calls = []

    def replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 3:  # a, its new lock, then b
            raise OSError(errno.ENOSPC, "No space left on device", src)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)

    with pytest.raises(DockerfileError) as info:
        files.write_all({str(a): "FROM a\n", f"{a}.lock": "version = 1\n", str(b): "FROM b\n"})

    assert str(info.value) == f"{b}: cannot write: No space left on device"
    assert contents(tmp_path) == before
    assert os.stat(a).st_nlink == 1
    assert leftovers(tmp_path) == []


def test_a_write_creates_one_temp_file_per_target(
    tmp_path: Path, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Creating files is most of a write's cost: the backup of a replaced file is a link named
    # after its temp file, not a second temp file.
    a, b = two
    made: list[str] = []
    real_temp_file = files._temp_file

    def temp_file(folder: str) -> tuple[int, str]:
        fd, name = real_temp_file(folder)
        made.append(name)
        return fd, name

    monkeypatch.setattr(files, "_temp_file", temp_file)
    files.write_all({str(a): "FROM a\n", str(b): "FROM b\n", f"{b}.lock": "version = 1\n"})
    assert len(made) == 3
    assert leftovers(tmp_path) == []


def test_a_temp_file_name_taken_already_gives_way(
    tmp_path: Path, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Temp files are named after the process and a count: a name another process holds (a
    # file, or a symlink pointing elsewhere) is neither opened nor followed, nor removed.
    a, b = two
    monkeypatch.setattr(files, "_TEMP_COUNT", itertools.count(7))
    pid = os.getpid()
    taken = a.parent / f".pinner-{pid}-7"
    taken.write_text("not pinner's\n")
    elsewhere = tmp_path / "elsewhere"
    (b.parent / f".pinner-{pid}-8").symlink_to(elsewhere)
    files.write_all({str(a): "FROM a\n", str(b): "FROM b\n"})
    assert (a.read_text(), b.read_text()) == ("FROM a\n", "FROM b\n")
    assert taken.read_text() == "not pinner's\n"
    assert not elsewhere.exists()
    assert leftovers(tmp_path) == [f".pinner-{pid}-7", f".pinner-{pid}-8"]


def test_a_write_removes_only_the_backups_once_every_file_is_renamed(
    tmp_path: Path, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The temp files are renamed over their targets: asking to remove them again was a failing
    # system call per file.
    a, b = two
    removed: list[str] = []
    real_unlink = os.unlink

    def unlink(path: str, *args: object, **kwargs: object) -> None:
        removed.append(os.path.basename(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", unlink)
    files.write_all({str(a): "FROM a\n", str(b): "FROM b\n", f"{b}.lock": "version = 1\n"})
    assert len(removed) == 2  # the backups of a and b; the new lock had none
    assert all(name.endswith(".old") for name in removed)
    assert leftovers(tmp_path) == []
    assert (a.read_text(), b.read_text()) == ("FROM a\n", "FROM b\n")


def test_a_backup_name_taken_falls_back_to_a_fresh_name(
    tmp_path: Path, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    before = contents(tmp_path)
    real_link, real_replace = os.link, os.replace

    def link(src: str, dst: str) -> None:
        if dst.endswith(".old"):
            raise FileExistsError(errno.EEXIST, "File exists", dst)
        real_link(src, dst)

    def replace(src: str, dst: str) -> None:
        if dst == str(b):
            raise OSError(errno.ENOSPC, "No space left on device", src)
        real_replace(src, dst)

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(DockerfileError):
        files.write_all({str(a): "FROM a\n", str(b): "FROM b\n"})
    assert contents(tmp_path) == before
    assert leftovers(tmp_path) == []


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, as at a terminal, even where the runner ignores SIGINT.

    A shell starts background jobs with SIGINT ignored, and Python then leaves it ignored.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c")
def test_item7_ctrl_c_during_the_renames_finishes_them_then_interrupts(
    tmp_path: Path, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        if dst == str(a):
            os.kill(os.getpid(), signal.SIGINT)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)

    with pytest.raises(KeyboardInterrupt):
        files.write_all({str(a): "FROM a\n", str(b): "FROM b\n"})

    assert (a.read_text(), b.read_text()) == ("FROM a\n", "FROM b\n")
    assert leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("ctrl_c")
def test_item7_ctrl_c_while_staging_changes_nothing(
    tmp_path: Path, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    before = contents(tmp_path)
    real_temp_file = files._temp_file

    def temp_file(folder: str) -> tuple[int, str]:
        if folder == str(b.parent):
            os.kill(os.getpid(), signal.SIGINT)
        return real_temp_file(folder)

    monkeypatch.setattr(files, "_temp_file", temp_file)

    with pytest.raises(KeyboardInterrupt):
        files.write_all({str(a): "FROM a\n", str(b): "FROM b\n"})

    assert contents(tmp_path) == before
    assert leftovers(tmp_path) == []


def as_nobody(job: Callable[[], None]) -> str:
    """Run job in a child process as user and group 65534; return its PinnerError, or ""."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            job()
        except PinnerError as e:
            os.write(write, str(e).encode())
        except BaseException as e:
            os.write(write, repr(e).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        message = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, message
    return message


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a file another user owns")
def test_item7_a_lock_another_user_owns_in_a_sticky_directory_changes_nothing() -> None:
    # /tmp-like: mode 1777, the lock owned by root; pinner runs as nobody, who owns the Dockerfile.
    folder = Path(tempfile.mkdtemp(prefix="pinner-sticky-"))
    try:
        folder.chmod(0o1777)
        dockerfile, lock = folder / "Dockerfile", folder / "Dockerfile.lock"
        dockerfile.write_text("FROM old\n")
        lock.write_text("version = 1\n")
        os.chown(dockerfile, 65534, 65534)

        message = as_nobody(
            lambda: files.write_all({str(dockerfile): "FROM new\n", str(lock): "version = 1\n#\n"})
        )

        assert message == f"{lock}: cannot write: owned by another user in a sticky directory"
        assert (dockerfile.read_text(), lock.read_text()) == ("FROM old\n", "version = 1\n")
        assert leftovers(folder) == []
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_item7_a_target_in_a_read_only_directory_changes_nothing() -> None:
    folder = Path(tempfile.mkdtemp(prefix="pinner-readonly-"))
    try:
        folder.chmod(0o755)
        mine, theirs = folder / "mine", folder / "theirs"
        mine.mkdir()
        theirs.mkdir()
        (mine / "Dockerfile").write_text("FROM old\n")
        (theirs / "Dockerfile.lock").write_text("version = 1\n")
        for path in (mine, mine / "Dockerfile"):
            os.chown(path, 65534, 65534)
        theirs.chmod(0o555)
        before = contents(folder)
        targets = {str(mine / "Dockerfile"): "FROM new\n", str(theirs / "Dockerfile.lock"): "x\n"}

        message = as_nobody(lambda: files.write_all(targets))

        lock = theirs / "Dockerfile.lock"
        assert message == f"{lock}: cannot write: directory {theirs} is not writable"
        assert contents(folder) == before
        assert leftovers(folder) == []
    finally:
        shutil.rmtree(folder)


def test_item8_a_symlinked_dockerfile_is_written_through_the_link(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "Dockerfile").write_text("FROM old\n")
    os.chmod(shared / "Dockerfile", 0o600)
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").symlink_to("../shared/Dockerfile")

    files.write_all({str(app / "Dockerfile"): "FROM new\n", str(app / "Dockerfile.lock"): "x\n"})

    assert contents(tmp_path) == {
        "app/Dockerfile": b"-> ../shared/Dockerfile",
        "app/Dockerfile.lock": b"x\n",
        "shared/Dockerfile": b"FROM new\n",
    }
    assert stat.S_IMODE(os.stat(shared / "Dockerfile").st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_item8_two_names_of_one_file_must_agree(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM old\n")
    (tmp_path / "Other.Dockerfile").symlink_to("Dockerfile")
    before = contents(tmp_path)
    a, b = str(tmp_path / "Dockerfile"), str(tmp_path / "Other.Dockerfile")

    with pytest.raises(DockerfileError) as info:
        files.write_all({a: "FROM one\n", b: "FROM two\n"})
    assert str(info.value) == f"{b}: same file as {a}, with other content"
    assert contents(tmp_path) == before

    files.write_all({a: "FROM one\n", b: "FROM one\n"})
    assert contents(tmp_path) == {**before, "Dockerfile": b"FROM one\n"}


def test_item18b_a_reader_never_sees_a_partial_file(tmp_path: Path, two: tuple[Path, Path]) -> None:
    # A new file is renamed over the old: a reader that opened the old one reads it whole, and
    # the path shows the new text only once it is complete. Writing in place would fail both.
    a, _ = two
    old_inode = os.stat(a).st_ino
    with open(a, "rb") as reader:
        files.write_all({str(a): "FROM a-longer-than-before\n"})
        assert reader.read() == b"FROM old\n"
    assert a.read_bytes() == b"FROM a-longer-than-before\n"
    assert os.stat(a).st_ino != old_inode


def write_with_file_limit(texts: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """files.write_all(texts) in a process whose files may not grow past 100 bytes
    (RLIMIT_FSIZE), as a full disk stops a write; its PinnerError is its exit message."""
    script = (
        "import resource, signal, sys\n"
        "from pinner import files\n"
        "from pinner.errors import PinnerError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))\n"
        "try:\n"
        f"    files.write_all({texts!r})\n"
        "except PinnerError as e:\n"
        "    sys.exit(str(e))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )


def test_item18b_a_write_cut_short_leaves_the_old_content(
    tmp_path: Path, two: tuple[Path, Path]
) -> None:
    # The file size limit (RLIMIT_FSIZE) stops the write of b's text half way, as a full disk
    # would: written in place, b would be left cut short and a already changed.
    a, b = two
    before = contents(tmp_path)
    done = write_with_file_limit({str(a): "FROM a\n", str(b): "FROM b\n" * 40})

    assert (done.returncode, done.stderr) == (1, f"{b}: cannot write: File too large\n")
    assert contents(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_item18c_a_write_failing_on_its_second_file_changes_nothing(
    tmp_path: Path, two: tuple[Path, Path]
) -> None:
    a, b = two
    b.unlink()
    b.mkdir()  # the second target cannot be replaced: it is a directory
    before = contents(tmp_path)

    with pytest.raises(DockerfileError) as info:
        files.write_all({str(a): "FROM a\n", f"{a}.lock": "version = 1\n", str(b): "FROM b\n"})

    assert str(info.value) == f"{b}: cannot write: is a directory"
    assert contents(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_a_second_file_that_is_a_symlink_loop_changes_nothing(
    tmp_path: Path, two: tuple[Path, Path]
) -> None:
    a, b = two
    b.unlink()
    b.symlink_to(b.parent / "other")
    (b.parent / "other").symlink_to(b)
    before = contents(tmp_path)

    with pytest.raises(DockerfileError) as info:
        files.write_all({str(a): "FROM a\n", str(b): "FROM b\n"})

    assert str(info.value) == f"{b}: cannot write: Too many levels of symbolic links"
    assert contents(tmp_path) == before
    assert b.is_symlink() and os.readlink(b) == str(b.parent / "other")
    assert leftovers(tmp_path) == []


def test_item18c_a_second_file_in_a_missing_directory_changes_nothing(
    tmp_path: Path, two: tuple[Path, Path]
) -> None:
    a, _ = two
    before = contents(tmp_path)
    missing = tmp_path / "gone" / "Dockerfile.lock"

    with pytest.raises(DockerfileError) as info:
        files.write_all({str(a): "FROM a\n", str(missing): "version = 1\n"})

    assert str(info.value) == f"{missing}: cannot write: No such file or directory"
    assert contents(tmp_path) == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("umask", "mode"),
    [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)],
    ids=["022", "027", "077"],
)
def test_item18d_a_new_lock_is_0644_less_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    lock = tmp_path / "Dockerfile.lock"
    previous = os.umask(umask)
    try:
        files.write_all({str(lock): "version = 1\n"})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(lock).st_mode) == mode


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o444], ids=oct)
def test_item18d_a_rewritten_file_keeps_its_mode(
    tmp_path: Path, two: tuple[Path, Path], umask_022: None, mode: int
) -> None:
    a, _ = two
    os.chmod(a, mode)
    files.write_all({str(a): "FROM a\n"})
    assert stat.S_IMODE(os.stat(a).st_mode) == mode
    assert a.read_text() == "FROM a\n"


@pytest.mark.parametrize("top", [".", "./", "src", "src/", "./src/../src", "ABS", "ABS/", "//ABS"])
def test_a_walk_names_files_as_normpath_of_their_folder_and_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, top: str
) -> None:
    for folder in ("src", "src/app", "src/app/.hidden"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "Dockerfile").write_text("FROM a\n")
        (tmp_path / folder / "Dockerfile.lock").write_text("")
        (tmp_path / folder / "compose.yaml").write_text("")
    (tmp_path / "Dockerfile").write_text("FROM a\n")
    (tmp_path / "src" / "Containerfile").write_text("FROM a\n")
    monkeypatch.chdir(tmp_path)
    top = top.replace("ABS", str(tmp_path / "src"))
    want = sorted(
        os.path.normpath(os.path.join(folder, name))
        for folder, _, names in os.walk(top)
        for name in names
        if name != "Dockerfile.lock"
    )
    found = files.discover([top], also=lambda path: path.endswith(".yaml"))
    assert sorted(found) == want
    assert len(found) == (8 if top in (".", "./") else 7)
    # With --exclude the same names, less the excluded folder's.
    excluded = files.discover([top], ["*.hidden"], also=lambda path: path.endswith(".yaml"))
    assert sorted(excluded) == [p for p in want if ".hidden" not in p]


def test_realpath_by_folder_is_realpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "Dockerfile").write_text("FROM a\n")
    (tmp_path / "real" / "sub" / "Dockerfile").write_text("FROM a\n")
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "Containerfile").symlink_to(tmp_path / "real" / "sub" / "Dockerfile")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file").write_text("")
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "up").symlink_to("../real")
    monkeypatch.chdir(tmp_path)
    paths = [
        "real/Dockerfile",
        "real/sub/Dockerfile",
        "deep/up/sub/Dockerfile",  # a link below a folder already resolved
        "deep/up/sub/../Dockerfile",
        "linked/sub/../../deep/up/Dockerfile",
        "linked/Dockerfile",
        "linked/Dockerfile.lock",  # not there yet
        "linked/sub/Dockerfile",
        "linked/./sub/../Dockerfile",
        "real/Containerfile",  # a symlink itself
        "linked/Containerfile.lock",
        "missing/Dockerfile",
        "loop/Dockerfile",
        "file/Dockerfile",
        "Dockerfile",
        str(tmp_path / "linked" / "Dockerfile"),
        "linked/sub/",
        "linked/..",
    ]
    folders: dict[str, str] = {}
    assert [files._resolve(p, folders)[0] for p in paths] == [os.path.realpath(p) for p in paths]
    assert folders["linked"] == str(tmp_path / "real")


def test_realpath_by_folder_stats_each_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(50):
        (tmp_path / f"svc{n}").mkdir()
    want = [os.path.realpath(tmp_path / f"svc{n}" / "Dockerfile") for n in range(50)]
    calls: list[str] = []
    lstat = os.lstat
    monkeypatch.setattr(os, "lstat", lambda path: calls.append(str(path)) or lstat(path))
    folders: dict[str, str] = {}

    found = [
        files._resolve(str(tmp_path / f"svc{n}" / "Dockerfile"), folders)[0] for n in range(50)
    ]

    assert found == want
    # Each Dockerfile and each folder once, tmp_path's parts once in all.
    assert len(calls) <= 100 + len(tmp_path.parts)


@pytest.fixture
def many(tmp_path: Path) -> list[Path]:
    """Forty Dockerfiles, each in its own folder."""
    paths = []
    for n in range(40):
        path = tmp_path / f"svc{n:02}" / "Dockerfile"
        path.parent.mkdir()
        path.write_text("FROM old\n")
        paths.append(path)
    return paths


def test_a_large_write_cut_short_changes_nothing_and_names_the_first_file(
    tmp_path: Path, many: list[Path]
) -> None:
    # Two of forty files are too large for RLIMIT_FSIZE.
    before = contents(tmp_path)
    texts = {str(p): "FROM new\n" for p in many}
    texts[str(many[30])] = texts[str(many[17])] = "FROM big\n" * 40
    done = write_with_file_limit(texts)

    assert (done.returncode, done.stderr) == (1, f"{many[17]}: cannot write: File too large\n")
    assert contents(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_ctrl_c_while_staging_a_large_write_changes_nothing(
    tmp_path: Path, many: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = contents(tmp_path)
    real_temp_file = files._temp_file

    def temp_file(folder: str) -> tuple[int, str]:
        if folder == str(many[20].parent):
            os.kill(os.getpid(), signal.SIGINT)
        return real_temp_file(folder)

    monkeypatch.setattr(files, "_temp_file", temp_file)

    with pytest.raises(KeyboardInterrupt):
        files.write_all({str(p): "FROM new\n" for p in many})

    assert contents(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_a_large_write_removes_every_backup_on_several_threads(
    tmp_path: Path, many: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each removal waits for the file system's journal, not the CPU: many wait together.
    removers: set[str] = set()
    real_unlink = os.unlink

    def unlink(path: str, *args: object, **kwargs: object) -> None:
        removers.add(threading.current_thread().name)
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", unlink)
    files.write_all({str(p): f"FROM {n}\n" for n, p in enumerate(many)})
    assert threading.main_thread().name not in removers
    assert removers
    assert leftovers(tmp_path) == []
    assert [p.read_text() for p in many] == [f"FROM {n}\n" for n in range(len(many))]


def test_a_staged_file_is_written_through_its_descriptor(
    tmp_path: Path, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file object would ask each new file's size, terminal state and position first.
    a, _ = two
    opened: list[object] = []
    real_fdopen = os.fdopen

    def fdopen(*args: object, **kwargs: object) -> object:
        opened.append(args)
        return real_fdopen(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "fdopen", fdopen)
    files.write_all({str(a): "FROM ä\n", f"{a}.lock": "version = 1\n"})
    assert opened == []
    assert a.read_text(encoding="utf-8") == "FROM ä\n"
    assert Path(f"{a}.lock").read_text() == "version = 1\n"


def test_a_large_write_removes_its_backups_where_no_thread_can_start(
    tmp_path: Path, many: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The files are already in place: a process or thread limit must not fail the write.
    def start(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", start)
    files.write_all({str(p): f"FROM {n}\n" for n, p in enumerate(many)})
    assert leftovers(tmp_path) == []
    assert [p.read_text() for p in many] == [f"FROM {n}\n" for n in range(len(many))]


def _walked_by_os_walk(top: str, exclude: tuple[str, ...]) -> list[str]:
    """The walk as os.walk makes it: what files._walk must find, in the same order."""
    found = []
    for folder, dirs, names in os.walk(top):
        rel = os.path.relpath(folder, top)
        base = os.path.normpath(folder)
        prefix = "" if base == "." else base if base.endswith("/") else base + "/"
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in files._SKIP_DIRS
            and not (exclude and files._excluded(os.path.join(rel, d), exclude))
        )
        for name in sorted(names):
            path = prefix + name
            wanted = files.is_dockerfile(name) or (
                not name.endswith(files._SKIP_SUFFIXES) and path.endswith(".yaml")
            )
            if wanted and not (exclude and files._excluded(os.path.join(rel, name), exclude)):
                found.append(path)
    return found


@pytest.mark.parametrize("exclude", [(), ("b",), ("a/*",), ("*.yaml",)])
@pytest.mark.parametrize("top", [".", "a", "./a/", "ABS"])
def test_the_walk_finds_what_os_walk_finds_in_its_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, top: str, exclude: tuple[str, ...]
) -> None:
    for folder in ("a/b/c", "a/B", "a/node_modules/x", "a/.git", "z", "a/b/c/d"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    for path in (
        "Dockerfile",
        "a/x.Dockerfile",
        "a/b/Dockerfile",
        "a/b/c/Containerfile",
        "a/B/Dockerfile.dev",
        "a/node_modules/x/Dockerfile",
        "a/.git/Dockerfile",
        "z/compose.yaml",
        "a/b/c/d/Dockerfile",
        "a/Dockerfile.lock",
        "a/b/notes.txt",
    ):
        (tmp_path / path).write_text("FROM a\n")
    (tmp_path / "a" / "linked").symlink_to(tmp_path / "z")  # a folder link: not followed
    (tmp_path / "a" / "b" / "Containerfile").symlink_to(tmp_path / "a" / "b" / "Dockerfile")
    (tmp_path / "a" / "Dockerfile").symlink_to(tmp_path / "nowhere")  # broken: still a name
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a" / "loop")
    monkeypatch.chdir(tmp_path)
    top = top.replace("ABS", str(tmp_path / "a"))
    want = _walked_by_os_walk(top, exclude)
    found = files.discover([top], exclude, also=lambda path: path.endswith(".yaml"))
    assert found == want
    assert len(found) >= (2 if exclude else 4)
