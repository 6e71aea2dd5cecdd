"""Which part of the model makes the predictive over- or under-confident? One variant at a time.

Fits the synthetic experiment's model (one metric, no gate, config-dependent spread) and variants
of it to the training runs of a simulator preset, and scores each on the held-out runs cut at
several probe budgets: RMSE, the mean predictive variance beside the realized squared error, the
mean squared z-score (1 when the variances are right), 90% coverage, the KS p-value of the PIT, the
CRPS and the log score (mean log predictive density of the final score given the probe). Each
candidate cause of miscalibration is one variant:

- ``max_points=4``: fewer, spread-out curve points (serially correlated deviations counted as
  independent looks);
- ``curve_offsets=true``: a persistent per-curve offset the final score does not share (a link from
  the curve to the final score that is too tight);
- ``random_walk=true``: the trajectory keeps moving after the probe;
- ``transient=true``: the curve strays by a deviation that fades as the run trains (an early point
  says little about the end);
- ``shape_features=true``: a curve time scale that depends on the config (a rigid static part).

This is a diagnosis on held-out runs of a simulator whose truth is known, not a model choice:
the package chooses its model on training runs only (``model=auto``, :mod:`tuneahead.selection`).

    python -m experiments.calibration_causes --preset dynamic_critical --seed 0 \\
        --variants "" "shape_features=true" "max_points=4" "curve_offsets=true" "random_walk=true"

With ``--choose`` the package's model choice among the listed variants runs first, on the training
runs alone (5-fold refits, the target summed over ``--budgets``), and prints its table.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.special import logsumexp

from tuneahead.artifacts import write_json
from tuneahead.data.splits import Split
from tuneahead.evaluation.calibration_check import calibration_check
from tuneahead.inference import InferenceConfig, fit, use_host_devices
from tuneahead.model.design import ModelSpec
from tuneahead.selection import ModelChoiceConfig, choose_model, final_logdensity
from tuneahead.synthetic.population import simulated_population

BASE = {"metrics": ("eval_score",), "failure_gate": False, "variance_features": True}


def _variant(text: str) -> dict:
    """``"a=true,b=4"`` as ModelSpec changes."""
    out = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=")
        out[key] = {"true": True, "false": False}.get(value.lower(), int(value) if value.isdigit() else value)
    return out


def score_variant(train, test, changes: dict, budgets) -> list[dict]:
    """Held-out scores of one variant at each budget."""
    t0 = time.perf_counter()
    posterior = fit(train, ModelSpec(**{**BASE, **changes}), InferenceConfig(num_warmup=1000, progress=False))
    seconds = time.perf_counter() - t0
    check = calibration_check(posterior, test, budgets)
    rows = []
    for j, c in enumerate(budgets):
        density = final_logdensity(posterior, test, c)  # (S, n)
        rows.append(
            {
                "variant": ",".join(f"{k}={v}" for k, v in changes.items()) or "base",
                "c": c,
                "rmse": float(np.sqrt(check.squared_error[j])),
                "realized_sq_error": float(check.squared_error[j]),
                "predictive_var": float(check.variance[j]),
                "mean_z2": float(check.mean_z2[j]),
                "coverage_90": float(check.coverage[j]),
                "pit_ks_p": float(check.ks_pvalue[j]),
                "crps": float(check.crps[j]),
                "log_score": float(np.mean(logsumexp(density, axis=0) - np.log(density.shape[0]))),
                "max_r_hat": posterior.diagnostics.max_rhat,
                "fit_seconds": seconds,
            }
        )
    return rows


def choose_on_training_runs(train, split, variants, budgets) -> None:
    """The package's own model choice among ``variants`` on the training runs alone: 5-fold refits,
    the target summed over ``budgets`` (what ``model=auto`` does, every variant refitted)."""
    named = {text or "base": _variant(text) for text in variants}
    choice = ModelChoiceConfig(variants=named, budgets=list(budgets), criterion="kfold")
    inference = InferenceConfig(num_warmup=1000, progress=False, seed=1)
    result = choose_model(train, ModelSpec(**BASE), inference, choice, split=split)
    print(result.table.to_string(index=False), flush=True)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="dynamic_critical")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budgets", type=float, nargs="+", default=[25, 100, 400])
    parser.add_argument("--variants", nargs="+", default=[""], help='e.g. "" "shape_features=true"')
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument(
        "--choose", action="store_true", help="also run the model choice over the variants (5-fold, training runs)"
    )
    args = parser.parse_args(argv)
    use_host_devices(2)
    table = simulated_population(preset=args.preset, seed=args.seed).table
    split = Split(kind="within_groups", test_fraction=0.3, seed=args.seed)
    ((train, test),) = split.partition(table)
    if args.choose:
        choose_on_training_runs(train, split, args.variants, args.budgets)
    rows = []
    for text in args.variants:
        rows += score_variant(train, test, _variant(text), args.budgets)
        for r in rows[-len(args.budgets) :]:
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}), flush=True)
    if args.json:
        write_json(rows, args.json)
    return rows


if __name__ == "__main__":
    main()
