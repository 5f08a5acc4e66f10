"""Reference solution of the exercise in notebook 05 (expected calibration error, equal-width bins)."""

import numpy as np


def ece(confidences, correct, n_bins):
    """ECE = sum over non-empty bins of (n_bin / N) * |accuracy_bin - mean confidence_bin|.

    Bin b of B holds confidences in (b/B, (b+1)/B]; a confidence of exactly 0 goes to the first bin.
    """
    confidences = np.asarray(confidences, dtype=float)
    correct = np.asarray(correct, dtype=float)
    bins = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidences[in_bin].mean())
    return total


if __name__ == "__main__":
    from course_lib.exercises.evaluation import check_ece

    assert check_ece(ece)
