"""Figure 5: predicted against true final score on held-out DeBERTa runs, at two probe budgets.

Ours (the hierarchical posterior), on the random split of the DeBERTa evaluation: the predictive
mean with its central interval (90% unless the evaluation chose another level), blue where the
interval covers the true score and red where it misses. When diverged runs end far below the
healthy ones, a second row zooms on the healthy runs (the grey square of the first row). By
default the smallest and the largest evaluated budget; ``--budgets`` picks others.

    python -m experiments.figures.fig5_predicted_vs_true [--outputs outputs] [--budgets 1000 4000] [--split random]
"""

from __future__ import annotations

import numpy as np

from experiments.artifacts import ArtifactMissing, read_csv, read_json
from experiments.figures.common import out_dir, parser, plt, save

NAME = "fig5_predicted_vs_true"
ARTIFACTS = ("deberta_eval",)


def _upper_cluster(truth: np.ndarray) -> tuple[float, float] | None:
    """Range of the runs above the widest gap in the true scores, if that gap splits off a cluster.

    Diverged runs end near chance far below the healthy ones; the healthy cluster then fills a
    small corner of the panel and gets an inset.
    """
    t = np.sort(truth[np.isfinite(truth)])
    if t.size < 4:
        return None
    gaps = np.diff(t)
    j = int(np.argmax(gaps))
    if gaps[j] < 0.25 * (t[-1] - t[0]) or t.size - j - 1 < 3:
        return None
    upper = t[j + 1 :]
    pad = 0.08 * (upper[-1] - upper[0]) + 0.5
    return float(upper[0] - pad), float(upper[-1] + pad)


def _chosen_budgets(preds, budgets) -> list[float]:
    """The requested budgets (default: the smallest and the largest evaluated), all of them evaluated."""
    available = sorted(preds.budget.unique())
    budgets = [float(b) for b in budgets] if budgets else [available[0], available[-1]]
    missing = [b for b in budgets if b not in available]
    if missing:
        raise ArtifactMissing(f"budgets {missing} were not evaluated; the predictions hold {available}")
    return budgets


def _zoom(preds, budgets) -> tuple[float, float] | None:
    """The square that holds the healthy cluster at every budget, if any budget splits one off."""
    zooms = [_upper_cluster(preds[preds.budget == b].final.to_numpy()) for b in budgets]
    zooms = [z for z in zooms if z is not None]
    return (min(z[0] for z in zooms), max(z[1] for z in zooms)) if zooms else None


def _draw_predictions(ax, truth, mean, lower, upper, inside, diagonal) -> None:
    """Predicted mean and interval against the truth, covered and missed apart, with the diagonal."""
    for mask, color, label in (
        (inside, "#1f77b4", "interval covers the truth"),
        (~inside, "#d62728", "interval misses"),
    ):
        ax.errorbar(
            truth[mask],
            mean[mask],
            yerr=[mean[mask] - lower[mask], upper[mask] - mean[mask]],
            fmt="o",
            ms=2.5,
            color=color,
            ecolor=color,
            elinewidth=0.5,
            alpha=0.6,
            label=f"{label} ({mask.sum()})",
        )
    ax.plot(diagonal, diagonal, color="k", lw=0.8, label="predicted = true")


def _mark_zoom(ax, zoom) -> None:
    """The grey square of the zoomed row, drawn on the full panel."""
    ax.add_patch(
        plt.matplotlib.patches.Rectangle(
            (zoom[0], zoom[0]),
            zoom[1] - zoom[0],
            zoom[1] - zoom[0],
            fill=False,
            edgecolor="0.5",
            lw=0.8,
            zorder=5,
        )
    )


def _draw_budget(column, p, b: float, level: float, full, zoom) -> None:
    """One budget's column: the full panel on top and, with a zoom, the healthy runs below."""
    truth, mean = p.final.to_numpy(), p["mean"].to_numpy()
    lower, upper = p["lower"].to_numpy(), p["upper"].to_numpy()
    inside = (truth >= lower) & (truth <= upper)
    rmse = float(np.sqrt(np.mean((mean - truth) ** 2)))
    column[0].set_title(
        f"probe {b:g} steps\nRMSE {rmse:.2f} points, {100 * level:g}% coverage {inside.mean():.2f}", fontsize=8.5
    )
    for i, ax in enumerate(column):
        _draw_predictions(ax, truth, mean, lower, upper, inside, list(full))
        lim = full if i == 0 else zoom
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal")
        ax.set_xlabel("true final accuracy, MultiNLI matched (%)")
        if i == 0:
            ax.legend(loc="upper left", frameon=False)
        else:
            ax.set_title(f"zoom on the grey square: healthy runs ({(truth >= zoom[0]).sum()})", fontsize=8)
            _mark_zoom(column[0], zoom)


def plot(outputs, folder, budgets=None, split: str = "random", method: str = "ours") -> list:
    preds = read_csv(outputs, "deberta_eval", "predictions.csv")
    level = read_json(outputs, "deberta_eval", "results.json")["experiment"]["predict"]["level"]
    preds = preds[(preds.split == split) & (preds.method == method)]
    if preds.empty:
        raise ArtifactMissing(f"the DeBERTa predictions hold no rows for method {method!r} on split {split!r}")
    budgets = _chosen_budgets(preds, budgets)
    lo_all = float(np.nanmin([preds.final.min(), preds["lower"].min()]))
    hi_all = float(np.nanmax([preds.final.max(), preds["upper"].max()]))
    pad = 0.03 * (hi_all - lo_all)
    zoom = _zoom(preds, budgets)
    rows = 2 if zoom is not None else 1
    fig, axes = plt.subplots(rows, len(budgets), figsize=(3.6 * len(budgets), 3.7 * rows), squeeze=False)
    for j, b in enumerate(budgets):
        p = preds[preds.budget == b]
        _draw_budget([axes[i][j] for i in range(rows)], p, b, level, (lo_all - pad, hi_all + pad), zoom)
    for i in range(rows):
        axes[i][0].set_ylabel(f"predicted final accuracy,\nmean and {100 * level:g}% interval (%)")
    fig.suptitle(f"DeBERTa-base, {len(p)} held-out runs ({split} split): ours", y=1.0)
    fig.tight_layout()
    return save(fig, folder, NAME)


def main(argv=None) -> list:
    p = parser(__doc__)
    p.add_argument("--budgets", type=float, nargs="+", default=None, help="probe budgets to show (steps)")
    p.add_argument("--split", default="random")
    args = p.parse_args(argv)
    return plot(args.outputs, out_dir(args), args.budgets, args.split)


if __name__ == "__main__":
    main()
