"""The horizon-aware power law of V_opt(c) and the budget-optimal probe length c*
(the definitions are in the package doc, :mod:`tuneahead.risk`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .curve import RiskCurve

__all__ = ["ALPHA_GRID", "PowerLaw", "fit_horizon_power_law", "fit_power_law", "optimal_budget"]


@dataclass(frozen=True)
class PowerLaw:
    """:math:`V_{opt}(c) = K (c^{-\alpha} - T^{-\alpha})`: the fit to the posterior mean and one fit per draw.

    ``horizon`` is T (infinite: the plain power law :math:`K c^{-\alpha}`).
    """

    K: float
    alpha: float
    K_draws: np.ndarray
    alpha_draws: np.ndarray
    horizon: float = float("inf")

    def __call__(self, c: np.ndarray) -> np.ndarray:
        c = np.asarray(c, dtype=float)
        return self.K * np.maximum(c ** (-self.alpha) - self.horizon ** (-self.alpha), 0.0)

    def budget_for(self, gap: float) -> float:
        """The budget :math:`c` at which :math:`K (c^{-\alpha} - T^{-\alpha})` falls to ``gap``
        (inf if it never does, 0 if it starts below)."""
        if gap <= 0 or not self.alpha > 0 or not self.K > 0:
            return float("inf")
        return float((gap / self.K + self.horizon ** (-self.alpha)) ** (-1.0 / self.alpha))


ALPHA_GRID = np.linspace(0.01, 3.0, 600)


def fit_horizon_power_law(budgets, v, horizon: float = float("inf")) -> tuple[np.ndarray, np.ndarray]:
    r"""Least squares of :math:`\log v` on :math:`\log K + \log(c^{-\alpha} - T^{-\alpha})`, row by row.

    ``v`` is ``(C,)`` or ``(S, C)``; only budgets :math:`0 < c < T` with :math:`v > 0` enter. For
    each :math:`\alpha` on :data:`ALPHA_GRID` the best :math:`\log K` is the mean residual in
    closed form, and the :math:`\alpha` with the smallest squared error wins. Returns ``(K, alpha)``
    arrays of the rows' length; NaN for a row with fewer than two usable budgets.
    """
    c = np.asarray(budgets, dtype=float)
    v = np.atleast_2d(np.asarray(v, dtype=float))
    ok = (c[None, :] > 0) & (c[None, :] < horizon) & (v > 0)  # (S, C)
    log_c = np.log(np.where(c > 0, c, 1.0))
    y = np.log(np.where(v > 0, v, 1.0))
    k = ok.sum(axis=1)  # (S,)

    def scores(alphas):  # alphas (S, G) -> (sse, log K), each (S, G)
        a = alphas[..., None]
        shape = np.log(np.maximum(np.exp(-a * log_c) - np.exp(-a * np.log(horizon)), 1e-300))
        resid = y[:, None, :] - shape
        log_k = (ok[:, None, :] * resid).sum(axis=2) / np.maximum(k, 1)[:, None]
        return (ok[:, None, :] * (resid - log_k[..., None]) ** 2).sum(axis=2), log_k

    rows = np.arange(v.shape[0])
    alphas = np.broadcast_to(ALPHA_GRID, (v.shape[0], ALPHA_GRID.size))
    step = ALPHA_GRID[1] - ALPHA_GRID[0]
    for _ in range(8):  # the grid, then zooms by 10 around each row's best: alpha to ~1e-10
        sse, log_k = scores(alphas)
        best = np.argmin(sse, axis=1)
        centre = alphas[rows, best]
        alphas = np.clip(centre[:, None] + step * np.linspace(-1.0, 1.0, 21)[None, :], 1e-6, None)
        step /= 10.0
    usable = k >= 2
    K = np.where(usable, np.exp(log_k[rows, best]), np.nan)
    alpha = np.where(usable, centre, np.nan)
    return K, alpha


def fit_power_law(risk: RiskCurve) -> PowerLaw:
    """Fit :math:`V_{opt}(c) = K (c^{-\alpha} - T^{-\alpha})` to the posterior mean and to every draw;
    where no probe reveals anything (``risk.reducible`` false), K = 0 and alpha is undefined (NaN)."""
    if not risk.reducible:
        n_draws = len(risk.intrinsic_draws)
        return PowerLaw(0.0, float("nan"), np.zeros(n_draws), np.full(n_draws, np.nan), risk.horizon)
    K, alpha = fit_horizon_power_law(risk.budgets, risk.optimization_variance, risk.horizon)
    K_d, alpha_d = fit_horizon_power_law(risk.budgets, risk.optimization_variance_draws, risk.horizon)
    return PowerLaw(float(K[0]), float(alpha[0]), K_d, alpha_d, risk.horizon)


def optimal_budget(K, alpha, gamma: float, cost_per_step: float):
    """:math:`c^* = (\\alpha K / (\\gamma \\lambda))^{1/(\\alpha+1)}` (elementwise; NaN where alpha <= 0)."""
    if gamma <= 0 or cost_per_step <= 0:
        raise ValueError("risk.gamma and the cost per step must be positive")
    K, alpha = np.asarray(K, dtype=float), np.asarray(alpha, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (alpha * K / (gamma * cost_per_step)) ** (1.0 / (alpha + 1.0))
    return np.where(alpha > 0, c, np.nan)
