"""The figures of `bench sources`: per pass, and how many participants one runner serves within the project quota.

Quota (https://developers.google.com/health/rate-limits): 120,000 requests a minute and 86.4 M a day per project.
A 15-minute schedule makes 96 passes a day: the day quota allows 900,000 requests per 15 minutes, the minute
quota 1.8 M, so the day quota binds. A daily delta-load at 01:00 makes one pass a day: the day quota bounds the
participants, the minute quota only how long their pass must take at least. The runner's own bound is the
pass's measured seconds per participant (4 at once, on this machine, shared with the server, Kafka and
PostgreSQL) against the 15 minutes or the 24 hours until the next pass; and its CPU per participant-pass
against one core, the bound on a machine where the runner has a core of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from bench.common import Measurement

if TYPE_CHECKING:
    from bench.sources import Pass

PER_PROJECT_PER_MINUTE: Final = 120_000
PER_PROJECT_PER_DAY: Final = 86_400_000


def pass_measurements(p: Pass, label: str) -> list[Measurement]:
    name = f"sources.{p.name}"
    readings = f"{p.report.readings:,} readings in {p.report.pages:,} pages"
    data = f"{label}; this pass: {p.participants} participants, {readings}"
    per_minute = p.requests / p.seconds * 60
    reference_requests = sum(p.reference_answers.values())
    reference_per_minute = reference_requests / p.reference_seconds * 60
    cpu_ms = p.cpu_s / p.requests * 1000
    reference_cpu_ms = p.reference_cpu_s / reference_requests * 1000
    answers = ", ".join(f"{k}: {n:,}" for k, n in sorted(p.answers.items()))
    reference = ", ".join(f"{k}: {n:,}" for k, n in sorted(p.reference_answers.items()))

    def m(suffix: str, value: float, unit: str, note: str = "") -> Measurement:
        return Measurement(name=f"{name}.{suffix}", value=value, unit=unit, data=data, note=note)

    return [
        m("requests_per_min", per_minute, "requests/min", f"{p.requests:,} in {p.seconds:.1f} s; answers {answers}"),
        m("readings_per_s", p.report.readings / p.seconds, "readings/s", "published, acknowledged by Kafka"),
        m(
            "answered_429",
            p.rate_limited,
            "429s",
            f"per-user limit 300/min on the server; the connector waited {p.report.waited_s:.0f} s in the runner",
        ),
        m("requests_per_participant", p.requests / p.participants, "requests", "Health API requests, 429s included"),
        m("seconds_per_participant", p.seconds / p.participants, "s", "the pass's wall time ÷ participants"),
        m("cpu_per_request", cpu_ms, "ms", f"the runner's process: {p.cpu_s:.1f} s CPU"),
        m(
            "reference.requests_per_min",
            reference_per_minute,
            "requests/min",
            f"the pass's first {reference_requests:,} GETs again, httpx, {p.reference_seconds:.1f} s; {reference}",
        ),
        m("reference.cpu_per_request", reference_cpu_ms, "ms", f"{p.reference_cpu_s:.1f} s CPU"),
        m("runner ÷ reference.requests_per_min", per_minute / reference_per_minute, "×", "same run"),
        m("runner ÷ reference.cpu_per_request", cpu_ms / reference_cpu_ms, "×", "same run"),
    ]


def serves(every_15m: Pass, daily: Pass, label: str) -> list[Measurement]:
    """Participants one runner serves: the quota's bound, the runner's wall-time and CPU bounds, which binds."""
    found = []
    schedules = ((every_15m, 900, 96, "every 15 min"), (daily, 86_400, 1, "daily 01:00"))
    for p, period_s, passes_a_day, schedule in schedules:
        per_participant = p.requests / p.participants
        quota = PER_PROJECT_PER_DAY / passes_a_day / per_participant
        wall = period_s / (p.seconds / p.participants)
        cpu = period_s / (p.cpu_s / p.participants)
        binds = "the quota" if quota < min(wall, cpu) else "the runner's speed"
        minutes = quota * per_participant / PER_PROJECT_PER_MINUTE
        data = f"{label}; {per_participant:.1f} requests per participant-pass"
        found += [
            Measurement(
                name=f"sources.serves.{p.name}.quota",
                value=quota,
                unit="participants",
                data=data,
                note=f"86.4 M requests/day ÷ {passes_a_day} passes ÷ requests per participant-pass; "
                f"such a pass takes ≥ {minutes:.1f} min at 120,000/min",
            ),
            Measurement(
                name=f"sources.serves.{p.name}.runner",
                value=wall,
                unit="participants",
                data=data,
                note=f"{schedule}: {period_s:,} s ÷ {p.seconds / p.participants:.3f} s per participant (measured wall, "
                f"shared 2 cores); binds: {binds}",
            ),
            Measurement(
                name=f"sources.serves.{p.name}.runner_cpu",
                value=cpu,
                unit="participants",
                data=data,
                note=f"{period_s:,} s of one core ÷ {p.cpu_s / p.participants * 1000:.0f} ms CPU per participant-pass",
            ),
        ]
    return found


def measurements(passes: list[Pass], label: str) -> list[Measurement]:
    by_name = {p.name: p for p in passes}
    found = [m for p in passes for m in pass_measurements(p, label)]
    return found + serves(by_name["every_15m"], by_name["daily"], label)
