"""JSON answers of the API → long-format pandas DataFrames (or Arrow tables, or polars frames).

Instants become tz-aware UTC timestamps; `local_time` (and `local_start`/`local_end` for gaps) is the
participant's wall-clock time, a naive timestamp beside a `timezone` column (one frame may hold participants in
several zones, which no single tz-aware column can); dates are naive midnights of the local date, as in the API.
Units live in `df.attrs["units"]` (column → unit) and, for Arrow, in each field's metadata under `unit`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

import pandas as pd

from schemas.codebook import STAGES, field_units, imputed_fields, imputed_units, point_fields
from schemas.metrics import METRICS

Frame = Literal["pandas", "arrow", "polars"]
INSTANT_FIELDS: Final = frozenset(
    {
        "time",
        "start",
        "end",
        "last_upload",
        "last_import",
        "detected_at",
        "closed_at",
        "window_start",
        "window_end",
        "onset",
        "offset",
        "as_of",
        "created_at",
        "updated_at",
        "first_reading",
        "last_reading",
    }
)
DATE_FIELDS: Final = frozenset({"date", "enrolled_on", "night"})


def series_columns(metric: str, resolution: str, imputed: bool = False) -> list[str]:
    """The point columns of a series frame (besides participant_id, metric, local_time, timezone); with
    `imputed` (an answer with `imputed=include|only`) the imputation columns after them."""
    return point_fields(METRICS[metric], resolution) + (imputed_fields(resolution) if imputed else [])


def all_series_columns(resolution: str) -> list[str]:
    """The point columns of every metric at a resolution, in a fixed order (the union of `series_columns`)."""
    names: dict[str, None] = {}
    for metric in METRICS:
        names.update(dict.fromkeys(series_columns(metric, resolution)))
    return list(names)


def series_units(metric: str, resolution: str, imputed: bool = False) -> dict[str, str]:
    units = {"local_time": "participant-local wall clock", **field_units(METRICS[metric], resolution)}
    return units | (imputed_units(METRICS[metric], resolution) if imputed else {})


def _point_rows(points: Sequence[Mapping[str, Any]], columns: list[str], resolution: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {name: [] for name in columns}
    provenance = [c for c in columns if c in imputed_fields(resolution)]
    extras = [c for c in columns[2:] if c not in provenance] if resolution == "raw" else []
    for point in points:
        out["time"].append(point["time"])
        for name in provenance:
            out[name].append(point.get(name))
        if resolution == "raw":
            out["value"].append(point.get("value"))
            extra = point.get("extra") or {}
            for name in extras:
                out[name].append(extra.get(name))
            continue
        for name in ("count", "min", "max", "mean", "sum"):
            if name in out:
                out[name].append(point.get(name))
        if "wake_epochs" in out:
            epochs = point.get("stage_epochs") or [None] * len(STAGES)
            for stage, value in zip(STAGES, epochs, strict=True):
                out[f"{stage}_epochs"].append(value)
    return out


def utc(values: Any) -> Any:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def local(times: Any, timezone: str) -> Any:
    """Wall-clock times in `timezone` (naive) of tz-aware UTC `times`."""
    return times.dt.tz_convert(timezone).dt.tz_localize(None)


def series_frame(
    participant_id: str,
    metric: str,
    timezone: str,
    resolution: str,
    points: Sequence[Mapping[str, Any]],
    imputed: bool = False,
) -> pd.DataFrame:
    """One participant's points of one metric: participant_id, metric, time, local_time, timezone, fields (and
    the imputation columns with `imputed`)."""
    columns = series_columns(metric, resolution, imputed)
    frame = pd.DataFrame(_point_rows(points, columns, resolution), columns=columns)
    # Readings are epoch milliseconds: a millisecond unit is exact and the same for every frame.
    frame["time"] = utc(frame["time"]) if len(frame) else frame["time"]
    return _series_typed(frame, participant_id, metric, timezone, resolution)


def page_frame(participant_id: str, metric: str, timezone: str, page: Mapping[str, Any]) -> pd.DataFrame:
    """A series page as its frame: an Arrow page (`table`, one column per point field) or a JSON page
    (`points`) give the same frame."""
    resolution = page["resolution"]
    imputed = page.get("imputed", "exclude") != "exclude"
    if "table" not in page:
        return series_frame(participant_id, metric, timezone, resolution, page["points"], imputed)
    table = page["table"]
    columns = series_columns(metric, resolution, imputed)
    if table.column_names != columns:
        raise ValueError(f"series page: expected the columns {columns}, got {table.column_names}")
    frame = table.to_pandas(timestamp_as_object=False).reindex(columns=columns)
    return _series_typed(frame, participant_id, metric, timezone, resolution)


def _series_typed(
    frame: pd.DataFrame, participant_id: str, metric: str, timezone: str, resolution: str
) -> pd.DataFrame:
    columns = list(frame.columns)
    frame["time"] = frame["time"].astype("datetime64[ms, UTC]")
    for name in columns[1:]:
        if name in ("imputed", "imputation_run"):
            frame[name] = frame[name].astype("boolean" if name == "imputed" else "string")
            continue
        integral = name in ("count", "imputed_minutes") or name.endswith("_epochs")
        frame[name] = pd.to_numeric(frame[name]).astype("Int64" if integral else "float64")
    frame.insert(0, "metric", metric)
    frame.insert(0, "participant_id", participant_id)
    frame.insert(3, "local_time", local(frame["time"], timezone))
    frame.insert(4, "timezone", timezone)
    frame.attrs["units"] = series_units(metric, resolution, "imputed" in columns)
    return frame


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Instants to UTC timestamps and dates to naive midnights, by field name (nested names end with it)."""
    for column in frame.columns:
        base = str(column).split(".")[-1]
        textual = pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column])
        if base in INSTANT_FIELDS and textual:
            # Microseconds: the finest the API writes, so parsing never rounds an instant.
            frame[column] = utc(frame[column]).astype("datetime64[us, UTC]")
        elif base in DATE_FIELDS and textual:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    frame.columns = [str(c).replace(".", "_") for c in frame.columns]
    return frame


def records_frame(records: Sequence[Mapping[str, Any]], columns: Iterable[str] = ()) -> pd.DataFrame:
    """Records (nested objects flattened with `_`) as a typed frame; `columns` first, in that order."""
    frame = pd.json_normalize(list(records), sep=".") if records else pd.DataFrame(columns=list(columns))
    frame = typed(frame)
    first = [c for c in columns if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def add_local(frame: pd.DataFrame, zones: Mapping[str, str], fields: Sequence[str]) -> pd.DataFrame:
    """Adds `local_<field>` (participant wall clock) and `timezone` from the participants' zones."""
    frame["timezone"] = frame["participant_id"].map(lambda p: zones.get(p, "UTC")) if len(frame) else []
    for name in fields:
        values = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
        if len(frame):
            for zone, rows in frame.groupby("timezone").groups.items():
                values.loc[rows] = local(frame.loc[rows, name], str(zone)).astype("datetime64[ns]")
        frame[f"local_{name}"] = values
    return frame


def concat(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    nonempty = [f for f in frames if len(f)]
    if not nonempty:
        return empty
    joined = pd.concat(nonempty, ignore_index=True) if len(nonempty) > 1 else nonempty[0].reset_index(drop=True)
    joined.attrs = dict(empty.attrs)
    return joined


def convert(frame: pd.DataFrame, kind: Frame) -> Any:
    """The frame as asked: pandas as is, a pyarrow Table (units in field metadata), or a polars DataFrame."""
    if kind == "pandas":
        return frame
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    units: dict[str, str] = frame.attrs.get("units", {})
    fields = [
        field.with_metadata({"unit": units[field.name]}) if field.name in units else field for field in table.schema
    ]
    meta = {k: str(v) for k, v in frame.attrs.items() if k != "units"}
    table = table.cast(pa.schema(fields, metadata={**(table.schema.metadata or {}), **meta}))
    if kind == "arrow":
        return table
    if kind == "polars":
        try:
            import polars as pl
        except ImportError as error:
            raise ImportError("frame='polars' needs polars installed (pip install polars)") from error
        return pl.from_arrow(table)
    raise ValueError(f"frame: expected pandas, arrow or polars, got {kind!r}")
