"""Attach fake quantizers (or quant noise) to a model's linear layers, and take them off again.

Each selected ``nn.Linear`` gets a ``torch.nn.utils.parametrize`` parametrization on its ``weight``:
the full-precision tensor stays the trainable parameter (``layer.parametrizations.weight.original``)
and every forward pass sees ``fake_quantize(original)``. That makes the change reversible
(:func:`remove_quantizers` restores the exact weights) or permanent (:func:`bake_quantization`,
post-training quantization: the weights become their quantized values).

Layers are chosen by shell-style patterns on module names (``fnmatch``), e.g.
``include=("model.layers.*.mlp.*",)``. Embeddings are not ``nn.Linear`` and the LM head is excluded by
default, as QLoRA-style 4-bit checkpoints keep both in higher precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from fnmatch import fnmatchcase

import torch
from torch import nn
from torch.nn.utils import parametrize

from course_lib.quant.quantizers import QuantSpec, fake_quantize

DEFAULT_EXCLUDE = ("lm_head", "*embed*")


class FakeQuantizer(nn.Module):
    """Parametrization ``w -> fake_quantize(w, spec)`` (straight-through gradient), in train and eval."""

    def __init__(self, spec: QuantSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quantize(w, self.spec)

    def extra_repr(self) -> str:
        return self.spec.label


def select_linear_layers(
    model: nn.Module, include: Sequence[str] = ("*",), exclude: Sequence[str] = DEFAULT_EXCLUDE
) -> list[str]:
    """Names of the ``nn.Linear`` modules matching any ``include`` pattern and no ``exclude`` pattern.

    Raises:
        ValueError: nothing matched (the message lists the linear layers there are).
    """
    include, exclude = _patterns(include, "include"), _patterns(exclude, "exclude")
    linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    chosen = [
        n for n in linear if any(fnmatchcase(n, p) for p in include) and not any(fnmatchcase(n, p) for p in exclude)
    ]
    if not chosen:
        shown = ", ".join(linear[:8]) + (" …" if len(linear) > 8 else "")
        raise ValueError(
            f"no linear layer matches include={list(include)} exclude={list(exclude)}; the model's linear "
            f"layers are: {shown or 'none'}"
        )
    return chosen


def _patterns(patterns: Sequence[str] | str, what: str) -> tuple[str, ...]:
    if isinstance(patterns, str):
        patterns = (patterns,)
    patterns = tuple(patterns)
    if not all(isinstance(p, str) and p for p in patterns):
        raise ValueError(f"{what} must be a sequence of non-empty name patterns; got {patterns!r}")
    return patterns


def attach(
    model: nn.Module,
    make: Callable[[nn.Linear], nn.Module],
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
) -> list[str]:
    """Register ``make(layer)`` as the weight parametrization of every selected linear layer.

    Returns:
        The names of the layers changed.

    Raises:
        ValueError: no layer matched, a selected layer already carries a quantizer / noise (call
            :func:`remove_quantizers` first), or one cannot take the quantizer; then no layer is changed.
    """
    names = select_linear_layers(model, include, exclude)
    modules = dict(model.named_modules())
    busy = [n for n in names if parametrize.is_parametrized(modules[n], "weight")]
    if busy:
        raise ValueError(f"layers already carry a weight parametrization: {busy[:4]}; call remove_quantizers first")
    made = {n: make(modules[n]) for n in names}
    with torch.no_grad():
        for n in names:  # fail on a bad layer (e.g. a group size it cannot take) before changing any
            made[n](modules[n].weight)
    for n in names:
        parametrize.register_parametrization(modules[n], "weight", made[n])
    return names


def quantize_model(
    model: nn.Module,
    spec: QuantSpec | None = None,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    **spec_kwargs,
) -> list[str]:
    """Fake-quantize the selected linear layers of ``model`` in place (reversible).

    Args:
        model: any ``nn.Module`` (a tiny lab Llama, a hub model).
        spec: the quantizer; or pass its fields as keywords (``bits=4, scheme="nf"``).
        include, exclude: ``fnmatch`` patterns on module names; the LM head is excluded by default.

    Returns:
        The names of the quantized layers.
    """
    if spec is None:
        spec = QuantSpec(**spec_kwargs)
    elif spec_kwargs:
        raise ValueError(f"pass either spec or its fields, not both; got spec and {sorted(spec_kwargs)}")
    return attach(model, lambda layer: FakeQuantizer(spec), include, exclude)


def parametrized_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Name -> parametrization module (a :class:`FakeQuantizer` or a noise module) of every layer that has one."""
    return {
        name: m.parametrizations.weight[0]
        for name, m in model.named_modules()
        if parametrize.is_parametrized(m, "weight")
    }


def remove_quantizers(model: nn.Module) -> list[str]:
    """Take every weight parametrization off; the layers get back their exact full-precision weights."""
    names = list(parametrized_layers(model))
    modules = dict(model.named_modules())
    for n in names:
        parametrize.remove_parametrizations(modules[n], "weight", leave_parametrized=False)
    return names


def bake_quantization(model: nn.Module) -> list[str]:
    """Make fake quantization permanent (PTQ): each quantized layer's weight becomes its quantized value.

    Raises:
        ValueError: a layer carries noise instead of a quantizer (noise is training-only; remove it).
    """
    layers = parametrized_layers(model)
    noisy = [n for n, p in layers.items() if not isinstance(p, FakeQuantizer)]
    if noisy:
        raise ValueError(f"cannot bake layers carrying noise {noisy[:4]}; remove_quantizers() and quantize_model first")
    modules = dict(model.named_modules())
    with torch.no_grad():
        for n in layers:
            parametrize.remove_parametrizations(modules[n], "weight", leave_parametrized=True)
    return list(layers)


@contextlib.contextmanager
def frozen_quantizers() -> Iterator[None]:
    """Compute each quantized weight once inside the block instead of at every forward pass
    (``parametrize.cached``): use it around generation and evaluation, never around training steps."""
    with parametrize.cached():
        yield
