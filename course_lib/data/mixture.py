"""The mixture sampler: weights per domain or per source -> a seeded sample of N problems and its composition.

Each drawn problem comes from group ``i`` with probability

    p_i = w_i^(1/T) / sum_j w_j^(1/T)

where ``w`` are the weights and ``T`` the temperature (``T = 1``: the weights as given; ``T > 1``
flattens towards uniform over the groups with positive weight; ``T < 1`` sharpens towards the largest).
``allocation="multinomial"`` draws the group of each slot independently (counts vary around ``n * p``,
as in a data loader); ``allocation="exact"`` gives every group ``round(n * p_i)`` slots by the largest-
remainder rule (the composition is fixed; use it to compare mixtures without sampling noise).
Within a group problems are drawn uniformly, without replacement unless ``replace=True``, and the
sample is shuffled. Same arguments, same sample.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course_lib.data.schema import Problem

ALLOCATIONS = ("multinomial", "exact")
GROUP_KEYS = ("domain", "source")


@dataclass(frozen=True)
class MixtureReport:
    """What was asked and what was drawn.

    Attributes:
        key: what the groups are (``"domain"``, ``"source"``, or ``"group"`` for a dict pool).
        weights: the weights as given (missing groups: 0).
        requested: the target shares ``p_i`` after temperature scaling (sum to 1).
        counts: problems drawn per group.
        realised: ``counts / n`` per group (zeros when ``n = 0``).
        available: problems in the pool per group.
        by_domain / by_source: counts of the drawn problems per domain and per source.
        n, seed, temperature, replace, allocation: the call's arguments.
    """

    key: str
    weights: dict[str, float]
    requested: dict[str, float]
    counts: dict[str, int]
    realised: dict[str, float]
    available: dict[str, int]
    by_domain: dict[str, int]
    by_source: dict[str, int]
    n: int
    seed: int
    temperature: float
    replace: bool
    allocation: str

    def max_share_error(self) -> float:
        """Largest ``|realised - requested|`` over groups (0 for an empty sample)."""
        if self.n == 0:
            return 0.0
        return max((abs(self.realised[g] - self.requested[g]) for g in self.requested), default=0.0)

    def table(self) -> str:
        """A plain-text table: group, weight, requested share, drawn count, realised share, available."""
        rows = [f"{self.key:<14} {'weight':>7} {'target':>7} {'count':>6} {'share':>7} {'pool':>6}"]
        for g in self.requested:
            rows.append(
                f"{g:<14} {self.weights[g]:>7.3g} {self.requested[g]:>7.1%} {self.counts[g]:>6d} "
                f"{self.realised[g]:>7.1%} {self.available[g]:>6d}"
            )
        rows.append(f"n={self.n} seed={self.seed} T={self.temperature:g} replace={self.replace} {self.allocation}")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MixtureSample:
    """The drawn problems (shuffled) and their :class:`MixtureReport`."""

    problems: list[Problem]
    report: MixtureReport = field(repr=False)


def group_problems(problems: list[Problem], key: str = "domain") -> dict[str, list[Problem]]:
    """Group a flat list by ``"domain"`` or ``"source"`` (groups in order of first appearance)."""
    if key not in GROUP_KEYS:
        raise ValueError(f"key must be one of {GROUP_KEYS}; got {key!r}")
    groups: dict[str, list[Problem]] = {}
    for p in problems:
        groups.setdefault(getattr(p, key), []).append(p)
    return groups


def mixture_probabilities(weights: dict[str, float], temperature: float = 1.0) -> dict[str, float]:
    """``p_i ∝ w_i^(1/T)``, with zero weights staying zero.

    Raises:
        ValueError: a negative, NaN or infinite weight, all weights zero, or ``temperature <= 0``.
    """
    if not (isinstance(temperature, numbers.Real) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}")
    bad = {g: w for g, w in weights.items() if not (isinstance(w, numbers.Real) and math.isfinite(w) and w >= 0)}
    if bad:
        raise ValueError(f"mixture weights must be finite and non-negative; got {bad}")
    if not any(w > 0 for w in weights.values()):
        raise ValueError(f"mixture weights must be non-negative and sum to a positive number; got {weights}")
    scaled = {g: (w ** (1.0 / temperature) if w > 0 else 0.0) for g, w in weights.items()}
    total = sum(scaled.values())
    return {g: s / total for g, s in scaled.items()}


def _exact_counts(probs: list[float], n: int) -> list[int]:
    """Largest-remainder apportionment of ``n`` slots (ties broken by group order)."""
    quotas = [p * n for p in probs]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(probs)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def sample_mixture(
    pool: dict[str, list[Problem]] | list[Problem],
    weights: dict[str, float],
    n: int,
    seed: int = 0,
    temperature: float = 1.0,
    replace: bool = False,
    key: str = "domain",
    allocation: str = "multinomial",
) -> MixtureSample:
    """Draw ``n`` problems from ``pool`` so that groups appear in proportion to ``weights``.

    Args:
        pool: group name -> problems, or a flat list grouped by ``key``.
        weights: group name -> non-negative weight (need not sum to 1). Groups of the pool that are not
            named get weight 0; naming a group the pool lacks is an error.
        n: sample size (>= 0).
        seed: random seed; same arguments, same sample.
        temperature: ``T`` in ``p_i ∝ w_i^(1/T)`` (> 0).
        replace: draw with replacement within a group (needed when ``n * p_i`` exceeds a group's size).
        key: ``"domain"`` or ``"source"``, used only when ``pool`` is a list.
        allocation: ``"multinomial"`` (independent draws) or ``"exact"`` (fixed counts).

    Returns:
        A :class:`MixtureSample` with the shuffled problems and the composition report.

    Raises:
        ValueError: bad weights or temperature, unknown groups, ``n < 0``, an unknown allocation, a
            group with positive weight but no problems, or (without replacement) a group asked for
            more problems than it has.
    """
    groups = group_problems(pool, key) if isinstance(pool, list) else dict(pool)
    key_name = key if isinstance(pool, list) else "group"
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int; got {n!r}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}; got {allocation!r}")
    unknown = sorted(set(weights) - set(groups))
    if unknown:
        raise ValueError(f"weights name group(s) {unknown} that the pool lacks; the pool has {sorted(groups)}")
    probs = mixture_probabilities({g: weights.get(g, 0.0) for g in groups}, temperature)
    full_weights = {g: float(weights.get(g, 0.0)) for g in groups}
    empty = [g for g, p in probs.items() if p > 0 and not groups[g]]
    if empty:
        raise ValueError(f"group(s) {empty} have positive weight but no problems")

    rng = np.random.default_rng(seed)
    names = list(groups)
    p = [probs[g] for g in names]
    if allocation == "exact":
        counts = _exact_counts(p, int(n))
    else:
        counts = rng.multinomial(int(n), p).tolist()
    if not replace:
        short = {g: (c, len(groups[g])) for g, c in zip(names, counts) if c > len(groups[g])}
        if short:
            detail = ", ".join(f"{g} needs {c} but has {a}" for g, (c, a) in short.items())
            raise ValueError(f"not enough problems to sample without replacement ({detail}); "
                             "pass replace=True, lower n, or add problems")
    drawn: list[Problem] = []
    for g, c in zip(names, counts):
        picks = rng.choice(len(groups[g]), size=c, replace=replace) if c else []
        drawn += [groups[g][i] for i in picks]
    drawn = [drawn[i] for i in rng.permutation(len(drawn))]

    count_map = dict(zip(names, counts))
    report = MixtureReport(
        key=key_name,
        weights=full_weights,
        requested=probs,
        counts=count_map,
        realised={g: (c / n if n else 0.0) for g, c in count_map.items()},
        available={g: len(ps) for g, ps in groups.items()},
        by_domain=dict(Counter(p.domain for p in drawn)),
        by_source=dict(Counter(p.source for p in drawn)),
        n=int(n),
        seed=seed,
        temperature=float(temperature),
        replace=replace,
        allocation=allocation,
    )
    return MixtureSample(drawn, report)
