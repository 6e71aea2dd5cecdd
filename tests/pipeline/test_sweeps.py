"""The fit app on simulated runs, and a Hydra multirun over probe budgets (split from test_app.py so
the two test workers share the end-to-end jobs)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuneahead.model import StackedPosterior, load_posterior
from tuneahead.pipeline import run_fit


@pytest.mark.slow
def test_synthetic_job_puts_the_posterior_beside_brute_force(tiny_simulated_overrides, compose_app, tmp_path):
    summary = run_fit(compose_app("config", ["+experiment=synthetic", *tiny_simulated_overrides]), tmp_path)
    truth = json.loads((tmp_path / "summary.json").read_text())["truth"]
    assert truth["kind"].startswith("probe-information reference") and truth["n_runs"] == 4 and truth["branches"] == 3
    cmp = truth["comparison"]
    assert cmp["budgets"] == [0.0, 20.0, 40.0]
    # the posterior's three parts add up, and the reference is computed on the same runs' configs
    risk = json.loads((tmp_path / "summary.json").read_text())["risk"]
    np.testing.assert_allclose(np.add(np.add(risk["L_int"]["value"], risk["V_opt"]), risk["V_epi"]), risk["L"])
    assert truth["probe_reference"]["configs"] <= 4
    assert len(cmp["L_probe_reference"]) == len(cmp["realized_squared_error"]) == 3
    assert cmp["L_int_brute"] > 0 and cmp["L_int_posterior"] > 0
    assert len(cmp["V_opt_brute"]) == len(cmp["V_opt_posterior"]) == 3
    assert cmp["regime"]["brute"] in ("Static-Sufficient", "Dynamic-Critical", "Noise-Dominant")
    assert summary["data"]["n_groups"] == 4
    # the choice's table gives stacking weights, and each training run's terms lie beside it,
    # not in the summary
    choice = pd.read_csv(tmp_path / "model_choice.csv")
    assert choice["stacking_weight"].sum() == pytest.approx(1.0)
    terms = pd.read_csv(tmp_path / "model_choice_pointwise.csv")
    assert list(terms.columns) == ["run_id", *choice["variant"]] and len(terms) == summary["data"]["n_train"]
    np.testing.assert_allclose(terms[choice["variant"]].sum().to_numpy(), choice["elpd"], rtol=1e-6)
    assert "model_choice_pointwise" not in json.loads((tmp_path / "summary.json").read_text())["diagnostics"]
    # the fit is the converged variants stacked by their weights (model.auto.combine=stack), saved whole
    stacked = load_posterior(tmp_path / "posterior.nc")
    assert isinstance(stacked, StackedPosterior) and sum(stacked.weights.values()) == pytest.approx(1.0)
    assert set(summary["model"]["stack"]) == set(stacked.weights) <= set(choice["variant"][choice["converged"]])


@pytest.mark.slow
def test_multirun_over_probe_budget(tiny_recovery_overrides, tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    # SVI keeps the two jobs short: the test is about the sweep's plumbing, not the fit
    svi = ["inference=svi", "inference.svi_steps=100", "inference.svi_draws=20"]
    cmd = [
        sys.executable,
        "-m",
        "tuneahead.fit",
        "-m",
        "+experiment=recovery",
        "probe.budget=200,400",
        *svi,
        *[o for o in tiny_recovery_overrides if not o.startswith(("probe.budget", "inference."))],
        f"hydra.sweep.dir={tmp_path}",
    ]
    result = subprocess.run(
        cmd, cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = sorted(tmp_path.glob("*/summary.json"))
    assert len(summaries) == 2
    budgets = sorted(json.loads(p.read_text())["probe_budget"] for p in summaries)
    assert budgets == [200.0, 400.0]
