"""Release the SmolLM2 LoRA meta-dataset: export its run store to compact JSONL and print its state.

    python experiments/metadataset.py            # metadata/smollm2-lora/store -> runs.jsonl, then a summary
    python experiments/metadataset.py --json F   # the summary as JSON too

The summary counts the runs by dataset variant and the seed repeats by config, and gives the
training time and speed of the runs recorded so far (the numbers of ``DATASHEET.md``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from tuneahead.data.runstore import RunStore

ROOT = Path(__file__).resolve().parents[1] / "metadata" / "smollm2-lora"
PLANNED = 164  # smollm2_lora: 8 variants x 10 configs; smollm2_seeds: 2 variants x 6 configs x 8 seeds, 12 shared


def summary(records: list[dict]) -> dict:
    """Counts, seed repeats and timings of the recorded runs."""
    by_variant = Counter(r["dataset"]["name"] for r in records)
    configs = Counter((r["dataset"]["name"], r["config"]["learning_rate"], r["config"]["lora_rank"]) for r in records)
    seconds = [r["timing"]["train_seconds"] for r in records]
    speeds = [r["timing"]["steps_per_second"] for r in records if not r["diverged"]]
    return {
        "runs": len(records),
        "planned": PLANNED,
        "by_variant": dict(sorted(by_variant.items())),
        "configs_with_8_seeds": sum(n >= 8 for n in configs.values()),
        "diverged": sum(bool(r["diverged"]) for r in records),
        "train_hours": sum(seconds) / 3600,
        "steps_per_second_median": statistics.median(speeds) if speeds else None,
        "devices": dict(Counter(r["device"] for r in records)),
        "final_sd": statistics.pstdev([r["final"] for r in records]) if records else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args()
    store = RunStore(args.root / "store")
    out = store.export(args.root / "runs.jsonl")
    facts = summary(store.records())
    print(f"{facts['runs']} of {facts['planned']} runs exported to {out}")
    print(json.dumps(facts, indent=2))
    if args.json:
        args.json.write_text(json.dumps(facts, indent=2) + "\n")


if __name__ == "__main__":
    main()
