"""Runs the benchmarks in order, prints progress, and writes the results (see bench/report.py)."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import alerts_replay, cpu, export, ingest, lossless, queries, reference, sources, storage_steady
from bench.common import Measurement, machine
from bench.report import Run, now, ratios, write
from core.settings import Settings, load_settings
from schemas.metrics import HEART_RATE

Step = Callable[[Settings, bool], Awaitable[list[Measurement]]]
LOGS = Path("/tmp/wearstream-bench")


def steps() -> dict[str, Step]:
    hr = (HEART_RATE.name,)

    async def producer(s: Settings, quick: bool) -> list[Measurement]:
        return await ingest.producer_throughput(s, participants=10 if quick else 50, days=2, repeats=3)

    async def side_by_side(s: Settings, quick: bool) -> list[Measurement]:
        return await ingest.side_by_side(s, participants=10 if quick else 50, days=2, sample=2_000 if quick else 20_000)

    async def e2e_hr(s: Settings, quick: bool) -> list[Measurement]:
        return await ingest.end_to_end(
            s,
            participants=10 if quick else 50,
            days=2,
            metrics=hr,
            workers=1,
            partitions=6,
            repeats=1 if quick else 2,
            log_dir=LOGS,
            measure_storage=True,
            measure_total=True,
        )

    async def e2e_mix(s: Settings, quick: bool) -> list[Measurement]:
        return await ingest.end_to_end(
            s,
            participants=10 if quick else 50,
            days=2,
            metrics=None,
            workers=1,
            partitions=6,
            repeats=1 if quick else 2,
            log_dir=LOGS,
            measure_total=True,
        )

    async def scaling(s: Settings, quick: bool) -> list[Measurement]:
        found: list[Measurement] = []
        for workers, partitions in ((2, 6), (4, 12)) if not quick else ((2, 6),):
            found += await ingest.end_to_end(
                s,
                participants=10 if quick else 50,
                days=2,
                metrics=hr,
                workers=workers,
                partitions=partitions,
                repeats=1,
                log_dir=LOGS,
            )
        return found

    async def query(s: Settings, quick: bool) -> list[Measurement]:
        return await queries.query_benchmarks(
            s, cohort=100 if quick else 1000, repeats=20 if quick else 100, log_dir=LOGS
        )

    async def live(s: Settings, quick: bool) -> list[Measurement]:
        return await queries.websocket_latency(
            s, clients=100 if quick else 1000, messages=100 if quick else 500, log_dir=LOGS
        )

    async def lossless_storage(s: Settings, quick: bool) -> list[Measurement]:
        return await lossless.storage(s, participants=2 if quick else 50, days=2)

    async def steady(s: Settings, quick: bool) -> list[Measurement]:
        return await storage_steady.steady_bytes(s, participants=3 if quick else 20, days=3 if quick else 7)

    async def lossless_import(s: Settings, quick: bool) -> list[Measurement]:
        return await lossless.import_throughput(s, participants=1 if quick else 3, repeats=1 if quick else 3)

    async def lossless_e2e(s: Settings, quick: bool) -> list[Measurement]:
        return await lossless.end_to_end_float_vs_integer(
            s, participants=5 if quick else 50, days=2, repeats=1 if quick else 2, log_dir=LOGS
        )

    async def lossless_before(s: Settings, quick: bool) -> list[Measurement]:
        return await reference.before_and_after(s, participants=5 if quick else 50, days=2, pairs=1 if quick else 5)

    async def export_step(s: Settings, quick: bool) -> list[Measurement]:
        return await export.export_benchmarks(s, days=7 if quick else 365, api_days=1 if quick else 7, log_dir=LOGS)

    async def alerts(s: Settings, quick: bool) -> list[Measurement]:
        return await alerts_replay.alerts_replay(
            s, participants=2 if quick else 20, days=36 if quick else 60, log_dir=LOGS / "alerts_replay"
        )

    async def cpu_step(s: Settings, quick: bool) -> list[Measurement]:
        return await cpu.cpu_per_reading(
            s, participants=2 if quick else 30, days=2, repeats=1 if quick else 2, log_dir=LOGS / "cpu"
        )

    async def sources_step(s: Settings, quick: bool) -> list[Measurement]:
        return await sources.sources_benchmark(
            s, participants=10 if quick else 100, days=3, incremental=5 if quick else 25
        )

    return {
        "producer": producer,
        "side_by_side": side_by_side,
        "e2e_hr": e2e_hr,
        "e2e_mix": e2e_mix,
        "scaling": scaling,
        "queries": query,
        "live": live,
        "lossless_storage": lossless_storage,
        "storage_steady": steady,
        "lossless_import": lossless_import,
        "lossless_e2e": lossless_e2e,
        "lossless_before": lossless_before,
        "export": export_step,
        "alerts_replay": alerts,
        "cpu": cpu_step,
        "sources": sources_step,
    }


async def run(names: list[str], quick: bool, settings: Settings) -> Run:
    started = time.monotonic()
    measurements: list[Measurement] = []
    available = steps()
    for position, name in enumerate(names, start=1):
        print(f"[{position}/{len(names)}] {name} …", flush=True)
        step_started = time.monotonic()
        results = await available[name](settings, quick)
        for m in results:
            print(f"    {m.name}: {m.value:,.2f} {m.unit}", flush=True)
        print(f"    ({time.monotonic() - step_started:.0f} s)", flush=True)
        measurements += results
    return Run(
        date=now(),
        machine=machine(),
        seconds=time.monotonic() - started,
        measurements=measurements,
        ratios=ratios(measurements),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(steps())}")
    parser.add_argument("--quick", action="store_true", help="small data, one repeat (a smoke run)")
    parser.add_argument("--no-readme", action="store_true", help="don't update the README's summary")
    args = parser.parse_args(argv)
    names = args.names or list(steps())
    unknown = set(names) - set(steps())
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    result = asyncio.run(run(names, args.quick, load_settings()))
    for name, value in result.ratios.items():
        print(f"{name}: {value:,.1f}×")
    if args.quick:
        print("quick run: nothing written (results are only recorded from full runs)")
        return
    print(f"results: {write(result, update_readme=not args.no_readme)}")
