"""Exercise of notebook 06: choose the cheapest routing threshold that meets an accuracy target.

``check_cheapest_threshold(your_fn)`` calls ``your_fn(points, target_accuracy)`` on fixed frontiers
(lists of :class:`~course_lib.deploy.routing.RoutingPoint`) and compares the point it picks with
:func:`course_lib.deploy.routing.cheapest_point`. ``your_fn`` returns the chosen threshold, or None when
no point reaches the target. Any threshold of equal (lowest) cost counts as right. It prints the first
mismatch with a hint and returns True only when every case matches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from course_lib.deploy.cost import CostModel
from course_lib.deploy.routing import RoutingPoint, RoutingRecord, cheapest_point, routing_frontier


def _records(seed: int, n: int = 120) -> tuple[list[RoutingRecord], np.ndarray]:
    """A synthetic student whose confidence is informative but noisy, a 90%-accurate teacher, and prefilter scores."""
    rng = np.random.default_rng(seed)
    skill = rng.random(n)
    confidence = np.clip(skill + rng.normal(0, 0.25, n), 0, 1)
    student_ok = rng.random(n) < skill
    teacher_ok = rng.random(n) < 0.9
    records = [
        RoutingRecord(bool(s), bool(t), float(c), int(rng.integers(20, 60)), int(rng.integers(40, 200)), id=f"{seed}/{i}")
        for i, (s, t, c) in enumerate(zip(student_ok, teacher_ok, confidence))
    ]
    prefilter = np.clip(skill + rng.normal(0, 0.4, n), 0, 1)
    return records, prefilter


def _cases() -> list[tuple[str, list[RoutingPoint], float]]:
    records, scores = _records(7)
    cascade = routing_frontier(records)
    cheap_teacher = routing_frontier(records, CostModel(teacher_call=2.0, teacher_token=0.02))
    prefilter = routing_frontier(records, mode="prefilter", scores=scores)
    shuffled = list(cascade)
    np.random.default_rng(0).shuffle(shuffled)
    top = max(p.accuracy for p in cascade)
    return [
        ("cascade, target 0.80", cascade, 0.80),
        ("cascade, target = best accuracy", cascade, top),
        ("cascade, target 0 (anything goes)", cascade, 0.0),
        ("cheap teacher, target 0.85", cheap_teacher, 0.85),
        ("prefilter (no student cost when escalated), target 0.80", prefilter, 0.80),
        ("points in random order, target 0.80", shuffled, 0.80),
        ("unreachable target", cascade, min(1.0, top + 0.05) if top < 1 else 1.01),
    ]


def _hint(points: Sequence[RoutingPoint], target: float, got: RoutingPoint, best: RoutingPoint) -> str:
    if got.accuracy < target:
        return f"that point's accuracy {got.accuracy:.3f} misses the target {target:.3f}; keep only points that reach it."
    if got.accuracy == max(p.accuracy for p in points) and got.cost > best.cost:
        return "you picked the most accurate point; the question is the cheapest one that is accurate enough."
    return "among the points with accuracy >= target, take the one with the smallest .cost."


def check_cheapest_threshold(fn: Callable[[list[RoutingPoint], float], float | None]) -> bool:
    """Grade ``fn(points, target_accuracy) -> threshold | None``; True when every case is right."""
    cases = _cases()
    for name, points, target in cases:
        try:
            got = fn(list(points), target)
        except Exception as err:  # the learner's code may raise anything; report it instead of crashing
            print(f"[{name}] your function raised {type(err).__name__}: {err}")
            return False
        try:
            best = cheapest_point(points, target)
        except ValueError:
            if got is not None:
                print(f"[{name}] no point reaches {target:.3f}, so return None; you returned {got!r}.")
                return False
            continue
        if got is None:
            print(f"[{name}] a point reaches {target:.3f} (threshold {best.threshold:.3f}); you returned None.")
            return False
        chosen = [p for p in points if p.threshold == got]
        if not chosen:
            print(f"[{name}] {got!r} is not the threshold of any point; return one of the points' .threshold values.")
            return False
        if chosen[0].accuracy < target or chosen[0].cost > best.cost + 1e-12:
            print(f"[{name}] expected cost {best.cost:.3f} (threshold {best.threshold:.3f}), "
                  f"got cost {chosen[0].cost:.3f}. Hint: {_hint(points, target, chosen[0], best)}")
            return False
    print(f"Correct: your choice matches on all {len(cases)} cases.")
    return True
