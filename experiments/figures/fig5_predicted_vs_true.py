"""Figure 5: predicted against true final score on held-out DeBERTa runs, at two probe budgets.

Ours (the hierarchical posterior), on the random split of the DeBERTa evaluation: the predictive
mean with its central interval (90% unless the evaluation chose another level), blue where the
interval covers the true score and red where it misses. By default the smallest and the largest
evaluated budget; ``--budgets`` picks others.

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


def plot(outputs, folder, budgets=None, split: str = "random", method: str = "ours") -> list:
    preds = read_csv(outputs, "deberta_eval", "predictions.csv")
    level = read_json(outputs, "deberta_eval", "results.json")["experiment"]["predict"]["level"]
    preds = preds[(preds.split == split) & (preds.method == method)]
    available = sorted(preds.budget.unique())
    if not available:
        raise ArtifactMissing(f"the DeBERTa predictions hold no rows for method {method!r} on split {split!r}")
    budgets = [float(b) for b in budgets] if budgets else [available[0], available[-1]]
    missing = [b for b in budgets if b not in available]
    if missing:
        raise ArtifactMissing(f"budgets {missing} were not evaluated; the predictions hold {available}")
    lo_all = float(np.nanmin([preds.final.min(), preds["lower"].min()]))
    hi_all = float(np.nanmax([preds.final.max(), preds["upper"].max()]))
    pad = 0.03 * (hi_all - lo_all)
    fig, axes = plt.subplots(1, len(budgets), figsize=(3.5 * len(budgets), 3.7), sharey=True, squeeze=False)
    for ax, b in zip(axes[0], budgets):
        p = preds[preds.budget == b]
        truth, mean = p.final.to_numpy(), p["mean"].to_numpy()
        lower, upper = p["lower"].to_numpy(), p["upper"].to_numpy()
        inside = (truth >= lower) & (truth <= upper)
        rmse = float(np.sqrt(np.mean((mean - truth) ** 2)))
        ax.set_title(f"probe {b:g} steps\nRMSE {rmse:.2f} points, {100 * level:g}% coverage {inside.mean():.2f}", fontsize=8.5)
        zoom = _upper_cluster(truth)
        panels = [ax]
        if zoom is not None:
            up = truth >= zoom[0]
            zoom = (min(zoom[0], float(mean[up].min()) - 0.5), max(zoom[1], float(mean[up].max()) + 0.5))
            inset = ax.inset_axes([0.52, 0.07, 0.45, 0.45])
            inset.set_xlim(*zoom)
            inset.set_ylim(*zoom)
            inset.tick_params(labelsize=6)
            inset.set_title("zoom on the healthy runs", fontsize=6.5)
            ax.indicate_inset_zoom(inset, edgecolor="0.5")
            panels.append(inset)
        for target in panels:
            for mask, color, label in ((inside, "#1f77b4", "interval covers the truth"), (~inside, "#d62728", "interval misses")):
                target.errorbar(truth[mask], mean[mask], yerr=[mean[mask] - lower[mask], upper[mask] - mean[mask]],
                                fmt="o", ms=2.5 if target is ax else 2, color=color, ecolor=color, elinewidth=0.5,
                                alpha=0.6, label=f"{label} ({mask.sum()})")  # fmt: skip
            target.plot([lo_all - pad, hi_all + pad], [lo_all - pad, hi_all + pad], color="k", lw=0.8, label="predicted = true")
        ax.set_xlim(lo_all - pad, hi_all + pad)
        ax.set_ylim(lo_all - pad, hi_all + pad)
        ax.set_aspect("equal")
        ax.set_xlabel("true final accuracy, MultiNLI matched (%)")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[-3:] if zoom is None else handles[:3], labels[-3:] if zoom is None else labels[:3],
                  loc="upper left", frameon=False)  # fmt: skip
    axes[0][0].set_ylabel(f"predicted final accuracy, mean and {100 * level:g}% interval (%)")
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
