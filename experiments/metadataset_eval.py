"""Fit and evaluate the SmolLM2 LoRA meta-dataset, and set the posterior's L_int beside the seed noise.

    python -m experiments.metadataset_eval --out outputs/metadataset            # all of it, resumable
    python -m experiments.metadataset_eval --out outputs/metadataset --budgets 10 --json F
    python -m experiments.metadataset_eval inference=svi --out outputs/metadataset   # Hydra overrides first

For each probe length c (10, 20 and 40 steps by default) it runs

- ``python -m tuneahead.evaluate +experiment=metadataset_eval data.probe_at=c``: ours beside one-feature
  least squares on the probe's last eval loss, TuneAhead's LightGBM on the same probe features,
  static-only LightGBM and the config ridge, on a random and a task-held-out split;
- ``python -m tuneahead.fit +experiment=metadataset data.probe_at=c``: the posterior's risk split,
  L(0), L_int, V_opt(c) and V_epi(c), and its regime.

A step whose output folder already holds its result is not run again. Then it measures the seed
noise directly from the seed repeats: for each config run with at least ``--min-seeds`` seeds, the
sample variance of the final score over seeds, pooled over configs with equal weight, with a
bootstrap over configs for its standard error (:func:`seed_noise`). Over seeds the config is fixed and the whole run
varies, so if the posterior is right

    L_int  <=  seed variance  <=  L(0),

where L(0) also holds what the static features leave unexplained between configs. The tables are
printed as Markdown (``experiments/metadataset_eval.md`` quotes them) and written as JSON.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.visible_sets import markdown_table, run_app

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "metadata" / "smollm2-lora" / "runs.jsonl"


def seed_noise(path: Path, min_seeds: int, n_boot: int = 2000, seed: int = 0) -> dict:
    """Per-config variance of the final score over seeds, pooled, with a standard error.

    Each config's variance has the normal-theory SE ``var * sqrt(2 / (seeds - 1))``; the pooled
    variance's SE is a bootstrap over configs when there are two or more, and that formula's
    otherwise."""
    finals = defaultdict(list)
    for line in path.read_text().splitlines():
        r = json.loads(line)
        cfg = r["config"]
        finals[(r["dataset"]["name"], cfg["learning_rate"], cfg["lora_rank"])].append(float(r["final"]))
    rows = [
        {"dataset": k[0], "learning_rate": k[1], "lora_rank": k[2], "seeds": len(v)}
        | {"mean": np.mean(v), "var": np.var(v, ddof=1), "var_se": np.var(v, ddof=1) * np.sqrt(2 / (len(v) - 1))}
        for k, v in sorted(finals.items())
        if len(v) >= min_seeds
    ]
    if not rows:
        return {"configs": [], "pooled_var": None, "pooled_var_se": None}
    var = np.array([r["var"] for r in rows])
    if len(var) < 2:
        return {"configs": rows, "pooled_var": float(var[0]), "pooled_var_se": float(rows[0]["var_se"])}
    rng = np.random.default_rng(seed)
    boot = var[rng.integers(0, len(var), size=(n_boot, len(var)))].mean(axis=1)
    return {"configs": rows, "pooled_var": float(var.mean()), "pooled_var_se": float(boot.std(ddof=1))}


def evaluate_budget(c: int, out: Path, overrides: list[str]) -> tuple[pd.DataFrame, dict]:
    """The evaluate table and the fit's risk row at probe length ``c``."""
    ev, fit = out / f"evaluate_c{c}", out / f"fit_c{c}"
    common = [f"data.probe_at={c}", *overrides]
    ev_args = ["tuneahead.evaluate", "+experiment=metadataset_eval", *common]
    run_app(ev_args, ev, "results.json", out / f"evaluate_c{c}.log")
    run_app(["tuneahead.fit", "+experiment=metadataset", *common], fit, "summary.json", out / f"fit_c{c}.log")
    table = pd.read_csv(ev / "table.csv")
    table.insert(0, "probe", c)
    return table, _risk_row(c, fit)


def _risk_row(c: int, fit: Path) -> dict:
    """The fit's L(0), L_int, V_opt(c), V_epi(c), regime and chosen variant at probe length ``c``."""
    summary = json.loads((fit / "summary.json").read_text())
    risk = summary["risk"]
    i = [float(b) for b in risk["budgets"]].index(float(c))
    choice = fit / "model_choice.csv"
    chosen = pd.read_csv(choice).query("chosen")["variant"].item() if choice.exists() else "as configured"
    return {
        "probe": c,
        "L(0)": risk["L"][0],
        "L_int": risk["L_int"]["value"],
        "L_int_q05": risk["L_int"]["q05"],
        "L_int_q95": risk["L_int"]["q95"],
        "V_opt(c)": risk["V_opt"][i],
        "V_epi(c)": risk["V_epi"][i],
        "regime": summary["regime"]["label"],
        "variant": chosen,
        "max_r_hat": summary["diagnostics"]["max_rhat"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "metadataset")
    parser.add_argument("--budgets", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--min-seeds", type=int, default=6)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides passed to both apps")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    noise = seed_noise(RUNS, args.min_seeds)
    tables, risks = [], []
    for c in args.budgets:
        print(f"probe of {c} steps", flush=True)
        table, risk = evaluate_budget(c, args.out, args.overrides)
        tables.append(table)
        risks.append(risk)
    table = pd.concat(tables, ignore_index=True)
    result = {"seed_noise": noise, "risk": risks, "table": table.to_dict(orient="records")}
    (args.json or args.out / "metadataset_eval.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(markdown_table(table))
    print(markdown_table(pd.DataFrame(risks)))
    print(markdown_table(pd.DataFrame(noise["configs"])))
    print(f"pooled seed variance {noise['pooled_var']} (bootstrap SE {noise['pooled_var_se']})")


if __name__ == "__main__":
    main()
