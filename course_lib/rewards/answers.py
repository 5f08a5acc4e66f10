"""Answer extraction and checking: is this model output right? One checker per answer type.

Extraction (:func:`extract_answer`) looks, in order, for the routes below and reports which one it took
in ``path``, so an evaluation can tell "wrong answer" from "no parsable answer":

==================  ============================================================================
``answer_tag``      the last ``<answer>…</answer>`` (R1 format)
``answer_tag_open`` an ``<answer>`` never closed (generation stopped at or before ``</answer>``)
``boxed``           the last ``\\boxed{…}`` (MATH, AIME style), braces balanced
``hash``            ``#### 1,234`` (GSM8K style)
``answer_is``       "The answer is (B)", "Final answer: 42", "So the answer is True."
``last_choice``     multiple choice only: the last standalone label such as ``(B)``
``code_block``      code only: the last fenced code block (or the whole text when there is none:
                    ``raw_text``)
``last_number``     numeric and math only: the last number in the text
``last_line``       exact only: the last non-empty line
``none``            nothing usable
==================  ============================================================================

When the text has a ``</think>``, only what follows it is searched for the routes after ``answer_tag``
(the reasoning is full of intermediate numbers); an answer tag is found anywhere.

Checking (:func:`check_answer`, :func:`check_answer_raw`) normalises per ``answer_type``:

* ``numeric``: numbers with thousands commas, ``$``, ``%``, units and trailing periods; exact rational
  comparison (relative tolerance 1e-6 for decimals); LaTeX numbers (``\\frac{3}{4}``) go through math.
* ``math``: ``math-verify`` (``parse`` + ``verify``: ``\\frac{1}{2}`` equals ``0.5``, intervals, tuples,
  equivalent algebra), with a normalised-string fallback for text answers. **Time bound**: math-verify
  times out with ``signal.alarm``, which only works in the main thread. In the main thread we use its
  timeouts (:data:`MATH_TIMEOUT_S` per parse and per comparison). In any other thread alarms are
  disabled and instead inputs are capped at :data:`MAX_MATH_CHARS` characters and parsed expressions
  whose evaluation can explode (numeric exponents above 10,000, power towers, factorials above 1,000) are
  compared as strings only; ``detail`` says so.
* ``multiple_choice``: labels (``B``, ``(B)``, ``b.``, ``Option B``), digit labels (ARC rows labelled
  ``1``–``4``: ``metadata["original_labels"]`` maps ``3`` to the relabelled ``C``, and with digit
  ``labels`` a letter maps to the label at that position), or the text of a choice, all resolved through
  ``metadata["labels"]`` / ``metadata["choices"]``.
* ``exact``: BBH-style targets: ``(A)``-style targets compare labels, numbers compare as numbers,
  bracket sequences ignore spaces, everything else compares case-insensitively after collapsing spaces
  and dropping a trailing period.
* ``code``: the extracted program plus ``metadata["setup"]`` and ``metadata["tests"]`` run in the
  sandbox (:mod:`course_lib.rewards.sandbox`); ``check(entry_point)`` is called when the tests define
  ``check`` without calling it (HumanEval); when the program lacks ``def <entry_point>`` but the prompt
  has it (a HumanEval body completion), the prompt's code is put first.

Nothing here raises on any input string: a checker error becomes ``correct=False`` with the reason in
``detail``.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from course_lib.data.schema import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, Problem
from course_lib.data.sources import last_boxed
from course_lib.rewards.sandbox import run_code

MAX_TEXT_CHARS = 20_000
"""Only the last this-many characters of a completion are searched for an answer."""
MAX_MATH_CHARS = 300
"""Longest extracted answer handed to math-verify outside the main thread."""
MATH_TIMEOUT_S = 2
"""math-verify's per-parse and per-comparison timeout (seconds) in the main thread."""
CODE_TIMEOUT_S = 5.0
"""Wall-clock limit (seconds) of one code check in the sandbox."""
REL_TOL = 1e-6

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_FRACTION = re.compile(r"^([-+]?\d+)\s*/\s*([-+]?\d+)$")
_LATEX_FRAC = re.compile(r"^([-+]?)\\[dt]?frac\{([-+]?\d+)\}\{([-+]?\d+)\}$")
_HASH = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(r"\banswer\s*(?:is|was|:|=)\s*:?\s*([^\n]+?)\s*\.?\s*$", re.IGNORECASE | re.MULTILINE)
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)
_LABEL = re.compile(
    r"^\W*(?:(?:the\s+)?(?:correct\s+)?(?:option|choice|answer)\s*(?:is\s*)?[:\-]?\s*)?"
    r"[\(\[]?\s*([A-Za-z]|\d{1,2})\s*[\)\]]?(?:[\.\:\)\s,]|$)",
    re.IGNORECASE,
)
_LAST_CHOICE = re.compile(r"\(([A-Z]|\d{1,2})\)|\b([A-Z])\b(?=[\W]*$)")
_PLAIN = re.compile(r"^[\s$\\%,.\d+\-/]*$")  # nothing but a number (math answers that need no math-verify)
_BRACKETS = set("()[]{}<> ")
_LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
_BOOLEAN_LIKE = {"true", "false", "yes", "no", "valid", "invalid"}


@dataclass(frozen=True)
class Extraction:
    """An extracted answer string (None when nothing was found) and the route that found it."""

    answer: str | None
    path: str


@dataclass(frozen=True)
class CheckResult:
    """Verdict on one completion.

    Attributes:
        correct: whether the extracted answer matches the gold answer.
        extracted: the answer string that was compared (None when none was found).
        path: the extraction route (see the module docstring).
        detail: how the comparison was made, or why it failed (``"no answer found"``,
            ``"sandbox: timeout ..."``, ``"checker error: ..."``).
    """

    correct: bool
    extracted: str | None
    path: str
    detail: str


# --------------------------------------------------------------------------------------------- extraction


def _after_think(text: str) -> str:
    """What follows the last ``</think>`` when something does, else the whole text."""
    _, sep, tail = text.rpartition(THINK_CLOSE)
    return tail if sep and tail.strip() else text


def extract_answer(text: Any, answer_type: str | None = None) -> Extraction:
    """Find the answer in a completion (see the module docstring for the routes and their order).

    Args:
        text: the completion (anything that is not a ``str`` yields ``Extraction(None, "none")``).
        answer_type: enables the type-specific fallbacks (``last_choice``, ``code_block``, ``last_number``,
            ``last_line``); None uses ``last_number``.
    """
    if not isinstance(text, str):
        return Extraction(None, "none")
    text = text[-MAX_TEXT_CHARS:]
    # code keeps its first line's indentation (a HumanEval completion is an indented function body)
    trim = (lambda t: t.strip("\r\n").rstrip()) if answer_type == "code" else str.strip
    close = text.rfind(ANSWER_CLOSE)
    opening = text.rfind(ANSWER_OPEN, 0, max(close, 0))
    if close >= 0 and opening >= 0:
        return Extraction(trim(text[opening + len(ANSWER_OPEN):close]), "answer_tag")
    if ANSWER_OPEN in text:
        return Extraction(trim(text.rsplit(ANSWER_OPEN, 1)[1]), "answer_tag_open")
    body = _after_think(text)
    if answer_type == "code":
        blocks = _CODE_BLOCK.findall(body)
        return Extraction(blocks[-1], "code_block") if blocks else Extraction(trim(body) or None, "raw_text")
    boxed = last_boxed(body)
    if boxed is not None:
        return Extraction(boxed.strip(), "boxed")
    hashes = _HASH.findall(body)
    if hashes:
        return Extraction(hashes[-1].strip(), "hash")
    stated = _ANSWER_IS.findall(body)
    if stated and stated[-1].strip():
        return Extraction(stated[-1].strip(), "answer_is")
    return _fallback(body, answer_type)


def _fallback(body: str, answer_type: str | None) -> Extraction:
    if answer_type == "multiple_choice":
        found = _LAST_CHOICE.findall(body)
        return Extraction("".join(found[-1]), "last_choice") if found else Extraction(None, "none")
    if answer_type == "exact":
        lines = [line.strip() for line in body.splitlines() if line.strip()]
        return Extraction(lines[-1], "last_line") if lines else Extraction(None, "none")
    numbers = _NUMBER.findall(body)
    return Extraction(numbers[-1], "last_number") if numbers else Extraction(None, "none")


# --------------------------------------------------------------------------------------------- numbers


def _strip_decorations(text: str) -> str:
    """Drop what surrounds a number in GSM8K-style answers: ``####``, ``$``, ``%``, LaTeX spacing, units."""
    text = text.replace("####", " ").replace("\\$", " ").replace("$", " ").replace("\\%", " ").replace("%", " ")
    text = text.replace("\\!", "").replace("{,}", ",").replace("\u2212", "-").replace("\\,", "")
    text = re.sub(r"\\text\{([^{}]*)\}", r" \1 ", text)
    return text.strip().rstrip(".").strip()


def parse_number(text: Any) -> Fraction | None:
    """The number an answer string states, as an exact Fraction, or None.

    ``"1,234"`` -> 1234, ``"$18.50"`` -> 37/2, ``"18 dollars."`` -> 18, ``"3/4"`` and ``"\\frac{3}{4}"`` -> 3/4,
    ``"-7"`` -> -7, ``"50%"`` -> 50. With several numbers (``"5 + 3 = 8"``) the last one counts.
    """
    if not isinstance(text, str):
        return None
    clean = _strip_decorations(text[-1000:])
    for pattern in (_FRACTION, _LATEX_FRAC):
        match = pattern.match(clean.replace(" ", ""))
        if match:
            *sign, num, den = match.groups()
            if int(den) == 0:
                return None
            value = Fraction(int(num), int(den))
            return -value if sign and sign[0] == "-" else value
    numbers = _NUMBER.findall(clean)
    if not numbers:
        return None
    try:
        return Fraction(numbers[-1].replace(",", ""))
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def numbers_equal(a: Fraction, b: Fraction) -> bool:
    """Exactly equal, or within a relative tolerance of :data:`REL_TOL` (rounded decimals)."""
    return a == b or abs(a - b) <= REL_TOL * max(1, abs(a), abs(b))


# --------------------------------------------------------------------------------------------- math


def _normalise_math_string(text: str) -> str:
    text = re.sub(r"\\(?:left|right|displaystyle|!|,|;|quad)", "", text)
    text = re.sub(r"\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}", r"\1", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("$", "")
    return re.sub(r"\s+", "", text).rstrip(".").lower()


def _explosive(expressions: list) -> bool:
    """Whether a parsed expression could take unbounded time to evaluate (used when alarms are unavailable)."""
    import sympy

    for expr in expressions:
        if not isinstance(expr, sympy.Basic):
            continue
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Pow):
                exponent = node.exp
                if exponent.has(sympy.Pow) or exponent.has(sympy.factorial):
                    return True
                if exponent.is_Number and abs(exponent) > 10_000:
                    return True
            if isinstance(node, sympy.factorial) and (not node.args[0].is_Number or abs(node.args[0]) > 1000):
                return True
    return False


def _as_latex(text: str) -> str:
    return text if ("$" in text or "\\boxed" in text or "\\(" in text) else f"${text}$"


@functools.lru_cache(maxsize=8192)
def _math_parse(text: str, timeout: int | None) -> tuple:
    """math-verify's parse of one answer, cached: GRPO checks each gold answer once per generation."""
    from math_verify import parse

    return tuple(parse(_as_latex(text), parsing_timeout=timeout))


def math_equal(gold: str, candidate: str) -> tuple[bool, str]:
    """Whether two math answers are equivalent, and how that was decided (see the module docstring)."""
    if _normalise_math_string(gold) == _normalise_math_string(candidate):
        return True, "equal as normalised strings"
    gold_number, candidate_number = parse_number(gold), parse_number(candidate)
    if gold_number is not None and candidate_number is not None and _PLAIN.match(gold) and _PLAIN.match(candidate):
        return numbers_equal(gold_number, candidate_number), "compared as numbers"
    from math_verify import verify

    in_main = threading.current_thread() is threading.main_thread()
    if not in_main and max(len(gold), len(candidate)) > MAX_MATH_CHARS:
        return False, f"too long for math-verify outside the main thread (> {MAX_MATH_CHARS} chars)"
    timeout = MATH_TIMEOUT_S if in_main else None
    parsed_gold, parsed_candidate = list(_math_parse(gold, timeout)), list(_math_parse(candidate, timeout))
    if not parsed_gold or not parsed_candidate:
        return False, "math-verify could not parse " + ("the gold answer" if not parsed_gold else "the answer")
    if not in_main and (_explosive(parsed_gold) or _explosive(parsed_candidate)):
        return False, "expression too costly to evaluate without a timeout (not in the main thread)"
    return bool(verify(parsed_gold, parsed_candidate, timeout_seconds=timeout)), "math-verify"


# --------------------------------------------------------------------------------------------- choices


def _norm_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip(".").strip()).lower()


def _choice_lists(metadata: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(labels, choices) from metadata; labels default to A, B, C, ... for the given choices."""
    choices = [str(c) for c in metadata.get("choices") or []]
    labels = [str(label) for label in metadata.get("labels") or []]
    return labels or _LETTERS[: len(choices) or len(_LETTERS)], choices


def resolve_label(text: str, labels: list[str], choices: list[str],
                  original_labels: Sequence[str] = ()) -> str | None:
    """The label an answer string designates, or None.

    Tried in order: the exact text of a choice; a label (``B``, ``(b)``, ``Option B:``, ``3`` for digit
    labels); a label the source used before relabelling (ARC rows labelled ``1``–``4`` become ``A``–``D``
    and keep ``original_labels``, so ``3`` -> ``C``); a letter standing for the label at that position when
    labels are not letters (``C`` -> ``"3"`` for labels ``1``–``4``); the text of the only choice mentioned.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    normalised = _norm_text(text)
    for label, choice in zip(labels, choices):
        if normalised == _norm_text(choice):
            return label
    by_upper = {label.upper(): label for label in labels}
    match = _LABEL.match(text.strip())
    if match:
        token = match.group(1).upper()
        if token in by_upper:
            return by_upper[token]
        originals = [str(label).upper() for label in original_labels]
        if token in originals and len(originals) == len(labels):
            return labels[originals.index(token)]
        if token.isalpha() and not any(label.isalpha() for label in labels):
            index = ord(token) - ord("A")
            if 0 <= index < len(labels):
                return labels[index]
    mentioned = [label for label, choice in zip(labels, choices)
                 if choice.strip() and re.search(r"\b" + re.escape(_norm_text(choice)) + r"\b", normalised)]
    return mentioned[0] if len(mentioned) == 1 else None


# --------------------------------------------------------------------------------------------- per type


def _check_numeric(gold: str, extracted: str) -> tuple[bool, str]:
    gold_number, candidate = parse_number(gold), parse_number(extracted)
    if gold_number is None:
        return False, f"gold answer {gold[:50]!r} is not a number"
    if candidate is None:
        if "\\" in extracted:
            return math_equal(gold, extracted)
        return False, "no number in the answer"
    return numbers_equal(gold_number, candidate), "compared as numbers"


def _check_multiple_choice(gold: str, extracted: str, metadata: Mapping[str, Any]) -> tuple[bool, str]:
    labels, choices = _choice_lists(metadata)
    originals = [str(label) for label in metadata.get("original_labels") or []]
    gold_label = resolve_label(gold, labels, choices, originals)
    if gold_label is None:
        return False, f"gold answer {gold!r} is not one of the labels {labels[:10]}"
    label = resolve_label(extracted, labels, choices, originals)
    if label is None:
        return False, "the answer names no choice"
    return label == gold_label, f"label {label} vs gold {gold_label}"


def _check_exact(gold: str, extracted: str) -> tuple[bool, str]:
    target = gold.strip()
    if re.fullmatch(r"\([A-Z]\)", target):
        return resolve_label(extracted, _LETTERS, []) == target[1], "compared as a choice label"
    if _NUMBER.fullmatch(target):
        number = parse_number(extracted)
        return number is not None and numbers_equal(Fraction(target.replace(",", "")), number), "compared as numbers"
    if set(target) <= _BRACKETS:
        return re.sub(r"\s+", "", extracted) == re.sub(r"\s+", "", target), "compared as brackets"
    candidate = _norm_text(extracted).strip("()'\"*` ")
    if _norm_text(target) in _BOOLEAN_LIKE:
        candidate = candidate.split(" ")[0].strip(".,!") if candidate else candidate
    return candidate == _norm_text(target), "compared as normalised text"


def _code_program(code: str, metadata: Mapping[str, Any], prompt: str) -> str:
    """setup + (prompt header when the code lacks the entry point) + code + tests (+ ``check(entry_point)``)."""
    entry_point = str(metadata.get("entry_point") or "")
    tests = str(metadata.get("tests") or "")
    parts = [str(metadata.get("setup") or "")]
    defines = re.compile(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", re.MULTILINE) if entry_point else None
    if defines and not defines.search(code):
        blocks = _CODE_BLOCK.findall(prompt)
        header = next((b for b in blocks if defines.search(b)), prompt if defines.search(prompt) else "")
        parts.append(header.rstrip("\n"))
    parts += [code, tests]
    if entry_point and re.search(r"^def check\(", tests, re.MULTILINE) and not re.search(r"^check\(", tests, re.MULTILINE):
        parts.append(f"check({entry_point})")
    return "\n".join(parts) + "\n"


def _check_code(extracted: str, metadata: Mapping[str, Any], prompt: str) -> tuple[bool, str]:
    if not metadata.get("tests"):
        return False, "the problem has no tests in metadata['tests']"
    blocks = _CODE_BLOCK.findall(extracted)
    code = blocks[-1] if blocks else extracted
    result = run_code(_code_program(code, metadata, prompt), timeout_s=CODE_TIMEOUT_S)
    return result.passed, f"sandbox: {result.status}" + (f" ({result.error})" if result.error else "")


# --------------------------------------------------------------------------------------------- entry points


def _as_metadata(metadata: Any) -> Mapping[str, Any]:
    """Metadata as a mapping: a dict, a JSON string (``to_trl_rows`` stores it so) or None."""
    if isinstance(metadata, Mapping):
        return metadata
    if isinstance(metadata, str) and metadata.strip():
        try:
            loaded = json.loads(metadata)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, Mapping) else {}
    return {}


def check_answer_raw(answer_type: Any, gold: Any, completion: Any, metadata: Any = None,
                     prompt: str = "") -> CheckResult:
    """Check ``completion`` against ``gold`` for callers without a :class:`Problem`.

    Args:
        answer_type: one of ``course_lib.data.schema.ANSWER_TYPES``.
        gold: the gold answer string (a number, LaTeX, a label, an exact string; unused for code).
        completion: the model output (R1 tags or not).
        metadata: the problem's metadata, as a dict or a JSON string (``choices``/``labels``; ``tests``,
            ``entry_point``, ``setup``).
        prompt: the problem prompt (code only: supplies the function header for body-only completions).

    Never raises; an unknown answer type or bad input gives ``correct=False`` with the reason in ``detail``.
    """
    extraction = extract_answer(completion, answer_type if isinstance(answer_type, str) else None)
    extracted, path = extraction.answer, extraction.path
    if answer_type not in ("numeric", "math", "multiple_choice", "exact", "code"):
        return CheckResult(False, extracted, path, f"unknown answer_type {answer_type!r}")
    if extracted is None or not extracted.strip():
        return CheckResult(False, extracted, path, "no answer found")
    gold = gold if isinstance(gold, str) else ("" if gold is None else str(gold))
    meta = _as_metadata(metadata)
    try:
        if answer_type == "numeric":
            correct, detail = _check_numeric(gold, extracted)
        elif answer_type == "math":
            correct, detail = math_equal(gold, extracted)
        elif answer_type == "multiple_choice":
            correct, detail = _check_multiple_choice(gold, extracted, meta)
        elif answer_type == "exact":
            correct, detail = _check_exact(gold, extracted)
        else:
            correct, detail = _check_code(extracted, meta, prompt if isinstance(prompt, str) else "")
    except Exception as exc:  # noqa: BLE001 - a checker must never take the caller down
        return CheckResult(False, extracted, path, f"checker error: {type(exc).__name__}: {exc}"[:300])
    return CheckResult(bool(correct), extracted, path, detail)


def check_answer(problem: Problem, completion: Any) -> CheckResult:
    """Check a completion against a :class:`Problem` (dispatching on ``problem.answer_type``)."""
    return check_answer_raw(problem.answer_type, problem.answer, completion, problem.metadata, problem.prompt)
