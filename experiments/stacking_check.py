"""Would stacking the variants, instead of choosing one, calibrate the synthetic main job?

    python -m experiments.stacking_check --preset dynamic_critical --seed 0 --json FILE

Runs the main job's model choice (``+experiment=synthetic`` at the preset and seed, its training
runs and split, :func:`tuneahead.selection.choose_model`), then scores on the held-out runs, at
each budget of the risk curve:

- every variant's own predictive, and the chosen one's;
- the stacked predictive: the mixture of the variants' predictives with the stacking weights that
  the choice computed from the training runs' fold scores (:meth:`ModelChoice.stacked`, the
  posterior of ``model.auto.combine=stack``), about ``w_k * draws`` draws of variant ``k``.

Columns: RMSE, mean z² (1 when the variances are right), 90% coverage, the PIT's KS p-value, CRPS
and the log score (mean log predictive density of the final score given the probe). The weights
read training runs only; the held-out runs are read to score, once, and nothing here is tuned on
them.

It also says where the choice's paired differences come from: for each variant against the chosen
one, the sum of the per-run differences of the training runs' terms, its paired SE, and the share
of the squared deviations (around the mean difference) that the five runs farthest out carry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from scipy.special import logsumexp

from tuneahead.artifacts import write_json
from tuneahead.evaluation.calibration_check import check_components
from tuneahead.inference import use_host_devices
from tuneahead.pipeline.runs import load_runs, scored_partition
from tuneahead.pipeline.settings import fit_risk, fit_split, job_settings
from tuneahead.predict import PredictiveComponents, predictive_components
from tuneahead.selection import choose_model

CONF = Path(__file__).resolve().parents[1] / "conf"


def _scores(name: str, components: list, test, budgets) -> list[dict]:
    """Each budget's calibration check and log score (mean log predictive density of the final score)."""
    check = check_components(components, test.final, budgets)
    return [
        {
            "predictive": name,
            "c": float(c),
            "rmse": float(np.sqrt(check.squared_error[j])),
            "mean_z2": float(check.mean_z2[j]),
            "coverage_90": float(check.coverage[j]),
            "pit_ks_p": float(check.ks_pvalue[j]),
            "crps": float(check.crps[j]),
            "log_score": float(np.mean(_log_density(comp, test.final))),
        }
        for j, (c, comp) in enumerate(zip(budgets, components))
    ]


def _tails(pointwise, chosen: str) -> list[dict]:
    """Per variant against the chosen one: the summed difference, its paired SE, and the top-5 share."""
    out = []
    for name in [c for c in pointwise.columns if c not in ("run_id", chosen)]:
        d = (pointwise[name] - pointwise[chosen]).to_numpy(dtype=float)
        d = d[np.isfinite(d)]
        dev = (d - d.mean()) ** 2
        top = np.argsort(-dev)[:5]
        out.append(
            {
                "variant": name,
                "against": chosen,
                "sum_difference": float(d.sum()),
                "paired_se": float(np.sqrt(d.size) * d.std(ddof=1)),
                "top5_share_of_squared_deviation": float(dev[top].sum() / dev.sum()),
                "top5_differences": [round(float(v), 2) for v in d[top]],
                "median_difference": float(np.median(d)),
            }
        )
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="dynamic_critical")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=400, help="posterior draws per predictive")
    parser.add_argument("--json", help="write the result here (atomically)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the main job")
    args = parser.parse_args(argv)
    use_host_devices(2)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        overrides = ["+experiment=synthetic", f"data.preset={args.preset}", f"seed={args.seed}", *args.overrides]
        cfg = compose(config_name="config", overrides=overrides)
    settings, split = job_settings(cfg), fit_split(cfg)
    _, table = load_runs(cfg.data)
    ((train, test),) = scored_partition(table, split)
    choice = choose_model(train, settings.spec, settings.inference, settings.choice, settings.probe_budget, split)
    budgets = [float(b) for b in fit_risk(cfg).budgets]
    rows = []
    for name, posterior in choice.posteriors.items():
        comps = [predictive_components(posterior, test.truncate(c), args.draws) for c in budgets]
        rows += _scores(name + (" (chosen)" if name == choice.chosen else ""), comps, test, budgets)
    stacked = choice.stacked()
    rows += _scores(
        "stacked", [predictive_components(stacked, test.truncate(c), args.draws) for c in budgets], test, budgets
    )
    result = {
        "preset": args.preset,
        "seed": args.seed,
        "n_train": len(train),
        "n_test": len(test),
        "choice": choice.table.to_dict(orient="records"),
        "tails": _tails(choice.pointwise, choice.chosen),
        "rows": rows,
    }
    _print(result)
    if args.json:
        write_json(result, args.json)
    return result


def _log_density(comp: PredictiveComponents, x) -> np.ndarray:
    """The predictive's log density at ``x``: the mean over draws of each draw's mixture density."""
    ll = comp.draw_logpdf(np.asarray(x, dtype=float))
    return logsumexp(ll, axis=0) - np.log(ll.shape[0])


def _print(result: dict) -> None:
    print(
        f"\n{result['preset']}, seed {result['seed']}: {result['n_train']} training runs, {result['n_test']} held out"
    )
    print("| variant | elpd | stacking weight | chosen |\n|---|---|---|---|")
    for r in result["choice"]:
        print(f"| {r['variant']} | {r['elpd']:.1f} | {r['stacking_weight']:.3f} | {r['chosen']} |")
    print("\n| predictive | c | RMSE | mean z² | cov 90 | PIT KS p | CRPS | log score |")
    print("|---|---|---|---|---|---|---|---|")
    for r in result["rows"]:
        print(
            f"| {r['predictive']} | {r['c']:g} | {r['rmse']:.2f} | {r['mean_z2']:.2f} | {r['coverage_90']:.3f} "
            f"| {r['pit_ks_p']:.3f} | {r['crps']:.3f} | {r['log_score']:.3f} |"
        )
    print()
    for t in result["tails"]:
        print(json.dumps(t))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
