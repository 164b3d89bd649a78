"""`lock` on minimal Dockerfiles taken from real ones: what apt would install, per architecture.

Each Dockerfile is in testdata/corpus/, named after the real file it stands for. The registry and
the snapshot mirror are fakes (tests/test_updater.py's and tests/test_aptlock.py's); the packages
are real bookworm stanzas (testdata/apt).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from apt_fakes import FakeMirror, base, entry

from pinner import dockerfile, lockfile, pinning, reference
from pinner.apt.packages import PackageEntry, parse_packages
from pinner.errors import MirrorError
from pinner.lockfile import Lock, LockedPackage, UnpinnedPackage
from pinner.outcome import Options, Outcome
from pinner.remote.registry import OCI_INDEX, OCI_MANIFEST, Manifest, Settings
from pinner.remote.session import Session
from pinner.stagework import lock_target
from pinner.workspace import Target

DATA = Path(__file__).resolve().parents[2] / "testdata"
CORPUS = DATA / "corpus"
AMD64 = "sha256:" + "a" * 64
ARM64 = "sha256:" + "c" * 64
INDEX = "sha256:" + "b" * 64
FRONTEND = "sha256:" + "f" * 64
TS = "20241202T000000Z"


def real(*names: str) -> list[PackageEntry]:
    """Real bookworm amd64 stanzas by name (testdata/apt)."""
    entries = [
        *parse_packages((DATA / "apt" / "bookworm_main_binary-amd64_Packages").read_bytes()),
        *parse_packages(
            (DATA / "apt" / "bookworm_main_binary-amd64_Packages-providers").read_bytes()
        ),
    ]
    return [e for e in entries if e.name in names]


def resolved_for(
    parsed: dockerfile.Dockerfile, manifest: Manifest
) -> dict[reference.ImageRef, Manifest]:
    """The fake registry's answers: manifest for debian, a single manifest for the frontend."""
    resolved: dict[reference.ImageRef, Manifest] = {
        pinning.query(use): manifest
        if use.ref.name == "docker.io/library/debian"
        else Manifest(FRONTEND, OCI_MANIFEST)
        for use in parsed.uses
    }
    frontend = pinning.query_ref(reference.parse("docker/dockerfile:1.23"))
    resolved[frontend] = Manifest(FRONTEND, OCI_MANIFEST)
    return resolved


def lock(
    name: str, packages: list[PackageEntry], platforms: tuple[str, ...] = ()
) -> tuple[Outcome, FakeMirror]:
    """Lock testdata/corpus/NAME with a mirror serving packages in bookworm."""
    text = (CORPUS / name).read_text()
    parsed = dockerfile.parse(text, "Dockerfile")
    session = Session(Settings(), lambda host: None, pinning.LockAnswers.of([]))
    mirror = FakeMirror({"bookworm": packages, "bookworm-backports": []})
    session._mirror = mirror  # type: ignore[assignment]
    session._bases[AMD64, False] = base()
    session._bases[ARM64, False] = base()
    manifest = Manifest(INDEX, OCI_INDEX, (("linux/amd64", AMD64), ("linux/arm64", ARM64)))
    resolved = resolved_for(parsed, manifest)
    target = Target("Dockerfile", "Dockerfile.lock", parsed, Lock(), None)
    options = Options(snapshot=TS, platforms=platforms)
    return asyncio.run(lock_target(session, target, resolved, options)), mirror


def test_virtual_package_is_locked_as_its_provider() -> None:
    """docker-library/buildpack-deps debian/bookworm: `libxslt-dev` is libxslt1-dev's Provides."""
    packages = [*real("libxslt1-dev"), entry("libxml2-dev", "2.9.14"), entry("zlib1g-dev", "1:1")]
    outcome, _ = lock("buildpack-deps-bookworm.Dockerfile", packages)
    (stage,) = outcome.lock.stages
    xslt = next(p for p in stage.packages if p.name == "libxslt-dev")
    assert xslt == LockedPackage(
        "libxslt-dev",
        "amd64",
        "1.1.35-1+deb12u4",
        real("libxslt1-dev")[0].sha256,
        "pool/main/libx/libxslt/libxslt1-dev_1.1.35-1+deb12u4_amd64.deb",
        "libxslt1-dev",
    )
    assert stage.unpinned == ()
    text = lockfile.render(outcome.lock, "Dockerfile")
    assert '\n[[stage.package]]\nname = "libxslt-dev"\nprovided-by = "libxslt1-dev"\n' in text
    assert lockfile.parse(text, "Dockerfile.lock") == outcome.lock.canonical()


def test_virtual_package_gets_no_version_in_the_dockerfile() -> None:
    """--pin-versions writes the real packages' versions; `libxslt-dev=...` would fail in apt."""
    packages = [*real("libxslt1-dev"), entry("libxml2-dev", "2.9.14"), entry("zlib1g-dev", "1:1")]
    text = (CORPUS / "buildpack-deps-bookworm.Dockerfile").read_text()
    parsed = dockerfile.parse(text, "Dockerfile")
    session = Session(Settings(), lambda host: None, pinning.LockAnswers.of([]))
    session._mirror = FakeMirror({"bookworm": packages, "bookworm-backports": []})  # type: ignore[assignment]
    session._bases[AMD64, False] = base()
    resolved = resolved_for(parsed, Manifest(AMD64, OCI_MANIFEST))
    target = Target("Dockerfile", "Dockerfile.lock", parsed, Lock(), None)
    outcome = asyncio.run(
        lock_target(session, target, resolved, Options(snapshot=TS, pin_versions=True))
    )
    assert "\t\tlibxslt-dev \\\n" in outcome.text
    assert "\t\tlibxml2-dev=" in outcome.text
    assert (
        "Dockerfile: stage 0: libxslt-dev: a virtual package (apt installs libxslt1-dev);"
        " no version written" in outcome.notes
    )


def test_several_providers_refuse_the_lock_as_apt_get_does() -> None:
    packages = [
        entry("gcc", "4:12.2.0-3"),
        entry("make", "4.3-4.1"),
        entry("binutils", "2.40-2")._replace(provides=("binutils-gold",)),
        entry("binutils-gold-ng", "1.0-1")._replace(provides=("binutils-gold",)),
    ]
    with pytest.raises(MirrorError) as info:
        lock("golang-1.25-bookworm.Dockerfile", packages)
    assert str(info.value) == (
        "Dockerfile:11: binutils-gold: a virtual package provided by: binutils 2.40-2, binutils-gold-ng 1.0-1;"
        " you should explicitly select one to install"
    )


def test_a_package_of_one_architecture_is_a_note_not_a_refusal() -> None:
    """docker-library/golang 1.25/bookworm installs binutils-gold inside `if arm64`.

    The mirror here serves it (through binutils' Provides) for arm64 only: amd64 gets a note.
    """
    packages = [
        *(
            entry(n, v, a)
            for n, v in (("gcc", "4:12.2.0-3"), ("make", "4.3-4.1"))
            for a in ("amd64", "arm64")
        ),
        entry("binutils", "2.40-2", "arm64")._replace(provides=("binutils-gold", "elf-binutils")),
    ]
    outcome, _ = lock("golang-1.25-bookworm.Dockerfile", packages, ("linux/amd64", "linux/arm64"))
    (stage,) = outcome.lock.stages
    assert sorted((p.name, p.architecture, p.provider or "") for p in stage.packages) == [
        ("binutils-gold", "arm64", "binutils"),
        ("gcc", "amd64", ""),
        ("gcc", "arm64", ""),
        ("make", "amd64", ""),
        ("make", "arm64", ""),
    ]
    reason = f"not pinned: no amd64 package in bookworm, bookworm-backports at {TS}"
    assert stage.unpinned == (UnpinnedPackage("binutils-gold", reason, "amd64"),)
    assert f"Dockerfile: stage 0: binutils-gold: {reason} (locked for arm64)" in outcome.notes
    text = lockfile.render(outcome.lock, "Dockerfile")
    assert (
        f'[[stage.unpinned]]\nname = "binutils-gold"\narchitecture = "amd64"\nreason = "{reason}"\n'
        in text
    )


def test_a_package_of_no_locked_architecture_is_refused() -> None:
    packages = [entry(n, "1.0-1", a) for n in ("gcc", "make") for a in ("amd64", "arm64")]
    with pytest.raises(MirrorError) as info:
        lock("golang-1.25-bookworm.Dockerfile", packages, ("linux/amd64", "linux/arm64"))
    assert str(info.value) == (
        f"Dockerfile:11: binutils-gold: no amd64 package in bookworm, bookworm-backports at {TS}"
    )


def test_a_name_only_an_added_architecture_has_is_a_note_not_a_refusal() -> None:
    """Valve's SteamCMD steps: `dpkg --add-architecture i386`, then steamcmd, built for i386 alone.

    apt installs a name without a native package for an added architecture (its preferred
    package): a note, as for `name:i386`, where the same word without the added architecture is
    refused.
    """
    packages = [
        entry("ca-certificates", "20230311", "all"),
        entry("steamcmd", "0~20180105-5", "i386"),
    ]
    outcome, _ = lock("steamcmd-i386-bookworm.Dockerfile", packages)
    (stage,) = outcome.lock.stages
    assert [p.name for p in stage.packages] == ["ca-certificates"]
    reason = (
        f"not pinned: no amd64 package in bookworm, bookworm-backports at {TS};"
        " apt may install it for i386, whose packages are not locked"
    )
    assert stage.unpinned == (UnpinnedPackage("steamcmd", reason, "amd64"),)
    assert f"Dockerfile: stage 0: steamcmd: {reason}" in outcome.notes
    relock(outcome, packages, ())


def relock(first: Outcome, packages: list[PackageEntry], platforms: tuple[str, ...]) -> None:
    """Lock first's output again: no request to the mirror, no byte changed."""
    rendered = lockfile.render(first.lock, "Dockerfile")
    parsed = dockerfile.parse(first.text, "Dockerfile")
    session = Session(Settings(), lambda host: None, pinning.LockAnswers.of([]))
    mirror = FakeMirror({"bookworm": packages, "bookworm-backports": []})
    session._mirror = mirror  # type: ignore[assignment]
    manifest = Manifest(INDEX, OCI_INDEX, (("linux/amd64", AMD64), ("linux/arm64", ARM64)))
    resolved = resolved_for(parsed, manifest)
    target = Target("Dockerfile", "Dockerfile.lock", parsed, first.lock, rendered)
    options = Options(snapshot=TS, platforms=platforms)
    second = asyncio.run(lock_target(session, target, resolved, options))
    assert mirror.asked == []
    assert second.text == first.text
    assert lockfile.render(second.lock, "Dockerfile") == rendered


def test_a_second_lock_reuses_a_stage_with_an_unpinned_package() -> None:
    packages = [
        *(entry(n, "1.0-1", a) for n in ("gcc", "make") for a in ("amd64", "arm64")),
        entry("binutils-gold", "2.40-2", "arm64"),
    ]
    platforms = ("linux/amd64", "linux/arm64")
    first, _ = lock("golang-1.25-bookworm.Dockerfile", packages, platforms)
    relock(first, packages, platforms)


PGDG = "not pinned: http://apt.postgresql.org/pub/repos/apt/"


def test_packages_from_an_added_repository_are_not_pinned() -> None:
    """docker-library/postgres 17/bookworm: the PGDG list, then postgresql-common.

    Debian has postgresql-common too, but apt takes PGDG's higher version: no version recorded.
    """
    packages = [
        entry("gnupg", "2.2.40-1.1"),
        entry("less", "590-2.1~deb12u2"),
        entry("postgresql-common", "248+deb12u1", "all"),
    ]
    outcome, _ = lock("postgres-17-bookworm.Dockerfile", packages)
    (stage,) = outcome.lock.stages
    assert sorted(p.name for p in stage.packages) == ["gnupg", "less"]
    assert stage.unpinned == (UnpinnedPackage("postgresql-common", PGDG),)
    said = [n for n in outcome.notes if "apt sources" in n]
    assert said == [
        "Dockerfile: stage 0: adds apt sources pinner cannot snapshot"
        " (http://apt.postgresql.org/pub/repos/apt/); not pinned: postgresql-common"
    ]
    text = lockfile.render(outcome.lock, "Dockerfile")
    assert f'[[stage.unpinned]]\nname = "postgresql-common"\nreason = "{PGDG}"\n' in text
    assert "248+deb12u1" not in text
    relock(outcome, packages, ())


def test_packages_after_a_vendor_repository_deb_are_not_pinned() -> None:
    """NVIDIA's CUDA guide: `dpkg -i cuda-keyring_1.1-1_all.deb` writes NVIDIA's sources.

    cuda-toolkit-12-6 is in no Debian snapshot: a note, not a refusal.
    """
    packages = [entry("ca-certificates", "20230311"), entry("wget", "1.21.3-1+b2")]
    outcome, _ = lock("nvidia-cuda-keyring-bookworm.Dockerfile", packages)
    (stage,) = outcome.lock.stages
    assert sorted(p.name for p in stage.packages) == ["ca-certificates", "wget"]
    reason = "not pinned: cuda-keyring_1.1-1_all.deb"
    assert stage.unpinned == (UnpinnedPackage("cuda-toolkit-12-6", reason),)
    assert (
        "Dockerfile: stage 0: adds apt sources pinner cannot snapshot"
        " (cuda-keyring_1.1-1_all.deb); not pinned: cuda-toolkit-12-6"
    ) in outcome.notes
    relock(outcome, packages, ())


def test_added_repository_reaches_stages_built_on_the_stage() -> None:
    text = (CORPUS / "postgres-17-bookworm.Dockerfile").read_text()
    text += "FROM 0 AS tools\nRUN apt-get update && apt-get install -y gnupg\n"
    parsed = dockerfile.parse(text, "Dockerfile")
    session = Session(Settings(), lambda host: None, pinning.LockAnswers.of([]))
    packages = [entry(n, "1.0-1") for n in ("gnupg", "less", "postgresql-common")]
    session._mirror = FakeMirror({"bookworm": packages, "bookworm-backports": []})  # type: ignore[assignment]
    session._bases[AMD64, False] = base()
    resolved = resolved_for(parsed, Manifest(AMD64, OCI_MANIFEST))
    target = Target("Dockerfile", "Dockerfile.lock", parsed, Lock(), None)
    outcome = asyncio.run(
        lock_target(session, target, resolved, Options(snapshot=TS, pin_versions=True))
    )
    first, tools = outcome.lock.stages
    assert [p.name for p in first.packages] == ["gnupg", "less"]  # installed before the list
    assert tools.packages == ()
    assert tools.unpinned == (UnpinnedPackage("gnupg", PGDG),)
    # --pin-versions writes versions only where the lock pins them.
    assert "gnupg=1.0-1 less=1.0-1;" in outcome.text
    assert "postgresql-common=" not in outcome.text
    assert "install -y gnupg\n" in outcome.text or "install -y gnupg \\" in outcome.text


@pytest.mark.parametrize(
    "text",
    ["alpine", "alpine:3.20", "alpine@sha256:" + "a" * 64, "alpine:3.20@sha256:" + "a" * 64],
)
def test_a_query_is_the_reference_with_its_tag_or_latest_and_no_copy_when_it_has_one(
    text: str,
) -> None:
    ref = reference.parse(text)
    got = pinning.query_ref(ref)
    assert got == (ref if ref.digest else ref._replace(tag=ref.tag_or_latest))
    assert got.tag == (ref.tag if ref.digest else ref.tag or "latest")
    # A run asks this about 13 times per Dockerfile: a reference that already is its own query
    # comes back as it is.
    assert (got is ref) == bool(ref.digest or ref.tag)
