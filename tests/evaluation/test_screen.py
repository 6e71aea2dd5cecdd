"""Go/no-go screening figures against hand-computed values."""

import numpy as np
import pytest

from tuneahead.screen import best_saving_at_recall, probe_steps, replay_outcome, screening_outcome, threshold_rows

TRUTH = np.array([90.0, 80.0, 70.0, 60.0])
TOTAL = np.array([100.0, 100.0, 200.0, 100.0])


def test_screening_outcome_by_hand():
    go = np.array([True, False, True, False])
    out = screening_outcome(go, TRUTH, 75.0, TOTAL, budget=10.0)
    # probes 10 each (40), sent runs continue 90 + 190 -> 320 of 500: saved 0.36
    assert out == pytest.approx(
        {"tau": 75.0, "true_success_rate": 0.5, "sent_share": 0.5, "compute_saved": 0.36, "successes_kept": 0.5}
    )
    restart = screening_outcome(go, TRUTH, 75.0, TOTAL, budget=10.0, resume_from_probe=False)
    assert restart["compute_saved"] == pytest.approx(1 - (40 + 300) / 500)


def test_probe_stops_at_the_run_end():
    np.testing.assert_array_equal(probe_steps([50.0, 500.0], 100.0), [50.0, 100.0])


def test_threshold_rows_use_the_cutoff():
    prob = {75.0: np.array([0.9, 0.6, 0.2, 0.1]), 85.0: np.array([0.7, 0.3, 0.1, 0.0])}
    rows = threshold_rows(lambda t: prob[t], TRUTH, [75.0, 85.0], TOTAL, 10.0, cutoff=0.5)
    assert [r["sent_share"] for r in rows] == [0.5, 0.25]
    assert [r["successes_kept"] for r in rows] == [1.0, 1.0]


def test_best_saving_at_recall_by_hand():
    success = TRUTH >= 80.0
    score = np.array([0.9, 0.5, 0.6, 0.1])
    best = best_saving_at_recall(score, success, TOTAL, 10.0, recall=0.95)
    # both successes kept needs threshold 0.5, which also sends run 3: cost 40 + 90 + 90 + 190
    assert best["threshold"] == 0.5 and best["compute_saved"] == pytest.approx(1 - 410 / 500)
    loose = best_saving_at_recall(score, success, TOTAL, 10.0, recall=0.5)
    assert loose["threshold"] == 0.9 and loose["compute_saved"] == pytest.approx(1 - 130 / 500)


def test_replay_outcome_by_hand():
    out = replay_outcome([True, False, True, False], [100.0, 20.0, 200.0, 30.0], TRUTH >= 80.0, TOTAL)
    assert out == pytest.approx({"sent_share": 0.5, "compute_saved": 1 - 350 / 500, "successes_kept": 0.5})
