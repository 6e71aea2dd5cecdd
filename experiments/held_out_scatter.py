r"""How near a split's held-out seeds lie to their cells, beside the training seeds: one split's luck at c = 0.

    python -m experiments.held_out_scatter --preset dynamic_critical --seeds 0 1 2 3 4

At c = 0 a held-out run of a fitted (task, config) cell is predicted from its cell's training
seeds. With no model at all, a held-out run's squared deviation from its cell's training mean,
divided by :math:`1 + 1/n` (:math:`n` the cell's training seeds), estimates the cell's seed
variance; so does a training run's squared deviation from the mean of its cell's other training
seeds, divided by :math:`1 + 1/(n - 1)` (leave one out). The held-out seeds are drawn like the
others, so the two agree in expectation. Their ratio on one split says how much nearer (below 1)
or farther its held-out runs lie than a seed does on average: a check of the predictive at c = 0
on those runs reads a right variance as too wide (or too narrow) by about that much.

The cells differ in spread, so the means are heavy-tailed; each is printed with its standard
error. Nothing is fitted. The table and the split are the main job's at that preset and seed
(``python -m tuneahead.fit +experiment=synthetic data.preset=P seed=S``).

With ``--fit``, the synthetic experiment's base variant (one metric, config-dependent spread; NUTS
with its 1,000 warm-up steps) is also fitted to each seed's training runs, and its per-draw
variance at c = 0, :math:`\sigma_{\delta,i}^2 + \sigma_\varepsilon^2`, averaged over each cell's
training runs, is set beside the cell's training seeds' own variance (ddof 1): a check on the
training runs, where no held-out draw's luck enters. ``mean seeds / model`` is 1 in expectation
when the model's spread is right cell by cell.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from experiments.stack_scores import main_job_runs
from experiments.static_spread import seed_variance_of_final
from tuneahead.artifacts import write_json
from tuneahead.inference import InferenceConfig, fit, use_host_devices
from tuneahead.model.design import ModelSpec
from tuneahead.predict import predictive_components


def scatter_terms(train, test) -> tuple[np.ndarray, np.ndarray]:
    """Each held-out run's scaled squared deviation from its cell's training mean, and each training
    run's from the mean of its cell's other training runs (cells with two training runs or more)."""
    group, final = np.asarray(train.group), np.asarray(train.final, dtype=float)
    held, loo = [], []
    for cell in np.unique(group):
        seeds = final[group == cell]
        n = len(seeds)
        if n < 2:
            continue
        out = np.asarray(test.final, dtype=float)[np.asarray(test.group) == cell]
        held += list((out - seeds.mean()) ** 2 / (1 + 1 / n))
        rest = (seeds.sum() - seeds) / (n - 1)
        loo += list((seeds - rest) ** 2 / (1 + 1 / (n - 1)))
    return np.array(held), np.array(loo)


def spread_on_training_runs(train) -> dict:
    """The base variant's per-draw variance at c = 0 per cell, beside the cell's training seeds' own."""
    spec = ModelSpec(metrics=("eval_score",), failure_gate=False, variance_features=True)
    posterior = fit(train, spec, InferenceConfig(num_warmup=1000, progress=False, seed=1))
    _, var_s = predictive_components(posterior, train.truncate(0.0), 400).draw_moments()
    per_cell = pd.DataFrame({"g": train.group, "v": var_s.mean(axis=0)}).groupby("g")["v"].mean()
    seeds = seed_variance_of_final(train).dropna()
    model = per_cell[seeds.index].to_numpy()
    seeds = seeds.to_numpy()
    return {
        "model_mean": float(model.mean()),
        "model_median": float(np.median(model)),
        "seeds_mean": float(seeds.mean()),
        "seeds_median": float(np.median(seeds)),
        "mean_seeds_over_model": float(np.mean(seeds / model)),
        "max_r_hat": posterior.diagnostics.max_rhat,
    }


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="dynamic_critical")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--fit", action="store_true", help="also fit the base variant to the training runs")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    if args.fit:
        use_host_devices(2)
    rows = []
    print("| seed | held-out runs | held-out: mean (SE) | training, leave one out: mean (SE) | ratio |")
    print("|---|---|---|---|---|")
    for seed in args.seeds:
        table, test, _, _ = main_job_runs(args.preset, seed, [])
        train = table.select(~np.isin(np.asarray(table.run_id), np.asarray(test.run_id)))
        held, loo = scatter_terms(train, test)
        (h, h_se), (t, t_se) = _mean_se(held), _mean_se(loo)
        rows.append({"seed": seed, "n_held_out": len(held), "held_out": h, "held_out_se": h_se})
        rows[-1].update({"training_loo": t, "training_loo_se": t_se, "ratio": h / t})
        print(f"| {seed} | {len(held)} | {h:.1f} ({h_se:.1f}) | {t:.1f} ({t_se:.1f}) | {h / t:.2f} |", flush=True)
        if args.fit:
            rows[-1]["training_spread"] = spread = spread_on_training_runs(train)
            print(
                "  base variant on the training runs, c = 0:", {k: round(v, 3) for k, v in spread.items()}, flush=True
            )
    if args.json:
        write_json(rows, args.json)
    return rows


if __name__ == "__main__":
    main()
