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
            np.testing.assert_array_equal(va, vb)  # exactly; NaN matches NaN


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


def test_a_table_without_point_columns_is_a_table_without_curves(tmp_path):
    path = tmp_path / "runs.csv"
    wide = pd.DataFrame(
        {"run_id": ["a", "b"], "group": ["g", "g"], "budget": [100, 100], "final": [71.5, 60.25], "static.x": [1, 2]}
    )
    wide.to_csv(path, index=False)
    table = read_runtable(path)
    assert table.curves == {} and list(table.run_id) == ["a", "b"]
    assert table.final.tolist() == [71.5, 60.25] and table.static[:, 0].tolist() == [1.0, 2.0]
    wide.iloc[[0, 0, 1]].to_csv(path, index=False)
    with pytest.raises(
        RunTableError, match=r"run 'a': column 'run_id' on line 3 repeats the run of line 2.*one row per run"
    ):
        read_runtable(path)
    _long(metric=None, step=None).to_csv(path, index=False)
    with pytest.raises(RunTableError, match=r"missing column\(s\) \['metric', 'step'\].*leaves out all of"):
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


# ---------------------------------------------------------------------- strict reading
HEADER = "run_id,group,budget,final,diverged,metric,step,value,static.lr\n"
ROWS = "a,g,100,50,0,m,10,1.5,0.1\na,g,100,50,0,m,20,2.5,0.1\nb,g,100,,1,m,10,,0.2\n"
JSON_ROW = {"run_id": "a", "group": "g", "budget": 100, "metric": "m", "step": 10, "value": 1.5}


def _write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _jsonl(*rows: dict, **overrides) -> str:
    return "".join(json.dumps({**row, **overrides}) + "\n" for row in rows)


def test_good_csv_reads_correctly(tmp_path):
    t = read_runtable(_write(tmp_path, "runs.csv", HEADER + ROWS))
    assert list(t.run_id) == ["a", "b"] and t.static_names == ("lr",)
    np.testing.assert_array_equal(t.static[:, 0], [0.1, 0.2])
    np.testing.assert_array_equal(t.curve("m").points(0)[1], [1.5, 2.5])
    assert np.isnan(t.curve("m").points(1)[1][0]) and t.diverged[1] == 1.0 and np.isnan(t.final[1])


@pytest.mark.parametrize("name, content", [("runs.csv", ""), ("runs.csv", "\ufeff\n\n"), ("runs.jsonl", "\n")])
def test_empty_text_file_is_refused(tmp_path, name, content):
    with pytest.raises(RunTableError, match=r"runs\.\w+: the file (is empty|has no rows)"):
        read_runtable(_write(tmp_path, name, content))


def test_header_without_rows_is_refused(tmp_path):
    with pytest.raises(RunTableError, match="the file has no rows"):
        read_runtable(_write(tmp_path, "runs.csv", HEADER))


@pytest.mark.parametrize("cut", [0, 4, 100, -20])
def test_empty_or_truncated_parquet_is_refused(tmp_path, cut):
    data = write_runtable(_table(), tmp_path / "full.parquet").read_bytes()
    path = _write(tmp_path, "runs.parquet", data[:cut])
    with pytest.raises(RunTableError, match=r"runs\.parquet: not a readable Parquet file .*to_parquet"):
        read_runtable(path)


@pytest.mark.parametrize(
    "content, line",
    [
        (_jsonl(JSON_ROW)[:30], 1),  # a cut line
        (_jsonl(JSON_ROW) + "garbage\n", 2),
        (_jsonl(JSON_ROW) + "\ufeff" + _jsonl(JSON_ROW, step=20), 2),  # a byte-order mark inside
    ],
)
def test_broken_jsonl_line_is_refused(tmp_path, content, line):
    with pytest.raises(RunTableError, match=rf"runs\.jsonl: line {line} is not valid JSON .*one JSON object per line"):
        read_runtable(_write(tmp_path, "runs.jsonl", content))


def test_jsonl_line_that_is_not_an_object_is_refused(tmp_path):
    with pytest.raises(RunTableError, match=r"line 2 holds a JSON list, not an object"):
        read_runtable(_write(tmp_path, "runs.jsonl", _jsonl(JSON_ROW) + "[1, 2]\n"))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_leading_byte_order_mark_is_skipped(tmp_path, suffix):
    path = write_runtable(_table(), tmp_path / f"plain{suffix}")
    bom = _write(tmp_path, f"bom{suffix}", b"\xef\xbb\xbf" + path.read_bytes())
    _assert_same(read_runtable(path), read_runtable(bom))


def test_non_utf8_bytes_are_refused(tmp_path):
    path = _write(tmp_path, "runs.csv", (HEADER + ROWS.replace("b,g", "b,\xe9")).encode("latin-1"))
    with pytest.raises(RunTableError, match=r"line 4 is not UTF-8 text .*save the file as UTF-8"):
        read_runtable(path)


def test_unclosed_quote_is_refused(tmp_path):
    with pytest.raises(RunTableError, match=r"line 5 is not valid CSV .*close every quote"):
        read_runtable(_write(tmp_path, "runs.csv", HEADER + ROWS + 'c,"g,100\n'))


@pytest.mark.parametrize(
    "old, new, column, shown",
    [
        ("m,10,1.5", "m,10,abc", "value", "'abc'"),
        ("m,10,1.5", 'm,10,"0,5"', "value", "'0,5'"),
        (",0,m,10", ",yes,m,10", "diverged", "'yes'"),
        (",0,m,10", ",True,m,10", "diverged", "'True'"),
        ("a,g,100,", "a,g,1_000,", "budget", "'1_000'"),
        ("m,10,1.5,0.1", "m,10,1.5,1e999", "static.lr", "'1e999'"),
        ("m,10,", "m,18446744073709551617,", "step", "'18446744073709551617'"),
    ],
)
def test_csv_text_in_a_number_column_names_run_column_and_value(tmp_path, old, new, column, shown):
    path = _write(tmp_path, "runs.csv", HEADER + ROWS.replace(old, new, 1))
    with pytest.raises(RunTableError, match=rf"runs\.csv: run 'a': column '{column}' on line 2 holds {shown}, which"):
        read_runtable(path)


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("value", "abc", "is text, not a number"),
        ("final", "0.5", "is text, not a number; write the number without quotes"),
        ("final", True, "is a boolean; write 1 for true and 0 for false"),
        ("diverged", False, "is a boolean"),
        ("value", [2.0], "is a list, not a number"),
        ("step", {"at": 10}, "is a dict, not a number"),
        ("budget", 2**64 + 1, "integer too large for a float64 to hold exactly"),
        ("budget", 10**400, "is too large for a float64"),
        ("budget", 1e400, "is too large for a float64"),
    ],
)
def test_jsonl_cell_of_the_wrong_kind_is_refused_not_coerced(tmp_path, field, value, problem):
    text = _jsonl(JSON_ROW).replace('"budget": 100', '"budget": 1e400') if value == 1e400 else None
    text = text or _jsonl(JSON_ROW, **{field: value})
    with pytest.raises(RunTableError, match=rf"runs\.jsonl: run 'a': column '{field}' on line 1 holds .*{problem}"):
        read_runtable(_write(tmp_path, "runs.jsonl", text))


@pytest.mark.parametrize("field, value", [("group", {"x": 1}), ("metric", ["m"]), ("run_id", 1.5), ("group", True)])
def test_jsonl_text_column_refuses_non_text(tmp_path, field, value):
    with pytest.raises(RunTableError, match=rf"column '{field}' on line 1 holds .*which is not text"):
        read_runtable(_write(tmp_path, "runs.jsonl", _jsonl(JSON_ROW, **{field: value})))


def test_jsonl_integer_ids_are_text_and_two_to_the_64_is_exact(tmp_path):
    t = read_runtable(_write(tmp_path, "runs.jsonl", _jsonl(JSON_ROW, run_id=7, budget=2**64)))
    assert list(t.run_id) == ["7"] and t.budget[0] == 2.0**64


def test_jsonl_columns_named_like_dates_stay_numbers(tmp_path):
    row = {**JSON_ROW, "static.start_time": 1700000000, "static.created_at": 5, "static.modified": 1.5}
    t = read_runtable(_write(tmp_path, "runs.jsonl", _jsonl(row)))
    assert t.static_names == ("start_time", "created_at", "modified")
    np.testing.assert_array_equal(t.static, [[1700000000.0, 5.0, 1.5]])


def test_jsonl_nan_and_infinity_constants_are_numbers(tmp_path):
    text = _jsonl(JSON_ROW, diverged=1).replace('"value": 1.5', '"value": NaN')
    text += _jsonl(JSON_ROW, diverged=1, step=20).replace('"value": 1.5', '"value": -Infinity')
    t = read_runtable(_write(tmp_path, "runs.jsonl", text))
    steps, values = t.curve("m").points(0)
    np.testing.assert_array_equal(steps, [10.0, 20.0])
    assert np.isnan(values[0]) and values[1] == -np.inf


@pytest.mark.parametrize("every_line", [True, False])
def test_csv_trailing_comma_is_refused_not_shifted(tmp_path, every_line):
    lines = (HEADER + ROWS).splitlines()
    text = "".join(line + ("," if every_line or k else "") + "\n" for k, line in enumerate(lines))
    expected = r"column 10 of the header has no name \(a trailing comma" if every_line else r"line 2 has 10 cells"
    with pytest.raises(RunTableError, match=expected):
        read_runtable(_write(tmp_path, "runs.csv", text))


@pytest.mark.parametrize(
    "old, new, column, problem",
    [
        ("m,10,1.5", "m,,1.5", "step", "is empty"),
        ("m,10,1.5", ",10,1.5", "metric", "is empty but the row has a step or a value"),
        ("m,10,1.5", ",,1.5", "metric", "is empty but the row has a step or a value"),
        ("m,10,1.5", ",10,", "metric", "is empty but the row has a step or a value"),
        ("m,10,1.5", "m,inf,1.5", "step", "is inf, not a finite step"),
        ("m,10,1.5", "m,-inf,1.5", "step", "is -inf, not a finite step"),
        ("m,10,1.5", ",,", "metric", "is empty on a row of a run with points"),
    ],
)
def test_partial_point_row_is_refused_not_dropped(tmp_path, old, new, column, problem):
    path = _write(tmp_path, "runs.csv", HEADER + ROWS.replace(old, new, 1))
    with pytest.raises(RunTableError, match=rf"run 'a': column '{column}' on line 2 {problem}"):
        read_runtable(path)


def test_second_row_without_point_is_refused(tmp_path):
    rows = "c,g,100,,,,,,0.3\nc,g,100,,,,,,0.3\n"
    with pytest.raises(RunTableError, match=r"run 'c': column 'metric' on line 6 is empty on a second row"):
        read_runtable(_write(tmp_path, "runs.csv", HEADER + ROWS + rows))


def test_empty_value_needs_a_diverged_run(tmp_path):
    path = _write(tmp_path, "runs.csv", HEADER + ROWS.replace("m,10,1.5", "m,10,", 1))
    with pytest.raises(RunTableError, match=r"runs\.csv: run 'a': curve 'm' has a non-finite value at step 10"):
        read_runtable(path)


def test_empty_run_id_is_refused(tmp_path):
    with pytest.raises(RunTableError, match=r"column 'run_id' on line 4 is empty; give every row the id of its run"):
        read_runtable(_write(tmp_path, "runs.csv", HEADER + ROWS.replace("b,g", ",g")))


@pytest.mark.parametrize("token", ["NA", "None", "null", "nan", "N/A", "NaN", "#N/A", "n/a", "<NA>"])
def test_csv_missing_markers_are_text_in_text_columns(tmp_path, token):
    rows = ROWS.replace("b,g,100,,1,m", f"{token},{token},100,,1,{token}")
    if token in ("None", "nan"):  # a RunTable refuses these two as group labels
        rows = rows.replace(f"{token},{token},100", f"{token},g,100")
    t = read_runtable(_write(tmp_path, "runs.csv", HEADER + rows))
    assert list(t.run_id) == ["a", token]
    assert t.metrics == ("m", token) and t.curve(token).counts.tolist() == [0, 1]


def test_csv_missing_markers_are_empty_in_number_columns(tmp_path):
    rows = ROWS.replace("b,g,100,,1,m,10,,", "b,g,100,NA,1,m,10,null,")
    t = read_runtable(_write(tmp_path, "runs.csv", HEADER + rows))
    assert np.isnan(t.final[1]) and np.isnan(t.curve("m").points(1)[1][0])


def test_run_id_coming_back_after_another_run_is_refused(tmp_path):
    rows = "a,g,100,50,0,m,10,1.5,0.1\nb,g,100,,1,m,10,,0.2\na,g,100,50,0,m,20,2.5,0.1\n"
    with pytest.raises(RunTableError, match=r"run 'a': column 'run_id' on line 4 comes back after other runs"):
        read_runtable(_write(tmp_path, "runs.csv", HEADER + rows))


def test_repeated_step_of_a_metric_is_refused(tmp_path):
    rows = ROWS.replace("m,20,2.5", "m,10,2.5")
    with pytest.raises(RunTableError, match=r"run 'a': column 'step' on line 3 repeats step 10 of metric 'm'"):
        read_runtable(_write(tmp_path, "runs.csv", HEADER + rows))


def test_two_adjacent_runs_sharing_an_id_differ_in_a_run_level_value(tmp_path):
    rows = ROWS.replace("b,g,100,", "a,g,100,")
    with pytest.raises(
        RunTableError, match=r"run 'a': column 'diverged' takes several values \[0.0, 1.0\] \(lines 2-4\)"
    ):
        read_runtable(_write(tmp_path, "runs.csv", HEADER + rows))


def test_repeated_csv_header_is_refused_not_renamed(tmp_path):
    text = HEADER.replace("static.lr", "static.lr,static.lr") + "".join(line + ",0.1\n" for line in ROWS.splitlines())
    with pytest.raises(RunTableError, match=r"column 'static.lr' appears twice in the header"):
        read_runtable(_write(tmp_path, "runs.csv", text))


def test_repeated_jsonl_key_is_refused(tmp_path):
    text = _jsonl(JSON_ROW).replace('{"run_id"', '{"step": 5, "run_id"')
    with pytest.raises(RunTableError, match=r"line 1 gives key 'step' twice"):
        read_runtable(_write(tmp_path, "runs.jsonl", text))


@pytest.mark.parametrize("name", ["", "static.", "lr"])
def test_unnamed_or_unknown_jsonl_key_is_refused(tmp_path, name):
    with pytest.raises(RunTableError, match="no name|names no feature|unknown column"):
        read_runtable(_write(tmp_path, "runs.jsonl", _jsonl(JSON_ROW, **{name: 1.0})))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_is_exact_to_the_last_bit(tmp_path, suffix):
    hard = [0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308, -0.0, 2.0**-1074 * 3, 123456789.12345679]
    t = RunTable.from_records(
        [
            {
                "run_id": f"r{k}",
                "group": "g",
                "budget": 1e300,
                "static": {"x": v},
                "curves": {"m": [(k + 0.5, v), (1e299, -v)]},
                "final": v,
            }
            for k, v in enumerate(hard)
        ]
    )
    back = read_runtable(write_runtable(t, tmp_path / f"runs{suffix}"))
    assert back.static.tobytes() == t.static.tobytes() and back.final.tobytes() == t.final.tobytes()
    assert back.curve("m").values.tobytes() == t.curve("m").values.tobytes()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_of_awkward_text(tmp_path, suffix):
    ids = ["NA", "None", "null", "x\ry", "a,b", 'q"t', " a ", "x\ny", "é", "007"]
    t = RunTable.from_records(
        [
            {"run_id": i, "group": f"{i}/g", "budget": 10.0, "static": {"a\rb": 1.0}, "curves": {i: [(1.0, 2.0)]}}
            for i in ids
        ]
    )
    back = read_runtable(write_runtable(t, tmp_path / f"runs{suffix}"))
    _assert_same(t, back)


def test_parquet_cells_of_the_wrong_kind_are_refused(tmp_path):
    frame = _long(diverged=[True, True, False])
    frame.to_parquet(tmp_path / "bool.parquet")
    with pytest.raises(RunTableError, match=r"run 'a': column 'diverged' on row 1 holds True, which is a boolean"):
        read_runtable(tmp_path / "bool.parquet")
    _long(final=["1", "1", "2"]).to_parquet(tmp_path / "text.parquet")
    with pytest.raises(RunTableError, match=r"column 'final' on row 1 holds '1', which is text"):
        read_runtable(tmp_path / "text.parquet")


def test_parquet_index_is_ignored_and_integer_ids_are_text(tmp_path):
    frame = _long(run_id=[7, 7, 8]).set_axis([10, 11, 12])  # a non-default index is stored as a column
    frame.to_parquet(tmp_path / "runs.parquet")
    t = read_runtable(tmp_path / "runs.parquet")
    assert list(t.run_id) == ["7", "8"]
