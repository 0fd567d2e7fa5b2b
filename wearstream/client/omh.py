"""Series as Open mHealth / IEEE 1752.1 data points: one JSON object per line, a header and a body each.

| metric | schema | one data point per |
|---|---|---|
| heart_rate | omh:heart-rate:2.0 | reading (`effective_time_frame.date_time`) |
| spo2 | omh:oxygen-saturation:2.0 | reading (pulse oximetry, peripheral capillary) |
| steps | omh:step-count:3.0 | 1-minute reading (`time_interval` [time, time + 1 min)) |
| sleep_stage | omh:sleep-episode:1.1 | episode: 30 s epochs without a 30-minute gap, first to last asleep |

The schemas are published at https://w3id.org/omh/schemas/omh/<name>-<version>.json (Open mHealth); the header
follows omh:header:1.2. Each point's `id` is a UUID derived from participant, metric and time, so exporting the
same data again writes the same lines; `creation_date_time` is the reading's instant (the store keeps no
creation time per reading).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa

from wearstream.client.partitions import ExportFormat, ExportResolution, PartWriter, series_schema

SCHEMAS: Final = {
    "heart_rate": ("heart-rate", "2.0"),
    "spo2": ("oxygen-saturation", "2.0"),
    "steps": ("step-count", "3.0"),
    "sleep_stage": ("sleep-episode", "1.1"),
}
"""The metrics OMH has a schema for, and that schema's name and version."""
NAMESPACE: Final = uuid.UUID("0b8f2d6e-5d0a-4a8e-9f5e-6f6d68776561")
EPOCH_MS: Final = 30_000
EPISODE_BREAK_MS: Final = 30 * 60_000
WAKE: Final = 0
_encoder: Final = msgspec.json.Encoder()


def _instant(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _minutes(epochs: int) -> dict[str, Any]:
    return {"value": epochs * EPOCH_MS / 60_000, "unit": "min"}


class OmhWriter(PartWriter):
    """One participant × metric file of OMH data points (JSON lines), renamed into place by `finish`."""

    def __init__(self, path: Path, schema: pa.Schema, metric: str, participant_id: str) -> None:
        super().__init__(path, "parquet", schema)
        if metric not in SCHEMAS:
            raise ValueError(f"Open mHealth has no schema for {metric} (it has: {', '.join(SCHEMAS)})")
        self.metric = metric
        self.participant_id = participant_id
        self._file: Any = None
        self._episode: list[tuple[int, int]] = []
        """sleep_stage: the epochs (ms, stage) of the episode not yet closed."""

    def _point(self, time_ms: int, body: dict[str, Any]) -> bytes:
        name, version = SCHEMAS[self.metric]
        header = {
            "id": str(uuid.uuid5(NAMESPACE, f"{self.participant_id}/{self.metric}/{time_ms}")),
            "creation_date_time": _instant(time_ms),
            "schema_id": {"namespace": "omh", "name": name, "version": version},
            "acquisition_provenance": {"source_name": "wearstream", "modality": "sensed"},
            "user_id": self.participant_id,
        }
        return _encoder.encode({"header": header, "body": body}) + b"\n"

    def _lines(self, times: np.ndarray, values: np.ndarray) -> list[bytes]:
        if self.metric == "sleep_stage":
            return self._episodes(times, values, final=False)
        lines = []
        for time_ms, value in zip(times.tolist(), values.tolist(), strict=True):
            body: dict[str, Any]
            if self.metric == "heart_rate":
                body = {
                    "heart_rate": {"value": value, "unit": "beats/min"},
                    "effective_time_frame": {"date_time": _instant(time_ms)},
                }
            elif self.metric == "spo2":
                body = {
                    "oxygen_saturation": {"value": value, "unit": "%"},
                    "system": "peripheral capillary",
                    "measurement_method": "pulse oximetry",
                    "effective_time_frame": {"date_time": _instant(time_ms)},
                }
            else:
                interval = {"start_date_time": _instant(time_ms), "end_date_time": _instant(time_ms + 60_000)}
                body = {
                    "step_count": {"value": value, "unit": "steps"},
                    "effective_time_frame": {"time_interval": interval},
                }
            lines.append(self._point(time_ms, body))
        return lines

    def _episodes(self, times: np.ndarray, stages: np.ndarray, *, final: bool) -> list[bytes]:
        """Closes the episodes that end before a gap of more than `EPISODE_BREAK_MS` (all of them when `final`)."""
        lines = []
        for time_ms, stage in zip(times.tolist(), stages.tolist(), strict=True):
            if self._episode and time_ms - self._episode[-1][0] > EPISODE_BREAK_MS:
                lines.extend(self._close_episode())
            self._episode.append((time_ms, int(stage)))
        if final:
            lines.extend(self._close_episode())
        return lines

    def _close_episode(self) -> list[bytes]:
        epochs, self._episode = self._episode, []
        asleep = [i for i, (_, stage) in enumerate(epochs) if stage != WAKE]
        if not asleep:
            return []
        inside = epochs[asleep[0] : asleep[-1] + 1]
        onset, final_wake = inside[0][0], inside[-1][0] + EPOCH_MS
        awake = [stage == WAKE for _, stage in inside]
        awakenings = sum(1 for i in range(1, len(awake)) if awake[i] and not awake[i - 1])
        body = {
            "effective_time_frame": {
                "time_interval": {"start_date_time": _instant(onset), "end_date_time": _instant(final_wake)}
            },
            "total_sleep_time": _minutes(len(asleep)),
            "wake_after_sleep_onset": _minutes(sum(awake)),
            "number_of_awakenings": awakenings,
            "latency_to_sleep_onset": _minutes(asleep[0]),
            "sleep_maintenance_efficiency_percentage": {
                "value": round(100 * len(asleep) / len(inside), 2),
                "unit": "%",
            },
        }
        return [self._point(onset, body)]

    def _write(self, lines: list[bytes]) -> None:
        if not lines:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.temporary.open("wb")
        self._file.writelines(lines)
        self.points += len(lines)

    points: int = 0

    def _flush(self, *, whole_groups: bool = False) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        times = table.column("time").cast(pa.int64()).to_numpy()
        values = table.column("value").to_numpy(zero_copy_only=False)
        self._write(self._lines(times, values))

    def finish(self) -> int:
        self._flush()
        if self.metric == "sleep_stage":
            self._write(self._close_episode())
        if self._file is not None:
            self._file.close()
        if self.points:
            os.replace(self.temporary, self.path)
        else:
            self.path.unlink(missing_ok=True)
        return self.rows


def series_writer(
    path: Path,
    kind: ExportFormat,
    resolution: ExportResolution,
    metric: str,
    participant_id: str,
    imputed: bool = False,
) -> PartWriter:
    """The writer of one participant × metric part in the export's format (with the imputation columns when
    `imputed`; Open mHealth parts hold observed readings only)."""
    if kind == "omh":
        return OmhWriter(path, series_schema(resolution), metric, participant_id)
    return PartWriter(path, kind, series_schema(resolution, imputed))
