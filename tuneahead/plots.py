"""Figures of a fit: predicted against true final score, and risk against probe budget.

Each function takes plain arrays or result dataclasses and writes one PNG; nothing is re-fitted.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from .artifacts import atomic_path  # noqa: E402
from .predict import Prediction  # noqa: E402
from .risk import RiskCurve  # noqa: E402

__all__ = ["plot_predicted_vs_true", "plot_risk_curve"]


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def plot_predicted_vs_true(
    prediction: Prediction, truth: np.ndarray, path: str | Path, budget: float, score_name: str = "final score"
) -> Path:
    """Scatter of predictive mean against the true score, with the central intervals as bars."""
    truth = np.asarray(truth, dtype=float)
    inside = (truth >= prediction.lower) & (truth <= prediction.upper)
    fig, ax = plt.subplots(figsize=(5.5, 5.2))
    for mask, color, label in [(inside, "tab:blue", "interval covers truth"), (~inside, "tab:red", "interval misses")]:
        # the interval is drawn from its own ends: a two-branch predictive's mean may lie outside it
        ax.vlines(truth[mask], prediction.lower[mask], prediction.upper[mask], lw=0.6, alpha=0.7, color=color)
        ax.plot(truth[mask], prediction.mean[mask], "o", ms=3, alpha=0.7, color=color, label=f"{label} ({mask.sum()})")
    lo = np.nanmin([truth.min(), prediction.lower.min()])
    hi = np.nanmax([truth.max(), prediction.upper.max()])
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, ls="--", label="perfect prediction")
    level = int(round(100 * prediction.level))
    ax.set_xlabel(f"true {score_name} (points)")
    ax.set_ylabel(f"predicted {score_name} (points)")
    ax.set_title(f"Held-out runs probed for {budget:g} steps, {level}% intervals")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, Path(path))


def plot_risk_curve(
    risk: RiskCurve,
    path: str | Path,
    truths: dict[str, RiskCurve] | None = None,
    epsilon: float | None = None,
) -> Path:
    """L(c) against budget in its three parts, with its 90% posterior band and the truths when known.

    The posterior's L(c) is drawn beside :math:`L_{int} + V_{opt}(c)` (the risk under known
    parameters), so the gap between the two lines is :math:`V_{epi}(c)`.
    """
    c = risk.budgets
    x = np.where(c > 0, c, np.nan)
    lo, hi = np.percentile(risk.draws + risk.epistemic_variance[None, :], [5, 95], axis=0)
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    ax.fill_between(c[c > 0], lo[c > 0], hi[c > 0], color="tab:blue", alpha=0.2, label="posterior 90% band of L(c)")
    ax.plot(x, risk.total, "o-", color="tab:blue", label="L(c) = L_int + V_opt + V_epi, posterior")
    ax.plot(x, risk.intrinsic + risk.optimization_variance, "^-", color="tab:cyan", label="L_int + V_opt(c), posterior")
    ax.axhline(risk.intrinsic, color="tab:blue", ls=":", label=f"L_int, posterior ({risk.intrinsic:.3g})")
    styles = [("s--", "black"), ("d-.", "tab:gray"), ("v:", "tab:olive")]
    for (label, truth), (marker, color) in zip((truths or {}).items(), styles):
        ax.plot(
            np.where(truth.budgets > 0, truth.budgets, np.nan), truth.total, marker, color=color, label=f"L(c), {label}"
        )
        ax.axhline(truth.intrinsic, color=color, ls=":", label=f"L_int, {label} ({truth.intrinsic:.3g})")
    if epsilon is not None:
        ax.axhline(epsilon**2, color="tab:red", lw=1, label=f"tolerance eps^2 = {epsilon**2:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    # label the evaluated budgets and 1-2-5 risk levels plainly; a short log range's minor labels overlap
    ax.set_xticks(c[c > 0])
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("probe budget c (steps)")
    ax.set_ylabel("prediction risk L(c) (points^2)")
    l0 = risk.at(0.0)
    title = f"Risk against probe budget (static only: L(0) = {l0:.3g})"
    for label, truth in list((truths or {}).items())[:1]:
        title += f"; {label} L(0) = {truth.at(0.0):.3g}"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, Path(path))
