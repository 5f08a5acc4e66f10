"""TRL paths: the workbook's rewards drive trl.GRPOTrainer (LoRA trains only adapters), on-policy distillation runs."""

import pytest
import torch

from course_lib.data.tasks import lab_suite
from course_lib.distill.trl_paths import distill_on_policy, grpo_train_trl, prompt_rows
from course_lib.models.hub import lora_config
from course_lib.models.tiny import build_tiny_model


@pytest.fixture(scope="module")
def problems():
    return lab_suite(4, seed=0, tasks=["boolean", "arith"])


def length_reward(completions, **kwargs):
    """A stand-in reward with spread inside each group: longer completions score higher."""
    return [len(c) / 8.0 for c in completions]


def test_lora_grpo_changes_only_adapter_weights(problems):
    model, tok = build_tiny_model("tiny-250k", seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    record, trainer = grpo_train_trl(
        model, tok, problems, reward_funcs=[length_reward], max_steps=2, num_generations=4,
        per_device_train_batch_size=4, max_completion_length=8, learning_rate=1e-2,
        peft_config=lora_config(r=4, lora_alpha=8, lora_dropout=0.0), progress=False,
    )
    peft_model = trainer.model
    state = peft_model.state_dict()
    lora = {k: v for k, v in state.items() if "lora_" in k}
    assert lora and any("lora_A" in k for k in lora)
    assert any(not torch.equal(v, torch.zeros_like(v)) for k, v in lora.items() if "lora_B" in k)  # B starts at 0
    for key, value in state.items():
        if "lora_" in key:
            continue
        base_key = key.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(value, before[base_key]), f"base weight {base_key} changed"
    assert record.curve("reward")[0] and record.config["lora"] is True


def test_grpo_rows_carry_reward_columns(problems):
    rows = prompt_rows(problems)
    assert set(rows.column_names) >= {"prompt", "answer", "answer_type", "metadata"}
    assert rows[0]["prompt"] == problems[0].prompt + "\n"
    chat_rows = prompt_rows(problems, chat=True)
    assert chat_rows[0]["prompt"] == [{"role": "user", "content": problems[0].prompt}]


def test_grpo_bad_configs_fail_at_construction(problems):
    model, tok = build_tiny_model("tiny-250k")
    with pytest.raises(ValueError, match="num_generations must be >= 2"):
        grpo_train_trl(model, tok, problems, reward_funcs=[length_reward], num_generations=1)
    with pytest.raises(ValueError, match="divisible by num_generations"):
        grpo_train_trl(model, tok, problems, reward_funcs=[length_reward], num_generations=4,
                       per_device_train_batch_size=6)
    with pytest.raises(ValueError, match="at least one problem"):
        prompt_rows([])


@pytest.mark.parametrize("method", ["jsd", "gkd"])
def test_on_policy_distillation_trains_the_student(problems, method):
    teacher, tok = build_tiny_model("tiny-250k", seed=1)
    student, _ = build_tiny_model("tiny-250k", seed=2)
    before = [p.detach().clone() for p in student.parameters()]
    record, _ = distill_on_policy(student, teacher, tok, problems, method=method, max_steps=2,
                                  per_device_train_batch_size=4, max_completion_length=8, progress=False)
    assert record.curve("loss")[1]
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters()))
    with pytest.raises(ValueError, match="method"):
        distill_on_policy(student, teacher, tok, problems, method="kl")
    with pytest.raises(ValueError, match="beta"):
        distill_on_policy(student, teacher, tok, problems, beta=1.5)
