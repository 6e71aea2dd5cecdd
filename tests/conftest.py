"""Shared test set-up: CPU only, one thread per test worker, one compilation cache, a seeded RNG per test.

The suite runs on two pytest-xdist workers, one test file each at a time (``--dist loadfile``, so a
file's shared fixtures are built once); each worker keeps to one thread so the two share the
machine's cores instead of fighting over them.
"""

import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# One persistent compilation cache for the session, made by the controller before its workers
# start (they inherit it): a program one worker compiled, another loads, as fits share programs
# across tables of one size class. Removed when the session ends.
_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ and "PYTEST_XDIST_WORKER" not in os.environ
if _OWN_CACHE:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="tuneahead-tests-jax-")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


def pytest_unconfigure(config):
    if _OWN_CACHE:
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def compose_config(config_name: str, overrides=()) -> DictConfig:
    """The app config ``conf/<config_name>.yaml`` with ``overrides``, as the app would compose it."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


@pytest.fixture
def compose_app():
    """:func:`compose_config`, for tests that compose an app's config."""
    return compose_config


# ---------------------------------------------------------------------- tiny inputs shared by tests
@pytest.fixture(scope="session")
def tiny_simulator():
    """Simulator sizes at which a population of a few cells simulates in seconds."""
    from tuneahead.synthetic import SimulatorSpec

    return SimulatorSpec(d=8, m=16, r_max=2, b_max=32, steps=60, eval_every=10, n_eval=64, pool=512, n_train_max=256)


@pytest.fixture(scope="session")
def population_table():
    """A small run table drawn from the model itself: 4 groups of 10 runs of 400 steps."""
    from tuneahead.synthetic import PopulationDesign, sample_population

    return sample_population(design=PopulationDesign(n_groups=4, runs_per_group=10, budgets=(400.0,)), seed=3).table


@pytest.fixture
def tiny_evaluation_overrides(tmp_path, population_table):
    """Overrides that evaluate :func:`population_table`, written as a run file, with a short SVI fit
    on the random split alone."""
    from tuneahead.data.files import write_runtable

    path = write_runtable(population_table, tmp_path / "runs.parquet")
    return [
        "data=file",
        f"data.path={path}",
        "inference=svi",
        "inference.svi_steps=150",
        "inference.svi_draws=40",
        "inference.progress=false",
        "predict.max_draws=40",
        "~evaluation.splits.grouped",
    ]


@pytest.fixture(scope="session")
def tiny_knobs():
    """Knob ranges that fit :func:`tiny_simulator`."""
    return {"rank": [1, 2], "n_train": [64, 256]}


@pytest.fixture(scope="session")
def tiny_recovery_overrides():
    """Overrides that make ``+experiment=recovery`` a seconds-long fit."""
    return [
        "data.population.n_groups=3",
        "data.population.runs_per_group=8",
        "data.population.budgets=[400,800]",
        "inference.num_warmup=40",
        "inference.num_samples=40",
        "inference.progress=false",
        "probe.budget=200",
        "risk.budgets=[100,400]",
        "risk.c_max=400",
        "risk.max_draws=20",
        "predict.max_draws=20",
    ]


@pytest.fixture(scope="session")
def tiny_simulated_overrides(tiny_simulator, tiny_knobs):
    """Overrides that run ``+experiment=synthetic`` on the tiny simulator with SVI and a small brute force."""
    sizes = ", ".join(
        f"{k}: {getattr(tiny_simulator, k)}"
        for k in ("d", "m", "r_max", "b_max", "steps", "eval_every", "n_eval", "pool", "n_train_max")
    )
    knobs = ", ".join(f"{k}: {v}" for k, v in tiny_knobs.items())
    return [
        "data.n_tasks=2",
        "data.configs_per_task=2",
        "data.seeds=5",
        f"data.simulator={{{sizes}}}",
        f"data.overrides={{{knobs}}}",
        "~model.auto.variants.shape_transient",  # two variants and three folds keep the choice's cost small
        "model.auto.folds=3",
        "inference=svi",
        "inference.svi_steps=150",
        "inference.svi_draws=40",
        "inference.progress=false",
        "probe.budget=20",
        "risk.budgets=[0,20,40]",
        "risk.c_max=40",
        "risk.max_draws=20",
        "predict.max_draws=20",
        "truth.max_runs=4",
        "truth.branches=3",
        "truth.probe_seeds=8",
    ]
