"""Figures of an :class:`~course_lib.eval.suite.EvalReport`: one function per chart, each returns the Figure.

Every function takes ``save=`` (a path; the figure is also written there, format from the suffix) and
draws nothing it did not measure: error bars are the report's bootstrap intervals.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course_lib.eval.suite import IN_DISTRIBUTION, OOD, EvalReport

COLORS = {"student": "tab:blue", "teacher": "tab:orange"}


def _finish(fig: Figure, save: str | os.PathLike | None) -> Figure:
    fig.tight_layout()
    if save is not None:
        fig.savefig(save, dpi=120, bbox_inches="tight")
    return fig


def _models(report: EvalReport) -> list[str]:
    return ["student", "teacher"] if report.config.get("teacher") is not None else ["student"]


def _bars(ax, labels: list[str], estimates: dict[str, list[dict | None]]) -> None:
    """Grouped bars with asymmetric CI error bars; ``estimates[model][i]`` is an estimate dict or None."""
    width = 0.8 / len(estimates)
    x = np.arange(len(labels))
    for j, (model, ests) in enumerate(estimates.items()):
        vals = np.array([e["value"] if e else np.nan for e in ests])
        err = np.array([[e["value"] - e["low"], e["high"] - e["value"]] if e else [0, 0] for e in ests]).T
        ax.bar(
            x + (j - (len(estimates) - 1) / 2) * width,
            vals,
            width,
            yerr=err,
            capsize=3,
            label=model,
            color=COLORS.get(model),
        )
    ax.set_xticks(x, labels, rotation=20, ha="right")


def plot_domain_accuracy(report: EvalReport, save: str | os.PathLike | None = None) -> Figure:
    """In-distribution accuracy per domain and overall, student and teacher, with 95% bootstrap CIs."""
    ind = report.metrics[IN_DISTRIBUTION]
    groups = {"overall": ind["overall"], **ind["by_domain"]}
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    _bars(ax, list(groups), {m: [g[m]["accuracy"] for g in groups.values()] for m in _models(report)})
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy by domain (95% bootstrap CI)")
    ax.legend()
    return _finish(fig, save)


def plot_reliability(
    report: EvalReport,
    splits: tuple[str, ...] = (IN_DISTRIBUTION, OOD),
    method: str = "answer_prob",
    model: str = "student",
    n_bins: int = 10,
    strategy: str = "uniform",
    save: str | os.PathLike | None = None,
) -> Figure:
    """Reliability diagrams side by side (default: in-distribution vs all OOD pooled).

    Each panel: accuracy per confidence bin (bars at the bins' mean confidence), the diagonal of perfect
    calibration, the ECE and the number of predictions. Splits without records are skipped.
    """
    splits = tuple(s for s in splits if report.select(s))
    if not splits:
        raise ValueError(f"none of the splits has records; this report has {report.splits + [OOD]}")
    fig, axes = plt.subplots(1, len(splits), figsize=(3.6 * len(splits), 3.6), squeeze=False)
    for ax, split in zip(axes[0], splits):
        diagram = report.reliability(split, method=method, model=model, n_bins=n_bins, strategy=strategy)
        widths = np.maximum(np.asarray(diagram.high) - np.asarray(diagram.low), 0.02)
        ax.bar(
            diagram.confidence,
            diagram.accuracy,
            width=widths,
            alpha=0.7,
            edgecolor="k",
            color=COLORS.get(model),
        )
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"confidence ({method})")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{split}: ECE {diagram.ece:.3f}, n={sum(diagram.count)}")
    fig.suptitle(f"Reliability of the {model} ({strategy} bins)")
    return _finish(fig, save)


def plot_ood_drop(report: EvalReport, save: str | os.PathLike | None = None) -> Figure:
    """Accuracy drop from in-distribution (same tasks) for each OOD family, student and teacher."""
    ood = report.metrics["ood"]
    if not ood:
        raise ValueError("this report has no OOD splits; evaluate with ood=... to plot drops")
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    x = np.arange(len(ood))
    models = _models(report)
    width = 0.8 / len(models)
    for j, model in enumerate(models):
        drops = [g["drop"][model] for g in ood.values()]
        ax.bar(x + (j - (len(models) - 1) / 2) * width, drops, width, label=model, color=COLORS[model])
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, list(ood), rotation=20, ha="right")
    ax.set_ylabel("accuracy drop (points of 1.0)")
    ax.set_title("Out-of-distribution drop per perturbation family")
    ax.legend()
    return _finish(fig, save)


def plot_chain_similarity(
    report: EvalReport, split: str | None = IN_DISTRIBUTION, save: str | os.PathLike | None = None
) -> Figure:
    """Histograms of the per-problem chain similarity measures (ROUGE-L, step alignment, embedding cosine)."""
    records = report.select(split)
    measures = [
        m
        for m in ("rouge_l", "step_alignment", "embedding_cosine")
        if any(getattr(r, m) is not None for r in records)
    ]
    if not measures:
        raise ValueError(f"no chain similarity measured for split {split!r}")
    fig, axes = plt.subplots(1, len(measures), figsize=(3.4 * len(measures), 3.0), squeeze=False)
    for ax, measure in zip(axes[0], measures):
        values = [getattr(r, measure) for r in records if getattr(r, measure) is not None]
        ax.hist(values, bins=np.linspace(min(0.0, min(values)), 1.0, 21), color="tab:green", edgecolor="k")
        ax.axvline(float(np.mean(values)), color="k", ls="--", lw=1)
        ax.set_xlabel(measure)
        ax.set_title(f"mean {np.mean(values):.3f} (n={len(values)})")
    axes[0][0].set_ylabel("problems")
    fig.suptitle(f"Chain similarity to the {report.config.get('chain_reference', 'teacher')}")
    return _finish(fig, save)


def plot_accuracy_vs_steps(report: EvalReport, save: str | os.PathLike | None = None) -> Figure:
    """Accuracy against the number of reasoning steps, student and teacher, with 95% CI bands."""
    rows = report.metrics["by_steps"]
    steps = [r["steps"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for model in _models(report):
        ests = [r[model] for r in rows]
        ax.plot(steps, [e["value"] for e in ests], "o-", label=model, color=COLORS[model])
        ax.fill_between(
            steps, [e["low"] for e in ests], [e["high"] for e in ests], alpha=0.2, color=COLORS[model]
        )
    trained = [r.difficulty for r in report.select(IN_DISTRIBUTION)]
    ax.axvspan(min(trained) - 0.5, max(trained) + 0.5, color="grey", alpha=0.1, label="in-distribution steps")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("reasoning steps")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy vs number of reasoning steps")
    ax.legend()
    return _finish(fig, save)
