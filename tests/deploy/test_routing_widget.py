"""The routing widget and its non-interactive twin show the numbers the routing functions compute."""

import math

import matplotlib

matplotlib.use("Agg")

import pytest

from course_lib.deploy import RoutingRecord, evaluate_routing
from course_lib.widgets.routing import describe_point, render_routing, routing_widget, slider_threshold

RECORDS = [
    RoutingRecord(True, True, 0.9, 10, 40),
    RoutingRecord(False, True, 0.3, 12, 50),
    RoutingRecord(True, False, 0.6, 8, 30),
    RoutingRecord(False, False, 1.0, 9, 45),
]


def test_render_marks_the_point_evaluate_routing_computes():
    fig, point = render_routing(RECORDS, 0.5)
    assert point == evaluate_routing(RECORDS, 0.5)
    assert point.accuracy == 0.75 and point.teacher_call_rate == 0.25
    assert describe_point(point) in fig._suptitle.get_text()
    assert len(fig.axes) == 2


def test_slider_end_means_teacher_only():
    assert slider_threshold(1.0) == math.inf and slider_threshold(0.25) == 0.25
    assert evaluate_routing(RECORDS, slider_threshold(1.0)).teacher_call_rate == 1.0


def test_widget_redraws_on_slider_moves(capsys):
    pytest.importorskip("ipywidgets")
    box = routing_widget(RECORDS, initial=0.0)
    slider, _ = box.children
    slider.value = 0.7  # outside a kernel the Output widget passes prints through to stdout
    text = capsys.readouterr().out
    assert describe_point(evaluate_routing(RECORDS, 0.0)) in text
    assert describe_point(evaluate_routing(RECORDS, 0.7)) in text


def test_render_prefilter_labels_its_frontier():
    fig, point = render_routing(RECORDS, 0.5, mode="prefilter", scores=[0.9, 0.2, 0.7, 0.4])
    assert point.student_call_rate == 0.5 and point.teacher_call_rate == 0.5
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "prefilter" in labels and "cascade" not in labels
