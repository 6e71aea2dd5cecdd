"""Config errors come before any fit and name the key to fix; a dict given on the command line
merges unless it is deleted first."""

import numpy as np
import pytest

import tuneahead.pipeline.evaluate_job as evaluate_job
import tuneahead.pipeline.fit_job as fit_job
from tuneahead.data.errors import RunTableError
from tuneahead.data.files import write_runtable
from tuneahead.pipeline import job_settings, run_evaluation, run_fit
from tuneahead.pipeline.evaluate_job import evaluation_plan


@pytest.fixture
def no_fit(monkeypatch):
    """Any fit fails the test: the config must be refused before one starts."""

    def refuse(*args, **kwargs):
        raise AssertionError("a fit started before the config was checked")

    monkeypatch.setattr(fit_job, "fit_posterior", refuse)
    monkeypatch.setattr(evaluate_job, "fit_posterior", refuse)


@pytest.fixture(scope="module")
def run_file(tmp_path_factory, population_table):
    return write_runtable(population_table, tmp_path_factory.mktemp("runs") / "runs.parquet")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("probe.budget=-5", r"probe.budget=-5.*>= 0"),
        ("probe.budget=inf", r"probe.budget=inf.*finite"),
        ("probe.budget=abc", r"probe.budget='abc' is not a number"),
        ("inference.method=bogus", r"inference.method='bogus'"),
        ("inference.num_samples=0", r"inference.num_samples=0; use a whole number of at least 1"),
        ("inference.num_warmup=2.5", r"inference.num_warmup=2.5"),
        ("predict.level=2", r"predict.level"),
    ],
)
def test_bad_values_are_refused_before_any_data_is_read(compose_app, override, message):
    with pytest.raises(ValueError, match=message):
        job_settings(compose_app("config", ["+experiment=synthetic", override]))


def test_a_bad_model_choice_variant_is_refused_before_any_fit(compose_app):
    cfg = compose_app(
        "config",
        ["+experiment=synthetic", "~model.auto.variants", "+model.auto.variants={cubic: {static_basis: cubic}}"],
    )
    with pytest.raises(ValueError, match=r"model.auto.variants.cubic: model.static_basis='cubic'"):
        job_settings(cfg)


def test_an_unknown_metric_or_a_missing_file_names_its_key(compose_app, run_file, tmp_path, no_fit):
    cfg = compose_app("config", ["data=file", f"data.path={run_file}", "model.metrics=[nope]"])
    with pytest.raises(RunTableError, match=r"model.metrics: the runs have no metric 'nope'; they have \["):
        run_fit(cfg, tmp_path / "a")
    cfg = compose_app("config", ["data=file", f"data.path={tmp_path / 'absent.csv'}"])
    with pytest.raises(RunTableError, match=r"absent.csv: no such run file; check data.path"):
        run_fit(cfg, tmp_path / "b")
    cfg = compose_app("evaluate", ["data=file", f"data.path={run_file}", "evaluation.metric=nope"])
    with pytest.raises(RunTableError, match=r"evaluation.metric: the runs have no metric 'nope'"):
        run_evaluation(cfg, tmp_path / "c")


def test_an_impossible_split_is_refused_before_the_first_fit(compose_app, population_table, tmp_path, no_fit):
    one_group = population_table.select(population_table.group == population_table.group[0])
    path = write_runtable(one_group, tmp_path / "one_group.csv")
    cfg = compose_app("evaluate", ["data=file", f"data.path={path}"])  # random, then grouped
    with pytest.raises(RunTableError, match="grouped"):
        run_evaluation(cfg, tmp_path / "out")


@pytest.mark.parametrize("budgets", ["[-1]", "[100,inf]"])
def test_bad_evaluation_budgets_are_refused(compose_app, budgets):
    with pytest.raises(ValueError, match="evaluation.budgets"):
        evaluation_plan(compose_app("evaluate", [f"evaluation.budgets={budgets}"]))


def test_a_dict_override_merges_unless_the_dict_is_deleted_first(compose_app):
    random = "{random: {kind: random, test_fraction: 0.2}}"
    merged = evaluation_plan(compose_app("evaluate", [f"evaluation.splits={random}"]))
    assert list(merged.splits) == ["random", "grouped"]  # Hydra merges into the default dict
    replaced = evaluation_plan(compose_app("evaluate", ["~evaluation.splits", f"+evaluation.splits={random}"]))
    assert list(replaced.splits) == ["random"]
    assert np.isclose(replaced.splits["random"].test_fraction, 0.2)
