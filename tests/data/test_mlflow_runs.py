"""MLflow tracking stores, written through the real MLflow client, read as a RunTable."""

import math
import sys
import time

import numpy as np
import pytest
from hydra.utils import instantiate

from tuneahead.data.errors import RunTableError
from tuneahead.data.mlflow_runs import load_mlflow_runs, tracking_uri

pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings("ignore:.*noload.*:DeprecationWarning")  # inside mlflow's SQL store

LOSS = [2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.8, 0.78, 0.77, 0.76]


def _log_run(client, experiment_id, name, params, losses, accuracy, finish=True, grad_norm=()):
    """One run as a training script logs it: params, a loss every step, an accuracy every 5 steps."""
    run = client.create_run(experiment_id, run_name=name)
    rid = run.info.run_id
    for key, value in params.items():
        client.log_param(rid, key, value)
    for step, loss in enumerate(losses, start=1):
        client.log_metric(rid, "train_loss", loss, step=step)
    now = int(time.time() * 1000)
    for i, (step, acc) in enumerate(accuracy):
        client.log_metric(rid, "eval_accuracy", acc, timestamp=now + i, step=step)
    for step, value in grad_norm:
        client.log_metric(rid, "grad_norm", value, step=step)
    if finish:
        client.set_terminated(rid)
    return rid


def _fill(client):
    sweep = client.create_experiment("sweep")
    common = {"batch_size": 8, "optimizer": "adamw", "max_steps": 10}
    _log_run(
        client,
        sweep,
        "lr-1e-3",
        {"learning_rate": 1e-3, **common},
        LOSS,
        [(5, 0.70), (10, 0.80), (10, 0.82)],  # evaluated twice at the end: the last value counts
        grad_norm=[(1, 1.0), (2, math.inf), (3, 0.5)],  # a skipped step's infinite norm, not divergence
    )
    _log_run(
        client,
        sweep,
        "lr-1e-1",
        {"learning_rate": 0.1, **common, "batch_size": 16},
        LOSS[:6] + [math.nan] * 4,
        [(5, 0.60), (10, 0.33)],
    )
    _log_run(client, sweep, "lr-1e-2", {"learning_rate": 1e-2, **common}, LOSS[:4], [], finish=False)
    client.set_terminated(client.create_run(sweep, run_name="parent").info.run_id)
    other = client.create_experiment("other")
    _log_run(client, other, "lr-3e-3", {"learning_rate": 3e-3, **common}, LOSS, [(5, 0.7), (10, 0.9)])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite store: experiment ``sweep`` with a healthy, a diverged, a running and a parent run,
    and experiment ``other`` with one run."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    _fill(MlflowClient(f"sqlite:///{path}"))
    return path


def test_mlflow_store_as_runtable(store):
    t = load_mlflow_runs(f"sqlite:///{store}", final_metric="eval_accuracy", experiment="sweep", budget="max_steps")
    assert list(t.run_id) == ["lr-1e-1", "lr-1e-2", "lr-1e-3"]  # the parent run logged no metric
    assert set(t.group) == {"sweep"}
    assert list(t.budget) == [10, 10, 10]
    assert t.final[[0, 2]] == pytest.approx([0.33, 0.82]) and np.isnan(t.final[1])
    assert t.diverged[[0, 2]].tolist() == [1.0, 0.0] and np.isnan(t.diverged[1])
    # numeric params that vary; the optimizer string and the constant max_steps are left out
    assert t.static_names == ("batch_size", "log10_learning_rate")
    assert t.static == pytest.approx(np.array([[16, -1], [8, -2], [8, -3]]))
    assert t.metrics == ("eval_accuracy", "grad_norm", "train_loss")
    assert list(t.curve("eval_accuracy").points(2)[0]) == [5]  # the final eval is the final score
    steps, values = t.curve("train_loss").points(0)
    assert list(steps) == list(range(1, 11)) and np.isnan(values[6:]).all()
    assert list(t.curve("train_loss").points(1)[0]) == [1, 2, 3, 4]
    steps, values = t.curve("grad_norm").points(2)
    assert list(steps) == [1, 3] and list(values) == [1.0, 0.5]


def test_mlflow_options(store):
    t = load_mlflow_runs(
        store,
        final_metric="train_loss",
        static=["learning_rate", "batch_size"],
        log10=[],
        drop_constant=False,
        group_by="optimizer",
        curves=["eval_accuracy"],
        diverged_score=5.0,
    )
    assert list(t.run_id) == ["lr-1e-1", "lr-1e-2", "lr-1e-3", "lr-3e-3"]
    assert set(t.group) == {"adamw"} and t.metrics == ("eval_accuracy",)
    assert t.static[:, 0] == pytest.approx([0.1, 1e-2, 1e-3, 3e-3])
    # the running run's budget is its largest step so far; the diverged run scores diverged_score
    assert list(t.budget) == [10, 4, 10, 10]
    assert t.final[0] == 5.0 and t.final[2] == pytest.approx(0.76)
    other = load_mlflow_runs(store, final_metric="eval_accuracy", experiment=["other"], group="g")
    assert list(other.run_id) == ["lr-3e-3"] and list(other.group) == ["g"]
    assert list(other.static_names) == []  # one run: every feature is constant


def test_mlflow_errors(store, tmp_path):
    with pytest.raises(
        RunTableError, match=r"unknown experiment\(s\) \['sweeep'\]; the store has \['Default', 'other', 'sweep'\]"
    ):
        load_mlflow_runs(store, final_metric="eval_accuracy", experiment="sweeep")
    with pytest.raises(
        RunTableError, match=r"unknown final_metric 'accuracy'.*\['eval_accuracy', 'grad_norm', 'train_loss'\]"
    ):
        load_mlflow_runs(store, final_metric="accuracy")
    with pytest.raises(RunTableError, match=r"run 'lr-1e-1' \(mlflow run \w+\): static feature 'optimizer' is 'adamw'"):
        load_mlflow_runs(store, final_metric="eval_accuracy", static=["optimizer"])
    with pytest.raises(RunTableError, match=r"run 'lr-1e-1'.*budget key 'steps' is not in its config"):
        load_mlflow_runs(store, final_metric="eval_accuracy", budget="steps")
    with pytest.raises(RunTableError, match="no runs found"):
        load_mlflow_runs(store, final_metric="eval_accuracy", filter_string="params.optimizer = 'sgd'")
    with pytest.raises(RunTableError, match="no such SQLite file"):
        load_mlflow_runs(f"sqlite:///{tmp_path}/none.db", final_metric="eval_accuracy")
    with pytest.raises(RunTableError, match="no such MLflow store"):
        load_mlflow_runs(tmp_path / "none", final_metric="eval_accuracy")


def test_mlflow_file_store(tmp_path, monkeypatch):
    """MLflow 3 keeps the file store behind MLFLOW_ALLOW_FILE_STORE; with it set, it reads the same."""
    from mlflow import MlflowClient

    folder = tmp_path / "mlruns"
    folder.mkdir()
    assert tracking_uri(folder) == folder.resolve().as_uri()
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(RunTableError, match="set MLFLOW_ALLOW_FILE_STORE=true"):
        load_mlflow_runs(folder, final_metric="eval_accuracy")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(folder.as_uri())
    _log_run(client, client.create_experiment("sweep"), "a", {"lr": 1e-3}, LOSS, [(10, 0.8)])
    _log_run(client, client.get_experiment_by_name("sweep").experiment_id, "b", {"lr": 1e-2}, LOSS, [(10, 0.7)])
    t = load_mlflow_runs(folder, final_metric="eval_accuracy", experiment="sweep")
    assert list(t.run_id) == ["a", "b"] and t.final == pytest.approx([0.8, 0.7])
    assert t.static_names == ("log10_lr",) and t.static[:, 0] == pytest.approx([-3, -2])


def test_mlflow_missing_extra(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(RunTableError, match=r"pip install tuneahead\[loaders\]"):
        load_mlflow_runs(store, final_metric="eval_accuracy")


def test_mlflow_config_composes(store, compose_app):
    cfg = compose_app(
        "config", ["data=mlflow", f"data.path={store}", "data.final_metric=eval_accuracy", "data.experiment=sweep"]
    )
    assert cfg.data._target_ == "tuneahead.data.mlflow_runs.load_mlflow_runs"
    t = instantiate(cfg.data, _convert_="all")
    assert list(t.run_id) == ["lr-1e-1", "lr-1e-2", "lr-1e-3"]
