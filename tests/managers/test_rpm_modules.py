"""Modular filtering (EL 8 and 9): pinner sees the packages dnf sees, checked against the real dnf.

The oracle repository holds what an EL 9 AppStream holds in small: a plain nodejs beside modular
nodejs:18 and nodejs:20 builds (no default stream, as on EL 9), and a `tool` module whose default
stream 1 has an EL 9 context and a newer EL 8 one, beside a stream 2 (defaults, as on EL 8).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli import run
from handmade import push
from registryd import Registry, push_image
from rpmrepo import (
    Spec,
    _dnf,
    dnf_refusal,
    dnf_would_install,
    modular_repo,
    modulemd,
    needs_rpm_tools,
)
from shell_syntax import run_errors
from stand_in import Mirror, files_image, pinner_at

from pinner import lockfile
from pinner.apt.shell import run_invocations
from pinner.managers import rpmmodules
from pinner.managers.repodata import (
    Checksum,
    RpmPackage,
    decompress,
    parse_repomd,
    primary_packages,
)
from pinner.managers.rpmcommands import read_command
from pinner.managers.rpmdb import Provide
from pinner.managers.rpmmodules import Modules, State, active, parse_modules, read_state, visible
from pinner.managers.rpmresolve import Pool, resolve
from pinner.managers.rpmversion import EVR

MODULE = "module_el9"
SPECS = [
    Spec("nodejs", "16.0"),
    Spec("npm", "8.0"),
    Spec("nodejs", "18.0", f"1.{MODULE}", epoch=1),
    Spec("npm", "8.9", f"1.{MODULE}", epoch=1),
    Spec("nodejs", "20.0", f"1.{MODULE}", epoch=1),
    Spec("npm", "10.0", f"1.{MODULE}", epoch=1),
    # Plain, and providing the name of a package the nodejs streams hold.
    Spec("npm-shim", "1.0", provides=("npm",)),
    Spec("lister", "1.0", requires=("npm",)),
    Spec("tool", "1.0", f"1.{MODULE}"),
    Spec("tool", "1.5", "1.module_el8"),
    Spec("tool", "2.0", f"2.{MODULE}"),
]


MODULES_YAML = (
    modulemd(
        "nodejs",
        "18",
        9000020240101,
        "c9a",
        "el9",
        [
            "nodejs-1:18.0-1.module_el9.noarch",
            "npm-1:8.9-1.module_el9.noarch",
            "nodejs-1:18.0-1.module_el9.src",
        ],
    )
    + modulemd(
        "nodejs",
        "20",
        9000020240102,
        "c9a",
        "el9",
        [
            "nodejs-1:20.0-1.module_el9.noarch",
            "npm-1:10.0-1.module_el9.noarch",
        ],
    )
    + modulemd("tool", "1", 9000020240101, "c9a", "el9", ["tool-0:1.0-1.module_el9.noarch"])
    + modulemd("tool", "1", 8000020240301, "c8a", "el8", ["tool-0:1.5-1.module_el8.noarch"])
    + modulemd("tool", "2", 9000020240101, "c9a", "el9", ["tool-0:2.0-2.module_el9.noarch"])
    + """\
---
document: modulemd-defaults
version: 1
data:
  module: tool
  stream: "1"
  profiles:
    "1": [common]
...
"""
)
OS_RELEASE = 'ID="rhel"\nVERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n'


def _state(name: str, stream: str, state: str) -> str:
    return f"[{name}]\nname={name}\nstream={stream}\nprofiles=\nstate={state}\n"


def _module_root(root: Path, states: dict[str, tuple[str, str]]) -> dict[str, bytes]:
    """An image root with EL 9's os-release and states in /etc/dnf/modules.d; its files."""
    (root / "etc/dnf/modules.d").mkdir(parents=True)
    (root / "etc/os-release").write_text(OS_RELEASE)
    files = {"/etc/os-release": OS_RELEASE.encode()}
    for name, (stream, state) in states.items():
        text = _state(name, stream, state)
        (root / f"etc/dnf/modules.d/{name}.module").write_text(text)
        files[f"/etc/dnf/modules.d/{name}.module"] = text.encode()
    return files


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return modular_repo(SPECS, MODULES_YAML, tmp_path_factory.mktemp("rpm-modules"))


def _read(repo: Path) -> tuple[list[RpmPackage], Modules]:
    entries = parse_repomd((repo / "repodata" / "repomd.xml").read_bytes(), "repomd.xml")
    primary, listed = entries["primary"], entries["modules"]
    packages = primary_packages(primary, (repo / primary.href).read_bytes(), primary.href)
    text = b"".join(decompress((repo / listed.href).read_bytes(), listed.href))
    return packages, parse_modules(text, listed.href)


def _check_against_dnf(
    repo: Path, root: Path, states: dict[str, tuple[str, str]], words: list[str]
) -> None:
    """Check that pinner finds, for words on an image root with the module states, the very
    builds dnf would install from repo."""
    files = _module_root(root, states)
    expected = dnf_would_install(root, repo, words)
    packages, modules = _read(repo)
    seen, hidden = visible([(packages, False)], modules, read_state(files), "platform:el9")
    found = resolve(Pool(seen, (), "x86_64", hidden), words)
    assert not found.missing
    assert sorted(f"{p.name}-{p.evr}.{p.arch}" for p in found.chosen) == expected


# Module states of the image (/etc/dnf/modules.d) -> the words, as dnf and pinner install them.
CASES = {
    "no-state": ({}, ["nodejs", "tool", "lister"]),
    "nodejs-20-enabled": ({"nodejs": ("20", "enabled")}, ["nodejs", "tool", "lister"]),
    "tool-2-enabled": ({"tool": ("2", "enabled")}, ["tool", "npm-shim"]),
    "nodejs-18-enabled-pinned-word": ({"nodejs": ("18", "enabled")}, ["nodejs-18.0", "npm"]),
}


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(("states", "words"), CASES.values(), ids=CASES.keys())
def test_pinner_sees_the_builds_dnf_sees(
    repo: Path, tmp_path: Path, states: dict[str, tuple[str, str]], words: list[str]
) -> None:
    _check_against_dnf(repo, tmp_path / "root", states, words)


def _default(module: str, stream: str) -> str:
    return f'---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  module: {module}\n  stream: "{stream}"\n...\n'


def _one(name: str, stream: str, requires: str = "", version: int = 9000020240101) -> str:
    """A stream of one package, name-STREAM.0 of release 1 (stream 2: release 2)."""
    rpm = f"{name}-0:{stream}.0-{stream}.{MODULE}.noarch"
    return modulemd(name, stream, version, "c9a", "el9", [rpm], requires)


def _context(name: str, context: str, release: int, requires: str = "") -> str:
    """A context of stream 1 holding name-1.0 of that release, newer the higher the release."""
    rpm = f"{name}-0:1.0-{release}.{MODULE}.noarch"
    return modulemd(name, "1", 9000020240100 + release, context, "el9", [rpm], requires)


# Streams that require streams (EL 8's modules.yaml has many): a default maven:3.8 that requires
# javapackages-tools:202201, a stream with no default; streams that require another stream than
# its module's default, any stream, or any stream but one.
DEPENDENCY_SPECS = [
    Spec("maven", "3.6"),
    Spec("maven", "3.8", f"1.{MODULE}", epoch=1, requires=("jpt",)),
    Spec("jpt", "1.0"),
    Spec("jpt", "2.0", f"1.{MODULE}"),
    Spec("lib", "0.5"),
    *(
        Spec(name, f"{n}.0", f"{n}.{MODULE}")
        for name in ("app", "lib", "y", "a", "ww")
        for n in (1, 2)
    ),
    *(Spec(name, "1.0", f"1.{MODULE}") for name in ("x", "b", "zz", "v", "u", "k1", "k2")),
    *(Spec(name, "1.0", f"{n}.{MODULE}") for name in ("pd", "s", "perl-app") for n in (1, 2)),
    Spec("perl", "5.32", f"1.{MODULE}"),
]
DEPENDENCY_YAML = "".join(
    [
        modulemd(
            "maven",
            "3.8",
            9000020240101,
            "c9a",
            "el9",
            ["maven-1:3.8-1.module_el9.noarch"],
            "javapackages-tools: [202201]",
        ),
        modulemd(
            "javapackages-tools",
            "202201",
            9000020240101,
            "c9a",
            "el9",
            ["jpt-0:2.0-1.module_el9.noarch"],
        ),
        _default("maven", "3.8"),
        _one("app", "1", "lib: [1]"),
        _one("app", "2", "lib: [2]"),
        _one("lib", "1"),
        _one("lib", "2"),
        _default("lib", "1"),
        # x comes before y: its requirement wins over y's default; b comes after a: it yields.
        _one("x", "1", "y: [2]"),
        _default("x", "1"),
        _one("y", "1"),
        _one("y", "2"),
        _default("y", "1"),
        _one("b", "1", "a: [2]"),
        _default("b", "1"),
        _one("a", "1"),
        _one("a", "2"),
        _default("a", "1"),
        # Any stream of ww, which has no default: the first by name, though 2 is newer.
        _one("zz", "1", "ww: []"),
        _default("zz", "1"),
        _one("ww", "1"),
        _one("ww", "2", version=9000020240109),
        # Any stream of u but 1, which is u's default.
        _one("v", "1", "u: [-1]"),
        _default("v", "1"),
        _one("u", "1"),
        _default("u", "1"),
        # Contexts of one stream, tried by their requirements' names (lib:[1] before lib:[2],
        # k1 before k2, NoRequires before perl:[5.32]), newer or not; the first that holds.
        _context("pd", "aaa", 2, "lib: [2]"),
        _context("pd", "bbb", 1, "lib: [1]"),
        _default("pd", "1"),
        _context("s", "xxx", 2, "k1: []"),
        _context("s", "yyy", 1, "k2: []"),
        _default("s", "1"),
        _one("k1", "1"),
        _default("k1", "1"),
        _one("k2", "1"),
        _default("k2", "1"),
        _context("perl-app", "new", 2, "perl: [5.32]"),
        _context("perl-app", "old", 1),
        _default("perl-app", "1"),
        modulemd("perl", "5.32", 9000020240101, "c9a", "el9", [f"perl-0:5.32-1.{MODULE}.noarch"]),
        _default("perl", "5.32"),
    ]
)
DEPENDENCY_CASES = {
    "a-default-pulls-a-stream-with-no-default": ({}, ["maven", "jpt"]),
    "a-required-stream-alone": ({}, ["jpt"]),
    "a-disabled-requirement-leaves-the-default-inactive": (
        {"javapackages-tools": ("202201", "disabled")},
        ["maven", "jpt"],
    ),
    "an-enabled-stream-takes-its-requirement-over-the-default": (
        {"app": ("2", "enabled")},
        ["app", "lib"],
    ),
    "an-enabled-stream-agreeing-with-the-default": ({"app": ("1", "enabled")}, ["app", "lib"]),
    "an-earlier-default-takes-its-requirement": ({}, ["x", "y"]),
    "a-later-default-yields": ({}, ["a"]),
    "any-stream-of-a-module-without-default": ({}, ["zz", "ww"]),
    "a-refused-default": ({}, ["u"]),
    "the-context-whose-requirement-holds": ({}, ["pd"]),
    "contexts-in-name-order-not-newest-first": ({}, ["s"]),
    "no-requirements-before-a-requirement": ({}, ["perl-app"]),
}
# Words whose every build is in a stream dnf leaves inactive: dnf finds no match.
DEPENDENCY_REFUSALS = {"a-later-default-yields": "b", "a-refused-default": "v"}


@pytest.fixture(scope="module")
def dependency_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rpm-module-deps")
    return modular_repo(DEPENDENCY_SPECS, DEPENDENCY_YAML, folder)


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("states", "words"), DEPENDENCY_CASES.values(), ids=DEPENDENCY_CASES.keys()
)
def test_pinner_activates_the_streams_dnfs_module_solver_activates(
    dependency_repo: Path, tmp_path: Path, states: dict[str, tuple[str, str]], words: list[str]
) -> None:
    _check_against_dnf(dependency_repo, tmp_path / "root", states, words)


def _commands_state(commands: list[str]) -> list[str]:
    """The state items pinner reads from `dnf module COMMAND` of each command."""
    items: list[str] = []
    for command in commands:
        (invocation,) = run_invocations(f"dnf -y module {command}", "\\")
        read = read_command(invocation)
        assert read is not None and read.state, command
        items += read.state
    return items


def _dnf_module(repo: Path, root: Path, command: str) -> subprocess.CompletedProcess[str]:
    verb, *specs = command.split()
    return _dnf(root, repo, "module", verb, "-y", *specs)


def _state_files(root: Path) -> dict[str, bytes]:
    folder = root / "etc/dnf/modules.d"
    return {f"/etc/dnf/modules.d/{p.name}": p.read_bytes() for p in folder.glob("*.module")}


# Module states of the image, module commands of the build (`dnf module ...`), then the words:
# the state dnf writes and the builds it installs, as pinner follows them.
COMMAND_CASES = {
    "enable-a-stream": ({}, ["enable nodejs:20"], ["nodejs", "lister"]),
    "enable-the-default-stream-by-name": ({}, ["enable tool"], ["tool"]),
    "enable-ignores-a-profile": ({}, ["enable nodejs:18/common"], ["nodejs", "npm"]),
    "enable-two-modules": ({}, ["enable tool:2 nodejs:18"], ["tool", "nodejs"]),
    "disable-keeps-the-plain-builds": (
        {"nodejs": ("20", "enabled")},
        ["disable nodejs:20"],
        ["nodejs", "npm"],
    ),
    "reset-returns-to-the-default": ({"tool": ("2", "enabled")}, ["reset tool"], ["tool"]),
    "reset-then-enable-another-stream": (
        {"nodejs": ("18", "enabled")},
        ["reset nodejs", "enable nodejs:20"],
        ["nodejs"],
    ),
    "disable-then-enable": ({}, ["disable tool", "enable tool:2"], ["tool"]),
}
DEPENDENCY_COMMAND_CASES = {
    "enable-takes-the-streams-it-requires": ({}, ["enable app:2"], ["app", "lib"]),
    "a-reset-leaves-them-enabled": ({}, ["enable app:2", "reset app"], ["lib"]),
    "enable-a-default-stream-with-a-requirement": ({}, ["enable maven"], ["maven", "jpt"]),
    "disable-a-module-with-a-default": ({}, ["disable lib"], ["lib"]),
}
# Commands dnf refuses (it writes no state): a module with no stream enabled or default, a
# stream or module no repository serves, a switch of an enabled stream, two streams at once.
COMMAND_REFUSALS = {
    "no-stream-to-enable": ("", {}, "enable nodejs"),
    "no-such-stream": ("", {}, "enable nodejs:99"),
    "no-such-module": ("", {}, "disable tool nosuch"),
    "a-switch": ("", {"nodejs": ("18", "enabled")}, "enable nodejs:20"),
    "two-streams-of-one-module": ("", {}, "enable nodejs:20 nodejs:18"),
    "a-switch-of-a-required-stream": ("deps", {"lib": ("1", "enabled")}, "enable app:2"),
}


def _check_commands_against_dnf(
    repo: Path,
    root: Path,
    states: dict[str, tuple[str, str]],
    commands: list[str],
    words: list[str],
) -> None:
    before = read_state(_module_root(root, states))
    for command in commands:
        result = _dnf_module(repo, root, command)
        assert result.returncode == 0, result.stdout + result.stderr
    written = read_state(_state_files(root))
    packages, modules = _read(repo)
    state = rpmmodules.changed(before, modules, "platform:el9", _commands_state(commands))
    assert (sorted(state.enabled), state.disabled) == (sorted(written.enabled), written.disabled)
    expected = dnf_would_install(root, repo, words)
    seen, hidden = visible([(packages, False)], modules, state, "platform:el9")
    found = resolve(Pool(seen, (), "x86_64", hidden), words)
    assert not found.missing
    assert sorted(f"{p.name}-{p.evr}.{p.arch}" for p in found.chosen) == expected


ALL_COMMAND_CASES = {
    **{name: ("", *case) for name, case in COMMAND_CASES.items()},
    **{name: ("deps", *case) for name, case in DEPENDENCY_COMMAND_CASES.items()},
}


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("which", "states", "commands", "words"),
    ALL_COMMAND_CASES.values(),
    ids=ALL_COMMAND_CASES.keys(),
)
def test_pinner_follows_module_commands_as_dnf_runs_them(
    repo: Path,
    dependency_repo: Path,
    tmp_path: Path,
    which: str,
    states: dict[str, tuple[str, str]],
    commands: list[str],
    words: list[str],
) -> None:
    used = dependency_repo if which else repo
    _check_commands_against_dnf(used, tmp_path / "root", states, commands, words)


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize(
    ("which", "states", "command"), COMMAND_REFUSALS.values(), ids=COMMAND_REFUSALS.keys()
)
def test_a_module_command_dnf_refuses_is_refused(
    repo: Path,
    dependency_repo: Path,
    tmp_path: Path,
    which: str,
    states: dict[str, tuple[str, str]],
    command: str,
) -> None:
    used = dependency_repo if which else repo
    root = tmp_path / "root"
    before = read_state(_module_root(root, states))
    result = _dnf_module(used, root, command)
    assert result.returncode == 1, result.stdout
    assert read_state(_state_files(root)) == before
    _, modules = _read(used)
    with pytest.raises(rpmmodules.StateError):
        rpmmodules.changed(before, modules, "platform:el9", _commands_state([command]))


@pytest.mark.oracle
@needs_rpm_tools
@pytest.mark.parametrize("word", DEPENDENCY_REFUSALS.values(), ids=DEPENDENCY_REFUSALS.keys())
def test_a_stream_dnf_leaves_inactive_hides_its_packages(
    dependency_repo: Path, tmp_path: Path, word: str
) -> None:
    files = _module_root(tmp_path / "root", {})
    assert f"Unable to find a match: {word}" in dnf_refusal(
        tmp_path / "root", dependency_repo, [word]
    )
    packages, modules = _read(dependency_repo)
    seen, hidden = visible([(packages, False)], modules, read_state(files), "platform:el9")
    assert [m.name for m in resolve(Pool(seen, (), "x86_64", hidden), [word]).missing] == [word]


@pytest.mark.oracle
@needs_rpm_tools
def test_without_filtering_pinner_would_take_a_build_dnf_hides(repo: Path, tmp_path: Path) -> None:
    """The case the filtering is for: the newest nodejs is modular, dnf installs the plain one."""
    (tmp_path / "root/etc").mkdir(parents=True)
    (tmp_path / "root/etc/os-release").write_text(OS_RELEASE)
    assert "nodejs-16.0-1.noarch" in dnf_would_install(tmp_path / "root", repo, ["nodejs"])
    packages, _ = _read(repo)
    unfiltered = resolve(Pool(packages, (), "x86_64"), ["nodejs"])
    assert [str(p.evr) for p in unfiltered.chosen] == ["1:20.0-1.module_el9"]


def _package(
    name: str, evr: str, provides: tuple[str, ...] = (), arch: str = "noarch"
) -> RpmPackage:
    epoch, _, rest = evr.rpartition(":")
    version, release = rest.split("-")
    return RpmPackage(
        name,
        arch,
        EVR(int(epoch or 0), version, release),
        Checksum("sha256", "ab" * 32),
        f"{name}.rpm",
        tuple(Provide(p, None, None) for p in (name, *provides)),
        (),
        (),
        (),
    )


def _modules(text: str) -> Modules:
    return parse_modules(text.encode(), "modules.yaml")


def test_a_module_hotfixes_repository_is_never_filtered() -> None:
    modules = _modules(MODULES_YAML)
    plain, shim = _package("nodejs", "16.0-1"), _package("npm-shim", "1.0-1", ("npm",))
    hidden = _package("nodejs", "1:18.0-1.module_el9")
    state = State(enabled=(("nodejs", "20"),))
    seen, gone = visible([([plain, shim, hidden], False)], modules, state, "platform:el9")
    assert (seen, gone) == ([], [plain, shim, hidden])
    seen, gone = visible([([plain, shim, hidden], True)], modules, state, "platform:el9")
    assert (seen, gone) == ([plain, shim, hidden], [])


def test_a_disabled_module_hides_every_stream_and_keeps_the_plain_builds() -> None:
    modules = _modules(MODULES_YAML)
    tool = _package("tool", "1.0-1.module_el9")
    plain = _package("tool", "0.9-1")
    state = State(disabled=frozenset(["tool"]))
    assert visible([([tool, plain], False)], modules, state, "platform:el9")[0] == [plain]
    assert visible([([tool, plain], False)], modules, State(), "platform:el9")[0] == [tool]


def test_builds_that_differ_by_platform_alone_are_active_together() -> None:
    """libdnf knows a build by its requirements but the platform: tool:1's EL 8 and EL 9 builds
    are one solvable, active together where the newest one's platform holds (dnf 4.14 lists
    tool 1.5 of the EL 8 build beside 1.0 on an EL 9 image), and inactive where it does not."""
    modules = _modules(MODULES_YAML)
    on = {(b.name, b.stream, b.context) for b in active(modules, State(), "platform:el9")}
    assert on == {("tool", "1", "c9a"), ("tool", "1", "c8a")}
    assert active(modules, State(), "platform:el8") == frozenset()
    assert active(modules, State(), None) == frozenset()


def test_builds_with_other_requirements_are_separate_contexts() -> None:
    text = modulemd("app", "1", 2, "new", "el9", ["app-0:2.0-1.m.noarch"]).replace(
        "      platform: [el9]\n  artifacts",
        '      platform: [el9]\n      perl: ["5.32"]\n  artifacts',
    )
    text += modulemd("app", "1", 1, "old", "el9", ["app-0:1.0-1.m.noarch"])
    text += modulemd("perl", "5.32", 1, "c9a", "el9", ["perl-0:5.32-1.m.noarch"])
    text += modulemd("perl", "5.26", 1, "c9a", "el9", ["perl-0:5.26-1.m.noarch"])
    modules = Modules(_modules(text).streams, (("app", "1"), ("perl", "5.32")))
    # The solver knows them as app:1:NoRequires and app:1:perl:[5.32], and tries them in that
    # order, newest version or not (dnf 4.14, run: DEPENDENCY_CASES below).
    on = {(b.name, b.context) for b in active(modules, State(), "platform:el9")}
    assert on == {("app", "old"), ("perl", "c9a")}
    without = Modules(tuple(b for b in modules.streams if b.context != "old"), modules.defaults)
    on = {(b.name, b.context) for b in active(without, State(), "platform:el9")}
    assert on == {("app", "new"), ("perl", "c9a")}
    # Where perl's stream is another, that context's requirements fail: no app is active.
    found = active(without, State(enabled=(("perl", "5.26"),)), "platform:el9")
    assert {(b.name, b.stream) for b in found} == {("perl", "5.26")}


def test_the_images_own_defaults_win_and_conflicting_defaults_cancel() -> None:
    modules = _modules(MODULES_YAML)
    state = State(defaults=(("tool", "2"),))
    assert {b.stream for b in active(modules, state, "platform:el9")} == {"2"}
    other = Modules(defaults=(("tool", "2"),))
    assert rpmmodules.merged([modules, other]).defaults == ()
    assert rpmmodules.merged([modules, modules]).defaults == (("tool", "1"),)


def test_requirements_name_streams_to_take_or_refuse() -> None:
    chosen = {"platform": "el9", "perl": "5.26"}
    holds = rpmmodules._holds
    assert holds((("perl", ("5.24", "5.26")),), chosen)
    assert not holds((("perl", ("5.30",)),), chosen)
    assert holds((("perl", ()),), chosen)
    assert not holds((("perl", ("-5.26",)),), chosen)
    assert not holds((("ruby", ()),), chosen)


def test_demodularized_names_do_not_hide_plain_builds() -> None:
    text = modulemd("tool", "1", 9000020240101, "c9a", "el9", ["tool-0:1.0-1.module_el9.noarch"])
    text = text.replace("  artifacts:", "  demodularized:\n    rpms: [tool]\n  artifacts:")
    modules = _modules(text)
    plain = _package("tool", "0.9-1")
    state = State(enabled=(("tool", "1"),))
    assert visible([([plain], False)], modules, state, "platform:el9")[0] == [plain]


def test_the_image_state_is_read_as_dnf_writes_it() -> None:
    files = {
        "/etc/dnf/modules.d/nodejs.module": _state("nodejs", "20", "enabled").encode(),
        "/etc/dnf/modules.d/php.module": _state("php", "", "disabled").encode(),
        "/etc/dnf/modules.d/ruby.module": _state("ruby", "3.1", "").encode(),
        "/etc/dnf/modules.defaults.d/perl.yaml": (
            b"---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  module: perl\n"
            b'  stream: "5.32"\n...\n'
        ),
    }
    state = read_state(files)
    assert state == State((("nodejs", "20"),), frozenset(["php"]), (("perl", "5.32"),))


def test_a_state_file_with_a_megabyte_blank_run_is_one_error() -> None:
    # configparser's own option pattern takes hours on this line.
    files = {"/etc/dnf/modules.d/a.module": b"[a]\nname" + b" " * 1_000_000 + b"x\n"}
    with pytest.raises(
        rpmmodules.ModulesError,
        match=r"^/etc/dnf/modules.d/a.module: not an INI file \(Source contains parsing errors",
    ):
        read_state(files)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[: not yaml", "not YAML"),
        ("document: modulemd\nversion: 2\ndata: [1]\n", "not a mapping"),
        (
            "document: modulemd\nversion: 2\ndata: {name: a, stream: b, version: x}\n",
            "version 'x' is not a number",
        ),
        (
            "document: modulemd\nversion: 2\ndata: {name: 'a;b', stream: b, version: 1}\n",
            "is not a module name",
        ),
        (
            "document: modulemd\nversion: 2\n"
            'data: {name: a, stream: b, version: 1, artifacts: {rpms: ["x;y"]}}\n',
            "is not name-epoch:version-release.arch",
        ),
        (
            "document: modulemd\nversion: 2\n"
            "data: {name: a, stream: b, version: 1, dependencies: [{requires: {p: x}}]}\n",
            "not a list of strings",
        ),
        # libyaml's composer recurses in C: this many open brackets crashed the process.
        ("document: modulemd\nversion: 2\ndata: " + "[" * 100_000 + "]" * 100_000, "nested"),
        ("data:\n" + "".join(" " * i + "k:\n" for i in range(1, 300)), "nested deeper"),
        ("- " * 5_000 + "x", "nested deeper"),
    ],
    ids=["syntax", "data", "version", "name", "artifact", "requires", "flow", "block", "dashes"],
)
def test_a_malformed_modules_yaml_is_one_line(text: str, message: str) -> None:
    with pytest.raises(rpmmodules.ModulesError, match=message) as caught:
        parse_modules(text.encode(), "[appstream] modules.yaml")
    assert str(caught.value).startswith("[appstream] modules.yaml")
    assert "\n" not in str(caught.value)


def test_one_document_is_capped_not_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyYAML holds a document's nodes at once: 4 MB of "a," took 10 s and 720 MB before.
    monkeypatch.setattr(rpmmodules, "_MAX_DOCUMENT", 1000)
    document = "document: modulemd-translations\nversion: 1\ndata: {x: [%s]}\n"
    assert parse_modules(("---\n" + document % ("a," * 400)).encode() * 3, "m") == Modules()
    for text in [document % ("a," * 500), "---x\n".join([document % ("a," * 300)] * 2)]:
        with pytest.raises(rpmmodules.ModulesError) as caught:
            parse_modules(text.encode(), "[appstream] modules.yaml")
        assert str(caught.value) == "[appstream] modules.yaml: a document over 1000 bytes"


def test_the_nodes_of_a_file_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpmmodules, "_MAX_NODES", 100)
    document = "---\ndocument: modulemd-translations\nversion: 1\ndata: {x: [%s]}\n"
    assert parse_modules((document % ("a," * 25)).encode() * 3, "m") == Modules()
    with pytest.raises(rpmmodules.ModulesError) as caught:
        parse_modules((document % ("a," * 25)).encode() * 4, "[appstream] modules.yaml")
    assert str(caught.value) == "[appstream] modules.yaml: more than 100 lines and commas"


def test_a_name_aliases_make_huge_is_shown_cut_short() -> None:
    # Each level holds the one before nine times: str() of the name spelled out 9^8 lists.
    levels = "".join(
        f"  {n}: &{n} [{', '.join([f'*{a}'] * 9)}]\n"
        for a, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    text = (
        "document: modulemd\nversion: 2\nx:\n  a: &a [x, x, x, x, x, x, x, x, x]\n"
        + levels
        + "data: {name: *h, stream: a, version: 1}\n"
    )
    with pytest.raises(rpmmodules.ModulesError) as caught:
        parse_modules(text.encode(), "m")
    shown = "'[[[[[[[...], [...], [...], [...], [...], [...], ...], [[...]'"
    assert str(caught.value) == f"m: a module: {shown} is not a module name or stream"


def test_streams_stay_strings() -> None:
    text = modulemd("nginx", "1.10", 1, "c", "el9", []).replace('"1.10"', "1.10")
    (build,) = _modules(text).streams
    assert build.stream == "1.10"


# --------------------------------------------------------------------------- recorded real data

CS9 = Path(__file__).resolve().parents[2] / "testdata" / "rpm" / "cs9-appstream" / "repodata"


def _cs9_modules() -> Modules:
    (path,) = CS9.glob("*-modules.yaml.xz")
    return parse_modules(b"".join(decompress(path.read_bytes(), path.name)), path.name)


def test_centos_stream_9_appstream_modules_are_read() -> None:
    modules = _cs9_modules()
    assert len(modules.streams) == 31
    assert modules.defaults == ()  # EL 9 names profiles, no default streams
    assert all(b.static_context and b.arch == "x86_64" for b in modules.streams)
    assert {f"{b.name}:{b.stream}" for b in modules.streams} >= {
        "nodejs:18",
        "nodejs:20",
        "nodejs:22",
        "postgresql:16",
        "ruby:3.3",
    }


def test_on_centos_stream_9_the_plain_nodejs_stays_until_a_stream_is_enabled() -> None:
    """The real AppStream's nodejs builds: modular ones hidden until the image enables nodejs:20,
    and then the plain one hidden (the plain nodejs is EL 9's 16, as AppStream serves it)."""
    modules = _cs9_modules()
    plain = _package("nodejs", "1:16.20.2-8.el9", arch="x86_64")
    node20 = _package("nodejs", "1:20.18.1-1.module_el9+1145+0c321386", arch="x86_64")
    node22 = _package("nodejs", "1:22.4.1-4.module_el9+1103+f54cc21b", arch="x86_64")
    builds = [([plain, node20, node22], False)]
    platform = "platform:el9"
    assert visible(builds, modules, State(), platform) == ([plain], [node20, node22])
    enabled = State(enabled=(("nodejs", "20"),))
    assert visible(builds, modules, enabled, platform) == ([node20], [plain, node22])


def test_on_centos_stream_9_a_build_s_module_commands_pick_the_stream() -> None:
    """The real AppStream's streams, changed as a build's `dnf module` commands change them."""
    modules = _cs9_modules()
    platform = "platform:el9"
    enabled = rpmmodules.changed(State(), modules, platform, ["enable nodejs:20"])
    assert enabled == State(enabled=(("nodejs", "20"),))
    later = ["enable nodejs:20", "reset nodejs", "enable nodejs:22", "enable postgresql:16"]
    assert rpmmodules.changed(State(), modules, platform, later).enabled == (
        ("nodejs", "22"),
        ("postgresql", "16"),
    )
    assert rpmmodules.changed(enabled, modules, platform, ["disable nodejs"]) == State(
        disabled=frozenset({"nodejs"})
    )
    refused = {
        "enable nodejs": "module nodejs: no stream is enabled or default",
        "enable nodejs:21": "module nodejs:21: no repository serves that stream",
        "enable perl:5.32": "module perl: no repository serves it",
    }
    for item, why in refused.items():
        with pytest.raises(rpmmodules.StateError, match=f"^{why}"):
            rpmmodules.changed(State(), modules, platform, [item])
    with pytest.raises(rpmmodules.StateError, match=r"^module nodejs: stream 20 is enabled"):
        rpmmodules.changed(enabled, modules, platform, ["enable nodejs:22"])


# --------------------------------------------------------------------------- lock


UBI_REPO = b"""\
[ubi-9-appstream-rpms]
name = Red Hat Universal Base Image 9 (RPMs) - AppStream
baseurl = https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi9/9/$basearch/appstream/os
enabled = 1
gpgcheck = 1
"""


@pytest.fixture(scope="module")
def mirror(repo: Path) -> Iterator[Mirror]:
    files = {
        f"/ubi-9-appstream-rpms/repodata/{path.name}": path.read_bytes()
        for path in (repo / "repodata").iterdir()
    }
    with Mirror(files) as served:
        yield served


@pytest.fixture(scope="module")
def hub(registry: Registry) -> str:
    base = {"etc/os-release": OS_RELEASE.encode(), "etc/yum.repos.d/ubi.repo": UBI_REPO}
    push(files_image(base), registry, "library/ubi9", "plain")
    state = _state("nodejs", "20", "enabled").encode()
    enabled = {**base, "etc/dnf/modules.d/nodejs.module": state}
    push(files_image(enabled), registry, "library/ubi9", "node20")
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _locked(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path, dockerfile: str
) -> tuple[str, lockfile.LockedStage]:
    (env / "Dockerfile").write_text(dockerfile)
    code, _, err = pinner_at(
        capsys, hub, f"ubi={mirror.url}", "linux/amd64", "lock", "--pin-versions", str(env)
    )
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    return (env / "Dockerfile").read_text(), stage


@needs_rpm_tools
def test_lock_pins_the_build_dnf_installs_on_a_modular_repository(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    text, stage = _locked(capsys, hub, mirror, env, "FROM ubi9:plain\nRUN dnf install -y nodejs\n")
    assert {(p.name, p.version) for p in stage.packages} == {("nodejs", "16.0-1")}
    assert "RUN dnf install -y nodejs-16.0-1 " in text
    assert run_errors(text) == []


@needs_rpm_tools
def test_lock_pins_the_stream_the_image_enables(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = "FROM ubi9:node20\nRUN dnf install -y nodejs lister\n"
    text, stage = _locked(capsys, hub, mirror, env, dockerfile)
    found = {(p.name, p.version) for p in stage.packages}
    modular = {("nodejs", "1:20.0-1.module_el9"), ("npm", "1:10.0-1.module_el9")}
    assert found == {*modular, ("lister", "1.0-1")}
    assert "nodejs-1:20.0-1.module_el9 lister-1.0-1" in text


@needs_rpm_tools
def test_words_after_a_module_enable_are_pinned_to_the_stream_it_enables(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    """lister goes in before the enable (its npm is npm-shim, as nodejs's streams hide npm),
    nodejs after it, from stream 20; the lock records the module command, so check fails once
    it names another stream, and lock moves the words to that stream."""
    dockerfile = (
        "FROM ubi9:plain\n"
        "RUN dnf install -y lister && dnf -y module enable nodejs:20 && dnf -y install nodejs\n"
    )
    text, stage = _locked(capsys, hub, mirror, env, dockerfile)
    found = {(p.name, p.version) for p in stage.packages}
    assert found == {("lister", "1.0-1"), ("npm-shim", "1.0-1"), ("nodejs", "1:20.0-1.module_el9")}
    assert stage.unpinned == ()
    assert stage.commands == ("dnf install -y", "dnf -y module enable nodejs:20", "dnf -y install")
    assert (
        "dnf install -y lister-1.0-1 && dnf -y module enable nodejs:20"
        " && dnf -y install nodejs-1:20.0-1.module_el9"
    ) in text
    assert run_errors(text) == []
    code, out, err = run(capsys, "check", str(env))
    assert code == 0, out + err
    # The mirror still serves nodejs 20, though modular filtering hides it on the image as it is.
    remote = (
        "--registry-mirror",
        f"docker.io=http://{hub}",
        "--snapshot-mirror",
        f"ubi={mirror.url}",
    )
    code, out, err = run(capsys, "check", "--remote", *remote, str(env))
    assert code == 0, out + err
    edited = text.replace("nodejs:20", "nodejs:18").replace("nodejs-1:20.0-1.module_el9", "nodejs")
    (env / "Dockerfile").write_text(edited)
    code, out, err = run(capsys, "check", str(env))
    assert code == 1, out + err
    assert (
        "install command `dnf -y module enable nodejs:18` was `dnf -y module enable nodejs:20`"
        " in the lock; run pinner lock"
    ) in out + err
    text, stage = _locked(capsys, hub, mirror, env, edited)
    assert ("nodejs", "1:18.0-1.module_el9") in {(p.name, p.version) for p in stage.packages}
    assert "dnf -y install nodejs-1:18.0-1.module_el9" in text


@needs_rpm_tools
def test_a_stage_from_a_stage_reads_the_streams_its_parent_enabled(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = (
        "FROM ubi9:plain AS base\n"
        "RUN microdnf module enable -y nodejs:18\n"
        "FROM base\n"
        "RUN dnf install -y nodejs\n"
    )
    (env / "Dockerfile").write_text(dockerfile)
    code, _, err = pinner_at(
        capsys, hub, f"ubi={mirror.url}", "linux/amd64", "lock", "--pin-versions", str(env)
    )
    assert code == 0, err
    base, child = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert base.commands == ("microdnf module enable -y nodejs:18",)
    assert [(p.name, p.version) for p in child.packages] == [("nodejs", "1:18.0-1.module_el9")]
    assert "RUN dnf install -y nodejs-1:18.0-1.module_el9" in (env / "Dockerfile").read_text()


@needs_rpm_tools
def test_a_module_enable_dnf_refuses_is_one_error_line(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    """nodejs has no default stream (as on EL 9): dnf refuses `module enable nodejs`."""
    dockerfile = "FROM ubi9:plain\nRUN dnf -y module enable nodejs &&\\\n  dnf -y install nodejs\n"
    (env / "Dockerfile").write_text(dockerfile)
    code, out, err = pinner_at(capsys, hub, f"ubi={mirror.url}", "linux/amd64", "lock", str(env))
    assert code == 1, out + err
    line, summary = err.strip().splitlines()
    assert summary == "1 error(s); nothing written"
    assert line.startswith(f"{env / 'Dockerfile'}:3: ")
    assert line.endswith(
        "module nodejs: no stream is enabled or default, so `enable nodejs` names none and dnf"
        " refuses it (before this command)"
    )
    assert not (env / "Dockerfile.lock").exists()


@needs_rpm_tools
def test_words_after_a_module_command_pinner_cannot_read_are_not_pinned(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    dockerfile = (
        "FROM ubi9:plain\n"
        'RUN dnf -y module enable "nodejs:$(cat /etc/stream)" && dnf -y install nodejs\n'
    )
    text, stage = _locked(capsys, hub, mirror, env, dockerfile)
    assert stage.packages == ()
    (unpinned,) = stage.unpinned
    assert unpinned.name == "nodejs"
    assert unpinned.reason.endswith("runs dnf module enable nodejs:$(cat /etc/stream)")
    assert "dnf -y install nodejs \\\n" in text


@needs_rpm_tools
def test_lock_leaves_out_what_the_command_excludes(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    """dnf takes npm-shim for lister's npm (npm's newest build is modular, so 8.0 is old); with
    npm-shim excluded it takes npm 8.0 (the oracle of test_rpm_excludes.py checks the rule)."""
    dockerfile = "FROM ubi9:plain\nRUN dnf install -y --exclude=npm-shim lister\n"
    text, stage = _locked(capsys, hub, mirror, env, dockerfile)
    assert {(p.name, p.version) for p in stage.packages} == {("lister", "1.0-1"), ("npm", "8.0-1")}
    assert "dnf install -y --exclude=npm-shim lister-1.0-1" in text


@needs_rpm_tools
def test_an_install_option_changed_since_the_lock_is_resolved_again_and_check_says_so(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    """The lock records each install command but its words; a changed option (here --exclude)
    makes check fail and lock resolve the stage again instead of keeping the old answer."""
    text, stage = _locked(capsys, hub, mirror, env, "FROM ubi9:plain\nRUN dnf install -y lister\n")
    assert stage.commands == ("dnf install -y",)
    assert {p.name for p in stage.packages} == {"lister", "npm-shim"}
    edited = text.replace("dnf install -y lister", "dnf install -y --exclude=npm-shim lister")
    (env / "Dockerfile").write_text(edited)
    code, out, err = run(capsys, "check", str(env))
    assert code == 1, out + err
    assert (
        "install command `dnf install -y --exclude=npm-shim` was `dnf install -y` in the lock;"
        " run pinner lock"
    ) in out + err
    _, stage = _locked(capsys, hub, mirror, env, edited)
    assert {(p.name, p.version) for p in stage.packages} == {("lister", "1.0-1"), ("npm", "8.0-1")}
    assert stage.commands == ("dnf install -y --exclude=npm-shim",)
    code, out, err = run(capsys, "check", str(env))
    assert code == 0, out + err


def test_module_requirements_too_tangled_to_search_are_one_error() -> None:
    """Each of 20 modules has two contexts that both require the next module, and the last
    requires a module nobody has: a search trying every context would try 2^20 combinations."""
    text = modulemd("free", "1", 1, "c", "el9", ["free-0:1.0-1.m.noarch"])
    for i in range(20):
        needs = f"m{i + 1}: [1]" if i < 19 else "nothere: []"
        for context, requires in (("a", needs), ("b", f"{needs}\nfree: []")):
            rpm = f"m{i}-0:1.0-1{context}.m.noarch"
            text += modulemd(f"m{i}", "1", 1, context, "el9", [rpm], requires)
    modules = Modules(_modules(text).streams, (("m0", "1"),))
    with pytest.raises(
        rpmmodules.ModulesError,
        match=r"^module m0:1: over 20000 builds tried for its requirements$",
    ):
        active(modules, State(), "platform:el9")


@needs_rpm_tools
def test_a_module_disabled_then_enabled_with_an_envmodulemd(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: Mirror, env: Path
) -> None:
    """sclorg/s2i-nodejs-container 18-minimal/Dockerfile.rhel8, in small: the stream comes from
    ENV, the words from a variable of the RUN that `rpm -V` reads too (so a pin with an epoch,
    which rpm before 4.18 may not read, is recorded, not written)."""
    dockerfile = (
        "FROM ubi9:plain\n"
        "ENV NODEJS_VERSION=18\n"
        'RUN INSTALL_PKGS="nodejs npm lister" && \\\n'
        "    microdnf -y module disable nodejs && \\\n"
        "    microdnf -y module enable nodejs:$NODEJS_VERSION && \\\n"
        "    microdnf --nodocs --setopt=install_weak_deps=0 install $INSTALL_PKGS && \\\n"
        "    rpm -V $INSTALL_PKGS && \\\n"
        "    microdnf clean all\n"
    )
    text, stage = _locked(capsys, hub, mirror, env, dockerfile)
    assert {(p.name, p.version) for p in stage.packages} == {
        ("lister", "1.0-1"),
        ("nodejs", "1:18.0-1.module_el9"),
        ("npm", "1:8.9-1.module_el9"),
    }
    assert stage.unpinned == ()
    assert 'RUN INSTALL_PKGS="nodejs npm lister-1.0-1" && \\\n' in text
    assert run_errors(text) == []
