"""The mechanistic simulator: runs, branching semantics and brute-force truth, on a tiny spec."""

from __future__ import annotations

import numpy as np
import pytest

from tuneahead.data.runtable import RunTableError
from tuneahead.synthetic import (
    PRESETS,
    SimulatorSpec,
    simulate_population,
    simulated_population,
)
from tuneahead.synthetic.population import NEVER
from tuneahead.validation import brute_force_risk


@pytest.fixture(scope="module")
def population(tiny_simulator, tiny_knobs):
    return simulate_population(
        "dynamic_critical", n_tasks=2, configs_per_task=2, seeds=5, spec=tiny_simulator, seed=3, overrides=tiny_knobs
    )


def test_population_is_a_valid_runtable(population):
    table = population.table
    assert len(table) == 2 * 2 * 5
    assert len(table.groups) == 4  # one group per (task, config) cell
    assert set(table.metrics) == {"eval_score", "eval_loss", "train_loss", "grad_norm"}
    steps = table.curve("eval_score").steps
    np.testing.assert_array_equal(steps[0], np.arange(10, 61, 10))
    assert np.all((table.final >= 0) & (table.final <= 100))
    assert np.all((population.p_final > 0.3) & (population.p_final <= 1.0))
    assert not table.diverged.any()
    # Knobs come back as static features: every run of a cell shares them.
    for g in table.groups:
        rows = table.static[table.group == g]
        np.testing.assert_array_equal(rows, np.repeat(rows[:1], len(rows), axis=0))


def test_same_seed_same_population(tiny_simulator, tiny_knobs, population):
    again = simulate_population("dynamic_critical", 2, 2, 5, tiny_simulator, seed=3, overrides=tiny_knobs)
    np.testing.assert_array_equal(again.table.final, population.table.final)
    np.testing.assert_array_equal(again.p_final, population.p_final)


def test_branch_shares_exactly_the_state_before_c(population):
    rows = np.arange(4)
    keys = np.asarray(np.random.default_rng(0).integers(0, 2**31, (4, 2)), dtype=np.uint32)
    never = population.run(rows, keys, np.full(4, NEVER))
    np.testing.assert_array_equal(never.p_final, population.p_final[rows])  # a replay is exact
    at_30 = population.run(rows, keys, np.full(4, 30))
    # Records at steps 10..30 are shared (same minibatches, same eval draws); later ones are not.
    np.testing.assert_array_equal(at_30.eval_score[:, :3], never.eval_score[:, :3])
    np.testing.assert_array_equal(at_30.train_loss[:, :3], never.train_loss[:, :3])
    assert np.all(at_30.train_loss[:, 3:] != never.train_loss[:, 3:])
    at_0 = population.run(rows, keys, np.zeros(4))
    assert np.all(at_0.train_loss[:, 0] != never.train_loss[:, 0])


def test_brute_force_truth(population):
    table = population.table
    bf = brute_force_risk(population, table, [0, 20, 60, 999], branches=6, seed=1)
    np.testing.assert_array_equal(bf.budgets, [0, 20, 60])  # budgets clipped to T = 60
    assert bf.optimization_variance[-1] == 0.0  # at c = T nothing is left
    p = population.p_final
    expected = np.mean(1e4 * p * (1 - p) / np.asarray(population.knobs.n_test))
    assert bf.intrinsic == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(bf.total, bf.intrinsic + bf.optimization_variance)
    # V_opt(0) by brute force and the within-cell variance of the observed seeds estimate the same
    # quantity, Var(100 p_T | config). Compare them with the standard error of their difference;
    # 4 standard errors keeps a false alarm below 1e-4 under normality.
    cells = np.unique(table.group, return_inverse=True)[1]
    within = np.array([np.var(100 * p[cells == k], ddof=1) for k in range(cells.max() + 1)])
    se = np.hypot(bf.standard_error[0], within.std(ddof=1) / np.sqrt(len(within)))
    assert abs(bf.optimization_variance[0] - within.mean()) <= 4 * se
    curve = bf.as_risk_curve(n_boot=20)
    assert curve.draws.shape == (20, 3)


def test_every_preset_runs_and_bad_input_is_named(tiny_simulator, tiny_knobs):
    # Two tasks everywhere: task arrays of one shape share one compilation of the simulator.
    for name in PRESETS:
        pop = simulate_population(name, 2, 1, 2, tiny_simulator, seed=0, overrides=tiny_knobs)
        assert len(pop.table) == 4
    with pytest.raises(ValueError, match="unknown simulator preset 'nope'"):
        simulate_population("nope", 1, 1, 2, tiny_simulator)
    with pytest.raises(ValueError, match=r"unknown preset knob\(s\) \['learning_rate'\]"):
        simulate_population("dynamic_critical", 1, 1, 2, tiny_simulator, overrides={"learning_rate": [1, 2]})
    with pytest.raises(ValueError, match=r"unknown simulator setting\(s\) \['width'\]"):
        simulated_population(simulator={"width": 3})
    with pytest.raises(ValueError, match="multiple of eval_every"):
        SimulatorSpec(steps=55, eval_every=10)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        SimulatorSpec(optimizer="lion")
    with pytest.raises(ValueError, match="at least 2 branches"):
        brute_force_risk(
            simulate_population("dynamic_critical", 2, 1, 2, tiny_simulator, overrides=tiny_knobs),
            None,
            [0],
            branches=1,
        )


def test_brute_force_rejects_foreign_runs(tiny_simulator, tiny_knobs, population):
    other = simulate_population("dynamic_critical", 2, 1, 2, tiny_simulator, seed=9, overrides=tiny_knobs)
    foreign = other.table.select(np.array([0]))
    object.__setattr__(foreign, "run_id", np.array(["not-a-run"]))
    with pytest.raises(RunTableError, match="'not-a-run' is not part of this simulated population"):
        brute_force_risk(population, foreign, [0], branches=2)
