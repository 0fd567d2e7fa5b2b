"""The imputation evaluation: masks over observed stretches with bucketed lengths, reproducible from a seed."""

from __future__ import annotations

import numpy as np

from wearstream.imputation_eval import BUCKETS, Evaluation, Plan, bucket_name, evaluate, place_masks
from wearstream.imputation_table import margins, markdown


def test_masks_lie_on_observed_minutes_do_not_overlap_and_take_the_lengths_found() -> None:
    worn = np.ones(10 * 1440, dtype=bool)
    worn[3000:4000] = False
    masks = place_masks(worn, [45, 90, 95], np.random.default_rng(3), per_bucket=2)
    assert masks
    covered = np.zeros(len(worn), dtype=int)
    for b, start, end in masks:
        low, high = BUCKETS[b]
        assert low <= end - start < high
        assert worn[start:end].all()
        covered[start:end] += 1
    assert covered.max() == 1
    assert {end - start for b, start, end in masks if BUCKETS[b] == (30, 60)} == {45}
    assert {end - start for b, start, end in masks if BUCKETS[b] == (60, 120)} <= {90, 95}
    assert masks == place_masks(worn, [45, 90, 95], np.random.default_rng(3), per_bucket=2)


def small(seed: int) -> Evaluation:
    return evaluate(Plan(participants=1, days=8, seed=seed, seeds=2, masks_per_bucket=1))


def test_the_evaluation_is_reproducible_from_its_seed() -> None:
    first, again, other = small(3), small(3), small(4)
    assert first.scores == again.scores
    assert first.masks == again.masks
    assert first.scores != other.scores
    heart_rate = [s for s in first.scores if s.metric == "heart_rate" and s.minutes]
    assert heart_rate
    for score in heart_rate:
        assert score.mae is not None
        assert score.rmse is not None
        assert score.mae <= score.rmse
        assert 0 <= score.coverage <= 1
        assert len(score.mae_by_seed) <= 2
    table = markdown(first)
    assert "| heart_rate | 10–30 min |" in table
    assert "profile's MAE margin" in table
    assert "bridge's MAE margin" in table


def test_bucket_names() -> None:
    assert [bucket_name(*b) for b in BUCKETS] == ["10–30 min", "30–60 min", "1–2 h", "2–4 h", "4–8 h"]


def test_the_margin_is_the_better_baseline_minus_ours_per_repetition() -> None:
    evaluation = small(3)
    for score in evaluation.scores:
        if score.metric == "heart_rate" and score.bucket == "10–30 min" and len(score.mae_by_seed) == 2:
            by = {
                s.method: s.mae_by_seed
                for s in evaluation.scores
                if s.metric == "heart_rate" and s.bucket == "10–30 min"
            }
            margin = margins(evaluation.scores, "heart_rate", "10–30 min", "profile")
            assert margin is not None
            expected = [
                min(a, b) - c
                for a, b, c in zip(by["neighbour_mean"], by["neighbour_median"], by["profile"], strict=True)
            ]
            assert margin[0] == np.mean(expected)
            ours = margins(evaluation.scores, "heart_rate", "10–30 min")
            assert ours is not None
            assert ours[0] == np.mean(
                [
                    min(a, b) - c
                    for a, b, c in zip(by["neighbour_mean"], by["neighbour_median"], by["bridge"], strict=True)
                ]
            )
