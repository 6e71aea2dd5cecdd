"""Check the posterior against the truth of simulated runs, with a pass/fail verdict.

Runs the synthetic experiment (``python -m tuneahead.fit +experiment=synthetic``) into a folder and
sets the posterior's risk split beside the truth on the same held-out runs:

- the **probe-information reference** (the primary truth: what the curves of a run can reveal,
  from many fresh seeds of its config; ``tuneahead/validation/probe_information.py``), against the
  posterior's risk under known parameters, :math:`L_{int} + V_{opt}(c)`;
- **brute force** (the floor: what the run's hidden state would reveal);
- the **realized squared error** of the predictive mean, against the posterior's whole
  :math:`L(c) = L_{int} + V_{opt}(c) + V_{epi}(c)`.

The verdict (exit status 1 when any part fails), with tolerances that follow from the sizes:

- held-out 90% coverage within 3 standard errors of 0.9 (:math:`\\sqrt{0.09/n}` for n runs);
- L(c) within 25% of the reference at every budget, or within 3 of the reference's standard errors
  where that is wider (a small reference is noisy);
- c* within 30% of the reference's (both capped at the run length T; not applicable where the
  reference's V_opt does not fall, so that it has no c*), and the same regime.

    python theory/check_posterior.py                        # the main job's size (minutes)
    python theory/check_posterior.py --fast --json out.json # a smoke-sized version
    python theory/check_posterior.py data.preset=noise_dominant ...   # any Hydra override
    python theory/check_posterior.py --scale-noise 0.5      # halve sigma_eps: the check must fail
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

from tuneahead.artifacts import write_json
from tuneahead.inference import use_host_devices
from tuneahead.model import Posterior, StackedPosterior
from tuneahead.pipeline import fit_job, run_fit

CONF = Path(__file__).resolve().parents[1] / "conf"

FAST = [
    "data.n_tasks=4",
    "data.configs_per_task=3",
    "data.seeds=8",
    "data.simulator={steps: 200, eval_every: 20, n_eval: 256}",
    "inference.num_warmup=300",
    "inference.num_samples=300",
    "inference.progress=false",
    "probe.budget=40",
    "risk.budgets=[0,20,40,80]",
    "risk.c_max=160",
    "risk.max_draws=100",
    "predict.max_draws=100",
    "truth.max_runs=24",
    "truth.branches=6",
    "truth.probe_seeds=24",
]


def check(overrides=(), out_dir: str | Path = "outputs/theory/posterior", scale_noise: float = 1.0) -> dict:
    """Run the synthetic experiment with ``overrides`` and return its summary; ``scale_noise``
    multiplies the fitted sigma_eps draws (a deliberately broken variance, to see the check fail)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["+experiment=synthetic", *overrides])
    if scale_noise == 1.0:
        return run_fit(cfg, out_dir)
    fit_posterior = fit_job.fit_posterior

    def one(posterior: Posterior) -> Posterior:
        idata = posterior.idata.copy()
        idata.posterior["sigma_eps"] = idata.posterior["sigma_eps"] * scale_noise
        return Posterior(idata, posterior.design, posterior.diagnostics)

    def scaled(train, settings, split=None):
        posterior, seconds = fit_posterior(train, settings, split)
        if isinstance(posterior, StackedPosterior):  # every stacked variant's noise
            members = {name: one(m) for name, m in posterior.members.items()}
            return StackedPosterior.from_members(members, posterior.weights, posterior.diagnostics.extra), seconds
        return one(posterior), seconds

    fit_job.fit_posterior = scaled
    try:
        return run_fit(cfg, out_dir)
    finally:
        fit_job.fit_posterior = fit_posterior


def verdict(summary: dict) -> dict:
    """Each part of the check with its value, tolerance and whether it passed (module doc)."""
    held, cmp = summary["heldout"], summary["truth"]["comparison"]
    n = held["n"]
    tol = 3 * np.sqrt(0.09 / n)
    ref = np.asarray(cmp["L_probe_reference"], dtype=float)
    ref_se = np.asarray(cmp["L_probe_reference_se"], dtype=float)
    post = np.asarray(cmp["L_posterior_per_draw"], dtype=float)
    L_tol = np.maximum(0.25 * ref, 3 * ref_se)
    T = summary["risk"]["horizon"]
    c_post, c_ref = (
        min(np.nan if cmp["c_star"][k] is None else cmp["c_star"][k], T) for k in ("posterior", "probe_reference")
    )
    parts = {
        "coverage_90": {
            "value": held["coverage_90"],
            "tolerance": float(tol),
            "passed": bool(abs(held["coverage_90"] - 0.9) <= tol),
        },
        "L_vs_probe_reference": {
            "budgets": cmp["budgets"],
            "posterior": post.tolist(),
            "reference": ref.tolist(),
            "tolerance": L_tol.tolist(),
            "passed": bool(np.all(np.abs(post - ref) <= L_tol)),
        },
        "c_star": {
            "posterior": c_post,
            "reference": c_ref,
            # no c* where the reference's V_opt does not fall (alpha undefined): nothing to compare
            "passed": bool(abs(c_post - c_ref) <= 0.3 * c_ref) if np.isfinite(c_ref) else None,
        },
        "regime": {
            "posterior": cmp["regime"]["posterior"],
            "reference": cmp["regime"]["probe_reference"],
            "passed": bool(cmp["regime"]["agrees_with_probe_reference"]),
        },
    }
    return {"parts": parts, "passed": all(p["passed"] is not False for p in parts.values())}


def _steps(c) -> str:
    return "none" if c is None or c != c else f"{c:.0f}"


def report(summary: dict, result: dict) -> str:
    """The comparison budget by budget, then the verdict."""
    truth = summary["truth"]
    cmp = truth["comparison"]
    lines = [
        f"{truth['n_runs']} held-out runs, {truth['branches']} branches per run and budget, "
        f"{truth['probe_reference']['seeds']} fresh seeds of each run's config",
        "",
        "     c   L_int+V_opt: posterior  reference (se)   brute   |  L(c): posterior  realized (se)   V_epi",
    ]
    for i, c in enumerate(cmp["budgets"]):
        lines.append(
            f"{c:6g}   {cmp['L_posterior_per_draw'][i]:20.2f}  {cmp['L_probe_reference'][i]:8.2f} "
            f"({cmp['L_probe_reference_se'][i]:5.2f})  {cmp['L_int_brute'] + cmp['V_opt_brute'][i]:6.2f}   |"
            f"  {cmp['L_posterior'][i]:14.2f}  {cmp['realized_squared_error'][i]:8.2f} "
            f"({cmp['realized_squared_error_se'][i]:5.2f})  {cmp['V_epi_posterior'][i]:6.2f}"
        )
    lines += [
        "",
        f"L_int: posterior {cmp['L_int_posterior']:.3f}, reference {cmp['L_int_probe_reference']:.3f}, "
        f"brute force {cmp['L_int_brute']:.3f}",
        f"c*: posterior {_steps(cmp['c_star']['posterior'])}, reference {_steps(cmp['c_star']['probe_reference'])}, "
        f"brute force {_steps(cmp['c_star']['brute'])} (compared capped at T = {summary['risk']['horizon']:g})",
        f"regime: posterior {cmp['regime']['posterior']}, reference {cmp['regime']['probe_reference']}, "
        f"brute force {cmp['regime']['brute']}",
        f"held-out at c = {summary['probe_budget']:g}: RMSE {summary['heldout']['rmse']:.3f}, "
        f"90% coverage {summary['heldout']['coverage_90']:.3f}",
        "",
    ]
    verdicts = {True: "pass", False: "FAIL", None: "n/a"}
    lines += [f"{name}: {verdicts[part['passed']]}" for name, part in result["parts"].items()]
    lines.append(f"verdict: {'PASS' if result['passed'] else 'FAIL'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="outputs/theory/posterior", help="output folder of the fit")
    parser.add_argument("--fast", action="store_true", help="a smoke-sized population and fit")
    parser.add_argument("--json", metavar="FILE", help="write the summary's comparison and the verdict here")
    parser.add_argument("--scale-noise", type=float, default=1.0, help="multiply the fitted sigma_eps (0.5: broken)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides")
    args = parser.parse_args(argv)
    use_host_devices(2)  # as the fit app does: the two NUTS chains side by side
    overrides = [*(FAST if args.fast else []), *args.overrides]
    summary = check(overrides, args.out, args.scale_noise)
    result = verdict(summary)
    print(report(summary, result))
    if args.json:
        write_json({"verdict": result, "comparison": summary["truth"]["comparison"]}, Path(args.json))
    print(json.dumps({"summary": str(Path(args.out) / "summary.json"), "passed": result["passed"]}))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
