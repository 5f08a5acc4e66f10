"""Difficulty predictor: prompt features on hand-written prompts, a logistic fit that recovers a known effect."""

import numpy as np
import pytest

from course_lib.deploy import DifficultyPredictor, prompt_features


def test_prompt_features_count_numbers_clauses_length_and_digits():
    f = prompt_features(["Ann has 53 pens. She gives away 142, and loses 3. How many now?", "Hi"])
    assert f.shape == (2, 4)
    numbers, clauses, length, digits = f[0]
    assert numbers == 3 and digits == 3
    assert clauses == 4  # "Ann has 53 pens" | "She gives away 142" | "loses 3" | "How many now"
    assert length == pytest.approx(len("Ann has 53 pens. She gives away 142, and loses 3. How many now?") / 100)
    assert f[1].tolist() == [0, 1, 0.02, 0]


def test_logistic_fit_recovers_that_more_numbers_means_harder():
    rng = np.random.default_rng(0)
    numbers = rng.integers(1, 8, size=400).astype(float)
    noise = rng.normal(size=400)
    features = np.stack([numbers, noise], axis=1)
    p_true = 1 / (1 + np.exp(-(4.0 - numbers)))  # harder with more numbers, independent of noise
    solved = rng.random(400) < p_true
    model = DifficultyPredictor.fit(features, solved)
    assert model.weights[0] < -1.0 and abs(model.weights[1]) < 0.3
    pred = model.predict_success(features)
    assert np.abs(pred - p_true).mean() < 0.06
    assert pred[numbers == 1].mean() > 0.9 and pred[numbers == 7].mean() < 0.1


def test_single_class_fit_stays_finite_and_bad_input_raises():
    x = np.arange(10, dtype=float)[:, None]
    model = DifficultyPredictor.fit(x, np.ones(10, dtype=bool))
    p = model.predict_success(x)
    assert np.isfinite(p).all() and (p > 0.75).all()  # shrunk towards 0.5 by the penalty, like smoothing
    assert abs(model.weights[0]) < 1e-6
    with pytest.raises(ValueError, match="one entry per feature row"):
        DifficultyPredictor.fit(x, np.ones(9))
    with pytest.raises(ValueError, match="non-empty"):
        DifficultyPredictor.fit(np.zeros((0, 2)), [])
    with pytest.raises(ValueError, match="l2 must be > 0"):
        DifficultyPredictor.fit(x, np.ones(10), l2=0)
    with pytest.raises(ValueError, match=r"shape \(N, 1\)"):
        model.predict_success(np.zeros((3, 2)))
