"""ProxyLM's NusaX table read as curves over data size, and the tables it must refuse."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuneahead.data.proxylm_sizes import load_size_curves
from tuneahead.data.proxylm_tables import URIEL_FEATURES
from tuneahead.data.runtable import RunTableError

PROXYLM_DIR = Path(__file__).parents[3] / "shared/data/proxylm"


def _released(name: str) -> Path:
    path = PROXYLM_DIR / f"{name}_experiments.csv"
    if not path.exists():
        pytest.skip(f"ProxyLM table not found at {path}")
    return path


def test_each_experiment_is_one_curve_over_its_sizes():
    raw = pd.read_csv(_released("nusa"))
    table = load_size_curves(_released("nusa"), "nllb")
    assert len(table) == 56 and table.metrics == ("spBLEU",) and len(table.groups) == 8
    assert table.static_names == ("zero_shot", *URIEL_FEATURES)  # the dataset statistics change with the size
    first = raw[(raw.source_lang == "bew") & (raw.target_lang == "btk")].sort_values("dataset_size")
    i = list(table.run_id).index("nusa/bew->btk/nusa_kalimat_mt/nusa_kalimat_mt")
    steps, values = table.curve("spBLEU").points(i)
    np.testing.assert_array_equal(steps, [1000, 3000, 6000, 6600])
    np.testing.assert_array_equal(values, first.nllb_ft_spBLEU_mean)
    assert table.final[i] == first.nllb_ft_spBLEU_mean.iloc[-1] and table.budget[i] == 6600
    assert table.static[i, 0] == first.nllb_noft_spBLEU_mean.iloc[0]
    assert table.group[i] == "btk" and np.isnan(table.diverged).all()
    comet = load_size_curves(_released("nusa"), "m2m100", score="comet", zero_shot=False)
    assert comet.metrics == ("comet_score",) and "zero_shot" not in comet.static_names
    assert comet.final.max() > 1.0  # a fraction, read in points


def test_tables_without_a_curve_over_size_are_refused(tmp_path):
    with pytest.raises(RunTableError, match="no experiment has two dataset sizes"):
        load_size_curves(_released("mt560"), "nllb")
    with pytest.raises(RunTableError, match="need a translation table"):
        load_size_curves(_released("intent"), "aya")
    with pytest.raises(RunTableError, match="unknown target model 'aya'"):
        load_size_curves(_released("nusa"), "aya")
    with pytest.raises(RunTableError, match="group_by='dataset_size'"):
        load_size_curves(_released("nusa"), "nllb", group_by="dataset_size")
    raw = pd.read_csv(_released("nusa")).head(8)
    repeated = pd.concat([raw, raw.iloc[[1]]])
    path = tmp_path / "nusa_experiments.csv"
    repeated.to_csv(path, index=False)
    with pytest.raises(RunTableError, match=r"lines \[.*\] \(nusa/bew->btk.*repeat a dataset size"):
        load_size_curves(path, "nllb")
    raw.loc[2, "nllb_ft_spBLEU_mean"] = np.nan
    raw.to_csv(path, index=False)
    with pytest.raises(RunTableError, match="line 4 .*'nllb_ft_spBLEU_mean' is empty"):
        load_size_curves(path, "nllb")
    assert len(load_size_curves(path, "nllb", dropna=True)) == 2
