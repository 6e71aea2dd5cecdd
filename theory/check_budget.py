"""Check claim 3 (``theory/budget.md``): the formula's c* reaches the brute-force optimal objective.

Brute-force L(c) of simulated runs over a grid of budgets; fit V_opt(c) = K c^-alpha; take
c* = (alpha K / (gamma lambda))^(1/(alpha+1)); brute-force L(c*) itself; compare the objective
F(c) = L(c) + gamma (C_s + lambda c) at c* with its minimum over the grid.

    python theory/check_budget.py          # a few minutes
    python theory/check_budget.py --fast   # a smoke-sized version
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tuneahead.risk import fit_power_law, optimal_budget
from tuneahead.synthetic import (
    SimulatorSpec,
    simulate_population,
)
from tuneahead.validation import brute_force_risk


def _objective_row(pop, bf, grid, L_grid, power, gamma: float, steps: int, setup_cost, branches, seed) -> dict:
    """The formula's c* at one gamma, the brute-force objective at c* itself and its minimum over the grid.

    F(c) = L(c) + gamma (C_s + lambda c); the reducible gap leaves out L_int and gamma C_s, which no
    budget changes. The standard error of the gap is paired over the same runs.
    """
    lam = 1.0 / steps
    c_star = float(optimal_budget(power.K, power.alpha, gamma, lam))
    c_eval = int(np.clip(round(c_star), 1, steps - 1))
    at_star = brute_force_risk(pop, pop.table, [c_eval], branches=branches, seed=seed + 1)
    L_star = float(at_star.total[at_star.budgets == c_eval][0])
    v_star = at_star.run_variance[:, at_star.budgets == c_eval][:, 0]
    F_grid = L_grid + gamma * (setup_cost + lam * grid)
    F_star = L_star + gamma * (setup_cost + lam * c_eval)
    best = int(np.argmin(F_grid))
    paired_se = np.std(v_star - bf.run_variance[:, bf.budgets == grid[best]][:, 0], ddof=1) / np.sqrt(len(v_star))
    reducible_star = F_star - bf.intrinsic - gamma * setup_cost
    reducible_best = F_grid[best] - bf.intrinsic - gamma * setup_cost
    return {
        "gamma": gamma,
        "c_star": c_star,
        "argmin_grid": float(grid[best]),
        "F_at_c_star": F_star,
        "F_min_grid": float(F_grid[best]),
        "objective_gap": (F_star - F_grid[best]) / F_grid[best],
        "reducible_gap": (reducible_star - reducible_best) / reducible_best,
        "L_at_c_star": L_star,
        "within_5pct": bool((F_star - F_grid[best]) / F_grid[best] <= 0.05),
        # paired over the same runs: their spread cancels, branch noise remains
        "gap_standard_error": float(paired_se / F_grid[best]),
        "reducible_gap_standard_error": float(paired_se / reducible_best),
    }


def _describe(r: dict) -> str:
    """One progress line: c* against the grid argmin and the objective gap."""
    return (
        f"gamma={r['gamma']:.3g}: c*={r['c_star']:.0f} vs grid argmin {r['argmin_grid']:.0f}; "
        f"F(c*)={r['F_at_c_star']:.3f} vs min F={r['F_min_grid']:.3f}: gap {100 * r['objective_gap']:+.1f}% "
        f"+- {100 * r['gap_standard_error']:.1f}% (reducible part {100 * r['reducible_gap']:+.1f}%)"
    )


def check(
    budgets=(10, 20, 40, 80, 160, 320),
    steps: int = 500,
    gamma_factors=(0.25, 1.0, 4.0),
    setup_cost: float = 0.0,
    n_tasks: int = 4,
    configs_per_task: int = 4,
    seeds: int = 3,
    branches: int = 12,
    seed: int = 0,
    spec: SimulatorSpec | None = None,
    overrides: dict | None = None,
    progress=print,
) -> dict:
    """The objective gap at c* for several exchange rates gamma (see module doc).

    ``gamma_factors`` scale the gamma that would put the fitted optimum at the grid's geometric
    middle, so the optima spread over the grid.
    """
    t0 = time.perf_counter()
    spec = spec or SimulatorSpec(steps=steps)
    steps = spec.steps
    pop = simulate_population("dynamic_critical", n_tasks, configs_per_task, seeds, spec, seed, overrides)
    runs = pop.table
    bf = brute_force_risk(pop, runs, budgets, branches=branches, seed=seed)
    curve = bf.as_risk_curve(n_boot=50, seed=seed)
    grid = bf.budgets[(bf.budgets > 0) & (bf.budgets < steps)]
    power = fit_power_law(curve)
    lam = 1.0 / steps  # one full run costs one unit
    c_mid = float(np.exp(np.mean(np.log(grid))))
    gamma_mid = power.alpha * power.K * c_mid ** (-power.alpha - 1) / lam
    L_grid = np.array([bf.total[bf.budgets == c][0] for c in grid])
    rows = []
    for factor in gamma_factors:
        row = _objective_row(pop, bf, grid, L_grid, power, gamma_mid * factor, steps, setup_cost, branches, seed)
        rows.append(row)
        progress(_describe(row))
    return {
        "K": power.K,
        "alpha": power.alpha,
        "lambda": lam,
        "L_int": bf.intrinsic,
        "budgets": bf.budgets.tolist(),
        "L": bf.total.tolist(),
        "rows": rows,
        "n_runs": len(runs),
        "branches": branches,
        "seconds": time.perf_counter() - t0,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="a small, quick version")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per config (16 configs)")
    parser.add_argument("--branches", type=int, default=12, help="branches per run and budget")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.fast:
        result = check(budgets=(10, 20, 40, 80), steps=200, n_tasks=2, configs_per_task=2, seeds=2, branches=6)
    else:
        result = check(seeds=args.seeds, branches=args.branches)
    print(
        f"\nV_opt(c) = {result['K']:.3g} c^-{result['alpha']:.3f};  L_int = {result['L_int']:.3f};  "
        f"lambda = {result['lambda']:.3g} per step"
    )
    print("   gamma      c*   argmin   F(c*)   min F   objective gap (se)   reducible gap")
    for r in result["rows"]:
        print(
            f"{r['gamma']:8.3g}  {r['c_star']:6.0f}  {r['argmin_grid']:7.0f}  {r['F_at_c_star']:6.3f}  "
            f"{r['F_min_grid']:6.3f}  {100 * r['objective_gap']:+12.1f}% ({100 * r['gap_standard_error']:.1f}%)"
            f"  {100 * r['reducible_gap']:+12.1f}%"
        )
    print(
        f"\nwithin 5% of the brute-force optimum for {sum(r['within_5pct'] for r in result['rows'])} "
        f"of {len(result['rows'])} exchange rates"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
