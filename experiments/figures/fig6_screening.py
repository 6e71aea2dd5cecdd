"""Figure 6: the screening trade-off, compute saved against the share of top runs kept.

Every candidate is probed for c steps; a rule sends some on to full training. A run is a top run
if its final score reaches the top-quartile cut of the held-out scores (the headline's definition
in :mod:`tuneahead.screen`), and net compute saved counts every candidate's probe. Each method's
curve sweeps its go threshold over all values: ours ranks runs by P(R >= cut | probe), the point
predictors by their predicted score. The replayed Optuna pruners are single points, and the
dotted line marks the headline target share. One panel per probe budget, DeBERTa random split.

    python -m experiments.figures.fig6_screening [--outputs outputs] [--split random]
"""

from __future__ import annotations

import numpy as np

from experiments.artifacts import ArtifactMissing, read_csv, read_json
from experiments.figures.common import METHOD_STYLE, out_dir, parser, plt, save

NAME = "fig6_screening"
ARTIFACTS = ("deberta_eval",)
PRUNER_MARKERS = ("P", "X", "D", "v", "^", "<", ">", "h")


def tradeoff(score, top, total, budget: float, resume_from_probe: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Share of top runs kept and net compute saved for "go if score >= t", over every threshold t.

    Matches :func:`tuneahead.screen.screening_outcome`: probes cost min(c, T_i) each, and a run sent
    on costs T_i - c_i more with ``resume_from_probe`` (T_i otherwise). Ordered from sending every
    run (kept 1, saved 0) to sending none.
    """
    score, top, total = np.asarray(score, float), np.asarray(top, bool), np.asarray(total, float)
    c = np.minimum(float(budget), total)
    rest = total - (c if resume_from_probe else 0.0)
    order = np.argsort(-score, kind="stable")
    kept = np.concatenate([[0.0], np.cumsum(top[order]) / max(top.sum(), 1)])
    spent = c.sum() + np.concatenate([[0.0], np.cumsum(rest[order])])
    saved = 1.0 - spent / total.sum()
    # ties in the score go together: keep only the cut points between distinct values
    s = score[order]
    cut = np.concatenate([[True], s[1:] != s[:-1], [True]])
    return kept[cut][::-1], saved[cut][::-1]


def plot(outputs, folder, split: str = "random") -> list:
    preds = read_csv(outputs, "deberta_eval", "predictions.csv")
    results = read_json(outputs, "deberta_eval", "results.json")
    screening = read_csv(outputs, "deberta_eval", "screening.csv")
    sc = results["experiment"]["evaluation"]["screen"]
    preds = preds[preds.split == split]
    if preds.empty:
        raise ArtifactMissing(f"the DeBERTa predictions hold no rows for split {split!r}")
    budgets = sorted(preds.budget.unique())
    fig, axes = plt.subplots(1, len(budgets), figsize=(3.3 * len(budgets) + 1.8, 3.5), sharey=True, squeeze=False)
    for ax, b in zip(axes[0], budgets):
        at = preds[preds.budget == b]
        some = at[at.method == at.method.iloc[0]]
        cut = float(np.quantile(some.final, sc["top_quantile"]))
        for method, (label, color, width) in METHOD_STYLE.items():
            p = at[at.method == method]
            if p.empty:
                continue
            score = p["p_top"] if method == "ours" else p["mean"]
            kept, saved = tradeoff(
                score.to_numpy(), p.final.to_numpy() >= cut, p.total_steps.to_numpy(), b, sc["resume_from_probe"]
            )
            ax.plot(
                kept,
                saved,
                color=color,
                lw=width,
                zorder=3 if method == "ours" else 2,
                label=label + (": P(R ≥ cut)" if method == "ours" else ""),
            )
        pr = screening[(screening.kind == "pruner") & (screening.split == split) & (screening.budget == b)]
        for (_, r), marker in zip(pr.iterrows(), PRUNER_MARKERS):
            ax.plot(
                r.successes_kept,
                r.compute_saved,
                marker=marker,
                ms=6,
                color="k",
                mfc="#ffd92f",
                ls="none",
                label=r.method,
                zorder=4,
            )
        ax.axvline(sc["recall"], color="0.4", lw=0.8, ls=":", label=f"target: keep {sc['recall']:.0%} of top runs")
        ax.set_xlim(0, 1.01)
        ax.set_title(f"probe {b:g} steps (top runs: final ≥ {cut:.1f}%)", fontsize=8.5)
        ax.set_xlabel("share of top-quartile runs kept (fraction)")
    axes[0][0].set_ylabel("net compute saved (fraction of training every run)")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle(f"Screening DeBERTa-base candidates ({split} split, {len(some)} held-out runs)", y=1.0)
    fig.tight_layout()
    return save(fig, folder, NAME)


def main(argv=None) -> list:
    p = parser(__doc__)
    p.add_argument("--split", default="random")
    args = p.parse_args(argv)
    return plot(args.outputs, out_dir(args), args.split)


if __name__ == "__main__":
    main()
