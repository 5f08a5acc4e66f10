"""Exercise of notebook 00: the size of a tiny model's token-embedding matrix.

``check_embedding_parameters(your_fn)`` calls ``your_fn(spec, vocab_size)`` (a
:class:`~course_lib.models.tiny.TinySpec` and a vocabulary size) for several models and compares the
answer with the embedding matrix of a model actually built with that shape. It prints the first
mismatch with a hint and returns True only when every case matches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from course_lib.models.tiny import TINY_SPECS, TinySpec, build_tiny_model
from course_lib.models.tokenizer import build_char_tokenizer

# (size name, vocabulary characters): the default character set and two smaller ones.
_CASES = (
    ("tiny-1m", None),
    ("tiny-250k", "0123456789+-=."),
    ("tiny-250k", None),
    ("tiny-1m", "abcdefghijklmnopqrstuvwxyz "),
)


@functools.cache
def _built(size: str, characters: str | None) -> tuple[TinySpec, int, int]:
    """(spec, vocabulary size, embedding parameters of the model actually built) for one case."""
    tokenizer = build_char_tokenizer(characters) if characters else build_char_tokenizer()
    model, _ = build_tiny_model(size, tokenizer=tokenizer)
    return TINY_SPECS[size], len(tokenizer), model.get_input_embeddings().weight.numel()


def _hint(got, spec: TinySpec, vocab_size: int) -> str:
    if got == vocab_size * spec.hidden_size * 2:
        return "the output layer shares (ties) its weights with the embedding: count the matrix once."
    if got == (vocab_size - 4) * spec.hidden_size:
        return "the vocabulary size already includes the 4 special tokens (<pad>, <s>, </s>, <unk>)."
    return "the matrix has one row per token of the vocabulary and one column per hidden unit (spec.hidden_size)."


def check_embedding_parameters(fn: Callable[[TinySpec, int], int]) -> bool:
    """Grade ``fn(spec, vocab_size) -> number of parameters of the token-embedding matrix``."""
    for size, characters in _CASES:
        spec, vocab_size, expected = _built(size, characters)
        name = f"{size}, vocabulary of {vocab_size}"
        try:
            got = fn(spec, vocab_size)
        except Exception as err:  # noqa: BLE001 - a learner's code may raise anything; report, don't crash
            print(f"[{name}] your function raised {type(err).__name__}: {err}")
            return False
        if got != expected:
            print(f"[{name}] expected {expected:,}, got {got!r}. Hint: {_hint(got, spec, vocab_size)}")
            return False
    print(f"Correct: your count matches the built models in all {len(_CASES)} cases.")
    return True
