"""The notebook-04 exercise: the reference solution passes, typical mistakes fail with the right hint."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import torch

from course_lib.exercises.quant import check_fake_quantize

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "04_quantization_aware_distillation.py"


def load_solution():
    module = SimpleNamespace(**runpy.run_path(str(SOLUTION)))  # run_name is not "__main__"
    return module


def test_reference_solution_passes(capsys):
    assert check_fake_quantize(load_solution().my_fake_quantize) is True
    assert "Correct" in capsys.readouterr().out


def _quantize(w, group_size, qmin, qmax, scale_div, rounding=torch.round, guard=True):
    g = w.reshape(-1, group_size)
    absmax = g.abs().amax(dim=1, keepdim=True)
    scale = (absmax.clamp(min=1e-30) if guard else absmax) / scale_div
    return (torch.clamp(rounding(g / scale), qmin, qmax) * scale).reshape(w.shape)


def test_full_range_grid_fails_with_range_hint(capsys):
    def full_range(w, bits, group_size):
        return _quantize(w, group_size, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1, 2 ** (bits - 1))

    assert check_fake_quantize(full_range) is False
    assert "codes run from -(2^(b-1) - 1)" in capsys.readouterr().out


def test_per_tensor_scale_fails_with_group_hint(capsys):
    def per_tensor(w, bits, group_size):
        return _quantize(w, w.numel(), -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1, 2 ** (bits - 1) - 1)

    assert check_fake_quantize(per_tensor) is False
    assert "its own scale" in capsys.readouterr().out


def test_floor_codes_and_zero_groups_get_their_hints(capsys):
    def floor(w, bits, group_size):
        q = 2 ** (bits - 1) - 1
        return _quantize(w, group_size, -q, q, q, rounding=torch.floor)

    def codes(w, bits, group_size):
        q = 2 ** (bits - 1) - 1
        g = w.reshape(-1, group_size)
        return torch.round(g / (g.abs().amax(1, keepdim=True).clamp(min=1e-30) / q)).reshape(w.shape)

    def unguarded(w, bits, group_size):
        q = 2 ** (bits - 1) - 1
        return _quantize(w, group_size, -q, q, q, guard=False)

    assert check_fake_quantize(floor) is False
    assert "not down" in capsys.readouterr().out
    assert check_fake_quantize(codes) is False
    assert "integer codes" in capsys.readouterr().out
    assert check_fake_quantize(unguarded) is False
    assert "clamp the scale away from 0" in capsys.readouterr().out
    assert check_fake_quantize(lambda w, bits, g: torch.round(w)) is False
    assert "Hint: scale = absmax" in capsys.readouterr().out
    assert check_fake_quantize(lambda w, bits, g: w[:2]) is False
    assert "expected a tensor of shape (32, 128)" in capsys.readouterr().out
