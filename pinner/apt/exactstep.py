"""The exact snapshot step: one `sed -i` derived from the apt sources a base image ships."""

# Why this shape:
#
# * pinner reads the base image's sources from its layers (remote/layers.py), so the step can name
#   the files and the URIs it changes instead of carrying a program that searches for them (the
#   generic step in sources.py). The reviewer reads what changes; apt sees the same result.
# * Each expression is anchored on text the file holds: a one-line entry's start up to and
#   including its URI (`^deb http://deb.debian.org/(debian|debian-security) `), a deb822 `URIs:`
#   line whole (`^URIs: http://deb.debian.org/(debian|debian-security)$`). URIs that differ only in
#   the archive name share one expression (the archive is captured, `\1`); URIs that all go to the
#   one Ubuntu snapshot share one by alternation. Dots are left unescaped, as people write them.
# * The same expressions are applied here, in Python, to the files read from the image, and the
#   result is checked (`verify`): every Debian or Ubuntu archive source names the snapshot with
#   validity checks off; third-party sources and every other byte are untouched.
# * sed -E (POSIX.1-2024; GNU sed and busybox sed) and "\n" in a replacement (GNU and busybox):
#   the deb822 replacement adds `Check-Valid-Until: no` after the URIs line, since a snapshot's
#   Release files expire (Debian security: Date + 7 days).
# * The guard: the number of lines naming the snapshot after the edit, comments aside, must be the
#   number predicted here, else the build fails. A base whose sources differ from those locked
#   (nothing to rewrite, a line more or less) never builds silently unpinned.
# * snapshot.ubuntu.com is https-only and the Ubuntu images have no CA bundle: the step turns off
#   peer verification for that host alone; apt still checks the InRelease signature and the hashes
#   it lists (the reasoning is in sources.py's module comment).
# * Whatever cannot be derived this way (URIs continued on a second line, a stanza or entry that
#   sets check-valid-until itself, a quote, CR or undecodable byte on a line to change, no final
#   newline, files that differ by architecture) gives a reason instead: the caller falls back to
#   the generic step and says why.

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from pinner.apt import sourceslist
from pinner.apt.sources import TLS_CONF, Distro

_ONE_LINE_RE = re.compile(
    r"(?P<head>[ \t]*(?P<keyword>deb(?:-src)?)[ \t]+(?:\[(?P<options>[^\]]*)\][ \t]+)?)"
    r"(?P<uri>[^ \t\[]\S*)(?P<tail>[ \t]+)"
)
_URIS_RE = re.compile(r"(?P<head>URIs:[ \t]*)(?P<value>.*?)[ \t]*")
_CVU = "Check-Valid-Until: no"
_DELIMITERS = "#|,@%!"
_ERE_SPECIAL = "\\[](){}*+?^$|"


class _Change(NamedTuple):
    """One URI to re-point, with the text around it that anchors the expression."""

    head: str
    new_head: str
    uri: str
    new_uri: str
    tail: str
    new_tail: str
    whole: bool


class Expression(NamedTuple):
    """One sed -E substitution, and the same as a Python regex and replacement."""

    sed: str
    regex: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]


class ExactStep(NamedTuple):
    """The derived step: its shell lines, and per architecture each edited file afterwards."""

    lines: tuple[str, ...]
    files: Mapping[str, tuple[tuple[str, str], ...]]


def snapshot_uri(archive: str, base: str, timestamp: str, distro: Distro) -> str:
    """The snapshot URL serving `archive` at `timestamp` under the mirror `base`."""
    if distro == "ubuntu":
        return f"{base}/{timestamp}"
    if archive.startswith("debian-archive/"):
        return f"{base}/debian-archive/{timestamp}/{archive.removeprefix('debian-archive/')}"
    return f"{base}/{archive}/{timestamp}"


def _is_distro(archive: str | None, distro: Distro) -> bool:
    return archive is not None and (archive == "ubuntu") == (distro == "ubuntu")


def _new_uri(uri: str, base: str, timestamp: str, distro: Distro) -> str | None:
    archive = sourceslist.archive_of(uri)
    if archive is None or not _is_distro(archive, distro):
        return None
    return snapshot_uri(archive, base, timestamp, distro) + ("/" if uri.endswith("/") else "")


def _one_line_changes(text: str, base: str, timestamp: str, distro: Distro) -> list[_Change] | str:
    found = []
    for line in text.split("\n"):
        match = _ONE_LINE_RE.match(line)
        new = match and _new_uri(match["uri"], base, timestamp, distro)
        if not match or not new:
            continue
        options = (match["options"] or "").split()
        if any(o.startswith("check-valid-until=") and o != "check-valid-until=no" for o in options):
            return f"{line.strip()}: sets check-valid-until itself"
        if "check-valid-until=no" not in options:
            options.append("check-valid-until=no")
        indent = match["head"][: len(match["head"]) - len(match["head"].lstrip())]
        new_head = f"{indent}{match['keyword']} [{' '.join(options)}] "
        found.append(_Change(match["head"], new_head, match["uri"], new, match["tail"], " ", False))
    return found


def _deb822_changes(text: str, base: str, timestamp: str, distro: Distro) -> list[_Change] | str:
    found = []
    for stanza in re.split(r"\n[ \t]*\n", text):
        lines = stanza.split("\n")
        fields = {ln.split(":", 1)[0].lower() for ln in lines if ln[:1] not in "# \t"}
        for i, line in enumerate(lines):
            match = _URIS_RE.fullmatch(line)
            if match is None:
                continue
            uris = match["value"].split()
            if not any(_new_uri(u, base, timestamp, distro) for u in uris):
                continue
            if len(uris) > 1:
                return f"{line.strip()}: more than one URI on the line"
            if i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t"):
                return f"{line.strip()}: URIs continue on the next line"
            # A base built with pinner's step already has the field off: re-point the URI only.
            if _CVU in lines:
                new_tail = ""
            elif "check-valid-until" in fields:
                return f"{line.strip()}: its stanza sets Check-Valid-Until itself"
            else:
                new_tail = "\n" + _CVU
            new = _new_uri(uris[0], base, timestamp, distro) or ""
            tail = line[match.end("value") :]
            found.append(_Change(match["head"], "URIs: ", uris[0], new, tail, new_tail, True))
    return found


def _ere(text: str) -> str:
    return "".join("\\" + c if c in _ERE_SPECIAL else c for c in text)


def _py(text: str) -> str:
    """The Python regex that `_ere(text)` is: dots match any character there too."""
    return "".join("." if c == "." else re.escape(c) for c in text)


def _affixes(words: Sequence[str]) -> tuple[str, str]:
    """The common prefix and suffix of words, cut at "/" or "." so the middles read as names."""
    prefix = words[0]
    for w in words[1:]:
        while not w.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix[: max(prefix.rfind("/"), prefix.rfind(".")) + 1]
    suffix = words[0][len(prefix) :]
    for w in words[1:]:
        while not w.endswith(suffix) or len(suffix) > len(w) - len(prefix):
            suffix = suffix[1:]
    cut = min((i for i, c in enumerate(suffix) if c in "/."), default=len(suffix))
    return prefix, suffix[cut:]


def _expressions(changes: Sequence[_Change]) -> list[tuple[str, list[str], str, str, bool]]:
    """Changes of one anchor grouped as (prefix, alternatives, suffix, new URI, captured).

    A captured new URI holds "\\1" where the alternative goes.
    """
    groups: dict[tuple[str, str, str, str, bool], list[_Change]] = {}
    for change in changes:
        key = (change.head, change.new_head, change.tail, change.new_tail, change.whole)
        if change not in groups.setdefault(key, []):
            groups[key].append(change)
    result: list[tuple[str, list[str], str, str, bool]] = []
    for members in groups.values():
        pairs = list(dict.fromkeys((m.uri, m.new_uri) for m in members))
        if len(pairs) == 1:
            result.append((pairs[0][0], [], "", pairs[0][1], False))
            continue
        olds = [old for old, _ in pairs]
        prefix, suffix = _affixes(olds)
        middles = [o[len(prefix) : len(o) - len(suffix)] for o in olds]
        news = {new for _, new in pairs}
        if len(news) == 1:
            result.append((prefix, middles, suffix, pairs[0][1], False))
            continue
        new_prefix, new_suffix = _affixes([new for _, new in pairs])
        if all(
            new == new_prefix + m + new_suffix for (_, new), m in zip(pairs, middles, strict=True)
        ):
            result.append((prefix, middles, suffix, f"{new_prefix}\\1{new_suffix}", True))
            continue
        result.extend((old, [], "", new, False) for old, new in pairs)
    return result


def _build(changes: Sequence[_Change]) -> list[Expression] | str:
    by_head: dict[tuple[str, str, str, str, bool], list[_Change]] = {}
    for change in changes:
        key = (change.head, change.new_head, change.tail, change.new_tail, change.whole)
        by_head.setdefault(key, []).append(change)
    expressions = []
    for (head, new_head, tail, new_tail, whole), members in by_head.items():
        for prefix, middles, suffix, new_uri, captured in _expressions(members):
            group_ere = "(" + "|".join(_ere(m) for m in middles) + ")" if middles else ""
            group_py = "(" + "|".join(_py(m) for m in middles) + ")" if middles else ""
            end = "$" if whole else ""
            ere = f"^{_ere(head)}{_ere(prefix)}{group_ere}{_ere(suffix)}{_ere(tail)}{end}"
            py = f"^{_py(head)}{_py(prefix)}{group_py}{_py(suffix)}{_py(tail)}{end}"
            replacement = new_head + new_uri + new_tail
            text = ere + replacement
            delimiter = next((d for d in _DELIMITERS if d not in text), None)
            if delimiter is None:
                return "a URI holds every character sed could use as a delimiter"
            sed_new = "\\1".join(
                "".join("\\" + c if c in "\\&" + delimiter else c for c in part)
                for part in (replacement.split("\\1") if captured else [replacement])
            ).replace("\n", "\\n")
            ere = ere.replace(delimiter, "\\" + delimiter)
            expressions.append(
                Expression(
                    f"s{delimiter}{ere}{delimiter}{sed_new}{delimiter}",
                    re.compile(py),
                    _replacer(replacement, captured),
                )
            )
    return expressions


def _replacer(replacement: str, captured: bool) -> Callable[[re.Match[str]], str]:
    if not captured:
        return lambda _: replacement
    return lambda match: replacement.replace("\\1", match[1])


def apply(text: str, expressions: Sequence[Expression]) -> str:
    """What `sed -E -i` with these expressions makes of a file that ends in a newline."""
    out = []
    for line in text.split("\n")[:-1]:
        for expression in expressions:
            line = expression.regex.sub(expression.replace, line, count=1)
        out.append(line + "\n")
    return "".join(out)


def guard_count(texts: Sequence[str], timestamp: str) -> int:
    """The lines naming the snapshot time outside comments, as `grep -c '^[^#]*/<ts>'` counts."""
    pattern = re.compile(f"^[^#]*/{timestamp}")
    return sum(1 for t in texts for line in t.split("\n")[:-1] if pattern.match(line))


def _normalise(text: str, distro: Distro) -> list[str]:
    """The text with distribution URIs and validity settings masked, to compare the rest."""
    out = []
    for line in text.split("\n"):
        if line.strip() == _CVU:
            continue
        words = re.split(r"([ \t\[\]]+)", line)
        words = [
            "<archive>" if _is_distro(sourceslist.archive_of(w), distro) else w
            for w in words
            if w != "check-valid-until=no"
        ]
        line = re.sub(r"[ \t]+", " ", "".join(words)).replace(" ]", "]")
        out.append(re.sub(r"\[\] ?", "", line))
    return out


def verify(old: str, new: str, path: str, base: str, timestamp: str, distro: Distro) -> str | None:
    """Why an edited file is wrong, or None: archives on the snapshot, everything else as it was."""
    for source in sourceslist.parse(new):
        if _is_distro(source.archive, distro):
            want = snapshot_uri(source.archive, base, timestamp, distro)
            if source.uri.rstrip("/") != want:
                return f"{path}: {source.uri} would not be the snapshot"
    kept = [s for s in sourceslist.parse(old) if not _is_distro(s.archive, distro)]
    if kept != [s for s in sourceslist.parse(new) if not _is_distro(s.archive, distro)]:
        return f"{path}: a third-party source would change"
    if _normalise(old, distro) != _normalise(new, distro):
        return f"{path}: a line other than a distribution URI would change"
    stanzas = re.split(r"\n[ \t]*\n", new) if path.endswith(".sources") else new.split("\n")
    for stanza in stanzas:
        if f"/{timestamp}" in stanza and not re.search(
            rf"(?m)^{_CVU}$|\[[^\]]*check-valid-until=no", stanza
        ):
            return f"{path}: an entry on the snapshot would keep checking Valid-Until"
    return None


def derive(
    sources: Mapping[str, Sequence[tuple[str, str]]],
    distro: Distro,
    timestamp: str,
    base: str,
) -> ExactStep | str:
    """The exact step for a base shipping `sources` (files by architecture), or why not."""
    per_arch = {arch: dict(files) for arch, files in sources.items()}
    if not per_arch:
        return "the base image's sources were not read"
    if len({frozenset(files) for files in per_arch.values()}) > 1:
        return "the base image's sources files differ by architecture"
    changes: list[_Change] = []
    edited: list[str] = []
    for files in per_arch.values():
        for path, text in files.items():
            if path.endswith(".sources"):
                found = _deb822_changes(text, base, timestamp, distro)
            else:
                found = _one_line_changes(text, base, timestamp, distro)
            if isinstance(found, str):
                return f"{path}: {found}"
            for change in found:
                if any(c in change.head + change.uri + change.tail for c in "'\r\ufffd"):
                    return f"{path}: a quote, CR or undecodable byte on a line to change"
            if found and path not in edited:
                edited.append(path)
            changes.extend(found)
    if not changes:
        return f"no {distro.capitalize()} archive in the base image's sources"
    if any(not files[p].endswith("\n") for files in per_arch.values() for p in edited):
        return "a sources file to change has no final newline"
    expressions = _build(changes)
    if isinstance(expressions, str):
        return expressions
    results: dict[str, tuple[tuple[str, str], ...]] = {}
    for arch, files in per_arch.items():
        for path in edited:
            new = apply(files[path], expressions)
            problem = verify(files[path], new, path, base, timestamp, distro)
            if problem is not None:
                return problem
            results[arch] = (*results.get(arch, ()), (path, new))
    counts = {guard_count([t for _, t in r], timestamp) for r in results.values()}
    if len(counts) > 1:
        return "the base image's sources name the archives on different lines by architecture"
    lines = _shell([e.sed for e in expressions], edited, timestamp, counts.pop(), base)
    return ExactStep(tuple(lines), results)


def _shell(
    seds: Sequence[str], paths: Sequence[str], timestamp: str, count: int, base: str
) -> list[str]:
    """The step's lines, joined in the Dockerfile by line continuations."""
    files = " ".join(shlex.quote(p) for p in paths)
    grep = f"grep -c '^[^#]*/{timestamp}'"
    counted = f"{grep} {files}" if len(paths) == 1 else f"cat {files} | {grep}"
    tail = [f'&& [ "$({counted})" = {count} ]']
    if base.startswith("https://"):
        host = base.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        setting = f'Acquire::https::{host}::Verify-Peer "false";'
        tail.append(f"&& echo '{setting}' >{shlex.quote(TLS_CONF)}")
    if len(seds) == 1:
        return [f"sed -Ei {shlex.quote(seds[0])} {files}", *tail]
    expressions = [f"-e {shlex.quote(s)}" for s in seds]
    room = max(1, 4 - len(tail))
    lines = [" ".join(expressions[i::room]) for i in range(min(room, len(expressions)))]
    # Keep the order sed applies them in: one line each while they fit, else all on one.
    if len(expressions) > room:
        lines = [" ".join(expressions)]
    lines[0] = "sed -Ei " + lines[0]
    lines[-1] += f" {files}"
    return [*lines, *tail]
