"""Figure 10: regret against compute, the value-of-information scheduler beside Optuna's pruners.

Each point is one method replayed on the same 307 held-out DeBERTa-base runs
(``python -m experiments.scheduler_replay``): the share of their steps it ran (x) and the best
held-out final score minus the best one it ran to the end (y). The scheduler's points, one per
price of compute gamma, are joined.

    python -m experiments.figures.fig10_regret_vs_compute [--outputs outputs] [--out outputs/figures]
"""

from __future__ import annotations

from experiments.artifacts import read_json
from experiments.figures.common import out_dir, parser, plt, save

NAME = "fig10_regret_vs_compute"
ARTIFACTS = ("scheduler_replay",)


def plot(outputs, folder) -> list:
    data = read_json(outputs, "scheduler_replay", "scheduler_replay.json")
    rows = data["methods"]
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    ours = sorted((r["compute"], r["regret"], name) for name, r in rows.items() if r["kind"] == "scheduler")
    ax.plot([c for c, _, _ in ours], [g for _, g, _ in ours], marker="o", color="#08519c", label="scheduler (ours)")
    for k, (c, g, name) in enumerate(ours):  # labels above and below in turn: close points do not collide
        ax.annotate(
            name.split(", ")[-1], (c, g), textcoords="offset points", xytext=(4, 5 if k % 2 else -11), fontsize=7
        )
    for name, r in rows.items():
        if r["kind"] == "pruner":
            ax.scatter(r["compute"], r["regret"], marker="s", s=22, label=name)
    ax.set_xlabel("compute spent (share of the held-out runs' steps)")
    ax.set_ylabel("regret (score points)")
    ax.set_title(f"{data['set']}: {data['held_out']} held-out runs replayed")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=-0.02)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return save(fig, folder, NAME)


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    return plot(args.outputs, out_dir(args))


if __name__ == "__main__":
    main()
