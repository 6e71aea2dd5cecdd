"""Shared pieces of the fit and predict benchmarks: thread settings, tables, configs, timers.

Importing this module first pins JAX's linear algebra and BLAS to one thread per device (unless
the caller set ``XLA_FLAGS``/``OMP_NUM_THREADS`` already), so that timings on a shared 2-core
machine are not skewed by thread oversubscription, and gives JAX one CPU device per NUTS chain,
as the command-line entry points do. Every timing is recorded with ``os.getloadavg()`` beside it:
a one-minute load well above the cores in use means other jobs shared the machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.monitoring  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from tuneahead.data.runtable import RunTable  # noqa: E402
from tuneahead.inference import InferenceConfig, use_host_devices  # noqa: E402
from tuneahead.synthetic import PopulationDesign, PopulationParams, sample_population  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# one CPU device per NUTS chain (up to the cores), as the command-line entry points set up
use_host_devices(yaml.safe_load((ROOT / "conf" / "inference" / "nuts.yaml").read_text())["num_chains"])
EVAL_EVERY = 100.0

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_compile_seconds = [0.0]


def _on_duration(event: str, duration: float, **_) -> None:
    if event in _COMPILE_EVENTS:
        _compile_seconds[0] += duration


jax.monitoring.register_event_duration_secs_listener(_on_duration)


def load() -> float:
    """One-minute load average."""
    return float(os.getloadavg()[0])


@contextmanager
def timed():
    """Wall seconds of the block, the part of them JAX spent tracing, lowering and compiling, the
    process's CPU seconds, and the larger one-minute load average of the start and the end:
    ``{"wall", "compile", "cpu", "load"}``. On a machine shared with other jobs the wall time
    grows with the load; the CPU time much less so.

    Tracing of a function nested in a traced one is reported by JAX inside its parent's, so the
    compile figure can count a little twice; it is an upper bound on the time not spent running.
    """
    out: dict = {}
    before, load0 = _compile_seconds[0], load()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        yield out
    finally:
        out["wall"] = time.perf_counter() - start
        out["cpu"] = time.process_time() - cpu
        out["compile"] = min(out["wall"], _compile_seconds[0] - before)
        out["load"] = max(load0, load())


def recovery_table(n_runs: int, points: int, seed: int = 0, n_groups: int = 10) -> RunTable:
    """``n_runs`` runs of ``points`` curve points each, drawn from the model itself
    (:func:`tuneahead.synthetic.sample_population`, the ``recovery`` experiment's source),
    in ``n_groups`` groups of equal size, one evaluation every 100 steps up to the budget."""
    design = PopulationDesign(
        n_groups=n_groups,
        runs_per_group=max(2, n_runs // n_groups),
        budgets=(points * EVAL_EVERY,),
        eval_every=EVAL_EVERY,
    )
    return sample_population(PopulationParams(), design, seed=seed).table


def inference_config(name: str, **overrides) -> InferenceConfig:
    """``conf/inference/NAME.yaml`` as an :class:`InferenceConfig`, without a progress bar."""
    values = yaml.safe_load((ROOT / "conf" / "inference" / f"{name}.yaml").read_text())
    values["seed"] = 0  # the file reads ${seed} from the main config, which defaults to 0
    values["progress"] = False
    values.update(overrides)
    return InferenceConfig(**values)


def nuts_stats(posterior) -> dict:
    """Sampler figures of a NUTS posterior: ESS, r_hat, divergences, leapfrog steps, tree depth."""
    diag = posterior.diagnostics
    steps = np.asarray(posterior.idata.sample_stats["num_steps"]).ravel()
    return {
        "min_ess_bulk": diag.min_ess_bulk,
        "max_rhat": diag.max_rhat,
        "divergences": diag.divergences,
        "draws": diag.num_draws * diag.num_chains,
        "mean_leapfrog": float(steps.mean()),
        "max_leapfrog": int(steps.max()),
        "mean_tree_depth": float(np.log2(steps + 1).mean()),
    }
