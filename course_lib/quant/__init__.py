"""Quantization-aware distillation: fake quantizers, quant noise, QAD vs PTQ, and bitsandbytes next to ours.

Start with :func:`quantize_model` (fake-quantize a model's linear layers, reversibly) and
:func:`quant_aware_distill` (train a quantized student to match its teacher); :func:`ptq_vs_qad` runs the
chapter's experiment across bit widths. ``bnb_compare`` holds the bitsandbytes comparison (imported on
use, as bitsandbytes prints a warning at import).
"""

from course_lib.quant.experiment import QuantExperiment, ptq_vs_qad
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
from course_lib.quant.qad import (
    distillation_batches,
    distillation_kl,
    greedy_accuracy,
    ptq,
    quant_aware_distill,
    token_divergence,
)
from course_lib.quant.quantizers import (
    QuantError,
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

__all__ = [
    "FakeQuantizer",
    "QuantError",
    "QuantExperiment",
    "QuantNoise",
    "QuantSpec",
    "add_quant_noise",
    "bake_quantization",
    "dequantize",
    "distillation_batches",
    "distillation_kl",
    "fake_quantize",
    "frozen_quantizers",
    "greedy_accuracy",
    "grid_levels",
    "grid_step",
    "normal_float_levels",
    "parametrized_layers",
    "ptq",
    "ptq_vs_qad",
    "quant_aware_distill",
    "quant_error",
    "quantize",
    "quantize_model",
    "reconstruction_error",
    "remove_quantizers",
    "select_linear_layers",
    "token_divergence",
]
