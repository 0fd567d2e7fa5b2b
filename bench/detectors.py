"""`python -m bench.detectors`: the illness detectors scored on a simulated cohort (no stack needed).

Writes bench/results/detectors-<date>.json and .md with the scores of `wearstream.evaluate` — results on
synthetic data, for comparing detectors and settings, not clinical performance.
"""

from __future__ import annotations

import argparse
import datetime as dt

import msgspec

from bench.report import RESULTS
from producers.simulator.episodes import EpisodeModel
from wearstream.evaluate import Plan, evaluate, markdown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.detectors", description=__doc__)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="50 participants instead of the full cohort")
    args = parser.parse_args(argv)
    plan = Plan(
        participants=50 if args.quick else args.participants,
        days=args.days,
        seed=args.seed,
        episodes=EpisodeModel(first_onset_day=35, last_onset_day=args.days - 10),
    )
    evaluation = evaluate(plan, workers=args.workers, progress=lambda done, total: print(f"{done}/{total}"))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%MZ")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"detectors-{stamp}.json").write_bytes(msgspec.json.format(msgspec.json.encode(evaluation)))
    table = markdown(evaluation)
    (RESULTS / f"detectors-{stamp}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
