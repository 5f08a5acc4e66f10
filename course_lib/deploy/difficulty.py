"""Predict, from the prompt alone, whether the student will get a problem right.

The prefilter router (:mod:`course_lib.deploy.routing`, ``mode="prefilter"``) needs a score before
any model runs. This module gives a deliberately simple one: four countable prompt features and a
logistic regression fitted on a calibration split where the student's correctness is known.

Features (one row per prompt, shape (N, 4)), see :data:`FEATURE_NAMES`:
    numbers:   how many numbers the prompt contains (each is an operand the chain must use);
    clauses:   sentences and clauses (split at ``. ? ! ; ,`` and " and "), a proxy for reasoning steps;
    length:    prompt length in hundreds of characters;
    max_digits: digits of the longest number (bigger operands, harder arithmetic).

Model: p(student right | x) = sigmoid(w · z + b), with z the features standardised on the
calibration split; fitted by Newton's method on the L2-penalised log-likelihood
(penalty ``l2/2 · (|w|² + b²)``), which is convex, so the fit is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from course_lib.data.schema import Problem

FEATURE_NAMES = ("numbers", "clauses", "length", "max_digits")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CLAUSE_SPLIT = re.compile(r"[.?!;,]|\band\b")


def prompt_features(prompts: Sequence[Problem | str]) -> np.ndarray:
    """Feature matrix (N, 4) in :data:`FEATURE_NAMES` order for problems or prompt strings."""
    rows = []
    for item in prompts:
        text = item if isinstance(item, str) else item.prompt
        numbers = _NUMBER.findall(text)
        clauses = [c for c in _CLAUSE_SPLIT.split(text) if c.strip()]
        digits = max((len(n.split(".")[0]) for n in numbers), default=0)
        rows.append([len(numbers), len(clauses), len(text) / 100.0, digits])
    return np.array(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


@dataclass(frozen=True)
class DifficultyPredictor:
    """A fitted logistic model of the student's success; use :meth:`fit`, then :meth:`predict_success`.

    Attributes:
        weights: coefficients on standardised features (F,); negative = the feature makes problems harder.
        bias: intercept.
        mean: feature means on the calibration split (F,).
        scale: feature standard deviations on the calibration split (F,), 1 where a feature was constant.
    """

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(
        cls, features: np.ndarray, solved: Sequence[bool], l2: float = 1.0, iterations: int = 50
    ) -> DifficultyPredictor:
        """Fit on a calibration split: ``features`` (N, F) and whether the student solved each problem (N,)."""
        x = np.asarray(features, dtype=float)
        y = np.asarray(solved, dtype=float)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"features must be a non-empty (N, F) matrix; got shape {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"solved must have one entry per feature row, shape ({x.shape[0]},); got {y.shape}")
        if not np.isfinite(x).all():
            raise ValueError("features must be finite numbers; got NaN or inf")
        if l2 <= 0:
            raise ValueError(f"l2 must be > 0 (it keeps the fit finite when one class is missing); got {l2!r}")
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = np.hstack([(x - mean) / scale, np.ones((x.shape[0], 1))])  # (N, F+1), last column = bias
        theta = np.zeros(z.shape[1])
        for _ in range(iterations):
            p = _sigmoid(z @ theta)  # (N,)
            grad = z.T @ (p - y) + l2 * theta  # (F+1,)
            hess = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.eye(z.shape[1])  # (F+1, F+1)
            step = np.linalg.solve(hess, grad)
            theta -= step
            if np.abs(step).max() < 1e-10:
                break
        return cls(weights=theta[:-1], bias=float(theta[-1]), mean=mean, scale=scale)

    def predict_success(self, features: np.ndarray) -> np.ndarray:
        """Probability (N,) that the student solves each problem, from features (N, F)."""
        x = np.asarray(features, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.weights.shape[0]:
            raise ValueError(f"features must have shape (N, {self.weights.shape[0]}); got {x.shape}")
        return _sigmoid(((x - self.mean) / self.scale) @ self.weights + self.bias)
