"""`python -m bench.imputation`: the imputation methods scored by masking a simulated cohort (no stack needed).

Writes bench/results/imputation-<date>.json and .md with the scores of `wearstream.imputation_eval`: MAE, RMSE
and 95 % interval coverage per method × metric × gap bucket, and our method's margin over the better of the
neighbour mean and median with its spread over the seeds' repetitions; also on the wearipedia export in
tests/data when present — results on synthetic data.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import msgspec

from bench.report import RESULTS
from wearstream.imputation_eval import Plan, evaluate
from wearstream.imputation_export import with_export
from wearstream.imputation_table import markdown

ROOT = Path(__file__).resolve().parents[1]
WEARIPEDIA = ROOT / "tests" / "data" / "fitbit" / "wearipedia_7d"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imputation", description=__doc__)
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--masks", type=int, default=3, help="masks per participant and gap bucket")
    parser.add_argument("--export", type=Path, default=WEARIPEDIA, help="a Fitbit/wearipedia export to score too")
    parser.add_argument("--quick", action="store_true", help="10 participants instead of the full cohort")
    args = parser.parse_args(argv)
    plan = Plan(
        participants=10 if args.quick else args.participants,
        days=args.days,
        seed=args.seed,
        seeds=args.seeds,
        masks_per_bucket=args.masks,
    )
    evaluation = evaluate(plan, progress=lambda done, total: print(f"{done}/{total}"))
    if args.export is not None and args.export.is_dir():
        evaluation = with_export(evaluation, args.export)
        folder = args.export.resolve()
        if folder.is_relative_to(ROOT):  # results name the export as the repository does
            evaluation = msgspec.structs.replace(evaluation, export=str(folder.relative_to(ROOT)))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%MZ")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"imputation-{stamp}.json").write_bytes(msgspec.json.format(msgspec.json.encode(evaluation)))
    table = markdown(evaluation)
    (RESULTS / f"imputation-{stamp}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
