"""Sliders over mixture weights, and the same picture without widgets.

:func:`render_mixture` samples with :func:`course_lib.data.mixture.sample_mixture` (the function the
tests check) and draws the composition: the normalised target share of each group next to the share
actually drawn. :func:`mixture_widget` puts one slider per group (plus temperature) in front of it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course_lib.data.mixture import MixtureSample, group_problems, sample_mixture
from course_lib.data.schema import Problem


def plot_composition(sample: MixtureSample, title: str | None = None) -> Figure:
    """Grouped bars per group: target share (after temperature) and realised share of the sample."""
    report = sample.report
    groups = list(report.requested)
    x = np.arange(len(groups))
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(groups) + 2), 3.2))
    ax.bar(x - 0.2, [report.requested[g] for g in groups], 0.4, label="target share")
    ax.bar(x + 0.2, [report.realised[g] for g in groups], 0.4, label=f"drawn share (n={report.n})")
    for xi, g in zip(x, groups):
        ax.annotate(str(report.counts[g]), (xi + 0.2, report.realised[g]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, groups, rotation=20 if len(groups) > 5 else 0)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of the sample")
    ax.legend(fontsize=8)
    ax.set_title(title or f"mixture by {report.key}: T={report.temperature:g}, seed={report.seed}")
    fig.tight_layout()
    return fig


def preview(sample: MixtureSample, k: int = 5, width: int = 70) -> str:
    """The first ``k`` drawn problems, one line each: ``[domain] source | prompt -> answer``."""
    lines = []
    for p in sample.problems[:k]:
        prompt = p.prompt.replace("\n", " / ")
        prompt = prompt if len(prompt) <= width else prompt[: width - 3] + "..."
        lines.append(f"[{p.domain}] {p.source} | {prompt} -> {p.answer[:30]}")
    return "\n".join(lines)


def render_mixture(
    pool: dict[str, list[Problem]] | list[Problem],
    weights: dict[str, float],
    n: int,
    seed: int = 0,
    **kwargs,
) -> tuple[Figure, MixtureSample]:
    """Sample with ``sample_mixture(pool, weights, n, seed, **kwargs)`` and plot its composition."""
    sample = sample_mixture(pool, weights, n, seed, **kwargs)
    return plot_composition(sample), sample


def mixture_widget(
    pool: dict[str, list[Problem]] | list[Problem],
    weights: dict[str, float] | None = None,
    n: int = 200,
    seed: int = 0,
    key: str = "domain",
    replace: bool = True,
    allocation: str = "multinomial",
):
    """One weight slider per group (0-1), a temperature slider, the composition chart and a preview.

    Every move calls :func:`render_mixture`; a rejected setting (e.g. all weights zero) shows the
    sampler's error message instead of a chart. Returns the widget; its ``state`` dict holds the last
    ``"sample"`` (a :class:`MixtureSample` or None) and ``"error"`` (the rejection message or None).
    """
    import ipywidgets as widgets
    from IPython.display import display

    groups = list(group_problems(pool, key) if isinstance(pool, list) else pool)
    start = weights or {g: 1.0 for g in groups}
    sliders = {
        g: widgets.FloatSlider(value=float(start.get(g, 0.0)), min=0.0, max=max(1.0, float(start.get(g, 0.0))),
                               step=0.05, description=g, continuous_update=False)
        for g in groups
    }
    temperature = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="temperature",
                                         continuous_update=False)
    out = widgets.Output()
    state: dict = {"sample": None, "error": None}

    def redraw(change=None) -> None:
        out.clear_output(wait=True)
        with out:
            chosen = {g: s.value for g, s in sliders.items()}
            try:
                fig, sample = render_mixture(pool, chosen, n, seed, temperature=temperature.value, replace=replace,
                                             key=key, allocation=allocation)
            except ValueError as err:
                state.update(sample=None, error=str(err))
                print(f"rejected: {err}")
                return
            state.update(sample=sample, error=None)
            display(fig)
            plt.close(fig)
            print(sample.report.table())
            print(preview(sample))

    for w in (*sliders.values(), temperature):
        w.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([*sliders.values(), temperature, out])
    box.state = state
    return box
