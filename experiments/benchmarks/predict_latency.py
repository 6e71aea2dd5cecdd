"""Predict latency: the predictive distribution of 1,000 candidates at a probe budget, beside LightGBM.

    python experiments/benchmarks/predict_latency.py                       # SVI fit, 1,000 candidates
    python experiments/benchmarks/predict_latency.py --fit nuts --candidates 3000 --json predict.json
    python experiments/benchmarks/predict_latency.py --stacked    # three variants stacked, as model=auto gives

A posterior is fitted once (SVI by default, ``--fit nuts`` for a short NUTS run) on ``--runs``
training runs of 30 curve points drawn from the model itself; the candidates are fresh runs of the
same population, cut at ``--budget`` steps. :func:`tuneahead.predict.predict` is then timed: the
first call (which compiles) and ``--repeats`` warm calls, split into encoding the candidates, the
JAX predictive branches over the posterior draws, and the intervals (mixture quantiles). The
LightGBM baseline (TuneAhead's settings) is fitted on the same training runs at the same budget
and its ``predict`` timed the same way. Each row carries the one-minute load average.

With ``--stacked`` the posterior is what ``model=auto`` gives by default: the synthetic
experiment's three variants (base, shape, shape with the transient deviation), each fitted alike
and stacked with equal weights (:class:`tuneahead.model.StackedPosterior`), so the same number of
draws is read through three designs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import inference_config, load, recovery_table, timed  # noqa: E402

from tuneahead.artifacts import write_json  # noqa: E402
from tuneahead.baselines.gradient_boosting import GradientBoosted  # noqa: E402
from tuneahead.inference import fit  # noqa: E402
from tuneahead.model import StackedPosterior  # noqa: E402
from tuneahead.model.design import ModelSpec  # noqa: E402
from tuneahead.predict import predict, predictive_components  # noqa: E402


def _repeat(fn, repeats: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return {
        "median": statistics.median(walls),
        "min": min(walls),
        "cpu_median": statistics.median(cpus),
        "load": load(),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", choices=["svi", "nuts"], default="svi")
    parser.add_argument("--runs", type=int, default=300, help="training runs (30 points each)")
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=1000.0, help="probe budget of the candidates (steps)")
    parser.add_argument("--max-draws", type=int, default=400, help="posterior draws per prediction")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stacked", action="store_true", help="three variants stacked (module doc)")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file (atomically)")
    return parser


def _time_predict(posterior, candidates, max_draws: int, repeats: int) -> dict:
    """The first call of ``predict``, its warm calls, and the warm times of its three parts."""
    run = lambda: predict(posterior, candidates, max_draws=max_draws)  # noqa: E731
    with timed() as first:
        run()
    warm = _repeat(run, repeats)
    encode = _repeat(lambda: posterior.design.encode(candidates, with_outcome=False), repeats)
    comp = predictive_components(posterior, candidates, max_draws)
    branches = _repeat(lambda: predictive_components(posterior, candidates, max_draws), repeats)
    intervals = _repeat(lambda: comp.summary([0.05, 0.95]), repeats)
    return {"first_call": first, "warm": warm, "encode": encode, "branches": branches, "intervals": intervals}


def _print_table(times: dict, lgbm_warm: dict, n: int, budget: float, draws: int, repeats: int) -> None:
    """The Markdown table of the timings (and the compile time and the ratio to LightGBM)."""
    first, warm = times["first_call"], times["warm"]
    print(f"\n{n} candidates at a {budget:g}-step probe, {draws} posterior draws, {repeats} warm repeats")
    print("| what | first call s | warm median s | warm min s | warm CPU s | ms per candidate | load |")
    print("|---|---|---|---|---|---|---|")
    rows = [
        ("predict (all)", first["wall"], warm),
        ("  encode candidates", None, times["encode"]),
        ("  predictive branches (JAX)", None, times["branches"]),
        ("  moments and 90% interval", None, times["intervals"]),
        ("LightGBM predict", None, lgbm_warm),
    ]
    for name, cold, r in rows:
        cold_s = "-" if cold is None else f"{cold:.2f}"
        print(
            f"| {name} | {cold_s} | {r['median']:.3f} | {r['min']:.3f} | {r['cpu_median']:.3f} "
            f"| {1e3 * r['median'] / n:.3f} | {r['load']:.2f} |"
        )
    print(
        f"first call compile (JAX tracing and compiling): {first['compile']:.2f} s; "
        f"predict / LightGBM (warm medians): {warm['median'] / lgbm_warm['median']:.0f} x"
    )


def main(argv=None) -> dict:
    args = _parser().parse_args(argv)

    train = recovery_table(args.runs, 30, seed=0)
    candidates = recovery_table(args.candidates, 30, seed=1).truncate(args.budget)
    spec = ModelSpec()
    overrides = {"num_warmup": 200, "num_samples": 200} if args.fit == "nuts" else {}
    variants = {"base": spec}
    if args.stacked:
        variants["shape"] = ModelSpec(shape_features=True)
        variants["shape_transient"] = ModelSpec(shape_features=True, transient=True)
    with timed() as t_fit:
        fits = {name: fit(train, v, inference_config(args.fit, **overrides)) for name, v in variants.items()}
    posterior = StackedPosterior.from_members(fits, dict.fromkeys(fits, 1.0)) if args.stacked else fits["base"]
    print(f"fit ({args.fit}, {len(train)} runs, {len(fits)} variants): {t_fit['wall']:.1f} s", flush=True)

    times = _time_predict(posterior, candidates, args.max_draws, args.repeats)

    lgbm = GradientBoosted(spec.metrics, features="both", seed=0)
    with timed() as lgbm_fit:
        lgbm.fit(train, budget=args.budget)
    lgbm_warm = _repeat(lambda: lgbm.predict(candidates), args.repeats)

    n, draws = len(candidates), min(args.max_draws, posterior.num_draws)
    _print_table(times, lgbm_warm, n, args.budget, draws, args.repeats)
    result = {
        "candidates": n,
        "budget": args.budget,
        "draws": draws,
        "fit": {args.fit: t_fit},
        "stacked": list(variants) if args.stacked else None,
        **times,
        "lgbm_fit": lgbm_fit,
        "lgbm_predict": lgbm_warm,
    }
    if args.json:
        write_json(result, args.json)
    return result


if __name__ == "__main__":
    main()
