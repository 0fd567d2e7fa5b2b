"""`wearstream impute`: fills the `not_worn` gaps of a study at 1-minute resolution, participant by participant,
into the imputation tables — never into the raw store, the rollups or the summaries. Where asked
(`gap_kinds`), it also fills the minutes missing inside `not_synced` gaps (≥ 6 h without an upload): each
stretch of minutes without a reading of the metric there, outside `not_worn` gaps, is filled as a gap of its
own and reported under its `not_synced` gap (usually none: the upload that closes such a gap brings its data).

A run is named by its run id: running it again resumes it (participants already finished are skipped; one
interrupted mid-way is redone from scratch), and gives the same rows. Per participant, the series read are the
gaps' surroundings (`context_days` before the first gap and after the last), with every `not_worn` minute set
missing; each gap is filled for each metric by the method, or reported as left empty, and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

import asyncpg
import msgspec
import numpy as np

from schemas.metrics import METRIC_IDS, METRICS
from stream_processors.gaps import NOT_SYNCED, NOT_WORN
from stream_processors.imputation import store
from stream_processors.imputation.grid import MINUTE_MS, MinuteSeries, local_minutes, minute_grid
from stream_processors.imputation.methods import Fill, Method
from stream_processors.imputation.store import GapReport, PointRow

DEFAULT_METRICS: Final = ("heart_rate", "steps", "spo2", "hrv_rmssd")
GAP_KINDS: Final = (NOT_WORN, NOT_SYNCED)
_DAY_MS: Final = 86_400_000


class Request(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    participants: list[str] | None = None
    metrics: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_METRICS))
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    context_days: int = 14
    gap_kinds: list[str] = msgspec.field(default_factory=lambda: [NOT_WORN])

    def selection(self) -> dict[str, object]:
        """What the run covers, as recorded with it (a resumed run must cover the same; `gap_kinds` is
        recorded where it is not the default)."""
        chosen: dict[str, object] = {
            "participants": self.participants,
            "metrics": self.metrics,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "context_days": self.context_days,
        }
        return chosen if self.gap_kinds == [NOT_WORN] else {**chosen, "gap_kinds": self.gap_kinds}


class Outcome(msgspec.Struct, kw_only=True):
    participants: int = 0
    resumed: int = 0
    """Participants skipped because the run had finished them before."""
    points: int = 0
    gaps_filled: int = 0
    gaps_skipped: int = 0
    reasons: dict[str, int] = {}


def gap_minutes(series: MinuteSeries, start_ms: int, end_ms: int) -> tuple[int, int]:
    """The grid minutes a gap from the last reading at `start_ms` to the next at `end_ms` leaves empty: those
    strictly between the two readings' minutes."""
    return series.index_of(start_ms) + 1, series.index_of(end_ms)


async def impute(
    dsn: str, method: Method, request: Request, *, progress: Callable[[int, int], None] | None = None
) -> Outcome:
    """Runs (or resumes) `request.run_id` with `method`; `progress(done, total)` after each participant."""
    unknown = [m for m in request.metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    kinds = [k for k in request.gap_kinds if k not in GAP_KINDS]
    if kinds or not request.gap_kinds:
        raise ValueError(f"unknown gap kind(s) {', '.join(kinds) or '(none given)'}; known: {', '.join(GAP_KINDS)}")
    connection = await asyncpg.connect(dsn)
    try:
        finished = await store.begin_run(
            connection,
            request.run_id,
            method=method.name,
            version=method.version,
            parameters=method.parameters(),
            selection=request.selection(),
        )
        chosen = await store.gap_participants(
            connection, request.participants, request.start, request.end, request.gap_kinds
        )
        outcome = Outcome()
        for done, participant in enumerate(chosen, 1):
            if participant in finished:
                outcome.resumed += 1
            else:
                await _participant(connection, method, request, participant, outcome)
            outcome.participants += 1
            if progress is not None:
                progress(done, len(chosen))
        await store.finish_run(connection, request.run_id)
        return outcome
    finally:
        await connection.close()


async def _participant(
    connection: asyncpg.Connection, method: Method, request: Request, participant: str, outcome: Outcome
) -> None:
    kinds = sorted({*request.gap_kinds, NOT_WORN})  # not_worn minutes are never observed, whatever is filled
    timezone, gaps = await store.participant_gaps(connection, participant, request.start, request.end, kinds)
    first_ms = gaps[0][0] // MINUTE_MS * MINUTE_MS - request.context_days * _DAY_MS
    last_ms = (max(g[1] for g in gaps) // MINUTE_MS + 1) * MINUTE_MS + request.context_days * _DAY_MS
    local = local_minutes(first_ms, (last_ms - first_ms) // MINUTE_MS, timezone)
    stored = {
        m: minute_grid(first_ms, last_ms, *await store.minute_means(connection, participant, m, first_ms, last_ms))
        for m in {*request.metrics, "steps"}
    }
    not_worn = np.zeros(len(local), dtype=bool)
    for start_ms, end_ms, kind in gaps:
        if kind == NOT_WORN:
            not_worn[(start_ms - first_ms) // MINUTE_MS + 1 : (end_ms - first_ms) // MINUTE_MS] = True
    chosen = [g for g in gaps if g[2] in request.gap_kinds]
    points: list[PointRow] = []
    reports: list[GapReport] = []
    for metric in request.metrics:
        series = MinuteSeries(
            start_ms=first_ms,
            values=np.where(not_worn, np.nan, stored[metric]),
            local=local,
            low=METRICS[metric].min_value,
            high=METRICS[metric].max_value,
            steps=stored["steps"] if metric == "heart_rate" else None,
            metric=metric,
        )
        for gap in chosen:
            stretches = _stretches(series, not_worn, gap)
            report = _fill_gap(method, request.run_id, participant, metric, series, gap, stretches, points)
            if report is not None:
                reports.append(report)
                outcome.gaps_filled += report.filled > 0
                outcome.gaps_skipped += report.filled == 0
                if report.reason is not None:
                    outcome.reasons[report.reason] = outcome.reasons.get(report.reason, 0) + 1
    await store.write_participant(connection, request.run_id, participant, points, reports)
    outcome.points += len(points)


def _stretches(series: MinuteSeries, not_worn: np.ndarray, gap: tuple[int, int, str]) -> list[tuple[int, int]]:
    """The grid stretches [start, end) a gap leaves to fill: a `not_worn` gap's minutes strictly between its two
    readings; a `not_synced` gap's runs of minutes without a reading of the metric, outside `not_worn` gaps."""
    start, end = gap_minutes(series, gap[0], gap[1])
    if end <= start:
        return []
    if gap[2] == NOT_WORN:
        return [(start, end)]
    missing = np.isnan(series.values[start:end]) & ~not_worn[start:end]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], missing.astype(np.int8), [0]])))
    return [(start + int(a), start + int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _fill_gap(
    method: Method,
    run_id: str,
    participant: str,
    metric: str,
    series: MinuteSeries,
    gap: tuple[int, int, str],
    stretches: list[tuple[int, int]],
    points: list[PointRow],
) -> GapReport | None:
    """Fills one gap's stretches of one metric into `points`; its report (None: nothing left empty)."""
    if not stretches:
        return None
    filled, reasons = 0, []
    gap_start = dt.datetime.fromtimestamp(gap[0] / 1000, dt.UTC)
    metric_id = METRIC_IDS[metric]
    for start, end in stretches:
        fill = method.fill(series, start, end)
        if not isinstance(fill, Fill):
            reasons.append(fill.reason)
            continue
        filled += fill.filled
        for i in np.flatnonzero(~np.isnan(fill.values)):
            minute = dt.datetime.fromtimestamp((series.start_ms + (start + int(i)) * MINUTE_MS) / 1000, dt.UTC)
            values = (float(fill.values[i]), float(fill.std_error[i]), float(fill.lower[i]), float(fill.upper[i]))
            points.append((run_id, participant, metric_id, minute, *values, gap[2], gap_start))
    return GapReport(
        metric=metric,
        start_ms=gap[0],
        end_ms=gap[1],
        minutes=sum(end - start for start, end in stretches),
        filled=filled,
        reason=reasons[0] if reasons and not filled else None,
        kind=gap[2],
    )
