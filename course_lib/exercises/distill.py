"""Exercise of notebook 01: the best-of-K rule that turns K teacher chains into one training example.

``check_pick_chain(your_fn)`` calls ``your_fn(chains)`` on fixed lists of
:class:`~course_lib.distill.teacher.ScoredChain` (the K samples of one problem) and compares the chain it
returns with the rule :func:`course_lib.distill.teacher.best_of_k` applies: among the chains that are
correct *and* have a ``<think>`` block, the one with the highest **mean** token log-probability; None when
there is no such chain. It prints the first mismatch with a hint and returns True only when all cases pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from course_lib.distill.teacher import ScoredChain

PickChain = Callable[[Sequence[ScoredChain]], "ScoredChain | None"]


def _chain(name: str, correct: bool, logprobs: list[float], think: bool = True) -> ScoredChain:
    chain = f"{name} chain." if think else None
    text = (f"<think>{chain}</think>" if think else "") + f"<answer>{'7' if correct else '8'}</answer>"
    return ScoredChain("exercise/1", text, chain, "7" if correct else "8", correct, logprobs)


def _cases() -> list[tuple[str, list[ScoredChain], str | None, str]]:
    """(description, chains, name of the chain to keep or None, hint when missed)."""
    wrong_sure = _chain("wrong-but-confident", False, [-0.01, -0.01])
    right_long = _chain("right-long", True, [-0.2] * 10)   # sum -2.0, mean -0.2
    right_short = _chain("right-short", True, [-0.5] * 2)  # sum -1.0, mean -0.5
    return [
        ("no correct chain", [wrong_sure, _chain("wrong", False, [-1.0])], None,
         "when no chain is correct there is nothing to distil: return None."),
        ("one correct chain among wrong ones", [wrong_sure, _chain("only-right", True, [-2.0, -3.0])], "only-right",
         "keep only chains whose answer verified (chain.correct); confidence alone is not correctness."),
        ("two correct chains of different lengths", [right_short, right_long, wrong_sure], "right-long",
         "compare the mean log-probability per token, not the sum: the sum penalises longer chains."),
        ("a correct answer without reasoning", [_chain("no-think", True, [-0.01], think=False),
                                                _chain("with-think", True, [-1.0])], "with-think",
         "a chain without a <think> block (chain.chain is None) has no reasoning to imitate: skip it."),
        ("an empty list", [], None, "K = 0 chains: return None."),
    ]


def _name(chain: ScoredChain | None) -> str | None:
    return None if chain is None else (chain.chain or "no-think chain.").removesuffix(" chain.")


def check_pick_chain(your_fn: PickChain) -> bool:
    """Grade ``your_fn(chains) -> ScoredChain | None``; prints what went wrong and a hint."""
    for description, chains, expected, hint in _cases():
        try:
            got = your_fn(list(chains))
        except Exception as err:  # noqa: BLE001 - a learner's error is reported, not raised
            print(f"✗ {description}: your function raised {type(err).__name__}: {err}\n  hint: {hint}")
            return False
        if got is not None and not isinstance(got, ScoredChain):
            print(f"✗ {description}: return one of the ScoredChain objects (or None); got {type(got).__name__}")
            return False
        if _name(got) != expected:
            print(f"✗ {description}: expected {expected!r}, got {_name(got)!r}\n  hint: {hint}")
            return False
    print(f"✓ all {len(_cases())} cases right: your rule matches best_of_k(keep='best').")
    return True
