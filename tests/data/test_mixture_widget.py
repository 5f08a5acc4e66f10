"""The mixture widget and its non-interactive twin call the tested sampler and show its numbers."""

from course_lib.data.mixture import sample_mixture
from course_lib.data.tasks import lab_suite
from course_lib.widgets.mixture import mixture_widget, preview, render_mixture

POOL = lab_suite(10, seed=0)
WEIGHTS = {"math": 3, "code": 1, "logic": 1, "general": 1}


def test_render_mixture_equals_the_sampler_and_plots_both_shares():
    fig, sample = render_mixture(POOL, WEIGHTS, 40, seed=4, allocation="exact")
    direct = sample_mixture(POOL, WEIGHTS, 40, 4, allocation="exact")
    assert [p.id for p in sample.problems] == [p.id for p in direct.problems]
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights[:4] == [direct.report.requested[g] for g in WEIGHTS]
    assert heights[4:] == [direct.report.realised[g] for g in WEIGHTS]
    assert heights[0] == 0.5


def test_preview_lists_the_first_problems():
    sample = sample_mixture(POOL, WEIGHTS, 10, seed=0)
    lines = preview(sample, k=3).splitlines()
    assert len(lines) == 3 and lines[0].startswith(f"[{sample.problems[0].domain}] {sample.problems[0].source}")


def test_widget_has_a_slider_per_group_and_reports_rejections():
    box = mixture_widget(POOL, WEIGHTS, n=40, seed=1)
    sliders, temperature = box.children[:4], box.children[4]
    assert [s.description for s in sliders] == list(WEIGHTS)
    assert temperature.value == 1.0
    assert box.state["sample"].report.counts["math"] > box.state["sample"].report.counts["code"]
    for s in sliders:
        s.value = 0.0
    assert box.state["sample"] is None and "positive" in box.state["error"]
    sliders[1].value = 1.0
    assert box.state["error"] is None and box.state["sample"].report.counts == {"math": 0, "code": 40, "logic": 0, "general": 0}
    temperature.value = 10.0
    assert box.state["sample"].report.temperature == 10.0
