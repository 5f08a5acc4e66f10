"""Quantizers on a model's linear layers (select, remove, bake) and training-only quant noise."""

import pytest
import torch
from torch import nn

from course_lib.models.tiny import build_tiny_model
from course_lib.quant.layers import (
    FakeQuantizer,
    bake_quantization,
    frozen_quantizers,
    parametrized_layers,
    quantize_model,
    remove_quantizers,
    select_linear_layers,
)
from course_lib.quant.noise import QuantNoise, add_quant_noise
from course_lib.quant.quantizers import QuantSpec, fake_quantize, grid_step

SPEC = QuantSpec(3, "symmetric", "group", 32)


@pytest.fixture()
def tiny():
    model, tok = build_tiny_model("tiny-250k", seed=0)
    batch = tok(["Ann has 53 pens. She gives away 42.\n<think>53-42=11."], return_tensors="pt")
    return model, batch


def logits(model, batch):
    with torch.no_grad():
        return model(**batch).logits


def test_quantize_model_touches_every_linear_but_the_lm_head_and_is_reversible(tiny):
    model, batch = tiny
    before = logits(model, batch)
    original = {n: p.detach().clone() for n, p in model.named_parameters()}
    names = quantize_model(model, SPEC)
    assert len(names) == 4 * 7 and "lm_head" not in names
    assert all(isinstance(p, FakeQuantizer) for p in parametrized_layers(model).values())
    assert isinstance(model.model.embed_tokens, nn.Embedding) and model.lm_head.weight is model.model.embed_tokens.weight
    quantized = logits(model, batch)
    assert (quantized - before).abs().max() > 1e-4
    layer = model.model.layers[0].mlp.up_proj
    assert torch.equal(layer.weight, fake_quantize(layer.parametrizations.weight.original, SPEC))
    with frozen_quantizers():
        assert torch.allclose(logits(model, batch), quantized, atol=1e-6)
    assert remove_quantizers(model) == names
    assert torch.equal(logits(model, batch), before)
    assert all(torch.equal(p, original[n]) for n, p in model.named_parameters())


def test_bake_makes_quantization_permanent(tiny):
    model, batch = tiny
    quantize_model(model, bits=4, scheme="nf", granularity="group", group_size=64)
    fake = logits(model, batch)
    bake_quantization(model)
    assert parametrized_layers(model) == {}
    assert isinstance(model.model.layers[1].self_attn.q_proj.weight, nn.Parameter)
    assert torch.allclose(logits(model, batch), fake, atol=1e-6)
    w = model.model.layers[1].self_attn.q_proj.weight
    spec = QuantSpec(4, "nf", "group", 64)
    assert torch.allclose(fake_quantize(w, spec), w, atol=1e-7)  # already on the grid


def test_include_and_exclude_patterns(tiny):
    model, _ = tiny
    assert select_linear_layers(model, include=["*.mlp.*"]) == [
        f"model.layers.{i}.mlp.{p}" for i in range(4) for p in ("gate_proj", "up_proj", "down_proj")
    ]
    assert "lm_head" in select_linear_layers(model, include=["*"], exclude=[])
    names = quantize_model(model, SPEC, include=["*q_proj", "*k_proj"], exclude=["*layers.3*"])
    assert names == [f"model.layers.{i}.self_attn.{p}" for i in range(3) for p in ("q_proj", "k_proj")]


def test_bad_layer_selections_are_rejected(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="no linear layer matches include=\\['\\*conv\\*'\\]"):
        quantize_model(model, SPEC, include=["*conv*"])
    with pytest.raises(ValueError, match="non-empty name patterns"):
        select_linear_layers(model, include=[""])
    with pytest.raises(ValueError, match="either spec or its fields"):
        quantize_model(model, SPEC, bits=4)
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 8; got 0"):
        quantize_model(model, bits=0)
    with pytest.raises(ValueError, match="group_size 128 does not divide the last dimension 64"):
        quantize_model(model, QuantSpec(4, "symmetric", "group", 128), include=["*down_proj", "lm_head"], exclude=[])
    assert parametrized_layers(model) == {}  # the down_proj layers (256 inputs) were not left quantized
    quantize_model(model, SPEC)
    with pytest.raises(ValueError, match="already carry a weight parametrization"):
        quantize_model(model, SPEC)
    remove_quantizers(model)
    add_quant_noise(model, SPEC)
    with pytest.raises(ValueError, match="cannot bake layers carrying noise"):
        bake_quantization(model)


def test_uniform_noise_has_the_variance_of_one_quantizer_step():
    # Noise n ~ U(-Δ/2, Δ/2) has variance Δ²/12. With 65,536 draws the sample variance's relative
    # standard error is sqrt(0.8 / 65536) ≈ 0.35 %, so a 2 % tolerance is about 6 standard errors.
    w = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
    for spec in (QuantSpec(4, "symmetric", "tensor"), QuantSpec(3, "asymmetric", "tensor")):
        noise = QuantNoise(spec, "uniform", generator=torch.Generator().manual_seed(1)).train()(w) - w
        step = grid_step(w, spec)
        assert torch.allclose(step, step[0, 0].expand_as(step))
        assert noise.var().item() == pytest.approx(step[0, 0].item() ** 2 / 12, rel=0.02)
        assert noise.abs().max() <= step[0, 0] / 2
        assert abs(noise.mean().item()) < 4 * step[0, 0].item() / (12 * w.numel()) ** 0.5
    # per-group NormalFloat: the normalised noise n / Δ is U(-1/2, 1/2) whatever the step at each weight
    spec = QuantSpec(4, "nf", "group", 64)
    noise = QuantNoise(spec, "uniform", generator=torch.Generator().manual_seed(2)).train()(w) - w
    assert (noise / grid_step(w, spec)).var().item() == pytest.approx(1 / 12, rel=0.02)


def test_fraction_noise_quantizes_about_p_of_the_weights():
    w = torch.randn(128, 128, generator=torch.Generator().manual_seed(0))
    spec = QuantSpec(4, "symmetric", "channel")
    on_grid = fake_quantize(w, spec)
    for p in (0.25, 0.75, 1.0):
        out = QuantNoise(spec, "fraction", p, generator=torch.Generator().manual_seed(3)).train()(w)
        quantized = (out == on_grid) & (out != w)
        untouched = out == w
        assert (quantized | untouched).all()
        # binomial: sd of the fraction is sqrt(p(1-p)/16384) <= 0.4 %; allow 2 % (5 sd)
        assert quantized.float().mean().item() == pytest.approx(p, abs=0.02)


def test_noise_is_off_in_eval_and_passes_gradients_in_training(tiny):
    model, batch = tiny
    before = logits(model, batch)
    add_quant_noise(model, SPEC, kind="fraction", p=0.5, seed=0)
    model.eval()
    assert torch.equal(logits(model, batch), before)
    model.train()
    assert (logits(model, batch) - before).abs().max() > 1e-5
    w = torch.randn(8, 32, requires_grad=True)
    for kind in ("uniform", "fraction"):
        w.grad = None
        QuantNoise(SPEC, kind).train()(w).sum().backward()
        assert torch.equal(w.grad, torch.ones_like(w))


@pytest.mark.parametrize("kwargs,match", [({"kind": "gauss"}, "unknown noise kind 'gauss'"), ({"p": 0.0}, "p must be in")])
def test_bad_noise_settings_are_rejected(tiny, kwargs, match):
    model, _ = tiny
    with pytest.raises(ValueError, match=match):
        add_quant_noise(model, SPEC, **kwargs)
    assert parametrized_layers(model) == {}
