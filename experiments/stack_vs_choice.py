"""On an evaluation's own fits: the stacked posterior beside the variant the one-SE rule chose.

    python -m experiments.stack_vs_choice outputs/evaluate/deberta_auto_svi_stack -- \\
        +experiment=deberta_eval inference=svi model.auto.folds=3

An evaluation (``python -m tuneahead.evaluate``) run with ``model.auto.combine=stack`` saves each
split's stacked posterior under ``posteriors/`` beside its model choice table. This script
rebuilds the same splits from the same overrides (pass the evaluation's), and scores on each
split's held-out runs, at every evaluation budget, the stack and its member that the choice
marked ``chosen`` (``combine=choose`` would have kept it): RMSE, 90% coverage and CRPS, as the
evaluation computes them. Nothing is refitted, so the two differ only in how the variants are
combined; only a chosen variant that the stack left out (a weight under 0.001) is fitted again,
with the evaluation's inference settings, on the split's training runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from tuneahead.evaluation.methods import predict_ours
from tuneahead.inference import fit
from tuneahead.model import StackedPosterior, load_posterior
from tuneahead.pipeline.evaluate_job import evaluation_plan
from tuneahead.pipeline.runs import load_runs, scored_partition

CONF = Path(__file__).resolve().parents[1] / "conf"


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the evaluation's output folder")
    parser.add_argument("overrides", nargs="*", help="the evaluation's Hydra overrides (after --)")
    args = parser.parse_args(argv)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="evaluate", overrides=args.overrides)
    plan = evaluation_plan(cfg)
    _, table = load_runs(cfg.data)
    rows = []
    for name, split in plan.splits.items():
        parts = scored_partition(table, split)
        if len(parts) != 1:
            sys.exit(f"split {name!r} has {len(parts)} folds; this script reads one fold a split")
        ((train, test),) = parts
        (path,) = sorted((args.folder / "posteriors").glob(f"{name}_fold0_*.nc"))
        stack = load_posterior(path)
        if not isinstance(stack, StackedPosterior):
            sys.exit(f"{path}: one variant, not a stack")
        choice = pd.read_csv(str(path).replace(".nc", "_model_choice.csv"))
        chosen = choice.variant[choice.chosen].iloc[0]
        member = stack.members.get(chosen)
        if member is None:
            print(f"{name}: the chosen variant {chosen!r} has no weight in the stack; fitting it", flush=True)
            member = fit(train, plan.settings.choice.specs(plan.settings.spec)[chosen], plan.settings.inference)
        for label, posterior in {"stacked": stack, f"chosen ({chosen})": member}.items():
            for budget in plan.budgets:
                pred, crps, _ = predict_ours(posterior, test, budget, 0.9, plan.settings.predict.max_draws)
                inside = (test.final >= pred.lower) & (test.final <= pred.upper)
                rmse = float(np.sqrt(np.mean((pred.mean - test.final) ** 2)))
                rows.append(
                    {"split": name, "budget": budget, "predictive": label, "rmse": rmse,
                     "coverage_90": float(inside.mean()), "crps": float(np.mean(crps))}
                )  # fmt: skip
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return frame


if __name__ == "__main__":
    main()
