from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.settings import Settings, load_settings
from core.topics import delete_topics
from deploy.local.stack import LocalStack
from schemas.migrate import migrate
from stream_processors.db import drop_database
from tests.integration.cleanup import created_prefixes


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The real Kafka and TimescaleDB. A component that cannot start fails the run; nothing is skipped."""
    local = LocalStack(load_settings().stack)
    local.up(print)
    yield local
    # The topics this session's tests created (their uuid prefixes and consumer groups' internal topics).
    asyncio.run(delete_topics(load_settings().kafka.bootstrap_servers, created_prefixes))


@pytest.fixture(scope="session")
def settings(stack: LocalStack) -> Settings:
    """Read once the stack is up: a new cluster's generated passwords exist in its state dir only then."""
    return load_settings()


def database_url(base_url: str, name: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
async def database(stack: LocalStack, settings: Settings) -> AsyncIterator[str]:
    """A fresh, migrated database for one test module; dropped afterwards. Yields its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(settings.database.url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = database_url(settings.database.url, name)
    await migrate(url)
    yield url
    await drop_database(settings.database.url, name)


TopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def topic_factory(stack: LocalStack, settings: Settings) -> AsyncIterator[TopicFactory]:
    """Creates uuid-named topics for one test and deletes them afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    created: list[str] = []

    async def create(prefix: str = "test", partitions: int = 3, config: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=config or {})]
        )
        created.append(name)
        return name

    yield create
    if created:
        await admin.delete_topics(created)
    await admin.close()
