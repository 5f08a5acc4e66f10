"""Reference solution of the exercise in notebook 04 (symmetric per-group fake quantization)."""

import torch


def my_fake_quantize(w, bits, group_size):
    """One scale per group of ``group_size`` weights along each row: s = absmax / (2^(b-1) - 1);
    w_hat = clamp(round(w / s), -(2^(b-1) - 1), 2^(b-1) - 1) * s, reshaped back to w's shape."""
    qmax = 2 ** (bits - 1) - 1
    groups = w.reshape(-1, group_size)  # (G, group_size)
    scale = groups.abs().amax(dim=1, keepdim=True).clamp(min=1e-30) / qmax  # (G, 1)
    return (torch.clamp(torch.round(groups / scale), -qmax, qmax) * scale).reshape(w.shape)


if __name__ == "__main__":
    from course_lib.exercises.quant import check_fake_quantize

    assert check_fake_quantize(my_fake_quantize)
