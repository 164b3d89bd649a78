"""Build Dockerfiles with buildah (vfs storage, chroot isolation) in a private, disposable root.

Each ``Buildah`` owns a work directory holding its storage root, run root, temp files, a
registries.conf (docker.io mirrored to a local registry; local registries allowed over plain
HTTP) and a signature policy, so tests never share state with each other or with the host.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

POLICY = '{"default": [{"type": "insecureAcceptAnything"}]}\n'


def registries_conf(
    docker_io_mirror: str | None = None,
    insecure: Sequence[str] = (),
    mirrored: Sequence[str] = ("docker.io",),
) -> str:
    """A registries.conf (v2) mirroring docker.io (and the other `mirrored` registries) to one
    local registry and allowing plain HTTP to `insecure` hosts."""
    lines = ['unqualified-search-registries = ["docker.io"]', 'short-name-mode = "permissive"']
    for registry in mirrored if docker_io_mirror else ():
        lines += [
            "",
            "[[registry]]",
            f'prefix = "{registry}"',
            f'location = "{registry}"',
            "[[registry.mirror]]",
            f'location = "{docker_io_mirror}"',
            "insecure = true",
        ]
    for host in dict.fromkeys([*insecure, *([docker_io_mirror] if docker_io_mirror else [])]):
        lines += ["", "[[registry]]", f'location = "{host}"', "insecure = true"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BuildResult:
    """A finished build: the tag, the image ID (config digest), wall time and output."""

    tag: str
    image_id: str
    seconds: float
    output: str


class BuildahError(RuntimeError):
    """A buildah command failed."""


class Buildah:
    """buildah with a private vfs storage root under `workdir`; call cleanup() when done."""

    def __init__(
        self,
        workdir: Path,
        docker_io_mirror: str | None = None,
        insecure: Sequence[str] = (),
        mirrored: Sequence[str] = ("docker.io",),
    ) -> None:
        """Lay out private dirs and configs; hosts look like 127.0.0.1:5000."""
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        self.runroot = self.workdir / "runroot"
        self.tmp = self.workdir / "tmp"
        for d in (self.root, self.runroot, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self.registries = self.workdir / "registries.conf"
        self.registries.write_text(registries_conf(docker_io_mirror, insecure, mirrored))
        self.policy = self.workdir / "policy.json"
        self.policy.write_text(POLICY)
        self.storage_conf = self.workdir / "storage.conf"
        self.storage_conf.write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{self.root}"\nrunroot = "{self.runroot}"\n'
        )

    def env(self) -> dict[str, str]:
        """The environment every buildah call runs with."""
        return {
            **os.environ,
            "CONTAINERS_REGISTRIES_CONF": str(self.registries),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "BUILDAH_ISOLATION": "chroot",
            "TMPDIR": str(self.tmp),
        }

    def run(self, *args: str, timeout: float = 600) -> str:
        """Run buildah with the private storage flags; return stdout or raise BuildahError."""
        cmd = [
            "buildah",
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "vfs",
            *args,
        ]
        for attempt in (1, 2):
            proc = subprocess.run(
                cmd, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
            )
            # Once in a full suite on this VM, under load, a RUN step of an unchanged test
            # build ended with "Close_Fd sealing memfd copy: Device or resource busy" (exit 1)
            # after its commands' output, and the same build passed in the next suite. No test
            # checks for that message, so such a run is tried once more.
            if proc.returncode == 0 or "sealing memfd copy" not in proc.stderr or attempt == 2:
                break
        if proc.returncode != 0:
            raise BuildahError(f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def bud(
        self,
        context: Path,
        tag: str,
        *,
        dockerfile: Path | None = None,
        timestamp: int | None = None,
        build_args: Mapping[str, str] | None = None,
        extra: Sequence[str] = (),
    ) -> BuildResult:
        """Build `context` (Dockerfile in it unless given) as `tag`; time it."""
        iidfile = self.tmp / f"iid-{time.monotonic_ns()}"
        args = ["bud", "--isolation", "chroot", "--signature-policy", str(self.policy)]
        args += ["--iidfile", str(iidfile), "-t", tag]
        if timestamp is not None:
            args += ["--timestamp", str(timestamp)]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        args += ["-f", str(dockerfile or Path(context) / "Dockerfile"), *extra, str(context)]
        start = time.monotonic()
        output = self.run(*args)
        seconds = time.monotonic() - start
        image_id = iidfile.read_text().strip()
        iidfile.unlink()
        return BuildResult(tag, image_id, seconds, output)

    def pull(self, ref: str) -> str:
        """`buildah pull ref` through the generated registries.conf; return the image ID."""
        out = self.run("pull", "--signature-policy", str(self.policy), ref)
        return "sha256:" + out.split()[-1]

    def push(self, image: str, dest: str, *extra: str) -> str:
        """`buildah push image dest` (e.g. oci:DIR or docker://HOST/repo:tag); return the digest."""
        digestfile = self.tmp / f"digest-{time.monotonic_ns()}"
        self.run(
            "push",
            "--signature-policy",
            str(self.policy),
            "--digestfile",
            str(digestfile),
            *extra,
            image,
            dest,
        )
        digest = digestfile.read_text().strip()
        digestfile.unlink()
        return digest

    def manifest_digest(self, image: str) -> str:
        """The manifest digest the image gets when pushed (gzip), via a throwaway oci: dir."""
        dest = self.tmp / f"oci-{time.monotonic_ns()}"
        try:
            return self.push(image, f"oci:{dest}")
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def inspect(self, image: str, template: str) -> str:
        """`buildah inspect --type image --format template image`."""
        return self.run("inspect", "--type", "image", "--format", template, image).strip()

    def run_in(self, image: str, *command: str) -> str:
        """Run a command in a throwaway container of image (chroot isolation); its stdout.

        The command writes its stdout to a file in a folder bound from the host, which is read
        after it exits: buildah's own copy of a container's stdout once came back empty.
        """
        container = self.run("from", "--signature-policy", str(self.policy), image).strip()
        out = Path(tempfile.mkdtemp(prefix="run-in-", dir=self.workdir))
        try:
            self.run(
                "run",
                "--isolation",
                "chroot",
                "--volume",
                f"{out}:/pinner-run-in",
                container,
                "--",
                "/bin/sh",
                "-c",
                'exec "$@" > /pinner-run-in/stdout',
                "sh",
                *command,
            )
            return (out / "stdout").read_text()
        finally:
            self.run("rm", container)
            shutil.rmtree(out, ignore_errors=True)

    def cleanup(self) -> None:
        """Remove containers, images and the whole work directory (vfs layers are big)."""
        for args in (("rm", "--all"), ("rmi", "--all", "--force")):
            with contextlib.suppress(BuildahError, subprocess.TimeoutExpired):
                self.run(*args, timeout=120)
        for mount in _mounts_under(self.workdir):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Buildah:
        """Use as a context manager that cleans up on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Clean up on leaving the block."""
        self.cleanup()


def _mounts_under(path: Path) -> list[str]:
    """Mount points below `path`, deepest first (left over if a build was killed)."""
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)
