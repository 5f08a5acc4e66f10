"""Shipped lab checkpoints: they load, are small, carry complete cards, and still reach their recorded accuracy."""

import pytest

from course_lib.distill import lab_models
from course_lib.distill.lab_models import (
    EVAL_SEED,
    LAB_MAX_NEW_TOKENS,
    RECIPES,
    bare_steps,
    eval_problems,
    pretraining_batches,
    reference_batches,
)
from course_lib.distill.pipeline import greedy_answers
from course_lib.models import lab
from course_lib.models.lab import (
    STUDENTS,
    TEACHER,
    lab_accuracy,
    lab_card,
    load_lab_student,
    load_lab_teacher,
    models_dir,
)

SHIPPED = [TEACHER, *(STUDENTS[k] for k in ("base", "chain", "answer", "grpo"))]
PER_TASK = 3  # 33 problems: a prefix of the cards' test set (same seed)


@pytest.mark.parametrize("name", SHIPPED)
def test_checkpoint_is_small_and_its_card_is_complete(name):
    folder = models_dir() / name
    assert (folder / "model.safetensors").stat().st_size < 10e6
    card = lab_card(name)
    for key in ("command", "environment", "train_wall_time_s", "parameters", "recipe", "accuracy"):
        assert key in card, key
    assert card["command"].startswith("python -m course_lib.distill.lab_models train --which")
    domains = lab_accuracy(name)
    assert {"math", "code", "logic", "general", "all"} <= set(domains)
    assert all(e["low"] <= e["value"] <= e["high"] for e in domains.values())


@pytest.mark.parametrize("kind", ["teacher", "base", "chain", "answer", "grpo"])
def test_shipped_models_reach_their_recorded_accuracy(kind):
    model, tok = load_lab_teacher() if kind == "teacher" else load_lab_student(kind)
    recorded = lab_accuracy(kind if kind != "teacher" else TEACHER)["all"]["value"]
    problems = eval_problems(PER_TASK, EVAL_SEED)
    ok = [c.correct for c in greedy_answers(model, tok, problems, max_new_tokens=LAB_MAX_NEW_TOKENS, progress=False)]
    measured = sum(ok) / len(ok)
    assert measured >= recorded - 0.2, (kind, measured, recorded)


def test_recorded_accuracies_tell_the_lab_story():
    teacher = lab_accuracy(TEACHER)["all"]["value"]
    assert 0.5 <= teacher < 1.0  # good but imperfect: its chains need checking
    assert all(lab_accuracy(kind)["all"]["value"] < teacher for kind in STUDENTS)
    chain, answer = lab_accuracy("chain"), lab_accuracy("answer")
    assert chain["code"]["low"] > answer["code"]["high"]  # chains teach write_fn; answers alone do not
    assert chain["all"]["value"] > answer["all"]["value"]


def test_unknown_names_fail_clearly(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="unknown lab student kind 'large'"):
        load_lab_student("large")
    with pytest.raises(ValueError, match="split must be one of"):
        lab_accuracy(TEACHER, split="train")
    monkeypatch.setenv(lab.MODELS_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train --which teacher"):
        load_lab_teacher()
    with pytest.raises(FileNotFoundError, match="no model card"):
        lab_card("chain")
    with pytest.raises(ValueError, match="unknown recipe"):
        lab_models.train_recipe("huge")
    assert set(RECIPES) == {"teacher-stage0", "teacher-stage1", "teacher", "base-stage1", "base", "chain", "answer", "grpo"}


def test_training_data_is_seeded_and_pretraining_has_no_chain_format():
    assert bare_steps("40-10=30. 30-24=6.") == ["40-10=30.", "30-24=6."]
    pre = pretraining_batches(seed=1, batch_size=8)
    assert pre(3) == pre(3) and pre(3) != pre(4)
    assert all(prompt == "" and "<think>" not in text and "<answer>" not in text for prompt, text in pre(3))
    ref = reference_batches(seed=2, batch_size=8)
    assert ref(5) == ref(5) and len(ref(5)) == 8
    assert all(p.endswith("\n") and c.startswith("<think>") and c.endswith("</answer>") for p, c in ref(5))
