"""Property: pinning changes nothing but the references it pins, whatever the layout."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from offline_lock import pin_text
from registryd import Registry, push_image

from examples import examples
from pinner import dockerfile, reference
from pinner.main import main

NEWLINES = st.sampled_from(["\n", "\r\n"])
SPACE = st.sampled_from([" ", "  ", "\t", " \\\n  ", " \\\r\n\t"])
KEYWORD_CASE = st.sampled_from(["FROM", "from", "From"])
IMAGE_NAMES = [
    "python:3.12",
    "python",
    "debian:bookworm-slim",
    "ghcr.io/owner/repo:v1.2.3",
    "127.0.0.1:5000/team/app:stable",
    "localhost/x",
    "registry.example/a/b/c:tag_1",
]
IMAGES = st.sampled_from(IMAGE_NAMES)
COMMENT = st.sampled_from(["# a comment", "#", "# FROM python:3.12", "   # indented"])
RUN = st.sampled_from(
    [
        "RUN echo FROM alpine",
        "RUN apt-get update && \\\n    apt-get install -y curl",
        "ENV A=b",
        "WORKDIR /x",
    ]
)


@st.composite
def dockerfiles(draw: st.DrawFn) -> str:
    """Random Dockerfiles: FROM lines with flags, stage names, continuations, comments, CRLF."""
    nl = draw(NEWLINES)
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(f"# syntax={draw(IMAGES)}")
    stages: list[str] = []
    for n in range(draw(st.integers(1, 4))):
        parts = [draw(KEYWORD_CASE)]
        if draw(st.booleans()):
            parts.append("--platform=$BUILDPLATFORM")
        parts.append(draw(IMAGES))
        if draw(st.booleans()):
            name = f"stage{n}"
            parts += [draw(st.sampled_from(["AS", "as"])), name]
            stages.append(name)
        text = parts[0]
        for part in parts[1:]:
            text += draw(SPACE) + part
        lines.append(text)
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.integers(0, 2))
            if kind == 0:
                lines.append(draw(COMMENT))
            elif kind == 1:
                lines.append(draw(RUN))
            elif stages:
                lines.append(f"COPY --from={draw(st.sampled_from(stages))} /a /b")
            else:
                lines.append(f"COPY --from={draw(IMAGES)} /a /b")
    body = nl.join(line.replace("\n", nl).replace("\r\r", "\r") for line in lines)
    return body + (nl if draw(st.booleans()) else "")


PIN = re.compile(r"@sha256:[0-9a-f]{64}")


@settings(max_examples=examples(300), deadline=None)
@given(dockerfiles())
def test_only_references_change(text: str) -> None:
    pinned = pin_text(text)
    uses = dockerfile.parse(text, "Dockerfile").uses
    assert PIN.sub("", pinned) == text
    assert len(PIN.findall(pinned)) == len(uses)
    assert pin_text(pinned) == pinned


def local(host: str, image: str) -> str:
    """The test registry's stand-in for an image name; tagged only when the original is."""
    ref = reference.parse(image)
    slug = re.sub(r"[^a-z0-9]+", "-", ref.familiar_name)
    return f"{host}/prop/{slug}" + (f":{ref.tag}" if ref.tag else "")


@pytest.fixture(scope="module")
def pushed(registry: Registry) -> str:
    """Push the images the strategy names, under the test registry's host."""
    for image in IMAGE_NAMES:
        ref = reference.parse(local(registry.host, image))
        push_image(registry, ref.path, ref.tag_or_latest)
    return registry.host


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=dockerfiles())
def test_lock_command_changes_only_references(pushed: str, text: str) -> None:
    names = "|".join(re.escape(n) for n in sorted(IMAGE_NAMES, key=len, reverse=True))
    text = re.sub(rf"(?<=[ \t=])({names})(?=[\s]|$)", lambda m: local(pushed, m[1]), text)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Dockerfile"
        path.write_bytes(text.encode())
        assert main(["lock", "--images-only", "--quiet", str(path)]) == 0
        pinned = path.read_bytes().decode()
    assert PIN.sub("", pinned) == text
    assert len(PIN.findall(pinned)) == len(dockerfile.parse(text, "Dockerfile").uses)
