"""SVI with optax: the ELBO summed in a fixed order, the optimization one scan of the update."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.handlers import replay, seed
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from numpyro.infer.util import log_density

from ..model.parameters import POPULATION_SITES
from .config import InferenceConfig
from .progress import Progress
from .start import start_strategy, without_runs

__all__ = ["OrderedELBO", "run_svi"]


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


def run_svi(rng, model, model_kwargs, config: InferenceConfig, start: dict):
    guide_cls = AutoNormal if config.svi_guide == "normal" else AutoMultivariateNormal
    priors_only = without_runs(model_kwargs)
    progress = Progress(config.svi_steps, f"SVI ({config.svi_steps} steps)") if config.progress else None

    def run(rng):
        # guide set-up, optimization and draws in one compiled program (see module doc); the
        # guide's sites and the draws of them do not depend on the runs, so only the optimization
        # reads the whole table
        guide = guide_cls(model, init_loc_fn=start_strategy(start))
        svi = SVI(model, guide, optax.adam(config.svi_learning_rate), OrderedELBO())
        fit_rng, draw_rng = jax.random.split(rng)
        state = svi.init(fit_rng, **priors_only)

        def step(state, i):
            state, loss = svi.update(state, **model_kwargs)
            if progress is not None:
                progress.tick(i)
            return state, loss

        state, losses = jax.lax.scan(step, state, jnp.arange(config.svi_steps))
        predictive = Predictive(
            model,
            guide=guide,
            params=svi.get_params(state),
            num_samples=config.svi_draws,
            return_sites=list(POPULATION_SITES),
            parallel=True,
        )
        return losses, predictive(draw_rng, **priors_only)

    try:
        losses, draws = jax.block_until_ready(jax.jit(run)(rng))
    finally:
        if progress is not None:
            progress.close()
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
