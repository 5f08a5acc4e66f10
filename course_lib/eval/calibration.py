"""Calibration: does a model's confidence match how often it is right?

Two confidence signals, both free at evaluation time:

* **answer-token probability**: the probability the model gave the tokens of its final answer (the
  text between ``<answer>`` and ``</answer>``), as the product (the answer string's probability given
  the chain) or the mean of the per-token probabilities;
* **self-consistency**: sample k chains and take the share that reach the most common answer, where
  "same answer" is decided by an equivalence function (``0.5`` and ``1/2`` agree), not string equality.

Scores, for N predictions with confidence ``p_i`` and correctness ``y_i`` in {0, 1}:

* reliability diagram: group predictions into bins by confidence; per bin the mean confidence
  ``conf_b`` and the accuracy ``acc_b``;
* expected calibration error ``ECE = sum_b (n_b / N) |acc_b - conf_b|`` with either equal-width bins
  (``strategy="uniform"``: B intervals ``[0, 1/B], (1/B, 2/B], ...``) or equal-mass bins
  (``strategy="quantile"``: sort by confidence, cut into B groups of N/B predictions);
* Brier score ``mean_i (p_i - y_i)^2``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from course_lib.data.schema import ANSWER_CLOSE, ANSWER_OPEN

STRATEGIES = ("uniform", "quantile")
REDUCTIONS = ("prod", "mean")


def _as_arrays(
    confidences: Sequence[float], correct: Sequence[bool | float]
) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(confidences, dtype=float)
    y = np.asarray(correct, dtype=float)
    if p.ndim != 1 or p.shape != y.shape:
        raise ValueError(f"confidences and correct must be 1-D of equal length; got {p.shape} and {y.shape}")
    if p.size == 0:
        raise ValueError("need at least one prediction; got none")
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        bad = p[(p < 0) | (p > 1) | np.isnan(p)][:3].tolist()
        raise ValueError(f"confidences must lie in [0, 1]; got e.g. {bad}")
    if np.any((y != 0) & (y != 1)):
        raise ValueError(f"correct must be 0/1 or booleans; got e.g. {y[(y != 0) & (y != 1)][:3].tolist()}")
    return p, y


@dataclass(frozen=True)
class ReliabilityDiagram:
    """Per-bin calibration data (non-empty bins only, in increasing confidence).

    Attributes:
        low, high: bin bounds (uniform: the fixed interval; quantile: min and max confidence in the bin).
        confidence: mean confidence in each bin.
        accuracy: fraction correct in each bin.
        count: predictions in each bin.
        strategy: ``"uniform"`` or ``"quantile"``.
    """

    low: list[float]
    high: list[float]
    confidence: list[float]
    accuracy: list[float]
    count: list[int]
    strategy: str

    @property
    def ece(self) -> float:
        """Expected calibration error of these bins: count-weighted mean of ``|accuracy - confidence|``."""
        n = np.asarray(self.count, dtype=float)
        gap = np.abs(np.asarray(self.accuracy) - np.asarray(self.confidence))
        return float((n * gap).sum() / n.sum())


def _bin_groups(p: np.ndarray, n_bins: int, strategy: str) -> list[tuple[np.ndarray, float, float]]:
    """Index groups with their bounds; empty bins are dropped."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1; got {n_bins}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        ids = np.searchsorted(edges[1:-1], p, side="left")  # bin i holds (edges[i], edges[i+1]], 0 in bin 0
        return [(np.flatnonzero(ids == b), edges[b], edges[b + 1]) for b in range(n_bins) if np.any(ids == b)]
    if strategy == "quantile":
        order = np.argsort(p, kind="stable")
        groups = [g for g in np.array_split(order, n_bins) if g.size]
        return [(g, float(p[g].min()), float(p[g].max())) for g in groups]
    raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")


def reliability_diagram(
    confidences: Sequence[float], correct: Sequence[bool | float], n_bins: int = 10, strategy: str = "uniform"
) -> ReliabilityDiagram:
    """Bin predictions by confidence and measure accuracy per bin.

    Args:
        confidences: shape (N,), each in [0, 1].
        correct: shape (N,), booleans or 0/1.
        n_bins: number of bins B (quantile bins hold N/B predictions each, give or take one).
        strategy: ``"uniform"`` (equal width) or ``"quantile"`` (equal mass).
    """
    p, y = _as_arrays(confidences, correct)
    groups = _bin_groups(p, n_bins, strategy)
    return ReliabilityDiagram(
        low=[float(lo) for _, lo, _ in groups],
        high=[float(hi) for _, _, hi in groups],
        confidence=[float(p[g].mean()) for g, _, _ in groups],
        accuracy=[float(y[g].mean()) for g, _, _ in groups],
        count=[int(g.size) for g, _, _ in groups],
        strategy=strategy,
    )


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool | float], n_bins: int = 10, strategy: str = "uniform"
) -> float:
    """ECE in [0, 1]: ``sum_b (n_b / N) |acc_b - conf_b|`` over the bins of :func:`reliability_diagram`."""
    return reliability_diagram(confidences, correct, n_bins=n_bins, strategy=strategy).ece


def brier_score(confidences: Sequence[float], correct: Sequence[bool | float]) -> float:
    """Mean squared gap between confidence and outcome, in [0, 1] (0 is perfect)."""
    p, y = _as_arrays(confidences, correct)
    return float(np.mean((p - y) ** 2))


def _tokens_to_reach(tokenizer, token_ids: Sequence[int], n_chars: int) -> int:
    """Smallest m such that ``decode(token_ids[:m])`` has at least ``n_chars`` characters (binary search)."""
    lo, hi = 0, len(token_ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(tokenizer.decode(list(token_ids[:mid]), skip_special_tokens=True)) >= n_chars:
            hi = mid
        else:
            lo = mid + 1
    return lo


def answer_char_span(text: str, answer: str | None = None) -> tuple[int, int] | None:
    """Character span ``[start, end)`` of the final answer in a completion.

    The last non-empty ``<answer>…</answer>`` block; without one, the last occurrence of ``answer`` (the
    string an extractor found by another route, e.g. ``\\boxed{}`` or the last number). None otherwise.
    """
    start = text.rfind(ANSWER_OPEN)
    if start >= 0:
        start += len(ANSWER_OPEN)
        end = text.find(ANSWER_CLOSE, start)
        if end > start:
            return start, end
    if answer and answer.strip():
        start = text.rfind(answer.strip())
        if start >= 0:
            return start, start + len(answer.strip())
    return None


def answer_token_span(
    text: str, token_ids: Sequence[int], tokenizer, answer: str | None = None
) -> tuple[int, int] | None:
    """Token indices ``[start, end)`` that produce the final answer (see :func:`answer_char_span`).

    ``text`` must be ``tokenizer.decode(token_ids, skip_special_tokens=True)`` (what
    :class:`~course_lib.models.generate.Generation` stores). Tokens that straddle a tag and the answer
    are included. Returns None when no answer is found.
    """
    chars = answer_char_span(text, answer)
    if chars is None:
        return None
    start = _tokens_to_reach(tokenizer, token_ids, chars[0] + 1) - 1
    end = _tokens_to_reach(tokenizer, token_ids, chars[1])
    return (start, end) if end > start else None


def answer_confidence(
    text: str,
    token_ids: Sequence[int],
    logprobs: Sequence[float],
    tokenizer,
    reduce: str = "prod",
    answer: str | None = None,
) -> float:
    """Confidence in the final answer from its tokens' probabilities.

    Args:
        text, token_ids, logprobs: one completion (a ``Generation``'s fields; logprobs in nats, one per token).
        tokenizer: the tokenizer that produced ``token_ids``.
        reduce: ``"prod"`` (probability of the whole answer string, ``exp(sum logprob)``) or ``"mean"``
            (mean per-token probability).
        answer: the extracted answer, located in the text when there is no ``<answer>`` block.

    Returns:
        A probability in [0, 1]; 0.0 when no answer is found (the model committed to nothing).
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}; got {reduce!r}")
    if len(token_ids) != len(logprobs):
        raise ValueError(
            f"need one logprob per token; got {len(token_ids)} tokens and {len(logprobs)} logprobs"
        )
    span = answer_token_span(text, token_ids, tokenizer, answer)
    if span is None:
        return 0.0
    lps = np.asarray(logprobs[span[0] : span[1]], dtype=float)
    value = math.exp(lps.sum()) if reduce == "prod" else float(np.exp(lps).mean())
    return float(min(max(value, 0.0), 1.0))


def majority_vote(
    answers: Sequence[str | None], same: Callable[[str, str], bool]
) -> tuple[str | None, float]:
    """Self-consistency: the most common answer up to equivalence, and the share of samples that gave it.

    Args:
        answers: the k extracted answers of one problem (None where a sample gave no answer).
        same: equivalence test between two answers (e.g. built on the answer checker).

    Returns:
        ``(answer, share)`` where share = (samples equivalent to the winner) / k, in [0, 1]; ties go to
        the answer seen first; ``(None, 0.0)`` when no sample gave an answer.
    """
    if len(answers) == 0:
        raise ValueError("majority_vote needs at least one sample; got an empty list")
    clusters: list[list[str]] = []
    for a in answers:
        if a is None:
            continue
        for cluster in clusters:
            if same(cluster[0], a):
                cluster.append(a)
                break
        else:
            clusters.append([a])
    if not clusters:
        return None, 0.0
    best = max(clusters, key=len)  # max keeps the first of equal-length clusters
    return best[0], len(best) / len(answers)
