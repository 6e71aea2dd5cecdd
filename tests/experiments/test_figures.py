"""Every paper figure script runs on a tiny artifact tree, and a missing artifact names its command.

The tree is written into ``tmp_path`` with the schemas of the real artifacts: the fit summaries'
risk blocks come from the fit app's own summariser on an analytic risk curve, the rest are small
hand-made records with the fields the commands write. No model is fitted; the whole file takes a
few seconds on the Agg backend.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import experiments.all as driver  # noqa: E402
from experiments.artifacts import ARTIFACTS, Artifact, ArtifactMissing  # noqa: E402
from experiments.figures import FIGURES  # noqa: E402
from experiments.figures.fig1_phase_diagram import alpha_min  # noqa: E402
from experiments.figures.fig6_screening import tradeoff  # noqa: E402
from tuneahead.artifacts import write_json  # noqa: E402
from tuneahead.evaluation import CALIBRATION_LEVELS  # noqa: E402
from tuneahead.risk import REGIMES, RiskConfig, RiskCurve, summarize_risk  # noqa: E402
from tuneahead.screen import best_saving_at_recall  # noqa: E402

RISK_CFG = {"budgets": [0, 25, 50, 100, 200, 400], "epsilon": 3.0, "c_max": 400, "gamma": 1.0, "cost_per_step": None}


def _curve(L_int: float, K: float, alpha: float, budgets, rng, draws: int = 40) -> RiskCurve:
    c = np.asarray(budgets, float)
    v = K * np.where(c > 0, c, 5.0) ** -alpha
    scale = rng.lognormal(0.0, 0.1, size=(draws, 1))
    return RiskCurve(
        budgets=c,
        total=L_int + v,
        draws=L_int + v * scale,
        intrinsic=L_int,
        intrinsic_draws=L_int * rng.lognormal(0.0, 0.05, draws),
    )


def _fit_summary(L_int, K, alpha, rng, budgets=RISK_CFG["budgets"]) -> dict:
    cfg = RiskConfig(**RISK_CFG)
    post, post_regime = summarize_risk(_curve(L_int, K, alpha, budgets, rng), cfg, 0.002)
    brute, brute_regime = summarize_risk(_curve(0.8 * L_int, 0.6 * K, alpha * 1.1, budgets, rng), cfg, 0.002)
    return {
        "experiment": {"risk": RISK_CFG},
        "data": {"n_runs": 40, "n_train": 28, "n_test": 12},
        "risk": post,
        "regime": post_regime,
        "truth": {
            "kind": "brute force",
            "n_runs": 12,
            "risk": brute,
            "regime": brute_regime,
            "posterior_on_same_runs": post,
        },
    }


TINY_BUDGETS = [0.0, 10.0, 20.0, 40.0, 80.0]
TINY_METHODS = ("ours", "tuneahead", "last_value")


def _write_lower_bound(root: Path) -> None:
    write_json(
        [
            {
                "rho": rho,
                "bound_2rho_minus_1": 2 * rho - 1,
                "alpha": 0.3,
                "alpha_q05": 0.1,
                "alpha_q95": 0.6,
                "K": 40.0,
                "naive_loglog_alpha": 0.4,
                "budgets": TINY_BUDGETS,
                "V_opt": [30.0, 9.0, 6.0, 4.0, 2.5],
                "V_opt_se": [3.0, 1.0, 0.8, 0.5, 0.4],
                "L_int": 2.0,
                "n_runs": 8,
                "branches": 4,
            }
            for rho in (0.75, 1.0)
        ],
        root / "theory" / "lower_bound.json",
    )


def _write_lower_bound_posterior(root: Path) -> None:
    write_json(
        [
            {
                "rho": rho,
                "budgets": TINY_BUDGETS,
                "L": [40, 12, 9, 6, 4],
                "V_opt": [38, 10, 7, 4, 2],
                "V_opt_q05": [30, 8, 5, 3, 1.5],
                "V_opt_q95": [45, 12, 9, 5, 3],
                "L_int": 2.0,
                "K": 90.0,
                "alpha": 0.8,
                "steps": 200,
            }
            for rho in (0.75, 1.0)
        ],
        root / "theory" / "lower_bound_posterior.json",
    )


def _write_epistemic_variance(root: Path) -> None:
    budgets = [0.0, 200.0, 500.0, 1000.0, 2000.0]
    v_opt = [9.0, 4.0, 2.5, 1.2, 0.0]
    fits = [
        {"n_train": n, "L": [], "L_int": 2.2, "V_opt": v_opt, "V_epi": [e, e / 2, e / 3, e / 4, e / 4], "seconds": 1.0}
        for n, e in ((100, 3.0), (300, 1.0), (1000, 0.3))
    ]
    write_json(
        {"budgets": budgets, "candidates": 20, "true_V_opt": v_opt, "true_L_int": 2.25, "fits": fits},
        root / "theory" / "epistemic_variance.json",
    )


def _write_scheduler_replay(root: Path) -> None:
    methods = {
        "scheduler, gamma=1": {"kind": "scheduler", "compute": 0.21, "regret": 0.12, "promoted": 37},
        "scheduler, gamma=10": {"kind": "scheduler", "compute": 0.30, "regret": 0.03, "promoted": 72},
        "MedianPruner": {"kind": "pruner", "compute": 0.24, "regret": 0.0, "promoted": 78},
    }
    write_json({"set": "deberta-base", "held_out": 307, "methods": methods}, root / "theory" / "scheduler_replay.json")


def _write_budget(root: Path) -> None:
    write_json(
        {
            "K": 26.0,
            "alpha": 0.43,
            "lambda": 0.005,
            "L_int": 2.3,
            "budgets": TINY_BUDGETS + [160.0],
            "L": [47.0, 12.1, 10.2, 8.2, 5.3, 4.8],
            "n_runs": 8,
            "branches": 4,
            "rows": [
                {
                    "gamma": g,
                    "c_star": c,
                    "argmin_grid": a,
                    "F_at_c_star": f,
                    "F_min_grid": m,
                    "objective_gap": (f - m) / m,
                }
                for g, c, a, f, m in ((4.0, 60.0, 80.0, 6.6, 6.0), (20.0, 25.0, 20.0, 11.0, 10.5))
            ],
        },
        root / "theory" / "budget.json",
    )


def _write_phase_diagram(root: Path, rng) -> None:
    presets = {"static_sufficient": (0.3, 0.32), "dynamic_critical": (2.5, 30.0), "noise_dominant": (95.0, 96.0)}
    tasks = []
    for (preset, (li, l0)), regime in zip(presets.items(), REGIMES):
        for s in range(2):
            tasks.append(
                {
                    "preset": preset,
                    "seed": 1000 + s,
                    "expected": regime,
                    "brute": regime,
                    "brute_L0": l0,
                    "brute_L_int": li * (1 + 0.1 * s),
                    "posterior": regime,
                    "posterior_L0": l0 * 1.1,
                    "posterior_L_int": li * 1.2,
                    "posterior_alpha": 0.05 + 0.4 * rng.uniform(),
                    "posterior_probabilities": {r: float(r == regime) for r in REGIMES},
                }
            )
    write_json({"tasks": tasks, "confusion_brute": np.eye(3, dtype=int) * 2}, root / "theory" / "phase_diagram.json")


def _write_fits(root: Path, rng) -> None:
    """The three preset fits and the DeBERTa fit (which has no brute-force truth)."""
    for name, (li, k, a) in {
        "synthetic_static_sufficient": (0.3, 0.01, 0.5),
        "synthetic_final": (3.0, 300.0, 1.0),
        "synthetic_noise_dominant": (90.0, 3.0, 0.3),
    }.items():
        write_json(_fit_summary(li, k, a, rng), root / "fit" / name / "summary.json")
    deberta = _fit_summary(1.9, 2000.0, 0.5, rng, budgets=[0, 1000, 2000, 4000, 8000])
    deberta["experiment"]["risk"] = {**RISK_CFG, "c_max": 4000}
    del deberta["truth"]
    write_json(deberta, root / "fit" / "deberta" / "summary.json")


def _write_evaluation_results(root: Path, rng) -> None:
    """``results.json`` of the simulated and the DeBERTa evaluation, with their calibration blocks."""
    experiment = {
        "predict": {"level": 0.9},
        "probe": {"budget": 2000},
        "evaluation": {
            "explain": {"budget": None},
            "screen": {"top_quantile": 0.75, "recall": 0.95, "resume_from_probe": True},
        },
    }
    for name, eval_budgets in (("synthetic", (25.0, 100.0)), ("deberta_nuts", (1000.0, 4000.0))):
        calibration = [
            {
                "split": split,
                "budget": b,
                "method": m,
                "label": m,
                "n": 30,
                "levels": list(CALIBRATION_LEVELS),
                "coverage": np.clip(
                    np.asarray(CALIBRATION_LEVELS) + rng.normal(0, 0.05, len(CALIBRATION_LEVELS)), 0, 1
                ),
            }
            for split in ("random", "grouped")
            for b in eval_budgets
            for m in ("ours", "tuneahead")
        ]
        write_json(
            {"experiment": experiment, "budgets": eval_budgets, "calibration": calibration},
            root / "evaluate" / name / "results.json",
        )


def _write_predictions(folder: Path, rng) -> None:
    """``predictions.csv``: 30 held-out runs, a fifth of them diverged, for every split, budget and method."""
    n = 30
    final = np.where(rng.uniform(size=n) < 0.2, rng.normal(33, 1, n), rng.normal(85, 3, n))
    frames = []
    for split in ("random", "grouped"):
        for b in (1000.0, 4000.0):
            for m in TINY_METHODS:
                mean = final + rng.normal(0, 4, n)
                frames.append(
                    pd.DataFrame(
                        {
                            "split": split,
                            "method": m,
                            "budget": b,
                            "run_id": [f"r/{i}" for i in range(n)],
                            "final": final,
                            "total_steps": rng.choice([8000.0, 16000.0], n),
                            "mean": mean,
                            "lower": mean - 6,
                            "upper": mean + 6,
                            "pit": rng.uniform(size=n) if m == "ours" else np.nan,
                            "p_top": rng.uniform(size=n) if m == "ours" else np.nan,
                        }
                    )
                )
    pd.concat(frames).to_csv(folder / "predictions.csv", index=False)


def _write_screening(folder: Path) -> None:
    """``screening.csv``: one replayed pruner per split and budget."""
    pd.DataFrame(
        [
            {
                "split": s,
                "budget": b,
                "method": "Optuna MedianPruner",
                "kind": "pruner",
                "compute_saved": 0.7,
                "successes_kept": 0.8,
                "sent_share": 0.3,
            }
            for s in ("random", "grouped")
            for b in (1000.0, 4000.0)
        ]
    ).to_csv(folder / "screening.csv", index=False)


def _write_explanations(folder: Path, rng) -> None:
    """``explanations.csv``: three features' attributions for six runs, for ours and the TuneAhead baseline."""
    rows = [
        {
            "run_id": f"r/{i}",
            "feature": f,
            "value": rng.normal(),
            "attribution": rng.normal(0, w),
            "base_value": 70.0,
            "prediction": 80.0,
            "method": m,
        }
        for m in ("ours", "tuneahead")
        for i in range(6)
        for f, w in (("log_lr", 5.0), ("epochs", 1.0), ("warmup", 0.3))
    ]
    pd.DataFrame(rows).to_csv(folder / "explanations.csv", index=False)


def write_tiny_artifacts(root: Path, seed: int = 0) -> Path:
    """A complete artifact tree under ``root`` with the fields the figures read."""
    rng = np.random.default_rng(seed)
    _write_lower_bound(root)
    _write_lower_bound_posterior(root)
    _write_budget(root)
    _write_epistemic_variance(root)
    _write_scheduler_replay(root)
    _write_phase_diagram(root, rng)
    _write_fits(root, rng)
    _write_evaluation_results(root, rng)
    folder = root / "evaluate" / "deberta_nuts"
    _write_predictions(folder, rng)
    _write_screening(folder)
    _write_explanations(folder, rng)
    return root


@pytest.fixture(scope="module")
def tiny_outputs(tmp_path_factory):
    return write_tiny_artifacts(tmp_path_factory.mktemp("outputs"))


def test_the_tiny_tree_is_complete(tiny_outputs):
    for a in ARTIFACTS.values():
        assert a.problems(tiny_outputs) == [], a.name


@pytest.mark.parametrize("name", FIGURES)
def test_figure_script_writes_a_pdf_and_a_png(name, tiny_outputs, tmp_path):
    module = __import__(f"experiments.figures.{name}", fromlist=["main"])
    paths = module.main(["--outputs", str(tiny_outputs), "--out", str(tmp_path)])
    assert sorted(p.name for p in paths) == [f"{name}.pdf", f"{name}.png"]
    assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000  # a drawn figure, not an empty canvas


@pytest.mark.parametrize("name", FIGURES)
def test_a_missing_artifact_names_its_command(name, tiny_outputs, tmp_path):
    module = __import__(f"experiments.figures.{name}", fromlist=["plot", "ARTIFACTS"])
    victim = ARTIFACTS[module.ARTIFACTS[-1]]
    root = write_tiny_artifacts(tmp_path / "outputs")
    victim.path(root, victim.files[0]).unlink()
    with pytest.raises(ArtifactMissing, match="Make it with `python -m") as err:
        module.plot(root, tmp_path / "figs")
    assert str(victim.path(root, victim.files[0])) in str(err.value)


def test_an_evaluation_without_calibration_counts_as_stale(tmp_path):
    root = write_tiny_artifacts(tmp_path)
    path = ARTIFACTS["deberta_eval"].path(root, "results.json")
    results = json.loads(path.read_text())
    del results["calibration"]
    path.write_text(json.dumps(results))
    assert any("no 'calibration'" in p for p in ARTIFACTS["deberta_eval"].problems(root))
    from experiments.figures import fig4_calibration

    with pytest.raises(ArtifactMissing, match="tuneahead.evaluate \\+experiment=deberta_eval"):
        fig4_calibration.plot(root, tmp_path / "figs")


def test_alpha_min_is_where_the_power_law_meets_the_tolerance():
    L_int, K, eps, c_max = np.array([0.5, 2.0, 8.0]), 300.0, 3.0, 400.0
    a = alpha_min(L_int, K, eps, c_max)
    np.testing.assert_allclose(L_int + K * c_max**-a, eps**2, rtol=1e-12)
    assert np.isnan(alpha_min(9.5, K, eps, c_max))  # right of the Noise-Dominant wall


@pytest.mark.parametrize("resume", [True, False])
def test_screening_tradeoff_matches_the_headline_saving(resume, rng):
    score = np.round(rng.normal(size=200), 1)  # ties, which a threshold keeps together
    top = rng.uniform(size=200) < 0.25
    total = rng.choice([1000.0, 4000.0], 200)
    kept, saved = tradeoff(score, top, total, 500.0, resume)
    assert kept[0] == 1.0 and kept[-1] == 0.0
    for recall in (0.5, 0.8, 0.95):
        best = best_saving_at_recall(score, top, total, 500.0, recall, resume)
        assert saved[kept >= recall].max() == pytest.approx(best["compute_saved"])


def test_driver_keeps_complete_artifacts_and_makes_the_figures(tiny_outputs, tmp_path, capsys):
    assert driver.main(["--outputs", str(tiny_outputs), "--out", str(tmp_path), "--only", "3", "8"]) == 0
    out = capsys.readouterr().out
    assert "0 artifact(s) to make" in out and not any(line.startswith("  make ") for line in out.splitlines())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fig3_budget_optimal_probe.pdf",
        "fig3_budget_optimal_probe.png",
        "fig8_risk_split.pdf",
        "fig8_risk_split.png",
    ]


def test_driver_plan_lists_the_commands_of_missing_artifacts(tmp_path, capsys):
    assert driver.main(["--outputs", str(tmp_path), "--only", "2", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "python -m theory.check_lower_bound --json" in out
    assert "python -m experiments.lower_bound_posterior --json" in out
    assert "tuneahead.fit" not in out  # figure 2 reads no fit


def test_driver_runs_a_command_into_a_new_folder_and_logs_it(tmp_path, capsys):
    script = "import json, sys; json.dump({'ok': 1}, open(sys.argv[1], 'w')); print('wrote it')"
    made = Artifact(
        "probe_artifact",
        "new/deeper",
        ("x.json",),
        ("python", "-c", script, "{folder}/x.json"),
        ("python", "-c", script, "{folder}/x.json"),
        0.1,
        "a test artifact",
        (("x.json", "ok"),),
    )
    seconds = driver.make_artifact(made, tmp_path, False, tmp_path / "logs")
    assert seconds > 0 and made.problems(tmp_path) == []
    assert (
        "wrote it" in capsys.readouterr().out and "wrote it" in (tmp_path / "logs" / "probe_artifact.log").read_text()
    )
    broken = Artifact("broken", "b", ("y.json",), ("python", "-c", "raise SystemExit(3)"), ("python",), 0.1, "fails")
    with pytest.raises(RuntimeError, match="exit code 3"):
        driver.make_artifact(broken, tmp_path, False, tmp_path / "logs")
