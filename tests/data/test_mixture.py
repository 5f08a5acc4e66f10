"""Mixture sampler: proportions converge to the weights (chi-square), determinism, temperature, bad inputs."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from course_lib.data.mixture import group_problems, mixture_probabilities, sample_mixture
from course_lib.data.tasks import lab_suite

POOL = lab_suite(30, seed=0)  # 11 tasks x 30 = 330 problems, 60-120 per domain
WEIGHTS = {"math": 0.5, "code": 0.2, "logic": 0.2, "general": 0.1}


def test_multinomial_counts_pass_a_chi_square_test_against_the_weights():
    sample = sample_mixture(POOL, WEIGHTS, n=5000, seed=1, replace=True)
    groups = list(WEIGHTS)
    observed = [sample.report.counts[g] for g in groups]
    expected = [5000 * WEIGHTS[g] for g in groups]
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # the same counts are far from a different mixture: the test has power
    uniform = [5000 / 4] * 4
    assert stats.chisquare(observed, uniform).pvalue < 1e-6
    assert sum(observed) == 5000 == len(sample.problems)
    assert {p.domain for p in sample.problems} == set(groups)
    assert sample.report.by_domain == {g: c for g, c in zip(groups, observed)}


def test_shares_converge_as_n_grows():
    errors = [sample_mixture(POOL, WEIGHTS, n=n, seed=2, replace=True).report.max_share_error() for n in (100, 10_000)]
    assert errors[1] < 0.02 and errors[1] < errors[0] + 0.01


@settings(max_examples=30, deadline=None)
@given(
    w=st.lists(st.floats(0, 10, allow_nan=False), min_size=4, max_size=4).filter(lambda w: sum(w) > 0.1),
    n=st.integers(0, 60),
)
def test_exact_allocation_is_within_one_of_n_times_p(w, n):
    weights = dict(zip(WEIGHTS, w))
    report = sample_mixture(POOL, weights, n=n, seed=0, allocation="exact").report
    assert sum(report.counts.values()) == n
    for g, p in report.requested.items():
        assert abs(report.counts[g] - n * p) < 1 + 1e-9
        if p == 0:
            assert report.counts[g] == 0


def test_same_seed_same_sample_and_different_seed_differs():
    a = sample_mixture(POOL, WEIGHTS, n=50, seed=7)
    b = sample_mixture(POOL, WEIGHTS, n=50, seed=7)
    c = sample_mixture(POOL, WEIGHTS, n=50, seed=8)
    assert [p.id for p in a.problems] == [p.id for p in b.problems]
    assert [p.id for p in a.problems] != [p.id for p in c.problems]
    assert a.report == b.report


def test_without_replacement_draws_distinct_problems():
    sample = sample_mixture(POOL, {"math": 1, "logic": 1}, n=100, seed=0, allocation="exact")
    assert len({p.id for p in sample.problems}) == 100
    assert sample.report.counts == {"math": 50, "code": 0, "logic": 50, "general": 0}


def test_temperature_scales_weights():
    probs = mixture_probabilities({"a": 4.0, "b": 1.0, "c": 0.0}, temperature=2.0)
    assert probs["a"] == pytest.approx(2 / 3) and probs["b"] == pytest.approx(1 / 3) and probs["c"] == 0
    sharp = mixture_probabilities({"a": 4.0, "b": 1.0}, temperature=0.5)
    assert sharp["a"] == pytest.approx(16 / 17)
    flat = mixture_probabilities({"a": 4.0, "b": 1.0}, temperature=1e6)
    assert flat["a"] == pytest.approx(0.5, abs=1e-5)


def test_source_grouping_and_dict_pools():
    by_source = group_problems(POOL, "source")
    assert len(by_source) == 11 and all(len(v) == 30 for v in by_source.values())
    sample = sample_mixture(POOL, {"lab/arith": 3, "lab/dyck": 1}, n=40, seed=0, key="source", allocation="exact")
    assert sample.report.counts["lab/arith"] == 30 and sample.report.by_source == {"lab/arith": 30, "lab/dyck": 10}
    assert sample.report.key == "source"
    dict_sample = sample_mixture(by_source, {"lab/trace": 1}, n=5, seed=0)
    assert dict_sample.report.key == "group" and {p.source for p in dict_sample.problems} == {"lab/trace"}
    assert "lab/trace" in dict_sample.report.table()


def test_empty_sample_is_allowed():
    sample = sample_mixture(POOL, WEIGHTS, n=0, seed=0)
    assert sample.problems == [] and sample.report.max_share_error() == 0.0
    assert all(v == 0.0 for v in sample.report.realised.values())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weights": {"math": -1, "code": 1}}, "non-negative"),
        ({"weights": {"math": 0, "code": 0.0}}, "sum to a positive"),
        ({"weights": {}}, "sum to a positive"),
        ({"weights": {"math": math.nan}}, "finite"),
        ({"weights": {"math": math.inf}}, "finite"),
        ({"weights": {"math": "1"}}, "finite"),
        ({"weights": {"maths": 1}}, "pool lacks"),
        ({"n": -1}, "non-negative int"),
        ({"n": 2.5}, "non-negative int"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1}, "temperature"),
        ({"allocation": "stratified"}, "allocation"),
        ({"key": "task"}, "key must be"),
        ({"n": 10_000}, "not enough problems"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, message):
    args = {"pool": POOL, "weights": WEIGHTS, "n": 10, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        sample_mixture(**args)


def test_positive_weight_on_an_empty_group_is_an_error():
    with pytest.raises(ValueError, match="no problems"):
        sample_mixture({"math": [], "code": POOL[:3]}, {"math": 1, "code": 1}, n=2)


def test_numpy_numbers_are_accepted():
    sample = sample_mixture(POOL, {"math": np.float32(1), "code": np.int64(1)}, n=np.int64(4), seed=0)
    assert len(sample.problems) == 4
