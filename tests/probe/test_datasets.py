"""Offline datasets: procedural tasks and their knobs, the kaomoji wheel, users' JSONL."""

import json
from pathlib import Path

import pytest
import yaml

from tuneahead.probe.datasets import DatasetError, load_dataset, read_jsonl
from tuneahead.probe.tasks import TASK_KINDS, make_task


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_each_task_is_deterministic_and_answers_its_prompt(kind):
    a = make_task(kind, 50, seed=1, length=2, difficulty=2)
    assert a == make_task(kind, 50, seed=1, length=2, difficulty=2)
    assert a != make_task(kind, 50, seed=2, length=2, difficulty=2)
    assert all(e.answer == e.response and e.prompt and e.response for e in a)


def test_arithmetic_answers_are_right_and_difficulty_sets_digits():
    for e in make_task("arithmetic", 100, seed=0, length=2, difficulty=3):
        terms = e.prompt[len("What is ") : -1].split(" + ")
        assert len(terms) == 3 and all(len(t) == 3 for t in terms)
        assert int(e.answer) == sum(map(int, terms))


def test_recall_answer_is_the_value_of_the_asked_key():
    for e in make_task("recall", 50, seed=0, length=3):
        facts, question = e.prompt.split(". What is ")
        table = dict(kv.split("=") for kv in facts.split("; "))
        assert len(table) == 4 and table[question[:-1]] == e.answer


def test_label_noise_rate_within_binomial_tolerance():
    clean = make_task("classify", 2000, seed=5)
    noisy = make_task("classify", 2000, seed=5, label_noise=0.3)
    # the same generator state draws the same prompts; a noisy label is always a wrong one here
    # (two labels), so the flip rate is Binomial(2000, 0.3)/2000: sd 0.0102, 4 sd tolerance.
    flips = sum(c.prompt == n.prompt and c.response != n.response for c, n in zip(clean, noisy)) / 2000
    assert abs(flips - 0.3) < 4 * (0.3 * 0.7 / 2000) ** 0.5


def test_duplication_copies_the_asked_fraction():
    ex = make_task("string", 200, seed=0, duplication=0.25, difficulty=4)
    distinct = len({(e.prompt, e.response) for e in ex})
    # 50 slots are overwritten with copies of the 150 kept ones; random six-letter words do not
    # collide on their own, so exactly 150 distinct examples remain.
    assert distinct == 150
    assert len({(e.prompt, e.response) for e in make_task("string", 200, seed=0, difficulty=4)}) == 200


def test_bad_knobs_are_named():
    with pytest.raises(ValueError, match="task kind 'poetry'"):
        make_task("poetry", 3)
    with pytest.raises(DatasetError, match="dataset 'x'.*unexpected keyword|dataset 'x'"):
        load_dataset("x", {"source": "procedural", "task": "arithmetic", "colour": 3})
    with pytest.raises(DatasetError, match="source='nope'"):
        load_dataset("x", {"source": "nope"})


def test_procedural_heldout_is_clean_and_separate():
    d = load_dataset("c", {"source": "procedural", "task": "arithmetic", "size": 40, "heldout": 10, "label_noise": 1.0})
    assert len(d.train) == 40 and len(d.heldout) == 10
    for e in d.heldout:  # no noise in the held-out split
        terms = e.prompt[len("What is ") : -1].split(" + ")
        assert int(e.answer) == sum(map(int, terms))
    assert d.spec["label_noise"] == 1.0


def test_kaomoji_dataset_from_its_wheel():
    d = load_dataset("k", {"source": "kaomoji", "size": 40, "heldout": 10, "n_classes": 3})
    labels = {e.response for e in d.train + d.heldout}
    assert len(labels) <= 3 and not labels & {"uncategorized", "special"}
    assert all(e.answer == e.response for e in d.heldout)
    assert len(d.train) == 40 and len(d.heldout) == 10
    assert not {e.prompt for e in d.train} & {e.prompt for e in d.heldout}, "held-out kaomoji leak into training"


def _write(tmp_path, lines):
    p = tmp_path / "data.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_jsonl_reads_and_splits(tmp_path):
    rows = [
        json.dumps({"prompt": f"p{i}", "response": f"r{i}", **({"answer": "a"} if i == 0 else {})}) for i in range(10)
    ]
    p = _write(tmp_path, rows)
    ex = read_jsonl(p)
    assert len(ex) == 10 and ex[0].answer == "a" and ex[1].answer is None
    d = load_dataset("mine", {"source": "jsonl", "path": str(p), "heldout_fraction": 0.3, "seed": 1})
    assert len(d.heldout) == 3 and len(d.validation) == 1 and len(d.train) == 6
    assert {e.prompt for e in d.train + d.heldout + d.validation} == {f"p{i}" for i in range(10)}
    _assert_separate(d)


def test_jsonl_lines_with_a_held_out_prompt_are_not_trained_on(tmp_path):
    rows = [json.dumps({"prompt": f"p{i % 5}", "response": f"r{i}"}) for i in range(20)]  # each prompt 4 times
    d = load_dataset("mine", {"source": "jsonl", "path": str(_write(tmp_path, rows)), "heldout_fraction": 0.2})
    assert len(d.heldout) == 1 and len(d.validation) == 1 and len(d.train) == 12
    _assert_separate(d)


@pytest.mark.parametrize(
    "line,match",
    [
        ("{not json", r"data.jsonl:2: not valid JSON"),
        (json.dumps({"prompt": "x"}), r"data.jsonl:2: field 'response' is missing"),
        (json.dumps({"prompt": "x", "response": 3}), r"data.jsonl:2: field 'response' must be a non-empty string"),
        (json.dumps({"prompt": "x", "response": "y", "answer": 1}), r"data.jsonl:2: field 'answer'"),
        (json.dumps(["x"]), r"data.jsonl:2: expected a JSON object"),
    ],
)
def test_jsonl_errors_name_line_and_field(tmp_path, line, match):
    p = _write(tmp_path, [json.dumps({"prompt": "a", "response": "b"}), line])
    with pytest.raises(DatasetError, match=match):
        read_jsonl(p)


def _assert_separate(d):
    """No prompt in two splits; held-out and validation prompts distinct within their split."""
    train, test, val = ({e.prompt for e in split} for split in (d.train, d.heldout, d.validation))
    assert len(test) == len(d.heldout) and len(val) == len(d.validation) and val, d.name
    assert not train & test, f"{d.name}: {len(train & test)} held-out prompts occur in training"
    assert not val & (train | test), f"{d.name}: the probe's validation prompts leak"


def _sweep_variants():
    conf = Path(__file__).resolve().parents[2] / "conf" / "sweep"
    for path in sorted(conf.glob("*.yaml")):
        for name, spec in (yaml.safe_load(path.read_text()).get("datasets") or {}).items():
            yield pytest.param(name, spec, id=f"{path.stem}/{name}")


@pytest.mark.parametrize("name,spec", list(_sweep_variants()))
def test_every_sweep_variant_keeps_its_splits_apart(name, spec):
    _assert_separate(load_dataset(name, spec))


@pytest.mark.parametrize("task", ["arithmetic", "string", "recall", "classify"])
def test_procedural_splits_are_apart_even_when_prompts_are_few(task):
    d = load_dataset(task, {"source": "procedural", "task": task, "size": 200, "heldout": 40, "duplication": 0.5})
    _assert_separate(d)
    assert len(d.train) == 200


def test_a_prompt_space_too_small_for_the_held_out_split_is_an_error():
    spec = {"source": "procedural", "task": "arithmetic", "heldout": 90, "validation": 20}
    with pytest.raises(DatasetError, match=r"dataset 'tiny': only \d+ distinct prompts .* raise difficulty"):
        load_dataset("tiny", spec)
    with pytest.raises(DatasetError, match=r"validation=0; give a whole number >= 1"):
        load_dataset("tiny", {**spec, "validation": 0})


@pytest.mark.parametrize("task", ["arithmetic", "classify"])
def test_duplication_keeps_its_rate_when_held_out_prompts_are_taken_out(task):
    spec = {"source": "procedural", "task": task, "size": 256, "heldout": 48, "difficulty": 2, "duplication": 0.5}
    d = load_dataset(task, spec)
    assert len(d.train) == 256 and len({e.prompt for e in d.train}) <= 128, "half the examples are copies"
