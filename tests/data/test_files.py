"""The generic long file layout: round trips through CSV, Parquet and JSONL, and its errors."""

import json

import numpy as np
import pandas as pd
import pytest

from tuneahead.data.files import read_runtable, runtable_to_frame, write_runtable
from tuneahead.data.runtable import RunTable, RunTableError

SUFFIXES = [".csv", ".parquet", ".jsonl"]


def _table():
    return RunTable.from_records(
        [
            {
                "run_id": "run-a",
                "group": "qwen/math",
                "budget": 1000.0,
                "static": {"log_lr": -4.0, "batch": 32.0},
                "curves": {
                    "eval_score": [(100.0, 10.0), (200.0, 20.5), (400.0, 31.25)],
                    "train_loss": [(50.0, 2.5), (150.0, 1.75)],
                },
                "final": 55.5,
                "diverged": 0.0,
            },
            {
                "run_id": "run-b",
                "group": "qwen/math",
                "budget": 800.0,
                "static": {"log_lr": -3.0, "batch": 16.0},
                "curves": {"eval_score": [(100.0, 5.0), (200.0, np.nan)], "train_loss": [(50.0, 3.0)]},
                "final": 12.0,
                "diverged": 1.0,
            },
            {
                "run_id": "run-c",
                "group": "llama/code",
                "budget": 500.0,
                "static": {"log_lr": -5.0, "batch": 8.0},
                "curves": {"eval_score": [(100.0, 7.0)]},
                "final": None,
                "diverged": None,
            },
            {
                "run_id": "run-d",
                "group": "llama/code",
                "budget": 600.0,  # no points at all
                "static": {"log_lr": -4.5, "batch": 64.0},
                "curves": {},
                "final": None,
                "diverged": None,
            },
        ]
    )


def _assert_same(a: RunTable, b: RunTable):
    assert list(a.run_id) == list(b.run_id)
    assert list(a.group) == list(b.group)
    assert a.groups == b.groups
    assert a.static_names == b.static_names
    np.testing.assert_array_equal(a.static, b.static)
    np.testing.assert_array_equal(a.budget, b.budget)
    np.testing.assert_array_equal(a.final, b.final)  # NaN positions must match too
    np.testing.assert_array_equal(a.diverged, b.diverged)
    assert set(a.metrics) == set(b.metrics)
    for m in a.metrics:
        for i in range(len(a)):
            sa, va = a.curve(m).points(i)
            sb, vb = b.curve(m).points(i)
            np.testing.assert_array_equal(sa, sb)
            np.testing.assert_allclose(va, vb, rtol=0, atol=1e-12)  # NaN matches NaN


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip(tmp_path, suffix):
    t = _table()
    path = write_runtable(t, tmp_path / f"runs{suffix}")
    assert path.exists()
    # atomic writes leave no temporary files behind
    assert [p.name for p in tmp_path.iterdir()] == [f"runs{suffix}"]
    back = read_runtable(path)
    _assert_same(t, back)
    assert np.isnan(back.final[2]) and np.isnan(back.final[3])
    np.testing.assert_array_equal(np.isnan(back.diverged), [False, False, True, True])
    assert back.diverged[0] == 0.0 and back.diverged[1] == 1.0
    assert np.isnan(back.curve("eval_score").points(1)[1][1])
    # the run without points survives, with no points
    assert "run-d" in list(back.run_id)
    for m in back.metrics:
        assert back.curve(m).counts[3] == 0


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_after_truncate(tmp_path, suffix):
    t = _table().truncate(100.0)
    back = read_runtable(write_runtable(t, tmp_path / f"cut{suffix}"))
    _assert_same(t, back)


def test_frame_layout():
    frame = runtable_to_frame(_table())
    assert {
        "run_id",
        "group",
        "budget",
        "final",
        "diverged",
        "metric",
        "step",
        "value",
        "static.log_lr",
        "static.batch",
    } == set(frame.columns)
    # 5 + 3 + 1 points, one empty row for run-d
    assert len(frame) == 10
    empty = frame[frame["run_id"] == "run-d"]
    assert len(empty) == 1
    assert empty["metric"].isna().all() and empty["step"].isna().all()


def _long(**overrides):
    frame = pd.DataFrame(
        {
            "run_id": ["a", "a", "b"],
            "group": ["g", "g", "g"],
            "budget": [100, 100, 200],
            "metric": ["eval_score", "eval_score", "eval_score"],
            "step": [10, 20, 10],
            "value": [1.0, 2.0, 3.0],
        }
    )
    for k, v in overrides.items():
        if v is None:
            frame = frame.drop(columns=k)
        else:
            frame[k] = v
    return frame


@pytest.mark.parametrize("column", ["run_id", "group", "budget", "metric", "step", "value"])
def test_missing_required_column(tmp_path, column):
    path = tmp_path / "runs.csv"
    _long(**{column: None}).to_csv(path, index=False)
    with pytest.raises(RunTableError, match=rf"missing column\(s\) \['{column}'\]"):
        read_runtable(path)


def test_unknown_column_without_prefix(tmp_path):
    path = tmp_path / "runs.csv"
    _long(log_lr=[-4.0, -4.0, -3.0]).to_csv(path, index=False)
    with pytest.raises(RunTableError, match=r"unknown column\(s\) \['log_lr'\].*static\."):
        read_runtable(path)


@pytest.mark.parametrize(
    "column, values",
    [
        ("budget", [100, 150, 200]),
        ("group", ["g", "h", "g"]),
        ("final", [1.0, 2.0, 3.0]),
        ("static.log_lr", [-4.0, -5.0, -3.0]),
    ],
)
def test_run_level_column_with_two_values(tmp_path, column, values):
    path = tmp_path / "runs.csv"
    _long(**{column: values}).to_csv(path, index=False)
    with pytest.raises(RunTableError, match=rf"run 'a': column '{column}' takes several values"):
        read_runtable(path)


def test_empty_static_feature(tmp_path):
    path = tmp_path / "runs.csv"
    _long(**{"static.log_lr": [-4.0, -4.0, np.nan]}).to_csv(path, index=False)
    with pytest.raises(RunTableError, match=r"run 'b': static feature 'static.log_lr' is empty"):
        read_runtable(path)


def test_unknown_suffix(tmp_path):
    path = tmp_path / "runs.txt"
    path.write_text("run_id,group\n")
    with pytest.raises(RunTableError, match=r"unknown file type '\.txt'"):
        read_runtable(path)
    with pytest.raises(RunTableError, match=r"unknown file type '\.xlsx'"):
        write_runtable(_table(), tmp_path / "runs.xlsx")
    assert not (tmp_path / "runs.xlsx").exists()


def test_missing_file(tmp_path):
    with pytest.raises(RunTableError, match="no such run file"):
        read_runtable(tmp_path / "absent.csv")


def test_validation_errors_surface_through_reader(tmp_path):
    path = tmp_path / "runs.csv"
    _long(step=[10, 500, 10]).to_csv(path, index=False)
    with pytest.raises(RunTableError, match=r"run 'a': curve 'eval_score' reaches step 500"):
        read_runtable(path)


def test_unsorted_rows_are_sorted(tmp_path):
    path = tmp_path / "runs.jsonl"
    _long(step=[20, 10, 10], value=[2.0, 1.0, 3.0]).to_json(path, orient="records", lines=True)
    t = read_runtable(path)
    s, v = t.curve("eval_score").points(0)
    np.testing.assert_array_equal(s, [10.0, 20.0])
    np.testing.assert_array_equal(v, [1.0, 2.0])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_readme_style_pandas_export(tmp_path, suffix):
    """A sweep log exported by hand in the long layout, as the README shows."""
    sweep = [
        {"name": "lr1e-4", "lr": 1e-4, "steps": 300, "acc": 71.0, "log": [(100, 50.0), (200, 60.0)]},
        {"name": "lr3e-4", "lr": 3e-4, "steps": 300, "acc": 74.0, "log": [(100, 55.0)]},
        {"name": "lr1e-3", "lr": 1e-3, "steps": 300, "acc": None, "log": [(100, 40.0), (200, 45.0)]},
    ]
    rows = [
        {
            "run_id": r["name"],
            "group": "base/task",
            "budget": r["steps"],
            "final": r["acc"],
            "metric": "eval_score",
            "step": s,
            "value": v,
            "static.lr": r["lr"],
        }
        for r in sweep
        for s, v in r["log"]
    ]
    frame = pd.DataFrame(rows)
    path = tmp_path / f"sweep{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    t = read_runtable(path)
    assert list(t.run_id) == ["lr1e-4", "lr3e-4", "lr1e-3"]
    assert t.groups == ("base/task",)
    assert t.static_names == ("lr",)
    np.testing.assert_allclose(t.static[:, 0], [1e-4, 3e-4, 1e-3])
    np.testing.assert_array_equal(t.budget, [300.0, 300.0, 300.0])
    np.testing.assert_array_equal(t.final[:2], [71.0, 74.0])
    assert np.isnan(t.final[2])
    np.testing.assert_array_equal(t.has_final, [True, True, False])
    assert np.isnan(t.diverged).all()  # no diverged column: unknown
    assert t.metrics == ("eval_score",)
    np.testing.assert_array_equal(t.curve("eval_score").counts, [2, 1, 2])
    np.testing.assert_array_equal(t.curve("eval_score").points(2)[1], [40.0, 45.0])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_round_trip_numeric_looking_run_ids(tmp_path, suffix):
    t = RunTable.from_records(
        [
            {"run_id": "007", "group": "01", "budget": 10.0, "static": {}, "curves": {"m": [(1.0, 1.0)]}},
            {"run_id": "010", "group": "01", "budget": 10.0, "static": {}, "curves": {"m": [(1.0, 2.0)]}},
        ]
    )
    back = read_runtable(write_runtable(t, tmp_path / f"ids{suffix}"))
    assert list(back.run_id) == ["007", "010"]
    assert list(back.group) == ["01", "01"]


def test_jsonl_writes_null_for_nan(tmp_path):
    path = write_runtable(_table(), tmp_path / "runs.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 10
    c = [r for r in lines if r["run_id"] == "run-c"][0]
    assert c["final"] is None and c["diverged"] is None
    assert "NaN" not in path.read_text()


def test_readme_snippet_verbatim(tmp_path, monkeypatch):
    """The README's merge-based export, run as written (parquet with the default index)."""
    monkeypatch.chdir(tmp_path)
    runs = pd.DataFrame(
        {
            "run_id": ["r1", "r2"],
            "group": ["m/t", "m/t"],
            "budget": [500, 500],
            "final": [80.0, np.nan],
            "lr": [1e-4, 1e-3],
            "batch_size": [16, 32],
        }
    )
    curves = pd.DataFrame({"run_id": ["r1", "r1", "r2"], "step": [100, 200, 100], "eval_acc": [60.0, 70.0, 50.0]})
    long = curves.rename(columns={"eval_acc": "value"}).assign(metric="eval_score")
    long = long.merge(
        runs.assign(**{"static.log_lr": np.log10(runs.lr), "static.batch": runs.batch_size})[
            ["run_id", "group", "budget", "final", "static.log_lr", "static.batch"]
        ],
        on="run_id",
    )
    long.to_parquet("my_runs.parquet")
    t = read_runtable("my_runs.parquet")
    assert list(t.run_id) == ["r1", "r2"]
    assert t.static_names == ("log_lr", "batch")
    np.testing.assert_allclose(t.static, [[-4.0, 16.0], [-3.0, 32.0]])
    np.testing.assert_array_equal(t.has_final, [True, False])
    np.testing.assert_array_equal(t.curve("eval_score").counts, [2, 1])
