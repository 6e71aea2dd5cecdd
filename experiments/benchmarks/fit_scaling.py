"""Fit scaling: wall time of NUTS and SVI against the number of runs and the curve length,
beside TuneAhead's LightGBM on the same table.

    python experiments/benchmarks/fit_scaling.py                          # 100..3,000 runs x 10, 30 points
    python experiments/benchmarks/fit_scaling.py --runs 1000 --points 30  # the goal case
    python experiments/benchmarks/fit_scaling.py --quick                  # 100, 300 runs x 10 points
    python experiments/benchmarks/fit_scaling.py --runs 1000 --points 30 --json fit.json
    python experiments/benchmarks/fit_scaling.py --runs 300 --points 30 --methods nuts --model transient

Each table is drawn from the model itself (the ``recovery`` experiment's sampler) in 10 groups,
one evaluation every 100 steps, full curves, about 7% of runs diverged. NUTS and SVI run through
:func:`tuneahead.inference.fit` with ``conf/inference/nuts.yaml`` and ``svi.yaml`` as they
are (no progress bar); ``--warmup``/``--samples``/``--chain-method`` override NUTS's. LightGBM is
:class:`tuneahead.baselines.GradientBoosted` at TuneAhead's settings on all points of each curve.
``--model`` picks the variant fitted: ``base`` (the default spec) or ``transient`` (shape features
and the transient deviation, whose curve likelihood is a Kalman filter over the points).

Columns: ``compile`` is the part of the wall time JAX spent tracing and compiling; ``s/ESS`` is the
NUTS wall time over the smallest bulk ESS of any parameter, so that speed bought with bad mixing
shows; ``CPU s`` is the process's CPU time, which a shared machine inflates far less than the
wall time; ``leap`` is the mean number of leapfrog steps per iteration; ``load`` is the one-minute
load average (the largest seen during the row) on a machine that may be shared. The goal: 1,000
runs x 30 points under 60 s with NUTS and under 10 s with SVI, on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import inference_config, nuts_stats, recovery_table, timed  # noqa: E402

from tuneahead.artifacts import write_json  # noqa: E402
from tuneahead.baselines.gradient_boosting import GradientBoosted  # noqa: E402
from tuneahead.inference import fit  # noqa: E402
from tuneahead.model.design import ModelSpec  # noqa: E402

GOAL = {"runs": 1000, "points": 30, "nuts": 60.0, "svi": 10.0}
MODELS = {"base": ModelSpec(), "transient": ModelSpec(shape_features=True, transient=True)}


def bench_row(
    n_runs: int, points: int, methods: tuple[str, ...], nuts_overrides: dict, seed: int, spec: ModelSpec
) -> dict:
    table = recovery_table(n_runs, points, seed=seed)
    row: dict = {"runs": len(table), "points": points}
    if "nuts" in methods:
        config = inference_config("nuts", **nuts_overrides)
        row["nuts_config"] = {
            k: getattr(config, k)
            for k in (
                "num_warmup",
                "num_samples",
                "num_chains",
                "chain_method",
                "max_tree_depth",
                "target_accept",
                "dense_mass",
            )
        }
        with timed() as t:
            posterior = fit(table, spec, config)
        stats = nuts_stats(posterior)
        row["nuts"] = {**t, **stats, "s_per_ess": t["wall"] / max(stats["min_ess_bulk"], 1e-9)}
        print(
            f"  nuts {t['wall']:.1f} s (compile {t['compile']:.1f}), ESS {stats['min_ess_bulk']:.0f}, "
            f"r_hat {stats['max_rhat']:.3f}, leapfrog {stats['mean_leapfrog']:.1f}, load {t['load']:.2f}",
            flush=True,
        )
    if "svi" in methods:
        config = inference_config("svi")
        with timed() as t:
            posterior = fit(table, spec, config)
        row["svi"] = {**t, "steps": config.svi_steps, **posterior.diagnostics.extra}
        print(f"  svi  {t['wall']:.1f} s (compile {t['compile']:.1f}), load {t['load']:.2f}", flush=True)
    if "lgbm" in methods:
        with timed() as t:
            GradientBoosted(spec.metrics, features="both", seed=seed).fit(table, budget=float(table.budget.max()))
        row["lgbm"] = dict(t)
        print(f"  lgbm {t['wall']:.2f} s, load {t['load']:.2f}", flush=True)
    return row


def _f(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def render(rows: list[dict]) -> str:
    head = (
        "| runs | points | NUTS s | NUTS CPU s | compile s | min ESS | s/ESS | max r_hat | div | leap | SVI s | "
        "SVI CPU s | LightGBM s | NUTS/LGBM | SVI/LGBM | load |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        nuts, svi, lgbm = r.get("nuts"), r.get("svi"), r.get("lgbm")
        base = lgbm["wall"] if lgbm else None
        load = max(v["load"] for v in (nuts, svi, lgbm) if v)
        lines.append(
            f"| {r['runs']} | {r['points']} "
            f"| {_f(nuts and nuts['wall'], '.1f')} | {_f(nuts and nuts['cpu'], '.1f')} "
            f"| {_f(nuts and nuts['compile'], '.1f')} "
            f"| {_f(nuts and nuts['min_ess_bulk'], '.0f')} | {_f(nuts and nuts['s_per_ess'], '.3f')} "
            f"| {_f(nuts and nuts['max_rhat'], '.3f')} | {_f(nuts and nuts['divergences'], 'd')} "
            f"| {_f(nuts and nuts['mean_leapfrog'], '.1f')} "
            f"| {_f(svi and svi['wall'], '.1f')} | {_f(svi and svi['cpu'], '.1f')} | {_f(base, '.2f')} "
            f"| {_f(nuts and base and nuts['wall'] / base, '.0f')} | {_f(svi and base and svi['wall'] / base, '.0f')} "
            f"| {load:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 300, 1000, 3000])
    parser.add_argument("--points", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--methods", nargs="+", default=["nuts", "svi", "lgbm"], choices=["nuts", "svi", "lgbm"])
    parser.add_argument("--warmup", type=int, default=None, help="override NUTS num_warmup")
    parser.add_argument("--samples", type=int, default=None, help="override NUTS num_samples")
    parser.add_argument(
        "--chain-method",
        default=None,
        choices=["parallel", "sequential", "vectorized"],
        help="override NUTS chain_method (parallel: a CPU device per chain)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled tables")
    parser.add_argument("--model", default="base", choices=list(MODELS), help="the variant fitted (module doc)")
    parser.add_argument("--quick", action="store_true", help="100 and 300 runs of 10 points only")
    parser.add_argument("--json", default=None, help="write the rows to this JSON file (atomically)")
    args = parser.parse_args(argv)
    runs, points = ([100, 300], [10]) if args.quick else (args.runs, args.points)
    overrides = {
        k: v
        for k, v in (("num_warmup", args.warmup), ("num_samples", args.samples), ("chain_method", args.chain_method))
        if v is not None
    }

    rows = []
    for p in points:
        for n in runs:
            print(f"{n} runs x {p} points", flush=True)
            rows.append(bench_row(n, p, tuple(args.methods), overrides, args.seed, MODELS[args.model]))
            if args.json:
                write_json({"rows": rows, "goal": GOAL}, args.json)
    print()
    if rows and "nuts_config" in rows[0]:
        print("NUTS:", ", ".join(f"{k}={v}" for k, v in rows[0]["nuts_config"].items()))
    print(render(rows))
    for r in rows:
        if (r["runs"], r["points"]) == (GOAL["runs"], GOAL["points"]):
            for m in ("nuts", "svi"):
                if m in r:
                    print(
                        f"goal {m.upper()}: {r[m]['wall']:.1f} s against {GOAL[m]:g} s ({r[m]['wall'] / GOAL[m]:.2f} x)"
                    )
    return rows


if __name__ == "__main__":
    main()
