"""Fake quantizers: round weights to a low-bit grid and back, in float, with a straight-through gradient.

A quantizer is described by a :class:`QuantSpec` (bits, scheme, granularity). Three schemes:

* ``"symmetric"``  — integer grid ``q ∈ {-(2^(b-1)-1), …, 2^(b-1)-1}``, ``w ≈ s·q`` with ``s = absmax / (2^(b-1)-1)``
  (the restricted, zero-centred range that LLM.int8 uses; 2 bits gives the ternary grid {-s, 0, s}).
* ``"asymmetric"`` — integer grid ``q ∈ {0, …, 2^b-1}`` with a zero point ``z``: ``w ≈ s·(q - z)``,
  ``s = (max - min) / (2^b - 1)``, ``z = round(-min / s)`` — uses all ``2^b`` levels on skewed weights.
* ``"nf"``         — NormalFloat (QLoRA, Dettmers et al. 2023): ``2^b`` levels at quantiles of N(0, 1),
  scaled by ``absmax``; ``bits=4`` is NF4, equal value for value to bitsandbytes' codebook.

Granularity says which weights share one scale: ``"tensor"`` (one scale), ``"channel"`` (one per output
row, dim 0) or ``"group"`` (consecutive runs of ``group_size`` along the last dim, as bitsandbytes'
``blocksize`` does on a row-major weight whose rows are a multiple of the block).

Quantization noise is measured as MSE and SQNR = 10·log10(E[w²] / E[(w - ŵ)²]) in dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torch

SCHEMES = ("symmetric", "asymmetric", "nf")
GRANULARITIES = ("tensor", "channel", "group")
MIN_BITS, MAX_BITS = 2, 8


@dataclass(frozen=True)
class QuantSpec:
    """How to quantize one weight tensor.

    Attributes:
        bits: bit width, an integer in 2..8 (``2^bits`` codes).
        scheme: ``"symmetric"``, ``"asymmetric"`` or ``"nf"`` (NormalFloat; ``bits=4`` is NF4).
        granularity: ``"tensor"``, ``"channel"`` or ``"group"``.
        group_size: weights per group along the last dim (used only when ``granularity="group"``).
    """

    bits: int = 4
    scheme: str = "symmetric"
    granularity: str = "group"
    group_size: int = 64

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not MIN_BITS <= self.bits <= MAX_BITS:
            raise ValueError(f"bits must be an integer from {MIN_BITS} to {MAX_BITS}; got {self.bits!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(
                f"unknown quantization scheme {self.scheme!r}; choose one of {', '.join(SCHEMES)} "
                "('nf' with bits=4 is NF4)"
            )
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"unknown granularity {self.granularity!r}; choose one of {', '.join(GRANULARITIES)}")
        if isinstance(self.group_size, bool) or not isinstance(self.group_size, int) or self.group_size < 1:
            raise ValueError(f"group_size must be a positive integer; got {self.group_size!r}")

    @property
    def label(self) -> str:
        """Short name for tables, e.g. ``"symmetric int4 g64"`` or ``"nf4 channel"``."""
        kind = f"nf{self.bits}" if self.scheme == "nf" else f"{self.scheme} int{self.bits}"
        where = f"g{self.group_size}" if self.granularity == "group" else self.granularity
        return f"{kind} {where}"


@dataclass
class QuantParams:
    """Per-group parameters from :func:`quantize`; ``scale`` and ``zero_point`` have shape (G, 1)."""

    spec: QuantSpec
    shape: torch.Size
    scale: torch.Tensor
    zero_point: torch.Tensor | None = None


def normal_float_levels(bits: int) -> torch.Tensor:
    """The ``2^bits`` NormalFloat levels in [-1, 1], sorted (float32); ``bits=4`` is bitsandbytes' NF4.

    Construction (QLoRA, App. E): ``2^(b-1)`` positive and ``2^(b-1)-1`` negative quantiles of N(0, 1)
    taken evenly between probability 0.5 and an offset, plus an exact zero, divided by the largest.
    The offset ``(1 - 1/(2(n-1)) + 1 - 1/(2n)) / 2`` with ``n = 2^b`` is rounded to 7 decimals, as QLoRA
    quotes it (0.9677083 for NF4), which reproduces bitsandbytes' table bit for bit.
    """
    QuantSpec(bits=bits)  # validates bits
    return _normal_float_levels(bits).clone()


@cache
def _normal_float_levels(bits: int) -> torch.Tensor:
    n = 2**bits
    offset = round(0.5 * ((1 - 1 / (2 * (n - 1))) + (1 - 1 / (2 * n))), 7)
    positive = torch.special.ndtri(torch.linspace(offset, 0.5, n // 2 + 1)[:-1].double()).float()
    negative = -torch.special.ndtri(torch.linspace(offset, 0.5, n // 2)[:-1].double()).float()
    levels = torch.cat([negative, torch.zeros(1), positive]).sort().values
    return levels / levels.max()


def code_range(spec: QuantSpec) -> tuple[int, int]:
    """Smallest and largest integer code of a uniform scheme, e.g. (-7, 7) for symmetric 4-bit."""
    if spec.scheme == "symmetric":
        qmax = 2 ** (spec.bits - 1) - 1
        return -qmax, qmax
    return 0, 2**spec.bits - 1  # asymmetric codes, or nf indices into the codebook


def group_view(w: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    """View ``w`` as (G, N): one row per group of weights sharing a scale (see granularity)."""
    if spec.granularity == "tensor":
        return w.reshape(1, -1)
    if w.dim() < 2 and spec.granularity == "channel":
        raise ValueError(f"per-channel quantization needs a tensor with >= 2 dims; got shape {tuple(w.shape)}")
    if spec.granularity == "channel":
        return w.reshape(w.shape[0], -1)
    last = w.shape[-1]
    if last % spec.group_size:
        divisors = [d for d in (16, 32, 64, 128, 256) if last % d == 0] or [last]
        raise ValueError(
            f"group_size {spec.group_size} does not divide the last dimension {last} of a tensor of shape "
            f"{tuple(w.shape)}; use a divisor of {last}, e.g. {', '.join(map(str, divisors))}"
        )
    return w.reshape(-1, spec.group_size)


def quantize(w: torch.Tensor, spec: QuantSpec) -> tuple[torch.Tensor, QuantParams]:
    """Quantize ``w`` to integer codes (no gradient).

    Returns:
        ``(codes, params)``: ``codes`` is an int64 tensor of shape (G, N) (see granularity), holding the
        integer grid value (symmetric/asymmetric) or the codebook index (nf); ``params`` holds the
        per-group ``scale`` (G, 1) and, for asymmetric, ``zero_point`` (G, 1).
    """
    if not torch.is_floating_point(w):
        raise ValueError(f"can only quantize floating-point tensors; got dtype {w.dtype}")
    g = group_view(w.detach().float(), spec)  # (G, N)
    lo, hi = code_range(spec)
    tiny = torch.finfo(torch.float32).tiny
    if spec.scheme == "asymmetric":
        wmin = g.amin(dim=1, keepdim=True).clamp(max=0.0)
        wmax = g.amax(dim=1, keepdim=True).clamp(min=0.0)
        scale = ((wmax - wmin) / hi).clamp(min=tiny)  # (G, 1)
        zero = torch.round(-wmin / scale).clamp(lo, hi)
        codes = torch.clamp(torch.round(g / scale) + zero, lo, hi)
        return codes.long(), QuantParams(spec, w.shape, scale, zero)
    absmax = g.abs().amax(dim=1, keepdim=True).clamp(min=tiny)  # (G, 1)
    if spec.scheme == "symmetric":
        scale = absmax / hi
        codes = torch.clamp(torch.round(g / scale), lo, hi)
        return codes.long(), QuantParams(spec, w.shape, scale)
    levels = _normal_float_levels(spec.bits).to(g.device)  # (L,)
    midpoints = (levels[1:] + levels[:-1]) / 2  # (L-1,): nearest level = number of midpoints below
    codes = torch.searchsorted(midpoints, (g / absmax).contiguous())  # (G, N)
    return codes, QuantParams(spec, w.shape, absmax)


def dequantize(codes: torch.Tensor, params: QuantParams) -> torch.Tensor:
    """Map integer codes back to float weights of the original shape (float32)."""
    if params.spec.scheme == "nf":
        values = _normal_float_levels(params.spec.bits).to(codes.device)[codes] * params.scale
    elif params.spec.scheme == "asymmetric":
        values = (codes.float() - params.zero_point) * params.scale
    else:
        values = codes.float() * params.scale
    return values.reshape(params.shape)


def fake_quantize(w: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    """Quantize and dequantize ``w``; the gradient passes straight through (STE: dŵ/dw = 1).

    Returns a tensor of ``w``'s shape and dtype whose values lie on the grid of ``spec``.
    """
    codes, params = quantize(w, spec)
    w_hat = dequantize(codes, params).to(w.dtype)
    return w + (w_hat - w).detach()


def grid_levels(w: torch.Tensor, spec: QuantSpec, group: int = 0) -> torch.Tensor:
    """All representable values (weight units, sorted) of one group of ``w`` — what the widget draws."""
    _, params = quantize(w, spec)
    n_groups = params.scale.shape[0]
    if not 0 <= group < n_groups:
        raise ValueError(f"group must be in 0..{n_groups - 1} for {spec.label} on shape {tuple(w.shape)}; got {group}")
    lo, hi = code_range(spec)
    if spec.scheme == "nf":
        return _normal_float_levels(spec.bits) * params.scale[group]
    codes = torch.arange(lo, hi + 1, dtype=torch.float32)
    shift = params.zero_point[group] if params.zero_point is not None else 0.0
    return (codes - shift) * params.scale[group]


def grid_step(w: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    """Per-weight quantizer step Δ (weight units, shape of ``w``): the gap between the two grid levels
    around each weight. For uniform schemes this is the group's scale; for nf it depends on where w lies."""
    _, params = quantize(w, spec)
    g = group_view(w.detach().float(), spec)
    if spec.scheme != "nf":
        return params.scale.expand_as(g).reshape(w.shape)
    levels = _normal_float_levels(spec.bits).to(g.device)
    gaps = levels.diff()  # (L-1,)
    idx = torch.searchsorted(levels, (g / params.scale).contiguous()).clamp(1, len(levels) - 1) - 1
    return (gaps[idx] * params.scale).reshape(w.shape)


@dataclass(frozen=True)
class QuantError:
    """Reconstruction error of one quantizer on one tensor: ``mse`` (weight units²), ``mean_abs`` and
    ``max_abs`` (weight units), ``sqnr_db`` (signal-to-quantization-noise ratio, dB; inf when exact)."""

    mse: float
    mean_abs: float
    max_abs: float
    sqnr_db: float


def reconstruction_error(w: torch.Tensor, w_hat: torch.Tensor) -> QuantError:
    """Error statistics of an approximation ``w_hat`` of ``w`` (same shape)."""
    if w.shape != w_hat.shape:
        raise ValueError(f"shapes differ: {tuple(w.shape)} vs {tuple(w_hat.shape)}")
    w, w_hat = w.detach().float(), w_hat.detach().float()
    err = w - w_hat
    mse = float(err.pow(2).mean())
    signal = float(w.pow(2).mean())
    sqnr = math.inf if mse == 0 else 10 * math.log10(max(signal, 1e-30) / mse)
    return QuantError(mse=mse, mean_abs=float(err.abs().mean()), max_abs=float(err.abs().max()), sqnr_db=sqnr)


def quant_error(w: torch.Tensor, spec: QuantSpec) -> QuantError:
    """Error statistics of ``fake_quantize(w, spec)`` against ``w``."""
    with torch.no_grad():
        return reconstruction_error(w, fake_quantize(w, spec))
