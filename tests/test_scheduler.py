"""The value-of-information scheduler: its EVSI formula, and a replay that decides every candidate."""

import numpy as np
import pytest
from scipy.stats import norm

from tuneahead.inference import InferenceConfig, fit
from tuneahead.model.design import ModelSpec
from tuneahead.scheduler import evsi, schedule_replay


def test_evsi_is_the_expected_gain_of_a_promote_or_stop_call(rng):
    """E[max(M' - tau, 0)] - max(m - tau, 0) for M' ~ N(m, sigma^2), checked by Monte Carlo."""
    for m, tau, sigma in [(70.0, 72.0, 3.0), (80.0, 72.0, 2.0), (72.0, 72.0, 1.0)]:
        draws = rng.normal(m, sigma, 400_000)
        want = np.maximum(draws - tau, 0).mean() - max(m - tau, 0)
        assert evsi(np.array([m]), tau, np.array([sigma]))[0] == pytest.approx(want, abs=4 * sigma / 600)
    assert evsi(np.array([70.0]), 72.0, np.array([0.0]))[0] == pytest.approx(0.0, abs=1e-12)
    assert evsi(np.array([72.0]), 72.0, np.array([1.0]))[0] == pytest.approx(norm.pdf(0))


def test_a_replay_decides_every_candidate_and_counts_its_steps(population_table):
    train, test = population_table.split("random", test_fraction=0.25, seed=1)
    config = InferenceConfig(method="svi", svi_steps=300, svi_draws=60, progress=False)
    posterior = fit(train, ModelSpec(metrics=tuple(population_table.metrics)), config)
    threshold = float(np.quantile(train.final, 0.75))
    cheap = schedule_replay(posterior, test, start=100, start_threshold=threshold, gamma=1e-6, max_draws=60)
    dear = schedule_replay(posterior, test, start=100, start_threshold=threshold, gamma=1e6, max_draws=60)
    for s in (cheap, dear):
        assert s.promoted.any() and np.all(s.steps >= s.probed) and np.all(s.steps[s.promoted] == 400)
        assert np.all(s.steps[~s.promoted] == s.probed[~s.promoted]) and s.regret(test.final) >= 0
    assert np.all(dear.probed == 100), "when compute is dear nobody probes on"
    assert cheap.probed.max() > 100, "cheap compute buys probes"
