"""A series page as an Arrow IPC stream (`format=arrow`): the JSON page's points as columns.

The columns are the metric's point fields (`schemas.codebook.point_fields`: `time`, `value` and the secondary
columns for raw points; `count, min, max, mean` [+ `sum`, + one `<stage>_epochs` per sleep stage] for rollups),
then, with `imputed=include|only`, the imputation columns (`schemas.codebook.imputed_fields`), each with its
unit in the field metadata; the page's facts (participant, metric, unit, resolution, bucket width, range, next
cursor; and `imputed`, `imputation_run`) are in the schema metadata and, for clients that read headers first,
in headers.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from api.params import to_ms
from api.series.raw import Decoded
from api.series.schemas import Point, SeriesPage
from schemas.codebook import STAGES, field_units, imputed_fields, imputed_units, point_fields
from schemas.metrics import Metric

MEDIA_TYPE: Final = "application/vnd.apache.arrow.stream"
NEXT_CURSOR_HEADER: Final = "X-Next-Cursor"
RESOLUTION_HEADER: Final = "X-Resolution"
BUCKET_SECONDS_HEADER: Final = "X-Bucket-Seconds"


def point_schema(metric: Metric, level: str, *, imputed: bool = False) -> pa.Schema:
    """The page's columns: `time` (UTC, ms), integer counts and epochs, float64 values; units in metadata. With
    `imputed` (`imputed=include|only`) the imputation columns follow: `imputed_minutes` (rollups; int64),
    `imputed` (bool), `imputation_run` (string), `standard_error`, `lower`, `upper` (float64)."""
    units = field_units(metric, level) | (imputed_units(metric, level) if imputed else {})
    fields = []
    for name in point_fields(metric, level) + (imputed_fields(level) if imputed else []):
        if name == "time":
            kind: pa.DataType = pa.timestamp("ms", tz="UTC")
        elif name == "imputed":
            kind = pa.bool_()
        elif name == "imputation_run":
            kind = pa.string()
        elif name in ("count", "imputed_minutes") or name.endswith("_epochs"):
            kind = pa.int64()
        else:
            kind = pa.float64()
        metadata = {"unit": units[name]} if name in units else None
        fields.append(pa.field(name, kind, nullable=name != "time", metadata=metadata))
    return pa.schema(fields)


def _column(points: list[Point], name: str) -> list[object]:
    if name == "time":
        return [to_ms(p.time) for p in points]
    if name.endswith("_epochs"):
        index = STAGES.index(name.removesuffix("_epochs"))
        return [p.stage_epochs[index] if p.stage_epochs is not None else None for p in points]
    if name in ("value", "count", "min", "max", "mean", "sum", *imputed_fields("1m")):
        return [getattr(p, name) for p in points]
    return [p.extra.get(name) if p.extra is not None else None for p in points]


def headers(page: SeriesPage) -> dict[str, str]:
    out: dict[str, str] = {RESOLUTION_HEADER: page.resolution}
    if page.bucket_seconds is not None:
        out[BUCKET_SECONDS_HEADER] = str(page.bucket_seconds)
    if page.next_cursor is not None:
        out[NEXT_CURSOR_HEADER] = page.next_cursor
    return out


def _schema(page: SeriesPage, metric: Metric) -> pa.Schema:
    schema = point_schema(metric, page.resolution, imputed=page.imputed != "exclude")
    facts = {
        "participant_id": page.participant_id,
        "metric": page.metric,
        "unit": page.unit,
        "resolution": page.resolution,
        "bucket_seconds": "" if page.bucket_seconds is None else str(page.bucket_seconds),
        "start": page.start.isoformat(),
        "end": page.end.isoformat(),
        "next_cursor": page.next_cursor or "",
    }
    if page.imputed != "exclude":
        facts |= {"imputed": page.imputed, "imputation_run": page.imputation_run or ""}
    return schema.with_metadata(facts)


def _stream(schema: pa.Schema, arrays: list[pa.Array]) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return bytes(sink.getvalue().to_pybytes())


def encode(page: SeriesPage, metric: Metric) -> bytes:
    """The page as one Arrow IPC stream (a schema message and one record batch)."""
    schema = _schema(page, metric)
    return _stream(schema, [pa.array(_column(page.points, f.name), type=f.type) for f in schema])


def encode_raw(page: SeriesPage, readings: Decoded, metric: Metric) -> bytes:
    """A raw page (`page`'s facts, without points) and its readings as one Arrow IPC stream, the columns built
    from the decoded arrays: the same stream `encode` gives for the page with one point per reading."""
    schema = _schema(page, metric)
    missing = ~readings.has_extra
    arrays = [
        pa.array(readings.times, type=pa.int64()).cast(schema.field("time").type),
        pa.array(readings.values, type=pa.float64()),
        *(pa.array(column, type=pa.float64(), mask=missing) for column in readings.extra_float64()),
    ]
    return _stream(schema, arrays)
