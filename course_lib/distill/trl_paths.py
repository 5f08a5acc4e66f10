"""The same rewards and problems, driving TRL's trainers: GRPO (optionally LoRA on a 4-bit base) and
on-policy distillation (generalised JSD with ``trl.DistillationTrainer``, or GKD from ``trl.experimental``).

Pinned: ``trl==1.16.0`` (see pyproject.toml). TRL defaults this workbook relies on, or overrides:

* every config defaults to ``bf16=True``, which fails on CPU: :func:`trainer_args` sets ``bf16_supported()``;
* ``gradient_checkpointing`` defaults to True (slower for tiny models): turned off;
* ``GRPOConfig``: ``loss_type="dapo"``, ``beta=0.0`` (no reference model, no KL), ``epsilon=0.2``,
  ``scale_rewards="group"``, ``num_iterations=1``, ``use_bias_correction_kl=True``; its default learning
  rate (1e-6) is far too low for tiny models, so :func:`grpo_train_trl` defaults to 1e-5;
* ``per_device_train_batch_size × gradient_accumulation_steps`` must be divisible by ``num_generations``
  (checked here at construction, with a clear message);
* extra dataset columns (``answer``, ``answer_type``, ``metadata`` ...) reach reward functions as keyword
  arguments; ``metadata`` is a JSON string (``course_lib.data.schema.to_trl_rows``);
* ``DistillationConfig.beta`` selects the divergence (0 forward KL, 0.5 JSD, 1 reverse KL; default 1.0);
  ``GKDConfig`` mixes on-policy student samples with fraction ``lmbda`` (default 0.5), ``beta`` default 0.5,
  and needs a chat template (the lab tokenizer has one).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from course_lib.data.schema import Problem, to_trl_rows
from course_lib.distill.records import RunRecord, quiet_datasets, run_trainer
from course_lib.profiles import bf16_supported

ON_POLICY_METHODS = ("jsd", "gkd")


def trainer_args(max_steps: int, seed: int, progress: bool, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments shared by every TRL config here: CPU-safe precision, no checkpointing, no reports."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1; got {max_steps}")
    args = {
        "max_steps": max_steps,
        "seed": seed,
        "data_seed": seed,
        "lr_scheduler_type": "cosine",
        "logging_steps": max(1, min(10, max_steps // 20)),
        "save_strategy": "no",
        "report_to": "none",
        "bf16": bf16_supported(),
        "activation_checkpointing": False,
        "disable_tqdm": not progress,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": False,
    }
    args.update(overrides)
    return args


def default_reward_funcs() -> list[Callable]:
    """The workbook's verifiable reward (``course_lib.rewards.rewards.accuracy_reward``), in TRL's contract."""
    from course_lib.rewards.rewards import accuracy_reward

    return [accuracy_reward]


def prompt_rows(problems: Sequence[Problem], chat: bool = False):
    """A ``datasets.Dataset`` of prompt-only rows (plus the answer columns reward functions need).

    ``chat=False`` gives plain-text prompts (lab models); ``chat=True`` gives conversational prompts
    (``[{"role": "user", "content": ...}]``) that TRL renders with the tokenizer's chat template.
    """
    from datasets import Dataset

    if not problems:
        raise ValueError("need at least one problem to build a training dataset")
    rows = to_trl_rows(problems, style="conversational" if chat else "prompt_only")
    for row in rows:
        row.pop("completion", None)
    return Dataset.from_list(rows)


def grpo_train_trl(
    model,
    tokenizer,
    problems: Sequence[Problem],
    *,
    reward_funcs: Sequence[Callable] | None = None,
    max_steps: int = 60,
    num_generations: int = 8,
    per_device_train_batch_size: int = 8,
    max_completion_length: int = 96,
    learning_rate: float = 1e-5,
    temperature: float = 1.0,
    beta: float = 0.0,
    loss_type: str = "dapo",
    peft_config=None,
    chat: bool = False,
    seed: int = 0,
    progress: bool = True,
    **grpo_config: Any,
) -> tuple[RunRecord, Any]:
    """GRPO with ``trl.GRPOTrainer`` on ``problems``, rewarded by the workbook's verifiers.

    Args:
        model, tokenizer: the policy: a model object, e.g. a lab student, or a hub model from
            ``course_lib.models.hub.load_hub_model(id, quant="nf4", lora=True)`` (4-bit base + LoRA).
        problems: prompts with gold answers (the answer columns reach the reward functions).
        reward_funcs: TRL reward functions; default :func:`default_reward_funcs`.
        max_steps, num_generations, per_device_train_batch_size, max_completion_length, learning_rate,
            temperature, beta, loss_type: the ``GRPOConfig`` fields of those names.
        peft_config: e.g. ``course_lib.models.hub.lora_config()``: TRL wraps the model, only adapters train.
        chat: conversational prompts (hub models with a chat template).
        seed: trainer seed (sampling, data order, adapter init).
        progress: progress bar and logs.
        **grpo_config: any other ``GRPOConfig`` field (``scale_rewards``, ``epsilon``, ``num_iterations`` ...).

    Returns:
        ``(record, trainer)``; curves include ``reward``, ``loss``; ``trainer.model`` is the trained
        policy (a ``PeftModel`` when ``peft_config`` is given).
    """
    from trl import GRPOConfig, GRPOTrainer

    if num_generations < 2:
        raise ValueError(f"num_generations must be >= 2 (advantages compare completions within a group); got {num_generations}")
    per_step = per_device_train_batch_size * int(grpo_config.get("gradient_accumulation_steps", 1))
    if per_step % num_generations:
        raise ValueError(f"per_device_train_batch_size × gradient_accumulation_steps ({per_step}) must be divisible "
                         f"by num_generations ({num_generations}); e.g. use per_device_train_batch_size={num_generations}")
    settings = trainer_args(
        max_steps, seed, progress,
        num_generations=num_generations, per_device_train_batch_size=per_device_train_batch_size,
        max_completion_length=max_completion_length, learning_rate=learning_rate, temperature=temperature,
        beta=beta, loss_type=loss_type, **grpo_config,
    )
    with tempfile.TemporaryDirectory() as tmp, quiet_datasets(progress):
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=list(reward_funcs or default_reward_funcs()),
            args=GRPOConfig(output_dir=tmp, **settings),
            train_dataset=prompt_rows(problems, chat),
            processing_class=tokenizer,
            peft_config=peft_config,
        )
        config = {**settings, "n_problems": len(problems), "lora": peft_config is not None}
        record = run_trainer(trainer, "grpo-trl", config, seed, progress)
    trainer.model.eval()
    return record, trainer


def distill_on_policy(
    student,
    teacher,
    tokenizer,
    problems: Sequence[Problem],
    *,
    method: str = "jsd",
    beta: float = 0.5,
    lmbda: float = 0.5,
    max_steps: int = 60,
    per_device_train_batch_size: int = 8,
    max_completion_length: int = 96,
    learning_rate: float = 1e-4,
    temperature: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    **config: Any,
) -> tuple[RunRecord, Any]:
    """On-policy distillation: the student samples, the teacher's token distribution is the target.

    Args:
        student, teacher: causal LMs sharing ``tokenizer``'s vocabulary.
        problems: prompts (``method="gkd"`` also uses each problem's reference chain as the off-policy part).
        method: ``"jsd"`` (``trl.DistillationTrainer``, always on-policy) or ``"gkd"``
            (``trl.experimental.gkd.GKDTrainer``, on-policy with probability ``lmbda``).
        beta: generalised JSD interpolation (0 forward KL, 0.5 JSD, 1 reverse KL).
        lmbda: GKD only: the fraction of batches generated by the student.
        max_steps, per_device_train_batch_size, max_completion_length, learning_rate, temperature, seed:
            the config fields of those names (``max_new_tokens`` for GKD).
        progress: progress bar and logs.
        **config: any other field of the chosen config.

    Returns:
        ``(record, trainer)``.
    """
    if method not in ON_POLICY_METHODS:
        raise ValueError(f"method must be one of {ON_POLICY_METHODS}; got {method!r}")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1]; got {beta}")
    if not 0.0 <= lmbda <= 1.0:
        raise ValueError(f"lmbda must lie in [0, 1]; got {lmbda}")
    common = dict(per_device_train_batch_size=per_device_train_batch_size, learning_rate=learning_rate,
                  temperature=temperature, beta=beta, **config)
    with tempfile.TemporaryDirectory() as tmp, quiet_datasets(progress):
        if method == "jsd":
            from trl import DistillationConfig, DistillationTrainer

            settings = trainer_args(max_steps, seed, progress, max_completion_length=max_completion_length, **common)
            trainer = DistillationTrainer(model=student, teacher_model=teacher, args=DistillationConfig(tmp, **settings),
                                          train_dataset=prompt_rows(problems), processing_class=tokenizer)
        else:
            from datasets import Dataset
            from trl.experimental.gkd import GKDConfig, GKDTrainer

            settings = trainer_args(max_steps, seed, progress, max_new_tokens=max_completion_length, lmbda=lmbda, **common)
            rows = to_trl_rows(problems, style="conversational")
            dataset = Dataset.from_list([{"messages": r["prompt"] + r["completion"]} for r in rows])
            trainer = GKDTrainer(model=student, teacher_model=teacher, args=GKDConfig(tmp, **settings),
                                 train_dataset=dataset, processing_class=tokenizer)
        record = run_trainer(trainer, f"on-policy-{method}", {**settings, "method": method}, seed, progress)
    student.eval()
    return record, trainer
