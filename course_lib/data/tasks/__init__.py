"""The lab task suite: seeded procedural problems in four domains, each with a reference chain and an exact answer.

Every task is small enough for a character-level model trained on a CPU: prompts of about 90 characters
or fewer, chains of about 70 or fewer, ASCII only, one short clause per reasoning step.

>>> from course_lib.data.tasks import make_problems
>>> p = make_problems("arith", 1, seed=0)[0]
>>> p.prompt, p.chain, p.answer   # doctest: +SKIP
('Ann has 53 pens. She gives away 42. She gets 3. How many now?', '53-42=11. 11+3=14.', '14')

Same ``(task, n, seed, split, knobs)`` gives the same problems, with ids
``lab/<task>/<split>/<seed>/<i>`` (a knob digest is added after the split when knobs differ from the
defaults). ``split="train"`` and ``split="test"`` never share a prompt, whatever the seeds: the split is a
hash of the prompt (see :mod:`course_lib.data.tasks.base`). Within one call prompts are distinct
unless the task has fewer distinct prompts than requested (then repeats are allowed).
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
from collections.abc import Iterable
from typing import Any

from course_lib.data.schema import Problem
from course_lib.data.tasks import code, general, logic, math
from course_lib.data.tasks.base import KNOB_NAMES, SPLITS, Knobs, TaskSpec, make_knobs, split_of
from course_lib.data.tasks.verify import verify

ALL_KNOBS = KNOB_NAMES
NO_NUMBERS = ("n_steps", "n_distractors", "pool")
BASE_DEFAULTS: dict[str, Any] = {"n_steps": (2, 3), "max_operand": 99, "n_distractors": 0, "pool": "train"}


def _spec(name, domain, description, fn, mimics, knobs=ALL_KNOBS, **defaults) -> TaskSpec:
    return TaskSpec(name, domain, description, fn, {**BASE_DEFAULTS, **defaults}, tuple(knobs), mimics)


LAB_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        _spec("arith", "math", "multi-step +/- word problem", math.arith, "GSM8K"),
        _spec("linear", "math", "solve a linear equation step by step", math.linear, "MATH"),
        _spec("trace", "code", "trace a tiny program; answer what it prints", code.trace, "HumanEval/MBPP"),
        _spec("write_fn", "code", "write a one-line function from a recipe", code.write_fn, "HumanEval/MBPP"),
        _spec("order", "logic", "order a race from pairwise results (A-D)", logic.order, "ARC/LogiQA", NO_NUMBERS),
        _spec("deduce", "logic", "follow category rules to yes/no", logic.deduce, "LogiQA", NO_NUMBERS),
        _spec("boolean", "general", "evaluate a boolean expression", general.boolean, "BBH boolean_expressions",
              NO_NUMBERS),
        _spec("dyck", "general", "close the open brackets", general.dyck, "BBH dyck_languages", NO_NUMBERS),
        _spec("sort_words", "general", "sort words alphabetically", general.sort_words, "BBH word_sorting",
              NO_NUMBERS, n_steps=(3, 4)),
        _spec("dates", "general", "add days to a date", general.dates, "BBH date_understanding",
              NO_NUMBERS),
        _spec("count_objects", "general", "count the items of one category", general.count_objects,
              "BBH object_counting", max_operand=9),
    )
}

MAX_ATTEMPTS_PER_PROBLEM = 1000
DISTINCT_RETRIES = 30


def get_task(task: str) -> TaskSpec:
    """The spec of a lab task. Raises ValueError naming the valid tasks."""
    if task not in LAB_TASKS:
        raise ValueError(f"unknown lab task {task!r}; valid tasks: {sorted(LAB_TASKS)}")
    return LAB_TASKS[task]


def _digest(knobs: Knobs) -> str:
    return hashlib.sha256(json.dumps(knobs.as_dict(), sort_keys=True).encode()).hexdigest()[:8]


def generate(spec: TaskSpec, knobs: Knobs, n: int, seed: int, split: str, tag: str,
             extra_metadata: dict[str, Any] | None = None) -> list[Problem]:
    """Draw ``n`` problems of ``spec`` whose prompts fall in ``split``; ids are ``lab/<task>/<tag>/<seed>/<i>``.

    Raises:
        ValueError: ``n < 0``, an unknown split, or a task/knob setting with too few prompts in the split.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int; got {n!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    rng = random.Random(f"{spec.name}|{split}|{seed}|{_digest(knobs)}")
    knob_record = {k: v for k, v in knobs.as_dict().items() if k in spec.knobs}
    problems: list[Problem] = []
    seen: set[str] = set()
    for i in range(n):
        sample, repeats = None, 0
        for _ in range(MAX_ATTEMPTS_PER_PROBLEM):
            candidate = spec.generate(rng, knobs)
            if split_of(spec.name, candidate.prompt) != split:
                continue
            sample = candidate
            if candidate.prompt not in seen or repeats >= DISTINCT_RETRIES:
                break
            repeats += 1
        if sample is None:
            raise ValueError(
                f"task {spec.name!r} with knobs {knob_record} yielded no {split!r} prompt in "
                f"{MAX_ATTEMPTS_PER_PROBLEM} draws; widen n_steps or max_operand"
            )
        seen.add(sample.prompt)
        meta = {**sample.metadata, "task": spec.name, "split": split, "knobs": knob_record, **(extra_metadata or {})}
        problems.append(
            Problem(
                id=f"lab/{spec.name}/{tag}/{seed}/{i}",
                source=f"lab/{spec.name}",
                domain=spec.domain,
                prompt=sample.prompt,
                answer=sample.answer,
                answer_type=sample.answer_type,
                chain=sample.chain,
                difficulty=sample.steps,
                metadata=meta,
            )
        )
    return problems


def make_problems(task: str, n: int, seed: int = 0, split: str = "train", **knobs: Any) -> list[Problem]:
    """``n`` problems of one lab task.

    Args:
        task: a key of :data:`LAB_TASKS`.
        n: number of problems (>= 0).
        seed: any int; same arguments, same problems.
        split: ``"train"`` or ``"test"`` (disjoint prompt sets, see the module docstring).
        **knobs: overrides of the task's default knobs (``n_steps``, ``max_operand``, ``n_distractors``,
            ``pool``); a knob the task does not use is a ValueError.

    Returns:
        Problems with ``source="lab/<task>"``, a reference ``chain``, ``difficulty`` = reasoning steps and
        ``metadata`` holding ``task``, ``split``, ``knobs`` and the task's extras.
    """
    spec = get_task(task)
    values = make_knobs(spec, knobs)
    default = make_knobs(spec, {})
    tag = split if values == default else f"{split}-{_digest(values)}"
    return generate(spec, values, n, seed, split, tag)


def lab_suite(n_per_task: int, seed: int = 0, tasks: Iterable[str] | None = None, split: str = "train",
              **knobs: Any) -> list[Problem]:
    """``n_per_task`` problems of each task (all of :data:`LAB_TASKS` by default), task by task.

    ``knobs`` apply to every task that uses them; a task that does not use a knob (e.g. ``max_operand`` for
    ``dyck``) is generated with its defaults for that knob. Unknown knob names are a ValueError.
    """
    unknown = set(knobs) - set(KNOB_NAMES)
    if unknown:
        raise ValueError(f"unknown knob(s) {sorted(unknown)}; valid knobs: {list(KNOB_NAMES)}")
    names = list(LAB_TASKS) if tasks is None else list(tasks)
    problems: list[Problem] = []
    for name in names:
        spec = get_task(name)
        used = {k: v for k, v in knobs.items() if k in spec.knobs}
        problems += make_problems(name, n_per_task, seed, split, **used)
    return problems


def suite_stats(problems: Iterable[Problem]) -> dict[str, dict[str, float]]:
    """Per source: count and mean/max prompt and chain length in characters, mean difficulty."""
    groups: dict[str, list[Problem]] = {}
    for p in problems:
        groups.setdefault(p.source, []).append(p)
    stats = {}
    for source, ps in groups.items():
        prompts = [len(p.prompt) for p in ps]
        chains = [len(p.chain or "") for p in ps]
        stats[source] = {
            "n": len(ps),
            "prompt_mean": statistics.fmean(prompts),
            "prompt_max": max(prompts),
            "chain_mean": statistics.fmean(chains),
            "chain_max": max(chains),
            "answer_mean": statistics.fmean(len(p.answer) for p in ps),
            "difficulty_mean": statistics.fmean(p.difficulty for p in ps),
        }
    return stats


__all__ = [
    "LAB_TASKS",
    "Knobs",
    "TaskSpec",
    "generate",
    "get_task",
    "lab_suite",
    "make_problems",
    "split_of",
    "suite_stats",
    "verify",
]
