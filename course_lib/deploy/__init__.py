"""Deployment: route problems between a cheap distilled student and an expensive teacher.

``routing`` evaluates cascades and prefilter routers from precomputed answers (pure functions),
``cost`` prices calls and tokens, ``difficulty`` predicts from the prompt whether the student will succeed.
"""

from course_lib.deploy.cost import CostModel
from course_lib.deploy.difficulty import FEATURE_NAMES, DifficultyPredictor, prompt_features
from course_lib.deploy.routing import (
    MODES,
    RoutingPoint,
    RoutingRecord,
    best_within_budget,
    cheapest_point,
    check_threshold,
    escalate_mask,
    evaluate_routing,
    frontier_thresholds,
    near_teacher_point,
    oracle_point,
    pareto_front,
    records_from_report,
    routing_frontier,
    student_accuracy,
    teacher_accuracy,
)

__all__ = [
    "FEATURE_NAMES",
    "MODES",
    "CostModel",
    "DifficultyPredictor",
    "RoutingPoint",
    "RoutingRecord",
    "best_within_budget",
    "cheapest_point",
    "check_threshold",
    "escalate_mask",
    "evaluate_routing",
    "frontier_thresholds",
    "near_teacher_point",
    "oracle_point",
    "pareto_front",
    "prompt_features",
    "records_from_report",
    "routing_frontier",
    "student_accuracy",
    "teacher_accuracy",
]
