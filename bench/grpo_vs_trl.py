"""Step time of the from-scratch GRPO against ``trl.GRPOTrainer`` on the same tiny model and config.

Both trainers start from the same weights with the same seed, so they sample the very same completions
at every step (see ``tests/distill/test_grpo_trl_equality.py``): the work per step is identical and the
losses must agree. Rounds alternate TRL / ours, so load from other processes hits both alike; the
per-step time is the median over steps after the first (warm-up) of each round, and the reported time
is the median over rounds. Target: ours / TRL ≤ 0.8 with equal loss.

Usage:  python bench/grpo_vs_trl.py [--size tiny-1m] [--steps 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback
from transformers.utils import logging as hf_logging

from course_lib.distill.grpo import GRPOConfig, GRPOTrainer
from course_lib.models.tiny import build_tiny_model, count_parameters


class StepClock(TrainerCallback):
    """Wall time between the ends of consecutive optimizer steps (everything a step costs)."""

    def __init__(self) -> None:
        self.marks = []

    def on_step_begin(self, args, state, control, **kwargs):
        if not self.marks:
            self.marks.append(time.perf_counter())

    def on_step_end(self, args, state, control, **kwargs):
        self.marks.append(time.perf_counter())

    @property
    def step_times(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:])]


def reward_a(completions, **kwargs):
    return [c.count("a") / 64 for c in completions]


def run_trl(size: str, config: dict, rows: list[dict]) -> tuple[list[float], list[float]]:
    import trl
    from datasets import Dataset

    model, tok = build_tiny_model(size, seed=0)
    clock = StepClock()
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=[reward_a],
        args=trl.GRPOConfig(
            output_dir=tempfile.mkdtemp(prefix="bench-grpo-"),
            bf16=False,
            activation_checkpointing=False,
            report_to=[],
            save_strategy="no",
            **config,
        ),
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        callbacks=[clock],
    )
    trainer.remove_callback(PrinterCallback)  # no per-step log dictionaries
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return clock.step_times, losses


def run_ours(size: str, config: dict, rows: list[dict]) -> tuple[list[float], list[float]]:
    model, tok = build_tiny_model(size, seed=0)
    record = GRPOTrainer(model, reward_a, GRPOConfig(**config), rows, tok).train()
    return record.curve("step_time")[1], record.curve("loss")[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", default="tiny-1m", help="tiny model size (course_lib.models.tiny.TINY_SPECS)"
    )
    parser.add_argument(
        "--steps", type=int, default=8, help="optimizer steps per round (the first is warm-up)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating TRL / ours rounds")
    parser.add_argument("--threads", type=int, default=1)
    cli = parser.parse_args()
    torch.set_num_threads(cli.threads)
    hf_logging.set_verbosity_error()
    config = {
        "num_generations": 8,
        "per_device_train_batch_size": 8,
        "max_completion_length": 64,
        "max_steps": cli.steps,
        "learning_rate": 1e-4,
        "logging_steps": 1,
        "disable_tqdm": True,
        "seed": 0,
    }
    rows = [{"prompt": f"Ann has {n} pens. She gives away {n // 3}. How many now?\n"} for n in range(10, 74)]
    params = count_parameters(build_tiny_model(cli.size)[0])
    print(
        f"GRPO step time: {cli.size} ({params / 1e6:.2f}M params), G=8, completions ≤ 64 tokens, batch 8 "
        f"(1 prompt × 8), loss dapo, {torch.get_num_threads()} thread(s), CPU, "
        f"{cli.rounds} rounds × {cli.steps} steps"
    )
    medians = {"trl": [], "ours": []}
    loss_diffs = []
    for r in range(cli.rounds):
        trl_times, trl_losses = run_trl(cli.size, config, rows)
        our_times, our_losses = run_ours(cli.size, config, rows)
        medians["trl"].append(statistics.median(trl_times[1:]))
        medians["ours"].append(statistics.median(our_times[1:]))
        loss_diffs.append(max(abs(a - b) for a, b in zip(trl_losses, our_losses)))
        print(
            f"  round {r + 1}: trl {medians['trl'][-1]:.3f} s/step, ours {medians['ours'][-1]:.3f} s/step, "
            f"max |loss diff| {loss_diffs[-1]:.1e}"
        )
    trl_step, our_step = statistics.median(medians["trl"]), statistics.median(medians["ours"])
    ratio = our_step / trl_step
    print(f"trl.GRPOTrainer     : {trl_step:.3f} s/step (median)")
    print(f"from scratch (ours) : {our_step:.3f} s/step (median)")
    print(f"ratio ours / TRL    : {ratio:.2f}  (target ≤ 0.8: {'met' if ratio <= 0.8 else 'NOT met'})")
    print(
        f"max |loss diff|     : {max(loss_diffs):.1e} over {cli.rounds * cli.steps} steps (same completions)"
    )


if __name__ == "__main__":
    main()
