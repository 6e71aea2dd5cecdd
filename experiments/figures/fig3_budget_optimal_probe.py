"""Figure 3: the budget-optimal probe, F(c) = L(c) + gamma C(c) against probe budget c.

For each exchange rate gamma of ``theory/check_budget.py`` (C(c) = lambda c, lambda = 1/T: a full
run costs one unit): the brute-force objective on the budget grid, the objective of the fitted
power law L_int + K c^-alpha + gamma lambda c, the formula's c* = (alpha K / (gamma lambda))^(1/(alpha+1))
with the brute-force objective measured at c* itself, and the brute-force argmin over the grid.

    python -m experiments.figures.fig3_budget_optimal_probe [--outputs outputs] [--out outputs/figures]
"""

from __future__ import annotations

import matplotlib.ticker
import numpy as np

from experiments.artifacts import read_json
from experiments.figures.common import legend_entry, out_dir, parser, plain_log_ticks, plt, save

NAME = "fig3_budget_optimal_probe"
ARTIFACTS = ("budget",)
COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")


def _draw_exchange_rate(ax, row: dict, color, c, L, grid, lam: float, K: float, alpha: float, L_int: float) -> None:
    """One gamma: brute-force F(c) on the grid, the power-law objective, c* (star) and the grid argmin (ring)."""
    g = row["gamma"]
    ax.plot(
        c,
        L + g * lam * c,
        color=color,
        marker="o",
        ms=4,
        lw=1.2,
        label=f"$\\gamma$ = {g:.3g}: brute-force $F(c)$ on the grid",
    )
    ax.plot(grid, L_int + K * grid**-alpha + g * lam * grid, color=color, lw=1, ls="--", alpha=0.8)
    ax.axvline(row["c_star"], color=color, lw=0.9, ls=":")
    ax.plot(
        row["c_star"],
        row["F_at_c_star"],
        marker="*",
        ms=13,
        color=color,
        mec="k",
        mew=0.6,
        ls="none",
        label=f"   formula $c^*$ = {row['c_star']:.0f} (brute-force $F(c^*)$, gap {100 * row['objective_gap']:+.1f}%)",
    )
    ax.plot(
        row["argmin_grid"],
        row["F_min_grid"],
        marker="o",
        ms=11,
        mfc="none",
        mec=color,
        mew=1.8,
        ls="none",
        label=f"   brute-force argmin over the grid = {row['argmin_grid']:.0f}",
    )


def _label_axes(ax, b: dict, T: float) -> None:
    """Log axes with plain objective ticks, the labels and the title with the fitted V_opt(c)."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    y0, y1 = ax.get_ylim()
    ticks = [t for t in (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 200, 300) if y0 <= t <= y1]
    plain_log_ticks(ax.yaxis, ticks, matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("probe budget $c$ (steps)")
    ax.set_ylabel("objective $F(c) = L(c) + \\gamma\\lambda c$ (points$^2$, log scale)")
    ax.set_title(
        f"Budget-optimal probe: $V_{{opt}}(c) = {b['K']:.3g}\\,c^{{-{b['alpha']:.2f}}}$, "
        f"$\\lambda$ = 1/{T:.0f} per step, {b['n_runs']} runs"
    )


def plot(outputs, folder) -> list:
    b = read_json(outputs, "budget", "budget.json")
    c = np.asarray(b["budgets"], float)
    L = np.asarray(b["L"], float)
    lam, K, alpha, L_int = b["lambda"], b["K"], b["alpha"], b["L_int"]
    T = 1.0 / lam
    on = (c > 0) & (c < T)
    grid = np.geomspace(c[on].min() * 0.8, c[on].max() * 1.25, 300)
    fig, ax = plt.subplots(figsize=(5.6, 3.9))
    for row, color in zip(b["rows"], COLORS * 4):
        _draw_exchange_rate(ax, row, color, c[on], L[on], grid, lam, K, alpha, L_int)
    legend_entry(ax, "power-law objective $L_{int} + Kc^{-\\alpha} + \\gamma\\lambda c$", color="0.4", ls="--", lw=1)
    ax.axhline(L_int, color="0.5", lw=0.8, ls="-.", label=f"$L_{{int}}$ = {L_int:.2f} points$^2$")
    _label_axes(ax, b, T)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return save(fig, folder, NAME)


def main(argv=None) -> list:
    args = parser(__doc__).parse_args(argv)
    return plot(args.outputs, out_dir(args))


if __name__ == "__main__":
    main()
