"""The column-wise CSV text equals the row-wise writer's, value for value."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from api.series.csv_text import csv_lines, number_text, rfc3339_ms


def row_wise(table: pa.Table) -> bytes:
    """The reference: the stdlib's time text and Python's repr of each number, empty where null."""
    lines = []
    for row in table.to_pylist():
        values = list(row.values())
        instant = dt.datetime.fromtimestamp(0, dt.UTC) + dt.timedelta(milliseconds=int(values[0].timestamp() * 1000))
        text = [instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")]
        text.extend("" if v is None else repr(v) for v in values[1:])
        lines.append(",".join(text) + "\n")
    return "".join(lines).encode()


def test_times_match_numpy_over_centuries() -> None:
    rng = np.random.default_rng(5)
    ms = np.concatenate([rng.integers(-2_208_988_800_000, 7_258_118_400_000, 50_000), [0, -1, 951_782_400_000]])
    expected = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC").tolist()
    assert rfc3339_ms(ms).to_pylist() == expected


@pytest.mark.parametrize("scale", [1e-6, 1e-4, 0.5, 1.0, 100.0, 1e6, 1e9, 1e10, 1e14, 1e15, 1e17])
def test_numbers_are_written_as_repr_writes_them(scale: float) -> None:
    rng = np.random.default_rng(int(scale * 1000) % 97)
    values = np.concatenate(
        [
            rng.normal(0, scale, 5_000),
            np.round(rng.normal(0, scale, 5_000)),
            rng.normal(0, scale, 1_000).astype(np.float32).astype(np.float64),
            [0.0, -0.0, np.inf, -np.inf, np.nan, scale, -scale, 9.999e15, 1e16, 1.5e-5],
        ]
    )
    assert number_text(pa.array(values)).to_pylist() == [repr(float(v)) for v in values]


def test_lines_match_the_row_wise_writer_with_nulls() -> None:
    times = pa.array(np.arange(1_000, dtype=np.int64) * 1_000 + 1_788_000_000_123).cast(pa.timestamp("ms", tz="UTC"))
    values = pa.array(np.round(60 + 30 * np.sin(np.arange(1_000) / 50), 1))
    extra = pa.array([None if k % 3 else k / 7 for k in range(1_000)], type=pa.float64())
    counts = pa.array(np.arange(1_000, dtype=np.int64) * 7 - 300)
    table = pa.table({"time": times, "value": values, "coverage": extra, "count": counts})
    text = csv_lines(table)
    assert text == row_wise(table)
    assert text.count(b"\n") == 1_000
    assert text.splitlines()[1].split(b",")[2] == b""  # a null is an empty field
    assert text.splitlines()[1].endswith(b",-293")  # an integer column stays integral


@pytest.mark.parametrize("scale", [1e-6, 1.0, 100.0, 1e10, 1e17])
def test_few_distinct_values_are_written_as_repr_writes_them(scale: float) -> None:
    rng = np.random.default_rng(int(scale * 1000) % 83)
    distinct = np.concatenate([rng.normal(0, scale, 40), np.round(rng.normal(0, scale, 40)), [0.0, -0.0, 1e16]])
    values = rng.choice(distinct, 20_000)  # at most 83 distinct values: spelt through the dictionary
    assert number_text(pa.array(values)).to_pylist() == [repr(float(v)) for v in values]
    assert number_text(pa.array([-0.0, 0.0] * 50)).to_pylist() == ["-0.0", "0.0"] * 50


def test_times_of_a_few_days_and_of_one_day() -> None:
    rng = np.random.default_rng(9)
    for ms in (rng.integers(1_788_307_200_000, 1_788_566_400_000, 20_000), np.arange(-3_000, 3_000) * 997):
        expected = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC").tolist()
        assert rfc3339_ms(ms).to_pylist() == expected


@pytest.mark.parametrize(("scale", "readings"), [(1e-6, 12_000), (1.0, 1_000), (1e17, 12_000)])
def test_lines_of_few_distinct_values_match_numpy_and_repr(scale: float, readings: int) -> None:
    rng = np.random.default_rng(int(scale * 1000) % 71)
    distinct = np.concatenate([rng.normal(0, scale, 30), np.round(rng.normal(0, scale, 30)), [0.0, -0.0, 72.0]])
    values = rng.choice(distinct, readings)  # one text per distinct value
    ms = np.sort(rng.integers(-2_208_988_800_000, 7_258_118_400_000, readings))  # 1,000 over centuries: few share a day
    table = pa.table({"time": pa.array(ms).cast(pa.timestamp("ms", tz="UTC")), "value": pa.array(values)})
    stamps = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC").tolist()
    expected = "".join(f"{t},{float(v)!r}\n" for t, v in zip(stamps, values, strict=True)).encode()
    assert csv_lines(table) == expected
