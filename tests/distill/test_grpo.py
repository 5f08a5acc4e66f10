"""GRPO from scratch: config validation, advantages, the loss's pieces, sampling, learning, the run record."""

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.distill.grpo import (
    GRPOConfig,
    GRPOTrainer,
    LlamaSampler,
    _left_pad,
    combine_rewards,
    group_relative_advantages,
    k3_kl,
    nanstd,
    sample_completions,
    teacher_likelihood_reward,
)
from course_lib.models.tiny import build_tiny_model


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_model("tiny-250k", seed=0)


def reward_a(completions, **kwargs):
    """Share of 8 positions holding the character 'a': a random tiny model starts near 0."""
    return [c.count("a") / 8 for c in completions]


# -- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_generations": 1}, "num_generations must be an integer >= 2"),
        (
            {"num_generations": 8, "per_device_train_batch_size": 12},
            "12 completions must be divisible by num_generations=8",
        ),
        (
            {"num_generations": 4, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 3},
            "= 6 completions",
        ),
        ({"loss_type": "ppo"}, "unknown loss_type 'ppo'; choose one of grpo, dr_grpo, dapo"),
        ({"scale_rewards": "std"}, "unknown scale_rewards 'std'"),
        ({"lr_scheduler_type": "cosine"}, "unknown lr_scheduler_type 'cosine'"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"max_steps": 0}, "max_steps must be an integer >= 1"),
        ({"beta": -0.1}, "beta must be >= 0"),
        ({"epsilon_high": 0}, "epsilon_high must be > 0"),
        ({"num_iterations": 1.5}, "num_iterations must be an integer"),
    ],
)
def test_bad_config_fails_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GRPOConfig(**kwargs)


def test_config_keeps_trl_names_and_defaults():
    trl = pytest.importorskip("trl")
    ours = GRPOConfig()
    theirs = trl.GRPOConfig(output_dir="unused", bf16=False)
    differs = {"max_steps"}  # TRL: -1 = "use num_train_epochs"; this trainer counts steps only
    for name, value in ours.to_trl_kwargs().items():
        assert hasattr(theirs, name), name
        if name not in differs:
            assert getattr(theirs, name) == value, name
    assert GRPOConfig(scale_rewards=True).scale_rewards == "group"
    assert GRPOConfig(scale_rewards=False).scale_rewards == "none"
    assert GRPOConfig(epsilon=0.2).resolved_epsilon_high == 0.2
    assert (
        GRPOConfig(
            num_generations=4, per_device_train_batch_size=8, gradient_accumulation_steps=2
        ).prompts_per_step
        == 4
    )


def test_bad_trainer_inputs_fail_clearly(tiny):
    model, tok = tiny
    cfg = GRPOConfig(num_generations=2, per_device_train_batch_size=4, reward_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="reward_weights has 2 entries but there are 1 reward functions"):
        GRPOTrainer(model, reward_a, cfg, [{"prompt": "a"}] * 2, tok)
    cfg = GRPOConfig(num_generations=2, per_device_train_batch_size=4)
    with pytest.raises(TypeError, match="row 1 must be a dict with a string 'prompt'"):
        GRPOTrainer(model, reward_a, cfg, [{"prompt": "a"}, {"question": "b"}], tok)
    with pytest.raises(ValueError, match="train_dataset has 1 prompts but one step needs 2"):
        GRPOTrainer(model, reward_a, cfg, [{"prompt": "a"}], tok)
    with pytest.raises(TypeError, match="reward_funcs must be a callable"):
        GRPOTrainer(model, ["not callable"], cfg, [{"prompt": "a"}] * 2, tok)

    def wrong_length(completions, **kwargs):
        return [1.0]

    trainer = GRPOTrainer(
        model,
        wrong_length,
        GRPOConfig(num_generations=2, per_device_train_batch_size=2, max_completion_length=4),
        [{"prompt": "a"}],
        tok,
    )
    with pytest.raises(ValueError, match="'wrong_length' returned 1 rewards for 2 completions"):
        trainer._generate_and_score_completions([{"prompt": "a"}] * 2)


# -- advantages -----------------------------------------------------------------------------------


def test_advantages_by_hand():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])  # two groups of G=4
    std = math.sqrt(0.25 * 4 / 3 * 0.75)  # Bessel: var = Σ(r-μ)²/(G-1) = 0.75/3
    adv = group_relative_advantages(rewards, 4, "group")
    assert adv[:4].tolist() == pytest.approx([0.75 / (std + 1e-4)] + [-0.25 / (std + 1e-4)] * 3, rel=1e-6)
    assert adv[4:].abs().max() == 0  # equal rewards: no signal
    assert group_relative_advantages(rewards, 4, "none").tolist() == pytest.approx(
        [0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0]
    )
    batch_std = float(rewards.std())
    assert group_relative_advantages(rewards, 4, "batch")[0].item() == pytest.approx(
        0.75 / (batch_std + 1e-4), rel=1e-6
    )
    with pytest.raises(ValueError, match="divisible by num_generations=3"):
        group_relative_advantages(rewards, 3)


def test_none_rewards_follow_trl():
    per_func = torch.tensor([[1.0, float("nan")], [float("nan"), float("nan")], [0.0, 1.0], [0.5, 0.5]])
    rewards = combine_rewards(per_func, torch.tensor([1.0, 2.0]))
    assert rewards[0].item() == 1.0 and rewards[2].item() == 2.0 and rewards[3].item() == 1.5
    assert math.isnan(rewards[1].item())  # unscorable: every function said None
    adv = group_relative_advantages(rewards, 4)
    assert adv[1].item() == 0.0
    assert torch.nanmean(rewards[[0, 2, 3]]).item() == pytest.approx(1.5)  # baseline ignores the NaN row
    assert math.isnan(nanstd(torch.tensor([1.0, float("nan")])).item())  # one value: no std


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=8, max_size=8),
    st.floats(-50, 50, allow_nan=False),
    st.floats(0.1, 10),
)
def test_advantage_properties(values, shift, scale):
    rewards = torch.tensor(values, dtype=torch.float64)
    adv = group_relative_advantages(rewards, 4, "group")
    assert adv.view(2, 4).sum(1).abs().max() < 1e-6  # centred within each group
    shifted = group_relative_advantages(rewards + shift, 4, "group")
    assert (shifted - adv).abs().max() < 1e-5  # a per-prompt offset in the reward changes nothing
    unscaled = group_relative_advantages(rewards, 4, "none")
    assert (group_relative_advantages(rewards * scale, 4, "none") - scale * unscaled).abs().max() < 1e-6
    assert adv.abs().max() <= math.sqrt(3) + 1e-6  # |z| ≤ (G-1)/√G with Bessel's std, G=4


def test_k3_kl_is_nonnegative_and_zero_at_equality():
    logp = torch.log(torch.tensor([0.1, 0.5, 0.9]))
    assert k3_kl(logp, logp).abs().max() == 0
    kl = k3_kl(logp, logp + torch.tensor([0.3, -0.2, 0.05]))
    assert (kl > 0).all()


# -- sampling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("padded", [False, True])
def test_sampler_draws_the_same_tokens_as_generate(tiny, padded):
    model, tok = tiny
    texts = ["Q1: say a\n", "a much longer prompt 12+3=\n", "x\n"] if padded else ["Q1: say a\n"]
    prompt_ids = [tok(t)["input_ids"] for t in texts for _ in range(3)]
    ids, mask = _left_pad(prompt_ids, tok.pad_token_id, "cpu")
    torch.manual_seed(7)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        do_sample=True,
        temperature=0.8,
        top_k=0,
        top_p=1.0,
        max_new_tokens=24,
        eos_token_id=[tok.eos_token_id],
        pad_token_id=tok.pad_token_id,
    )
    expected = []
    for row in out[:, ids.size(1) :].tolist():
        cut = [i for i, t in enumerate(row) if t == tok.eos_token_id]
        expected.append(row[: cut[0] + 1] if cut else row)
    assert LlamaSampler.supports(model)
    torch.manual_seed(7)
    got = sample_completions(
        model,
        prompt_ids,
        max_new_tokens=24,
        temperature=0.8,
        eos_token_ids=[tok.eos_token_id],
        pad_token_id=tok.pad_token_id,
    )
    assert got == expected
    assert any(r[-1] == tok.eos_token_id for r in got) or all(len(r) == 24 for r in got)


def test_sampler_logits_match_the_model(tiny):
    model, tok = tiny
    prompt_ids = [tok("ab\n")["input_ids"], tok("hello there\n")["input_ids"]]
    ids, mask = _left_pad(prompt_ids, tok.pad_token_id, "cpu")
    sampler = LlamaSampler(model)
    shape = (2, sampler.num_kv_heads, ids.size(1), sampler.head_dim)
    cache = [(torch.zeros(shape), torch.zeros(shape)) for _ in sampler.layers]
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    attn = (
        torch.ones(ids.size(1), ids.size(1), dtype=torch.bool).tril() & mask.bool()[:, None, None, :]
    ) | torch.eye(ids.size(1), dtype=torch.bool)
    with torch.no_grad():
        ours = sampler._forward(ids, positions, sampler._rope_table(ids.size(1)), cache, 0, attn)
        theirs = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1]
    assert (ours - theirs).abs().max() < 1e-5


def test_other_architectures_fall_back_to_generate(tiny, monkeypatch):
    model, tok = tiny

    def draw():
        torch.manual_seed(3)
        ids = [tok("ab\n")["input_ids"]] * 2
        kwargs = {"eos_token_ids": [tok.eos_token_id], "pad_token_id": tok.pad_token_id}
        return sample_completions(model, ids, max_new_tokens=6, temperature=1.0, **kwargs)

    fast = draw()
    monkeypatch.setattr(LlamaSampler, "supports", staticmethod(lambda m: False))
    assert draw() == fast and all(1 <= len(r) <= 6 for r in fast)


# -- training -------------------------------------------------------------------------------------


def _run(seed: int, steps: int = 15, **overrides):
    model, tok = build_tiny_model("tiny-250k", seed=seed)
    config = {
        "num_generations": 8,
        "per_device_train_batch_size": 16,
        "max_completion_length": 8,
        "learning_rate": 1e-2,
        "max_steps": steps,
        "lr_scheduler_type": "constant",
        "seed": seed,
        "disable_tqdm": True,
    }
    config.update(overrides)
    rows = [{"prompt": f"{i}:"} for i in range(16)]
    return GRPOTrainer(model, reward_a, GRPOConfig(**config), rows, tok).train()


@pytest.mark.parametrize("seed", [0, 1])
def test_grpo_raises_the_reward_of_a_tiny_model(seed):
    rewards = _run(seed).curve("reward")[1]
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert first < 0.1  # a random model rarely writes 'a'
    assert last > 0.5 and last > first + 0.4, rewards


def test_run_record_is_complete_and_reproducible():
    record = _run(0, steps=3, beta=0.02, gradient_accumulation_steps=2, per_device_train_batch_size=8)
    again = _run(0, steps=3, beta=0.02, gradient_accumulation_steps=2, per_device_train_batch_size=8)
    for key in record.curves:
        if key != "step_time":
            assert record.curve(key) == again.curve(key), key
    for key in (
        "loss",
        "reward",
        "reward_std",
        "rewards/reward_a",
        "kl",
        "clip_ratio",
        "completion_length",
        "grad_norm",
        "learning_rate",
        "step_time",
    ):
        steps, values = record.curve(key)
        assert steps == [1, 2, 3] and all(math.isfinite(v) for v in values), key
    assert record.config["loss_type"] == "dapo" and record.config["beta"] == 0.02 and record.seed == 0
    assert record.wall_time_s > 0 and record.metrics["steps"] == 3
    assert record.curve("kl")[1][0] == pytest.approx(0.0, abs=1e-7)  # the policy starts at the reference
    assert record.curve("learning_rate")[1] == [1e-2] * 3  # constant schedule


def test_lora_policy_uses_its_base_as_reference_and_trains_only_adapters():
    peft = pytest.importorskip("peft")
    model, tok = build_tiny_model("tiny-250k", seed=0)
    base_model = copy.deepcopy(model)
    lora = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    policy = peft.get_peft_model(model, lora)
    frozen = {n: p.detach().clone() for n, p in policy.named_parameters() if not p.requires_grad}
    config = GRPOConfig(
        num_generations=4, per_device_train_batch_size=8, max_completion_length=6, beta=0.1,
        learning_rate=1e-2, max_steps=2, disable_tqdm=True,
    )  # fmt: skip
    trainer = GRPOTrainer(policy, reward_a, config, [{"prompt": f"{i}:"} for i in range(4)], tok)
    assert trainer.ref_model is None  # no copy: the reference is the base model under the adapters
    batch = trainer._generate_and_score_completions([{"prompt": "0:"}] * 4 + [{"prompt": "1:"}] * 4)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    with torch.no_grad():
        base = trainer._get_per_token_logps(base_model, ids, mask, batch["completion_ids"].size(1))
        adapted = trainer._get_per_token_logps(policy, ids, mask, batch["completion_ids"].size(1))
    assert (adapted - base).abs().max() > 1e-3  # the adapters change the policy...
    assert (batch["ref_per_token_logps"] - base).abs().max() < 1e-6  # ...the reference is the base
    record = trainer.train()
    assert record.curve("kl")[1][-1] > 0
    assert all(torch.equal(p, frozen[n]) for n, p in policy.named_parameters() if n in frozen)


def test_teacher_likelihood_reward(tiny):
    model, tok = tiny
    reward = teacher_likelihood_reward(model, tok, batch_size=2)
    prompt = "ab\n"
    ids = torch.tensor([tok(prompt + "~~~~~")["input_ids"]])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)  # (L-1, V)
    best = tok.decode([int(logp[len(prompt) - 1].argmax())])  # the teacher's most likely first character
    values = reward(prompts=[prompt] * 4, completions=["~~~~~", best, "~" if best != "~" else "!", ""])
    assert reward.__name__ == "teacher_likelihood" and values[3] is None  # empty completion: no reward
    expected = logp.gather(-1, ids[0, 1:, None])[-5:].mean()
    assert values[0] == pytest.approx(float(expected), abs=1e-5)  # mean log π_teacher per completion token
    assert values[1] > values[2]  # the teacher's favourite continuation beats another one
