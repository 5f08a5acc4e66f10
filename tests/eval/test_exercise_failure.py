"""The notebook-07 exercise: the reference labels pass, typical mistakes fail with the right hint."""

import runpy
from pathlib import Path
from types import SimpleNamespace

from course_lib.exercises.failure import check_failure_labels, failure_cases, show_cases

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "07_exercise_failure_modes.py"


def labels():
    module = SimpleNamespace(**runpy.run_path(str(SOLUTION)))  # run_name is not "__main__"
    return dict(module.LABELS)


def test_reference_labels_pass_and_cover_every_category(capsys):
    assert check_failure_labels(labels()) is True
    assert "Correct" in capsys.readouterr().out
    assert {c for c, _ in labels().values()} == {"capacity", "distribution_mismatch", "both", "unclear"}


def test_calling_every_ood_error_a_mismatch_fails_with_counterpart_hint(capsys):
    wrong = labels() | {"e": ("distribution_mismatch", "wrong_final_step")}
    assert check_failure_labels(wrong) is False
    assert "unshifted counterpart (30% < 50%)" in capsys.readouterr().out


def test_wrong_subcategory_order_fails_with_detail(capsys):
    wrong = labels() | {"d": ("unclear", "wrong_final_step")}
    assert check_failure_labels(wrong) is False
    assert "no answer within the budget" in capsys.readouterr().out


def test_missing_or_malformed_labels_are_reported(capsys):
    assert check_failure_labels({"a": ("capacity", "arithmetic")}) is False
    assert "missing" in capsys.readouterr().out
    assert check_failure_labels(labels() | {"a": "capacity"}) is False
    assert "give a pair" in capsys.readouterr().out
    assert check_failure_labels(labels() | {"a": ("size", "arithmetic")}) is False
    assert "categories are" in capsys.readouterr().out


def test_show_cases_prints_every_case(capsys):
    show_cases()
    out = capsys.readouterr().out
    assert all(f"--- case {c.id}" in out for c in failure_cases())
