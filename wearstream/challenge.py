"""`wearstream estimate --challenge`: the original challenge's volume question, answered from measurements.

The challenge (task 0a) asks how many readings a study of n participants over y years produces when *4 metrics
are each sampled once a second*, how many bytes a reading takes uncompressed, what n = 1,000 × 2 years × 3
metrics comes to, and what an 80 % compression would leave. A real Fitbit-class device samples far less than
that (`wearstream estimate` without `--challenge` uses the simulated metric mix); this module answers the
question as it was asked, beside what wearstream measured for a 1 Hz stream.
"""

from __future__ import annotations

from typing import Final

import msgspec

from wearstream.capacity import DEFAULT_ROLLUP_ROW_BYTES, DEFAULT_STORED_BYTES, latest_bench, rollup_row_count

SECONDS_PER_YEAR: Final = 365.25 * 86_400
UNCOMPRESSED_BYTES: Final = 16
"""An 8-byte timestamp (int64 epoch ms) and an 8-byte value (float64): a reading with nothing around it."""
COMPRESSION_CASE: Final = 0.80
"""The challenge's hypothetical: 80 % of the uncompressed bytes saved."""
ONE_HZ_BENCH: Final = "storage.bytes_per_reading.heart_rate.wearipedia_float"
"""The benchmark that stores a real 1 Hz export (wearipedia Charge 6, 7 days, fractional bpm) compacted."""


class ChallengeRow(msgspec.Struct, frozen=True, kw_only=True):
    participants: int
    years: float
    metrics: int
    readings: float
    uncompressed_bytes: float
    compressed_80_bytes: float
    stored_raw_bytes: float
    """Compacted raw segments at the measured bytes per 1 Hz reading."""
    rollup_bytes: float
    """1-minute rows for the 1-minute retention, hourly and daily rows for ever, each metric."""


class ChallengeSources(msgspec.Struct, frozen=True, kw_only=True):
    stored_bytes: float
    stored_from: str
    rollup_row_bytes: float
    rollup_1m_retention_days: float


def challenge_sources(rollup_1m_retention_days: float) -> ChallengeSources:
    """The measured bytes per 1 Hz reading from the latest benchmark results, else the design default."""
    bench = latest_bench()
    if ONE_HZ_BENCH in bench:
        stored, source = bench[ONE_HZ_BENCH], "the latest benchmark (a real 1 Hz export, compacted)"
    elif "storage.wearstream.heart_rate" in bench:
        stored, source = bench["storage.wearstream.heart_rate"], "the latest benchmark (simulated heart rate)"
    else:
        stored, source = DEFAULT_STORED_BYTES, "the default (no measurement found)"
    return ChallengeSources(
        stored_bytes=stored,
        stored_from=source,
        rollup_row_bytes=DEFAULT_ROLLUP_ROW_BYTES,
        rollup_1m_retention_days=rollup_1m_retention_days,
    )


def challenge_row(participants: int, years: float, metrics: int, sources: ChallengeSources) -> ChallengeRow:
    readings = participants * years * SECONDS_PER_YEAR * metrics
    uncompressed = readings * UNCOMPRESSED_BYTES
    # Every minute of every metric has data at 1 Hz: 1,440 one-minute rows a day, plus hours and days.
    rows = rollup_row_count(participants * metrics * 1440, years * 365.25, sources.rollup_1m_retention_days)
    return ChallengeRow(
        participants=participants,
        years=years,
        metrics=metrics,
        readings=readings,
        uncompressed_bytes=uncompressed,
        compressed_80_bytes=uncompressed * (1 - COMPRESSION_CASE),
        stored_raw_bytes=readings * sources.stored_bytes,
        rollup_bytes=rows * sources.rollup_row_bytes,
    )


def challenge_table(
    sources: ChallengeSources,
    participants: tuple[int, ...] = (1, 1000, 10_000),
    years: tuple[float, ...] = (1, 2, 5),
    metrics: int = 4,
) -> list[ChallengeRow]:
    """The challenge's grid: n participants × y years of `metrics` metrics at 1 Hz."""
    return [challenge_row(n, y, metrics, sources) for n in participants for y in years]
