"""Routing between a cheap student and an expensive teacher, evaluated from precomputed answers.

Two routers share one rule, *escalate when the score is below the threshold*:

- **cascade**: the student answers every problem; when its confidence is below the threshold the
  teacher answers too and its answer replaces the student's (cost: student always, teacher when
  escalated);
- **prefilter**: a difficulty predictor scores the prompt *before* any model runs; problems whose
  predicted chance of a correct student answer is below the threshold go straight to the teacher
  (cost: student or teacher, never both). See :mod:`course_lib.deploy.difficulty`.

Both models are run once on every problem and the outcome is stored as a :class:`RoutingRecord`;
every router, threshold and price is then a pure function of those records, so a whole
cost–accuracy frontier costs no extra generation.

Threshold semantics: ``0`` never escalates (student-only accuracy), any threshold above every
score, e.g. ``math.inf``, always escalates (teacher-only accuracy). As the threshold rises the
escalated set only grows, so the teacher-call rate and the cost never decrease; accuracy can move
either way (escalating a problem the student had right and the teacher gets wrong costs a point),
which is why :func:`pareto_front` keeps only the points no other point beats on both axes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from course_lib.deploy.cost import CostModel

MODES = ("cascade", "prefilter")


@dataclass(frozen=True)
class RoutingRecord:
    """Both models' outcome on one problem.

    Attributes:
        student_correct: the student's final answer is right.
        teacher_correct: the teacher's final answer is right.
        student_confidence: the student's confidence in its answer, in [0, 1] (e.g. the probability
            of its answer tokens, or self-consistency across samples).
        student_tokens: tokens the student generated for this problem.
        teacher_tokens: tokens the teacher generated for this problem.
        id: the problem id, for tracing a point back to examples.
    """

    student_correct: bool
    teacher_correct: bool
    student_confidence: float
    student_tokens: int = 0
    teacher_tokens: int = 0
    id: str = ""

    def __post_init__(self) -> None:
        c = self.student_confidence
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.0 <= c <= 1.0:
            raise ValueError(f"student_confidence must be a number in [0, 1]; got {c!r} for record {self.id!r}")
        for name in ("student_tokens", "teacher_tokens"):
            n = getattr(self, name)
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"{name} must be an integer >= 0; got {n!r} for record {self.id!r}")


@dataclass(frozen=True)
class RoutingPoint:
    """One operating point of a router over a set of problems.

    Attributes:
        threshold: escalate when score < threshold (``nan`` for the oracle router).
        accuracy: fraction of problems whose final (routed) answer is right.
        teacher_call_rate: fraction of problems the teacher answered.
        student_call_rate: fraction of problems the student answered (1 for a cascade).
        cost: mean cost per problem, in the :class:`CostModel`'s units.
        n: number of problems.
    """

    threshold: float
    accuracy: float
    teacher_call_rate: float
    student_call_rate: float
    cost: float
    n: int


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as a float, or raise a ValueError that says what a valid threshold is."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)):
        raise ValueError(f"threshold must be a number >= 0 (0 = student only, inf = teacher only); got {threshold!r}")
    value = float(threshold)
    if math.isnan(value) or value < 0:
        raise ValueError(f"threshold must be a number >= 0 (0 = student only, inf = teacher only); got {threshold!r}")
    return value


def _check_records(records: Sequence[RoutingRecord]) -> None:
    if len(records) == 0:
        raise ValueError("records is empty: route at least one problem")
    bad = [type(r).__name__ for r in records if not isinstance(r, RoutingRecord)]
    if bad:
        raise ValueError(f"records must be RoutingRecord objects; got {bad[0]} ({len(bad)} of {len(records)})")


def _scores(records: Sequence[RoutingRecord], mode: str, scores: Sequence[float] | None) -> np.ndarray:
    """The per-problem routing score (N,): student confidence (cascade) or predicted success (prefilter)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if scores is None:
        if mode == "prefilter":
            raise ValueError("mode='prefilter' needs scores: the predicted probability that the student is right")
        return np.array([r.student_confidence for r in records], dtype=float)
    out = np.asarray(scores, dtype=float)
    if out.shape != (len(records),):
        raise ValueError(f"scores must have one value per record, shape ({len(records)},); got shape {out.shape}")
    bad = np.flatnonzero(~((out >= 0) & (out <= 1)))  # catches NaN too
    if bad.size:
        raise ValueError(f"scores must be probabilities in [0, 1]; got {out[bad[0]]!r} at index {int(bad[0])}")
    return out


def records_from_report(report, split: str = "in_distribution", confidence: str = "answer_prob") -> list[RoutingRecord]:
    """Routing records from an evaluation report (``course_lib.eval.suite.EvalReport`` with a teacher).

    Args:
        report: the report; its per-problem student and teacher outputs are used, nothing is regenerated.
        split: ``"in_distribution"``, an OOD family, ``"ood"`` (all families) or None (everything).
        confidence: ``"answer_prob"`` / ``"answer_prob_mean"`` (the student's first sample and its answer
            tokens' probability) or ``"self_consistency"`` (the majority answer and its vote share; the
            student then pays for all k samples' tokens).

    The teacher answers with its first sample.
    """
    out = []
    for r in report.select(split):
        if r.teacher is None:
            raise ValueError(f"problem {r.id!r} has no teacher outputs; evaluate with a teacher to route")
        s = r.student
        tokens = sum(s.num_tokens) if confidence == "self_consistency" else s.num_tokens[0]
        conf = s.confidence(confidence)[0]
        out.append(
            RoutingRecord(
                student_correct=bool(s.outcomes(confidence)[0]),
                teacher_correct=bool(r.teacher.correct[0]),
                student_confidence=float(conf),
                student_tokens=int(tokens),
                teacher_tokens=int(r.teacher.num_tokens[0]),
                id=r.id,
            )
        )
    if not out:
        raise ValueError(f"the report has no records in split {split!r}; it has {report.splits}")
    return out


def escalate_mask(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean mask (N,): True where the teacher answers (score < threshold)."""
    return np.asarray(scores, dtype=float) < check_threshold(threshold)


def _point(records: Sequence[RoutingRecord], escalate: np.ndarray, threshold: float, cost: CostModel, mode: str):
    student_ok = np.array([r.student_correct for r in records], dtype=bool)
    teacher_ok = np.array([r.teacher_correct for r in records], dtype=bool)
    student_cost = np.array([cost.student_cost(r.student_tokens) for r in records])  # (N,)
    teacher_cost = np.array([cost.teacher_cost(r.teacher_tokens) for r in records])  # (N,)
    correct = np.where(escalate, teacher_ok, student_ok)
    student_called = np.ones_like(escalate) if mode == "cascade" else ~escalate
    per_problem = student_called * student_cost + escalate * teacher_cost
    return RoutingPoint(
        threshold=float(threshold),
        accuracy=float(correct.mean()),
        teacher_call_rate=float(escalate.mean()),
        student_call_rate=float(student_called.mean()),
        cost=float(per_problem.mean()),
        n=len(records),
    )


def evaluate_routing(
    records: Sequence[RoutingRecord],
    threshold: float,
    cost: CostModel | None = None,
    *,
    mode: str = "cascade",
    scores: Sequence[float] | None = None,
) -> RoutingPoint:
    """Accuracy, teacher-call rate and mean cost of one router at one threshold.

    Args:
        records: both models' outcomes, one per problem (N).
        threshold: escalate when score < threshold; ``0`` = student only, ``math.inf`` = teacher only.
        cost: prices (default :class:`CostModel` ()).
        mode: ``"cascade"`` (score = student confidence) or ``"prefilter"`` (score = ``scores``).
        scores: per-problem routing scores (N,), required for ``"prefilter"``; for a cascade they
            replace the stored confidences (e.g. self-consistency instead of token probability).
    """
    _check_records(records)
    s = _scores(records, mode, scores)
    return _point(records, escalate_mask(s, threshold), threshold, cost or CostModel(), mode)


def frontier_thresholds(scores: Sequence[float]) -> list[float]:
    """One threshold per distinct cut of ``scores``, ascending: 0 (nothing escalated), the midpoint
    between each pair of neighbouring distinct scores (escalating everything below it), then ``inf``."""
    distinct = sorted({float(s) for s in scores})
    return [0.0, *((a + b) / 2 for a, b in itertools.pairwise(distinct)), math.inf]


def routing_frontier(
    records: Sequence[RoutingRecord],
    cost: CostModel | None = None,
    *,
    mode: str = "cascade",
    scores: Sequence[float] | None = None,
    thresholds: Sequence[float] | None = None,
) -> list[RoutingPoint]:
    """The router's points over thresholds, in ascending threshold order.

    With the default ``thresholds`` (:func:`frontier_thresholds`) the list holds every distinct
    operating point, starting at student-only (threshold 0) and ending at teacher-only (``inf``).
    """
    _check_records(records)
    s = _scores(records, mode, scores)
    cost = cost or CostModel()
    grid = frontier_thresholds(s) if thresholds is None else sorted(check_threshold(t) for t in thresholds)
    return [_point(records, escalate_mask(s, t), t, cost, mode) for t in grid]


def oracle_point(records: Sequence[RoutingRecord], cost: CostModel | None = None, *, mode: str = "cascade"):
    """The best any router could do: escalate exactly the problems the student gets wrong (threshold ``nan``)."""
    _check_records(records)
    escalate = np.array([not r.student_correct for r in records], dtype=bool)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    return _point(records, escalate, math.nan, cost or CostModel(), mode)


def student_accuracy(records: Sequence[RoutingRecord]) -> float:
    """Accuracy when the student answers everything."""
    _check_records(records)
    return float(np.mean([r.student_correct for r in records]))


def teacher_accuracy(records: Sequence[RoutingRecord]) -> float:
    """Accuracy when the teacher answers everything."""
    _check_records(records)
    return float(np.mean([r.teacher_correct for r in records]))


def pareto_front(points: Sequence[RoutingPoint]) -> list[RoutingPoint]:
    """The points no other point beats (cheaper and at least as accurate), in ascending cost.

    Along the result both cost and accuracy strictly increase.
    """
    front: list[RoutingPoint] = []
    for p in sorted(points, key=lambda p: (p.cost, -p.accuracy)):
        if not front or p.accuracy > front[-1].accuracy:
            front.append(p)
    return front


def cheapest_point(points: Sequence[RoutingPoint], target_accuracy: float) -> RoutingPoint:
    """The lowest-cost point whose accuracy is at least ``target_accuracy`` (ties: fewer teacher calls).

    Raises:
        ValueError: no point reaches the target (the message gives the best accuracy available).
    """
    if not points:
        raise ValueError("points is empty: compute a frontier first (routing_frontier)")
    ok = [p for p in points if p.accuracy >= target_accuracy]
    if not ok:
        best = max(p.accuracy for p in points)
        raise ValueError(f"no point reaches accuracy {target_accuracy:.4f}; the best available is {best:.4f}")
    return min(ok, key=lambda p: (p.cost, p.teacher_call_rate, p.threshold))


def best_within_budget(points: Sequence[RoutingPoint], max_teacher_call_rate: float) -> RoutingPoint:
    """The most accurate point that calls the teacher on at most ``max_teacher_call_rate`` of problems
    (ties: cheaper). Threshold 0 calls it on none, so a frontier always has an answer for any budget >= 0.

    Use it to compare routers at equal teacher budgets.
    """
    if not 0 <= max_teacher_call_rate <= 1:
        raise ValueError(f"max_teacher_call_rate must be a fraction in [0, 1]; got {max_teacher_call_rate!r}")
    ok = [p for p in points if p.teacher_call_rate <= max_teacher_call_rate + 1e-12]
    if not ok:
        raise ValueError(f"no point calls the teacher on at most {max_teacher_call_rate:.3f} of problems")
    return max(ok, key=lambda p: (p.accuracy, -p.cost))


def near_teacher_point(points: Sequence[RoutingPoint], teacher_acc: float, tolerance: float = 0.01) -> RoutingPoint:
    """The point within ``tolerance`` of teacher-only accuracy that calls the teacher least (ties: cheaper).

    ``tolerance`` is a fraction (0.01 = one accuracy point). The teacher-only point always qualifies,
    so a frontier from :func:`routing_frontier` always has an answer.
    """
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be a fraction in [0, 1); got {tolerance!r}")
    if not points:
        raise ValueError("points is empty: compute a frontier first (routing_frontier)")
    ok = [p for p in points if p.accuracy >= teacher_acc - tolerance - 1e-12]
    if not ok:
        best = max(p.accuracy for p in points)
        raise ValueError(
            f"no point is within {tolerance:.4f} of teacher accuracy {teacher_acc:.4f}; the best is {best:.4f}"
        )
    return min(ok, key=lambda p: (p.teacher_call_rate, p.cost, -p.accuracy))
