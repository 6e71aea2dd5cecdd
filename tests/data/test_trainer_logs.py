"""Hugging Face Trainer output folders, written by real Trainer runs of a tiny BERT, read as a RunTable."""

import math
import shutil

import numpy as np
import pytest
from hydra.utils import instantiate

from tuneahead.data.errors import RunTableError
from tuneahead.data.trainer_logs import load_trainer_runs, read_trainer_run, read_training_args

BUDGET = 12


class _Tokens:
    """Random 8-token sequences labelled by their first token."""

    def __init__(self, n, seed):
        import torch

        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(1, 50, (n, 8), generator=g)
        self.y = (self.x[:, 0] > 25).long()
        self.mask = torch.ones_like(self.x)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "attention_mask": self.mask[i], "labels": self.y[i]}


def _accuracy(pred):
    return {"accuracy": float((np.argmax(pred.predictions, -1) == pred.label_ids).mean())}


def _train(out, lr, optim="adamw_torch", stop_at=None, args_json=False, finish=False):
    """One run as a user's script leaves it: train, evaluate, save the model and the state. A run
    stopped at ``stop_at`` is left as a run in progress (only its checkpoint every 6 steps), unless
    ``finish``: then it was stopped early by a callback and saved like any finished run."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainerCallback, TrainingArguments

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            control.should_training_stop = state.global_step >= stop_at

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    args = TrainingArguments(
        output_dir=str(out),
        max_steps=BUDGET,
        per_device_train_batch_size=8,
        learning_rate=lr,
        optim=optim,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=4,
        save_strategy="no" if stop_at is None else "steps",
        save_steps=6,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        log_level="error",
    )
    trainer = Trainer(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=_Tokens(64, 0),
        eval_dataset=_Tokens(32, 1),
        compute_metrics=_accuracy,
        callbacks=[StopAt()] if stop_at else [],
    )
    trainer.train()
    if stop_at is not None and not finish:
        return None
    final = trainer.evaluate()["eval_accuracy"]
    trainer.save_model()
    trainer.save_state()
    if args_json:
        (out / "training_args.json").write_text(args.to_json_string())
        (out / "training_args.bin").unlink()
    return final


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A folder of four runs: two healthy, one diverged (SGD at lr 1e30: NaN eval loss), one in progress."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("trainer") / "sweep"
    try:
        finals = {
            "lr0.001": _train(root / "lr0.001", 1e-3),
            "lr0.1": _train(root / "lr0.1", 0.1, args_json=True),
            "lr1e+30": _train(root / "lr1e+30", 1e30, optim="sgd"),
        }
        _train(root / "lr0.01", 1e-2, stop_at=8)
    finally:
        torch.set_num_threads(threads)
    return root, finals


def test_trainer_folders_as_runtable(sweep):
    root, finals = sweep
    assert not (root / "lr0.01" / "trainer_state.json").exists() and (root / "lr0.01" / "checkpoint-6").is_dir()
    t = load_trainer_runs(root, final_metric="eval_accuracy")
    assert list(t.run_id) == ["lr0.001", "lr0.01", "lr0.1", "lr1e+30"]
    assert set(t.group) == {"sweep"}
    assert list(t.budget) == [BUDGET] * 4
    assert t.metrics == ("eval_accuracy", "eval_loss", "grad_norm", "learning_rate", "loss")
    # finals: the last eval of each finished run; the run in progress is a candidate
    assert t.final[[0, 2, 3]] == pytest.approx([finals["lr0.001"], finals["lr0.1"], finals["lr1e+30"]])
    assert np.isnan(t.final[1]) and list(t.has_final) == [True, False, True, True]
    assert t.diverged[[0, 2, 3]].tolist() == [0.0, 0.0, 1.0] and np.isnan(t.diverged[1])
    # only the learning rate varies among the default static features
    assert t.static_names == ("log10_learning_rate",)
    assert t.static[:, 0] == pytest.approx([-3, -2, -1, 30])
    # the final eval is the final score, not a curve point; the run in progress stops at its checkpoint
    steps, _ = t.curve("eval_accuracy").points(0)
    assert list(steps) == [4, 8]
    steps, values = t.curve("loss").points(1)
    assert list(steps) == [1, 2, 3, 4, 5, 6] and np.isfinite(values).all()
    assert list(t.curve("eval_accuracy").points(1)[0]) == [4]
    _, eval_loss = t.curve("eval_loss").points(3)
    assert np.isnan(eval_loss).all()
    lr_steps, lr_values = t.curve("learning_rate").points(0)
    assert lr_steps[0] == 1 and lr_values[0] == pytest.approx(1e-3)


def test_trainer_config_features_and_groups(sweep):
    root, _ = sweep
    t = load_trainer_runs(
        root,
        final_metric="eval_loss",
        static=["learning_rate", "model.hidden_size", "train_batch_size", "max_steps"],
        log10=[],
        drop_constant=False,
        group="bert",
        group_by="optim",
        curves=["loss", "eval_runtime"],
    )
    assert t.static_names == ("learning_rate", "model.hidden_size", "train_batch_size", "max_steps")
    assert t.static[:, 0] == pytest.approx([1e-3, 1e-2, 0.1, 1e30])
    assert (t.static[:, 1:] == [16, 8, BUDGET]).all()
    assert t.group[3] == "bert/sgd" and all(g.startswith("bert/adamw") for g in t.group[:3])
    assert t.metrics == ("loss", "eval_runtime")
    # a NaN final of a diverged run: no score, or the score given for diverged runs
    assert np.isnan(t.final[3]) and t.diverged[3] == 1
    scored = load_trainer_runs(root, final_metric="eval_loss", diverged_score=10.0)
    assert scored.final[3] == 10.0
    typed = load_trainer_runs(root, group_by="model.model_type")
    assert set(typed.group) == {"bert"}


def test_trainer_paths_globs_and_lists(sweep):
    root, _ = sweep
    assert list(load_trainer_runs(str(root / "lr0.0*")).run_id) == ["lr0.001", "lr0.01"]
    assert list(load_trainer_runs([root / "lr0.1", root / "lr0.001"]).run_id) == ["lr0.001", "lr0.1"]
    single = load_trainer_runs(root / "lr0.1")
    assert list(single.run_id) == ["lr0.1"] and list(single.group) == ["sweep"]
    run = read_trainer_run(root / "lr0.1")
    assert run.config["learning_rate"] == 0.1 and run.config["model.model_type"] == "bert"


def test_training_args_bin_is_read_without_running_code(sweep, tmp_path):
    import torch

    root, _ = sweep
    args = read_training_args(root / "lr0.001" / "training_args.bin")
    assert args["learning_rate"] == 1e-3 and args["max_steps"] == BUDGET
    assert args["lr_scheduler_type"] == "linear" and args["eval_strategy"] == "steps"
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"learning_rate": 0.5, "payload": Payload()}, tmp_path / "training_args.bin")
    fields = read_training_args(tmp_path / "training_args.bin")
    assert fields == {"learning_rate": 0.5, "payload": None} and not marker.exists()
    torch.save(Payload(), tmp_path / "bare.bin")
    with pytest.raises(RunTableError, match="does not hold TrainingArguments"):
        read_training_args(tmp_path / "bare.bin")
    assert not marker.exists()
    (tmp_path / "old.bin").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(RunTableError, match="training_args.json"):
        read_training_args(tmp_path / "old.bin")


def test_trainer_errors(sweep, tmp_path):
    root, _ = sweep
    with pytest.raises(RunTableError, match=r"unknown final_metric 'eval_f1'.*'eval_accuracy'"):
        load_trainer_runs(root, final_metric="eval_f1")
    with pytest.raises(RunTableError, match=r"run 'lr0.001'.*'lr_scheduler_type' is 'linear', not a finite number"):
        load_trainer_runs(root, static=["lr_scheduler_type"])
    with pytest.raises(RunTableError, match=r"run 'lr0.001'.*static feature 'colour' is not in its config"):
        load_trainer_runs(root, static=["colour"])
    with pytest.raises(RunTableError, match=r"curves \['accuracy'\] are logged by no run"):
        load_trainer_runs(root, curves=["accuracy"])
    with pytest.raises(RunTableError, match="no runs found"):
        load_trainer_runs(tmp_path)
    with pytest.raises(RunTableError, match="no such folder"):
        load_trainer_runs(tmp_path / "missing")
    with pytest.raises(RunTableError, match="matches no folder"):
        load_trainer_runs(str(tmp_path / "run*"))
    shutil.copytree(root / "lr0.1", tmp_path / "lr0.1")
    (tmp_path / "lr0.2").mkdir()
    with pytest.raises(RunTableError, match=r"\['lr0.2'\] hold no trainer_state.json.*save_state"):
        load_trainer_runs(tmp_path)
    with pytest.raises(RunTableError, match=r"run 'lr0.2'.*trainer_state.json is missing"):
        read_trainer_run(tmp_path / "lr0.2")
    (tmp_path / "lr0.1" / "trainer_state.json").write_text("{")
    with pytest.raises(RunTableError, match="not valid JSON"):
        read_trainer_run(tmp_path / "lr0.1")


def test_trainer_config_composes(sweep, compose_app):
    root, finals = sweep
    cfg = compose_app("config", ["data=trainer", f"data.path={root}", "data.final_metric=eval_accuracy"])
    assert cfg.data._target_ == "tuneahead.data.trainer_logs.load_trainer_runs"
    t = instantiate(cfg.data, _convert_="all")
    assert len(t) == 4 and math.isclose(t.final[0], finals["lr0.001"])


def test_a_run_stopped_early_by_a_callback_is_finished(tmp_path):
    pytest.importorskip("torch")
    final = _train(tmp_path / "runs" / "early", 1e-3, stop_at=8, finish=True)
    _train(tmp_path / "runs" / "full", 1e-2)
    table = load_trainer_runs(tmp_path / "runs", final_metric="eval_accuracy")
    assert list(table.run_id) == ["early", "full"] and table.final[0] == pytest.approx(final)
