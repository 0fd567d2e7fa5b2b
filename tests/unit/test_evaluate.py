"""`wearstream evaluate detectors` on a tiny cohort: the counts add up and missing nights only remove data."""

from __future__ import annotations

from producers.simulator.episodes import EpisodeModel
from wearstream.evaluate import Plan, _simulator, detectors, evaluate, markdown, participant_nights


def test_tiny_cohort_scores_every_detector_in_both_scenarios() -> None:
    plan = Plan(participants=3, days=50, episodes=EpisodeModel(share=0.7, first_onset_day=38, last_onset_day=40))
    evaluation = evaluate(plan)
    assert {(s.detector, s.scenario) for s in evaluation.scores} == {
        (name, scenario) for name in detectors() for scenario in ("ideal", "realistic")
    }
    ideal = _simulator(plan, ideal_wear=True)
    ill = sum(ideal.episode(k) is not None for k in range(1, 4))
    assert ill >= 1
    for score in evaluation.scores:
        assert score.episodes == ill
        assert 0 <= score.detected_red <= score.detected <= score.episodes
        assert score.false_alert_days_per_month >= score.false_red_days_per_month >= 0
    assert evaluation.nights["ideal"] == 3 * 50  # every night worn
    assert evaluation.nights["realistic"] < evaluation.nights["ideal"]
    assert "| nightsignal | ideal |" in markdown(evaluation)


def test_realistic_nights_are_the_ideal_ones_with_data_removed() -> None:
    plan = Plan(participants=1, days=30)
    ideal = {n.night: n for n in participant_nights(_simulator(plan, ideal_wear=True), 2, 30)}
    masked = participant_nights(_simulator(plan, ideal_wear=True), 2, 30, wear=_simulator(plan, ideal_wear=False))
    assert set(n.night for n in masked) <= set(ideal)
    assert any(n.minutes < ideal[n.night].minutes for n in masked) or len(masked) < len(ideal)
