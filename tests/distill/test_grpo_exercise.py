"""The notebook-02 exercise: the reference solution passes, plausible wrong answers fail with the right hint."""

import math
import runpy
from pathlib import Path
from types import SimpleNamespace

from course_lib.exercises.grpo import check_group_advantages

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "02_grpo_distillation.py"


def _solution():
    module = SimpleNamespace(**runpy.run_path(str(SOLUTION)))  # run_name is not "__main__"
    return module.group_advantages


def test_reference_solution_passes(capsys):
    assert check_group_advantages(_solution())
    assert "✓" in capsys.readouterr().out


def _grouped(rewards, g, ddof=1, eps=1e-4):
    out = []
    for start in range(0, len(rewards), g):
        group = rewards[start : start + g]
        mean = sum(group) / g
        var = sum((r - mean) ** 2 for r in group) / (g - ddof)
        out += [(r - mean) / (math.sqrt(var) + eps) if eps or var else float("nan") for r in group]
    return out


def test_wrong_answers_fail_with_their_hint(capsys):
    def whole_batch(rewards, g):
        return _grouped(rewards, len(rewards))

    def centred_only(rewards, g):
        return [r - sum(rewards[i // g * g : i // g * g + g]) / g for i, r in enumerate(rewards)]

    cases = (
        (lambda r, g: _grouped(r, g, ddof=0), "Bessel"),
        (whole_batch, "its own group"),
        (lambda r, g: _grouped(r, g, eps=0.0), "add 1e-4"),
        (centred_only, "divide by the group's standard deviation"),
    )
    for wrong, hint in cases:
        assert not check_group_advantages(wrong)
        assert hint in capsys.readouterr().out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    assert not check_group_advantages(lambda rewards, g: 1 / 0)
    assert "raised ZeroDivisionError" in capsys.readouterr().out
