"""Sampler health, after Vehtari et al. (2021).

A parameter is flagged when its rank-normalized split :math:`\\hat R > 1.01` or its bulk ESS is
under 100 per chain; any divergent transition is flagged too; SVI is flagged while its loss still
falls. Flags are kept in the posterior's diagnostics, never dropped.
"""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from ..model.posterior import Diagnostics
from .config import InferenceConfig

__all__ = ["RHAT_LIMIT", "ESS_PER_CHAIN", "diagnose"]

RHAT_LIMIT = 1.01

ESS_PER_CHAIN = 100


def diagnose(idata, config: InferenceConfig, run_info: dict, seconds: float) -> Diagnostics:
    post = idata.posterior
    chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    messages: list[str] = []
    extra = dict(run_info.get("extra", {}))
    extra["seconds"] = seconds
    if config.method == "svi":
        if extra["elbo_loss_change_last_10pct"] > 0.01 * abs(extra["final_elbo_loss"]):
            messages.append(
                "SVI has not converged: the ELBO loss still fell by "
                f"{extra['elbo_loss_change_last_10pct']:.3g} over the last 10% of steps; "
                "raise inference.svi_steps"
            )
        return Diagnostics("svi", None, None, None, draws, chains, {}, tuple(messages), extra)

    per = _per_site(idata)
    max_rhat, worst = _extreme(per, "max_rhat", max)
    min_ess, low = _extreme(per, "min_ess_bulk", min)
    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    if chains < 2:
        messages.append(
            f"r_hat cannot be checked with {chains} chain; run inference.num_chains=2 or more before "
            "trusting the intervals"
        )
    else:
        unchecked = sorted(k for k, v in per.items() if not np.isfinite(v["max_rhat"]))
        if unchecked:
            messages.append(
                f"r_hat could not be computed for site(s) {unchecked} (constant or non-finite draws); "
                "inspect those sites before trusting the intervals"
            )
        if max_rhat > RHAT_LIMIT:
            messages.append(
                f"r_hat up to {max_rhat:.3f} (site {worst!r}) exceeds {RHAT_LIMIT}; "
                "run more warmup or samples before trusting the intervals"
            )
    if min_ess < ESS_PER_CHAIN * chains:
        messages.append(
            f"bulk ESS down to {min_ess:.0f} (site {low!r}), under {ESS_PER_CHAIN} per chain; "
            "raise inference.num_samples"
        )
    if divergences:
        messages.append(
            f"{divergences} divergent transitions; raise inference.target_accept or inspect the posterior geometry"
        )
    return Diagnostics("nuts", max_rhat, min_ess, divergences, draws, chains, per, tuple(messages), extra)


def _per_site(idata) -> dict[str, dict[str, float]]:
    """Each site's largest r_hat and smallest bulk ESS over its elements (NaN where none is finite:
    one chain, or constant draws)."""
    rhat = az.rhat(idata)
    ess = az.ess(idata, method="bulk")
    per = {}
    for name in idata.posterior.data_vars:
        r = np.asarray(rhat[name].values, dtype=float).ravel()
        e = np.asarray(ess[name].values, dtype=float).ravel()
        if r.size == 0:
            continue
        per[name] = {
            "max_rhat": float(np.nanmax(r)) if np.isfinite(r).any() else float("nan"),
            "min_ess_bulk": float(np.nanmin(e)) if np.isfinite(e).any() else float("nan"),
        }
    return per


def _extreme(per: dict, key: str, pick) -> tuple[float, str | None]:
    """The largest (``pick=max``) or smallest value of ``key`` over the sites where it is finite, and
    its site; NaN and None where no site has one. A NaN on one site never hides another's value."""
    finite = {name: v[key] for name, v in per.items() if np.isfinite(v[key])}
    if not finite:
        return float("nan"), None
    site = pick(finite, key=finite.get)
    return finite[site], site
