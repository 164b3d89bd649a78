"""The CI pipeline as code: lint and test in containers."""

import sys

import anyio
import dagger
from dagger import dag

PYTHON = "python:3.12-slim"


async def test() -> str:
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        src = dag.host().directory(".")
        runner = (
            dag.container()
            .from_(PYTHON)
            .with_directory("/src", src)
            .with_workdir("/src")
        )
        lint = dag.container().from_("ghcr.io/astral-sh/ruff:0.6.9")
        db = dag.container().from_(address="postgres:16").as_service()
        return await runner.with_service_binding("db", db).with_exec(["pytest"]).stdout()


def run_locally() -> None:
    import docker

    client = docker.from_env()
    client.images.pull("busybox:1.36")
    client.images.pull("alpine", tag="3.20")
    print(client.containers.run("hello-world", remove=True))


anyio.run(test)
