"""Each baseline recovers a known answer on a small constructed table."""

import numpy as np
import pytest

from tuneahead.baselines import (
    PROBE_FEATURES,
    CurveExtrapolation,
    GradientBoosted,
    LastValue,
    LossDecayRegression,
    ProxyRegression,
    conformal_quantile,
    make_pruner,
    probe_features,
    replay_pruner,
)
from tuneahead.data.runtable import Curve, RunTable, RunTableError

STEPS = np.arange(1, 11) * 1000.0  # ten probe points, 1,000 steps apart


def _table(values, final, static=None, budget=50_000.0, steps=STEPS):
    values = np.atleast_2d(np.asarray(values, dtype=float))
    n = values.shape[0]
    static = np.zeros((n, 1)) if static is None else np.asarray(static, dtype=float).reshape(n, -1)
    return RunTable(
        run_id=[f"r{i}" for i in range(n)],
        group=["g"] * n,
        static=static,
        static_names=tuple(f"x{j}" for j in range(static.shape[1])),
        budget=np.full(n, budget),
        curves={"score": Curve(np.tile(steps[: values.shape[1]], (n, 1)), values)},
        final=final,
    )


def test_probe_features_by_hand():
    table = _table([[1.0, 3.0, 4.0, 8.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]], [0.0])
    got = probe_features(table, 4000.0, "score", window=3)[0]
    # cut at 4,000 steps: points 1, 3, 4, 8; OLS slope of (3, 4, 8) on (2, 3, 4) thousand steps is 2.5
    want = dict(last=8.0, initial=1.0, decay=-7.0, slope=2.5, mean=4.0, points=4.0, nonfinite=0.0)
    assert dict(zip(PROBE_FEATURES, got)) == pytest.approx(want, abs=1e-12)
    empty = probe_features(table, 500.0, "score")[0]
    assert np.isnan(empty[:5]).all() and empty[5] == 0


def test_last_value_learns_the_linear_map(rng):
    last = rng.uniform(0, 10, size=30)
    values = np.tile(last[:, None], (1, 10)) + rng.normal(size=(30, 10)) * np.r_[np.ones(9), 0][None, :]
    table = _table(values, 2.0 * last + 1.0)
    pred = LastValue("score").fit(table, 10_000).predict(table)
    np.testing.assert_allclose(pred.mean, 2.0 * last + 1.0, atol=1e-9)
    identity = LastValue("score", linear_map=False).fit(table, 10_000).predict(table)
    np.testing.assert_allclose(identity.mean, last, atol=1e-12)


@pytest.mark.parametrize("family", ["power", "exponential"])
def test_extrapolation_recovers_exact_curves(family, rng):
    u = STEPS / 1000.0
    a, b, k = rng.uniform(70, 90, 6), rng.uniform(10, 30, 6), rng.uniform(0.3, 1.5, 6)
    if family == "power":
        curve = lambda x: a[:, None] - b[:, None] * x ** (-k[:, None])  # noqa: E731
    else:
        curve = lambda x: a[:, None] - b[:, None] * np.exp(-x / (3 * k[:, None]))  # noqa: E731
    final = curve(np.array([50.0]))[:, 0]
    table = _table(curve(u), final)
    model = CurveExtrapolation("score").fit(table, 10_000)
    pred = model.predict(table)
    # noiseless curves: least squares is exact up to the optimizer's tolerance
    np.testing.assert_allclose(pred.mean, final, atol=0.05)
    assert set(model.families_) == {family}


def test_extrapolation_with_too_few_points_keeps_the_last_value():
    rising = [50.0, 60.0, 70.0, 80.0, 85.0, 87.0, 88.0, 88.5, 89.0, 89.2]
    table = _table([rising, [33.0] * 10], [89.5, 33.0])
    model = CurveExtrapolation("score").fit(table, 2000)
    np.testing.assert_array_equal(model.predict(table).mean, [60.0, 33.0])
    assert model.families_ == ["last", "last"]


def test_loss_decay_regression_is_exact_on_a_linear_truth(rng):
    start = rng.uniform(2, 4, 25)
    end = start - rng.uniform(0, 1.5, 25)
    values = np.linspace(start, end, 10).T
    final = 1.0 + 2.0 * start - 3.0 * (start - end)
    pred = LossDecayRegression("score").fit(_table(values, final), 10_000).predict(_table(values, final))
    np.testing.assert_allclose(pred.mean, final, atol=1e-9)


def test_proxy_regression_recovers_a_linear_truth(rng):
    x = rng.normal(size=(40, 2))
    last = rng.uniform(50, 90, 40)
    final = 3.0 * x[:, 0] - x[:, 1] + 0.5 * last
    table = _table(np.tile(last[:, None], (1, 10)), final, static=x)
    model = ProxyRegression("score", alpha=1e-8).fit(table, 10_000)
    np.testing.assert_allclose(model.predict(table).mean, final, atol=1e-5)


@pytest.mark.parametrize("features", ["static", "dynamic", "both"])
def test_gradient_boosting_separates_two_outcomes(features, rng):
    # the final score is 85 or 35 according to a static switch that the curve also shows from
    # its first point, so every feature set can tell the two apart
    n = 300
    good = rng.random(n) < 0.5
    # two noisy copies of the switch, so a tree sees it whatever column subsample it draws
    static = np.where(good, 1.0, -1.0)[:, None] + 0.1 * rng.normal(size=(n, 2))
    values = np.where(good, 80.0, 34.0)[:, None] + rng.normal(size=(n, 10))
    final = np.where(good, 85.0, 35.0) + 0.5 * rng.normal(size=n)
    table = _table(values, final, static=static)
    train, test = table.split("random", test_fraction=0.3, seed=0)
    model = GradientBoosted(["score"], features=features, seed=0).fit(train, 3000)
    pred = model.predict(test)
    # 140 trees at rate 0.05 leave (1 - 0.05)^140 < 0.1% of the 50-point gap; noise sd is 0.5
    assert np.sqrt(np.mean((pred.mean - test.final) ** 2)) < 1.5
    assert pred.has_interval and pred.ensemble.shape[0] == len(test)
    # split-conformal: 90% nominal; with 90 test runs, 3 binomial sd below 0.9 is about 0.81
    assert np.mean((test.final >= pred.lower) & (test.final <= pred.upper)) >= 0.8


def test_gradient_boosting_refuses_too_few_runs():
    table = _table(np.ones((3, 10)), np.arange(3.0))  # 1 calibration, 1 validation, 1 to fit
    with pytest.raises(RunTableError, match="too few"):
        GradientBoosted(["score"]).fit(table, 1000)


@pytest.mark.parametrize(
    "scores, level, want",
    [
        (np.arange(1.0, 10.0), 0.9, 9.0),
        (np.arange(1.0, 10.0), 0.5, 5.0),
        ([3.0, 1.0, 2.0], 0.9, np.inf),
        ([3.0, 1.0, 2.0], 0.5, 2.0),
    ],
)
def test_conformal_quantile_by_hand(scores, level, want):
    # k = ceil((n + 1) level): n=9 -> 9 and 5; n=3 -> 4 (> n, infinite) and 2
    assert conformal_quantile(scores, level) == want


@pytest.mark.parametrize("kind", ["median", "successive_halving"])
def test_pruners_stop_the_bad_runs_at_the_budget(kind, rng):
    # flat curves at the final score: half the history is good (85-90), half bad (30-35)
    hist = np.r_[rng.uniform(85, 90, 20), rng.uniform(30, 35, 20)]
    train = _table(np.tile(hist[:, None], (1, 10)), hist)
    test_final = np.array([88.0, 32.0, 89.0, 31.0])
    test = _table(np.tile(test_final[:, None], (1, 10)), test_final)
    replay = replay_pruner(make_pruner(kind, budget=2000, reduction_factor=2), train, test, "score", seed=0)
    np.testing.assert_array_equal(replay.kept, [True, False, True, False])
    np.testing.assert_array_equal(replay.steps, [50_000.0, 2000.0, 50_000.0, 2000.0])
