"""The lab profile's shipped checkpoints: where they live, loading them, and their recorded accuracy.

The tiny teacher and students in ``data/models/`` are trained by ``course_lib.distill.lab_models``
(which also documents each one); this module only finds and loads them, so any layer can use them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from course_lib.models.tiny import load_model

MODELS_ENV = "COURSE_MODELS_DIR"
TEACHER = "lab-teacher"
STUDENTS = {
    "base": "lab-student-base",
    "chain": "lab-student-chain",
    "answer": "lab-student-answer",
    "grpo": "lab-student-grpo",
}
CARD_FILE = "card.json"


def models_dir() -> Path:
    """Where the lab checkpoints live: ``$COURSE_MODELS_DIR`` or ``<repository>/data/models``."""
    return Path(os.environ.get(MODELS_ENV) or Path(__file__).resolve().parents[2] / "data" / "models")


def load_lab_model(name: str):
    """A shipped checkpoint by folder name (e.g. ``"lab-teacher"``) → ``(model, tokenizer)`` in eval mode."""
    folder = models_dir() / name
    if not (folder / "model.safetensors").exists():
        raise FileNotFoundError(
            f"lab model {name!r} is not at {folder}; train it with "
            f"`python -m course_lib.distill.lab_models train --which {name.removeprefix('lab-student-').removeprefix('lab-')}` "
            f"or set {MODELS_ENV} to the folder that holds it"
        )
    return load_model(folder)


def load_lab_teacher():
    """The shipped lab teacher → ``(model, tokenizer)`` in eval mode (see :func:`lab_card` for its accuracy)."""
    return load_lab_model(TEACHER)


def load_lab_student(kind: str = "base"):
    """A shipped lab student → ``(model, tokenizer)``.

    Args:
        kind: ``"base"`` (pretrained on bare steps, no chain format), ``"chain"`` (SFT on teacher chains),
            ``"answer"`` (SFT on teacher answers only) or ``"grpo"`` (``"chain"`` + GRPO).
    """
    if kind not in STUDENTS:
        raise ValueError(f"unknown lab student kind {kind!r}; choose one of {', '.join(STUDENTS)}")
    return load_lab_model(STUDENTS[kind])


def lab_card(name: str) -> dict[str, Any]:
    """The model card of a shipped model (``"lab-teacher"``, ``"lab-student-chain"`` ... or a student kind)."""
    folder = models_dir() / STUDENTS.get(name, name)
    if not (folder / CARD_FILE).exists():
        known = [TEACHER, *STUDENTS.values()]
        raise FileNotFoundError(f"no model card at {folder / CARD_FILE}; known lab models: {known}")
    return json.loads((folder / CARD_FILE).read_text())


def lab_accuracy(name: str, split: str = "in_distribution") -> dict[str, dict[str, float]]:
    """Recorded accuracy of a shipped model: ``{domain or "all": {"value", "low", "high", "n"}}``.

    ``split`` is ``"in_distribution"``, ``"by_task"`` or ``"ood"`` (then keyed by OOD family).
    """
    accuracy = lab_card(name)["accuracy"]
    if split not in accuracy:
        raise ValueError(f"split must be one of {sorted(accuracy)}; got {split!r}")
    return accuracy[split]
