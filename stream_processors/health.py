"""What a worker reports about its surroundings, every few seconds: is the database reachable, how far behind
is the consumer group, and when did each participant last upload (the freshness gauges); and about itself,
on `/healthz` beside `/metrics`: which topics the dead-letter limit paused.

Every worker measures the database and the group's lag (the same numbers from each worker: dashboards and
alerts take the max per partition). Only the leader exports the participants' last uploads, read from the
database so the gauge survives restarts; a worker that stops being leader clears its copy.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, make_server

import asyncpg
import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import make_wsgi_app

from stream_processors import metric_defs as m

log = logging.getLogger(__name__)

MAX_PARTICIPANT_SERIES: Final = 1000
"""At most this many participants get a last-upload series: the longest silent ones (bounded cardinality)."""

PROBE_TIMEOUT_S: Final = 5.0

# Authorised participants, longest silent first; a participant who never uploaded counts from enrolment.
LAST_UPLOADS: Final = """
SELECT p.participant_id,
       extract(epoch FROM coalesce(max(s.last_upload), p.enrolled_on::timestamp AT TIME ZONE p.timezone))::float8
           AS last_upload
FROM participants p
LEFT JOIN participant_metric_state s ON s.participant_id = p.participant_id
WHERE p.authorisation = 'authorised'
GROUP BY p.participant_id
ORDER BY last_upload, p.participant_id
LIMIT $1
"""


class WorkerHealth(msgspec.Struct):
    """What `/healthz` reports: 200 and status ok, or 503 and status paused naming the paused topics."""

    paused_topics: dict[str, str] = {}
    """Topic → why the dead-letter limit paused it (until the worker restarts)."""
    database_up: bool = False

    def pause(self, topic: str, reason: str) -> None:
        self.paused_topics[topic] = reason

    def body(self) -> tuple[int, bytes]:
        status = "paused" if self.paused_topics else "ok"
        document = {"status": status, "paused_topics": self.paused_topics, "database_up": self.database_up}
        return (503 if self.paused_topics else 200), msgspec.json.encode(document)


WORKER: Final = WorkerHealth()
"""The health of this worker process (one per process, like the Prometheus registry)."""

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def health_app(health: WorkerHealth = WORKER) -> WsgiApp:
    """A WSGI app: `/healthz` answers from `health`; every other path is Prometheus' `/metrics`."""
    metrics = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            code, body = health.body()
            reason = "OK" if code == 200 else "Service Unavailable"
            start_response(f"{code} {reason}", [("Content-Type", "application/json")])
            return [body]
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds: no access log."""


def serve(port: int, host: str) -> None:
    """Serves `/metrics` and `/healthz` on `host:port` in a daemon thread; raises OSError if the port is busy."""
    server = make_server(host, port, health_app(), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="health-server", daemon=True).start()


async def probe_database(pool: asyncpg.Pool | None) -> bool:
    """Sets `wearstream_processor_database_up`; True when `SELECT 1` answered within the timeout."""
    up = False
    if pool is not None:
        try:
            up = await asyncio.wait_for(pool.fetchval("SELECT 1"), PROBE_TIMEOUT_S) == 1
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("database probe failed: %s", error)
    m.DATABASE_UP.set(1 if up else 0)
    WORKER.database_up = up
    return up


async def export_last_uploads(pool: asyncpg.Pool, *, limit: int = MAX_PARTICIPANT_SERIES) -> int:
    """Replaces the last-upload gauge with the `limit` longest silent participants; returns how many."""
    rows = await asyncio.wait_for(pool.fetch(LAST_UPLOADS, limit), PROBE_TIMEOUT_S * 2)
    m.PARTICIPANT_LAST_UPLOAD.clear()
    for row in rows:
        m.PARTICIPANT_LAST_UPLOAD.labels(row["participant_id"]).set(row["last_upload"])
    m.PARTICIPANTS_EXPORTED.set(len(rows))
    return len(rows)


def clear_last_uploads() -> None:
    m.PARTICIPANT_LAST_UPLOAD.clear()
    m.PARTICIPANTS_EXPORTED.set(0)


async def group_lag(bootstrap_servers: str, group: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """Messages not yet committed by `group`, per topic partition: end offset − committed offset (or − the
    earliest offset where the group has committed nothing: it starts from the beginning)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="wearstream-lag")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    try:
        await consumer.start()
        try:
            described: list[dict[str, Any]] = await admin.describe_topics(list(topics))
            partitions = [
                TopicPartition(topic["topic"], p["partition"])
                for topic in described
                if not topic.get("error_code")
                for p in topic["partitions"]
            ]
            if not partitions:
                return {}
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
        finally:
            await consumer.stop()
    finally:
        await admin.close()
    lag = {}
    for tp in partitions:
        meta = committed.get(tp)
        position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
        lag[(tp.topic, tp.partition)] = max(0, ends[tp] - position)
    return lag


async def export_group_lag(bootstrap_servers: str, group: str, topics: Sequence[str]) -> None:
    lag = await group_lag(bootstrap_servers, group, topics)
    m.CONSUMER_LAG.clear()
    for (topic, partition), behind in lag.items():
        m.CONSUMER_LAG.labels(topic, str(partition)).set(behind)


async def report(
    pool: asyncpg.Pool | None, *, leader: bool, bootstrap_servers: str, group: str, topics: Sequence[str]
) -> None:
    """One round of health reporting; logs what fails and never raises (it must not stop the worker)."""
    database_up = await probe_database(pool)
    try:
        await export_group_lag(bootstrap_servers, group, topics)
    except Exception as error:
        log.warning("consumer lag not measured: %s", error)
    if not leader:
        clear_last_uploads()
    elif pool is not None and database_up:
        try:
            await export_last_uploads(pool)
        except Exception as error:
            log.warning("participants' last uploads not read: %s", error)
