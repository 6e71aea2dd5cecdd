"""One command for every visible set: each evaluated beside the peers, then one summary table.

    python -m experiments.visible_sets                        # every set, resumable, into outputs/visible
    python -m experiments.visible_sets --sets deberta alexnet --write-md experiments/evaluation.md
    python -m experiments.visible_sets --summary-only         # the table from what is already there
    python -m experiments.visible_sets --sets deberta alexnet -- inference=svi model.auto.folds=3

Each set is ``python -m tuneahead.evaluate +experiment=NAME`` with the experiment's own settings:
its model is chosen on its training runs where the experiment says ``model=auto``, never from
test-split errors. A set whose output folder already holds ``results.json`` is not run again, so an
interrupted run resumes where it stopped. The summary has one row per set x split x budget x
method: RMSE, CRPS, 90% coverage, Spearman, and for the methods that screen (ours and TuneAhead's
LightGBM) the compute saved while keeping 95% of the top-quartile runs (``results.json``'s
``headline``). It is written as CSV and Markdown beside the outputs (numbers first), and with
``--write-md`` into a marked section of a Markdown file. Hydra overrides after ``--`` go to every set
of that call; under the table, each set's line lists the overrides it ran with (its
``.hydra/overrides.yaml``), so sets run with different settings say so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("dynamic_critical", "noise_dominant", "static_sufficient")
SYNTHETIC = ("+experiment=synthetic", "evaluation.budgets=[25,100,400]", "evaluation.explain.enabled=false")
SETS: dict[str, tuple[str, ...]] = {
    **{f"synthetic_{p}": (*SYNTHETIC, f"data.preset={p}") for p in PRESETS},
    "deberta": ("+experiment=deberta_eval",),
    "alexnet": ("+experiment=alexnet_eval",),
    "proxylm_intent": ("+experiment=proxylm_eval",),
    "nusa_sizes": ("+experiment=nusa_sizes_eval",),
    **{f"smollm2_lora_c{c}": ("+experiment=metadataset_eval", f"data.probe_at={c}") for c in (10, 20, 40)},
}
BEGIN, END = "<!-- visible-sets:begin -->", "<!-- visible-sets:end -->"
COLUMNS = ("rmse", "crps", "coverage_90", "spearman")


def run_app(args: list[str], folder: Path, done: str, log: Path) -> None:
    """``python -m ARGS hydra.run.dir=folder`` unless ``folder/done`` exists; its output goes to ``log``."""
    if (folder / done).exists():
        print(f"  kept {folder / done}", flush=True)
        return
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", *args, f"hydra.run.dir={folder}"]
    print("  " + " ".join(cmd[1:]), flush=True)
    with open(log, "w") as f:
        code = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed (exit {code}); see {log}")


def run_set(name: str, out: Path, overrides: list[str]) -> Path:
    """Evaluate set ``name`` into ``out/name`` unless its results are there; returns the folder."""
    out.mkdir(parents=True, exist_ok=True)
    args = ["tuneahead.evaluate", *SETS[name], "inference.progress=false", *overrides]
    run_app(args, out / name, "results.json", out / f"{name}.log")
    return out / name


def summarize(name: str, folder: Path) -> pd.DataFrame:
    """The long rows of one evaluated set: split, budget, method and the summary's columns."""
    table = pd.read_csv(folder / "table.csv")
    rows = []
    for _, r in table.iterrows():
        budgets = sorted({c.split("/")[0] for c in table.columns if "/" in c}, key=float)
        for b in budgets:
            row = {"set": name, "split": r["split"], "budget": float(b), "method": r["method"]}
            rows.append(row | {c: r.get(f"{b}/{c}") for c in COLUMNS})
    long = pd.DataFrame(rows)
    headline = pd.DataFrame(json.loads((folder / "results.json").read_text()).get("headline", []))
    if headline.empty:
        return long.assign(compute_saved=float("nan"))
    headline = headline[["split", "budget", "method", "compute_saved"]]
    return long.merge(headline, on=["split", "budget", "method"], how="left")


def settings(name: str, folder: Path) -> str:
    """One Markdown line: the Hydra overrides set ``name`` was evaluated with."""
    path = folder / ".hydra" / "overrides.yaml"
    used = yaml.safe_load(path.read_text()) if path.exists() else None
    if used is None:
        return f"- `{name}`: settings not recorded"
    extra = [o for o in used if o != "inference.progress=false"]
    return f"- `{name}`: " + " ".join(f"`{o}`" for o in extra)


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """``frame`` as a Markdown table, numbers to ``digits`` significant figures, missing ones as "–"."""

    def cell(v) -> str:
        if isinstance(v, float):
            return "–" if v != v else f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(text)
    os.replace(f.name, path)


def write_section(path: Path, markdown: str) -> None:
    """Put ``markdown`` between the section markers of ``path`` (appended, with them, if absent)."""
    text = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{markdown.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    _atomic_write(path, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "visible")
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=list(SETS))
    parser.add_argument("--summary-only", action="store_true", help="summarize the sets already evaluated")
    parser.add_argument("--write-md", type=Path, default=None, help="also write the table into this file")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every set of this call (after --)")
    args = parser.parse_args()
    parts, lines = [], []
    for name in args.sets:
        folder = args.out / name
        if not args.summary_only:
            folder = run_set(name, args.out, args.overrides)
        if (folder / "results.json").exists():
            parts.append(summarize(name, folder))
            lines.append(settings(name, folder))
    if not parts:
        raise SystemExit(f"no evaluated set under {args.out}; run without --summary-only")
    summary = pd.concat(parts, ignore_index=True)
    _atomic_write(args.out / "visible_sets.csv", summary.to_csv(index=False))
    markdown = markdown_table(summary) + "\n\nEach set's Hydra overrides:\n\n" + "\n".join(lines)
    _atomic_write(args.out / "visible_sets.md", markdown + "\n")
    if args.write_md:
        write_section(args.write_md, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
