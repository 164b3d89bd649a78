"""Modular filtering (EL 8 and 9): pinner sees the packages dnf sees, checked against the real dnf.

The oracle repository holds what an EL 9 AppStream holds in small: a plain nodejs beside modular
nodejs:18 and nodejs:20 builds (no default stream, as on EL 9), and a `tool` module whose default
stream 1 has an EL 9 context and a newer EL 8 one, beside a stream 2 (defaults, as on EL 8).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rpmrepo import Spec, build_repo, dnf_would_install, needs_rpm_tools

from pinner.managers import rpmmodules
from pinner.managers.repodata import (
    Checksum,
    RpmPackage,
    decompress,
    parse_repomd,
    primary_packages,
)
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


def _stream(
    name: str, stream: str, version: int, context: str, platform: str, rpms: list[str]
) -> str:
    listed = "\n".join(f"    - {rpm}" for rpm in rpms)
    return f"""\
---
document: modulemd
version: 2
data:
  name: {name}
  stream: "{stream}"
  version: {version}
  context: {context}
  arch: noarch
  summary: {name} {stream}
  description: {name} {stream}
  license:
    module: [MIT]
  dependencies:
  - buildrequires:
      platform: [{platform}]
    requires:
      platform: [{platform}]
  artifacts:
    rpms:
{listed}
...
"""


MODULES_YAML = (
    _stream("nodejs", "18", 9000020240101, "c9a", "el9", [
        "nodejs-1:18.0-1.module_el9.noarch", "npm-1:8.9-1.module_el9.noarch",
        "nodejs-1:18.0-1.module_el9.src",
    ])
    + _stream("nodejs", "20", 9000020240102, "c9a", "el9", [
        "nodejs-1:20.0-1.module_el9.noarch", "npm-1:10.0-1.module_el9.noarch",
    ])
    + _stream("tool", "1", 9000020240101, "c9a", "el9", ["tool-0:1.0-1.module_el9.noarch"])
    + _stream("tool", "1", 8000020240301, "c8a", "el8", ["tool-0:1.5-1.module_el8.noarch"])
    + _stream("tool", "2", 9000020240101, "c9a", "el9", ["tool-0:2.0-2.module_el9.noarch"])
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
)  # fmt: skip
OS_RELEASE = 'ID="rhel"\nVERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n'


def _state(name: str, stream: str, state: str) -> str:
    return f"[{name}]\nname={name}\nstream={stream}\nprofiles=\nstate={state}\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = build_repo(SPECS, tmp_path_factory.mktemp("rpm-modules") / "repo")
    source = built.parent / "modules.yaml"
    source.write_text(MODULES_YAML)
    subprocess.run(
        ["modifyrepo_c", "--mdtype=modules", str(source), str(built / "repodata")],
        check=True,
        capture_output=True,
    )
    return built


def _read(repo: Path) -> tuple[list[RpmPackage], Modules]:
    entries = parse_repomd((repo / "repodata" / "repomd.xml").read_bytes(), "repomd.xml")
    primary, listed = entries["primary"], entries["modules"]
    packages = primary_packages(primary, (repo / primary.href).read_bytes(), primary.href)
    text = b"".join(decompress((repo / listed.href).read_bytes(), listed.href))
    return packages, parse_modules(text, listed.href)


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
    root = tmp_path / "root"
    (root / "etc/dnf/modules.d").mkdir(parents=True)
    (root / "etc/os-release").write_text(OS_RELEASE)
    files = {"/etc/os-release": OS_RELEASE.encode()}
    for name, (stream, state) in states.items():
        text = _state(name, stream, state)
        (root / f"etc/dnf/modules.d/{name}.module").write_text(text)
        files[f"/etc/dnf/modules.d/{name}.module"] = text.encode()
    expected = dnf_would_install(root, repo, words)
    packages, modules = _read(repo)
    seen, hidden = visible([(packages, False)], modules, read_state(files), "platform:el9")
    found = resolve(Pool(seen, (), "x86_64", hidden), words)
    assert not found.missing
    assert sorted(f"{p.name}-{p.evr}.{p.arch}" for p in found.chosen) == expected


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


def _package(name: str, evr: str, provides: tuple[str, ...] = ()) -> RpmPackage:
    epoch, _, rest = evr.rpartition(":")
    version, release = rest.split("-")
    return RpmPackage(
        name,
        "noarch",
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
    text = _stream("app", "1", 2, "new", "el9", ["app-0:2.0-1.m.noarch"]).replace(
        "      platform: [el9]\n  artifacts",
        '      platform: [el9]\n      perl: ["5.32"]\n  artifacts',
    )
    text += _stream("app", "1", 1, "old", "el9", ["app-0:1.0-1.m.noarch"])
    modules = Modules(_modules(text).streams, (("app", "1"), ("perl", "5.32")))
    on = {b.context for b in active(modules, State(), "platform:el9")}
    assert on == {"new"}
    # Where perl's stream is another, the newest build's requirements fail: none is active.
    assert active(modules, State(enabled=(("perl", "5.26"),)), "platform:el9") == frozenset()


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
    text = _stream("tool", "1", 9000020240101, "c9a", "el9", ["tool-0:1.0-1.module_el9.noarch"])
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
    ],
    ids=["syntax", "data", "version", "name", "artifact", "requires"],
)
def test_a_malformed_modules_yaml_is_one_line(text: str, message: str) -> None:
    with pytest.raises(rpmmodules.ModulesError, match=message) as caught:
        parse_modules(text.encode(), "[appstream] modules.yaml")
    assert str(caught.value).startswith("[appstream] modules.yaml")
    assert "\n" not in str(caught.value)


def test_streams_stay_strings() -> None:
    text = _stream("nginx", "1.10", 1, "c", "el9", []).replace('"1.10"', "1.10")
    (build,) = _modules(text).streams
    assert build.stream == "1.10"
