"""Export benchmarks: raw readings/s of `wearstream export` from the database beside the same export through the
JSON API, the client's `series` rows/s over a year of 1-minute rollups, and the peak RSS of a participant-year.

Data: one participant (PYEAR, UTC) with a year of 1 Hz heart rate packed into hourly segments as compaction
leaves them (COPY into `raw_segments`, 31.5 M readings) and a year of 1-minute rollups (`bench.queries`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import asyncpg
import numpy as np

from bench.common import Environment, Measurement, environment, summarise
from bench.queries import HR, YEAR_OF_ROLLUPS, YEAR_START, free_port, start_api, stop
from core.settings import Settings
from stream_processors.segments import RAW_COLUMNS, pack
from wearstream.client import Client
from wearstream.client.export import ExportSpec, Reporter, run_export
from wearstream.demo import wait_for_api
from wearstream.raw_export import run_database_export

DAY_S: Final = 86_400
PARTICIPANT: Final = "PYEAR"


class _Clock(Reporter):
    """Times the series step: from its start to the last part."""

    def start(self, parts: int) -> None:
        self.began = time.perf_counter()
        self.ended = self.began

    def part_done(self, name: str) -> None:
        self.ended = time.perf_counter()


async def lay_down(url: str, days: int) -> int:
    """The year of rollups and `days` of 1 Hz heart rate as hourly segments; returns the readings stored."""
    connection = await asyncpg.connect(url)
    stored = 0
    try:
        for statement in filter(str.strip, YEAR_OF_ROLLUPS.format(hr=HR).split(";")):
            await connection.execute(statement, *([YEAR_START] if "$1" in statement else []))
        start_ms = int(YEAR_START.timestamp() * 1000)
        for day in range(days):
            times = start_ms + (day * DAY_S + np.arange(DAY_S, dtype=np.int64)) * 1000
            values = np.rint(70 + 15 * np.sin(times / 3.6e6) + (times // 1000) % 7).astype(np.float64)
            segments = pack(
                participant_id=PARTICIPANT,
                metric_id=HR,
                batch_id=f"00000000-0000-4000-8000-{day:012d}",
                scale=1,
                timestamps=times,
                values=values,
                extra=[],
            )
            await connection.copy_records_to_table(
                "raw_segments", records=[s.record() for s in segments], columns=list(RAW_COLUMNS)
            )
            stored += len(times)
        await connection.execute("ANALYZE raw_segments")
    finally:
        await connection.close()
    return stored


def _spec(days: int) -> ExportSpec:
    """`days` local dates of the participant (UTC) from the year's start."""
    first = YEAR_START.date()
    end = (first + dt.timedelta(days=days)).isoformat()
    return ExportSpec(participants=(PARTICIPANT,), metrics=("heart_rate",), start=first.isoformat(), end=end)


def from_database(settings: Settings, days: int) -> tuple[float, int]:
    """Seconds of the series step and readings written, exporting `days` from the database in this process."""
    clock = _Clock()
    with tempfile.TemporaryDirectory() as out:
        result = run_database_export(settings, Path(out), _spec(days), report=clock)
    return clock.ended - clock.began, result.readings


def through_api(base: str, key: str, days: int) -> tuple[float, int]:
    clock = _Clock()
    with tempfile.TemporaryDirectory() as out, Client(base, key) as client:
        result = run_export(client, Path(out), _spec(days), report=clock)
    return clock.ended - clock.began, result.readings


_MEASURED: Final = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mib(env: Environment, days: int) -> float:
    """Peak RSS of `wearstream export` (a process of its own, the only child of its parent) exporting `days`."""
    with tempfile.TemporaryDirectory() as out:
        spec = _spec(days)
        command = [sys.executable, "-m", "wearstream", "export", "--out", out, "--participants", PARTICIPANT]
        command += ["--metrics", "heart_rate", "--start", str(spec.start), "--end", str(spec.end)]
        run = subprocess.run(
            [sys.executable, "-c", _MEASURED, *command],
            env={**env.env, "WEARSTREAM_CLIENT_URL": "", "WEARSTREAM_DATABASE_READONLY_URL": env.database_url},
            check=True,
            capture_output=True,
            text=True,
        )
    return int(run.stdout.strip()) / 1024


async def export_benchmarks(settings: Settings, *, days: int, api_days: int, log_dir: Path) -> list[Measurement]:
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    async with environment(settings) as env:
        from api.auth.store import create_key

        stored = await lay_down(env.database_url, days)
        connection = await asyncpg.connect(env.database_url)
        try:
            key = (await create_key(connection, "admin", None, "bench")).token
        finally:
            await connection.close()
        local = env.settings.model_copy(
            update={"database": env.settings.database.model_copy(update={"readonly_url": env.database_url})}
        )
        db_year = [await asyncio.to_thread(from_database, local, days)]
        db_small = [await asyncio.to_thread(from_database, local, api_days) for _ in range(3)]
        rss = await asyncio.to_thread(peak_rss_mib, env, days)
        port = free_port()
        api = start_api(env, port, log_dir / "export-api.log")
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_for_api(base)
            api_small = [await asyncio.to_thread(through_api, base, key, api_days) for _ in range(2)]
            series = []
            for _ in range(2):
                with Client(base, key) as client:
                    began = time.perf_counter()
                    frame = await asyncio.to_thread(
                        client.series, PARTICIPANT, "heart_rate", YEAR_START, YEAR_START + dt.timedelta(days=365), "1m"
                    )
                    series.append(len(frame) / (time.perf_counter() - began))
        finally:
            stop(api)
    year = f"1 participant × {days} days of 1 Hz heart rate, {stored:,} readings in hourly segments"
    small = f"the same participant's first {api_days} days, {db_small[0][1]:,} readings"
    db_rate = db_small[0][1] / min(s for s, _ in db_small)
    api_rate = api_small[0][1] / min(s for s, _ in api_small)
    return [
        summarise(
            "export.database.raw_readings_per_s",
            [n / s for s, n in db_year],
            "readings/s",
            data=year,
            note="wearstream export from the database, one process: segments → numpy → Parquet (zstd); target ≥ 1 M",
        ),
        summarise("export.database.raw_readings_per_s.small", [n / s for s, n in db_small], "readings/s", data=small),
        summarise(
            "export.api.raw_readings_per_s",
            [n / s for s, n in api_small],
            "readings/s",
            data=small,
            note="wearstream export --api: JSON pages of 100,000 through uvicorn on the same machine",
        ),
        Measurement(name="export.database ÷ api", value=db_rate / api_rate, unit="×", data=small, note="best of each"),
        summarise(
            "client.series_1m_rows_per_s",
            series,
            "rows/s",
            data="1 year of 1-minute heart-rate rollups (525,600 rows), Client.series(resolution='1m')",
        ),
        Measurement(
            name="export.database.peak_rss",
            value=rss,
            unit="MiB",
            data=year,
            note="ru_maxrss of the `wearstream export` process (series + tables + codebook)",
        ),
    ]
