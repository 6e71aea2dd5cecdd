"""SHAP attributions add up: sum of attributions = prediction - base value."""

import numpy as np

from tuneahead.baselines import GradientBoosted
from tuneahead.data.runtable import Curve, RunTable
from tuneahead.explain import PosteriorMeanFunction, explain_gradient_boosted


def _table(rng, n=240):
    static = rng.normal(size=(n, 3))
    steps = np.tile(np.arange(1, 6) * 100.0, (n, 1))
    values = 60 + 10 * static[:, :1] + np.cumsum(rng.normal(size=(n, 5)), axis=1)
    final = values[:, -1] + 20 * static[:, 1] + rng.normal(size=n)
    return RunTable(
        run_id=[f"r{i}" for i in range(n)],
        group=["g"] * n,
        static=static,
        static_names=("a", "b", "c"),
        budget=np.full(n, 1000.0),
        curves={"score": Curve(steps, values)},
        final=final,
    )


def test_tree_attributions_add_up(rng):
    table = _table(rng)
    train, test = table.split("random", test_fraction=0.25, seed=0)
    model = GradientBoosted(["score"], seed=0).fit(train, 300.0)
    att = explain_gradient_boosted(model, test)
    assert att.values.shape == (len(test), len(model.feature_names_))
    # TreeExplainer is exact: additivity holds to float rounding of the tree sums
    np.testing.assert_allclose(att.values.sum(axis=1) + att.base_value, att.prediction, atol=1e-8)
    np.testing.assert_allclose(att.prediction, model.predict(test).mean, atol=1e-10)
    frame = att.to_frame()
    assert len(frame) == att.values.size and set(frame.feature) == set(model.feature_names_)
    # the final score does not read feature c; b moves it by 20 points a unit
    imp = att.importance()
    assert imp["b"] > imp["c"]


class _Design:
    class spec:
        metrics = ("score",)


class _Posterior:
    design = _Design()


def test_feature_rows_round_trip_to_runs(rng):
    table = _table(rng, n=6).truncate(300.0)
    f = PosteriorMeanFunction(_Posterior(), table, 300.0)
    assert f.feature_names == ("a", "b", "c", "budget_T", "score@100", "score@200", "score@300")
    x = f.features(table)
    x[0, -1] = np.nan  # an absent point stays absent
    back = f.table(x)
    np.testing.assert_array_equal(back.static, table.static)
    np.testing.assert_array_equal(back.curve("score").counts, [2, 3, 3, 3, 3, 3])
    np.testing.assert_allclose(f.features(back), x, equal_nan=True)
