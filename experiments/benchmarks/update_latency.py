"""Update latency: a posterior of 1,000 runs updated with one more finished run, beside a refit.

    python experiments/benchmarks/update_latency.py                      # 1,000 runs x 30 points
    python experiments/benchmarks/update_latency.py --runs 300 --json update.json

A posterior is fitted once (SVI, as the Optuna pruner refits) on ``--runs`` training runs of 30
curve points drawn from the model itself. Then one more finished run at a time is folded in by
importance resampling (:class:`tuneahead.inference.ImportanceUpdate`), and timed:

- the first update, which compiles the per-run likelihood for a one-run table;
- ``--repeats`` warm updates, each one more run, and each reading out the updated posterior;
- beside them, what the pruner did before: an SVI refit on the runs plus one (the same size
  class, so no compile), an SVI fit on a fifth more runs (the next size class: a cold compile),
  and LightGBM (TuneAhead's settings) refitted on the runs plus one;
- a refit into a class whose programs were compiled ahead, as the pruner now does while trials
  run (:func:`tuneahead.inference.compile_fit`, on a table of 45% more runs, a class of its
  own): the compile ahead, then the fit.

It also folds in ``--runs-after`` further runs one by one and prints the relative effective
sample size and Pareto k after each tenth, so that one sees how many finished runs an update
carries before it asks for a refit. Each row carries the one-minute load average.

``--real-sets`` measures instead how much one real held-out run weighs, on the replay sets
(:mod:`experiments.replay_sets`, the fit of ``experiments/pruner_replay.py``): per held-out run,
the sd over draws of its log-likelihood, the relative ESS of the weights it alone gives, and the
Spearman correlation of that sd with the run's misfit (minus its mean log-likelihood).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import inference_config, load, recovery_table, timed  # noqa: E402

from tuneahead.artifacts import write_json  # noqa: E402
from tuneahead.baselines.gradient_boosting import GradientBoosted  # noqa: E402
from tuneahead.inference import ImportanceUpdate, compile_fit, fit  # noqa: E402
from tuneahead.model.design import ModelSpec  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000, help="training runs (30 points each)")
    parser.add_argument("--repeats", type=int, default=5, help="warm updates timed")
    parser.add_argument("--runs-after", type=int, default=50, help="runs folded in for the ESS trace")
    parser.add_argument("--no-refit", action="store_true", help="skip the cold SVI refit (about 20 s)")
    parser.add_argument("--real-sets", action="store_true", help="the weight of one real run (module doc)")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file (atomically)")
    return parser


def real_sets() -> dict:
    """Per replay set: how much one held-out run moves the importance weights (module doc)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from scipy.stats import spearmanr

    from experiments.replay_sets import SETS
    from tuneahead.inference import InferenceConfig, pointwise_loglik

    out = {}
    print("| set | held-out runs | median sd of log-lik | 90% quantile | median one-run relative ESS "
          "| share under 0.3 | Spearman(sd, misfit) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, sweep in sorted(SETS.items()):
        train, test = sweep.load().split("random", test_fraction=0.3, seed=0)
        config = InferenceConfig(method="svi", svi_steps=3000, svi_draws=200, progress=False)
        posterior = fit(train, sweep.spec(), config)
        ll = pointwise_loglik(posterior, test.select(np.flatnonzero(test.has_final)))  # (S, n)
        w = np.exp(ll - ll.max(axis=0))
        w /= w.sum(axis=0)
        ess = 1.0 / (len(w) * np.sum(w**2, axis=0))
        sd = ll.std(axis=0)
        row = {"runs": ll.shape[1], "sd_median": float(np.median(sd)), "sd_q90": float(np.quantile(sd, 0.9))}
        row |= {"ess_median": float(np.median(ess)), "ess_under_0.3": float((ess < 0.3).mean())}
        row["spearman_sd_misfit"] = float(spearmanr(sd, -ll.mean(axis=0))[0])
        out[name] = row
        print(f"| {name} | {row['runs']} | {row['sd_median']:.2f} | {row['sd_q90']:.2f} | {row['ess_median']:.3f} "
              f"| {row['ess_under_0.3']:.3f} | {row['spearman_sd_misfit']:.2f} |")  # fmt: skip
    return out


def main(argv=None) -> dict:
    args = _parser().parse_args(argv)
    if args.real_sets:
        result = real_sets()
        if args.json:
            write_json(result, args.json)
        return result
    extra = max(args.repeats + 1, args.runs_after)
    full = recovery_table(args.runs + extra, 30, seed=0)
    order = np.random.default_rng(0).permutation(len(full))
    train, new = full.select(np.sort(order[: args.runs])), full.select(order[args.runs :])
    spec = ModelSpec()
    with timed() as t_fit:
        posterior = fit(train, spec, inference_config("svi"))
    print(f"fit (svi, {len(train)} runs): {t_fit['wall']:.1f} s, load {t_fit['load']:.2f}", flush=True)

    state = ImportanceUpdate.start(posterior)
    with timed() as first:
        state = state.with_runs(new.select([0]))
        state.posterior()
    walls = []
    for k in range(1, args.repeats + 1):
        start = time.perf_counter()
        state = state.with_runs(new.select([k]))
        state.posterior()
        walls.append(time.perf_counter() - start)
    warm = {"median": statistics.median(walls), "min": min(walls), "load": load()}

    plus_one = full.select(np.sort(order[: args.runs + 1]))
    refit = crossing = ahead = after_ahead = None
    if not args.no_refit:
        with timed() as refit:
            fit(plus_one, spec, inference_config("svi"))
        # a fifth more runs: each part of the table pads to the next size class, a program not compiled yet
        larger = recovery_table(round(args.runs * 1.2), 30, seed=1)
        with timed() as crossing:
            fit(larger, spec, inference_config("svi"))
        # 45% more runs: a class of its own again, its programs compiled ahead of the fit
        ahead_table = recovery_table(round(args.runs * 1.45), 30, seed=2)
        with timed() as ahead:
            compile_fit(ahead_table, spec, inference_config("svi"))
        with timed() as after_ahead:
            fit(ahead_table, spec, inference_config("svi"))
    lgbm_walls = []
    for _ in range(3):
        start = time.perf_counter()
        GradientBoosted(spec.metrics, features="both", seed=0).fit(plus_one, budget=1000.0)
        lgbm_walls.append(time.perf_counter() - start)
    lgbm = {"median": statistics.median(lgbm_walls), "load": load()}

    trace = []
    state = ImportanceUpdate.start(posterior)
    for k in range(args.runs_after):
        state = state.with_runs(new.select([k]))
        if (k + 1) % 10 == 0 or k == 0:
            trace.append({"runs": k + 1, "relative_ess": state.relative_ess, "pareto_k": state.pareto_k})

    print(f"\none finished run into a posterior of {len(train)} runs ({posterior.num_draws} draws)")
    print("| what | wall s | of which compile s | load |")
    print("|---|---|---|---|")
    print(f"| first update (compiles) | {first['wall']:.3f} | {first['compile']:.2f} | {first['load']:.2f} |")
    print(f"| warm update, median of {args.repeats} | {warm['median']:.3f} | - | {warm['load']:.2f} |")
    if refit is not None:
        row = f"{refit['wall']:.1f} | {refit['compile']:.1f} | {refit['load']:.2f}"
        print(f"| SVI refit on {len(plus_one)} runs | {row} |")
        row = f"{crossing['wall']:.1f} | {crossing['compile']:.1f} | {crossing['load']:.2f}"
        print(f"| SVI fit on {round(args.runs * 1.2)} runs (the next size class) | {row} |")
        for name, t in (("compiled ahead (compile_fit)", ahead), ("fit after compile_fit", after_ahead)):
            print(
                f"| {round(args.runs * 1.45)} runs, {name} | {t['wall']:.1f} | {t['compile']:.1f} | {t['load']:.2f} |"
            )
    print(f"| LightGBM refit on {len(plus_one)} runs | {lgbm['median']:.3f} | - | {lgbm['load']:.2f} |")
    print(
        f"first update / LightGBM refit: {first['wall'] / lgbm['median']:.1f} x; "
        f"warm update / LightGBM refit: {warm['median'] / lgbm['median']:.2f} x"
        + (f"; SVI refit / first update: {refit['wall'] / first['wall']:.0f} x" if refit else "")
    )
    print("\n| runs folded in | relative ESS | Pareto k |")
    print("|---|---|---|")
    for row in trace:
        print(f"| {row['runs']} | {row['relative_ess']:.3f} | {row['pareto_k']:.2f} |")
    result = {"runs": len(train), "draws": posterior.num_draws, "fit": t_fit, "first_update": first}
    result |= {"warm_update": warm, "svi_refit": refit, "svi_next_class": crossing, "lgbm_refit": lgbm, "trace": trace}
    result |= {"compile_ahead": ahead, "fit_after_compile_ahead": after_ahead}
    if args.json:
        write_json(result, args.json)
    return result


if __name__ == "__main__":
    main()
