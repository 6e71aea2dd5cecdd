"""The LC-PFN peer: its scale and score map on a hand-made table with a fake network, the missing
weights error, and the whole path with a tiny model trained here by the rebuild code (lcpfn's own
prior and training loop; skipped where torch or lcpfn is not installed)."""

import json
import logging
import re
from dataclasses import replace
from importlib.util import find_spec

import numpy as np
import pytest

from tuneahead.baselines import lcpfn as peer
from tuneahead.baselines.lcpfn import LCPFNExtrapolation
from tuneahead.baselines.lcpfn_weights import SIZES, main, train_weights
from tuneahead.data.runtable import Curve, RunTable

needs_lcpfn = pytest.mark.skipif(
    find_spec("torch") is None or find_spec("lcpfn") is None,
    reason="needs torch and lcpfn (pip install torch==2.13.0 && pip install --no-deps lcpfn==0.1.3)",
)

STEPS = np.arange(1, 6) * 100.0  # five probe points, 100 steps apart


def _table(values, final, budget=1000.0):
    values = np.atleast_2d(np.asarray(values, dtype=float))
    n = values.shape[0]
    return RunTable(
        run_id=[f"r{i}" for i in range(n)],
        group=["g"] * n,
        static=np.zeros((n, 1)),
        static_names=("x0",),
        budget=np.broadcast_to(np.asarray(budget, dtype=float), (n,)),
        curves={"score": Curve(np.tile(STEPS[: values.shape[1]], (n, 1)), values)},
        final=np.asarray(final, dtype=float),
    )


class FakeNet:
    """Stands in for LC-PFN on a batch of curves: the last observed z, plus a spread that grows with the level."""

    seq_len = 100

    def __init__(self):
        self.calls = []

    def __call__(self, x, z, x_end, qs):
        self.calls.append((np.array(x), np.array(z), x_end))
        return z[:, -1], z[:, -1:] + 0.1 * (np.asarray(qs)[None, :] - 0.5)


@pytest.fixture
def fake(monkeypatch):
    net = FakeNet()
    monkeypatch.setattr(peer, "load_predictor", lambda size, weights: net)
    return net


def test_scale_positions_and_linear_map_by_hand(fake):
    # an accuracy in points rising over the probe; budget 400 steps sees four points
    values = np.array([[40.0, 50.0, 60.0, 70.0, 99.0], [20.0, 30.0, 35.0, 40.0, 99.0], [30.0, 45.0, 50.0, 60.0, 99.0]])
    budget = np.array([1000.0, 2000.0, 800.0])
    margin = 0.1
    lo, hi = 20.0, 70.0  # over the training probe points at or before step 400 (99 comes later)
    z_last = margin + (1 - 2 * margin) * (values[:, 3] - lo) / (hi - lo)
    final = 3.0 + 5.0 * z_last
    model = LCPFNExtrapolation("score", level=0.8, n_samples=4, margin=margin).fit(_table(values, final, budget), 400)
    assert model.sign_ == 1.0 and model.range_ == (lo, hi)
    x, z, x_end = fake.calls[0]  # the three runs have four points each: one batch
    np.testing.assert_allclose(x, 100 * STEPS[:4] / budget[:, None])  # a run's own budget is position 100
    np.testing.assert_allclose(z, margin + (1 - 2 * margin) * (values[:, :4] - lo) / (hi - lo))
    assert x_end == 100.0
    np.testing.assert_allclose(model.coef_, [3.0, 5.0], atol=1e-9)

    # a test run: its last z through the fitted map; quantiles through the same map
    test = _table([[35.0, 45.0, 55.0, 65.0, 80.0], [50.0] * 5], [np.nan, np.nan], budget=[1000.0, 1000.0])
    late = np.where(np.arange(5) == 0, 500.0, np.nan)  # the second run's one point comes after the budget
    test = replace(test, curves={"score": Curve(np.vstack([STEPS, late]), test.curve("score").values)})
    pred = model.predict(test)
    z_test = margin + (1 - 2 * margin) * (65.0 - lo) / (hi - lo)
    assert pred.mean[0] == pytest.approx(3.0 + 5.0 * z_test)
    assert pred.level == 0.8
    assert pred.lower[0] == pytest.approx(3.0 + 5.0 * (z_test - 0.04))  # 0.1 * (0.1 - 0.5)
    assert pred.upper[0] == pytest.approx(3.0 + 5.0 * (z_test + 0.04))
    np.testing.assert_allclose(pred.ensemble[0], 3.0 + 5.0 * (z_test + 0.1 * (np.array([1, 3, 5, 7]) / 8 - 0.5)))
    # a run without a point gets the training scores' mean and quantiles
    assert pred.mean[1] == pytest.approx(final.mean())
    np.testing.assert_allclose(pred.ensemble[1], np.quantile(final, [1 / 8, 3 / 8, 5 / 8, 7 / 8]))


def test_a_loss_is_flipped_and_the_identity_map_inverts_the_scale(fake):
    loss = np.array([[3.0, 2.0, 1.5, 1.2, 1.0], [2.5, 1.8, 1.4, 1.3, 1.25], [4.0, 2.0, 1.0, 0.8, 0.7]])
    model = LCPFNExtrapolation("score", linear_map=False).fit(_table(loss, [0.0, 0.0, 0.0]), 500)
    assert model.sign_ == -1.0 and model.range_ == (-4.0, -0.7)
    # the fake network keeps the last z, which the inverse map turns back into the last loss
    pred = model.predict(_table(loss, [np.nan] * 3))
    np.testing.assert_allclose(pred.mean, loss[:, -1], atol=1e-12)
    assert np.all(pred.lower <= pred.upper)
    # higher z is a lower loss: the map's slope is negative, and the bounds stay in order
    assert model.coef_[1] < 0
    np.testing.assert_allclose(pred.lower, loss[:, -1] - 0.045 * 3.3 / 0.8, atol=1e-12)
    # with a fitted map from loss to accuracy, a falling loss still predicts a rising score
    acc = 90.0 - 10.0 * loss[:, -1]
    fitted = LCPFNExtrapolation("score").fit(_table(loss, acc), 500)
    np.testing.assert_allclose(fitted.predict(_table(loss, [np.nan] * 3)).mean, acc, atol=1e-9)


def test_missing_weights_name_the_rebuild_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEAHEAD_LCPFN_CACHE", str(tmp_path))
    table = _table([[1.0, 2.0, 3.0, 4.0, 5.0]], [5.0])
    with pytest.raises(FileNotFoundError, match=r"python -m tuneahead\.baselines\.lcpfn_weights --size small"):
        LCPFNExtrapolation("score").fit(table, 500)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "other.pt"))):
        LCPFNExtrapolation("score", weights=tmp_path / "other.pt").fit(table, 500)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    return train_weights("tiny", out=tmp_path_factory.mktemp("lcpfn"), seed=0)


def _power_law_table(rng, n=12):
    # ten points over each run; every other run is 1.5 times longer, so a cut sees fewer of its points
    scale = np.where(np.arange(n) % 2, 1.5, 1.0)
    u = np.arange(1, 11.0)
    a, b, k = rng.uniform(70, 90, n), rng.uniform(20, 40, n), rng.uniform(0.3, 1.0, n)
    values = a[:, None] - b[:, None] * u[None, :] ** -k[:, None] + rng.normal(0, 0.5, (n, 10))
    return RunTable(
        run_id=[f"r{i}" for i in range(n)],
        group=["g"] * n,
        static=np.zeros((n, 1)),
        static_names=("x0",),
        budget=1000.0 * scale,
        curves={"acc": Curve(100.0 * scale[:, None] * u[None, :], values)},
        final=values[:, -1],
    )


@needs_lcpfn
def test_the_whole_path_with_a_tiny_model(tiny_weights, rng):
    meta = json.loads(tiny_weights.with_suffix(".json").read_text())
    assert meta["steps"] == SIZES["tiny"].steps and meta["lcpfn"] == "0.1.3" and meta["parameters"] > 0
    assert not tiny_weights.with_name("tiny.ckpt.pt").exists()
    table = _power_law_table(rng)
    model = LCPFNExtrapolation("acc", size="tiny", weights=tiny_weights, n_samples=20).fit(
        table.select(slice(0, 8)), 500
    )
    pred = model.predict(table.select(slice(8, 12)))
    assert pred.mean.shape == pred.lower.shape == (4,) and pred.ensemble.shape == (4, 20)
    assert np.isfinite(pred.ensemble).all() and np.all(pred.lower <= pred.upper)
    # runs of 5 and 3 points at the cut, batched by count or one at a time: the same predictions
    model.batch_size = 1
    one_by_one = model.predict(table.select(slice(8, 12)))
    np.testing.assert_allclose(one_by_one.ensemble, pred.ensemble, rtol=1e-5, atol=1e-6)


@needs_lcpfn
def test_an_interrupted_rebuild_resumes_from_its_checkpoint(tmp_path, monkeypatch, caplog):
    from tuneahead.baselines import lcpfn_weights

    progress = lcpfn_weights._progress

    def stop_after_first_epoch(*args):
        callback = progress(*args)

        def interrupted(model, fraction):
            callback(model, fraction)
            raise KeyboardInterrupt  # lcpfn's loop swallows it and returns early

        return interrupted

    monkeypatch.setattr(lcpfn_weights, "_progress", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt, match="stopped at epoch 1 of 2"):
        train_weights("tiny", out=tmp_path)
    assert (tmp_path / "tiny.ckpt.pt").exists() and not (tmp_path / "tiny.pt").exists()
    monkeypatch.setattr(lcpfn_weights, "_progress", progress)
    with caplog.at_level(logging.INFO, logger="tuneahead.lcpfn"):
        main(["--size", "tiny", "--out", str(tmp_path)])
    assert "resuming from" in caplog.text and "at epoch 1 of 2" in caplog.text
    assert (tmp_path / "tiny.pt").exists() and not (tmp_path / "tiny.ckpt.pt").exists()
