"""TensorBoard log folders, written by torch's SummaryWriter, read as a RunTable."""

import math
import sys

import numpy as np
import pytest
from hydra.utils import instantiate

from tuneahead.data.errors import RunTableError
from tuneahead.data.tensorboard_runs import load_tensorboard_runs

pytest.importorskip("tbparse")


def _write_run(folder, lr, batch_size, steps, nan_from=None, hparams="end"):
    """One run: a loss every step, an accuracy every 5 steps, hyperparameters through add_hparams
    (at the end, with the final accuracy as its metric, or at the start without metrics)."""
    from torch.utils.tensorboard import SummaryWriter

    hp = {"lr": lr, "batch_size": batch_size, "optimizer": "adam", "use_lora": True}
    with SummaryWriter(str(folder)) as writer:
        if hparams == "start":
            writer.add_hparams(hp, {})
        for step in range(1, steps + 1):
            loss = math.nan if nan_from is not None and step >= nan_from else 2.0 / step
            writer.add_scalar("train/loss", loss, step)
            if step % 5 == 0:
                writer.add_scalar("eval/accuracy", 0.5 + step / 100, step)
        if hparams == "end":
            writer.add_hparams(hp, {"hparam/accuracy": 0.5 + steps / 100})


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """A log folder of three runs of 10 steps: a healthy one, a diverged one (NaN loss from step 8)
    and one still running at step 4."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("tensorboard") / "logs"
    _write_run(root / "lr0.001", 1e-3, 8, 10)
    _write_run(root / "lr0.1", 0.1, 16, 10, nan_from=8)
    _write_run(root / "lr0.01", 1e-2, 8, 4, hparams="start")
    return root


def test_tensorboard_logs_as_runtable(logs):
    t = load_tensorboard_runs(logs, final_metric="eval/accuracy", budget=10)
    assert list(t.run_id) == ["lr0.001", "lr0.01", "lr0.1"]
    assert set(t.group) == {"logs"} and list(t.budget) == [10, 10, 10]
    assert t.final[[0, 2]] == pytest.approx([0.6, 0.6]) and np.isnan(t.final[1])
    assert t.diverged[[0, 2]].tolist() == [0.0, 1.0] and np.isnan(t.diverged[1])
    # numeric hyperparameters that vary (the string optimizer and the constant use_lora are not)
    assert t.static_names == ("batch_size", "log10_lr")
    assert t.static == pytest.approx(np.array([[8, -3], [8, -2], [16, -1]]))
    # add_hparams' metric is a summary, not a curve; the final eval is the final score
    assert t.metrics == ("eval/accuracy", "train/loss")
    assert list(t.curve("eval/accuracy").points(0)[0]) == [5]
    steps, values = t.curve("train/loss").points(2)
    assert list(steps) == list(range(1, 11)) and np.isnan(values[7:]).all() and np.isfinite(values[:7]).all()
    assert list(t.curve("train/loss").points(1)[0]) == [1, 2, 3, 4]


def test_tensorboard_summary_metric_and_options(logs):
    t = load_tensorboard_runs(
        logs,
        final_metric="hparam/accuracy",
        budget=10,
        static=["lr", "use_lora"],
        log10=[],
        drop_constant=False,
        group="sweep",
        group_by="optimizer",
    )
    assert t.final[[0, 2]] == pytest.approx([0.6, 0.6]) and np.isnan(t.final[1])
    assert t.static == pytest.approx(np.array([[1e-3, 1], [1e-2, 1], [0.1, 1]]))
    assert set(t.group) == {"sweep/adam"}
    named = load_tensorboard_runs(logs, final_metric="eval/accuracy", budget=10, curves=["train/loss"])
    assert named.metrics == ("train/loss",)
    one = load_tensorboard_runs(logs / "lr0.001", final_metric="eval/accuracy")
    assert list(one.run_id) == ["lr0.001"] and list(one.group) == ["logs"] and list(one.budget) == [10]


def test_tensorboard_nested_writers(tmp_path):
    """Writers in sub-folders of one run (train/, validation/) writing one tag keep it apart."""
    from torch.utils.tensorboard import SummaryWriter

    for sub, scale in (("train", 1.0), ("validation", 2.0)):
        with SummaryWriter(str(tmp_path / "logs" / "run1" / sub)) as writer:
            for step in (1, 2, 3):
                writer.add_scalar("epoch_loss", scale / step, step)
    t = load_tensorboard_runs(tmp_path / "logs", final_metric="validation/epoch_loss")
    assert t.metrics == ("train/epoch_loss", "validation/epoch_loss")
    assert t.final[0] == pytest.approx(2 / 3) and list(t.static_names) == []


def test_tensorboard_errors(logs, tmp_path):
    with pytest.raises(RunTableError, match=r"unknown final_metric 'accuracy'.*'eval/accuracy'"):
        load_tensorboard_runs(logs, final_metric="accuracy")
    warned = pytest.warns(UserWarning, match=r"stopped at different steps \(4 to 10\).*give budget")
    with warned, pytest.raises(RunTableError, match=r"run 'lr0.001'.*static feature 'optimizer' is 'adam'"):
        load_tensorboard_runs(logs, final_metric="eval/accuracy", static=["optimizer"])
    # without a budget, the run stopped at step 4 looks finished (so a warning), yet has no final score
    with warned, pytest.raises(RunTableError, match=r"run 'lr0.01'.*finished but never logged the final metric"):
        load_tensorboard_runs(logs, final_metric="eval/accuracy")
    with pytest.raises(RunTableError, match=r"group_by key 'model' is not in its config"):
        load_tensorboard_runs(logs, final_metric="eval/accuracy", budget=10, group_by="model")
    with pytest.raises(RunTableError, match="no runs found"):
        load_tensorboard_runs(tmp_path, final_metric="eval/accuracy")
    with pytest.raises(RunTableError, match="no such log folder"):
        load_tensorboard_runs(tmp_path / "none", final_metric="eval/accuracy")


def test_tensorboard_missing_extra(logs, monkeypatch):
    monkeypatch.setitem(sys.modules, "tbparse", None)
    with pytest.raises(RunTableError, match=r"pip install tuneahead\[loaders\]"):
        load_tensorboard_runs(logs, final_metric="eval/accuracy")


def test_tensorboard_config_composes(logs, compose_app):
    cfg = compose_app(
        "config", ["data=tensorboard", f"data.path={logs}", "data.final_metric=eval/accuracy", "data.budget=10"]
    )
    assert cfg.data._target_ == "tuneahead.data.tensorboard_runs.load_tensorboard_runs"
    t = instantiate(cfg.data, _convert_="all")
    assert list(t.run_id) == ["lr0.001", "lr0.01", "lr0.1"]


def test_loaders_import_no_heavy_package_at_load():
    """torch, mlflow and tbparse are imported inside the loaders' functions only."""
    import ast
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "tuneahead" / "data"
    heavy = {"torch", "transformers", "mlflow", "tbparse", "tensorboard"}
    for name in ("logged_runs", "trainer_logs", "mlflow_runs", "tensorboard_runs"):
        tree = ast.parse((data / f"{name}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & heavy, name
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in heavy, name
    trainer = ast.parse((data / "trainer_logs.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(trainer) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(trainer) if isinstance(n, ast.ImportFrom)}
    assert not imported & heavy
