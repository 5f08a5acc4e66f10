"""Chain similarity: identical chains score 1 on every measure; partial overlaps score what LCS says."""

import numpy as np
import pytest

from course_lib.eval.chains import (
    chain_similarity,
    default_embedder,
    extract_chain,
    lcs_length,
    rouge_l,
    split_steps,
    step_alignment,
)


class BagOfCharsEmbedder:
    """Deterministic stand-in embedder: character counts."""

    def encode(self, sentences):
        out = np.zeros((len(sentences), 128))
        for i, s in enumerate(sentences):
            for ch in s:
                out[i, ord(ch) % 128] += 1
        return out


def test_split_and_extract():
    assert split_steps("53-42=11. 11-3=8.\n8-1=7.") == ["53-42=11", "11-3=8", "8-1=7"]
    assert split_steps("x is 3.5. then y") == ["x is 3.5", "then y"]
    assert extract_chain("<think> a. b </think><answer>3</answer>") == "a. b"
    assert extract_chain("so it is 3 <answer>3</answer>") == "so it is 3"


def test_lcs_and_rouge_values():
    assert lcs_length("ABCBDAB", "BDCABA") == 4
    # tokens: [1,+,2,=,3] vs [1,+,2,=,4]: LCS 4 of 5 each side
    assert rouge_l("1+2=3", "1+2=4") == pytest.approx(0.8)
    assert rouge_l("", "") == 1.0 and rouge_l("a", "") == 0.0


def test_step_alignment_counts_teacher_steps_in_order():
    teacher = "53-42=11. 11-3=8. 8-1=7."
    assert step_alignment("53-42=11. 11-3=9. 9-1=8.", teacher) == pytest.approx(1 / 3)
    assert step_alignment("53-42=11. 11-3=8.", teacher) == pytest.approx(2 / 3)
    assert step_alignment("8-1=7. 53-42=11.", teacher) == pytest.approx(1 / 3)  # order matters


def test_identical_chains_score_one_with_the_stand_in_embedder():
    chains = ["53-42=11. 11-3=8.", "Tom is taller than Ann.\nSo Ann is shortest", ""]
    sims = chain_similarity(chains, chains, embedder=BagOfCharsEmbedder())
    for name in ("rouge_l", "step_alignment", "embedding_cosine"):
        assert sims[name] == pytest.approx([1.0] * 3), name


@pytest.mark.slow
def test_identical_chains_score_one_with_minilm():
    chains = ["53-42=11. 11-3=8. 8-1=7.", "If all cats are animals and Tom is a cat, Tom is an animal."]
    other = ["The weather is nice today.", "53-42=11. 11-3=8. 8-1=7."]
    sims = chain_similarity(chains, chains, embedder=default_embedder())
    assert sims["embedding_cosine"] == pytest.approx([1.0, 1.0], abs=1e-5)
    unrelated = chain_similarity(chains, other, embedder=default_embedder())["embedding_cosine"]
    assert max(unrelated) < 0.6
