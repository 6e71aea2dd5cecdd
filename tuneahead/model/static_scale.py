r"""How static features reach the model: the log scale, the static basis, and the range the training
runs covered.

**Log scale.** A static feature that is positive on every training run, whose largest value is
at least ``log_span`` times its smallest, and whose logarithm is less skewed than the feature
itself (a perplexity, a dataset size, a learning rate given raw) is modelled as :math:`\log x`.
On its raw scale a few runs far out in the tail set the standard deviation, the others crowd
near zero, and a new task a few times further out lies tens of standard deviations away. A
feature spread evenly from near zero (a warm-up fraction drawn uniformly) stays as it is: its
logarithm would put the long tail on the other side. The choice reads the training runs only.

**The static basis** expands the standardized features :math:`z` into the columns of the static
part :math:`x^\top \beta`: ``linear`` (:math:`z` itself), ``quadratic`` (with every product
:math:`z_j z_k`, :math:`j \le k`), or ``relu``, a network of one hidden layer whose hidden units
are fixed at random,

.. math::

    x = \big(z,\ \max(0, z^\top W + b)\big), \qquad W_{jh} \sim \mathcal N(0, 1/p),\ b_h \sim \mathcal N(0, 1),
    \quad h = 1, \dots, H,

with :math:`H` = :data:`RELU_UNITS` units drawn once from a fixed seed (so the design rebuilds
them from :math:`p` alone). With the ridge prior on :math:`\beta` this is Bayesian regression on
random features, a nonlinear static part (a kink wherever a unit turns on, interactions through
the mixing :math:`W`) that keeps the model's Gaussian structure: the posterior of :math:`\beta`
and every predictive stay exact given the other parameters. Each hidden column is standardized
and then divided by :math:`\sqrt H`, so the :math:`H` units together have the prior variance of
one feature, and the line in :math:`z` stays the main term. Since :math:`z` is clamped first, no
unit extrapolates either.

**No extrapolation past the training range.** Each standardized feature :math:`z_j` has the
range :math:`[l_j, h_j]` of the training runs. A candidate's features are clamped to it,
:math:`z_j \to \min(\max(z_j, l_j), h_j)`, before the static basis is formed, so the static part,
the curve features and the failure gate are flat past the edges of what was fitted. A linear
term fitted on the training range says nothing about a value far beyond it: unclamped, a gate's
log-odds grow without bound there, and healthy runs of a new task read as certain failures. What
a candidate in new territory does not share with the training runs is carried by the spread of
its unseen group (:math:`\tau_a`), not by a line drawn past its data.

:func:`extrapolation` says how far, in training standard deviations, a candidate lies outside the
range, so a user sees which predictions rest on the clamp.
"""

from __future__ import annotations

import numpy as np

from ..data.runtable import RunTableError

__all__ = ["BASES", "RELU_UNITS", "log_features", "model_scale", "clamp", "extrapolation", "basis", "basis_scales"]

BASES = ("linear", "quadratic", "relu")
#: Hidden units of the ``relu`` basis.
RELU_UNITS = 32
_RELU_SEED = 20241206


def log_features(static: np.ndarray, span: float | None) -> tuple[bool, ...]:
    """Which columns of the training runs' ``static`` (n, p) are modelled on the log scale."""
    if span is None or static.size == 0:
        return (False,) * static.shape[1]
    flags = []
    for column in static.T:
        finite = column[np.isfinite(column)]
        positive = finite.size > 0 and bool(np.all(finite > 0))
        spans = positive and float(finite.max()) >= span * float(finite.min())
        flags.append(bool(spans and abs(_skewness(np.log(finite))) < abs(_skewness(finite))))
    return tuple(flags)


def _skewness(values: np.ndarray) -> float:
    centred = values - values.mean()
    sd = float(np.sqrt(np.mean(centred**2)))
    return float(np.mean(centred**3)) / sd**3 if sd > 0 else 0.0


def model_scale(
    static: np.ndarray, logged: tuple[bool, ...], names: tuple[str, ...], run_id, clamped: bool
) -> np.ndarray:
    """``static`` with the logged columns replaced by their logarithms.

    A value that is not positive has no logarithm. With ``clamped`` it goes to the low edge of the
    range (it lies below every training run); otherwise it is refused, naming the run."""
    out = np.array(static, dtype=float, copy=True)
    for j, on in enumerate(logged):
        if not on:
            continue
        column = out[:, j]
        bad = np.isfinite(column) & (column <= 0)
        if bad.any() and not clamped:
            i = int(np.flatnonzero(bad)[0])
            raise RunTableError(
                f"static feature {names[j]!r} is modelled on the log scale (positive on every training run), "
                f"but run {run_id[i]!r} has {column[i]:g}; give it a positive value, or fit with "
                "model.log_span=null"
            )
        out[:, j] = np.where(bad, -np.inf, np.log(np.where(bad, 1.0, column)))
    return out


def clamp(z: np.ndarray, low: tuple[float, ...], high: tuple[float, ...]) -> np.ndarray:
    """Standardized features ``z`` (n, p) clamped to the training range ``[low, high]``."""
    if not low:
        return z
    return np.clip(z, np.array(low), np.array(high))


def extrapolation(z: np.ndarray, low: tuple[float, ...], high: tuple[float, ...]) -> np.ndarray:
    """How far each row of standardized ``z`` lies outside the training range: the largest distance
    over features, in training standard deviations (0 inside; ``inf`` below the range of a logged
    feature, for a value that is not positive)."""
    if not low or z.shape[1] == 0:
        return np.zeros(z.shape[0])
    below = np.maximum(np.array(low) - z, 0.0)
    above = np.maximum(z - np.array(high), 0.0)
    return np.max(np.maximum(below, above), axis=1)


def _relu_weights(p: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_RELU_SEED + p)
    return rng.normal(0.0, 1.0 / np.sqrt(p), (p, RELU_UNITS)), rng.normal(0.0, 1.0, RELU_UNITS)


def basis(z: np.ndarray, names: tuple[str, ...], kind: str) -> tuple[np.ndarray, list[str]]:
    """The static basis of standardized features ``z`` (n, p) and its column names (module doc)."""
    if kind == "linear" or z.shape[1] == 0:
        return z, list(names)
    if kind == "relu":
        weights, bias = _relu_weights(z.shape[1])
        hidden = np.maximum(z @ weights + bias, 0.0)
        return np.concatenate([z, hidden], axis=1), [*names, *(f"relu_{h}" for h in range(RELU_UNITS))]
    cols, out = [z], list(names)
    for j in range(z.shape[1]):
        for k in range(j, z.shape[1]):
            cols.append(z[:, j : j + 1] * z[:, k : k + 1])
            out.append(f"{names[j]}*{names[k]}")
    return np.concatenate(cols, axis=1), out


def basis_scales(columns: np.ndarray, names: list[str], kind: str, scale) -> list[tuple[float, float]]:
    """Mean and sd that standardize each basis column (``scale`` of a column gives both); the
    ``relu`` basis's hidden columns share one feature's prior variance (module doc)."""
    if kind == "linear":
        return [(0.0, 1.0)] * columns.shape[1]
    stats = [scale(columns[:, j]) for j in range(columns.shape[1])]
    if kind == "relu":
        root = float(np.sqrt(RELU_UNITS))
        first = columns.shape[1] - RELU_UNITS  # the hidden units come after the features
        stats = [(m, sd * root) if j >= first else (m, sd) for j, (m, sd) in enumerate(stats)]
    return stats
