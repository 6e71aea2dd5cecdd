"""Fuzzing the generic run file reader (``read_runtable``) on CSV, Parquet and JSONL files.

Small valid tables are written with ``write_runtable`` and then mutated (cut, garbage lines, byte
flips, byte-order marks, trailing commas, repeated headers and keys, cells replaced with text,
empties, NA markers, infinities, huge integers, lists, booleans, shared run ids, shuffled or
repeated rows). Whatever the bytes, the reader returns a RunTable or raises RunTableError, never
another exception; an untouched file reads back to the written table exactly; and a mutation known
to break the layout is refused.

The suite runs a small budget. ``TUNEAHEAD_FUZZ_EXAMPLES=<n>`` spreads ``n`` examples over the
tests here, and ``TUNEAHEAD_FUZZ_REPORT=1`` (with ``pytest -s``) prints the outcome counts::

    TUNEAHEAD_FUZZ_EXAMPLES=10000 TUNEAHEAD_FUZZ_REPORT=1 \\
        python -m pytest -p no:xdist -o addopts="" -s -q tests/data/test_fuzz_files.py
"""

import csv
import io
import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from tuneahead.data.files import read_runtable, runtable_to_frame, write_runtable
from tuneahead.data.runtable import RunTable, RunTableError

N_TESTS = 4
EXAMPLES = max(1, int(os.environ.get("TUNEAHEAD_FUZZ_EXAMPLES", 4 * 90)) // N_TESTS)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
SUFFIXES = [".csv", ".parquet", ".jsonl"]
TEXT = ("run_id", "group", "metric")
OUTCOMES: Counter = Counter()

TRICKY = ["NA", "None", "null", "nan", "N/A", "007", " a ", "a,b", 'q"t', "x\ny", "x\r\ny", "x\ry", "é", "1e5", "#"]
names = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=5),
)
groups = names.filter(lambda g: g not in ("nan", "None"))
finite = st.floats(allow_nan=False, allow_infinity=False)
BAD_CELLS = ["abc", "0,5", "yes", "1_0", "0x10", "True", [1, 2], {"a": 1}, True, 10**400, "1e400"]
CELLS = [*BAD_CELLS, "", "NA", "None", "null", "nan", "N/A", "inf", "-inf", " 1", "1.5", 2**64, 2**64 + 1]
CELLS += [0.5, -1.0, float("nan"), float("inf"), None, "\ufeff1", "١"]


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if os.environ.get("TUNEAHEAD_FUZZ_REPORT"):
        print("\nfuzz outcomes:", dict(sorted(OUTCOMES.items())), "total:", sum(OUTCOMES.values()))


@st.composite
def tables(draw) -> RunTable:
    n = draw(st.integers(1, 4))
    ids = draw(st.lists(names, min_size=n, max_size=n, unique=True))
    static_names = draw(st.lists(names, max_size=2, unique=True))
    metrics = draw(st.lists(names, max_size=2, unique=True))
    records = []
    for run_id in ids:
        budget = draw(st.floats(min_value=0.0, max_value=1e300, exclude_min=True))
        diverged = draw(st.sampled_from([0.0, 1.0, None]))
        values = st.floats() if diverged == 1.0 else finite
        curves = {}
        for m in metrics:
            steps = sorted(draw(st.lists(st.floats(min_value=0.0, max_value=budget), max_size=3, unique=True)))
            curves[m] = [(s, draw(values)) for s in steps]
        records.append(
            {
                "run_id": run_id,
                "group": draw(groups),
                "budget": budget,
                "static": {name: draw(finite) for name in static_names},
                "curves": curves,
                "final": draw(st.one_of(st.none(), finite)),
                "diverged": diverged,
            }
        )
    return RunTable.from_records(records, static_names=static_names)


# ---------------------------------------------------------------------- helpers
def _same_floats(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | ((a == b) & (np.signbit(a) == np.signbit(b)))))


def assert_same_table(a: RunTable, b: RunTable) -> None:
    """Equal runs, groups, static features, budgets, finals, flags and points, every float exactly."""
    assert list(a.run_id) == list(b.run_id)
    assert list(a.group) == list(b.group)
    assert a.static_names == b.static_names
    for field in ("static", "budget", "final", "diverged"):
        assert _same_floats(getattr(a, field), getattr(b, field)), field
    with_points = [m for m in a.metrics if a.curve(m).counts.sum()]
    assert sorted(with_points) == sorted(m for m in b.metrics if b.curve(m).counts.sum())
    for m in with_points:
        for i in range(len(a)):
            (sa, va), (sb, vb) = a.curve(m).points(i), b.curve(m).points(i)
            assert _same_floats(sa, sb) and _same_floats(va, vb), (m, i)


def _read(path: Path, expect: str, original: RunTable | None = None) -> None:
    """Read ``path``; ``expect`` is "same" (the original back), "error" (a RunTableError) or "any"."""
    fmt = path.suffix
    try:
        table = read_runtable(path)
    except RunTableError as err:
        assert str(path) in str(err), err
        OUTCOMES[f"{fmt} RunTableError"] += 1
        assert expect != "same", f"a valid file was refused: {err}"
        return
    except Exception:
        OUTCOMES[f"{fmt} foreign"] += 1
        raise
    OUTCOMES[f"{fmt} returned"] += 1
    assert expect != "error", f"a broken file was read: {table!r}"
    if expect == "same":
        assert_same_table(original, table)


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a (mutated) long frame the way write_runtable writes one."""
    if path.suffix == ".csv":
        texts = [*map(str, frame.columns), *(v for c in frame.columns for v in frame[c] if isinstance(v, str))]
        frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL if any("\r" in t for t in texts) else None)
    elif path.suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as fh:
            for rec in frame.to_dict(orient="records"):
                clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}
                fh.write(json.dumps(clean) + "\n")
    else:
        try:
            frame.to_parquet(path, index=False)
        except (pa.ArrowException, ValueError, TypeError, OverflowError):
            reject()  # a mix that Parquet cannot store


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


# ---------------------------------------------------------------------- frame mutations
def _reordered(draw, table: RunTable, frame: pd.DataFrame) -> tuple[pd.DataFrame, str, RunTable]:
    """Rows shuffled within each run, and the runs themselves reordered: the same runs come back."""
    ids = frame["run_id"].tolist()  # not a numpy comparison: numpy strips a trailing NUL from a str scalar
    blocks = [draw(st.permutations([r for r, i in enumerate(ids) if i == run_id])) for run_id in table.run_id]
    order = draw(st.permutations(range(len(table))))
    rows = [r for k in order for r in blocks[k]]
    return frame.iloc[rows].reset_index(drop=True), "same", table.select(np.array(order))


def _mutate_frame(draw, table: RunTable, frame: pd.DataFrame, suffix: str) -> tuple[pd.DataFrame, str]:
    kinds = ["share_id", "cell", "drop_column", "shuffle", "repeat_row", "empty", "extra"]
    kind = draw(st.sampled_from(kinds))
    rows = len(frame)
    if kind == "share_id" and len(table) > 1:
        i, j = sorted(draw(st.lists(st.integers(0, len(table) - 1), min_size=2, max_size=2, unique=True)))
        frame.loc[frame["run_id"] == table.run_id[j], "run_id"] = table.run_id[i]
        return frame, "error" if j > i + 1 else "any"
    if kind == "cell":
        r, col = draw(st.integers(0, rows - 1)), draw(st.sampled_from(list(frame.columns)))
        value = draw(st.sampled_from(CELLS))
        frame[col] = frame[col].astype(object)
        frame.at[r, col] = value
        refused = col not in TEXT and (value in BAD_CELLS or (suffix != ".csv" and isinstance(value, str)))
        return frame, "error" if refused else "any"
    if kind == "drop_column":
        col = draw(st.sampled_from(list(frame.columns)))
        required = col in ("run_id", "group", "budget", "metric", "step", "value")
        return frame.drop(columns=col), "error" if required else "any"
    if kind == "shuffle":
        return frame.iloc[draw(st.permutations(range(rows)))].reset_index(drop=True), "any"
    if kind == "repeat_row":
        r, at = draw(st.integers(0, rows - 1)), draw(st.integers(0, rows))
        out = pd.concat([frame.iloc[:at], frame.iloc[[r]], frame.iloc[at:]]).reset_index(drop=True)
        return out, "error"
    if kind == "empty":
        r = draw(st.integers(0, rows - 1))
        cols = draw(st.lists(st.sampled_from(["run_id", "metric", "step", "value"]), min_size=1, unique=True))
        for col in cols:
            frame[col] = frame[col].astype(object)
            frame.at[r, col] = None
        row = frame.iloc[r]
        no_point = pd.isna(row["metric"]) and pd.isna(row["step"]) and pd.isna(row["value"])
        partial = (pd.isna(row["metric"]) or pd.isna(row["step"])) and not no_point
        return frame, "error" if "run_id" in cols or partial else "any"
    name = draw(st.sampled_from(["", "Unnamed: 0", "lr", "static."]))
    return frame.assign(**{name: 1.0}), "error"


@FUZZ
@given(table=tables(), suffix=st.sampled_from(SUFFIXES))
def test_written_tables_read_back_exactly(table, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_runtable(table, Path(tmp) / f"runs{suffix}")
        _read(path, "same", table)


@FUZZ
@given(table=tables(), suffix=st.sampled_from(SUFFIXES), data=st.data())
def test_mutated_frames_read_or_refuse(table, suffix, data):
    frame = runtable_to_frame(table)
    if data.draw(st.integers(0, 7)) == 0:
        frame, expect, table = _reordered(data.draw, table, frame)
    else:
        frame, expect = _mutate_frame(data.draw, table, frame, suffix)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"runs{suffix}"
        _write_frame(frame, path)
        _read(path, expect, table)


# ---------------------------------------------------------------------- byte mutations
def _mutate_bytes(draw, data: bytes, suffix: str) -> tuple[bytes, str]:
    kinds = ["cut", "garbage_line", "flip", "bom_start", "bom_inside", "line_ops", "crlf"]
    if suffix == ".csv":
        kinds += ["trailing_comma", "repeat_header_column"]
    if suffix == ".jsonl":
        kinds += ["repeat_key"]
    kind = draw(st.sampled_from(kinds))
    at = draw(st.integers(0, len(data)))
    lines = _lines(data)
    if kind == "cut":
        return data[:at], "any"
    if kind == "flip":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :], "any"
    if kind == "bom_start":
        return b"\xef\xbb\xbf" + data, "error" if suffix == ".parquet" else "same"
    if kind == "bom_inside":
        return data[:at] + b"\xef\xbb\xbf" + data[at:], "any"
    if kind == "garbage_line":
        k = draw(st.integers(0, len(lines)))
        garbage = draw(st.one_of(st.binary(max_size=20), st.sampled_from([b"{}", b"[]", b"1", b"null", b",,,", b'"'])))
        return b"\n".join([*lines[:k], garbage, *lines[k:]]), "any"
    if kind == "line_ops":
        k = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "repeat", "swap"]))
        if op == "drop":
            return b"\n".join(lines[:k] + lines[k + 1 :]), "any"
        if op == "repeat":
            return b"\n".join([*lines[: k + 1], lines[k], *lines[k + 1 :]]), "any"
        j = draw(st.integers(0, len(lines) - 1))
        lines[k], lines[j] = lines[j], lines[k]
        return b"\n".join(lines), "any"
    if kind == "crlf":
        simple = suffix == ".jsonl" or (suffix == ".csv" and b"\r" not in data and b'"' not in data)
        return data.replace(b"\n", b"\r\n"), "same" if simple else "any"
    if kind == "trailing_comma":
        return b"\n".join(line + b"," if line else line for line in lines), "error"
    if kind == "repeat_header_column":
        k = draw(st.integers(0, 5))
        rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
        rows = [row + [row[k]] for row in rows]
        with tempfile.SpooledTemporaryFile(mode="w+", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
            fh.seek(0)
            return fh.read().encode(), "error" if b"\r" not in data and b'"' not in data else "any"
    k = draw(st.integers(0, len(lines) - 1))
    if not lines[k].startswith(b"{"):
        return data, "same"
    key = draw(st.sampled_from(["run_id", "group", "budget", "metric", "step", "value"]))
    lines[k] = b'{"' + key.encode() + b'": 1, ' + lines[k][1:]
    return b"\n".join(lines), "error"


@FUZZ
@given(table=tables(), suffix=st.sampled_from(SUFFIXES), data=st.data())
def test_mutated_bytes_read_or_refuse(table, suffix, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_runtable(table, Path(tmp) / f"runs{suffix}")
        mutated, expect = _mutate_bytes(data.draw, path.read_bytes(), suffix)
        path.write_bytes(mutated)
        _read(path, expect, table)


@FUZZ
@given(
    suffix=st.sampled_from(SUFFIXES),
    head=st.sampled_from([b"", b"run_id,group,budget,metric,step,value\n", b'{"run_id": "a", ', b"PAR1"]),
    body=st.binary(max_size=200),
)
def test_random_bytes_read_or_refuse(suffix, head, body):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"runs{suffix}"
        path.write_bytes(head + body)
        _read(path, "any")


def test_parquet_with_repeated_column_is_refused(tmp_path):
    """pandas cannot write a repeated column name; pyarrow can, and the reader refuses it."""
    frame = runtable_to_frame(RunTable.from_records([{"run_id": "a", "group": "g", "budget": 5.0, "curves": {}}]))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("budget", table.column("budget"))
    pq.write_table(table, tmp_path / "runs.parquet")
    with pytest.raises(RunTableError, match="'budget' appears twice"):
        read_runtable(tmp_path / "runs.parquet")
