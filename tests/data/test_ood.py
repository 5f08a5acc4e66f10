"""OOD families: each differs from in-distribution data in exactly its stated knob."""

import re

import pytest

from course_lib.data.ood import OOD_FAMILIES, families_for, ood_knobs, ood_problems, ood_suite
from course_lib.data.tasks import LAB_TASKS, make_problems, verify
from course_lib.data.tasks.base import PEOPLE

N = 40


def numbers(problems):
    return [int(x) for p in problems for x in re.findall(r"\d+", p.prompt)]


@pytest.mark.parametrize("task", sorted(LAB_TASKS))
def test_every_family_changes_only_its_knob_and_answers_still_verify(task):
    base = make_problems(task, N, seed=0)
    base_knobs = base[0].metadata["knobs"]
    for family in families_for(task):
        problems = ood_problems(task, family, N, seed=0)
        knob = OOD_FAMILIES[family][0]
        knobs = problems[0].metadata["knobs"]
        assert {k for k in knobs if knobs[k] != base_knobs[k]} == {knob}
        assert all(p.metadata["ood"] == family and p.id.startswith(f"lab/{task}/ood-{family}/") for p in problems)
        assert all(verify(p, p.answer) for p in problems if p.answer_type != "code")
        assert not {p.prompt for p in problems} & {p.prompt for p in base}


@pytest.mark.parametrize("task", sorted(LAB_TASKS))
def test_longer_chains_have_more_steps_than_any_training_problem(task):
    base = make_problems(task, N, seed=1)
    longer = ood_problems(task, "longer_chains", N, seed=1)
    assert min(p.difficulty for p in longer) > max(p.difficulty for p in base)


def test_bigger_numbers_exceed_the_training_range():
    for task in ("arith", "linear", "trace", "count_objects"):
        top = LAB_TASKS[task].defaults["max_operand"]
        assert max(numbers(make_problems(task, N, seed=2))) <= top
        assert max(numbers(ood_problems(task, "bigger_numbers", N, seed=2))) > top


def test_distractors_add_clauses_the_chain_ignores():
    base = make_problems("arith", N, seed=3)
    noisy = ood_problems("arith", "distractors", N, seed=3)
    assert all(p.prompt.count(".") == len(re.findall(r"[-+]", p.chain)) + 3 for p in noisy)
    assert all(p.prompt.count(".") == len(re.findall(r"[-+]", p.chain)) + 1 for p in base)
    dead = ood_problems("trace", "distractors", N, seed=3)
    assert all(p.prompt.count("\nz=") == 2 and "z" not in p.chain for p in dead)


def test_renamed_entities_use_only_held_out_names():
    renamed = ood_problems("arith", "renamed_entities", N, seed=4)
    assert {p.prompt.split()[0] for p in renamed} <= set(PEOPLE.heldout)
    assert all(p.metadata["knobs"]["pool"] == "heldout" for p in renamed)
    order = ood_problems("order", "renamed_entities", N, seed=4)
    assert not any(name in p.prompt for p in order for name in PEOPLE.train)


def test_ood_is_deterministic_and_suite_covers_applicable_tasks():
    assert ood_problems("dyck", "distractors", 5, seed=9) == ood_problems("dyck", "distractors", 5, seed=9)
    suite = ood_suite(2, seed=0)
    assert set(suite) == set(OOD_FAMILIES)
    assert {p.metadata["task"] for p in suite["bigger_numbers"]} == {
        t for t in LAB_TASKS if "bigger_numbers" in families_for(t)
    }
    assert len(suite["longer_chains"]) == 2 * len(LAB_TASKS)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ood_problems("arith", "harder", 1), "unknown OOD family"),
        (lambda: ood_problems("dyck", "bigger_numbers", 1), "does not apply"),
        (lambda: ood_knobs("nope", "distractors"), "unknown lab task"),
        (lambda: ood_suite(1, families=["harder"]), "unknown OOD famil"),
        (lambda: ood_problems("arith", "distractors", -2), "non-negative"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
