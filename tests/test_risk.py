"""Power-law fit, budget-optimal probe, regimes and the risk curve on constructed inputs."""

import numpy as np
import pytest

from tuneahead.predict import PredictiveComponents
from tuneahead.risk import (
    REGIMES,
    PowerLaw,
    RiskCurve,
    call_regime,
    classify_regime,
    fit_horizon_power_law,
    fit_power_law,
    optimal_budget,
    risk_curve,
)


def curve_from(budgets, L_int, K, alpha, L0):
    budgets = np.asarray(budgets, dtype=float)
    total = np.where(budgets > 0, L_int + K * np.where(budgets > 0, budgets, 1.0) ** (-alpha), L0)
    draws = np.stack([total * f for f in (0.9, 1.0, 1.1)])
    return RiskCurve(budgets, total, draws, L_int, np.array([0.9, 1.0, 1.1]) * L_int)


@pytest.mark.parametrize("K, alpha", [(10.0, 0.5), (2000.0, 1.26), (3.0, 2.0)])
def test_power_law_fit_recovers_exact_power_law(K, alpha):
    risk = curve_from([0, 10, 100, 1000, 10000], 0.7, K, alpha, L0=1e4)
    fit = fit_power_law(risk)
    assert fit.K == pytest.approx(K, rel=1e-9)
    assert fit.alpha == pytest.approx(alpha, rel=1e-9)


@pytest.mark.parametrize(
    "K, alpha, gamma, lam", [(100.0, 0.5, 1.0, 1e-3), (2000.0, 1.2, 0.1, 1e-4), (5.0, 2.0, 3.0, 0.01)]
)
def test_optimal_budget_is_the_argmin_of_risk_plus_cost(K, alpha, gamma, lam):
    c_star = float(optimal_budget(K, alpha, gamma, lam))
    grid = np.geomspace(c_star / 100, c_star * 100, 200001)
    objective = 3.0 + K * grid ** (-alpha) + gamma * (0.5 + lam * grid)
    assert c_star == pytest.approx(grid[np.argmin(objective)], rel=1e-3)


def test_optimal_budget_ignores_intrinsic_risk_and_rejects_bad_costs():
    assert np.isnan(optimal_budget(10.0, -0.1, 1.0, 1.0))
    with pytest.raises(ValueError):
        optimal_budget(10.0, 1.0, 0.0, 1.0)


@pytest.mark.parametrize(
    "L0, L_int, eps, expected",
    [
        (4.0, 1.0, 3.0, "Static-Sufficient"),
        (9.0, 1.0, 3.0, "Static-Sufficient"),
        (50.0, 1.0, 3.0, "Dynamic-Critical"),
        (50.0, 9.0, 3.0, "Noise-Dominant"),
        (50.0, 20.0, 3.0, "Noise-Dominant"),
        (0.5, 0.4, 0.5, "Noise-Dominant"),
    ],
)
def test_classify_regime_table(L0, L_int, eps, expected):
    assert str(classify_regime(L0, L_int, eps)) == expected


def test_call_regime_probabilities_and_budget_to_tolerance():
    risk = curve_from([0, 10, 100, 1000], 1.0, 400.0, 1.0, L0=100.0)
    power = fit_power_law(risk)
    call = call_regime(risk, power, epsilon=3.0, c_max=1000.0)
    assert call.label == "Dynamic-Critical"
    assert sum(call.probabilities.values()) == pytest.approx(1.0)
    assert set(call.probabilities) == set(REGIMES)
    # 1 + 400 / c <= 9  <=>  c >= 50
    assert call.budget_to_tolerance == pytest.approx(50.0, rel=1e-6)
    assert call.reachable and call.L_c_max == pytest.approx(1.4)
    tight = call_regime(risk, power, epsilon=1.05, c_max=1000.0)
    assert tight.label == "Dynamic-Critical" and not tight.reachable


def test_risk_curve_applies_the_law_of_total_variance():
    def components_at(table):
        c = float(np.nanmax(np.where(np.isfinite(table.curves["m"].steps), table.curves["m"].steps, 0.0), initial=0.0))
        n = len(table)
        # two draws whose means differ by 2: between-draw variance 1
        mean_ok = np.stack([np.zeros(n), np.full(n, 2.0)])
        var_ok = np.full((2, n), 4.0 / (1.0 + c))
        zeros = np.zeros((2, n))
        return PredictiveComponents(zeros, mean_ok, var_ok, zeros, np.ones((2, n)))

    from tuneahead.data.runtable import RunTable

    table = RunTable.from_records(
        [
            {
                "run_id": f"r{i}",
                "group": "g",
                "budget": 10,
                "final": 1.0,
                "static": {},
                "curves": {"m": [(1, 0.0), (3, 0.0)]},
            }
            for i in range(3)
        ]
    )
    risk = risk_curve(components_at, table, [1, 3], intrinsic_draws=np.array([0.5, 0.7]))
    np.testing.assert_allclose(risk.budgets, [0, 1, 3])
    np.testing.assert_allclose(risk.total, [4.0 + 1.0, 2.0 + 1.0, 1.0 + 1.0])
    np.testing.assert_allclose(risk.draws, [[4.0, 2.0, 1.0], [4.0, 2.0, 1.0]])
    assert risk.intrinsic == pytest.approx(0.6)
    # the three parts: V_epi is the between-draw variance, V_opt the per-draw risk above L_int
    np.testing.assert_allclose(risk.epistemic_variance, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(risk.optimization_variance, risk.draws.mean(axis=0) - 0.6)
    np.testing.assert_allclose(risk.intrinsic + risk.optimization_variance + risk.epistemic_variance, risk.total)
    assert risk.horizon == 10.0


def test_power_law_callable():
    law = PowerLaw(8.0, 1.5, np.array([8.0]), np.array([1.5]))
    assert law(4.0) == pytest.approx(1.0)
    horizon = PowerLaw(8.0, 1.5, np.array([8.0]), np.array([1.5]), horizon=16.0)
    assert horizon(4.0) == pytest.approx(1.0 - 8.0 / 64.0)
    assert horizon(16.0) == 0.0 and horizon(32.0) == 0.0
    assert horizon(horizon.budget_for(0.5)) == pytest.approx(0.5)


@pytest.mark.parametrize("K, alpha, T", [(50.0, 0.4, 400.0), (300.0, 1.1, 500.0), (5.0, 2.2, 1000.0)])
def test_horizon_power_law_recovers_exact_curves_row_by_row(K, alpha, T):
    c = np.array([0.0, 10.0, 25.0, 50.0, 100.0, 200.0, T])
    v = K * (np.where(c > 0, c, 1.0) ** -alpha - T**-alpha)
    rows = np.stack([v, 2.0 * v, np.where(c == 10.0, v, 0.0)])  # the last has one usable budget
    K_fit, alpha_fit = fit_horizon_power_law(c, rows, T)
    np.testing.assert_allclose(K_fit[:2], [K, 2 * K], rtol=1e-6)
    np.testing.assert_allclose(alpha_fit[:2], [alpha, alpha], rtol=1e-6)
    assert np.isnan(K_fit[2]) and np.isnan(alpha_fit[2])
    # the plain log-log slope of the same curve is steeper: the horizon term is not a power law
    _, naive = fit_horizon_power_law(c, v)
    assert naive[0] > alpha
