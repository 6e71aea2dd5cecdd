"""Figure 7: SHAP summaries of the predicted final score, for ours and for the TuneAhead baseline.

From the DeBERTa evaluation's ``explanations.csv``: each dot is one explained held-out run's
attribution of one feature (points of final accuracy added to the base value), coloured by the
feature's value within its range (blue low, red high). Features are sorted by mean absolute
attribution. Ours explains the posterior predictive mean with permutation SHAP over the static
features and the probe curve summary; TuneAhead explains its LightGBM with TreeExplainer over its
static and probe features.

    python -m experiments.figures.fig7_shap [--outputs outputs] [--out outputs/figures] [--top 10]
"""

from __future__ import annotations

import numpy as np

from experiments.artifacts import ArtifactMissing, read_csv, read_json
from experiments.figures.common import METHOD_STYLE, out_dir, parser, plt, save

NAME = "fig7_shap"
ARTIFACTS = ("deberta_eval",)


def _normalized(values: np.ndarray) -> np.ndarray:
    """Feature values mapped to [0, 1] by rank (NaN stays NaN), as SHAP's summary colours them."""
    out = np.full(values.shape, np.nan)
    ok = np.isfinite(values)
    if ok.sum() > 1:
        ranks = values[ok].argsort().argsort()
        out[ok] = ranks / (ok.sum() - 1)
    elif ok.any():
        out[ok] = 0.5
    return out


def plot(outputs, folder, top: int = 10) -> list:
    frame = read_csv(outputs, "deberta_eval", "explanations.csv")
    experiment = read_json(outputs, "deberta_eval", "results.json")["experiment"]
    budget = experiment["evaluation"]["explain"].get("budget") or experiment["probe"]["budget"]
    methods = [m for m in ("ours", "tuneahead") if m in set(frame.method)]
    if not methods:
        raise ArtifactMissing("explanations.csv holds no attributions of ours or the TuneAhead baseline")
    rng = np.random.default_rng(0)
    n_feat = [min(top, frame[frame.method == m].feature.nunique()) for m in methods]
    fig, axes = plt.subplots(
        1,
        len(methods),
        figsize=(4.6 * len(methods) + 0.8, 0.32 * max(n_feat) + 1.6),
        squeeze=False,
        layout="constrained",
    )
    for ax, m in zip(axes[0], methods):
        part = frame[frame.method == m]
        importance = part.groupby("feature").attribution.apply(lambda a: np.abs(a).mean()).sort_values(ascending=False)
        features = list(importance.index[:top])[::-1]
        for i, f in enumerate(features):
            rows = part[part.feature == f]
            a = rows.attribution.to_numpy(float)
            colour = _normalized(rows.value.to_numpy(float))
            y = i + rng.uniform(-0.18, 0.18, len(a))
            missing = ~np.isfinite(colour)
            ax.scatter(a[missing], y[missing], s=14, color="0.6", lw=0)
            sc = ax.scatter(
                a[~missing],
                y[~missing],
                c=colour[~missing],
                cmap="coolwarm",
                vmin=0,
                vmax=1,
                s=14,
                edgecolor="k",
                lw=0.2,
            )
        ax.axvline(0, color="0.3", lw=0.7)
        if part.value.isna().any():
            ax.scatter([], [], s=14, color="0.6", label="feature value missing")
            ax.legend(loc="lower right", frameon=False)
        ax.set_yticks(range(len(features)), [f.replace("_", " ") for f in features], fontsize=7)
        ax.set_ylim(-0.6, len(features) - 0.4)
        label = METHOD_STYLE[m][0]
        n_runs = part.run_id.nunique()
        ax.set_title(f"{label}: {n_runs} runs, probe {budget:g} steps", fontsize=8.5)
        ax.set_xlabel("SHAP attribution to the predicted final accuracy (points)")
    cbar = fig.colorbar(sc, ax=list(axes[0]), fraction=0.025, pad=0.01, ticks=[0, 1])
    cbar.ax.set_yticklabels(["low", "high"])
    cbar.set_label("feature value (rank among the explained runs)", fontsize=7.5)
    fig.suptitle("What drives the predicted final score (DeBERTa-base, held-out runs)")
    return save(fig, folder, NAME)


def main(argv=None) -> list:
    p = parser(__doc__)
    p.add_argument("--top", type=int, default=10, help="features shown per method")
    args = p.parse_args(argv)
    return plot(args.outputs, out_dir(args), args.top)


if __name__ == "__main__":
    main()
