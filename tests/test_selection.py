"""Model choice on the training runs: the config, the folds, the rule, and a choice that can fail."""

import numpy as np
import pytest

from tuneahead import InferenceConfig, ModelSpec
from tuneahead.data.splits import Split
from tuneahead.model.stacked import stacking_weights
from tuneahead.selection import (
    DEFAULT_VARIANTS,
    ModelChoiceConfig,
    _choose,
    choose_model,
    mixture_weights,
    psis_loo,
    refit_folds,
)


def test_the_config_refuses_unknown_keys_criteria_and_targets():
    with pytest.raises(ValueError, match="model.auto.variants.odd: unknown model key"):
        ModelChoiceConfig(variants={"odd": {"wiggle": True}})
    with pytest.raises(ValueError, match="criterion"):
        ModelChoiceConfig(criterion="waic")
    with pytest.raises(ValueError, match="target"):
        ModelChoiceConfig(target="points")
    with pytest.raises(ValueError, match="model.auto.combine='average'"):
        ModelChoiceConfig(combine="average")
    with pytest.raises(ValueError, match="empty"):
        ModelChoiceConfig(variants={})
    assert ModelChoiceConfig().variants == DEFAULT_VARIANTS
    for budgets in ([], [25, -1], ["25"], [float("nan")]):
        with pytest.raises(ValueError, match="model.auto.budgets"):
            ModelChoiceConfig(budgets=budgets)
    assert ModelChoiceConfig(budgets=[400, 0, 100, 100]).budgets == [0.0, 100.0, 400.0]


def test_the_target_over_budgets_sums_each_runs_terms(population_table):
    # One variant: PSIS-LOO on one short fit. The summed target is each run's terms added up,
    # budget 0 (the static part alone) included, and no probe budget is needed beside the list.
    config = InferenceConfig(method="svi", svi_steps=150, svi_draws=40, progress=False)
    choice = ModelChoiceConfig(variants={"base": {}}, budgets=[0, 100, 400])
    result = choose_model(population_table, ModelSpec(metrics=("eval_score",)), config, choice)
    assert result.table["target"].iloc[0] == "final score given probe, summed over budgets 0, 100, 400"
    each = [psis_loo(result.posterior, population_table, "final_given_probe", b)[0] for b in (0, 100, 400)]
    assert np.all(np.isfinite(each))
    np.testing.assert_allclose(result.table["elpd"].iloc[0], np.sum(each), rtol=1e-6)
    assert not np.allclose(each[0], each[2])  # the probe informs: the terms differ by budget
    # each run's summed term is kept, in the training runs' order, and a lone variant has all the weight
    assert list(result.pointwise["run_id"]) == list(population_table.run_id)
    np.testing.assert_allclose(result.pointwise["base"], np.sum(each, axis=0), rtol=1e-6)
    assert result.table["stacking_weight"].iloc[0] == 1.0


def test_gate_only_variants_are_dropped_without_a_gate():
    specs = ModelChoiceConfig().specs(ModelSpec(failure_gate=False))
    assert "gate_linear" not in specs and "divergence" not in specs
    assert specs["shape"].shape_features and not specs["base"].shape_features


def test_a_later_variant_must_win_by_more_than_the_paired_error():
    rng = np.random.default_rng(0)
    base = rng.normal(size=100)
    close = base + rng.normal(0.01, 1.0, size=100)  # better by 1 in total, with a paired SE of 10
    clear = base + 0.5  # better by 50, paired SE 0
    eligible = {"base": True, "close": True, "clear": True}
    assert _choose(["base", "close"], {"base": base, "close": close}, 1.0, eligible) == "base"
    assert _choose(["base", "clear"], {"base": base, "clear": clear}, 1.0, eligible) == "clear"
    assert _choose(["base", "clear"], {"base": base, "clear": clear}, 1.0, {**eligible, "clear": False}) == "base"


def test_stacking_weights_maximize_the_mixtures_log_score(rng):
    """Against a grid over the simplex: two variants that each predict half of the runs well share
    the weight, a variant that is better on every run takes it all, and a copy adds nothing."""
    n = 200
    half = np.arange(n) < n // 2
    a = np.where(half, -1.0, -4.0) + rng.normal(0, 0.3, n)
    b = np.where(half, -4.0, -1.5) + rng.normal(0, 0.3, n)
    grid = np.linspace(0, 1, 2001)
    score = [np.logaddexp(np.log(max(w, 1e-300)) + a, np.log(max(1 - w, 1e-300)) + b).sum() for w in grid]
    w = stacking_weights(np.column_stack([a, b]))
    assert w.sum() == pytest.approx(1.0) and 0.3 < w[0] < 0.7
    assert w[0] == pytest.approx(grid[int(np.argmax(score))], abs=2e-3)
    assert stacking_weights(np.column_stack([a, a - 1.0]))[0] > 0.99  # better on every run
    three = stacking_weights(np.column_stack([a, b, a + np.log(0.5)]))  # the third: a, never better
    assert three[2] < 0.01 and three[:2] == pytest.approx(w, abs=1e-2)
    with_gap = np.column_stack([a, b])
    with_gap[0, 1] = np.nan  # a run never held out is left out
    assert np.all(np.isfinite(stacking_weights(with_gap)))


def test_the_weights_reported_are_those_the_stack_mixes_by(rng):
    """A variant whose chains disagree gets no weight, and the others share all of it, weighed
    among themselves: the table's column and the stack read the same weights."""
    a, b, c = rng.normal(size=(3, 80))
    pointwise = {"base": a, "shape": b, "walk": c + 2.0}  # walk: best on every run, but not converged
    weights = mixture_weights(
        ["base", "shape", "walk"], pointwise, {"base": True, "shape": True, "walk": False}, "base"
    )
    assert set(weights) == {"base", "shape"} and sum(weights.values()) == pytest.approx(1.0)
    assert list(weights.values()) == pytest.approx(list(stacking_weights(np.column_stack([a, b]))))
    none = {"base": False, "shape": False, "walk": False}
    assert mixture_weights(["base", "shape", "walk"], pointwise, none, "shape") == {"shape": 1.0}


@pytest.mark.slow
def test_the_choice_prefers_the_model_that_generated_the_runs(population_table):
    # The runs were drawn with a failure gate (about one in eight diverges); a model without the
    # gate must lose by many paired standard errors on the final score given the probe.
    config = InferenceConfig(method="svi", svi_steps=300, svi_draws=100, progress=False)
    # 2-fold refits: the fallback's path, at the least cost (4 refits)
    choice = ModelChoiceConfig(variants={"no_gate": {"failure_gate": False}, "gate": {}}, criterion="kfold", folds=2)
    result = choose_model(population_table, ModelSpec(metrics=("eval_score",)), config, choice, budget=200)
    assert result.chosen == "gate" and result.spec.failure_gate
    row = result.table.set_index("variant").loc["no_gate"]
    assert row["d_elpd_to_best"] > 3 * row["d_elpd_se"], result.table
    assert set(result.table.columns) >= {"elpd", "elpd_se", "pareto_k_max", "criterion", "target", "chosen"}
    assert result.table["target"].iloc[0] == "final score given probe to 200"
    assert result.table["criterion"].iloc[0] == "2-fold"
    assert result.table.set_index("variant").loc["gate", "stacking_weight"] > 0.5
    assert list(result.pointwise.columns) == ["run_id", "no_gate", "gate"]


def test_under_a_group_split_the_refits_hold_out_whole_groups(population_table):
    # PSIS-LOO leaves one run out; a split that holds out groups makes the choice do so too.
    split = Split(kind="group", by=None, test_fraction=0.3)
    ((train, _),) = split.partition(population_table)
    choice = ModelChoiceConfig(folds=2)
    fold, method = refit_folds(train, 2, 0, choice, split)
    assert method == "2-fold over values of the group"
    groups = np.asarray(train.group)
    assert all(len(set(fold[groups == g])) == 1 for g in np.unique(groups))
    assert refit_folds(train, 1, 0, choice, split) == (None, "psis-loo")  # nothing to compare
    assert refit_folds(train, 2, 0, choice, Split(kind="random")) == (None, "psis-loo")
    fold, method = refit_folds(train, 2, 3, choice, Split(kind="random"))  # more than max_refits high k
    assert method == "2-fold" and len(set(fold[groups == groups[0]])) == 2
