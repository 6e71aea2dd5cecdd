r"""LC-PFN: a prior-fitted transformer's predictive distribution of the curve's value at the run's end.

LC-PFN (Adriaensen, Rakotoarison, Müller and Hutter, NeurIPS 2023) is a transformer trained on
learning curves drawn from a prior of saturating parametric curves; given the first points of one
curve it returns a distribution (a histogram over buckets with half-normal tails) of the curve at a
later position. It reads one curve with positions :math:`x = 1..N` and values in :math:`[0, 1]`,
higher being better. Run :math:`i`'s probe points :math:`(t_k, v_k)`, :math:`t_k \le c`, are put
on that scale with what the training runs show at the same budget:

- orientation :math:`s = +1` if the training probes mostly rise (the median of last minus first
  point is not negative), :math:`-1` otherwise (a loss); ``increasing`` sets it;
- values :math:`z = m + (1 - 2m)(s v - \ell)/(h - \ell)`, clipped to :math:`[0, 1]`, with
  :math:`\ell, h` the least and greatest :math:`s v` over the training probe points and the
  margin :math:`m` (0.1) leaving room for runs that end beyond anything the probes reached;
- positions :math:`x = N t / T_i`: the run's own budget :math:`T_i` is LC-PFN's last position
  :math:`N` (the model's sequence length).

LC-PFN's mean and quantiles of :math:`z` at :math:`x = N` go to the score scale through
:math:`\hat R = a + b z`: least squares of the training runs' final scores on their own predicted
means (``linear_map=True``: the metric may be a loss or differ from the score, as in
:class:`~tuneahead.baselines.LastValue`), or the inverse of the normalisation (``linear_map=False``:
the metric is the score). Quantiles go through the same map, so the interval at ``level`` is
LC-PFN's, and the ensemble is its quantiles at :math:`(j - 1/2)/M`, :math:`j = 1..M`; the map's
own residual error is not added. A run without a finite point at or before the budget gets the
training scores' mean and quantiles.

The weights are built locally by :mod:`tuneahead.baselines.lcpfn_weights`; torch and lcpfn are
imported only when a model is loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.runtable import RunTable
from .base import MethodPrediction, check_scored

__all__ = ["LCPFNExtrapolation", "load_predictor"]


class _LCPFNPredictor:
    """LC-PFN on a batch of curves with ``k`` points each: ``(x, z, x_end, qs) -> (means, quantiles)``.

    ``x`` and ``z`` are ``(B, k)``; one forward pass of the model as ``lcpfn.LCPFN.forward`` makes it
    (checked by ``LCPFN.check_input``), then the bar distribution's mean and quantiles as
    ``LCPFN.predict_mean`` and ``LCPFN.predict_quantiles`` read them."""

    def __init__(self, model, seq_len: int):
        import torch
        from lcpfn import LCPFN

        class _Local(LCPFN):  # LCPFN around a model loaded here instead of downloaded
            def __init__(self, net):
                torch.nn.Module.__init__(self)
                self.model = net.eval()

        self._torch = torch
        self.net = _Local(model)
        self.seq_len = int(seq_len)

    def __call__(self, x: np.ndarray, z: np.ndarray, x_end: float, qs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        b, k = np.shape(z)
        x_train = torch.as_tensor(np.asarray(x, dtype=np.float32).T[:, :, None])  # (k, B, 1), sequence first
        y_train = torch.as_tensor(np.asarray(z, dtype=np.float32).T)
        x_test = torch.full((1, b, 1), float(x_end))
        with torch.no_grad():
            self.net.check_input(x_train, x_test, y_train)
            logits = self.net.model((torch.cat([x_train, x_test]), y_train), single_eval_pos=k)  # (1, B, buckets)
            criterion = self.net.model.criterion
            means = criterion.mean(logits)[0]
            quantiles = torch.stack([criterion.icdf(logits, float(q))[0] for q in qs], dim=1)
        return means.double().numpy(), quantiles.double().numpy()


def load_predictor(size: str = "small", weights: str | Path | None = None) -> _LCPFNPredictor:
    """The LC-PFN predictor of the cached ``size`` (or the file ``weights``); an error naming the
    rebuild command when the weights are missing."""
    from .lcpfn_weights import load_model

    model, settings = load_model(size, weights)
    return _LCPFNPredictor(model, settings["seq_len"])


def _probe_points(table: RunTable, metric: str, budget: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each run's finite (step, value) points at or before ``budget``."""
    curve = table.curve(metric)
    out = []
    for i in range(len(table)):
        steps, values = curve.points(i)
        keep = (steps <= budget) & np.isfinite(values)
        out.append((steps[keep], values[keep]))
    return out


class LCPFNExtrapolation:
    """LC-PFN's predictive of the probe curve at the run's end, mapped to the score (module doc)."""

    def check(self, table: RunTable) -> None:
        """Refuse, before any fit, a table without the curve or missing weights (no torch imported)."""
        from .lcpfn_weights import check_weights

        table.curve(self.metric)  # names the table's metrics if it is not one
        check_weights(self.size, self.weights)

    name = "lcpfn"
    label = "LC-PFN"

    def __init__(
        self,
        metric: str,
        size: str = "small",
        weights: str | Path | None = None,
        level: float = 0.9,
        n_samples: int = 100,
        increasing: bool | None = None,
        margin: float = 0.1,
        linear_map: bool = True,
        batch_size: int = 256,
    ):
        if not 0 <= margin < 0.5:
            raise ValueError(f"margin must be in [0, 0.5), got {margin}")
        self.metric = metric
        self.size = size
        self.weights = weights
        self.level = level
        self.n_samples = n_samples
        self.increasing = increasing
        self.margin = margin
        self.linear_map = linear_map
        self.batch_size = batch_size

    # ------------------------------------------------------------------ scale
    def _fit_scale(self, points) -> None:
        rises = [v[-1] - v[0] for _, v in points if v.size >= 2]
        increasing = self.increasing if self.increasing is not None else (not rises or np.median(rises) >= 0)
        self.sign_ = 1.0 if increasing else -1.0
        seen = np.concatenate([v for _, v in points]) * self.sign_ if points else np.empty(0)
        lo, hi = (float(seen.min()), float(seen.max())) if seen.size else (0.0, 1.0)
        self.range_ = (lo, hi if hi > lo else lo + 1.0)

    def normalise(self, values: np.ndarray) -> np.ndarray:
        """Metric values on LC-PFN's scale, :math:`z \\in [0, 1]`."""
        lo, hi = self.range_
        z = self.margin + (1 - 2 * self.margin) * (self.sign_ * np.asarray(values, dtype=float) - lo) / (hi - lo)
        return np.clip(z, 0.0, 1.0)

    def _inverse_coef(self) -> np.ndarray:
        """``(a, b)`` with ``a + b z`` the metric value whose normalisation is ``z``."""
        lo, hi = self.range_
        b = (hi - lo) / (1 - 2 * self.margin)
        return self.sign_ * np.array([lo - self.margin * b, b])

    # ------------------------------------------------------------------ LC-PFN
    def _levels(self) -> np.ndarray:
        tail = (1 - self.level) / 2
        grid = (np.arange(self.n_samples) + 0.5) / self.n_samples
        return np.concatenate([[tail, 1 - tail], grid])

    def _curve_predictions(self, points, budgets: np.ndarray) -> np.ndarray:
        """``(n, 1 + q)``: LC-PFN's mean and quantiles of each run's ``z`` at its end; NaN without points.

        Runs with the same number of points go through the network as one batch."""
        qs = self._levels()
        n_pos = self.predictor_.seq_len
        out = np.full((len(points), 1 + qs.size), np.nan)
        counts = np.array([steps.size for steps, _ in points])
        for k in np.unique(counts[counts > 0]):
            rows = np.flatnonzero(counts == k)
            x = np.stack([n_pos * points[i][0] / float(budgets[i]) for i in rows])
            z = np.stack([self.normalise(points[i][1]) for i in rows])
            for start in range(0, rows.size, self.batch_size):
                chunk = slice(start, start + self.batch_size)
                means, quantiles = self.predictor_(x[chunk], z[chunk], float(n_pos), qs)
                out[rows[chunk], 0], out[rows[chunk], 1:] = means, quantiles
        return out

    # ------------------------------------------------------------------ fit / predict
    def fit(self, train: RunTable, budget: float) -> LCPFNExtrapolation:
        train = check_scored(train, self.name)
        self.budget = float(budget)
        self.predictor_ = load_predictor(self.size, self.weights)
        points = _probe_points(train, self.metric, self.budget)
        self._fit_scale(points)
        self.coef_ = self._inverse_coef()
        if self.linear_map:
            z = self._curve_predictions(points, train.budget)[:, 0]
            ok = np.isfinite(z)
            if ok.sum() >= 2 and np.ptp(z[ok]) > 1e-9:
                design = np.column_stack([np.ones(ok.sum()), z[ok]])
                self.coef_, *_ = np.linalg.lstsq(design, train.final[ok], rcond=None)
            else:  # nothing to regress on: the training mean
                self.coef_ = np.array([float(np.mean(train.final)), 0.0])
        self.fallback_ = np.concatenate([[np.mean(train.final)], np.quantile(train.final, self._levels())])
        return self

    def predict(self, test: RunTable) -> MethodPrediction:
        points = _probe_points(test, self.metric, self.budget)
        z = self._curve_predictions(points, test.budget)
        scores = self.coef_[0] + self.coef_[1] * z
        missing = ~np.isfinite(z[:, 0])
        scores[missing] = self.fallback_
        bounds = scores[:, 1:3]
        return MethodPrediction(
            mean=scores[:, 0],
            lower=bounds.min(axis=1),
            upper=bounds.max(axis=1),
            level=self.level,
            ensemble=scores[:, 3:],
        )
