"""The settings of one GRPO run, named and defaulted as in ``trl.GRPOConfig`` (TRL 1.16).

Only the fields the from-scratch trainer (:mod:`course_lib.distill.grpo`) implements are here; each keeps
TRL's name and default, so a config moves between the two trainers with :meth:`GRPOConfig.to_trl_kwargs`.
Bad values fail at construction with a message that names the field, the value and what would be valid
(TRL catches an unknown ``loss_type`` only at the first training step).

Papers the fields come from:

* GRPO — Shao et al. 2024, *DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language
  Models*, arXiv:2402.03300 (group-relative advantages, per-sequence length normalisation, k3 KL penalty).
* PPO — Schulman et al. 2017, *Proximal Policy Optimization Algorithms*, arXiv:1707.06347 (ratio clipping).
* Dr. GRPO — Liu et al. 2025, *Understanding R1-Zero-Like Training: A Critical Perspective*,
  arXiv:2503.20783 (no length normalisation, no std scaling).
* DAPO — Yu et al. 2025, *DAPO: An Open-Source LLM Reinforcement Learning System at Scale*,
  arXiv:2503.14476 (token-level normalisation, decoupled "clip-higher" ``epsilon_high``).
* Lite PPO — Liu et al. 2025, *Tricks or Traps? A Deep Dive into RL for LLM Reasoning*, arXiv:2508.08221
  (batch-level reward scaling).
* DeepSeek-V3.2 — DeepSeek-AI 2025, arXiv:2512.02556 (importance-weighted, unbiased KL estimate).
* DeepSeek-R1 — DeepSeek-AI 2025, arXiv:2501.12948 (``beta = 0.001``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

LOSS_TYPES = ("grpo", "dr_grpo", "dapo")
SCALE_REWARDS = ("group", "batch", "none")
LR_SCHEDULER_TYPES = ("linear", "constant")


@dataclass
class GRPOConfig:
    """Hyper-parameters of GRPO, with TRL's names and defaults.

    Generation:
        num_generations: G, completions sampled per prompt (a *group*); at least 2, since advantages
            compare completions within a group (GRPO).
        max_completion_length: tokens generated per completion at most; ``|o_i|`` in GRPO and the
            constant normaliser of ``dr_grpo`` (Dr. GRPO).
        temperature: sampling temperature; the training log-probabilities use the same temperature
            (``logits / temperature``), so ratios compare like with like.

    Batching and optimisation (``transformers.TrainingArguments`` defaults):
        per_device_train_batch_size: completions (not prompts) per forward/backward pass.
        gradient_accumulation_steps: micro-batches per optimizer step. One *generation batch* of
            ``per_device_train_batch_size × gradient_accumulation_steps`` completions, i.e.
            ``that / num_generations`` prompts, is sampled per optimizer step (TRL's default
            ``steps_per_generation = gradient_accumulation_steps``); it must hold whole groups.
        learning_rate: AdamW learning rate (TRL's GRPO default 1e-6 is tuned for billion-parameter
            models; tiny lab models need ~1e-5 to 1e-3).
        lr_scheduler_type: ``"linear"`` (decay to 0 at ``max_steps``, TRL's default) or ``"constant"``.
        max_grad_norm: global gradient-norm clip before each optimizer step (0 disables it).
        max_steps: optimizer steps to run. TRL's default (-1) means "use ``num_train_epochs``"; this
            trainer counts steps only, so it needs a positive number.
        seed: seeds torch/random/numpy at the start of ``train`` and the prompt shuffling.
        shuffle_dataset: visit prompts in a seeded random order each epoch (else in dataset order).

    GRPO objective:
        beta: weight of the KL penalty to the reference model (GRPO); 0 (TRL's default) loads no
            reference model. DeepSeek-R1 used 0.001.
        epsilon: lower clipping range, the ratio is kept above ``1 - epsilon`` (PPO).
        epsilon_high: upper clipping range, the ratio is kept below ``1 + epsilon_high``; None means
            ``epsilon`` (symmetric PPO clipping). DAPO's "clip-higher" recommends 0.28.
        loss_type: how per-token losses become one number (see ``course_lib.distill.grpo.grpo_loss``):
            ``"grpo"`` (mean over each sequence's tokens, then over sequences: GRPO),
            ``"dr_grpo"`` (sum over tokens / (batch × max_completion_length): Dr. GRPO),
            ``"dapo"`` (sum over tokens / tokens in the generation batch: DAPO; TRL's default).
        scale_rewards: divide centred rewards by the std of their ``"group"`` (GRPO, TRL's default),
            of the whole ``"batch"`` (Lite PPO), or not at all, ``"none"`` (Dr. GRPO). ``True``/``False``
            are accepted as in TRL and mean ``"group"``/``"none"``.
        use_bias_correction_kl: multiply the per-token KL by the importance ratio
            ``π_θ / π_θ_old`` (DeepSeek-V3.2; TRL's default True). Its value is 1 on-policy but its
            gradient is not, so it changes the KL gradient even then.
        num_iterations: μ, optimizer steps taken on each generation batch (GRPO); above 1 the batch is
            reused and the ratio moves away from 1, which is when clipping bites.
        reward_weights: one weight per reward function (None: all 1.0); rewards are summed with these
            weights before advantages are computed.

    Logging:
        logging_steps: the progress bar shows running means over this many steps (every step is
            recorded in the run record regardless).
        disable_tqdm: hide the progress bar.
    """

    num_generations: int = 8
    max_completion_length: int = 512
    temperature: float = 1.0
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-6
    lr_scheduler_type: str = "linear"
    max_grad_norm: float = 1.0
    max_steps: int = 100
    seed: int = 42
    shuffle_dataset: bool = True
    beta: float = 0.0
    epsilon: float = 0.2
    epsilon_high: float | None = None
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    use_bias_correction_kl: bool = True
    num_iterations: int = 1
    reward_weights: list[float] | None = None
    logging_steps: int = 10
    disable_tqdm: bool = False

    def __post_init__(self) -> None:
        self.scale_rewards = {True: "group", False: "none"}.get(self.scale_rewards, self.scale_rewards)
        _require_int(self, "num_generations", minimum=2, why="advantages compare completions within a group")
        _require_int(self, "max_completion_length", minimum=1)
        _require_int(self, "per_device_train_batch_size", minimum=1)
        _require_int(self, "gradient_accumulation_steps", minimum=1)
        _require_int(self, "max_steps", minimum=1)
        _require_int(self, "num_iterations", minimum=1)
        _require_int(self, "logging_steps", minimum=1)
        if self.generation_batch_size % self.num_generations:
            raise ValueError(
                f"per_device_train_batch_size × gradient_accumulation_steps = {self.per_device_train_batch_size} × "
                f"{self.gradient_accumulation_steps} = {self.generation_batch_size} completions must be divisible by "
                f"num_generations={self.num_generations}, so every group of completions stays whole; e.g. use "
                f"per_device_train_batch_size={self.num_generations}"
            )
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"unknown loss_type {self.loss_type!r}; choose one of {', '.join(LOSS_TYPES)}")
        if self.scale_rewards not in SCALE_REWARDS:
            raise ValueError(
                f"unknown scale_rewards {self.scale_rewards!r}; choose one of {', '.join(SCALE_REWARDS)}"
            )
        if self.lr_scheduler_type not in LR_SCHEDULER_TYPES:
            raise ValueError(
                f"unknown lr_scheduler_type {self.lr_scheduler_type!r}; choose one of {', '.join(LR_SCHEDULER_TYPES)}"
            )
        for name in ("temperature", "epsilon"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)!r}")
        if self.epsilon_high is not None and not self.epsilon_high > 0:
            raise ValueError(f"epsilon_high must be > 0 or None (same as epsilon); got {self.epsilon_high!r}")
        for name in ("learning_rate", "beta", "max_grad_norm"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if self.reward_weights is not None and not all(
            isinstance(w, (int, float)) for w in self.reward_weights
        ):
            raise ValueError(f"reward_weights must be a list of numbers; got {self.reward_weights!r}")

    @property
    def generation_batch_size(self) -> int:
        """Completions sampled per optimizer step: ``per_device_train_batch_size × gradient_accumulation_steps``."""
        return self.per_device_train_batch_size * self.gradient_accumulation_steps

    @property
    def prompts_per_step(self) -> int:
        """Distinct prompts per generation batch: ``generation_batch_size / num_generations``."""
        return self.generation_batch_size // self.num_generations

    @property
    def epsilon_low(self) -> float:
        return self.epsilon

    @property
    def resolved_epsilon_high(self) -> float:
        """The upper clipping range actually used (``epsilon`` when ``epsilon_high`` is None)."""
        return self.epsilon if self.epsilon_high is None else self.epsilon_high

    def to_trl_kwargs(self) -> dict:
        """Keyword arguments for ``trl.GRPOConfig`` describing the same run (every field is a TRL field).

        Add what only TRL needs: ``output_dir``, ``bf16=bf16_supported()``, ``report_to=[]`` and
        ``activation_checkpointing=False`` (TRL turns checkpointing on by default, under the name
        ``gradient_checkpointing`` that transformers 5.24 deprecates).
        """
        return asdict(self)


def _require_int(config: GRPOConfig, name: str, minimum: int, why: str = "") -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name} must be an integer >= {minimum}{reason}; got {value!r}")
