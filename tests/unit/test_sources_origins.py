"""The simulator and the export files as sources: pages, resuming from a page token, windows cut without
touching a value, only synced uploads served, and the errors a runner records."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from producers.fitbit import import_files
from producers.simulator.grid import DAY_MS
from producers.sources.base import Gone, NotAuthorised, Page, Window
from producers.sources.files import FileSource
from producers.sources.simulator import SimulatorSource
from schemas.readings import ReadingBatch

DATA = Path(__file__).parents[1] / "data" / "fitbit"
START = dt.date(2026, 3, 1)
T0 = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)


def pages(
    source: SimulatorSource | FileSource, participant: str, metric: str, window: Window, page: str | None = None
) -> list[Page]:
    async def collect() -> list[Page]:
        return [p async for p in source.fetch(participant, metric, window, page)]

    return asyncio.run(collect())


def readings(batches: list[ReadingBatch]) -> tuple[np.ndarray, np.ndarray]:
    if not batches:
        return np.empty(0, dtype=np.int64), np.empty(0)
    ts = np.concatenate([b.timestamps_array() for b in batches])
    values = np.concatenate([b.values_float64() for b in batches])
    order = np.argsort(ts, kind="stable")
    return ts[order], values[order]


def test_the_simulator_serves_a_page_per_utc_day_cut_to_the_window_and_resumes_from_a_token() -> None:
    source = SimulatorSource(seed=4, start=START, metrics=["heart_rate"], clock=lambda: T0 + 10 * DAY_MS)
    window = Window(T0 + DAY_MS // 2, T0 + 2 * DAY_MS + DAY_MS // 4)
    served = pages(source, "P0001", "heart_rate", window)
    assert [p.next_page for p in served] == [str(T0 + DAY_MS), str(T0 + 2 * DAY_MS), None]
    ts, values = readings([b for p in served for b in p.batches])
    # Exactly the simulator's readings in the window, values untouched.
    expected = [source.simulator.simulate_day(1, d).batches for d in range(3)]
    all_ts, all_values = readings([b for day in expected for b in day if b.metric == "heart_rate"])
    inside = (all_ts >= window.start_ms) & (all_ts < window.end_ms)
    assert np.array_equal(ts, all_ts[inside])
    assert np.array_equal(values, all_values[inside])
    # From the second page's token: the same pages as the rest of the first fetch.
    resumed = pages(source, "P0001", "heart_rate", window, served[0].next_page)
    assert [[b.batch_id for b in p.batches] for p in resumed] == [[b.batch_id for b in p.batches] for p in served[1:]]


def test_the_simulator_serves_only_what_has_synced_and_nothing_before_its_start() -> None:
    now = T0 + DAY_MS + 6 * 3_600_000
    source = SimulatorSource(seed=4, start=START, metrics=["steps"], clock=lambda: now)
    served = pages(source, "P0001", "steps", Window(T0 - 3 * DAY_MS, now))
    assert served[0].batches == []  # the days before the simulation: one empty page
    batches = [b for p in served for b in p.batches]
    assert batches
    assert max(b.sync_time for b in batches) <= now
    later = SimulatorSource(seed=4, start=START, metrics=["steps"], clock=lambda: now + 3 * DAY_MS)
    more = [b for p in pages(later, "P0001", "steps", Window(T0 - 3 * DAY_MS, now)) for b in p.batches]
    assert sum(map(len, more)) >= sum(map(len, batches))  # late uploads of the same window arrive later


def test_the_simulator_refuses_participants_it_does_not_make() -> None:
    source = SimulatorSource(seed=4, start=START)
    for bad in ("X0001", "P", "P0000", "Pabc"):
        with pytest.raises(Gone, match="P0001, P0002"):
            asyncio.run(source.authorise(bad))


def test_export_files_serve_exactly_what_the_importer_reads(tmp_path: Path) -> None:
    folder = tmp_path / "W1"
    shutil.copytree(DATA / "wearipedia", folder)
    source = FileSource(tmp_path, timezone_of={"W1": "America/Chicago"})
    asyncio.run(source.authorise("W1"))
    imported = import_files(
        [str(folder)], participant_id="W1", device_id="W1-import", timezone="America/Chicago", sync_time=0
    )
    ts_all, values_all = readings([b for b in imported.batches if b.metric == "heart_rate"])
    middle = int(ts_all[len(ts_all) // 2])
    parts = [pages(source, "W1", "heart_rate", w) for w in (Window(0, middle), Window(middle, 2**62))]
    assert all(len(p) == 1 and p[0].next_page is None for p in parts)
    batches = [b for p in parts for b in p[0].batches]
    ts, values = readings(batches)
    assert np.array_equal(ts, ts_all)
    assert np.array_equal(values, values_all)  # wearipedia's float heart rates, bit for bit
    newest = max(os.stat(p).st_mtime_ns for p in folder.iterdir()) // 1_000_000
    assert {(b.origin, b.sync_time) for b in batches} == {("import", newest)}


def test_export_files_without_a_folder_or_files_are_refused(tmp_path: Path) -> None:
    source = FileSource(tmp_path)
    with pytest.raises(NotAuthorised, match="no export folder"):
        asyncio.run(source.authorise("NOBODY"))
    (tmp_path / "EMPTY").mkdir()
    with pytest.raises(Gone, match=r"no \*\.json export files"):
        pages(source, "EMPTY", "heart_rate", Window(0, 1))
