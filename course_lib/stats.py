"""Uncertainty for evaluation numbers: bootstrap confidence intervals and the unbiased pass@k.

An accuracy measured on 200 problems is a sample statistic; a percentile bootstrap over problems
says how far it could move on another 200 drawn the same way. pass@k follows Chen et al. (2021,
"Evaluating Large Language Models Trained on Code"): from ``n`` samples with ``c`` correct, the
probability that at least one of ``k`` drawn without replacement is correct.

Plain NumPy with no other ``course_lib`` import, so every layer (``distill`` as well as ``eval``) can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A mean with a bootstrap confidence interval.

    Attributes:
        value: the sample mean.
        low: lower end of the interval.
        high: upper end of the interval.
        n: number of units (problems) the mean is over.
    """

    value: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap_ci(
    values: Sequence[float], *, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """Percentile-bootstrap interval for the mean of per-unit values.

    Args:
        values: one number per unit, shape (N,), e.g. 0/1 correctness or a per-problem pass rate.
        n_boot: number of resamples (each draws N units with replacement).
        confidence: interval mass, e.g. 0.95 for a 95% interval.
        seed: seed of the resampling generator, so the same data give the same interval.

    Returns:
        :class:`Estimate` with the sample mean and the ``(1-confidence)/2`` and ``(1+confidence)/2``
        quantiles of the resampled means.

    Raises:
        ValueError: empty ``values``, ``n_boot < 1`` or ``confidence`` outside (0, 1).
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence; got shape {x.shape}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1; got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))  # (n_boot, N)
    means = x[idx].mean(axis=1)  # (n_boot,)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Estimate(value=float(x.mean()), low=float(low), high=float(high), n=int(x.size))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k: ``1 - C(n-c, k) / C(n, k)``, computed as a stable product.

    Args:
        n: samples drawn for the problem.
        c: how many of them were correct (0 <= c <= n).
        k: budget of attempts (1 <= k <= n).

    Raises:
        ValueError: when the counts are inconsistent.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n; got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n; got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
