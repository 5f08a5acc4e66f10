"""Exact verification of an answer string against a lab problem's gold answer (one function per answer type).

This is the data layer's own check, used to prove every generator's gold answers right (property
tests); model completions are checked by ``course_lib.rewards.check_answer``, which extracts the answer
from ``<answer>…</answer>`` first and sandboxes code.
"""

from __future__ import annotations

import re
import subprocess
import sys

from course_lib.data.schema import Problem
from course_lib.data.tasks.base import normalize_text

CODE_TIMEOUT_S = 5.0
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _same_number(answer: str, gold: str) -> bool:
    text = answer.strip().replace(",", "")
    return bool(_NUMBER.fullmatch(text)) and float(text) == float(gold)


def _same_label(answer: str, gold: str) -> bool:
    return answer.strip().strip("().:").strip().upper() == gold


def passes_tests(code: str, tests: str, setup: str = "", timeout: float = CODE_TIMEOUT_S) -> bool:
    """Run ``setup``, ``code`` then ``tests`` in a fresh Python process; True when it exits cleanly in time."""
    source = f"{setup}\n{code}\n{tests}"
    try:
        result = subprocess.run([sys.executable, "-c", source], capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def verify(problem: Problem, answer: str) -> bool:
    """Whether ``answer`` (a bare answer string, no tags) is right for ``problem``.

    numeric: equal as numbers (``"14"``, ``" 14 "``, ``"14.0"``); exact: equal after collapsing whitespace;
    multiple_choice: the same label (``"B"``, ``"(B)"``, ``"b"``); code: passes ``metadata["tests"]``.

    Raises:
        ValueError: an answer type this checker does not handle (``"math"``: use ``course_lib.rewards``).
    """
    kind = problem.answer_type
    if kind == "numeric":
        return _same_number(answer, problem.answer)
    if kind == "exact":
        return normalize_text(answer) == normalize_text(problem.answer)
    if kind == "multiple_choice":
        return _same_label(answer, problem.answer)
    if kind == "code":
        meta = problem.metadata
        return passes_tests(answer, meta["tests"], meta.get("setup", ""))
    raise ValueError(f"verify handles numeric, exact, multiple_choice and code answers; got {kind!r} for {problem.id!r}")
