"""The lab profile's shipped models: a tiny reasoning teacher and students, trained by this module.

Real students are pretrained language models; real teachers are strong but imperfect reasoners. The lab
reproduces both roles with ~1M-parameter character-level Llamas on the lab task suite
(``course_lib.data.tasks``), so that distillation in a notebook takes minutes on a CPU:

=====================  ==================================================================================
``lab-student-base``   "pretrained": a language model of bare reasoning steps (``40-10=30.``,
                       ``F and T=F.``, ``d dog.`` ...), question texts and copied questions, never the
                       question → chain format: it knows facts and can copy from its context, but cannot
                       answer a question.
``lab-teacher``        trained in three stages (``.stages/``, not shipped): pretraining like the base,
                       reference chains of every task, then more chains of the tasks it solved least;
                       fresh problems every step. Good at some tasks, poor at others: its chains need
                       checking.
``lab-student-chain``  the base, fine-tuned (``trl.SFTTrainer``) on the teacher's best-of-K chains.
``lab-student-answer`` the base, fine-tuned on the teacher's final answers of the same problems, same budget.
``lab-student-grpo``   ``lab-student-chain`` after GRPO (from-scratch trainer) with the verifier reward.
=====================  ==================================================================================

Each folder in ``data/models/`` holds ``model.safetensors``, the tokenizer, ``record.json`` (config and
curves) and ``card.json`` / ``README.md``: how it was trained, the exact command, hardware, wall time and
accuracy per domain, per task and per OOD family with 95% bootstrap intervals. Reproduce them with::

    python -m course_lib.distill.lab_models train                  # everything, in order
    python -m course_lib.distill.lab_models train --which base chain answer grpo
    python -m course_lib.distill.lab_models measure --which teacher   # re-measure, rewrite the card
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from course_lib.data.schema import Problem, model_prompt
from course_lib.distill.records import RunRecord
from course_lib.distill.sft import Pair, TrainConfig, completion_target, train_causal_lm
from course_lib.models.lab import CARD_FILE, STUDENTS, TEACHER, load_lab_model, load_lab_teacher, models_dir
from course_lib.models.tiny import (
    TINY_SPECS,
    build_tiny_model,
    count_parameters,
    model_fingerprint,
    save_model,
)
from course_lib.profiles import PROFILES

EVAL_SEED = 12345  # the fixed test problems of every card
EVAL_PER_TASK = 50
LAB_MAX_NEW_TOKENS = PROFILES["lab"].max_new_tokens  # the cards' generation budget
_STEP_END = re.compile(r"(?<=\.)\s+")



# ---------------------------------------------------------------- training data


def bare_steps(chain: str) -> list[str]:
    """Split a reference chain into its steps: ``"40-10=30. 30-24=6."`` → ``["40-10=30.", "30-24=6."]``."""
    return [s for s in _STEP_END.split(chain.strip()) if s]


def _fresh(step: int, seed: int, n: int, weights: dict[str, float] | None = None) -> list[Problem]:
    """``n`` fresh training problems for one step (seeded by step); tasks drawn uniformly over all lab tasks,
    or in proportion to ``weights`` (task -> weight)."""
    from course_lib.data.tasks import LAB_TASKS, make_problems

    rng = random.Random(seed * 1_000_003 + step)
    if weights is None:
        picks = [rng.choice(list(LAB_TASKS)) for _ in range(n)]
    else:
        unknown = set(weights) - set(LAB_TASKS)
        if unknown or not all(w >= 0 for w in weights.values()) or not sum(weights.values()) > 0:
            raise ValueError(f"weights must map lab tasks to non-negative numbers, not all zero; got {weights}")
        picks = rng.choices(list(weights), weights=list(weights.values()), k=n)
    return [make_problems(task, 1, seed=seed * 1_000_003 + step * 64 + i)[0] for i, task in enumerate(picks)]


def worked_solution(problem: Problem) -> str:
    """A problem as "textbook" text, no tags: ``question`` / ``steps So the answer is X.``"""
    return f"{problem.prompt.replace(chr(10), ' ')}\n{problem.chain} So the answer is {problem.answer}."


def pretraining_batches(seed: int, batch_size: int, max_chars: int = 96, weights: dict[str, float] | None = None,
                        copies: int = 0, worked: int = 0) -> Callable[[int], list[Pair]]:
    """Step → batch of "pretraining" text, shuffled and packed into lines, loss on every token.

    Each sequence is newline-joined pieces up to ``max_chars`` characters: steps like ``53-42=11.`` from
    fresh problems' chains and whole question texts (shuffled apart), plus per batch ``copies`` questions
    written twice (copying from context) and ``worked`` :func:`worked_solution` texts (reasoning written
    the way a textbook would, without ``<think>``/``<answer>`` tags and without the final-answer format).
    """
    def batch(step: int) -> list[Pair]:
        rng = random.Random(seed * 7_919 + step)
        problems = _fresh(step, seed, batch_size * 3, weights)
        pieces = [s for p in problems for s in bare_steps(p.chain or "")]
        pieces += [p.prompt.replace("\n", " ") for p in problems[: batch_size // 2]]
        pieces += [f"{q}\n{q}" for q in (p.prompt.replace("\n", " ") for p in problems[-copies:] if copies)]
        pieces += [worked_solution(p) for p in _fresh(step, seed + 1, worked, weights)]
        rng.shuffle(pieces)
        lines, current = [], ""
        for piece in pieces:
            if current and len(current) + 1 + len(piece) > max_chars:
                lines.append(current)
                current = ""
            current = f"{current}\n{piece}" if current else piece
        lines.append(current)
        return [("", line) for line in lines[:batch_size]]

    return batch


def reference_batches(seed: int, batch_size: int, weights: dict[str, float] | None = None,
                      target: str = "chain") -> Callable[[int], list[Pair]]:
    """Step → ``batch_size`` fresh problems as ``(prompt, <think>chain</think><answer>…</answer>)`` pairs
    (tasks uniform, or in proportion to ``weights``)."""
    def batch(step: int) -> list[Pair]:
        return [(model_prompt(p), completion_target(p, target)) for p in _fresh(step, seed, batch_size, weights)]

    return batch


# ---------------------------------------------------------------- measurement


def eval_problems(n_per_task: int = EVAL_PER_TASK, seed: int = EVAL_SEED) -> list[Problem]:
    """The in-distribution test problems of the cards: ``n_per_task`` of every lab task, test split."""
    from course_lib.data.tasks import lab_suite

    return lab_suite(n_per_task, seed=seed, split="test")


def ood_eval_problems(n_per_task: int = EVAL_PER_TASK // 2, seed: int = EVAL_SEED) -> dict[str, list[Problem]]:
    """OOD test problems per family (every task the family applies to), see ``course_lib.data.ood``."""
    from course_lib.data.ood import ood_suite

    return ood_suite(n_per_task, seed=seed)


def measure(model, tokenizer, *, n_per_task: int = EVAL_PER_TASK, seed: int = EVAL_SEED, ood: bool = True,
            scorer=None, progress: bool = True) -> dict[str, Any]:
    """Greedy accuracy with 95% bootstrap intervals: per domain, per task and (``ood``) per OOD family."""
    from course_lib.distill.pipeline import accuracy_by, greedy_answers

    problems = eval_problems(n_per_task, seed)
    gen = {"max_new_tokens": LAB_MAX_NEW_TOKENS, "progress": progress}
    verdicts = [c.correct for c in greedy_answers(model, tokenizer, problems, scorer, **gen)]
    result = {
        "in_distribution": accuracy_by(problems, verdicts, "domain"),
        "by_task": accuracy_by(problems, verdicts, lambda p: p.source.removeprefix("lab/")),
    }
    if ood:
        result["ood"] = {}
        for family, shifted in ood_eval_problems(max(1, n_per_task // 2), seed).items():
            ok = [c.correct for c in greedy_answers(model, tokenizer, shifted, scorer, **gen)]
            result["ood"][family] = accuracy_by(shifted, ok, lambda p: "all")["all"]
    return result


# ---------------------------------------------------------------- recipes


@dataclass(frozen=True)
class Recipe:
    """How one shipped model is made.

    Attributes:
        name: folder name under :func:`models_dir`.
        init: ``"tiny-1m"`` (a fresh model of that size) or the name of another lab model to start from.
        data: ``"pretraining"`` (:func:`pretraining_batches`), ``"reference"`` (:func:`reference_batches`),
            ``"teacher-chain"`` / ``"teacher-answer"`` (SFT on the teacher's best-of-K set) or ``"grpo"``.
        train: optimisation settings (plain loop) – for SFT/GRPO recipes, steps/batch/lr are read from it.
        options: recipe-specific extras (distillation set size, K, GRPO settings).
        description: one line for the card.
    """

    name: str
    init: str
    data: str
    train: TrainConfig
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""


STAGES = ".stages"  # intermediate checkpoints (not shipped)
# Stage 1 solved boolean, dyck and write_fn (>= 90%) but multi-step arithmetic, tracing and dates barely,
# and logic at chance: stage 2 samples those more often.
TEACHER_STAGE2_WEIGHTS = {"arith": 3, "linear": 3, "trace": 3, "dates": 3, "count_objects": 2, "order": 2,
                          "deduce": 2, "sort_words": 2, "boolean": 1, "dyck": 1, "write_fn": 1}

RECIPES: dict[str, Recipe] = {
    "teacher-stage0": Recipe(
        f"{STAGES}/lab-teacher-stage0", "tiny-1m", "pretraining",
        TrainConfig(max_steps=600, per_device_train_batch_size=32, learning_rate=2e-3, warmup_steps=100,
                    logging_steps=25, save_steps=100, seed=1),
        description="teacher, stage 0: pretraining on bare reasoning steps and question text",
    ),
    "base-stage1": Recipe(
        f"{STAGES}/lab-student-base-stage1", f"{STAGES}/lab-teacher-stage0", "pretraining",
        TrainConfig(max_steps=700, per_device_train_batch_size=32, learning_rate=1.5e-3, warmup_steps=50,
                    logging_steps=25, save_steps=100, seed=6),
        options={"data": {"max_chars": 160, "copies": 4, "worked": 16}},
        description="pretrained student, stage 1: the teacher's stage-0 pretraining, then worked solutions as "
                    "plain text mixed with bare steps and questions",
    ),
    "base": Recipe(
        STUDENTS["base"], f"{STAGES}/lab-student-base-stage1", "pretraining",
        TrainConfig(max_steps=800, per_device_train_batch_size=32, learning_rate=1e-3, warmup_steps=50,
                    logging_steps=25, save_steps=100, seed=7),
        options={"data": {"max_chars": 160, "copies": 2, "worked": 28}},
        description="pretrained student: bare steps and question text (the teacher's stage 0), then worked "
                    "solutions written as plain text ('question / steps So the answer is X.'); it has never "
                    "seen the <think>/<answer> format",
    ),
    "teacher-stage1": Recipe(
        f"{STAGES}/lab-teacher-stage1", f"{STAGES}/lab-teacher-stage0", "reference",
        TrainConfig(max_steps=1600, per_device_train_batch_size=16, learning_rate=2e-3, warmup_steps=100,
                    logging_steps=25, save_steps=100, seed=2),
        options={"eval_steps": 200, "eval_per_task": 4},
        description="teacher, stage 1: the base trained on reference chains of every lab task (uniform), "
                    "fresh problems every step",
    ),
    "teacher": Recipe(
        TEACHER, f"{STAGES}/lab-teacher-stage1", "reference",
        TrainConfig(max_steps=1400, per_device_train_batch_size=16, learning_rate=1.5e-3, warmup_steps=50,
                    logging_steps=25, save_steps=100, seed=5),
        options={"eval_steps": 200, "eval_per_task": 4, "data": {"weights": TEACHER_STAGE2_WEIGHTS}},
        description="teacher: stage 1, then more reference chains weighted toward the tasks stage 1 solved "
                    "least (multi-step arithmetic, tracing, dates, logic), fresh problems every step",
    ),
    "chain": Recipe(
        STUDENTS["chain"], STUDENTS["base"], "teacher-chain",
        TrainConfig(max_steps=800, per_device_train_batch_size=16, learning_rate=1e-3, warmup_steps=40, seed=3),
        options={"n_per_task": 150, "num_samples": 2, "temperature": 1.0},
        description="chain-distilled student: the base after SFT on the teacher's best-of-K chains",
    ),
    "answer": Recipe(
        STUDENTS["answer"], STUDENTS["base"], "teacher-answer",
        TrainConfig(max_steps=800, per_device_train_batch_size=16, learning_rate=1e-3, warmup_steps=40, seed=3),
        options={"n_per_task": 150, "num_samples": 2, "temperature": 1.0},
        description="answer-only student: the base after SFT on the teacher's answers (same problems and budget)",
    ),
    "grpo": Recipe(
        STUDENTS["grpo"], STUDENTS["chain"], "grpo",
        TrainConfig(max_steps=100, per_device_train_batch_size=32, learning_rate=1e-5, warmup_steps=0, seed=4),
        options={"n_per_task": 100, "num_generations": 8, "max_completion_length": 128},
        description="SFT+GRPO student: the chain student after GRPO with the verifier reward",
    ),
}
ORDER = ("teacher-stage0", "teacher-stage1", "teacher", "base-stage1", "base", "chain", "answer", "grpo")


def _init_model(init: str, seed: int):
    if init in TINY_SPECS:
        return build_tiny_model(init, seed=seed)
    return load_lab_model(init)


def _distillation_set(recipe: Recipe, progress: bool, scorer=None):
    """The teacher's best-of-K set on the recipe's training problems.

    Cached as JSON under ``<models>/.stages/``, keyed by the settings and the teacher's weights, so the chain
    and answer students see the very same problems, a second call does not sample again, and a retrained
    teacher gets a fresh set.
    """
    from course_lib.data.tasks import lab_suite
    from course_lib.distill.teacher import DistillationSet, teacher_distillation_set

    o = recipe.options
    teacher, tok = load_lab_teacher()
    settings = f"n{o['n_per_task']}-k{o['num_samples']}-t{o['temperature']}-s{recipe.train.seed}"
    key = f"{settings}-{model_fingerprint(teacher)}"
    cache = models_dir() / STAGES / f"distillation-set-{key}.json"
    if scorer is None and cache.exists():
        data = json.loads(cache.read_text())
        return DistillationSet([Problem.from_dict(p) for p in data["problems"]], data["yield_by_domain"],
                               data["num_samples"], data["keep"])
    problems = lab_suite(o["n_per_task"], seed=recipe.train.seed, split="train")
    kwargs = {"scorer": scorer} if scorer is not None else {}
    dset = teacher_distillation_set(teacher, tok, problems, num_samples=o["num_samples"], temperature=o["temperature"],
                                    seed=recipe.train.seed, max_new_tokens=LAB_MAX_NEW_TOKENS, progress=progress,
                                    **kwargs)
    if scorer is None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"problems": [p.to_dict() for p in dset.problems], "yield_by_domain":
                                     dset.yield_by_domain, "num_samples": dset.num_samples, "keep": dset.keep}))
    return dset


def train_recipe(which: str, *, resume: bool = True, progress: bool = True, scorer=None) -> RunRecord:
    """Train one shipped model (``which`` in :data:`RECIPES`), save it with its record and card, return the record.

    Plain-loop recipes checkpoint every ``save_steps`` into ``<folder>/checkpoints`` and resume from there.
    """
    if which not in RECIPES:
        raise ValueError(f"unknown recipe {which!r}; choose from {', '.join(RECIPES)}")
    recipe = RECIPES[which]
    folder = models_dir() / recipe.name
    model, tok = _init_model(recipe.init, recipe.train.seed)
    cfg = recipe.train
    if recipe.data in ("pretraining", "reference"):
        make = pretraining_batches if recipe.data == "pretraining" else reference_batches
        eval_fn = None
        if recipe.options.get("eval_steps"):
            from course_lib.distill.pipeline import greedy_answers

            probe = eval_problems(recipe.options["eval_per_task"], seed=EVAL_SEED + 1)

            def eval_fn(m):
                ok = [c.correct for c in greedy_answers(m, tok, probe, scorer, max_new_tokens=LAB_MAX_NEW_TOKENS,
                                                        progress=False)]
                return {"probe_accuracy": sum(ok) / len(ok)}

        batches = make(cfg.seed, cfg.per_device_train_batch_size, **recipe.options.get("data", {}))
        record = train_causal_lm(model, tok, batches, cfg, name=recipe.name,
                                 output_dir=folder / "checkpoints", resume=resume, eval_fn=eval_fn,
                                 eval_steps=recipe.options.get("eval_steps", 0), progress=progress)
    elif recipe.data in ("teacher-chain", "teacher-answer"):
        from course_lib.distill.sft import sft_distill

        dset = _distillation_set(recipe, progress, scorer)
        record, _ = sft_distill(model, tok, dset.problems, recipe.data.removeprefix("teacher-"),
                                max_steps=cfg.max_steps, per_device_train_batch_size=cfg.per_device_train_batch_size,
                                learning_rate=cfg.learning_rate, warmup_steps=cfg.warmup_steps, seed=cfg.seed,
                                progress=progress)
        record.name = recipe.name
        record.metrics["distillation_yield"] = dset.yield_by_domain
        record.metrics["distillation_examples"] = len(dset.problems)
    else:
        from course_lib.data.schema import to_trl_rows
        from course_lib.data.tasks import lab_suite
        from course_lib.distill.grpo import GRPOTrainer
        from course_lib.distill.grpo_config import GRPOConfig
        from course_lib.rewards.rewards import accuracy_reward

        o = recipe.options
        args = GRPOConfig(num_generations=o["num_generations"], per_device_train_batch_size=cfg.per_device_train_batch_size,
                          max_completion_length=o["max_completion_length"], learning_rate=cfg.learning_rate,
                          max_steps=cfg.max_steps, seed=cfg.seed, disable_tqdm=not progress)
        rows = to_trl_rows(lab_suite(o["n_per_task"], seed=cfg.seed, split="train"), style="prompt_only")
        record = GRPOTrainer(model, [accuracy_reward], args, train_dataset=rows, processing_class=tok).train(recipe.name)
    record.config = {"recipe": asdict(recipe), **record.config}
    save_model(model, tok, folder)
    record.save(folder)
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    return record


def _needs(which: str) -> set[str]:
    """``which`` and every recipe it depends on: its initialisation and, for SFT on teacher outputs, the teacher."""
    keys = {r.name: k for k, r in RECIPES.items()}
    recipe = RECIPES[which]
    needed = {which}
    if recipe.init in keys:
        needed |= _needs(keys[recipe.init])
    if recipe.data.startswith("teacher-"):
        needed |= _needs("teacher")
    return needed


def reproduce_command(which: str) -> str:
    """The CLI call that retrains ``which`` from scratch, with every model it depends on, in order."""
    needed = _needs(which)
    return f"python -m course_lib.distill.lab_models train --which {' '.join(k for k in ORDER if k in needed)}"


def write_card(which: str, accuracy: dict[str, Any], record: RunRecord, note: str = "") -> Path:
    """Write ``card.json`` and ``README.md`` for a trained model next to its weights."""
    recipe = RECIPES[which]
    folder = models_dir() / recipe.name
    model, _ = load_lab_model(recipe.name)
    by_name = {r.name: r for r in RECIPES.values()}
    lineage, init = [], recipe.init
    while init in by_name:
        lineage.append({"name": init, "train_wall_time_s": round(RunRecord.load(models_dir() / init).wall_time_s, 1)})
        init = by_name[init].init
    card = {
        "name": recipe.name,
        "description": recipe.description,
        "note": note,
        "init": recipe.init,
        "data": recipe.data,
        "parameters": count_parameters(model),
        "command": reproduce_command(which),
        "train_wall_time_s": round(record.wall_time_s, 1),
        "lineage": lineage,
        "cumulative_wall_time_s": round(record.wall_time_s + sum(x["train_wall_time_s"] for x in lineage), 1),
        "environment": record.environment,
        "recipe": asdict(recipe),
        "metrics": record.metrics,
        "accuracy": accuracy,
        "evaluation": {"decoding": "greedy", "split": "test", "n_per_task": EVAL_PER_TASK, "seed": EVAL_SEED,
                       "ood_n_per_task": EVAL_PER_TASK // 2, "interval": "95% percentile bootstrap over problems"},
    }
    (folder / CARD_FILE).write_text(json.dumps(card, indent=1, default=str))
    (folder / "README.md").write_text(card_markdown(card))
    return folder


def _fmt(est: dict[str, float]) -> str:
    return f"{est['value']:.1%} [{est['low']:.1%}, {est['high']:.1%}] (n={est['n']})"


def card_markdown(card: dict[str, Any]) -> str:
    """The human-readable model card."""
    env = card["environment"]
    lines = [
        f"# {card['name']}", "", card["description"], "", *([card["note"], ""] if card.get("note") else []),
        f"- parameters: {card['parameters']:,} (character-level Llama, course_lib.models.tiny)",
        f"- initialised from: `{card['init']}`; data: `{card['data']}`",
        f"- command: `{card['command']}`",
        (f"- hardware: {env.get('machine')}, torch {env.get('torch')} with {env.get('torch_threads')} thread(s), "
         f"GPU: {env.get('cuda') or 'none'}"),
        (f"- training wall time: {card['train_wall_time_s'] / 60:.1f} min; with everything it was initialised from "
         f"({', '.join(x['name'] for x in card['lineage']) or 'nothing'}): {card['cumulative_wall_time_s'] / 60:.1f} min"),
        "", "## Accuracy (greedy, held-out test split, 95% bootstrap intervals)", "",
        "| domain | accuracy |", "|---|---|",
    ]
    lines += [f"| {d} | {_fmt(e)} |" for d, e in card["accuracy"]["in_distribution"].items()]
    lines += ["", "| task | accuracy |", "|---|---|"]
    lines += [f"| {t} | {_fmt(e)} |" for t, e in card["accuracy"]["by_task"].items()]
    if "ood" in card["accuracy"]:
        lines += ["", "| OOD family | accuracy |", "|---|---|"]
        lines += [f"| {f} | {_fmt(e)} |" for f, e in card["accuracy"]["ood"].items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``train`` (then measure and write cards) or ``measure`` (rewrite cards from saved models)."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.distill.lab_models", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("train", "measure"))
    parser.add_argument("--which", nargs="+", default=["all"], choices=["all", *ORDER])
    parser.add_argument("--no-resume", action="store_true", help="ignore saved checkpoints and start over")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--note", default="", help="a sentence for the model cards (e.g. how busy the machine was)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    which = ORDER if "all" in args.which else [w for w in ORDER if w in args.which]
    for name in which:
        started = time.perf_counter()
        folder = models_dir() / RECIPES[name].name
        if args.action == "train":
            record = train_recipe(name, resume=not args.no_resume, progress=not args.no_progress)
        else:
            record = RunRecord.load(folder)
        model, tok = load_lab_model(RECIPES[name].name)
        accuracy = measure(model, tok, progress=not args.no_progress)
        write_card(name, accuracy, record, args.note)
        print(f"{name}: {time.perf_counter() - started:.0f} s; accuracy by domain: "
              + ", ".join(f"{d} {e['value']:.1%}" for d, e in accuracy["in_distribution"].items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
