"""Fake quantizers: error vs bits, exact grids, straight-through gradients, NF4 = bitsandbytes, bad input."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.quant.quantizers import (
    GRANULARITIES,
    SCHEMES,
    QuantSpec,
    dequantize,
    fake_quantize,
    grid_levels,
    grid_step,
    normal_float_levels,
    quant_error,
    quantize,
    reconstruction_error,
)

ALL_SPECS = [(s, g) for s in SCHEMES for g in GRANULARITIES]


def weights(seed=0, shape=(64, 128), dist="normal"):
    gen = torch.Generator().manual_seed(seed)
    if dist == "normal":
        return torch.randn(shape, generator=gen) * 0.05
    if dist == "laplace":
        u = torch.rand(shape, generator=gen) - 0.5
        return -0.05 * u.sign() * torch.log1p(-2 * u.abs())
    return torch.rand(shape, generator=gen) * 0.3 - 0.1  # skewed uniform


@pytest.mark.parametrize("scheme,granularity", ALL_SPECS)
@pytest.mark.parametrize("dist", ["normal", "laplace", "skewed"])
def test_error_falls_strictly_with_bits(scheme, granularity, dist):
    w = weights(1, dist=dist)
    mse = [quant_error(w, QuantSpec(b, scheme, granularity, 32)).mse for b in range(2, 9)]
    assert all(a > b for a, b in itertools.pairwise(mse)), mse
    assert mse[-1] < mse[0] / 100  # 8 bits is more than 20 dB better than 2 bits


@pytest.mark.parametrize("scheme,granularity", ALL_SPECS)
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_values_land_exactly_on_the_grid(scheme, granularity, bits):
    spec = QuantSpec(bits, scheme, granularity, 32)
    w = weights(2)
    w_hat = fake_quantize(w, spec).reshape(-1, {"tensor": w.numel(), "channel": w.shape[1], "group": 32}[granularity])
    for group in (0, w_hat.shape[0] - 1):
        levels = grid_levels(w, spec, group)
        assert len(levels) == (2**bits - 1 if scheme == "symmetric" else 2**bits)
        assert torch.isin(w_hat[group], levels).all()


@settings(max_examples=40, deadline=None)
@given(
    bits=st.integers(2, 8),
    scheme=st.sampled_from(["symmetric", "asymmetric"]),
    granularity=st.sampled_from(GRANULARITIES),
    seed=st.integers(0, 10_000),
    scale=st.floats(1e-3, 1e3),
)
def test_uniform_error_is_at_most_half_a_step(bits, scheme, granularity, seed, scale):
    w = weights(seed, shape=(8, 32)) * scale
    spec = QuantSpec(bits, scheme, granularity, 16)
    err = (fake_quantize(w, spec) - w).abs()
    assert (err <= grid_step(w, spec) * (0.5 + 1e-5)).all()


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(2, 8), scheme=st.sampled_from(SCHEMES), seed=st.integers(0, 10_000))
def test_codes_stay_in_range_and_quantizing_twice_changes_nothing(bits, scheme, seed):
    spec = QuantSpec(bits, scheme, "channel")
    w = weights(seed, shape=(4, 48))
    codes, params = quantize(w, spec)
    assert codes.min() >= 0 - (2 ** (bits - 1) - 1) * (scheme == "symmetric")
    assert codes.max() <= (2 ** (bits - 1) - 1 if scheme == "symmetric" else 2**bits - 1)
    once = dequantize(codes, params)
    assert torch.allclose(fake_quantize(once, spec), once, rtol=1e-5, atol=1e-9)
    assert max(len(row.unique()) for row in once) <= 2**bits


def test_straight_through_estimator_passes_the_gradient_unchanged():
    w = weights(3).requires_grad_(True)
    upstream = torch.randn_like(w)
    (fake_quantize(w, QuantSpec(3, "asymmetric", "group", 16)) * upstream).sum().backward()
    assert torch.equal(w.grad, upstream)


def test_nf4_levels_equal_the_bitsandbytes_codebook_exactly():
    from bitsandbytes.functional import get_4bit_type

    assert torch.equal(normal_float_levels(4), get_4bit_type("nf4", device="cpu"))
    for bits in range(2, 9):
        levels = normal_float_levels(bits)
        assert len(levels) == 2**bits and levels[0] == -1 and levels[-1] == 1 and (levels == 0).sum() == 1
        assert (levels.diff() > 0).all()


def test_sqnr_of_an_exact_copy_is_infinite_and_shapes_must_match():
    w = weights(4)
    assert reconstruction_error(w, w.clone()).sqnr_db == math.inf
    # a uniform quantizer gains about 6 dB per bit on Gaussian weights
    gains = [quant_error(w, QuantSpec(b + 1, "symmetric", "channel")).sqnr_db
             - quant_error(w, QuantSpec(b, "symmetric", "channel")).sqnr_db for b in range(4, 8)]
    assert all(5.0 < g < 7.0 for g in gains), gains
    with pytest.raises(ValueError, match="shapes differ"):
        reconstruction_error(w, w[:2])


@pytest.mark.parametrize("bits", [0, 1, 9, -4, 4.0, True, "4"])
def test_bad_bit_widths_are_rejected(bits):
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 8"):
        QuantSpec(bits=bits)
    with pytest.raises(ValueError, match="bits must be"):
        normal_float_levels(bits)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scheme": "nf4"}, "unknown quantization scheme 'nf4'"),
        ({"scheme": "int"}, "unknown quantization scheme"),
        ({"granularity": "row"}, "unknown granularity 'row'"),
        ({"group_size": 0}, "group_size must be a positive integer"),
        ({"group_size": 2.5}, "group_size must be a positive integer"),
    ],
)
def test_bad_specs_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuantSpec(**kwargs)


def test_bad_tensors_are_rejected():
    with pytest.raises(ValueError, match="group_size 48 does not divide the last dimension 128"):
        fake_quantize(weights(), QuantSpec(4, "symmetric", "group", 48))
    with pytest.raises(ValueError, match="per-channel quantization needs a tensor with >= 2 dims"):
        fake_quantize(torch.randn(10), QuantSpec(4, "symmetric", "channel"))
    with pytest.raises(ValueError, match="floating-point"):
        quantize(torch.arange(8), QuantSpec())
    with pytest.raises(ValueError, match="group must be in 0..63"):
        grid_levels(weights(), QuantSpec(4, "symmetric", "channel"), group=64)


def test_all_zero_weights_quantize_to_zero():
    w = torch.zeros(4, 64)
    for scheme in SCHEMES:
        assert torch.equal(fake_quantize(w, QuantSpec(4, scheme, "group", 32)), w)
