"""The imputation evaluation as a Markdown table: MAE ± sd over repetitions, RMSE, 95 % coverage per metric ×
gap bucket × method, and our margin over the better neighbour baseline."""

from __future__ import annotations

import statistics

from stream_processors.imputation import DEFAULT_METHOD, METHODS
from wearstream.imputation_eval import BUCKETS, METRICS_SCORED, Evaluation, Score, bucket_name

MARGINS = (DEFAULT_METHOD, "profile")
"""The methods whose margin over the baselines the table shows."""


def margins(scores: list[Score], metric: str, bucket: str, method: str = DEFAULT_METHOD) -> tuple[float, float] | None:
    """Per repetition, the better of neighbour mean and median's MAE minus `method`'s: (mean, sd) over the
    repetitions; positive means `method` is better. None when a method filled nothing in some repetition."""
    by = {s.method: s.mae_by_seed for s in scores if s.metric == metric and s.bucket == bucket}
    runs = [by.get(m, []) for m in ("neighbour_mean", "neighbour_median", method)]
    if len({len(r) for r in runs}) != 1 or not runs[0]:
        return None
    diffs = [min(a, b) - c for a, b, c in zip(*runs, strict=True)]
    return statistics.fmean(diffs), statistics.stdev(diffs) if len(diffs) > 1 else 0.0


def markdown(evaluation: Evaluation) -> str:
    """The cohort's table, and the export's when one was scored (results on synthetic data)."""
    plan = evaluation.plan
    lengths = ", ".join(f"{b} {n}" for b, n in evaluation.gap_lengths.items())
    lines = [
        f"Synthetic cohort: {plan.participants:,} participants × {plan.days} days, seeds {plan.seed} …"
        f" {plan.seed + plan.seeds - 1} ({plan.seeds} repetitions), {evaluation.masks:,} masked stretches;"
        f" not_worn gaps found in the first cohort: {lengths}; {evaluation.seconds:.0f} s. Cells: MAE ± sd over"
        " repetitions / RMSE / 95 % coverage.",
        "",
        *table(evaluation.scores),
    ]
    if evaluation.export is not None:
        lines += [
            "",
            f"Export `{evaluation.export}` (one participant; mask placements with seeds {plan.seed} …"
            f" {plan.seed + plan.seeds - 1}, {evaluation.export_masks:,} masked stretches, lengths from the"
            " cohort's gaps):",
            "",
            *table(evaluation.export_scores),
        ]
    return "\n".join(lines) + "\n"


def table(scores: list[Score]) -> list[str]:
    lines = [
        "| metric | gap | minutes | "
        + " | ".join(METHODS)
        + "".join(f" | {m}'s MAE margin over the better of mean, median" for m in MARGINS)
        + " |",
        "|---|---|---|" + "---|" * (len(METHODS) + len(MARGINS)),
    ]
    for metric in METRICS_SCORED:
        for low, high in BUCKETS:
            bucket = bucket_name(low, high)
            cell_scores = {s.method: s for s in scores if s.metric == metric and s.bucket == bucket}
            if not cell_scores:
                continue
            minutes = max(s.minutes for s in cell_scores.values())
            cells = [_cell(cell_scores[m]) if m in cell_scores else "–" for m in METHODS]
            shown = [_margin(margins(scores, metric, bucket, m)) for m in MARGINS]
            lines.append(f"| {metric} | {bucket} | {minutes:,} | " + " | ".join(cells + shown) + " |")
    return lines


def _margin(margin: tuple[float, float] | None) -> str:
    return "–" if margin is None else f"{margin[0]:+.2f} ± {margin[1]:.2f}"


def _cell(score: Score) -> str:
    if score.mae is None or score.rmse is None:
        return "–"
    filled = "" if score.filled_share >= 0.995 else f" ({score.filled_share:.0%} filled)"
    return f"{score.mae:.2f} ± {score.mae_sd:.2f} / {score.rmse:.2f} / {score.coverage:.0%}{filled}"
