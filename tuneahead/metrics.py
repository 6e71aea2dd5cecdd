"""Held-out accuracy of point predictions and intervals, in score units.

For predictions :math:`\\hat R_i` with central intervals :math:`[l_i, u_i]` and true scores
:math:`R_i`, :math:`i = 1..n`:

- RMSE :math:`\\sqrt{\\tfrac1n \\sum (\\hat R_i - R_i)^2}` and MAE :math:`\\tfrac1n \\sum |\\hat R_i - R_i|`;
- Acc within k points: the share with :math:`|\\hat R_i - R_i| \\le k` (TuneAhead reports k = 3);
- coverage: the share with :math:`l_i \\le R_i \\le u_i`, and the mean width :math:`\\overline{u - l}`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["heldout_metrics"]


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
