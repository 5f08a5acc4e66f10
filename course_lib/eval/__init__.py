"""Evaluation of distilled reasoning models: accuracy with intervals, chain similarity, calibration, OOD.

Start with :func:`evaluate_reasoning_quality`; the metric modules (``calibration``, ``chains``, and
``course_lib.stats`` for intervals, re-exported here) are small pure functions usable on their own, and
``plots`` draws an :class:`EvalReport`.
"""

from course_lib.eval.calibration import (
    ReliabilityDiagram,
    answer_confidence,
    brier_score,
    expected_calibration_error,
    majority_vote,
    reliability_diagram,
)
from course_lib.eval.chains import chain_similarity, embedding_cosine, rouge_l, split_steps, step_alignment
from course_lib.eval.suite import EvalReport, ModelOutput, ProblemRecord, evaluate_reasoning_quality
from course_lib.stats import Estimate, bootstrap_ci, pass_at_k

__all__ = [
    "Estimate",
    "EvalReport",
    "ModelOutput",
    "ProblemRecord",
    "ReliabilityDiagram",
    "answer_confidence",
    "bootstrap_ci",
    "brier_score",
    "chain_similarity",
    "embedding_cosine",
    "evaluate_reasoning_quality",
    "expected_calibration_error",
    "majority_vote",
    "pass_at_k",
    "reliability_diagram",
    "rouge_l",
    "split_steps",
    "step_alignment",
]
