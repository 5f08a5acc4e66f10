"""Plots draw what the report measured, and save to files."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_lib.eval import plots
from course_lib.eval.suite import EvalReport, ModelOutput, ProblemRecord, summarize


def output(correct, conf):
    return ModelOutput(
        texts=["t"],
        answers=["1"],
        correct=[correct],
        answer_prob=[conf],
        answer_prob_mean=[conf],
        num_tokens=[5],
        prediction="1",
        prediction_correct=correct,
        vote_share=1.0,
    )


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    records = []
    for i in range(60):
        split = "in_distribution" if i < 40 else ("longer_chains" if i < 50 else "distractors")
        steps = 2 + i % 2 if i < 40 else 4 + i % 2
        conf = float(rng.random())
        records.append(
            ProblemRecord(
                id=str(i),
                source="lab/arith" if i % 3 else "lab/order",
                domain="math" if i % 3 else "logic",
                difficulty=steps,
                split=split,
                student=output(bool(rng.random() < conf), conf),
                teacher=output(bool(rng.random() < 0.9), 0.9),
                agree=bool(i % 2),
                rouge_l=float(rng.random()),
                step_alignment=float(rng.random()),
                embedding_cosine=float(rng.random()),
            )
        )
    return EvalReport(
        config={"student": "s", "teacher": "t", "k": 1},
        records=records,
        metrics=summarize(records, n_boot=100),
    )


def test_domain_bars_show_measured_accuracy(report, tmp_path):
    fig = plots.plot_domain_accuracy(report, save=tmp_path / "acc.png")
    assert isinstance(fig, Figure) and (tmp_path / "acc.png").stat().st_size > 1000
    heights = [p.get_height() for p in fig.axes[0].patches]
    ind = report.metrics["in_distribution"]
    expected = [g["student"]["accuracy"]["value"] for g in [ind["overall"], *ind["by_domain"].values()]]
    assert heights[: len(expected)] == pytest.approx(expected)


def test_reliability_panels_in_and_out_of_distribution(report, tmp_path):
    fig = plots.plot_reliability(report, save=tmp_path / "rel.svg")
    assert len(fig.axes) == 2 and (tmp_path / "rel.svg").exists()
    diagram = report.reliability("in_distribution")
    assert [p.get_height() for p in fig.axes[0].patches] == pytest.approx(diagram.accuracy)
    assert f"{diagram.ece:.3f}" in fig.axes[0].get_title()


def test_other_charts(report):
    drop = plots.plot_ood_drop(report)
    assert [p.get_height() for p in drop.axes[0].patches][:2] == pytest.approx(
        [g["drop"]["student"] for g in report.metrics["ood"].values()]
    )
    assert len(plots.plot_chain_similarity(report).axes) == 3
    steps_fig = plots.plot_accuracy_vs_steps(report)
    line = steps_fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [2, 3, 4, 5]
    assert list(line.get_ydata()) == pytest.approx(
        [r["student"]["value"] for r in report.metrics["by_steps"]]
    )
    matplotlib.pyplot.close("all")
