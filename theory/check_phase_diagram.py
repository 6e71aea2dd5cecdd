"""Check claim 4 (``theory/phase_diagram.md``): seeded tasks of each preset land in their regime.

For each simulator preset, draw seeded tasks (small populations of configs x seeds). Call each
task's regime by brute force (exact L_int; L(0) by rerunning every config with fresh seeds) and by
the posterior of the hierarchical model fitted to the task's runs, on the same runs. Print both
confusion matrices and each task's (L_int, alpha) coordinates.

    python theory/check_phase_diagram.py           # 10 tasks per preset (several minutes)
    python theory/check_phase_diagram.py --fast    # a smoke-sized version
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

from tuneahead.inference import InferenceConfig, fit
from tuneahead.model import ModelSpec
from tuneahead.risk import (
    REGIMES,
    call_regime,
    classify_regime,
    fit_power_law,
    posterior_risk,
)
from tuneahead.synthetic import (
    PRESETS,
    SimulatorSpec,
    simulate_population,
)
from tuneahead.validation import brute_force_risk

PRESET_REGIME = {"static_sufficient": REGIMES[0], "dynamic_critical": REGIMES[1], "noise_dominant": REGIMES[2]}


def confusion(truth: list[str], called: list[str]) -> np.ndarray:
    """Counts with rows = expected regime and columns = called regime, in the order of REGIMES."""
    m = np.zeros((len(REGIMES), len(REGIMES)), dtype=int)
    for t, c in zip(truth, called):
        m[REGIMES.index(t), REGIMES.index(c)] += 1
    return m


def _brute_force_call(pop, preset: str, s: int, branches: int, epsilon: float) -> dict:
    """The task's regime by brute force: exact L_int, and L(0) from fresh seeds of every config."""
    bf = brute_force_risk(pop, pop.table, [0], branches=branches, seed=s)
    return {
        "preset": preset,
        "seed": 1000 + s,
        "expected": PRESET_REGIME[preset],
        "brute": str(classify_regime(bf.total[0], bf.intrinsic, epsilon)),
        "brute_L0": float(bf.total[0]),
        "brute_L_int": bf.intrinsic,
    }


def _posterior_call(pop, model: ModelSpec, inference: InferenceConfig, budgets, epsilon: float, c_max: float) -> dict:
    """The task's regime by the posterior of the hierarchical model fitted to the same runs."""
    post = fit(pop.table, model, inference)
    risk = posterior_risk(post, pop.table, budgets, max_draws=200)
    power = fit_power_law(risk)
    call = call_regime(risk, power, epsilon, c_max)
    return {
        "posterior": call.label,
        "posterior_probabilities": call.probabilities,
        "posterior_L0": call.L0,
        "posterior_L_int": call.L_int,
        "posterior_alpha": power.alpha,
        "max_rhat": post.diagnostics.max_rhat,
    }


def _describe(task: dict, seconds: float) -> str:
    """One progress line: the brute-force call and, when there is one, the posterior's."""
    line = (
        f"{task['preset']:18s} seed {task['seed']}: brute force {task['brute']} "
        f"(L0 {task['brute_L0']:.2f}, L_int {task['brute_L_int']:.2f})"
    )
    if "posterior" in task:
        line += (
            f"; posterior {task['posterior']} (L0 {task['posterior_L0']:.2f}, "
            f"L_int {task['posterior_L_int']:.2f}, alpha {task['posterior_alpha']:.2f})"
        )
    return line + f"  [{seconds:.0f} s]"


def check(
    tasks_per_preset: int = 10,
    n_tasks: int = 2,
    configs_per_task: int = 3,
    seeds: int = 6,
    steps: int = 500,
    branches: int = 8,
    budgets=(0, 25, 50, 100, 200, 400),
    epsilon: float = 3.0,
    c_max: float = 400,
    inference: InferenceConfig = InferenceConfig(num_warmup=300, num_samples=300, num_chains=1, progress=False),
    posterior: bool = True,
    spec: SimulatorSpec | None = None,
    overrides: dict | None = None,
    progress=print,
) -> dict:
    """Brute-force and posterior regime calls for every seeded task (see module doc)."""
    spec = spec or SimulatorSpec(steps=steps)
    model = ModelSpec(metrics=("eval_score",), failure_gate=False)
    tasks = []
    for preset in PRESETS:
        for s in range(tasks_per_preset):
            t0 = time.perf_counter()
            pop = simulate_population(
                preset, n_tasks, configs_per_task, seeds, spec, seed=1000 + s, overrides=overrides
            )
            task = _brute_force_call(pop, preset, s, branches, epsilon)
            if posterior:
                task.update(_posterior_call(pop, model, inference, budgets, epsilon, c_max))
            tasks.append(task)
            progress(_describe(task, time.perf_counter() - t0))
    expected = [t["expected"] for t in tasks]
    out = {"tasks": tasks, "confusion_brute": confusion(expected, [t["brute"] for t in tasks]).tolist()}
    if posterior:
        out["confusion_posterior"] = confusion(expected, [t["posterior"] for t in tasks]).tolist()
    return out


def _print_confusion(name: str, m) -> None:
    m = np.asarray(m)
    print(f"\n{name} (rows: preset's regime, columns: regime called)")
    print(" " * 20 + "".join(f"{r[:18]:>20s}" for r in REGIMES))
    for r, row in zip(REGIMES, m):
        print(f"{r:20s}" + "".join(f"{v:20d}" for v in row))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="a small, quick version")
    parser.add_argument("--tasks", type=int, default=10, help="seeded tasks per preset")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    logging.getLogger("tuneahead").setLevel(logging.WARNING)
    if args.fast:
        result = check(
            tasks_per_preset=2,
            n_tasks=1,
            configs_per_task=2,
            seeds=4,
            steps=200,
            branches=4,
            budgets=(0, 20, 40, 80),
            c_max=80,
            inference=InferenceConfig(num_warmup=150, num_samples=150, num_chains=1, progress=False),
        )
    else:
        result = check(tasks_per_preset=args.tasks)
    _print_confusion("brute force", result["confusion_brute"])
    _print_confusion("posterior", result["confusion_posterior"])
    right = np.diag(np.asarray(result["confusion_posterior"]))
    print(f"\nposterior right for {right.tolist()} tasks of each preset ({list(PRESET_REGIME)})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2, default=float)
    return result


if __name__ == "__main__":
    main()
