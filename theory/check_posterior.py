"""Check the posterior against brute force on the same simulated runs: L_int and V_opt(c).

Runs the default synthetic experiment (``python -m tuneahead.fit +experiment=synthetic``) into a
folder and prints, budget by budget, the posterior's V_opt(c) (mean over draws of the per-draw
V_opt, with its 90% band) beside the brute-force V_opt(c) with its standard error, and beside the
probe-information reference (what the curves alone reveal, from many fresh seeds per config; see
``tuneahead/validation/probe_information.py``), then L_int, alpha, c* and the regime from both.
Extra arguments are Hydra overrides.

    python theory/check_posterior.py                       # the default experiment (minutes)
    python theory/check_posterior.py data.n_tasks=4 ...    # any override
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hydra import compose, initialize_config_dir

from tuneahead.pipeline import run_fit

CONF = Path(__file__).resolve().parents[1] / "conf"


def check(overrides=(), out_dir: str | Path = "outputs/theory/posterior") -> dict:
    """Run the synthetic experiment with ``overrides`` and return its summary."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["+experiment=synthetic", *overrides])
    return run_fit(cfg, out_dir)


def report(summary: dict) -> str:
    truth = summary["truth"]
    cmp = truth["comparison"]
    lines = [
        f"{truth['n_runs']} held-out runs, {truth['branches']} branches per run and budget",
        "",
        "     c   V_opt brute (se)   probe reference (se)   V_opt posterior [90% band]   vs brute   vs probe ref",
    ]

    def pct(x):
        return "" if x is None or x != x else f"{100 * x:+6.1f}%"

    for i, c in enumerate(cmp["budgets"]):
        lines.append(
            f"{c:6g}   {cmp['V_opt_brute'][i]:7.2f} ({cmp['V_opt_brute_se'][i]:5.2f})   "
            f"{cmp['V_opt_probe_reference'][i]:8.2f} ({cmp['V_opt_probe_reference_se'][i]:5.2f})        "
            f"{cmp['V_opt_posterior'][i]:7.2f} "
            f"[{cmp['V_opt_posterior_q05'][i]:6.2f}, {cmp['V_opt_posterior_q95'][i]:6.2f}]"
            f"   {pct(cmp['V_opt_relative_error'][i]):>8s}"
            f"   {pct(cmp['V_opt_relative_error_to_probe_reference'][i]):>8s}"
        )
    lines += [
        "",
        f"L_int: posterior {cmp['L_int_posterior']:.3f}, brute force {cmp['L_int_brute']:.3f} "
        f"({100 * cmp['L_int_relative_error']:+.1f}%); brute force plus what the whole curve leaves hidden "
        f"{cmp['L_int_probe_reference']:.3f} ({100 * cmp['L_int_relative_error_to_probe_reference']:+.1f}%)",
        f"alpha: posterior {cmp['alpha']['posterior']:.3f}, brute force {cmp['alpha']['brute']:.3f} "
        f"[{cmp['alpha']['brute_q05']:.3f}, {cmp['alpha']['brute_q95']:.3f}]",
        f"c*: posterior {cmp['c_star']['posterior']:.0f}, brute force {cmp['c_star']['brute']:.0f}",
        f"regime: posterior {cmp['regime']['posterior']} {cmp['regime']['posterior_probabilities']}, "
        f"brute force {cmp['regime']['brute']}",
        f"held-out at c = {summary['probe_budget']:g}: RMSE {summary['heldout']['rmse']:.3f}, "
        f"90% coverage {summary['heldout']['coverage_90']:.3f}",
    ]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="outputs/theory/posterior", help="output folder of the fit")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides")
    args = parser.parse_args(argv)
    summary = check(args.overrides, args.out)
    print(report(summary))
    print(json.dumps({"summary": str(Path(args.out) / "summary.json")}))
    return summary


if __name__ == "__main__":
    main()
