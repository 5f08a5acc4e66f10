"""The chapter's experiment: post-training quantization (PTQ) vs quantization-aware distillation (QAD)
of one student across bit widths, measured by held-out KL from the teacher and by accuracy on
in-distribution and out-of-distribution problems.

For each bit width b:
  PTQ  = a copy of the student with b-bit fake quantizers, no training;
  QAD  = a copy of the student trained through b-bit quantizers to match the teacher
         (:func:`course_lib.quant.qad.quant_aware_distill`), same quantizer.
The full-precision student is the reference row. QAD keeps distilling from the teacher, so where it
beats the full-precision student that is more distillation, not a quantization effect.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from course_lib.data.schema import Problem
from course_lib.distill.records import RunRecord
from course_lib.quant.qad import (
    distillation_batches,
    distillation_kl,
    greedy_accuracy,
    ptq,
    quant_aware_distill,
)
from course_lib.quant.quantizers import QuantSpec

DEFAULT_BITS = (8, 4, 3, 2)
FULL_PRECISION = 32  # the ``bits`` value of the unquantized reference row


@dataclass
class QuantExperiment:
    """Measured rows of :func:`ptq_vs_qad`.

    Attributes:
        rows: ``{"method": "fp32" | "PTQ" | "QAD", "bits", "kl" (held-out forward KL from the teacher,
            nats/token), "accuracy/<split>" ..., "seconds"}``, full precision first, then by bits.
        records: the QAD run records by bit width.
        config: every setting of the run.
    """

    rows: list[dict[str, Any]]
    records: dict[int, RunRecord] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        return [k.removeprefix("accuracy/") for k in self.rows[0] if k.startswith("accuracy/")]

    def row(self, method: str, bits: int) -> dict[str, Any]:
        for r in self.rows:
            if r["method"] == method and r["bits"] == bits:
                return r
        raise KeyError(f"no row for method={method!r} bits={bits}; rows: {[(r['method'], r['bits']) for r in self.rows]}")

    def accuracy_curve(self, split: str, method: str = "QAD") -> dict[int, float]:
        """bits -> accuracy of one method on one split (full precision under key 32)."""
        key = f"accuracy/{split}"
        if key not in self.rows[0]:
            raise KeyError(f"no split {split!r}; splits: {self.splits}")
        return {r["bits"]: r[key] for r in self.rows if r["method"] in (method, "fp32")}

    def table(self) -> str:
        """A printable table: one line per (method, bits)."""
        widths = {s: max(10, len(s) + 6) for s in self.splits}
        head = f"{'method':<7}{'bits':>5}{'KL nats/tok':>13}" + "".join(f"{'acc ' + s:>{widths[s]}}" for s in self.splits)
        lines = [head + f"{'time s':>9}"]
        for r in self.rows:
            bits = "fp32" if r["bits"] == FULL_PRECISION else str(r["bits"])
            accs = "".join(f"{r['accuracy/' + s]:>{widths[s]}.1%}" for s in self.splits)
            lines.append(f"{r['method']:<7}{bits:>5}{r['kl']:>13.4f}{accs}{r['seconds']:>9.1f}")
        return "\n".join(lines)

    def plot(self):
        """Accuracy vs bits (one panel per split, PTQ and QAD, full precision dashed) and KL vs bits."""
        import matplotlib.pyplot as plt

        bits = sorted({r["bits"] for r in self.rows if r["method"] != "fp32"})
        fig, axes = plt.subplots(1, len(self.splits) + 1, figsize=(4.2 * (len(self.splits) + 1), 3.4))
        fp32 = self.row("fp32", FULL_PRECISION)
        for ax, split in zip(axes, self.splits):
            for method, style in (("PTQ", "o-"), ("QAD", "s-")):
                ax.plot(bits, [self.row(method, b)[f"accuracy/{split}"] for b in bits], style, label=method)
            ax.axhline(fp32[f"accuracy/{split}"], color="gray", ls="--", label="full precision")
            ax.set(title=f"accuracy: {split}", xlabel="bits", ylim=(0, 1), xticks=bits)
            ax.legend()
        ax = axes[-1]
        for method, style in (("PTQ", "o-"), ("QAD", "s-")):
            ax.plot(bits, [max(self.row(method, b)["kl"], 1e-6) for b in bits], style, label=method)
        ax.set(title="KL(teacher ‖ student), held out", xlabel="bits", ylabel="nats / token", yscale="log", xticks=bits)
        ax.legend()
        fig.tight_layout()
        return fig


def ptq_vs_qad(
    teacher,
    student,
    tokenizer,
    train_problems: Sequence[Problem],
    eval_sets: Mapping[str, Sequence[Problem]],
    bits: Sequence[int] = DEFAULT_BITS,
    *,
    scheme: str = "symmetric",
    granularity: str = "group",
    group_size: int = 32,
    lr: float | Mapping[int, float] = 3e-5,
    kl_problems: Sequence[Problem] | None = None,
    scorer=None,
    max_new_tokens: int | None = None,
    seed: int = 0,
    progress: bool = True,
    **qad_kwargs,
) -> QuantExperiment:
    """Run PTQ and QAD of ``student`` at every bit width and measure both (``student`` is not changed).

    Args:
        teacher, student, tokenizer: the lab teacher and student (one shared tokenizer).
        train_problems: QAD data (problems with reference chains, e.g. a best-of-K distillation set).
        eval_sets: split name -> problems for accuracy, e.g. ``{"in-distribution": ..., "OOD": ...}``.
        bits: bit widths to try (each 2..8).
        scheme, granularity, group_size: the quantizer (same for PTQ and QAD).
        lr: QAD learning rate, one for all or by bit width (coarser grids need larger moves).
        kl_problems: held-out problems (with chains) for the KL column (default: the first eval set).
        scorer: answer checker (default ``rewards.check_answer``).
        max_new_tokens: generation budget for accuracy (default: the active profile's).
        qad_kwargs: passed to :func:`quant_aware_distill` (``steps``, ``batch_size``, ``noise``,
            ``divergence`` ...).

    Returns:
        A :class:`QuantExperiment`.
    """
    if not eval_sets:
        raise ValueError("eval_sets must name at least one split of problems")
    lrs = dict(lr) if isinstance(lr, Mapping) else {b: lr for b in bits}
    for b in bits:
        QuantSpec(b, scheme, granularity, group_size)  # reject bad settings before any training
        if b not in lrs:
            raise ValueError(f"lr has no entry for {b} bits; give one learning rate or one per bit width in {list(bits)}")
    held_out = distillation_batches(kl_problems or next(iter(eval_sets.values())), tokenizer, batch_size=32, seed=seed)
    spec_kwargs = {"scheme": scheme, "granularity": granularity, "group_size": group_size}

    def measure(method: str, b: int, model, started: float) -> dict[str, Any]:
        row: dict[str, Any] = {"method": method, "bits": b, "kl": distillation_kl(teacher, model, held_out)}
        for split, problems in eval_sets.items():
            row[f"accuracy/{split}"] = greedy_accuracy(model, tokenizer, problems, scorer, max_new_tokens, False)
        row["seconds"] = time.perf_counter() - started
        return row

    rows = [measure("fp32", FULL_PRECISION, student, time.perf_counter())]
    records: dict[int, RunRecord] = {}
    for b in tqdm(bits, desc="PTQ and QAD per bit width", disable=not progress):
        started = time.perf_counter()
        rows.append(measure("PTQ", b, ptq(student, b, **spec_kwargs), started))
        started = time.perf_counter()
        qad, records[b] = quant_aware_distill(
            teacher, copy.deepcopy(student), train_problems, b, **spec_kwargs, lr=lrs[b], tokenizer=tokenizer,
            seed=seed, progress=progress, **qad_kwargs,
        )
        rows.append(measure("QAD", b, qad, started))
    config = dict(bits=list(bits), **spec_kwargs, lr=lrs, n_train=len(train_problems), seed=seed,
                  eval_sizes={k: len(v) for k, v in eval_sets.items()}, qad=next(iter(records.values())).config)
    return QuantExperiment(rows, records, config)
