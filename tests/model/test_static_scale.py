"""Static features on the model's scale: the log choice, the clamp to the training range, and a
candidate far outside it held at the edge instead of extrapolated."""

import dataclasses

import numpy as np
import pytest

from tuneahead.data.errors import RunTableError
from tuneahead.model.design import ModelDesign, ModelSpec
from tuneahead.model.static_scale import log_features


def test_heavy_tails_go_to_the_log_scale_and_even_spreads_do_not():
    rng = np.random.default_rng(0)
    n = 200
    static = np.column_stack(
        [
            np.exp(rng.normal(8.0, 2.0, n)),  # a perplexity: orders of magnitude, right-skewed
            rng.uniform(0.001, 0.6, n),  # a warm-up fraction: spans 600x, but evenly
            rng.uniform(1.0, 50.0, n),  # positive, under 100x
            np.r_[0.0, rng.uniform(1e-4, 1.0, n - 1)],  # a zero: no logarithm
        ]
    )
    assert log_features(static, 100.0) == (True, False, False, False)
    assert log_features(static, None) == (False,) * 4


def _shifted(table, column, value):
    static = np.array(table.static, copy=True)
    static[:, column] = value
    return dataclasses.replace(table, static=static)


def test_candidates_past_the_training_range_are_held_at_its_edge(population_table):
    train, _ = population_table.split("random", test_fraction=0.25, seed=0)
    design = ModelDesign.fit(train, ModelSpec(metrics=tuple(population_table.metrics)))
    test = train.select(np.arange(10))  # inside the range in every other feature
    j = 0
    top, sd = train.static[:, j].max(), train.static[:, j].std()
    edge, far = _shifted(test, j, top), _shifted(test, j, top + 50 * sd)
    assert np.allclose(design.extrapolation(edge), 0.0) and np.allclose(design.extrapolation(test), 0.0)
    assert design.extrapolation(far) == pytest.approx(np.full(len(test), 50.0), rel=1e-4)
    for a, b in zip(design.encode(far), design.encode(edge)):
        if a is not None:
            assert np.array_equal(np.asarray(a), np.asarray(b))
    # break the clamp: the far candidates are then encoded 50 sds out
    loose = dataclasses.replace(design, z_low=(), z_high=())
    assert np.abs(np.asarray(loose.encode(far).x_linear)[:, j]).max() > 40
    unclamped = ModelDesign.fit(train, ModelSpec(metrics=tuple(population_table.metrics), clamp_features=False))
    assert unclamped.z_low == () and np.allclose(unclamped.extrapolation(far), 0.0)


def test_a_logged_feature_refuses_a_candidate_it_cannot_log_unless_clamped(population_table):
    train, test = population_table.split("random", test_fraction=0.25, seed=0)
    rng = np.random.default_rng(1)
    heavy = lambda t: _shifted(t, 0, np.exp(rng.normal(6.0, 2.5, len(t))))  # noqa: E731
    train = heavy(train)
    spec = ModelSpec(metrics=tuple(population_table.metrics))
    design = ModelDesign.fit(train, spec)
    assert design.x_log[0]
    zero = _shifted(test, 0, 0.0)
    assert np.all(design.extrapolation(zero) == np.inf)
    assert np.allclose(np.asarray(design.encode(zero).x_linear)[:, 0], design.z_low[0])
    loose = ModelDesign.fit(train, dataclasses.replace(spec, clamp_features=False))
    with pytest.raises(RunTableError, match=r"log scale.*model.log_span=null"):
        loose.encode(zero)
    with pytest.raises(RunTableError, match="model.log_span"):
        ModelSpec(log_span=0.5)


def test_the_relu_basis_fits_a_kink_that_a_line_cannot_and_is_held_to_one_features_prior(population_table):
    from tuneahead.model.static_scale import RELU_UNITS, basis

    rng = np.random.default_rng(2)
    z = rng.normal(size=(400, 3))
    target = np.abs(z[:, 0]) + np.abs(z[:, 1])  # kinks: no line follows them
    columns, names = basis(z, ("a", "b", "c"), "relu")
    assert columns.shape == (400, 3 + RELU_UNITS) and names[3] == "relu_0" and (columns[:, 3:] >= 0).all()
    assert np.array_equal(columns, basis(z, ("a", "b", "c"), "relu")[0]), "the hidden units are fixed"

    def explained(x):
        x = np.column_stack([np.ones(len(x)), x])
        coef = np.linalg.solve(x.T @ x + 1e-3 * np.eye(x.shape[1]), x.T @ target)
        return 1.0 - np.var(target - x @ coef) / np.var(target)

    assert explained(z) < 0.05 and explained(columns) > 0.85, (explained(z), explained(columns))
    train, _ = population_table.split("random", test_fraction=0.25, seed=0)
    design = ModelDesign.fit(train, ModelSpec(metrics=tuple(population_table.metrics), static_basis="relu"))
    x = np.asarray(design.encode(train).x_static)
    p = len(train.static_names)
    assert np.allclose(x[:, :p].std(axis=0), 1.0, atol=1e-4)
    assert np.allclose(x[:, p:].std(axis=0)[x[:, p:].std(axis=0) > 0], RELU_UNITS**-0.5, atol=1e-4)
