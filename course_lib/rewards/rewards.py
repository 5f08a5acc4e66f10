"""Reward functions in TRL's contract, shared by the from-scratch GRPO and ``trl.GRPOTrainer``.

The contract (TRL ``GRPOTrainer(reward_funcs=[...])``): a reward function is called as
``f(prompts=..., completions=..., completion_ids=..., **dataset_columns)`` where every dataset column
(``answer``, ``answer_type``, ``metadata``, ...) arrives as a list aligned with ``completions``, and returns
one ``float`` per completion, or ``None`` where the reward does not apply (TRL turns None into NaN and
averages the remaining functions), so one dataset can mix sources. Completions are strings, or for
conversational datasets lists of messages (``[{"role": "assistant", "content": ...}]``). TRL logs each
function under its ``__name__``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from course_lib.data.schema import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from course_lib.rewards.answers import check_answer_raw

RewardFunc = Callable[..., list]
CODE_WORKERS = 2
"""Code completions of one batch are checked this many at a time (each in its own sandbox)."""


def completion_text(completion: Any) -> str:
    """The text of one completion: a string as is; for a message list, the assistant contents joined."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence):
        messages = [m for m in completion if isinstance(m, Mapping)]
        assistant = [m for m in messages if m.get("role", "assistant") == "assistant"] or messages
        return "".join(str(m.get("content") or "") for m in assistant)
    return ""


def _column(values: Any, n: int) -> list:
    """A dataset column as a list of length ``n`` (missing column: all None; a scalar: repeated)."""
    if values is None:
        return [None] * n
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
        return [values] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"a dataset column has {len(values)} values for {n} completions; they must align")
    return values


def accuracy_reward(completions: Sequence[Any], answer: Sequence[Any] | None = None,
                    answer_type: Sequence[Any] | None = None, metadata: Sequence[Any] | None = None,
                    prompts: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
    """1.0 when the completion's answer is right (:func:`course_lib.rewards.answers.check_answer_raw`), else 0.0.

    None for rows without a gold answer or answer type (e.g. a source with no verifier). Code rows run in
    the sandbox, :data:`CODE_WORKERS` at a time; the other rows are checked in the calling thread (math-verify
    needs the main thread for its timeouts). ``prompts`` (plain strings) supply function headers for
    body-only code completions.
    """
    n = len(completions)
    texts = [completion_text(c) for c in completions]
    golds, kinds, metas = _column(answer, n), _column(answer_type, n), _column(metadata, n)
    prompt_texts = [p if isinstance(p, str) else "" for p in _column(prompts, n)]

    def check(i: int) -> float | None:
        if golds[i] is None or not kinds[i]:
            return None
        return float(check_answer_raw(kinds[i], golds[i], texts[i], metas[i], prompt_texts[i]).correct)

    rewards: list[float | None] = [None] * n
    code_rows = [i for i in range(n) if kinds[i] == "code"]
    with ThreadPoolExecutor(max_workers=CODE_WORKERS) as pool:
        for i, value in zip(code_rows, pool.map(check, code_rows)):
            rewards[i] = value
    for i in range(n):
        if kinds[i] != "code":
            rewards[i] = check(i)
    return rewards


def format_score(text: str) -> float:
    """Format credit of one completion, in quarters (0, 0.25, 0.5, 0.75 or 1.0):

    * 0.25: exactly one ``<think>`` and one ``</think>``, in that order;
    * 0.25: exactly one ``<answer>`` and one ``</answer>``, in that order, with a non-empty answer;
    * 0.25: both blocks present and the think block closed before the answer opens;
    * 0.25: nothing but whitespace outside ``<think>…</think><answer>…</answer>`` (given the three above).
    """
    think = text.count(THINK_OPEN) == 1 and text.count(THINK_CLOSE) == 1 and text.find(THINK_OPEN) < text.find(
        THINK_CLOSE)
    a_open, a_close = text.find(ANSWER_OPEN), text.find(ANSWER_CLOSE)
    answer = (text.count(ANSWER_OPEN) == 1 and text.count(ANSWER_CLOSE) == 1 and a_open < a_close
              and bool(text[a_open + len(ANSWER_OPEN):a_close].strip()))
    ordered = think and answer and text.find(THINK_CLOSE) < a_open
    clean = ordered and not (
        text[:text.find(THINK_OPEN)].strip()
        or text[text.find(THINK_CLOSE) + len(THINK_CLOSE):a_open].strip()
        or text[a_close + len(ANSWER_CLOSE):].strip()
    )
    return 0.25 * (think + answer + ordered + clean)


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """:func:`format_score` of each completion: R1 tags present, single and well ordered (partial credit)."""
    return [format_score(completion_text(c)) for c in completions]


REWARD_FUNCS: dict[str, RewardFunc] = {"accuracy": accuracy_reward, "format": format_reward}
"""Reward functions by short name (``"accuracy"``) ; their ``__name__`` (``"accuracy_reward"``) works too."""


def _lookup(key: str | RewardFunc) -> RewardFunc:
    if callable(key):
        return key
    by_name = {**REWARD_FUNCS, **{f.__name__: f for f in REWARD_FUNCS.values()}}
    if key not in by_name:
        raise ValueError(f"unknown reward {key!r}; use a callable or one of {sorted(by_name)}")
    return by_name[key]


def make_composite_reward(weights: Mapping[str | RewardFunc, float]) -> RewardFunc:
    """One reward function computing ``sum(weight * reward)`` over the components that apply.

    Args:
        weights: reward function (or its name, see :data:`REWARD_FUNCS`) -> finite weight.

    Returns:
        A reward function in TRL's contract, named ``composite(accuracy_reward=1,format_reward=0.1)``. A row
        gets None only when every component returned None for it.
    """
    if not weights:
        raise ValueError("make_composite_reward needs at least one reward function with a weight")
    parts = [(_lookup(key), weight) for key, weight in weights.items()]
    bad = {getattr(f, "__name__", repr(f)): w for f, w in parts
           if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w)}
    if bad:
        raise ValueError(f"reward weights must be finite numbers; got {bad}")

    def composite(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        totals: list[float | None] = [None] * len(completions)
        for func, weight in parts:
            for i, value in enumerate(func(completions=completions, **kwargs)):
                if value is not None:
                    totals[i] = (totals[i] or 0.0) + weight * value
        return totals

    composite.__name__ = "composite(" + ",".join(f"{getattr(f, '__name__', 'reward')}={w:g}" for f, w in parts) + ")"
    composite.__doc__ = f"Weighted sum of {len(parts)} rewards (see make_composite_reward)."
    return composite
