"""ProxyLM's experiment tables: the four released files, and small hand-written CSVs with defects."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuneahead.data import load_proxylm_table
from tuneahead.data.proxylm_tables import PROXY_PREFIX, URIEL_FEATURES
from tuneahead.data.runtable import RunTableError

PROXYLM_DIR = Path(__file__).parents[3] / "shared/data/proxylm"
INTENT_PROXIES = ("proxy_smollm_135m", "proxy_smollm_360m", "proxy_bloomz_560m")


def _released(name: str) -> Path:
    path = PROXYLM_DIR / f"{name}_experiments.csv"
    if not path.exists():
        pytest.skip(f"ProxyLM table not found at {path}")
    return path


@pytest.fixture(scope="module")
def intent():
    return load_proxylm_table(_released("intent"), "aya")


def test_the_intent_table_has_one_run_per_language_pair(intent):
    raw = pd.read_csv(_released("intent"))
    assert len(intent) == 2601 and intent.metrics == () and intent.has_final.all()
    assert len(intent.groups) == 51  # the target languages
    assert intent.static_names[:3] == INTENT_PROXIES
    assert set(URIEL_FEATURES) <= set(intent.static_names) and "direction_indicator" in intent.static_names
    assert not {"aya_accuracy", "llama3_accuracy", "source_lang"} & set(intent.static_names)
    assert intent.run_id[0] == f"intent/{raw.source_lang[0]}->{raw.target_lang[0]}"
    np.testing.assert_array_equal(intent.final, raw.aya_accuracy)
    np.testing.assert_array_equal(intent.static[:, 0], raw.smollm_135m_accuracy)
    np.testing.assert_array_equal(intent.group, raw.target_lang)
    assert np.all(intent.budget == 1.0) and np.isnan(intent.diverged).all()


def test_every_released_table_loads_for_every_target():
    for name, targets, proxies in (
        ("slot", ("aya", "llama3"), 3),
        ("mt560", ("m2m100", "nllb"), 4),
        ("nusa", ("m2m100", "nllb"), 4),
    ):
        for target in targets:
            table = load_proxylm_table(_released(name), target)
            assert sum(s.startswith(PROXY_PREFIX) for s in table.static_names) == proxies, (name, target)
            assert np.all((table.final >= 0) & (table.final <= 100)), (name, target)
    nusa = load_proxylm_table(_released("nusa"), "nllb", "comet")  # nusa's column is comet_score
    assert "dev_size" not in nusa.static_names  # constant in nusa: dropped, as ProxyLM does
    assert f"{PROXY_PREFIX}nllb_noft" in nusa.static_names and nusa.final.max() > 50  # COMET in points
    mt = load_proxylm_table(_released("mt560"), "m2m100", proxies=["trfm"], features="language", group_by="source_lang")
    assert mt.static_names == (f"{PROXY_PREFIX}trfm", *URIEL_FEATURES)


def _write(tmp_path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "intent_experiments.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def small(rng):
    """Six experiments in the intent layout."""
    n = 6
    frame = pd.DataFrame(
        {
            "source_lang": ["de", "de", "fr", "fr", "en", "en"],
            "target_lang": ["fr", "en", "de", "en", "de", "fr"],
            "aya_accuracy": rng.uniform(20, 90, n),
            "llama3_accuracy": rng.uniform(20, 90, n),
            "smollm_135m_accuracy": rng.uniform(0, 30, n),
            "smollm_360m_accuracy": rng.uniform(0, 30, n),
            "bloomz_560m_accuracy": rng.uniform(0, 30, n),
            "train_word_vocab_size": [26, 26, 28, 28, 30, 30],
            "ttr_test": rng.uniform(0, 1, n),
            "direction_indicator": [0, 1, 0, 1, 0, 1],
        }
    )
    for f in URIEL_FEATURES:
        frame[f] = rng.uniform(0, 1, n)
    return frame


def test_a_small_table_reads_in_order(tmp_path, small):
    table = load_proxylm_table(_write(tmp_path, small), "llama3", "accuracy", proxies=["bloomz_560m"])
    assert table.static_names == (
        f"{PROXY_PREFIX}bloomz_560m",
        "train_word_vocab_size",
        "ttr_test",
        "direction_indicator",
        *URIEL_FEATURES,
    )
    np.testing.assert_array_equal(table.final, small.llama3_accuracy)
    assert table.run_id[1] == "intent/de->en" and table.groups == ("fr", "en", "de")
    assert load_proxylm_table(_write(tmp_path, small), "aya", proxies=[]).static_names[0] == "train_word_vocab_size"


def test_a_missing_column_is_named(tmp_path, small):
    path = _write(tmp_path, small.drop(columns="smollm_360m_accuracy"))
    with pytest.raises(RunTableError, match=r"intent_experiments.csv: missing column\(s\) \['smollm_360m_accuracy'\]"):
        load_proxylm_table(path, "aya")
    path = _write(tmp_path, small.drop(columns="geographic"))
    with pytest.raises(RunTableError, match=r"missing column\(s\) \['geographic'\] \(the URIEL language features\)"):
        load_proxylm_table(path, "aya")
    load_proxylm_table(path, "aya", features="dataset")  # not read: no error


def test_an_empty_score_is_refused_or_dropped(tmp_path, small):
    small.loc[3, "aya_accuracy"] = np.nan  # CSV line 5 (the header is line 1)
    path = _write(tmp_path, small)
    with pytest.raises(RunTableError, match=r"line 5 \(fr->en\): column 'aya_accuracy' is empty \(NaN\).*dropna=True"):
        load_proxylm_table(path, "aya")
    assert len(load_proxylm_table(path, "aya", dropna=True)) == 5
    assert len(load_proxylm_table(path, "llama3")) == 6  # aya's column is not read for llama3
    small.loc[3, "aya_accuracy"] = 50.0
    small["ttr_test"] = small["ttr_test"].astype(object)
    small.loc[0, "ttr_test"] = "twelve"
    with pytest.raises(
        RunTableError, match=r"line 2 \(de->fr\): column 'ttr_test' holds 'twelve', not a finite number"
    ):
        load_proxylm_table(_write(tmp_path, small), "aya", dropna=True)


def test_unknown_targets_scores_and_proxies_list_the_known_ones(tmp_path, small):
    path = _write(tmp_path, small)
    with pytest.raises(RunTableError, match=r"unknown target model 'gpt4'.*target models \['aya', 'llama3'\]"):
        load_proxylm_table(path, "gpt4")
    with pytest.raises(RunTableError, match=r"unknown score 'f1' for target model 'aya'; it has \['accuracy'\]"):
        load_proxylm_table(path, "aya", "f1")
    with pytest.raises(RunTableError, match=r"unknown proxy model\(s\) \['llama3'\].*\['smollm_135m', 'smollm_360m'"):
        load_proxylm_table(path, "aya", proxies=["llama3"])
    with pytest.raises(RunTableError, match=r"group_by='direction_indicator'.*\['source_lang', 'target_lang'\]"):
        load_proxylm_table(path, "aya", group_by="direction_indicator")
    with pytest.raises(RunTableError, match=r"features \['aya_accuracy'\] are run keys or model scores"):
        load_proxylm_table(path, "llama3", features=["aya_accuracy"])


def test_files_that_are_not_proxylm_tables_are_refused(tmp_path, small):
    with pytest.raises(RunTableError, match="no such file; point data.path at"):
        load_proxylm_table(tmp_path / "absent.csv", "aya")
    with pytest.raises(RunTableError, match="no ProxyLM layout"):
        load_proxylm_table(_write(tmp_path, small.drop(columns=["aya_accuracy", "llama3_accuracy"])), "aya")
    with pytest.raises(RunTableError, match=r"line 3 repeats the experiment of line 2 \(intent/de->fr\)"):
        load_proxylm_table(_write(tmp_path, small.assign(target_lang="fr")), "aya")
