"""Batched sampling of reasoning chains with per-token log-probabilities.

One function serves tiny lab models and hub models: prompts are rendered either as plain text
(``question + "\\n"``) or through the tokenizer's chat template, then generated in batches with
left padding. Generation stops at ``</answer>`` or the end-of-sequence token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from course_lib.data.schema import ANSWER_CLOSE, Problem, model_prompt


@dataclass
class Generation:
    """One sampled completion.

    Attributes:
        prompt: the rendered prompt text the model saw.
        text: the completion text, special tokens removed, cut after ``</answer>``.
        token_ids: generated token ids (length T, padding and tokens after the stop removed).
        logprobs: log-probability (nats) of each generated token under the model's raw distribution
            (temperature 1, no top-p), length T; useful for confidence and calibration.
    """

    prompt: str
    text: str
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)

    @property
    def sum_logprob(self) -> float:
        return float(sum(self.logprobs))


def render_prompts(tokenizer, items: Sequence[Problem | str], chat: bool = False) -> list[str]:
    """Render problems (or raw question strings) as model prompts.

    ``chat=False`` gives ``question + "\\n"`` (the lab convention, see ``data.schema.model_prompt``);
    ``chat=True`` applies the tokenizer's chat template with a generation prompt (hub models).
    """
    if not chat:
        return [model_prompt(x) for x in items]
    texts = [x if isinstance(x, str) else x.prompt for x in items]
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True)
        for t in texts
    ]


def _cut_at_stop(ids: list[int], tokenizer, stop: str | None) -> tuple[list[int], str]:
    """Drop padding/EOS and everything after the first ``stop`` string; return ids and decoded text."""
    kept: list[int] = []
    for i in ids:
        if i in (tokenizer.eos_token_id, tokenizer.pad_token_id):
            break
        kept.append(i)
    text = tokenizer.decode(kept, skip_special_tokens=True)
    if stop and stop in text:
        text = text[: text.index(stop) + len(stop)]
        # keep the smallest prefix of tokens that decodes to the cut text
        for n in range(1, len(kept) + 1):
            if tokenizer.decode(kept[:n], skip_special_tokens=True).startswith(text):
                kept = kept[:n]
                break
    return kept, text


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: Sequence[Problem | str],
    *,
    num_samples: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    max_new_tokens: int = 96,
    batch_size: int = 32,
    chat: bool = False,
    stop: str | None = ANSWER_CLOSE,
    seed: int = 0,
    progress: bool = True,
) -> list[list[Generation]]:
    """Sample ``num_samples`` completions for each prompt.

    Args:
        model: a causal LM (tiny lab model, hub model, peft model).
        tokenizer: its tokenizer; left padding is used whatever it is set to.
        prompts: problems or question strings, rendered by :func:`render_prompts`.
        num_samples: completions per prompt (K); with ``temperature=0`` all K are the greedy one.
        temperature: 0 for greedy decoding, else sampling temperature.
        top_p: nucleus sampling mass (sampling only).
        max_new_tokens: generation budget per completion, in tokens.
        batch_size: sequences per forward pass (prompts × samples are flattened, then batched).
        chat: render prompts with the chat template (hub models).
        stop: text after which a completion is cut (default ``</answer>``); None to keep everything.
        seed: torch seed for sampling, so the same call gives the same chains.
        progress: show a tqdm progress bar.

    Returns:
        A list with one entry per prompt, each a list of ``num_samples`` :class:`Generation`.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1; got {num_samples}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0; got {temperature}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    rendered = render_prompts(tokenizer, prompts, chat=chat)
    flat = [p for p in rendered for _ in range(num_samples)]  # (N*K,)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    out: list[Generation] = []
    sampling = temperature > 0
    try:
        for start in tqdm(range(0, len(flat), batch_size), desc="generate", disable=not progress, leave=False):
            chunk = flat[start : start + batch_size]
            enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            kwargs = {"do_sample": True, "temperature": temperature, "top_p": top_p} if sampling else {"do_sample": False}
            res = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                stop_strings=[stop] if stop else None,
                tokenizer=tokenizer if stop else None,
                output_logits=True,
                return_dict_in_generate=True,
                **kwargs,
            )
            new = res.sequences[:, enc["input_ids"].shape[1] :]  # (B, T)
            logits = torch.stack(res.logits, dim=1).float()  # (B, T, V), raw
            logp = torch.log_softmax(logits, dim=-1).gather(-1, new.unsqueeze(-1)).squeeze(-1)  # (B, T)
            for row, (ids, lps) in enumerate(zip(new.tolist(), logp.tolist())):
                kept, text = _cut_at_stop(ids, tokenizer, stop)
                out.append(Generation(prompt=chunk[row], text=text, token_ids=kept, logprobs=lps[: len(kept)]))
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return [out[i * num_samples : (i + 1) * num_samples] for i in range(len(rendered))]
