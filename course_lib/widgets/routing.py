"""A threshold slider over a routing frontier, and the same picture without widgets.

:func:`render_routing` draws the cost–accuracy frontier with the point of one threshold marked and
returns that point; :func:`routing_widget` is a slider that calls it on every move. Both call
:func:`course_lib.deploy.routing.routing_frontier` and :func:`~course_lib.deploy.routing.evaluate_routing`,
the functions the tests check, so the widget has no logic of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from course_lib.deploy.cost import CostModel
from course_lib.deploy.routing import (
    RoutingPoint,
    RoutingRecord,
    evaluate_routing,
    oracle_point,
    pareto_front,
    routing_frontier,
)


def slider_threshold(value: float) -> float:
    """Map a slider position in [0, 1] to a threshold: the right end (1.0) means "always escalate" (``inf``).

    Confidences can be exactly 1.0 (a float32 log-probability of 0), which a threshold of 1.0 would
    never escalate; the slider's end stands for the teacher-only endpoint instead.
    """
    return math.inf if value >= 1.0 else float(value)


def plot_frontier(
    points: Sequence[RoutingPoint],
    current: RoutingPoint | None = None,
    oracle: RoutingPoint | None = None,
    others: dict[str, Sequence[RoutingPoint]] | None = None,
    title: str = "Cost-accuracy frontier",
    label: str = "cascade",
) -> Figure:
    """Two panels: accuracy against mean cost per problem, and against the teacher-call rate.

    Args:
        points: a router's frontier (from ``routing_frontier``), drawn as a line with its Pareto front.
        current: a point to mark (the slider's threshold).
        oracle: the oracle router's point, drawn as a star (the best any router could do).
        others: more frontiers by label (e.g. ``{"prefilter": points}``), drawn as dashed lines.
        title: figure title.
        label: legend label of ``points``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    series = {label: points, **(others or {})}
    for (name, pts), style in zip(series.items(), ("-", "--", ":", "-.")):
        for ax, x in zip(axes, ("cost", "teacher_call_rate")):
            ordered = sorted(pts, key=lambda p: getattr(p, x))
            ax.plot([getattr(p, x) for p in ordered], [p.accuracy for p in ordered], style, marker=".", label=name)
    front = pareto_front(points)
    axes[0].plot([p.cost for p in front], [p.accuracy for p in front], "o", mfc="none", color="k", label="Pareto front")
    ends = {"student only": points[0], "teacher only": points[-1]}
    for ax, x in zip(axes, ("cost", "teacher_call_rate")):
        for end, p in ends.items():
            ax.annotate(end, (getattr(p, x), p.accuracy), textcoords="offset points", xytext=(4, -12), fontsize=8)
        if oracle is not None:
            ax.plot(getattr(oracle, x), oracle.accuracy, "*", ms=12, color="tab:green", label="oracle router")
        if current is not None:
            ax.plot(getattr(current, x), current.accuracy, "o", ms=10, color="tab:red", label="current threshold")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
    axes[0].set_xlabel("mean cost per problem (relative units)")
    axes[1].set_xlabel("teacher-call rate")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def describe_point(point: RoutingPoint) -> str:
    """One line: threshold, accuracy, teacher-call rate and cost of a point."""
    return (
        f"threshold={point.threshold:.3f}  accuracy={point.accuracy:.3f}  "
        f"teacher calls={point.teacher_call_rate:.1%}  cost/problem={point.cost:.2f}"
    )


def render_routing(
    records: Sequence[RoutingRecord],
    threshold: float,
    cost: CostModel | None = None,
    *,
    mode: str = "cascade",
    scores: Sequence[float] | None = None,
) -> tuple[Figure, RoutingPoint]:
    """The frontier with the point at ``threshold`` marked (the widget's picture, without a widget).

    Returns:
        ``(figure, point)``; ``point`` is ``evaluate_routing(records, threshold, cost, mode=mode, scores=scores)``.
    """
    points = routing_frontier(records, cost, mode=mode, scores=scores)
    point = evaluate_routing(records, threshold, cost, mode=mode, scores=scores)
    fig = plot_frontier(
        points,
        current=point,
        oracle=oracle_point(records, cost, mode=mode),
        title=f"{mode}: {describe_point(point)}",
        label=mode,
    )
    return fig, point


def routing_widget(
    records: Sequence[RoutingRecord],
    cost: CostModel | None = None,
    *,
    mode: str = "cascade",
    scores: Sequence[float] | None = None,
    initial: float = 0.5,
):
    """A slider over the threshold (0 = student only, 1.0 = teacher only, see :func:`slider_threshold`).

    Every move redraws :func:`render_routing` and prints :func:`describe_point`. Returns the widget
    (display it, or let it be a cell's last expression).
    """
    import ipywidgets as widgets
    from IPython.display import display

    slider = widgets.FloatSlider(
        value=initial, min=0.0, max=1.0, step=0.01, description="threshold", continuous_update=False
    )
    out = widgets.Output()

    def redraw(change=None) -> None:
        out.clear_output(wait=True)
        with out:
            fig, point = render_routing(records, slider_threshold(slider.value), cost, mode=mode, scores=scores)
            display(fig)
            plt.close(fig)
            print(describe_point(point))

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, out])
