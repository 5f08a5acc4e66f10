"""The notebook-01 exercise: the reference solution passes, plausible wrong answers fail with a hint."""

import runpy
from pathlib import Path
from types import SimpleNamespace

from course_lib.exercises.distill import check_pick_chain

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "01_why_distillation_is_hard.py"


def _solution():
    module = SimpleNamespace(**runpy.run_path(str(SOLUTION)))  # run_name is not "__main__"
    return module.pick_chain


def test_reference_solution_passes(capsys):
    assert check_pick_chain(_solution())
    assert "✓" in capsys.readouterr().out


def _mean(c):
    return c.mean_logprob


def test_wrong_rules_fail_with_a_hint(capsys):
    by_sum = lambda chains: max((c for c in chains if c.correct and c.chain), key=lambda c: sum(c.logprobs), default=None)
    unverified = lambda chains: max(chains, key=_mean, default=None)
    ignores_think = lambda chains: max((c for c in chains if c.correct), key=_mean, default=None)
    for wrong, hint in ((by_sum, "not the sum"), (unverified, "nothing to distil"), (ignores_think, "<think>")):
        assert not check_pick_chain(wrong)
        assert hint in capsys.readouterr().out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    assert not check_pick_chain(lambda chains: max((c for c in chains if c.correct and c.chain), key=_mean))
    assert "raised ValueError" in capsys.readouterr().out
