"""``python -m tuneahead.predict``: a saved posterior's calls on new candidates, with no refit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuneahead.data.errors import RunTableError
from tuneahead.data.files import write_runtable
from tuneahead.data.runtable import Curve, RunTable
from tuneahead.inference import InferenceConfig, fit
from tuneahead.model.design import ModelSpec
from tuneahead.pipeline.predict_job import run_predict
from tuneahead.risk.candidates import extended, probed_steps

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, population_table):
    """A posterior saved from 30 training runs, and the other 10 runs as candidates probed to 100 steps."""
    folder = tmp_path_factory.mktemp("predict")
    train, test = population_table.split("random", test_fraction=0.25, seed=0)
    config = InferenceConfig(method="svi", svi_steps=300, svi_draws=60, progress=False)
    posterior = fit(train, ModelSpec(metrics=tuple(population_table.metrics)), config)
    path = posterior.save(folder / "posterior.nc")
    candidates = write_runtable(test.truncate(100), folder / "candidates.csv")
    return path, candidates, test


def _overrides(path, candidates, *extra):
    return [f"posterior={path}", f"data.path={candidates}", "predict.max_draws=60", *extra]


def test_candidates_get_intervals_odds_and_the_probe_worth_its_cost(fitted, compose_app, tmp_path):
    path, candidates, test = fitted
    frame = run_predict(compose_app("predict", _overrides(path, candidates, "taus=[40,60]")), tmp_path)
    saved = pd.read_csv(tmp_path / "candidates.csv")
    assert list(saved.run_id) == list(test.run_id) and len(saved) == 10
    assert np.allclose(saved["mean"], frame["mean"])
    assert (saved.lower <= saved.upper).all() and saved.p_diverge.between(0, 1).all()
    assert (saved.p_at_least_40 >= saved.p_at_least_60).all() and saved.p_at_least_60.between(0, 1).all()
    assert (saved.probed == 100).all() and (saved.budget == 400).all()
    assert (saved.probe_to >= saved.probed).all() and (saved.more_steps == saved.probe_to - saved.probed).all()
    assert (saved.extrapolation >= 0).all() and np.isfinite(saved.extrapolation).all()
    report = json.loads((tmp_path / "candidates.json").read_text())
    assert report["settings"]["taus"] == [40.0, 60.0] and report["settings"]["lambda"] == pytest.approx(1 / 400)
    for row in report["candidates"]:
        curve = row["v_opt_curve"]
        assert curve["budgets"][0] == 100 and curve["budgets"][-1] == 400 and curve["v_opt"][-1] == 0
        assert np.all(np.diff(curve["v_opt"]) <= 1e-9), "more probing never adds variance"
        assert row["v_opt"] == curve["v_opt"][0] > 0
    # probing is free: every candidate is worth probing to its end; probing is dear: none is
    free = run_predict(compose_app("predict", _overrides(path, candidates, "risk.cost_per_step=1e-12")), tmp_path)
    dear = run_predict(compose_app("predict", _overrides(path, candidates, "risk.cost_per_step=1e6")), tmp_path)
    assert (free.probe_to == 400).all() and (dear.more_steps == 0).all()


def test_future_points_follow_each_runs_cadence():
    nan = np.nan
    steps = np.array([[10.0, 20.0, 30.0], [10.0, 25.0, nan], [nan, nan, nan]])
    values = np.array([[1.0, 2.0, 3.0], [1.0, 4.0, nan], [nan, nan, nan]])
    table = RunTable(
        np.array(["a", "b", "c"], dtype=object), np.array(["g"] * 3, dtype=object), np.zeros((3, 0)), (),
        np.full(3, 100.0), {"m": Curve(steps, values)}, np.full(3, nan), np.full(3, nan),
    )  # fmt: skip
    longer = extended(table, np.array([50.0, 70.0, 40.0]))
    assert probed_steps(longer).tolist() == [50.0, 70.0, 37.5]
    assert longer.curve("m").points(0)[0].tolist() == [10, 20, 30, 40, 50]  # its own spacing, 10
    assert longer.curve("m").points(1)[0].tolist() == [10, 25, 40, 55, 70]  # its own spacing, 15
    assert longer.curve("m").points(1)[1].tolist() == [1, 4, 4, 4, 4]  # the last value, a placeholder
    assert longer.curve("m").points(2)[0].tolist() == [12.5, 25, 37.5]  # no point yet: the others' median spacing
    assert probed_steps(extended(table, probed_steps(table))).tolist() == [30.0, 25.0, 0.0]


def test_candidates_that_do_not_match_the_posterior_are_named(fitted, compose_app, tmp_path):
    path, candidates, test = fitted
    fewer = RunTable(
        test.run_id, test.group, test.static[:, 1:], test.static_names[1:], test.budget, test.curves, test.final
    )
    bad = write_runtable(fewer, tmp_path / "fewer.csv")
    with pytest.raises(RunTableError, match=rf"data.path: .*missing \['{test.static_names[0]}'\]"):
        run_predict(compose_app("predict", _overrides(path, bad)), tmp_path)
    other = dict(test.curves)
    other["renamed"] = other.pop(test.metrics[0])
    renamed = RunTable(test.run_id, test.group, test.static, test.static_names, test.budget, other, test.final)
    bad = write_runtable(renamed, tmp_path / "renamed.csv")
    with pytest.raises(RunTableError, match=rf"data.path \(the metrics of posterior .*\): .*'{test.metrics[0]}'"):
        run_predict(compose_app("predict", _overrides(path, bad)), tmp_path)
    with pytest.raises(FileNotFoundError, match="posterior=.*nowhere.nc: no such file"):
        run_predict(compose_app("predict", _overrides(tmp_path / "nowhere.nc", candidates)), tmp_path)
    with pytest.raises(ValueError, match=r"taus=\[.*\]: give finite success thresholds"):
        run_predict(compose_app("predict", _overrides(path, candidates, "taus=[.inf]")), tmp_path)


@pytest.mark.slow
def test_the_command_writes_its_files(fitted, tmp_path):
    path, candidates, _ = fitted
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "-m", "tuneahead.predict", *_overrides(path, candidates), f"hydra.run.dir={tmp_path}"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(pd.read_csv(tmp_path / "candidates.csv")) == 10 and (tmp_path / "candidates.json").exists()


def test_placeholder_points_give_the_variance_the_real_points_give(fitted, population_table):
    """The healthy branch's variance depends on which points are seen, not on their values: a
    candidate carried on from 100 to 300 steps with placeholders has the variance that its real
    curve to 300 steps gives (which is what makes V_opt,i computable before the steps are run)."""
    from tuneahead.model.posterior import Posterior
    from tuneahead.predict import components_from_params

    path, _, test = fitted
    posterior = Posterior.load(path)
    params = posterior.params(20)
    real = components_from_params(params, posterior.design, test.truncate(300))
    placeholder = components_from_params(
        params, posterior.design, extended(test.truncate(100), np.full(len(test), 300.0))
    )
    assert (
        probed_steps(test.truncate(300)).tolist()
        == probed_steps(extended(test.truncate(100), np.full(10, 300.0))).tolist()
    )
    assert np.allclose(placeholder.var_ok, real.var_ok, rtol=1e-4)
    assert not np.allclose(placeholder.mean_ok, real.mean_ok, rtol=1e-4), "the values do move the mean"


def test_unprobed_candidates_reordered_features_and_a_single_tau(fitted, compose_app, tmp_path):
    path, _, test = fitted
    order = list(range(len(test.static_names)))[::-1]
    fresh = RunTable(
        test.run_id, test.group, test.static[:, order], tuple(test.static_names[j] for j in order), test.budget,
        {}, np.full(len(test), np.nan),
    )  # fmt: skip
    unprobed = write_runtable(fresh, tmp_path / "unprobed.csv")  # no point yet: nothing to read but the config
    frame = run_predict(compose_app("predict", _overrides(path, unprobed, "taus=50")), tmp_path)
    assert (frame.probed == 0).all() and "p_at_least_50" in frame and frame.p_at_least_50.between(0, 1).all()
    assert (frame.v_opt > 0).all(), "an unprobed candidate has everything left to learn from a probe"
    report = json.loads((tmp_path / "candidates.json").read_text())
    assert all(np.all(np.diff(row["v_opt_curve"]["v_opt"]) <= 1e-9) for row in report["candidates"])


def test_budget_fractions_must_rise_from_zero_to_one(fitted):
    from tuneahead.model.posterior import Posterior
    from tuneahead.risk import candidate_risk

    path, _, test = fitted
    posterior = Posterior.load(path)
    for fractions in [(0.1, 1.0), (0.0, 0.5), (0.0, 0.5, 0.25, 1.0)]:
        with pytest.raises(ValueError, match="must rise from 0 to 1"):
            candidate_risk(posterior.draw_sets(5), test.truncate(100), 1.0, 1e-3, fractions)
