"""The opda loader, on the real DeBERTa-base MultiNLI search and on small hand-written files."""

import json
from pathlib import Path

import numpy as np
import pytest

from tuneahead.data.opda import OPDA_STATIC_FEATURES, load_opda
from tuneahead.data.runtable import RunTableError

OPDA_PATH = Path(__file__).parents[3] / "shared/data/opda-deberta-base/deberta-base_tuning.results.jsonl"


@pytest.fixture(scope="module")
def opda_path():
    if not OPDA_PATH.exists():
        pytest.skip(f"opda data not found at {OPDA_PATH}")
    return OPDA_PATH


@pytest.fixture(scope="module")
def opda(opda_path):
    return load_opda(opda_path)


@pytest.fixture(scope="module")
def raw(opda_path):
    with open(opda_path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_real_file_shape(opda):
    assert len(opda) == 1024
    assert opda.metrics == ("matched", "mismatched")
    assert opda.static_names == OPDA_STATIC_FEATURES
    assert opda.groups == ("deberta-base/mnli",)
    assert opda.has_final.all()
    assert len(set(opda.run_id)) == 1024
    assert opda.run_id[0] == "deberta-base/1"


def test_real_file_scores_in_points(opda):
    assert np.all((opda.final >= 0) & (opda.final <= 100))
    assert opda.final.max() > 80  # points, not fractions
    for m in opda.metrics:
        c = opda.curve(m)
        v = c.values[c.present]
        v = v[np.isfinite(v)]
        assert np.all((v >= 0) & (v <= 100))
        assert v.max() > 80


def test_real_file_final_is_last_matched(opda, raw):
    assert len(raw) == len(opda)
    by_id = {f"deberta-base/{r['iteration']}": r for r in raw}
    for i, rid in enumerate(opda.run_id):
        r = by_id[rid]
        last_step, last_value = r["learning_curves"]["matched"][-1]
        assert last_step == r["total_model_steps"]
        assert opda.final[i] == pytest.approx(100.0 * last_value, abs=1e-9)
        assert opda.budget[i] == r["total_model_steps"]


def test_real_file_no_point_at_budget(opda, raw):
    by_id = {f"deberta-base/{r['iteration']}": r for r in raw}
    for m in opda.metrics:
        c = opda.curve(m)
        for i in range(len(opda)):
            s, v = c.points(i)
            assert s.size > 0
            assert np.all(s < opda.budget[i])
            # every raw point before the budget is kept, scaled to points
            pts = [(a, b) for a, b in by_id[opda.run_id[i]]["learning_curves"][m] if a < opda.budget[i]]
            np.testing.assert_array_equal(s, [a for a, _ in pts])
            np.testing.assert_allclose(v, [100.0 * b for _, b in pts])


def test_real_file_static_features(opda, raw):
    j = {n: k for k, n in enumerate(opda.static_names)}
    r0 = raw[0]
    s0 = opda.static[0]
    assert s0[j["num_train_epochs"]] == r0["num_train_epochs"]
    assert s0[j["train_batch_size"]] == r0["train_batch_size"]
    assert s0[j["log10_learning_rate"]] == pytest.approx(np.log10(r0["learning_rate"]))
    assert s0[j["warmup_fraction"]] == pytest.approx(
        r0["warmup_steps"] * r0["num_train_epochs"] / r0["total_model_steps"]
    )
    assert s0[j["cls_drop_out"]] == pytest.approx(r0["cls_drop_out"])
    assert set(opda.static[:, j["num_train_epochs"]]) == {1.0, 2.0, 3.0, 4.0}
    assert np.all(opda.static[:, j["log10_learning_rate"]] < 0)


def test_real_file_diverged_share(opda):
    assert set(np.unique(opda.diverged)) <= {0.0, 1.0}
    share = opda.diverged.mean()
    assert 0.2 < share < 0.32
    np.testing.assert_array_equal(opda.diverged == 1.0, opda.final < 40.0)
    # truncation forgets the flag: the opda curves never hold a NaN
    assert np.isnan(opda.truncate(3000).diverged).all()


def test_real_file_group_by_epochs(opda_path):
    t = load_opda(opda_path, group_by="num_train_epochs")
    assert len(t.groups) == 4
    assert set(t.groups) == {f"deberta-base/num_train_epochs={k}" for k in (1, 2, 3, 4)}
    train, test = t.split("group", test_fraction=0.25, seed=0)
    assert len(test.groups) == 1 and len(train.groups) == 3


def test_real_file_mismatched_score(opda_path, opda, raw):
    t = load_opda(opda_path, score_metric="mismatched")
    assert t.final[0] == pytest.approx(100.0 * raw[0]["learning_curves"]["mismatched"][-1][1])
    assert not np.allclose(t.final, opda.final)


# ---------------------------------------------------------------------- small files
def _row(iteration=1, **overrides):
    row = {
        "iteration": iteration,
        "num_train_epochs": 2,
        "train_batch_size": 32,
        "total_model_steps": 2500,
        "learning_rate": 1e-5,
        "warmup_steps": 125,
        "cls_drop_out": 0.1,
        "learning_curves": {
            "matched": [[1000, 0.80], [2000, 0.85], [2500, 0.86]],
            "mismatched": [[1000, 0.79], [2000, 0.84], [2500, 0.85]],
        },
    }
    row.update(overrides)
    return row


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_small_file_loads(tmp_path):
    path = _write(
        tmp_path / "r.jsonl",
        [
            json.dumps(_row(1)),
            "",
            json.dumps(
                _row(
                    2,
                    learning_curves={
                        "matched": [[1000, 0.33], [2500, 0.30]],
                        "mismatched": [[1000, 0.33], [2500, 0.31]],
                    },
                )
            ),
        ],
    )
    t = load_opda(path, model_name="tiny")
    assert list(t.run_id) == ["tiny/1", "tiny/2"]
    np.testing.assert_allclose(t.final, [86.0, 30.0])
    np.testing.assert_array_equal(t.diverged, [0.0, 1.0])
    np.testing.assert_array_equal(t.curve("matched").points(0)[0], [1000.0, 2000.0])
    np.testing.assert_allclose(t.curve("matched").points(0)[1], [80.0, 85.0])
    j = t.static_names.index("warmup_fraction")
    assert t.static[0, j] == pytest.approx(125 / 1250)
    # a stricter threshold flags nothing
    assert (load_opda(path, diverged_below=10.0).diverged == 0).all()


def test_small_file_missing_field_names_line(tmp_path):
    bad = _row(2)
    del bad["learning_rate"]
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1)), json.dumps(bad)])
    with pytest.raises(RunTableError, match=r"r\.jsonl:2: run is missing field\(s\) \['learning_rate'\]"):
        load_opda(path)


def test_small_file_last_step_not_total(tmp_path):
    bad = _row(7, total_model_steps=3000)
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1)), json.dumps(bad)])
    with pytest.raises(RunTableError, match=r"run 'deberta-base/7': curve 'matched' ends at step 2500"):
        load_opda(path)


def test_small_file_malformed_json(tmp_path):
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1)), "", '{"iteration": 2, "num_'])
    with pytest.raises(RunTableError, match=r"r\.jsonl:3: not valid JSON"):
        load_opda(path)


def test_small_file_unknown_score_metric(tmp_path):
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1))])
    with pytest.raises(RunTableError, match=r"unknown metric 'accuracy'"):
        load_opda(path, score_metric="accuracy")


def test_small_file_bad_group_by(tmp_path):
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1))])
    with pytest.raises(RunTableError, match=r"group_by='nope'"):
        load_opda(path, group_by="nope")


def test_missing_file(tmp_path):
    with pytest.raises(RunTableError, match="no such opda results file"):
        load_opda(tmp_path / "absent.jsonl")
