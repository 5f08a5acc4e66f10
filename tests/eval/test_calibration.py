"""Calibration metrics against hand-computed values, sklearn, and a loop-based reference."""

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from course_lib.eval.calibration import (
    answer_confidence,
    answer_token_span,
    brier_score,
    expected_calibration_error,
    majority_vote,
    reliability_diagram,
)
from course_lib.models.tokenizer import build_char_tokenizer


def reference_ece(conf, correct, n_bins, strategy):
    """Independent ECE: explicit loops; uniform bins right-closed, quantile bins as consecutive sorted chunks."""
    pairs = sorted(zip(conf, correct), key=lambda t: t[0])
    n = len(pairs)
    if strategy == "uniform":
        buckets = [[] for _ in range(n_bins)]
        for c, y in pairs:
            b = 0
            while b < n_bins - 1 and c > (b + 1) / n_bins:
                b += 1
            buckets[b].append((c, y))
    else:
        buckets, start = [], 0
        base, extra = divmod(n, n_bins)
        for b in range(n_bins):
            size = base + (1 if b < extra else 0)
            buckets.append(pairs[start : start + size])
            start += size
    total = 0.0
    for bucket in buckets:
        if bucket:
            acc = sum(y for _, y in bucket) / len(bucket)
            avg = sum(c for c, _ in bucket) / len(bucket)
            total += len(bucket) / n * abs(acc - avg)
    return total


def test_hand_computed_ece_and_brier():
    conf = [0.1, 0.4, 0.6, 0.9]
    correct = [0, 0, 1, 1]
    # two equal-width bins: [0, .5] holds .1,.4 (acc 0, conf .25); (.5, 1] holds .6,.9 (acc 1, conf .75)
    assert expected_calibration_error(conf, correct, n_bins=2) == pytest.approx(0.5 * 0.25 + 0.5 * 0.25)
    # brier: (.01 + .16 + .16 + .01) / 4
    assert brier_score(conf, correct) == pytest.approx(0.34 / 4)
    # quantile bins of one prediction each: mean |conf - y| = (.1 + .4 + .4 + .1) / 4
    assert expected_calibration_error(conf, correct, n_bins=4, strategy="quantile") == pytest.approx(0.25)


def test_edge_value_goes_to_lower_bin():
    diagram = reliability_diagram([0.5, 0.5, 1.0], [1, 0, 1], n_bins=2)
    assert diagram.count == [2, 1]
    assert diagram.accuracy == [0.5, 1.0]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_ece_matches_reference_on_random_data(seed, strategy):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    conf = rng.random(n)
    correct = (rng.random(n) < conf**2).astype(int)
    n_bins = int(rng.integers(2, 16))
    ours = expected_calibration_error(conf, correct, n_bins=n_bins, strategy=strategy)
    assert ours == pytest.approx(reference_ece(conf.tolist(), correct.tolist(), n_bins, strategy), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_against_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    conf = rng.random(300)
    correct = (rng.random(300) < conf).astype(int)
    assert brier_score(conf, correct) == pytest.approx(brier_score_loss(correct, conf))
    diagram = reliability_diagram(conf, correct, n_bins=8, strategy="uniform")
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=8, strategy="uniform")
    np.testing.assert_allclose(diagram.accuracy, prob_true)
    np.testing.assert_allclose(diagram.confidence, prob_pred)


def test_perfectly_calibrated_predictor_has_ece_near_zero():
    rng = np.random.default_rng(7)
    n = 200_000
    conf = rng.random(n)
    correct = rng.random(n) < conf  # P(correct | conf) = conf exactly
    # per-bin sampling noise ~ sqrt(.25 / (n / 10)) = 0.0035; the in-bin spread of conf cancels on average
    assert expected_calibration_error(conf, correct, n_bins=10) < 0.01
    assert expected_calibration_error(conf, correct, n_bins=10, strategy="quantile") < 0.01
    overconfident = np.minimum(conf + 0.2, 1.0)
    assert expected_calibration_error(overconfident, correct) > 0.15


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score([1.2], [1])
    with pytest.raises(ValueError, match="equal length"):
        brier_score([0.2, 0.3], [1])
    with pytest.raises(ValueError, match="strategy"):
        expected_calibration_error([0.2], [1], strategy="equal")
    with pytest.raises(ValueError, match="0/1"):
        brier_score([0.2], [2])


def test_answer_confidence_uses_only_answer_tokens():
    tok = build_char_tokenizer()
    text = "<think>1+1=2.</think><answer>12</answer>"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text
    start, end = answer_token_span(text, ids, tok)
    assert tok.decode(ids[start:end]) == "12"
    logprobs = [-5.0] * len(ids)
    logprobs[start], logprobs[start + 1] = math.log(0.5), math.log(0.8)
    assert answer_confidence(text, ids, logprobs, tok, "prod") == pytest.approx(0.4)
    assert answer_confidence(text, ids, logprobs, tok, "mean") == pytest.approx(0.65)
    no_answer = "<think>1+1=2.</think>"
    ids2 = tok(no_answer, add_special_tokens=False)["input_ids"]
    assert answer_confidence(no_answer, ids2, [0.0] * len(ids2), tok) == 0.0
    # without an answer block, the extracted answer's last occurrence is used (e.g. a boxed or last number)
    boxed = "2+3=5, so \\boxed{5}"
    ids3 = tok(boxed, add_special_tokens=False)["input_ids"]
    logprobs3 = [math.log(0.5)] * len(ids3)
    logprobs3[boxed.rindex("5")] = math.log(0.9)
    assert answer_token_span(boxed, ids3, tok, answer="5") == (len(boxed) - 2, len(boxed) - 1)
    assert answer_confidence(boxed, ids3, logprobs3, tok, answer="5") == pytest.approx(0.9)


def test_majority_vote_is_equivalence_aware():
    same = lambda a, b: float(a) == float(b)
    assert majority_vote(["0.5", "1", ".50", None], same) == ("0.5", 0.5)
    assert majority_vote([None, None], same) == (None, 0.0)
    assert majority_vote(["3", "4"], same) == ("3", 0.5)
