"""Fuzzing the opda loader: mutated real-looking lines load correctly or raise RunTableError, nothing else.

Twenty lines (read from the real DeBERTa file when it is there, else built here to look like it)
are mutated: keys deleted; values set to null, text, booleans, negatives, zero, huge numbers, NaN,
infinities or percentages; curves cut, reversed or extended beyond the last step; points malformed;
iterations repeated; lines replaced by non-objects, truncated, broken into invalid UTF-8, given a
repeated key; blank lines and CRLF ends added. A table that comes back is checked against the lines
by an independent reading of them; a refusal must name the file and a line of it.

The suite runs a small number of cases; set ``TUNEAHEAD_FUZZ_EXAMPLES`` for more, and add ``-s`` to
see how many loaded, how many were refused, and how many raised anything else::

    TUNEAHEAD_FUZZ_EXAMPLES=10000 python -m pytest -q -s -p no:xdist -o addopts= tests/data/test_fuzz_opda.py
"""

import json
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneahead.data.opda import load_opda
from tuneahead.data.runtable import RunTableError

OPDA_PATH = Path(__file__).parents[3] / "shared/data/opda-deberta-base/deberta-base_tuning.results.jsonl"
EXAMPLES = int(os.environ.get("TUNEAHEAD_FUZZ_EXAMPLES", "300"))
CONFIG = ("num_train_epochs", "train_batch_size", "total_model_steps", "learning_rate", "warmup_steps", "cls_drop_out")
OUTCOMES: Counter = Counter()


def _synthetic_rows(n: int = 20) -> list[dict]:
    """Runs shaped like the real file: evaluations every 1,000 steps, at epoch ends and at the last step."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(1, n + 1):
        epochs, batch = int(rng.integers(1, 5)), int(rng.integers(16, 65))
        per_epoch = 392702 // batch
        total = epochs * per_epoch
        steps = sorted({*range(1000, total, 1000), *(per_epoch * e for e in range(1, epochs)), total})
        level = 0.33 if rng.random() < 0.25 else 0.87
        curves = {
            m: [[s, float(np.clip(level - 0.05 * math.exp(-s / 3000) + rng.normal(0, 0.003), 0, 1))] for s in steps]
            for m in ("matched", "mismatched")
        }
        rows.append(
            {
                "iteration": i,
                "num_train_epochs": epochs,
                "train_batch_size": batch,
                "total_model_steps": total,
                "learning_rate": float(10 ** rng.uniform(-6, -3)),
                "warmup_steps": int(rng.integers(0, per_epoch // 2)),
                "cls_drop_out": float(rng.uniform(0, 0.3)),
                "learning_curves": curves,
            }
        )
    return rows


def _base_rows() -> list[dict]:
    if not OPDA_PATH.exists():
        return _synthetic_rows()
    with open(OPDA_PATH) as fh:
        lines = [line for line in fh if line.strip()]
    return [json.loads(lines[k]) for k in range(0, min(len(lines), 1000), 50)][:20]


BASE = _base_rows()
BASE_LINES = [json.dumps(r) for r in BASE]


# ---------------------------------------------------------------------- mutations
def _plain(x, default=1):
    """``x`` where it is a modest finite number (safe to do arithmetic on), else ``default``."""
    return x if type(x) in (int, float) and abs(x) < 1e15 else default


def _bad_number(x):
    """Values that a number field might wrongly hold, some derived from its real value ``x``."""
    x = _plain(x)
    return st.one_of(
        st.sampled_from([None, True, False, "", "abc", str(x), [x], {"v": x}, 0, -0.0, 10**400, 1e308]),
        st.sampled_from([-x, x * 100, x + 0.5, x * 1e300, float("nan"), float("inf"), -float("inf")]),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def _pick(data, seq, label):
    return data.draw(st.integers(0, len(seq) - 1), label=label) if seq else None


def _curve_of(data, row):
    curves = row.get("learning_curves")
    if not isinstance(curves, dict) or not curves:
        return None, None
    metric = data.draw(st.sampled_from(sorted(curves)), label="metric")
    pts = curves[metric]
    return (pts, metric) if isinstance(pts, list) else (None, None)


def _mutate_row(data, rows: list[dict], kind: str) -> None:
    row = rows[_pick(data, rows, "row")]
    curves = row.get("learning_curves")
    if kind == "delete_key" and row:
        del row[data.draw(st.sampled_from(sorted(row)), label="key")]
    elif kind == "set_config":
        key = data.draw(st.sampled_from(("iteration", *CONFIG)), label="key")
        row[key] = data.draw(_bad_number(row.get(key, 1)), label="value")
    elif kind == "set_curves":
        row["learning_curves"] = data.draw(st.sampled_from([None, [], {}, "curves", {"matched": "x"}, 3]))
    elif kind == "drop_metric":
        if isinstance(curves, dict):
            curves.pop(data.draw(st.sampled_from(["matched", "mismatched"])), None)
    elif kind == "iteration_again":
        row["iteration"] = rows[_pick(data, rows, "other")].get("iteration")
    elif kind == "extra_key":  # harmless
        row[data.draw(st.sampled_from(["note", "seed", "iteration_"]))] = data.draw(_bad_number(1))
    elif kind == "as_float":  # harmless: 2 -> 2.0
        key = data.draw(st.sampled_from(("iteration", *CONFIG)), label="key")
        if type(row.get(key)) is int and abs(row[key]) < 2**53:
            row[key] = float(row[key])
    elif kind == "percent_run" and isinstance(curves, dict):
        for pts in curves.values():
            for p in pts if isinstance(pts, list) else []:
                if isinstance(p, list) and len(p) == 2:
                    p[1] = p[1] * 100 if _plain(p[1], None) is not None else p[1]
    else:
        _mutate_curve(data, row, kind)


def _mutate_curve(data, row: dict, kind: str) -> None:
    pts, _ = _curve_of(data, row)
    if pts is None:
        return
    total = _plain(row.get("total_model_steps"), 0)
    k = _pick(data, pts, "point")
    if k is not None and not (isinstance(pts[k], list) and len(pts[k]) == 2):
        return
    if kind == "cut":
        del pts[data.draw(st.integers(0, len(pts)), label="keep") :]
    elif kind == "reverse":
        pts.reverse()
    elif kind == "beyond_total":
        pts.append([total + data.draw(st.integers(1, 5000)), 0.8])
    elif kind == "bad_point" and k is not None:
        s, v = pts[k]
        pts[k] = data.draw(st.sampled_from([[], [s], [s, v, v], str(s), None, {"step": s}, s, [[s, v]]]))
    elif kind == "bad_step" and k is not None:
        prev = pts[k - 1][0] if k else 0
        prev = _plain(prev, 0)
        step = _plain(pts[k][0], 0)
        pts[k][0] = data.draw(st.one_of(st.sampled_from([prev, prev - 1, step + 0.5]), _bad_number(step)))
    elif kind == "bad_accuracy" and k is not None:
        pts[k][1] = data.draw(_bad_number(pts[k][1]), label="accuracy")


ROW_KINDS = [
    "delete_key",
    "set_config",
    "set_curves",
    "drop_metric",
    "iteration_again",
    "extra_key",
    "as_float",
    "percent_run",
    "cut",
    "reverse",
    "beyond_total",
    "bad_point",
    "bad_step",
    "bad_accuracy",
]
LINE_KINDS = ["non_object", "truncate", "blank", "duplicate_key", "bad_byte", "long_number", "duplicate_line"]


def _mutate_lines(data, lines: list[bytes], kind: str) -> None:
    k = _pick(data, lines, "line")
    line = lines[k]
    if kind == "non_object":
        lines[k] = data.draw(st.sampled_from([b"3", b"null", b'"run"', b"[1, 2]", b"true", b"[" * 5000 + b"]" * 5000]))
    elif kind == "truncate":
        lines[k] = line[: data.draw(st.integers(1, max(1, len(line) - 1)), label="cut")]
    elif kind == "blank":  # harmless
        lines.insert(k, data.draw(st.sampled_from([b"", b"  ", b"\t", b" \r"])))
    elif kind == "duplicate_key":
        lines[k] = data.draw(
            st.sampled_from(
                [line.replace(b"{", b'{"iteration": 999, ', 1), line.replace(b"{", b'{"a": 1, "a": 2, ', 1)]
            )
        )
    elif kind == "bad_byte":
        at = data.draw(st.integers(0, len(line)), label="at")
        lines[k] = line[:at] + data.draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"])) + line[at:]
    elif kind == "long_number":
        lines[k] = re.sub(rb"\d+", lambda m: b"9" * 5000, line, count=1)
    elif kind == "duplicate_line":
        lines.insert(k, line)


def _file_bytes(data) -> bytes:
    rows = [json.loads(line) for line in BASE_LINES]  # a fresh copy, faster than deepcopy
    for _ in range(data.draw(st.integers(0, 3), label="row mutations")):
        _mutate_row(data, rows, data.draw(st.sampled_from(ROW_KINDS), label="row kind"))
    lines = [json.dumps(r).encode() for r in rows]
    for _ in range(data.draw(st.integers(0, 2), label="line mutations")):
        _mutate_lines(data, lines, data.draw(st.sampled_from(LINE_KINDS), label="line kind"))
    end = data.draw(st.sampled_from([b"\n", b"\r\n"]), label="line end")
    return end.join(lines) + end


# ---------------------------------------------------------------------- the independent reading
def _is_number(x) -> bool:
    return type(x) in (int, float) and math.isfinite(x)


def _check_table(table, data: bytes) -> None:
    """Every loaded run obeys the rules and matches its line, read again here with plain json."""
    rows = [json.loads(line) for line in data.splitlines() if line.strip()]
    assert len(table) == len(rows)
    assert len({r["iteration"] for r in rows}) == len(rows)
    j = {n: k for k, n in enumerate(table.static_names)}
    for i, r in enumerate(rows):
        assert all(_is_number(r[key]) for key in ("iteration", *CONFIG))
        total, epochs = r["total_model_steps"], r["num_train_epochs"]
        assert total > 0 and total % 1 == 0 and epochs > 0 and r["train_batch_size"] >= 1 and r["learning_rate"] > 0
        assert r["warmup_steps"] >= 0 and 0 <= r["cls_drop_out"] < 1 and r["train_batch_size"] % 1 == 0
        assert table.run_id[i] == f"deberta-base/{int(r['iteration'])}"
        last_step, last_value = r["learning_curves"]["matched"][-1]
        assert last_step == total and 0 <= last_value <= 1
        assert table.budget[i] == total and table.final[i] == 100 * last_value
        assert table.diverged[i] == float(100 * last_value < 40)
        for metric, pts in r["learning_curves"].items():
            assert all(_is_number(s) and _is_number(v) and 0 <= v <= 1 and 0 <= s <= total for s, v in pts)
            assert all(a[0] < b[0] for a, b in zip(pts, pts[1:]))
            steps, values = table.curve(metric).points(i)
            np.testing.assert_array_equal(steps, [s for s, _ in pts if s < total])
            np.testing.assert_allclose(values, [100 * v for s, v in pts if s < total])
        expected = [epochs, r["train_batch_size"], math.log10(r["learning_rate"]), r["cls_drop_out"]]
        names = ["num_train_epochs", "train_batch_size", "log10_learning_rate", "cls_drop_out"]
        np.testing.assert_allclose([table.static[i, j[n]] for n in names], expected)
        assert table.static[i, j["warmup_fraction"]] == pytest.approx(r["warmup_steps"] * epochs / total)


def _check_refusal(err: RunTableError, path: Path, data: bytes) -> None:
    """The message names the file and one of its lines."""
    message = str(err)
    found = re.match(rf"{re.escape(str(path))}:(\d+)[ :]", message)
    assert found or message.startswith(f"{path}: the file holds no runs"), message
    if found:
        line_no = int(found.group(1))
        assert 1 <= line_no <= len(data.splitlines()) and data.splitlines()[line_no - 1].strip(), message


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory):
    yield tmp_path_factory.mktemp("fuzz") / "mutated.results.jsonl"
    if OUTCOMES:
        print(f"\nopda fuzz, {sum(OUTCOMES.values())} cases: {dict(OUTCOMES)}")


@settings(
    max_examples=EXAMPLES,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(st.data())
def test_mutated_lines_load_correctly_or_raise_runtable_error(fuzz_path, data):
    content = _file_bytes(data)
    fuzz_path.write_bytes(content)
    try:
        table = load_opda(fuzz_path)
    except RunTableError as err:
        OUTCOMES["RunTableError"] += 1
        _check_refusal(err, fuzz_path, content)
        return
    except Exception:
        OUTCOMES["foreign"] += 1
        raise
    OUTCOMES["returned"] += 1
    _check_table(table, content)


def test_the_base_lines_load(tmp_path):
    """The unmutated lines are good data: the fuzzing starts from a file that loads."""
    assert len(BASE) == 20
    content = b"\n".join(json.dumps(r).encode() for r in BASE) + b"\n"
    path = tmp_path / "base.results.jsonl"
    path.write_bytes(content)
    _check_table(load_opda(path), content)
