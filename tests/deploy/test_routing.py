"""Routing: frontier monotonicity and endpoints (property tests), cost arithmetic, point selection, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.deploy import (
    CostModel,
    RoutingRecord,
    best_within_budget,
    cheapest_point,
    check_threshold,
    evaluate_routing,
    near_teacher_point,
    oracle_point,
    pareto_front,
    records_from_report,
    routing_frontier,
    student_accuracy,
    teacher_accuracy,
)

records_strategy = st.lists(
    st.builds(
        RoutingRecord,
        student_correct=st.booleans(),
        teacher_correct=st.booleans(),
        student_confidence=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 0.99, 1.0])
        | st.floats(0, 1, allow_nan=False),
        student_tokens=st.integers(0, 60),
        teacher_tokens=st.integers(0, 200),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(records=records_strategy, mode=st.sampled_from(["cascade", "prefilter"]), data=st.data())
def test_frontier_is_monotone_and_ends_at_student_and_teacher_only(records, mode, data):
    scores = data.draw(st.lists(st.floats(0, 1), min_size=len(records), max_size=len(records)))
    points = routing_frontier(records, mode=mode, scores=scores if mode == "prefilter" else None)
    thresholds = [p.threshold for p in points]
    assert thresholds == sorted(thresholds)
    rates = [p.teacher_call_rate for p in points]
    costs = [p.cost for p in points]
    assert all(a < b for a, b in zip(rates, rates[1:]))  # every threshold is a distinct cut
    assert all(a <= b + 1e-9 for a, b in zip(costs, costs[1:]))
    first, last = points[0], points[-1]
    assert first.threshold == 0 and last.threshold == math.inf
    assert first.teacher_call_rate == 0 and last.teacher_call_rate == 1
    assert first.accuracy == pytest.approx(student_accuracy(records))
    assert last.accuracy == pytest.approx(teacher_accuracy(records))
    oracle = oracle_point(records, mode=mode)
    assert all(p.accuracy <= oracle.accuracy + 1e-12 for p in points)
    for budget in (0.0, 0.3, 0.7, 1.0):
        chosen = best_within_budget(points, budget)
        assert chosen.teacher_call_rate <= budget + 1e-12
        assert chosen.accuracy == max(p.accuracy for p in points if p.teacher_call_rate <= budget + 1e-12)
    front = pareto_front(points)
    assert all(a.cost < b.cost and a.accuracy < b.accuracy for a, b in zip(front, front[1:]))
    assert front[-1].accuracy == pytest.approx(max(p.accuracy for p in points))


@settings(max_examples=40, deadline=None)
@given(records=records_strategy, tolerance=st.sampled_from([0.0, 0.01, 0.05]))
def test_near_teacher_point_is_within_tolerance_with_fewest_teacher_calls(records, tolerance):
    points = routing_frontier(records)
    t_acc = teacher_accuracy(records)
    best = near_teacher_point(points, t_acc, tolerance)
    assert best.accuracy >= t_acc - tolerance - 1e-12
    assert all(p.teacher_call_rate >= best.teacher_call_rate for p in points if p.accuracy >= t_acc - tolerance)


def _two_records():
    return [
        RoutingRecord(True, True, 0.9, student_tokens=10, teacher_tokens=100, id="a"),
        RoutingRecord(False, True, 0.2, student_tokens=20, teacher_tokens=300, id="b"),
    ]


def test_cascade_cost_counts_student_always_and_teacher_when_escalated():
    cost = CostModel(student_call=1.0, student_token=0.1, teacher_call=10.0, teacher_token=0.5)
    records = _two_records()
    only_student = evaluate_routing(records, 0.0, cost)
    assert only_student.cost == pytest.approx(((1 + 1.0) + (1 + 2.0)) / 2)  # 2.5
    assert only_student.accuracy == 0.5
    mid = evaluate_routing(records, 0.5, cost)  # escalates b only
    assert mid.teacher_call_rate == 0.5 and mid.accuracy == 1.0
    assert mid.cost == pytest.approx((2.0 + 3.0 + (10 + 150)) / 2)  # 82.5
    everything = evaluate_routing(records, math.inf, cost)
    assert everything.cost == pytest.approx((2.0 + 3.0 + (10 + 50) + (10 + 150)) / 2)  # 112.5


def test_prefilter_pays_either_model_never_both():
    cost = CostModel(student_call=1.0, student_token=0.1, teacher_call=10.0, teacher_token=0.5)
    point = evaluate_routing(_two_records(), 0.5, cost, mode="prefilter", scores=[0.8, 0.3])
    assert point.student_call_rate == 0.5 and point.teacher_call_rate == 0.5
    assert point.cost == pytest.approx((2.0 + 160.0) / 2)
    teacher_only = evaluate_routing(_two_records(), math.inf, cost, mode="prefilter", scores=[0.8, 0.3])
    assert teacher_only.cost == pytest.approx((60 + 160) / 2) and teacher_only.student_call_rate == 0


def test_cost_model_from_param_counts_scales_with_size():
    cost = CostModel.from_param_counts(student_params=500, teacher_params=1500, call_overhead_tokens=10)
    assert cost.teacher_token == pytest.approx(3.0) and cost.student_token == 1.0
    assert cost.teacher_cost(20) == pytest.approx(3 * cost.student_cost(20))
    with pytest.raises(ValueError, match="teacher_params"):
        CostModel.from_param_counts(10, 0)
    with pytest.raises(ValueError, match="teacher_token"):
        CostModel(teacher_token=-1)
    with pytest.raises(ValueError, match="student_call"):
        CostModel(student_call=float("nan"))


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "0.5", None, True])
def test_bad_thresholds_raise_clear_errors(bad):
    with pytest.raises(ValueError, match="threshold must be a number >= 0"):
        check_threshold(bad)
    with pytest.raises(ValueError, match="threshold"):
        evaluate_routing(_two_records(), bad)


def test_bad_records_and_scores_raise_clear_errors():
    with pytest.raises(ValueError, match=r"student_confidence must be a number in \[0, 1\]"):
        RoutingRecord(True, True, 1.5)
    with pytest.raises(ValueError, match="student_tokens"):
        RoutingRecord(True, True, 0.5, student_tokens=-3)
    with pytest.raises(ValueError, match="records is empty"):
        routing_frontier([])
    with pytest.raises(ValueError, match="RoutingRecord"):
        routing_frontier([{"student_correct": True}])
    with pytest.raises(ValueError, match="needs scores"):
        evaluate_routing(_two_records(), 0.5, mode="prefilter")
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        evaluate_routing(_two_records(), 0.5, mode="prefilter", scores=[0.5])
    with pytest.raises(ValueError, match="probabilities"):
        evaluate_routing(_two_records(), 0.5, mode="prefilter", scores=[0.5, np.nan])
    with pytest.raises(ValueError, match="mode must be one of"):
        evaluate_routing(_two_records(), 0.5, mode="oracle")


def test_cheapest_point_and_its_error():
    records = _two_records() + [RoutingRecord(True, False, 0.6, 5, 50, id="c")]
    points = routing_frontier(records)
    assert [round(p.accuracy, 3) for p in points] == [0.667, 1.0, 0.667, 0.667]
    assert [p.threshold for p in points] == [0.0, 0.4, 0.75, math.inf]
    best = cheapest_point(points, 0.9)
    assert best.accuracy == 1.0 and best.teacher_call_rate == pytest.approx(1 / 3)
    assert cheapest_point(points, 0.0) == points[0]
    with pytest.raises(ValueError, match="best available is 1.0000"):
        cheapest_point(points, 1.01)
    with pytest.raises(ValueError, match="max_teacher_call_rate"):
        best_within_budget(points, 1.5)
    with pytest.raises(ValueError, match="tolerance"):
        near_teacher_point(points, 0.5, tolerance=1.5)


def test_records_from_report_reads_first_samples_or_the_vote():
    suite = pytest.importorskip("course_lib.eval.suite")

    def output(correct, probs, tokens, share):
        return suite.ModelOutput(
            texts=["t"] * len(correct), answers=["1"] * len(correct), correct=correct, answer_prob=probs,
            answer_prob_mean=probs, num_tokens=tokens, prediction="1", prediction_correct=share > 0.5,
            vote_share=share,
        )

    rec = suite.ProblemRecord(
        "p1", "lab/arith", "math", 2, "in_distribution",
        student=output([False, True, True], [0.2, 0.9, 0.8], [10, 11, 12], 2 / 3),
        teacher=output([True, True, True], [1.0, 1.0, 1.0], [30, 31, 32], 1.0),
    )
    ood = suite.ProblemRecord("p2", "lab/arith", "math", 5, "longer_chains", student=rec.student, teacher=rec.teacher)
    report = suite.EvalReport(config={}, records=[rec, ood])
    (r,) = records_from_report(report)
    assert (r.student_correct, r.student_confidence, r.student_tokens, r.teacher_tokens, r.id) == (False, 0.2, 10, 30, "p1")
    (sc,) = records_from_report(report, confidence="self_consistency")
    assert sc.student_correct and sc.student_confidence == pytest.approx(2 / 3) and sc.student_tokens == 33
    assert [x.id for x in records_from_report(report, split=None)] == ["p1", "p2"]
    with pytest.raises(ValueError, match="no records in split"):
        records_from_report(report, split="distractors")
    report.records[0].teacher = None
    with pytest.raises(ValueError, match="no teacher outputs"):
        records_from_report(report)
