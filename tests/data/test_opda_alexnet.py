"""The AlexNet opda loader, on the real ImageNet search and on small hand-written files."""

import json
from pathlib import Path

import numpy as np
import pytest

from tuneahead.data.opda_alexnet import ALEXNET_STATIC_FEATURES, load_opda_alexnet
from tuneahead.data.runtable import RunTableError

ALEXNET_PATH = Path(__file__).parents[3] / "shared/data/opda-alexnet/alexnet_tuning.results.jsonl"


def _point(epoch, top_1, loss=5.0):
    return {
        "time": 10.0 * (epoch + 1),
        "epoch": epoch,
        "top_1": top_1,
        "top_5": min(1.0, 2 * top_1),
        "train_loss": loss,
    }


def _row(iteration, epochs=3, nan=False, curve=None, **changes):
    row = {
        "iteration": iteration,
        "nan_train_loss": nan,
        "epochs": epochs,
        "batch_size": 256,
        "lr": 0.1,
        "lr_peak_epoch": 1,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "label_smoothing": 0.1,
        "learning_curve": [_point(e, 0.1 * (e + 1)) for e in range(epochs)] if curve is None else curve,
    }
    row.update(changes)
    return row


def _write(path: Path, rows) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_real_file():
    if not ALEXNET_PATH.exists():
        pytest.skip(f"AlexNet data not found at {ALEXNET_PATH}")
    raw = [json.loads(line) for line in ALEXNET_PATH.read_text().splitlines()]
    t = load_opda_alexnet(ALEXNET_PATH)
    assert len(t) == 512 and t.static_names == ALEXNET_STATIC_FEATURES
    assert t.metrics == ("top_1", "top_5", "train_loss")
    broke = np.array([r["nan_train_loss"] for r in raw])
    assert broke.sum() == 147
    # every NaN run scores chance and is diverged; the finished ones keep their last epoch's top-1
    np.testing.assert_allclose(t.final[broke], 0.1)
    assert t.diverged[broke].all()
    last = np.array([100 * r["learning_curve"][-1]["top_1"] for r in raw if not r["nan_train_loss"]])
    np.testing.assert_allclose(t.final[~broke], last)
    np.testing.assert_array_equal(t.diverged[~broke], last < 1.0)
    np.testing.assert_array_equal(t.budget, [r["epochs"] for r in raw])


def test_small_file_values(tmp_path):
    broke_curve = [_point(0, 0.02), _point(1, 0.04)]
    path = _write(
        tmp_path / "a.jsonl", [_row(1), _row(2, epochs=5, nan=True, curve=broke_curve), _row(3, nan=True, curve=[])]
    )
    t = load_opda_alexnet(path, model_name="tiny")
    assert list(t.run_id) == ["tiny/1", "tiny/2", "tiny/3"]
    np.testing.assert_allclose(t.final, [30.0, 0.1, 0.1])
    np.testing.assert_array_equal(t.diverged, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(t.budget, [3, 5, 3])
    # the last epoch is the final score, not a curve point; epoch e is at step e + 1
    steps, values = t.curve("top_1").points(0)
    np.testing.assert_array_equal(steps, [1.0, 2.0])
    np.testing.assert_allclose(values, [10.0, 20.0])
    # a broken run keeps every point before the break; a run with no point has an empty curve
    np.testing.assert_array_equal(t.curve("top_1").points(1)[0], [1.0, 2.0])
    assert len(t.curve("top_1").points(2)[0]) == 0
    j = t.static_names.index("lr_peak_fraction")
    assert t.static[0, j] == pytest.approx(1 / 3)
    assert t.static[0, t.static_names.index("log10_weight_decay")] == pytest.approx(-4.0)
    # a finished run at chance is diverged below the threshold only
    low = _write(tmp_path / "b.jsonl", [_row(1, curve=[_point(e, 0.001) for e in range(3)])])
    assert load_opda_alexnet(low).diverged[0] == 1.0
    assert load_opda_alexnet(low, diverged_below=0.05).diverged[0] == 0.0


@pytest.mark.parametrize(
    "row, message",
    [
        (_row(2, curve=[_point(0, 0.1), _point(1, 0.2)]), r"does not reach epoch 2"),
        (_row(2, nan="yes"), r"'nan_train_loss' is text \"yes\"; write true or false"),
        (_row(2, lr_peak_epoch=3), r"'lr_peak_epoch' \(3\) is not before the last of 3 epochs"),
        (_row(2, curve=[_point(0, 0.1), _point(0, 0.2), _point(2, 0.3)]), r"learning_curve\[1\]' is at epoch 0"),
        (_row(2, curve=[_point(0, 0.1), _point(1, 20.0), _point(2, 0.3)]), r"learning_curve\[1\]\.top_1"),
        (_row(2, weight_decay=0), r"'weight_decay' is 0; it must be a weight decay > 0"),
        (_row(2, curve=[{"epoch": 0, "top_1": 0.1}]), r"lacks \['top_5', 'train_loss'\]"),
        ({k: v for k, v in _row(2).items() if k != "momentum"}, r"missing field\(s\) \['momentum'\]"),
    ],
)
def test_small_file_defects_name_line_run_and_field(tmp_path, row, message):
    path = _write(tmp_path / "r.jsonl", [_row(1), row])
    with pytest.raises(RunTableError, match=r"r\.jsonl:2 \(run 'alexnet/2'\): .*" + message):
        load_opda_alexnet(path)


def test_small_file_repeated_run_and_bad_arguments(tmp_path):
    path = _write(tmp_path / "r.jsonl", [_row(1), _row(1)])
    with pytest.raises(RunTableError, match=r"repeats the run of line 1"):
        load_opda_alexnet(path)
    with pytest.raises(RunTableError, match=r"group_by='depth' is not a configuration key"):
        load_opda_alexnet(path, group_by="depth")
    with pytest.raises(RunTableError, match=r"chance=nan must be a finite number"):
        load_opda_alexnet(path, chance=float("nan"))
    with pytest.raises(RunTableError, match=r"no such opda AlexNet results file"):
        load_opda_alexnet(tmp_path / "missing.jsonl")
    grouped = load_opda_alexnet(_write(tmp_path / "g.jsonl", [_row(1), _row(2, batch_size=512)]), group_by="batch_size")
    assert grouped.groups == ("alexnet/batch_size=256", "alexnet/batch_size=512")
