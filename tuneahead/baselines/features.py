r"""Features of a probe curve cut at a budget, shared by every baseline that reads curves.

For run :math:`i` with probe points :math:`(t_k, y_k)`, :math:`k = 1..K`, at steps
:math:`t_k \le c`:

- ``last`` :math:`y_K` and ``initial`` :math:`y_1`;
- ``decay`` :math:`y_1 - y_K` (a loss that falls has positive decay; a score that rises, negative);
- ``slope``: the OLS slope of :math:`y` on :math:`t / 1000` over the last ``window`` points,
  :math:`\hat\beta = \sum (t_k - \bar t)(y_k - \bar y) / \sum (t_k - \bar t)^2`, 0 with one point;
- ``mean``: the mean of the points (the area under the probe curve over its length);
- ``points``: :math:`K`, and ``nonfinite``: 1 where the cut curve already shows a non-finite value.

A run without a point at or before ``c`` gets NaN for the value features; LightGBM reads NaN as
missing, and the linear baselines impute with training means (:func:`impute`).
"""

from __future__ import annotations

import numpy as np

from ..data.runtable import RunTable

__all__ = ["PROBE_FEATURES", "probe_features", "feature_matrix", "impute"]

PROBE_FEATURES = ("last", "initial", "decay", "slope", "mean", "points", "nonfinite")


def _slope(t: np.ndarray, y: np.ndarray) -> float:
    if t.size < 2:
        return 0.0
    t = t / 1000.0
    dt = t - t.mean()
    return float(np.sum(dt * (y - y.mean())) / np.sum(dt**2))


def probe_features(table: RunTable, budget: float, metric: str, window: int = 3) -> np.ndarray:
    """The :data:`PROBE_FEATURES` of ``metric``'s curve cut at ``budget``, ``(n, 7)``."""
    curve = table.curve(metric)
    out = np.full((len(table), len(PROBE_FEATURES)), np.nan)
    for i in range(len(table)):
        steps, values = curve.points(i)
        seen = steps <= budget
        steps, values = steps[seen], values[seen]
        nonfinite = float((~np.isfinite(values)).any())
        ok = np.isfinite(values)
        steps, values = steps[ok], values[ok]
        out[i, 5] = steps.size
        out[i, 6] = nonfinite
        if steps.size == 0:
            continue
        tail = slice(max(0, steps.size - window), None)
        out[i, :5] = (
            values[-1],
            values[0],
            values[0] - values[-1],
            _slope(steps[tail], values[tail]),
            values.mean(),
        )
    return out


def feature_matrix(
    table: RunTable,
    budget: float,
    metrics: tuple[str, ...] | list[str],
    static: bool = True,
    dynamic: bool = True,
    window: int = 3,
) -> tuple[np.ndarray, list[str]]:
    """Static features and/or probe features of each metric, side by side, with their names."""
    blocks, names = [], []
    if static:
        blocks.append(np.asarray(table.static, dtype=float))
        names += list(table.static_names)
    if dynamic:
        for m in metrics:
            blocks.append(probe_features(table, budget, m, window))
            names += [f"{m}:{f}" for f in PROBE_FEATURES]
    if not blocks:
        raise ValueError("feature_matrix needs static=True, dynamic=True or both")
    return np.concatenate(blocks, axis=1), names


def impute(x: np.ndarray, means: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Replace NaN by column ``means`` (the column means of ``x`` when not given; 0 if all NaN)."""
    x = np.asarray(x, dtype=float)
    if means is None:
        finite = np.isfinite(x)
        counts = finite.sum(axis=0)
        sums = np.where(finite, x, 0.0).sum(axis=0)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    return np.where(np.isfinite(x), x, means), means
