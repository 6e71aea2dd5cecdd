"""The predict app's job: a saved posterior's calls on new candidates, with no refit.

``python -m tuneahead.predict posterior=PATH data.path=CANDIDATES`` reads the posterior that the
fit app wrote (``posterior.nc``) and the candidates (the ``data`` group: any source, a run file by
default), and writes into the run folder, numbers only:

- ``candidates.csv``: one row per candidate: ``run_id``, ``group``, ``probed`` (its last curve
  step, :math:`c_0`), ``budget`` (T), the predictive ``mean``, ``sd`` and central interval
  (``lower``, ``upper`` at ``predict.level``), ``p_diverge``, ``p_at_least_<tau>`` for each of
  ``taus``, ``v_opt`` (its own :math:`V_{opt,i}(c_0)`: what probing to T would still remove),
  ``probe_to`` (the probe length worth its cost, :mod:`tuneahead.risk.candidates`) and
  ``more_steps`` (``probe_to - probed``; 0: decide now) and ``extrapolation`` (how far its static
  features lie outside the training runs' range, in training sds; 0 inside: past the range the
  posterior holds them at its edge, :mod:`tuneahead.model.static_scale`);
- ``candidates.json``: the same rows, each with its :math:`V_{opt,i}(c)` over its budgets, and the
  settings (the posterior, level, taus, gamma and lambda).

Everything is checked before any prediction: the posterior file, the settings, and that the
candidates carry the posterior's static features and curve metrics (the error names what is
missing and the key to fix). Candidates' final scores, where present, are never read.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, ListConfig

from ..artifacts import atomic_path, write_json
from ..data.errors import RunTableError
from ..data.runtable import Curve, RunTable
from ..model.posterior import Posterior
from ..model.stacked import StackedPosterior, load_posterior
from ..predict import components_from_draws, summarize
from ..risk import RiskConfig, candidate_risk
from ..risk.candidates import probed_steps
from .runs import check_metrics, load_runs
from .settings import PredictConfig, config_object

__all__ = ["run_predict", "check_candidates"]

log = logging.getLogger("tuneahead.pipeline")


def check_candidates(table: RunTable, posterior: Posterior | StackedPosterior, where: str) -> RunTable:
    """The candidates in the posterior's terms: its static features in its order, and its metrics.

    Features in another order are reordered; missing or extra ones are refused. Candidates that
    have no curve point yet (none probed) get the posterior's metrics as empty curves; otherwise a
    metric of the posterior that they lack is refused (a renamed metric, most likely).
    """
    design = posterior.design
    missing = [n for n in design.static_names if n not in table.static_names]
    extra = [n for n in table.static_names if n not in design.static_names]
    if missing or extra:
        raise RunTableError(
            f"data.path: the candidates' static features are not those the posterior {where} was fitted on "
            f"(missing {missing}, extra {extra}); give the candidates the training runs' features"
        )
    order = [table.static_names.index(n) for n in design.static_names]
    curves = dict(table.curves)
    if not probed_steps(table).any():
        empty = np.full((len(table), 0), np.nan)
        curves.update({m: Curve(empty, empty) for m in design.spec.metrics if m not in curves})
    table = RunTable(
        table.run_id, table.group, table.static[:, order], design.static_names, table.budget, curves, table.final,
        table.diverged,
    )  # fmt: skip
    check_metrics(table, design.spec.metrics, f"data.path (the metrics of posterior {where})")
    return table


def _taus(values) -> list[float]:
    if isinstance(values, ListConfig):
        values = list(values)
    given = values if isinstance(values, (list, tuple)) or values is None else [values]
    try:
        taus = [float(t) for t in (given or [])]
    except (TypeError, ValueError):
        taus = [math.nan]
    if not all(math.isfinite(t) for t in taus):
        raise ValueError(f"taus={values!r}: give finite success thresholds on the score, e.g. taus=[60,70]")
    return taus


def _rows(
    table: RunTable,
    posterior: Posterior | StackedPosterior,
    settings: PredictConfig,
    taus: list[float],
    risk: RiskConfig,
):
    """The candidates' frame and each one's V_opt over its budgets."""
    draws = posterior.draw_sets(settings.max_draws)
    comp = components_from_draws(draws, table)  # once: the prediction and V_opt read it
    prediction = summarize(comp, table.run_id, settings.level)
    frame = pd.DataFrame({"run_id": table.run_id, "group": table.group})
    lam = risk.step_cost(np.array([posterior.design.time_unit]))  # the training runs' median budget
    own = candidate_risk(draws, table, risk.gamma, lam, now=comp)
    frame["probed"], frame["budget"] = own.probed, table.budget
    frame = pd.concat([frame, prediction.to_frame().drop(columns="run_id")], axis=1)
    for tau in taus:
        frame[f"p_at_least_{tau:g}"] = 1.0 - comp.cdf(np.full(len(table), tau))
    frame["v_opt"], frame["probe_to"] = own.v_opt[:, 0], own.worth
    frame["more_steps"] = own.worth - own.probed
    frame["extrapolation"] = posterior.design.extrapolation(table)
    return frame, own, lam


def run_predict(cfg: DictConfig, out_dir: str | Path) -> pd.DataFrame:
    """Predict the configured candidates from the saved posterior; write the files of the module doc."""
    out_dir = Path(out_dir)
    settings = config_object(PredictConfig, cfg.predict, "predict")
    taus, risk = _taus(cfg.get("taus")), config_object(RiskConfig, cfg.risk, "risk")
    where = Path(str(cfg.posterior))
    if not where.is_file():
        raise FileNotFoundError(
            f"posterior={where}: no such file; give the posterior.nc of a `python -m tuneahead.fit` run"
        )
    posterior = load_posterior(where)
    _, table = load_runs(cfg.data)
    table = check_candidates(table, posterior, str(where))
    log.info("predicting %d candidates from %s", len(table), where)
    frame, own, lam = _rows(table, posterior, settings, taus, risk)
    with atomic_path(out_dir / "candidates.csv") as tmp:
        frame.to_csv(tmp, index=False)
    curves = [
        dict(zip(("budgets", "v_opt"), (own.budgets[i].tolist(), own.v_opt[i].tolist()))) for i in range(len(table))
    ]
    records = [{**row, "v_opt_curve": curve} for row, curve in zip(frame.to_dict(orient="records"), curves)]
    settings_out = {"posterior": str(where), "level": settings.level, "taus": taus, "gamma": risk.gamma, "lambda": lam}
    write_json({"settings": settings_out, "candidates": records}, out_dir / "candidates.json")
    log.info(
        "wrote %s: %d candidates, %d worth probing further", out_dir, len(frame), int((frame.more_steps > 0).sum())
    )
    return frame
