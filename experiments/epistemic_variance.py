"""V_epi shrinks with training runs, V_opt does not: the risk split against the number of training runs.

Draws one large population of healthy runs from the model (``tuneahead.synthetic.sample_population``
with the gate closed, so the split is not blurred by the failure branch), holds out
a fixed set of candidates, and fits the model to the first 100, 300 and 1,000 training runs (in
whole groups' worth of runs, the same groups each time). For each fit it writes the posterior's
L(c), L_int, V_opt(c) and V_epi(c) on the same candidates, beside the exact V_opt(c) of the
generating values (which no number of training runs changes).

    python -m experiments.epistemic_variance --json outputs/theory/epistemic_variance.json
    python -m experiments.epistemic_variance --fast --json out.json    # smaller, SVI
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tuneahead.artifacts import write_json
from tuneahead.inference import InferenceConfig, fit, use_host_devices
from tuneahead.model.design import ModelSpec
from tuneahead.risk import posterior_risk
from tuneahead.synthetic import PopulationDesign, PopulationParams, sample_population
from tuneahead.validation import true_risk

BUDGETS = (0.0, 200.0, 500.0, 1000.0, 2000.0)
FULL = {"sizes": (100, 300, 1000), "candidates": 200, "inference": InferenceConfig(num_warmup=1000, progress=False)}
FAST = {
    "sizes": (40, 120, 400),
    "candidates": 80,
    "inference": InferenceConfig(method="svi", svi_steps=800, svi_draws=200, progress=False),
}


def risk_against_training_runs(sizes, candidates: int, inference: InferenceConfig, seed: int = 0) -> dict:
    """The three parts of L(c) on fixed candidates, for fits to the first ``sizes`` training runs."""
    groups, per_group = 20, (max(sizes) + candidates) // 20 + 1
    population = sample_population(
        params=PopulationParams(h0=-20.0),
        design=PopulationDesign(n_groups=groups, runs_per_group=per_group, budgets=(2000.0,)),
        seed=seed,
    )
    table = population.table
    order = np.random.default_rng(seed).permutation(len(table))
    # candidates: the last runs of a random order; training sets: growing prefixes of the rest,
    # so every size sees every group and the larger sets contain the smaller
    test = table.select(np.sort(order[-candidates:]))
    pool = order[:-candidates]
    truth = true_risk(population, test, BUDGETS)
    rows = []
    for n in sizes:
        t0 = time.perf_counter()
        spec = ModelSpec(metrics=("eval_score",), failure_gate=False, shape_features=True)
        posterior = fit(table.select(np.sort(pool[:n])), spec, inference)
        risk = posterior_risk(posterior, test, BUDGETS, max_draws=200)
        rows.append(
            {
                "n_train": n,
                "L": risk.total.tolist(),
                "L_int": risk.intrinsic,
                "V_opt": risk.optimization_variance.tolist(),
                "V_epi": risk.epistemic_variance.tolist(),
                "max_r_hat": posterior.diagnostics.max_rhat,
                "seconds": time.perf_counter() - t0,
            }
        )
        print(
            f"n = {n}: V_opt(c) {np.round(risk.optimization_variance, 2).tolist()}, "
            f"V_epi(c) {np.round(risk.epistemic_variance, 2).tolist()}",
            flush=True,
        )
    return {
        "budgets": list(BUDGETS),
        "candidates": candidates,
        "true_V_opt": truth.optimization_variance.tolist(),
        "true_L_int": truth.intrinsic,
        "fits": rows,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="smaller sizes and SVI")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    use_host_devices(2)
    result = risk_against_training_runs(**(FAST if args.fast else FULL))
    if args.json:
        write_json(result, args.json)
    print(json.dumps({"sizes": [r["n_train"] for r in result["fits"]]}))
    return result


if __name__ == "__main__":
    main()
