"""Illness episodes: resting HR rises before symptom onset, onset is in the truth; off by default."""

from __future__ import annotations

import datetime as dt

import pytest

from producers.simulator import CohortSimulator
from producers.simulator.episodes import Episode, EpisodeModel
from wearstream.evaluate import participant_nights

START = dt.date(2026, 1, 5)


def test_episode_profile_rises_before_onset_and_recovers() -> None:
    episode = Episode(onset_day=40, lead_nights=3, peak_bpm=6.0, plateau_nights=2, recovery_nights=4)
    raises = [episode.raise_bpm(d) for d in range(35, 50)]
    assert raises[:2] == [0.0, 0.0]
    assert 0 < episode.raise_bpm(37) < episode.raise_bpm(39) < episode.raise_bpm(41) == 6.0
    assert episode.raise_bpm(43) == 6.0
    assert episode.raise_bpm(episode.last_raised_day) == 0.0
    assert raises == sorted(raises[:7]) + raises[7:]


def test_simulated_episode_raises_nightly_resting_hr_and_marks_onset() -> None:
    model = EpisodeModel(share=1.0, first_onset_day=30, last_onset_day=30, p_raised_night=0.0)
    ill = CohortSimulator(seed=3, start=START, episodes=model, ideal_wear=True)
    well_model = EpisodeModel(share=0.0, p_raised_night=0.0)
    healthy = CohortSimulator(seed=3, start=START, episodes=well_model, ideal_wear=True)
    k = next(k for k in range(1, 50) if (e := ill.episode(k)) is not None and e.peak_bpm >= 5 and e.lead_nights >= 2)
    episode = ill.episode(k)
    assert episode is not None
    assert healthy.episode(k) is None
    sick = {n.night: n.resting_hr for n in participant_nights(ill, k, 40)}
    well = {n.night: n.resting_hr for n in participant_nights(healthy, k, 40)}
    onset = START + dt.timedelta(days=30)
    assert all(abs(sick[d] - well[d]) < 0.3 for d in sick if d < onset - dt.timedelta(days=episode.lead_nights))
    assert sick[onset + dt.timedelta(days=1)] - well[onset + dt.timedelta(days=1)] == pytest.approx(
        episode.peak_bpm, abs=1.0
    )
    assert sick[onset - dt.timedelta(days=1)] > well[onset - dt.timedelta(days=1)] + 0.5  # before symptoms
    truth = CohortSimulator(seed=3, start=START, episodes=model)
    assert truth.simulate_day(k, 30).truth.symptom_onset
    assert not truth.simulate_day(k, 29).truth.symptom_onset


def test_without_a_model_nothing_changes_and_ideal_wear_has_no_batches() -> None:
    plain = CohortSimulator(seed=3, start=START)
    assert plain.episode(1) is None
    assert not plain.simulate_day(1, 5).truth.symptom_onset
    with pytest.raises(ValueError, match="readings only"):
        CohortSimulator(seed=3, start=START, ideal_wear=True).simulate_day(1, 5)
    with pytest.raises(ValueError, match="share"):
        EpisodeModel(share=1.5)
