"""`wearstream estimate`'s arithmetic, checked by hand."""

from __future__ import annotations

import pytest

from wearstream.capacity import DailyProfile, Sources, compute, daily_profile, human_bytes, kafka_footprint


def estimate_profile() -> DailyProfile:
    return DailyProfile(
        readings={"heart_rate": 20_000.0, "steps": 1440.0}, minutes={"heart_rate": 1300.0, "steps": 1440.0}
    )


def test_arithmetic_matches_a_hand_check() -> None:
    sources = Sources(
        stored_bytes={"heart_rate": 2.0, "steps": 4.0},
        stored_from="test",
        rollup_row_bytes=100.0,
        wire_bytes=10.0,
        wire_from="test",
    )
    estimate = compute(
        participants=1000,
        years=2,
        metrics=["heart_rate", "steps"],
        profile=DailyProfile(
            readings={"heart_rate": 20_000.0, "steps": 1440.0}, minutes={"heart_rate": 1300.0, "steps": 1440.0}
        ),
        sources=sources,
        kafka_retention_days=7,
    )
    days = 2 * 365.25
    # 1,000 participants × 730.5 days × (20,000 + 1,440) readings a day
    assert estimate.readings == pytest.approx(1000 * days * 21_440)
    assert estimate.raw_bytes == pytest.approx(1000 * days * 21_440 * 16)
    assert estimate.stored_bytes == pytest.approx(1000 * days * (20_000 * 2.0 + 1440 * 4.0))
    # one 1-minute row per minute with data (1,300 + 1,440 a day), plus hour and day rows
    assert estimate.rollup_rows == pytest.approx(1000 * days * 2740 * (1 + 1 / 60 + 1 / 1440))
    kept = compute(
        participants=1000,
        years=2,
        metrics=["heart_rate", "steps"],
        profile=estimate_profile(),
        sources=sources,
        kafka_retention_days=7,
        rollup_1m_retention_days=180,
    )
    assert kept.rollup_rows == pytest.approx(1000 * 2740 * (180 + days * (1 / 60 + 1 / 1440)))
    assert estimate.rollup_bytes == pytest.approx(estimate.rollup_rows * 100.0)
    assert estimate.kafka_bytes == pytest.approx(21_440 * 1000 * 7 * 10.0)


def test_simulated_readings_per_day_are_plausible() -> None:
    profile = daily_profile(sample_participants=5, days=2)
    assert 10_000 < profile.readings["heart_rate"] < 60_000
    assert profile.readings["steps"] == pytest.approx(1440, rel=0.05)
    assert 600 < profile.minutes["heart_rate"] <= 1440
    assert profile.minutes["sleep_stage"] == pytest.approx(profile.readings["sleep_stage"] / 2, rel=0.05)


def test_human_bytes() -> None:
    assert human_bytes(999) == "999.0 B"
    assert human_bytes(1_500_000) == "1.5 MB"
    assert human_bytes(2.5e15) == "2.5 PB"


def test_three_brokers_keep_three_copies_and_tolerate_one_loss() -> None:
    sources = Sources(
        stored_bytes={"heart_rate": 2.0}, stored_from="test", rollup_row_bytes=100.0, wire_bytes=10.0, wire_from="test"
    )
    estimate = compute(
        participants=1000,
        years=1,
        metrics=["heart_rate", "steps"],
        profile=estimate_profile(),
        sources=sources,
        kafka_retention_days=7,
    )
    day = 21_440 * 1000 * 10.0  # readings a day × encoded bytes
    three = kafka_footprint(estimate, brokers=3)
    assert (three.replicas, three.min_insync, three.broker_losses_tolerated) == (3, 2, 1)
    assert three.produced_per_day == pytest.approx(day)
    assert three.disk_total == pytest.approx(3 * 7 * day)
    assert three.disk_per_broker == pytest.approx(7 * day)  # every broker holds a full copy
    assert three.replication_per_day == pytest.approx(2 * day)
    assert three.consumed_per_day == pytest.approx(day)
    one = kafka_footprint(estimate, brokers=1)
    assert (one.replicas, one.broker_losses_tolerated, one.replication_per_day) == (1, 0, 0)
    six = kafka_footprint(estimate, brokers=6)
    assert six.replicas == 3
    assert six.disk_per_broker == pytest.approx(3 * 7 * day / 6)
    with pytest.raises(ValueError, match="replicas"):
        kafka_footprint(estimate, brokers=2, replicas=3)


def test_the_challenges_question_is_answered_by_hand_arithmetic() -> None:
    from wearstream.challenge import ChallengeSources, challenge_row, challenge_table

    sources = ChallengeSources(
        stored_bytes=0.5, stored_from="test", rollup_row_bytes=100.0, rollup_1m_retention_days=180
    )
    row = challenge_row(1000, 2, 3, sources)
    # 1,000 participants × 2 years × 31,557,600 s × 3 metrics at 1 Hz
    assert row.readings == pytest.approx(189_345_600_000)
    assert row.uncompressed_bytes == pytest.approx(189_345_600_000 * 16)
    assert row.compressed_80_bytes == pytest.approx(189_345_600_000 * 16 * 0.2)
    assert row.stored_raw_bytes == pytest.approx(189_345_600_000 * 0.5)
    # 1,440 minutes a metric-day kept 180 days, hours and days for the 730.5 days
    assert row.rollup_bytes == pytest.approx(1000 * 3 * 1440 * (180 + 730.5 * (1 / 60 + 1 / 1440)) * 100.0)
    grid = challenge_table(sources)
    assert [(r.participants, r.years) for r in grid] == [(n, y) for n in (1, 1000, 10_000) for y in (1, 2, 5)]
    assert all(r.metrics == 4 for r in grid)
    assert grid[-1].readings == pytest.approx(10_000 * 5 * 31_557_600 * 4)
