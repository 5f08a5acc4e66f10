"""The two scales of the workbook, defined in one place.

``lab`` (the default) runs offline on a 2-core CPU in minutes: tiny character-level Llama models
that ``course_lib`` trains itself on procedurally generated tasks with exact verifiers.
``hub`` names real Hugging Face models and datasets and expects a GPU (4-bit base + LoRA).

Select one with the ``COURSE_PROFILE`` environment variable or :func:`use_profile`; the smoke
switch ``COURSE_SMOKE=1`` shrinks every step count so CI executes the notebooks in seconds.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PROFILE_ENV = "COURSE_PROFILE"
SMOKE_ENV = "COURSE_SMOKE"
CACHE_ENV = "COURSE_CACHE_DIR"


@dataclass(frozen=True)
class Profile:
    """Everything that differs between scales. Notebooks read sizes and ids from here, never literals.

    Attributes:
        name: ``"lab"`` or ``"hub"``.
        teacher: a tiny-model size name (lab) or a Hub model id (hub).
        student: likewise, for the student.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
        load_in_4bit: load hub models with bitsandbytes NF4.
        use_lora: train LoRA adapters instead of all weights.
        datasets: Hub dataset ids by source name (hub) – lab uses procedural tasks.
        steps: training-step budgets by experiment name.
        n_eval: number of evaluation problems per split.
        num_generations: group size G for GRPO / K teacher chains per problem.
        max_new_tokens: generation budget for one reasoning chain.
        smoke: True when ``COURSE_SMOKE`` shrank the budgets.
    """

    name: str
    teacher: str
    student: str
    device: str = "cpu"
    load_in_4bit: bool = False
    use_lora: bool = False
    datasets: dict[str, str] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    n_eval: int = 200
    num_generations: int = 8
    max_new_tokens: int = 160
    smoke: bool = False

    def shrunk(self) -> Profile:
        """The smoke version of this profile: every budget cut to a few steps/problems."""
        return dataclasses.replace(
            self,
            steps={k: max(2, v // 50) for k, v in self.steps.items()},
            n_eval=min(self.n_eval, 16),
            num_generations=min(self.num_generations, 4),
            smoke=True,
        )


HUB_DATASETS = {
    "gsm8k": "openai/gsm8k",
    "math": "HuggingFaceH4/MATH-500",
    "aime": "HuggingFaceH4/aime_2024",
    "humaneval": "openai/openai_humaneval",
    "mbpp": "google-research-datasets/mbpp",
    "arc": "allenai/ai2_arc",
    "logiqa": "lucasmccabe/logiqa",
    "bbh": "lukaemon/bbh",
}

PROFILES: dict[str, Profile] = {
    "lab": Profile(
        name="lab",
        teacher="lab-teacher",
        student="tiny-1m",
        device="cpu",
        steps={"sft": 400, "grpo": 60, "qad": 150, "teacher": 6000},
        n_eval=200,
        num_generations=8,
        # The longest in-distribution lab completion is ~105 tokens (dates) and OOD "longer chains" reach
        # ~145: a smaller budget cuts them off and scores them wrong.
        max_new_tokens=160,
    ),
    "hub": Profile(
        name="hub",
        teacher="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
        student="Qwen/Qwen2.5-0.5B-Instruct",
        device="auto",
        load_in_4bit=True,
        use_lora=True,
        datasets=dict(HUB_DATASETS),
        steps={"sft": 200, "grpo": 100, "qad": 100, "teacher": 0},
        n_eval=100,
        num_generations=8,
        max_new_tokens=512,
    ),
}

_active: Profile | None = None


def is_smoke() -> bool:
    """True when the ``COURSE_SMOKE`` environment variable asks for the fast CI setting."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def get_profile(name: str | None = None, smoke: bool | None = None) -> Profile:
    """Return the named profile (default: ``$COURSE_PROFILE`` or ``"lab"``), shrunk in smoke mode.

    Raises:
        ValueError: the name is not one of :data:`PROFILES`.
    """
    name = (name or os.environ.get(PROFILE_ENV) or "lab").strip().lower()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles are: {', '.join(sorted(PROFILES))}")
    profile = PROFILES[name]
    smoke = is_smoke() if smoke is None else smoke
    return profile.shrunk() if smoke else profile


def use_profile(name: str | None = None, smoke: bool | None = None) -> Profile:
    """Make a profile the active one for this process and return it (notebooks call this first)."""
    global _active
    _active = get_profile(name, smoke)
    return _active


def active_profile() -> Profile:
    """The profile chosen by :func:`use_profile`, else the one the environment names."""
    return _active if _active is not None else get_profile()


def cache_dir() -> Path:
    """Where notebooks keep reusable results (e.g. generations): ``$COURSE_CACHE_DIR`` or ``~/.cache/course_lib``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "course_lib")


def resolve_device(device: str = "auto") -> str:
    """Map ``"auto"`` to ``"cuda"`` when a GPU is present, else ``"cpu"``; pass others through."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def bf16_supported() -> bool:
    """Whether bf16 training is available here (TRL configs default to bf16=True, which fails on CPU)."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
