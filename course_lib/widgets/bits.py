"""A bit-width explorer: pick bits, scheme and group size, see what happens to one layer's weights.

:func:`render_bits` draws the picture for one setting and returns the layer's error statistics;
:func:`bits_widget` is a slider and drop-downs that call it on every change. Both use only
:mod:`course_lib.quant.quantizers` (``fake_quantize``, ``grid_levels``, ``quant_error``), the functions
the tests check, so the widget has no logic of its own.

Panels: (1) the layer's weights before and after quantization; (2) one group of weights with its
quantization levels; (3) SQNR of this layer against bits, the chosen setting marked; (4) the measured
accuracy-vs-bits curves of the experiment, when given.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from course_lib.quant.layers import select_linear_layers
from course_lib.quant.quantizers import (
    GRANULARITIES,
    MAX_BITS,
    MIN_BITS,
    SCHEMES,
    QuantError,
    QuantSpec,
    fake_quantize,
    grid_levels,
    group_view,
    quant_error,
)

GROUP_SIZES = (16, 32, 64, 128)
DEFAULT_SPEC = QuantSpec(4, "symmetric", "group", 32)
Curves = Mapping[str, Mapping[int, float]]  # label -> {bits: accuracy}; 32 = full precision


def layer_weight(model: torch.nn.Module, layer: str) -> torch.Tensor:
    """The weight (detached, float32) of a linear layer chosen by exact name."""
    names = select_linear_layers(model, include=("*",), exclude=())
    if layer not in names:
        raise ValueError(f"no linear layer named {layer!r}; choose one of: {', '.join(names[:10])} …")
    return dict(model.named_modules())[layer].weight.detach().float()


def describe_error(spec: QuantSpec, err: QuantError) -> str:
    """One line: the quantizer and its error on the layer."""
    return f"{spec.label}: MSE={err.mse:.3g}  SQNR={err.sqnr_db:.1f} dB  max|err|={err.max_abs:.3g}"


def render_bits(
    weight: torch.Tensor,
    spec: QuantSpec,
    *,
    layer: str = "layer",
    group: int | None = None,
    accuracy_curves: Curves | None = None,
) -> tuple[Figure, QuantError]:
    """Draw what ``spec`` does to ``weight`` (the widget's picture, without a widget).

    Args:
        weight: a 2-D weight (out_features, in_features).
        spec: the quantizer.
        layer: its name, for titles.
        group: which group to zoom into (default: the one holding the largest |w|).
        accuracy_curves: measured accuracy per bit width, e.g.
            ``{"PTQ in-dist": {32: .9, 8: .9, 4: .7}, "QAD in-dist": {...}}`` (key 32 = full precision).

    Returns:
        ``(figure, quant_error(weight, spec))``.
    """
    err = quant_error(weight, spec)
    w_hat = fake_quantize(weight, spec).detach()
    groups = group_view(weight, spec)  # (G, N)
    group = int(groups.abs().amax(dim=1).argmax()) if group is None else group
    levels = grid_levels(weight, spec, group)

    n_panels = 4 if accuracy_curves else 3
    fig, axes = plt.subplots(1, n_panels, figsize=(4.0 * n_panels, 3.4))
    edges = torch.linspace(float(weight.min()), float(weight.max()), 81).tolist()
    axes[0].hist(weight.flatten().tolist(), bins=edges, alpha=0.5, label="full precision")
    axes[0].hist(w_hat.flatten().tolist(), bins=edges, histtype="step", color="k", label="quantized")
    axes[0].set(title=f"{layer}: all weights", xlabel="weight", ylabel="count", yscale="log")
    axes[0].legend(fontsize=8)

    axes[1].hist(groups[group].tolist(), bins=min(40, groups.shape[1]), alpha=0.6)
    for level in levels.tolist():
        axes[1].axvline(level, color="tab:red", lw=0.8)
    axes[1].set(title=f"group {group}: {len(levels)} levels (red)", xlabel="weight")

    bits = list(range(MIN_BITS, MAX_BITS + 1))
    sqnr = [quant_error(weight, QuantSpec(b, spec.scheme, spec.granularity, spec.group_size)).sqnr_db for b in bits]
    axes[2].plot(bits, sqnr, "o-")
    axes[2].plot([spec.bits], [err.sqnr_db], "o", ms=11, color="tab:red")
    axes[2].set(title="SQNR of this layer", xlabel="bits", ylabel="dB", xticks=bits)

    if accuracy_curves:
        for label, curve in accuracy_curves.items():
            pts = sorted((b, a) for b, a in curve.items() if b <= MAX_BITS)
            axes[3].plot([b for b, _ in pts], [a for _, a in pts], "o-", label=label)
            if max(curve) > MAX_BITS:
                axes[3].axhline(curve[max(curve)], ls="--", color="gray", lw=0.8)
        axes[3].axvline(spec.bits, color="tab:red", lw=0.8)
        axes[3].set(title="accuracy (dashed: full precision)", xlabel="bits", ylim=(0, 1), xticks=bits)
        axes[3].legend(fontsize=8)
    fig.suptitle(describe_error(spec, err))
    fig.tight_layout()
    return fig, err


def bits_widget(
    model: torch.nn.Module,
    *,
    layer: str | None = None,
    accuracy_curves: Curves | None = None,
    spec: QuantSpec = DEFAULT_SPEC,
):
    """Slider (bits) and drop-downs (layer, scheme, granularity, group size) over :func:`render_bits`.

    Returns the widget (display it, or let it be a cell's last expression). Settings a layer cannot
    take (a group size that does not divide its inputs) print the error instead of a figure.
    """
    import ipywidgets as widgets
    from IPython.display import display

    names = select_linear_layers(model)
    controls = {
        "layer": widgets.Dropdown(options=names, value=layer or names[0], description="layer"),
        "bits": widgets.IntSlider(value=spec.bits, min=MIN_BITS, max=MAX_BITS, description="bits",
                                  continuous_update=False),
        "scheme": widgets.Dropdown(options=SCHEMES, value=spec.scheme, description="scheme"),
        "granularity": widgets.Dropdown(options=GRANULARITIES, value=spec.granularity, description="granularity"),
        "group_size": widgets.Dropdown(options=GROUP_SIZES, value=spec.group_size, description="group size"),
    }
    out = widgets.Output()

    def redraw(change=None) -> None:
        out.clear_output(wait=True)
        with out:
            try:
                chosen = QuantSpec(controls["bits"].value, controls["scheme"].value, controls["granularity"].value,
                                   controls["group_size"].value)
                fig, _ = render_bits(layer_weight(model, controls["layer"].value), chosen,
                                     layer=controls["layer"].value, accuracy_curves=accuracy_curves)
            except ValueError as error:
                print(error)
                return
            display(fig)
            plt.close(fig)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(controls.values())[:3]), widgets.HBox(list(controls.values())[3:]), out])
