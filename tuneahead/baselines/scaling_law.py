r"""The rectified fine-tuning scaling law, fitted to each run's curve over data size.

Lin et al. (ICML 2024, "Selecting Large Language Model to Fine-tune via Rectified Scaling Law")
model a fine-tuned model's loss after :math:`D` training examples as

.. math::

    L(D) = \frac{B}{D_l + D^{\beta}} + E,

where :math:`D_l` is the "pre-learned data size": the data the pre-trained model behaves as if
it had already seen, which bends the curve's start (the pre-power phase) before it joins the
power law. For a score :math:`y` (higher is better) the same law reads
:math:`y(D) = E - B / (D_l + D^{\beta})` with :math:`B, D_l \ge 0`, :math:`\beta > 0`.
Their use is ours: fit the law to the sizes a run has been trained on (its probe, here the
sizes up to the budget :math:`c`) and read it off at the full size :math:`T`.

Fitting follows the scaling-law practice they build on (Hoffmann et al., 2022): least squares
from a grid of starting points, the best fit kept (:func:`fit_rectified_law`). The law has four
parameters, so it needs four sizes. With three (``min_points``), :math:`D_l` is fixed at 0 and
the plain power law :math:`E - B D^{-\beta}` is fitted; with fewer the run keeps its last value. On a table with few
sizes per run (ProxyLM's NusaX curves have 1,000, 3,000, 6,000 and 6,600) the peer is therefore
weakened by the data, not by design, and the evaluation tables should say so. A fit that fails,
or lands outside the training runs' final scores (no finished run ended there), is clipped to
their range, as in :class:`tuneahead.baselines.CurveExtrapolation`.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize

from .extrapolation import CurveExtrapolation

__all__ = ["RectifiedScalingLaw", "rectified_law", "fit_rectified_law"]

_BETAS = (0.1, 0.3, 1.0, 3.0)  # starting exponents of the grid
_PRELEARNED = (0.01, 1.0, 100.0)  # starting D_l, in units of the smallest size ** beta
_BETA_RANGE = (1e-3, 5.0)


def rectified_law(d, e, b, d_l, beta):
    """:math:`E - B / (D_l + D^{\\beta})`, with ``d`` in units of the run's smallest size."""
    return e - b / (d_l + np.power(d, beta))


def _linear_part(d, y, d_l, beta) -> tuple[float, float, float]:
    """For fixed :math:`(D_l, \\beta)` the law is linear in :math:`(E, B)`: their least-squares values
    (:math:`B \\ge 0`) and the residual sum of squares."""
    x = 1.0 / (d_l + np.power(d, beta))
    xc, yc = x - x.mean(), y - y.mean()
    b = max(0.0, -float(xc @ yc) / float(xc @ xc)) if float(xc @ xc) > 0 else 0.0
    e = float(y.mean() + b * x.mean())
    return e, b, float(np.sum((e - b * x - y) ** 2))


def _usable(sizes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The points the law can read: a finite score at a finite, positive size."""
    return np.isfinite(values) & np.isfinite(sizes) & (sizes > 0)


def fit_rectified_law(sizes: np.ndarray, values: np.ndarray, min_points: int = 3) -> tuple[np.ndarray | None, str]:
    """The law's parameters ``(E, B, D_l, beta)`` fitted to one run, sizes in units of its smallest
    usable size, and the form used (``rectified``, ``power`` with :math:`D_l = 0`, or ``last``: no fit).

    The least squares is solved by variable projection: :math:`(E, B)` in closed form for each
    :math:`(D_l, \\beta)`, which are searched from a grid of starts (Nelder-Mead on their logs)."""
    ok = _usable(sizes, values)
    sizes, values = sizes[ok], values[ok]
    if sizes.size < max(min_points, 3):
        return None, "last"
    d = sizes / sizes.min()
    free_prelearned = sizes.size >= 4
    lo, hi = np.log(_BETA_RANGE)

    def sse(z):
        d_l = float(np.exp(z[1])) if free_prelearned else 0.0
        return _linear_part(d, values, d_l, float(np.exp(np.clip(z[0], lo, hi))))[2]

    best = None
    for beta0 in _BETAS:
        for d_l0 in _PRELEARNED if free_prelearned else (0.0,):
            z0 = [np.log(beta0), np.log(d_l0) if free_prelearned else 0.0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = minimize(sse, z0, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000})
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
    if best is None:
        return None, "last"
    beta = float(np.exp(np.clip(best.x[0], lo, hi)))
    d_l = float(np.exp(best.x[1])) if free_prelearned else 0.0
    e, b, _ = _linear_part(d, values, d_l, beta)
    return np.array([e, b, d_l, beta]), "rectified" if free_prelearned else "power"


class RectifiedScalingLaw(CurveExtrapolation):
    """Lin et al.'s rectified scaling law per run over data size, read off at the full size (module doc);
    the training runs give the clipping range, as for :class:`CurveExtrapolation`."""

    name = "rectified scaling law"

    def extrapolate(self, steps: np.ndarray, values: np.ndarray, horizon: float) -> tuple[float, str]:
        ok = _usable(steps, values)
        params, form = fit_rectified_law(steps, values, self.min_points)
        if params is not None:  # the fit's unit: the smallest usable size
            return float(rectified_law(horizon / steps[ok].min(), *params)), form
        seen = values[np.isfinite(values)]
        return (float(seen[-1]), form) if seen.size else (np.nan, "none")
