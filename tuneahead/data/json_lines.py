"""JSON Lines files of runs, one object a line, read strictly: the shared rules of the opda loaders.

Every error is a :class:`~tuneahead.data.runtable.RunTableError` naming the file, the line and,
once known, the run (:class:`Where`). A line is UTF-8 (a byte-order mark on the first line is
allowed); lines holding only spaces, tabs or line ends are skipped and still counted. Every other
line is one JSON object with no key repeated at any level. A number is a finite JSON number that
obeys its :class:`Rule`: ``null``, text, booleans, ``NaN`` and ``Infinity`` are refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .runtable import RunTableError

__all__ = ["Rule", "Where", "read_objects", "read_runs", "number", "show", "label", "positive", "non_negative"]


@dataclass(frozen=True)
class Rule:
    """What a number must be: whole or not, a test on its value, and the words for both."""

    whole: bool
    test: Callable[[float], bool]
    meaning: str


def positive(x: float) -> bool:
    return x > 0


def non_negative(x: float) -> bool:
    return x >= 0


@dataclass(frozen=True)
class Where:
    """The file, line and (once known) run that an error is about."""

    path: Path
    line_no: int
    run: str | None = None

    def error(self, message: str) -> RunTableError:
        run = f" (run {self.run!r})" if self.run is not None else ""
        return RunTableError(f"{self.path}:{self.line_no}{run}: {message}")


class _DuplicateKeyError(Exception):
    """A JSON object on the line repeats a key."""


def read_objects(path: Path, what: str, hint: str):
    """Yield ``(where, object)`` for every non-blank line of ``path``, a ``what`` (for example "opda
    results file"); ``hint`` says where the right file is when there is none."""
    if not path.is_file():
        raise RunTableError(f"{path}: no such {what}; {hint}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise RunTableError(f"{path}: the file cannot be read ({err.strerror}); check its permissions") from None
    for line_no, raw in enumerate(data.splitlines(), start=1):
        if raw.strip(b" \t\r\n"):
            where = Where(path, line_no)
            yield where, _parse(raw, where)


def _parse(raw: bytes, where: Where) -> dict:
    """One line's JSON object; anything else is an error naming the line."""
    try:
        text = raw.decode("utf-8-sig" if where.line_no == 1 else "utf-8")
    except UnicodeDecodeError as err:
        raise where.error(f"not UTF-8 text (bad byte at column {err.start + 1}); save the file as UTF-8") from None
    try:
        row = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise where.error(f"not valid JSON ({err.msg}: column {err.colno}); fix or drop the line") from None
    except _DuplicateKeyError as err:
        raise where.error(f"key {err.args[0]!r} appears twice in one JSON object; keep only the right one") from None
    except (ValueError, RecursionError):
        raise where.error("not a JSON line that can be read (a number too long or nesting too deep)") from None
    if not isinstance(row, dict):
        raise where.error(f"the line is {show(row)}, not a JSON object; each line must be one run's object")
    return row


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object as a dict, refusing a repeated key (json keeps the last one silently)."""
    row: dict = {}
    for key, value in pairs:
        if key in row:
            raise _DuplicateKeyError(key)
        row[key] = value
    return row


def show(value) -> str:
    """A short description of a JSON value for an error message."""
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        text = json.dumps(value)
        return "text " + (text if len(text) <= 40 else text[:36] + '..."')
    text = json.dumps(value)  # null, true, false, a number, NaN or Infinity
    return text if len(text) <= 40 else text[:37] + "..."


def number(where: Where, field: str, value, rule: Rule) -> float:
    """The value of ``field`` as a float, if it is a finite JSON number that obeys ``rule``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.error(
            f"field {field!r} is {show(value)}, not a number; write {rule.meaning} as a JSON number, or drop the line"
        )
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not (math.isfinite(x) and (x.is_integer() or not rule.whole) and rule.test(x)):
        raise where.error(f"field {field!r} is {show(value)}; it must be {rule.meaning}: correct it or drop the line")
    return x


def label(x: float) -> str:
    """A number as a run id or group label: ``2`` for 2.0, the shortest exact form otherwise."""
    return str(int(x)) if x.is_integer() else repr(x)


def read_runs(path: Path, what: str, hint: str, record: Callable[[dict, Where], dict]) -> list[dict]:
    """The run record of every line, ``record(object, where)``; a run that repeats an earlier line's
    ``run_id`` (its ``iteration``) and a file without runs are refused."""
    records: list[dict] = []
    first_line: dict[str, int] = {}
    for where, row in read_objects(path, what, hint):
        run = record(row, where)
        first = first_line.setdefault(run["run_id"], where.line_no)
        if first != where.line_no:
            raise replace(where, run=run["run_id"]).error(
                f"field 'iteration' repeats the run of line {first}; every run needs its own iteration: "
                "renumber or drop one of them"
            )
        records.append(run)
    if not records:
        raise RunTableError(f"{path}: the file holds no runs (it is empty or blank); {hint}")
    return records
