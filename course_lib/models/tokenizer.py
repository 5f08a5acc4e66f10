"""A character-level tokenizer that ``transformers``, TRL and peft accept like any other.

Each printable ASCII character (plus newline and tab) is one token, so spaces and newlines survive a
round trip exactly, and a tiny model's vocabulary stays around 100 entries. It is a
``PreTrainedTokenizerFast`` (a ``tokenizers`` BPE model with no merges and a ``Fuse`` decoder), so
``save_pretrained`` / ``AutoTokenizer.from_pretrained`` work offline.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders
from tokenizers.models import BPE
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
CHARACTERS = "\n\t" + "".join(chr(c) for c in range(32, 127))

# ChatML-like, with newlines written as {{ '\n' }} because transformers renders templates with trim_blocks.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<' + message['role'] + '>' }}{{ message['content'] }}{% if message['role'] != 'assistant' %}{{ '\n' }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<assistant>' }}{% endif %}"
)


def build_char_tokenizer(characters: str = CHARACTERS) -> PreTrainedTokenizerFast:
    """Build the character tokenizer.

    Args:
        characters: the vocabulary, one token per character (default: printable ASCII, ``\\n``, ``\\t``).
            Characters outside it map to ``<unk>``.

    Returns:
        A left-padding ``PreTrainedTokenizerFast`` with ``<pad>``, ``<s>``, ``</s>``, ``<unk>`` at ids 0–3
        and a chat template (``<user>…\\n<assistant>…</s>``) for trainers that need one.
    """
    if len(set(characters)) != len(characters):
        raise ValueError("characters must not repeat")
    if any(len(c) != 1 for c in characters):
        raise ValueError("characters must be single characters")
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in characters:
        vocab[ch] = len(vocab)
    core = Tokenizer(BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.decoder = decoders.Fuse()
    core.add_special_tokens(list(SPECIAL_TOKENS))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        padding_side="left",
        model_max_length=1024,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok

