"""RunTable: validation errors name the run and the field; views, truncation and splits behave."""

import numpy as np
import pytest

from tuneahead.data.runtable import Curve, RunTable, RunTableError, as_runtable


def rec(run_id, group="g", budget=100.0, static=None, curves=None, final=50.0, diverged=0.0):
    """One record for RunTable.from_records, with small valid defaults."""
    return {
        "run_id": run_id,
        "group": group,
        "budget": budget,
        "static": {"lr": 1.0} if static is None else static,
        "curves": {"loss": [(10.0, 2.0), (20.0, 1.5), (30.0, 1.2)]} if curves is None else curves,
        "final": final,
        "diverged": diverged,
    }


def table(*records):
    return RunTable.from_records(list(records))


# ---------------------------------------------------------------------- validation
def test_valid_minimal_table():
    t = table(rec("a"), rec("b", final=None, diverged=None))
    assert len(t) == 2
    assert t.metrics == ("loss",)
    assert t.static_names == ("lr",)
    assert np.isnan(t.final[1]) and np.isnan(t.diverged[1])
    # arrays are frozen
    with pytest.raises(ValueError):
        t.final[0] = 1.0


def test_duplicate_run_id():
    with pytest.raises(RunTableError, match=r"duplicate run_id 'a' at rows 0 and 2"):
        table(rec("a"), rec("b"), rec("a"))


def test_non_monotone_steps():
    bad = rec("b", curves={"loss": [(10.0, 2.0), (30.0, 1.5), (20.0, 1.2)]})
    with pytest.raises(RunTableError, match=r"run 'b': curve 'loss' steps are not strictly increasing"):
        table(rec("a"), bad)


def test_repeated_step_is_not_monotone():
    bad = rec("b", curves={"loss": [(10.0, 2.0), (10.0, 1.5)]})
    with pytest.raises(RunTableError, match=r"run 'b': curve 'loss'.*not strictly increasing"):
        table(rec("a"), bad)


def test_negative_step():
    with pytest.raises(RunTableError, match=r"run 'a': curve 'loss' has a negative step"):
        table(rec("a", curves={"loss": [(-1.0, 2.0), (5.0, 1.0)]}))


@pytest.mark.parametrize("diverged", [0.0, None])
def test_nan_value_needs_diverged_flag(diverged):
    bad = rec("b", curves={"loss": [(10.0, 2.0), (20.0, np.nan)]}, diverged=diverged)
    with pytest.raises(RunTableError, match=r"run 'b': curve 'loss' has a non-finite value at step 20"):
        table(rec("a"), bad)


def test_nan_value_accepted_when_diverged():
    ok = rec("b", curves={"loss": [(10.0, 2.0), (20.0, np.nan)]}, diverged=1.0)
    t = table(rec("a"), ok)
    steps, values = t.curve("loss").points(1)
    np.testing.assert_array_equal(steps, [10.0, 20.0])
    assert values[0] == 2.0 and np.isnan(values[1])
    assert t.diverged[1] == 1.0


def test_inf_value_needs_diverged_flag():
    bad = rec("b", curves={"loss": [(10.0, np.inf)]}, diverged=0.0)
    with pytest.raises(RunTableError, match=r"run 'b': curve 'loss' has a non-finite value"):
        table(rec("a"), bad)


def test_empty_table_from_records():
    with pytest.raises(RunTableError, match="empty"):
        RunTable.from_records([])


def test_empty_table_constructor():
    with pytest.raises(RunTableError, match="empty"):
        RunTable(
            run_id=np.array([], dtype=object),
            group=np.array([], dtype=object),
            static=np.zeros((0, 0)),
            static_names=(),
            budget=np.zeros(0),
            curves={},
            final=np.zeros(0),
        )


def test_curve_step_beyond_budget():
    bad = rec("b", budget=25.0)
    with pytest.raises(RunTableError, match=r"run 'b': curve 'loss' reaches step 30, beyond the run's budget T=25"):
        table(rec("a"), bad)


def test_curve_step_at_budget_is_fine():
    t = table(rec("a", budget=30.0))
    assert t.curve("loss").counts[0] == 3


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_static_feature(value):
    bad = rec("b", static={"lr": 1.0, "wd": value})
    with pytest.raises(RunTableError, match=r"run 'b': static feature 'wd' is"):
        table(rec("a", static={"lr": 1.0, "wd": 0.1}), bad)


def test_missing_static_feature():
    with pytest.raises(RunTableError, match=r"run 'b': static feature 'wd' is missing"):
        table(rec("a", static={"lr": 1.0, "wd": 0.1}), rec("b", static={"lr": 1.0}))


@pytest.mark.parametrize("value", [2.0, -1.0, 0.5, np.inf])
def test_bad_diverged_value(value):
    with pytest.raises(RunTableError, match=r"run 'b': field 'diverged' is"):
        table(rec("a"), rec("b", diverged=value))


@pytest.mark.parametrize("value", [0.0, -5.0, np.nan, np.inf])
def test_non_positive_budget(value):
    with pytest.raises(RunTableError, match=r"run 'b': field 'budget' is"):
        table(rec("a"), rec("b", budget=value, curves={}))


def test_infinite_final():
    with pytest.raises(RunTableError, match=r"run 'b': field 'final' is infinite"):
        table(rec("a"), rec("b", final=np.inf))


def test_empty_group():
    with pytest.raises(RunTableError, match=r"run 'b': field 'group' is empty"):
        table(rec("a"), rec("b", group=""))


def test_unknown_metric_lists_known():
    t = table(rec("a", curves={"loss": [(1.0, 1.0)], "acc": [(1.0, 0.5)]}))
    with pytest.raises(RunTableError, match=r"unknown metric 'nope'.*\['loss', 'acc'\]"):
        t.curve("nope")


# ---------------------------------------------------------------------- behaviour
def _curvy():
    """Three runs, one diverged late, one diverged early, one healthy; a second metric."""
    return table(
        rec(
            "h",
            curves={"loss": [(10.0, 2.0), (20.0, 1.5), (30.0, 1.2), (40.0, 1.0)], "acc": [(15.0, 0.3), (35.0, 0.6)]},
            final=70.0,
            diverged=0.0,
        ),
        rec(
            "late",
            curves={"loss": [(10.0, 2.0), (20.0, 1.8), (30.0, np.nan)], "acc": [(15.0, 0.2)]},
            final=10.0,
            diverged=1.0,
        ),
        rec("early", curves={"loss": [(5.0, np.nan)], "acc": []}, final=5.0, diverged=1.0),
    )


def test_truncate_keeps_points_up_to_c():
    t = _curvy()
    for c in [0.0, 5.0, 12.0, 20.0, 29.9, 30.0, 100.0]:
        cut = t.truncate(c)
        for m in t.metrics:
            for i in range(len(t)):
                s0, v0 = t.curve(m).points(i)
                s1, v1 = cut.curve(m).points(i)
                keep = s0 <= c
                np.testing.assert_array_equal(s1, s0[keep])
                np.testing.assert_array_equal(v1, v0[keep])  # NaN == NaN in this helper
        np.testing.assert_array_equal(cut.final, t.final)
        np.testing.assert_array_equal(cut.run_id, t.run_id)
        np.testing.assert_array_equal(cut.budget, t.budget)


def test_truncate_diverged_flags():
    t = _curvy()
    cut = t.truncate(20.0)
    # healthy -> unknown; late diverger not yet evident -> unknown; early one evident -> 1
    assert np.isnan(cut.diverged[0])
    assert np.isnan(cut.diverged[1])
    assert cut.diverged[2] == 1.0
    cut = t.truncate(30.0)
    assert np.isnan(cut.diverged[0])
    assert cut.diverged[1] == 1.0
    assert cut.diverged[2] == 1.0
    cut = t.truncate(4.0)
    assert np.isnan(cut.diverged).all()


def test_truncate_trims_padding():
    t = _curvy()
    assert t.curve("loss").steps.shape == (3, 4)
    assert t.curve("acc").steps.shape == (3, 2)
    cut = t.truncate(20.0)
    assert cut.curve("loss").steps.shape == (3, 2)
    assert cut.curve("loss").values.shape == (3, 2)
    assert cut.curve("acc").steps.shape == (3, 1)
    empty = t.truncate(1.0)
    assert empty.curve("loss").steps.shape == (3, 0)
    assert (empty.curve("loss").counts == 0).all()


@pytest.mark.parametrize("c", [-1.0, np.nan, np.inf])
def test_truncate_rejects_bad_budget(c):
    with pytest.raises(RunTableError, match="probe budget"):
        _curvy().truncate(c)


def test_select_index_and_mask():
    t = _curvy()
    s = t.select(np.array([2, 0]))
    assert list(s.run_id) == ["early", "h"]
    np.testing.assert_array_equal(s.final, [5.0, 70.0])
    np.testing.assert_array_equal(s.diverged, [1.0, 0.0])
    np.testing.assert_array_equal(s.curve("loss").points(1)[0], [10.0, 20.0, 30.0, 40.0])
    # width trimmed to the selected runs
    assert s.curve("acc").steps.shape == (2, 2)
    m = t.select(np.array([False, True, False]))
    assert list(m.run_id) == ["late"]
    assert m.curve("loss").steps.shape == (1, 3)
    assert m.curve("acc").steps.shape == (1, 1)


def test_select_nothing_raises():
    with pytest.raises(RunTableError, match="empty"):
        _curvy().select(np.zeros(3, dtype=bool))


def test_groups_order_of_first_appearance():
    t = table(
        rec("1", group="zeta"),
        rec("2", group="alpha"),
        rec("3", group="zeta"),
        rec("4", group="mid"),
        rec("5", group="alpha"),
    )
    assert t.groups == ("zeta", "alpha", "mid")


def test_has_final():
    t = table(rec("a", final=1.0), rec("b", final=None), rec("c", final=0.0), rec("d", final=np.nan))
    np.testing.assert_array_equal(t.has_final, [True, False, True, False])


def _many(n=20, n_groups=5):
    return table(*[rec(f"r{i}", group=f"g{i % n_groups}", final=float(i)) for i in range(n)])


def test_split_random():
    t = _many(20)
    train, test = t.split("random", test_fraction=0.25, seed=3)
    assert len(test) == 5 and len(train) == 15
    assert set(train.run_id).isdisjoint(test.run_id)
    assert set(train.run_id) | set(test.run_id) == set(t.run_id)
    # rows stay consistent after the split
    for part in (train, test):
        for rid, f in zip(part.run_id, part.final):
            assert f == float(rid[1:])
    again = t.split("random", test_fraction=0.25, seed=3)
    assert list(again[1].run_id) == list(test.run_id)
    assert list(again[0].run_id) == list(train.run_id)
    others = {tuple(t.split("random", test_fraction=0.25, seed=s)[1].run_id) for s in range(10)}
    assert len(others) > 1


@pytest.mark.parametrize("frac", [0.0, 1.0, 0.01, 0.99])
def test_split_random_empty_side_raises(frac):
    with pytest.raises(RunTableError):
        _many(20).split("random", test_fraction=frac, seed=0)


def test_split_by_group_random():
    t = _many(20, 5)
    train, test = t.split("group", test_fraction=0.4, seed=1)
    assert len(test.groups) == 2 and len(train.groups) == 3
    assert set(train.groups).isdisjoint(test.groups)
    assert set(train.run_id) | set(test.run_id) == set(t.run_id)
    assert len(train) + len(test) == len(t)
    again = t.split("group", test_fraction=0.4, seed=1)
    assert list(again[1].run_id) == list(test.run_id)


def test_split_by_group_explicit():
    t = _many(20, 5)
    train, test = t.split("group", test_fraction=0.5, seed=0, test_values=["g1", "g3"])
    assert set(test.groups) == {"g1", "g3"}
    assert set(train.groups) == {"g0", "g2", "g4"}
    assert len(test) == 8 and len(train) == 12
    assert all(g in ("g1", "g3") for g in test.group)


def test_split_by_group_unknown_group():
    with pytest.raises(RunTableError, match=r"unknown test groups \['nope'\]"):
        _many(20, 5).split("group", test_fraction=0.5, seed=0, test_values=["g1", "nope"])


def test_split_by_group_too_few_groups():
    with pytest.raises(RunTableError, match="empty side"):
        _many(20, 2).split("group", test_fraction=0.1, seed=0)


def test_curve_dataclass_helpers():
    c = Curve(
        np.array([[1.0, 2.0, np.nan], [np.nan, np.nan, np.nan]]),
        np.array([[0.1, 0.2, np.nan], [np.nan, np.nan, np.nan]]),
    )
    np.testing.assert_array_equal(c.counts, [2, 0])
    s, v = c.points(0)
    np.testing.assert_array_equal(s, [1.0, 2.0])
    np.testing.assert_array_equal(v, [0.1, 0.2])
    assert c.points(1)[0].size == 0


def _table_with_groups(sizes):
    return table(*[rec(f"g{g}r{i}", group=f"g{g}", final=float(i)) for g, n in enumerate(sizes) for i in range(n)])


def test_split_within_groups_keeps_two_training_runs_per_group():
    t = _table_with_groups([2, 3, 8])
    train, test = t.split("within_groups", test_fraction=0.5, seed=0)
    assert len(train) + len(test) == len(t) and not set(train.run_id) & set(test.run_id)
    _, train_counts = np.unique(train.group, return_counts=True)
    assert train_counts.min() >= 2
    _, test_counts = np.unique(test.group, return_counts=True)
    assert dict(zip(np.unique(test.group), test_counts)) == {"g1": 1, "g2": 4}
    with pytest.raises(RunTableError, match="holds out no run"):
        _table_with_groups([2, 2]).split("within_groups", test_fraction=0.3, seed=0)


def test_as_runtable_unwraps_populations_and_names_a_bad_source():
    t = _many(4, 2)

    class Carrier:
        table = t

    assert as_runtable(t, "here") is t and as_runtable(Carrier(), "here") is t
    with pytest.raises(RunTableError, match="data source my.loader returned dict, not a RunTable"):
        as_runtable({}, "my.loader")
    np.testing.assert_array_equal(t.rows_of(t.select(np.array([3, 1]))), [3, 1])
    with pytest.raises(RunTableError, match="run 'r1' is not part of the other table"):
        t.select(np.array([0])).rows_of(t.select(np.array([1])), "the other table")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"budget": "abc"}, r"run 'b': field 'budget' holds 'abc', not a number"),
        ({"final": "0,5"}, r"run 'b': field 'final' holds '0,5', not a number"),
        ({"diverged": "yes"}, r"run 'b': field 'diverged' holds 'yes', not a number"),
        ({"static": {"lr": "fast"}}, r"run 'b': static feature 'lr' holds 'fast', not a number"),
        ({"curves": {"loss": [(10.0, "x")]}}, r"run 'b': curve 'loss' holds \(10.0, 'x'\), not a number"),
        ({"curves": {"loss": [(10.0, 1.0, 2.0)]}}, r"run 'b': curve 'loss' points must be \(step, value\) pairs"),
    ],
)
def test_from_records_names_run_and_field_of_a_non_number(overrides, message):
    with pytest.raises(RunTableError, match=message):
        table(rec("a"), {**rec("b"), **overrides})


def test_constructor_names_run_and_field_of_a_non_number():
    t = table(rec("a"), rec("b"))
    with pytest.raises(RunTableError, match=r"run 'b': field 'budget' holds 'abc', not a number"):
        RunTable(t.run_id, t.group, t.static, t.static_names, ["100", "abc"], t.curves, t.final, t.diverged)
    with pytest.raises(RunTableError, match=r"static has 3 values, expected 2 runs x 1 features"):
        RunTable(t.run_id, t.group, [1.0, 2.0, 3.0], t.static_names, t.budget, t.curves, t.final, t.diverged)


@pytest.mark.parametrize("run_id", ["", None])
def test_empty_run_id_is_refused(run_id):
    with pytest.raises(RunTableError, match=r"run_id of row 1 is .*; give every run a non-empty id"):
        table(rec("a"), rec(run_id))


def test_ids_that_look_missing_are_ids():
    assert list(table(rec("nan"), rec("NA"), rec("None")).run_id) == ["nan", "NA", "None"]


def test_empty_metric_name_is_refused():
    with pytest.raises(RunTableError, match="empty metric name"):
        table(rec("a", curves={"": [(1.0, 1.0)]}))
