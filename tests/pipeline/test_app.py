"""The Hydra app: every config builds, bad keys are refused, and the job runs end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

from tuneahead.data.files import write_runtable
from tuneahead.inference import InferenceConfig
from tuneahead.model.design import ModelSpec
from tuneahead.pipeline import config_object, job_settings, run_fit
from tuneahead.synthetic import PopulationDesign, sample_population

ROOT = Path(__file__).resolve().parents[2]
# Experiments of the fit app (those named *_eval belong to `python -m tuneahead.evaluate`).
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml") if not p.stem.endswith("_eval"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_builds(compose_app, experiment):
    cfg = compose_app("config", [f"+experiment={experiment}"])
    settings = job_settings(cfg)  # every group checked, the model choice's variants included
    spec = settings.spec
    if settings.choice is not None:  # model=auto: each variant is a valid spec
        assert settings.choice.specs(spec)
    assert cfg.probe.budget > 0 and 0 in cfg.risk.budgets
    assert cfg.data._target_.startswith("tuneahead.")
    if experiment == "deberta":
        assert spec.metrics == ("matched",)
        path = Path(cfg.data.path)
        if path.exists():
            table = instantiate(cfg.data)
            assert len(table) == 1024 and "matched" in table.metrics
    if experiment == "alexnet":
        assert spec.metrics == ("top_1",) and cfg.probe.budget == 5
        path = Path(cfg.data.path)
        if path.exists():
            table = instantiate(cfg.data)
            assert len(table) == 512 and table.metrics == ("top_1", "top_5", "train_loss")
    if experiment == "metadataset":
        assert cfg.probe.budget == cfg.data.probe_at == 10


def test_unknown_keys_are_refused(compose_app):
    with pytest.raises(ConfigCompositionException):
        compose_app("config", ["+experiment=synthetic", "model.no_such_key=1"])
    with pytest.raises(ValueError, match="config group 'model'.*known keys are"):
        config_object(
            ModelSpec, compose_app("config", ["+experiment=synthetic", "+model.no_such_key=1"]).model, "model"
        )
    with pytest.raises(ValueError, match="inference.method"):
        InferenceConfig(method="hmc")


@pytest.mark.slow
def test_fit_job_writes_every_artifact(tiny_recovery_overrides, compose_app, tmp_path):
    summary = run_fit(compose_app("config", ["+experiment=recovery", *tiny_recovery_overrides]), tmp_path)
    for name in ("posterior.nc", "summary.json", "predictions.csv", "predicted_vs_true.png", "risk_curve.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["heldout"]["n"] == summary["heldout"]["n"] > 0
    for key in ("rmse", "mae", "acc_within_1", "acc_within_2", "acc_within_3", "coverage_90", "mean_width_90"):
        assert key in saved["heldout"]
    assert saved["risk"]["budgets"] == [0.0, 100.0, 400.0]
    assert saved["regime"]["label"] in ("Static-Sufficient", "Dynamic-Critical", "Noise-Dominant")
    assert sum(saved["regime"]["probabilities"].values()) == pytest.approx(1.0)
    assert {"max_rhat", "min_ess_bulk", "divergences"} <= set(saved["diagnostics"])
    truth = saved["truth"]
    assert truth["parameters"]["sigma_eps"]["truth"] == 1.5
    assert len(truth["comparison"]["V_opt_relative_error"]) == 3
    assert len(truth["comparison"]["V_opt_true_inside_posterior_90"]) == 3


@pytest.mark.slow
def test_fit_job_reads_a_run_file_with_svi(compose_app, tmp_path):
    pop = sample_population(design=PopulationDesign(n_groups=3, runs_per_group=8, budgets=(400.0,)), seed=5)
    path = write_runtable(pop.table, tmp_path / "runs.parquet")
    overrides = [
        "data=file",
        f"data.path={path}",
        "inference=svi",
        "inference.svi_steps=300",
        "inference.svi_draws=50",
        "inference.progress=false",
        "probe.budget=200",
        "risk.budgets=[100,400]",
        "risk.c_max=400",
        "risk.max_draws=20",
        "predict.max_draws=20",
    ]
    summary = run_fit(compose_app("config", overrides), tmp_path / "out")
    assert summary["diagnostics"]["method"] == "svi"
    assert "truth" not in summary
    assert (tmp_path / "out" / "posterior.nc").exists()


def test_numpyro_side_never_imports_torch():
    code = (
        "import sys, tuneahead, tuneahead.fit; [getattr(tuneahead, n) for n in tuneahead.__all__]; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.slow
def test_a_figure_that_fails_costs_no_numbers(tiny_recovery_overrides, compose_app, tmp_path, monkeypatch, caplog):
    import tuneahead.pipeline.fit_job as fit_job

    def broken(*args, **kwargs):
        raise ValueError("no figure today")

    monkeypatch.setattr(fit_job, "plot_risk_curve", broken)
    summary = run_fit(compose_app("config", ["+experiment=recovery", *tiny_recovery_overrides]), tmp_path)
    for name in ("posterior.nc", "summary.json", "predictions.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "summary.json").read_text())["heldout"]["n"] == summary["heldout"]["n"]
    assert not (tmp_path / "risk_curve.png").exists()
    assert "a figure could not be drawn" in caplog.text
