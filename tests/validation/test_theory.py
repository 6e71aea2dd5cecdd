"""Fast versions of the theory checks (theory/check_*.py) on the tiny simulator of test_simulator."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "theory"))

import check_budget  # noqa: E402
import check_lower_bound  # noqa: E402
import check_phase_diagram  # noqa: E402

from tuneahead.validation import BruteForceRisk  # noqa: E402


def test_horizon_power_law_recovers_exact_curves():
    c = np.array([10.0, 20, 40, 80, 160])
    for alpha in (0.2, 0.5, 1.0):
        v = 7.0 * (c**-alpha - 400.0**-alpha)
        K, a = check_lower_bound.fit_horizon_power_law(c, v, 400.0)
        assert a == pytest.approx(alpha, rel=1e-6)
        assert K == pytest.approx(7.0, rel=1e-6)


def test_lower_bound_check_needs_the_power_schedule(tiny_simulator):
    with pytest.raises(ValueError, match="pure power schedule"):
        check_lower_bound.check(spec=tiny_simulator, progress=lambda _: None)


def _brute_force_with(alpha: float, T: float = 400.0, runs: int = 16, seed: int = 0) -> BruteForceRisk:
    """Brute-force results whose V_opt(c) is 50 (c^-alpha - T^-alpha) times a per-run factor."""
    budgets = np.array([0.0, 10.0, 20.0, 40.0, 80.0, 160.0, T])
    v = 50.0 * (np.where(budgets > 0, budgets, 1.0) ** -alpha - T**-alpha)
    v[0] = v[1] * 2
    noise = np.random.default_rng(seed).lognormal(0.0, 0.3, (runs, len(budgets)))  # branch noise per run and budget
    return BruteForceRisk(budgets, noise * v, np.zeros((runs, len(budgets))), np.ones(runs), branches=8, horizon=T)


@pytest.mark.parametrize("alpha, rho, consistent", [(0.3, 0.75, True), (1.5, 0.75, False), (0.8, 0.5, False)])
def test_the_lower_bound_check_flags_a_decay_faster_than_the_bound(alpha, rho, consistent):
    # V_opt falling as c^-1.5 at rho = 0.75 breaks the bound (alpha <= 2 rho - 1 = 0.5), and any
    # decay breaks it at rho = 1/2 (2 rho - 1 = 0): the check must say so; c^-0.3 is within it
    r = check_lower_bound.judge(_brute_force_with(alpha), rho, 400, n_boot=100)
    assert r["consistent"] is consistent, r
    assert r["alpha_q95"] - r["alpha_q05"] < 0.3, r  # 16 runs pin alpha down


@pytest.mark.slow
def test_lower_bound_is_consistent_on_tiny_runs(tiny_simulator, tiny_knobs):
    # On the tiny simulator V_opt barely falls between 10 and 30 steps of 60 (alpha near 0), so
    # this checks the claim's direction only; the check's power is the constructed test above.
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
    # The claim is a gap within 5% of the objective; measured on the part a budget changes,
    # V_opt(c) + gamma lambda c (L_int and the set-up cost left out, so the gap is not diluted),
    # with sampling error from the per-run paired difference: three of those on top.
    assert row["reducible_gap"] <= 0.05 + 3 * row["reducible_gap_standard_error"], row


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


@pytest.mark.slow
def test_check_posterior_gives_a_verdict_and_fails_a_halved_noise(tmp_path, tiny_simulated_overrides):
    # the smoke-sized check on the tiny simulator, then again with the fitted sigma_eps halved
    import check_posterior

    tiny = [o for o in tiny_simulated_overrides if not o.startswith("truth.")]
    tiny += ["truth.max_runs=6", "truth.branches=3", "truth.probe_seeds=8"]
    out = tmp_path / "check.json"
    status = check_posterior.main(["--json", str(out), "--out", str(tmp_path / "fit"), *tiny])
    result = json.loads(out.read_text())["verdict"]
    assert status == (0 if result["passed"] else 1)
    assert set(result["parts"]) == {"coverage_90", "L_vs_probe_reference", "c_star", "regime"}
    # the base variant alone (no model choice, one fit): the check must fail it whatever the variant
    one = [*tiny, "~model.auto.variants.shape"]
    assert check_posterior.main(["--scale-noise", "0.5", "--out", str(tmp_path / "broken"), *one]) == 1


def test_check_posterior_fast_settings_compose(compose_app):
    import check_posterior

    cfg = compose_app("config", ["+experiment=synthetic", *check_posterior.FAST])
    assert cfg.data.n_tasks == 4 and cfg.truth.max_runs == 24
