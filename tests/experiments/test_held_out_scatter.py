"""The held-out seeds' scatter about their cells, and the training seeds' left out one at a time."""

from types import SimpleNamespace

import numpy as np

from experiments.held_out_scatter import scatter_terms


def _runs(group, final):
    return SimpleNamespace(group=np.asarray(group), final=np.asarray(final, dtype=float))


def test_terms_of_one_cell_by_hand():
    held, loo = scatter_terms(_runs(["a"] * 3, [0.0, 2.0, 4.0]), _runs(["a"], [5.0]))
    np.testing.assert_allclose(held, [9.0 / (4.0 / 3.0)])  # (5 - 2)^2 / (1 + 1/3)
    np.testing.assert_allclose(loo, [6.0, 0.0, 6.0])  # (0 - 3)^2 / 1.5, (2 - 2)^2, (4 - 1)^2 / 1.5


def test_both_estimate_the_seed_variance_of_exchangeable_seeds(rng):
    # 400 cells of variance 1 or 4 (mean 2.5), 3 training seeds and 2 held out each. Each mean has
    # SE 0.15 (held out: sqrt(mean(2 v^2) / 800); left out: 0.145 over 1,000 simulated tables);
    # 4 SE each. Without the 1 + 1/n scaling they would come out near 3.33 and 3.75.
    sd = np.repeat(np.where(np.arange(400) % 2 == 0, 1.0, 2.0), 5).reshape(400, 5)
    final = rng.normal(size=(400, 1)) * 3.0 + sd * rng.normal(size=(400, 5))
    cells = np.repeat(np.arange(400), 5).reshape(400, 5)
    held, loo = scatter_terms(
        _runs(cells[:, :3].ravel(), final[:, :3].ravel()), _runs(cells[:, 3:].ravel(), final[:, 3:].ravel())
    )
    assert len(held) == 800 and len(loo) == 1200
    assert abs(held.mean() - 2.5) < 4 * 0.15
    assert abs(loo.mean() - 2.5) < 4 * 0.15
