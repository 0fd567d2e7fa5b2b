"""The imputation evaluation on an imported export (e.g. the wearipedia files in tests/data): its minute series
masked with the gap lengths the processor finds in the simulated cohort, scored as `imputation_eval` scores
the cohort."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import msgspec
import numpy as np

from producers.fitbit.importer import import_files
from schemas.metrics import METRICS
from schemas.readings import ReadingBatch
from stream_processors.imputation import METHODS, MinuteSeries, local_minutes, minute_grid
from stream_processors.imputation.grid import MINUTE_MS
from wearstream.imputation_eval import (
    BUCKETS,
    METRICS_SCORED,
    Evaluation,
    Plan,
    Score,
    Tallies,
    Tally,
    score_series,
    summarise,
)

DAY_MS = 86_400_000


def export_series(batches: list[ReadingBatch], timezone: str) -> dict[str, MinuteSeries]:
    """An imported export's scored metrics as minute series over its whole UTC days (heart rate: the wear
    signal, as in `cohort_series`)."""
    by_metric: dict[str, list[ReadingBatch]] = {}
    for batch in batches:
        if batch.metric in METRICS_SCORED:
            by_metric.setdefault(batch.metric, []).append(batch)
    if "heart_rate" not in by_metric:
        raise ValueError("the export has no heart rate, the wear signal the gaps are defined by")
    stamps = np.concatenate([b.timestamps_array() for b in by_metric["heart_rate"]])
    start_ms = int(stamps.min()) // DAY_MS * DAY_MS
    end_ms = (int(stamps.max()) // DAY_MS + 1) * DAY_MS
    local = local_minutes(start_ms, (end_ms - start_ms) // MINUTE_MS, timezone)
    grids = {}
    for metric, parts in by_metric.items():
        t = np.concatenate([b.timestamps_array() for b in parts]) // MINUTE_MS * MINUTE_MS
        v = np.concatenate([b.values_float64() for b in parts])
        minutes, index = np.unique(t, return_inverse=True)
        grids[metric] = minute_grid(start_ms, end_ms, minutes, np.bincount(index, weights=v) / np.bincount(index))
    worn = ~np.isnan(grids["heart_rate"])
    return {
        m: MinuteSeries(
            start_ms=start_ms,
            values=np.where(worn, grid, np.nan),
            local=local,
            low=METRICS[m].min_value,
            high=METRICS[m].max_value,
            steps=grids.get("steps") if m == "heart_rate" else None,
            metric=m,
        )
        for m, grid in grids.items()
    }


def evaluate_export(plan: Plan, series: dict[str, MinuteSeries], lengths: list[int]) -> tuple[list[Score], int]:
    """Scores on one export's series, masks placed `plan.seeds` times (seeds plan.seed, …) with `lengths`."""
    runs: list[Tallies] = []
    masks = 0
    for r in range(plan.seeds):
        tallies, placed = score_series(series, lengths, np.random.default_rng(plan.seed + r), plan.masks_per_bucket)
        runs.append(tallies)
        masks += placed
    scores = [
        summarise(method, metric, b, [run.get((method, metric, b), Tally()) for run in runs])
        for metric in METRICS_SCORED
        if metric in series
        for b in range(len(BUCKETS))
        for method in METHODS
    ]
    return scores, masks


def with_export(evaluation: Evaluation, folder: Path, *, timezone: str = "UTC") -> Evaluation:
    """`evaluation` with the Fitbit/wearipedia export in `folder` (`.json` or `.json.gz` files) scored too,
    masked with the cohort's gap lengths."""
    with tempfile.TemporaryDirectory(prefix="wearstream-impute-") as work:
        for path in sorted(folder.iterdir()):
            if path.name.endswith(".json.gz"):
                (Path(work) / path.name.removesuffix(".gz")).write_bytes(gzip.decompress(path.read_bytes()))
            elif path.suffix == ".json":
                (Path(work) / path.name).write_bytes(path.read_bytes())
        imported = import_files(work, "EXPORT", "export", timezone=timezone, sync_time=0)
    series = export_series(list(imported.batches), timezone)
    scores, masks = evaluate_export(evaluation.plan, series, evaluation.lengths)
    return msgspec.structs.replace(evaluation, export=str(folder), export_masks=masks, export_scores=scores)
