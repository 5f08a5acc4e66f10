"""Quantization-aware distillation (QAD): train a student *through* its quantizers to match a teacher.

The chapter's loop, made real::

    quantize(student, bits)                       # fake quantizers on the linear layers (STE gradients)
    for batch in data:                            # prompt + completion token sequences
        p_T = teacher(batch)  ;  p_S = student(batch)   # student weights are quantized (or noised) here
        loss = D(p_T, p_S) on completion tokens   # forward KL, reverse KL or generalised JSD
        loss.backward()  ;  optimizer.step()      # updates the full-precision weights behind the quantizers

Post-training quantization (PTQ) is the same student quantized with no training; comparing the two at
one bit width isolates what training through the quantizer buys.

Divergences (per token, summed over the vocabulary V; T = teacher, S = student, temperature τ):

* ``"forward"``: KL(T‖S) = Σ_v p_T(v) (log p_T(v) − log p_S(v))  (mode covering; classic KD).
* ``"reverse"``: KL(S‖T) = Σ_v p_S(v) (log p_S(v) − log p_T(v))  (mode seeking; MiniLLM).
* ``"jsd"``: generalised JSD_β = β KL(T‖M) + (1−β) KL(S‖M), M = β p_T + (1−β) p_S (GKD, Agarwal et al.
  2024, Eq. 1), with TRL's convention that β = 0 is forward KL and β = 1 reverse KL
  (``trl.experimental.gkd.GKDTrainer.generalized_jsd_loss``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_lib.data.schema import Problem, model_prompt
from course_lib.distill.pipeline import greedy_answers
from course_lib.distill.records import RunRecord
from course_lib.distill.sft import encode_pairs, epoch_batches, problem_pairs
from course_lib.models.generate import generate
from course_lib.profiles import active_profile
from course_lib.quant.layers import DEFAULT_EXCLUDE, frozen_quantizers, quantize_model, remove_quantizers
from course_lib.quant.noise import NOISE_KINDS, add_quant_noise
from course_lib.quant.quantizers import QuantSpec

DIVERGENCES = ("forward", "reverse", "jsd")
COMPLETIONS = ("reference", "teacher")
Batch = Mapping[str, torch.Tensor]  # input_ids, attention_mask, labels: (B, T); labels -100 off the completion


def token_divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    divergence: str = "forward",
    beta: float = 0.5,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Divergence between teacher and student next-token distributions at every position.

    Args:
        student_logits, teacher_logits: (..., V) raw logits over the same vocabulary.
        divergence: ``"forward"``, ``"reverse"`` or ``"jsd"`` (see the module docstring).
        beta: the JSD interpolation β in [0, 1] (``"jsd"`` only).
        temperature: softmax temperature τ > 0 applied to both.

    Returns:
        (...,) divergence in nats per position.
    """
    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}; choose one of {', '.join(DIVERGENCES)}")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1]; got {beta!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature!r}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits differ in shape: {tuple(student_logits.shape)} vs "
            f"{tuple(teacher_logits.shape)}; they must share the tokenizer (vocabulary)"
        )
    log_s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    if divergence == "jsd" and beta in (0.0, 1.0):
        divergence = "forward" if beta == 0.0 else "reverse"
    if divergence == "forward":
        return F.kl_div(log_s, log_t, reduction="none", log_target=True).sum(-1)
    if divergence == "reverse":
        return F.kl_div(log_t, log_s, reduction="none", log_target=True).sum(-1)
    b = torch.tensor(beta, dtype=log_s.dtype, device=log_s.device)
    log_m = torch.logsumexp(torch.stack([log_t + torch.log(b), log_s + torch.log1p(-b)]), dim=0)  # (..., V)
    kl_t = F.kl_div(log_m, log_t, reduction="none", log_target=True).sum(-1)
    kl_s = F.kl_div(log_m, log_s, reduction="none", log_target=True).sum(-1)
    return beta * kl_t + (1 - beta) * kl_s


def completion_logits(teacher, student, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Student and teacher logits at the positions that predict completion tokens.

    Returns:
        ``(student_logits, teacher_logits, mask)``: logits (B, T-1, V), mask (B, T-1); position t-1
        predicts token t and is kept where ``labels[t] != -100``. Gradients flow into the student only.
    """
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        teacher_logits = teacher(**inputs).logits[:, :-1]  # (B, T-1, V)
    student_logits = student(**inputs).logits[:, :-1]  # (B, T-1, V)
    return student_logits, teacher_logits, batch["labels"][:, 1:] != -100


@torch.no_grad()
def distillation_kl(teacher, student, batches: Sequence[Batch], divergence: str = "forward", beta: float = 0.5) -> float:
    """Token-weighted mean divergence (nats/token) of ``student`` from ``teacher`` over completion tokens.

    Both models are evaluated in eval mode (quant noise off); quantized weights are computed once.
    """
    if not batches:
        raise ValueError("distillation_kl needs at least one batch")
    modes = teacher.training, student.training
    teacher.eval(), student.eval()
    total, count = 0.0, 0
    try:
        with frozen_quantizers():
            for batch in batches:
                student_logits, teacher_logits, mask = completion_logits(teacher, student, batch)
                values = token_divergence(student_logits, teacher_logits, divergence, beta)  # (B, T-1)
                total += float(values[mask].sum())
                count += int(mask.sum())
    finally:
        teacher.train(modes[0]), student.train(modes[1])
    if count == 0:
        raise ValueError("the batches hold no completion tokens (every label is -100)")
    return total / count


def greedy_accuracy(model, tokenizer, problems: Sequence[Problem], scorer=None, max_new_tokens: int | None = None,
                    progress: bool = True) -> float:
    """Share of ``problems`` whose greedy completion verifies (``scorer``: problem, text -> (correct, answer);
    default ``rewards.check_answer``); quantized weights are computed once for the whole run."""
    if not problems:
        raise ValueError("greedy_accuracy needs at least one problem")
    budget = max_new_tokens or active_profile().max_new_tokens
    with frozen_quantizers():
        scored = greedy_answers(model, tokenizer, problems, scorer, max_new_tokens=budget, progress=progress)
    return sum(c.correct for c in scored) / len(scored)


def teacher_pairs(teacher, tokenizer, problems: Sequence[Problem], max_new_tokens: int | None = None,
                  progress: bool = True) -> list[tuple[str, str]]:
    """``(prompt, completion)`` pairs whose completions are the teacher's own greedy chains (unfiltered)."""
    budget = max_new_tokens or active_profile().max_new_tokens
    gens = generate(teacher, tokenizer, problems, max_new_tokens=budget, progress=progress)
    return [(model_prompt(p), g[0].text) for p, g in zip(problems, gens)]


def distillation_batches(
    problems: Sequence[Problem],
    tokenizer,
    batch_size: int = 16,
    completions: str = "reference",
    teacher=None,
    max_length: int = 256,
    seed: int = 0,
    progress: bool = True,
) -> list[Batch]:
    """Token batches (``encode_pairs`` format) for distillation from problems, in a seeded shuffled order.

    ``completions="reference"`` uses each problem's ``chain`` (e.g. a teacher's verified chains from
    :func:`course_lib.distill.teacher.teacher_distillation_set`); ``"teacher"`` lets ``teacher`` write them.
    """
    if completions not in COMPLETIONS:
        raise ValueError(f"completions must be one of {COMPLETIONS}; got {completions!r}")
    if not problems:
        raise ValueError("no problems to distill on")
    if completions == "teacher":
        if teacher is None:
            raise ValueError("completions='teacher' needs the teacher model")
        pairs = teacher_pairs(teacher, tokenizer, problems, progress=progress)
    else:
        pairs = problem_pairs(problems, "chain")
    batch_fn = epoch_batches(pairs, batch_size, seed)
    n_batches = max(1, len(pairs) // batch_size)
    return [encode_pairs(tokenizer, batch_fn(step), max_length) for step in range(1, n_batches + 1)]


def _check_batches(batches: Sequence[Batch]) -> list[Batch]:
    batches = list(batches)
    if not batches:
        raise ValueError("data holds no batches")
    for i, b in enumerate(batches):
        missing = {"input_ids", "attention_mask", "labels"} - set(b)
        if missing:
            raise ValueError(
                f"token batch {i} lacks {sorted(missing)}; a batch needs input_ids, attention_mask and labels "
                "(-100 off the completion), as course_lib.distill.sft.encode_pairs returns"
            )
    return batches


def _tokenizer_for(student, tokenizer):
    if tokenizer is not None:
        return tokenizer
    from course_lib.models.tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    vocab = getattr(getattr(student, "config", None), "vocab_size", None)
    if vocab != len(tokenizer):
        raise ValueError(
            f"the student's vocabulary ({vocab}) is not the lab character tokenizer's ({len(tokenizer)}); pass tokenizer="
        )
    return tokenizer


def quant_aware_distill(
    teacher,
    student,
    data: Sequence[Problem] | Sequence[Batch],
    quant_bits: int = 4,
    *,
    scheme: str = "symmetric",
    granularity: str = "group",
    group_size: int = 32,
    noise: str | None = None,
    noise_p: float = 0.5,
    divergence: str = "forward",
    beta: float = 0.5,
    temperature: float = 1.0,
    steps: int | None = None,
    lr: float = 3e-5,
    warmup_steps: int | None = None,
    batch_size: int = 16,
    max_grad_norm: float = 1.0,
    completions: str = "reference",
    tokenizer=None,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    seed: int = 0,
    progress: bool = True,
) -> tuple[torch.nn.Module, RunRecord]:
    """Distill ``teacher`` into a quantized ``student`` (trained in place) and return it with its record.

    Args:
        teacher: the frozen teacher (any causal LM over the student's vocabulary).
        student: the student; gets fake quantizers on its linear layers (``include``/``exclude``).
        data: problems (completions from their reference chains or the teacher, see ``completions``) or
            token batches with ``input_ids``, ``attention_mask``, ``labels`` (-100 off the completion).
        quant_bits, scheme, granularity, group_size: the quantizer (:class:`QuantSpec`).
        noise: None trains through the quantizers themselves (QAT with STE); ``"uniform"`` or
            ``"fraction"`` trains under :class:`~course_lib.quant.noise.QuantNoise` instead (Quant-Noise,
            ``noise_p`` = fraction quantized); either way the returned student carries the quantizers.
        divergence, beta, temperature: the loss (see :func:`token_divergence`).
        steps: optimizer steps (default: the active profile's ``steps["qad"]``).
        lr: AdamW learning rate. QAD fine-tunes a trained student, so keep it small: Adam's first updates
            move every weight by about ``lr`` in the gradient's sign direction, all together, and a step
            much larger than the quantizer's grid step overshoots (coarser grids tolerate larger ``lr``).
        warmup_steps: linear warm-up (default: a tenth of ``steps``); max_grad_norm: clipping (0: off).
        batch_size: sequences per step (problems only).
        completions: ``"reference"`` or ``"teacher"`` (problems only).
        tokenizer: the shared tokenizer (default: the lab character tokenizer).
        seed: seeds the data order, the noise and torch.

    Returns:
        ``(student, record)``: the student in eval mode with fake quantizers attached, and a
        :class:`~course_lib.distill.records.RunRecord` whose curves ``loss`` (the chosen divergence)
        and ``kl`` (forward KL, nats/token) have one point per step.
    """
    spec = QuantSpec(quant_bits, scheme, granularity, group_size)
    if noise is not None and noise not in NOISE_KINDS:
        raise ValueError(f"noise must be None or one of {', '.join(NOISE_KINDS)}; got {noise!r}")
    token_divergence(torch.zeros(1, 2), torch.zeros(1, 2), divergence, beta, temperature)  # validate early
    steps = active_profile().steps["qad"] if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr!r}")
    warmup_steps = steps // 10 if warmup_steps is None else warmup_steps
    if data and isinstance(data[0], Problem):
        tokenizer = _tokenizer_for(student, tokenizer)
        batches = distillation_batches(data, tokenizer, batch_size, completions, teacher, seed=seed, progress=progress)
    else:
        batches = _check_batches(data)

    torch.manual_seed(seed)
    if noise is None:
        layers = quantize_model(student, spec, include, exclude)
    else:
        layers = add_quant_noise(student, spec, noise, noise_p, include, exclude, seed=seed)
    config = dict(dataclasses.asdict(spec), noise=noise, noise_p=noise_p, divergence=divergence, beta=beta, temperature=temperature,
                  steps=steps, lr=lr, warmup_steps=warmup_steps, batch_size=batch_size, max_grad_norm=max_grad_norm,
                  completions=completions, include=list(include), exclude=list(exclude), layers=len(layers))
    record = RunRecord(name=f"qad-{spec.label.replace(' ', '-')}", config=config, seed=seed)
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: min(1.0, (i + 1) / max(1, warmup_steps)))
    teacher.eval()
    student.train()
    started = time.perf_counter()
    for step in tqdm(range(1, steps + 1), desc=f"QAD {spec.label}", disable=not progress, leave=False):
        batch = batches[(step - 1) % len(batches)]
        student_logits, teacher_logits, mask = completion_logits(teacher, student, batch)
        loss = token_divergence(student_logits, teacher_logits, divergence, beta, temperature)[mask].mean()
        kl = token_divergence(student_logits.detach(), teacher_logits)[mask].mean()
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"QAD loss became {loss.item()} at step {step}; lower lr ({lr})")
        loss.backward()
        if max_grad_norm:
            torch.nn.utils.clip_grad_norm_(student.parameters(), max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        record.log(step, loss=loss.item(), kl=kl.item(), learning_rate=scheduler.get_last_lr()[0])
    record.wall_time_s = time.perf_counter() - started
    if noise is not None:
        remove_quantizers(student)
        quantize_model(student, spec, include, exclude)
    return student.eval(), record


def ptq(student, quant_bits: int = 4, **spec_kwargs) -> torch.nn.Module:
    """Post-training quantization: a deep copy of ``student`` with fake quantizers, no training.

    ``spec_kwargs``: ``scheme``, ``granularity``, ``group_size``, ``include``, ``exclude``.
    """
    include = spec_kwargs.pop("include", ("*",))
    exclude = spec_kwargs.pop("exclude", DEFAULT_EXCLUDE)
    quantized = copy.deepcopy(student)
    quantize_model(quantized, QuantSpec(quant_bits, **spec_kwargs), include, exclude)
    return quantized.eval()
