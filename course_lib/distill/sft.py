"""Behavioural cloning: supervised fine-tuning on teacher outputs, answer-only or full chains.

Two ways to train, one loop each (no copies):

* :func:`sft_distill` – the baselines of the chapter with ``trl.SFTTrainer`` on a fixed set of problems:
  ``target="answer"`` clones only the final answer (``<answer>7</answer>``), ``target="chain"`` the whole
  reasoning chain (``<think>53-42=11. ...</think><answer>7</answer>``). Same problems, same budget,
  only the target text differs.
* :func:`train_causal_lm` – a small plain-torch loop for data that is a function of the step number
  (fresh problems every step): it trains the lab teacher and the "pretrained" base student, and it
  checkpoints and resumes bit-identically.

Both compute the loss on completion tokens only (prompt tokens are masked with -100) and append the
end-of-sequence token to each completion, as ``SFTTrainer`` does for prompt-completion data.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from course_lib.data.schema import Problem, to_trl_rows
from course_lib.distill.records import (
    RunRecord,
    latest_checkpoint,
    load_checkpoint,
    quiet_datasets,
    run_trainer,
    save_checkpoint,
)
from course_lib.distill.trl_paths import trainer_args

TARGETS = ("chain", "answer")
Pair = tuple[str, str]  # (prompt text, completion text); loss on the completion only


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_causal_lm`; names follow ``transformers.TrainingArguments``.

    Attributes:
        max_steps: optimizer steps.
        per_device_train_batch_size: sequences per step.
        learning_rate: peak learning rate of AdamW.
        warmup_steps: linear warm-up steps.
        lr_scheduler_type: a ``transformers.get_scheduler`` name (``"cosine"``, ``"linear"``, ``"constant"`` ...).
        weight_decay: AdamW weight decay.
        max_grad_norm: gradient clipping norm (0 disables clipping).
        max_length: sequences are truncated to this many tokens (prompt + completion + EOS).
        seed: torch seed set before training.
        logging_steps: the loss curve gets one point (the mean over the window) every this many steps.
        save_steps: save a checkpoint every this many steps (0: never).
        length_groups: split each batch, sorted by length, into this many micro-batches padded separately
            (less padding when lengths vary); the loss is still the mean over all completion tokens.
    """

    max_steps: int = 1000
    per_device_train_batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    lr_scheduler_type: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 256
    seed: int = 0
    logging_steps: int = 10
    save_steps: int = 0
    length_groups: int = 1

    def __post_init__(self) -> None:
        for name in ("max_steps", "per_device_train_batch_size", "max_length", "logging_steps", "length_groups"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        for name in ("warmup_steps", "save_steps", "weight_decay", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got {self.learning_rate}")
        if self.save_steps % self.logging_steps:
            raise ValueError(f"save_steps ({self.save_steps}) must be a multiple of logging_steps ({self.logging_steps}) "
                             "so that a resumed run logs the same loss windows")


def completion_target(problem: Problem, target: str) -> str:
    """The text a student is trained to produce for ``problem``: full chain or answer only."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}; got {target!r}")
    row = to_trl_rows([problem], style="prompt_completion", target=target)[0]
    return row["completion"]


def problem_pairs(problems: Sequence[Problem], target: str = "chain") -> list[Pair]:
    """``(prompt, completion)`` pairs for SFT; chain targets need every problem to carry a chain."""
    if target == "chain":
        missing = [p.id for p in problems if p.chain is None]
        if missing:
            raise ValueError(f"target='chain' needs a reasoning chain on every problem; {len(missing)} have none, "
                             f"e.g. {missing[:3]}")
    return [(row["prompt"], row["completion"]) for row in to_trl_rows(problems, "prompt_completion", target)]


def encode_pairs(tokenizer, pairs: Sequence[Pair], max_length: int = 256) -> dict[str, torch.Tensor]:
    """Tokenize pairs for causal-LM training, right-padded.

    Returns:
        ``input_ids`` and ``attention_mask`` (B, T) and ``labels`` (B, T) with -100 on prompt and padding;
        T = the longest ``prompt + completion + EOS`` in the batch, at most ``max_length``.
    """
    if not pairs:
        raise ValueError("encode_pairs needs at least one (prompt, completion) pair")
    rows, labels = [], []
    for prompt, completion in pairs:
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (p + c)[:max_length]
        rows.append(ids)
        labels.append(([-100] * len(p) + c)[:max_length])
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])  # (B, T)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])  # (B, T)
    label_ids = torch.tensor([lab + [-100] * (width - len(lab)) for lab in labels])  # (B, T)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": label_ids}


def epoch_batches(pairs: Sequence[Pair], batch_size: int, seed: int = 0) -> Callable[[int], list[Pair]]:
    """A step -> batch function over a fixed list, reshuffled (seeded) every epoch; step counts from 1."""
    if not pairs:
        raise ValueError("epoch_batches needs at least one pair")
    n, per_epoch = len(pairs), max(1, len(pairs) // batch_size)

    def batch(step: int) -> list[Pair]:
        epoch, index = divmod(step - 1, per_epoch)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
        return [pairs[i] for i in order[index * batch_size : (index + 1) * batch_size]]

    return batch


def _accumulate(model, tokenizer, pairs: Sequence[Pair], config: TrainConfig) -> float:
    """Backward the mean token loss of one batch, in ``config.length_groups`` length-sorted micro-batches."""
    ordered = sorted(pairs, key=lambda pc: len(pc[0]) + len(pc[1]))
    size = math.ceil(len(ordered) / config.length_groups)
    encoded = [encode_pairs(tokenizer, ordered[i : i + size], config.max_length) for i in range(0, len(ordered), size)]
    counts = [int((e["labels"][:, 1:] != -100).sum()) for e in encoded]  # tokens that carry loss
    total, value = sum(counts), 0.0
    for batch, count in zip(encoded, counts):
        if count == 0:
            continue
        loss = model(**batch).loss * (count / total)
        loss.backward()
        value += loss.item()
    return value


def train_causal_lm(
    model,
    tokenizer,
    batch_fn: Callable[[int], Sequence[Pair]],
    config: TrainConfig,
    *,
    name: str = "train",
    output_dir: str | Path | None = None,
    resume: bool = False,
    eval_fn: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    eval_steps: int = 0,
    progress: bool = True,
) -> RunRecord:
    """Train a causal LM with AdamW on ``batch_fn(step)`` for steps 1..``config.max_steps``.

    Args:
        model: a causal LM (trained in place).
        tokenizer: its tokenizer.
        batch_fn: step -> list of ``(prompt, completion)`` pairs; a pure function of the step, so that a
            resumed run sees the same data (e.g. fresh seeded problems per step, or :func:`epoch_batches`).
        config: optimisation settings.
        name: the record's name.
        output_dir: where ``checkpoint-N`` folders go (needed for ``save_steps`` and ``resume``).
        resume: continue from the latest checkpoint in ``output_dir`` (if any).
        eval_fn: model -> metrics, called every ``eval_steps`` steps and logged to the record.
        eval_steps: how often to call ``eval_fn`` (0: never).
        progress: tqdm progress bar.

    Returns:
        The run record: curves ``loss`` (window means) and ``learning_rate``, eval metrics, wall time.
    """
    from transformers import get_scheduler

    if (config.save_steps or resume) and output_dir is None:
        raise ValueError("save_steps > 0 or resume=True needs an output_dir for the checkpoints")
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler(config.lr_scheduler_type, optimizer, config.warmup_steps, config.max_steps)
    record = RunRecord(name=name, config=asdict(config), seed=config.seed)
    start = 0
    checkpoint = latest_checkpoint(output_dir) if resume else None
    if checkpoint is not None:
        start, record = load_checkpoint(checkpoint, model, optimizer, scheduler)
    model.train()
    window: list[float] = []
    base_time, t0 = record.wall_time_s, time.perf_counter()
    bar = tqdm(range(start + 1, config.max_steps + 1), desc=name, disable=not progress, leave=False)
    for step in bar:
        loss = _accumulate(model, tokenizer, batch_fn(step), config)
        if not math.isfinite(loss):
            raise FloatingPointError(f"loss became {loss} at step {step}; lower learning_rate "
                                     f"({config.learning_rate}) or raise warmup_steps ({config.warmup_steps})")
        if config.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        window.append(loss)
        if step % config.logging_steps == 0 or step == config.max_steps:
            record.log(step, loss=sum(window) / len(window), learning_rate=scheduler.get_last_lr()[0])
            bar.set_postfix(loss=f"{window[-1]:.3f}")
            window = []
        if eval_fn is not None and eval_steps and step % eval_steps == 0:
            model.eval()
            record.log(step, **eval_fn(model))
            model.train()
        record.wall_time_s = base_time + time.perf_counter() - t0
        if config.save_steps and step % config.save_steps == 0:
            save_checkpoint(output_dir, step, model, tokenizer, optimizer, scheduler, record)
    model.eval()
    return record


def sft_distill(
    model,
    tokenizer,
    problems: Sequence[Problem],
    target: str = "chain",
    *,
    max_steps: int = 400,
    per_device_train_batch_size: int = 16,
    learning_rate: float = 1e-3,
    warmup_steps: int = 20,
    seed: int = 0,
    max_length: int = 256,
    output_dir: str | Path | None = None,
    progress: bool = True,
    **sft_config: object,
):
    """Behavioural cloning with ``trl.SFTTrainer`` on prompt-completion rows built from ``problems``.

    Args:
        model: the student (trained in place).
        tokenizer: its tokenizer (passed as ``processing_class``).
        problems: the distillation set; with ``target="chain"`` each needs a ``chain`` (e.g. from
            :func:`course_lib.distill.teacher.best_of_k`).
        target: ``"chain"`` (``<think>…</think><answer>…</answer>``) or ``"answer"`` (``<answer>…</answer>``).
        max_steps, per_device_train_batch_size, learning_rate, warmup_steps, seed, max_length: the
            ``SFTConfig`` fields of those names (cosine schedule).
        output_dir: the trainer's folder (a temporary folder if None; nothing is saved by default).
        progress: show the trainer's progress bar.
        **sft_config: any other ``trl.SFTConfig`` field, e.g. ``save_steps=50, save_strategy="steps"``.

    Defaults relied on (TRL 1.16): prompt-completion data turns on ``completion_only_loss``; the EOS
    token is appended to each completion; CPU-safe settings come from
    :func:`course_lib.distill.trl_paths.trainer_args`.

    Returns:
        ``(record, trainer)``: the run record (curves ``loss``, ``learning_rate``, ``grad_norm``) and the trainer.
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    pairs = problem_pairs(problems, target)
    dataset = Dataset.from_dict({"prompt": [p for p, _ in pairs], "completion": [c for _, c in pairs]})
    settings = trainer_args(
        max_steps, seed, progress, per_device_train_batch_size=per_device_train_batch_size,
        learning_rate=learning_rate, warmup_steps=warmup_steps, max_length=max_length, **sft_config,
    )
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(output_dir=str(output_dir or tmp), **settings)
        with quiet_datasets(progress):
            trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
        record = run_trainer(trainer, f"sft-{target}", {"target": target, "n_problems": len(pairs), **settings},
                             seed, progress)
    model.eval()
    return record, trainer
