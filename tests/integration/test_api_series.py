"""The API's time series against the real TimescaleDB after a simulated load: every point equals a
recomputation from the simulator's readings; `auto` keeps the true extremes; raw pages are exact; exports stream.

Also holds the cohort loader the other API test modules share (`load_cohort`, `api_settings`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np
import pyarrow.parquet as pq
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth.store import create_key
from api.series import export
from api.series.services import SeriesQuery
from core.settings import Settings
from producers.simulator import CohortSimulator
from schemas.metrics import METRICS
from schemas.participants import Participant
from schemas.readings import encode_batch, exact_float64, make_batch
from stream_processors.db import create_pool
from stream_processors.envelope import Envelope
from stream_processors.validate import validate
from tests import factories

START = dt.date(2026, 3, 6)
T0 = int(dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
DAY = 86_400_000
NOW_MS = T0 + 14 * DAY


@dataclass
class Cohort:
    url: str
    simulator: CohortSimulator
    participants: dict[str, Participant]
    readings: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]
    uploads: dict[str, list[int]]
    keys: dict[str, str] = field(default_factory=dict)

    def series(self, participant: str, metric: str, lo_ms: int = 0, hi_ms: int = 1 << 62) -> tuple[np.ndarray, ...]:
        ts, values, extra = self.readings[(participant, metric)]
        keep = (ts >= lo_ms) & (ts < hi_ms)
        return ts[keep], values[keep], *(extra[c][keep] for c in extra)


def api_settings(settings: Settings, url: str, **api: Any) -> Settings:
    live = settings.api.live.model_copy(update={"enabled": api.pop("live", False)})
    return settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": url, "api_url": "", "processor_url": ""}),
            "api": settings.api.model_copy(update={"live": live, **api}),
        }
    )


async def load_cohort(url: str, *, participants: int = 10, days: int = 3, seed: int = 3) -> Cohort:
    """Feeds the simulator's batches through validate + Sink (as the processor does); adds P0999, a revoked
    participant without data or contact address; creates admin, researcher and participant (P0001) keys."""
    simulator = CohortSimulator(seed=seed, start=START)
    records = {f"P{k:04d}": simulator.participant_record(k) for k in range(1, participants + 1)}
    records["P0999"] = Participant(
        participant_id="P0999", enrolled_on=START - dt.timedelta(days=10), authorisation="revoked", timezone="UTC"
    )
    pool = await create_pool(url, size=2)
    try:
        sink = factories.sink(pool)
        await sink.upsert_participants(list(records.values()))
        simulated = [simulator.simulate_day(k, d) for k in range(1, participants + 1) for d in range(days)]
        batches = sorted((b for day in simulated for b in day.batches), key=lambda b: (b.sync_time, b.participant_id))
        valid = [
            validate(
                Envelope(topic="t", partition=0, offset=i, payload=encode_batch(b)), expected_metric=None, now_ms=NOW_MS
            )
            for i, b in enumerate(batches)
        ]
        for i in range(0, len(valid), 400):
            await sink.apply(valid[i : i + 400])
        keys = {
            "admin": (await create_key(pool, "admin", None)).token,
            "researcher": (await create_key(pool, "researcher", None)).token,
            "participant": (await create_key(pool, "participant", "P0001")).token,
        }
    finally:
        await pool.close()
    readings: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = {}
    for pid in records:
        own = [d for d in simulated if d.participant_id == pid]
        for metric in own[0].readings if own else ():
            parts = [d.readings[metric] for d in own]
            readings[(pid, metric)] = (
                np.concatenate([p.timestamps for p in parts]),
                # The numbers the simulator meant: float32 columns read as their shortest decimal, as the wire does.
                exact_float64(np.concatenate([p.values for p in parts])),
                {c: exact_float64(np.concatenate([p.extra[c] for p in parts])) for c in parts[0].extra},
            )
    uploads = {pid: sorted({b.sync_time for b in batches if b.participant_id == pid}) for pid in records}
    return Cohort(url, simulator, records, readings, uploads, keys)


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database)


@pytest.fixture(scope="module")
async def client(cohort: Cohort, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(api_settings(settings, cohort.url))) as test_client:
        test_client.headers["Authorization"] = f"Bearer {cohort.keys['researcher']}"
        yield test_client


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def iso(ms_: int) -> str:
    return dt.datetime.fromtimestamp(ms_ / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def assert_rollup_points(points: list[dict[str, Any]], width_ms: int, ts: np.ndarray, values: np.ndarray) -> None:
    starts = [ms(p["time"]) for p in points]
    for start, point in zip(starts, points, strict=True):
        mask = (ts >= start) & (ts < start + width_ms)
        assert point["count"] == mask.sum()
        assert point["min"] == values[mask].min()
        assert point["max"] == values[mask].max()
        assert point["mean"] == pytest.approx(values[mask].mean(), rel=1e-12)
    expected = sorted(set(((ts - starts[0]) // width_ms * width_ms + starts[0]).tolist())) if starts else []
    assert starts == expected


@pytest.mark.parametrize(("participant", "max_points"), [("P0002", 1000), ("P0004", 200), ("P0007", 40)])
async def test_auto_keeps_true_extremes_and_exact_bins(
    client: AsyncTestClient[Any], cohort: Cohort, participant: str, max_points: int
) -> None:
    response = await client.get(
        f"/v1/participants/{participant}/series/heart_rate",
        params={"start": iso(T0), "end": iso(T0 + 3 * DAY), "max_points": max_points},
    )
    assert response.status_code == 200, response.text
    page = response.json()
    ts, values = cohort.series(participant, "heart_rate", T0, T0 + 3 * DAY)
    points = page["points"]
    assert 0 < len(points) <= max_points
    assert page["resolution"] in ("1m", "1h")
    assert min(p["min"] for p in points) == values.min()
    assert max(p["max"] for p in points) == values.max()
    assert sum(p["count"] for p in points) == len(ts)
    assert_rollup_points(points, page["bucket_seconds"] * 1000, ts, values)


async def test_auto_on_a_short_range_thins_raw_readings_keeping_peaks(
    client: AsyncTestClient[Any], cohort: Cohort
) -> None:
    lo, hi = T0 + DAY + 14 * 3_600_000, T0 + DAY + 14 * 3_600_000 + 1_800_000
    ts, values = cohort.series("P0003", "heart_rate", lo, hi)
    response = await client.get(
        "/v1/participants/P0003/series/heart_rate", params={"start": iso(lo), "end": iso(hi), "max_points": 200}
    )
    page = response.json()
    assert page["resolution"] == "raw"
    got = {ms(p["time"]): p["value"] for p in page["points"]}
    assert len(got) <= 200 < len(ts)
    assert min(got.values()) == values.min()
    assert max(got.values()) == values.max()
    lookup = dict(zip(ts.tolist(), values.tolist(), strict=True))
    assert all(lookup[t] == v for t, v in got.items())


@pytest.mark.parametrize(("metric", "resolution", "width"), [("steps", "1m", 60_000), ("heart_rate", "1h", 3_600_000)])
async def test_stored_rollups_page_exactly(
    client: AsyncTestClient[Any], cohort: Cohort, metric: str, resolution: str, width: int
) -> None:
    points: list[dict[str, Any]] = []
    params: dict[str, Any] = {"start": iso(T0), "end": iso(T0 + 2 * DAY), "resolution": resolution, "max_points": 333}
    pages = 0
    while True:
        page = (await client.get(f"/v1/participants/P0005/series/{metric}", params=params)).json()
        pages += 1
        points.extend(page["points"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    ts, values = cohort.series("P0005", metric, T0, T0 + 2 * DAY)
    assert pages == -(-len(set((ts // width).tolist())) // 333)
    assert_rollup_points(points, width, ts, values)
    if metric == "steps":
        assert all(p["sum"] == values[(ts >= ms(p["time"])) & (ts < ms(p["time"]) + width)].sum() for p in points)
    else:
        assert all("sum" not in p for p in points)


async def test_raw_pages_return_exactly_the_days_readings(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    lo, hi = T0 + DAY, T0 + 2 * DAY
    got: list[tuple[int, float]] = []
    params: dict[str, Any] = {"start": iso(lo), "end": iso(hi), "resolution": "raw", "max_points": 997}
    while True:
        page = (await client.get("/v1/participants/P0006/series/heart_rate", params=params)).json()
        assert len(page["points"]) <= 997
        got.extend((ms(p["time"]), p["value"]) for p in page["points"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    ts, values = cohort.series("P0006", "heart_rate", lo, hi)
    assert got == list(zip(ts.tolist(), values.tolist(), strict=True))


async def test_raw_paging_loses_and_repeats_nothing_while_data_arrives(
    client: AsyncTestClient[Any], cohort: Cohort
) -> None:
    """A new participant's readings arrive in two uploads while a reader pages through the range. (One reading
    per timestamp: the latest upload wins, so the stored readings never repeat a timestamp.)"""
    base = T0 + 5 * DAY
    ts = np.arange(base, base + 5000 * 1000, 1000, dtype=np.int64)
    values = np.arange(len(ts)) % 150 + 40
    halves = [(slice(0, 2500), "dev-a"), (slice(2500, None), "dev-b")]
    pool = await create_pool(cohort.url, size=1)
    sink = factories.sink(pool)

    async def upload(part: slice, device: str, sync: int) -> None:
        batch = make_batch(
            participant_id="P0500",
            metric="heart_rate",
            device_id=device,
            sync_time=sync,
            timestamps=ts[part],
            values=values[part],
        )
        envelope = Envelope(topic="t", partition=0, offset=0, payload=encode_batch(batch))
        await sink.apply([validate(envelope, expected_metric="heart_rate", now_ms=NOW_MS)])

    try:
        await upload(halves[0][0], halves[0][1], base + 2000 * 1000)
        got: list[tuple[int, float]] = []
        params: dict[str, Any] = {"start": iso(base), "end": iso(base + DAY), "resolution": "raw", "max_points": 333}
        first = True
        while True:
            page = (await client.get("/v1/participants/P0500/series/heart_rate", params=params)).json()
            got.extend((ms(p["time"]), p["value"]) for p in page["points"])
            if first:
                await upload(halves[1][0], halves[1][1], base + 6000 * 1000)
                first = False
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
    finally:
        await pool.close()
    expected = sorted(zip(ts.tolist(), values.astype(float).tolist(), strict=True))
    assert got == expected


def _rows_of_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_csv_export_returns_every_reading(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    response = await client.get(
        "/v1/participants/P0008/series/heart_rate", params={"start": iso(T0), "end": iso(T0 + 3 * DAY), "format": "csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = _rows_of_csv(response.text)
    ts, values = cohort.series("P0008", "heart_rate", T0, T0 + 3 * DAY)
    assert rows[0] == ["time", "value"]
    assert [(ms(r[0]), float(r[1])) for r in rows[1:]] == list(zip(ts.tolist(), values.tolist(), strict=True))


async def _export(cohort: Cohort, fmt: str, days: int) -> tuple[list[int], int]:
    """Sizes of the chunks an export of `days` days of P0004's heart rate yields, and the peak memory traced."""
    pool = await asyncpg.create_pool(cohort.url, min_size=1, max_size=1)
    query = SeriesQuery(
        participant_id="P0004",
        metric=METRICS["heart_rate"],
        start=dt.datetime.fromtimestamp(T0 / 1000, dt.UTC),
        end=dt.datetime.fromtimestamp((T0 + days * DAY) / 1000, dt.UTC),
    )
    columns, rows = export.rows_of(pool, query, None)
    stream = export.csv_stream(columns, rows) if fmt == "csv" else export.parquet_stream(columns, rows)
    sizes: list[int] = []
    tracemalloc.start()
    try:
        async for chunk in stream:
            sizes.append(len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await pool.close()
    return sizes, peak


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
async def test_export_streams_in_bounded_memory(cohort: Cohort, fmt: str) -> None:
    """The body is produced window by window: many chunks, none more than a small part of the range, and the
    peak memory does not grow with the length of the range."""
    short_sizes, short_peak = await _export(cohort, fmt, 1)
    sizes, peak = await _export(cohort, fmt, 3)
    assert sum(sizes) > 2.5 * sum(short_sizes)
    if fmt == "csv":
        assert len(sizes) >= 4  # the header, then a window per day (a 1-second metric's 100,000 readings' span)
        assert max(sizes) < sum(sizes) / 2.5
    else:  # a chunk each time ROW_GROUP readings are pending (the last one with the footer)
        readings = len(cohort.series("P0004", "heart_rate", T0, T0 + 3 * DAY)[0])
        assert 3 <= len(sizes) <= -(-readings // export.ROW_GROUP)
        assert max(sizes) < sum(sizes) / 2
    assert peak < 1.5 * short_peak + 1_000_000


async def test_parquet_export_of_rollups_and_extra_columns(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    response = await client.get(
        "/v1/participants/P0002/series/hrv_rmssd",
        params={"start": iso(T0), "end": iso(T0 + 3 * DAY), "format": "parquet", "resolution": "raw"},
    )
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    ts, values, _coverage, lf, _hf = cohort.series("P0002", "hrv_rmssd", T0, T0 + 3 * DAY)
    assert table.column_names == ["time", "value", "coverage", "lf", "hf"]
    times = table.column("time").cast("int64").to_numpy()
    assert times.tolist() == ts.tolist()
    assert table.column("value").to_numpy() == pytest.approx(values, abs=1e-3)
    assert table.column("lf").to_numpy() == pytest.approx(lf, rel=1e-6)

    response = await client.get(
        "/v1/participants/P0002/series/steps",
        params={"start": iso(T0), "end": iso(T0 + 3 * DAY), "format": "parquet", "resolution": "1h"},
    )
    table = pq.read_table(io.BytesIO(response.content))
    ts, values = cohort.series("P0002", "steps", T0, T0 + 3 * DAY)
    assert table.num_rows == len(set((ts // 3_600_000).tolist()))
    assert table.column("sum").to_numpy().sum() == values.sum()
    assert table.column("count").to_numpy().sum() == len(ts)


async def test_default_range_is_the_stored_data(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    page = (await client.get("/v1/participants/P0009/series/spo2", params={"max_points": 100})).json()
    ts, values = cohort.series("P0009", "spo2")
    assert page["start"] == iso(int(ts[0]))
    assert ms(page["end"]) == int(ts[-1]) + 1
    assert sum(p["count"] for p in page["points"]) == len(ts)
    assert min(p["min"] for p in page["points"]) == values.min()
