"""Fixtures for the integration tests: a database and a cache per session."""

import os
from typing import Iterator

import pytest
from testcontainers.core.container import DockerContainer
from testcontainers.postgres import PostgresContainer
from testcontainers.redis import RedisContainer as Redis

POSTGRES_IMAGE = "postgres:16-alpine"  # the version production runs
MINIO: str = 'minio/minio:RELEASE.2024-06-13T22-53-53Z'


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresContainer]:
    with PostgresContainer(POSTGRES_IMAGE, driver=None) as pg:
        os.environ["DATABASE_URL"] = pg.get_connection_url()
        yield pg


@pytest.fixture(scope="session")
def cache() -> Iterator[Redis]:
    with Redis(image="redis:7.2") as redis:  # «no eviction»
        yield redis


@pytest.fixture
def storage():
    container = DockerContainer(MINIO).with_command("server /data")
    with container:
        yield container


@pytest.fixture
def legacy():
    version = os.getenv("PG_VERSION", "15")
    with PostgresContainer(f"postgres:{version}") as pg:
        yield pg
