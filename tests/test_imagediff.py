"""`pinner diff` end to end on small hand-made images: registry, OCI layout, docker-archive."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import tarfile
from pathlib import Path

import jsonschema
import pytest
from cli import readme_schema
from handmade import (
    Entry,
    HandImage,
    hostile_tars,
    layer_tar,
    push,
    sha,
    write_archive,
    write_layout,
)
from registryd import PASSWORD, USERNAME, Registry

from pinner import imagefiles
from pinner.main import main

BASE = [
    Entry("etc", kind="dir"),
    Entry("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
    Entry("etc/motd", b"hello\n"),
    Entry("bin", kind="dir"),
    Entry("bin/sh", b"\x7fELF-not-really", mode=0o755),
    Entry("bin/dash", kind="hardlink", target="bin/sh"),
    Entry("usr", kind="dir"),
    Entry("usr/lib", kind="dir"),
    Entry("usr/lib/os-release", kind="symlink", target="../../etc/os-release"),
    Entry("srv", kind="dir"),
    Entry("srv/data", kind="dir"),
    Entry("srv/data/a", b"a\n"),
    Entry("srv/data/b", b"b\n"),
]
APP = [Entry("app", kind="dir"), Entry("app/run.sh", b"#!/bin/sh\necho hi\n", mode=0o755)]


pytestmark = pytest.mark.usefixtures("docker_config")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def image(*layers: list[Entry], **kwargs: object) -> HandImage:
    return HandImage([layer_tar(entries) for entries in layers], **kwargs)  # type: ignore[arg-type]


def test_one_image_through_registry_layout_and_archive_is_identical(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = image(BASE, APP)
    digest = push(made, registry, "diff/same", "1")
    write_layout(made, tmp_path / "layout", "v1")
    write_archive(made, tmp_path / "image.tar")
    ref = f"{registry.host}/diff/same:1"
    pairs = [
        (ref, f"oci:{tmp_path / 'layout'}:v1"),
        (ref, f"docker-archive:{tmp_path / 'image.tar'}"),
        (f"oci:{tmp_path / 'layout'}", f"docker-archive:{tmp_path / 'image.tar'}"),
    ]
    for a, b in pairs:
        code, out, err = run(capsys, a, b)
        assert (code, err) == (0, ""), out
        assert out.splitlines()[:2] == ["identical", "  linux/amd64: identical"]
    code, out, _ = run(capsys, ref, f"oci:{tmp_path / 'layout'}:v1")
    assert f"manifest  A {digest}" in out and f"            B {digest}" in out


def test_archive_layers_are_streamed_and_compared_with_the_registry_image(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push(image(BASE, APP), registry, "diff/stream", "1")
    changed = [*APP[:1], Entry("app/run.sh", b"#!/bin/sh\necho bye\n", mode=0o755)]
    write_archive(image(BASE, changed), tmp_path / "image.tar")
    code, out, _ = run(
        capsys, f"{registry.host}/diff/stream:1", f"docker-archive:{tmp_path / 'image.tar'}"
    )
    assert code == 1
    assert out.splitlines()[:2] == ["different", "  linux/amd64: different: 1 layer, 1 file differ"]
    assert "    layer 2: files differ" in out
    assert "    /app/run.sh: content differs (18 bytes -> 19 bytes)\n" in out
    assert "      -echo hi\n      +echo bye\n" in out


def test_whiteout_and_opaque_directory_apply_per_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upper = [
        Entry("etc", kind="dir"),
        Entry("etc/.wh.motd"),
        Entry("srv", kind="dir"),
        Entry("srv/data", kind="dir"),
        Entry("srv/data/.wh..wh..opq"),
        Entry("srv/data/c", b"c\n"),
    ]
    write_layout(image(BASE, APP), tmp_path / "a")
    write_layout(image(BASE, APP, upper), tmp_path / "b")
    code, out, _ = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}", "--semantic")
    assert code == 1
    files = out[out.index("  files:\n") :].splitlines()[1:]
    assert files == [
        "    /etc/motd: only in A",
        "    /srv/data/a: only in A",
        "    /srv/data/b: only in A",
        "    /srv/data/c: only in B",
    ]
    assert "    layer count: differs (2 -> 3)" in out


def test_file_replacing_a_directory_hides_its_subtree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_layout(image(BASE), tmp_path / "a")
    write_layout(image(BASE, [Entry("srv", b"now a file\n")]), tmp_path / "b")
    code, out, _ = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}", "--semantic")
    assert code == 1
    assert out[out.index("  files:\n") :].splitlines()[1:] == [
        "    /srv: type differs (dir -> file)",
        "    /srv/data: only in A",
        "    /srv/data/a: only in A",
        "    /srv/data/b: only in A",
    ]


def test_mtime_only_change_is_reported_in_strict_mode_and_ignored_with_semantic(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    touched = [APP[0], Entry("app/run.sh", APP[1].data, mode=0o755, mtime=1800000000)]
    push(image(BASE, APP), registry, "diff/mtime", "a")
    push(image(BASE, touched, created="2025-01-01T00:00:00Z"), registry, "diff/mtime", "b")
    a, b = f"{registry.host}/diff/mtime:a", f"{registry.host}/diff/mtime:b"

    code, out, _ = run(capsys, a, b)
    assert code == 1
    assert "    /app/run.sh: mtime differs (2023-11-14T22:13:20Z -> 2027-01-15T08:00:00Z)" in out
    assert "    layer 2: file mtimes differ" in out
    assert "    created: differs (2024-01-01T00:00:00Z -> 2025-01-01T00:00:00Z)" in out

    code, out, _ = run(capsys, a, b, "--semantic")
    assert code == 0
    assert out.startswith("identical\n  linux/amd64: identical\n")
    assert "ignoring: file-order, history, tar-format, timestamps" in out
    assert run(capsys, a, b, "--ignore", "timestamps,history")[0] == 0
    code, out, _ = run(capsys, a, b, "--ignore", "history")
    assert code == 1 and "mtime differs" in out and "created: differs" in out
    assert "history[" not in out


def test_entry_order_and_header_format_count_in_strict_mode_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_layout(image(BASE, APP), tmp_path / "a")
    write_layout(image(BASE, APP[::-1]), tmp_path / "order")
    gnu = HandImage([layer_tar(BASE), layer_tar(APP, tarfile.GNU_FORMAT)])
    write_layout(gnu, tmp_path / "gnu")
    a = f"oci:{tmp_path / 'a'}"

    code, out, _ = run(capsys, a, f"oci:{tmp_path / 'order'}")
    assert code == 1 and "    layer 2: tar entry order differs" in out
    assert run(capsys, a, f"oci:{tmp_path / 'order'}", "--ignore", "file-order")[0] == 0

    code, out, _ = run(capsys, a, f"oci:{tmp_path / 'gnu'}")
    assert code == 1 and "    layer 2: tar headers differ" in out
    assert run(capsys, a, f"oci:{tmp_path / 'gnu'}", "--ignore", "tar-format")[0] == 0


def test_changed_env_is_a_config_difference(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    push(image(BASE, env=["PATH=/bin", "MODE=dev"]), registry, "diff/env", "a")
    push(image(BASE, env=["PATH=/bin", "MODE=prod"]), registry, "diff/env", "b")
    code, out, _ = run(
        capsys, f"{registry.host}/diff/env:a", f"{registry.host}/diff/env:b", "--semantic"
    )
    assert code == 1
    assert out.splitlines()[1] == "  linux/amd64: different: 1 config field differ"
    assert "  config:\n    Env MODE: differs (dev -> prod)\n" in out
    assert "  files:" not in out  # same layers: no blob is downloaded


def test_json_and_markdown_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_layout(image(BASE), tmp_path / "a")
    write_layout(image([*BASE[:2], Entry("etc/motd", b"bye\n"), *BASE[3:]]), tmp_path / "b")
    report = tmp_path / "report.md"
    code, out, _ = run(
        capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}", "--json", "--report", str(report)
    )
    assert code == 1
    data = json.loads(out)
    assert data["identical"] is False
    [platform] = data["platforms"]
    assert platform["platform"] == "linux/amd64"
    assert {(d["section"], d["subject"], d["message"]) for d in platform["differences"]} == {
        ("layers", "layer 1", "files differ"),
        ("files", "/etc/motd", "content differs"),
    }
    text = report.read_text()
    assert text.startswith("## Image comparison\n")
    assert "| `/etc/motd` | content differs | `6 bytes` | `4 bytes` |" in text
    assert "```diff\n--- a/etc/motd\n+++ b/etc/motd\n@@ -1 +1 @@\n-hello\n+bye\n```" in text


def test_index_compared_platform_by_platform_with_attestations_apart(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    from registryd import push_index

    push_index(registry, "diff/index", "a", attestation=True, seed="1")
    push_index(registry, "diff/index", "b", platforms=(("linux", "amd64", None),), seed="2")
    code, out, _ = run(capsys, f"{registry.host}/diff/index:a", f"{registry.host}/diff/index:b")
    assert code == 1
    lines = out.splitlines()
    assert lines[1].startswith("  linux/amd64: different: ")
    assert lines[2:4] == ["  linux/arm/v7: only in A", "  linux/arm64: only in A"]
    assert "attestations (not compared):" in out
    code, out, _ = run(
        capsys,
        f"{registry.host}/diff/index:a",
        f"{registry.host}/diff/index:a",
        "--platform",
        "linux/arm64/v8",
    )
    assert (code, out.splitlines()[:2]) == (0, ["identical", "  linux/arm64: identical"])


# --------------------------------------------------------------------------- hostile inputs


def test_layer_whose_bytes_do_not_match_its_digest_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = image(BASE, APP)
    other = gzip.compress(
        layer_tar([APP[0], Entry("app/run.sh", b"#!/bin/sh\necho ho\n", mode=0o755)]), mtime=0
    )
    assert len(other) == len(made.gzipped()[1])  # same size: only the digest can tell
    write_layout(image(BASE), tmp_path / "a")
    write_layout(made, tmp_path / "b")
    lying = sha(made.gzipped()[1])
    (tmp_path / "b" / "blobs" / "sha256" / lying.split(":")[1]).write_bytes(other)
    code, out, err = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}")
    assert (code, out) == (1, "")
    assert err == f"layer {lying}: the bytes served have digest {sha(other)}\n"


def test_layer_longer_than_its_descriptor_is_cut_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = image(BASE, APP)
    write_layout(image(BASE), tmp_path / "a")
    write_layout(made, tmp_path / "b")
    lying = sha(made.gzipped()[1])
    size = len(made.gzipped()[1])
    (tmp_path / "b" / "blobs" / "sha256" / lying.split(":")[1]).write_bytes(made.gzipped()[0])
    code, out, err = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}")
    assert (code, out) == (1, "")
    assert err == f"layer {lying}: the blob is longer than the {size} bytes the manifest says\n"


def test_config_diff_id_that_lies_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = image(BASE, APP)
    real = sha(made.layers[1])
    made.extra = {"rootfs": {"type": "layers", "diff_ids": [sha(made.layers[0]), sha(b"other")]}}
    write_layout(image(BASE), tmp_path / "a")
    write_layout(made, tmp_path / "b")
    code, out, err = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}")
    assert (code, out) == (1, "")
    assert err.endswith(f": uncompressed digest {real}, the config says {sha(b'other')}\n")


def test_tar_entry_with_dotdot_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_layout(image(BASE), tmp_path / "a")
    write_layout(
        image(BASE, [Entry("app/../../etc/passwd", b"root::0:0::/:/bin/sh\n")]), tmp_path / "b"
    )
    code, out, err = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}")
    assert (code, out) == (1, "")
    assert err.endswith(": tar entry 'app/../../etc/passwd' has a '..' component\n")


def test_gzip_bomb_is_stopped_at_the_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imagefiles, "MIN_EXPANSION", 1 << 20)
    bomb = image(BASE, [Entry("zeros", bytes(32 << 20))])
    write_layout(image(BASE), tmp_path / "a")
    write_layout(bomb, tmp_path / "b")
    assert len(bomb.gzipped()[1]) < 100_000  # 32 MiB of zeros: a ratio of over 300
    code, out, err = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}")
    assert (code, out) == (1, "")
    assert "it expands to more than " in err and "(a decompression bomb?)" in err


def test_unknown_ignore_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "a", "b", "--ignore", "timestamps,colour")
    assert (code, out) == (2, "")
    assert err == (
        "pinner: unknown --ignore 'colour'; choose from timestamps, history, file-order, tar-format\n"
    )


def test_missing_layout_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, f"oci:{tmp_path}", f"oci:{tmp_path}")
    assert (code, out) == (1, "")
    assert err == f"oci:{tmp_path}: no index.json: not an OCI image layout\n"


def test_oversized_pax_header_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("big")
        info.pax_headers = {"comment": "x" * (2 << 20)}
        tar.addfile(info, io.BytesIO(b""))
    write_layout(image(BASE), tmp_path / "a")
    write_layout(HandImage([layer_tar(BASE), raw.getvalue()]), tmp_path / "b")
    code, out, err = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'b'}")
    assert (code, out) == (1, "")
    assert err.endswith(f": a tar header of {(2 << 20) + 17} bytes is over the limit\n")


def test_layout_with_several_tags_needs_one_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_layout(image(BASE), tmp_path / "one", "v1")
    index = json.loads((tmp_path / "one" / "index.json").read_text())
    write_layout(image(BASE, APP), tmp_path / "one", "v2")
    index["manifests"] += json.loads((tmp_path / "one" / "index.json").read_text())["manifests"]
    (tmp_path / "one" / "index.json").write_text(json.dumps(index))
    layout = f"oci:{tmp_path / 'one'}"
    code, out, err = run(capsys, layout, f"{layout}:v1")
    assert (code, out) == (1, "")
    assert err == f"{layout}: holds 2 tagged images; name one as oci:DIR:TAG\n"
    assert run(capsys, f"{layout}:v1", f"{layout}:v2")[0] == 1
    assert run(capsys, f"{layout}:v2", f"{layout}:v2")[0] == 0


def test_registries_with_token_and_basic_auth_are_read_through_pinners_client(
    token_registry: Registry,
    basic_registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = image(BASE, APP)
    push(made, token_registry, "diff/auth", "1")
    push(made, basic_registry, "diff/auth", "1")
    auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    config = {"auths": {basic_registry.host: {"auth": auth}}}
    (tmp_path / "docker-config" / "config.json").write_text(json.dumps(config))
    token_registry.clear_requests()
    a, b = f"{token_registry.host}/diff/auth:1", f"{basic_registry.host}/diff/auth:1"
    code, out, err = run(capsys, a, b)
    assert (code, err) == (0, ""), out
    assert out.startswith("identical\n")
    assert [t.scopes for t in token_registry.token_requests] == [("repository:diff/auth:pull",)]


def test_json_documents_match_the_readme_schema(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = readme_schema()
    push(image(BASE, env=["A=1"]), registry, "diff/schema", "a")
    push(image(BASE, [Entry("x", b"x\n")], env=["A=2"]), registry, "diff/schema", "b")
    a, b = f"{registry.host}/diff/schema:a", f"{registry.host}/diff/schema:b"
    for argv, expected, name in (
        ([a, a], 0, "diff"),
        ([a, b], 1, "diff"),
        ([a, f"oci:{tmp_path}"], 1, "failure"),
    ):
        code, out, _ = run(capsys, *argv, "--json")
        assert code == expected
        document = json.loads(out)
        jsonschema.validate(document, {**schema, "$ref": f"#/$defs/{name}"})
        assert document["ok"] is (code == 0)


@pytest.mark.parametrize(
    "digest", ["sha256:../../../etc/passwd", "sha512:" + "0" * 128, "sha256:" + "A" * 64, 12345]
)
def test_a_layout_index_naming_no_sha256_digest_is_refused(
    digest: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The digest becomes a path under blobs/sha256: anything but a sha256 digest is refused first.
    write_layout(image(BASE), tmp_path / "a")
    index = json.loads((tmp_path / "a" / "index.json").read_text())
    index["manifests"][0]["digest"] = digest
    (tmp_path / "a" / "index.json").write_text(json.dumps(index))
    code, out, err = run(capsys, f"oci:{tmp_path / 'a'}", f"oci:{tmp_path / 'a'}")
    assert (code, out) == (1, "")
    assert "not a sha256 digest" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "what"),
    [("x", "not JSON"), ("[" * 100_000, "nested past json's recursion limit")],
    ids=["not-json", "deep"],
)
def test_an_archive_or_layout_whose_json_does_not_decode_is_one_line(
    text: str, what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A docker-archive's manifest.json and a layout's index.json: each is one line, not a
    traceback, whether json raises ValueError or (deep nesting) RecursionError."""
    with tarfile.open(tmp_path / "bad.tar", "w") as tar:
        data = text.encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    code, out, err = run(capsys, f"docker-archive:{tmp_path / 'bad.tar'}", "x")
    assert (code, out) == (1, "")
    assert err == f"docker-archive:{tmp_path / 'bad.tar'}: manifest.json is not valid JSON\n", what
    write_layout(image(BASE), tmp_path / "a")
    (tmp_path / "a" / "index.json").write_text(text)
    code, out, err = run(capsys, f"oci:{tmp_path / 'a'}", "x")
    assert (code, out) == (1, "")
    assert err.endswith("not valid JSON\n") and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("data", hostile_tars("manifest.json").values(), ids=list(hostile_tars("")))
def test_an_archive_whose_pax_headers_do_not_parse_is_one_line(
    data: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # tarfile raises ValueError or OverflowError on these, not TarError. The infinite mtime is
    # only read where a member's time is: the archive reads, its manifest.json is empty.
    (tmp_path / "bad.tar").write_bytes(data)
    code, out, err = run(capsys, f"docker-archive:{tmp_path / 'bad.tar'}", "x")
    assert (code, out) == (1, "")
    prefix = re.escape(f"docker-archive:{tmp_path / 'bad.tar'}: ")
    reason = r"(not a readable tar archive \(.+\)|manifest.json holds 0 images, not one)"
    assert re.fullmatch(f"{prefix}{reason}\n", err), err
