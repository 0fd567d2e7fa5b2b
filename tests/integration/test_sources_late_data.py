"""Late and corrected data through the sources runner, the processor and the database: the Google Health contract
server holds back the uploads of the hours before a first pass and later corrects a few readings that pass
delivered; the next pass re-reads the lookback and the store ends equal to the service's final data — late
readings added, corrected ones replaced by content (latest upload wins), rollups recomputed over the winners."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs

import asyncpg
import msgspec
import numpy as np

from core.settings import Settings
from core.topics import ensure_topics
from producers.simulator import CohortSimulator
from producers.sources.choose import google_health
from producers.sources.google_health.mapping import DATA_TYPES
from producers.sources.google_health.source import LOOKBACK_MS
from producers.sources.sync import sync_once
from schemas.readings import ReadingBatch, make_batch
from tests.contract.google_health.seed import correct
from tests.integration.google_health import harness, readings_of
from tests.integration.pipeline import isolated, start_processor, stop_processor, utc_ms
from tests.integration.sources_helpers import stored_raw, wait_until_consumed

START: Final = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=6)
SIMULATOR: Final = CohortSimulator(seed=11, start=START)
K: Final = 3
PARTICIPANT: Final = "L0003"
ACCOUNT: Final = "l0003@example.com"
HOUR_MS: Final = 3_600_000
FIRST_PASS_MS: Final = utc_ms(START) + 4 * 24 * HOUR_MS + 12 * HOUR_MS
"""The first pass: four and a half days after enrolment; the second is now (a day and a half later)."""
AWAY_MS: Final = 6 * HOUR_MS
"""The tracker was away from the phone for the six hours before the first pass; it uploads them an hour after."""
CORRECTED_AT_MS: Final = FIRST_PASS_MS + 2 * HOUR_MS
METRICS: Final = tuple(DATA_TYPES)

Readings = dict[str, dict[int, float]]


def uploads(now_ms: int) -> list[ReadingBatch]:
    """Five days of the simulated participant as the tracker uploads them, the away hours' uploads held back."""
    held_back = FIRST_PASS_MS - AWAY_MS
    found = []
    for batch in (b for day in range(5) for b in SIMULATOR.simulate_day(K, day).batches):
        if held_back < batch.sync_time <= FIRST_PASS_MS:
            batch = msgspec.structs.replace(batch, sync_time=FIRST_PASS_MS + HOUR_MS)
        if batch.sync_time < now_ms:
            found.append(batch)
    return found


def corrections(delivered: Readings) -> list[ReadingBatch]:
    """A few heart-rate and step readings the first pass delivered, re-uploaded with other values; within the
    lookback of the second pass, before the away hours."""
    batches = []
    for metric, count, change in (("heart_rate", 5, 7.0), ("steps", 3, 11.0)):
        times = np.array([t for t in delivered[metric] if FIRST_PASS_MS - LOOKBACK_MS <= t < FIRST_PASS_MS - AWAY_MS])
        chosen = times[np.linspace(0, len(times) - 1, count).astype(int)]
        values = [delivered[metric][t] + change if delivered[metric][t] + change <= 200 else 25.0 for t in chosen]
        batches.append(
            make_batch(
                participant_id=PARTICIPANT,
                metric=metric,
                device_id="tracker",
                sync_time=CORRECTED_AT_MS,
                timestamps=chosen,
                values=values,
            )
        )
    return batches


def as_of(batches: list[ReadingBatch], synced_by_ms: int) -> Readings:
    """Per metric, each timestamp's value in the uploads synced by `synced_by_ms` (a later upload replaces)."""
    readings: Readings = {metric: {} for metric in METRICS}
    for batch in sorted((b for b in batches if b.sync_time <= synced_by_ms), key=lambda b: b.sync_time):
        readings[batch.metric].update(readings_of([batch]))
    return readings


async def stored(database: str) -> Readings:
    return {metric: dict(await stored_raw(database, PARTICIPANT, metric)) for metric in METRICS}


def window_starts(queries: list[str]) -> set[int]:
    starts = set()
    for query in queries:
        match = re.search(r'>= "([^"]+)"', parse_qs(query)["filter"][0])
        assert match is not None, query
        starts.add(int(dt.datetime.fromisoformat(match.group(1)).timestamp() * 1000))
    return starts


async def test_a_later_pass_picks_up_late_uploads_and_corrections_and_the_store_equals_the_source(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    env = isolated(settings, database)
    await ensure_topics(env.settings.kafka)
    held = uploads(int(time.time() * 1000))
    worker = start_processor(env.env, tmp_path / "worker.log")
    try:
        async with harness(database) as h:
            await h.participant(PARTICIPANT, ACCOUNT, held, enrolled_on=START)
            await h.consent(PARTICIPANT, ACCOUNT)
            source = google_health(h.settings, h.sealer)
            h.state.clock.offset_ms = FIRST_PASS_MS - int(time.time() * 1000)  # the service as at the first pass
            first = await sync_once(env.settings, source, participants=[PARTICIPANT], clock=lambda: FIRST_PASS_MS)
            assert not first.failed, first.failures
            await wait_until_consumed(env.settings, env.settings.processor.group_id, METRICS)
            after_first = await stored(database)
            fixes = corrections(after_first)
            assert correct(h.state.account(ACCOUNT), fixes) == 8
            h.state.clock.offset_ms = 0
            since = len(h.state.log)
            second = await sync_once(env.settings, source, participants=[PARTICIPANT])
            assert not second.failed, second.failures
            queries = [e.query for e in h.state.log[since:] if e.path.endswith("/dataPoints") and e.status == 200]
        await wait_until_consumed(env.settings, env.settings.processor.group_id, METRICS)
        final = await stored(database)
        rolled = await rollup_totals(database)
    finally:
        stop_processor(worker)
    assert after_first == as_of(held, FIRST_PASS_MS)
    expected = as_of([*held, *fixes], int(time.time() * 1000))
    late = {m: {t for t in expected[m] if t < FIRST_PASS_MS} - after_first[m].keys() for m in METRICS}
    assert len(late["heart_rate"]) > 3_000  # the away hours (and the simulator's own late syncs)
    assert len(late["steps"]) > 200
    # The second pass re-read the lookback only: from the first pass's end minus LOOKBACK_MS, not enrolment.
    assert window_starts(queries) == {FIRST_PASS_MS - LOOKBACK_MS}
    assert final == expected  # late readings added, corrected ones replaced, nothing else changed
    for fix in fixes:
        for t, v in readings_of([fix]):
            assert final[fix.metric][t] == v != after_first[fix.metric][t]
    for metric in ("heart_rate", "steps"):
        values = np.array(list(expected[metric].values()))
        for table, (count, total) in rolled[metric].items():
            assert count == len(values), (metric, table)
            assert abs(total - values.sum()) <= 1e-9 * values.sum(), (metric, table)


async def rollup_totals(database: str) -> dict[str, dict[str, tuple[int, float]]]:
    """Per metric and rollup table, the readings counted and their sum."""
    connection = await asyncpg.connect(database)
    try:
        totals: dict[str, dict[str, tuple[int, float]]] = {"heart_rate": {}, "steps": {}}
        for metric, tables in totals.items():
            for table in ("rollup_1m", "rollup_1h", "rollup_1d"):
                row = await connection.fetchrow(
                    f"SELECT sum(count) AS n, sum(sum) AS s FROM {table} JOIN metrics m USING (metric_id)"
                    " WHERE participant_id = $1 AND m.name = $2",
                    PARTICIPANT,
                    metric,
                )
                tables[table] = (int(row["n"]), float(row["s"]))
        return totals
    finally:
        await connection.close()
