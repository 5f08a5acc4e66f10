"""Out-of-distribution splits made by the same generators as training data, with one knob turned.

Each family changes exactly one knob of a task's defaults (see ``course_lib.data.tasks.base``):

============== ============== ====================================================================
family         knob           value
============== ============== ====================================================================
longer_chains  n_steps        ``(hi + 1, hi + 2)`` where ``hi`` is the default maximum (2-3 -> 4-5)
bigger_numbers max_operand    ``10 * (default + 1) - 1`` (99 -> 999: one more digit)
distractors    n_distractors  2 irrelevant clauses (training uses 0)
renamed_entities pool         ``"heldout"``: names, objects and wordings never used in training
============== ============== ====================================================================

OOD problems are drawn from the ``"test"`` split, so they never equal a training prompt even when
someone trains with the same knobs; their ids are ``lab/<task>/ood-<family>/<seed>/<i>`` and
``metadata["ood"]`` names the family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from course_lib.data.schema import Problem
from course_lib.data.tasks import LAB_TASKS, generate, get_task
from course_lib.data.tasks.base import TaskSpec, make_knobs


def _longer(spec: TaskSpec) -> dict[str, Any]:
    hi = make_knobs(spec, {}).n_steps[1]
    return {"n_steps": (hi + 1, hi + 2)}


def _bigger(spec: TaskSpec) -> dict[str, Any]:
    return {"max_operand": 10 * (spec.defaults["max_operand"] + 1) - 1}


OOD_FAMILIES: dict[str, tuple[str, Callable[[TaskSpec], dict[str, Any]]]] = {
    "longer_chains": ("n_steps", _longer),
    "bigger_numbers": ("max_operand", _bigger),
    "distractors": ("n_distractors", lambda spec: {"n_distractors": 2}),
    "renamed_entities": ("pool", lambda spec: {"pool": "heldout"}),
}


def families_for(task: str) -> list[str]:
    """The OOD families that apply to ``task`` (``bigger_numbers`` needs a task with numbers)."""
    spec = get_task(task)
    return [name for name, (knob, _) in OOD_FAMILIES.items() if knob in spec.knobs]


def ood_knobs(task: str, family: str) -> dict[str, Any]:
    """The knob overrides that family ``family`` applies to ``task``.

    Raises:
        ValueError: unknown family, or a family that does not apply to the task.
    """
    spec = get_task(task)
    if family not in OOD_FAMILIES:
        raise ValueError(f"unknown OOD family {family!r}; valid families: {list(OOD_FAMILIES)}")
    if family not in families_for(task):
        raise ValueError(f"OOD family {family!r} does not apply to task {task!r}; it has {families_for(task)}")
    return OOD_FAMILIES[family][1](spec)


def ood_problems(task: str, family: str, n: int, seed: int = 0) -> list[Problem]:
    """``n`` problems of ``task`` with family ``family``'s knob turned (deterministic by seed)."""
    spec = get_task(task)
    knobs = make_knobs(spec, ood_knobs(task, family))
    return generate(spec, knobs, n, seed, "test", f"ood-{family}", {"ood": family})


def ood_suite(n_per_task: int, seed: int = 0, families: Iterable[str] | None = None,
              tasks: Iterable[str] | None = None) -> dict[str, list[Problem]]:
    """Family name -> problems of every task the family applies to (``n_per_task`` each)."""
    names = list(OOD_FAMILIES) if families is None else list(families)
    unknown = [f for f in names if f not in OOD_FAMILIES]
    if unknown:
        raise ValueError(f"unknown OOD famil(ies) {unknown}; valid families: {list(OOD_FAMILIES)}")
    chosen = list(LAB_TASKS) if tasks is None else list(tasks)
    return {
        family: [p for task in chosen if family in families_for(task) for p in ood_problems(task, family, n_per_task, seed)]
        for family in names
    }
