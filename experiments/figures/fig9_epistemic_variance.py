"""Figure 9: what more training runs remove (V_epi) and what they do not (V_opt).

Left: V_epi(c), the between-draw variance of the prediction, against probe budget, for fits to
100, 300 and 1,000 training runs (``python -m experiments.epistemic_variance``): it shrinks as
the training runs grow. Right: V_opt(c) of the same fits beside the exact V_opt(c) of the
generating values: more training runs do not move it, more probing does.

    python -m experiments.figures.fig9_epistemic_variance [--outputs outputs] [--out outputs/figures]
"""

from __future__ import annotations

import numpy as np

from experiments.artifacts import read_json
from experiments.figures.common import out_dir, parser, plt, save

NAME = "fig9_epistemic_variance"
ARTIFACTS = ("epistemic_variance",)
COLORS = ("#9ecae1", "#4292c6", "#08519c")


def plot(outputs, folder) -> list:
    data = read_json(outputs, "epistemic_variance", "epistemic_variance.json")
    c = np.asarray(data["budgets"], float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.0))
    for row, color in zip(data["fits"], COLORS):
        label = f"{row['n_train']} training runs"
        left.plot(c, row["V_epi"], marker="o", ms=3, color=color, label=label)
        right.plot(c, row["V_opt"], marker="o", ms=3, color=color, label=label)
    right.plot(c, data["true_V_opt"], color="k", ls="--", lw=1.2, label="exact, generating values")
    left.set_title("$V_{epi}(c)$: removed by more training runs")
    right.set_title("$V_{opt}(c)$: removed by more probing")
    for ax in (left, right):
        ax.set_xlabel("probe budget c (steps)")
        ax.set_ylabel("points$^2$")
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False)
    fig.tight_layout()
    return save(fig, folder, NAME)


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    return plot(args.outputs, out_dir(args))


if __name__ == "__main__":
    main()
