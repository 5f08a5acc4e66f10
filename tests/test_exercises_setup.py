"""The notebook-00 exercise: the reference solution passes, typical mistakes fail with a useful hint."""

import runpy
from pathlib import Path

import pytest

from course_lib.exercises.setup import check_embedding_parameters

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "00_setup_and_tour.py"


def test_reference_solution_passes(capsys):
    solution = runpy.run_path(str(SOLUTION))["embedding_parameters"]  # run_name is not "__main__"
    assert check_embedding_parameters(solution) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong,hint",
    [
        (lambda spec, v: 2 * v * spec.hidden_size, "ties"),
        (lambda spec, v: (v - 4) * spec.hidden_size, "special tokens"),
        (lambda spec, v: 101 * 128, "one row per token"),  # tiny-1m's answer, copied as a constant
        (lambda spec, v: v * spec.intermediate_size, "one row per token"),
    ],
)
def test_typical_mistakes_fail_with_hint(capsys, wrong, hint):
    assert check_embedding_parameters(wrong) is False
    assert hint in capsys.readouterr().out


def test_stub_that_raises_is_reported(capsys):
    def stub(spec, vocab_size):
        raise NotImplementedError

    assert check_embedding_parameters(stub) is False
    assert "raised NotImplementedError" in capsys.readouterr().out
