"""Tables without curves (``model.metrics=[]``): static features and final scores alone fit, predict
and report L(0), L_int and the regime, through both apps."""

import json

import numpy as np
import pandas as pd
import pytest

from tuneahead.data.errors import RunTableError
from tuneahead.data.files import read_runtable
from tuneahead.model.design import ModelSpec
from tuneahead.pipeline import run_evaluation, run_fit


@pytest.fixture(scope="module")
def curveless_file(tmp_path_factory, population_table):
    """TuneAhead's released format: one row per run, static columns and the final score, no point columns."""
    t = population_table
    wide = pd.DataFrame({"run_id": t.run_id, "group": t.group, "budget": t.budget, "final": t.final})
    for j, name in enumerate(t.static_names):
        wide[f"static.{name}"] = t.static[:, j]
    path = tmp_path_factory.mktemp("curveless") / "runs.csv"
    wide.assign(diverged=t.diverged).to_csv(path, index=False)
    read = read_runtable(path)
    assert read.curves == {} and np.array_equal(read.static, t.static) and np.array_equal(read.final, t.final)
    return path


def _overrides(path):
    return [
        "data=file",
        f"data.path={path}",
        "model.metrics=[]",
        "inference=svi",
        "inference.svi_steps=200",
        "inference.svi_draws=40",
        "inference.progress=false",
        "predict.max_draws=40",
    ]


def test_a_spec_without_metrics_refuses_options_that_act_on_curves():
    assert ModelSpec(metrics=()).metrics == ()
    curve_options = ("shape_features", "variance_features", "group_spread", "random_walk", "transient")
    for option in (*curve_options, "curve_offsets", "divergence_features"):
        with pytest.raises(RunTableError, match=f"model.metrics is empty.*model.{option}=false"):
            ModelSpec(metrics=(), **{option: True})


def test_the_gate_is_refused_where_no_curve_and_no_fate_identify_it(curveless_file, compose_app, tmp_path):
    unknown = tmp_path / "unknown_fate.csv"
    pd.read_csv(curveless_file).drop(columns="diverged").to_csv(unknown, index=False)
    with pytest.raises(RunTableError, match="model.failure_gate=true.*set model.failure_gate=false"):
        run_fit(compose_app("config", _overrides(unknown)), tmp_path / "fit")  # refused before any fit
    assert not (tmp_path / "fit" / "posterior.nc").exists()


@pytest.mark.slow
def test_the_fit_app_reports_the_static_end_of_the_theory(curveless_file, compose_app, tmp_path):
    overrides = [*_overrides(curveless_file), "risk.budgets=[0,100,400]", "risk.max_draws=20"]
    summary = run_fit(compose_app("config", overrides), tmp_path)
    saved = json.loads((tmp_path / "summary.json").read_text())
    risk, regime = saved["risk"], saved["regime"]
    assert saved["data"]["metrics"] == [] and summary["heldout"]["n"] > 0
    L = np.asarray(risk["L"])
    assert np.allclose(L, L[0])  # no probe length changes the prediction
    assert np.allclose(risk["V_opt"], 0.0, atol=1e-9 * L[0])
    assert L[0] == pytest.approx(risk["L_int"]["value"] + risk["V_epi"][0])
    assert risk["c_star"]["value"] == 0.0 and risk["power_law"]["K"] == 0.0
    assert regime["L0"] == pytest.approx(L[0]) and regime["L_int"] == pytest.approx(risk["L_int"]["value"])
    assert regime["label"] in ("Static-Sufficient", "Noise-Dominant")  # nothing for a probe to do
    assert regime["probabilities"]["Dynamic-Critical"] == 0.0
    assert (tmp_path / "predictions.csv").stat().st_size > 0


@pytest.mark.slow
def test_the_evaluate_app_runs_the_methods_that_need_no_curve(curveless_file, compose_app, tmp_path):
    with pytest.raises(ValueError, match=r"evaluation.methods: \['last_value'.*read a probe curve.*ours,static_only"):
        run_evaluation(compose_app("evaluate", _overrides(curveless_file)), tmp_path / "refused")
    overrides = [
        *_overrides(curveless_file),
        "~evaluation.splits.grouped",
        "evaluation.methods=[ours,static_only,tuneahead]",
        "evaluation.explain.enabled=false",
        "evaluation.baselines.lightgbm.early_stopping=5",
    ]
    result = run_evaluation(compose_app("evaluate", overrides), tmp_path / "out")
    assert [row["method"] for row in result["table"]] == [
        "ours (hierarchical)",
        "static-only LightGBM",
        "TuneAhead (LightGBM)",
    ]
    assert result["pruners"] == [] and result["data"]["metric"] is None
