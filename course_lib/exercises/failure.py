"""Exercise of notebook 07: label student errors as capacity-limited or distribution mismatch, by hand.

:func:`failure_cases` gives seven student errors with everything the rule of
:mod:`course_lib.eval.failure` needs; :func:`show_cases` prints them. The learner answers with a dict
``{case_id: (category, subcategory)}`` and :func:`check_failure_labels` compares it with what the
library's :func:`~course_lib.eval.failure.categorise` and :func:`~course_lib.eval.failure.subcategory`
say, printing a hint for the first wrong label.
"""

from __future__ import annotations

from dataclasses import dataclass

from course_lib.data.schema import Problem
from course_lib.eval.failure import CATEGORIES, SUBCATEGORIES, categorise, subcategory

SOLVED_RATE = 0.5
BUDGET = 48


@dataclass(frozen=True)
class ExerciseCase:
    """One student error to label.

    Attributes:
        id: the key to use in your answer dict.
        problem: the problem (prompt, gold answer, reference chain, ``metadata["ood"]`` for OOD families).
        student_text: the student's completion.
        n_tokens: tokens the student generated (its budget is :data:`BUDGET`).
        teacher_solved: whether the teacher (larger, same training data) solved this problem.
        counterpart_accuracy: the student's accuracy on in-distribution problems of the same task and
            steps (None for in-distribution cases); the counterpart counts as solved at >= :data:`SOLVED_RATE`.
    """

    id: str
    problem: Problem
    student_text: str
    n_tokens: int
    teacher_solved: bool
    counterpart_accuracy: float | None

    @property
    def is_ood(self) -> bool:
        return "ood" in self.problem.metadata

    def expected(self) -> tuple[str, str]:
        """The library's labels for this case."""
        c = None if self.counterpart_accuracy is None else self.counterpart_accuracy >= SOLVED_RATE
        category = categorise(self.is_ood, self.teacher_solved, c)
        return category, subcategory(self.problem, self.student_text, self.n_tokens, BUDGET)[0]


def _arith(pid: str, prompt: str, chain: str, answer: str, ood: str | None = None) -> Problem:
    meta = {"ood": ood} if ood else {}
    steps = chain.count("=")
    return Problem(f"ex07/{pid}", "lab/arith", "math", prompt, answer, "numeric", chain, steps, meta)


def failure_cases() -> list[ExerciseCase]:
    """Seven hand-written student errors covering every category and most sub-categories."""
    boolean = Problem("ex07/f", "lab/boolean", "general", "not (True and False) or False is", "True", "exact",
                      "T and F=F. not F=T. T or F=T.", 3)
    return [
        ExerciseCase("a", _arith("a", "Ann has 53 pens. She gives away 42. She gets 3. How many now?",
                                 "53-42=11. 11+3=14.", "14"),
                     "<think>53-42=11. 11+3=15.</think><answer>15</answer>", 30, True, None),
        ExerciseCase("b", _arith("b", "Bob has 9 eggs. He gets 7. He sells 4. He finds 5. He loses 2. How many now?",
                                 "9+7=16. 16-4=12. 12+5=17. 17-2=15.", "15", ood="longer_chains"),
                     "<think>9+7=16. 16-4=12. 12+5=17.</think><answer>17</answer>", 40, False, 0.85),
        ExerciseCase("c", _arith("c", "Max has 40 stamps. He wins 12. He drops 5. How many are left?",
                                 "40+12=52. 52-5=47.", "47", ood="renamed_entities"),
                     "<think>40+21=61. 61-5=56.</think><answer>56</answer>", 34, True, 0.85),
        ExerciseCase("d", _arith("d", "Cal has 88 cards. He gets 9. He loses 35. How many now?",
                                 "88+9=97. 97-35=62.", "62"),
                     "<think>88+9=97. 97-35=62. 62-35=27. 27-35=", BUDGET, False, None),
        ExerciseCase("e", _arith("e", "Dee has 20 beads. It is 5 am. She gets 3. How many now?",
                                 "20+3=23.", "23", ood="distractors"),
                     "<think>20+5=25.</think><answer>25</answer>", 24, True, 0.30),
        ExerciseCase("f", boolean, "<think>T and F=F. not F=T. T or F=F.</think><answer>False</answer>", 40, True, None),
        ExerciseCase("g", _arith("g", "Eve has 31 coins. She finds 6. How many now?", "31+6=37.", "37"),
                     "<think>31+6=37.</think>She finds 6.", 20, True, None),
    ]


def show_cases(cases: list[ExerciseCase] | None = None) -> None:
    """Print every case with what the rule needs to know."""
    for case in cases or failure_cases():
        p = case.problem
        split = f"OOD family {p.metadata['ood']!r}" if case.is_ood else "in-distribution"
        counterpart = "" if case.counterpart_accuracy is None else (
            f"; student accuracy on the matched in-distribution {p.source} problems: {case.counterpart_accuracy:.0%}"
        )
        print(f"--- case {case.id} ({split}; teacher solved it: {case.teacher_solved}{counterpart})")
        print(f"prompt:    {p.prompt}\nreference: {p.chain}  ->  {p.answer}")
        print(f"student:   {case.student_text}   [{case.n_tokens} of {BUDGET} tokens]")


def _category_hint(case: ExerciseCase, expected: str) -> str:
    if not case.is_ood:
        return ("in distribution only the teacher decides: it learned from the same data, so if it solves the "
                f"problem the student lacks capacity; here teacher solved = {case.teacher_solved} -> {expected}.")
    solved = case.counterpart_accuracy >= SOLVED_RATE
    return (f"OOD: first ask whether the student solves the unshifted counterpart ({case.counterpart_accuracy:.0%} "
            f"{'>=' if solved else '<'} {SOLVED_RATE:.0%}), then whether the teacher solves this problem "
            f"({case.teacher_solved}) -> {expected}.")


def check_failure_labels(labels: dict[str, tuple[str, str]]) -> bool:
    """Grade ``{case_id: (category, subcategory)}`` against the library's rule; True when all are right."""
    cases = failure_cases()
    missing = [c.id for c in cases if c.id not in labels]
    if missing:
        print(f"label every case; missing: {missing}")
        return False
    for case in cases:
        got = labels[case.id]
        if not isinstance(got, tuple) or len(got) != 2:
            print(f"[case {case.id}] give a pair (category, subcategory); got {got!r}")
            return False
        category, sub = got
        if category not in CATEGORIES or sub not in SUBCATEGORIES:
            print(f"[case {case.id}] categories are {CATEGORIES}, sub-categories {SUBCATEGORIES}; got {got!r}")
            return False
        want_category, want_sub = case.expected()
        if category != want_category:
            print(f"[case {case.id}] category {category!r} is not what the rule gives. Hint: "
                  f"{_category_hint(case, want_category)}")
            return False
        if sub != want_sub:
            detail = subcategory(case.problem, case.student_text, case.n_tokens, BUDGET)[1]
            print(f"[case {case.id}] sub-category {sub!r} is not the first that applies (the order is "
                  f"{', '.join(SUBCATEGORIES)}). Hint: {detail}.")
            return False
    print(f"Correct: all {len(cases)} cases labelled as the rule does.")
    return True
