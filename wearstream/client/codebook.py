"""The data dictionary of an export: every column's type, unit, precision, time zone and definition.

Metric facts come from the registry (`schemas/metrics.py`); table definitions follow the README's API section.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import pyarrow as pa

from schemas import codebook as schemas_codebook
from schemas.metrics import METRICS
from wearstream.client import frames
from wearstream.client.partitions import ExportResolution, series_schema

UTC: Final = "UTC (tz-aware)"
LOCAL: Final = "the participant's local wall clock (naive; zone in `timezone`)"
LOCAL_DATE: Final = "a local date of the participant (naive midnight)"

SERIES: Final[dict[str, str]] = {
    "metric": "Hive partition key: the metric (see `metrics`).",
    "participant": "Hive partition key: the participant id.",
    "time": "Raw: the reading's instant. Rollups: the start of the bucket [time, time + bucket).",
    "local_time": "`time` on the participant's wall clock.",
    "timezone": "The participant's IANA time zone.",
    "value": "Raw: the reading as the device sent it (stored losslessly at the metric's precision).",
    "coverage": "hrv_rmssd: fraction of the 5-minute window with usable beats.",
    "lf": "hrv_rmssd: low-frequency power.",
    "hf": "hrv_rmssd: high-frequency power.",
    "stage": "breathing_rate: the sleep stage the value is for (SleepStage code; -1 = the full night).",
    "count": "Rollups: readings in the bucket.",
    "min": "Rollups: smallest reading in the bucket.",
    "max": "Rollups: largest reading in the bucket.",
    "mean": "Rollups: mean of the bucket's readings (sum / count).",
    "sum": "Rollups of summed metrics (steps, active_zone_minutes): the bucket's total.",
    "wake_epochs": "sleep_stage rollups: 30 s epochs staged wake.",
    "light_epochs": "sleep_stage rollups: 30 s epochs staged light.",
    "deep_epochs": "sleep_stage rollups: 30 s epochs staged deep.",
    "rem_epochs": "sleep_stage rollups: 30 s epochs staged rem.",
    "imputed_minutes": "--imputed, rollups: how many of the bucket's `count` values are imputed minutes (each "
    "imputed minute counts as one value, its 1-minute estimate).",
    "imputed": "--imputed: true on a row that is one imputed minute (not a reading), false on observed rows.",
    "imputation_run": "--imputed, imputed rows: the imputation run (`wearstream impute --list`) that made the row.",
    "standard_error": "--imputed, imputed rows: the estimate's standard error.",
    "lower": "--imputed, imputed rows: the lower bound of the estimate's 95 % interval.",
    "upper": "--imputed, imputed rows: the upper bound of the estimate's 95 % interval.",
}

TABLES: Final[dict[str, dict[str, str]]] = {
    "participants": {
        "participant_id": "Study id.",
        "enrolled_on": "Enrolment date.",
        "timezone": "IANA time zone; local dates and days use it.",
        "authorisation": "Data-sharing authorisation (authorised, revoked, …).",
        "device_id": "The participant's device.",
        "last_upload": "Latest device upload at or before `as_of`.",
        "hours_since_last_upload": "Hours from `last_upload` to `as_of`.",
        "last_import": "Latest `wearstream import` of the participant's data (an import is not a device upload).",
        "wear_pct_7d": "Wear % over the 7 local dates before `as_of`'s date.",
        "nights_with_sleep_7d": "Nights with sleep data among those 7.",
        "open_gaps": "Open gaps now.",
        "open_gap_kinds": "Kinds of the open gaps.",
        "flags": "Adherence flags (not_authorised, no_recent_upload, low_wear, low_sleep_data).",
    },
    "daily": {
        "date": "The local date D.",
        "day_minutes": "Minutes in the local day (1,380 or 1,500 on daylight-saving changes).",
        "wear_minutes": "1-minute buckets of D with heart rate.",
        "wear_pct": "wear_minutes / day_minutes × 100.",
        "coverage_pct_*": "Minutes of D with data of that metric / day_minutes × 100.",
        "resting_hr": (
            "NightSignal: the mean, over 00:00–06:59 local minutes with HR and steps = 0, of each minute's mean HR."
        ),
        "resting_hr_minutes": "Minutes `resting_hr` is the mean of.",
        "steps": "Total steps of D.",
        "active_zone_minutes": "Total AZM of D.",
        "sleep_*": "The night ending on D (see the sleep table).",
        "uploads": "Device uploads during D.",
        "last_upload": "The last upload during D.",
        "imputed_minutes_*": "--imputed include|only: minutes of D the imputation run imputed for the metric (the "
        "other columns are observed data)",
    },
    "sleep": {
        "date": "The sleep date: the local date the night ends on; the night is [D−1 12:00, D 12:00) local.",
        "window_start": "Start of the night's window.",
        "window_end": "End of the night's window.",
        "has_sleep": "Any sleep-stage epoch in the window.",
        "stage_minutes_*": "30 s epochs of that stage / 2.",
        "minutes_in_bed": "All epochs / 2.",
        "minutes_asleep": "Light + deep + rem epochs / 2.",
        "efficiency_pct": "(light + deep + rem) / all epochs × 100.",
        "onset": "First epoch's start.",
        "offset": "Last epoch's end.",
        "spo2_mean": "Mean SpO2 of the night.",
        "spo2_min": "Lowest SpO2 of the night.",
        "hrv_rmssd_mean": "Mean of the night's 5-minute RMSSD values.",
        "breathing_rate": "The device's full-night breathing rate.",
    },
    "adherence": {
        "date": "The local date.",
        "worn_minutes": "Minutes with heart rate on the date.",
        "day_minutes": "Minutes in the local day.",
        "wear_pct": "worn_minutes / day_minutes × 100.",
        "sleep": "The night ending this morning has sleep data.",
    },
    "adherence_summary": {
        "days": "Dates of the window on or after enrolment.",
        "wear_pct": "Σ worn minutes / Σ minutes of those days × 100.",
        "nights_with_sleep": "Dates whose night has any sleep-stage epoch.",
        "sleep_pct": "nights_with_sleep / days × 100.",
        "last_upload": "Latest upload at or before `as_of`.",
        "hours_since_last_upload": "Hours from `last_upload` to `as_of`.",
        "last_import": "Latest `wearstream import` of the participant's data (an import is not a device upload).",
        "flags": "not_authorised, no_recent_upload (> max_upload_age_h), low_wear, low_sleep_data.",
        "start": "First local date of the window.",
        "end": "The local date after the window (exclusive).",
        "as_of": "The instant the upload ages are measured at.",
    },
    "gaps": {
        "kind": "not_worn (uploads continued but no heart rate) or not_synced (no upload for hours).",
        "start": "Start of the hole.",
        "end": "End of the hole (null while open).",
        "open": "Still open.",
        "duration_s": "end − start; for an open gap, now − start.",
        "detected_at": "When the processor detected it.",
        "closed_at": "When it closed.",
        "local_start": "`start` on the participant's wall clock.",
        "local_end": "`end` on the participant's wall clock.",
    },
    "alerts": {
        "detector": "nightsignal or cusum.",
        "level": "yellow or red.",
        "night": "The local date of the morning the alert is dated (07:00 local).",
        "value": "The night's resting heart rate.",
        "baseline": "The baseline it was compared with.",
        "state": "The alert's state.",
    },
}
COMMON: Final[dict[str, str]] = {
    "participant_id": "Study id.",
    "timezone": "The participant's IANA time zone.",
}


def metric_entry(name: str) -> dict[str, Any]:
    """The registry's codebook entry of a metric (`schemas.codebook`, also served at `GET /v1/metrics`)."""
    entry: dict[str, Any] = msgspec.to_builtins(schemas_codebook.metric_entry(METRICS[name]))
    return entry


def _describe(table: str, column: str) -> str:
    known = SERIES if table == "series" else {**COMMON, **TABLES["participants"], **TABLES.get(table, {})}
    if column in known:
        return known[column]
    for pattern, text in known.items():
        if pattern.endswith("*") and column.startswith(pattern[:-1]):
            return f"{text} ({column.removeprefix(pattern[:-1])})"
    return ""


def _zone(field: pa.Field) -> str | None:
    if pa.types.is_timestamp(field.type):
        return UTC if field.type.tz else (LOCAL if field.name.startswith("local_") else LOCAL_DATE)
    return None


def columns(table: str, schema: pa.Schema, units: dict[str, str]) -> dict[str, dict[str, Any]]:
    """One entry per column of `schema`: type, unit, time zone (for timestamps) and definition."""
    out: dict[str, dict[str, Any]] = {}
    for field in schema:
        entry: dict[str, Any] = {"type": str(field.type), "description": _describe(table, field.name)}
        if field.name in units and units[field.name] not in ("UTC", LOCAL):
            entry["unit"] = units[field.name]
        zone = _zone(field)
        if zone:
            entry["time_zone"] = zone
        out[field.name] = entry
    return out


def series_entries(
    metrics: tuple[str, ...], resolution: ExportResolution, part: str, rows: dict[str, int], imputed: str = "exclude"
) -> dict[str, Any]:
    """The entry for each metric's series files: the columns that apply to it, with `rows` readings in all."""
    series: dict[str, Any] = {}
    with_imputed = imputed != "exclude"
    for metric in metrics:
        applies = set(frames.series_columns(metric, resolution, with_imputed))
        every = series_schema(resolution, with_imputed)
        schema = pa.schema([f for f in every if f.name in applies or f.name in ("local_time", "timezone")]).append(
            pa.field("participant", pa.string())
        )
        series[f"series {metric}"] = {
            "path": f"series/metric={metric}/participant=*/{part}",
            "rows": rows.get(metric, 0),
            "columns": columns("series", schema, frames.series_units(metric, resolution, with_imputed)),
            "note": f"{metric} at resolution {resolution}; partition key `metric` = {metric}. Every series "
            f"file has the columns {', '.join(f.name for f in every)}; those not listed "
            f"here are null for this metric.{IMPUTED_NOTES.get(imputed, '')}",
        }
    return series


IMPUTED_NOTES: Final = {
    "include": " Exported with --imputed include: the observed readings (imputed = false) and the imputed minutes "
    "of the latest complete imputation run covering each participant × metric (imputed = true; imputation_run, "
    "standard_error, lower, upper). Imputed minutes are estimates, not readings; filter on `imputed` to drop them.",
    "only": " Exported with --imputed only: the imputed minutes alone (imputed = true), not readings.",
}


def readme(codebook: dict[str, Any]) -> str:
    """The codebook as Markdown, for people who open the folder before the data."""
    spec = codebook["export"]
    lines = [
        "# wearstream study export",
        "",
        f"Exported {spec['exported_at']} from {spec['api']}: resolution `{spec['resolution']}`, "
        f"{len(spec['participants'])} participants, metrics {', '.join(spec['metrics'])}, "
        f"range {spec['start'] or 'all stored'} … {spec['end'] or 'all stored'} (dates are local midnights).",
        "",
        "Series are Hive-partitioned (`series/metric=…/participant=…/`, zstd Parquet): read them as one dataset,",
        "e.g. `pyarrow.dataset.dataset('series', partitioning='hive')` or DuckDB",
        "`read_parquet('series/**/*.parquet', hive_partitioning = true)`. Timestamps named `time`, `start`, … are",
        "UTC; `local_*` columns are the participant's wall clock; dates are the participant's local dates.",
        "Values are as the devices sent them; nothing is imputed."
        if spec.get("imputed", "exclude") == "exclude"
        else f"Readings are as the devices sent them; with --imputed {spec['imputed']} the series also hold imputed "
        "minutes, flagged `imputed` with their run, standard error and 95 % interval (see each series' note).",
        "",
        "## Metrics",
        "",
        "| metric | unit | precision | valid range | native resolution (s) | rollup | definition |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in codebook["metrics"].items():
        low, high = entry["valid_range"]
        lines.append(
            f"| {name} | {entry['unit']} | {entry['precision']:g} | {low:g}–{high:g} | "
            f"{entry['native_resolution_s'] or 'irregular'} | {entry['rollup']} | {entry['description']} |"
        )
    for table, entry in codebook["tables"].items():
        lines += ["", f"## {table}", "", f"`{entry['path']}` — {entry['rows']} rows. {entry.get('note', '')}".rstrip()]
        lines += ["", "| column | type | unit | time zone | definition |", "|---|---|---|---|---|"]
        for column, facts in entry["columns"].items():
            lines.append(
                f"| {column} | {facts['type']} | {facts.get('unit', '')} | {facts.get('time_zone', '')} | "
                f"{facts['description']} |"
            )
    for table, reason in codebook.get("missing", {}).items():
        lines += ["", f"## {table}", "", f"Not exported: {reason}"]
    return "\n".join(lines) + "\n"
