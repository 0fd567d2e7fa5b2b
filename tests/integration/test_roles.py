"""Least privilege against the real server: each database role can do its job and nothing more.

The grants (0007_roles.sql) are checked in a fresh database of the shared stack, connecting as each role;
the authentication (scram-sha-256, generated 0600 passwords, no superuser) on a cluster of this test's own
(own state dir and port), never the shared one."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import stat
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from core.settings import Settings, load_settings, local_password
from deploy.local.postgres import ROLE, ROLES, TimescaleCluster, password_file
from producers.simulator import CohortSimulator
from schemas.migrate import migrate
from schemas.readings import encode_batch
from stream_processors.compaction import compact
from stream_processors.db import create_pool, drop_database
from stream_processors.envelope import Envelope
from stream_processors.retention import apply_retention
from stream_processors.validate import validate
from tests import factories
from tests.integration.test_api_series import NOW_MS, START, Cohort, load_cohort

PROCESSOR, API, READONLY = ROLES


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database, participants=2, days=1)


def as_role(url: str, role: str) -> str:
    """The URL as `role`: with the password the stack generated for it (a new cluster, where the owner is no
    superuser), or, on a stack made without passwords, as the owner with the session's role set at connection
    (asyncpg passes unknown query keys as settings)."""
    password = local_password(load_settings().stack, role)
    if password:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{role}:{quote(password, safe='')}@{host}"))
    return f"{url}{'&' if '?' in url else '?'}role={role}"


@pytest.fixture
async def connect(cohort: Cohort) -> AsyncIterator[object]:
    opened: list[asyncpg.Connection] = []

    async def open_as(role: str) -> asyncpg.Connection:
        connection = await asyncpg.connect(as_role(cohort.url, role))
        assert await connection.fetchval("SELECT current_user") == role
        opened.append(connection)
        return connection

    yield open_as
    for connection in opened:
        await connection.close()


async def refused(connection: asyncpg.Connection, sql: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with connection.transaction():
            await connection.execute(sql)


async def allowed(connection: asyncpg.Connection, sql: str) -> None:
    """Runs `sql` and rolls it back: it was permitted."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(sql)
    finally:
        await transaction.rollback()


async def test_the_api_role_reads_and_writes_only_keys_participants_and_the_audit(connect: object) -> None:
    api = await connect(API)  # type: ignore[operator]
    assert await api.fetchval("SELECT count(*) FROM raw_segments") > 0
    assert await api.fetchval("SELECT count(*) FROM raw_readings('P0001', 'heart_rate', '-infinity', 'infinity')") > 0
    for sql in (
        "DELETE FROM raw_segments",
        "UPDATE rollup_1m SET count = 0",
        "DELETE FROM gaps",
        "INSERT INTO uploads SELECT * FROM uploads LIMIT 1",
        "TRUNCATE raw_segments",
        "DROP TABLE raw_segments",
        "DELETE FROM api_keys",
        "DELETE FROM notification_audit",
        "CREATE TABLE stolen (x int)",
        "COPY (SELECT 1) TO PROGRAM 'id'",
        "SELECT drop_expired_chunks('raw_segments', now())",
    ):
        await refused(api, sql)
    await allowed(api, "UPDATE api_keys SET last_used_at = now()")
    await allowed(
        api, "INSERT INTO participants (participant_id, enrolled_on, timezone) VALUES ('PX', '2026-01-01', 'UTC')"
    )
    await allowed(
        api,
        "INSERT INTO notification_audit (request_id, actor_key_id, actor_role, reason, participant_id, subject,"
        " status) VALUES (gen_random_uuid(), 'k', 'admin', 'r', 'P0001', 's', 'pending')",
    )


async def test_the_readonly_role_cannot_write_nor_read_key_hashes(connect: object) -> None:
    readonly = await connect(READONLY)  # type: ignore[operator]
    assert await readonly.fetchval("SELECT count(*) FROM rollup_1d") > 0
    assert await readonly.fetchval("SELECT count(*) FROM participants") > 0
    for sql in (
        "INSERT INTO participants (participant_id, enrolled_on, timezone) VALUES ('PX', '2026-01-01', 'UTC')",
        "UPDATE participants SET timezone = 'UTC'",
        "DELETE FROM rollup_1m",
        "UPDATE notification_audit SET status = 'sent'",
        "SELECT secret_sha256 FROM api_keys",
        "CREATE TABLE stolen (x int)",
        "COPY (SELECT 1) TO PROGRAM 'id'",
        "COPY participants FROM '/etc/passwd'",
    ):
        await refused(readonly, sql)


async def test_the_processor_role_stores_data_but_not_keys_or_the_audit(connect: object) -> None:
    processor = await connect(PROCESSOR)  # type: ignore[operator]
    await allowed(processor, "DELETE FROM raw_segments")
    await allowed(processor, "UPDATE rollup_1m SET count = count")
    await allowed(processor, "SELECT drop_expired_chunks('raw_segments', now() - interval '3650 days')")
    for sql in (
        "SELECT * FROM api_keys",
        "UPDATE api_keys SET revoked_at = NULL",
        "INSERT INTO notification_audit (request_id, actor_key_id, actor_role, reason, participant_id, subject,"
        " status) VALUES (gen_random_uuid(), 'k', 'admin', 'r', 'P0001', 's', 'sent')",
        "DELETE FROM schema_migrations",
        "UPDATE metrics SET scale = 1",
        "SELECT drop_expired_chunks('participants', now())",
        "COPY (SELECT 1) TO PROGRAM 'id'",
    ):
        with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.RaiseError)):
            async with processor.transaction():
                await processor.execute(sql)


async def test_a_table_added_by_a_later_migration_gets_the_grants(cohort: Cohort, connect: object) -> None:
    owner = await asyncpg.connect(cohort.url)
    name = f"later_{uuid.uuid4().hex[:8]}"
    try:
        await owner.execute(f"CREATE TABLE {name} (id bigserial PRIMARY KEY, note text)")
        processor = await connect(PROCESSOR)  # type: ignore[operator]
        await allowed(processor, f"INSERT INTO {name} (note) VALUES ('x')")
        readonly = await connect(READONLY)  # type: ignore[operator]
        assert await readonly.fetchval(f"SELECT count(*) FROM {name}") == 0
        await refused(readonly, f"INSERT INTO {name} (note) VALUES ('x')")
        api = await connect(API)  # type: ignore[operator]
        await refused(api, f"INSERT INTO {name} (note) VALUES ('x')")
    finally:
        await owner.execute(f"DROP TABLE {name}")
        await owner.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_state_dir() -> Iterator[Path]:
    """A state dir the cluster's user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="wearstream-roles-"))
    path.chmod(0o755)
    if os.geteuid() == 0:  # PostgreSQL runs as `postgres`
        shutil.chown(path, "postgres")
    yield path / "state"
    shutil.rmtree(path, ignore_errors=True)


async def test_a_new_local_cluster_needs_passwords_and_has_no_superuser_role(
    settings: Settings, own_state_dir: Path
) -> None:
    state = own_state_dir
    cluster = TimescaleCluster(
        state_dir=state, cache_dir=settings.stack.cache_dir, port=free_port(), pg_major=settings.stack.pg_major
    )
    try:
        cluster.start(print)
        assert not cluster.trusts_everyone
        for role in (ROLE, *ROLES):
            mode = stat.S_IMODE(password_file(state, role).stat().st_mode)
            assert mode == 0o600, (role, oct(mode))
            assert len(password_file(state, role).read_text().strip()) >= 32
        assert stat.S_IMODE((state / "secrets").stat().st_mode) == 0o700
        base = f"postgresql://{ROLE}@127.0.0.1:{cluster.port}/wearstream"
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(base, password="wrong")
        with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.ClientConfigurationError)):
            await asyncpg.connect(base, password="")
        owner = await asyncpg.connect(cluster.url())
        try:
            supers = await owner.fetch("SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY 1")
            assert [r["rolname"] for r in supers] == ["postgres"]
            # The owner migrates a database of its own (as the tests and benchmarks do) without being a superuser.
            name = f"test_{uuid.uuid4().hex[:8]}"
            await owner.execute(f"CREATE DATABASE {name}")
            url = cluster.url().rsplit("/", 1)[0] + f"/{name}"
            assert "0007_roles.sql" in await migrate(url)
            await refused(owner, "COPY (SELECT 1) TO PROGRAM 'id'")
        finally:
            await owner.close()
        for role in ROLES:
            connection = await asyncpg.connect(cluster.url(role))
            try:
                assert await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
                await refused(connection, "COPY (SELECT 1) TO PROGRAM 'id'")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.execute("CREATE DATABASE not_mine")
            finally:
                await connection.close()
        # Starting again keeps the passwords (and sets them again).
        before = password_file(state, ROLE).read_text()
        cluster.start(print)
        assert password_file(state, ROLE).read_text() == before
        connection = await asyncpg.connect(cluster.url(API).rsplit("/", 1)[0] + f"/{name}")
        await connection.close()
    finally:
        cluster.stop(print)


async def test_the_processors_do_their_whole_job_as_their_role(database: str) -> None:
    """The real sink (COPY into staging, upserts, new chunks, gaps), compaction and retention, connected as
    `wearstream_processor`, into a database of their own."""
    owner = await asyncpg.connect(database)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        await owner.execute(f"CREATE DATABASE {name}")
    finally:
        await owner.close()
    url = database.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate(url)
        simulator = CohortSimulator(seed=5, start=START)
        records = [simulator.participant_record(k) for k in (1, 2)]
        pool = await create_pool(as_role(url, PROCESSOR), size=2)
        try:
            assert await pool.fetchval("SELECT current_user") == PROCESSOR
            sink = factories.sink(pool)
            await sink.upsert_participants(records)
            batches = sorted(
                (b for k in (1, 2) for d in range(2) for b in simulator.simulate_day(k, d).batches),
                key=lambda b: b.sync_time,
            )
            valid = [
                validate(
                    Envelope(topic="t", partition=0, offset=i, payload=encode_batch(b)),
                    expected_metric=None,
                    now_ms=NOW_MS,
                )
                for i, b in enumerate(batches)
            ]
            await sink.apply(valid)
            await sink.apply(valid)  # redelivery: recognised, harmless
            await compact(pool, settle_s=0, now_ms=NOW_MS)
            async with pool.acquire() as connection:
                later = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
                dropped = await apply_retention(connection, {"rollup_1m": 1}, now=later)
        finally:
            await pool.close()
        owner = await asyncpg.connect(url)
        try:
            stored = await owner.fetchval("SELECT count(*) FROM raw_segments")
            rollups = await owner.fetchval("SELECT count(*) FROM rollup_1d")
        finally:
            await owner.close()
        assert stored > 0
        assert rollups > 0
        assert dropped["rollup_1m"] >= 1
    finally:
        await drop_database(database, name)
