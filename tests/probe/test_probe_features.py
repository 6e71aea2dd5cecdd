"""Dynamic probe features against hand-computed values, and the runner's features against its own record."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tuneahead.probe.features import (  # noqa: E402
    GradientTracker,
    cosine,
    grad_norm_features,
    grad_sparsity,
    loss_features,
    param_change,
)
from tuneahead.probe.runner import flatness  # noqa: E402


@pytest.fixture(scope="module")
def tiny_base():
    from tuneahead.probe.models import tiny_causal_lm

    torch.set_num_threads(1)
    return tiny_causal_lm("llama")


@pytest.fixture(scope="module")
def tiny_data():
    from tuneahead.probe.datasets import load_dataset

    return load_dataset("arith", {"source": "procedural", "task": "arithmetic", "size": 32, "heldout": 8})


def test_loss_features_match_hand_values():
    # log loss falls by exactly log 2 per step: the OLS slope is -log 2.
    losses = np.array([8.0, 4.0, 2.0, 1.0])
    f = loss_features(losses)
    assert f["initial_loss"] == 8.0
    assert f["loss_slope"] == pytest.approx(-math.log(2), rel=1e-12)
    # mean 3.75; squared deviations 18.0625, 0.0625, 3.0625, 7.5625 -> sum 28.75, / 4
    assert f["loss_variance"] == pytest.approx(28.75 / 4, rel=1e-12)


def test_loss_features_drop_non_finite_steps():
    f = loss_features(np.array([3.0, np.nan, 3.0 * math.e**-2]))
    # points (1, log 3) and (3, log 3 - 2): slope -1
    assert f["loss_slope"] == pytest.approx(-1.0, rel=1e-12)
    assert f["loss_variance"] == pytest.approx(np.var([3.0, 3.0 * math.e**-2]))


def test_grad_norm_features():
    f = grad_norm_features(np.array([1.0, 2.0, 3.0, np.inf]))
    assert f["grad_norm_mean"] == pytest.approx(2.0)
    assert f["grad_norm_var"] == pytest.approx(2.0 / 3.0)


@pytest.mark.parametrize(
    "a,b,expected",
    [
        ([1, 0], [1, 0], 1.0),
        ([1, 0], [0, 3], 0.0),
        ([1, 1], [-2, -2], -1.0),
        ([0, 0], [1, 2], 0.0),
        ([3, 4], [4, 3], 24 / 25),
    ],
)
def test_cosine(a, b, expected):
    assert cosine(np.array(a, float), np.array(b, float)) == pytest.approx(expected, abs=1e-12)


def test_sparsity_and_consistency_tracker():
    g1 = np.array([1.0, 0.0, 0.0, 0.0005])  # max 1 -> tol 1e-3: three of four at or below
    g2 = np.array([0.0, 2.0, 0.0, 0.0])  # orthogonal to g1 up to 0.0005*0: cos 0
    g3 = np.array([0.0, 1.0, 0.0, 1.0])  # cos(g2, g3) = 1/sqrt(2)
    assert grad_sparsity(g1) == 0.75
    tr = GradientTracker()
    for g in (g1, g2, g3):
        tr.update(g)
    f = tr.features()
    assert f["grad_sparsity"] == pytest.approx((0.75 + 0.75 + 0.5) / 3)
    assert f["grad_consistency"] == pytest.approx((0.0 + 1 / math.sqrt(2)) / 2)


def test_param_change():
    assert param_change(np.zeros(2), np.array([3.0, 4.0])) == 5.0


class _Quadratic(torch.nn.Module):
    """A model whose loss is 0.5 ||theta||^2, with the runner's ``model(**batch).loss`` interface."""

    def __init__(self, theta):
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float64))

    def forward(self, **_):
        class Out:
            pass

        out = Out()
        out.loss = 0.5 * (self.theta**2).sum()
        return out


class _Batch:
    def as_kwargs(self):
        return {}


def test_flatness_is_the_mean_loss_rise_under_the_seeded_noise():
    theta = [1.0, -2.0, 0.5]
    model = _Quadratic(theta)
    sigma, samples, seed = 0.1, 3, 7
    got = flatness(model, _Batch(), sigma, samples, seed)
    # hand computation: L(theta + e) - L(theta) = theta.e + 0.5 ||e||^2 with the same noise draws
    gen = torch.Generator().manual_seed(seed)
    t = torch.tensor(theta, dtype=torch.float64)
    rises = []
    for _ in range(samples):
        e = torch.randn((3,), generator=gen).double() * sigma
        rises.append(float(t @ e + 0.5 * (e @ e)))
    assert got == pytest.approx(np.mean(rises), rel=1e-9)
    assert torch.equal(model.theta.detach(), t), "flatness must restore the parameters"


def test_runner_features_agree_with_its_recorded_curves(tiny_base, tiny_data):
    from tuneahead.probe.runner import ProbeConfig, TrainConfig, run_candidate

    probe = ProbeConfig(steps=6, eval_every=3, eval_examples=8)
    run = run_candidate(tiny_base, tiny_data, TrainConfig(steps=9, learning_rate=1e-2), probe)
    losses = np.array([v for _, v in run.curves["train_loss"]])
    norms = np.array([v for _, v in run.curves["grad_norm"]])
    assert len(losses) == 9 and not run.diverged
    ref = {**loss_features(losses[:6]), **grad_norm_features(norms[:6])}
    for name, value in ref.items():
        assert run.probe[name] == pytest.approx(value, rel=1e-12), name
    assert dict(run.curves["eval_loss"])[6] == pytest.approx(run.probe["eval_loss"])
    assert [s for s, _ in run.curves["eval_loss"]] == [3, 6, 9]
    # LoRA's B starts at zero, so A's gradient is exactly zero at step 1: sparsity >= 1/2 there.
    assert 0 < run.probe["grad_sparsity"] < 1
    assert -1 <= run.probe["grad_consistency"] <= 1
    assert run.probe["param_change"] > 0
    assert 0 <= run.final <= 100


def test_the_probe_never_evaluates_on_the_held_out_test_examples(tiny_base, tiny_data, monkeypatch):
    from tuneahead.probe import runner

    seen: list[set[str]] = []
    real = runner.evaluate

    def spy(model, tok, examples, *args, **kwargs):
        seen.append({e.prompt for e in examples})
        return real(model, tok, examples, *args, **kwargs)

    monkeypatch.setattr(runner, "evaluate", spy)
    probe = runner.ProbeConfig(steps=3, eval_every=3, eval_examples=8)
    runner.run_candidate(tiny_base, tiny_data, runner.TrainConfig(steps=3, learning_rate=1e-2), probe, full=False)
    validation, test = {e.prompt for e in tiny_data.validation}, {e.prompt for e in tiny_data.heldout}
    assert seen and all(s <= validation for s in seen) and not validation & test


def test_probes_at_several_lengths_see_only_their_own_steps(tiny_base, tiny_data, tmp_path):
    from tuneahead.data.runstore import RunStore
    from tuneahead.data.runstore_table import load_runstore
    from tuneahead.data.runtable import RunTableError
    from tuneahead.probe.runner import ProbeConfig, TrainConfig, run_candidate
    from tuneahead.probe.sweep import expand_grid, run_sweep

    probe = ProbeConfig(steps=4, also_at=[2, 6], eval_every=3, eval_examples=8)
    run = run_candidate(tiny_base, tiny_data, TrainConfig(steps=8, learning_rate=1e-2), probe)
    losses = np.array([v for _, v in run.curves["train_loss"]])
    assert sorted(run.probes) == [2, 4, 6] and run.probe == run.probes[4]
    for n, features in run.probes.items():
        for name, value in loss_features(losses[:n]).items():
            assert features[name] == pytest.approx(value, rel=1e-12), (n, name)
        assert features["eval_loss"] == pytest.approx(dict(run.curves["eval_loss"])[n])
    assert [s for s, _ in run.curves["eval_loss"]] == [2, 3, 4, 6, 8]

    spec = {"source": "procedural", "task": "arithmetic", "size": 32, "heldout": 8}
    configs = expand_grid({"steps": 8}, {"learning_rate": [1e-3, 1e-2]})
    run_sweep(tiny_base, {"arith": spec}, configs, probe, RunStore(tmp_path))
    at2 = load_runstore(tmp_path, features=["probe"], drop_constant=False, probe_at=2)
    at6 = load_runstore(tmp_path, features=["probe"], drop_constant=False, probe_at=6)
    j = at2.static_names.index("eval_loss")
    records = sorted(RunStore(tmp_path).records(), key=lambda r: r["run_id"])
    assert at2.static[:, j].tolist() == [r["probes"]["2"]["eval_loss"] for r in records]
    assert at6.static[:, j].tolist() == [r["probes"]["6"]["eval_loss"] for r in records]
    only = RunStore(tmp_path / "probe_only")  # probe-only runs end at their longest probe
    run_sweep(tiny_base, {"arith": spec}, configs[:1], probe, only, full=False)
    assert [r["budget"] for r in only.records()] == [6] and only.records()[0]["final"] is None
    assert len(load_runstore(only.root, features=["probe"], drop_constant=False, probe_at=6)) == 1
    with pytest.raises(RunTableError, match=r"no probe features at 5 steps \(it has \['2', '4', '6'\]\).*also_at"):
        load_runstore(tmp_path, features=["probe"], probe_at=5)
