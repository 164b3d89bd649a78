"""repo_gpgcheck=1: `pinner lock` verifies repomd.xml.asc with gpgv against the keys the
repository's gpgkey= names in the image, for repodata createrepo_c made and a key gpg generated.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
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
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("gnupg")
    return _key(folder / "trusted", "Test Repo <repo@example.org>"), _key(
        folder / "other", "Someone Else <else@example.org>"
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    specs = [Spec("base", "1.0"), Spec("app", "1.0", requires=("base",))]
    return build_repo(specs, tmp_path_factory.mktemp("rpm") / "baseos")


def _served(repo: Path) -> dict[str, bytes]:
    return {
        f"/baseos/repodata/{path.name}": path.read_bytes() for path in (repo / "repodata").iterdir()
    }


@pytest.fixture(scope="module")
def hub(registry: Registry, keys: tuple[Path, Path]) -> str:
    public = _gpg(keys[0], "--armor", "--export")
    for tag, check in (("signed", 1), ("unsigned", 0)):
        files = {
            "etc/os-release": OS_RELEASE,
            "etc/yum.repos.d/test.repo": REPO_FILE.format(check=check, key=KEY_PATH).encode(),
            KEY_PATH: public,
        }
        push(files_image(files), registry, "library/centos", tag)
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_config: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE)
    return folder


@pytest.fixture
def served(repo: Path) -> Iterator[Mirror]:
    with Mirror(_served(repo)) as mirror:
        yield mirror


def _lock(capsys: pytest.CaptureFixture[str], hub: str, url: str, env: Path) -> tuple[int, str]:
    code, _, err = pinner_at(
        capsys, hub, f"centos={url}", "linux/amd64", "lock", str(env / "Dockerfile")
    )
    return code, err


def _refused(env: Path, err: str, *words: str, dockerfile: str = DOCKERFILE) -> None:
    """One line naming the repository and the reason; nothing written."""
    lines = [line for line in err.splitlines() if "[baseos]" in line]
    assert len(lines) == 1, err
    assert all(word in lines[0] for word in words), err
    assert (env / "Dockerfile").read_text() == dockerfile
    assert not (env / "Dockerfile.lock").exists()


def test_a_good_signature_is_verified(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    served: Mirror,
    keys: tuple[Path, Path],
    env: Path,
) -> None:
    repomd = served.files["/baseos/repodata/repomd.xml"]
    served.files["/baseos/repodata/repomd.xml.asc"] = _sign(keys[0], repomd)
    code, err = _lock(capsys, hub, served.url, env)
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert stage.signature == "verified"
    assert {p.name for p in stage.packages} == {"app", "base"}
    assert "/baseos/repodata/repomd.xml.asc" in served.log


def test_a_tampered_repomd_is_refused(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    served: Mirror,
    keys: tuple[Path, Path],
    env: Path,
) -> None:
    repomd = served.files["/baseos/repodata/repomd.xml"]
    served.files["/baseos/repodata/repomd.xml.asc"] = _sign(keys[0], repomd)
    served.files["/baseos/repodata/repomd.xml"] = repomd.replace(b"<revision>", b"<revision>1")
    code, err = _lock(capsys, hub, served.url, env)
    assert code == 1
    _refused(env, err, "repomd.xml.asc", "invalid signature")


def test_a_missing_signature_is_refused(
    capsys: pytest.CaptureFixture[str], hub: str, served: Mirror, env: Path
) -> None:
    code, err = _lock(capsys, hub, served.url, env)
    assert code == 1
    _refused(env, err, "repomd.xml.asc", "404", "repo_gpgcheck=1")


def test_a_signature_by_a_key_the_image_lacks_is_refused(
    capsys: pytest.CaptureFixture[str],
    hub: str,
    served: Mirror,
    keys: tuple[Path, Path],
    env: Path,
) -> None:
    repomd = served.files["/baseos/repodata/repomd.xml"]
    served.files["/baseos/repodata/repomd.xml.asc"] = _sign(keys[1], repomd)
    code, err = _lock(capsys, hub, served.url, env)
    assert code == 1
    _refused(env, err, "repomd.xml.asc", "no good signature", "NO_PUBKEY")


def test_repo_gpgcheck_off_records_the_signature_as_not_checked(
    capsys: pytest.CaptureFixture[str], hub: str, served: Mirror, env: Path
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE.replace("signed", "unsigned"))
    code, err = _lock(capsys, hub, served.url, env)
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert stage.signature == "not checked: repo_gpgcheck is off"
    assert "/baseos/repodata/repomd.xml.asc" not in served.log


# gpgkey= URLs: the key is fetched (https, or plain http to loopback as this stand-in is).
REMOTE_REPO_FILE = """\
[baseos]
name=Test BaseOS
baseurl=https://mirror.example/baseos/$basearch/os/
gpgcheck=1
repo_gpgcheck=1
gpgkey={url}
"""


@pytest.fixture(scope="module")
def keyserver(keys: tuple[Path, Path]) -> Iterator[Mirror]:
    with Mirror({"/keys/RPM-GPG-KEY-test": _gpg(keys[0], "--armor", "--export")}) as served:
        yield served


@pytest.fixture(scope="module")
def remote_hub(registry: Registry, keyserver: Mirror) -> str:
    for tag, url in (
        ("remotekey", f"{keyserver.url}/keys/RPM-GPG-KEY-test"),
        ("httpkey", "http://keys.example/RPM-GPG-KEY-test"),
    ):
        files = {
            "etc/os-release": OS_RELEASE,
            "etc/yum.repos.d/test.repo": REMOTE_REPO_FILE.format(url=url).encode(),
        }
        push(files_image(files), registry, "library/centos", tag)
    push_image(registry, "docker/dockerfile", "1.23")
    return registry.host


def _fingerprint(home: Path) -> str:
    colons = _gpg(home, "--with-colons", "--list-keys").decode()
    return next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))


def test_a_key_from_a_gpgkey_url_verifies_and_the_lock_names_it(
    capsys: pytest.CaptureFixture[str],
    remote_hub: str,
    served: Mirror,
    keyserver: Mirror,
    keys: tuple[Path, Path],
    env: Path,
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE.replace("signed", "remotekey"))
    repomd = served.files["/baseos/repodata/repomd.xml"]
    served.files["/baseos/repodata/repomd.xml.asc"] = _sign(keys[0], repomd)
    code, err = _lock(capsys, remote_hub, served.url, env)
    assert code == 0, err
    (stage,) = lockfile.parse((env / "Dockerfile.lock").read_text(), "lock").stages
    assert stage.signature == (
        f"verified ([baseos] with key {_fingerprint(keys[0])}"
        f" from {keyserver.url}/keys/RPM-GPG-KEY-test)"
    )
    assert "/keys/RPM-GPG-KEY-test" in keyserver.log


def test_a_gpgkey_url_key_that_did_not_sign_is_refused(
    capsys: pytest.CaptureFixture[str],
    remote_hub: str,
    served: Mirror,
    keys: tuple[Path, Path],
    env: Path,
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE.replace("signed", "remotekey"))
    repomd = served.files["/baseos/repodata/repomd.xml"]
    served.files["/baseos/repodata/repomd.xml.asc"] = _sign(keys[1], repomd)
    code, err = _lock(capsys, remote_hub, served.url, env)
    assert code == 1
    remote = DOCKERFILE.replace("signed", "remotekey")
    _refused(env, err, "no good signature", "NO_PUBKEY", dockerfile=remote)


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
    remote_hub: str,
    served: Mirror,
    keyserver: Mirror,
    keys: tuple[Path, Path],
    env: Path,
    served_key: bytes,
    why: str,
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE.replace("signed", "remotekey"))
    repomd = served.files["/baseos/repodata/repomd.xml"]
    served.files["/baseos/repodata/repomd.xml.asc"] = _sign(keys[0], repomd)
    good = keyserver.files["/keys/RPM-GPG-KEY-test"]
    keyserver.files["/keys/RPM-GPG-KEY-test"] = served_key
    try:
        code, err = _lock(capsys, remote_hub, served.url, env)
    finally:
        keyserver.files["/keys/RPM-GPG-KEY-test"] = good
    assert code == 1
    _refused(
        env,
        err,
        f"[baseos] gpgkey {keyserver.url}/keys/RPM-GPG-KEY-test: not an OpenPGP public key: {why}",
        dockerfile=DOCKERFILE.replace("signed", "remotekey"),
    )


def test_a_plain_http_gpgkey_url_is_not_fetched(
    capsys: pytest.CaptureFixture[str],
    remote_hub: str,
    served: Mirror,
    keys: tuple[Path, Path],
    env: Path,
) -> None:
    (env / "Dockerfile").write_text(DOCKERFILE.replace("signed", "httpkey"))
    repomd = served.files["/baseos/repodata/repomd.xml"]
    served.files["/baseos/repodata/repomd.xml.asc"] = _sign(keys[0], repomd)
    code, err = _lock(capsys, remote_hub, served.url, env)
    assert code == 1
    _refused(
        env,
        err,
        "[baseos] has repo_gpgcheck=1 but none of its gpgkey= is a file in the image's"
        " /etc/pki/rpm-gpg/ or an https URL",
        dockerfile=DOCKERFILE.replace("signed", "httpkey"),
    )
