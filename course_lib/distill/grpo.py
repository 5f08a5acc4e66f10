"""GRPO from scratch: the algorithm of ``trl.GRPOTrainer`` (TRL 1.16), readable top to bottom.

Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath, arXiv:2402.03300) trains a policy
π_θ with a reward but without a value network. For each prompt q it samples a *group* of G completions
o_1..o_G, scores them, and uses each completion's reward relative to its group as the advantage of
every one of its tokens::

    A_i = (r_i - mean(r_1..r_G)) / (std(r_1..r_G) + 1e-4)                  (scale_rewards="group")

    ρ_i,t = π_θ(o_i,t | q, o_i,<t) / π_θ_old(o_i,t | q, o_i,<t)            (importance ratio)
    ℓ_i,t = -min(ρ_i,t A_i, clip(ρ_i,t, 1-ε_low, 1+ε_high) A_i) + β KL_i,t  (PPO-clipped, per token)
    KL_i,t = exp(ref - logp) - (ref - logp) - 1                              (k3 estimator, ≥ 0)

and the per-token losses are aggregated by ``loss_type`` (see :func:`grpo_loss`).

The trainer's methods carry TRL's names, so each can be read next to its TRL counterpart:

=================================== ================================================================
``_generate_single_turn``           sample one completion per row (G rows per prompt), cut after EOS
``_generate``                       tokenize prompts, sample, decode completions
``_calculate_rewards``              call every reward function (TRL's contract), None → NaN
``_compute_advantages``             weighted reward sum → group-relative advantages
``_generate_and_score_completions`` all of the above, padded into one batch of tensors
``_get_per_token_logps``            log π(token) of each completion token, logits / temperature
``_compute_loss``                   ratio, clipping, KL, aggregation by ``loss_type``
``train``                           the loop: generate, split into micro-batches, backward, step
=================================== ================================================================

Beside the trainer: :func:`teacher_likelihood_reward` turns the teacher into a reward model (its mean token
log-probability of a chain), the optional teacher-guided term of the chapter's pipeline.

``tests/distill/test_grpo_trl_equality.py`` proves advantages, loss and every parameter gradient equal to
``trl.GRPOTrainer``'s on the same batch (within 1e-6) for each loss type, with and without the KL term.
What TRL has and this module leaves out: vLLM, tools, multi-modal prompts, reward *models*,
conversational prompts (render them with the chat template first), sequence-level importance sampling,
entropy masks and the other loss types (bnpo, cispo, sapo, luspo, vespo).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_lib.distill.grpo_config import GRPOConfig
from course_lib.distill.records import RunRecord

RewardFunc = Callable[..., list]
STD_EPS = 1e-4  # TRL's constant in A = (r - mean) / (std + 1e-4)


# ---------------------------------------------------------------------------------------------------
# Rewards and advantages: pure functions
# ---------------------------------------------------------------------------------------------------


def reward_func_name(func: RewardFunc) -> str:
    """The name a reward is logged under (``rewards/<name>``), as TRL names it: the function's ``__name__``."""
    return getattr(func, "__name__", type(func).__name__)


def calculate_rewards(
    reward_funcs: Sequence[RewardFunc],
    inputs: Sequence[dict],
    completions: Sequence[str],
    completion_ids: Sequence[Sequence[int]] | None = None,
) -> torch.Tensor:
    """Call every reward function on every completion, in TRL's contract.

    Args:
        reward_funcs: F callables ``f(prompts=, completions=, completion_ids=, **columns) -> list[float | None]``.
        inputs: N dataset rows (``"prompt"`` plus extra columns such as ``answer``), one per completion.
        completions: N completion texts.
        completion_ids: N token-id lists (passed through to the functions).

    Returns:
        ``(N, F)`` float32 rewards, NaN where a function returned None ("does not apply").
    """
    if len(inputs) != len(completions):
        raise ValueError(
            f"got {len(inputs)} rows for {len(completions)} completions; pass one row per completion"
        )
    prompts = [row["prompt"] for row in inputs]
    skip = ("prompt", "completion", "completion_ids")
    columns = {k: [row[k] for row in inputs] for k in inputs[0] if k not in skip}
    rewards_per_func = torch.zeros(len(completions), len(reward_funcs))
    for i, func in enumerate(reward_funcs):
        values = func(
            prompts=prompts, completions=list(completions), completion_ids=completion_ids, **columns
        )
        if len(values) != len(completions):
            raise ValueError(
                f"reward function {reward_func_name(func)!r} returned {len(values)} rewards for "
                f"{len(completions)} completions; it must return exactly one (a number or None) per completion"
            )
        rewards_per_func[:, i] = torch.tensor(
            [torch.nan if v is None else v for v in values], dtype=torch.float32
        )
    return rewards_per_func


def nanstd(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Bessel-corrected standard deviation ignoring NaNs (NaN where fewer than 2 values), as TRL's ``nanstd``."""
    mean = torch.nanmean(x, dim=dim, keepdim=True)
    variance = torch.nanmean((x - mean) ** 2, dim=dim, keepdim=True)
    count = torch.sum(~torch.isnan(x), dim=dim, keepdim=True)
    correction = torch.where(count > 1, count / (count - 1), torch.full_like(variance, float("nan")))
    std = torch.sqrt(variance * correction)
    return std if dim is None else std.squeeze(dim)


def combine_rewards(rewards_per_func: torch.Tensor, reward_weights: torch.Tensor) -> torch.Tensor:
    """Weighted sum over reward functions, skipping missing (NaN) rewards.

    Args:
        rewards_per_func: ``(N, F)`` rewards, NaN where a function returned None.
        reward_weights: ``(F,)``.

    Returns:
        ``(N,)`` rewards; NaN for an *unscorable* completion (every function returned None), so it is
        left out of its group's mean and std and gets advantage 0 (TRL's rule).
    """
    rewards = (rewards_per_func * reward_weights.unsqueeze(0)).nansum(dim=1)  # (N,)
    rewards[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan
    return rewards


def group_relative_advantages(
    rewards: torch.Tensor, num_generations: int, scale_rewards: str = "group"
) -> torch.Tensor:
    """GRPO advantages: each reward minus its group's mean, divided by a standard deviation + 1e-4.

    ``A_i = (r_i - mean_g) / (std + 1e-4)`` with the Bessel-corrected std of the group (``"group"``), of the
    whole batch (``"batch"``), or no division (``"none"``, Dr. GRPO). NaN rewards (unscorable completions)
    are ignored in the statistics and get advantage 0.

    Args:
        rewards: ``(N,)`` with N = prompts × ``num_generations``, the G completions of a prompt consecutive.
        num_generations: G.
        scale_rewards: ``"group"``, ``"batch"`` or ``"none"``.

    Returns:
        ``(N,)`` advantages.
    """
    if rewards.dim() != 1 or rewards.numel() % num_generations:
        raise ValueError(
            f"rewards must be 1-D with a length divisible by num_generations={num_generations}; "
            f"got shape {tuple(rewards.shape)}"
        )
    grouped = rewards.view(-1, num_generations)  # (N/G, G)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(num_generations)  # (N,)
    if scale_rewards in ("group", "none"):
        std = nanstd(grouped, dim=1).repeat_interleave(num_generations)
    elif scale_rewards == "batch":
        std = nanstd(rewards).expand_as(rewards)
    else:
        raise ValueError(f"unknown scale_rewards {scale_rewards!r}; choose one of group, batch, none")
    advantages = rewards - mean
    if scale_rewards != "none":
        advantages = advantages / (std + STD_EPS)
    return torch.nan_to_num(advantages, nan=0.0)


# ---------------------------------------------------------------------------------------------------
# The loss: a pure function of log-probabilities, advantages and the mask
# ---------------------------------------------------------------------------------------------------


def k3_kl(ref_per_token_logps: torch.Tensor, per_token_logps: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(π_θ ‖ π_ref) per token: ``exp(d) - d - 1`` with ``d = ref - logp`` (≥ 0)."""
    d = ref_per_token_logps - per_token_logps
    return torch.exp(d) - d - 1


def grpo_loss(
    per_token_logps: torch.Tensor,
    old_per_token_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    config: GRPOConfig,
    *,
    ref_per_token_logps: torch.Tensor | None = None,
    num_items_in_batch: torch.Tensor | float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped GRPO objective for one micro-batch, aggregated as ``config.loss_type`` says.

    Per token: ``ρ = exp(logp - logp_old)``, ``ℓ = -min(ρA, clip(ρ, 1-ε_low, 1+ε_high)A) + β·KL`` where
    KL is :func:`k3_kl`, multiplied by ρ when ``use_bias_correction_kl``. Then, with m the mask, B the
    micro-batch size, L = ``max_completion_length`` and GA = ``gradient_accumulation_steps``:

    * ``grpo``:    ``mean_i( Σ_t m ℓ / Σ_t m ) / GA``                    (GRPO: per-sequence mean)
    * ``dr_grpo``: ``Σ_i,t m ℓ / (B · L) / GA``                           (Dr. GRPO: a constant)
    * ``dapo``:    ``Σ_i,t m ℓ / num_items_in_batch``                     (DAPO: tokens in the whole
      generation batch, so summing the GA micro-batch losses gives the token mean of the batch)

    Args:
        per_token_logps: ``(B, T)`` log π_θ of each completion token (with gradient).
        old_per_token_logps: ``(B, T)`` log π_θ_old, the policy that sampled (no gradient).
        advantages: ``(B,)`` one advantage per completion.
        mask: ``(B, T)`` 1 for completion tokens, 0 for padding.
        config: supplies loss_type, epsilon, epsilon_high, beta, use_bias_correction_kl,
            max_completion_length, gradient_accumulation_steps.
        ref_per_token_logps: ``(B, T)`` log π_ref, required when ``config.beta > 0``.
        num_items_in_batch: completion tokens in the generation batch (``dapo`` only).

    Returns:
        ``(loss, stats)``; stats holds ``kl`` (masked token mean, when β > 0) and ``clip_ratio`` (share of
        tokens whose clipped term was the active one).
    """
    if config.beta > 0 and ref_per_token_logps is None:
        raise ValueError(
            f"beta={config.beta} > 0 needs ref_per_token_logps (log-probs under the reference model)"
        )
    if config.loss_type == "dapo" and num_items_in_batch is None:
        raise ValueError(
            "loss_type='dapo' needs num_items_in_batch (completion tokens in the generation batch)"
        )
    mask = mask.to(per_token_logps.dtype)
    advantages = advantages.unsqueeze(1)  # (B, 1)
    coef_1 = torch.exp(per_token_logps - old_per_token_logps)  # ρ (B, T)
    coef_2 = torch.clamp(coef_1, 1 - config.epsilon_low, 1 + config.resolved_epsilon_high)
    per_token_loss = -torch.min(coef_1 * advantages, coef_2 * advantages)  # (B, T)
    stats: dict[str, float] = {}
    if config.beta > 0:
        per_token_kl = k3_kl(ref_per_token_logps, per_token_logps)  # (B, T)
        if config.use_bias_correction_kl:
            per_token_kl = per_token_kl * coef_1
        per_token_loss = per_token_loss + config.beta * per_token_kl
        stats["kl"] = _masked_mean(per_token_kl, mask)
    ga = config.gradient_accumulation_steps
    if config.loss_type == "grpo":
        loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean() / ga
    elif config.loss_type == "dr_grpo":
        loss = (per_token_loss * mask).sum() / (per_token_loss.size(0) * config.max_completion_length) / ga
    else:  # dapo
        normalizer = torch.as_tensor(num_items_in_batch, dtype=per_token_loss.dtype).clamp(min=1.0)
        loss = (per_token_loss * mask).sum() / normalizer
    clipped = ((coef_1 < 1 - config.epsilon_low) & (advantages < 0)) | (
        (coef_1 > 1 + config.resolved_epsilon_high) & (advantages > 0)
    )
    stats["clip_ratio"] = _masked_mean(clipped.to(mask.dtype), mask)
    return loss, stats


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    return float((x.detach() * mask).sum() / mask.sum().clamp(min=1.0))


def per_token_logps(
    model, input_ids, attention_mask, logits_to_keep: int, temperature: float = 1.0
) -> torch.Tensor:
    """``(B, T)`` log-probability of each of the last ``T = logits_to_keep`` tokens, 0 on padding.

    ``log_softmax(logits / temperature)`` at the position before each token. Only ``input_ids`` and
    ``attention_mask`` (both ``(B, P+T)``) go to the model, so positions run ``0..P+T-1`` whatever the left
    padding, exactly as in TRL's loss forward pass.
    """
    logits = model(
        input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=logits_to_keep + 1
    ).logits  # (B, T+1, V)
    logits = logits[:, :-1, :].float() / temperature  # (B, T, V): position t predicts token t
    targets = input_ids[:, -logits_to_keep:]  # (B, T)
    logps = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return logps.masked_fill(attention_mask[:, -logits_to_keep:] == 0, 0.0)


def teacher_likelihood_reward(teacher, tokenizer, batch_size: int = 64) -> RewardFunc:
    """A reward model made of the teacher: its mean per-token log-probability of each completion.

    ``r = (1/T) Σ_t log π_teacher(o_t | q, o_<t)`` (nats per token, ≤ 0): chains the teacher finds likely
    score higher. Combine it with a verifier reward and a small weight (e.g. ``reward_weights=[1.0, 0.1]``)
    so that, among equally correct chains, the ones written like the teacher's are preferred. An empty
    completion gets None. The teacher must share ``tokenizer`` with the student.

    Returns:
        A reward function in TRL's contract, named ``teacher_likelihood``.
    """
    device = next(teacher.parameters()).device

    @torch.no_grad()
    def teacher_likelihood(prompts, completions, **kwargs) -> list[float | None]:
        rewards: list[float | None] = []
        for start in range(0, len(prompts), batch_size):
            prompt_ids = tokenizer(text=list(prompts[start : start + batch_size]))["input_ids"]
            completion_ids = tokenizer(
                text=list(completions[start : start + batch_size]), add_special_tokens=False
            )
            p_ids, p_mask = _left_pad(prompt_ids, tokenizer.pad_token_id, device)  # (b, P)
            c_ids, c_mask = _right_pad(completion_ids["input_ids"], tokenizer.pad_token_id, device)  # (b, T)
            logps = per_token_logps(
                teacher, torch.cat([p_ids, c_ids], 1), torch.cat([p_mask, c_mask], 1), c_ids.size(1)
            )  # (b, T)
            lengths = c_mask.sum(1)
            rewards += [
                None if n == 0 else float(s / n) for s, n in zip(logps.sum(1).tolist(), lengths.tolist())
            ]
        return rewards

    return teacher_likelihood


# ---------------------------------------------------------------------------------------------------
# Sampling: one completion per row, ids cut after the first EOS
# ---------------------------------------------------------------------------------------------------


@torch.no_grad()
def sample_completions(
    model,
    prompt_ids: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    eos_token_ids: Sequence[int],
    pad_token_id: int,
) -> list[list[int]]:
    """Ancestral sampling of one completion per prompt, the same draws as ``model.generate(do_sample=True)``.

    Left-pads the prompts, samples ``softmax(logits / temperature)`` token by token with a KV cache
    (``torch.multinomial`` on the whole batch each step, as ``generate`` does, so a seed gives the same
    completions), stops when every row has produced an EOS or after ``max_new_tokens``, and returns each
    completion's ids up to and including its first EOS. Llama-architecture models (the lab's tiny models,
    SmolLM2) go through :class:`LlamaSampler`, about 1.5× faster than ``generate`` on a CPU; others through
    ``model.generate``.

    Returns:
        One list of token ids per prompt.
    """
    device = next(model.parameters()).device
    ids, attention_mask = _left_pad(prompt_ids, pad_token_id, device)  # (B, P)
    was_training = model.training
    model.eval()
    try:
        if LlamaSampler.supports(model):
            new = LlamaSampler(model).sample(
                ids, attention_mask, max_new_tokens, temperature, eos_token_ids, pad_token_id
            )
        else:
            out = model.generate(
                input_ids=ids,
                attention_mask=attention_mask,
                do_sample=True,
                temperature=temperature,
                top_k=0,
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                eos_token_id=list(eos_token_ids),
                pad_token_id=pad_token_id,
            )
            new = out[:, ids.size(1) :]  # (B, T)
    finally:
        model.train(was_training)
    return [_cut_after_eos(row, eos_token_ids) for row in new.tolist()]


def _left_pad(rows: Sequence[Sequence[int]], pad_token_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, mask)``, both ``(B, max_len)``, rows right-aligned (left padding)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r) :] = 1
    return ids.to(device), mask.to(device)


def _right_pad(rows: Sequence[Sequence[int]], pad_token_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, mask)``, both ``(B, max_len)``, rows left-aligned (right padding); width ≥ 1."""
    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids.to(device), mask.to(device)


def _cut_after_eos(ids: list[int], eos_token_ids: Sequence[int]) -> list[int]:
    for i, token in enumerate(ids):
        if token in eos_token_ids:
            return ids[: i + 1]
    return ids


class LlamaSampler:
    """A minimal KV-cached forward pass of a ``LlamaForCausalLM`` for sampling.

    The lab's models are so small that ``generate`` spends most of its time in per-call overhead
    (cache objects, mask builders, logits processors). This class computes the same function with
    the model's own weights in fewer, fused operations (q/k/v and gate/up projections concatenated,
    a preallocated cache) — the logits agree with ``model(...)`` to float rounding. Positions come from
    the attention mask (``cumsum - 1``), as in ``generate``.
    """

    @staticmethod
    def supports(model) -> bool:
        """True for a plain ``LlamaForCausalLM`` with SiLU MLPs, no biases and default RoPE."""
        from transformers import LlamaForCausalLM

        if type(model) is not LlamaForCausalLM:
            return False
        cfg = model.config
        rope = getattr(cfg, "rope_parameters", None) or {}
        return (
            cfg.hidden_act == "silu"
            and not cfg.attention_bias
            and not cfg.mlp_bias
            and rope.get("rope_type", "default") == "default"
            and getattr(cfg, "pretraining_tp", 1) == 1
        )

    def __init__(self, model) -> None:
        cfg = model.config
        self.num_heads = cfg.num_attention_heads
        self.num_kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps = cfg.rms_norm_eps
        base = model.model
        self.embed = base.embed_tokens.weight  # (V, C)
        self.final_norm = base.norm.weight
        self.lm_head = model.lm_head.weight.t()  # (C, V)
        self.inv_freq = base.rotary_emb.inv_freq  # (D/2,)
        self.rope_scale = base.rotary_emb.attention_scaling
        self.layers = []
        for layer in base.layers:
            attn, mlp = layer.self_attn, layer.mlp
            self.layers.append(
                (
                    layer.input_layernorm.weight,
                    torch.cat(
                        [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]
                    ).t(),  # (C, (H+2Hkv)·D)
                    attn.o_proj.weight.t(),  # (H·D, C)
                    layer.post_attention_layernorm.weight,
                    torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).t(),  # (C, 2I)
                    mlp.down_proj.weight.t(),  # (I, C)
                )
            )

    def _rms_norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        h = x.float()  # in float32 then back, as LlamaRMSNorm (no-ops for a float32 model)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * h.to(x.dtype)

    def _rope_table(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of the rotary angles of positions ``0..length-1``, each ``(length, D)``."""
        positions = torch.arange(length, dtype=torch.float32, device=self.inv_freq.device)
        freqs = positions[:, None] * self.inv_freq  # (length, D/2)
        emb = torch.cat((freqs, freqs), dim=-1)  # (length, D)
        dtype = self.embed.dtype  # computed in float32, used in the model's dtype, as LlamaRotaryEmbedding
        return (emb.cos() * self.rope_scale).to(dtype), (emb.sin() * self.rope_scale).to(dtype)

    @staticmethod
    def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=-1)
        return x * cos + torch.cat((-x2, x1), dim=-1) * sin

    def _forward(self, ids, positions, rope, cache, start: int, attn_mask) -> torch.Tensor:
        """Logits of the last position. ids/positions ``(B, S)``; writes keys/values at ``start:start+S``."""
        B, S = ids.shape
        H, Hkv, D = self.num_heads, self.num_kv_heads, self.head_dim
        cos, sin = rope[0][positions][:, None], rope[1][positions][:, None]  # (B, 1, S, D)
        x = self.embed[ids].view(B * S, -1)  # (B·S, C)
        for i, (norm1, w_qkv, w_o, norm2, w_gu, w_down) in enumerate(self.layers):
            qkv = (
                (self._rms_norm(x, norm1) @ w_qkv).view(B, S, H + 2 * Hkv, D).transpose(1, 2)
            )  # (B, h, S, D)
            q, k = self._rotate(qkv[:, : H + Hkv], cos, sin).split([H, Hkv], dim=1)  # RoPE on q and k at once
            keys, values = cache[i]  # (B, Hkv, P+T, D)
            keys[:, :, start : start + S] = k
            values[:, :, start : start + S] = qkv[:, H + Hkv :]
            a = F.scaled_dot_product_attention(
                q,
                keys[:, :, : start + S],
                values[:, :, : start + S],
                attn_mask=attn_mask,
                is_causal=attn_mask is None and S > 1,
                enable_gqa=H != Hkv,
            )  # (B, H, S, D)
            x = torch.addmm(x, a.transpose(1, 2).reshape(B * S, H * D), w_o)  # x + attention output
            gate, up = (self._rms_norm(x, norm2) @ w_gu).chunk(2, dim=-1)  # (B·S, I) each
            x = torch.addmm(x, F.silu(gate) * up, w_down)  # x + MLP output
        return self._rms_norm(x.view(B, S, -1)[:, -1], self.final_norm) @ self.lm_head  # (B, V)

    def sample(
        self, ids, attention_mask, max_new_tokens, temperature, eos_token_ids, pad_token_id
    ) -> torch.Tensor:
        """Sampled tokens ``(B, T)``, T ≤ max_new_tokens; rows that ended hold ``pad_token_id`` after their EOS."""
        B, P = ids.shape
        total = P + max_new_tokens
        cache = [
            tuple(self.embed.new_zeros(B, self.num_kv_heads, total, self.head_dim) for _ in range(2))
            for _ in self.layers
        ]
        padded = not bool(attention_mask.all())
        key_valid = torch.cat(
            [attention_mask.bool(), attention_mask.new_ones(B, max_new_tokens).bool()], dim=1
        )
        positions = (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)  # (B, P)
        mask = None
        if padded:  # causal ∧ key is a real token; a padding query attends to itself so no row is empty
            causal = torch.ones(P, P, dtype=torch.bool, device=ids.device).tril()
            mask = (causal & key_valid[:, None, None, :P]) | torch.eye(P, dtype=torch.bool, device=ids.device)
        rope = self._rope_table(total)
        logits = self._forward(ids, positions, rope, cache, 0, mask)  # (B, V)
        eos = torch.tensor(list(eos_token_ids), device=ids.device)
        unfinished = torch.ones(B, dtype=torch.bool, device=ids.device)
        tokens = []
        position = positions[:, -1:]  # (B, 1)
        for t in range(max_new_tokens):
            probs = torch.softmax(logits.float() / temperature, dim=-1)  # (B, V)
            next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)  # (B,)
            next_tokens = torch.where(unfinished, next_tokens, pad_token_id)
            tokens.append(next_tokens)
            unfinished = unfinished & ~torch.isin(next_tokens, eos)
            if t == max_new_tokens - 1 or not bool(unfinished.any()):
                break
            position = position + 1
            step_mask = key_valid[:, None, None, : P + t + 1] if padded else None
            logits = self._forward(next_tokens[:, None], position, rope, cache, P + t, step_mask)
        return torch.stack(tokens, dim=1)


# ---------------------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------------------


class GRPOTrainer:
    """GRPO on a causal LM with reward functions, step for step as ``trl.GRPOTrainer``.

    Args:
        model: the policy, a ``transformers`` causal LM (trained in place).
        reward_funcs: one callable or a list, TRL's contract: ``f(prompts=, completions=, completion_ids=,
            **columns) -> list[float | None]`` with one entry per completion (None: "not applicable").
            Extra dataset columns (``answer``, ``metadata`` ...) arrive as keyword arguments, repeated
            per completion.
        args: a :class:`GRPOConfig` (default: ``GRPOConfig()``).
        train_dataset: rows (dicts, or a ``datasets.Dataset``) with a string ``"prompt"``; e.g.
            ``to_trl_rows(problems, style="prompt_only")``.
        processing_class: the tokenizer.
        ref_model: reference policy for the KL term; None with ``beta > 0`` freezes a copy of ``model``
            as it is now (TRL reloads the same initial weights), or, for a peft (LoRA) model, uses the
            model with its adapters disabled, as TRL does.
    """

    def __init__(
        self,
        model,
        reward_funcs: RewardFunc | Sequence[RewardFunc],
        args: GRPOConfig | None = None,
        train_dataset: Sequence[dict] | None = None,
        processing_class=None,
        ref_model=None,
    ) -> None:
        self.args = args or GRPOConfig()
        self.model = model
        if processing_class is None:
            raise ValueError("processing_class (the tokenizer) is required")
        self.processing_class = processing_class
        self.reward_funcs = list(reward_funcs) if isinstance(reward_funcs, (list, tuple)) else [reward_funcs]
        if not self.reward_funcs or not all(callable(f) for f in self.reward_funcs):
            raise TypeError(
                f"reward_funcs must be a callable or a non-empty list of callables; got {reward_funcs!r}"
            )
        self.reward_func_names = [reward_func_name(f) for f in self.reward_funcs]
        weights = self.args.reward_weights or [1.0] * len(self.reward_funcs)
        if len(weights) != len(self.reward_funcs):
            raise ValueError(
                f"reward_weights has {len(weights)} entries but there are {len(self.reward_funcs)} reward functions"
            )
        self.reward_weights = torch.tensor(weights, dtype=torch.float32)
        self.train_dataset = self._check_dataset(train_dataset)
        eos = model.generation_config.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        if processing_class.eos_token_id not in eos:
            eos = [processing_class.eos_token_id, *eos]
        self.eos_token_ids = eos
        self.pad_token_id = processing_class.pad_token_id
        if self.pad_token_id is None:
            raise ValueError(
                "the tokenizer needs a pad token (set tokenizer.pad_token = tokenizer.eos_token)"
            )
        self.ref_model = None  # with beta > 0 and a peft model, the reference is the model with adapters off
        if self.args.beta > 0 and (ref_model is not None or not hasattr(model, "disable_adapter")):
            self.ref_model = ref_model if ref_model is not None else copy.deepcopy(model)
            self.ref_model.eval().requires_grad_(False)

    def _check_dataset(self, dataset) -> list[dict]:
        if dataset is None:
            return []
        rows = list(dataset)
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                raise TypeError(
                    f"train_dataset row {i} must be a dict with a string 'prompt' (render chat prompts with the "
                    f"tokenizer's chat template first); got {str(row)[:200]!r}"
                )
        if rows and len(rows) < self.args.prompts_per_step:
            raise ValueError(
                f"train_dataset has {len(rows)} prompts but one step needs {self.args.prompts_per_step} "
                f"(generation_batch_size {self.args.generation_batch_size} / num_generations {self.args.num_generations})"
            )
        return rows

    # -- generate and score ----------------------------------------------------------------------

    def _generate_single_turn(self, prompt_ids: list[list[int]]) -> list[list[int]]:
        """One sampled completion per row (rows already repeat each prompt G times), cut after EOS."""
        return sample_completions(
            self.model,
            prompt_ids,
            max_new_tokens=self.args.max_completion_length,
            temperature=self.args.temperature,
            eos_token_ids=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
        )

    def _generate(self, prompts: list[str]) -> tuple[list[list[int]], list[list[int]], list[str]]:
        """Tokenize prompts, sample, decode: ``(prompt_ids, completion_ids, completions)``, one entry per row."""
        prompt_ids = self.processing_class(text=prompts)["input_ids"]
        completion_ids = self._generate_single_turn(prompt_ids)
        completions = self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)
        return prompt_ids, completion_ids, completions

    def _calculate_rewards(self, inputs: list[dict], prompts, completions, completion_ids) -> torch.Tensor:
        """``(N, F)``: every reward function on every completion (see :func:`calculate_rewards`)."""
        return calculate_rewards(self.reward_funcs, inputs, completions, completion_ids)

    def _compute_advantages(self, rewards_per_func: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(advantages, rewards)``, both ``(N,)``: weighted rewards → :func:`group_relative_advantages`."""
        rewards = combine_rewards(rewards_per_func, self.reward_weights)
        advantages = group_relative_advantages(rewards, self.args.num_generations, self.args.scale_rewards)
        return advantages, rewards

    def _generate_and_score_completions(self, inputs: list[dict]) -> dict[str, Any]:
        """Sample, score and tensorise one generation batch.

        Args:
            inputs: N dataset rows, each prompt repeated G times consecutively.

        Returns:
            ``prompt_ids``/``prompt_mask`` ``(N, P)`` left-padded, ``completion_ids``/``completion_mask``
            ``(N, T)`` right-padded, ``advantages`` ``(N,)``, ``num_items_in_batch`` (completion tokens),
            ``old_per_token_logps`` ``(N, T)`` when batches are reused (``num_iterations > 1``),
            ``ref_per_token_logps`` ``(N, T)`` when ``beta > 0``, and, for logging, ``rewards`` ``(N,)``,
            ``rewards_per_func`` ``(N, F)``, ``completions`` (texts).
        """
        prompts = [row["prompt"] for row in inputs]
        prompt_ids_list, completion_ids_list, completions = self._generate(prompts)
        device = next(self.model.parameters()).device
        prompt_ids, prompt_mask = _left_pad(prompt_ids_list, self.pad_token_id, device)  # (N, P)
        completion_ids, completion_mask = _right_pad(completion_ids_list, self.pad_token_id, device)  # (N, T)
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)  # (N, P+T)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        logits_to_keep = completion_ids.size(1)
        batch: dict[str, Any] = {
            "prompt_ids": prompt_ids,
            "prompt_mask": prompt_mask,
            "completion_ids": completion_ids,
            "completion_mask": completion_mask,
            "num_items_in_batch": completion_mask.sum(),
        }
        with torch.no_grad():
            if self.args.num_iterations > 1:  # the batch is reused after the policy moved: keep π_θ_old
                batch["old_per_token_logps"] = self._get_per_token_logps(
                    self.model, input_ids, attention_mask, logits_to_keep
                )
            if self.ref_model is not None:
                batch["ref_per_token_logps"] = self._get_per_token_logps(
                    self.ref_model, input_ids, attention_mask, logits_to_keep
                )
            elif self.args.beta > 0:  # a LoRA policy: its base model (adapters disabled) is the reference
                with self.model.disable_adapter():
                    batch["ref_per_token_logps"] = self._get_per_token_logps(
                        self.model, input_ids, attention_mask, logits_to_keep
                    )
        rewards_per_func = self._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        advantages, batch["rewards"] = self._compute_advantages(rewards_per_func)
        batch["advantages"] = advantages.to(device)
        batch["rewards_per_func"] = rewards_per_func
        batch["completions"] = completions
        return batch

    # -- loss ------------------------------------------------------------------------------------

    def _get_per_token_logps(self, model, input_ids, attention_mask, logits_to_keep: int) -> torch.Tensor:
        """``(B, T)`` log π of each completion token at the sampling temperature (see :func:`per_token_logps`)."""
        return per_token_logps(model, input_ids, attention_mask, logits_to_keep, self.args.temperature)

    def _compute_loss(self, model, inputs: dict[str, Any]) -> torch.Tensor:
        """Loss of one micro-batch (see :func:`grpo_loss`); stores its stats in ``self._last_loss_stats``."""
        input_ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)  # (B, P+T)
        attention_mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
        per_token_logps = self._get_per_token_logps(
            model, input_ids, attention_mask, inputs["completion_ids"].size(1)
        )
        old = inputs.get("old_per_token_logps")
        loss, self._last_loss_stats = grpo_loss(
            per_token_logps,
            per_token_logps.detach() if old is None else old,  # on-policy: ratio 1, gradient of ρ kept
            inputs["advantages"],
            inputs["completion_mask"],
            self.args,
            ref_per_token_logps=inputs.get("ref_per_token_logps"),
            num_items_in_batch=inputs["num_items_in_batch"],
        )
        return loss

    # -- the loop --------------------------------------------------------------------------------

    def _prompt_batches(self) -> Iterator[list[dict]]:
        """Endless stream of ``prompts_per_step`` rows: a seeded permutation per epoch, incomplete tail dropped."""
        generator = torch.Generator().manual_seed(self.args.seed)
        n, k = len(self.train_dataset), self.args.prompts_per_step
        while True:
            # A torch DataLoader draws its workers' base seed from the global generator at the start of every
            # epoch; drawing it too keeps a seeded run sampling exactly the completions trl.GRPOTrainer samples.
            torch.empty((), dtype=torch.int64).random_()
            order = (
                torch.randperm(n, generator=generator).tolist()
                if self.args.shuffle_dataset
                else list(range(n))
            )
            for start in range(0, n - k + 1, k):
                yield [self.train_dataset[i] for i in order[start : start + k]]

    def _micro_batches(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        """Shuffle the generation batch (mixing groups) and split it into ``gradient_accumulation_steps`` parts."""
        n = batch["completion_ids"].size(0)
        order = torch.randperm(n)
        size = n // self.args.gradient_accumulation_steps
        parts = []
        for start in range(0, n, size):
            index = order[start : start + size]
            parts.append(
                {
                    k: v[index.to(v.device)] if isinstance(v, torch.Tensor) and v.dim() > 0 else v
                    for k, v in batch.items()
                    if k != "completions"
                }
            )
        return parts

    def _make_optimizer(self):
        """AdamW with ``TrainingArguments``' defaults (betas 0.9/0.999, eps 1e-8, no weight decay) and the schedule."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters (every requires_grad is False)")
        optimizer = torch.optim.AdamW(
            params, lr=self.args.learning_rate, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, fused=True
        )
        steps = self.args.max_steps
        if self.args.lr_scheduler_type == "linear":
            schedule = lambda step: max(0.0, (steps - step) / steps)
        else:
            schedule = lambda step: 1.0
        return params, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    def train(self, name: str = "grpo") -> RunRecord:
        """Run ``max_steps`` optimizer steps and return the run record.

        Each step: (every ``num_iterations`` steps) sample a generation batch of ``prompts_per_step`` prompts
        × G completions and score it; then backward each of the ``gradient_accumulation_steps`` micro-batches,
        clip the gradient norm, AdamW step, scheduler step.

        Returns:
            A :class:`~course_lib.distill.records.RunRecord` with per-step curves ``reward``, ``reward_std``,
            ``rewards/<func>``, ``loss``, ``kl`` (β > 0), ``clip_ratio``, ``completion_length``,
            ``grad_norm``, ``learning_rate``, ``step_time``; the config; the seed; the wall time.
        """
        if not self.train_dataset:
            raise ValueError("train() needs a train_dataset with at least one prompt")
        args = self.args
        _seed_everything(args.seed)
        params, optimizer, scheduler = self._make_optimizer()
        record = RunRecord(name=name, config=args.to_trl_kwargs(), seed=args.seed)
        batches = self._prompt_batches()
        started = time.perf_counter()
        bar = tqdm(range(1, args.max_steps + 1), desc=name, disable=args.disable_tqdm, leave=False)
        for step in bar:
            step_start = time.perf_counter()
            if (step - 1) % args.num_iterations == 0:
                inputs = [row for row in next(batches) for _ in range(args.num_generations)]
                self.model.train()
                batch = self._generate_and_score_completions(inputs)
                micro_batches = self._micro_batches(batch)
            self.model.train()
            loss_sum, stats = 0.0, []
            for micro in micro_batches:
                loss = self._compute_loss(self.model, micro)
                loss.backward()
                loss_sum += float(loss.detach())
                stats.append(self._last_loss_stats)
            grad_norm = torch.nn.utils.clip_grad_norm_(
                params, args.max_grad_norm if args.max_grad_norm > 0 else float("inf")
            )
            learning_rate = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            values = {
                "loss": loss_sum,
                "reward": float(torch.nanmean(batch["rewards"])),
                "reward_std": float(nanstd(batch["rewards"])),
                "completion_length": float(batch["completion_mask"].sum(1).float().mean()),
                "grad_norm": float(grad_norm),
                "learning_rate": learning_rate,
                "step_time": time.perf_counter() - step_start,
            }
            for i, fname in enumerate(self.reward_func_names):
                values[f"rewards/{fname}"] = float(torch.nanmean(batch["rewards_per_func"][:, i]))
            for key in stats[0]:
                values[key] = float(np.mean([s[key] for s in stats]))
            record.log(step, **values)
            if step % args.logging_steps == 0:
                bar.set_postfix(
                    reward=f"{np.mean(record.curve('reward')[1][-args.logging_steps :]):.3f}",
                    loss=f"{np.mean(record.curve('loss')[1][-args.logging_steps :]):.4f}",
                )
        record.wall_time_s = time.perf_counter() - started
        rewards = record.curve("reward")[1]
        record.metrics = {"first_reward": rewards[0], "last_reward": rewards[-1], "steps": args.max_steps}
        self.model.eval()
        return record


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
