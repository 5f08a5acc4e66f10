"""Our fake quantizers next to real quantization by ``bitsandbytes`` (which runs on CPU since 0.45).

Two comparisons:

* **Weights**: quantize the same tensors with bitsandbytes and with our quantizers, measure the
  reconstruction error (MSE, mean |error|, SQNR). bitsandbytes kinds:

  - ``"nf4"`` / ``"fp4"``: ``quantize_4bit`` in blocks of ``blocksize`` weights (absmax per block),
    what ``BitsAndBytesConfig(load_in_4bit=True)`` stores. Our ``nf`` 4-bit per-group quantizer with
    the same group size reproduces ``nf4`` exactly.
  - ``"int8"``: LLM.int8's row-wise absmax int8 (``int8_vectorwise_quant``, the weights of
    ``load_in_8bit``; computed from a float16 copy, as bitsandbytes does).
  - ``"int8-blockwise"``: the 8-bit *dynamic* (non-uniform) code in blocks (``quantize_blockwise``,
    used by 8-bit optimizers).

* **Models**: a model saved to a folder and loaded with ``BitsAndBytesConfig`` 4-bit, evaluated next to
  the same model with our fake quantizers: logit KL from full precision and (optionally) accuracy.
  The stored nf4 weights equal ours exactly; logits still differ a little because bitsandbytes' CPU
  kernel multiplies in bfloat16 while our fake-quantized model stays in float32.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence

import torch

from course_lib.data.schema import Problem
from course_lib.quant.layers import DEFAULT_EXCLUDE, frozen_quantizers, select_linear_layers
from course_lib.quant.qad import Batch, distillation_kl, greedy_accuracy, ptq
from course_lib.quant.quantizers import QuantSpec, fake_quantize, reconstruction_error

BNB_BITS = {"nf4": 4, "fp4": 4, "int8": 8, "int8-blockwise": 8}
BNB_KINDS = tuple(BNB_BITS)


def bnb_roundtrip(w: torch.Tensor, kind: str = "nf4", blocksize: int = 64) -> torch.Tensor:
    """Quantize ``w`` with bitsandbytes and dequantize it again (float32, shape of ``w``)."""
    import bitsandbytes.functional as bnbf

    if kind not in BNB_KINDS:
        raise ValueError(f"unknown bitsandbytes kind {kind!r}; choose one of {', '.join(BNB_KINDS)}")
    w = w.detach().float().contiguous()
    if kind in ("nf4", "fp4"):
        packed, state = bnbf.quantize_4bit(w, blocksize=blocksize, quant_type=kind)
        return bnbf.dequantize_4bit(packed, state).reshape(w.shape)
    if kind == "int8":
        codes, row_stats, _ = bnbf.int8_vectorwise_quant(w.reshape(w.shape[0], -1).half())
        return bnbf.int8_vectorwise_dequant(codes, row_stats).reshape(w.shape)
    codes, state = bnbf.quantize_blockwise(w, blocksize=blocksize)
    return bnbf.dequantize_blockwise(codes, state).reshape(w.shape)


def default_specs(blocksize: int = 64) -> dict[str, QuantSpec]:
    """Our quantizers that sit next to each bitsandbytes kind, named for tables."""
    return {
        spec.label: spec
        for spec in (
            QuantSpec(4, "nf", "group", blocksize),
            QuantSpec(4, "symmetric", "group", blocksize),
            QuantSpec(4, "asymmetric", "group", blocksize),
            QuantSpec(8, "symmetric", "channel"),
            QuantSpec(8, "symmetric", "group", blocksize),
        )
    }


def _as_list(weights: torch.Tensor | Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    tensors = [weights] if isinstance(weights, torch.Tensor) else list(weights.values())
    if not tensors:
        raise ValueError("no weights to compare")
    return [t.detach().float() for t in tensors]


def reconstruction_table(
    weights: torch.Tensor | Mapping[str, torch.Tensor],
    blocksize: int = 64,
    specs: Mapping[str, QuantSpec] | None = None,
    kinds: Sequence[str] = BNB_KINDS,
) -> list[dict]:
    """Reconstruction error of bitsandbytes and of our quantizers on the same weights.

    Args:
        weights: one tensor, or name -> tensor (e.g. :func:`linear_weights` of a model); errors are
            pooled over all of them.
        blocksize: bitsandbytes' block size (and the group size of :func:`default_specs`).
        specs: our quantizers by name (default :func:`default_specs`).
        kinds: bitsandbytes kinds (see :data:`BNB_KINDS`).

    Returns:
        Rows ``{"library", "method", "bits", "mse", "mean_abs", "sqnr_db"}``, bitsandbytes first.
    """
    tensors = _as_list(weights)
    flat = torch.cat([t.reshape(-1) for t in tensors])
    rows = []
    methods = [("bitsandbytes", k, lambda t, k=k: bnb_roundtrip(t, k, blocksize)) for k in kinds]
    specs = default_specs(blocksize) if specs is None else specs
    methods += [("ours", name, lambda t, s=s: fake_quantize(t, s)) for name, s in specs.items()]
    for library, name, roundtrip in methods:
        approx = torch.cat([roundtrip(t).reshape(-1) for t in tensors])
        err = reconstruction_error(flat, approx)
        bits = specs[name].bits if library == "ours" else BNB_BITS[name]
        rows.append({"library": library, "method": name, "bits": bits, "mse": err.mse, "mean_abs": err.mean_abs, "sqnr_db": err.sqnr_db})
    return rows


def nf4_agreement(weights: torch.Tensor | Mapping[str, torch.Tensor], blocksize: int = 64) -> dict[str, float]:
    """How closely our NF4 (``nf``, 4 bits, groups of ``blocksize``) reproduces bitsandbytes' nf4.

    Returns:
        ``{"identical_fraction", "max_abs_diff", "n"}`` over all weights.
    """
    spec = QuantSpec(4, "nf", "group", blocksize)
    ours = torch.cat([fake_quantize(t, spec).reshape(-1) for t in _as_list(weights)])
    theirs = torch.cat([bnb_roundtrip(t, "nf4", blocksize).reshape(-1) for t in _as_list(weights)])
    diff = (ours - theirs).abs()
    return {"identical_fraction": float((diff == 0).float().mean()), "max_abs_diff": float(diff.max()), "n": diff.numel()}


def linear_weights(
    model: torch.nn.Module, include: Sequence[str] = ("*",), exclude: Sequence[str] = DEFAULT_EXCLUDE
) -> dict[str, torch.Tensor]:
    """Name -> weight of the linear layers a quantizer would touch (same selection as ``quantize_model``)."""
    modules = dict(model.named_modules())
    return {name: modules[name].weight.detach() for name in select_linear_layers(model, include, exclude)}


def load_bnb_4bit(model: torch.nn.Module, tokenizer, quant_type: str = "nf4") -> torch.nn.Module:
    """Save ``model`` to a temporary folder and load it back quantized by ``BitsAndBytesConfig`` 4-bit.

    bitsandbytes quantizes every linear layer except ``lm_head`` in blocks of 64 weights and computes in
    float32 on CPU (``course_lib.models.hub.bnb_config``).
    """
    from transformers import AutoModelForCausalLM

    from course_lib.models.hub import bnb_config
    from course_lib.models.tiny import save_model

    if quant_type not in ("nf4", "fp4"):
        raise ValueError(f"quant_type must be 'nf4' or 'fp4'; got {quant_type!r}")
    device = next(model.parameters()).device.type
    with tempfile.TemporaryDirectory() as folder:
        save_model(model, tokenizer, folder)
        loaded = AutoModelForCausalLM.from_pretrained(
            folder, quantization_config=bnb_config(quant_type, device), dtype=torch.float32
        )
    return loaded.eval()


@torch.no_grad()
def loaded_nf4_agreement(model: torch.nn.Module, tokenizer, blocksize: int = 64) -> dict[str, float]:
    """Load ``model`` through ``BitsAndBytesConfig`` nf4 and compare every 4-bit layer's dequantized weight
    with our ``nf`` 4-bit group-``blocksize`` fake quantization of the same layer.

    (Read before any forward pass: on CPU bitsandbytes repacks 4-bit weights for its kernel at the first
    eval forward, after which ``dequantize_4bit`` no longer applies to the stored data.)

    Returns:
        ``{"layers", "identical_fraction", "max_abs_diff"}``.
    """
    import bitsandbytes.functional as bnbf
    from bitsandbytes.nn import Linear4bit

    loaded = load_bnb_4bit(model, tokenizer, "nf4")
    spec = QuantSpec(4, "nf", "group", blocksize)
    originals = dict(model.named_modules())
    diffs = []
    for name, layer in loaded.named_modules():
        if isinstance(layer, Linear4bit):
            theirs = bnbf.dequantize_4bit(layer.weight.data, layer.weight.quant_state).float()
            diffs.append((theirs - fake_quantize(originals[name].weight.detach(), spec)).abs().reshape(-1))
    if not diffs:
        raise ValueError("bitsandbytes quantized no layer of this model")
    diff = torch.cat(diffs)
    return {"layers": len(diffs), "identical_fraction": float((diff == 0).float().mean()), "max_abs_diff": float(diff.max())}


@torch.no_grad()
def max_logit_gap(a: torch.nn.Module, b: torch.nn.Module, batches: Sequence[Batch]) -> float:
    """Largest |logit difference| between two models over the attended positions of ``batches``."""
    gap = 0.0
    with frozen_quantizers():
        for batch in batches:
            inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
            keep = batch["attention_mask"].bool()  # (B, T)
            gap = max(gap, float((a(**inputs).logits - b(**inputs).logits)[keep].abs().max()))
    return gap


def compare_with_bnb(
    model: torch.nn.Module,
    tokenizer,
    batches: Sequence[Batch],
    problems: Sequence[Problem] | None = None,
    quant_types: Sequence[str] = ("nf4", "fp4"),
    blocksize: int = 64,
    scorer=None,
    progress: bool = True,
) -> list[dict]:
    """A model loaded in 4-bit through ``BitsAndBytesConfig`` next to our fake-quantized copies.

    Args:
        model: the full-precision model (left unchanged).
        tokenizer: its tokenizer.
        batches: token batches (``encode_pairs`` format) on which logits are compared.
        problems: if given, greedy accuracy on them is measured for every model (and full precision).
        quant_types: bitsandbytes 4-bit types to load.
        blocksize: group size of our quantizers (bitsandbytes' default block is 64).
        scorer: answer checker for accuracy (default ``rewards.check_answer``).

    Returns:
        Rows ``{"model", "kl_from_fp32" (nats/token), "max_logit_gap_to_bnb_nf4", "accuracy"}``; the
        gap is None without a bitsandbytes nf4 model, accuracy None without problems.
    """
    variants = {"fp32": model}
    variants.update({f"bitsandbytes {q}": load_bnb_4bit(model, tokenizer, q) for q in quant_types})
    for spec in (QuantSpec(4, "nf", "group", blocksize), QuantSpec(4, "symmetric", "group", blocksize)):
        variants[f"ours {spec.label}"] = ptq(model, spec.bits, scheme=spec.scheme, granularity=spec.granularity,
                                             group_size=spec.group_size)
    reference_nf4 = variants.get("bitsandbytes nf4")
    rows = []
    for name, m in variants.items():
        rows.append({
            "model": name,
            "kl_from_fp32": distillation_kl(model, m, batches),
            "max_logit_gap_to_bnb_nf4": max_logit_gap(m, reference_nf4, batches) if reference_nf4 is not None else None,
            "accuracy": greedy_accuracy(m, tokenizer, problems, scorer, progress=progress) if problems else None,
        })
    return rows
