"""Tiny models, the character tokenizer and batched generation."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data.schema import Problem, format_completion
from course_lib.models.generate import generate, render_prompts
from course_lib.models.tiny import TINY_SPECS, build_tiny_model, count_parameters, load_model, save_model
from course_lib.models.tokenizer import CHARACTERS, SPECIAL_TOKENS, build_char_tokenizer

TOKENIZER = build_char_tokenizer()


@given(st.text(alphabet=CHARACTERS, max_size=200))  # printable ASCII, \n, \t
@settings(max_examples=60, deadline=None)
def test_tokenizer_round_trip_keeps_every_character(text):
    ids = TOKENIZER(text, add_special_tokens=False)["input_ids"]
    assert TOKENIZER.decode(ids) == text
    if not any(special in text for special in SPECIAL_TOKENS):  # literal "<s>" etc. become one special token
        assert len(ids) == len(text)  # one token per character


def test_tokenizer_whitespace_and_unknown_characters():
    text = "  a\tb\n\n  c  \t"
    ids = TOKENIZER(text, add_special_tokens=False)["input_ids"]
    assert TOKENIZER.decode(ids) == text
    assert TOKENIZER("é", add_special_tokens=False)["input_ids"] == [TOKENIZER.unk_token_id]
    assert len(TOKENIZER) == 4 + len(CHARACTERS) and TOKENIZER.padding_side == "left"


def test_tokenizer_rejects_repeated_characters():
    with pytest.raises(ValueError, match="must not repeat"):
        build_char_tokenizer("abca")


@pytest.mark.parametrize("size,low,high", [("tiny-250k", 0.2e6, 0.35e6), ("tiny-1m", 0.9e6, 1.2e6)])
def test_parameter_counts_match_names(size, low, high):
    model, _ = build_tiny_model(size)
    assert low < count_parameters(model) < high


def test_unknown_size_lists_valid_ones():
    with pytest.raises(ValueError, match="tiny-250k, tiny-1m"):
        build_tiny_model("tiny-2m")
    assert set(TINY_SPECS) >= {"tiny-250k", "tiny-1m", "tiny-20m"}


def test_save_reload_gives_identical_logits(tmp_path):
    model, tok = build_tiny_model("tiny-250k", seed=3)
    save_model(model, tok, tmp_path / "m")
    reloaded, tok2 = load_model(tmp_path / "m")
    batch = tok(["a b\tc\n", "x"], return_tensors="pt", padding=True)
    assert tok2(["a b\tc\n", "x"], padding=True)["input_ids"] == batch["input_ids"].tolist()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)


def test_load_model_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path)


def test_seed_determines_weights():
    a, _ = build_tiny_model("tiny-250k", seed=1)
    b, _ = build_tiny_model("tiny-250k", seed=1)
    c, _ = build_tiny_model("tiny-250k", seed=2)
    wa, wb, wc = (m.model.embed_tokens.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


PROMPT = "Q: 2+5?"
TARGET = format_completion("2+5=7.", "7") + "zzz"  # text after </answer> must be cut


@pytest.fixture(scope="module")
def memorizer():
    """A tiny-250k overfit on one prompt → completion (~1-2 s), so greedy output is known."""
    model, tok = build_tiny_model("tiny-250k", seed=0)
    ids = tok(PROMPT + "\n" + TARGET, return_tensors="pt")["input_ids"]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(150):
        opt.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
    return model.eval(), tok


def test_generate_stops_after_answer_tag(memorizer):
    model, tok = memorizer
    [[gen]] = generate(model, tok, [PROMPT], max_new_tokens=40, progress=False)
    assert gen.text == "<think>2+5=7.</think><answer>7</answer>"
    assert tok.decode(gen.token_ids) == gen.text and len(gen.logprobs) == len(gen.token_ids)
    [[raw]] = generate(model, tok, [PROMPT], max_new_tokens=len(TARGET), stop=None, progress=False)
    assert raw.text.startswith(gen.text + "z")


def test_generate_shapes_and_greedy_determinism(memorizer):
    model, tok = memorizer
    prompts = [PROMPT, "hello", Problem("p", "lab/x", "math", "Q: 1+1?", "2", "numeric")]
    out = generate(model, tok, prompts, num_samples=3, max_new_tokens=8, batch_size=4, progress=False)
    assert [len(g) for g in out] == [3, 3, 3]
    assert all(len(g.token_ids) <= 8 and len(g.logprobs) == len(g.token_ids) for gs in out for g in gs)
    assert all(lp <= 0 for gs in out for g in gs for lp in g.logprobs)
    assert all(len({g.text for g in gs}) == 1 for gs in out)  # greedy: K identical samples
    again = generate(model, tok, prompts, num_samples=1, max_new_tokens=8, batch_size=1, progress=False)
    assert [g[0].text for g in again] == [g[0].text for g in out]  # batching and padding don't change it


def test_sampling_is_seeded(memorizer):
    model, tok = memorizer
    kw = {"num_samples": 4, "temperature": 1.5, "max_new_tokens": 10, "progress": False}
    a = generate(model, tok, ["hello"], seed=7, **kw)[0]
    b = generate(model, tok, ["hello"], seed=7, **kw)[0]
    assert [g.text for g in a] == [g.text for g in b]
    assert len({g.text for g in a}) > 1


def test_render_prompts_plain_and_chat():
    problem = Problem("p", "lab/x", "math", "Q?", "1", "numeric")
    assert render_prompts(TOKENIZER, [problem, "raw"]) == ["Q?\n", "raw\n"]
    assert render_prompts(TOKENIZER, ["hi"], chat=True) == ["<user>hi\n<assistant>"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"num_samples": 0}, "num_samples"),
        ({"temperature": -1.0}, "temperature"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_generate_rejects_bad_arguments(memorizer, kwargs, message):
    model, tok = memorizer
    with pytest.raises(ValueError, match=message):
        generate(model, tok, ["x"], progress=False, **kwargs)
