"""Dated composes for dnf stages (pinner.managers.rpmcompose and the Manager's --snapshot): which
compose a time names, the step's sed run by GNU sed and busybox on the real .repo files, and
resolution reading the chosen compose's repodata.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from shell_syntax import run_errors

from pinner.errors import MirrorError
from pinner.managers import Fetch, Mode, PackageArg, Resolved, Source
from pinner.managers import rpmcompose as rc
from pinner.managers.rpm import Rpm
from pinner.managers.rpmconfig import RpmConfig, configure

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "rpm"
C9S = (TESTDATA / "repos/centos-stream9/c9s.repo").read_bytes()
FEDORA_UPDATES = (TESTDATA / "repos/fedora/fedora-updates.repo").read_bytes()
RAWHIDE_REPO = (TESTDATA / "repos/fedora-rawhide/fedora-rawhide.repo").read_bytes()
BRANCHED_REPO = (TESTDATA / "repos/fedora-branched/fedora.repo").read_bytes()
BRANCHED_OS_RELEASE = b'ID=fedora\nVERSION_ID=42\nVERSION="42 (Container Image Prerelease)"\n'
KOJI_BRANCHED = "https://kojipkgs.fedoraproject.org/compose/branched/"
# The shape of kojipkgs' compose/branched/: each numbered release's nightly ids and latest- link.
BRANCHED_LISTING = b"""<html><body><pre>
<a href="Fedora-41-20261130.n.0/">Fedora-41-20261130.n.0/</a>
<a href="Fedora-42-20261129.n.0/">Fedora-42-20261129.n.0/</a>
<a href="Fedora-42-20261130.n.0/">Fedora-42-20261130.n.0/</a>
<a href="Fedora-42-20261201.n.0/">Fedora-42-20261201.n.0/</a>
<a href="Fedora-42-updates-testing-20261130.0/">Fedora-42-updates-testing-20261130.0/</a>
<a href="latest-Fedora-42/">latest-Fedora-42/</a>
</pre></body></html>
"""
# dnf reads $releasever from system-release(releasever) = rawhide; /etc/dnf/vars says the same.
RAWHIDE = {"/etc/dnf/vars/releasever": b"rawhide\n"}
KOJI_RAWHIDE = "https://kojipkgs.fedoraproject.org/compose/rawhide/"
# The shape of kojipkgs' listing of compose/rawhide/ (nightly ids, respins, the latest- link;
# testdata/rpm/README.md).
RAWHIDE_LISTING = b"""<html><head><title>Index of /compose/rawhide</title></head><body>
<pre><a href="?C=N;O=D">Name</a>
<a href="/compose/">Parent Directory</a>
<a href="Fedora-Rawhide-20261128.n.0/">Fedora-Rawhide-20261128.n.0/</a>
<a href="Fedora-Rawhide-20261130.n.0/">Fedora-Rawhide-20261130.n.0/</a>
<a href="Fedora-Rawhide-20261130.n.1/">Fedora-Rawhide-20261130.n.1/</a>
<a href="Fedora-Rawhide-20261201.n.0/">Fedora-Rawhide-20261201.n.0/</a>
<a href="Fedora-Rawhide-20261129.0/">Fedora-Rawhide-20261129.0/</a>
<a href="latest-Fedora-Rawhide/">latest-Fedora-Rawhide/</a>
</pre></body></html>
"""
CS9 = b'NAME="CentOS Stream"\nID="centos"\nVERSION_ID="9"\n'
SNAPSHOT = "20261201T101500Z"
PRODUCTION = "https://composes.stream.centos.org/production/"
# The shape of composes.stream.centos.org's Apache listing of production/.
LISTING = b"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /production</title></head><body><h1>Index of /production</h1>
<table><tr><th><a href="?C=N;O=D">Name</a></th></tr>
<tr><td><a href="/">Parent Directory</a></td></tr>
<tr><td><a href="CentOS-Stream-9-20261127.0/">CentOS-Stream-9-20261127.0/</a></td></tr>
<tr><td><a href="CentOS-Stream-9-20261130.0/">CentOS-Stream-9-20261130.0/</a></td></tr>
<tr><td><a href="CentOS-Stream-9-20261130.1/">CentOS-Stream-9-20261130.1/</a></td></tr>
<tr><td><a href="CentOS-Stream-9-20261201.0/">CentOS-Stream-9-20261201.0/</a></td></tr>
<tr><td><a href="CentOS-Stream-10-20261130.0/">CentOS-Stream-10-20261130.0/</a></td></tr>
<tr><td><a href="latest-CentOS-Stream/">latest-CentOS-Stream/</a></td></tr>
</table></body></html>
"""
STATUS = {
    "CentOS-Stream-9-20261127.0": b"FINISHED\n",
    "CentOS-Stream-9-20261130.0": b"FINISHED_INCOMPLETE\n",
    "CentOS-Stream-9-20261130.1": b"DOOMED\n",
    "CentOS-Stream-9-20261201.0": b"FINISHED\n",
}
CUSTOM = TESTDATA / "custom-zst"
STEP = (
    "sed -i",
    r"-e '/^\[baseos\]/,/^\[/s|^baseurl=.*|baseurl=https://composes.stream.centos.org"
    "/production/CentOS-Stream-9-20261130.0/compose/BaseOS/$basearch/os/|'",
    r"-e '/^\[appstream\]/,/^\[/s|^baseurl=.*|baseurl=https://composes.stream.centos.org"
    "/production/CentOS-Stream-9-20261130.0/compose/AppStream/$basearch/os/|'",
    "/etc/yum.repos.d/c9s.repo",
)


def _config(
    os_release: bytes = CS9, repo: bytes = C9S, extra: dict[str, bytes] | None = None
) -> RpmConfig:
    files = {"/etc/os-release": os_release, "/etc/yum.repos.d/c9s.repo": repo} | (extra or {})
    config = configure(files, "amd64")
    assert isinstance(config, RpmConfig), config
    return config


def test_candidates_are_the_series_composes_before_the_day_newest_first() -> None:
    series = rc.Series(PRODUCTION, "CentOS-Stream-9", "BaseOS")
    # 20261201.0 is the lock's own day (it may not have finished then); stream 10's and the
    # latest- link are another series.
    assert rc.candidates(LISTING, series, SNAPSHOT) == [
        "CentOS-Stream-9-20261130.1",
        "CentOS-Stream-9-20261130.0",
        "CentOS-Stream-9-20261127.0",
    ]


def test_rawhide_candidates_are_the_nightly_composes_before_the_day() -> None:
    series = rc.Series(KOJI_RAWHIDE, "Fedora-Rawhide", "Everything", ".n")
    # The lock's own day's compose, the latest- link and an id without `.n` are not taken.
    assert rc.candidates(RAWHIDE_LISTING, series, SNAPSHOT) == [
        "Fedora-Rawhide-20261130.n.1",
        "Fedora-Rawhide-20261130.n.0",
        "Fedora-Rawhide-20261128.n.0",
    ]
    assert series.expiry() == rc.NIGHTLY_EXPIRY
    assert rc.Series(PRODUCTION, "CentOS-Stream-9", "BaseOS").expiry() == rc.EXPIRY


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (b"FINISHED\n", True),
        (b"FINISHED_INCOMPLETE\n", True),
        (b"DOOMED\n", False),
        (b"STARTED\n", False),
        (b"", False),
    ],
)
def test_finished(status: bytes, expected: bool) -> None:
    assert rc.finished(status) is expected


def test_series_of_each_distribution() -> None:
    config = _config()
    by_id = {r.id: r for r in config.repos}
    assert rc.series(config, by_id["baseos"], {}) == rc.Series(
        PRODUCTION, "CentOS-Stream-9", "BaseOS"
    )
    ten = _config(CS9.replace(b'"9"', b'"10"'))
    assert rc.series(ten, ten.repos[1], {"centos": "http://127.0.0.1:8/c/"}) == rc.Series(
        "http://127.0.0.1:8/c/stream-10/production/", "CentOS-Stream-10", "AppStream"
    )
    fedora = _config(b'ID=fedora\nVERSION_ID="41"\n', FEDORA_UPDATES)
    assert rc.series(fedora, fedora.repos[0], {}) == rc.Series(
        "https://kojipkgs.fedoraproject.org/compose/updates/", "Fedora-41-updates", "Everything"
    )
    assert rc.series(fedora, fedora.repos[1], {}) is None  # updates-debuginfo: no compose tree
    rawhide = _config(b'ID=fedora\nVERSION_ID="43"\n', RAWHIDE_REPO, RAWHIDE)
    assert rc.family(rawhide) == "fedora"
    ids = {r.id: r for r in rawhide.repos}
    assert rc.series(rawhide, ids["rawhide"], {"fedora": "http://127.0.0.1:8/f"}) == rc.Series(
        "http://127.0.0.1:8/f/rawhide/", "Fedora-Rawhide", "Everything", ".n"
    )
    assert rc.series(rawhide, ids["rawhide-debuginfo"], {}) is None
    # Without an rpmdb (nor /etc/dnf/vars), os-release's support version says Rawhide.
    bare = _config(
        b'ID=fedora\nVERSION_ID=43\nVERSION="43 (Container Image Prerelease)"\n'
        b"REDHAT_SUPPORT_PRODUCT_VERSION=rawhide\n",
        RAWHIDE_REPO,
    )
    assert bare.installed is None
    assert rc.series(bare, ids["rawhide"], {}) == rc.Series(
        KOJI_RAWHIDE, "Fedora-Rawhide", "Everything", ".n"
    )
    # fedora-repos' release files, enabled on a Rawhide image, have no Rawhide compose.
    rawhide_updates = _config(b"ID=fedora\nVERSION_ID=43\n", FEDORA_UPDATES, RAWHIDE)
    assert rc.series(rawhide_updates, rawhide_updates.repos[0], {}) is None
    assert not rc.frozen(rawhide_updates, rawhide_updates.repos[0]._replace(id="fedora"))
    rocky = _config(b'ID="rocky"\nVERSION_ID="9.3"\n')
    assert rc.family(rocky) is None
    with pytest.raises(ValueError, match="cannot be written into a sed"):
        rc.series(config, by_id["baseos"], {"centos": "https://evil.example/a|b"})


def _step(config: RpmConfig, compose: str) -> tuple[str, ...]:
    files = dict(config.repo_files)
    targets = []
    for repo in config.repos:
        line = rc.series(config, repo, {})
        if line is not None:
            target = rc.target(repo, files, line.tree(compose))
            assert isinstance(target, rc.Target), target
            targets.append(target)
    return rc.step(targets)


@pytest.mark.parametrize("sed", ["sed", "busybox sed"])
@pytest.mark.parametrize(
    ("os_release", "repo", "compose", "expected"),
    [
        pytest.param(
            CS9,
            C9S,
            "CentOS-Stream-9-20261130.0",
            {
                "baseos": PRODUCTION + "CentOS-Stream-9-20261130.0/compose/BaseOS/x86_64/os/",
                "appstream": PRODUCTION + "CentOS-Stream-9-20261130.0/compose/AppStream/x86_64/os/",
            },
            id="centos-stream-9-baseurl",
        ),
        pytest.param(
            b'ID=fedora\nVERSION_ID="41"\n',
            FEDORA_UPDATES,
            "Fedora-41-updates-20261130.0",
            {
                "updates": "https://kojipkgs.fedoraproject.org/compose/updates/"
                "Fedora-41-updates-20261130.0/compose/Everything/x86_64/os/"
            },
            id="fedora-updates-metalink",
        ),
        pytest.param(
            b'ID=fedora\nVERSION_ID="43"\n',
            RAWHIDE_REPO,
            "Fedora-Rawhide-20261130.n.0",
            {"rawhide": KOJI_RAWHIDE + "Fedora-Rawhide-20261130.n.0/compose/Everything/x86_64/os/"},
            id="fedora-rawhide-metalink",
        ),
        pytest.param(
            BRANCHED_OS_RELEASE,
            BRANCHED_REPO,
            "Fedora-42-20261130.n.0",
            {"fedora": KOJI_BRANCHED + "Fedora-42-20261130.n.0/compose/Everything/x86_64/os/"},
            id="fedora-branched-metalink",
        ),
    ],
)
def test_the_step_run_by_sed_points_the_real_repo_files_at_the_compose(
    tmp_path: Path,
    sed: str,
    os_release: bytes,
    repo: bytes,
    compose: str,
    expected: dict[str, str],
) -> None:
    if shutil.which(sed.split()[0]) is None:
        pytest.skip(f"needs {sed}")
    config = _config(os_release, repo, RAWHIDE if b"[rawhide]" in repo else None)
    step = _step(config, compose)
    assert step[-1] == "/etc/yum.repos.d/c9s.repo"
    copy = tmp_path / "c9s.repo"
    copy.write_bytes(repo)
    # The step as the Dockerfile's RUN runs it, on a copy of the file.
    script = " ".join((*step[:-1], str(copy))).replace("sed -i", f"{sed} -i", 1)
    subprocess.run(["sh", "-c", script], check=True)
    after = _config(os_release, copy.read_bytes(), RAWHIDE if b"[rawhide]" in repo else None)
    assert isinstance(after, RpmConfig)
    for repo_found in after.repos:
        if repo_found.id in expected:
            assert repo_found.baseurls == (expected[repo_found.id],)
            assert (repo_found.metalink, repo_found.mirrorlist) == (None, None)
        else:  # every other section as it was
            before = next(r for r in config.repos if r.id == repo_found.id)
            assert repo_found == before
    # Only the replaced lines differ.
    changed = set(copy.read_text().splitlines()) - set(repo.decode().splitlines())
    assert len(changed) == len(expected)
    dockerfile = "FROM x\n# pinner: dnf snapshot 20261201T101500Z\nRUN " + " \\\n    ".join(step)
    assert run_errors(dockerfile + "\n") == []


@pytest.mark.parametrize(
    ("section", "why"),
    [
        (
            "[baseos]\nbaseurl=https://a.example/\nmetalink=https://m.example/\n",
            "not one `baseurl=`, `metalink=` or `mirrorlist=` line",
        ),
        ("[baseos]\nBaseURL = https://a.example/\n", "not one `baseurl=`"),
        ("[baseos]\nbaseurl=https://a.example/\n  https://b.example/\n", "not one `baseurl=`"),
    ],
)
def test_a_section_the_sed_would_not_replace_exactly_is_refused(section: str, why: str) -> None:
    config = _config(repo=section.encode())
    (repo,) = config.repos
    found = rc.target(repo, dict(config.repo_files), "https://c.example/")
    assert isinstance(found, str)
    assert found.startswith("[baseos] (/etc/yum.repos.d/c9s.repo): " + why)


def _served() -> dict[str, bytes]:
    files = {PRODUCTION: LISTING}
    files |= {f"{PRODUCTION}{c}/STATUS": s for c, s in STATUS.items()}
    for compose in STATUS:
        for variant in ("BaseOS", "AppStream"):
            tree = f"{PRODUCTION}{compose}/compose/{variant}/x86_64/os/repodata/"
            files |= {tree + p.name: p.read_bytes() for p in (CUSTOM / "repodata").iterdir()}
    return files


def _fetcher(files: dict[str, bytes], log: list[str]) -> Fetch:
    async def fetch(url: str, subject: str, limit: int) -> bytes:
        log.append(url)
        if url not in files:
            raise MirrorError(f"{subject}: 404")
        return files[url][: limit + 1]

    return fetch


def _resolve(manager: Rpm, config: RpmConfig, files: dict[str, bytes], log: list[str]) -> Resolved:
    requests = [PackageArg("pkg-with-no-deps", None, 0, 16)]
    fetch = _fetcher(files, log)
    return asyncio.run(manager.resolve(Source(fetch, config, {}), requests, Mode(SNAPSHOT)))


def test_resolve_reads_the_newest_finished_compose_and_the_step_points_there() -> None:
    config, manager = _config(), Rpm()
    assert manager.step(config, SNAPSHOT, {}) is None  # not known before resolve()
    log: list[str] = []
    found = _resolve(manager, config, _served(), log)
    (package,) = found.packages
    assert package.name == "pkg-with-no-deps"
    assert found.rebuildable is True
    assert found.notes == (
        "the image has no rpmdb; every dependency is recorded",
        "[baseos], [appstream] pinned to the compose CentOS-Stream-9-20261130.0;"
        " composes.stream.centos.org keeps composes for some weeks only: run pinner update"
        " before this one is removed",
    )
    # The DOOMED respin's STATUS is read and passed over; the listing and STATUS once each.
    assert log[:3] == [
        PRODUCTION,
        f"{PRODUCTION}CentOS-Stream-9-20261130.1/STATUS",
        f"{PRODUCTION}CentOS-Stream-9-20261130.0/STATUS",
    ]
    assert log.count(PRODUCTION) == 1
    assert manager.step(config, SNAPSHOT, {}) == STEP
    # Without --snapshot (the engine hands ""), no compose is asked for and there is no step.
    assert manager.step(config, "", {}) is None


def test_no_finished_compose_before_the_day_is_one_line() -> None:
    files = _served()
    files[f"{PRODUCTION}CentOS-Stream-9-20261127.0/STATUS"] = b"STARTED\n"
    files[f"{PRODUCTION}CentOS-Stream-9-20261130.0/STATUS"] = b"DOOMED\n"
    with pytest.raises(MirrorError) as caught:
        _resolve(Rpm(), _config(), files, [])
    assert str(caught.value) == (
        f"{PRODUCTION} (CentOS-Stream-9 composes): no finished compose dated before 20261201"
        " (newest 5 tried)"
    )


def test_a_distribution_without_composes_says_so_in_one_line() -> None:
    rocky = _config(b'ID="rocky"\nVERSION_ID="9.3"\n', b"[custom]\nbaseurl=https://m.example/\n")
    files = {
        f"https://m.example/repodata/{p.name}": p.read_bytes()
        for p in (CUSTOM / "repodata").iterdir()
    }
    manager = Rpm()
    found = _resolve(manager, rocky, files, [])
    assert "rocky 9 publishes no dated composes: --snapshot pins versions only" in found.notes
    assert found.rebuildable is False
    assert manager.step(rocky, SNAPSHOT, {}) is None


@pytest.mark.parametrize(
    ("distro", "releasever", "expected"),
    [
        (
            "fedora",
            "eln",
            "fedora eln: pinner does not follow ELN's nightly composes"
            " (Fedora-eln-YYYYMMDD.n.N); --snapshot pins versions only",
        ),
        ("rocky", "9", "rocky 9 publishes no dated composes: --snapshot pins versions only"),
    ],
)
def test_no_composes_says_what_snapshot_does(distro: str, releasever: str, expected: str) -> None:
    config = RpmConfig(distro, "43", releasever, "x86_64", (), True, (), None, ())
    assert rc.family(config) is None
    assert rc.no_composes(config) == expected


def test_branched_fedora_points_its_fedora_repository_at_the_nightly_compose() -> None:
    """Branched's [fedora] is its nightly compose's Everything tree until the release; its
    updates and updates-testing have no compose pinner follows, and [fedora] is not frozen."""
    files = {"/etc/os-release": BRANCHED_OS_RELEASE}
    for path in sorted((TESTDATA / "repos/fedora-branched").iterdir()):
        files[f"/etc/yum.repos.d/{path.name}"] = path.read_bytes()
    config = configure(files, "amd64")
    assert isinstance(config, RpmConfig) and config.prerelease
    assert rc.family(config) == "fedora"
    ids = {r.id: r for r in config.repos}
    line = rc.series(config, ids["fedora"], {})
    assert line == rc.Series(KOJI_BRANCHED, "Fedora-42", "Everything", ".n")
    assert line.expiry() == rc.NIGHTLY_EXPIRY
    assert rc.series(config, ids["updates"], {}) is None
    assert rc.series(config, ids["updates-testing"], {}) is None
    assert not rc.frozen(config, ids["fedora"])
    # Another release's composes, an updates compose, the day's own and the link are not taken.
    assert rc.candidates(BRANCHED_LISTING, line, SNAPSHOT) == [
        "Fedora-42-20261130.n.0",
        "Fedora-42-20261129.n.0",
    ]
