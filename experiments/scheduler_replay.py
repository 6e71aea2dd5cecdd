"""The value-of-information scheduler replayed on a real sweep, beside Optuna's pruners.

    python -m experiments.scheduler_replay [--set deberta|alexnet] [--json FILE] [--fast]

The runs of the set (:mod:`experiments.replay_sets`: DeBERTa-base by default, or AlexNet) are split
70/30 at random (seed 0); the training runs fit the posterior once (SVI, the DeBERTa experiment's
quadratic basis with shape and divergence features, 16 curve points). The held-out runs (307 of
DeBERTa's) are the candidates: each starts with its first evaluation as its probe, and the
scheduler (:mod:`tuneahead.scheduler`) probes on, stops or promotes them, with the training runs'
top-quartile score as its first threshold, at several prices of compute (gamma). Optuna's median,
percentile, successive-halving and Hyperband pruners are replayed on the same held-out runs after the same
training runs (:func:`tuneahead.baselines.pruners.replay_pruner`). For each: compute spent (share
of the held-out runs' steps, each run charged at most up to where it really ended) and regret (the
best held-out final score minus the best run to end). ``--fast`` fits with 1,000 SVI steps and
replays two prices only. Figure 10 draws the result.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from experiments.replay_sets import SETS
from tuneahead.artifacts import write_json
from tuneahead.baselines.pruners import make_pruner, replay_pruner
from tuneahead.inference import InferenceConfig, fit
from tuneahead.scheduler import schedule_replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="deberta")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--fast", action="store_true", help="1,000 SVI steps, two prices of compute")
    args = parser.parse_args()
    sweep = SETS[args.set]
    train, test = sweep.load().split("random", test_fraction=0.3, seed=0)
    steps = 1000 if args.fast else 3000
    posterior = fit(train, sweep.spec(), InferenceConfig(method="svi", svi_steps=steps, svi_draws=200, progress=False))
    final, stopped = np.nan_to_num(test.final, nan=0.0), sweep.stopped(test)
    total = float(stopped.sum())
    first = float(np.nanmin(test.curve(sweep.metric).steps[:, 0]))
    last = float(np.nanmax(test.curve(sweep.metric).steps))
    start_threshold = float(np.quantile(train.final[train.has_final], 0.75))
    rows = {}
    for gamma in (1.0, 10.0) if args.fast else (0.3, 1.0, 3.0, 10.0):
        t0 = time.perf_counter()
        s = schedule_replay(posterior, test, start=first, start_threshold=start_threshold, gamma=gamma)
        rows[f"scheduler, gamma={gamma:g}"] = {
            "kind": "scheduler",
            "compute": float(np.minimum(s.steps, stopped).sum() / total),
            "regret": s.regret(final),
            "promoted": int(s.promoted.sum()),
            "rounds": s.rounds,
            "seconds": time.perf_counter() - t0,
        }
    for name, pruner in {
        "MedianPruner": make_pruner("median", first),
        "PercentilePruner 75": make_pruner("median", first, percentile=75.0),
        "SuccessiveHalving, eta 3": make_pruner("successive_halving", first, reduction_factor=3),
        "SuccessiveHalving, eta 2": make_pruner("successive_halving", first, reduction_factor=2),
        "Hyperband, eta 3": make_pruner("hyperband", first, reduction_factor=3, max_resource=last),
    }.items():
        r = replay_pruner(pruner, train, test, sweep.metric, seed=0)
        best = float(final[r.kept].max()) if r.kept.any() else 0.0
        rows[name] = {
            "kind": "pruner",
            "compute": float(np.minimum(r.steps, stopped).sum() / total),
            "regret": float(final.max() - best),
            "promoted": int(r.kept.sum()),
        }
    print("| method | compute | regret | runs to the end |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['compute']:.3f} | {r['regret']:.2f} | {r['promoted']} |")
    if args.json:
        write_json({"set": sweep.name, "held_out": len(test), "methods": rows}, args.json)


if __name__ == "__main__":
    main()
