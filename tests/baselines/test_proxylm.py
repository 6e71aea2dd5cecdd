"""ProxyLM (trees on proxy scores, CV+ interval) and the config ridge, on constructed tables."""

import numpy as np
import pytest
from omegaconf import OmegaConf

from tuneahead.baselines import ConfigRidge, ProxyLM
from tuneahead.data.runtable import RunTable, RunTableError
from tuneahead.evaluation import build_baseline, check_evaluation_config
from tuneahead.evaluation.config import check_curve_methods

# a small search, so that a fit takes a second: ProxyLM's fixed XGBoost parameters, fewer trees
SMALL = dict(grid={"n_estimators": [100, 300], "learning_rate": [0.1]}, search_folds=3)
# ... and depth 2, so that the five CV+ fold models agree: CV+ takes its bounds over every fold model's
# prediction, and over-covers when they disagree (at ProxyLM's depth 5 on 1,200 runs: about 0.93 at 0.9)
STABLE = dict(SMALL, params={"max_depth": 2})


def _table(static, final, names) -> RunTable:
    n = len(final)
    return RunTable(
        run_id=np.array([f"e{i}" for i in range(n)], dtype=object),
        group=np.array([f"lang{i % 7}" for i in range(n)], dtype=object),
        static=np.asarray(static, dtype=float),
        static_names=tuple(names),
        budget=np.ones(n),
        curves={},
        final=np.asarray(final, dtype=float),
    )


def _proxy_world(rng, n=1500, shuffle_proxy=False):
    """The target's score is a saturating function of one proxy model's score plus noise (sd 2);
    two dataset features carry nothing."""
    proxy = rng.uniform(0, 50, n)
    final = 20 + 60 / (1 + np.exp(-(proxy - 25) / 4)) + 2.0 * rng.normal(size=n)
    if shuffle_proxy:
        proxy = rng.permutation(proxy)
    static = np.column_stack([proxy, rng.normal(size=n), rng.uniform(0, 1, n)])
    table = _table(static, final, ["proxy_small_model", "train_word_vocab_size", "genetic"])
    return table.split("random", test_fraction=0.2, seed=0)


def test_proxylm_beats_the_config_ridge_on_a_proxy_driven_target_with_calibrated_cv_plus(rng):
    train, test = _proxy_world(rng)
    model = ProxyLM(level=0.9, seed=0, **STABLE).fit(train, 0.0)
    pred = model.predict(test)
    ridge = ConfigRidge(None).fit(train, 0.0).predict(test)

    def rmse(p):
        return float(np.sqrt(np.mean((p.mean - test.final) ** 2)))

    # the ridge fits a line to a sigmoid (RMSE about 7); the trees follow it to near the noise sd 2
    assert rmse(pred) < 3.0 and rmse(pred) < 0.6 * rmse(ridge)
    assert model.best_params_["n_estimators"] in (100, 300) and model.cv_rmse_ < 3.0
    assert len(test) == 300 and pred.ensemble.shape == (300, len(train))
    # CV+ at level 0.9 on 300 exchangeable test runs: the coverage's binomial SE is
    # sqrt(0.9 * 0.1 / 300) = 0.0173; tolerance 3 SE = 0.052 (over seeds this set-up covers 0.90-0.915)
    covered = (test.final >= pred.lower) & (test.final <= pred.upper)
    assert abs(covered.mean() - 0.9) <= 3 * np.sqrt(0.9 * 0.1 / len(test))
    levels = model.interval_coverage(test, [0.5, 0.9])
    np.testing.assert_array_equal(levels[:, 1], covered)
    assert np.all(levels[:, 1] >= levels[:, 0])


def test_proxylm_with_lightgbm_reads_the_released_grid(rng):
    train, test = _proxy_world(rng, n=400)
    model = ProxyLM("lightgbm", search_folds=3, grid={"learning_rate": [0.1], "num_leaves": [16]}).fit(train, 0.0)
    assert model.params["max_depth"] == 10 and model.best_params_ == {
        "learning_rate": 0.1,
        "num_leaves": 16,
        "n_estimators": 100,
    }
    assert np.sqrt(np.mean((model.predict(test).mean - test.final) ** 2)) < 4.0
    assert ProxyLM().grid["n_estimators"] == list(range(1000, 5001, 250))  # ProxyLM's XGBoost space


def test_proxylm_refuses_a_table_without_proxy_scores(rng):
    train, _ = _proxy_world(rng, n=50)
    plain = _table(train.static, train.final, ["score_of_small_model", "vocab", "genetic"])
    with pytest.raises(
        RunTableError, match=r"ProxyLM: the table has no proxy-score features .*proxy_<model>.*config_ridge"
    ):
        ProxyLM(**SMALL).fit(plain, 0.0)
    ConfigRidge(None).fit(plain, 0.0)  # the ridge reads any static features
    with pytest.raises(ValueError, match="probe_last=True reads the probe's last value, but there is no probe metric"):
        ProxyLM(probe_last=True)
    with pytest.raises(ValueError, match="regressor='ridge'"):
        ProxyLM("ridge")


def test_the_config_ridge_is_exact_on_a_linear_truth_without_curves(rng):
    x = rng.normal(size=(40, 3))
    final = 50 + 3.0 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2]
    table = _table(x, final, ["a", "b", "c"])
    np.testing.assert_allclose(ConfigRidge(alpha=1e-8).fit(table, 0.0).predict(table).mean, final, atol=1e-5)


def test_the_evaluation_config_builds_and_checks_both(compose_app):
    def ev(*overrides):
        return OmegaConf.to_container(compose_app("evaluate", list(overrides)).evaluation, resolve=True)

    default = ev()
    assert "config_ridge" in default["methods"] and "proxylm" not in default["methods"]
    est = build_baseline("proxylm", None, default, 0.8, 3)
    assert (est.regressor, est.folds, est.search_folds, est.level, est.seed, est.probe_last) == (
        "xgboost",
        5,
        10,
        0.8,
        3,
        False,
    )
    assert isinstance(build_baseline("config_ridge", None, default, 0.9, 0), ConfigRidge)
    assert build_baseline("config_ridge", "score", default, 0.9, 0).metric == "score"
    check_curve_methods(["ours", "static_only", "tuneahead", "proxylm", "config_ridge"], None)  # no curve needed
    check_evaluation_config(ev("evaluation.baselines.proxylm.regressor=lightgbm", "evaluation.methods=[proxylm]"))
    with pytest.raises(ValueError, match=r"evaluation.baselines.proxylm.regressor='ridge'; use one of"):
        check_evaluation_config(ev("evaluation.baselines.proxylm.regressor=ridge"))
    with pytest.raises(ValueError, match=r"evaluation.baselines.proxylm.search_folds=1; give an integer"):
        check_evaluation_config(ev("evaluation.baselines.proxylm.search_folds=1"))
    with pytest.raises(ValueError, match=r"evaluation.baselines.config_ridge: unknown key\(s\) \['regressor'\]"):
        check_evaluation_config(ev("+evaluation.baselines.config_ridge.regressor=ridge"))
