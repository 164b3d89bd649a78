"""`pinner diff IMAGE_A IMAGE_B`: what differs between two images, platform by platform."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence

from pinner import files, imagefiles
from pinner.errors import PinnerError
from pinner.imagediff import (
    Difference,
    ImageDiff,
    PlatformDiff,
    compare_config,
    compare_files,
    compare_layer,
    render_markdown,
    render_text,
    same_layers,
    to_json,
)
from pinner.imagefiles import FileInfo, LayerScan
from pinner.imagemodel import Image, PlatformImage
from pinner.reference import normalize_platform
from pinner.remote.credentials import DockerConfig
from pinner.remote.imagesource import Source, load, open_source
from pinner.remote.registry import Registry, Settings


class Opened:
    """The registry client of a run, made only when an argument names a registry."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry: Registry | None = None

    def __call__(self) -> Registry:
        if self.registry is None:
            self.registry = Registry(self.settings, DockerConfig.load().lookup)
        return self.registry

    async def aclose(self) -> None:
        if self.registry is not None:
            await self.registry.aclose()


def platform_keys(platforms: Sequence[str]) -> frozenset[str]:
    """--platform values normalised as index entries are (linux/arm64/v8 is linux/arm64)."""
    keys = set()
    for text in platforms:
        os_name, _, rest = text.partition("/")
        arch, _, variant = rest.partition("/")
        if not os_name or not arch:
            raise PinnerError(f"--platform {text}: a platform is os/arch[/variant]")
        keys.add(normalize_platform(os_name, arch, variant or None))
    return frozenset(keys)


def diff(
    *,
    image_a: str,
    image_b: str,
    settings: Settings,
    platforms: Sequence[str] = (),
    ignored: frozenset[str] = frozenset(),
    as_json: bool = False,
    report_path: str | None = None,
) -> int:
    """Compare two images; print the summary and details; exit 0 when identical, else 1."""
    keys = platform_keys(platforms)
    result = asyncio.run(_diff(image_a, image_b, settings, keys, ignored))
    if report_path is not None:
        files.write_all({report_path: render_markdown(result)})
    if as_json:
        json.dump(to_json(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(result))
    return 0 if result.identical else 1


async def _diff(
    image_a: str, image_b: str, settings: Settings, keys: frozenset[str], ignored: frozenset[str]
) -> ImageDiff:
    opened = Opened(settings)
    try:
        source_a = open_source(image_a, opened)
        source_b = open_source(image_b, opened)
        a, b = await asyncio.gather(load(source_a, keys), load(source_b, keys))
        return await compare(source_a, a, source_b, b, ignored)
    finally:
        await opened.aclose()


async def compare(
    source_a: Source, a: Image, source_b: Source, b: Image, ignored: frozenset[str]
) -> ImageDiff:
    """Compare the platforms both images hold; list the ones only one of them holds."""
    by_a = {p.platform: p for p in a.platforms}
    by_b = {p.platform: p for p in b.platforms}
    if not by_a or not by_b:
        empty = a.name if not by_a else b.name
        raise PinnerError(f"{empty}: no image for the platforms asked for")
    both = sorted(by_a.keys() & by_b.keys())
    if not both and len(by_a) == len(by_b) == 1:
        # One image each, for different platforms: compare them, the difference shows in config.
        both = [next(iter(by_a))]
        by_b = {both[0]: next(iter(by_b.values()))}
    results = []
    for key in both:
        results.append(await compare_platform(source_a, by_a[key], source_b, by_b[key], ignored))
    return ImageDiff(
        a,
        b,
        ignored,
        tuple(results),
        tuple(sorted(by_a.keys() - by_b.keys())),
        tuple(sorted(by_b.keys() - by_a.keys())),
    )


async def compare_platform(
    source_a: Source, a: PlatformImage, source_b: Source, b: PlatformImage, ignored: frozenset[str]
) -> PlatformDiff:
    """Manifests, then config, then layers and files (streamed only when the layers differ)."""
    if a.manifest is not None and a.manifest == b.manifest:
        return PlatformDiff(a.platform, a, b, (), ("same manifest digest",))
    differences: list[Difference] = []
    notes: list[str] = []
    if a.config_digest != b.config_digest:
        differences += compare_config(a.config, b.config, ignored)
    if same_layers(a, b):
        if a.manifest is not None and b.manifest is not None:
            notes.append("same layers, stored differently (media types or compression)")
        return PlatformDiff(a.platform, a, b, tuple(differences), tuple(notes))
    if len(a.layers) != len(b.layers):
        count = Difference(
            "layers", "layer count", "differs", str(len(a.layers)), str(len(b.layers))
        )
        differences.append(count)
    merged_a: dict[str, FileInfo] = {}
    merged_b: dict[str, FileInfo] = {}
    for i in range(max(len(a.layers), len(b.layers))):
        scan_a, scan_b = await asyncio.gather(_scan(source_a, a, i), _scan(source_b, b, i))
        if scan_a is not None and scan_b is not None:
            diff_ids = (a.layers[i].diff_id, b.layers[i].diff_id)
            if diff_ids[0] != diff_ids[1]:
                found = compare_layer(i, scan_a, scan_b, diff_ids, ignored)
                if found is not None:
                    differences.append(found)
        if scan_a is not None:
            merged_a = _apply(merged_a, scan_a, a)
        if scan_b is not None:
            merged_b = _apply(merged_b, scan_b, b)
    differences += compare_files(merged_a, merged_b, ignored)
    return PlatformDiff(a.platform, a, b, tuple(differences), tuple(notes))


async def _scan(source: Source, image: PlatformImage, index: int) -> LayerScan | None:
    if index >= len(image.layers):
        return None
    layer = image.layers[index]
    # tarfile and hashlib work in a thread; zlib and sha256 let go of the GIL on big buffers.
    return await asyncio.to_thread(imagefiles.scan, layer, source.chunks(layer))


def _apply(
    merged: dict[str, FileInfo], scan: LayerScan, image: PlatformImage
) -> dict[str, FileInfo]:
    merged = imagefiles.apply(merged, scan)
    if len(merged) > imagefiles.MAX_ENTRIES:
        raise PinnerError(f"{image.platform}: more than {imagefiles.MAX_ENTRIES} files")
    kept = 0
    for path, info in merged.items():
        if info.text is not None:
            kept += len(info.text)
            if kept > imagefiles.KEEP_TOTAL:
                merged[path] = info._replace(text=None)
    return merged
