r"""Held-out accuracy of point predictions, intervals and predictive distributions, in score units.

For predictions :math:`\hat R_i` with central intervals :math:`[l_i, u_i]` and true scores
:math:`R_i`, :math:`i = 1..n`:

- RMSE :math:`\sqrt{\tfrac1n \sum (\hat R_i - R_i)^2}` and MAE :math:`\tfrac1n \sum |\hat R_i - R_i|`;
- :math:`R^2 = 1 - \sum (\hat R_i - R_i)^2 / \sum (R_i - \bar R)^2`;
- Spearman's :math:`\rho`: the Pearson correlation of the ranks (ties get their mean rank);
- Acc within k points: the share with :math:`|\hat R_i - R_i| \le k` (TuneAhead reports k = 3);
- coverage: the share with :math:`l_i \le R_i \le u_i`, and the mean width :math:`\overline{u - l}`;
- CRPS :math:`\int (F_i(x) - 1\{x \ge R_i\})^2 dx`, in closed form for a Gaussian mixture
  (:func:`crps_gaussian_mixture`) and for an ensemble (:func:`crps_ensemble`); lower is better,
  and for a point forecast it equals the absolute error.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from scipy.stats import rankdata

__all__ = [
    "heldout_metrics",
    "point_metrics",
    "r_squared",
    "spearman",
    "crps_gaussian_mixture",
    "crps_ensemble",
]


def _check(mean, truth):
    mean, truth = np.asarray(mean, dtype=float), np.asarray(truth, dtype=float)
    if mean.shape != truth.shape:
        raise ValueError("predictions and true scores need one value per run each")
    if not np.isfinite(truth).all():
        raise ValueError("held-out runs need final scores to be scored; drop the candidates first")
    return mean, truth


def r_squared(mean, truth) -> float:
    """:math:`1 - SSE / SST`; NaN when the true scores do not vary."""
    mean, truth = _check(mean, truth)
    sst = float(np.sum((truth - truth.mean()) ** 2))
    return float(1.0 - np.sum((mean - truth) ** 2) / sst) if sst > 0 else float("nan")


def spearman(mean, truth) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    mean, truth = _check(mean, truth)
    a, b = rankdata(mean), rankdata(truth)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def point_metrics(mean, truth, within: tuple[float, ...] = (1.0, 2.0, 3.0)) -> dict:
    """RMSE, MAE, R², Spearman and Acc within each of ``within`` points."""
    mean, truth = _check(mean, truth)
    err = mean - truth
    out = {
        "n": int(truth.size),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": r_squared(mean, truth),
        "spearman": spearman(mean, truth),
    }
    for k in within:
        out[f"acc_within_{k:g}"] = float(np.mean(np.abs(err) <= k))
    return out


def heldout_metrics(
    mean: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    truth: np.ndarray,
    within: tuple[float, ...] = (1.0, 2.0, 3.0),
    level: float = 0.9,
) -> dict:
    """RMSE, MAE, Acc within each of ``within`` points, interval coverage and mean width."""
    mean, lower, upper, truth = (np.asarray(a, dtype=float) for a in (mean, lower, upper, truth))
    if not (mean.shape == lower.shape == upper.shape == truth.shape):
        raise ValueError("predictions, interval bounds and true scores need one value per run each")
    if not np.isfinite(truth).all():
        raise ValueError("held-out runs need final scores to be scored; drop the candidates first")
    err = mean - truth
    tag = f"{int(round(100 * level))}"
    out = {
        "n": int(truth.size),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
    }
    for k in within:
        out[f"acc_within_{k:g}"] = float(np.mean(np.abs(err) <= k))
    out[f"coverage_{tag}"] = float(np.mean((truth >= lower) & (truth <= upper)))
    out[f"mean_width_{tag}"] = float(np.mean(upper - lower))
    return out


def _a(mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """:math:`E|X|` for :math:`X \\sim N(\\mu, \\sigma^2)`:
    :math:`2\\sigma\\varphi(\\mu/\\sigma) + \\mu(2\\Phi(\\mu/\\sigma) - 1)`."""
    sd = np.sqrt(np.maximum(var, 1e-300))
    z = mu / sd
    return 2 * sd * np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi) + mu * (2 * ndtr(z) - 1)


def crps_gaussian_mixture(weights, means, variances, truth) -> np.ndarray:
    r"""CRPS of a Gaussian mixture per run, in closed form (Grimit et al. 2006).

    For :math:`F = \sum_k w_k N(\mu_k, \sigma_k^2)` and outcome :math:`y`, with
    :math:`A(\mu, \sigma^2) = E|X|` for :math:`X \sim N(\mu, \sigma^2)`,

    .. math::

        \mathrm{CRPS}(F, y) = \sum_k w_k A(y - \mu_k, \sigma_k^2)
            - \tfrac12 \sum_{k, l} w_k w_l A(\mu_k - \mu_l, \sigma_k^2 + \sigma_l^2),

    the energy form :math:`E|X - y| - \tfrac12 E|X - X'|`.

    Parameters
    ----------
    weights, means, variances
        ``(n, K)`` each: the mixture of each of ``n`` runs (weights sum to 1 per run).
    truth
        ``(n,)`` outcomes.
    """
    w, m, v = (np.atleast_2d(np.asarray(a, dtype=float)) for a in (weights, means, variances))
    y = np.atleast_1d(np.asarray(truth, dtype=float))
    if not (w.shape == m.shape == v.shape) or w.shape[0] != y.shape[0]:
        raise ValueError("mixture weights, means and variances need shape (n_runs, n_components) and truth (n_runs,)")
    out = np.empty(y.shape[0])
    for i in range(y.shape[0]):
        first = np.sum(w[i] * _a(y[i] - m[i], v[i]))
        pair = _a(m[i][:, None] - m[i][None, :], v[i][:, None] + v[i][None, :])
        out[i] = first - 0.5 * w[i] @ pair @ w[i]
    return out


def crps_ensemble(samples, truth) -> np.ndarray:
    r"""CRPS of the empirical distribution of ``samples`` (``(n, m)``) per run.

    .. math::

        \mathrm{CRPS}(\hat F_m, y) = \frac1m \sum_j |x_j - y| - \frac1{2m^2} \sum_{j,k} |x_j - x_k|,

    computed with sorted samples: :math:`\sum_{j,k}|x_j - x_k| = 2 \sum_j (2j - m - 1) x_{(j)}`.
    """
    x = np.sort(np.atleast_2d(np.asarray(samples, dtype=float)), axis=1)
    y = np.atleast_1d(np.asarray(truth, dtype=float))
    if x.shape[0] != y.shape[0]:
        raise ValueError("ensemble needs shape (n_runs, n_members) and truth (n_runs,)")
    m = x.shape[1]
    first = np.mean(np.abs(x - y[:, None]), axis=1)
    j = np.arange(1, m + 1)
    spread = 2 * np.sum((2 * j - m - 1) * x, axis=1) / m**2
    return first - 0.5 * spread
