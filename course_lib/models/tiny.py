"""Tiny causal language models built from a ``transformers`` Llama config.

Llama, not Qwen2: with a Qwen2 config ``AutoTokenizer.from_pretrained(folder)`` silently swaps in
Qwen2's own tokenizer, which drops the spaces and newlines of a character vocabulary.
The models are ordinary ``LlamaForCausalLM`` objects, so ``generate``, TRL trainers, peft and
``save_pretrained`` / ``from_pretrained`` all work on them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerBase,
)

from course_lib.models.tokenizer import build_char_tokenizer


@dataclass(frozen=True)
class TinySpec:
    """Shape of a tiny Llama. Parameter counts assume the ~100-token character vocabulary."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int = 512


TINY_SPECS: dict[str, TinySpec] = {
    "tiny-250k": TinySpec(hidden_size=64, num_layers=4, num_heads=4, intermediate_size=256),  # 0.27M
    "tiny-1m": TinySpec(hidden_size=128, num_layers=4, num_heads=4, intermediate_size=512),  # 1.06M
    "tiny-3m": TinySpec(hidden_size=192, num_layers=6, num_heads=6, intermediate_size=768),  # 3.6M
    "tiny-8m": TinySpec(hidden_size=256, num_layers=8, num_heads=8, intermediate_size=1024),  # 8.4M
    "tiny-20m": TinySpec(hidden_size=384, num_layers=8, num_heads=8, intermediate_size=1536),  # 19M
}


def tiny_config(size: str | TinySpec, tokenizer: PreTrainedTokenizerBase) -> LlamaConfig:
    """A ``LlamaConfig`` for a named size (see :data:`TINY_SPECS`) and a tokenizer's vocabulary."""
    if isinstance(size, str):
        if size not in TINY_SPECS:
            raise ValueError(f"unknown tiny model size {size!r}; choose one of {', '.join(TINY_SPECS)}")
        size = TINY_SPECS[size]
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_heads,
        max_position_embeddings=size.max_positions,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def build_tiny_model(
    size: str | TinySpec = "tiny-1m", tokenizer: PreTrainedTokenizerBase | None = None, seed: int = 0
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerBase]:
    """Build a freshly initialised tiny Llama and its tokenizer (character-level by default).

    Returns:
        ``(model, tokenizer)``; the model is float32 in eval mode with weights drawn from ``seed``.
    """
    tokenizer = tokenizer or build_char_tokenizer()
    config = tiny_config(size, tokenizer)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model.eval(), tokenizer


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters, counting tied tensors once."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def model_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of a model's class, name and weights (sum and absolute sum of every parameter tensor):
    the key under which results computed from this model can be cached."""
    h = hashlib.sha1()
    h.update(f"{type(model).__name__}|{getattr(model.config, 'name_or_path', '')}".encode())
    for name, p in model.named_parameters():
        t = p.detach().double()
        h.update(f"{name}:{tuple(p.shape)}:{t.sum().item():.12e}:{t.abs().sum().item():.12e}".encode())
    return h.hexdigest()[:16]


def save_model(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, folder: str | Path) -> Path:
    """Save model (safetensors) and tokenizer side by side so :func:`load_model` can restore both."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def load_model(folder: str | Path, dtype: torch.dtype = torch.float32):
    """Load a model and tokenizer saved by :func:`save_model` (or any local HF folder); eval mode."""
    folder = Path(folder)
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"no model at {folder} (expected config.json there)")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    return model.eval(), tokenizer
