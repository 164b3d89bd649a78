"""apt sources a RUN adds: where, and the repository named; table-driven."""

from __future__ import annotations

import pytest
from image_root import snapshot_run_line

from pinner.apt.added import AddedSource, added_sources, copied_sources

PGDG = "http://apt.postgresql.org/pub/repos/apt/"
DOCKER = "https://download.docker.com/linux/debian"

CASES = [
    pytest.param(
        'echo "deb http://apt.postgresql.org/pub/repos/apt/ bookworm-pgdg main" > '
        "/etc/apt/sources.list.d/pgdg.list",
        [PGDG],
        id="echo-redirect",
    ),
    pytest.param(
        'aptRepo="[ signed-by=/k.asc ] http://apt.postgresql.org/pub/repos/apt/ bookworm-pgdg main";'
        ' echo "deb $aptRepo" > /etc/apt/sources.list.d/pgdg.list',
        [PGDG],
        id="postgres-variable",
    ),
    pytest.param(
        f'echo "deb [arch=amd64 signed-by=/k.gpg] {DOCKER} bookworm stable"'
        " | tee /etc/apt/sources.list.d/docker.list > /dev/null",
        [DOCKER],
        id="tee",
    ),
    pytest.param(
        "curl -fsSL https://download.docker.com/linux/debian/gpg -o /etc/apt/keyrings/docker.asc;"
        f" printf 'Types: deb\\nURIs: {DOCKER}\\nSuites: bookworm\\n'"
        " >> /etc/apt/sources.list.d/docker.sources",
        [DOCKER],
        id="deb822-uris-not-the-key-url",
    ),
    pytest.param(
        f"echo deb {DOCKER} bookworm stable >> /etc/apt/sources.list",
        [DOCKER],
        id="append-to-sources-list",
    ),
    pytest.param("add-apt-repository -y ppa:deadsnakes/ppa", ["ppa:deadsnakes/ppa"], id="ppa"),
    pytest.param(
        f'add-apt-repository "deb {DOCKER} bookworm stable"', [DOCKER], id="add-apt-repository-line"
    ),
    pytest.param("echo 'deb http://x.example/ ./' > $LIST", [], id="target-not-a-sources-path"),
    pytest.param(
        "cp /tmp/docker.list /etc/apt/sources.list.d/", ["/etc/apt/sources.list.d/"], id="cp-into"
    ),
    pytest.param("cp /etc/apt/sources.list /tmp/sources.bak", [], id="cp-out-is-a-read"),
    pytest.param("mv /etc/apt/sources.list.d/x.list /tmp/", [], id="mv-out-is-a-removal"),
    pytest.param(
        "curl -fsSLo /etc/apt/sources.list.d/x.list https://h/x.list",
        ["/etc/apt/sources.list.d/x.list"],
        id="curl-o-cluster",
    ),
    pytest.param("rm -f /etc/apt/sources.list.d/temp.list", [], id="removal"),
    pytest.param("cat /etc/apt/sources.list", [], id="read"),
    pytest.param("apt-get update && apt-get install -y curl", [], id="no-sources"),
    pytest.param(
        "wget https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/"
        "cuda-keyring_1.1-1_all.deb && dpkg -i cuda-keyring_1.1-1_all.deb",
        ["cuda-keyring_1.1-1_all.deb"],
        id="nvidia-cuda-keyring",
    ),
    pytest.param(
        "dpkg -i /tmp/packages-microsoft-prod.deb",
        ["packages-microsoft-prod.deb"],
        id="microsoft-prod",
    ),
    pytest.param(
        "apt-get install -y ./zabbix-release_latest_7.0+debian12_all.deb",
        ["zabbix-release_latest_7.0+debian12_all.deb"],
        id="apt-get-install-local-release-deb",
    ),
    pytest.param(
        "dpkg --install cudnn-local-repo-ubuntu2204-8.8.0.121_1.0-1_amd64.deb",
        ["cudnn-local-repo-ubuntu2204-8.8.0.121_1.0-1_amd64.deb"],
        id="local-repo-deb",
    ),
    pytest.param("dpkg -i /tmp/gosu.deb", [], id="a-program-deb-adds-no-sources"),
    pytest.param("apt-get install -y release-notes keyring", [], id="package-names-not-debs"),
    pytest.param(
        "curl -o /tmp/cuda-keyring.deb https://h/k.deb", [], id="downloaded-not-installed"
    ),
]


@pytest.mark.parametrize(("run", "expected"), CASES)
def test_added_sources(run: str, expected: list[str]) -> None:
    assert [a.repository for a in added_sources(run)] == expected


def test_offset_is_where_the_sources_are_written() -> None:
    run = "apt-get install -y gnupg; echo 'deb http://r.example/ x main' > /etc/apt/sources.list.d/r.list; apt-get install -y r"
    (found,) = added_sources(run)
    assert found == AddedSource(run.index("> /etc"), "http://r.example/")
    assert run.index("gnupg") < found.offset < run.rindex("apt-get")


def test_the_snapshot_step_adds_nothing() -> None:
    step = snapshot_run_line("debian", "20250101T000000Z")
    assert added_sources(step.split("\n", 1)[1].removeprefix("RUN ")) == []


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ("/etc/apt/sources.list.d/", True),
        ("/etc/apt/sources.list.d/pgdg.list", True),
        ("/etc/apt/sources.list", True),
        ("/etc/apt/keyrings/", False),
        ("/etc/apt/sources.list.bak/x", False),
    ],
)
def test_copied_sources(destination: str, expected: bool) -> None:
    assert copied_sources(destination) is expected
