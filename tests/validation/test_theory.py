"""Fast versions of the theory checks (theory/check_*.py) on the tiny simulator of test_simulator."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "theory"))

import check_budget  # noqa: E402
import check_lower_bound  # noqa: E402
import check_phase_diagram  # noqa: E402


def test_horizon_power_law_recovers_exact_curves():
    c = np.array([10.0, 20, 40, 80, 160])
    for alpha in (0.2, 0.5, 1.0):
        v = 7.0 * (c**-alpha - 400.0**-alpha)
        K, a = check_lower_bound.fit_horizon_power_law(c, v, 400.0)
        assert a == pytest.approx(alpha, abs=0.005)  # the grid step
        assert K == pytest.approx(7.0, rel=0.05)


def test_lower_bound_check_needs_the_power_schedule(tiny_simulator):
    with pytest.raises(ValueError, match="pure power schedule"):
        check_lower_bound.check(spec=tiny_simulator, progress=lambda _: None)


@pytest.mark.slow
def test_lower_bound_holds_on_tiny_runs(tiny_simulator, tiny_knobs):
    spec = replace(tiny_simulator, schedule="power")
    results = check_lower_bound.check(
        rhos=(0.75, 1.0),
        budgets=(10, 20, 30),
        spec=spec,
        n_tasks=2,
        configs_per_task=2,
        seeds=2,
        branches=6,
        n_boot=100,
        overrides=tiny_knobs,
        progress=lambda _: None,
    )
    for r in results:
        # The claim: the 90% bootstrap interval of alpha reaches down to 2 rho - 1 or below.
        assert r["consistent"], r
        assert np.all(np.asarray(r["V_opt"])[:-1] >= 0)


@pytest.mark.slow
def test_formula_budget_reaches_the_brute_force_optimum_on_tiny_runs(tiny_simulator, tiny_knobs):
    result = check_budget.check(
        budgets=(5, 10, 20, 40),
        spec=tiny_simulator,
        n_tasks=2,
        configs_per_task=2,
        seeds=3,
        branches=6,
        gamma_factors=(1.0,),
        overrides=tiny_knobs,
        progress=lambda _: None,
    )
    row = result["rows"][0]
    assert 0 < row["c_star"] < tiny_simulator.steps
    # The claim is a gap within 5%; the brute-force estimates of both objectives carry sampling
    # error (the standard error of the per-run difference), so allow three of those on top.
    assert row["objective_gap"] <= 0.05 + 3 * row["gap_standard_error"], row


@pytest.mark.slow
def test_presets_land_in_their_regime_by_brute_force(tiny_simulator, tiny_knobs):
    result = check_phase_diagram.check(
        tasks_per_preset=1,
        n_tasks=2,
        configs_per_task=2,
        seeds=3,
        spec=tiny_simulator,
        branches=4,
        posterior=False,
        overrides=tiny_knobs,
        progress=lambda _: None,
    )
    m = np.asarray(result["confusion_brute"])
    assert m.sum() == 3
    assert np.trace(m) == 3, result["tasks"]
