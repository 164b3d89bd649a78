"""The pure core of lock and check: parsed Dockerfile + resolved digests -> new texts."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from pinner import dockerfile, shortnames
from pinner.dockerfile import Dockerfile, ImageUse
from pinner.lockfile import Lock, LockedImage
from pinner.manifest import OCI_INDEX, OCI_MANIFEST, Manifest
from pinner.reference import DEFAULT_TAG, ImageRef, pinned


def query(use: ImageUse) -> ImageRef:
    """What to ask the registry for: the digest when one is written, else the tag."""
    return query_ref(use.ref)


def query_ref(ref: ImageRef) -> ImageRef:
    """A reference as a registry query: with a digest as written, else with its tag or latest."""
    # A run asks this about 13 times per Dockerfile: a reference with a digest or a tag is its
    # own query already, and only one with neither is copied (a named tuple's _replace is slow).
    if ref.digest or ref.tag:
        return ref
    return ImageRef(ref.domain, ref.path, DEFAULT_TAG, ref.digest)


def parse_locked(image: LockedImage) -> ImageRef:
    """A locked image as a reference: canonical name, tag and digest."""
    domain, _, path = image.name.partition("/")
    return ImageRef(domain, path, image.tag, image.digest)


def tag_query(image: LockedImage) -> ImageRef:
    """A locked image's tag as a registry query: parse_locked without the digest."""
    domain, _, path = image.name.partition("/")
    return ImageRef(domain, path, image.tag, None)


class LockAnswers(NamedTuple):
    """What locks already answer about images: asked before the registry, so a re-lock is free.

    by_query answers a tag or digest query; by_digest an index's digest (its platforms).
    """

    by_query: dict[ImageRef, Manifest]
    by_digest: dict[str, Manifest]

    @classmethod
    def of(cls, locks: Iterable[Lock], queries: bool = True) -> LockAnswers:
        """Index every locked image by its tag query (unless not queries: a refresh asks every
        tag again, and reads the locks for their indexes' platforms alone) and by digest."""
        by_query: dict[ImageRef, Manifest] = {}
        by_digest: dict[str, Manifest] = {}
        for lock in locks:
            for image in lock.images:
                media_type = OCI_INDEX if image.platforms else OCI_MANIFEST
                manifest = Manifest(image.digest, media_type, image.platforms)
                by_digest.setdefault(image.digest, manifest)
                if not queries:
                    continue
                # parse_locked's reference, and it with the tag query's and without a tag.
                domain, _, path = image.name.partition("/")
                tag, digest = image.tag, image.digest
                by_query.setdefault(ImageRef(domain, path, tag or DEFAULT_TAG, None), manifest)
                by_query.setdefault(ImageRef(domain, path, tag, digest), manifest)
                by_query.setdefault(ImageRef(domain, path, None, digest), manifest)  # `x@sha256:`
        return cls(by_query, by_digest)

    def for_uses(
        self, uses: Iterable[ImageUse], moved: Mapping[str, Manifest] | None = None
    ) -> dict[ImageRef, Manifest]:
        """Each use's manifest as locked, or the fresh one where moved names the locked digest."""
        resolved: dict[ImageRef, Manifest] = {}
        for use in uses:
            locked = self.by_query.get(query(use))
            if locked is not None:
                resolved[query(use)] = (moved or {}).get(locked.digest, locked)
        return resolved


def changed_since_lock(parsed: Dockerfile, lock: Lock) -> dict[ImageUse, LockedImage]:
    """Uses whose written digest the lock pinned for another name or tag, by the lock's entry."""
    # When PY changes in python:${PY}-slim@sha256:..., the digest is still the one pinned for the
    # old text: it names another image, and must be resolved again from the new tag.
    locked = lock.by_reference()
    changed: dict[ImageUse, LockedImage] = {}
    for use in parsed.uses:
        if use.ref.digest is None or use.expanded in locked:
            continue
        for image in lock.images:
            if (
                use.used_by in image.used_by
                and image.digest == use.ref.digest
                and image.reference.partition("@")[0] != use.expanded.partition("@")[0]
            ):
                changed[use] = image
                break
    return changed


def build_arg_pin(use: ImageUse, lock: Lock) -> LockedImage | None:
    """The lock's pin for a use a --build-arg sets whole (the file cannot hold its digest)."""
    if use.site is not None or use.ref.digest is not None:
        return None
    for image in lock.images:
        if use.used_by in image.used_by and pinned(use.expanded, image.digest) == image.reference:
            return image
    return None


def build_arg_values(parsed: Dockerfile, lock: Lock) -> dict[str, str]:
    """The lock's --build-arg values, each one that sets a whole reference pinned to its digest."""
    values = dict(lock.build_args)
    for use in parsed.uses:
        name = use.written.strip("${}")
        image = build_arg_pin(use, lock)
        if image is not None and name in values:
            values[name] = image.reference
    return values


def changed_note(image: LockedImage, lock_path: str, path: str) -> str:
    """What to tell the user about a use changed_since_lock found."""
    return f"changed since {lock_path} pinned it as {image.reference}; run pinner lock {path}"


def unpin_changed(parsed: Dockerfile, lock: Lock) -> str:
    """The text without the digests changed_since_lock finds, so the lock resolves them anew."""
    edits = []
    for use in changed_since_lock(parsed, lock):
        if use.site is not None:
            raw = parsed.text[use.site.start : use.site.end]
            edits.append(dockerfile.Edit(use.site.start, use.site.end, raw.partition("@")[0]))
    return dockerfile.apply_edits(parsed.text, edits)


class Pinned(NamedTuple):
    """The result for one Dockerfile: its new text and its new lock."""

    text: str
    lock: Lock
    unpinnable: tuple[ImageUse, ...]
    aliased: tuple[ImageUse, ...] = ()

    def notes(self, path: str) -> tuple[str, ...]:
        """What the user must do for references the file cannot hold, or other builders resolve."""
        pinned = {u: i.reference for i in self.lock.images for u in i.used_by}
        unpinnable = tuple(
            f"{path}:{use.line}: {use.written}: names {use.expanded} on {use.platform}, locked as"
            f" {pinned[use.used_by]}; one reference cannot hold a digest per platform, so the"
            " file keeps the tag"
            if use.platform is not None
            else f"{path}:{use.line}: {use.written}: set by --build-arg;"
            f" build with --build-arg {use.written.strip('${}')}={pinned[use.used_by]}"
            for use in self.unpinnable
        )
        return unpinnable + tuple(dict.fromkeys(shortnames.note(path, u) for u in self.aliased))


def _locked_tag(use: ImageUse, old_tags: Mapping[str, str | None]) -> str | None:
    """The tag a use's digest comes from: as written; latest when none is; else the old lock's.

    `FROM alpine` is pinned as `alpine@sha256:...` (the user's text kept), so the lock keeps the
    `latest` it was resolved from for update to refresh.
    """
    if use.ref.tag is not None:
        return use.ref.tag
    if use.ref.digest is None:
        return DEFAULT_TAG
    return old_tags.get(use.expanded)


def pin(parsed: Dockerfile, resolved: Mapping[ImageRef, Manifest], old: Lock) -> Pinned:
    """Pin every use to its resolved digest; the lock keeps any tables it does not own."""
    edits = []
    unpinnable = []
    for use in parsed.uses:
        edit = dockerfile.pin_edit(parsed.text, use, resolved[query(use)].digest)
        if edit is not None:
            edits.append(edit)
        if use.site is None:
            unpinnable.append(use)
    text = dockerfile.apply_edits(parsed.text, edits)
    lock = old._replace(images=lock_images(parsed, resolved, old))
    aliased = tuple(use for use in parsed.uses if shortnames.alias(use.expanded) is not None)
    return Pinned(text, lock, tuple(unpinnable), aliased)


def lock_images(
    parsed: Dockerfile, resolved: Mapping[ImageRef, Manifest], old: Lock
) -> tuple[LockedImage, ...]:
    """The image entries of pin's lock, sorted: each use at its resolved digest."""
    entries: dict[str, LockedImage] = {}
    old_tags = {image.reference: image.tag for image in old.images}
    for use in parsed.uses:
        manifest = resolved[query(use)]
        written = pinned(use.expanded, manifest.digest)
        previous = entries.get(written)
        used_by = (*previous.used_by, use.used_by) if previous else (use.used_by,)
        # Interned: 10,000 locks name the same few images (their lock entries outlive the parse).
        entries[written] = LockedImage(
            reference=sys.intern(written),
            name=sys.intern(use.ref.name),
            tag=_locked_tag(use, old_tags),
            digest=manifest.digest,
            platforms=manifest.platforms,
            used_by=tuple(sorted(set(used_by))),
        )
    return tuple(sorted(entries.values()))
