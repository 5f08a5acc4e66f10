"""Quantization-aware distillation: divergences, data, QAD beats PTQ at the same bit width, bad input."""

import pytest
import torch

from course_lib.quant.layers import FakeQuantizer, parametrized_layers
from course_lib.quant.qad import (
    distillation_batches,
    distillation_kl,
    ptq,
    quant_aware_distill,
    token_divergence,
)


def reference_divergence(s_logits, t_logits, beta):
    """float64 textbook formulas: forward KL, reverse KL, or β KL(T||M) + (1-β) KL(S||M)."""
    p_s, p_t = s_logits.double().softmax(-1), t_logits.double().softmax(-1)

    def kl(p, q):
        return (p * (p.log() - q.log())).sum(-1)

    if beta == 0:
        return kl(p_t, p_s)
    if beta == 1:
        return kl(p_s, p_t)
    m = beta * p_t + (1 - beta) * p_s
    return beta * kl(p_t, m) + (1 - beta) * kl(p_s, m)


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_generalised_jsd_matches_the_formula(beta):
    gen = torch.Generator().manual_seed(0)
    s, t = torch.randn(3, 7, 20, generator=gen) * 3, torch.randn(3, 7, 20, generator=gen) * 3
    got = token_divergence(s, t, "jsd", beta)
    assert got.shape == (3, 7)
    assert torch.allclose(got.double(), reference_divergence(s, t, beta), atol=1e-5)
    assert torch.allclose(token_divergence(s, t, "forward"), token_divergence(s, t, "jsd", 0.0))
    assert torch.allclose(token_divergence(s, t, "reverse"), token_divergence(s, t, "jsd", 1.0))
    assert token_divergence(s, s.clone(), "jsd", beta).abs().max() < 1e-6
    assert (got >= -1e-6).all()
    if 0 < beta < 1:
        assert (got <= torch.log(torch.tensor(2.0)) + 1e-5).all()  # a JSD is bounded by log 2


def test_temperature_flattens_both_distributions():
    s, t = torch.tensor([[4.0, 0.0, -4.0]]), torch.tensor([[0.0, 4.0, 0.0]])
    assert token_divergence(s, t, temperature=4.0) < token_divergence(s, t, temperature=1.0)


def test_qad_reduces_kl_below_ptq_at_the_same_bit_width(teacher_and_tokenizer, student, problems):
    teacher, tok = teacher_and_tokenizer
    held_out = distillation_batches(problems["test"], tok, batch_size=16)
    spec = {"scheme": "symmetric", "granularity": "group", "group_size": 32}
    ptq_kl = distillation_kl(teacher, ptq(student, 2, **spec), held_out)
    assert distillation_kl(teacher, student, held_out) < 1e-9 < ptq_kl  # the copy is exact until quantized
    qad, record = quant_aware_distill(
        teacher, student, problems["train"], 2, **spec, steps=16, lr=1e-3, batch_size=16, tokenizer=tok, progress=False
    )
    qad_kl = distillation_kl(teacher, qad, held_out)
    assert qad_kl < 0.5 * ptq_kl, (qad_kl, ptq_kl)
    steps, kl = record.curve("kl")
    assert steps == list(range(1, 17)) and kl[-1] < kl[0]
    assert record.config["bits"] == 2 and record.config["layers"] == 28
    assert not qad.training and all(isinstance(p, FakeQuantizer) for p in parametrized_layers(qad).values())


@pytest.mark.parametrize("noise,divergence", [("fraction", "jsd"), ("uniform", "reverse")])
def test_noise_training_returns_a_quantized_student(teacher_and_tokenizer, student, problems, noise, divergence):
    teacher, tok = teacher_and_tokenizer
    batches = distillation_batches(problems["train"], tok, batch_size=8)
    qad, record = quant_aware_distill(teacher, student, batches, 3, noise=noise, divergence=divergence, steps=3,
                                      progress=False)
    assert len(record.curve("loss")[1]) == 3 and record.config["noise"] == noise
    assert all(isinstance(p, FakeQuantizer) and p.spec.bits == 3 for p in parametrized_layers(qad).values())


def test_teacher_written_completions(teacher_and_tokenizer, problems):
    teacher, tok = teacher_and_tokenizer
    batches = distillation_batches(problems["test"][:4], tok, batch_size=4, completions="teacher", teacher=teacher,
                                   progress=False)
    labels = batches[0]["labels"]
    assert labels.shape[0] == 4 and (labels != -100).sum() > 4  # completion tokens are there


def test_bad_inputs_are_rejected(teacher_and_tokenizer, student, problems):
    teacher, tok = teacher_and_tokenizer
    data = problems["train"]
    cases = [
        ({"quant_bits": 0}, "bits must be an integer from 2 to 8; got 0"),
        ({"quant_bits": 9}, "bits must be an integer from 2 to 8; got 9"),
        ({"scheme": "fp4"}, "unknown quantization scheme 'fp4'"),
        ({"group_size": 48}, "group_size 48 does not divide the last dimension 64"),
        ({"divergence": "kl"}, "unknown divergence 'kl'"),
        ({"divergence": "jsd", "beta": 1.5}, "beta must be in \\[0, 1\\]"),
        ({"noise": "gauss"}, "noise must be None or one of uniform, fraction"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"completions": "gold"}, "completions must be one of"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            quant_aware_distill(teacher, student, data, **{"steps": 1, "tokenizer": tok, "progress": False, **kwargs})
        assert parametrized_layers(student) == {}
    no_chain = [problems["train"][0].__class__(**{**problems["train"][0].to_dict(), "chain": None})]
    with pytest.raises(ValueError, match="needs a reasoning chain"):
        quant_aware_distill(teacher, student, no_chain, steps=1, tokenizer=tok)
    with pytest.raises(ValueError, match="lacks \\['labels'\\]"):
        quant_aware_distill(teacher, student, [{"input_ids": torch.ones(1, 4, dtype=torch.long),
                                                "attention_mask": torch.ones(1, 4)}], steps=1)
    with pytest.raises(ValueError, match="no completion tokens"):
        distillation_kl(teacher, student, [{"input_ids": torch.ones(1, 4, dtype=torch.long),
                                            "attention_mask": torch.ones(1, 4), "labels": torch.full((1, 4), -100)}])
    with pytest.raises(ValueError, match="share the tokenizer"):
        token_divergence(torch.zeros(2, 5), torch.zeros(2, 6))
