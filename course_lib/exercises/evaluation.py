"""Exercise of notebook 05: write the expected calibration error yourself.

``check_ece(your_ece)`` calls ``your_ece(confidences, correct, n_bins)`` on fixed cases and compares it
with :func:`course_lib.eval.calibration.expected_calibration_error` (equal-width bins). It prints what
went wrong with a hint, and returns True only when every case matches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_lib.eval.calibration import expected_calibration_error, reliability_diagram

TOLERANCE = 1e-9


def _cases() -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(2024)
    conf = rng.random(500)
    return [
        ("four predictions, two bins", np.array([0.1, 0.4, 0.6, 0.9]), np.array([0, 0, 1, 1]), 2),
        (
            "confidences on bin edges",
            np.array([0.0, 0.25, 0.3, 0.5, 0.75, 1.0]),
            np.array([1, 0, 0, 1, 0, 1]),
            4,
        ),
        ("random overconfident model", conf, (rng.random(500) < conf**2).astype(int), 10),
        ("random model, 7 bins", conf, (rng.random(500) < conf).astype(int), 7),
    ]


def _unweighted(conf: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    d = reliability_diagram(conf, correct, n_bins=n_bins)
    return float(np.mean(np.abs(np.asarray(d.accuracy) - np.asarray(d.confidence))))


def _hint(name: str, got: float, conf: np.ndarray, correct: np.ndarray, n_bins: int) -> str:
    if abs(got - _unweighted(conf, correct, n_bins)) < TOLERANCE:
        return "you averaged the bins' gaps equally; weight each bin's |accuracy - confidence| by n_bin / N."
    if name == "confidences on bin edges":
        return (
            "bins are closed on the right: bin b holds (b/B, (b+1)/B], and 0.0 goes into the first bin, "
            "so 0.25 belongs with [0, 0.25] when B = 4."
        )
    if got > 1 or got < 0:
        return "ECE is a weighted mean of gaps between two numbers in [0, 1], so it lies in [0, 1]."
    return (
        "per bin compare the mean confidence with the fraction correct, take the absolute gap, "
        "and sum the gaps weighted by the share of predictions in the bin; skip empty bins."
    )


def check_ece(fn: Callable[[np.ndarray, np.ndarray, int], float]) -> bool:
    """Grade a learner's ECE function ``fn(confidences, correct, n_bins) -> float`` (equal-width bins).

    Returns:
        True when every case matches the library within 1e-9; otherwise prints the first mismatch and a hint.
    """
    for name, conf, correct, n_bins in _cases():
        expected = expected_calibration_error(conf, correct, n_bins=n_bins)
        try:
            got = fn(conf.copy(), correct.copy(), n_bins)
        except Exception as err:  # noqa: BLE001 - a learner's code may raise anything; report, don't crash
            print(f"[{name}] your function raised {type(err).__name__}: {err}")
            return False
        if got is None or not np.isscalar(got):
            print(f"[{name}] your function returned {got!r}; return one float (the ECE).")
            return False
        if abs(float(got) - expected) > TOLERANCE:
            print(
                f"[{name}] expected {expected:.6f}, got {float(got):.6f}. Hint: {_hint(name, float(got), conf, correct, n_bins)}"
            )
            return False
    print(f"Correct: your ECE matches on all {len(_cases())} cases.")
    return True
