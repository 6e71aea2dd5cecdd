"""Where the samplers start: the link from the data, prior means elsewhere, found on the priors alone."""

from __future__ import annotations

from functools import partial

import jax
import numpy as np
from numpyro.infer.initialization import init_to_mean
from numpyro.infer.util import initialize_model

from ..model.design import ModelData
from .arguments import without_runs

__all__ = ["START_SPREAD", "link_start", "start_strategy", "initialize"]

#: Standard deviation, on the unconstrained scale, of the offsets that start the chains apart.
START_SPREAD = 0.3


def link_start(data: ModelData, n_metrics: int) -> dict[str, np.ndarray]:
    """Starting values of the curve link from the data, by least squares.

    The link :math:`(\\lambda_0, \\lambda_1)` has a poor local mode where the curves are explained
    by the amplitudes alone and the final score by noise, with :math:`\\lambda_1` of the wrong sign.
    Chains started near the regression of each healthy run's last curve value on its final score
    stay clear of it.
    """
    mask = np.asarray(data.mask)
    y, metric = np.asarray(data.y), np.asarray(data.metric)
    r, ok = np.asarray(data.r), np.asarray(data.r_mask) & (np.asarray(data.gate) != 1)
    lam0, lam1 = np.zeros(n_metrics), np.ones(n_metrics)
    for m in range(n_metrics):
        present = mask & (metric == m)
        has = ok & present.any(axis=1)
        if has.sum() < 3 or np.ptp(r[has]) == 0:  # a constant final score leaves no slope to fit
            continue
        last = np.where(present, np.arange(mask.shape[1]), -1).max(axis=1)
        y_last = y[np.arange(len(y)), last][has]
        slope, intercept = np.polyfit(r[has], y_last, 1)
        lam0[m], lam1[m] = intercept, slope
    return {"lam0": lam0, "lam1": lam1}


def _start_at(site=None, values=None):
    if site is None:
        return partial(_start_at, values=values)
    if site["type"] == "sample" and not site["is_observed"] and site["name"] in values:
        return values[site["name"]]
    return init_to_mean(site)


def start_strategy(values: dict[str, np.ndarray]):
    """Start ``values`` where given (the link), prior means elsewhere.

    Uniform starts on the unconstrained scale can put a chain at a wide sigma_delta with group
    intercepts far off, where the deltas absorb everything and the intercepts barely move. The
    means are closed-form for every prior of the model, so no prior draws are compiled into the
    set-up (drawing 15 of each, for a median, cost about 10 s of compiling).
    """
    return partial(_start_at, values=values)


def initialize(rng_key, model, model_kwargs, init_strategy):
    """The starting point on the unconstrained scale, and the function from unconstrained values to
    the model's sites.

    numpyro's initialization runs on the priors alone (:func:`without_runs`), compiled in one
    piece; whether the start is valid on the data is checked where the chains begin.
    """
    found, priors_only = {}, without_runs(model_kwargs)

    def init(key):
        info = initialize_model(key, model, model_kwargs=priors_only, dynamic_args=True, init_strategy=init_strategy)
        found["sites"] = info.postprocess_fn
        return info.param_info.z

    z = jax.jit(init)(rng_key)
    return z, found["sites"](**priors_only)
