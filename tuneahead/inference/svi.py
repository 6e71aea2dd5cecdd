"""SVI with optax: the ELBO summed in a fixed order, the optimization one scan of the update, one
compiled program for tables of nearby sizes."""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.handlers import replay, seed
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from numpyro.infer.util import log_density

from ..model.design import ModelData
from ..model.parameters import POPULATION_SITES
from .config import InferenceConfig
from .progress import Progress
from .start import start_strategy, without_runs

__all__ = ["OrderedELBO", "run_rows", "run_svi"]


class OrderedELBO(Trace_ELBO):
    """The one-particle ELBO, :math:`\\log p(y, \\theta) - \\log q(\\theta)` at a draw
    :math:`\\theta \\sim q`, its terms summed in the order the guide and the model draw them.

    :class:`numpyro.infer.Trace_ELBO` sums the terms over a set of site names, whose order changes
    from process to process with Python's string hashing: its compiled program is then never the
    same twice (so the persistent compilation cache never serves it), and the last bits of the loss
    differ between processes run with the same seed.
    """

    def loss(self, rng_key, param_map, model, guide, *args, **kwargs):
        model_key, guide_key = jax.random.split(rng_key)
        guide_lp, guide_trace = log_density(seed(guide, guide_key), args, kwargs, param_map)
        model_lp, _ = log_density(replay(seed(model, model_key), guide_trace), args, kwargs, param_map)
        return guide_lp - model_lp


def run_rows(n: int) -> int:
    """The padded size of a part of ``n`` runs: 8 at least, then four sizes an octave (10, 12, 14,
    16, 20, 24, 28, 32, 40, ...), so that tables of nearby sizes (the folds of a K-fold, a sweep's table
    as trials finish) share one compiled program for at most a quarter more rows."""
    if n <= 8:
        return 8
    step = 1 << ((n - 1).bit_length() - 3)
    return -(-n // step) * step


def _arguments(model_kwargs: dict) -> tuple[dict, tuple]:
    """The runs (each part padded to :func:`run_rows`) and the settings that shape the program."""
    runs, settings = {}, []
    for key, value in model_kwargs.items():
        if isinstance(value, ModelData):
            n = value.y.shape[0]
            runs[key] = value.padded_runs(run_rows(n)) if n else value
        else:
            settings.append((key, value))
    return runs, tuple(sorted(settings))


@lru_cache(maxsize=16)
def _program(model, settings: tuple, guide: str, learning_rate: float, steps: int, draws: int, progress: bool):
    """The compiled set-up, optimization and draws of one model and configuration, a function of
    the key, the runs and the start: the runs are arguments, not constants of the program, so a
    table of the same shapes reuses it in this process, and any process through the persistent
    cache. The guide's sites and the draws of them do not depend on the runs, so only the
    optimization reads them."""
    bar = Progress(steps, f"SVI ({steps} steps)") if progress else None
    static = dict(settings)

    def run(rng, runs, start):
        model_kwargs = {**static, **runs}
        priors_only = without_runs(model_kwargs)
        guide_cls = AutoNormal if guide == "normal" else AutoMultivariateNormal
        autoguide = guide_cls(model, init_loc_fn=start_strategy(start))
        svi = SVI(model, autoguide, optax.adam(learning_rate), OrderedELBO())
        fit_rng, draw_rng = jax.random.split(rng)
        state = svi.init(fit_rng, **priors_only)

        def step(state, i):
            state, loss = svi.update(state, **model_kwargs)
            if bar is not None:
                bar.tick(i)
            return state, loss

        state, losses = jax.lax.scan(step, state, jnp.arange(steps))
        predictive = Predictive(
            model,
            guide=autoguide,
            params=svi.get_params(state),
            num_samples=draws,
            return_sites=list(POPULATION_SITES),
            parallel=True,
        )
        return losses, predictive(draw_rng, **priors_only)

    return jax.jit(run), bar


def run_svi(rng, model, model_kwargs, config: InferenceConfig, start: dict):
    runs, settings = _arguments(model_kwargs)
    program, bar = _program(
        model,
        settings,
        config.svi_guide,
        config.svi_learning_rate,
        config.svi_steps,
        config.svi_draws,
        config.progress,
    )
    start = {k: jnp.asarray(v, jnp.float32) for k, v in start.items()}
    try:
        losses, draws = jax.block_until_ready(program(rng, runs, start))
    finally:
        if bar is not None:
            bar.restart(bar.desc)  # closes this fit's bar; the next fit starts its own
    losses = np.asarray(losses)
    if not np.isfinite(losses[-1]):
        raise RuntimeError(
            "SVI diverged: the ELBO loss is not finite; check the data for extreme values "
            "or lower inference.svi_learning_rate"
        )
    samples = {k: np.asarray(v)[None] for k, v in draws.items() if k != "runs"}
    tail = losses[-max(1, len(losses) // 10) :]
    head = losses[-2 * len(tail) : -len(tail)] if len(losses) >= 2 * len(tail) else tail
    extra = {
        "final_elbo_loss": float(tail.mean()),
        "elbo_loss_change_last_10pct": float(head.mean() - tail.mean()),
    }
    return samples, {"sample_stats": None, "extra": extra}
