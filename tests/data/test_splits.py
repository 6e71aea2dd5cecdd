"""The split vocabulary: each kind takes its own keys, and an impossible split names the fix."""

import numpy as np
import pytest

from tuneahead.data.runtable import RunTable, RunTableError
from tuneahead.data.splits import SPLIT_KEYS, Split, within_group_folds


@pytest.fixture(scope="module")
def runs():
    records = [
        {"run_id": f"r{i}", "group": f"g{i % 4}", "budget": 100.0, "static": {"lr": float(i % 3)}, "final": float(i)}
        for i in range(24)
    ]
    return RunTable.from_records(records)


@pytest.mark.parametrize("kind", sorted(SPLIT_KEYS))
def test_every_kind_partitions_the_runs(runs, kind):
    pairs = Split.from_config({"kind": kind, "seed": 1}).partition(runs)
    held = np.concatenate([test.run_id for _, test in pairs])
    assert len(set(held)) == len(held)  # no run held out twice
    for train, test in pairs:
        assert len(train) + len(test) == len(runs) and not set(train.run_id) & set(test.run_id)
    if kind == "kfold":
        assert sorted(held) == sorted(runs.run_id)


def test_keys_of_another_kind_are_refused():
    with pytest.raises(ValueError, match=r"split: unknown key\(s\) \['folds'\] for kind 'random'"):
        Split.from_config({"kind": "random", "folds": 3})
    with pytest.raises(ValueError, match=r"split.kind='loo'"):
        Split.from_config({"kind": "loo"})
    assert Split.from_config({"kind": "kfold", "folds": 3, "seed": 2}).config() == {
        "kind": "kfold",
        "folds": 3,
        "seed": 2,
    }


def test_group_split_by_a_feature_and_unknown_values(runs):
    ((train, test),) = Split(kind="group", by="lr", test_values=(2.0,)).partition(runs)
    assert set(test.static[:, 0]) == {2.0} and 2.0 not in set(train.static[:, 0])
    with pytest.raises(RunTableError, match=r"unknown test values of lr \[7.0\]"):
        Split(kind="group", by="lr", test_values=(7.0,)).partition(runs)
    with pytest.raises(RunTableError, match="kfold split has several"):
        runs.split("kfold", folds=3)


def test_folds_keep_two_runs_of_every_group_in_every_fit(population_table):
    fold = within_group_folds(population_table.group, folds=5, seed=0)
    groups = np.asarray(population_table.group)
    for f in range(5):
        kept = groups[fold != f]
        assert all((kept == g).sum() >= 2 for g in np.unique(groups))
    assert (fold >= 0).all()  # groups of 10 can all be held out
    tiny = population_table.select(np.isin(groups, np.unique(groups)[:1]) & (np.arange(len(groups)) % 5 == 0))
    with pytest.raises(RunTableError, match="no group has enough runs"):
        within_group_folds(tiny.group, folds=5)


def test_choice_folds_hold_out_whole_values_like_the_split(runs, population_table):
    split = Split(kind="group", by=None, test_fraction=0.3, seed=0)
    ((train, _),) = split.partition(population_table)
    fold = split.choice_folds(train, folds=3, seed=1)
    groups = np.asarray(train.group)
    assert set(fold) == {0, 1, 2}
    assert all(len(set(fold[groups == g])) == 1 for g in np.unique(groups))  # a value lies in one fold
    assert len(set(split.choice_folds(train, folds=100).tolist())) == len(np.unique(groups))  # one value a fold
    assert Split(kind="random").choice_folds(train, folds=3) is None
    assert Split(kind="within_groups").choice_folds(train, folds=3) is None
    one_value = runs.select(runs.static[:, 0] == runs.static[0, 0])
    with pytest.raises(RunTableError, match="training runs hold one value of lr"):
        Split(kind="group", by="lr").choice_folds(one_value, folds=3)
