"""Bootstrap intervals cover the truth at their stated rate; pass@k matches its definition."""

from itertools import combinations
from math import comb

import numpy as np
import pytest

from course_lib.stats import bootstrap_ci, pass_at_k


def test_bootstrap_coverage_in_simulation():
    rng = np.random.default_rng(0)
    true_p, n, sims = 0.7, 150, 300
    covered = 0
    for s in range(sims):
        outcomes = rng.random(n) < true_p
        est = bootstrap_ci(outcomes, n_boot=1000, seed=s)
        assert est.low <= est.value <= est.high
        covered += est.low <= true_p <= est.high
    rate = covered / sims
    # binomial sd of a 95% rate over 300 simulations is 0.0126; allow three sd
    assert abs(rate - 0.95) < 3 * np.sqrt(0.95 * 0.05 / sims), rate


def test_bootstrap_is_seeded_and_degenerate_data_give_a_point():
    a = bootstrap_ci([1, 0, 1, 1, 0], seed=3)
    assert a == bootstrap_ci([1, 0, 1, 1, 0], seed=3)
    assert bootstrap_ci([1, 1, 1]).to_dict() == {"value": 1.0, "low": 1.0, "high": 1.0, "n": 3}
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_ci([])


@pytest.mark.parametrize("n,c,k", [(5, 2, 1), (5, 2, 2), (6, 3, 4), (4, 0, 2), (4, 4, 1), (8, 1, 8)])
def test_pass_at_k_matches_enumeration(n, c, k):
    outcomes = [1] * c + [0] * (n - c)
    subsets = list(combinations(range(n), k))
    expected = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(expected)
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_k_rejects_bad_counts():
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_at_k(3, 1, 5)
