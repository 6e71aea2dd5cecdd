"""The posterior-driven Optuna pruner in a real study: SQLite storage, a real torch training loop."""

import math

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
torch = pytest.importorskip("torch")

from tuneahead.inference import InferenceConfig  # noqa: E402
from tuneahead.integrations import PosteriorPruner, trial_features  # noqa: E402

EPOCHS = 12


def _data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(600, 8, generator=gen)
    w = torch.randn(8, generator=gen)
    y = ((x @ w + 0.5 * torch.sin(3 * x[:, 0])) > 0).long()
    return x[:400], y[:400], x[400:], y[400:]


def objective(trial):
    """A small MLP classifier, one full-batch step an epoch; reports validation accuracy in points."""
    torch.manual_seed(trial.number)
    lr = trial.suggest_float("lr", 1e-4, 3.0, log=True)
    width = trial.suggest_int("width", 4, 32)
    trial.suggest_categorical("activation", ["relu"])  # not numeric: left out of the features
    x, y, xv, yv = _data()
    model = torch.nn.Sequential(torch.nn.Linear(8, width), torch.nn.ReLU(), torch.nn.Linear(width, 2))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    accuracy = 0.0
    for epoch in range(1, EPOCHS + 1):
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        with torch.no_grad():
            accuracy = 100.0 * float((model(xv).argmax(1) == yv).float().mean())
        trial.report(accuracy, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return accuracy


@pytest.mark.slow
def test_a_real_study_prunes_trials_that_will_not_make_it_and_says_why(tmp_path):
    torch.set_num_threads(1)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    pruner = PosteriorPruner(
        metric="accuracy",
        budget=EPOCHS,
        p=0.1,
        refit=InferenceConfig(method="svi", svi_steps=400, svi_draws=100, progress=False),
        min_trials=8,
        refit_every=6,
        min_steps=3,
    )
    study = optuna.create_study(
        study_name="mlp", storage=storage, direction="maximize", pruner=pruner, sampler=optuna.samplers.RandomSampler(0)
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=20)

    again = optuna.load_study(study_name="mlp", storage=storage)  # the reasons live in the database
    pruned = again.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    complete = again.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert pruned and len(complete) >= 8 and pruner.fitted_on >= 8
    assert all(t.number >= 8 for t in pruned), "nothing is pruned before the first fit"
    for t in pruned:
        why = t.user_attrs["tuneahead"]
        assert why["p_success"] < 0.1 and why["pruned_at_step"] == max(t.intermediate_values) >= 3
        assert why["predicted_final"] < why["threshold"] and why["fitted_on_trials"] >= 8
        assert why["threshold"] <= again.best_value
    saved = sum(EPOCHS - max(t.intermediate_values) for t in pruned)
    assert saved > 0 and again.best_value >= max(t.value for t in complete)


def test_features_follow_the_search_space():
    study = optuna.create_study()
    trial = study.ask(
        {
            "lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True),
            "width": optuna.distributions.IntDistribution(4, 32),
            "act": optuna.distributions.CategoricalDistribution(["relu", "tanh"]),
            "flag": optuna.distributions.CategoricalDistribution([True, False]),
        }
    )
    study.tell(trial, 1.0)
    features = trial_features(study.trials[0])
    assert set(features) == {"log10_lr", "width"}
    assert math.isclose(features["log10_lr"], np.log10(study.trials[0].params["lr"]))


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match=r"p=1.5"):
        PosteriorPruner("accuracy", 10, p=1.5)
    with pytest.raises(ValueError, match="min_trials >= 2"):
        PosteriorPruner("accuracy", 10, min_trials=1)


def test_without_a_posterior_or_a_threshold_nothing_is_pruned():
    pruner = PosteriorPruner("accuracy", 10, refit=None)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    trial.report(1.0, 1)
    assert not trial.should_prune()


def test_importing_the_integrations_imports_neither_optuna_nor_torch():
    import subprocess
    import sys

    code = "import sys, tuneahead.integrations; print('optuna' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.fixture(scope="module")
def small_posterior():
    """An SVI posterior of 12 runs, one accuracy point each, with the learning rate as feature."""
    from tuneahead.data.runtable import RunTable
    from tuneahead.inference import fit
    from tuneahead.model.design import ModelSpec

    rng = np.random.default_rng(0)
    records = [
        {"run_id": f"r{i}", "group": "g", "budget": 10, "static": {"log10_lr": x},
         "curves": {"accuracy": [(5, 50 + 10 * x + rng.normal())]}, "final": 60 + 10 * x + rng.normal(),
         "diverged": 0.0}
        for i, x in enumerate(np.linspace(-3, -1, 12))
    ]  # fmt: skip
    config = InferenceConfig(method="svi", svi_steps=600, svi_draws=400, progress=False)
    return fit(RunTable.from_records(records), ModelSpec(metrics=("accuracy",)), config)


def _completed(study, lr: float, accuracy: float):
    lr_dist = optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
    study.add_trial(
        optuna.trial.create_trial(
            value=accuracy + 10.0,
            intermediate_values={5: accuracy},
            params={"lr": lr},
            distributions={"lr": lr_dist},
        )
    )


def test_completed_trials_update_the_posterior_without_a_refit(small_posterior):
    pruner = PosteriorPruner("accuracy", 10, p=0.5, threshold=40.0, posterior=small_posterior, refit=None)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    _completed(study, 1e-2, 50 + 10 * np.log10(1e-2))
    seen = PosteriorPruner("accuracy", 10, p=0.5, threshold=40.0, posterior=small_posterior, refit=None,
                           fitted_trials=[0])  # fmt: skip
    for p in (pruner, seen):
        study.pruner = p
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)})
        trial.report(50.0, 5)
        trial.should_prune()
    assert pruner.updated_with == 1 and pruner.posterior is not small_posterior
    assert pruner.posterior.diagnostics.extra["importance_update"]["runs"] == 1
    assert seen.updated_with == 0 and seen.posterior is small_posterior  # the fit had seen them


def test_trials_that_move_the_posterior_too_far_ask_for_a_refit(small_posterior, caplog):
    """Three more runs on a posterior of twelve: the draws' relative ESS falls under 0.3, and
    without a refit config the pruner keeps its posterior for the rest of the study and says why."""
    pruner = PosteriorPruner("accuracy", 10, p=0.5, threshold=40.0, posterior=small_posterior, refit=None)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for lr in (1e-3, 1e-2, 1e-1):
        _completed(study, lr, 50 + 10 * np.log10(lr))
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)})
    trial.report(50.0, 5)
    with caplog.at_level("WARNING", logger="tuneahead.integrations"):
        trial.should_prune()
        trial.should_prune()  # the trials are set aside once, not weighed again at every report
        _completed(study, 1e-2, 30.0)
        trial.should_prune()  # nor is a later one: updates have stopped
    assert caplog.text.count("no longer suffice") == 1
    assert pruner.updated_with == 0 and pruner.posterior is small_posterior and not pruner.update


def test_a_trial_the_posterior_cannot_read_is_not_pruned(caplog, small_posterior):
    posterior = small_posterior
    pruner = PosteriorPruner("accuracy", 10, p=0.99, threshold=1e6, posterior=posterior, refit=None)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask({"width": optuna.distributions.IntDistribution(4, 32)})  # no learning rate
    trial.report(10.0, 5)
    with caplog.at_level("WARNING", logger="tuneahead.integrations"):
        assert not trial.should_prune()
    assert "is not pruned: the posterior cannot read it" in caplog.text
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)})
    trial.report(10.0, 5)
    assert trial.should_prune(), "a trial it can read, with a threshold out of reach, is pruned"


def test_the_class_of_the_next_refit_is_compiled_ahead_where_it_is_known(small_posterior, monkeypatch):
    from tuneahead.integrations import optuna_pruner
    from tuneahead.integrations.optuna_pruner import class_ahead

    assert class_ahead(8, 6) is None  # 9 to 14 runs pad to 10, 12 or 14: which one is not known
    assert class_ahead(1000, 20) is None  # 1,001 to 1,020 runs stay in the class of 1,024
    assert class_ahead(1020, 20) == 1280 and class_ahead(12, 2) == 14  # 1,021 to 1,040 runs: 1,024 or 1,280
    # the first refit: 12 completed trials, the settings of the fixture's fit (its programs, compiled);
    # the compile ahead itself is tested in tests/inference, here only that it is asked for
    asked = []
    monkeypatch.setattr(optuna_pruner, "compile_fit", lambda table, spec, config: asked.append(len(table)))
    config = InferenceConfig(method="svi", svi_steps=600, svi_draws=400, progress=False)
    pruner = PosteriorPruner("accuracy", 10, p=0.5, threshold=40.0, refit=config, min_trials=12, refit_every=2)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for x in np.linspace(-3, -1, 12):
        _completed(study, 10**x, 50 + 10 * x)
    pruner._update(study)
    assert pruner._ahead is not None, "the refit started no compile ahead"
    pruner._ahead.join()
    assert pruner.fitted_on == 12 and asked == [14] and pruner.compiled_ahead == [14]
