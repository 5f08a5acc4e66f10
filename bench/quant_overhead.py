"""Cost of fake quantization: a QAD training step and greedy generation, against the unquantized model.

Baselines: the same tiny-1m model without quantizers, on the same batch (training step: teacher forward,
student forward + backward on the KL, AdamW step) and the same prompts (generation). Fake quantizers
re-quantize every weight at every forward pass; ``frozen_quantizers`` computes the quantized weights once
for a whole generation run. Rounds alternate the variants, so load from other processes hits all alike;
each time is the median over rounds.

Usage:  python bench/quant_overhead.py [--rounds 5] [--bits 4]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from course_lib.data.tasks import lab_suite
from course_lib.models.generate import generate
from course_lib.models.tiny import build_tiny_model
from course_lib.quant.layers import frozen_quantizers, quantize_model
from course_lib.quant.qad import completion_logits, distillation_batches, token_divergence
from course_lib.quant.quantizers import QuantSpec


def train_step(teacher, student, optimizer, batch) -> None:
    student_logits, teacher_logits, mask = completion_logits(teacher, student, batch)
    token_divergence(student_logits, teacher_logits)[mask].mean().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bits", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)

    teacher, tok = build_tiny_model("tiny-1m", seed=0)
    plain = copy.deepcopy(teacher)
    quantized = copy.deepcopy(teacher)
    quantize_model(quantized, QuantSpec(args.bits, "symmetric", "group", 32))
    problems = lab_suite(3, seed=0, split="test")
    batch = distillation_batches(problems, tok, batch_size=8)[0]
    optimizers = {m: torch.optim.AdamW(m.parameters(), lr=1e-6) for m in (plain, quantized)}

    def gen(model):
        return lambda: generate(model, tok, problems[:16], max_new_tokens=32, progress=False)

    def gen_frozen():
        with frozen_quantizers():
            generate(quantized.eval(), tok, problems[:16], max_new_tokens=32, progress=False)

    variants = {
        "train step, plain (baseline)": lambda: train_step(teacher, plain.train(), optimizers[plain], batch),
        "train step, fake-quantized": lambda: train_step(teacher, quantized.train(), optimizers[quantized], batch),
        "generate, plain (baseline)": gen(plain.eval()),
        "generate, fake-quantized": gen(quantized.eval()),
        "generate, frozen_quantizers": gen_frozen,
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(timed(fn))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"tiny-1m, {args.bits}-bit symmetric g32, torch threads={torch.get_num_threads()}, rounds={args.rounds}")
    for name, t in median.items():
        base = median["train step, plain (baseline)" if name.startswith("train") else "generate, plain (baseline)"]
        print(f"{name:<32}{t * 1000:>9.1f} ms   x{t / base:.2f} of baseline")


if __name__ == "__main__":
    main()
