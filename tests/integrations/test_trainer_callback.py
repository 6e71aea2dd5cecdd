"""The Trainer callback in a real Trainer on a tiny BERT: predictions in the log history and in
TensorBoard, and a run stopped when it will not make it."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tuneahead.data.runtable import RunTable  # noqa: E402
from tuneahead.inference import InferenceConfig, fit  # noqa: E402
from tuneahead.integrations import TuneAheadCallback, argument_features  # noqa: E402
from tuneahead.model.design import ModelSpec  # noqa: E402

BUDGET, EVERY = 12, 4
KEYS = ("eval_tuneahead_final", "eval_tuneahead_lower", "eval_tuneahead_upper", "eval_tuneahead_p_diverge")


class _Tokens(torch.utils.data.Dataset):
    """Random 8-token sequences labelled by their first token."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(1, 50, (n, 8), generator=g)
        self.y = (self.x[:, 0] > 25).long()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "attention_mask": torch.ones_like(self.x[i]), "labels": self.y[i]}


@pytest.fixture(scope="module")
def posterior():
    """Earlier runs in points: accuracy rises towards a final score that peaks at lr 1e-3."""
    rng = np.random.default_rng(0)
    records = []
    for i, log_lr in enumerate(np.linspace(-5, -1, 30)):
        final = 90 - 8 * (log_lr + 3) ** 2 + rng.normal(0, 2)
        curve = [(s, final - (final - 50) * np.exp(-s / 4) + rng.normal(0, 2)) for s in (4, 8)]
        records.append(
            {"run_id": f"r{i}", "group": f"g{i % 2}", "budget": BUDGET, "static": {"log10_learning_rate": log_lr},
             "curves": {"accuracy": curve}, "final": final, "diverged": 0.0}
        )  # fmt: skip
    table = RunTable.from_records(records)
    config = InferenceConfig(method="svi", svi_steps=500, svi_draws=100, progress=False)
    return fit(table, ModelSpec(metrics=("accuracy",)), config)


def _trainer(out, callback, report_to):
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=2)  # fmt: skip
    args = TrainingArguments(
        output_dir=str(out), max_steps=BUDGET, per_device_train_batch_size=8, learning_rate=1e-3,
        logging_steps=EVERY, eval_strategy="steps", eval_steps=EVERY, save_strategy="no",
        report_to=report_to, use_cpu=True, disable_tqdm=True, log_level="error",
    )  # fmt: skip
    trainer = Trainer(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=_Tokens(64, 0),
        eval_dataset=_Tokens(32, 1),
        compute_metrics=lambda p: {"accuracy": float((np.argmax(p.predictions, -1) == p.label_ids).mean())},
    )
    callback.attach(trainer)
    trainer.train()
    return trainer


def test_each_evaluation_logs_the_prediction_and_reaches_tensorboard(posterior, tmp_path, monkeypatch):
    from tbparse import SummaryReader

    torch.set_num_threads(1)
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    callback = TuneAheadCallback(posterior, metric="eval_accuracy", posterior_metric="accuracy", scale=100.0)
    trainer = _trainer(tmp_path, callback, ["tensorboard"])
    evals = [log for log in trainer.state.log_history if "eval_accuracy" in log]
    assert [log["step"] for log in evals] == [4, 8, 12]
    for log in evals:
        assert all(math.isfinite(log[k]) for k in KEYS) and "eval_tuneahead_p_success" not in log
        assert log["eval_tuneahead_lower"] <= log["eval_tuneahead_final"] <= log["eval_tuneahead_upper"]
        assert 0.6 < log["eval_tuneahead_final"] < 1.0, "the runs at lr 1e-3 ended near 90 points"
    returned = trainer.evaluate()  # logged with the predictions, returned without them
    assert "eval_accuracy" in returned and not any(k.startswith("eval_tuneahead_") for k in returned)
    assert "eval_tuneahead_final" in trainer.state.log_history[-1]
    scalars = SummaryReader(str(tmp_path / "tb")).scalars
    logged = scalars[scalars.tag == "eval/tuneahead_final"]  # the Trainer's eval_ prefix becomes eval/
    assert sorted(logged.step) == [4, 8, 12, 12]
    for log in evals:
        assert np.isclose(logged.value, log["eval_tuneahead_final"], atol=1e-6).any()


def test_a_run_that_will_not_reach_the_threshold_is_stopped(posterior, tmp_path):
    torch.set_num_threads(1)
    hopeless = TuneAheadCallback(
        posterior, "eval_accuracy", threshold=1.2, p=0.5, posterior_metric="accuracy", scale=100.0
    )
    trainer = _trainer(tmp_path, hopeless, [])
    assert trainer.state.global_step == EVERY, "stopped at its first evaluation"
    last = [log for log in trainer.state.log_history if "eval_accuracy" in log][-1]
    assert last["eval_tuneahead_p_success"] < 0.5
    easy = TuneAheadCallback(posterior, "eval_accuracy", threshold=0.0, p=0.5, posterior_metric="accuracy", scale=100.0)
    assert _trainer(tmp_path / "easy", easy, []).state.global_step == BUDGET


def test_features_come_from_the_training_arguments():
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir="unused", learning_rate=3e-4, weight_decay=0.1, report_to=[])
    features = argument_features(args, ("log10_learning_rate", "weight_decay"))
    assert math.isclose(features["log10_learning_rate"], math.log10(3e-4)) and features["weight_decay"] == 0.1
    with pytest.raises(ValueError, match=r"'lora_rank' is not a training argument.*static=\.\.\."):
        argument_features(args, ("lora_rank",))


def test_a_posterior_the_run_cannot_feed_is_refused_before_training(posterior, tmp_path):
    torch.set_num_threads(1)
    callback = TuneAheadCallback(posterior, "eval_accuracy", posterior_metric="accuracy",
                                 static=lambda args: {"lora_rank": 8.0})  # fmt: skip
    with pytest.raises(Exception, match="log10_learning_rate"):
        _trainer(tmp_path, callback, [])
