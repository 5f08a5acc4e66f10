"""Teacher chains: K samples per problem with log-probs, best-of-K keeps only verified chains, yield per domain."""

import pytest

from course_lib.data.tasks import lab_suite
from course_lib.distill.teacher import ScoredChain, best_of_k, extract_chain, sample_chains
from course_lib.models.tiny import build_tiny_model


@pytest.fixture(scope="module")
def problems():
    return lab_suite(2, seed=0, tasks=["arith", "boolean", "order"])  # math, general, logic


def _chain(problem, correct, lp=-1.0, chain="a. b."):
    text = f"<think>{chain}</think><answer>{problem.answer if correct else 'zzz'}</answer>"
    answer = problem.answer if correct else "zzz"
    return ScoredChain(problem.id, text, chain, answer, correct, [lp, lp])


def test_best_of_k_keeps_only_correct_chains_and_reports_yield(problems):
    scored = []
    for i, p in enumerate(problems):
        if p.domain == "math":
            row = [_chain(p, False), _chain(p, True, -2.0, "x."), _chain(p, True, -0.5, "best."), _chain(p, False)]
        elif p.domain == "logic":
            row = [_chain(p, False)] * 4
        else:
            row = [_chain(p, i % 2 == 0, chain=f"c{k}.") for k in range(4)]
        scored.append(row)
    best = best_of_k(problems, scored, keep="best")
    assert all(q.chain in ("best.", "c0.", "c1.", "c2.", "c3.") for q in best.problems)
    assert [q.chain for q in best.problems if q.domain == "math"] == ["best.", "best."]
    y = best.yield_by_domain
    assert y["math"]["problem_yield"] == 1.0 and y["math"]["chain_yield"] == 0.5
    assert y["logic"]["solved"] == 0 and y["logic"]["problem_yield"] == 0.0
    assert y["general"]["problems"] == 2 and y["general"]["solved"] == 1 and y["general"]["chain_yield"] == 0.5
    everything = best_of_k(problems, scored, keep="all")
    assert len(everything.problems) == 2 * 2 + 4  # two distinct correct chains per math problem, four for one general
    assert all(q.answer == p.answer for q in everything.problems for p in problems if p.id == q.id)
    assert "problem yield" in best.table()


def test_chains_without_think_block_are_not_kept(problems):
    p = problems[0]
    bare = ScoredChain(p.id, f"<answer>{p.answer}</answer>", None, p.answer, True, [-0.1])
    assert best_of_k([p], [[bare]]).problems == []


def test_sample_chains_returns_k_scored_samples_with_logprobs(problems):
    model, tok = build_tiny_model("tiny-250k", seed=0)
    calls = []

    def scorer(problem, text):
        calls.append(problem.id)
        return problem.answer in text, None

    rows = sample_chains(model, tok, problems[:3], num_samples=3, temperature=1.0, max_new_tokens=8, seed=1,
                         progress=False, scorer=scorer)
    assert [len(r) for r in rows] == [3, 3, 3] and len(calls) == 9
    assert all(c.problem_id == p.id for r, p in zip(rows, problems) for c in r)
    assert all(0 < len(c.logprobs) <= 8 and all(lp <= 0 for lp in c.logprobs) for r in rows for c in r)
    again = sample_chains(model, tok, problems[:3], num_samples=3, temperature=1.0, max_new_tokens=8, seed=1,
                          progress=False, scorer=scorer)
    assert [c.text for r in again for c in r] == [c.text for r in rows for c in r]


def test_extract_chain_and_bad_inputs(problems):
    assert extract_chain("<think>1+1=2.</think><answer>2</answer>") == "1+1=2."
    assert extract_chain("<answer>2</answer>") is None
    with pytest.raises(ValueError, match="keep"):
        best_of_k(problems, [[]] * len(problems), keep="top")
    with pytest.raises(ValueError, match="must match"):
        best_of_k(problems, [])
    with pytest.raises(ValueError, match="another problem id"):
        best_of_k(problems[:1], [[_chain(problems[1], True)]])
    with pytest.raises(ValueError, match="at least one problem"):
        model, tok = build_tiny_model("tiny-250k")
        sample_chains(model, tok, [], scorer=lambda p, t: (True, None))
