"""The seeds-by-presets check of the posterior: resumable runs and the table of counts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from experiments import regime_seeds  # noqa: E402


def _verdict(regime: bool, coverage: float, risk: bool, c_star) -> dict:
    return {
        "parts": {
            "coverage_90": {"value": coverage, "passed": abs(coverage - 0.9) <= 0.1},
            "L_vs_probe_reference": {"passed": risk},
            "c_star": {"passed": c_star},
            "regime": {"passed": regime},
        }
    }


def test_a_folder_with_its_verdict_is_not_run_again_and_the_table_counts_passes(tmp_path, monkeypatch):
    folder = tmp_path / "noise_dominant" / "seed3"
    folder.mkdir(parents=True)
    (folder / "verdict.json").write_text(json.dumps({"verdict": _verdict(True, 0.9, True, None)}))
    monkeypatch.setattr(regime_seeds.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    assert regime_seeds.run_one(tmp_path, "noise_dominant", 3, [])["parts"]["regime"]["passed"]
    text = regime_seeds.table(
        {"dynamic_critical": [_verdict(True, 0.85, False, True), _verdict(False, 0.75, True, None)]}
    )
    assert text.splitlines()[-1] == "| dynamic_critical | 2 | 1 | 1 | 0.800 | 1 | 1 of 1 |"
