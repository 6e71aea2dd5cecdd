"""A saved stacked fit of the synthetic main job, scored variant by variant on its held-out runs.

    python -m experiments.stack_scores outputs/regime_seeds_stack/dynamic_critical/seed0 \\
        --preset dynamic_critical --seed 0

Reads the folder's ``posterior.nc`` (a stacked posterior, ``model.auto.combine=stack``) and
``verdict.json`` (``theory/check_posterior.py``), rebuilds the main job's split at that preset and
seed, and for the stack and each of its variants gives:

- on the held-out runs at every budget of the risk curve: 90% coverage, mean z² and CRPS
  (:func:`tuneahead.evaluation.calibration_check.check_components`);
- on the runs of the truth (the verdict's): the per-draw L(c), L(c) - V_epi(c), over the
  probe-information reference, and the budgets where it is outside the verdict's tolerance.

Nothing is fitted: the variants are the stack's members. It writes ``stack_scores.json`` into the
folder and prints both tables.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

from tuneahead.artifacts import write_json
from tuneahead.evaluation.calibration_check import check_components
from tuneahead.model import StackedPosterior, load_posterior
from tuneahead.pipeline.runs import load_runs, scored_partition
from tuneahead.pipeline.settings import fit_risk, fit_split, fit_truth
from tuneahead.predict import predictive_components
from tuneahead.risk import posterior_risk

CONF = Path(__file__).resolve().parents[1] / "conf"


def main_job_runs(preset: str, seed: int, overrides: list[str]):
    """The main job's whole table, its held-out runs, the runs of its truth, and its risk budgets."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=["+experiment=synthetic", f"data.preset={preset}", f"seed={seed}", *overrides],
        )
    _, table = load_runs(cfg.data)
    ((_, test),) = scored_partition(table, fit_split(cfg))
    truth = fit_truth(cfg)
    n = min(len(test), int(truth.max_runs))  # as validation.report.brute_force_truth draws them
    runs = test.select(np.sort(np.random.default_rng(truth.seed).choice(len(test), n, replace=False)))
    return table, test, runs, [float(b) for b in fit_risk(cfg).budgets]


def saved_fit_parser(doc: str, folder: str) -> argparse.ArgumentParser:
    """The command line of a script that reads a saved main job's ``folder`` at a preset and seed."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help=folder)
    parser.add_argument("--preset", default="dynamic_critical")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("overrides", nargs="*", help="the Hydra overrides the job ran with")
    return parser


def main(argv=None) -> dict:
    parser = saved_fit_parser(__doc__, "a main job's output folder with posterior.nc and verdict.json")
    args = parser.parse_args(argv)
    posterior = load_posterior(args.folder / "posterior.nc")
    if not isinstance(posterior, StackedPosterior):
        sys.exit(f"{args.folder / 'posterior.nc'}: one variant, not a stack; run the job with model.auto.combine=stack")
    _, test, runs, budgets = main_job_runs(args.preset, args.seed, args.overrides)
    check = json.loads((args.folder / "verdict.json").read_text())["verdict"]["parts"]["L_vs_probe_reference"]
    reference, tolerance = np.asarray(check["reference"]), np.asarray(check["tolerance"])
    if check["budgets"] != budgets:
        sys.exit(f"the verdict's budgets {check['budgets']} are not the job's {budgets}; pass its overrides")
    out = {}
    for name, p in {"stacked": posterior, **posterior.members}.items():
        held = check_components(
            [predictive_components(p, test.truncate(c), args.draws) for c in budgets], test.final, budgets
        )
        risk = posterior_risk(p, runs, budgets, max_draws=args.draws)
        per_draw = risk.total - risk.epistemic_variance
        out[name] = {
            "weight": posterior.weights.get(name, 1.0),
            "coverage_90": held.coverage.tolist(),
            "mean_z2": held.mean_z2.tolist(),
            "crps": held.crps.tolist(),
            "L_per_draw_over_reference": (per_draw / reference).tolist(),
            "outside_tolerance_at": [
                c for c, a, b, t in zip(budgets, per_draw, reference, tolerance) if abs(a - b) > t
            ],
        }
    _print(out, budgets)
    result = {
        "folder": str(args.folder),
        "budgets": budgets,
        "n_heldout": len(test),
        "n_truth": len(runs),
        "scores": out,
    }
    write_json(result, args.folder / "stack_scores.json")
    return result


def _print(out: dict, budgets: list[float]) -> None:
    cs = " / ".join(f"{c:g}" for c in budgets)
    print(f"| predictive | weight | 90% coverage, c = {cs} | CRPS | L(c) / reference | outside tol. at |")
    print("|---|---|---|---|---|---|")
    for name, r in out.items():
        fmt = lambda xs, d: " / ".join(f"{x:.{d}f}" for x in xs)  # noqa: E731
        outside = ", ".join(f"{c:g}" for c in r["outside_tolerance_at"]) or "none"
        print(
            f"| {name} | {r['weight']:.2f} | {fmt(r['coverage_90'], 3)} | {fmt(r['crps'], 2)} "
            f"| {fmt(r['L_per_draw_over_reference'], 2)} | {outside} |"
        )


if __name__ == "__main__":
    main()
