"""Failure-mode analysis: the capacity / distribution rule on hand-built cases, each chain detector on hand-written chains."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data.schema import Problem
from course_lib.eval.failure import (
    Outcome,
    analyse_failures,
    categorise,
    counterpart_solved,
    error_rate_by_steps,
    failure_table,
    find_equations,
    subcategory,
    ungrounded_operands,
)

PROMPT = "Ann has 53 pens. She gives away 42. She gets 3. She loses 1. How many now?"
REF_CHAIN = "53-42=11. 11+3=14. 14-1=13."


def arith(pid="p", prompt=PROMPT, chain=REF_CHAIN, answer="13", steps=3, ood=None):
    meta = {"ood": ood} if ood else {}
    return Problem(pid, "lab/arith", "math", prompt, answer, "numeric", chain, steps, meta)


def done(chain, answer):
    return f"<think>{chain}</think><answer>{answer}</answer>"


@pytest.mark.parametrize(
    "is_ood, reference, counterpart, expected",
    [
        (False, True, None, "capacity"),
        (False, False, None, "unclear"),
        (False, True, True, "capacity"),  # C is ignored in distribution
        (True, False, True, "distribution_mismatch"),
        (True, True, True, "both"),
        (True, True, False, "capacity"),
        (True, False, False, "unclear"),
        (True, True, None, "unclear"),
    ],
)
def test_rule_table(is_ood, reference, counterpart, expected):
    assert categorise(is_ood, reference, counterpart) == expected


@pytest.mark.parametrize(
    "text, label, detail",
    [
        ("<think>53-42=11. 11+3=14. 14-1=1", "truncated", "budget"),
        ("<think>53-42=11. 11+3=14.</think> 14", "format", "answer"),
        ("<think>53-42=11.</think><answer></answer>", "format", "answer"),
        (done("53-42=11. 11+3=15. 15-1=14.", "14"), "arithmetic", "11+3=15 is false"),
        (done("53-42=11. 11+7=18. 18-1=17.", "17"), "copying", "operand 7"),
        (done("53-42=11. 11+3=15. 15-7=8.", "8"), "arithmetic", "11+3=15 is false"),  # the first fault wins
        (done("56+3=60. 60-1=59.", "59"), "copying", "operand 56 in 56+3=60"),  # miscopied and miscomputed
        (done("53-42=11. 11+3=14.", "14"), "too_few_steps", "2 steps written, the reference needs 3"),
        (done("53-42=11. 11+3=14. 14+1=15.", "15"), "wrong_final_step", "equation holds"),
        (done("53-42=11. 11+3=14. 14-1=13.", "14"), "wrong_final_step", "equation holds"),
        ("53-42=11. 11+3=14. 14-1=13.</think>\n\nSo the total is \\boxed{12}.", "wrong_final_step", "holds"),
        ("53-42=11. 11+3=14. 14-1=13.</think>\n\nShe has 13 pens and 2 more", "format", "last_number"),
    ],
)
def test_subcategory_detectors_on_hand_written_chains(text, label, detail):
    got, why = subcategory(arith(), text)
    assert got == label
    assert detail in why


def test_truncated_uses_the_token_budget_when_known():
    text = "<think>53-42=11. 11+3=14."  # never closed
    assert subcategory(arith(), text, n_tokens=40, max_new_tokens=40)[0] == "truncated"
    assert subcategory(arith(), text, n_tokens=12, max_new_tokens=40)[0] == "format"


def test_non_arithmetic_chain_is_other():
    p = Problem("b", "lab/boolean", "general", "not True or False is", "False", "exact", "not T=F. F or F=F.", 2)
    assert subcategory(p, done("not T=F. F or F=T.", "True"))[0] == "other"


def test_find_equations_checks_only_whole_numeric_sides():
    eqs = find_equations("2x+3x=5x. 5x=29-4=25. x=25/5=6. Mar 28+9=Mar 37.")
    assert [(e.left, e.right, e.ok) for e in eqs] == [("29-4", "25", True), ("25/5", "6", False)]
    eqs = find_equations("So 3 \\times 4 = 12, then 1,200 ÷ 12 = 100 and 3x + 4 = 29; 5/0=1")
    assert [(e.left, e.right, e.ok) for e in eqs] == [("3 * 4", "12", True), ("1200 / 12", "100", True), ("5/0", "1", False)]


def test_ungrounded_operands_accept_prompt_numbers_and_earlier_results():
    assert ungrounded_operands("53-42=11. 11+3=14. 14-1=13.", PROMPT) == []
    assert ungrounded_operands("53-24=29. 29+3=32.", PROMPT) == ["24"]
    assert ungrounded_operands("2x+3x=5x. 5x=29-4=25. x=25/5=5.", "Solve 2x+3x+4=29.") == []


def _outcome(problem, correct, text=None):
    return Outcome(problem, text or done(problem.chain, problem.answer if correct else "0"), correct)


def test_analyse_failures_applies_the_rule_end_to_end():
    in_dist = [arith(f"id{i}", steps=3) for i in range(4)]
    long_chain = "53-42=11. 11+3=14. 14-1=13. 13+2=15. 15-5=10. 10+1=11."
    longer = arith("long", chain=long_chain, answer="11", steps=6, ood="longer_chains")
    renamed = Problem("r", "lab/trace", "code", "p=1\nprint(p)", "1", "numeric", "", 1, {"ood": "renamed_entities"})
    student = [
        _outcome(in_dist[0], True),
        _outcome(in_dist[1], True),
        _outcome(in_dist[2], True),
        _outcome(in_dist[3], False, done("53-42=11. 11+3=15. 15-1=14.", "14")),
        _outcome(longer, False, done("53-42=11. 11+3=14. 14-1=13.", "13")),
        _outcome(renamed, False, done("", "2")),
    ]
    reference = [_outcome(o.problem, o.problem.id in {"id3"}) for o in student]
    records = {r.problem_id: r for r in analyse_failures(student, reference)}
    assert set(records) == {"id3", "long", "r"}
    assert records["id3"].category == "capacity" and records["id3"].subcategory == "arithmetic"
    assert records["long"].counterpart_solved is True  # 3 of 4 three-step problems solved
    assert records["long"].category == "distribution_mismatch"
    assert records["long"].subcategory == "too_few_steps"
    assert records["r"].counterpart_solved is None and records["r"].category == "unclear"
    table = failure_table(list(records.values()))
    assert table[0]["family"] == "in_distribution" and table[0]["capacity"] == 1 and table[0]["total"] == 1
    assert {row["family"]: row["total"] for row in table} == {"in_distribution": 1, "longer_chains": 1, "renamed_entities": 1}
    by_steps = failure_table(list(records.values()), by="steps", column="subcategory")
    assert [row["steps"] for row in by_steps] == [1, 3, 6]
    assert error_rate_by_steps(student) == {1: (1, 1), 3: (1, 4), 6: (1, 1)}


def test_counterpart_matches_nearest_in_distribution_steps():
    rates = {("lab/arith", 2): 0.9, ("lab/arith", 3): 0.4}
    assert counterpart_solved(arith(steps=2, ood="distractors"), rates) is True
    assert counterpart_solved(arith(steps=7, ood="longer_chains"), rates) is False  # matched to 3 steps
    assert counterpart_solved(arith(steps=1, ood="bigger_numbers"), rates) is True  # smallest above
    assert counterpart_solved(arith(steps=7, ood="longer_chains"), rates, solved_rate=0.4) is True


def test_bad_input_raises_clear_errors():
    p = arith()
    with pytest.raises(ValueError, match="no reference outcome"):
        analyse_failures([_outcome(p, False)], [])
    with pytest.raises(ValueError, match="repeat a problem id"):
        analyse_failures([_outcome(p, False)], [_outcome(p, True), _outcome(p, True)])
    with pytest.raises(ValueError, match="solved_rate"):
        analyse_failures([], [], solved_rate=0)
    with pytest.raises(ValueError, match="column must be"):
        failure_table([], column="family")
    with pytest.raises(ValueError, match="by must be"):
        failure_table([], by="colour")


@settings(max_examples=80, deadline=None)
@given(
    a=st.integers(0, 999),
    b=st.integers(1, 999),
    op=st.sampled_from(["+", "-", "*", "/"]),
    off=st.integers(-3, 3),
    spaces=st.booleans(),
)
def test_find_equations_judges_random_equations(a, b, op, off, spaces):
    value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op]
    shown = round(value, 6) + off
    sep = " " if spaces else ""
    chain = f"First {a}{sep}{op}{sep}{b}{sep}={sep}{shown}. Done."
    (eq,) = find_equations(chain)
    assert eq.ok == (off == 0 and abs(shown - value) < 1e-6 * max(1, abs(value)))


def test_outcomes_from_report_joins_problems_by_id():
    suite = pytest.importorskip("course_lib.eval.suite")
    from course_lib.eval.failure import outcomes_from_report

    p = arith("p1")
    out = suite.ModelOutput(["<answer>13</answer>"], ["13"], [True], [0.9], [0.9], [7], "13", True, 1.0)
    report = suite.EvalReport(config={}, records=[suite.ProblemRecord("p1", p.source, p.domain, 3, "in_distribution", out)])
    (o,) = outcomes_from_report(report, [p])
    assert o.problem is p and o.correct and o.n_tokens == 7 and o.text == "<answer>13</answer>"
    with pytest.raises(ValueError, match="no teacher outputs"):
        outcomes_from_report(report, [p], model="teacher")
    with pytest.raises(ValueError, match="not among the 0 problems"):
        outcomes_from_report(report, [])


def test_plot_failures_draws_one_bar_segment_per_nonzero_count(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.eval.failure import FailureRecord, plot_failures

    recs = [
        FailureRecord("a", "lab/arith", "in_distribution", 2, "capacity", "arithmetic", "", True, None, ""),
        FailureRecord("b", "lab/arith", "longer_chains", 5, "distribution_mismatch", "too_few_steps", "", False, True, ""),
        FailureRecord("c", "lab/arith", "longer_chains", 5, "unclear", "too_few_steps", "", False, False, ""),
    ]
    fig = plot_failures(recs, save=tmp_path / "f.png")
    left, right = fig.axes
    assert sum(p.get_height() for p in left.patches) == 3 and len(left.patches) == 6  # 3 labels x 2 families
    assert sum(p.get_height() for p in right.patches) == pytest.approx(2)  # shares: one per step count
    assert (tmp_path / "f.png").stat().st_size > 0


def test_format_table_aligns_columns():
    from course_lib.eval.failure import format_table

    text = format_table([{"family": "in_distribution", "capacity": 3}, {"family": "distractors", "capacity": 12}])
    lines = text.splitlines()
    assert lines[0].split() == ["family", "capacity"] and set(lines[1]) == {"-", " "}
    assert lines[2].endswith(" 3") and lines[3].endswith("12") and len({len(x) for x in lines}) == 1
    assert format_table([]) == "(no errors)"


def test_reference_chains_of_every_lab_task_pass_the_detectors():
    from course_lib.data.ood import ood_suite
    from course_lib.data.tasks import LAB_TASKS, make_problems

    problems = [p for t in LAB_TASKS for p in make_problems(t, 30, seed=1)]
    problems += [p for family in ood_suite(10, seed=2).values() for p in family]
    checked = 0
    for p in problems:
        equations = find_equations(p.chain)
        checked += len(equations)
        assert all(e.ok for e in equations), (p.prompt, p.chain)
        assert ungrounded_operands(p.chain, p.prompt) == [], (p.prompt, p.chain)
        assert subcategory(p, done(p.chain, p.answer + "0"))[0] in ("wrong_final_step", "other")
    assert checked > 300  # the arithmetic, linear, trace and count tasks give checkable equations
