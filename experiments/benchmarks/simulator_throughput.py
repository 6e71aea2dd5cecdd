"""Simulator throughput: a population of runs, and the brute-force truth of a set of its runs.

    python experiments/benchmarks/simulator_throughput.py                 # 2,000 runs of 500 steps
    python experiments/benchmarks/simulator_throughput.py --runs 400 --steps 200

Prints the compile time, the wall time of the population (after compilation), runs x steps per
second, and the wall time of brute force (``--branch-runs`` runs x ``--branches`` branches at each
of six budgets), with the ratio of each to its target.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import numpy as np  # noqa: E402

from tuneahead.synthetic import (  # noqa: E402
    SimulatorSpec,
    simulate_population,
)
from tuneahead.validation import brute_force_risk  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--branch-runs", type=int, default=48)
    parser.add_argument("--branches", type=int, default=12)
    parser.add_argument("--target-seconds", type=float, default=60.0, help="target for the population")
    args = parser.parse_args(argv)

    spec = SimulatorSpec(steps=args.steps)
    seeds = 8
    cells = max(1, args.runs // seeds)
    n_tasks = max(1, cells // 5)
    configs = max(1, cells // n_tasks)

    t0 = time.perf_counter()
    simulate_population("dynamic_critical", n_tasks, configs, seeds, spec, seed=1)  # compiles
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    pop = simulate_population("dynamic_critical", n_tasks, configs, seeds, spec, seed=2)
    warm = time.perf_counter() - t0
    n = len(pop.table)
    budgets = [0, 25, 50, 100, 200, 400]
    runs = pop.table.select(np.arange(min(args.branch_runs, n)))
    t0 = time.perf_counter()
    bf = brute_force_risk(pop, runs, budgets, branches=args.branches)
    brute = time.perf_counter() - t0
    run_steps = n * args.steps
    print(f"population: {n} runs x {args.steps} steps")
    print(f"  first call (compile + run)   {first:8.1f} s")
    print(
        f"  compiled                     {warm:8.1f} s   {run_steps / warm:,.0f} run-steps/s   "
        f"{warm / args.target_seconds:.2f} x the {args.target_seconds:g} s target"
    )
    branched = len(runs) * args.branches * sum(min(c, args.steps) < args.steps for c in bf.budgets)
    print(
        f"brute force: {len(runs)} runs x {args.branches} branches x {len(bf.budgets)} budgets "
        f"({branched} reruns)   {brute:8.1f} s   {branched * args.steps / brute:,.0f} run-steps/s"
    )
    return {"runs": n, "steps": args.steps, "first_seconds": first, "seconds": warm, "brute_force_seconds": brute}


if __name__ == "__main__":
    main()
