"""Procedurally generated instruction tasks with an exact-match answer.

Four task kinds, each a function of a seeded generator:

- ``arithmetic``: add ``length + 1`` integers of ``difficulty`` digits each;
- ``string``: a transform (upper-case, reverse, first letters) of ``length`` random words of
  ``difficulty + 2`` letters;
- ``recall``: ``length + 1`` key-value pairs in the prompt, then a question for one key;
  ``difficulty`` sets how alike the keys look (a shared prefix of that many letters);
- ``classify``: a templated review whose sentiment word decides the label; ``difficulty`` adds
  distractor words of the other polarity after a negation, ``length`` adds filler clauses.

Knobs shared by every kind (:func:`make_task`):

- ``n``: the number of examples;
- ``label_noise``: the probability that an example's response is replaced by the response of a
  random other example (so it is wrong but well formed);
- ``duplication``: the fraction of examples overwritten by copies of the examples that are kept,
  so ``round(duplication * n)`` of them repeat another one.

Every example's ``response`` is its ``answer``, so scoring is exact match of the response.
Pure Python; no torch.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

__all__ = ["Example", "make_task", "corrupt", "TASK_KINDS"]


@dataclass(frozen=True)
class Example:
    """One instruction example: a prompt, the response to learn, and the answer to score."""

    prompt: str
    response: str
    answer: str | None = None


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def _arithmetic(rng: random.Random, length: int, difficulty: int) -> Example:
    lo, hi = 10 ** (difficulty - 1) if difficulty > 1 else 0, 10**difficulty - 1
    xs = [rng.randint(lo, hi) for _ in range(length + 1)]
    return Example(f"What is {' + '.join(map(str, xs))}?", str(sum(xs)))


_TRANSFORMS = {
    "upper": ("Write in capitals", lambda ws: " ".join(w.upper() for w in ws)),
    "reverse": ("Reverse the letters of", lambda ws: " ".join(w[::-1] for w in ws)),
    "initials": ("Give the first letters of", lambda ws: "".join(w[0] for w in ws)),
}


def _string(rng: random.Random, length: int, difficulty: int) -> Example:
    words = [_word(rng, difficulty + 2) for _ in range(max(1, length))]
    name = rng.choice(sorted(_TRANSFORMS))
    instruction, fn = _TRANSFORMS[name]
    return Example(f"{instruction}: {' '.join(words)}", fn(words))


def _recall(rng: random.Random, length: int, difficulty: int) -> Example:
    prefix = _word(rng, difficulty)
    keys: list[str] = []
    while len(keys) < length + 1:
        k = prefix + _word(rng, 2)
        if k not in keys:
            keys.append(k)
    values = [str(rng.randint(0, 99)) for _ in keys]
    q = rng.randrange(len(keys))
    facts = "; ".join(f"{k}={v}" for k, v in zip(keys, values))
    return Example(f"{facts}. What is {keys[q]}?", values[q])


_POSITIVE = ["great", "lovely", "excellent", "wonderful", "superb", "pleasant"]
_NEGATIVE = ["awful", "terrible", "boring", "dreadful", "poor", "bad"]
_THINGS = ["film", "meal", "book", "hotel", "concert", "game", "phone"]
_FILLERS = ["the staff were there", "it was on a tuesday", "we went with friends", "the price was normal"]


def _classify(rng: random.Random, length: int, difficulty: int) -> Example:
    label = rng.choice(["positive", "negative"])
    word = rng.choice(_POSITIVE if label == "positive" else _NEGATIVE)
    other = _NEGATIVE if label == "positive" else _POSITIVE
    parts = [f"The {rng.choice(_THINGS)} was {word}"]
    for _ in range(max(0, difficulty - 1)):
        parts.append(f"not {rng.choice(other)} at all")
    parts += [rng.choice(_FILLERS) for _ in range(max(0, length - 1))]
    tail = parts[1:]
    rng.shuffle(tail)
    parts = parts[:1] + tail
    return Example(f"Is this review positive or negative? {', '.join(parts)}.", label)


_MAKERS = {"arithmetic": _arithmetic, "string": _string, "recall": _recall, "classify": _classify}
TASK_KINDS = tuple(_MAKERS)


def make_task(
    kind: str,
    n: int,
    seed: int = 0,
    label_noise: float = 0.0,
    duplication: float = 0.0,
    length: int = 1,
    difficulty: int = 1,
) -> list[Example]:
    """``n`` examples of task ``kind`` with the knobs of the module doc.

    Examples
    --------
    >>> make_task("arithmetic", 1, seed=3)[0].prompt.startswith("What is")
    True
    """
    if kind not in _MAKERS:
        raise ValueError(f"task kind {kind!r} is unknown; use one of {list(TASK_KINDS)}")
    if not 0 <= label_noise <= 1 or not 0 <= duplication < 1:
        raise ValueError(f"label_noise={label_noise} must lie in [0, 1] and duplication={duplication} in [0, 1)")
    if n < 1 or length < 1 or difficulty < 1:
        raise ValueError(f"n={n}, length={length} and difficulty={difficulty} must all be at least 1")
    rng = random.Random(f"{kind}-{seed}")
    examples = [_MAKERS[kind](rng, length, difficulty) for _ in range(n)]
    return corrupt([Example(e.prompt, e.response, e.response) for e in examples], rng, label_noise, duplication)


def corrupt(examples: list[Example], rng: random.Random, label_noise: float = 0.0, duplication: float = 0.0):
    """``examples`` with ``round(duplication * n)`` of them overwritten by copies of the others, then
    each response replaced with probability ``label_noise`` by another example's (module doc)."""
    if not 0 <= label_noise <= 1 or not 0 <= duplication < 1:
        raise ValueError(f"label_noise={label_noise} must lie in [0, 1] and duplication={duplication} in [0, 1)")
    examples, n = list(examples), len(examples)
    n_dup = int(round(duplication * n))
    if n_dup and n > 1:
        targets = set(rng.sample(range(n), min(n_dup, n - 1)))
        sources = [j for j in range(n) if j not in targets]
        for t in sorted(targets):
            examples[t] = examples[rng.choice(sources)]
    if label_noise > 0 and n > 1:
        answers = [e.response for e in examples]
        noisy = []
        for e in examples:
            if rng.random() < label_noise:
                wrong = [a for a in answers if a != e.response] or answers
                r = rng.choice(wrong)
                noisy.append(Example(e.prompt, r, r))
            else:
                noisy.append(e)
        examples = noisy
    return examples
