"""The notebook-03 exercise: the reference solution passes, typical mistakes fail with the right hint."""

import runpy
from pathlib import Path
from types import SimpleNamespace

from course_lib.exercises.data import check_weights_for

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "03_data_composition.py"


def load_solution():
    module = SimpleNamespace(**runpy.run_path(str(SOLUTION)))  # run_name is not "__main__"
    return module


def test_reference_solution_passes(capsys):
    assert check_weights_for(load_solution().weights_for) is True
    assert "Correct" in capsys.readouterr().out


def test_returning_the_targets_fails_with_the_power_hint(capsys):
    assert check_weights_for(lambda target, t: target) is False
    out = capsys.readouterr().out
    assert "T=2" in out and "target shares themselves" in out


def test_applying_the_temperature_fails_with_the_inverse_hint(capsys):
    assert check_weights_for(lambda target, t: {k: v ** (1 / t) for k, v in target.items()}) is False
    assert "inverse power" in capsys.readouterr().out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    assert check_weights_for(lambda target, t: {k: target["maths"] for k in target}) is False
    assert "KeyError" in capsys.readouterr().out


def test_negative_weights_are_reported(capsys):
    assert check_weights_for(lambda target, t: {k: -v for k, v in target.items()}) is False
    assert "non-negative" in capsys.readouterr().out
