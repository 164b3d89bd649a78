"""`pinner verify IMAGE [Dockerfile]`: rebuild the locked Dockerfile and compare with IMAGE."""

# Only platform manifests are compared, never the index: an index carries provenance attestations
# that differ from build to build by design (BuildKit docs, build-repro.md).

from __future__ import annotations

import asyncio
import json
import platform as host
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pinner import files, imagefiles
from pinner.commands.check import check_target
from pinner.commands.diff import Opened, compare_platform, platform_keys
from pinner.errors import PinnerError, UsageError
from pinner.imagediff import ImageDiff, PlatformDiff, render_markdown, render_text, to_json
from pinner.imagemodel import Image
from pinner.outcome import lock_context
from pinner.output import Reporter
from pinner.reference import normalize_platform
from pinner.remote.imagesource import LayoutSource, load, open_source
from pinner.remote.registry import Settings
from pinner.workspace import Target, load_one

BUILDERS = ("buildx", "buildctl", "buildah")
NO_BUILDER = (
    "no image builder found: verify needs docker buildx, buildctl (BuildKit) or buildah;"
    " install one, e.g. apt-get install buildah"
)


class Build(NamedTuple):
    """The commands that build one platform into an OCI layout directory."""

    platform: str
    commands: tuple[tuple[str, ...], ...]
    output: Path


class Outcome(NamedTuple):
    """One platform's verdict: published and rebuilt manifest, and the diff when they differ."""

    platform: str
    published: str | None
    built: str
    diff: PlatformDiff | None
    recompressed: tuple[int, ...] = ()  # layers (from 1) stored with another compression

    @property
    def reproduced(self) -> bool:
        return self.published is not None and self.diff is None


def find_builder(wanted: str | None) -> str:
    """The builder to use: the one asked for, else the first found of buildx, buildctl, buildah."""
    if wanted is not None and wanted not in BUILDERS:
        raise UsageError(f"--builder {wanted}: choose from {', '.join(BUILDERS)}")
    for name in [wanted] if wanted else BUILDERS:
        if name == "buildx":
            if shutil.which("docker") and _succeeds(["docker", "buildx", "version"]):
                return name
        elif shutil.which(name):
            return name
    if wanted:
        raise PinnerError(f"--builder {wanted}: not found on this machine")
    raise PinnerError(NO_BUILDER)


def _succeeds(command: list[str]) -> bool:
    try:
        done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def build_commands(
    builder: str,
    dockerfile: Path,
    context: Path,
    platform: str,
    epoch: int,
    build_args: Mapping[str, str],
    output: Path,
) -> tuple[tuple[str, ...], ...]:
    """The exact commands that build one platform reproducibly into the OCI layout `output`."""
    # --no-cache: a verification must run every step, not reuse what another build left.
    args = {"SOURCE_DATE_EPOCH": str(epoch), **build_args}
    oci = f"type=oci,dest={output},tar=false,rewrite-timestamp=true"
    if builder == "buildx":
        flags = [x for k, v in args.items() for x in ("--build-arg", f"{k}={v}")]
        return (
            (
                "docker", "buildx", "build", "--no-cache", "--platform", platform, *flags,
                "--output", oci, "-f", str(dockerfile), str(context),
            ),
        )  # fmt: skip
    if builder == "buildctl":
        opts = [x for k, v in args.items() for x in ("--opt", f"build-arg:{k}={v}")]
        return (
            (
                "buildctl", "build", "--no-cache", "--frontend", "dockerfile.v0",
                "--local", f"context={context}", "--local", f"dockerfile={dockerfile.parent}",
                "--opt", f"filename={dockerfile.name}", "--opt", f"platform={platform}", *opts,
                "--output", oci,
            ),
        )  # fmt: skip
    tag = f"localhost/pinner-verify:{epoch}-{platform.replace('/', '-')}"
    flags = [x for k, v in args.items() for x in ("--build-arg", f"{k}={v}")]
    return (
        (
            "buildah", "build", "--no-cache", "--platform", platform, "--timestamp", str(epoch),
            *flags,
            "-f", str(dockerfile), "-t", tag, str(context),
        ),
        ("buildah", "push", tag, f"oci:{output}"),
        ("buildah", "rmi", tag),
    )  # fmt: skip


def _refuse(target: Target) -> int:
    """The lock's SOURCE_DATE_EPOCH, or a one-line refusal when check would object."""
    errors = [f for f in check_target(target) if f.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PinnerError(f"{errors[0]}{more}; verify rebuilds only what pinner check passes")
    epoch = target.lock.source_date_epoch
    if epoch is None:
        raise PinnerError(
            f"{target.lock_path}: records no SOURCE_DATE_EPOCH (an --images-only lock);"
            f" run pinner lock {target.path}"
        )
    return epoch


def _lock_context(target: Target, dockerfile: Path) -> Path:
    """The build context the lock records, which must lie inside the Dockerfile's repository.

    The lock comes with the change under review: a context above the repository would let that
    change's RUNs read the builder's files (a home folder, credentials) and send them away.
    """
    if target.lock.context is None:
        return dockerfile.parent
    context = Path(lock_context(str(dockerfile), target.lock.context))
    root = next((p for p in dockerfile.parents if (p / ".git").exists()), Path.cwd().absolute())
    if context != root and root not in context.parents:
        raise PinnerError(
            f"{target.lock_path}: context {target.lock.context!r} is outside {root};"
            " give --context to build with it"
        )
    return context


def _locked_platforms(target: Target) -> list[str]:
    """The platforms the lock holds packages for, e.g. linux/amd64."""
    archs = {p.architecture for s in target.lock.stages for p in s.packages}
    return sorted(normalize_platform("linux", a, None) for a in archs if a != "all")


def _host_platform() -> str:
    return normalize_platform("linux", host.machine(), None)


def verify(
    *,
    image: str,
    dockerfile: str,
    context: str | None,
    settings: Settings,
    builder: str | None = None,
    platforms: Sequence[str] = (),
    build_args: Mapping[str, str] | None = None,
    ignored: frozenset[str] = frozenset(),
    dry_run: bool = False,
    as_json: bool = False,
    report_path: str | None = None,
    quiet: bool = False,
) -> int:
    """Rebuild per platform, compare manifests with IMAGE's; exit 0 when every one matches."""
    report = Reporter(quiet=quiet)
    target = load_one(dockerfile, build_args or {})
    epoch = _refuse(target)
    name = find_builder(builder)
    path = Path(dockerfile).absolute()
    # The context given, else the one the lock was made with, else the Dockerfile's folder.
    context_dir = Path(context).absolute() if context else _lock_context(target, path)
    wanted = sorted(platform_keys(platforms)) or _locked_platforms(target)
    if dry_run:
        for key in wanted or [_host_platform()]:
            # Run by hand, these commands leave the layouts in ./pinner-verify.
            output = Path("pinner-verify") / key.replace("/", "-")
            for command in build_commands(
                name, path, context_dir, key, epoch, build_args or {}, output
            ):
                print(shlex.join(command))
        return 0
    with tempfile.TemporaryDirectory(prefix="pinner-verify-") as work:
        published, outcomes, builds = asyncio.run(
            _verify(image, settings, wanted, name, path, context_dir, epoch, build_args or {},
                    Path(work), ignored, report)
        )  # fmt: skip
    if report_path is not None:
        files.write_all({report_path: _markdown(image, published, outcomes, ignored)})
    if as_json:
        json.dump(_json(image, name, builds, outcomes, published, ignored), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_text(published, outcomes, ignored))
    return 0 if all(o.reproduced for o in outcomes) else 1


async def _verify(
    image: str,
    settings: Settings,
    wanted: list[str],
    builder: str,
    dockerfile: Path,
    context: Path,
    epoch: int,
    build_args: Mapping[str, str],
    work: Path,
    ignored: frozenset[str],
    report: Reporter,
) -> tuple[Image, list[Outcome], list[Build]]:
    opened = Opened(settings)
    try:
        source = open_source(image, opened)
        published = await load(source)
        by_platform = {p.platform: p for p in published.platforms}
        keys = wanted or sorted(by_platform)
        builds = []
        for key in keys:
            output = work / key.replace("/", "-")
            commands = build_commands(builder, dockerfile, context, key, epoch, build_args, output)
            builds.append(Build(key, commands, output))
            for command in commands:
                report.notice("+ " + shlex.join(command))
                await asyncio.to_thread(_run, command)
        outcomes = []
        for build in builds:
            built_source = LayoutSource(build.output, None, f"rebuilt {build.platform}")
            built = await load(built_source, frozenset({build.platform}))
            if not built.platforms:
                raise PinnerError(f"{builder} built no image for {build.platform}")
            mine = built.platforms[0]
            theirs = by_platform.get(build.platform)
            if theirs is None:
                outcomes.append(Outcome(build.platform, None, mine.manifest or "", None))
                continue
            if theirs.manifest == mine.manifest:
                outcomes.append(Outcome(build.platform, theirs.manifest, mine.manifest or "", None))
            elif theirs.config_digest == mine.config_digest:
                # The same config names the same uncompressed layers (diff_ids) and runtime
                # settings; the manifests differ only in how layers were compressed, as when a
                # push reuses the base image's blobs. Each such layer of IMAGE is read to check
                # that it holds what its diff_id says.
                recompressed = tuple(
                    i
                    for i, (x, y) in enumerate(zip(theirs.layers, mine.layers, strict=True))
                    if x != y
                )
                for i in recompressed:
                    layer = theirs.layers[i]
                    await asyncio.to_thread(imagefiles.scan, layer, source.chunks(layer), False)
                outcomes.append(
                    Outcome(
                        build.platform,
                        theirs.manifest,
                        mine.manifest or "",
                        None,
                        tuple(i + 1 for i in recompressed),
                    )
                )
            else:
                diff = await compare_platform(source, theirs, built_source, mine, ignored)
                outcomes.append(Outcome(build.platform, theirs.manifest, mine.manifest or "", diff))
        return published, outcomes, builds
    finally:
        await opened.aclose()


def _run(command: tuple[str, ...]) -> None:
    """Run one build step; its output goes to stderr, as progress does."""
    try:
        # File descriptor 2, not sys.stderr: the build's own output needs no Python in between.
        done = subprocess.run(command, stdout=2, stderr=2, check=False)
    except OSError as e:
        raise PinnerError(f"{command[0]}: {e.strerror}") from None
    if done.returncode != 0:
        raise PinnerError(f"{shlex.join(command[:3])} ... failed with exit code {done.returncode}")


def _wrap(published: Image, outcome: Outcome, ignored: frozenset[str]) -> ImageDiff | None:
    if outcome.diff is None:
        return None
    rebuilt = Image("rebuilt", None, (outcome.diff.b,), ())
    return ImageDiff(published, rebuilt, ignored, (outcome.diff,), (), ())


def _recompressed(o: Outcome) -> str:
    if not o.recompressed:
        return ""
    word = "layer" if len(o.recompressed) == 1 else "layers"
    which = ", ".join(map(str, o.recompressed))
    return f"; rebuilt as {o.built}: same config and layers, {word} {which} compressed differently"


def _text(published: Image, outcomes: list[Outcome], ignored: frozenset[str]) -> str:
    lines = []
    for o in outcomes:
        if o.reproduced:
            lines.append(f"reproduced: {o.published} ({o.platform}{_recompressed(o)})")
        elif o.published is None:
            lines.append(f"NOT reproduced: {o.platform}: {published.name} has no such platform")
        else:
            lines.append(f"NOT reproduced: {o.platform}: {o.published} was rebuilt as {o.built}")
    out = "\n".join(lines) + "\n"
    for o in outcomes:
        wrapped = _wrap(published, o, ignored)
        if wrapped is not None:
            out += "\n" + render_text(wrapped)
    return out


def _markdown(
    image: str, published: Image, outcomes: list[Outcome], ignored: frozenset[str]
) -> str:
    ok = all(o.reproduced for o in outcomes)
    lines = [f"## Verification of `{image}`", "", "reproduced" if ok else "**NOT reproduced**", ""]
    lines += ["| platform | published | rebuilt | result |", "|---|---|---|---|"]
    for o in outcomes:
        verdict = "reproduced" if o.reproduced else "**differs**"
        lines.append(f"| {o.platform} | `{o.published or '-'}` | `{o.built}` | {verdict} |")
    text = "\n".join(lines) + "\n"
    for o in outcomes:
        wrapped = _wrap(published, o, ignored)
        if wrapped is not None:
            text += "\n" + render_markdown(wrapped, f"What differs ({o.platform})")
    return text


def _json(
    image: str,
    builder: str,
    builds: list[Build],
    outcomes: list[Outcome],
    published: Image,
    ignored: frozenset[str],
) -> dict[str, Any]:
    return {
        "ok": all(o.reproduced for o in outcomes),
        "reproduced": all(o.reproduced for o in outcomes),
        "image": image,
        "builder": builder,
        "commands": [list(c) for b in builds for c in b.commands],
        "platforms": [
            {
                "platform": o.platform,
                "reproduced": o.reproduced,
                "published": o.published,
                "rebuilt": o.built,
                "recompressed_layers": list(o.recompressed),
                "diff": to_json(w)["platforms"][0] if (w := _wrap(published, o, ignored)) else None,
            }
            for o in outcomes
        ],
    }
