"""The from-scratch GRPO equals ``trl.GRPOTrainer`` (TRL 1.16): same batch → same advantages, loss, gradients.

Seam: both trainers get the same prompts and the SAME completions, by replacing each trainer's
``_generate_single_turn`` (the one method that samples) with a function returning fixed token ids; everything
after it — decoding, reward calls, None handling, advantages, reference log-probs, padding, loss — runs the
trainers' own code. The policy is perturbed away from the saved weights that both reference models load, so
the KL term and its gradient are not trivially zero; an "off-policy" variant injects the same
``old_per_token_logps`` into both batches so the ratio moves away from 1 and clipping happens.
"""

import tempfile

import pytest
import torch
from transformers import AutoModelForCausalLM
from transformers.utils import logging as hf_logging

from course_lib.distill.grpo import GRPOConfig, GRPOTrainer
from course_lib.models.tiny import build_tiny_model, save_model

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

G, MAX_LEN = 4, 10
ROWS = [{"prompt": "ab\n", "target": "a"}, {"prompt": "hello there\n", "target": "e"}]
INPUTS = [row for row in ROWS for _ in range(G)]  # each prompt repeated G times, as TRL's sampler yields them
NONE_ROWS, UNSCORABLE_ROWS = {1}, {5}  # one function returns None / every function returns None
TOL = 1e-6


def reward_length(completions, **kwargs):
    return [None if i in UNSCORABLE_ROWS else len(c) / MAX_LEN for i, c in enumerate(completions)]


def reward_target(completions, target, **kwargs):
    skip = NONE_ROWS | UNSCORABLE_ROWS
    return [None if i in skip else float(c.count(t)) for i, (c, t) in enumerate(zip(completions, target))]


@pytest.fixture(scope="module")
def saved_model():
    hf_logging.set_verbosity_error()
    model, tok = build_tiny_model("tiny-250k", seed=0)
    folder = tempfile.mkdtemp(prefix="grpo-eq-")
    save_model(model, tok, folder)
    gen = torch.Generator().manual_seed(0)
    completions = []
    for i in range(len(INPUTS)):  # varied lengths; some end with EOS, others are cut at MAX_LEN
        n = int(torch.randint(1, MAX_LEN + 1, (1,), generator=gen))
        ids = torch.randint(4, len(tok), (n,), generator=gen).tolist()
        if i % 3 == 0 and n < MAX_LEN:
            ids[-1] = tok.eos_token_id
        completions.append(ids)
    return folder, tok, completions


def _policy(folder):
    """The saved model, moved away from the saved weights (which the reference models keep)."""
    model = AutoModelForCausalLM.from_pretrained(folder)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.train()


def _trainers(folder, tok, completions, **config):
    trl_args = trl.GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="grpo-trl-"),
        bf16=False,
        activation_checkpointing=False,
        report_to=[],
        **config,
    )
    theirs = trl.GRPOTrainer(
        model=_policy(folder),
        reward_funcs=[reward_length, reward_target],
        args=trl_args,
        train_dataset=datasets.Dataset.from_list(ROWS),
        processing_class=tok,
    )
    theirs._generate_single_turn = lambda prompt_ids, *args, **kw: ([list(c) for c in completions], None)
    theirs.current_gradient_accumulation_steps = 1  # set by Trainer's loop; we call _compute_loss directly
    ref = AutoModelForCausalLM.from_pretrained(folder) if config["beta"] > 0 else None
    ours = GRPOTrainer(
        _policy(folder), [reward_length, reward_target], GRPOConfig(**config), ROWS, tok, ref_model=ref
    )
    ours._generate_single_turn = lambda prompt_ids: [list(c) for c in completions]
    return theirs, ours


CASES = [
    (loss_type, scale, beta, bias)
    for loss_type, scale in (("grpo", "group"), ("dr_grpo", "none"), ("dapo", "batch"))
    for beta, bias in ((0.0, True), (0.04, True), (0.04, False))
]


@pytest.mark.parametrize("off_policy", [False, True], ids=["on-policy", "off-policy"])
@pytest.mark.parametrize(("loss_type", "scale_rewards", "beta", "use_bias_correction_kl"), CASES)
def test_same_batch_same_advantages_loss_and_gradients(
    saved_model, loss_type, scale_rewards, beta, use_bias_correction_kl, off_policy
):
    folder, tok, completions = saved_model
    config = {
        "num_generations": G,
        "per_device_train_batch_size": len(INPUTS),
        "max_completion_length": MAX_LEN,
        "temperature": 0.7,
        "loss_type": loss_type,
        "scale_rewards": scale_rewards,
        "beta": beta,
        "use_bias_correction_kl": use_bias_correction_kl,
        "epsilon_high": 0.28 if loss_type == "dapo" else None,
        "reward_weights": [1.0, 0.5],
    }
    theirs, ours = _trainers(folder, tok, completions, **config)
    batch_t = theirs._generate_and_score_completions([dict(r) for r in INPUTS])
    batch_o = ours._generate_and_score_completions([dict(r) for r in INPUTS])

    assert torch.equal(batch_t["completion_mask"], batch_o["completion_mask"])
    assert int(batch_t["num_items_in_batch"]) == int(batch_o["num_items_in_batch"])
    assert (batch_t["advantages"] - batch_o["advantages"]).abs().max() <= TOL
    assert batch_o["advantages"][sorted(UNSCORABLE_ROWS)].abs().max() == 0  # unscorable → advantage 0
    assert batch_o["advantages"].abs().max() > 0.1
    if beta > 0:
        assert (batch_t["ref_per_token_logps"] - batch_o["ref_per_token_logps"]).abs().max() <= TOL
    if off_policy:  # same π_old for both: ratios ≠ 1, clipping active
        ids = torch.cat([batch_o["prompt_ids"], batch_o["completion_ids"]], dim=1)
        mask = torch.cat([batch_o["prompt_mask"], batch_o["completion_mask"]], dim=1)
        with torch.no_grad():
            now = ours._get_per_token_logps(ours.model, ids, mask, batch_o["completion_ids"].size(1))
        old = now + 0.3 * torch.randn(now.shape, generator=torch.Generator().manual_seed(2))
        batch_t["old_per_token_logps"], batch_o["old_per_token_logps"] = old.clone(), old.clone()

    loss_t = theirs._compute_loss(theirs.model, batch_t)
    loss_t.backward()
    loss_o = ours._compute_loss(ours.model, batch_o)
    loss_o.backward()

    assert abs(loss_t.item() - loss_o.item()) <= TOL
    grads_t = dict(theirs.model.named_parameters())
    diffs = {n: (p.grad - grads_t[n].grad).abs().max().item() for n, p in ours.model.named_parameters()}
    assert max(diffs.values()) <= TOL, sorted(diffs.items(), key=lambda kv: -kv[1])[:3]
    assert max(p.grad.abs().max().item() for p in ours.model.parameters()) > 1e-2  # gradients are not all ~0
    assert (ours._last_loss_stats["clip_ratio"] > 0) == off_policy


def test_bias_correction_flag_changes_the_kl_gradient(saved_model):
    """use_bias_correction_kl multiplies the KL by the ratio: same value on-policy, different gradient."""
    folder, tok, completions = saved_model
    grads, losses = {}, {}
    for flag in (True, False):
        _, ours = _trainers(
            folder,
            tok,
            completions,
            num_generations=G,
            per_device_train_batch_size=len(INPUTS),
            max_completion_length=MAX_LEN,
            beta=0.5,
            use_bias_correction_kl=flag,
        )
        batch = ours._generate_and_score_completions([dict(r) for r in INPUTS])
        loss = ours._compute_loss(ours.model, batch)
        loss.backward()
        losses[flag] = loss.item()
        grads[flag] = torch.cat([p.grad.flatten() for p in ours.model.parameters()])
    assert losses[True] == pytest.approx(losses[False], abs=1e-7)
    assert (grads[True] - grads[False]).abs().max() > 1e-4


def test_seeded_run_reproduces_trl_train(saved_model):
    """A whole seeded run: 4 optimizer steps, 2 micro-batches each, reused batches (μ=2), KL, an epoch boundary.

    Both trainers sample the very same completions at every step (same seed, same RNG draws), log the same
    losses and KLs, and end with the same weights. Weights agree to ~1e-5, not 1e-7: gradients agree to ~1e-7
    (the first test), but AdamW divides each gradient by its running RMS, so for weights whose gradient is
    ~1e-8 the relative rounding of the gradient becomes an absolute difference of up to ~lr·1e-2 per step.
    """
    folder, tok, _ = saved_model
    seen = {"trl": [], "ours": []}

    def recorder(key):
        def reward_a(completions, completion_ids, **kwargs):
            seen[key].append([list(c) for c in completion_ids])
            return [c.count("a") / 12 + 0.01 * len(c) for c in completions]

        return reward_a

    rows = [{"prompt": f"Q{i}: say a\n"} for i in range(8)]
    config = {
        "num_generations": 4,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 2,
        "max_completion_length": 12,
        "max_steps": 4,
        "learning_rate": 1e-3,
        "beta": 0.04,
        "num_iterations": 2,
        "temperature": 0.9,
        "logging_steps": 1,
        "disable_tqdm": True,
    }
    theirs = trl.GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(folder),
        reward_funcs=[recorder("trl")],
        args=trl.GRPOConfig(
            output_dir=tempfile.mkdtemp(prefix="grpo-trl-run-"),
            bf16=False,
            activation_checkpointing=False,
            report_to=[],
            save_strategy="no",
            **config,
        ),
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tok,
    )
    theirs.train()
    ours = GRPOTrainer(
        AutoModelForCausalLM.from_pretrained(folder), [recorder("ours")], GRPOConfig(**config), rows, tok
    )
    record = ours.train()

    assert len(seen["ours"]) == len(seen["trl"]) == 2  # μ=2: one generation batch per two steps
    assert seen["ours"] == seen["trl"]
    logged = [h for h in theirs.state.log_history if "loss" in h]
    for key in ("loss", "kl"):
        assert record.curve(key)[1] == pytest.approx([h[key] for h in logged], abs=TOL), key
    rewards = dict(zip(*record.curve("reward")))  # TRL logs the reward at generation steps only
    assert [rewards[h["step"]] for h in logged if "reward" in h] == pytest.approx(
        [h["reward"] for h in logged if "reward" in h], abs=TOL
    )
    weight_diff = max(
        (p - q).abs().max().item() for p, q in zip(theirs.model.parameters(), ours.model.parameters())
    )
    assert weight_diff < 1e-4
