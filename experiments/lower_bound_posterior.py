"""The posterior's V_opt(c) on the runs of the lower-bound check, for each step-size exponent rho.

``theory/check_lower_bound.py`` brute-forces V_opt(c) on populations simulated with step sizes
eta_t = eta_0 (1 + t/t_s)^-rho. This script draws the same populations (same sizes and seeds),
fits the hierarchical model to each, and writes the posterior's L(c), L_int and V_opt(c) with
their 90% intervals over the same budgets, so that the figure of V_opt(c) can put the estimate
beside the brute force. It fits; the figure does not.

    python -m experiments.lower_bound_posterior --json outputs/theory/lower_bound_posterior.json
    python -m experiments.lower_bound_posterior --fast --json ...   # the sizes of check_lower_bound --fast
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from tuneahead.artifacts import write_json
from tuneahead.inference import InferenceConfig, fit
from tuneahead.model import ModelSpec
from tuneahead.risk import fit_power_law, posterior_risk
from tuneahead.synthetic import SimulatorSpec, simulate_population

# the population sizes of theory/check_lower_bound.py: check() defaults, and its --fast settings
FULL = dict(budgets=(25, 50, 100, 200, 400), steps=1000, n_tasks=4, configs_per_task=4, seeds=2)
FAST = dict(budgets=(10, 20, 40, 80), steps=200, n_tasks=2, configs_per_task=2, seeds=2)


def posterior_optimization_variance(
    rhos=(0.6, 0.75, 0.9, 1.0),
    budgets=FULL["budgets"],
    steps: int = FULL["steps"],
    n_tasks: int = FULL["n_tasks"],
    configs_per_task: int = FULL["configs_per_task"],
    seeds: int = FULL["seeds"],
    seed: int = 0,
    inference: InferenceConfig = InferenceConfig(num_warmup=400, num_samples=400, num_chains=1, progress=False),
    max_draws: int = 200,
    progress=print,
) -> list[dict]:
    """One record per rho: the posterior risk split on the check's runs (see module doc)."""
    spec = SimulatorSpec(steps=steps, eval_every=steps // 10, schedule="power")
    model = ModelSpec(metrics=("eval_score",), failure_gate=False)
    out = []
    for rho in rhos:
        t0 = time.perf_counter()
        pop = simulate_population(
            "dynamic_critical", n_tasks, configs_per_task, seeds, spec, seed, overrides={"rho": [rho, rho]}
        )
        posterior = fit(pop.table, model, inference)
        risk = posterior_risk(posterior, pop.table, [0, *budgets], max_draws=max_draws)
        power = fit_power_law(risk)
        v_lo, v_hi = np.percentile(risk.optimization_variance_draws, [5, 95], axis=0)
        out.append(
            {
                "rho": rho,
                "budgets": risk.budgets,
                "L": risk.total,
                "V_opt": risk.optimization_variance,
                "V_opt_q05": v_lo,
                "V_opt_q95": v_hi,
                "L_int": risk.intrinsic,
                "L_int_q05": float(np.percentile(risk.intrinsic_draws, 5)),
                "L_int_q95": float(np.percentile(risk.intrinsic_draws, 95)),
                "K": power.K,
                "alpha": power.alpha,
                "steps": steps,
                "n_runs": len(pop.table),
                "diagnostics": posterior.diagnostics.to_dict(),
                "seconds": time.perf_counter() - t0,
            }
        )
        r = out[-1]
        progress(
            f"rho={rho:.2f}: posterior V_opt(c) = {r['K']:.3g} c^-{r['alpha']:.3f}, L_int {r['L_int']:.2f}"
            f"  [{r['seconds']:.0f} s]"
        )
    return out


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="the sizes of check_lower_bound --fast, short chains")
    parser.add_argument("--rho", type=float, nargs="+", default=[0.6, 0.75, 0.9, 1.0])
    parser.add_argument("--json", required=True, help="write the records to this file")
    args = parser.parse_args(argv)
    logging.getLogger("tuneahead").setLevel(logging.WARNING)
    if args.fast:
        inference = InferenceConfig(num_warmup=150, num_samples=150, num_chains=1, progress=False)
        records = posterior_optimization_variance(args.rho, **FAST, inference=inference, max_draws=100)
    else:
        records = posterior_optimization_variance(args.rho, **FULL)
    write_json(records, args.json)
    return records


if __name__ == "__main__":
    main()
