"""The evaluation's tables, written atomically: ``table.md/csv``, ``screening.md/csv``, ``predictions.csv``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import atomic_path
from .scoring import HeldOut, MethodResults

__all__ = ["TABLE_COLUMNS", "prediction_frame", "write_tables", "write_screening", "write_predictions"]

# (score key, table.md header, digits); {tag} is the predictive's level in percent
TABLE_COLUMNS = [
    ("rmse", "RMSE", 2),
    ("mae", "MAE", 2),
    ("r2", "R²", 3),
    ("spearman", "Spearman", 3),
    ("acc_within_1", "Acc@1", 3),
    ("acc_within_2", "Acc@2", 3),
    ("acc_within_3", "Acc@3", 3),
    ("coverage_{tag}", "Cov{tag}", 3),
    ("mean_width_{tag}", "Width{tag}", 2),
    ("crps", "CRPS", 2),
    ("fit_seconds", "fit s", 1),
    ("predict_seconds", "pred s", 2),
]


def _fmt(v, digits):
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def prediction_frame(held_out: HeldOut, results: MethodResults, top_tau: float) -> pd.DataFrame:
    """One method's rows of ``predictions.csv`` at one budget; ours adds ``pit`` and ``p_top``."""
    frame = pd.DataFrame(
        {
            "split": held_out.split,
            "method": results.method,
            "budget": results.budget,
            "run_id": held_out.run_id,
            "final": held_out.final,
            "total_steps": held_out.total_steps,
            "mean": results.mean(),
            "lower": results.lower(),
            "upper": results.upper(),
        }
    )
    if results.pit:
        frame["pit"] = np.concatenate(results.pit)
        frame["p_top"] = results.probability(top_tau)
    return frame


def write_tables(out_dir: Path, rows: list[dict], budgets: list[float], tag: str) -> None:
    """``table.csv`` (the rows as they are) and ``table.md`` (a table per split and budget)."""
    with atomic_path(out_dir / "table.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    lines = []
    for split in dict.fromkeys(r["split"] for r in rows):
        for b in budgets:
            lines += [f"### split `{split}`, probe budget {int(b)} steps", ""]
            head = ["method"] + [c[1].format(tag=tag) for c in TABLE_COLUMNS]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for r in (r for r in rows if r["split"] == split):
                cells = [r["method"]] + [_fmt(r.get(f"{int(b)}/{c[0].format(tag=tag)}"), c[2]) for c in TABLE_COLUMNS]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    with atomic_path(out_dir / "table.md") as tmp:
        tmp.write_text("\n".join(lines))


def _threshold_lines(screening: list[dict], sc: dict) -> list[str]:
    lines = [
        f"Go/no-go (TuneAhead Table 4 form). Ours sends a run on if P(R >= tau) >= {sc['p']}; "
        "TuneAhead if its prediction >= tau. Net compute saved counts every candidate's probe.",
        "",
    ]
    for (split, b), part in pd.DataFrame(screening).groupby(["split", "budget"], sort=False):
        lines += [
            f"### split `{split}`, probe budget {int(b)} steps",
            "",
            "| method | tau | true success rate | sent to full training | net compute saved | successes kept |",
            "|---|---|---|---|---|---|",
        ]
        for _, r in part.iterrows():
            lines.append(
                f"| {r.method} | {r.tau:.2f} | {r.true_success_rate:.3f} | {r.sent_share:.3f} | "
                f"{r.compute_saved:.3f} | {_fmt(r.successes_kept, 3)} |"
            )
        lines.append("")
    return lines


def _headline_lines(headline: list[dict], pruners: list[dict], sc: dict) -> list[str]:
    lines = [
        f"### Headline: compute saved while keeping >= {sc['recall']:.0%} of the runs in the top "
        f"{1 - sc['top_quantile']:.0%} of held-out scores",
        "",
        "Score thresholds are swept on the held-out runs (the same oracle choice for every scoring method); "
        "each pruner row is one fixed setting, marked whether it meets the target.",
        "",
        "| split | budget | method | top-quartile cut | net compute saved | sent | top runs kept | meets target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in [*headline, *pruners]:
        meets = r["successes_kept"] >= sc["recall"]
        lines.append(
            f"| {r['split']} | {int(r['budget'])} | {r['method']} | {r['tau_top']:.2f} | {r['compute_saved']:.3f} | "
            f"{r['sent_share']:.3f} | {_fmt(r['successes_kept'], 3)} | {'yes' if meets else 'no'} |"
        )
    return lines


def write_screening(out_dir: Path, screening: list[dict], headline: list[dict], pruners: list[dict], sc: dict) -> None:
    """``screening.csv`` (every row, with its ``kind``) and ``screening.md`` (Table 4, then the headline)."""
    frame = pd.concat(
        [
            pd.DataFrame(screening).assign(kind="threshold"),
            pd.DataFrame(headline).assign(kind="headline"),
            pd.DataFrame(pruners).assign(kind="pruner"),
        ],
        ignore_index=True,
    )
    with atomic_path(out_dir / "screening.csv") as tmp:
        frame.to_csv(tmp, index=False)
    lines = _threshold_lines(screening, sc) + _headline_lines(headline, pruners, sc)
    with atomic_path(out_dir / "screening.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def write_predictions(out_dir: Path, frames: list[pd.DataFrame]) -> None:
    """``predictions.csv``: every method's prediction for every held-out run."""
    with atomic_path(out_dir / "predictions.csv") as tmp:
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)
