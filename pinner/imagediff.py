"""Compare two images platform by platform: config fields, layers, then files; render the result."""

# The modes follow diffoci (github.com/reproducible-containers/diffoci): strict compares every
# bit that pinner reads; each --ignore drops one kind of difference that does not change what runs,
# and --semantic drops them all. How a blob is stored (media types, compression) is not compared:
# the same image in a registry, an OCI layout and a docker-archive is the same image.

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from pinner.imagefiles import FileInfo, LayerScan
from pinner.imagemodel import Attestation, Image, ImageConfig, PlatformImage

IGNORES = ("timestamps", "history", "file-order", "tar-format")
SEMANTIC = frozenset(IGNORES)
MAX_TEXT_DIFF_LINES = 20
MAX_SHOWN = 300  # characters of one value printed to a terminal or report
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Difference(NamedTuple):
    """One difference: section (platform, config, layers, files), subject, message, a, b."""

    section: str
    subject: str
    message: str
    a: str | None = None
    b: str | None = None
    diff: str = ""


class PlatformDiff(NamedTuple):
    """What differs between the two images' manifests for one platform."""

    platform: str
    a: PlatformImage
    b: PlatformImage
    differences: tuple[Difference, ...]
    notes: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return not self.differences


class ImageDiff(NamedTuple):
    """The whole comparison."""

    a: Image
    b: Image
    ignored: frozenset[str]
    platforms: tuple[PlatformDiff, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return (
            not self.only_in_a and not self.only_in_b and all(p.identical for p in self.platforms)
        )


def shown(text: str) -> str:
    """Text from an image, safe for a terminal: control characters escaped, length capped."""
    text = _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def parse_ignores(text: str) -> frozenset[str]:
    """The --ignore list: names from IGNORES, comma-separated; ValueError names a wrong one."""
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(names - SEMANTIC)
    if unknown:
        raise ValueError(f"unknown --ignore {unknown[0]!r}; choose from {', '.join(IGNORES)}")
    return names


def same_layers(a: PlatformImage, b: PlatformImage) -> bool:
    """True when both hold the same uncompressed layers: their files are then the same too."""
    return a.config.diff_ids == b.config.diff_ids


# --------------------------------------------------------------------------- config


def _history(config: ImageConfig, ignored: frozenset[str]) -> list[str]:
    return [
        " ".join(
            filter(None, ["" if "timestamps" in ignored else h.created, h.created_by, h.comment])
        )
        + (" (empty layer)" if h.empty_layer else "")
        for h in config.history
    ]


def _listing(value: tuple[str, ...] | None) -> str:
    return "(none)" if value is None else json.dumps(list(value))


def compare_config(a: ImageConfig, b: ImageConfig, ignored: frozenset[str]) -> list[Difference]:
    """The config fields that differ, Env and Labels item by item."""
    out: list[Difference] = []

    def field(name: str, va: str, vb: str) -> None:
        if va != vb:
            out.append(Difference("config", name, "differs", va, vb))

    field("architecture", a.architecture, b.architecture)
    field("os", a.os, b.os)
    field("variant", a.variant, b.variant)
    out.extend(_items("Env", _env(a.env), _env(b.env)))
    field("Entrypoint", _listing(a.entrypoint), _listing(b.entrypoint))
    field("Cmd", _listing(a.cmd), _listing(b.cmd))
    field("WorkingDir", a.working_dir, b.working_dir)
    field("User", a.user, b.user)
    out.extend(_items("Labels", dict(a.labels), dict(b.labels)))
    field("ExposedPorts", " ".join(a.exposed_ports), " ".join(b.exposed_ports))
    field("Volumes", " ".join(a.volumes), " ".join(b.volumes))
    field("StopSignal", a.stop_signal, b.stop_signal)
    if "timestamps" not in ignored:
        field("created", a.created, b.created)
    if "history" not in ignored:
        ha, hb = _history(a, ignored), _history(b, ignored)
        for i in range(max(len(ha), len(hb))):
            va = ha[i] if i < len(ha) else None
            vb = hb[i] if i < len(hb) else None
            if va != vb:
                out.append(Difference("config", f"history[{i}]", "differs", va, vb))
    return out


def _env(env: Iterable[str]) -> dict[str, str]:
    return dict(e.partition("=")[::2] for e in env)


def _items(name: str, a: dict[str, str], b: dict[str, str]) -> list[Difference]:
    return [
        Difference("config", f"{name} {key}", "differs", a.get(key), b.get(key))
        for key in sorted(a.keys() | b.keys())
        if a.get(key) != b.get(key)
    ]


# --------------------------------------------------------------------------- layers


def _record(info: FileInfo, with_mtime: bool) -> tuple[object, ...]:
    """What a tar entry says about its file, without the header's own format."""
    return (
        info.path,
        info.kind,
        info.mode,
        info.uid,
        info.gid,
        info.size,
        info.sha256,
        info.target,
        info.xattrs,
        info.device,
        info.mtime if with_mtime else 0,
    )


def _format(info: FileInfo) -> tuple[object, ...]:
    return (info.path, info.header, info.uname, info.gname)


def compare_layer(
    index: int, a: LayerScan, b: LayerScan, diff_ids: tuple[str, str], ignored: frozenset[str]
) -> Difference | None:
    """Why two layers at one position differ, or None when every reason is ignored."""
    subject = f"layer {index + 1}"
    if sorted(_record(e, False) for e in a.entries) != sorted(
        _record(e, False) for e in b.entries
    ) or (a.whiteouts, a.opaques) != (b.whiteouts, b.opaques):
        return Difference("layers", subject, "files differ", *diff_ids)
    reasons = []
    if sorted(_record(e, True) for e in a.entries) != sorted(_record(e, True) for e in b.entries):
        reasons.append(("timestamps", "file mtimes differ"))
    if [e.path for e in a.entries] != [e.path for e in b.entries]:
        reasons.append(("file-order", "tar entry order differs"))
    if not reasons or sorted(map(_format, a.entries)) != sorted(map(_format, b.entries)):
        # The same entries in the same order: what is left is how the headers are written.
        reasons.append(("tar-format", "tar headers differ"))
    messages = [message for key, message in reasons if key not in ignored]
    return Difference("layers", subject, "; ".join(messages), *diff_ids) if messages else None


# --------------------------------------------------------------------------- files


def _time(seconds: int) -> str:
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def _text_diff(path: str, a: bytes, b: bytes) -> str:
    lines = list(
        difflib.unified_diff(
            a.decode().splitlines(),
            b.decode().splitlines(),
            fromfile=f"a{path}",
            tofile=f"b{path}",
            lineterm="",
        )
    )
    if len(lines) > MAX_TEXT_DIFF_LINES:
        lines = [*lines[:MAX_TEXT_DIFF_LINES], f"... ({len(lines) - MAX_TEXT_DIFF_LINES} more)"]
    return "\n".join(shown(line) for line in lines)


def compare_file(a: FileInfo, b: FileInfo, ignored: frozenset[str]) -> list[Difference]:
    """How one path differs between the two images' merged views."""
    out = []
    path = a.path

    def add(message: str, va: str, vb: str, diff: str = "") -> None:
        out.append(Difference("files", path, message, va, vb, diff))

    if a.kind != b.kind:
        add("type differs", a.kind, b.kind)
        return out
    if a.sha256 != b.sha256:
        text = _text_diff(path, a.text, b.text) if a.text is not None and b.text is not None else ""
        add("content differs", f"{a.size} bytes", f"{b.size} bytes", text)
    if a.mode != b.mode:
        add("mode differs", f"{a.mode:04o}", f"{b.mode:04o}")
    if (a.uid, a.gid) != (b.uid, b.gid):
        add("owner differs", f"{a.uid}:{a.gid}", f"{b.uid}:{b.gid}")
    if a.target != b.target and (a.kind == "symlink" or "file-order" not in ignored):
        # Which of two hard-linked names holds the bytes depends on the tar's order.
        add("link target differs", a.target, b.target)
    if a.device != b.device:
        add("device differs", "{},{}".format(*a.device), "{},{}".format(*b.device))
    if a.xattrs != b.xattrs:
        add("xattrs differ", repr(dict(a.xattrs)), repr(dict(b.xattrs)))
    if a.mtime != b.mtime and "timestamps" not in ignored:
        add("mtime differs", _time(a.mtime), _time(b.mtime))
    return out


def compare_files(
    a: dict[str, FileInfo], b: dict[str, FileInfo], ignored: frozenset[str]
) -> list[Difference]:
    """Every path that differs, in path order."""
    out = []
    for path in sorted(a.keys() | b.keys()):
        fa, fb = a.get(path), b.get(path)
        if fa is None:
            out.append(Difference("files", path, "only in B", None, fb.kind if fb else None))
        elif fb is None:
            out.append(Difference("files", path, "only in A", fa.kind, None))
        else:
            out.extend(compare_file(fa, fb, ignored))
    return out


# --------------------------------------------------------------------------- rendering


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def platform_summary(p: PlatformDiff) -> str:
    """One line: identical, or how many config fields, layers and files differ."""
    if p.identical:
        return "identical"
    by = {s: sum(1 for d in p.differences if d.section == s) for s in ("config", "layers")}
    paths = len({d.subject for d in p.differences if d.section == "files"})
    parts = [
        _count(by["config"], "config field") if by["config"] else "",
        _count(by["layers"], "layer") if by["layers"] else "",
        _count(paths, "file") if paths else "",
    ]
    return "different: " + ", ".join(filter(None, parts)) + " differ"


def summary(result: ImageDiff) -> list[str]:
    """The first lines of the output: the verdict, then one line per platform."""
    lines = ["identical" if result.identical else "different"]
    for p in result.platforms:
        lines.append(f"  {p.platform}: {platform_summary(p)}")
    lines += [f"  {p}: only in A" for p in result.only_in_a]
    lines += [f"  {p}: only in B" for p in result.only_in_b]
    return lines


def _change(d: Difference) -> str:
    if d.a is None and d.b is None:
        return f"{shown(d.subject)}: {d.message}"
    if d.message in ("only in A", "only in B"):
        return f"{shown(d.subject)}: {d.message}"
    return f"{shown(d.subject)}: {d.message} ({shown(d.a or '-')} -> {shown(d.b or '-')})"


def _attestations(label: str, items: Sequence[Attestation]) -> list[str]:
    return [f"  {label}: {a.digest} (for {a.subject or 'unknown'})" for a in items]


def render_text(result: ImageDiff) -> str:
    """The readable report: summary first, then details per platform."""
    lines = summary(result)
    lines += ["", f"A: {shown(result.a.name)}", f"B: {shown(result.b.name)}"]
    if result.ignored:
        lines.append(f"ignoring: {', '.join(sorted(result.ignored))}")
    for p in result.platforms:
        lines += ["", f"{p.platform}:"]
        lines.append(f"  manifest  A {p.a.manifest or '(none)'}")
        lines.append(f"            B {p.b.manifest or '(none)'}")
        lines.append(f"  config    A {p.a.config_digest}")
        lines.append(f"            B {p.b.config_digest}")
        lines += [f"  note: {n}" for n in p.notes]
        for section in ("config", "layers", "files"):
            found = [d for d in p.differences if d.section == section]
            if found:
                lines.append(f"  {section}:")
            for d in found:
                lines.append(f"    {_change(d)}")
                lines += [f"      {line}" for line in d.diff.splitlines()]
    if result.a.attestations or result.b.attestations:
        lines += ["", "attestations (not compared):"]
        lines += _attestations("A", result.a.attestations)
        lines += _attestations("B", result.b.attestations)
    return "\n".join(lines) + "\n"


def to_json(result: ImageDiff) -> dict[str, Any]:
    """The result as JSON data."""

    def side(image: Image) -> dict[str, Any]:
        return {
            "name": image.name,
            "digest": image.digest,
            "attestations": [a._asdict() for a in image.attestations],
        }

    return {
        "ok": result.identical,
        "identical": result.identical,
        "ignored": sorted(result.ignored),
        "a": side(result.a),
        "b": side(result.b),
        "only_in_a": list(result.only_in_a),
        "only_in_b": list(result.only_in_b),
        "platforms": [
            {
                "platform": p.platform,
                "identical": p.identical,
                "manifest": [p.a.manifest, p.b.manifest],
                "config": [p.a.config_digest, p.b.config_digest],
                "notes": list(p.notes),
                "differences": [d._asdict() for d in p.differences],
            }
            for p in result.platforms
        ],
    }


def _cell(text: str | None) -> str:
    return "" if text is None else "`" + shown(text).replace("|", "\\|").replace("`", "'") + "`"


def render_markdown(result: ImageDiff, title: str = "Image comparison") -> str:
    """A Markdown report for a pull request or an issue."""
    verdict = "identical" if result.identical else "**different**"
    lines = [f"## {title}", "", f"{_cell(result.a.name)} and {_cell(result.b.name)}: {verdict}"]
    if result.ignored:
        lines.append(f"(ignoring {', '.join(sorted(result.ignored))})")
    lines += ["", "| platform | result | manifest A | manifest B |", "|---|---|---|---|"]
    for p in result.platforms:
        row = [p.platform, platform_summary(p), _cell(p.a.manifest), _cell(p.b.manifest)]
        lines.append("| " + " | ".join(row) + " |")
    for name in result.only_in_a:
        lines.append(f"| {name} | only in A | | |")
    for name in result.only_in_b:
        lines.append(f"| {name} | only in B | | |")
    for p in result.platforms:
        if p.identical:
            continue
        lines += ["", f"### {p.platform}", "", "| what | difference | A | B |", "|---|---|---|---|"]
        for d in p.differences:
            lines.append(f"| {_cell(d.subject)} | {d.message} | {_cell(d.a)} | {_cell(d.b)} |")
        for d in p.differences:
            if d.diff:
                lines += ["", f"`{shown(d.subject)}`:", "", "```diff", d.diff, "```"]
    return "\n".join(lines) + "\n"
