"""Which notebook teaches which section of the chapter: one table shared by the README and notebook 00."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChapterEntry:
    """One notebook of the workbook.

    Attributes:
        notebook: file stem in ``notebooks/``, e.g. ``"02_grpo_distillation"``.
        section: the chapter section it follows ("" for the tour, which has none).
        summary: what a learner sees happen in it.
    """

    notebook: str
    section: str
    summary: str


CHAPTER_MAP: tuple[ChapterEntry, ...] = (
    ChapterEntry(
        "00_setup_and_tour", "", "environment check, tiny teacher and student, generation, this map"
    ),
    ChapterEntry(
        "01_why_distillation_is_hard",
        "Why reasoning distillation is hard",
        "answer-only cloning vs chain distillation, in distribution and out of it",
    ),
    ChapterEntry(
        "02_grpo_distillation",
        "RL-based distillation (GRPO)",
        "teacher K-chains, rewards, group advantages, GRPO from scratch next to trl.GRPOTrainer",
    ),
    ChapterEntry(
        "03_data_composition",
        "Distill dataset composition",
        "the mixture widget, math-heavy vs balanced mixtures, the eight real sources",
    ),
    ChapterEntry(
        "04_quantization_aware_distillation",
        "Quantization-aware distillation",
        "the bit-width widget, PTQ vs QAD across bit widths, bitsandbytes next to ours",
    ),
    ChapterEntry(
        "05_evaluating_distilled_models",
        "Evaluating distilled models",
        "accuracy with CIs, chain similarity, calibration, OOD",
    ),
    ChapterEntry(
        "06_deployment_routing",
        "Deployment considerations",
        "routing cascade, cost-accuracy frontier, threshold widget",
    ),
    ChapterEntry(
        "07_exercise_failure_modes",
        "Exercise: failure modes",
        "capacity limits vs distribution mismatch in a student's errors",
    ),
)


def chapter_map_markdown(folder: str | Path | None = None) -> str:
    """The map as a Markdown table; with ``folder``, a column says whether each notebook is there."""
    header = ["notebook", "chapter section", "what you see happen"]
    rows = [[f"`{e.notebook}`", e.section or "(tour)", e.summary] for e in CHAPTER_MAP]
    if folder is not None:
        header.append("present")
        for row, entry in zip(rows, CHAPTER_MAP):
            row.append("yes" if (Path(folder) / f"{entry.notebook}.ipynb").is_file() else "not yet")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
