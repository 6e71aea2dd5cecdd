"""The summary of every visible set, on hand-written evaluate outputs (nothing is fitted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from experiments.visible_sets import (  # noqa: E402
    BEGIN,
    END,
    SETS,
    markdown_table,
    settings,
    summarize,
    write_section,
)


def _outputs(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "table.csv").write_text(
        "split,method,10/rmse,10/crps,10/coverage_90,10/spearman,40/rmse,40/crps,40/coverage_90,40/spearman\n"
        "random,ours (hierarchical),5.0,2.0,0.9,0.8,4.0,1.5,0.91,0.85\n"
        "random,last value,7.0,,,0.6,6.0,,,0.7\n"
    )
    headline = [{"split": "random", "budget": 10.0, "method": "ours (hierarchical)", "compute_saved": 0.6}]
    (folder / "results.json").write_text(json.dumps({"headline": headline}))
    return folder


def test_summary_rows_and_markdown_section(tmp_path):
    rows = summarize("toy", _outputs(tmp_path / "toy"))
    assert len(rows) == 4 and set(rows["budget"]) == {10.0, 40.0}
    ours10 = rows[(rows.method == "ours (hierarchical)") & (rows.budget == 10.0)].iloc[0]
    assert (ours10.rmse, ours10.crps, ours10.compute_saved) == (5.0, 2.0, 0.6)
    assert np.isnan(rows[(rows.method == "last value") & (rows.budget == 40.0)].iloc[0].compute_saved)
    table = markdown_table(rows)
    assert "| toy | random | 10 | ours (hierarchical) | 5 | 2 | 0.9 | 0.8 | 0.6 |" in table and "–" in table
    doc = tmp_path / "evaluation.md"
    doc.write_text("# Results\n\nkept\n")
    write_section(doc, "first")
    write_section(doc, "second")  # replaces the section, keeps the rest
    text = doc.read_text()
    assert text.count(BEGIN) == text.count(END) == 1 and "second" in text and "first" not in text and "kept" in text


def test_every_set_names_an_experiment():
    conf = Path(__file__).resolve().parents[2] / "conf" / "experiment"
    for name, args in SETS.items():
        experiment = next(a for a in args if a.startswith("+experiment="))
        assert (conf / f"{experiment.split('=')[1]}.yaml").exists(), name


def test_settings_line_lists_the_overrides_a_set_ran_with(tmp_path):
    folder = _outputs(tmp_path / "toy")
    assert settings("toy", folder) == "- `toy`: settings not recorded"
    (folder / ".hydra").mkdir()
    (folder / ".hydra" / "overrides.yaml").write_text(
        "- +experiment=deberta_eval\n- inference.progress=false\n- inference=svi\n"
    )
    assert settings("toy", folder) == "- `toy`: `+experiment=deberta_eval` `inference=svi`"
