"""Figure 2: V_opt(c) against probe budget c on log-log axes, one panel per step-size exponent rho.

In each panel: the brute-force V_opt(c) of ``theory/check_lower_bound.py`` (mean over runs of the
between-branch variance, with its standard error), the posterior's V_opt(c) on the same runs with
its 90% interval (``experiments/lower_bound_posterior.py``), the horizon-aware power law
K (c^-alpha - T^-alpha) fitted to the brute force, and the lower bound's fastest allowed decay,
c^-(2 rho - 1), drawn through the brute force at the smallest budget: claim 2 says V_opt(c) falls
no faster than it.

    python -m experiments.figures.fig2_optimization_variance [--outputs outputs] [--out outputs/figures]
"""

from __future__ import annotations

import matplotlib.ticker
import numpy as np

from experiments.artifacts import read_json
from experiments.figures.common import figure_legend, out_dir, parser, plain_log_ticks, plt, save

NAME = "fig2_optimization_variance"
ARTIFACTS = ("lower_bound", "lower_bound_posterior")


def _draw_brute_force(ax, c, v, se, ok) -> None:
    """The brute-force V_opt(c) with its standard error (bars clipped above zero on the log axis)."""
    ax.errorbar(
        c[ok],
        v[ok],
        yerr=np.minimum(se[ok], 0.95 * v[ok]),
        fmt="o",
        color="k",
        ms=4,
        capsize=2,
        lw=1,
        label="brute force (±1 s.e.)",
        zorder=4,
    )


def _draw_posterior(ax, p: dict) -> None:
    """The posterior's V_opt(c) on the same runs with its 90% interval, at the positive budgets."""
    pc, pv = np.asarray(p["budgets"], float), np.asarray(p["V_opt"], float)
    lo, hi = np.asarray(p["V_opt_q05"], float), np.asarray(p["V_opt_q95"], float)
    m = pc > 0
    ax.fill_between(pc[m], np.maximum(lo[m], 1e-3), hi[m], color="#d62728", alpha=0.18, lw=0)
    ax.plot(
        pc[m],
        pv[m],
        color="#d62728",
        lw=1.8,
        marker="s",
        ms=3,
        label="posterior on the same runs, 90% interval",
    )


def _draw_power_law(ax, grid, r: dict, T: float) -> None:
    """The horizon-aware power law K (c^-alpha - T^-alpha) fitted to the brute force (where positive)."""
    fitted = r["K"] * (grid ** -r["alpha"] - T ** -r["alpha"])
    ax.plot(
        grid,
        np.where(fitted > 0, fitted, np.nan),
        color="#1f77b4",
        lw=1.3,
        ls="--",
        label="power law $K(c^{-\\alpha}-T^{-\\alpha})$ fitted to the brute force",
    )


def _draw_bound(ax, grid, c, v, ok, bound: float) -> None:
    """The fastest decay the lower bound allows, c^-(2 rho - 1), through the brute force at the smallest budget."""
    c1 = c[ok].min() if ok.any() else grid[0]
    v1 = v[ok][0] if ok.any() else 1.0
    ax.plot(
        grid,
        v1 * (grid / c1) ** -bound,
        color="#2ca02c",
        lw=1.3,
        ls=":",
        label="fastest decay the bound allows, $\\propto c^{-(2\\rho-1)}$",
    )


def _label_panel(ax, r: dict, p: dict | None, c) -> None:
    """Log-log axes with the budgets as ticks, and the title with the bound and the fitted slopes."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    post_slope = f", posterior {p['alpha']:.2f}" if p is not None else ""
    ax.set_title(
        f"$\\rho$ = {r['rho']:g} (bound: $\\alpha \\leq 2\\rho-1$ = {r['bound_2rho_minus_1']:.2f})\n"
        f"fitted $\\alpha$ = {r['alpha']:.3f} [{r['alpha_q05']:.3f}, {r['alpha_q95']:.3f}]\n"
        f"log-log slope: brute force {r['naive_loglog_alpha']:.2f}{post_slope}",
        fontsize=7.5,
    )
    ax.set_xlabel("probe budget $c$ (steps)")
    plain_log_ticks(ax.xaxis, c[c > 0], matplotlib.ticker.FormatStrFormatter("%g"))


def _draw_panel(ax, r: dict, p: dict | None) -> None:
    """One rho: brute force, posterior, fitted power law and the bound's fastest decay."""
    c = np.asarray(r["budgets"], float)
    v, se = np.asarray(r["V_opt"], float), np.asarray(r["V_opt_se"], float)
    ok = (c > 0) & (v > 0)
    _draw_brute_force(ax, c, v, se, ok)
    T = float(p["steps"]) if p else float(c.max() * 2.5)
    grid = np.geomspace(c[c > 0].min() * 0.8, c.max() * 1.25, 200)
    if p is not None:
        _draw_posterior(ax, p)
    _draw_power_law(ax, grid, r, T)
    _draw_bound(ax, grid, c, v, ok, r["bound_2rho_minus_1"])
    _label_panel(ax, r, p, c)


def plot(outputs, folder) -> list:
    brute = read_json(outputs, "lower_bound", "lower_bound.json")
    post = {round(r["rho"], 6): r for r in read_json(outputs, "lower_bound_posterior", "lower_bound_posterior.json")}
    fig, axes = plt.subplots(1, len(brute), figsize=(2.5 * len(brute) + 0.6, 3.4), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, r in zip(axes, brute):
        _draw_panel(ax, r, post.get(round(r["rho"], 6)))
    axes[0].set_ylabel("$V_{opt}(c)$ (points$^2$)")
    fig.suptitle(
        f"Optimization variance against probe budget ({brute[0]['n_runs']} runs, {brute[0]['branches']} branches "
        "each), step sizes $\\eta_t \\propto (1+t/t_s)^{-\\rho}$"
    )
    figure_legend(fig, axes[:1], loc="lower center", ncol=4, frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save(fig, folder, NAME)


def main(argv=None) -> list:
    args = parser(__doc__).parse_args(argv)
    return plot(args.outputs, out_dir(args))


if __name__ == "__main__":
    main()
