"""The chapter's ``ReasoningDistillation`` pseudo-code, made to run.

The chapter sketches a class that holds a teacher, a student and a reward; ``distill`` lets the teacher
sample several chains per problem, scores them, and trains the student by policy gradient;
``evaluate_distillation`` compares the student's answers with the teacher's. Here every line of that
sketch is a real call:

==========================================  ===========================================================
chapter                                     here
==========================================  ===========================================================
``teacher.generate(problem, num_samples)``  :func:`course_lib.distill.teacher.sample_chains`
``reward.score(chain)``                     the reward function (TRL's contract), via :func:`reward_scorer`
(keep the high-scoring chains)              :func:`course_lib.distill.teacher.best_of_k`
(warm start: imitate them)                  :func:`course_lib.distill.sft.sft_distill` on the best chains
``student.update(score)``                   :class:`course_lib.distill.grpo.GRPOTrainer` (policy gradient)
``teacher_answer == student_answer``        :meth:`ReasoningDistillation.evaluate_distillation`
==========================================  ===========================================================

Two departures, both needed for it to work: chains are sampled for all problems at once (batched), and
the student first imitates the best chains (SFT) before policy-gradient training, as DeepSeek-R1's
pipeline does; a student that has never produced a correct chain gets no reward signal to follow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from course_lib.data.schema import Problem, to_trl_rows
from course_lib.distill.records import RunRecord
from course_lib.distill.sft import sft_distill
from course_lib.distill.teacher import DistillationSet, ScoredChain, Scorer, best_of_k, sample_chains
from course_lib.stats import bootstrap_ci


def reward_scorer(reward_func: Callable[..., list], threshold: float = 1.0) -> Scorer:
    """Turn a TRL-style reward function into a ``(problem, completion) -> (accepted, extracted answer)`` scorer.

    A chain is accepted when its reward is at least ``threshold`` (1.0: a verified answer with the
    default accuracy reward). The answer is extracted with ``course_lib.rewards.answers.extract_answer``.
    """
    from course_lib.rewards.answers import extract_answer

    def score(problem: Problem, text: str) -> tuple[bool, str | None]:
        reward = reward_func(
            completions=[text], answer=[problem.answer], answer_type=[problem.answer_type],
            metadata=[json.dumps(problem.metadata)], prompts=[problem.prompt],
        )[0]
        return reward is not None and reward >= threshold, extract_answer(text, problem.answer_type).answer

    return score


def greedy_answers(model, tokenizer, problems: Sequence[Problem], scorer: Scorer | None = None, *,
                   max_new_tokens: int = 96, batch_size: int = 64, chat: bool = False,
                   progress: bool = True) -> list[ScoredChain]:
    """One greedy completion per problem, scored (the default scorer is ``rewards.check_answer``)."""
    kwargs = {"scorer": scorer} if scorer is not None else {}
    rows = sample_chains(model, tokenizer, problems, num_samples=1, temperature=0.0, max_new_tokens=max_new_tokens,
                         batch_size=batch_size, chat=chat, progress=progress, **kwargs)
    return [row[0] for row in rows]


def accuracy_by(problems: Sequence[Problem], correct: Sequence[bool], key: str | Callable[[Problem], str] = "domain",
                *, n_boot: int = 1000, seed: int = 0) -> dict[str, dict[str, float]]:
    """Accuracy per group with a 95% percentile-bootstrap interval, plus an ``"all"`` row.

    Args:
        problems: the evaluated problems.
        correct: one verdict per problem, same order.
        key: a Problem attribute name (``"domain"``, ``"source"``) or a function problem -> group name.

    Returns:
        ``{group: {"value", "low", "high", "n"}}``, groups sorted, ``"all"`` last.
    """
    if len(problems) != len(correct):
        raise ValueError(f"got {len(problems)} problems but {len(correct)} verdicts; they must match one to one")
    if not problems:
        raise ValueError("accuracy_by needs at least one problem")
    group_of = key if callable(key) else (lambda p: str(getattr(p, key)))
    groups: dict[str, list[float]] = {}
    for p, ok in zip(problems, correct):
        groups.setdefault(group_of(p), []).append(float(ok))
    groups = dict(sorted(groups.items()))
    groups["all"] = [float(ok) for ok in correct]
    return {g: bootstrap_ci(v, n_boot=n_boot, seed=seed).to_dict() for g, v in groups.items()}


def _normalise(answer: str | None) -> str | None:
    return None if answer is None else re.sub(r"\s+", " ", answer).strip()


@dataclass
class DistillationRun:
    """What :meth:`ReasoningDistillation.distill` did: the filtered teacher chains and both training records."""

    distillation_set: DistillationSet
    sft: RunRecord | None = None
    grpo: RunRecord | None = None
    records: list[RunRecord] = field(default_factory=list)


class ReasoningDistillation:
    """Teacher → reward → student, as in the chapter.

    Args:
        teacher: ``(model, tokenizer)`` of the teacher.
        student: ``(model, tokenizer)`` of the student (trained in place).
        reward: a reward function in TRL's contract, ``f(completions, answer, answer_type, metadata, **kw)
            -> list[float | None]``; default ``course_lib.rewards.rewards.accuracy_reward``.
        chat: render prompts with the chat template (hub models).
    """

    def __init__(self, teacher, student, reward: Callable[..., list] | None = None, chat: bool = False):
        if reward is None:
            from course_lib.rewards.rewards import accuracy_reward as reward
        self.teacher_model, self.teacher_tokenizer = teacher
        self.student_model, self.student_tokenizer = student
        self.reward = reward
        self.chat = chat

    def distill(
        self,
        problems: Sequence[Problem],
        *,
        num_samples: int = 8,
        temperature: float = 1.0,
        max_new_tokens: int = 96,
        sft_steps: int = 200,
        sft_learning_rate: float = 1e-3,
        grpo_steps: int = 60,
        grpo_config: dict[str, Any] | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> DistillationRun:
        """Distil the teacher's reasoning into the student on ``problems``.

        1. the teacher samples ``num_samples`` chains per problem (``temperature``, ``max_new_tokens``);
        2. the reward scores each chain; best-of-K keeps one verified chain per problem;
        3. the student imitates those chains for ``sft_steps`` (0 skips this);
        4. the student is trained by GRPO with the same reward for ``grpo_steps`` (0 skips this);
           ``grpo_config`` overrides fields of ``course_lib.distill.grpo_config.GRPOConfig``.

        Returns:
            A :class:`DistillationRun` with the distillation set (and its yield) and both records.
        """
        from course_lib.distill.grpo import GRPOTrainer
        from course_lib.distill.grpo_config import GRPOConfig

        scored = sample_chains(
            self.teacher_model, self.teacher_tokenizer, problems, num_samples=num_samples, temperature=temperature,
            max_new_tokens=max_new_tokens, chat=self.chat, seed=seed, progress=progress,
            scorer=reward_scorer(self.reward),
        )
        run = DistillationRun(best_of_k(problems, scored, keep="best"))
        if sft_steps > 0:
            if not run.distillation_set.problems:
                raise ValueError("the teacher solved none of the problems, so there is no chain to imitate; "
                                 "raise num_samples or temperature, or use easier problems")
            run.sft, _ = sft_distill(self.student_model, self.student_tokenizer, run.distillation_set.problems,
                                     "chain", max_steps=sft_steps, learning_rate=sft_learning_rate, seed=seed,
                                     progress=progress)
            run.records.append(run.sft)
        if grpo_steps > 0:
            settings = {"num_generations": num_samples, "per_device_train_batch_size": num_samples,
                        "max_completion_length": max_new_tokens, "learning_rate": 1e-5, "max_steps": grpo_steps,
                        "seed": seed, "disable_tqdm": not progress}
            settings.update(grpo_config or {})
            trainer = GRPOTrainer(self.student_model, [self.reward], GRPOConfig(**settings),
                                  train_dataset=to_trl_rows(problems, style="prompt_only"),
                                  processing_class=self.student_tokenizer)
            run.grpo = trainer.train(name="grpo")
            run.records.append(run.grpo)
        return run

    def evaluate_distillation(self, test_problems: Sequence[Problem], *, max_new_tokens: int = 96,
                              progress: bool = True) -> dict[str, Any]:
        """Greedy answers of teacher and student on ``test_problems``, compared.

        Returns:
            ``{"agreement", "teacher_accuracy", "student_accuracy"}``, each ``{group: {"value", "low",
            "high", "n"}}`` per domain plus ``"all"`` (95% bootstrap intervals). Agreement is the share of
            problems where the two extracted answers are the same text (whitespace collapsed), as the
            chapter's ``teacher_answer == student_answer``; accuracy is checked against the gold answer.
        """
        scorer = reward_scorer(self.reward)
        teacher = greedy_answers(self.teacher_model, self.teacher_tokenizer, test_problems, scorer,
                                 max_new_tokens=max_new_tokens, chat=self.chat, progress=progress)
        student = greedy_answers(self.student_model, self.student_tokenizer, test_problems, scorer,
                                 max_new_tokens=max_new_tokens, chat=self.chat, progress=progress)
        agree = [_normalise(t.answer) is not None and _normalise(t.answer) == _normalise(s.answer)
                 for t, s in zip(teacher, student)]
        return {
            "agreement": accuracy_by(test_problems, agree),
            "teacher_accuracy": accuracy_by(test_problems, [t.correct for t in teacher]),
            "student_accuracy": accuracy_by(test_problems, [s.correct for s in student]),
        }
