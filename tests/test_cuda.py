"""The hub profile's GPU path on a real CUDA device: bitsandbytes 4-bit, LoRA, generation, TRL SFT, GRPO.

Skipped without CUDA (CI has none); on a GPU machine run ``pytest tests/test_cuda.py``. The models are
tiny Llamas built locally, so nothing is downloaded: what is checked is that the code paths a Colab
learner runs (``load_hub_model(..., quant="nf4", lora=True)``, ``generate``, ``sft_distill``,
``GRPOTrainer``) work on CUDA, not how well a real model does.
"""

import math

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from course_lib.models.tiny import build_tiny_model, save_model

    model, tok = build_tiny_model("tiny-1m", seed=0)
    return save_model(model, tok, tmp_path_factory.mktemp("tiny"))


def test_nf4_lora_student_sits_on_the_gpu(tiny_folder):
    import bitsandbytes as bnb

    from course_lib.models import hub

    model, _ = hub.load_hub_model(tiny_folder, quant="nf4", lora=True, device="cuda")
    four_bit = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(four_bit) == 28  # 4 layers × 7 projections
    assert all(m.weight.device.type == "cuda" and m.weight.quant_state.quant_type == "nf4" for m in four_bit)
    share = hub.trainable_parameters(model)
    assert 0 < share.fraction < 0.2  # only the adapters train


def test_greedy_generation_from_4bit_is_repeatable(tiny_folder):
    from course_lib.models import hub
    from course_lib.models.generate import generate

    model, tok = hub.load_hub_model(tiny_folder, quant="nf4", device="cuda")
    runs = [generate(model, tok, ["What is 2+3?\n", "Sort: b a"], max_new_tokens=12, progress=False) for _ in range(2)]
    first = [row[0] for row in runs[0]]
    assert [g.token_ids for g in first] == [row[0].token_ids for row in runs[1]]
    for g in first:
        assert 0 < len(g.token_ids) == len(g.logprobs) <= 12
        assert all(lp <= 1e-4 and math.isfinite(lp) for lp in g.logprobs)


def test_trl_sft_trains_only_the_adapters_of_a_4bit_student(tiny_folder):
    from course_lib.data.tasks import lab_suite
    from course_lib.distill.sft import sft_distill
    from course_lib.models import hub

    model, tok = hub.load_hub_model(tiny_folder, quant="nf4", lora=True, device="cuda")
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    problems = lab_suite(4, seed=0, split="train")
    record, _ = sft_distill(model, tok, problems, "chain", max_steps=40, per_device_train_batch_size=8,
                            learning_rate=3e-3, warmup_steps=2, progress=False)
    loss = [v for _, v in record.curves["loss"]]
    assert all(math.isfinite(v) for v in loss) and loss[-1] < loss[0]
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)


def test_grpo_steps_on_the_gpu(tiny_folder):
    from course_lib.distill.grpo import GRPOConfig, GRPOTrainer
    from course_lib.models import hub

    model, tok = hub.load_hub_model(tiny_folder, device="cuda", dtype=torch.float32)
    before = [p.detach().clone() for p in model.parameters()]

    def short(completions, **_):
        return [1.0 / (1 + len(c)) for c in completions]

    config = GRPOConfig(num_generations=4, per_device_train_batch_size=8, max_completion_length=8, max_steps=2,
                        learning_rate=1e-3)
    trainer = GRPOTrainer(model, short, config, [{"prompt": "What is 2+3?\n"}, {"prompt": "Sort: b a\n"}], tok)
    record = trainer.train()
    assert len(record.curves["loss"]) == 2 and all(math.isfinite(v) for _, v in record.curves["loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_our_nf4_equals_bitsandbytes_on_cuda(tiny_folder):
    from course_lib.models.tiny import load_model
    from course_lib.quant.bnb_compare import loaded_nf4_agreement

    model, tok = load_model(tiny_folder)
    agreement = loaded_nf4_agreement(model.to("cuda"), tok)
    assert agreement["layers"] == 28 and agreement["identical_fraction"] == 1.0
