"""One problem schema for every source, real or procedural, and its conversion to TRL's formats.

A reasoning completion follows the R1 convention ``<think>CHAIN</think><answer>ANSWER</answer>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

DOMAINS = ("math", "code", "logic", "general")
ANSWER_TYPES = ("numeric", "math", "multiple_choice", "exact", "code")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


@dataclass(frozen=True)
class Problem:
    """One reasoning problem.

    Attributes:
        id: unique within its source, e.g. ``"gsm8k/test/17"`` or ``"lab/arith/3/42"``.
        source: ``"gsm8k"``, ``"math"``, ``"aime"``, ``"humaneval"``, ``"mbpp"``, ``"arc"``,
            ``"logiqa"``, ``"bbh"``, or ``"lab/<task>"`` for procedural tasks.
        domain: one of :data:`DOMAINS`.
        prompt: the text the model sees.
        answer: the gold answer as a string (a number, LaTeX, a choice label, an exact string;
            for code problems a reference solution).
        answer_type: one of :data:`ANSWER_TYPES`; selects the checker in ``course_lib.rewards``.
        chain: an optional reference reasoning chain (the text that goes inside ``<think>``).
        difficulty: a source-specific integer (lab: number of reasoning steps; MATH: level).
        metadata: source-specific extras. Conventions: ``choices`` (list[str]) and ``labels``
            (list[str]) for multiple choice; ``tests`` (Python source that raises on failure),
            ``entry_point`` and ``setup`` for code; ``ood`` (the perturbation family) for OOD splits.
    """

    id: str
    source: str
    domain: str
    prompt: str
    answer: str
    answer_type: str
    chain: str | None = None
    difficulty: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}; got {self.domain!r} for problem {self.id!r}")
        if self.answer_type not in ANSWER_TYPES:
            raise ValueError(
                f"answer_type must be one of {ANSWER_TYPES}; got {self.answer_type!r} for problem {self.id!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Problem:
        return cls(**row)


PROMPT_SUFFIX = "\n"


def model_prompt(problem: Problem | str) -> str:
    """The plain-text prompt a model without a chat template sees: the question, then a newline."""
    text = problem if isinstance(problem, str) else problem.prompt
    return text + PROMPT_SUFFIX


def format_completion(chain: str | None, answer: str) -> str:
    """R1-style target text: ``<think>chain</think><answer>answer</answer>`` (no think block if chain is None)."""
    think = f"{THINK_OPEN}{chain}{THINK_CLOSE}" if chain is not None else ""
    return f"{think}{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


def to_trl_rows(
    problems: Iterable[Problem], style: str = "prompt_completion", target: str = "chain"
) -> list[dict[str, Any]]:
    """Rows in the formats TRL trainers take.

    Args:
        problems: problems to convert.
        style: ``"prompt_completion"`` (``{"prompt": model_prompt(p), "completion": str}``), ``"conversational"``
            (``{"prompt": [{"role": "user", ...}], "completion": [{"role": "assistant", ...}]}``) or
            ``"prompt_only"`` (``{"prompt": str}``, for GRPO, which generates its own completions).
        target: ``"chain"`` (reasoning and answer) or ``"answer"`` (answer only: behavioural cloning).

    Every row also carries ``answer``, ``answer_type``, ``source``, ``domain`` and ``metadata`` columns,
    which TRL passes to reward functions as keyword arguments. ``metadata`` is a JSON string, so that
    sources with different extras fit in one Arrow table (``json.loads`` it back).
    """
    if style not in ("prompt_completion", "conversational", "prompt_only"):
        raise ValueError(f"style must be 'prompt_completion', 'conversational' or 'prompt_only'; got {style!r}")
    if target not in ("chain", "answer"):
        raise ValueError(f"target must be 'chain' or 'answer'; got {target!r}")
    rows = []
    for p in problems:
        completion = format_completion(p.chain if target == "chain" else None, p.answer)
        extra = {
            "answer": p.answer,
            "answer_type": p.answer_type,
            "source": p.source,
            "domain": p.domain,
            "metadata": json.dumps(p.metadata),
        }
        if style == "prompt_only":
            rows.append({"prompt": model_prompt(p), **extra})
        elif style == "prompt_completion":
            rows.append({"prompt": model_prompt(p), "completion": completion, **extra})
        else:
            rows.append(
                {
                    "prompt": [{"role": "user", "content": p.prompt}],
                    "completion": [{"role": "assistant", "content": completion}],
                    **extra,
                }
            )
    return rows
