"""pinner.apt.exactstep: the derived step, run by dash and busybox sh, gives the predicted files."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from image_root import under_root

from pinner import dockerfile, reproducible
from pinner.apt import exactstep
from pinner.apt.sources import DEFAULT_MIRRORS, TLS_CONF, find_markers

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "testdata" / "sources"
TS = "20250102T030405Z"
BUSYBOX_APPLETS = ("sed", "grep", "cat")
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir() and p.name != "expected")
TLS = 'Acquire::https::snapshot.ubuntu.com::Verify-Peer "false";\n'

Shell = Callable[[str], "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session")
def busybox_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH directory holding only busybox applets, so no GNU tool can sneak in."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    bin_dir = tmp_path_factory.mktemp("busybox-bin")
    for applet in BUSYBOX_APPLETS:
        (bin_dir / applet).symlink_to(busybox)
    return bin_dir


@pytest.fixture(params=["dash", "busybox"])
def shell(request: pytest.FixtureRequest) -> Shell:
    """dash with GNU sed and grep (as the images have), or busybox sh with busybox applets only."""
    if request.param == "dash":
        if not Path("/bin/dash").exists():
            pytest.skip("dash is not installed")
        argv, env = ["/bin/dash", "-c"], dict(os.environ)
    else:
        bin_dir: Path = request.getfixturevalue("busybox_bin")
        argv, env = [str(shutil.which("busybox")), "sh", "-c"], {"PATH": str(bin_dir)}

    def run(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, script], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    return run


def distro_of(case: str) -> exactstep.Distro:
    return "ubuntu" if case.startswith("ubuntu") else "debian"


def sources_of(top: Path) -> list[tuple[str, str]]:
    """The apt sources files under an image root, as baseimage reports them."""
    return [
        ("/" + p.relative_to(top).as_posix(), p.read_text())
        for p in sorted(top.rglob("*"))
        if p.is_file() and p.name.endswith((".list", ".sources"))
    ]


def copy_root(case: str, tmp_path: Path) -> Path:
    root = tmp_path / case
    shutil.copytree(DATA / case, root)
    (root / "etc/apt/apt.conf.d").mkdir(exist_ok=True)
    return root


def derive(
    case: str, root: Path | str = "", **sources: list[tuple[str, str]]
) -> exactstep.ExactStep:
    distro = distro_of(case)
    found = exactstep.derive(
        sources or {"amd64": sources_of(DATA / case)}, distro, TS, DEFAULT_MIRRORS[distro]
    )
    assert isinstance(found, exactstep.ExactStep), found
    return in_root(found, root)


def in_root(step: exactstep.ExactStep, root: Path | str) -> exactstep.ExactStep:
    """The step with the paths it names moved below root, where a test built the image's files."""
    if not root:
        return step
    return step._replace(lines=tuple(under_root(line, root) for line in step.lines))


def run_step(shell: Shell, step: exactstep.ExactStep) -> subprocess.CompletedProcess[str]:
    """The step as BuildKit hands it to the shell: its lines joined by spaces."""
    return shell(" ".join(step.lines))


def stanzas(text: str) -> list[list[str]]:
    return [sorted(stanza.split("\n")) for stanza in text.rstrip("\n").split("\n\n")]


def expected_name(case: str) -> str:
    """The generic step's reviewed output for the same input (testdata/sources/README.md)."""
    return case.rsplit("-", 1)[0] if case.startswith("debian") else case


@pytest.mark.parametrize("case", CASES)
def test_the_step_gives_exactly_the_predicted_files(
    tmp_path: Path, shell: Shell, case: str
) -> None:
    root = copy_root(case, tmp_path)
    step = derive(case, root)
    untouched = {p: t for p, t in sources_of(root) if p not in dict(step.files["amd64"])}

    result = run_step(shell, step)

    assert (result.returncode, result.stderr) == (0, "")
    after = dict(sources_of(root))
    assert {p: after[p] for p, _ in step.files["amd64"]} == dict(step.files["amd64"])
    assert {p: after[p] for p in untouched} == untouched
    tls = root / TLS_CONF.lstrip("/")
    assert (tls.read_text() if tls.exists() else None) == (
        TLS if distro_of(case) == "ubuntu" else None
    )


@pytest.mark.parametrize("case", CASES)
def test_the_prediction_is_what_the_reviewed_generic_step_writes(case: str) -> None:
    step = derive(case)
    expected = DATA / "expected" / expected_name(case)
    for path, text in step.files["amd64"]:
        # The generic step adds Check-Valid-Until at a stanza's end, this one after its URIs.
        assert stanzas(text) == stanzas((expected / path.lstrip("/")).read_text()), path


@pytest.mark.parametrize("case", CASES)
def test_the_step_is_short(case: str) -> None:
    body = " \\\n    ".join(derive(case).lines)
    assert len(derive(case).lines) <= 4
    assert len(f"RUN {body}") <= 400, body


def test_debian_bookworm_step_reads_as_written() -> None:
    step = derive("debian-bookworm-slim")
    assert step.lines == (
        "sed -Ei 's#^URIs: http://deb.debian.org/(debian|debian-security)$#URIs:"
        f" http://snapshot.debian.org/archive/\\1/{TS}\\nCheck-Valid-Until: no#'"
        " /etc/apt/sources.list.d/debian.sources",
        f"&& [ \"$(grep -c '^[^#]*/{TS}' /etc/apt/sources.list.d/debian.sources)\" = 2 ]",
    )


def test_one_step_for_both_ubuntu_architectures(tmp_path: Path, shell: Shell) -> None:
    amd64, arm64 = "ubuntu-22.04-amd64", "ubuntu-22.04-arm64"
    roots = {arch: copy_root(case, tmp_path) for arch, case in (("a", amd64), ("b", arm64))}
    steps = [
        derive(amd64, root, amd64=sources_of(DATA / amd64), arm64=sources_of(DATA / arm64))
        for root in roots.values()
    ]
    assert (
        "'s#^deb http://(archive.ubuntu.com/ubuntu|security.ubuntu.com/ubuntu"
        "|ports.ubuntu.com/ubuntu-ports)/ #deb [check-valid-until=no]"
        f" https://snapshot.ubuntu.com/ubuntu/{TS}/ #'"
    ) in steps[0].lines[0]
    for (arch, root), step in zip(roots.items(), steps, strict=True):
        assert run_step(shell, step).returncode == 0
        want = step.files["amd64" if arch == "a" else "arm64"]
        assert {p: dict(sources_of(root))[p] for p, _ in want} == dict(want)


GUARD_CASES = [
    pytest.param(
        "debian-bookworm-slim",
        lambda root: (root / "etc/apt/sources.list.d/debian.sources").unlink(),
        id="file-gone",
    ),
    pytest.param(
        "debian-bookworm-slim",
        lambda root: (root / "etc/apt/sources.list.d/debian.sources").write_text(
            "Types: deb\nURIs: http://ftp.debian.org/debian\nSuites: bookworm\n"
        ),
        id="nothing-to-rewrite",
    ),
    pytest.param(
        "debian-bullseye-default",
        lambda root: (root / "etc/apt/sources.list").write_text(
            (root / "etc/apt/sources.list").read_text()
            + "deb http://deb.debian.org/debian bullseye-backports main\n"
        ),
        id="a-line-more",
    ),
    pytest.param(
        "ubuntu-24.04-amd64",
        lambda root: (root / "etc/apt/sources.list.d/ubuntu.sources").write_text(
            (root / "etc/apt/sources.list.d/ubuntu.sources")
            .read_text()
            .replace("http://security.ubuntu.com/ubuntu/", "http://security.ubuntu.com/ubuntu")
        ),
        id="a-uri-spelled-otherwise",
    ),
]


@pytest.mark.parametrize(("case", "change"), GUARD_CASES)
def test_the_guard_fails_when_the_sources_differ_from_those_locked(
    tmp_path: Path, shell: Shell, case: str, change: Callable[[Path], object]
) -> None:
    root = copy_root(case, tmp_path)
    step = derive(case, root)
    change(root)
    assert run_step(shell, step).returncode != 0


def test_third_party_entries_in_the_same_file_are_untouched(tmp_path: Path, shell: Shell) -> None:
    text = (
        "deb [arch=amd64] http://deb.debian.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc]"
        " https://download.docker.com/linux/debian bookworm stable\n"
        "deb http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main\n"
    )
    root = tmp_path / "root"
    (root / "etc/apt").mkdir(parents=True)
    (root / "etc/apt/sources.list").write_text(text)
    found = exactstep.derive(
        {"amd64": [("/etc/apt/sources.list", text)]}, "debian", TS, DEFAULT_MIRRORS["debian"]
    )
    assert isinstance(found, exactstep.ExactStep), found
    assert run_step(shell, in_root(found, root)).returncode == 0
    assert (root / "etc/apt/sources.list").read_text() == text.replace(
        "deb [arch=amd64] http://deb.debian.org/debian ",
        f"deb [arch=amd64 check-valid-until=no] http://snapshot.debian.org/archive/debian/{TS} ",
    )


FALLBACK_CASES = [
    pytest.param(
        {"amd64": [("/etc/apt/sources.list", "deb http://download.docker.com/linux/debian x y\n")]},
        "no Debian archive in the base image's sources",
        id="third-party-only",
    ),
    pytest.param({"amd64": []}, "no Debian archive in the base image's sources", id="no-files"),
    pytest.param(
        {
            "amd64": [
                (
                    "/etc/apt/sources.list.d/debian.sources",
                    "Types: deb\nURIs: http://deb.debian.org/debian\n"
                    "  http://deb.debian.org/debian-security\nSuites: bookworm\n",
                )
            ]
        },
        "/etc/apt/sources.list.d/debian.sources: URIs: http://deb.debian.org/debian:"
        " URIs continue on the next line",
        id="continued-uris",
    ),
    pytest.param(
        {
            "amd64": [
                (
                    "/etc/apt/sources.list.d/debian.sources",
                    "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n"
                    "Check-Valid-Until: yes\n",
                )
            ]
        },
        "/etc/apt/sources.list.d/debian.sources: URIs: http://deb.debian.org/debian:"
        " its stanza sets Check-Valid-Until itself",
        id="stanza-sets-cvu",
    ),
    pytest.param(
        {
            "amd64": [
                ("/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main\n")
            ],
            "arm64": [("/etc/apt/sources.list.d/x.list", "deb http://deb.debian.org/debian b m\n")],
        },
        "the base image's sources files differ by architecture",
        id="files-differ-by-arch",
    ),
    pytest.param(
        {"amd64": [("/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main")]},
        "a sources file to change has no final newline",
        id="no-final-newline",
    ),
]


@pytest.mark.parametrize(("sources", "reason"), FALLBACK_CASES)
def test_why_no_exact_step(sources: dict[str, list[tuple[str, str]]], reason: str) -> None:
    assert exactstep.derive(sources, "debian", TS, DEFAULT_MIRRORS["debian"]) == reason


def test_verify_names_what_would_go_wrong() -> None:
    old = "deb http://deb.debian.org/debian bookworm main\n"
    good = (
        f"deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/{TS} bookworm main\n"
    )
    base = DEFAULT_MIRRORS["debian"]
    assert exactstep.verify(old, good, "/f", base, TS, "debian") is None
    assert exactstep.verify(old, good.replace("main", "contrib"), "/f", base, TS, "debian") == (
        "/f: a line other than a distribution URI would change"
    )
    assert exactstep.verify(old, old, "/f", base, TS, "debian") == (
        "/f: http://deb.debian.org/debian would not be the snapshot"
    )
    no_cvu = good.replace("[check-valid-until=no] ", "")
    assert exactstep.verify(old, no_cvu, "/f", base, TS, "debian") == (
        "/f: an entry on the snapshot would keep checking Valid-Until"
    )


# --------------------------------------------------------------------------- size of the diff

# The testdata/sources image whose apt sources each base image carries.
BASES = {
    "python:3.12-slim": "debian-bookworm-slim",
    "debian:bookworm": "debian-bookworm-default",
    "debian:bullseye-slim": "debian-bullseye-slim",
    "debian:trixie": "debian-trixie-default",
    "ubuntu:24.04": "ubuntu-24.04-amd64",
    "ubuntu:22.04": "ubuntu-22.04-amd64",
}
EXAMPLES = [
    REPO / "examples" / "Dockerfile",
    *sorted((REPO / "testdata" / "dockerfiles").glob("*.Dockerfile")),
]


def locked_text(path: Path) -> tuple[str, int]:
    """A Dockerfile rewritten with the exact steps its bases give, and how many stages got one."""
    parsed = dockerfile.parse(path.read_text(), str(path), {})
    steps: dict[str, tuple[str, ...] | None] = {}
    distros: dict[str, str | None] = {}
    stages = {s.label: s for s in parsed.stages}
    for plan in reproducible.plans(parsed):
        stage = plan.stage
        while stage.parent is not None:
            stage = stages[stage.parent]
        image = next(u.written for u in parsed.uses if u.used_by == f"stage {stage.label}: FROM")
        case = BASES[image.replace("${BASE}", "python:3.12-slim")]
        distros[plan.stage.label] = distro_of(case)
        if plan.needs_step:
            steps[plan.stage.label] = derive(case).lines
    rewrite = reproducible.Rewrite(TS, 1735787045, distros, {}, {}, steps=steps)
    text = reproducible.rewritten(parsed, rewrite).text
    return text, len(steps)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_apt_stage_gains_at_most_four_lines_and_a_marker(path: Path) -> None:
    text, stepped = locked_text(path)
    lines = text.split("\n")
    markers = find_markers(lines)
    assert len(markers) == stepped > 0
    for step in markers:
        run = lines[step.start + 1 : step.end]
        assert len(run) <= 4, run
        assert len("\n".join(run)) <= 400, run
        assert run[0].startswith("RUN sed -Ei ")


WRITES_CASES = [
    pytest.param(
        "FROM debian:bookworm\n"
        "RUN echo 'deb http://deb.debian.org/debian bookworm-backports main'"
        " > /etc/apt/sources.list.d/backports.list\n"
        "RUN apt-get update && apt-get install -y curl\n",
        2,
        id="echo-into-sources-list-d",
    ),
    pytest.param(
        "FROM ubuntu:24.04\nCOPY apt/ /etc/apt/\nRUN apt-get update && apt-get install -y curl\n",
        2,
        id="copy-into-etc-apt",
    ),
    pytest.param(
        "FROM ubuntu:22.04\nRUN add-apt-repository ppa:deadsnakes/ppa\n"
        "RUN apt-get update && apt-get install -y python3.12\n",
        2,
        id="add-apt-repository",
    ),
    pytest.param(
        "FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n"
        "RUN echo 'deb https://example.org/debian bookworm main' > /etc/apt/sources.list.d/x.list\n",
        None,
        id="after-the-first-apt-run",
    ),
    pytest.param(
        "FROM debian:bookworm\nWORKDIR /etc/apt\nRUN apt-get update && apt-get install -y curl\n",
        None,
        id="nothing-written",
    ),
]


@pytest.mark.parametrize(("text", "line"), WRITES_CASES)
def test_instructions_that_may_write_sources_before_apt(text: str, line: int | None) -> None:
    parsed = dockerfile.parse(text, "Dockerfile", {})
    (plan,) = reproducible.plans(parsed)
    assert reproducible.writes_sources(parsed, plan) == line


@pytest.mark.parametrize("case", CASES)
def test_a_base_built_with_the_step_is_re_pointed_with_an_exact_step(
    tmp_path: Path, shell: Shell, case: str
) -> None:
    pinned = derive(case).files["amd64"]
    root = tmp_path / "root"
    for path, text in pinned:
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_text(text)
    (root / "etc/apt/apt.conf.d").mkdir(parents=True, exist_ok=True)
    distro = distro_of(case)
    later = "20260304T050607Z"
    found = exactstep.derive({"amd64": list(pinned)}, distro, later, DEFAULT_MIRRORS[distro])
    assert isinstance(found, exactstep.ExactStep), found

    assert run_step(shell, in_root(found, root)).returncode == 0

    for path, text in pinned:
        after = (root / path.lstrip("/")).read_text()
        assert after == text.replace(TS, later) == dict(found.files["amd64"])[path]
