"""Where the static predictive's spread comes from: each variant's variance at c = 0 beside the seeds' own.

    python -m experiments.static_spread outputs/regime_seeds_stack/dynamic_critical/seed0 \\
        --preset dynamic_critical --seed 0

Under one posterior draw, a run's predictive at c = 0 is its cell's expectation with the spread of a
new seed: :math:`\\sigma_{\\delta,i}^2 + \\sigma_\\varepsilon^2` (plus the transient deviation's size
at the run's end). The population gives that spread without a model: the variance of the final
score over the seeds of the run's (task, config) cell. For the held-out runs of a saved stacked fit
this prints, for the stack and each variant:

- the per-draw predictive variance at c = 0 (mean and median over the runs; the spread of the
  draws' means, V_epi, is apart);
- the seeds' variance of the final score in each run's cell (all of the cell's runs, held out or
  not), and the ratio of the two means;
- :math:`\\sigma_\\varepsilon^2`, the part of the per-draw variance that no probe reveals.

Then, without a model, the variance over a cell's seeds of the first curve's deviation from the
cell's mean at each evaluation step, and its correlation with the final score's deviation: what a
trajectory latent fitted to the late curve sees, beside what the final score shares of it.

Nothing is fitted, and nothing here chooses a setting: the held-out runs diagnose. It writes
``static_spread.json`` into the folder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.stack_scores import main_job_runs, saved_fit_parser
from tuneahead.artifacts import write_json
from tuneahead.model import StackedPosterior, load_posterior
from tuneahead.predict import predictive_components


def seed_variance_of_final(table) -> pd.Series:
    """The variance (ddof 1) of the final score over each cell's runs, by group."""
    return pd.DataFrame({"g": table.group, "f": table.final}).groupby("g")["f"].var(ddof=1)


def deviation_by_step(table, metric: str) -> list[dict]:
    """Per evaluation step: the pooled within-cell variance of the curve's deviation from its cell's
    mean, and the correlation of that deviation with the final score's (runs with a point there)."""
    curve = table.curve(metric)
    frame = pd.DataFrame(
        {
            "g": np.repeat(table.group, curve.values.shape[1]),
            "run": np.repeat(np.arange(len(table)), curve.values.shape[1]),
            "t": curve.steps.ravel(),
            "y": curve.values.ravel(),
        }
    ).dropna()
    final = pd.Series(table.final - pd.Series(table.final).groupby(table.group).transform("mean").values)
    rows = []
    for t, at in frame.groupby("t"):
        dev = at["y"] - at.groupby("g")["y"].transform("mean")
        df = len(at) - at["g"].nunique()
        if df < 2:
            continue
        rows.append(
            {
                "step": float(t),
                "variance": float((dev**2).sum() / df),
                "corr_with_final": float(np.corrcoef(dev.values, final.values[at["run"].values])[0, 1]),
            }
        )
    final_df = len(table) - len(np.unique(table.group))
    rows.append({"step": "final", "variance": float((final**2).sum() / final_df), "corr_with_final": 1.0})
    return rows


def spread_at_zero(posterior, test, cell_variance: np.ndarray, draws: int) -> dict:
    """One predictive's per-draw variance at c = 0 on ``test``, beside the seeds' variance of its cells."""
    _, var_s = predictive_components(posterior, test.truncate(0.0), draws).draw_moments()
    per_run = var_s.mean(axis=0)
    stacked = isinstance(posterior, StackedPosterior)
    members = posterior.members if stacked else {"": posterior}
    weights = posterior.weights if stacked else {"": 1.0}
    eps2 = sum(weights[k] * float(np.mean(np.asarray(m.natural()["sigma_eps"]) ** 2)) for k, m in members.items())
    return {
        "per_draw_variance_mean": float(per_run.mean()),
        "per_draw_variance_median": float(np.median(per_run)),
        "seed_variance_mean": float(cell_variance.mean()),
        "seed_variance_median": float(np.median(cell_variance)),
        "ratio_of_means": float(per_run.mean() / cell_variance.mean()),
        "sigma_eps2": eps2,
    }


def main(argv=None) -> dict:
    args = saved_fit_parser(__doc__, "a main job's output folder with a posterior.nc").parse_args(argv)
    posterior = load_posterior(args.folder / "posterior.nc")
    table, test, _, _ = main_job_runs(args.preset, args.seed, args.overrides)
    cells = seed_variance_of_final(table).loc[list(test.group)].to_numpy()
    predictives = {"stacked": posterior, **getattr(posterior, "members", {})}
    spread = {name: spread_at_zero(p, test, cells, args.draws) for name, p in predictives.items()}
    steps = deviation_by_step(table, posterior.design.spec.metrics[0])
    _print(spread, steps)
    result = {"folder": str(args.folder), "n_heldout": len(test), "at_zero": spread, "deviation_by_step": steps}
    write_json(result, args.folder / "static_spread.json")
    return result


def _print(spread: dict, steps: list[dict]) -> None:
    print("| predictive | per-draw var, mean / median | seeds' var, mean / median | ratio of means | sigma_eps² |")
    print("|---|---|---|---|---|")
    for name, r in spread.items():
        print(
            f"| {name} | {r['per_draw_variance_mean']:.1f} / {r['per_draw_variance_median']:.1f} "
            f"| {r['seed_variance_mean']:.1f} / {r['seed_variance_median']:.1f} | {r['ratio_of_means']:.2f} "
            f"| {r['sigma_eps2']:.2f} |"
        )
    print()
    print("| step | " + " | ".join(str(r["step"]) if r["step"] == "final" else f"{r['step']:g}" for r in steps) + " |")
    print("|---|" + "---|" * len(steps))
    print("| seeds' variance of the deviation | " + " | ".join(f"{r['variance']:.1f}" for r in steps) + " |")
    print("| its correlation with the final's | " + " | ".join(f"{r['corr_with_final']:.2f}" for r in steps) + " |")


if __name__ == "__main__":
    main()
