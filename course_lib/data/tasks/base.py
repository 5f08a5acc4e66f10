"""The machinery every lab task shares: difficulty knobs, word pools, the train/test split and verification.

A task is a generator ``generate(rng, knobs) -> Sample`` plus a :class:`TaskSpec` naming its domain and
default knobs. Four knobs make every out-of-distribution family out of the same code:

* ``n_steps``: ``(lo, hi)`` reasoning steps per problem (an int means ``(n, n)``); ``Problem.difficulty``
  is the number actually drawn.
* ``max_operand``: the largest number a problem may contain (operands, intermediate values).
* ``n_distractors``: irrelevant clauses mixed into the prompt (the reference chain ignores them).
* ``pool``: ``"train"`` or ``"heldout"``: which names, objects and wordings are drawn. Held-out pools
  never appear in ``"train"`` problems.

The train/test split is decided by the content of the prompt, not by the seed: a prompt belongs to
``"test"`` when the SHA-256 of ``"<task>|<prompt>"`` falls in the lowest :data:`TEST_PERCENT` percent,
else to ``"train"``. Generation for a split redraws until the prompt lands in it, so no seed can ever
produce a training problem that equals a test problem.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

POOLS = ("train", "heldout")
SPLITS = ("train", "test")
TEST_PERCENT = 10
KNOB_NAMES = ("n_steps", "max_operand", "n_distractors", "pool")


@dataclass(frozen=True)
class Knobs:
    """Difficulty knobs of one generation call (see the module docstring for their meaning)."""

    n_steps: tuple[int, int]
    max_operand: int
    n_distractors: int
    pool: str

    def as_dict(self) -> dict[str, Any]:
        return {"n_steps": list(self.n_steps), "max_operand": self.max_operand,
                "n_distractors": self.n_distractors, "pool": self.pool}


@dataclass(frozen=True)
class Sample:
    """What a generator returns: the text of one problem before it becomes a ``Problem``.

    Attributes:
        prompt: question text (ASCII).
        chain: reference reasoning, one short clause per step.
        answer: gold answer string.
        answer_type: ``"numeric"``, ``"exact"``, ``"multiple_choice"`` or ``"code"``.
        steps: number of reasoning steps (becomes ``Problem.difficulty``).
        metadata: task extras (``program``, ``choices``/``labels``, ``tests``/``entry_point``).
    """

    prompt: str
    chain: str
    answer: str
    answer_type: str
    steps: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """One lab task: its domain, what it asks, its generator and default knobs.

    Attributes:
        name: registry key, also the ``lab/<name>`` source.
        domain: one of ``course_lib.data.schema.DOMAINS``.
        description: one line for tables and docs.
        generate: ``(random.Random, Knobs) -> Sample``.
        defaults: default knob values (keys from :data:`KNOB_NAMES`).
        knobs: the knobs this task reacts to; the others are rejected by ``make_problems``.
        mimics: the real benchmark it imitates.
    """

    name: str
    domain: str
    description: str
    generate: Callable[[random.Random, Knobs], Sample]
    defaults: dict[str, Any]
    knobs: tuple[str, ...]
    mimics: str


@dataclass(frozen=True)
class Pool:
    """A word list split into a training part and a held-out part (for the ``renamed_entities`` family)."""

    train: tuple[str, ...]
    heldout: tuple[str, ...]

    def __post_init__(self) -> None:
        overlap = set(self.train) & set(self.heldout)
        if overlap:
            raise ValueError(f"train and heldout pools must be disjoint; both contain {sorted(overlap)}")

    def pick(self, pool: str) -> tuple[str, ...]:
        return self.train if pool == "train" else self.heldout


# Names are three letters so that prompts stay short; each has a pronoun for word problems.
PEOPLE = Pool(
    train=("Ann", "Bob", "Cal", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kay", "Leo"),
    heldout=("Max", "Ned", "Oli", "Pam", "Rex", "Sue", "Tim", "Uma", "Val", "Wes"),
)
PRONOUNS = {
    "Ann": "She", "Bob": "He", "Cal": "He", "Dee": "She", "Eve": "She", "Fay": "She", "Gus": "He",
    "Hal": "He", "Ivy": "She", "Jon": "He", "Kay": "She", "Leo": "He", "Max": "He", "Ned": "He",
    "Oli": "He", "Pam": "She", "Rex": "He", "Sue": "She", "Tim": "He", "Uma": "She", "Val": "She", "Wes": "He",
}

# Irrelevant clauses for the ``distractors`` family; ``{n}`` is filled with a number that must be ignored.
DISTRACTORS = Pool(
    train=("A box has {n} pins.", "The bus has {n} seats.", "A cat is {n} years old.", "A shelf has {n} jars."),
    heldout=("The shop opens at {n}.", "A tree has {n} nuts.", "It rained {n} days."),
)


def distractor_clauses(rng: random.Random, knobs: Knobs) -> list[str]:
    """``knobs.n_distractors`` irrelevant sentences, each with a number in ``1..max(9, max_operand)``."""
    templates = DISTRACTORS.pick(knobs.pool)
    top = max(9, knobs.max_operand)
    return [rng.choice(templates).format(n=rng.randint(1, top)) for _ in range(knobs.n_distractors)]


def interleave(rng: random.Random, clauses: list[str], extra: list[str]) -> list[str]:
    """Insert ``extra`` clauses at random positions after the first clause (order of ``clauses`` kept)."""
    out = list(clauses)
    for clause in extra:
        out.insert(rng.randint(1, len(out)), clause)
    return out


def draw_steps(rng: random.Random, knobs: Knobs) -> int:
    lo, hi = knobs.n_steps
    return rng.randint(lo, hi)


def make_knobs(spec: TaskSpec, overrides: dict[str, Any]) -> Knobs:
    """Merge ``overrides`` into ``spec.defaults`` and validate them.

    Raises:
        ValueError: an unknown knob, a knob the task does not use, or an out-of-range value.
    """
    unknown = set(overrides) - set(KNOB_NAMES)
    if unknown:
        raise ValueError(f"unknown knob(s) {sorted(unknown)} for task {spec.name!r}; valid knobs: {list(KNOB_NAMES)}")
    unused = set(overrides) - set(spec.knobs)
    if unused:
        raise ValueError(f"task {spec.name!r} does not use knob(s) {sorted(unused)}; it uses {list(spec.knobs)}")
    values = {**spec.defaults, **overrides}
    steps = values["n_steps"]
    lo, hi = (steps, steps) if isinstance(steps, int) else tuple(steps)
    if not (1 <= lo <= hi <= 12):
        raise ValueError(f"n_steps must be an int or (lo, hi) with 1 <= lo <= hi <= 12; got {steps!r}")
    if not isinstance(values["max_operand"], int) or values["max_operand"] < 9:
        raise ValueError(f"max_operand must be an int >= 9; got {values['max_operand']!r}")
    if not isinstance(values["n_distractors"], int) or not 0 <= values["n_distractors"] <= 5:
        raise ValueError(f"n_distractors must be an int in 0..5; got {values['n_distractors']!r}")
    if values["pool"] not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}; got {values['pool']!r}")
    return Knobs((lo, hi), values["max_operand"], values["n_distractors"], values["pool"])


def split_of(task: str, prompt: str) -> str:
    """``"test"`` or ``"train"``: a fixed function of the prompt text (see the module docstring)."""
    digest = hashlib.sha256(f"{task}|{prompt}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") % 100 < TEST_PERCENT else "train"


def normalize_text(text: str) -> str:
    """Strip and collapse runs of whitespace to one space (exact-match answers compare this)."""
    return re.sub(r"\s+", " ", text.strip())
