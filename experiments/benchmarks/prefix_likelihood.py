"""The failure branch's prefix log-likelihoods: forward at prediction's size, forward and gradient at a fit's.

    python experiments/benchmarks/prefix_likelihood.py
    python experiments/benchmarks/prefix_likelihood.py --repeats 20 --json prefix.json

:func:`tuneahead.model.prefix.prefix_loglik` gives the marginal log-likelihood of every prefix of
each run's curve, the healthy part of a run that diverges later. Prediction calls it for every
posterior draw and candidate (400 x 1,000 runs of 10 points: a 1,000-step probe, one evaluation
every 100 steps); a fit calls it and its gradient for every run whose fate is diverged or unknown
(here 1,000 runs of 30 points). Inputs are random, two latent dimensions (one metric), the last
two rows masked. Each row gives the first call (tracing and compiling included) and the least of
``--repeats`` warm calls, in CPU seconds beside wall seconds, with the one-minute load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# isort: off
from _common import load, timed  # noqa: E402  (first: it sets JAX's threads before JAX loads)
# isort: on

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from tuneahead.artifacts import write_json  # noqa: E402
from tuneahead.model.prefix import prefix_loglik  # noqa: E402

CASES = (
    ("predict: forward", 400 * 1000, 10, False),
    ("fit: forward", 1000, 30, False),
    ("fit: gradient", 1000, 30, True),
)


def _inputs(runs: int, rows: int, k_dim: int = 2, seed: int = 0) -> list[jnp.ndarray]:
    rng = np.random.default_rng(seed)
    mask = np.broadcast_to(np.arange(rows) < rows - 2, (runs, rows)).astype(float)
    values = (
        rng.normal(size=(runs, k_dim)),
        rng.uniform(0.3, 2.0, (runs, k_dim)),
        rng.normal(size=(runs, rows, k_dim)),
        2 * rng.normal(size=(runs, rows)),
        rng.uniform(0.1, 1.0, (runs, rows)),
        mask,
    )
    return [jnp.asarray(v, jnp.float32) for v in values]


def _function(gradient: bool):
    if not gradient:
        return jax.jit(prefix_loglik)
    return jax.jit(jax.grad(lambda *a: prefix_loglik(*a)[..., -3:].sum(), argnums=(0, 1, 2, 3, 4)))


def measure(repeats: int) -> list[dict]:
    rows = []
    for name, runs, points, gradient in CASES:
        fn, args = _function(gradient), _inputs(runs, points)
        with timed() as first:
            jax.block_until_ready(fn(*args))
        walls, cpus = [], []
        for _ in range(repeats):
            start, cpu = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn(*args))
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        rows.append(
            {
                "case": name,
                "runs": runs,
                "points": points,
                "first_call_s": first["wall"],
                "warm_min_s": min(walls),
                "warm_cpu_min_s": min(cpus),
                "load": load(),
            }
        )
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", default=None, help="write the figures to this JSON file (atomically)")
    args = parser.parse_args(argv)
    rows = measure(args.repeats)
    print("| case | runs | points | first call s | warm min ms | warm CPU min ms | load |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['case']} | {r['runs']} | {r['points']} | {r['first_call_s']:.2f} | {1e3 * r['warm_min_s']:.1f} "
            f"| {1e3 * r['warm_cpu_min_s']:.1f} | {r['load']:.2f} |"
        )
    if args.json:
        write_json(rows, args.json)
    return rows


if __name__ == "__main__":
    main()
