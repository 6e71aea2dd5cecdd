"""Shared test set-up: CPU only, one thread per test worker, a seeded RNG per test.

The suite runs on two pytest-xdist workers, one test file each at a time (``--dist loadfile``, so a
file's shared fixtures are built once); each worker keeps to one thread so the two share the
machine's cores instead of fighting over them.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


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
