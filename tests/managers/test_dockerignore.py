"""The ignore file's reading and matching, against moby/patternmatcher's own test tables.

The tables are those of github.com/moby/patternmatcher (patternmatcher_test.go and
ignorefile/ignorefile_test.go at 5a6d842, Apache-2.0), run on Linux (a `\\` escapes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pinner.managers import dockerignore
from pinner.managers.dockerignore import Matcher, compile_pattern, ignore_files, load, read


def matches(path: str, patterns: list[str]) -> bool:
    """patternmatcher.MatchesOrParentMatches(file, patterns): the path cleaned, `.` never out."""
    matcher = Matcher(patterns)
    cleaned = dockerignore._clean(path)
    return cleaned != "." and matcher.excludes(cleaned)


# TestMatches: one pattern, a path, whether MatchesOrParentMatches leaves it out.
MATCHES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "/", True),
    ("**/", "/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        True,
    ),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
]

MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (
        ["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        False,
    ),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
]


@pytest.mark.parametrize(("pattern", "path", "out"), MATCHES)
def test_matches(pattern: str, path: str, out: bool) -> None:
    assert Matcher([pattern]).excludes(path) is out


@pytest.mark.parametrize(("patterns", "path", "out"), MULTI)
def test_matches_several(patterns: list[str], path: str, out: bool) -> None:
    assert Matcher(patterns).excludes(path) is out


# The single tests before TestMatches: exceptions, their order, folders and the context itself.
@pytest.mark.parametrize(
    ("path", "patterns", "out"),
    [
        ("fileutils.go", ["*"], True),
        ("fileutils.go", ["*.go"], True),
        ("fileutils.go", ["!fileutils.go", "*.go"], True),
        ("docs/README.md", ["docs", "!docs/README.md"], False),
        ("docs/README.md", ["docs/", "!docs/README.md"], False),
        ("docs/README.md", ["docs/*", "!docs/README.md"], False),
        ("fileutils.go", ["*.go", "!fileutils.go"], False),
        (".", ["*.go"], False),
        ("/any/path/there", [], False),
    ],
)
def test_exceptions_and_order(path: str, patterns: list[str], out: bool) -> None:
    assert matches(path, patterns) is out


# matchTests, taken by patternmatcher from Go's filepath.Match tests: a None result is
# filepath.ErrBadPattern.
MATCH_TESTS: list[tuple[str, str, bool | None]] = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", True),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "\u03b1", True),  # Greek small alpha
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("[]a]", "]", None),
    ("[-]", "-", None),
    ("[x-]", "x", None),
    ("[x-]", "-", None),
    ("[x-]", "z", None),
    ("[-x]", "x", None),
    ("[-x]", "-", None),
    ("[-x]", "a", None),
    ("\\", "a", None),
    ("[a-b-c]", "a", None),
    ("[", "a", None),
    ("[^", "a", None),
    ("[^bc", "a", None),
    ("a[", "a", None),
    ("a[", "ab", None),
    ("*x", "xxx", True),
]


@pytest.mark.parametrize(("pattern", "path", "out"), MATCH_TESTS)
def test_filepath_match_table(pattern: str, path: str, out: bool | None) -> None:
    if out is None:
        with pytest.raises(ValueError, match="syntax error in pattern"):
            Matcher([pattern])
    else:
        assert matches(path, [pattern]) is out


@pytest.mark.parametrize("patterns", [["!"], ["docs", "!"], ["["]])
def test_a_lone_exception_mark_or_a_malformed_pattern_is_refused(patterns: list[str]) -> None:
    with pytest.raises(ValueError):
        Matcher(patterns)


def test_the_regular_expression_go_refuses_is_refused() -> None:
    # `[Local-Only]` passes filepath.Match's check; the regexp's range l-O is backwards.
    dockerignore._check("[Local-Only]")
    with pytest.raises(ValueError, match="syntax error in pattern"):
        Matcher(["[Local-Only]/"])


@pytest.mark.parametrize(
    ("patterns", "kept"),
    [
        (["docs", "config"], 2),
        (["docs", "config", ""], 2),
        (["docs", "  !docs/README.md"], 2),
        (["docs", "!docs/README.md  "], 2),
    ],
)
def test_clean_patterns(patterns: list[str], kept: int) -> None:
    matcher = Matcher(patterns)
    assert len(matcher.patterns) == kept
    assert [p.exclusion for p in matcher.patterns][1:] == ["!" in patterns[1]]


# TestCompile (slash): the match kind each pattern compiles to, and its regular expression.
COMPILE = [
    ("*", "regexp", "^[^/]*$"),
    ("file*", "regexp", "^file[^/]*$"),
    ("*file", "regexp", "^[^/]*file$"),
    ("a*/b", "regexp", "^a[^/]*/b$"),
    ("**", "suffix", ""),
    ("**/**", "regexp", "^(.*/)?.*$"),
    ("dir/**", "prefix", ""),
    ("**/dir", "suffix", ""),
    ("**/dir2/*", "regexp", "^(.*/)?dir2/[^/]*$"),
    ("**/dir2/**", "regexp", "^(.*/)?dir2/.*$"),
    ("**file", "suffix", ""),
    ("**/file*txt", "regexp", "^(.*/)?file[^/]*txt$"),
    ("**/**/*.txt", "regexp", "^(.*/)?(.*/)?[^/]*\\.txt$"),
    ("a[b-d]e", "regexp", "^a[b-d]e$"),
    (".*", "regexp", "^\\.[^/]*$"),
    ("abc.def", "exact", ""),
    ("abc?def", "regexp", "^abc[^/]def$"),
    ("**/foo/bar", "suffix", ""),
    ("a(b)c/def", "exact", ""),
    ("a.|)$(}+{bc", "exact", ""),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact", ""),
]


@pytest.mark.parametrize(("pattern", "kind", "regexp"), COMPILE)
def test_compile(pattern: str, kind: str, regexp: str) -> None:
    assert compile_pattern(dockerignore._clean(pattern)) == (kind, regexp)


def test_read_all() -> None:
    # TestReadAll, and a byte-order mark, CRLF line ends and an indented `#` (not a comment).
    text = (
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    )
    expected = ["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!"]
    assert read(text) == expected
    assert read("\ufeffetc\r\n  # not a comment\r\n\t/\r\n") == ["etc", "# not a comment", "/"]
    assert read("") == []


def test_a_path_with_a_newline_is_matched_whole() -> None:
    # Go's `$` ends the text; Python's `$` would also match before a final newline.
    assert Matcher(["*.repo"]).excludes("x.repo") is True
    assert Matcher(["*.repo"]).excludes("x.repo\n") is False


# Each file leaves out the path its letter names. BuildKit reads Dockerfile.dockerignore, else
# .dockerignore; buildah reads Dockerfile.dockerignore, Dockerfile.containerignore,
# .containerignore, .dockerignore, the first there is (containers/buildah pkg/parse/parse.go,
# ContainerIgnoreFile). Where both read one, a path is left out only if both leave it out.
LETTERS = {
    ".dockerignore": "a",
    "Dockerfile.dockerignore": "b",
    ".containerignore": "c",
    "Dockerfile.containerignore": "d",
}


@pytest.mark.parametrize(
    ("files", "chosen", "left_out"),
    [
        ((), (), ""),
        ((".dockerignore",), (".dockerignore",), "a"),
        ((".dockerignore", "Dockerfile.dockerignore"), ("Dockerfile.dockerignore",), "b"),
        (
            (".dockerignore", "Dockerfile.dockerignore", ".containerignore"),
            ("Dockerfile.dockerignore",),
            "b",
        ),
        # podman's names alone: the project builds with podman or buildah.
        ((".containerignore",), (".containerignore",), "c"),
        (("Dockerfile.containerignore",), ("Dockerfile.containerignore",), "d"),
        ((".containerignore", "Dockerfile.containerignore"), ("Dockerfile.containerignore",), "d"),
        # docker reads .dockerignore, podman its own file: left out only where both leave out.
        ((".dockerignore", ".containerignore"), (".dockerignore", ".containerignore"), ""),
        (
            (".dockerignore", "Dockerfile.containerignore"),
            (".dockerignore", "Dockerfile.containerignore"),
            "",
        ),
        (("other.Dockerfile.dockerignore", "other.Dockerfile.containerignore"), (), ""),
    ],
)
def test_the_ignore_files_builders_read(
    tmp_path: Path, files: tuple[str, ...], chosen: tuple[str, ...], left_out: str
) -> None:
    for name in files:
        (tmp_path / name).write_text(f"{LETTERS.get(name, 'z')}\nboth\n")
    dockerfile = str(tmp_path / "Dockerfile")
    assert ignore_files(dockerfile) == tuple(str(tmp_path / name) for name in chosen)
    ignored = load(dockerfile)
    if not chosen:
        assert ignored is None
        return
    assert ignored is not None
    assert ignored.excludes("both") is True
    assert {letter for letter in "abcd" if ignored.excludes(letter)} == set(left_out)


def test_an_empty_dockerfile_specific_file_still_takes_precedence(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("")
    ignored = load(str(tmp_path / "Dockerfile"))
    assert ignored is not None
    assert ignored.excludes("a") is False


def test_the_context_folder_holds_the_root_ignore_files(tmp_path: Path) -> None:
    # `docker build -f app/Dockerfile .`: .dockerignore is the context's, not app/'s.
    (tmp_path / "app").mkdir()
    (tmp_path / "app/.dockerignore").write_text("a\n")
    (tmp_path / ".dockerignore").write_text("b\n")
    dockerfile = str(tmp_path / "app/Dockerfile")
    assert ignore_files(dockerfile, str(tmp_path)) == (str(tmp_path / ".dockerignore"),)
    ignored = load(dockerfile, str(tmp_path))
    assert ignored is not None
    assert (ignored.excludes("a"), ignored.excludes("b")) == (False, True)
    # The Dockerfile-specific file stays beside the Dockerfile.
    (tmp_path / "app/Dockerfile.dockerignore").write_text("c\n")
    assert ignore_files(dockerfile, str(tmp_path)) == (
        str(tmp_path / "app/Dockerfile.dockerignore"),
    )


def test_a_malformed_file_among_two_keeps_everything(tmp_path: Path) -> None:
    # The build that reads the malformed file fails; pinner keeps every file, as for one file.
    (tmp_path / ".dockerignore").write_text("etc\n")
    (tmp_path / ".containerignore").write_text("etc\n[\n")
    assert load(str(tmp_path / "Dockerfile")) is None


def test_a_malformed_file_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("etc\n[\n")
    assert load(str(tmp_path / "Dockerfile")) is None
    (tmp_path / ".dockerignore").write_bytes(b"etc/\xff\n")
    matcher = load(str(tmp_path / "Dockerfile"))
    assert matcher is not None
    assert matcher.excludes("etc/\udcff") is True


# Where upstream surprises, as patternmatcher itself answers (built with Go and run on these
# rows): its escape bitmap holds only characters below 64, so a `|` alternates and the anchors
# bind to one side; a pattern with no wildcard is compared whole (`{2}` is no repeat); Go's `\b`
# knows ASCII alone. None: refused here (the ignore file is passed over), where Go's regexp
# refuses it too (`\é`) or reads it in a way Python's cannot (POSIX classes, `\x41`).
QUIRKS: list[tuple[str, list[str], list[bool] | None]] = [
    ("*.log|*.tmp", ["a.log", "a.tmp", "b", "x/y.tmp"], [True, True, False, True]),
    ("a{2}", ["aa", "a{2}", "a"], [False, True, False]),
    ("\\bx", ["x", "\u00e9x", "ax"], [True, False, False]),
    ("*\\bx", ["\u00e9x", "ax", "x"], [True, False, True]),
    ("a\\z", ["a", "az"], [True, False]),
    ("^etc", ["etc", "x/etc"], [False, False]),
    ("x\\\u00e9", ["x\u00e9"], None),
    ("[[:alpha:]]", ["a"], None),
    ("etc\\x41", ["etcA"], None),
]


@pytest.mark.parametrize(("pattern", "paths", "out"), QUIRKS)
def test_upstream_quirks(pattern: str, paths: list[str], out: list[bool] | None) -> None:
    if out is None:
        with pytest.raises(ValueError, match="syntax error in pattern"):
            Matcher([pattern])
    else:
        matcher = Matcher([pattern])
        assert [matcher.excludes(p) for p in paths] == out
