"""ReasoningDistillation: the chapter's pipeline runs end to end on the shipped lab teacher and a tiny student."""

import pytest

from course_lib.data.tasks import lab_suite
from course_lib.distill.pipeline import ReasoningDistillation, accuracy_by, reward_scorer
from course_lib.models.lab import load_lab_teacher
from course_lib.models.tiny import build_tiny_model
from course_lib.rewards.rewards import accuracy_reward


def test_distill_then_evaluate_runs_the_chapter_pipeline():
    teacher = load_lab_teacher()
    student = build_tiny_model("tiny-250k", seed=0)
    problems = lab_suite(3, seed=5, tasks=["boolean", "sort_words"])
    pipeline = ReasoningDistillation(teacher, student, accuracy_reward)
    run = pipeline.distill(problems, num_samples=4, sft_steps=3, grpo_steps=1, progress=False,
                           grpo_config={"max_completion_length": 16})
    kept = run.distillation_set.problems
    assert kept and all(p.chain for p in kept)
    assert all(accuracy_reward([f"<think>{p.chain}</think><answer>{p.answer}</answer>"], answer=[p.answer],
                               answer_type=[p.answer_type], metadata=[p.metadata])[0] == 1.0 for p in kept)
    assert run.sft.curve("loss")[1] and run.grpo.curve("reward")[1]
    report = pipeline.evaluate_distillation(problems[:4], max_new_tokens=48, progress=False)
    assert set(report) == {"agreement", "teacher_accuracy", "student_accuracy"}
    assert report["teacher_accuracy"]["all"]["n"] == 4
    assert 0.0 <= report["agreement"]["all"]["value"] <= 1.0


def test_reward_scorer_and_accuracy_by():
    problem = lab_suite(1, seed=0, tasks=["arith"])[0]
    score = reward_scorer(accuracy_reward)
    assert score(problem, f"<think>x</think><answer>{problem.answer}</answer>") == (True, problem.answer)
    assert score(problem, "<answer>-1</answer>")[0] is False
    problems = lab_suite(2, seed=0, tasks=["arith", "boolean"])
    table = accuracy_by(problems, [True, True, False, True])
    assert table["math"]["value"] == 1.0 and table["general"]["value"] == 0.5 and table["all"]["n"] == 4
    assert list(table)[-1] == "all"
    with pytest.raises(ValueError, match="match one to one"):
        accuracy_by(problems, [True])
