"""A stacked posterior: the variants' mixture by weight, through the predictive, the risk split,
storage, the importance update and the model choice."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tuneahead import InferenceConfig, ModelSpec, fit, predict
from tuneahead.inference import ImportanceUpdate
from tuneahead.model import Posterior, StackedPosterior, load_posterior
from tuneahead.model.stacked import allocate_draws
from tuneahead.predict import components_from_params, predictive_components
from tuneahead.risk import posterior_risk
from tuneahead.selection import ModelChoice

CONFIG = InferenceConfig(method="svi", svi_steps=300, svi_draws=200, progress=False, seed=0)


@pytest.fixture(scope="module")
def variants(population_table):
    """Two variants of the model fitted to the same runs, and the runs cut at a 100-step probe."""
    base = fit(population_table, ModelSpec(metrics=("eval_score",)), CONFIG)
    shape = fit(population_table, ModelSpec(metrics=("eval_score",), shape_features=True), CONFIG)
    return {"base": base, "shape": shape}, population_table.truncate(100)


def _mixture_moments(parts: list[tuple[float, tuple[np.ndarray, np.ndarray]]]):
    """Mean and variance of a mixture from its components' weights, means and variances."""
    mean = sum(w * m for w, (m, _) in parts)
    return mean, sum(w * (v + m**2) for w, (m, v) in parts) - mean**2


def test_draws_are_shared_by_the_weights_by_largest_remainders(rng):
    assert allocate_draws(np.array([0.5, 0.3, 0.2]), 10).tolist() == [5, 3, 2]
    assert allocate_draws(np.array([0.34, 0.33, 0.33]), 400).tolist() == [136, 132, 132]
    for _ in range(20):
        w = rng.dirichlet(np.ones(4))
        counts = allocate_draws(w, 401)
        assert counts.sum() == 401 and np.all(np.abs(counts - 401 * w) < 1)


def test_a_stack_of_one_variant_predicts_as_that_variant(variants):
    members, cut = variants
    alone = StackedPosterior.from_members(members, {"base": 1.0, "shape": 1e-4})  # shape: under MIN_WEIGHT
    assert list(alone.members) == ["base"] and alone.weights == {"base": 1.0}
    ours, theirs = predict(alone, cut, max_draws=100), predict(members["base"], cut, max_draws=100)
    np.testing.assert_array_equal(ours.mean, theirs.mean)
    np.testing.assert_array_equal(ours.upper, theirs.upper)


def test_the_stacks_predictive_is_the_mixture_of_the_variants_by_weight(variants):
    # 200 draws at weights 1/4 and 3/4 are 50 of base and 150 of shape (of 200 each), each thinned
    # as the variant alone would be: the moments are the mixture's exactly. Sharing the draws
    # equally instead moves the mean by up to the variants' difference / 4.
    members, cut = variants
    stack = StackedPosterior.from_members(members, {"base": 0.25, "shape": 0.75})
    mean, var = predictive_components(stack, cut, 200).moments()
    parts = [(0.25, predictive_components(members["base"], cut, 50).moments())]
    parts.append((0.75, predictive_components(members["shape"], cut, 150).moments()))
    want_mean, want_var = _mixture_moments(parts)
    assert np.max(np.abs(parts[0][1][0] - parts[1][1][0])) > 0.1, "the variants must differ for this to test anything"
    np.testing.assert_allclose(mean, want_mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(var, want_var, rtol=1e-5)
    # each set of draws is read with its own variant's design
    sets = stack.draw_sets(400)  # more than a variant has: its draws repeat, evenly
    assert [d.spec.shape_features for _, d in sets] == [False, True]
    assert [len(p["sigma_eps"]) for p, _ in sets] == [100, 300]
    assert len(np.unique(np.asarray(sets[1].params["sigma_eps"]))) == 200
    # the parameters both variants have are pooled the same way: 100 draws of one, 300 of the other
    pooled = stack.natural(400)["sigma_eps"]
    np.testing.assert_array_equal(pooled[:100], members["base"].natural()["sigma_eps"][stack.draw_indices(400)["base"]])
    assert pooled.shape[0] == 400


def test_the_variants_spread_is_epistemic_and_their_intrinsic_risks_average(variants):
    members, cut = variants
    stack = StackedPosterior.from_members(members, {"base": 0.25, "shape": 0.75})
    budgets = [0.0, 100.0, 200.0]
    ours = posterior_risk(stack, cut, budgets, max_draws=200)
    each = [(0.25, posterior_risk(members["base"], cut, budgets, 50))]
    each.append((0.75, posterior_risk(members["shape"], cut, budgets, 150)))
    assert ours.intrinsic == pytest.approx(sum(w * r.intrinsic for w, r in each), rel=1e-6)
    # each run's between-draw variance is the mixture's: within each variant, plus between them
    _, between = _mixture_moments([(w, (r.mean_runs, r.epistemic_runs)) for w, r in each])
    np.testing.assert_allclose(ours.epistemic_runs, between, rtol=1e-5, atol=1e-8)
    assert np.all(ours.epistemic_variance > sum(w * r.epistemic_variance for w, r in each))
    np.testing.assert_allclose(ours.total, ours.intrinsic + ours.optimization_variance + ours.epistemic_variance)


def test_a_saved_stack_reads_back_whole_and_a_single_posterior_stays_single(variants, tmp_path):
    members, cut = variants
    stack = StackedPosterior.from_members(members, {"base": 0.4, "shape": 0.6}, {"note": "kept"})
    back = load_posterior(stack.save(tmp_path / "posterior.nc"))
    assert isinstance(back, StackedPosterior) and back.weights == pytest.approx(stack.weights)
    assert back.diagnostics.extra["note"] == "kept" and back.diagnostics.method == stack.diagnostics.method
    np.testing.assert_allclose(predict(back, cut, max_draws=50).upper, predict(stack, cut, max_draws=50).upper)
    with pytest.raises(ValueError, match="load_posterior"):
        Posterior.load(tmp_path / "posterior.nc")
    single = load_posterior(members["base"].save(tmp_path / "single.nc"))
    assert isinstance(single, Posterior)


def test_variants_that_read_other_runs_or_unknown_names_are_refused(variants):
    members, _ = variants
    base = members["base"]
    other = Posterior(
        base.idata, replace(base.design, spec=replace(base.design.spec, metrics=("loss",))), base.diagnostics
    )
    with pytest.raises(ValueError, match="only variants that read the same runs"):
        StackedPosterior.from_members({"base": base, "loss": other}, {"base": 0.5, "loss": 0.5})
    with pytest.raises(ValueError, match="name no fitted variant"):
        StackedPosterior.from_members(members, {"walk": 1.0})


def test_an_update_moves_the_weight_to_the_variant_that_explains_the_new_runs(variants, population_table):
    # A copy of base whose group intercepts are off by 2 standardized units explains the runs
    # far worse: folding them in must leave it nearly no weight (with equal weights kept it 0.5).
    members, cut = variants
    base = members["base"]
    shifted = base.idata.copy()
    shifted.posterior["a"] = shifted.posterior["a"] + 2.0
    off = Posterior(shifted, base.design, base.diagnostics)
    stack = StackedPosterior.from_members({"base": base, "off": off}, {"base": 0.5, "off": 0.5})
    updated = ImportanceUpdate.start(stack).with_runs(population_table.select(np.arange(8))).posterior()
    assert isinstance(updated, StackedPosterior)
    assert updated.weights.get("off", 0.0) < 0.05 and updated.weights["base"] > 0.95
    assert updated.diagnostics.extra["importance_update"]["runs"] == 8
    assert all(m.idata.posterior.sizes["chain"] == 1 for m in updated.members.values())
    assert np.all(np.isfinite(predict(updated, cut, max_draws=50).mean))


def test_the_choice_stacks_only_the_variants_whose_chains_agree(variants):
    members, _ = variants
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=60), rng.normal(size=60)
    pointwise = pd.DataFrame({"run_id": np.arange(60), "base": a, "shape": b})
    table = pd.DataFrame({"variant": ["base", "shape"], "converged": [True, True]})
    choice = ModelChoice(table, "base", members["base"].design.spec, members, pointwise)
    assert set(choice.stacked().weights) == {"base", "shape"}  # each predicts half the runs best
    table = pd.DataFrame({"variant": ["base", "shape"], "converged": [True, False]})
    choice = ModelChoice(table, "base", members["base"].design.spec, members, pointwise)
    assert choice.stacked().weights == {"base": 1.0}


def test_components_of_one_set_are_those_of_its_parameters(variants):
    members, cut = variants
    ((params, design),) = members["shape"].draw_sets(30)
    np.testing.assert_array_equal(
        predictive_components(members["shape"], cut, 30).mean_ok, components_from_params(params, design, cut).mean_ok
    )
