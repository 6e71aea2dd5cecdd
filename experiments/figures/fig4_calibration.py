"""Figure 4: calibration, the coverage of central intervals against their nominal level.

One panel per (data set, split) of the evaluations: held-out simulated runs and held-out DeBERTa
runs. Ours (the posterior predictive's central interval, coverage from each run's PIT value) and
the TuneAhead baseline (LightGBM with a CV+ conformal interval at every level), one line per
probe budget. The grey band is where a perfectly calibrated method's coverage falls with 95%
probability on that many runs (binomial); a line below the diagonal means intervals too narrow.

    python -m experiments.figures.fig4_calibration [--outputs outputs] [--out outputs/figures]
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from experiments.artifacts import ArtifactMissing, artifact, read_json
from experiments.figures.common import METHOD_STYLE, out_dir, parser, plt, save

NAME = "fig4_calibration"
ARTIFACTS = ("synthetic_eval", "deberta_eval")
DATASETS = (("synthetic_eval", "simulated runs (dynamic_critical)"), ("deberta_eval", "DeBERTa-base MultiNLI"))
METHODS = ("ours", "tuneahead")
LINESTYLES = ("-", "--", ":", "-.")


def _calibration(outputs, name: str) -> list[dict]:
    def check(results):
        if "calibration" not in results:
            raise ArtifactMissing(
                f"{artifact(name).path(outputs, 'results.json')} has no calibration block; "
                f"rerun `{artifact(name).shell(outputs)}`"
            )

    return read_json(outputs, name, "results.json", check)["calibration"]


def plot(outputs, folder) -> list:
    panels = []
    for name, title in DATASETS:
        rows = _calibration(outputs, name)
        for split in dict.fromkeys(r["split"] for r in rows):
            panels.append((title, split, [r for r in rows if r["split"] == split and r["method"] in METHODS]))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.9 * len(panels) + 0.4, 3.7), sharey=True, squeeze=False)
    nominal = np.linspace(0.0, 1.0, 201)
    for ax, (title, split, rows) in zip(axes[0], panels):
        budgets = sorted(dict.fromkeys(r["budget"] for r in rows))
        n = min((r["n"] for r in rows), default=0)
        if n:
            lo, hi = binom.ppf(0.025, n, nominal) / n, binom.ppf(0.975, n, nominal) / n
            ax.fill_between(nominal, lo, hi, color="0.87", lw=0, step="mid")
        ax.plot([0, 1], [0, 1], color="0.3", lw=0.8)
        for r in rows:
            _, color, width = METHOD_STYLE[r["method"]]
            ls = LINESTYLES[budgets.index(r["budget"]) % len(LINESTYLES)]
            ax.plot(r["levels"], r["coverage"], color=color, lw=width * 0.75, ls=ls, marker="o", ms=2.5)
        for b in budgets:
            ax.plot(
                [],
                [],
                color="0.35",
                lw=1.1,
                ls=LINESTYLES[budgets.index(b) % len(LINESTYLES)],
                label=f"probe {b:g} steps",
            )
        ax.legend(loc="upper left", frameon=False, fontsize=6.5, handlelength=2.6)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
        ax.set_title(f"{title}\n{split} split, {n} held-out runs", fontsize=8.5)
        ax.set_xlabel("nominal level of the interval (fraction)")
    axes[0][0].set_ylabel("empirical coverage on held-out runs (fraction)")
    handles = [
        plt.Line2D([], [], color=METHOD_STYLE[m][1], lw=METHOD_STYLE[m][2] * 0.75, marker="o", ms=2.5) for m in METHODS
    ]
    handles.append(plt.matplotlib.patches.Patch(color="0.87"))
    labels = [METHOD_STYLE[m][0] for m in METHODS] + ["95% range of a calibrated method's coverage (binomial)"]
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return save(fig, folder, NAME)


def main(argv=None) -> list:
    args = parser(__doc__).parse_args(argv)
    return plot(args.outputs, out_dir(args))


if __name__ == "__main__":
    main()
