"""Run records and training checkpoints.

Every training call in ``course_lib.distill`` returns a :class:`RunRecord`: its config, seed, per-step
curves (loss, reward, learning rate ...), wall time and final metrics, saved as one JSON file next to
the numbers it produced. Checkpoints hold the model, the optimizer and scheduler states, the RNG states
and the record so far, so a stopped run resumes and ends bit-identical to an uninterrupted one
(provided its data is a function of the step number, as in :func:`course_lib.distill.sft.train_causal_lm`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

RECORD_FILE = "record.json"
TRAINER_STATE_FILE = "trainer_state.pt"
CHECKPOINT_PREFIX = "checkpoint-"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """Where a run happened: library versions, torch threads, device, CPU model and cores, and the load
    average when it started (on a shared machine, wall times scale with it)."""
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": f"{_cpu_model()}, {os.cpu_count()} cores",
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


@dataclass
class RunRecord:
    """What one training run did and measured.

    Attributes:
        name: what was trained, e.g. ``"sft-chain"`` or ``"lab-teacher"``.
        config: every setting that determines the run (JSON-serialisable).
        seed: the seed the run drew its data and initialisation from.
        curves: per-step series, ``{"loss": [[step, value], ...], ...}`` (steps count from 1).
        wall_time_s: seconds spent in training (summed over resumed segments).
        metrics: final measurements, e.g. ``{"accuracy/math": 0.81}``.
        environment: versions, threads and hardware (see :func:`environment`).
    """

    name: str
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    curves: dict[str, list[list[float]]] = field(default_factory=dict)
    wall_time_s: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=environment)

    def log(self, step: int, **values: float) -> None:
        """Append ``values`` (name -> number) at ``step`` to their curves."""
        for key, value in values.items():
            self.curves.setdefault(key, []).append([int(step), float(value)])

    def curve(self, key: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of one curve; KeyError names the curves that exist."""
        if key not in self.curves:
            raise KeyError(f"no curve {key!r} in record {self.name!r}; curves: {sorted(self.curves)}")
        points = self.curves[key]
        return [int(s) for s, _ in points], [v for _, v in points]

    def truncate(self, step: int) -> None:
        """Drop curve points logged after ``step`` (used when resuming from a checkpoint)."""
        self.curves = {k: [p for p in pts if p[0] <= step] for k, pts in self.curves.items()}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        if not isinstance(data, dict) or "name" not in data:
            raise ValueError(f"a run record needs at least a 'name' field; got {str(data)[:200]!r}")
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown run record fields {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**data)

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON (``path`` may be a folder: then ``folder/record.json``)."""
        path = Path(path)
        if path.suffix != ".json":
            path = path / RECORD_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        """Read a record written by :meth:`save` (a ``.json`` file or a folder holding ``record.json``)."""
        path = Path(path)
        if path.is_dir():
            path = path / RECORD_FILE
        if not path.exists():
            raise FileNotFoundError(f"no run record at {path}")
        return cls.from_dict(json.loads(path.read_text()))


@contextlib.contextmanager
def quiet_datasets(progress: bool):
    """Hide ``datasets`` progress bars (TRL trainers tokenize with them) inside the block when ``progress`` is False."""
    import datasets

    enabled = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if enabled:
            datasets.enable_progress_bars()


def run_trainer(trainer, name: str, config: dict[str, Any], seed: int, progress: bool = True) -> RunRecord:
    """Run ``trainer.train()`` (a ``transformers``/TRL trainer) and return its record.

    Every numeric value in ``trainer.state.log_history`` becomes a curve keyed by step (``loss``,
    ``learning_rate``, ``grad_norm``, ``reward``, ``kl`` ...). With ``progress=False`` the trainer prints
    nothing (no progress bar, no per-log dictionaries).
    """
    from transformers.trainer_callback import PrinterCallback

    if not progress:
        trainer.remove_callback(PrinterCallback)
    started = time.perf_counter()
    with quiet_datasets(progress):
        trainer.train()
    record = RunRecord(name=name, config=config, seed=seed, wall_time_s=time.perf_counter() - started)
    for entry in trainer.state.log_history:
        if "step" not in entry or "train_runtime" in entry:
            continue
        values = {k: v for k, v in entry.items() if k not in ("step", "epoch") and isinstance(v, (int, float))}
        record.log(entry["step"], **values)
    return record


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def save_checkpoint(folder: str | Path, step: int, model, tokenizer, optimizer, scheduler, record: RunRecord) -> Path:
    """Save everything needed to resume at ``step`` into ``folder/checkpoint-{step}/``.

    Contents: the model and tokenizer (safetensors, loadable by ``course_lib.models.tiny.load_model``),
    ``trainer_state.pt`` (optimizer, scheduler, RNG states, step) and ``record.json``.
    """
    from course_lib.models.tiny import save_model

    path = Path(folder) / f"{CHECKPOINT_PREFIX}{step}"
    save_model(model, tokenizer, path)
    state = {"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": _rng_state()}
    torch.save(state, path / TRAINER_STATE_FILE)
    record.save(path / RECORD_FILE)
    return path


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The ``checkpoint-N`` sub-folder of ``folder`` with the largest N that has a trainer state, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = []
    for sub in folder.iterdir():
        match = re.fullmatch(rf"{CHECKPOINT_PREFIX}(\d+)", sub.name)
        if match and (sub / TRAINER_STATE_FILE).exists():
            found.append((int(match.group(1)), sub))
    return max(found)[1] if found else None


def load_checkpoint(path: str | Path, model, optimizer, scheduler) -> tuple[int, RunRecord]:
    """Restore model weights, optimizer, scheduler and RNG states in place from a checkpoint folder.

    Returns:
        ``(step, record)``: the step the checkpoint was taken after, and the record up to that step.
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / TRAINER_STATE_FILE).exists():
        raise FileNotFoundError(f"{path} is not a training checkpoint (no {TRAINER_STATE_FILE} there)")
    weights = load_file(path / "model.safetensors")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]  # tied to the embeddings, saved once
    if missing or unexpected:
        raise ValueError(f"checkpoint {path} does not fit this model: missing {missing}, unexpected {unexpected}")
    state = torch.load(path / TRAINER_STATE_FILE, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(state["rng"])
    record = RunRecord.load(path / RECORD_FILE)
    record.truncate(state["step"])
    return state["step"], record
