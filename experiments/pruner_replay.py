"""The posterior-driven pruner beside Optuna's pruners, replayed on a real sweep.

    python -m experiments.pruner_replay [--set deberta|alexnet] [--split-seed 0] [--json FILE]

The runs of the set (:mod:`experiments.replay_sets`: DeBERTa-base by default, or AlexNet) are split
70/30 at random. The training runs fit the posterior once (SVI, the DeBERTa experiment's quadratic
basis with shape and divergence features, 16 curve points) and enter every pruner's study as
finished trials. The held-out runs are then replayed in one seeded order through each pruner
(:func:`tuneahead.baselines.pruners.replay_pruner`): each reports its score's curve, step by step,
and stops where the pruner says. ``PosteriorPruner`` reads each held-out run's own static features
and never refits (``refit=None``), so every pruner sees the same training runs. The row marked
``updated`` also learns from each replayed run as it completes, by importance updates of that one
fit (:class:`tuneahead.inference.ImportanceUpdate`), as a study would: completed runs with their
final scores, pruned ones with the curve they ran. Hyperband's brackets run from the first
evaluation to the last step of the runs.

For each pruner: the share of the held-out steps spent (each run charged at most up to where it
really ended), the regret (the best held-out final score minus the best one among the runs kept to
the end), and the share of the top-quartile runs kept.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from experiments.replay_sets import SETS
from tuneahead.baselines.pruners import make_pruner, replay_pruner
from tuneahead.inference import InferenceConfig, fit
from tuneahead.integrations import PosteriorPruner


def outcome(replay, test, stopped: np.ndarray) -> dict:
    """Steps spent (each run's at most up to ``stopped``), regret and top-quartile recall of one replay."""
    final = np.nan_to_num(test.final, nan=0.0)
    top = final >= np.quantile(final, 0.75)
    best_kept = final[replay.kept].max() if replay.kept.any() else 0.0
    return {
        "compute": float(np.minimum(replay.steps, stopped).sum() / stopped.sum()),
        "regret": float(final.max() - best_kept),
        "top_quartile_kept": float((replay.kept & top).sum() / top.sum()),
        "kept": int(replay.kept.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="deberta")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    sweep = SETS[args.set]
    train, test = sweep.load().split("random", test_fraction=0.3, seed=args.split_seed)
    spec, metric, stopped = sweep.spec(), sweep.metric, sweep.stopped(test)
    t0 = time.perf_counter()
    posterior = fit(train, spec, InferenceConfig(method="svi", svi_steps=3000, svi_draws=200, progress=False))
    print(f"fit on {len(train)} runs in {time.perf_counter() - t0:.0f} s; replaying {len(test)} held-out runs")
    order = {}  # trial number -> held-out run, in the replay's order (its first trials are the training runs)
    start = int(train.has_final.sum())
    replay_order = np.random.default_rng(0).permutation(len(test))
    order.update({start + k: int(i) for k, i in enumerate(replay_order)})
    features = lambda trial: dict(zip(test.static_names, test.static[order[trial.number]]))  # noqa: E731
    first = float(np.nanmin(test.curve(metric).steps[:, 0]))
    last = float(np.nanmax(test.curve(metric).steps))
    pruners = {
        "median (MedianPruner)": make_pruner("median", first),
        "percentile 75": make_pruner("median", first, percentile=75.0),
        "successive halving, eta 3": make_pruner("successive_halving", first, reduction_factor=3),
        "Hyperband, eta 3": make_pruner("hyperband", first, reduction_factor=3, max_resource=last),
    }
    budget = float(np.median(test.budget))
    for p in (0.02, 0.05, 0.1):
        pruners[f"posterior, p={p}"] = PosteriorPruner(
            metric, budget, p=p, posterior=posterior, refit=None, update=False, static=features
        )
    # the same, learning from each replayed run as it completes (importance updates, no refit)
    pruners["posterior, p=0.05, updated"] = PosteriorPruner(
        metric, budget, p=0.05, posterior=posterior, refit=None, fitted_trials=range(start), static=features
    )
    results = {}
    for name, pruner in pruners.items():
        t0 = time.perf_counter()
        results[name] = {**outcome(replay_pruner(pruner, train, test, metric, seed=0), test, stopped)}
        results[name]["seconds"] = time.perf_counter() - t0
        r = results[name]
        print(
            f"{name:28s} compute {r['compute']:.3f}  regret {r['regret']:.2f}  "
            f"top-quartile kept {r['top_quartile_kept']:.2f}  kept {r['kept']}  ({r['seconds']:.0f} s)"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
