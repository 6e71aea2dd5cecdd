"""The mapping shared by the logged-run loaders, on hand-made runs."""

import math

import numpy as np
import pytest

from tuneahead.data.errors import RunTableError
from tuneahead.data.logged_runs import LoggedRun, TableSpec, as_number, build_table


def _run(run_id, lr=1e-3, loss=(1.0, 0.8, 0.6, 0.5), acc=((2, 0.5), (4, 0.7)), **kw):
    metrics = {"loss": [(i + 1, v) for i, v in enumerate(loss)], "acc": list(acc)}
    defaults = dict(group="sweep", config={"lr": lr, "model": "bert", "steps": 4, "wd": 0.0}, reached=4.0)
    return LoggedRun(run_id=run_id, where=f"folder {run_id}", metrics=metrics, **{**defaults, **kw})


def test_as_number():
    assert as_number(True) == 1.0 and as_number("False") == 0.0 and as_number(" 3e-4 ") == 3e-4
    assert as_number(np.int64(8)) == 8.0 and as_number("adamw") is None and as_number(None) is None
    assert as_number([1]) is None


def test_build_table_mapping():
    runs = [
        _run("b", lr=1e-2, loss=(1.0, math.inf, 0.5, 0.4), acc=((2, 0.4), (4, math.nan))),
        _run("a"),
        _run("c", lr=1e-1, reached=2.0, loss=(1.0, 0.9)),
    ]
    runs[2].metrics["grad_norm"] = [(1, math.inf), (2, 1.0)]
    runs[1].metrics["grad_norm"] = [(1, math.inf), (2, 1.0), (2, 3.0)]
    runs[0].metrics["grad_norm"] = [(1, 2.0)]
    t = build_table(runs, TableSpec(final_metric="acc", log10=("lr",), budget="steps", diverged_score=0.0))
    assert list(t.run_id) == ["a", "b", "c"] and list(t.budget) == [4, 4, 4]
    assert t.static_names == ("log10_lr",)  # steps and wd are constant
    assert t.final[0] == 0.7 and t.final[1] == 0.0 and np.isnan(t.final[2])  # b diverged with a NaN final
    assert t.diverged[:2].tolist() == [0.0, 1.0] and np.isnan(t.diverged[2])
    # a's infinite grad norm is dropped, the repeated step keeps its last value; b keeps its inf loss
    assert t.curve("grad_norm").points(0)[1].tolist() == [3.0]
    assert np.isinf(t.curve("loss").points(1)[1][1])
    assert t.curve("acc").points(0)[0].tolist() == [2]


def test_build_table_groups_and_static_errors():
    runs = [_run("a"), _run("b", lr=1e-2)]
    t = build_table(runs, TableSpec(final_metric="acc", group="g", group_by=["model", "steps"], static=["wd"]))
    assert list(t.group) == ["g/bert/4", "g/bert/4"] and t.static_names == ()
    t = build_table(runs, TableSpec(final_metric="acc", static=["wd"], drop_constant=False))
    assert t.static_names == ("wd",) and list(t.group) == ["sweep", "sweep"]
    with pytest.raises(RunTableError, match=r"run 'a' \(folder a\): static feature 'wd' is 0; its log10"):
        build_table(runs, TableSpec(final_metric="acc", static=["wd"], log10=["wd"]))
    with pytest.raises(RunTableError, match=r"run 'a' \(folder a\): static feature 'model' is 'bert'.*group_by"):
        build_table(runs, TableSpec(final_metric="acc", static=["model"]))
    with pytest.raises(RunTableError, match="same run id 'a'"):
        build_table([_run("a"), _run("a")], TableSpec(final_metric="acc"))
    with pytest.raises(RunTableError, match="no positive step budget"):
        build_table([_run("a", reached=0.0)], TableSpec(final_metric="acc"))
