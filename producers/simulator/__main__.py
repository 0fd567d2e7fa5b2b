"""Measures generation speed: `python -m producers.simulator [--participants N] [--days D] [--seed S]`."""

from __future__ import annotations

import argparse
import datetime as dt
import time

from producers.simulator.cohort import CohortSimulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    simulator = CohortSimulator(seed=args.seed, start=dt.date(2025, 3, 1))
    participant_days = hr_readings = all_readings = batches = 0
    began = time.perf_counter()
    for k in range(1, args.participants + 1):
        for day in range(args.days):
            participant_day = simulator.simulate_day(k, day)
            if not participant_day.batches:
                continue
            participant_days += 1
            hr_readings += len(participant_day.readings["heart_rate"])
            all_readings += sum(len(readings) for readings in participant_day.readings.values())
            batches += len(participant_day.batches)
    elapsed = time.perf_counter() - began
    print(
        f"{participant_days} delivering participant-days in {elapsed:.2f} s: "
        f"{1000 * elapsed / max(participant_days, 1):.2f} ms each, {hr_readings / elapsed:,.0f} HR readings/s, "
        f"{all_readings / elapsed:,.0f} readings/s, {batches / max(participant_days, 1):.0f} batches per day"
    )


if __name__ == "__main__":
    main()
