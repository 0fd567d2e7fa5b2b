"""The arithmetic of `bench sources`: per-pass rates and how many participants one runner serves."""

from __future__ import annotations

import pytest

from bench.sources import Pass
from bench.sources_report import measurements
from producers.sources.runner import SyncReport


def a_pass(name: str, *, participants: int, requests: int, seconds: float, cpu_s: float) -> Pass:
    report = SyncReport(readings=1_000_000, pages=requests // 2, participants=participants)
    sent = [(f"http://x/v4/{i}", "Bearer t") for i in range(requests)]
    found = Pass(name, participants, report, seconds, cpu_s, {"health 200": requests - 3, "health 429": 3}, sent)
    found.reference_seconds, found.reference_cpu_s, found.reference_answers = seconds / 4, cpu_s / 10, {200: requests}
    return found


def test_per_pass_figures_count_429s_as_requests_and_compare_with_the_reference() -> None:
    backfill = a_pass("backfill", participants=100, requests=2_400, seconds=120.0, cpu_s=96.0)
    found = {m.name: m.value for m in measurements([backfill, backfill_like("every_15m"), backfill_like("daily")], "")}
    assert found["sources.backfill.requests_per_min"] == pytest.approx(1_200)
    assert found["sources.backfill.readings_per_s"] == pytest.approx(1_000_000 / 120)
    assert found["sources.backfill.answered_429"] == 3
    assert found["sources.backfill.requests_per_participant"] == pytest.approx(24)
    assert found["sources.backfill.seconds_per_participant"] == pytest.approx(1.2)
    assert found["sources.backfill.cpu_per_request"] == pytest.approx(40)
    assert found["sources.backfill.runner ÷ reference.requests_per_min"] == pytest.approx(0.25)
    assert found["sources.backfill.runner ÷ reference.cpu_per_request"] == pytest.approx(10)


def backfill_like(name: str) -> Pass:
    return a_pass(name, participants=25, requests=600, seconds=30.0, cpu_s=20.0)


def test_participants_served_take_the_day_quota_and_the_runner_bound_and_say_which_binds() -> None:
    every_15m = backfill_like("every_15m")  # 24 requests, 1.2 s and 0.8 s CPU per participant-pass
    daily = a_pass("daily", participants=25, requests=25 * 4_000, seconds=25 * 0.01, cpu_s=25 * 0.005)
    found = {m.name: m for m in measurements([backfill_like("backfill"), every_15m, daily], "")}
    assert found["sources.serves.every_15m.quota"].value == pytest.approx(86_400_000 / 96 / 24)
    assert found["sources.serves.every_15m.runner"].value == pytest.approx(900 / 1.2)
    assert found["sources.serves.every_15m.runner_cpu"].value == pytest.approx(900 / 0.8)
    assert "binds: the runner's speed" in found["sources.serves.every_15m.runner"].note
    # 4,000 requests a participant-pass: the day quota allows 21,600, fewer than the runner's 8.64 M.
    assert found["sources.serves.daily.quota"].value == pytest.approx(21_600)
    assert found["sources.serves.daily.runner"].value == pytest.approx(86_400 / 0.01)
    assert "binds: the quota" in found["sources.serves.daily.runner"].note
    assert "≥ 720.0 min at 120,000/min" in found["sources.serves.daily.quota"].note
