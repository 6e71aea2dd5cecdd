"""Compile cost of a fit, and what a second fit of a nearby table, or of other settings, reuses.

    python experiments/benchmarks/compile_reuse.py                    # 40 runs x 10 points
    python experiments/benchmarks/compile_reuse.py --runs 1000 --points 30 --json compile.json
    PYTHONPATH=<worktree of an earlier commit> python experiments/benchmarks/compile_reuse.py

Each row is one fit through :func:`tuneahead.inference.fit`, with the compilation cache off, in
this order:

1. SVI on the table (``--steps`` steps, ``--draws`` draws): the cold compile;
2. SVI on the table less one run, with other steps: a K-fold's fold, or a pruner's refit with a
   shorter optimization;
3. the same with other draws;
4. NUTS on the table (``--warmup``/``--samples``): its cold compile;
5. NUTS on the table less one run;
6. SVI on a fold of a 5-fold (four fifths of the runs) as model choice refits it, told the table
   it comes from (``fit(..., refit_of=table)``: each part of the runs padded to the table's size
   class), then the same fold fitted alone (its own, smaller class);
7. the predictive of a fifth of the runs from the first fit, with the probe cut at each budget of
   a risk curve (0, 25, 50, 100, 200 and 400 steps), as the model choice's summed target and the
   risk split read it.

Rows 6 and 7 need a commit that has ``refit_of`` and the predictive's common point width; on an
earlier one the fold's refit is left out, and the predictive row shows what it compiled then.

``compile`` is the part of the wall time JAX spent tracing, lowering and compiling (an upper
bound, see ``_common.timed``); ``load`` the one-minute load average. The baseline is the same
script run on an earlier commit (third command), on the same machine, in the same hour.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import inference_config, recovery_table, timed  # noqa: E402

from tuneahead.artifacts import write_json  # noqa: E402
from tuneahead.inference import fit  # noqa: E402
from tuneahead.model.design import ModelSpec  # noqa: E402
from tuneahead.predict.predictive import predictive_components  # noqa: E402

BUDGETS = (0, 25, 50, 100, 200, 400)


def _fits(args, table) -> list[tuple[str, object, dict]]:
    smaller = table.select(np.arange(len(table) - 1))
    svi = dict(svi_draws=args.draws, compilation_cache=None)
    nuts = dict(num_warmup=args.warmup, num_samples=args.samples, compilation_cache=None)
    return [
        (f"SVI, {len(table)} runs, {args.steps} steps (cold)", table, dict(svi_steps=args.steps, **svi)),
        (f"SVI, {len(smaller)} runs, {args.steps // 2} steps", smaller, dict(svi_steps=args.steps // 2, **svi)),
        (
            f"SVI, {len(smaller)} runs, {args.steps // 2} steps, {args.draws // 2} draws",
            smaller,
            dict(svi_steps=args.steps // 2, svi_draws=args.draws // 2, compilation_cache=None),
        ),
        (f"NUTS, {len(table)} runs (cold)", table, nuts),
        (f"NUTS, {len(smaller)} runs", smaller, nuts),
    ]


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300, help="SVI steps of the first fit (the second: half)")
    parser.add_argument("--draws", type=int, default=100, help="SVI draws")
    parser.add_argument("--warmup", type=int, default=150, help="NUTS warm-up")
    parser.add_argument("--samples", type=int, default=150, help="NUTS draws")
    parser.add_argument("--json", default=None, help="write the rows to this JSON file (atomically)")
    args = parser.parse_args(argv)
    rows, first = [], None
    print("| fit | wall s | compile s | CPU s | load |")
    print("|---|---|---|---|---|")

    def row(name, work, *args, **kwargs):
        with timed() as t:
            result = work(*args, **kwargs)
        rows.append({"fit": name, **t})
        print(f"| {name} | {t['wall']:.1f} | {t['compile']:.1f} | {t['cpu']:.1f} | {t['load']:.2f} |", flush=True)
        return result

    whole = recovery_table(args.runs, args.points)
    for name, table, overrides in _fits(args, whole):
        method = "svi" if name.startswith("SVI") else "nuts"
        posterior = row(name, fit, table, ModelSpec(), inference_config(method, **overrides))
        first = posterior if first is None else first
    svi_cold, nuts_cold = rows[0]["compile"], rows[3]["compile"]
    print(
        f"\nsecond SVI fit: {rows[1]['compile'] / svi_cold:.2f} of the cold compile; other draws: "
        f"{rows[2]['compile'] / svi_cold:.2f}; second NUTS fit: {rows[4]['compile'] / nuts_cold:.2f}"
    )
    _fold_and_budgets(args, whole, first, row)
    if args.json:
        write_json({"rows": rows, "args": vars(args)}, args.json)
    return rows


def _fold_and_budgets(args, table, posterior, row) -> None:
    """Rows 6 and 7 (module doc), on the table of the rows before and the first fit's posterior."""
    held = np.arange(len(table)) % 5 == 0
    fold = table.select(~held)
    config = inference_config("svi", svi_steps=args.steps // 2, svi_draws=args.draws, compilation_cache=None)
    if "refit_of" in inspect.signature(fit).parameters:
        row(f"SVI, a fold of {len(fold)} runs, refit_of the table", fit, fold, ModelSpec(), config, refit_of=table)
    row(f"SVI, the fold of {len(fold)} runs alone", fit, fold, ModelSpec(), config)
    cut = table.select(held)
    row(
        f"predictive of {len(cut)} runs at budgets {', '.join(map(str, BUDGETS))}",
        lambda: [predictive_components(posterior, cut.truncate(b)) for b in BUDGETS],
    )


if __name__ == "__main__":
    main()
