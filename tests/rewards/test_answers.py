"""Answer extraction and checking on real-format examples of every source, lab agreement and fuzzing."""

import threading
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_lib.data.schema import ANSWER_TYPES, Problem, format_completion
from course_lib.rewards.answers import (
    check_answer,
    check_answer_raw,
    extract_answer,
    math_equal,
    parse_number,
    resolve_label,
)


def r1(answer: str, chain: str = "some reasoning 12 and 7") -> str:
    return format_completion(chain, answer)


@pytest.mark.parametrize(
    ("text", "answer", "path"),
    [
        ("<think>3+4=7</think><answer>7</answer>", "7", "answer_tag"),
        ("<think>a</think><answer>1</answer> more <answer>2</answer>", "2", "answer_tag"),
        ("<think>3+4=7</think><answer>7", "7", "answer_tag_open"),
        ("We get $x = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", "boxed"),
        ("Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 1,234", "1,234", "hash"),
        ("Let's think. So the answer is (B).", "(B)", "answer_is"),
        ("Final answer: 42", "42", "answer_is"),
        ("I think it is 12, no wait, 15 apples", "15", "last_number"),
        ("<think>12 then 40</think> so 7", "7", "last_number"),
        ("no digits here", None, "none"),
    ],
)
def test_extraction_routes(text, answer, path):
    got = extract_answer(text)
    assert (got.answer, got.path) == (answer, path)


def test_type_specific_fallbacks():
    assert extract_answer("I pick (C) because", "multiple_choice").path == "last_choice"
    assert extract_answer("I pick (C) because", "multiple_choice").answer == "C"
    assert extract_answer("reasoning\nhat kit web\n", "exact").answer == "hat kit web"
    code = extract_answer("Here:\n```python\ndef f(x):\n    return x\n```\n", "code")
    assert (code.answer, code.path) == ("def f(x):\n    return x\n", "code_block")
    assert extract_answer("def f(x): return x", "code").path == "raw_text"


def test_think_numbers_are_not_taken_as_the_answer_when_text_follows():
    assert extract_answer("<think>48 + 24 = 72</think>The total is 96 clips.").answer == "96"


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,234", 1234), ("$18.50", Fraction(37, 2)), ("18 dollars.", 18), ("3/4", Fraction(3, 4)),
     ("\\frac{3}{4}", Fraction(3, 4)), ("-7", -7), ("50%", 50), ("#### 72", 72), ("5 + 3 = 8", 8),
     ("\u22125", -5), ("1/0", None), ("none", None)],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


GSM8K = Problem("gsm8k/test/0", "gsm8k", "math", "How many clips?", "1234", "numeric")


@pytest.mark.parametrize(
    ("completion", "correct", "path"),
    [
        ("Work...\n#### 1,234", True, "hash"),
        (r1("1,234"), True, "answer_tag"),
        (r1("$1,234.00"), True, "answer_tag"),
        (r1("1234 clips."), True, "answer_tag"),
        (r1("1,235"), False, "answer_tag"),
        ("The answer is 1234.", True, "answer_is"),
        ("so she has 1234", True, "last_number"),
        ("<think>1234</think><answer></answer>", False, "answer_tag"),
    ],
)
def test_gsm8k_numeric(completion, correct, path):
    result = check_answer(GSM8K, completion)
    assert (result.correct, result.path) == (correct, path)


@pytest.mark.parametrize(
    ("gold", "completion", "correct"),
    [
        ("\\frac{1}{2}", "So $\\boxed{0.5}$", True),
        ("\\frac{1}{2}", r1("1/2"), True),
        ("\\frac{1}{2}", r1("\\dfrac{1}{2}"), True),
        ("\\frac{1}{2}", r1("0.6"), False),
        ("(3, \\frac{\\pi}{2})", r1("\\left( 3, \\frac{\\pi}{2} \\right)"), True),
        ("x^2+2x+1", r1("(x+1)^2"), True),
        ("x^2+2x+1", r1("(x+2)^2"), False),
        ("[2,5)", r1("[2, 5)"), True),
        ("\\text{Evelyn}", r1("Evelyn"), True),
        ("\\sqrt{2}/2", r1("\\frac{\\sqrt2}{2}"), True),
    ],
)
def test_math500_with_math_verify(gold, completion, correct):
    problem = Problem("math/test/x.json", "math", "math", "?", gold, "math")
    assert check_answer(problem, completion).correct is correct


def test_aime_integers():
    problem = Problem("aime/2024/1", "aime", "math", "?", "33", "numeric")
    assert check_answer(problem, r1("033")).correct
    assert check_answer(problem, "The final answer is $\\boxed{33}$").correct
    assert not check_answer(problem, r1("330")).correct


def _explosive_check(results):
    results.append(math_equal("1", "9^{9^{9^{9}}}"))


def test_math_outside_the_main_thread_is_bounded_without_alarms():
    results = []
    worker = threading.Thread(target=_explosive_check, args=(results,))
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    correct, detail = results[0]
    assert not correct and "without a timeout" in detail
    inside = []
    worker = threading.Thread(target=lambda: inside.append(math_equal("\\frac{1}{2}", "0.5")))
    worker.start()
    worker.join(timeout=30)
    assert inside == [(True, "math-verify")]


def test_math_main_thread_uses_math_verify_timeouts():
    correct, detail = math_equal("1", "9^{9^{9^{9}}}")
    assert not correct and detail == "math-verify"


ARC = {"choices": ["dry palms", "wet palms", "palms covered with oil", "palms covered with lotion"],
       "labels": ["A", "B", "C", "D"], "original_labels": ["1", "2", "3", "4"]}


@pytest.mark.parametrize(
    ("completion", "correct"),
    [
        (r1("A"), True), (r1("(A)"), True), (r1("a."), True), (r1("Option A"), True), (r1("A) dry palms"), True),
        (r1("dry palms"), True), ("The answer is (A).", True), ("I choose (A) here", True),
        (r1("1"), True), (r1("2"), False), (r1("B"), False), (r1("wet palms"), False), (r1("E"), False),
        (r1("I am not sure"), False),
    ],
)
def test_arc_letters_and_original_digit_labels(completion, correct):
    problem = Problem("arc/Mercury_1", "arc", "logic", "Which?", "A", "multiple_choice", metadata=ARC)
    assert check_answer(problem, completion).correct is correct


def test_digit_labels_accept_letters_by_position():
    meta = {"choices": ["red", "green", "blue", "grey"], "labels": ["1", "2", "3", "4"]}
    assert check_answer_raw("multiple_choice", "3", r1("C"), meta).correct
    assert check_answer_raw("multiple_choice", "3", r1("3"), meta).correct
    assert check_answer_raw("multiple_choice", "3", r1("blue"), meta).correct
    assert not check_answer_raw("multiple_choice", "3", r1("B"), meta).correct


def test_logiqa_index_mapped_to_letter_and_json_metadata():
    meta = '{"choices": ["All birds fly.", "Some cats bark.", "No fish swim.", "Every dog runs."], ' \
           '"labels": ["A", "B", "C", "D"]}'
    assert check_answer_raw("multiple_choice", "C", r1("C"), meta).correct
    assert check_answer_raw("multiple_choice", "C", r1("No fish swim."), meta).correct
    assert not check_answer_raw("multiple_choice", "C", r1("D"), meta).correct


def test_resolve_label_refuses_ambiguous_text():
    assert resolve_label("Bob and Bobby", ["A", "B"], ["Bob", "Bobby"]) is None
    assert resolve_label("Bobby won", ["A", "B"], ["Bob", "Bobby"]) == "B"


@pytest.mark.parametrize(
    ("gold", "completion", "correct"),
    [
        ("(A)", "Let's think step by step. So the answer is (A).", True),
        ("(A)", r1("A"), True),
        ("(A)", r1("(B)"), False),
        ("True", r1("True"), True),
        ("True", "So the answer is True.", True),
        ("True", r1("False"), False),
        ("valid", r1("invalid"), False),
        ("Yes", r1("yes"), True),
        ("] ]", r1("] ]"), True),
        ("] ]", r1("]]"), True),
        ("] ]", r1("] ) ]"), False),
        ("apple banana cherry", r1("apple  banana cherry."), True),
        ("apple banana cherry", r1("banana apple cherry"), False),
        ("-42", "So the answer is -42.", True),
        ("12", r1("12 objects"), True),
    ],
)
def test_bbh_exact_targets(gold, completion, correct):
    assert check_answer_raw("exact", gold, completion).correct is correct


def test_every_project_sample_gold_passes_its_own_checker():
    from course_lib.data.sources import SOURCES, load_sample

    problems = [p for name in SOURCES for p in load_sample(name).problems]
    assert len({p.source for p in problems}) == 8
    failures = [(p.id, r.detail) for p in problems if not (r := check_answer(p, r1(p.answer))).correct]
    assert failures == []


def test_lab_gold_answers_pass_and_wrong_answers_fail():
    from course_lib.data.tasks import LAB_TASKS, make_problems

    for task in LAB_TASKS:
        for problem in make_problems(task, 4, seed=3):
            good = check_answer(problem, format_completion(problem.chain, problem.answer))
            assert good.correct, (problem.id, good)
            wrong = "def f(x): return None" if problem.answer_type == "code" else problem.answer + "9"
            if problem.answer_type == "multiple_choice":
                wrong = next(label for label in problem.metadata["labels"] if label != problem.answer)
            assert not check_answer(problem, format_completion(problem.chain, wrong)).correct, problem.id


def test_unknown_answer_type_and_missing_metadata_do_not_raise():
    assert check_answer_raw("essay", "x", r1("x")).detail == "unknown answer_type 'essay'"
    assert not check_answer_raw("code", "", r1("print(1)")).correct
    assert check_answer_raw("multiple_choice", "Z", r1("A"), {"labels": ["A"]}).detail.startswith("gold answer")


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", "\\boxed{", "}", "{", "####",
                              "The answer is", "(B)", "1,234", "\\frac{1}{2}", "$", "%", " ", "\n", "x^{9^{9}}",
                              "```python\n", "```", "é", "\x00"]), max_size=30).map("".join),
)


@FUZZ
@given(text=TEXT, answer_type=st.sampled_from([None, *ANSWER_TYPES]))
def test_fuzz_extraction_never_raises(text, answer_type):
    got = extract_answer(text, answer_type)
    assert got.answer is None or isinstance(got.answer, str)
    assert isinstance(got.path, str)


@FUZZ
@given(text=TEXT, gold=TEXT, answer_type=st.sampled_from(["numeric", "math", "multiple_choice", "exact"]),
       metadata=st.one_of(st.none(), st.text(max_size=20), st.just({"choices": ["a", "b"], "labels": ["A", "B"]})))
def test_fuzz_checking_never_raises(text, gold, answer_type, metadata):
    result = check_answer_raw(answer_type, gold, text, metadata)
    assert isinstance(result.correct, bool)


@settings(max_examples=8, deadline=None)
@given(text=TEXT)
def test_fuzz_code_checking_never_raises(text):
    meta = {"tests": "assert f(1) == 2", "entry_point": "f"}
    assert check_answer_raw("code", "", text, meta).correct is False
