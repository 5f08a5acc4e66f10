"""Exercise of notebook 02: group-relative advantages, the heart of GRPO.

``check_group_advantages(your_fn)`` calls ``your_fn(rewards, num_generations)`` — ``rewards`` a list of
floats, the ``num_generations`` completions of each prompt consecutive — and compares what it returns with
:func:`course_lib.distill.grpo.group_relative_advantages` (TRL's rule, ``scale_rewards="group"``): each
reward minus its group's mean, divided by its group's Bessel-corrected standard deviation plus 1e-4. It
prints the first mismatch with a hint and returns True only when every case passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from course_lib.distill.grpo import group_relative_advantages

GroupAdvantages = Callable[[list[float], int], Sequence[float]]
TOLERANCE = 1e-4


def _reference(rewards: list[float], num_generations: int) -> list[float]:
    return group_relative_advantages(torch.tensor(rewards, dtype=torch.float64), num_generations).tolist()


def _variant(rewards: list[float], num_generations: int, ddof: int = 1, eps: float = 1e-4) -> list[float]:
    """Per-group advantages with a given std denominator (G - ddof) and epsilon: the common slips."""
    out = []
    for start in range(0, len(rewards), num_generations):
        group = rewards[start : start + num_generations]
        mean = sum(group) / len(group)
        std = math.sqrt(sum((r - mean) ** 2 for r in group) / (len(group) - ddof))
        out += [(r - mean) / (std + eps) if std + eps > 0 else 0.0 for r in group]
    return out


def _batch_statistics(rewards: list[float], num_generations: int) -> list[float]:
    """The answer of someone who centres and scales over the whole batch instead of per group."""
    return _reference(rewards, len(rewards))


def _cases() -> list[tuple[str, list[float], int, str]]:
    """(description, rewards, G, hint when missed)."""
    return [
        ("one group, one correct completion of four", [1.0, 0.0, 0.0, 0.0], 4,
         "subtract the group's mean reward, then divide by the group's standard deviation + 1e-4."),
        ("two groups of four", [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0], 4,
         "compute mean and std separately for each group of num_generations consecutive rewards."),
        ("a group where every completion scored the same", [0.5, 0.5, 0.5, 1.0, 0.0, 0.0], 3,
         "equal rewards carry no signal: the advantage is 0; the + 1e-4 keeps 0/0 from becoming NaN."),
        ("graded rewards, G = 2", [0.2, 0.7, 3.0, -1.0], 2,
         "the std is Bessel-corrected (divide the squared deviations by G - 1, like torch.std)."),
    ]  # fmt: skip


def _hint_for(got: list[float], rewards: list[float], g: int, hint: str) -> str:
    if _close(got, _variant(rewards, g, ddof=0)):
        return "you divided the squared deviations by G; TRL (and torch.std) divide by G - 1 (Bessel's correction)."
    if len(rewards) > g and _close(got, _batch_statistics(rewards, g)):
        return "you used the whole batch's mean and std; GRPO compares each completion with its own group."
    if any(math.isnan(x) for x in got) or _close(got, _variant(rewards, g, eps=0.0)):
        return (
            "add 1e-4 to the standard deviation before dividing (TRL's constant; it also keeps 0/0 from NaN)."
        )
    return hint


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(
        math.isfinite(x) and abs(x - y) <= TOLERANCE * max(1.0, abs(y)) for x, y in zip(a, b)
    )


def check_group_advantages(your_fn: GroupAdvantages) -> bool:
    """Grade ``your_fn(rewards, num_generations) -> advantages``; prints what went wrong and a hint."""
    for description, rewards, g, hint in _cases():
        expected = _reference(rewards, g)
        try:
            got = your_fn(list(rewards), g)
            got = [float(x) for x in (got.tolist() if isinstance(got, torch.Tensor) else got)]
        except Exception as err:  # noqa: BLE001 - a learner's error is reported, not raised
            print(f"✗ {description}: your function raised {type(err).__name__}: {err}\n  hint: {hint}")
            return False
        if not _close(got, expected):
            shown = [round(x, 3) for x in got]
            print(
                f"✗ {description}: rewards {rewards}, G={g}\n  expected {[round(x, 3) for x in expected]}\n"
                f"  got      {shown}\n  hint: {_hint_for(got, rewards, g, hint)}"
            )
            return False
    print(
        f"✓ all {len(_cases())} cases right: your advantages match trl.GRPOTrainer's (scale_rewards='group')."
    )
    return True
