"""Behavioural cloning: both targets train, the plain loop resumes bit-identically, bad input fails clearly."""

import pytest
import torch

from course_lib.data.schema import Problem
from course_lib.data.tasks import lab_suite
from course_lib.distill.sft import (
    TrainConfig,
    completion_target,
    encode_pairs,
    epoch_batches,
    problem_pairs,
    sft_distill,
    train_causal_lm,
)
from course_lib.models.tiny import build_tiny_model

TASKS = ["arith", "boolean"]


@pytest.fixture(scope="module")
def problems():
    return lab_suite(24, seed=0, tasks=TASKS)


def test_targets_differ_only_in_the_think_block(problems):
    p = problems[0]
    assert completion_target(p, "answer") == f"<answer>{p.answer}</answer>"
    assert completion_target(p, "chain") == f"<think>{p.chain}</think><answer>{p.answer}</answer>"


def test_encode_pairs_masks_prompt_and_padding():
    _, tok = build_tiny_model("tiny-250k")
    batch = encode_pairs(tok, [("ab\n", "cd"), ("a\n", "bcdef")])
    assert batch["input_ids"].shape == batch["labels"].shape == (2, 8)  # "a\n" + "bcdef" + EOS
    labels = batch["labels"][0].tolist()
    assert labels[:3] == [-100] * 3 and labels[3:6] == tok("cd", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert labels[6:] == [-100, -100] and batch["attention_mask"][0].tolist() == [1] * 6 + [0, 0]


@pytest.mark.parametrize("target", ["answer", "chain"])
def test_sft_trains_both_targets(problems, target):
    model, tok = build_tiny_model("tiny-250k", seed=0)
    record, trainer = sft_distill(model, tok, problems, target, max_steps=24, per_device_train_batch_size=8,
                                  learning_rate=3e-3, warmup_steps=2, progress=False)
    _, losses = record.curve("loss")
    assert len(losses) >= 4
    assert losses[-1] < 0.8 * losses[0], losses
    assert record.config["target"] == target and record.config["n_problems"] == len(problems)
    assert trainer.state.global_step == 24


def test_plain_loop_resume_is_bit_identical(problems, tmp_path):
    config = TrainConfig(max_steps=6, per_device_train_batch_size=4, learning_rate=3e-3, warmup_steps=2,
                         logging_steps=1, save_steps=3)
    batches = epoch_batches(problem_pairs(problems), 4, seed=1)

    straight, tok = build_tiny_model("tiny-250k", seed=0)
    full = train_causal_lm(straight, tok, batches, config, output_dir=tmp_path / "a", progress=False)

    def crash_after_3(step):
        if step > 3:
            raise KeyboardInterrupt("simulated stop")
        return batches(step)

    interrupted, tok = build_tiny_model("tiny-250k", seed=0)
    with pytest.raises(KeyboardInterrupt):
        train_causal_lm(interrupted, tok, crash_after_3, config, output_dir=tmp_path / "b", progress=False)
    resumed_model, tok = build_tiny_model("tiny-250k", seed=5)  # different init: everything comes from the checkpoint
    resumed = train_causal_lm(resumed_model, tok, batches, config, output_dir=tmp_path / "b", resume=True,
                              progress=False)
    assert resumed.curves == full.curves
    for (name, a), b in zip(straight.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), name
    assert full.curve("loss")[1][-1] < full.curve("loss")[1][0]


def test_length_groups_give_the_full_batch_gradient(problems):
    from course_lib.distill.sft import _accumulate

    pairs = problem_pairs(problems[:10])
    grads = []
    for groups in (1, 3):
        model, tok = build_tiny_model("tiny-250k", seed=0)
        loss = _accumulate(model, tok, pairs, TrainConfig(length_groups=groups))
        grads.append((loss, torch.cat([p.grad.flatten() for p in model.parameters()])))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-6, rtol=1e-4)


def test_bad_inputs_fail_clearly(problems):
    no_chain = Problem(id="x", source="lab/x", domain="math", prompt="1+1?", answer="2", answer_type="numeric")
    with pytest.raises(ValueError, match="chain"):
        problem_pairs([no_chain], "chain")
    with pytest.raises(ValueError, match="target"):
        completion_target(problems[0], "rationale")
    with pytest.raises(ValueError, match="max_steps"):
        TrainConfig(max_steps=0)
    with pytest.raises(ValueError, match="multiple of logging_steps"):
        TrainConfig(save_steps=5, logging_steps=2)
    model, tok = build_tiny_model("tiny-250k")
    with pytest.raises(ValueError, match="output_dir"):
        train_causal_lm(model, tok, lambda s: [("a", "b")], TrainConfig(max_steps=1), resume=True)
    with pytest.raises(ValueError, match="at least one"):
        encode_pairs(tok, [])
