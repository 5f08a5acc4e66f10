"""The notebook-06 exercise: the reference solution passes, typical mistakes fail with a useful hint."""

import runpy
from pathlib import Path
from types import SimpleNamespace

from course_lib.exercises.deploy import check_cheapest_threshold

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "06_deployment_routing.py"


def load_solution():
    module = SimpleNamespace(**runpy.run_path(str(SOLUTION)))  # run_name is not "__main__"
    return module


def test_reference_solution_passes(capsys):
    assert check_cheapest_threshold(load_solution().cheapest_threshold) is True
    assert "Correct" in capsys.readouterr().out


def test_most_accurate_point_fails_with_hint(capsys):
    def most_accurate(points, target):
        best = max(points, key=lambda p: p.accuracy)
        return best.threshold if best.accuracy >= target else None

    assert check_cheapest_threshold(most_accurate) is False
    assert "cheapest one that is accurate enough" in capsys.readouterr().out


def test_ignoring_the_target_and_never_none_fail(capsys):
    assert check_cheapest_threshold(lambda points, target: min(points, key=lambda p: p.cost).threshold) is False
    assert "misses the target" in capsys.readouterr().out

    def never_none(points, target):
        good = [p for p in points if p.accuracy >= target] or list(points)
        return min(good, key=lambda p: p.cost).threshold

    assert check_cheapest_threshold(never_none) is False
    assert "return None" in capsys.readouterr().out


def test_crashing_or_made_up_threshold_is_reported(capsys):
    assert check_cheapest_threshold(lambda points, target: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert check_cheapest_threshold(lambda points, target: 0.123456) is False
    assert "not the threshold of any point" in capsys.readouterr().out
