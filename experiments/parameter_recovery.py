"""Parameter recovery: do the 90% posterior intervals contain the generating values?

Draws ``--replications`` populations from the hierarchical model itself (8 groups x 30 runs by
default, seeds 0..R-1), fits each with NUTS, and counts, per parameter, how often the central 90%
posterior interval contains the truth. A calibrated posterior covers each parameter in about 90%
of replications; the target is at least 80% of 10 for sigma_eps, sigma_delta, tau_a and the link
(lam0, lam1). Prints a table and writes ``parameter_recovery.json`` into ``--out``.

    python experiments/parameter_recovery.py --replications 10 --out outputs/recovery
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from tuneahead.artifacts import write_json
from tuneahead.inference import InferenceConfig, fit
from tuneahead.model.design import ModelSpec
from tuneahead.synthetic import PopulationDesign, PopulationParams, sample_population

PARAMETERS = ("sigma_eps", "sigma_delta", "tau_a", "lam0", "lam1", "sigma_y")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--runs-per-group", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("outputs/recovery"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    truth = PopulationParams()
    design = PopulationDesign(n_groups=args.groups, runs_per_group=args.runs_per_group)
    config = InferenceConfig(num_warmup=args.warmup, num_samples=args.samples, progress=False)
    rows = []
    for seed in range(args.replications):
        start = time.perf_counter()
        population = sample_population(truth, design, seed=seed)
        posterior = fit(population.table, ModelSpec(), config)
        natural = posterior.natural()
        row = {
            "seed": seed,
            "seconds": time.perf_counter() - start,
            "max_rhat": posterior.diagnostics.max_rhat,
            "divergences": posterior.diagnostics.divergences,
            # tau_a is learned from the groups' realized intercepts; with 8 groups their sample
            # sd strays from the generating tau_a, and the posterior follows the sample
            "realized_intercept_sd": float(population.group_intercepts.std(ddof=1)),
        }
        for name in PARAMETERS:
            draws = np.asarray(natural[name]).reshape(len(natural[name]), -1)[:, 0]
            lo, hi = np.percentile(draws, [5, 95])
            row[name] = {
                "q05": lo,
                "q95": hi,
                "median": float(np.median(draws)),
                "covered": bool(lo <= getattr(truth, name) <= hi),
            }
        rows.append(row)
        print(
            f"seed {seed}: {row['seconds']:.0f} s, r_hat {row['max_rhat']:.3f}, "
            f"realized intercept sd {row['realized_intercept_sd']:.2f}, "
            + ", ".join(f"{n} {'in' if row[n]['covered'] else 'OUT'}" for n in PARAMETERS),
            flush=True,
        )

    coverage = {name: float(np.mean([r[name]["covered"] for r in rows])) for name in PARAMETERS}
    print(f"\n{'parameter':<12} {'truth':>7} {'median of medians':>18} {'90% coverage':>13}")
    for name in PARAMETERS:
        medians = np.median([r[name]["median"] for r in rows])
        print(f"{name:<12} {getattr(truth, name):>7.3g} {medians:>18.3g} {coverage[name]:>13.0%}")
    target = ("sigma_eps", "sigma_delta", "tau_a", "lam0", "lam1")
    met = all(coverage[n] >= 0.8 for n in target)
    print(f"\ntarget (>= 80% for {', '.join(target)}): {'met' if met else 'NOT met'}")
    write_json(
        {"replications": rows, "coverage": coverage, "target_met": met, "design": vars(args) | {"out": str(args.out)}},
        args.out / "parameter_recovery.json",
    )


if __name__ == "__main__":
    main()
