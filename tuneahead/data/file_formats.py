"""Strict cell readers of the run file formats (CSV, JSONL, Parquet) behind :func:`read_runtable`.

Each reader returns the file's :class:`Cells`: the column names in file order and one raw value per
row and column. :func:`text_column` and :func:`number_column` then turn a column into text (``str``,
``None`` for empty) or float64 (NaN for empty). Nothing is guessed: no library infers types, dates,
missing values or an index, and every bad cell is a :class:`RunTableError` naming the file, the line
(Parquet: the row), the run, the column, the bad value and the fix.

Rules by format:

- **CSV**: UTF-8 (a leading byte-order mark is skipped), comma separated, ``"`` quotes (every quote
  must close). The first non-blank line is the header; every other non-blank line has exactly as
  many cells as the header (a trailing comma is an extra, unnamed cell and is refused). A text cell
  is kept as written (``NA``, ``None``, ``null``, ``007`` are text); an empty text cell is empty. A
  number cell holds a plain decimal number (``12``, ``-0.5``, ``1e-4``, blanks around it ignored),
  ``inf``/``-inf``/``infinity``, or a missing marker read as empty: nothing, ``nan``, ``NA``,
  ``N/A``, ``#N/A``, ``null``, ``None``, ``<NA>`` (any case).
- **JSONL**: UTF-8 (a leading byte-order mark is skipped), one JSON object per non-blank line, no key
  twice in one object; a key missing from a line reads as null. A text cell is a string (an integer
  reads as its decimal text) or null; a number cell is a JSON number, ``NaN``, ``Infinity``,
  ``-Infinity`` or null. A quoted number, a boolean, a list or an object is refused, not coerced.
- **Parquet**: read with pyarrow; the index columns pandas stores are ignored. A text column holds
  strings (or integers); a number column holds integers or floats (booleans, dates, decimals and
  nested values are refused).
- **All**: a column name appears once and is not empty; a number too large for a float64 (or an
  integer it cannot hold exactly) is refused; a file without rows is refused.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import RunTableError

__all__ = ["Cells", "read_cells", "text_column", "number_column", "SUFFIXES"]

SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl", ".json")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_MISSING = frozenset({"", "nan", "-nan", "na", "n/a", "#n/a", "#na", "null", "none", "<na>"})
_INFINITE = {"inf": math.inf, "infinity": math.inf}
_NUMBER_FIX = "write a plain number such as 0.5 or 1e-4 (a dot for decimals), or leave the cell empty"
_TEXT_FIX = "write the text as a string, or leave the cell empty"


class _Bad(Exception):
    """A cell that is not of its column's kind: what is wrong, and the fix."""

    def __init__(self, problem: str, fix: str = _NUMBER_FIX):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


class _TooLarge:
    """A JSON number a float64 cannot hold (kept as written, refused by the column converters)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text if len(self.text) <= 60 else self.text[:57] + "..."


@dataclass(frozen=True)
class Cells:
    """The raw cells of a run file: ``cells[name]`` holds one value per row, in file order.

    ``lines[i]`` is where row ``i`` is (a line of a CSV or JSONL file, a row of a Parquet file);
    ``text_numbers`` says that numbers are written as text (CSV).
    """

    path: Path
    columns: list[str]
    cells: dict
    lines: list[int]
    unit: str
    text_numbers: bool

    def error(self, i: int, column: str, run_ids, problem: str, fix: str) -> RunTableError:
        """The error of row ``i``'s cell in ``column``, naming the file, run, column and place."""
        run = f"run {run_ids[i]!r}: " if run_ids is not None and run_ids[i] is not None else ""
        return RunTableError(f"{self.path}: {run}column {column!r} on {self.unit} {self.lines[i]} {problem}; {fix}")


def read_cells(path: Path) -> Cells:
    """The cells of the run file at ``path``; the suffix picks the format (see the module doc)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        cells = _read_csv(path, _decoded(path))
    elif suffix in (".parquet", ".pq"):
        cells = _read_parquet(path)
    elif suffix in (".jsonl", ".json"):
        cells = _read_jsonl(path, _decoded(path))
    else:
        raise RunTableError(f"{path}: unknown file type {suffix!r}; use .csv, .parquet or .jsonl")
    if not cells.lines:
        raise RunTableError(f"{path}: the file has no rows; a run file needs one row per curve point of each run")
    return cells


def text_column(cells: Cells, name: str, run_ids) -> list[str | None]:
    """Column ``name`` as text, ``None`` where empty; a number, boolean or nested cell is refused."""
    raw = cells.cells[name]
    out: list[str | None] = []
    for i, value in enumerate(raw.tolist() if isinstance(raw, np.ndarray) else raw):
        if value is None or value == "":
            out.append(None)
        elif isinstance(value, str):
            out.append(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            out.append(str(value))
        else:
            raise cells.error(i, name, run_ids, f"holds {_short(value)}, which is not text", _TEXT_FIX)
    return out


def number_column(cells: Cells, name: str, run_ids) -> np.ndarray:
    """Column ``name`` as float64, NaN where empty; text that is not a number, a boolean, a quoted
    number (JSONL, Parquet) or a nested value is refused."""
    raw = cells.cells[name]
    if isinstance(raw, np.ndarray):
        return raw.astype(float)
    out = np.empty(len(raw))
    memo: dict[str, float] = {}
    for i, value in enumerate(raw):
        try:
            if cells.text_numbers:
                out[i] = memo[value] if value in memo else memo.setdefault(value, _text_to_float(value))
            else:
                out[i] = _value_to_float(value)
        except _Bad as bad:
            raise cells.error(i, name, run_ids, f"holds {_short(value)}, which {bad.problem}", bad.fix) from None
    return out


def check_header(path: Path, names: list[str]) -> None:
    """Every column has a name, and no name repeats (pandas would rename a repeat silently)."""
    for k, name in enumerate(names):
        if name == "":
            raise RunTableError(
                f"{path}: column {k + 1} of the header has no name (a trailing comma at the end of the "
                "lines?); remove the extra separator or name the column"
            )
    seen = set()
    for name in names:
        if name in seen:
            raise RunTableError(f"{path}: column {name!r} appears twice in the header; give each column once")
        seen.add(name)


# ---------------------------------------------------------------------- cell values
def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _exact_float(value: int) -> float:
    try:
        out = float(value)
    except OverflowError:
        raise _Bad("is too large for a float64") from None
    if out != value:
        raise _Bad("is an integer too large for a float64 to hold exactly", "write it as a float, such as 1.5e19")
    return out


def _text_to_float(text: str) -> float:
    s = text.strip(" \t")
    low = s.lower()
    if low in _MISSING:
        return math.nan
    if low.lstrip("+-") in _INFINITE:
        return -math.inf if low.startswith("-") else math.inf
    if not _NUMBER.fullmatch(s):
        raise _Bad("is not a number")
    if _INTEGER.fullmatch(s):
        if len(s) > 400:
            raise _Bad("is too large for a float64")
        return _exact_float(int(s))
    out = float(s)
    if math.isinf(out):
        raise _Bad("is too large for a float64 (it would read as infinity)", "write inf if you mean infinity")
    return out


def _value_to_float(value) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise _Bad("is a boolean", "write 1 for true and 0 for false")
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return _exact_float(value)
    if isinstance(value, str):
        raise _Bad("is text, not a number", "write the number without quotes, or null where it is empty")
    if isinstance(value, _TooLarge):
        raise _Bad("is too large for a float64", "write Infinity if you mean infinity")
    raise _Bad(f"is a {type(value).__name__}, not a number", "write a single number, or null where it is empty")


# ---------------------------------------------------------------------- formats
def _decoded(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise RunTableError(f"{path}: cannot read the file ({err.strerror or err}); check the path") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise RunTableError(
            f"{path}: line {line} is not UTF-8 text (byte {data[err.start : err.start + 1]!r} at offset "
            f"{err.start}); save the file as UTF-8"
        ) from None


def _read_csv(path: Path, text: str) -> Cells:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows, lines = [], []
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if header is None:
                check_header(path, record)
                header = record
            elif len(record) != len(header):
                raise RunTableError(
                    f"{path}: line {reader.line_num} has {len(record)} cells but the header has {len(header)}; "
                    "give every line one cell per header column (no trailing comma; quote a cell holding a comma)"
                )
            else:
                rows.append(record)
                lines.append(reader.line_num)
    except csv.Error as err:
        raise RunTableError(
            f"{path}: line {reader.line_num} is not valid CSV ({err}); close every quote and quote whole cells"
        ) from None
    if header is None:
        raise RunTableError(f"{path}: the file is empty; a run file starts with a header line naming its columns")
    columns = list(zip(*rows)) if rows else [() for _ in header]
    return Cells(path, header, dict(zip(header, (list(c) for c in columns))), lines, "line", True)


def _read_jsonl(path: Path, text: str) -> Cells:
    rows, lines, names = [], [], {}
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            rows.append(_json_object(path, number, line))
            lines.append(number)
            names.update(dict.fromkeys(rows[-1]))
    check_header(path, list(names))
    return Cells(path, list(names), {k: [row.get(k) for row in rows] for k in names}, lines, "line", False)


class _RepeatedKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        raise _RepeatedKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


def _json_int(text: str):
    return _TooLarge(text) if len(text) > 400 else int(text)


def _json_float(text: str):
    value = float(text)
    return _TooLarge(text) if math.isinf(value) else value


def _json_object(path: Path, number: int, line: str) -> dict:
    try:
        obj = json.loads(
            line, object_pairs_hook=_unique_keys, parse_constant=float, parse_int=_json_int, parse_float=_json_float
        )
    except json.JSONDecodeError as err:
        raise RunTableError(
            f"{path}: line {number} is not valid JSON ({err.msg}, character {err.colno}); write one JSON "
            "object per line (a cut line, or stray text?)"
        ) from None
    except _RepeatedKey as err:
        raise RunTableError(
            f"{path}: line {number} gives key {err.args[0]!r} twice; give each column once per line"
        ) from None
    except RecursionError:
        raise RunTableError(f"{path}: line {number} nests too deeply; write one flat JSON object per line") from None
    if not isinstance(obj, dict):
        raise RunTableError(
            f"{path}: line {number} holds a JSON {type(obj).__name__}, not an object; write one JSON object per line"
        )
    return obj


def _read_parquet(path: Path) -> Cells:
    try:
        with pq.ParquetFile(path) as source:
            table = source.read()
    except (pa.ArrowException, OSError, ValueError, MemoryError) as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0][:120]
        raise RunTableError(
            f"{path}: not a readable Parquet file ({reason}); "
            "write it again with DataFrame.to_parquet or write_runtable"
        ) from None
    index = _pandas_index_columns(table)
    check_header(path, [n for n in table.column_names if n not in index])
    names = [n for n in table.column_names if n not in index]
    cells = {name: _arrow_cells(path, name, table.column(name)) for name in names}
    return Cells(path, names, cells, list(range(1, table.num_rows + 1)), "row", False)


def _pandas_index_columns(table: pa.Table) -> set[str]:
    """The columns pandas stored for a DataFrame's index (``pandas.read_parquet`` makes them the index)."""
    try:
        meta = table.schema.pandas_metadata
    except (ValueError, TypeError):
        return set()
    index = meta.get("index_columns", []) if isinstance(meta, dict) else []
    return {c for c in index if isinstance(c, str)} if isinstance(index, list) else set()


def _arrow_cells(path: Path, name: str, column: pa.ChunkedArray):
    if pa.types.is_floating(column.type):
        return column.to_numpy().astype(float)
    try:
        return column.to_pylist()
    except (pa.ArrowException, ValueError, OverflowError, TypeError):
        raise RunTableError(
            f"{path}: column {name!r} has type {column.type} that cannot be read; store numbers as float64 "
            "and text as strings"
        ) from None
