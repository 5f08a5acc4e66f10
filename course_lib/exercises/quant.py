"""Exercise of notebook 04: write symmetric per-group fake quantization yourself.

``check_fake_quantize(your_fn)`` calls ``your_fn(w, bits, group_size)`` on fixed weight matrices and
compares the result with :func:`course_lib.quant.quantizers.fake_quantize` under
``QuantSpec(bits, "symmetric", "group", group_size)``. It prints what went wrong with a hint, and
returns True only when every case matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.quant.quantizers import QuantSpec, fake_quantize

# A learner's division order (w / s vs w * (1 / s)) may flip a weight sitting within float rounding of a
# half step; allow that for at most 0.1 % of weights, and never by more than one step.
MAX_FLIPPED = 1e-3
ATOL = 1e-6


def _cases() -> list[tuple[str, torch.Tensor, int, int]]:
    gen = torch.Generator().manual_seed(4)
    gaussian = torch.randn(32, 128, generator=gen) * 0.05
    outlier = gaussian.clone()
    outlier[3, 70] = 1.5
    zero_group = gaussian.clone()
    zero_group[5, :32] = 0.0
    return [
        ("4 bits, groups of 32", gaussian, 4, 32),
        ("2 bits, groups of 64", gaussian, 2, 64),
        ("8 bits, groups of 16", gaussian, 8, 16),
        ("one outlier weight", outlier, 4, 32),
        ("an all-zero group", zero_group, 3, 32),
    ]


def _variants(w: torch.Tensor, bits: int, group_size: int) -> dict[str, torch.Tensor]:
    """Outputs of typical mistakes, to name the one a learner made."""
    g = w.reshape(-1, group_size)
    absmax = g.abs().amax(dim=1, keepdim=True).clamp(min=1e-30)
    qmax = 2 ** (bits - 1) - 1
    full = absmax / 2 ** (bits - 1)
    per_tensor = w.abs().max() / qmax
    return {
        "full range": (torch.clamp(torch.round(g / full), -(2 ** (bits - 1)), qmax) * full).reshape(w.shape),
        "per tensor": torch.clamp(torch.round(w / per_tensor), -qmax, qmax) * per_tensor,
        "codes": torch.clamp(torch.round(g / (absmax / qmax)), -qmax, qmax).reshape(w.shape),
        "floor": (torch.clamp(torch.floor(g / (absmax / qmax)), -qmax, qmax) * absmax / qmax).reshape(w.shape),
    }


HINTS = {
    "full range": "the symmetric grid is restricted: codes run from -(2^(b-1) - 1) to 2^(b-1) - 1, so the scale is "
    "absmax / (2^(b-1) - 1) and +absmax is representable.",
    "per tensor": "each group of group_size consecutive weights along a row needs its own scale: reshape to "
    "(-1, group_size) and take the absmax per row.",
    "codes": "you returned the integer codes; multiply them by the group's scale to get weights back.",
    "floor": "round to the nearest code (torch.round), not down.",
}


def _matches(got: torch.Tensor, expected: torch.Tensor, step: torch.Tensor) -> bool:
    off = (got - expected).abs() > ATOL
    return bool(off.float().mean() <= MAX_FLIPPED and ((got - expected).abs() <= step * 1.001 + ATOL).all())


def check_fake_quantize(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> bool:
    """Grade ``fn(w, bits, group_size) -> w_hat``: symmetric, restricted range, one absmax scale per group.

    Returns:
        True when every case matches the library; otherwise prints the first mismatch and a hint.
    """
    for name, w, bits, group_size in _cases():
        spec = QuantSpec(bits, "symmetric", "group", group_size)
        expected = fake_quantize(w, spec)
        step = (w.reshape(-1, group_size).abs().amax(1, keepdim=True) / (2 ** (bits - 1) - 1)).expand(-1, group_size)
        try:
            got = fn(w.clone(), bits, group_size)
        except Exception as err:  # noqa: BLE001 - a learner's code may raise anything; report, don't crash
            print(f"[{name}] your function raised {type(err).__name__}: {err}")
            return False
        if not isinstance(got, torch.Tensor) or got.shape != w.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            print(f"[{name}] expected a tensor of shape {tuple(w.shape)}, got {shape}; reshape the groups back.")
            return False
        got = got.detach().float()
        if not torch.isfinite(got).all():
            print(f"[{name}] your output has NaN or inf: a group of zeros has absmax 0; clamp the scale away from 0.")
            return False
        if not _matches(got, expected, step.reshape(w.shape)):
            mistake = next((k for k, v in _variants(w, bits, group_size).items() if torch.allclose(got, v, atol=ATOL)), None)
            worst = (got - expected).abs().max().item()
            hint = HINTS.get(mistake, "scale = absmax of the group / (2^(b-1) - 1); w_hat = clamp(round(w / scale)) * scale.")
            print(f"[{name}] largest difference from the reference is {worst:.3g}. Hint: {hint}")
            return False
    print(f"Correct: your quantizer matches on all {len(_cases())} cases.")
    return True
