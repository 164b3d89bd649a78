"""repo_gpgcheck=1: `pinner lock` verifies repomd.xml.asc with gpgv against the keys the
repository's gpgkey= names in the image, for repodata createrepo_c made and a key gpg generated.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from arch_repo import stop_agent
from handmade import push
from registryd import Registry, push_image
from rpmrepo import Spec, build_repo, needs_rpm_tools
from stand_in import Mirror, files_image, pinner_at

from pinner import lockfile

OS_RELEASE = b'NAME="CentOS Stream"\nID="centos"\nVERSION_ID="9"\n'
KEY_PATH = "etc/pki/rpm-gpg/RPM-GPG-KEY-test"
REPO_FILE = """\
[baseos]
name=Test BaseOS
baseurl=https://mirror.example/baseos/$basearch/os/
gpgcheck=1
repo_gpgcheck={check}
gpgkey=file:///{key}
"""
DOCKERFILE = "FROM centos:signed\nRUN dnf install -y app\n"

needs_gpg = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("gpg", "gpgv")),
    reason="gpg and gpgv are not installed (scripts/install-test-deps)",
)
pytestmark = [needs_rpm_tools, needs_gpg]


def _gpg(home: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["gpg", "--batch", "--quiet", "--homedir", str(home), *args],
        input=data,
        capture_output=True,
        check=True,
    ).stdout


def _key(home: Path, user: str) -> Path:
    """A new signing key in its own GNUPGHOME."""
    home.mkdir(mode=0o700)
    _gpg(home, "--passphrase", "", "--quick-gen-key", user, "ed25519", "sign", "never")
    return home


def _sign(home: Path, data: bytes) -> bytes:
    return _gpg(home, "--armor", "--detach-sign", "--output", "-", data=data)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("gnupg")
    trusted = _key(folder / "trusted", "Test Repo <repo@example.org>")
    other = _key(folder / "other", "Someone Else <else@example.org>")
    yield trusted, other
    for home in (trusted, other):
        stop_agent(home)  # the agent the key generation started outlives gpg otherwise


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    specs = [Spec("base", "1.0"), Spec("app", "1.0", requires=("base",))]
    return build_repo(specs, tmp_path_factory.mktemp("rpm") / "baseos")


def _served(repo: Path) -> dict[str, bytes]:
    return {
        f"/baseos/repodata/{path.name}": path.read_bytes() for path in (repo / "repodata").iterdir()
    }


# gpgkey= URLs: the key is fetched (https, or plain http to loopback as this stand-in is).
REMOTE_REPO_FILE = """\
[baseos]
name=Test BaseOS
baseurl=https://mirror.example/baseos/$basearch/os/
gpgcheck=1
repo_gpgcheck=1
gpgkey={url}
"""
KEY_URL_PATH = "/keys/RPM-GPG-KEY-test"
REPOMD = "/baseos/repodata/repomd.xml"


@pytest.fixture(scope="module")
def keyserver(keys: tuple[Path, Path]) -> Iterator[Mirror]:
    with Mirror({KEY_URL_PATH: _gpg(keys[0], "--armor", "--export")}) as served:
        yield served


@pytest.fixture(scope="module")
def hub(registry: Registry, keys: tuple[Path, Path], keyserver: Mirror) -> str:
    """centos:signed and :unsigned hold the key; :remotekey and :httpkey name it by URL only."""
    held = {KEY_PATH: _gpg(keys[0], "--armor", "--export")}
    images = {
        "signed": (REPO_FILE.format(check=1, key=KEY_PATH), held),
        "unsigned": (REPO_FILE.format(check=0, key=KEY_PATH), held),
        "remotekey": (REMOTE_REPO_FILE.format(url=keyserver.url + KEY_URL_PATH), {}),
        "httpkey": (REMOTE_REPO_FILE.format(url="http://keys.example/RPM-GPG-KEY-test"), {}),
    }
    for tag, (repo_file, key) in images.items():
        files = {"etc/os-release": OS_RELEASE, "etc/yum.repos.d/test.repo": repo_file.encode()}
        push(files_image({**files, **key}), registry, "library/centos", tag)
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_config: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def served(repo: Path) -> Iterator[Mirror]:
    with Mirror(_served(repo)) as mirror:
        yield mirror


def _lock(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    served: Mirror,
    env: Path,
    tag: str = "signed",
    signer: Path | None = None,
    tamper: bool = False,
) -> tuple[int, str]:
    """`pinner lock` of DOCKERFILE on centos:TAG; repomd.xml.asc served when signer is given."""
    (env / "Dockerfile").write_text(DOCKERFILE.replace("signed", tag))
    if signer is not None:
        served.files[f"{REPOMD}.asc"] = _sign(signer, served.files[REPOMD])
    if tamper:
        served.files[REPOMD] = served.files[REPOMD].replace(b"<revision>", b"<revision>1")
    code, _, err = pinner_at(
        capsys, hub, f"centos={served.url}", "linux/amd64", "lock", str(env / "Dockerfile")
    )
    return code, err


def _stage(env: Path) -> lockfile.LockedStage:
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    return stage


def _refused(env: Path, err: str, *words: str, tag: str = "signed") -> None:
    """One line naming the repository and the reason; nothing written."""
    lines = [line for line in err.splitlines() if "[baseos]" in line]
    assert len(lines) == 1, err
    assert all(word in lines[0] for word in words), err
    assert (env / "Dockerfile").read_text() == DOCKERFILE.replace("signed", tag)
    assert not (env / "Dockerfile.lock").exists()


def test_a_good_signature_is_verified(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    served: Mirror,
    keys: tuple[Path, Path],
    env: Path,
) -> None:
    code, err = _lock(capsys, hub, served, env, signer=keys[0])
    assert code == 0, err
    stage = _stage(env)
    assert stage.signature == "verified"
    assert {p.name for p in stage.packages} == {"app", "base"}
    assert f"{REPOMD}.asc" in served.log


def test_repo_gpgcheck_off_records_the_signature_as_not_checked(
    capsys: pytest.CaptureFixture[str], hub: str, served: Mirror, env: Path
) -> None:
    code, err = _lock(capsys, hub, served, env, "unsigned")
    assert code == 0, err
    assert _stage(env).signature == "not checked: repo_gpgcheck is off"
    assert f"{REPOMD}.asc" not in served.log


def _fingerprint(home: Path) -> str:
    colons = _gpg(home, "--with-colons", "--list-keys").decode()
    return next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))


def test_a_key_from_a_gpgkey_url_verifies_and_the_lock_names_it(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    served: Mirror,
    keyserver: Mirror,
    keys: tuple[Path, Path],
    env: Path,
) -> None:
    code, err = _lock(capsys, hub, served, env, "remotekey", keys[0])
    assert code == 0, err
    assert _stage(env).signature == (
        f"verified ([baseos] with key {_fingerprint(keys[0])} from {keyserver.url}{KEY_URL_PATH})"
    )
    assert KEY_URL_PATH in keyserver.log


# (image tag, which of keys signs repomd.xml or None, repomd.xml changed after, words of the line)
REFUSALS = [
    pytest.param("signed", 0, True, ["repomd.xml.asc", "invalid signature"], id="tampered"),
    pytest.param(
        "signed", None, False, ["repomd.xml.asc", "404", "repo_gpgcheck=1"], id="no-signature"
    ),
    pytest.param(
        "signed",
        1,
        False,
        ["repomd.xml.asc", "no good signature", "NO_PUBKEY"],
        id="signed-by-a-key-the-image-lacks",
    ),
    pytest.param(
        "remotekey",
        1,
        False,
        ["no good signature", "NO_PUBKEY"],
        id="gpgkey-url-key-did-not-sign",
    ),
    pytest.param(
        "httpkey",
        0,
        False,
        [
            "[baseos] has repo_gpgcheck=1 but none of its gpgkey= is a file in the image's"
            " /etc/pki/rpm-gpg/ or an https URL"
        ],
        id="plain-http-gpgkey-url-not-fetched",
    ),
]


@pytest.mark.parametrize(("tag", "signer", "tamper", "words"), REFUSALS)
def test_a_repository_that_fails_its_check_is_refused(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    served: Mirror,
    keys: tuple[Path, Path],
    env: Path,
    tag: str,
    signer: int | None,
    tamper: bool,
    words: list[str],
) -> None:
    home = None if signer is None else keys[signer]
    code, err = _lock(capsys, hub, served, env, tag, home, tamper)
    assert code == 1
    _refused(env, err, *words, tag=tag)


@pytest.mark.parametrize(
    ("served_key", "why"),
    [
        (b"<html><body>Not Found</body></html>", "byte 0 does not start a packet"),
        (b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n", "byte 0 does not start a packet"),
    ],
    ids=["html-page", "not-armored-public-key"],
)
def test_a_gpgkey_url_serving_no_public_key_is_one_line(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    served: Mirror,
    keyserver: Mirror,
    keys: tuple[Path, Path],
    env: Path,
    served_key: bytes,
    why: str,
) -> None:
    good = keyserver.files[KEY_URL_PATH]
    keyserver.files[KEY_URL_PATH] = served_key
    try:
        code, err = _lock(capsys, hub, served, env, "remotekey", keys[0])
    finally:
        keyserver.files[KEY_URL_PATH] = good
    assert code == 1
    line = f"[baseos] gpgkey {keyserver.url}{KEY_URL_PATH}: not an OpenPGP public key: {why}"
    _refused(env, err, line, tag="remotekey")
