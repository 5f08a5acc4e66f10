"""Exercise of notebook 03: choose mixture weights that give target shares at a given temperature.

The sampler draws group ``i`` with probability ``p_i ∝ w_i^(1/T)``. ``check_weights_for(your_fn)`` calls
``your_fn(target_shares, temperature)`` on fixed cases and feeds the weights it returns to
:func:`course_lib.data.mixture.mixture_probabilities`; it prints what went wrong with a hint, and returns
True only when the resulting shares equal the targets in every case.
"""

from __future__ import annotations

from collections.abc import Callable

from course_lib.data.mixture import mixture_probabilities

TOLERANCE = 1e-6

CASES: list[tuple[str, dict[str, float], float]] = [
    ("balanced at T=1", {"math": 0.25, "code": 0.25, "logic": 0.25, "general": 0.25}, 1.0),
    ("math-heavy at T=1", {"math": 0.7, "code": 0.1, "logic": 0.1, "general": 0.1}, 1.0),
    ("math-heavy at T=2", {"math": 0.7, "code": 0.1, "logic": 0.1, "general": 0.1}, 2.0),
    ("three groups at T=0.5", {"gsm8k": 0.5, "mbpp": 0.3, "bbh": 0.2}, 0.5),
    ("a group left out at T=3", {"math": 0.6, "code": 0.4, "logic": 0.0}, 3.0),
]


def _shares(weights: dict[str, float], temperature: float) -> dict[str, float]:
    return mixture_probabilities(weights, temperature)


def _close(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= TOLERANCE for k in a)


def _hint(target: dict[str, float], temperature: float, got: dict[str, float]) -> str:
    if _close(_shares(target, temperature), got):
        return ("you returned the target shares themselves; the sampler raises every weight to the power 1/T, "
                "so return weights that this power maps back onto the targets.")
    powered = {k: v ** (1 / temperature) for k, v in target.items()}
    if _close(_shares(powered, temperature), got):
        return "you applied the temperature (power 1/T) instead of undoing it; use the inverse power."
    return "solve w^(1/T) ∝ p for w; any positive multiple of the answer works, and a zero share stays zero."


def check_weights_for(fn: Callable[[dict[str, float], float], dict[str, float]]) -> bool:
    """Grade ``fn(target_shares, temperature) -> weights``: the sampler's shares must equal the targets."""
    for name, target, temperature in CASES:
        try:
            weights = fn(dict(target), temperature)
            got = _shares(weights, temperature)
        except Exception as err:  # noqa: BLE001 - a learner's code may raise anything; report, don't crash
            print(f"[{name}] {type(err).__name__}: {err}")
            return False
        if not _close(got, target):
            shown = {k: round(v, 4) for k, v in got.items()}
            print(f"[{name}] target shares {target}, your weights give {shown}. Hint: {_hint(target, temperature, got)}")
            return False
    print(f"Correct: your weights reproduce the target shares in all {len(CASES)} cases.")
    return True
