"""Ours beside TuneAhead's LightGBM and LC-PFN on a real sweep (AlexNet or DeBERTa-base), at several probes.

    python -m tuneahead.fit +experiment=alexnet model=hierarchical '~model.auto' hydra.run.dir=DIR
    python -m experiments.set_peers --set alexnet --posterior DIR/posterior.nc --budgets 3 5 10

The fit's split is the 70/30 random split of seed 0; this script makes the same split of the set
(:mod:`experiments.replay_sets`), predicts its held-out runs from the saved posterior at each
probe length, fits the peers on the training runs cut at that length, and prints one Markdown row
per (probe, method): RMSE (all, healthy, diverged runs), CRPS, 90% coverage and Spearman. The
LightGBM peer reads every curve of the set; LC-PFN reads the score's curve and needs its weights
(``python -m tuneahead.baselines.lcpfn_weights --size small``); ``--no-lcpfn`` leaves it out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from experiments.replay_sets import SETS
from tuneahead.baselines import GradientBoosted
from tuneahead.baselines.lcpfn import LCPFNExtrapolation
from tuneahead.evaluation.methods import baseline_crps, predict_ours
from tuneahead.model import load_posterior


def row(name: str, budget: int, pred, crps: np.ndarray, final: np.ndarray, healthy: np.ndarray) -> str:
    """One Markdown row of the table."""
    err = (pred.mean - final) ** 2
    cover = np.mean((final >= pred.lower) & (final <= pred.upper))
    rmse = [np.sqrt(err[m].mean()) for m in (np.ones_like(healthy), healthy, ~healthy)]
    return (
        f"| {budget} | {name} | {rmse[0]:.2f} | {rmse[1]:.2f} | {rmse[2]:.2f} | {np.mean(crps):.2f} | "
        f"{cover:.3f} | {spearmanr(pred.mean, final)[0]:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="alexnet")
    parser.add_argument("--posterior", type=Path, required=True, help="posterior.nc of the set's fit")
    parser.add_argument("--budgets", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--no-lcpfn", action="store_true")
    args = parser.parse_args()
    posterior = load_posterior(args.posterior)
    sweep = SETS[args.set]
    train, test = sweep.load().split("random", test_fraction=0.3, seed=0)
    final, healthy = test.final, test.diverged == 0
    print("| probe | method | RMSE | RMSE healthy | RMSE diverged | CRPS | 90% coverage | Spearman |")
    print("|---|---|---|---|---|---|---|---|")
    for b in args.budgets:
        pred, crps, _ = predict_ours(posterior, test, b, 0.9, 400)
        print(row("ours", b, pred, crps, final, healthy), flush=True)
        peers = {"TuneAhead LightGBM": GradientBoosted(list(test.metrics), features="both", level=0.9, seed=0)}
        if not args.no_lcpfn:
            peers["LC-PFN (small, CPU)"] = LCPFNExtrapolation(sweep.metric, level=0.9)
        for name, peer in peers.items():
            pred = peer.fit(train.truncate(b), b).predict(test.truncate(b))
            print(row(name, b, pred, baseline_crps(pred, final), final, healthy), flush=True)


if __name__ == "__main__":
    main()
