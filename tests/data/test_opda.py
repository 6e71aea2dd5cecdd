"""The opda loader, on the real DeBERTa-base MultiNLI search and on small hand-written files."""

import json
import re
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
    with pytest.raises(
        RunTableError, match=r"r\.jsonl:2 \(run 'deberta-base/2'\): missing field\(s\) \['learning_rate'\]"
    ):
        load_opda(path)


def test_small_file_last_step_not_total(tmp_path):
    bad = _row(7, total_model_steps=3000)
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1)), json.dumps(bad)])
    with pytest.raises(
        RunTableError,
        match=r"r\.jsonl:2 \(run 'deberta-base/7'\): curve 'matched' ends at step 2500, not at total_model_steps=3000",
    ):
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


# ---------------------------------------------------------------------- bad lines are refused, never misread
def _curves(matched, mismatched=None):
    mismatched = [[1000, 0.79], [2000, 0.84], [2500, 0.85]] if mismatched is None else mismatched
    return {"matched": matched, "mismatched": mismatched}


def _refused(tmp_path, bad_line: str, where: str, *fragments: str):
    """Load a good line 1 and ``bad_line`` as line 2; the error names the file, ``where`` and each fragment."""
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1)), bad_line])
    with pytest.raises(RunTableError) as info:
        load_opda(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{where}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


RUN2 = "2 (run 'deberta-base/2')"


@pytest.mark.parametrize(
    "curve, field",
    [
        ([], "field 'learning_curves.matched' is a list of 0 item(s)"),  # was IndexError
        ([[1000, 0.8], [2500]], "field 'learning_curves.matched[1]' is a list of 1 item(s), not a [step, accuracy]"),
        ([[1000, 0.8], "2500"], "field 'learning_curves.matched[1]' is text \"2500\", not a [step, accuracy]"),
        ([[1000, 0.8], None], "field 'learning_curves.matched[1]' is null, not a [step, accuracy] pair"),
        ([[1000, 0.8, 0.1], [2500, 0.9]], "field 'learning_curves.matched[0]' is a list of 3 item(s)"),
        ([{"step": 2500, "value": 0.9}], "field 'learning_curves.matched[0]' is an object"),
        (
            [[1000, "0.8"], [2500, 0.9]],
            "field 'learning_curves.matched[0][1] (accuracy)' is text \"0.8\", not a number",
        ),
        ([[None, 0.8], [2500, 0.9]], "field 'learning_curves.matched[0][0] (step)' is null, not a number"),
    ],
)
def test_malformed_curves_are_refused(tmp_path, curve, field):
    _refused(tmp_path, json.dumps(_row(2, learning_curves=_curves(curve))), RUN2, field)


@pytest.mark.parametrize("value, shown", [(None, "null"), ("32", 'text "32"'), (True, "true"), ([32], "a list")])
@pytest.mark.parametrize(
    "key",
    ["num_train_epochs", "train_batch_size", "total_model_steps", "learning_rate", "warmup_steps", "cls_drop_out"],
)
def test_non_numbers_in_the_config_are_refused(tmp_path, key, value, shown):
    """Null and text made float() or log10 fail; a boolean was read as 1 (json true is a Python int)."""
    _refused(tmp_path, json.dumps(_row(2, **{key: value})), RUN2, f"field {key!r} is {shown}", "not a number")


@pytest.mark.parametrize(
    "key, value, rule",
    [
        ("num_train_epochs", 0, "> 0"),  # was ZeroDivisionError
        ("num_train_epochs", -2, "> 0"),
        ("train_batch_size", -32, "a whole number > 0"),
        ("train_batch_size", 0, "a whole number > 0"),
        ("train_batch_size", 32.5, "a whole number > 0"),
        ("total_model_steps", 0, "a whole number of steps > 0"),
        ("total_model_steps", 2500.5, "a whole number of steps > 0"),
        pytest.param("total_model_steps", 10**400, "a whole number of steps > 0", id="total-10**400"),  # overflows
        ("learning_rate", 0, "a learning rate > 0"),
        ("learning_rate", -1e-5, "a learning rate > 0"),
        ("warmup_steps", -1, "a whole number of steps >= 0"),
        ("cls_drop_out", 1.0, "[0, 1)"),
        ("cls_drop_out", -0.1, "[0, 1)"),
        ("cls_drop_out", float("nan"), "[0, 1)"),
        ("learning_rate", float("inf"), "a learning rate > 0"),
    ],
)
def test_impossible_config_values_are_refused(tmp_path, key, value, rule):
    _refused(tmp_path, json.dumps(_row(2, **{key: value})), RUN2, f"field {key!r} is ", rule, "correct it or drop")


def test_fewer_steps_than_epochs_is_refused(tmp_path):
    row = _row(2, num_train_epochs=3, total_model_steps=2, learning_curves=_curves([[2, 0.8]], [[2, 0.8]]))
    _refused(
        tmp_path, json.dumps(row), RUN2, "'total_model_steps' (2) and 'num_train_epochs' (3)", "one step per epoch"
    )


@pytest.mark.parametrize("line, shown", [("3", "3"), ("null", "null"), ('"run"', 'text "run"'), ("[1, 2]", "a list")])
def test_a_line_that_is_not_an_object_is_refused(tmp_path, line, shown):
    _refused(tmp_path, line, "2", f"the line is {shown}", "not a JSON object")


@pytest.mark.parametrize("value, shown", [(float("nan"), "NaN"), (float("inf"), "Infinity"), (-0.1, "-0.1")])
def test_nan_or_impossible_final_accuracy_is_refused_never_healthy(tmp_path, value, shown):
    """A NaN last accuracy gave final=NaN with diverged=0: a 'healthy' candidate."""
    curve = [[1000, 0.8], [2000, 0.85], [2500, value]]
    msg = _refused(tmp_path, json.dumps(_row(2, learning_curves=_curves(curve))), RUN2)
    assert f"field 'learning_curves.matched[2][1] (accuracy)' is {shown}" in msg


def test_nan_accuracy_inside_a_curve_is_refused(tmp_path):
    curve = [[1000, 0.79], [2000, float("nan")], [2500, 0.85]]
    row = _row(2, learning_curves=_curves([[1000, 0.8], [2500, 0.86]], curve))
    _refused(tmp_path, json.dumps(row), RUN2, "field 'learning_curves.mismatched[1][1] (accuracy)' is NaN")


@pytest.mark.parametrize("metric", ["matched", "mismatched"])
def test_points_beyond_total_steps_are_refused(tmp_path, metric):
    """They were dropped without a word."""
    curves = _curves([[1000, 0.8], [2000, 0.85], [2500, 0.86]])
    curves[metric].append([3000, 0.87])
    msg = _refused(tmp_path, json.dumps(_row(2, learning_curves=curves)), RUN2)
    assert f"field 'learning_curves.{metric}[3]' is at step 3000, beyond total_model_steps=2500" in msg


def test_accuracies_in_percent_are_refused(tmp_path):
    """8,741.7 points came out of 87.417 percent read as a fraction."""
    curve = [[1000, 84.9], [2000, 86.2], [2500, 87.417]]
    msg = _refused(tmp_path, json.dumps(_row(2, learning_curves=_curves(curve))), RUN2)
    assert "field 'learning_curves.matched[0][1] (accuracy)' is 84.9; it must be an accuracy in [0, 1]" in msg
    assert "divide a percentage by 100" in msg


@pytest.mark.parametrize("field, value", [("step", True), ("accuracy", False)])
def test_booleans_in_curves_are_refused(tmp_path, field, value):
    point = [value, 0.8] if field == "step" else [1000, value]
    row = _row(2, learning_curves=_curves([point, [2500, 0.86]]))
    _refused(tmp_path, json.dumps(row), RUN2, f"'learning_curves.matched[0][{int(field != 'step')}] ({field})' is")


@pytest.mark.parametrize(
    "curve, fragment",
    [
        ([[1000, 0.8], [1000, 0.81], [2500, 0.86]], "[1]' is at step 1000, after step 1000; steps must strictly"),
        ([[2000, 0.8], [1000, 0.81], [2500, 0.86]], "[1]' is at step 1000, after step 2000"),
        ([[1000, 0.8], [float("nan"), 0.81], [2500, 0.86]], "[1][0] (step)' is NaN"),
        ([[-1000, 0.8], [2500, 0.86]], "[0][0] (step)' is -1000"),
        ([[1000.5, 0.8], [2500, 0.86]], "[0][0] (step)' is 1000.5; it must be a whole number of steps"),
    ],
)
def test_bad_steps_are_refused(tmp_path, curve, fragment):
    _refused(tmp_path, json.dumps(_row(2, learning_curves=_curves(curve))), RUN2, "'learning_curves.matched", fragment)


def test_null_iteration_is_refused(tmp_path):
    """It became the run 'deberta-base/None'."""
    _refused(tmp_path, json.dumps(_row(None)), "2", "field 'iteration' is null, not a number")
    _refused(tmp_path, json.dumps(_row(-1)), "2", "field 'iteration' is -1; it must be a whole number >= 0")
    _refused(tmp_path, json.dumps(_row(1.5)), "2", "field 'iteration' is 1.5")


@pytest.mark.parametrize("again", [1, 1.0])
def test_duplicate_iterations_are_refused(tmp_path, again):
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1)), json.dumps(_row(2)), json.dumps(_row(again))])
    with pytest.raises(
        RunTableError, match=r"r\.jsonl:3 \(run 'deberta-base/1'\): field 'iteration' repeats .* line 1"
    ):
        load_opda(path)


@pytest.mark.parametrize(
    "line, key",
    [
        ('{"iteration": 2, "iteration": 3, ' + json.dumps(_row(2))[1:], "iteration"),
        (json.dumps(_row(2)).replace('"matched": [', '"mismatched": [[1, 0.5]], "matched": [', 1), "mismatched"),
    ],
    ids=["top-level", "nested"],
)
def test_duplicate_json_keys_are_refused(tmp_path, line, key):
    """json keeps the last of two equal keys without a word."""
    _refused(tmp_path, line, "2", f"key {key!r} appears twice in one JSON object")


@pytest.mark.parametrize(
    "key", ["iteration", "num_train_epochs", "total_model_steps", "cls_drop_out", "learning_curves"]
)
def test_a_missing_required_key_is_refused(tmp_path, key):
    row = _row(2)
    del row[key]
    where = "2" if key == "iteration" else RUN2
    _refused(tmp_path, json.dumps(row), where, f"missing field(s) [{key!r}]", "opda DeBERTa layout")


def test_an_alexnet_line_is_refused_not_misread(tmp_path):
    line = {"iteration": 1, "nan_train_loss": False, "epochs": 23, "batch_size": 512, "lr": 0.12, "momentum": 0.7}
    line["learning_curve"] = [{"time": 310.9, "epoch": 0, "top_1": 0.0011, "top_5": 0.005, "train_loss": 6.9}]
    path = _write(tmp_path / "a.jsonl", [json.dumps(line)])
    with pytest.raises(RunTableError, match=r"a\.jsonl:1 \(run 'deberta-base/1'\): missing field\(s\) \['num_train"):
        load_opda(path)


@pytest.mark.parametrize(
    "value, shown",
    [("curves", 'text "curves"'), ([[1000, 0.8]], "a list of 1 item(s)"), ({"matched": "x"}, 'text "x"')],
)
def test_learning_curves_of_the_wrong_shape_are_refused(tmp_path, value, shown):
    _refused(tmp_path, json.dumps(_row(2, learning_curves=value)), RUN2, f"is {shown}")


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b'{"iteration": 2, "num_train', "not valid JSON"),
        (b'{"iteration": 2, "x": "\xff"}', "not UTF-8 text"),
        (b'{"iteration": ' + b"9" * 5000 + b"}", "a number too long"),
        (b"[" * 100_000 + b"]" * 100_000, "nesting too deep"),
    ],
    ids=["truncated", "not-utf8", "5000-digits", "deep-nesting"],
)
def test_unreadable_lines_are_refused(tmp_path, raw, fragment):
    path = tmp_path / "r.jsonl"
    path.write_bytes(json.dumps(_row(1)).encode() + b"\n" + raw + b"\n")
    with pytest.raises(RunTableError, match=r"r\.jsonl:2: ") as info:
        load_opda(path)
    assert fragment in str(info.value)


def test_blank_lines_crlf_and_a_byte_order_mark_are_read(tmp_path):
    path = tmp_path / "r.jsonl"
    lines = [json.dumps(_row(1)), "   \t", "", json.dumps(_row(2)), "  "]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    assert list(load_opda(path).run_id) == ["deberta-base/1", "deberta-base/2"]
    _write(path, [json.dumps(_row(1)), " ", "[]"])
    with pytest.raises(RunTableError, match=r"r\.jsonl:3: the line is a list"):  # line numbers count blank lines
        load_opda(path)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("\n  \n")
    with pytest.raises(RunTableError, match=r"r\.jsonl: the file holds no runs"):
        load_opda(path)
    with pytest.raises(RunTableError, match="no such opda results file"):
        load_opda(tmp_path)  # a folder


def test_lenient_where_nothing_is_lost(tmp_path):
    """Unknown keys are ignored, 3.0 is the run 3, 1 is an accuracy, bounds are inclusive, and a curve may hold
    only its last point."""
    row = _row(3.0, extra={"note": [1, None]}, cls_drop_out=0, warmup_steps=0, learning_rate=1)
    row["learning_curves"] = _curves([[2500.0, 1]], [[0, 0.0], [2500, 0.5]])  # whole floats, int accuracies
    t = load_opda(_write(tmp_path / "r.jsonl", [json.dumps(row)]), group_by="iteration")
    assert list(t.run_id) == ["deberta-base/3"] and list(t.group) == ["deberta-base/iteration=3"]
    assert t.final[0] == 100.0 and t.diverged[0] == 0.0
    assert t.curve("matched").counts[0] == 0
    np.testing.assert_array_equal(t.curve("mismatched").points(0)[0], [0.0])
    j = {n: k for k, n in enumerate(t.static_names)}
    assert t.static[0, j["log10_learning_rate"]] == 0.0 and t.static[0, j["cls_drop_out"]] == 0.0


def test_group_labels_do_not_split_equal_values(tmp_path):
    lines = [json.dumps(_row(1, num_train_epochs=2)), json.dumps(_row(2, num_train_epochs=2.0))]
    t = load_opda(_write(tmp_path / "r.jsonl", lines), group_by="num_train_epochs")
    assert t.groups == ("deberta-base/num_train_epochs=2",)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"score_metric": ["matched"]}, "score_metric="),
        ({"diverged_below": float("nan")}, "diverged_below=nan"),
        ({"diverged_below": "40"}, "diverged_below='40'"),
        ({"group_by": "learning_curves"}, "group_by='learning_curves'"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, fragment):
    path = _write(tmp_path / "r.jsonl", [json.dumps(_row(1))])
    with pytest.raises(RunTableError, match=re.escape(fragment)):
        load_opda(path, **kwargs)
