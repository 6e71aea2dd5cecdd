r"""Go/no-go screening: which probed candidates to send to full training, and what that saves.

Every candidate :math:`i` with budget :math:`T_i` is probed for :math:`c_i = \min(c, T_i)` steps.
A rule then sends the set :math:`G` on to full training. With ``resume_from_probe`` (the probe is
the run's own start) a sent run costs :math:`T_i - c_i` more, otherwise :math:`T_i` again. Against
training every candidate in full, :math:`\sum_i T_i`, the **net compute saved** is

.. math::

    1 - \frac{\sum_i c_i + \sum_{i \in G} (T_i - c_i\,[\text{resume}])}{\sum_i T_i}.

A run succeeds if its final score reaches :math:`\tau`. The table rows of TuneAhead's Table 4 are,
for each :math:`\tau`: the true success rate :math:`\overline{1\{R_i \ge \tau\}}`, the share sent
:math:`|G| / n`, the net compute saved, and the share of true successes kept
:math:`|G \cap S| / |S|`.

Rules: ours sends :math:`i` if :math:`P(R_i \ge \tau \mid I_c) \ge p`; a point predictor sends
:math:`i` if :math:`\hat R_i \ge \tau`. :func:`best_saving_at_recall` sweeps a rule's threshold and
reports the largest saving that still keeps a target share of successes (the headline uses the
top quartile and 95%). The threshold is chosen on the runs it is scored on, the same for every
method, so it is an upper bound on what a threshold fixed in advance would give.
"""

from __future__ import annotations

import numpy as np

__all__ = ["probe_steps", "screening_outcome", "threshold_rows", "best_saving_at_recall", "replay_outcome"]


def probe_steps(total: np.ndarray, budget: float) -> np.ndarray:
    """:math:`c_i = \\min(c, T_i)`: a probe stops at the run's end."""
    return np.minimum(float(budget), np.asarray(total, dtype=float))


def screening_outcome(go, truth, tau: float, total, budget: float, resume_from_probe: bool = True) -> dict:
    """The Table 4 figures for one go/no-go decision vector ``go`` (module doc)."""
    go = np.asarray(go, dtype=bool)
    truth, total = np.asarray(truth, dtype=float), np.asarray(total, dtype=float)
    c = probe_steps(total, budget)
    cost = c.sum() + np.sum(np.where(go, total - (c if resume_from_probe else 0.0), 0.0))
    success = truth >= tau
    return {
        "tau": float(tau),
        "true_success_rate": float(success.mean()),
        "sent_share": float(go.mean()),
        "compute_saved": float(1.0 - cost / total.sum()),
        "successes_kept": float((go & success).sum() / success.sum()) if success.any() else float("nan"),
    }


def threshold_rows(
    score_for_tau, truth, taus, total, budget, cutoff=None, resume_from_probe: bool = True
) -> list[dict]:
    """One Table 4 row per ``tau``: go where ``score_for_tau(tau) >= cutoff`` (``tau`` when ``cutoff`` is None)."""
    rows = []
    for tau in taus:
        score = np.asarray(score_for_tau(float(tau)), dtype=float)
        go = score >= (tau if cutoff is None else cutoff)
        rows.append(screening_outcome(go, truth, tau, total, budget, resume_from_probe))
    return rows


def best_saving_at_recall(score, success, total, budget, recall: float = 0.95, resume_from_probe: bool = True) -> dict:
    """Largest net saving of "go if score >= t" over thresholds t keeping >= ``recall`` of successes."""
    score = np.asarray(score, dtype=float)
    success = np.asarray(success, dtype=bool)
    total = np.asarray(total, dtype=float)
    c = probe_steps(total, budget)
    rest = total - (c if resume_from_probe else 0.0)
    best = None
    for t in np.unique(score):
        go = score >= t
        kept = (go & success).sum() / max(success.sum(), 1)
        if kept < recall:
            continue
        saved = 1.0 - (c.sum() + rest[go].sum()) / total.sum()
        if best is None or saved > best["compute_saved"]:
            best = {
                "threshold": float(t),
                "compute_saved": float(saved),
                "sent_share": float(go.mean()),
                "successes_kept": float(kept),
            }
    return best or {"threshold": None, "compute_saved": 0.0, "sent_share": 1.0, "successes_kept": 1.0}


def replay_outcome(kept, steps, success, total) -> dict:
    """Figures of a pruner replay: runs it let finish, steps it spent, successes it kept."""
    kept, success = np.asarray(kept, dtype=bool), np.asarray(success, dtype=bool)
    steps, total = np.asarray(steps, dtype=float), np.asarray(total, dtype=float)
    return {
        "sent_share": float(kept.mean()),
        "compute_saved": float(1.0 - steps.sum() / total.sum()),
        "successes_kept": float((kept & success).sum() / success.sum()) if success.any() else float("nan"),
    }
