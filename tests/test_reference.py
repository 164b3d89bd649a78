"""Tests of pinner.reference: Docker's reference grammar and normalisation, and platform names.

Many cases come from distribution/reference's own tables (normalize_test.go TestParseRepositoryInfo,
TestNormalizedSplitHostname, TestParseAnyReference, TestValidateReferenceName; reference_test.go
TestReferenceParse), read through ParseNormalizedNamed, which is what `docker pull` uses.
"""

from __future__ import annotations

import pytest

from pinner.errors import InvalidReference
from pinner.reference import ImageRef, normalize_platform, parse

SHA = "sha256:" + "f" * 64
# From normalize_test.go TestParseReferenceWithTagAndDigest and TestParseAnyReference.
BUSYBOX_SHA = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
REDIS_SHA = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"


def case(
    text: str, domain: str, path: str, tag: str | None = None, digest: str | None = None
) -> object:
    """A VALID row: the text and the reference it parses to."""
    return pytest.param(text, ImageRef(domain, path, tag, digest), id=text[:60])


VALID = [
    # Docker Hub: official images get library/, index.docker.io is the legacy name of docker.io.
    case("python", "docker.io", "library/python"),
    case("python:3.12", "docker.io", "library/python", "3.12"),
    case("docker.io/python", "docker.io", "library/python"),
    case("docker.io/library/python:3.12", "docker.io", "library/python", "3.12"),
    case("library/python", "docker.io", "library/python"),
    case("index.docker.io/python", "docker.io", "library/python"),
    case("index.docker.io/library/debian", "docker.io", "library/debian"),
    case("index.docker.io/fooo/bar", "docker.io", "fooo/bar"),
    case("fooo/bar", "docker.io", "fooo/bar"),
    case("store/foo/bar", "docker.io", "store/foo/bar"),
    case("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    case("test_com/foo", "docker.io", "test_com/foo"),
    case("a/b/c/d:tag", "docker.io", "a/b/c/d", "tag"),
    case("dock__er/docker", "docker.io", "dock__er/docker"),
    case("docker---rules/docker", "docker.io", "docker---rules/docker"),
    # A first component with "." or ":" (a host and port) is a domain; so is "localhost".
    case("localhost/x", "localhost", "x"),
    case("localhost:5000/x", "localhost:5000", "x"),
    case("localhost:5000/x:1.0", "localhost:5000", "x", "1.0"),
    case("example.com/x", "example.com", "x"),
    case("example.com:8000/private/moonbase", "example.com:8000", "private/moonbase"),
    case("127.0.0.1:5000/x", "127.0.0.1:5000", "x"),
    case("127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase"),
    case("test-com:8080/foo", "test-com:8080", "foo"),
    case("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    case("[::1]:5000/x", "[::1]:5000", "x"),
    case("[2001:db8::1]/repo", "[2001:db8::1]", "repo"),
    case("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag"),
    case("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian"),
    case(
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "some-long-tag",
    ),
    case(
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
    ),
    # An uppercase first component can only be a domain (paths are lowercase).
    case("Foo/bar", "Foo", "bar"),
    case("FOO/bar", "FOO", "bar"),
    # Without a "/", "host:port" is a name and a tag.
    case("test.com:5000", "docker.io", "library/test.com", "5000"),
    case("192.168.1.1", "docker.io", "library/192.168.1.1"),
    case("foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080"),
    # Tags may hold uppercase, up to 128 characters.
    case("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase"),
    case("x:_" + "a" * 127, "docker.io", "library/x", "_" + "a" * 127),
    # A tag and a digest: both kept, the digest decides what is pulled.
    case(f"busybox:latest@{BUSYBOX_SHA}", "docker.io", "library/busybox", "latest", BUSYBOX_SHA),
    case(f"redis@{REDIS_SHA}", "docker.io", "library/redis", None, REDIS_SHA),
    case(f"test:5000/repo:tag@{SHA}", "test:5000", "repo", "tag", SHA),
    case(f"[2001:db8::1]:5000/repo@{SHA}", "[2001:db8::1]:5000", "repo", None, SHA),
    case(
        f"xn--7o8h.com/myimage:xn--7o8h.com@sha512:{'f' * 128}",
        "xn--7o8h.com",
        "myimage",
        "xn--7o8h.com",
        f"sha512:{'f' * 128}",
    ),
    # 64 hex characters are an image ID, but not once a domain says it is a name; 63 are a name.
    case(f"docker.io/{HEX64}", "docker.io", f"library/{HEX64}"),
    case(REDIS_SHA[7:-1], "docker.io", f"library/{REDIS_SHA[7:-1]}"),
    case(
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker.io",
        "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_parse(text: str, expected: ImageRef) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "canonical", "familiar", "tag_or_latest"),
    [
        ("python", "docker.io/library/python", "python", "latest"),
        ("index.docker.io/library/python:3.12", "docker.io/library/python:3.12", "python", "3.12"),
        ("fooo/bar", "docker.io/fooo/bar", "fooo/bar", "latest"),
        ("ghcr.io/o/r:v1", "ghcr.io/o/r:v1", "ghcr.io/o/r", "v1"),
        (f"python:3.12@{SHA}", f"docker.io/library/python:3.12@{SHA}", "python", "3.12"),
        (f"python@{SHA}", f"docker.io/library/python@{SHA}", "python", "latest"),
        ("Foo/bar", "Foo/bar", "Foo/bar", "latest"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_names(text: str, canonical: str, familiar: str, tag_or_latest: str) -> None:
    ref = parse(text)
    assert str(ref) == canonical
    assert ref.familiar_name == familiar
    assert ref.tag_or_latest == tag_or_latest
    assert parse(str(ref)) == ref  # the canonical form is a fixed point


INVALID = [
    ("", "invalid reference format: empty"),
    # Paths are lowercase (reference_test.go: "Uppercase:tag", "test:5000/Uppercase/lowercase:tag").
    ("Python", "repository name must be lowercase"),
    ("Uppercase:tag", "repository name must be lowercase"),
    ("docker/Docker", "repository name must be lowercase"),
    ("docker.io/docker/Docker", "repository name must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "repository name must be lowercase"),
    ("python@sha256:abc", "invalid digest format: sha256:abc"),
    ("python@sha256", "invalid digest format: sha256"),
    (
        "repo@sha256:ffffffffffffffffffffffffffffffffff",
        "invalid digest: sha256:ffffffffffffffffffffffffffffffffff (sha256 takes 64 lowercase hex)",
    ),
    (f"python@{SHA[:-1]}", f"invalid digest: {SHA[:-1]} (sha256 takes 64 lowercase hex)"),
    (
        f"python@sha256:{'F' * 64}",
        f"invalid digest: sha256:{'F' * 64} (sha256 takes 64 lowercase hex)",
    ),
    (HEX64, "invalid repository name: cannot specify 64-byte hexadecimal strings"),
    ("python:-bad", "invalid tag format: '-bad'"),
    ("python:.bad", "invalid tag format: '.bad'"),
    ("python:a" + "b" * 128, "invalid tag format: 'a" + "b" * 128 + "'"),
    ("python:", "invalid tag format: ''"),
    ("python:3.12:x", "invalid reference format"),
    (":justtag", "invalid reference format"),
    (f"@{SHA}", "invalid reference format"),
    ("aa/asdf$$^/aa", "invalid reference format"),
    ("-docker", "invalid reference format"),
    ("-docker/docker", "invalid reference format"),
    ("docker-/docker", "invalid reference format"),
    ("____/____", "invalid reference format"),
    ("dock_.er/docker", "invalid registry host: 'dock_.er'"),
    ("docker///docker", "invalid reference format"),
    ("docker/", "invalid reference format"),
    ("[2001:db8::1]:5000", "invalid reference format"),
    ("dock..er/docker", "invalid registry host: 'dock..er'"),
    ("-docker.io/docker/docker", "invalid registry host: '-docker.io'"),
    ("[fe80::1%eth0]:5000/debian", "invalid registry host: '[fe80::1%eth0]:5000'"),
    ("https://github.com/docker/docker", "invalid registry host: 'https:'"),
    ("a/" * 128 + "a:tag", "repository name must not be more than 255 characters"),
    # Normalised, docker.io/ counts too: 255 characters of path are over the limit.
    ("a/" * 127 + "a:tag", "repository name must not be more than 255 characters"),
]


@pytest.mark.parametrize(
    ("text", "message"), INVALID, ids=[text[:40] or "empty" for text, _ in INVALID]
)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as e:
        parse(text)
    assert str(e.value) == message


# Divergences from distribution/reference, found while writing these tables.


@pytest.mark.parametrize("text", ["python@", "python:3.12@"])
def test_parse_empty_digest(text: str) -> None:
    with pytest.raises(InvalidReference) as e:
        parse(text)
    assert str(e.value) == "invalid reference format"


@pytest.mark.parametrize(
    "digest",
    ["invaliddigest:" + "f" * 64, "SHA256:" + "F" * 64, "sha512:" + "f" * 32],
    ids=["unknown-algorithm", "uppercase-sha256", "short-sha512"],
)
def test_parse_unsupported_digest(digest: str) -> None:
    with pytest.raises(InvalidReference):
        parse(f"validname@{digest}")


def test_familiar_name_keeps_library_for_nested_paths() -> None:
    assert parse("docker.io/library/foo/bar").familiar_name == "library/foo/bar"


PLATFORMS = [
    (("linux", "amd64", None), "linux/amd64"),
    (("linux", "x86_64", None), "linux/amd64"),
    (("linux", "x86-64", None), "linux/amd64"),
    (("Linux", "AMD64", None), "linux/amd64"),
    (("linux", "arm64", None), "linux/arm64"),
    (("linux", "aarch64", None), "linux/arm64"),
    (("linux", "arm64", "v8"), "linux/arm64"),
    (("linux", "arm64", "8"), "linux/arm64"),
    (("linux", "aarch64", "v8"), "linux/arm64"),
    (("linux", "arm64", "v9"), "linux/arm64/v9"),
    (("linux", "arm", None), "linux/arm/v7"),
    (("linux", "arm", ""), "linux/arm/v7"),
    (("linux", "arm", "7"), "linux/arm/v7"),
    (("linux", "arm", "v7"), "linux/arm/v7"),
    (("linux", "arm", "V7"), "linux/arm/v7"),
    (("linux", "arm", "v6"), "linux/arm/v6"),
    (("linux", "arm", "6"), "linux/arm/v6"),
    (("linux", "arm", "5"), "linux/arm/v5"),
    (("linux", "armhf", None), "linux/arm/v7"),
    (("linux", "armel", None), "linux/arm/v6"),
    (("linux", "i386", None), "linux/386"),
    (("linux", "386", None), "linux/386"),
    (("linux", "s390x", None), "linux/s390x"),
    (("linux", "ppc64le", None), "linux/ppc64le"),
    (("linux", "riscv64", None), "linux/riscv64"),
    (("windows", "amd64", None), "windows/amd64"),
]


@pytest.mark.parametrize(("platform", "expected"), PLATFORMS, ids=[e for _, e in PLATFORMS])
def test_normalize_platform(platform: tuple[str, str, str | None], expected: str) -> None:
    assert normalize_platform(*platform) == expected


# containerd/platforms database.go normalizeArch: amd64 drops only variant "v1"; x86_64 is amd64.
@pytest.mark.parametrize(
    ("platform", "expected"),
    [(("linux", "amd64", "v1"), "linux/amd64"), (("linux", "x86_64", "v2"), "linux/amd64/v2")],
    ids=["amd64-v1", "x86_64-v2"],
)
def test_normalize_platform_amd64_variants(
    platform: tuple[str, str, str | None], expected: str
) -> None:
    assert normalize_platform(*platform) == expected
