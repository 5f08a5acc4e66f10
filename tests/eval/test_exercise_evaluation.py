"""The notebook-05 exercise: the reference solution passes, typical mistakes fail with the right hint."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from course_lib.exercises.evaluation import check_ece

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "05_evaluating_distilled_models.py"


def load_solution():
    module = SimpleNamespace(**runpy.run_path(str(SOLUTION)))  # run_name is not "__main__"
    return module


def test_reference_solution_passes(capsys):
    assert check_ece(load_solution().ece) is True
    assert "Correct" in capsys.readouterr().out


def test_unweighted_bins_fail_with_weighting_hint(capsys):
    def unweighted(conf, correct, n_bins):
        gaps = []
        for b in range(n_bins):
            m = (conf > b / n_bins) & (conf <= (b + 1) / n_bins) if b else conf <= 1 / n_bins
            if m.any():
                gaps.append(abs(correct[m].mean() - conf[m].mean()))
        return float(np.mean(gaps))

    assert check_ece(unweighted) is False
    assert "weight each bin" in capsys.readouterr().out


def test_left_closed_bins_fail_on_edges(capsys):
    def left_closed(conf, correct, n_bins):
        bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
        return sum(
            (bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in range(n_bins)
            if (bins == b).any()
        )

    assert check_ece(left_closed) is False
    assert "closed on the right" in capsys.readouterr().out


def test_stub_and_crash_are_reported(capsys):
    assert check_ece(lambda c, y, n: None) is False
    assert "return one float" in capsys.readouterr().out
    assert check_ece(lambda c, y, n: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
