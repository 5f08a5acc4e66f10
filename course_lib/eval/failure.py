"""Why did the student get it wrong? Capacity limits vs distribution mismatch, and what broke in the chain.

**The rule** (one per student error; every input is a measured yes/no):

* *reference solves it* (R): a larger model trained on the **same data** (the teacher, or a bigger
  student) answers this very problem correctly;
* *counterpart solved* (C), for out-of-distribution problems only: the student solves the problem's
  in-distribution counterpart, measured as its accuracy on in-distribution problems of the same task and
  number of steps (the largest in-distribution step count when the OOD problem is longer) being at least
  ``solved_rate`` (default 0.5). A problem is OOD when ``problem.metadata["ood"]`` names its family.

=================  ===  ===  =========================  ==============================================
problem            C    R    category                   reading
=================  ===  ===  =========================  ==============================================
in-distribution    –    yes  ``capacity``               same data, more parameters fixes it
in-distribution    –    no   ``unclear``                nobody solves it: too hard for both, or noise
OOD                yes  no   ``distribution_mismatch``  the student can do the unshifted problem;
                                                        the shift breaks it and size does not help
OOD                yes  yes  ``both``                   the shift breaks the student, a bigger model
                                                        copes: capacity buys robustness
OOD                no   yes  ``capacity``               fails even without the shift; size fixes it
OOD                no   no   ``unclear``                fails without the shift and nobody solves it
OOD                ?    any  ``unclear``                no in-distribution counterpart was measured
=================  ===  ===  =========================  ==============================================

**Sub-categories** read the chain itself (first match wins, in this order):

1. ``truncated``: no explicit final answer and the generation used its whole token budget (when the
   budget is unknown: a ``<think>`` block that was never closed);
2. ``format``: no explicit final answer, but the model stopped by itself. *Explicit* means the answer
   checker found it through one of :data:`EXPLICIT_PATHS` (an ``<answer>`` block, ``\\boxed{}``,
   ``####``, "the answer is …", a code block), not through a fallback such as the last number;
3. ``copying`` or ``arithmetic``: the first faulty equation of the chain (in order; see
   :func:`find_equations` and :func:`first_fault`) either uses an operand that appears neither in the
   prompt nor earlier in the chain (copying, checked first) or is false, such as ``11-3=9`` (arithmetic);
4. ``too_few_steps``: every checked equation is right and grounded but the chain has fewer steps than the reference
   chain (the student stopped early, the typical failure on longer problems);
5. ``wrong_final_step``: the checked equations are right and the chain is long enough, yet the final
   answer is wrong (wrong operation, wrong quantity reported, answer not copied from the last result);
6. ``other``: no equation in the chain could be checked (logic, brackets, dates …), so these rules
   cannot localise the error.
"""

from __future__ import annotations

import ast
import itertools
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.data.schema import THINK_CLOSE, THINK_OPEN, Problem
from course_lib.eval.chains import extract_chain, split_steps
from course_lib.rewards.answers import extract_answer

CATEGORIES = ("capacity", "distribution_mismatch", "both", "unclear")
SUBCATEGORIES = ("truncated", "format", "copying", "arithmetic", "too_few_steps", "wrong_final_step", "other")
IN_DISTRIBUTION = "in_distribution"
EXPLICIT_PATHS = ("answer_tag", "boxed", "hash", "answer_is", "code_block")

_NUM = r"\d+(?:\.\d+)?"
_ATOM = rf"\(?\s*-?{_NUM}\s*\)?"
_EXPR = rf"{_ATOM}(?:\s*[-+*/]\s*{_ATOM})*"
_LEFT = re.compile(rf"({_EXPR})\s*$")
_RIGHT = re.compile(rf"^\s*({_EXPR})")
_NUMBER = re.compile(_NUM)
_SYMBOLS = {"×": "*", "\\times": "*", "\\cdot": "*", "·": "*", "÷": "/", "\\div": "/", "−": "-"}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def categorise(is_ood: bool, reference_solved: bool, counterpart_solved: bool | None = None) -> str:
    """The category of one student error by the rule in the module docstring.

    Args:
        is_ood: the problem comes from an out-of-distribution family.
        reference_solved: a larger model trained on the same data solves this problem (R).
        counterpart_solved: the student solves the in-distribution counterpart (C); ignored for
            in-distribution problems, None when it was not measured.
    """
    if not is_ood:
        return "capacity" if reference_solved else "unclear"
    if counterpart_solved is None:
        return "unclear"
    if counterpart_solved:
        return "both" if reference_solved else "distribution_mismatch"
    return "capacity" if reference_solved else "unclear"


@dataclass(frozen=True)
class Equation:
    """One checked equality ``left = right`` found in a chain (both sides purely numeric).

    Attributes:
        left, right: the two expressions as written (after :func:`normalise_math`).
        left_value, right_value: their values (None after a division by zero).
        ok: True when the values agree (relative tolerance 1e-6); False for a division by zero.
        operands: the numbers written on the left side.
        start: character offset of ``left`` in the normalised chain (what came before it is "earlier").
    """

    left: str
    right: str
    left_value: float | None
    right_value: float | None
    ok: bool
    operands: tuple[str, ...]
    start: int


def _evaluate(expr: str) -> float:
    """Value of a numeric expression made of numbers, + - * / and parentheses (no names, no calls)."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"not a numeric expression: {expr!r}")

    return walk(ast.parse(expr, mode="eval").body)


def normalise_math(text: str) -> str:
    """Replace multiplication/division signs (×, \\times, \\cdot, ÷ …) by ``*``/``/`` and drop thousands commas."""
    for symbol, ascii_op in _SYMBOLS.items():
        text = text.replace(symbol, ascii_op)
    return _THOUSANDS.sub("", text)


_ATTACHED = set("_^\\")
_CONTINUES = set("+-*/^(")


def _left_side(before: str) -> tuple[str, int] | None:
    """The numeric expression ending at an ``=`` sign and its offset in ``before``; None if that side is not
    a whole numeric expression (attached to a name as in ``5x``, or continuing a term as in ``3x + 4``)."""
    m = _LEFT.search(before)
    if m is None:
        return None
    expr = m.group(1).strip()
    j = m.start(1) + len(m.group(1)) - len(m.group(1).lstrip())
    prev = before[:j].rstrip()
    if j > 0 and (before[j - 1].isalnum() or before[j - 1] in _ATTACHED):
        return None
    if prev and prev[-1] in _CONTINUES | {")"}:
        return None
    return expr, j


def _right_side(after: str) -> str | None:
    """The numeric expression starting after an ``=`` sign; None if it runs into a name (``=5x``, ``=7 + x``)."""
    m = _RIGHT.match(after)
    if m is None:
        return None
    rest = after[m.start(1) + len(m.group(1).rstrip()) :]
    if rest[:1].isalnum() or rest[:1] in _ATTACHED | {"("}:
        return None
    if rest.lstrip()[:1] in _CONTINUES:
        return None
    return m.group(1).strip()


def find_equations(chain: str) -> list[Equation]:
    """Every ``numeric expression = numeric expression`` in ``chain`` (chained ``a=b=c`` gives each pair).

    ``53-42=11`` and ``x=25/5=5`` (the pair ``25/5=5``) are checked; ``2x+3x=5x`` and ``Mar 28+9=Mar 37``
    are not (a side is not purely numeric).
    """
    text = normalise_math(chain)
    pieces = text.split("=")
    out, offset = [], 0
    for before, after in itertools.pairwise(pieces):
        left, right = _left_side(before), _right_side(after)
        if left is not None and right is not None:
            expr, j = left
            operands = tuple(_NUMBER.findall(expr))
            try:
                lv, rv = _evaluate(expr), _evaluate(right)
                ok = abs(lv - rv) <= 1e-6 * max(1.0, abs(lv), abs(rv))
                out.append(Equation(expr, right, lv, rv, ok, operands, offset + j))
            except ZeroDivisionError:
                out.append(Equation(expr, right, None, None, False, operands, offset + j))
            except (SyntaxError, ValueError):
                pass
        offset += len(before) + 1
    return out


def _missing_operands(chain: str, prompt: str) -> list[tuple[Equation, list[str]]]:
    """Each equation of ``chain`` with its operands that appear neither in the prompt nor earlier in the chain."""
    known = {float(n) for n in _NUMBER.findall(normalise_math(prompt))}
    text = normalise_math(chain)
    out = []
    for eq in find_equations(chain):
        earlier = known | {float(n) for n in _NUMBER.findall(text[: eq.start])}
        out.append((eq, [x for x in eq.operands if float(x) not in earlier]))
    return out


def ungrounded_operands(chain: str, prompt: str) -> list[str]:
    """Operands of the chain's equations that appear neither in the prompt nor earlier in the chain.

    "Earlier" means anywhere in the chain before the equation's left side (results of previous steps,
    numbers restated from the problem). Numbers are compared by value (``7`` = ``7.0``); each missing
    operand is listed once, in order of appearance. A constant the prompt gives in words ("twice")
    counts as missing: read flagged chains before trusting the label on free-form text.
    """
    missing: list[str] = []
    for _, operands in _missing_operands(chain, prompt):
        missing += [x for x in operands if x not in missing]
    return missing


def first_fault(chain: str, prompt: str) -> tuple[str, str] | None:
    """The first faulty equation in chain order as ``("copying" | "arithmetic", detail)``, None if none is.

    Within one equation a missing operand (copying) is reported before a false result (arithmetic):
    the operand was wrong before the operation was carried out.
    """
    for eq, missing in _missing_operands(chain, prompt):
        if missing:
            return "copying", f"operand {missing[0]} in {eq.left}={eq.right} is not in the prompt or earlier in the chain"
        if not eq.ok:
            return "arithmetic", f"{eq.left}={eq.right} is false"
    return None


def subcategory(
    problem: Problem, text: str, n_tokens: int | None = None, max_new_tokens: int | None = None
) -> tuple[str, str]:
    """Sub-category of one wrong completion and a short human-readable detail (see the module docstring).

    Args:
        problem: the problem (its prompt grounds operands; its reference ``chain`` gives the step count).
        text: the student's completion, ``<think>…</think><answer>…</answer>``.
        n_tokens: tokens the completion used; with ``max_new_tokens`` it decides ``truncated``.
        max_new_tokens: the generation budget.

    Returns:
        ``(label, detail)`` with label in :data:`SUBCATEGORIES`.
    """
    found = extract_answer(text, problem.answer_type)
    if found.path not in EXPLICIT_PATHS or not found.answer:
        if n_tokens is not None and max_new_tokens is not None:
            cut = n_tokens >= max_new_tokens
        else:
            cut = THINK_OPEN in text and THINK_CLOSE not in text
        if cut:
            return "truncated", f"no answer within the budget ({n_tokens} tokens)"
        return "format", f"no explicit final answer (the checker's route: {found.path})"
    chain = extract_chain(text)
    fault = first_fault(chain, problem.prompt)
    if fault is not None:
        return fault
    if problem.chain is not None:
        have, need = len(split_steps(chain)), len(split_steps(problem.chain))
        if have < need:
            return "too_few_steps", f"{have} steps written, the reference needs {need}"
    if find_equations(chain):
        return "wrong_final_step", "every checked equation holds, the answer is still wrong"
    return "other", "no equation in the chain could be checked"


@dataclass(frozen=True)
class Outcome:
    """One model's answer to one problem.

    Attributes:
        problem: the problem.
        text: the completion.
        correct: the answer checker's verdict.
        n_tokens: generated tokens (None when unknown).
    """

    problem: Problem
    text: str
    correct: bool
    n_tokens: int | None = None


def outcomes_from_report(report, problems: Sequence[Problem], model: str = "student", split: str | None = None):
    """:class:`Outcome` list of one model from an evaluation report (``course_lib.eval.suite.EvalReport``).

    Args:
        report: the report (its first sample per problem is used).
        problems: the evaluated problems (in-distribution and OOD), matched to the report by id; the
            report keeps ids only, the chain detectors need prompts and reference chains.
        model: ``"student"`` or ``"teacher"``.
        split: as ``EvalReport.select`` (None: every record).
    """
    if model not in ("student", "teacher"):
        raise ValueError(f"model must be 'student' or 'teacher'; got {model!r}")
    by_id = {p.id: p for p in problems}
    out = []
    for r in report.select(split):
        if r.id not in by_id:
            raise ValueError(f"report problem {r.id!r} is not among the {len(by_id)} problems given")
        o = getattr(r, model)
        if o is None:
            raise ValueError(f"problem {r.id!r} has no {model} outputs in this report")
        out.append(Outcome(by_id[r.id], o.texts[0], bool(o.correct[0]), int(o.num_tokens[0])))
    return out


def family(problem: Problem) -> str:
    """The OOD family named in ``problem.metadata["ood"]``, or :data:`IN_DISTRIBUTION`."""
    return problem.metadata.get("ood") or IN_DISTRIBUTION


@dataclass(frozen=True)
class FailureRecord:
    """One categorised student error.

    Attributes:
        problem_id: the problem's id.
        source: the problem's source (task), e.g. ``"lab/arith"``.
        family: OOD family or ``"in_distribution"``.
        steps: the problem's difficulty (lab: reasoning steps).
        category: one of :data:`CATEGORIES`.
        subcategory: one of :data:`SUBCATEGORIES`.
        detail: what the sub-category detector found.
        reference_solved: R in the rule.
        counterpart_solved: C in the rule (None for in-distribution problems or when unmeasured).
        text: the student's completion.
    """

    problem_id: str
    source: str
    family: str
    steps: int
    category: str
    subcategory: str
    detail: str
    reference_solved: bool
    counterpart_solved: bool | None
    text: str


def counterpart_rates(student: Sequence[Outcome]) -> dict[tuple[str, int], float]:
    """The student's in-distribution accuracy per ``(source, steps)``: the counterparts of OOD problems."""
    groups: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for o in student:
        if family(o.problem) == IN_DISTRIBUTION:
            groups[(o.problem.source, o.problem.difficulty)].append(o.correct)
    return {key: sum(v) / len(v) for key, v in groups.items()}


def counterpart_solved(problem: Problem, rates: dict[tuple[str, int], float], solved_rate: float = 0.5):
    """C for one OOD problem: the matched in-distribution accuracy is >= ``solved_rate`` (None if unmeasured).

    The match is the same source with the same number of steps, else the largest in-distribution step
    count below it (longer chains), else the smallest above it.
    """
    steps = sorted(d for s, d in rates if s == problem.source)
    if not steps:
        return None
    below = [d for d in steps if d <= problem.difficulty]
    match = below[-1] if below else steps[0]
    return rates[(problem.source, match)] >= solved_rate


def analyse_failures(
    student: Sequence[Outcome],
    reference: Sequence[Outcome],
    *,
    max_new_tokens: int | None = None,
    solved_rate: float = 0.5,
) -> list[FailureRecord]:
    """Categorise every student error (in-distribution and OOD outcomes together).

    Args:
        student: the student's outcomes on in-distribution and OOD problems.
        reference: a larger model's outcomes (trained on the same data) on the same problems, matched by id.
        max_new_tokens: the student's generation budget (decides ``truncated``).
        solved_rate: in-distribution accuracy at which a counterpart counts as solved.

    Raises:
        ValueError: a student problem has no reference outcome, or ids repeat.
    """
    if not 0 < solved_rate <= 1:
        raise ValueError(f"solved_rate must be in (0, 1]; got {solved_rate!r}")
    ref = {o.problem.id: o.correct for o in reference}
    if len(ref) != len(reference):
        raise ValueError("reference outcomes repeat a problem id; give one outcome per problem")
    missing = [o.problem.id for o in student if o.problem.id not in ref]
    if missing:
        raise ValueError(f"{len(missing)} student problems have no reference outcome, e.g. {missing[0]!r}")
    rates = counterpart_rates(student)
    out = []
    for o in student:
        if o.correct:
            continue
        fam = family(o.problem)
        is_ood = fam != IN_DISTRIBUTION
        c = counterpart_solved(o.problem, rates, solved_rate) if is_ood else None
        label, detail = subcategory(o.problem, o.text, o.n_tokens, max_new_tokens)
        out.append(
            FailureRecord(
                problem_id=o.problem.id,
                source=o.problem.source,
                family=fam,
                steps=o.problem.difficulty,
                category=categorise(is_ood, ref[o.problem.id], c),
                subcategory=label,
                detail=detail,
                reference_solved=ref[o.problem.id],
                counterpart_solved=c,
                text=o.text,
            )
        )
    return out


def failure_table(records: Sequence[FailureRecord], by: str = "family", column: str = "category"):
    """Counts of errors: one row per value of ``by``, one column per value of ``column``, plus ``total``.

    Args:
        records: from :func:`analyse_failures`.
        by: a :class:`FailureRecord` field to group rows by (``"family"``, ``"source"``, ``"steps"`` …).
        column: ``"category"`` or ``"subcategory"``.

    Returns:
        A list of dicts, rows sorted by ``by`` (in-distribution first), each ``{by: value, <label>: count, …,
        "total": n}`` with every label of :data:`CATEGORIES` or :data:`SUBCATEGORIES` present.
    """
    labels = {"category": CATEGORIES, "subcategory": SUBCATEGORIES}.get(column)
    if labels is None:
        raise ValueError(f"column must be 'category' or 'subcategory'; got {column!r}")
    if by not in FailureRecord.__dataclass_fields__:
        raise ValueError(
            f"by must be a FailureRecord field, one of {list(FailureRecord.__dataclass_fields__)}"
        )
    counts: dict[object, Counter] = defaultdict(Counter)
    for r in records:
        counts[getattr(r, by)][getattr(r, column)] += 1
    keys = sorted(
        counts, key=lambda k: (k != IN_DISTRIBUTION, str(k) if not isinstance(k, int) else f"{k:09d}")
    )
    return [
        {by: k, **{label: counts[k][label] for label in labels}, "total": sum(counts[k].values())}
        for k in keys
    ]


def error_rate_by_steps(outcomes: Sequence[Outcome]) -> dict[int, tuple[int, int]]:
    """``{steps: (errors, problems)}`` over outcomes, in ascending steps (for the "beyond ~5 steps" curve)."""
    table: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for o in outcomes:
        table[o.problem.difficulty][0] += not o.correct
        table[o.problem.difficulty][1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(table.items())}


def plot_failures(records: Sequence[FailureRecord], save=None):
    """Two stacked-bar panels: error counts per split (family) by category, and, per number of steps,
    the share of each sub-category among that step count's errors (bar labels give the error counts).

    Args:
        records: from :func:`analyse_failures`.
        save: optional path; the figure is also written there.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    panels = (("family", "category", CATEGORIES, False, "errors by split and category"),
              ("steps", "subcategory", SUBCATEGORIES, True, "what broke, by number of steps"))
    for ax, (by, column, labels, share, title) in zip(axes, panels):
        rows = failure_table(records, by=by, column=column)
        names = [str(r[by]) for r in rows]
        bottom = [0.0] * len(rows)
        for label in labels:
            values = [r[label] / r["total"] if share else r[label] for r in rows]
            if any(values):
                ax.bar(names, values, bottom=bottom, label=label)
                bottom = [b + v for b, v in zip(bottom, values)]
        if share:
            for x, r in enumerate(rows):
                ax.annotate(f"n={r['total']}", (x, 1.0), ha="center", va="bottom", fontsize=8)
            ax.set_ylim(0, 1.12)
        ax.set_title(title)
        ax.set_ylabel("share of errors" if share else "student errors")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[0].tick_params(axis="x", rotation=20)
    axes[1].set_xlabel("reasoning steps (problem difficulty)")
    fig.tight_layout()
    if save is not None:
        fig.savefig(save, dpi=120, bbox_inches="tight")
    return fig


def format_table(rows: Sequence[dict]) -> str:
    """Plain-text table of :func:`failure_table` rows (columns in the rows' key order)."""
    if not rows:
        return "(no errors)"
    headers = list(rows[0])
    cells = [headers] + [[str(r[h]) for h in headers] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
