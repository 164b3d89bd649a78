"""Local stand-ins for distribution mirrors and the base images the package-manager tests lock.

`Mirror` serves recorded or generated index files over plain HTTP on loopback, from a mapping of
path -> bytes, a directory, or both, and logs every path asked for. `files_image` makes a one-layer
image holding a distribution's own configuration files. `pinner_at` runs pinner against both;
`build_marks` and `locked_folder` serve the modules of build tests.
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cli import run
from handmade import Entry, HandImage, layer_tar

from pinner.main import main


class Mirror:
    """Serves files (path -> bytes) first, then root's tree (GET and HEAD); logs paths asked for."""

    def __init__(self, files: Mapping[str, bytes] | None = None, root: Path | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.root = root
        self.log: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(root or "/nonexistent"), **kwargs)

            def _answer(self, body: bool) -> None:
                mirror.log.append(self.path)
                data = mirror.files.get(self.path)
                if data is None and root is not None:
                    (super().do_GET if body else super().do_HEAD)()
                    return
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                if body:
                    self.wfile.write(data or b"")

            def do_GET(self) -> None:
                self._answer(body=True)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # shutdown() waits for the loop's next poll: 0.5 s by default, paid at every stop.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def files_image(files: Mapping[str, bytes], architecture: str = "amd64") -> HandImage:
    """A one-layer image holding files (relative paths) and the directories above them."""
    dirs = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
    entries = [Entry(d, kind="dir") for d in dirs]
    entries += [Entry(path, data) for path, data in sorted(files.items())]
    return HandImage([layer_tar(entries)], architecture=architecture)


def pinner_at(
    capsys: pytest.CaptureFixture[str], hub: str, mirror: str, platform: str, *args: str
) -> tuple[int, str, str]:
    """`pinner COMMAND ...` with the test registry as docker.io and mirror (NAME=URL) as the
    distribution's archive, for one platform."""
    command, *rest = args
    return run(
        capsys,
        command,
        "--registry-mirror",
        f"docker.io=http://{hub}",
        "--snapshot-mirror",
        mirror,
        "--platform",
        platform,
        *rest,
    )


def locked_folder(factory: pytest.TempPathFactory, dockerfile: str, hub: str, *args: str) -> Path:
    """A folder holding dockerfile, locked by `pinner lock ARGS` for linux/amd64 with the test
    registry as docker.io, its own Docker config and cache (for a module-scoped fixture)."""
    folder = factory.mktemp("locked")
    (folder / "Dockerfile").write_text(dockerfile)
    argv = ["lock", "--quiet", "--registry-mirror", f"docker.io=http://{hub}", *args]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_CONFIG", str(factory.mktemp("docker-config")))
        patch.setenv("XDG_CACHE_HOME", str(factory.mktemp("cache")))
        assert main([*argv, "--platform", "linux/amd64", str(folder / "Dockerfile")]) == 0
    return folder


def build_marks(*tools: str) -> list[pytest.MarkDecorator]:
    """A build test module's marks: slow, skipped unless root with mmdebstrap, buildah and tools."""
    needed = ("mmdebstrap", "buildah", *tools)
    missing = os.geteuid() != 0 or not all(shutil.which(tool) for tool in needed)
    return [
        pytest.mark.slow,
        pytest.mark.skipif(missing, reason="needs root with " + ", ".join(needed)),
    ]
