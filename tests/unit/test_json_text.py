"""The column-wise JSON page of raw readings equals msgspec's encoding of the page with one point per reading."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np
import pytest

from api.series.json_text import points_json, raw_page_json
from api.series.raw import Decoded
from api.series.raw_pages import raw_points
from api.series.schemas import SeriesPage
from schemas.metrics import HEART_RATE, HRV_RMSSD

FACTS = SeriesPage(
    participant_id='P"points":[]',  # the page's key text inside a value: escaped, so never taken for the key
    metric="heart_rate",
    unit="bpm",
    start=dt.datetime(2026, 9, 2, tzinfo=dt.UTC),
    end=dt.datetime(2026, 9, 3, tzinfo=dt.UTC),
    resolution="raw",
    bucket_seconds=None,
    points=[],
    next_cursor="abc",
)


def row_wise(readings: Decoded) -> bytes:
    return msgspec.json.encode(msgspec.structs.replace(FACTS, points=raw_points(readings, HEART_RATE)))


@pytest.mark.parametrize("scale", [1e-6, 1e-4, 0.5, 1.0, 100.0, 1e6, 1e9, 1e10, 1e14, 1e17])
def test_pages_are_byte_identical_over_magnitudes(scale: float) -> None:
    rng = np.random.default_rng(int(scale * 1000) % 89)
    n = 6_000
    values = np.concatenate(
        [
            rng.normal(0, scale, n // 3),
            np.round(rng.normal(0, scale, n // 3)),
            rng.normal(0, scale, n // 3).astype(np.float32).astype(np.float64),
            [0.0, -0.0, 72.0, scale, -scale],
        ]
    )
    times = np.sort(rng.integers(-2_208_988_800_000, 7_258_118_400_000, len(values)))
    times[::2] = times[::2] // 1000 * 1000  # whole seconds (the common case) and milliseconds
    readings = Decoded(times.astype(np.int64), values, [])
    assert raw_page_json(FACTS, readings) == row_wise(readings)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 100.0, 1e10, 1e17])
def test_pages_of_few_distinct_values_are_byte_identical(scale: float) -> None:
    rng = np.random.default_rng(int(scale * 1000) % 79)
    distinct = np.concatenate([rng.normal(0, scale, 40), np.round(rng.normal(0, scale, 40)), [0.0, -0.0, 72.0]])
    values = rng.choice(distinct, 20_000)  # spelt through the dictionary
    for step in (4_000, 4_001):  # every reading on a whole second; none on one
        times = 1_788_307_200_000 + np.arange(len(values), dtype=np.int64) * step
        readings = Decoded(times, values, [])
        assert raw_page_json(FACTS, readings) == row_wise(readings)


def test_empty_pages_and_the_row_wise_cases() -> None:
    empty = Decoded(np.zeros(0, dtype=np.int64), np.zeros(0), [])
    assert raw_page_json(FACTS, empty) == row_wise(empty)
    assert points_json(Decoded(np.array([0]), np.array([np.nan]), [])) is None
    coverage = [np.array([0.5], dtype=np.float32)] * len(HRV_RMSSD.extra_columns)
    assert points_json(Decoded(np.array([0]), np.array([40.0]), coverage, np.array([True]))) is None
    assert points_json(Decoded(np.array([0]), np.array([40.0]), coverage, np.array([False]))) == (
        b'[{"time":"1970-01-01T00:00:00Z","value":40.0}]'
    )
