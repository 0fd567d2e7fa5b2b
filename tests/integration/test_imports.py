"""Imports on the real stack: delta-load by content, latest import wins, imports are not device uploads,
and participant records are never changed by an import."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np

from core.settings import Settings
from core.topics import ensure_topics
from producers.import_job import import_exports
from schemas.participants import Participant
from stream_processors import participant_records as participants
from tests.integration.pipeline import isolated, start_processor, stop_processor
from tests.integration.test_latest_wins import Truth, assert_store_is_recomputation

ZONE = "Europe/Berlin"
DAY0 = dt.date(2024, 3, 4)


def heart_rate_export(path: Path, days: dict[dt.date, list[tuple[str, float]]]) -> Path:
    """A Fitbit Web API intraday heart-rate export: one response per day (times local)."""
    path.write_text(
        json.dumps(
            [
                {
                    "activities-heart": [{"dateTime": day.isoformat()}],
                    "activities-heart-intraday": {"dataset": [{"time": t, "value": v} for t, v in dataset]},
                }
                for day, dataset in sorted(days.items())
            ]
        )
    )
    return path


def dataset(rng: np.random.Generator, *, every_s: int, hours: range) -> list[tuple[str, float]]:
    seconds = [h * 3600 + s for h in hours for s in range(0, 3600, every_s)]
    values = rng.integers(50, 120, len(seconds))
    return [(f"{s // 3600:02}:{s // 60 % 60:02}:{s % 60:02}", int(v)) for s, v in zip(seconds, values, strict=True)]


def local_ms(day: dt.date, clock: str) -> int:
    return int(dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=ZoneInfo(ZONE)).timestamp() * 1000)


def expect(truth: Truth, days: dict[dt.date, list[tuple[str, float]]], sync_ms: int, batch: str) -> None:
    for day, points in days.items():
        for clock, value in points:
            t = local_ms(day, clock)
            rank = (sync_ms, batch)
            if t not in truth.readings or truth.readings[t][0] < rank:
                truth.readings[t] = (rank, float(value))


async def wait_for_store(url: str, participant: str, truth: Truth, timeout_s: float = 90) -> None:
    ts, values = truth.arrays()
    deadline = time.monotonic() + timeout_s
    got: list[asyncpg.Record] = []
    while time.monotonic() < deadline:
        connection = await asyncpg.connect(url)
        try:
            got = await connection.fetch(
                "SELECT ts_to_ms(time) AS t, value FROM raw_readings($1, 'heart_rate', ms_to_ts($2), ms_to_ts($3))",
                participant,
                int(ts[0]) - 86_400_000,
                int(ts[-1]) + 86_400_000,
            )
        finally:
            await connection.close()
        if [r["t"] for r in got] == ts.tolist() and [r["value"] for r in got] == values.tolist():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{len(got)} readings stored, {len(ts)} expected (or other values)")


async def test_reverse_order_twice_and_a_corrected_export_store_the_union_latest_import_winning(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    rng = np.random.default_rng(5)
    first = {
        DAY0: dataset(rng, every_s=10, hours=range(0, 24)),
        DAY0 + dt.timedelta(1): dataset(rng, every_s=10, hours=range(0, 12)),
    }
    # The second export holds the second day again (the same readings, and the rest of the day) and a third.
    second_day = first[DAY0 + dt.timedelta(1)] + dataset(rng, every_s=10, hours=range(12, 24))
    second = {DAY0 + dt.timedelta(1): second_day, DAY0 + dt.timedelta(2): dataset(rng, every_s=10, hours=range(0, 24))}
    corrected_day = [(t, v + 7) for t, v in second_day if "06:00:00" <= t < "09:00:00"]
    corrected = {DAY0 + dt.timedelta(1): corrected_day}
    a = heart_rate_export(tmp_path / "a.json", first)
    b = heart_rate_export(tmp_path / "b.json", second)
    c = heart_rate_export(tmp_path / "c.json", corrected)

    connection = await asyncpg.connect(database)
    try:
        await participants.create(
            connection,
            Participant(
                participant_id="IMP1",
                enrolled_on=DAY0 - dt.timedelta(10),
                timezone=ZONE,
                authorisation="revoked",
                contact_email="imp1@example.org",
                device_id="charge6",
            ),
            actor="test",
        )
    finally:
        await connection.close()
    worker = start_processor(env.env, tmp_path / "worker.log")
    truth = Truth()
    try:
        # Reverse order: the later export first.
        reports = []
        for path, days, name in ((b, second, "b"), (a, first, "a")):
            report = await import_exports(
                env.settings.kafka, env.settings.database.url, [path], participant_id="IMP1", timezone=ZONE
            )
            reports.append(report)
            expect(truth, days, int(dt.datetime.now(dt.UTC).timestamp() * 1000), name)
        assert reports[0].new == {"heart_rate": sum(len(p) for p in second.values())}
        # The first export's days overlapping the second's (UTC days) differ from what was published: corrected.
        assert reports[1].new["heart_rate"] + reports[1].corrected["heart_rate"] == sum(len(p) for p in first.values())
        assert reports[1].corrected["heart_rate"] >= len(first[DAY0 + dt.timedelta(1)])
        assert reports[1].new["heart_rate"] > 0
        await wait_for_store(database, "IMP1", truth)

        # Twice: nothing is published again.
        for path in (b, a):
            again = await import_exports(
                env.settings.kafka, env.settings.database.url, [path], participant_id="IMP1", timezone=ZONE
            )
            assert again.messages == 0
            assert sum(again.new.values()) == sum(again.corrected.values()) == 0
            assert sum(again.unchanged.values()) == sum(len(p) for p in (second if path == b else first).values())

        # An overlapping corrected export: it wins where it has readings.
        fix = await import_exports(
            env.settings.kafka, env.settings.database.url, [c], participant_id="IMP1", timezone=ZONE
        )
        assert fix.corrected == {"heart_rate": len(corrected_day)}
        for clock, value in corrected_day:
            t = local_ms(DAY0 + dt.timedelta(1), clock)
            truth.readings[t] = ((2**62, "c"), float(value))
        await wait_for_store(database, "IMP1", truth)
        await asyncio.sleep(1)  # the rollups are written in the same transaction; this only lets stragglers land
        pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
        try:
            await assert_store_is_recomputation(pool, "IMP1", "heart_rate", truth, ZONE)
            record = await pool.fetchrow("SELECT * FROM participants WHERE participant_id = 'IMP1'")
            assert (record["authorisation"], record["contact_email"], record["timezone"], record["device_id"]) == (
                "revoked",
                "imp1@example.org",
                ZONE,
                "charge6",
            )
            assert record["enrolled_on"] == DAY0 - dt.timedelta(10)
            assert await pool.fetchval("SELECT count(*) FROM participant_audit WHERE participant_id = 'IMP1'") == 1
            assert await pool.fetchval("SELECT count(*) FROM uploads WHERE participant_id = 'IMP1'") == 0
            state = await pool.fetchrow("SELECT last_upload, last_import FROM participant_metric_state")
            assert state["last_upload"] is None
            assert state["last_import"] is not None
            assert await pool.fetchval("SELECT count(*) FROM imports WHERE participant_id = 'IMP1'") == 5
            assert await pool.fetchval("SELECT count(*) FROM gaps WHERE kind = 'not_synced'") == 0
        finally:
            await pool.close()

        # An import of a participant the study does not know creates it, in the given zone, dated locally.
        late: dict[dt.date, list[tuple[str, float]]] = {DAY0: [("23:30:00", 70)]}
        created = await import_exports(
            env.settings.kafka,
            env.settings.database.url,
            [heart_rate_export(tmp_path / "new.json", late)],
            participant_id="IMP2",
            timezone="Pacific/Auckland",
        )
        assert created.participant_created
        connection = await asyncpg.connect(database)
        try:
            new = await participants.get(connection, "IMP2")
            assert new is not None
            assert (new.timezone, new.enrolled_on, new.authorisation) == ("Pacific/Auckland", DAY0, "authorised")
            assert [e.actor for e in await participants.audit(connection, "IMP2")] == ["import"]
        finally:
            await connection.close()
    finally:
        stop_processor(worker)
