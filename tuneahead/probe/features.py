r"""Dynamic features of a short probe, computed from what its steps recorded.

Let the probe run steps :math:`t = 1, \dots, c`, with training loss :math:`\ell_t` (of the batch
at step ``t``, before that step's update), gradient :math:`g_t` (the flattened gradient of all
trainable parameters, before any clipping) and trainable parameters :math:`\theta_0` before the
first step and :math:`\theta_c` after the last. Steps whose loss is not finite are dropped from
the loss features; a probe with fewer than two finite steps gives NaN where two are needed.

- ``initial_loss``: :math:`\ell_1`.
- ``loss_slope``: the ordinary least-squares slope of :math:`\log \ell_t` on :math:`t`,
  :math:`\sum_t (t-\bar t)(\log\ell_t - \overline{\log\ell}) / \sum_t (t-\bar t)^2`.
- ``loss_variance``: :math:`\frac1c \sum_t (\ell_t - \bar\ell)^2` (population variance).
- ``grad_norm_mean``, ``grad_norm_var``: mean and population variance of :math:`\|g_t\|_2`.
- ``grad_consistency``: :math:`\frac{1}{c-1}\sum_{t=2}^{c} \cos(g_t, g_{t-1})`, with
  :math:`\cos(a, b) = a\cdot b / (\|a\|\|b\|)` (0 when either is zero).
- ``grad_sparsity``: the mean over steps of the fraction of gradient entries with
  :math:`|g_{t,j}| \le \tau \max_k |g_{t,k}|`, with :math:`\tau = 10^{-3}`. (LoRA's zero
  initialisation of ``B`` makes the gradient of ``A`` exactly zero at the first step, so a
  LoRA probe starts near 1/2.)
- ``param_change``: :math:`\|\theta_c - \theta_0\|_2` over trainable parameters.
- ``flatness``: :math:`\frac1S \sum_{s=1}^S [L(\theta_c + \epsilon_s) - L(\theta_c)]` with
  :math:`\epsilon_s \sim N(0, \sigma^2 I)` on the trainable parameters and ``L`` the loss of one
  fixed held-out batch (``sigma`` and ``S`` are config; see :class:`~tuneahead.probe.runner.ProbeConfig`).
- ``eval_loss``: the mean token cross-entropy of the responses of the held-out evaluation
  examples at the probe's end.

The functions here work on plain arrays; the runner records the arrays and calls them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SPARSITY_TOLERANCE",
    "loss_features",
    "grad_norm_features",
    "cosine",
    "grad_sparsity",
    "param_change",
    "PROBE_FEATURES",
]

SPARSITY_TOLERANCE = 1e-3
PROBE_FEATURES = (
    "initial_loss",
    "loss_slope",
    "loss_variance",
    "grad_norm_mean",
    "grad_norm_var",
    "grad_consistency",
    "grad_sparsity",
    "param_change",
    "flatness",
    "eval_loss",
)


def loss_features(losses: np.ndarray) -> dict[str, float]:
    """``initial_loss``, ``loss_slope`` (OLS of log loss on step) and ``loss_variance``.

    ``losses[k]`` is the loss of step ``k + 1``; non-finite and non-positive values are dropped
    from the slope, non-finite ones from the variance.
    """
    losses = np.asarray(losses, dtype=float)
    steps = np.arange(1, losses.size + 1, dtype=float)
    finite = np.isfinite(losses)
    initial = float(losses[0]) if losses.size and finite[0] else float("nan")
    ok = finite & (losses > 0)
    if ok.sum() >= 2:
        t, y = steps[ok], np.log(losses[ok])
        slope = float(np.sum((t - t.mean()) * (y - y.mean())) / np.sum((t - t.mean()) ** 2))
    else:
        slope = float("nan")
    variance = float(np.var(losses[finite])) if finite.any() else float("nan")
    return {"initial_loss": initial, "loss_slope": slope, "loss_variance": variance}


def grad_norm_features(norms: np.ndarray) -> dict[str, float]:
    """Mean and population variance of the finite gradient norms."""
    norms = np.asarray(norms, dtype=float)
    norms = norms[np.isfinite(norms)]
    if norms.size == 0:
        return {"grad_norm_mean": float("nan"), "grad_norm_var": float("nan")}
    return {"grad_norm_mean": float(norms.mean()), "grad_norm_var": float(norms.var())}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two flat vectors; 0 when either is zero."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def grad_sparsity(g: np.ndarray, tol: float = SPARSITY_TOLERANCE) -> float:
    """Fraction of entries of ``g`` with ``|g_j| <= tol * max|g|`` (1 for an all-zero gradient)."""
    a = np.abs(np.asarray(g, dtype=float))
    if a.size == 0:
        return float("nan")
    return float(np.mean(a <= tol * a.max()))


def param_change(theta0: np.ndarray, theta: np.ndarray) -> float:
    """``||theta - theta0||_2``."""
    return float(np.linalg.norm(np.asarray(theta, float) - np.asarray(theta0, float)))


class GradientTracker:
    """Accumulates the consistency and sparsity of consecutive gradients without keeping them all."""

    def __init__(self, tol: float = SPARSITY_TOLERANCE):
        self.tol = tol
        self.previous: np.ndarray | None = None
        self.cosines: list[float] = []
        self.sparsities: list[float] = []

    def update(self, g: np.ndarray) -> None:
        """Record the gradient of the next step."""
        if not np.all(np.isfinite(g)):
            return
        if self.previous is not None:
            self.cosines.append(cosine(self.previous, g))
        self.sparsities.append(grad_sparsity(g, self.tol))
        self.previous = g

    def features(self) -> dict[str, float]:
        """``grad_consistency`` and ``grad_sparsity`` of the gradients seen so far."""
        return {
            "grad_consistency": float(np.mean(self.cosines)) if self.cosines else float("nan"),
            "grad_sparsity": float(np.mean(self.sparsities)) if self.sparsities else float("nan"),
        }
