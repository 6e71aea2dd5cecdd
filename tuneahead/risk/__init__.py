r"""Prediction risk against probe budget: the split into intrinsic and reducible parts.

The definitions are those of ``theory/decomposition.md``; this package computes them.

- **Risk at budget c**: candidates' curves are cut at :math:`c` and

  .. math:: L(c) = \frac1n \sum_i \operatorname{Var}(R_i \mid I_c),

  with the variance of the posterior predictive (law of total variance over draws). Under one draw
  :math:`\theta_s` the same average, :math:`L_s(c)`, gives the posterior uncertainty of :math:`L(c)`.
- **Intrinsic risk**: what no budget reveals. With the whole trajectory and the gate seen, a
  healthy run keeps :math:`\sigma_\varepsilon^2` and a diverged one :math:`s_{fail}^2`:

  .. math:: L_{int} = \frac1n \sum_i \big[\pi_i s_{fail}^2 + (1 - \pi_i) \sigma_\varepsilon^2\big].

- **Three parts.** With :math:`m_{is}(c)` and :math:`v_{is}(c)` the mean and variance of
  :math:`R_i` under draw :math:`s`, the law of total variance splits :math:`L(c)` exactly:

  .. math::

      L(c) = \underbrace{L_{int}}_{\text{no budget}}
           + \underbrace{\overline{L_s(c) - L_{int,s}}}_{V_{opt}(c):\ \text{probing removes}}
           + \underbrace{\frac1n \sum_i \operatorname{Var}_s m_{is}(c)}_{V_{epi}(c):\ \text{training runs remove}},

  with :math:`L_s(c) = \frac1n \sum_i v_{is}(c)`. :math:`V_{opt}` is the Bayes risk above
  :math:`L_{int}` that a longer probe removes under known parameters; :math:`V_{epi}` is the
  spread of the prediction over the posterior of the parameters, which more training runs shrink
  and a longer probe does not. For a stacked posterior (:mod:`tuneahead.model.stacked`) the
  draws are all its variants' draws, each with its own :math:`L_{int,s}`; the variants' different
  predictions are then between-draw spread and fall in :math:`V_{epi}`, since which variant is
  right is a question for more training runs, not for a longer probe.
- **Power law, horizon-aware**: every run ends at its budget :math:`T`, where :math:`V_{opt}(T) = 0`,
  so :math:`V_{opt}(c) = K (c^{-\alpha} - T^{-\alpha})` on :math:`0 < c < T`
  (:func:`fit_horizon_power_law`; ``theory/lower_bound.md``). It is fitted to each draw's
  :math:`V_{opt,s}(c)` (the intervals) and to their mean :math:`V_{opt}(c)` (the point), one
  definition for both.
- **Budget-optimal probe**: minimizing :math:`L_{int} + K (c^{-\alpha} - T^{-\alpha}) + \gamma (C_s + \lambda c)` gives

  .. math:: c^* = \left(\frac{\alpha K}{\gamma \lambda}\right)^{1/(\alpha + 1)},

  which does not depend on :math:`L_{int}`, :math:`T` or :math:`C_s`; a :math:`c^*` beyond
  :math:`T` means the whole run is worth its cost, and is reported as :math:`T`.
- **Regime** for a tolerance :math:`\epsilon` (score units): Static-Sufficient if
  :math:`L(0) \le \epsilon^2`, Noise-Dominant if :math:`L_{int} \ge \epsilon^2`, Dynamic-Critical
  otherwise. The largest affordable budget :math:`c_{max}` says whether a Dynamic-Critical task
  reaches the tolerance in time: ``reachable`` is :math:`L(c_{max}) \le \epsilon^2`, and
  :math:`c_\epsilon`, the root of :math:`L_{int} + K (c^{-\alpha} - T^{-\alpha}) = \epsilon^2`, is the
  budget the power law needs.
  Each draw's regime gives the posterior probability of each regime.

Everything here is arrays in, dataclasses out; no I/O.

The package, one idea a module: :mod:`.curve` (the config, L(c) and its three parts),
:mod:`.power_law` (K, alpha and c*), :mod:`.regime` and :mod:`.summary` (plain values), and
:mod:`.candidates` (each candidate's own :math:`V_{opt,i}(c)` and the probe length worth its cost).
"""

from .candidates import CandidateRisk, candidate_risk
from .curve import RiskConfig, RiskCurve, epistemic_interval, intrinsic_risk_draws, posterior_risk, risk_curve
from .power_law import ALPHA_GRID, PowerLaw, fit_horizon_power_law, fit_power_law, optimal_budget
from .regime import REGIMES, RegimeCall, call_regime, classify_regime, regime_summary
from .summary import summarize_draws, summarize_risk

__all__ = [
    "REGIMES",
    "ALPHA_GRID",
    "RiskConfig",
    "summarize_draws",
    "summarize_risk",
    "regime_summary",
    "RiskCurve",
    "PowerLaw",
    "RegimeCall",
    "risk_curve",
    "posterior_risk",
    "intrinsic_risk_draws",
    "epistemic_interval",
    "fit_power_law",
    "fit_horizon_power_law",
    "optimal_budget",
    "classify_regime",
    "call_regime",
    "CandidateRisk",
    "candidate_risk",
]
