"""The evaluation's calibration block: coverage of central intervals at many nominal levels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, norm

from tuneahead.baselines import SplitConformal
from tuneahead.evaluation import CALIBRATION_LEVELS, conformal_coverage, coverage_from_pit
from tuneahead.pipeline import run_evaluation
from tuneahead.screen import best_saving_at_recall


@pytest.mark.parametrize("level", CALIBRATION_LEVELS)
def test_pit_coverage_matches_the_central_interval(level, rng):
    # a Gaussian predictive: the truth is inside [q_(1-l)/2, q_(1+l)/2] exactly when |F(R) - 1/2| <= l/2
    mean, sd = rng.normal(size=400), rng.uniform(0.5, 2.0, size=400)
    truth = mean + sd * rng.standard_t(df=3, size=400)
    z = norm.ppf(0.5 + level / 2)
    inside = np.abs(truth - mean) <= z * sd
    covered = coverage_from_pit(norm.cdf(truth, mean, sd), [level])[:, 0]
    np.testing.assert_array_equal(covered, inside)


def test_pit_coverage_of_a_calibrated_predictive_is_nominal(rng):
    n = 4000
    covered = coverage_from_pit(rng.uniform(size=n)).mean(axis=0)
    # each level's coverage is binomial(n, level) / n; 99.9% two-sided bounds
    lo = binom.ppf(0.0005, n, CALIBRATION_LEVELS) / n
    hi = binom.ppf(0.9995, n, CALIBRATION_LEVELS) / n
    assert np.all((covered >= lo) & (covered <= hi)), covered


def test_conformal_coverage_agrees_with_the_conformal_interval(rng):
    residuals = rng.normal(scale=2.0, size=59)
    mean = rng.normal(size=300)
    truth = mean + rng.normal(scale=2.0, size=300)
    covered = conformal_coverage(mean, truth, residuals)
    for j, level in enumerate(CALIBRATION_LEVELS):
        conformal = SplitConformal(level).calibrate(np.zeros(59), residuals)
        lower, upper = conformal.interval(mean)
        np.testing.assert_array_equal(covered[:, j], (truth >= lower) & (truth <= upper))
    # wider levels never cover fewer runs
    assert np.all(np.diff(covered.astype(int), axis=1) >= 0)


@pytest.mark.slow
def test_evaluation_writes_calibration_pit_and_total_steps(tmp_path, compose_app, tiny_evaluation_overrides):
    overrides = [
        *tiny_evaluation_overrides,
        "evaluation.budgets=[200]",
        "evaluation.methods=[ours,last_value,tuneahead]",
        "evaluation.screen.pruners=[]",
        "evaluation.explain.enabled=false",
        "evaluation.baselines.lightgbm.early_stopping=5",
    ]
    run_evaluation(compose_app("evaluate", overrides), tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    table_csv = pd.read_csv(tmp_path / "out" / "table.csv").set_index("method")
    rows = {r["method"]: r for r in saved["calibration"]}
    assert set(rows) == {"ours", "tuneahead"}  # last value has no calibrated predictive
    for method, label in (("ours", "ours (hierarchical)"), ("tuneahead", "TuneAhead (LightGBM)")):
        r = rows[method]
        assert r["levels"] == list(CALIBRATION_LEVELS) and r["n"] == 12 and r["budget"] == 200.0
        assert np.all(np.diff(r["coverage"]) >= 0)
        # at the table's own level the calibration block counts the same intervals
        # (ours: PIT against bisected quantiles, which may differ for a truth within the bisection's tolerance)
        at_90 = r["coverage"][CALIBRATION_LEVELS.index(0.9)]
        assert at_90 == pytest.approx(
            table_csv.loc[label, "200/coverage_90"], abs=1e-9 if method == "tuneahead" else 1 / 12
        )
    preds = pd.read_csv(tmp_path / "out" / "predictions.csv")
    ours = preds[preds.method == "ours"]
    assert ours.pit.between(0, 1).all() and ours.p_top.between(0, 1).all()
    assert preds[preds.method != "ours"].pit.isna().all()
    np.testing.assert_allclose(preds.total_steps, 400.0)
    # ranking by p_top reproduces the headline's saving at the recall target
    head = next(h for h in saved["headline"] if h["method"] == "ours (hierarchical)")
    best = best_saving_at_recall(ours.p_top, ours.final >= head["tau_top"], ours.total_steps, 200.0, 0.95)
    assert best["compute_saved"] == pytest.approx(head["compute_saved"])
