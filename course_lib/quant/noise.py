"""Quantization noise for training: perturb weights the way a quantizer would, only while training.

Two kinds, both sized by a :class:`~course_lib.quant.quantizers.QuantSpec`:

* ``"uniform"``  — add ``U(-Δ/2, Δ/2)`` to every weight, Δ the quantizer's step at that weight
  (variance Δ²/12, the classic model of rounding error: Widrow's additive-noise model).
* ``"fraction"`` — Quant-Noise (Fan et al., 2021, "Training with Quantization Noise for Extreme Model
  Compression"): fake-quantize a random fraction ``p`` of the weights at each forward pass, leave the rest
  exact; gradients pass straight through. At ``p = 1`` it is ordinary quantization-aware training.

The module is a weight parametrization (see :mod:`course_lib.quant.layers`) that returns the weight
unchanged in ``eval()`` mode, so evaluation and generation never see noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from course_lib.quant.layers import DEFAULT_EXCLUDE, attach
from course_lib.quant.quantizers import QuantSpec, fake_quantize, grid_step

NOISE_KINDS = ("uniform", "fraction")


class QuantNoise(nn.Module):
    """Parametrization ``w -> w + noise`` in training mode, ``w -> w`` in eval mode.

    Args:
        spec: the quantizer whose error the noise imitates.
        kind: ``"uniform"`` or ``"fraction"``.
        p: fraction of weights quantized at each pass (``"fraction"`` only), in (0, 1].
        generator: optional ``torch.Generator`` for reproducible noise.
    """

    def __init__(self, spec: QuantSpec, kind: str = "uniform", p: float = 0.5, generator=None) -> None:
        super().__init__()
        if kind not in NOISE_KINDS:
            raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"noise fraction p must be in (0, 1]; got {p!r}")
        self.spec, self.kind, self.p, self.generator = spec, kind, float(p), generator

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return w
        if self.kind == "uniform":
            u = torch.rand(w.shape, generator=self.generator, device=w.device, dtype=w.dtype) - 0.5
            return w + (u * grid_step(w, self.spec).to(w.dtype)).detach()
        chosen = torch.rand(w.shape, generator=self.generator, device=w.device) < self.p
        return torch.where(chosen, fake_quantize(w, self.spec), w)

    def extra_repr(self) -> str:
        extra = f", p={self.p}" if self.kind == "fraction" else ""
        return f"{self.kind} noise of {self.spec.label}{extra}"


def add_quant_noise(
    model: nn.Module,
    spec: QuantSpec,
    kind: str = "uniform",
    p: float = 0.5,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    seed: int | None = None,
) -> list[str]:
    """Attach :class:`QuantNoise` to the selected linear layers (in place); returns their names.

    ``seed`` makes the noise reproducible (one generator shared by all layers). Remove it with
    :func:`course_lib.quant.layers.remove_quantizers`.
    """
    QuantNoise(spec, kind, p)  # validate before touching the model
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    return attach(model, lambda layer: QuantNoise(spec, kind, p, generator), include, exclude)
