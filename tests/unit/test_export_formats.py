"""The export's writers without services: PostgreSQL binary arrays decoded with numpy, row groups independent
of page sizes, Open mHealth sleep episodes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from api.series.raw import FLOAT4 as _FLOAT4
from api.series.raw import INT4 as _INT4
from api.series.raw import elements as _elements
from wearstream.client.omh import OmhWriter
from wearstream.client.partitions import ROW_GROUP, PartWriter, series_schema

START_MS = 1_772_755_200_000  # 2026-03-06T00:00Z


def binary_array(kind: str, values: list[float], oid: int) -> bytes:
    """What `array_send` writes for a one-dimensional array without NULLs."""
    header = struct.pack(">iiiii", 1, 0, oid, len(values), 1)
    return header + b"".join(struct.pack(f">i{kind}", 4, v) for v in values)


def test_binary_arrays_decode_to_their_elements() -> None:
    ints = _elements(binary_array("i", [0, 1000, -3, 2**31 - 1], 23), _INT4)
    assert ints is not None
    assert ints.tolist() == [0, 1000, -3, 2**31 - 1]
    floats = _elements(binary_array("f", [0.97, 12.5], 700), _FLOAT4)
    assert floats is not None
    np.testing.assert_array_equal(floats, np.array([0.97, 12.5], dtype=np.float32))
    empty = _elements(struct.pack(">iii", 0, 0, 23), _INT4)
    assert empty is not None
    assert len(empty) == 0
    assert _elements(None, _INT4) is None


def rows(n: int, offset: int = 0) -> pa.Table:
    schema = series_schema("raw")
    time = pa.array(START_MS + 1000 * np.arange(offset, offset + n, dtype=np.int64), pa.timestamp("ms", tz="UTC"))
    columns = {
        "time": time,
        "local_time": pc.local_timestamp(time.cast(pa.timestamp("ms", tz="Europe/Berlin"))),
        "timezone": pa.repeat(pa.scalar("Europe/Berlin"), n),
        "value": pa.array(np.full(n, 70.0)),
    }
    return pa.Table.from_arrays([columns.get(f.name, pa.nulls(n, f.type)) for f in schema], schema=schema)


def test_row_groups_do_not_depend_on_the_pages(tmp_path: Path) -> None:
    total = ROW_GROUP + 40_000
    one, many = tmp_path / "a" / "part-0.parquet", tmp_path / "b" / "part-0.parquet"
    writer = PartWriter(one, "parquet", series_schema("raw"))
    writer.add_table(rows(total))
    assert writer.finish() == total
    writer = PartWriter(many, "parquet", series_schema("raw"))
    for offset in range(0, total, 70_001):
        writer.add_table(rows(min(70_001, total - offset), offset))
    writer.finish()
    assert one.read_bytes() == many.read_bytes()
    metadata = pq.ParquetFile(one).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [ROW_GROUP, 40_000]
    assert writer.first is not None
    assert writer.first.hour == 1  # local time in Berlin


def test_sleep_epochs_become_episodes_from_onset_to_final_awakening(tmp_path: Path) -> None:
    wake, light, deep = 0.0, 1.0, 2.0
    night = [wake, wake, light, deep, wake, light, wake]  # onset at epoch 2, final awakening after epoch 5
    nap = [light, light]
    times = [START_MS + 30_000 * k for k in range(len(night))]
    times += [START_MS + 4 * 3_600_000 + 30_000 * k for k in range(len(nap))]  # after a gap of hours
    schema = series_schema("raw")
    table = rows(len(times)).set_column(0, "time", pa.array(times, pa.timestamp("ms", tz="UTC")))
    table = table.set_column(schema.get_field_index("value"), "value", pa.array(night + nap))
    path = tmp_path / "part-0.jsonl"
    writer = OmhWriter(path, schema, "sleep_stage", "P0001")
    writer.add_table(table)
    writer.finish()
    points = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(points) == 2
    first = points[0]["body"]
    assert first["effective_time_frame"]["time_interval"] == {
        "start_date_time": "2026-03-06T00:01:00.000Z",
        "end_date_time": "2026-03-06T00:03:00.000Z",
    }
    assert first["total_sleep_time"] == {"value": 1.5, "unit": "min"}
    assert first["wake_after_sleep_onset"] == {"value": 0.5, "unit": "min"}
    assert first["number_of_awakenings"] == 1
    assert first["latency_to_sleep_onset"] == {"value": 1.0, "unit": "min"}
    assert points[0]["header"]["schema_id"] == {"namespace": "omh", "name": "sleep-episode", "version": "1.1"}
    assert points[1]["body"]["total_sleep_time"] == {"value": 1.0, "unit": "min"}
    # The same data gives the same ids (a re-export writes the same lines).
    again = OmhWriter(tmp_path / "again.jsonl", schema, "sleep_stage", "P0001")
    again.add_table(table)
    again.finish()
    assert (tmp_path / "again.jsonl").read_text() == path.read_text()
