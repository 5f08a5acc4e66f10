"""Teacher chains: K sampled reasoning chains per problem, scored, filtered into a distillation set.

The first two lines of the chapter's pipeline: the teacher samples K chains for each problem (with
per-token log-probabilities), a reward scores each one, and **best-of-K / rejection sampling** keeps
only chains whose final answer verifies. What survives is the distillation set the student is trained
on; its *yield* (the share of problems, and of chains, that survived) is reported per domain.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from course_lib.data.schema import THINK_CLOSE, THINK_OPEN, Problem
from course_lib.models.generate import generate

KEEP_MODES = ("best", "all")
_THINK = re.compile(re.escape(THINK_OPEN) + r"(.*?)" + re.escape(THINK_CLOSE), re.DOTALL)

Scorer = Callable[[Problem, str], tuple[bool, "str | None"]]


def extract_chain(text: str) -> str | None:
    """The text inside the first ``<think>…</think>`` block of a completion, or None when there is none."""
    match = _THINK.search(text)
    return match.group(1) if match else None


def verify(problem: Problem, text: str) -> tuple[bool, str | None]:
    """Default scorer: ``course_lib.rewards.check_answer`` → ``(correct, extracted answer)``."""
    from course_lib.rewards.answers import check_answer

    result = check_answer(problem, text)
    return bool(result.correct), result.extracted


@dataclass
class ScoredChain:
    """One teacher completion and its verdict.

    Attributes:
        problem_id: the problem it answers.
        text: the full completion (``<think>…</think><answer>…</answer>`` when well formed).
        chain: the reasoning inside ``<think>``, None when the completion has no think block.
        answer: the extracted final answer, None when none could be extracted.
        correct: whether the answer verifies against the problem's gold answer.
        logprobs: per-token log-probabilities (nats) of the completion under the teacher.
    """

    problem_id: str
    text: str
    chain: str | None
    answer: str | None
    correct: bool
    logprobs: list[float] = field(default_factory=list)

    @property
    def mean_logprob(self) -> float:
        """Average per-token log-probability (length-neutral confidence); -inf for an empty completion."""
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else float("-inf")


def sample_chains(
    model,
    tokenizer,
    problems: Sequence[Problem],
    *,
    num_samples: int = 8,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 96,
    batch_size: int = 64,
    chat: bool = False,
    seed: int = 0,
    progress: bool = True,
    scorer: Scorer = verify,
) -> list[list[ScoredChain]]:
    """Sample ``num_samples`` chains per problem from the teacher and score each one.

    Args:
        model, tokenizer: the teacher.
        problems: problems with gold answers.
        num_samples: K, chains per problem.
        temperature, top_p: sampling settings (temperature 0 gives K copies of the greedy chain).
        max_new_tokens: budget per chain, in tokens.
        batch_size: sequences per generation batch (problems × K are flattened).
        chat: render prompts with the chat template (hub models).
        seed: sampling seed.
        progress: progress bar over generation batches.
        scorer: ``(problem, completion) -> (correct, extracted answer)``; default :func:`verify`.

    Returns:
        One list of K :class:`ScoredChain` per problem, in input order.
    """
    if not problems:
        raise ValueError("sample_chains needs at least one problem")
    generations = generate(
        model, tokenizer, problems, num_samples=num_samples, temperature=temperature, top_p=top_p,
        max_new_tokens=max_new_tokens, batch_size=batch_size, chat=chat, seed=seed, progress=progress,
    )
    scored = []
    for problem, gens in zip(problems, generations):
        row = []
        for g in gens:
            correct, extracted = scorer(problem, g.text)
            row.append(ScoredChain(problem.id, g.text, extract_chain(g.text), extracted, correct, list(g.logprobs)))
        scored.append(row)
    return scored


@dataclass
class DistillationSet:
    """The teacher chains that survived rejection sampling.

    Attributes:
        problems: copies of the input problems whose ``chain`` and ``answer`` are the teacher's
            (verified) ones, one per kept chain, ready for :func:`course_lib.distill.sft.sft_distill`.
        yield_by_domain: per domain ``{"problems", "solved", "chains", "correct_chains",
            "problem_yield", "chain_yield"}``: problem yield = share of problems with at least one
            correct chain, chain yield = share of all sampled chains that were correct.
        num_samples: K.
        keep: ``"best"`` or ``"all"``.
    """

    problems: list[Problem]
    yield_by_domain: dict[str, dict[str, float]]
    num_samples: int
    keep: str

    def table(self) -> str:
        """A printable per-domain yield table."""
        lines = [f"{'domain':<10}{'problems':>9}{'solved':>8}{'problem yield':>15}{'chain yield':>13}"]
        for domain, y in self.yield_by_domain.items():
            lines.append(f"{domain:<10}{y['problems']:>9}{y['solved']:>8}{y['problem_yield']:>15.1%}"
                         f"{y['chain_yield']:>13.1%}")
        return "\n".join(lines)


def best_of_k(problems: Sequence[Problem], scored: Sequence[Sequence[ScoredChain]], keep: str = "best") -> DistillationSet:
    """Rejection sampling: keep only verified chains that have a think block.

    Args:
        problems: the problems the chains answer, in the same order as ``scored``.
        scored: output of :func:`sample_chains`.
        keep: ``"best"`` keeps one chain per solved problem (the correct one the teacher was most confident
            in, highest mean token log-prob); ``"all"`` keeps every distinct correct chain.

    Returns:
        A :class:`DistillationSet` with per-domain yield.
    """
    if keep not in KEEP_MODES:
        raise ValueError(f"keep must be one of {KEEP_MODES}; got {keep!r}")
    if len(problems) != len(scored):
        raise ValueError(f"got {len(problems)} problems but {len(scored)} rows of chains; they must match one to one")
    kept: list[Problem] = []
    stats: dict[str, dict[str, float]] = {}
    for problem, chains in zip(problems, scored):
        if any(c.problem_id != problem.id for c in chains):
            raise ValueError(f"chains for problem {problem.id!r} carry another problem id; pass them in input order")
        good = [c for c in chains if c.correct and c.chain is not None]
        if keep == "best":
            good = sorted(good, key=lambda c: c.mean_logprob, reverse=True)[:1]
        else:
            good = list({c.text: c for c in good}.values())
        for c in good:
            kept.append(dataclasses.replace(problem, chain=c.chain, answer=c.answer if c.answer is not None else problem.answer))
        s = stats.setdefault(problem.domain, {"problems": 0, "solved": 0, "chains": 0, "correct_chains": 0})
        s["problems"] += 1
        s["solved"] += int(bool(good))
        s["chains"] += len(chains)
        s["correct_chains"] += sum(c.correct and c.chain is not None for c in chains)
    for s in stats.values():
        s["problem_yield"] = s["solved"] / s["problems"]
        s["chain_yield"] = s["correct_chains"] / s["chains"] if s["chains"] else 0.0
    num_samples = max((len(c) for c in scored), default=0)
    return DistillationSet(kept, dict(sorted(stats.items())), num_samples, keep)


def teacher_distillation_set(model, tokenizer, problems: Sequence[Problem], *, keep: str = "best", **sampling) -> DistillationSet:
    """:func:`sample_chains` then :func:`best_of_k` in one call (``sampling``: its keyword arguments)."""
    return best_of_k(problems, sample_chains(model, tokenizer, problems, **sampling), keep=keep)
