"""The evaluate app: configs build, bad keys are refused, splits partition, and the job runs end to end."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from tuneahead.data.errors import RunTableError
from tuneahead.data.splits import Split
from tuneahead.evaluation import check_evaluation_config
from tuneahead.pipeline import run_evaluation, scored_partition

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))


def _evaluation(cfg):
    return OmegaConf.to_container(cfg.evaluation, resolve=True)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_builds_for_evaluation(experiment, compose_app):
    cfg = compose_app("evaluate", [f"+experiment={experiment}"])
    check_evaluation_config(_evaluation(cfg))
    if experiment == "deberta_eval":
        ev = _evaluation(cfg)
        assert ev["budgets"] == [1000, 2000, 4000]
        assert ev["splits"]["grouped"]["by"] == "num_train_epochs" and "random" in ev["splits"]
        assert list(cfg.model.metrics) == ["matched"]


def test_unknown_keys_are_refused(compose_app):
    with pytest.raises(ConfigCompositionException):
        compose_app("evaluate", ["evaluation.no_such_key=1"])
    ev = _evaluation(compose_app("evaluate", ["+evaluation.screen.no_such_key=1"]))
    with pytest.raises(ValueError, match=r"evaluation.screen: unknown key\(s\) \['no_such_key'\]; known keys"):
        check_evaluation_config(ev)
    ev = _evaluation(compose_app("evaluate", ["evaluation.methods=[ours,oracle]"]))
    with pytest.raises(ValueError, match=r"unknown method\(s\) \['oracle'\]"):
        check_evaluation_config(ev)
    ev = _evaluation(compose_app("evaluate", ["+evaluation.splits.cv={kind: loo}"]))
    with pytest.raises(ValueError, match="splits.cv.kind='loo'"):
        check_evaluation_config(ev)
    ev = _evaluation(compose_app("evaluate", ["+evaluation.splits.cv={kind: kfold, folds: 3, shuffle: true}"]))
    with pytest.raises(ValueError, match=r"splits.cv: unknown key\(s\) \['shuffle'\]"):
        check_evaluation_config(ev)


def test_splits_partition_the_runs(population_table):
    table = population_table
    folds = scored_partition(table, Split.from_config({"kind": "kfold", "folds": 4, "seed": 1}, "cv"))
    held = np.concatenate([te.run_id for _, te in folds])
    assert sorted(held) == sorted(table.run_id)  # every run held out exactly once
    for train, test in folds:
        assert not set(train.run_id) & set(test.run_id) and len(train) + len(test) == len(table)
    ((train, test),) = scored_partition(
        table, Split.from_config({"kind": "group", "by": None, "test_fraction": 0.25, "seed": 0}, "g")
    )
    assert len(set(test.group)) == 1 and not set(test.group) & set(train.group)
    name = table.static_names[0]
    ((train, test),) = scored_partition(
        table, Split.from_config({"kind": "group", "by": name, "test_values": [table.static[0, 0]]}, "x")
    )
    assert (test.static[:, 0] == table.static[0, 0]).all() and (train.static[:, 0] != table.static[0, 0]).all()
    with pytest.raises(RunTableError, match="not a static feature"):
        scored_partition(
            table, Split.from_config({"kind": "group", "by": "no_such_feature", "test_fraction": 0.3}, "x")
        )


@pytest.mark.slow
def test_evaluation_job_writes_every_artifact(tmp_path, tiny_evaluation_overrides, compose_app):
    overrides = [
        *tiny_evaluation_overrides,
        "evaluation.budgets=[200,300]",
        "evaluation.screen.pruners=[{kind: median, percentile: 50}]",
        "evaluation.explain.budget=200",
        "evaluation.explain.candidates=2",
        "evaluation.explain.background=4",
        "evaluation.explain.permutations=1",
        "evaluation.explain.max_draws=10",
        "evaluation.baselines.lightgbm.early_stopping=5",
    ]
    result = run_evaluation(compose_app("evaluate", overrides), tmp_path / "out")
    out = tmp_path / "out"
    for name in (
        "table.md",
        "table.csv",
        "screening.md",
        "screening.csv",
        "predictions.csv",
        "results.json",
        "shap_ours.png",
        "shap_tuneahead.png",
        "explanations.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "table.csv")
    assert len(table) == 8 and set(table.split) == {"random"}
    for col in ("rmse", "mae", "r2", "spearman", "acc_within_3", "coverage_90", "crps", "fit_seconds"):
        assert f"200/{col}" in table and f"300/{col}" in table
    ours = table[table.method == "ours (hierarchical)"].iloc[0]
    assert np.isfinite(ours["200/coverage_90"]) and np.isfinite(ours["200/crps"])
    saved = json.loads((out / "results.json").read_text())
    assert saved["budgets"] == [200.0, 300.0] and len(saved["headline"]) == 4
    # permutation SHAP is additive for every permutation it averages
    assert saved["explanations"]["ours"]["max_additivity_error"] < 1e-6
    assert saved["explanations"]["tuneahead"]["max_additivity_error"] < 1e-6
    preds = pd.read_csv(out / "predictions.csv")
    assert len(preds) == 8 * 2 * 12 and result["table"][0]["method"] == "ours (hierarchical)"
