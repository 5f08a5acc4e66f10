"""Code lab tasks, checked by execution: trace a tiny program (HumanEval/MBPP-like reading) and write a
one-line function from a recipe (HumanEval/MBPP-like writing, verified by running asserts)."""

from __future__ import annotations

import contextlib
import io
import random

from course_lib.data.tasks.base import Knobs, Pool, Sample, distractor_clauses, draw_steps, interleave

VARIABLES = Pool(train=("x", "y", "a", "b"), heldout=("p", "q", "u", "v"))
DEAD_VARIABLES = Pool(train=("z",), heldout=("w",))


def run_program(program: str) -> str:
    """Execute one of this module's generated programs and return what it printed (stripped).

    Only for programs this module writes (no untrusted code: model outputs go to ``course_lib.rewards``).
    """
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(program, {"__builtins__": {"print": print}})  # noqa: S102 (our own programs)
    return out.getvalue().strip()


def _statement(rng: random.Random, values: dict[str, int], top: int, augmented: bool) -> tuple[str, str, str]:
    """One statement changing ``values`` in place: (code, chain clause, target). Values stay in ``0..top``."""
    names = list(values)
    target = rng.choice(names)
    if rng.random() < 0.25:
        other = names[1] if target == names[0] else names[0]
        a, b = values[target], values[other]
        if a > b:
            values[target] = a - b
            return f"if {target}>{other}: {target}={target}-{other}", f"{a}>{b} so {target}={a}-{b}={a - b}.", target
        return f"if {target}>{other}: {target}={target}-{other}", f"{a}>{b} no.", target
    source = rng.choice(names)
    a = values[source]
    choices = []
    if a < top:
        choices.append(("+", rng.randint(1, top - a)))
    if a > 0:
        choices.append(("-", rng.randint(1, a)))
    if 0 < a <= top // 2:
        choices.append(("*", rng.randint(2, min(3, top // a))))
    op, k = rng.choice(choices)
    new = a + k if op == "+" else a - k if op == "-" else a * k
    values[target] = new
    if augmented and source == target:
        code = f"{target}{op}={k}"
    else:
        code = f"{target}={source}{op}{k}"
    return code, f"{target}={a}{op}{k}={new}.", target


def trace(rng: random.Random, knobs: Knobs) -> Sample:
    """A straight-line program with two variables; it prints the variable of the last statement.

    ``x=7 / y=4 / y=x+5 / x=y*2 / print(x)`` -> chain ``y=7+5=12. x=12*2=24.``, answer ``24``. Distractors are
    dead statements on a third variable, which the chain skips; the held-out pool uses other variable
    names and augmented assignment (``x+=5``). ``metadata["program"]`` is the program (equal to the prompt).
    """
    top = knobs.max_operand
    steps = draw_steps(rng, knobs)
    names = rng.sample(VARIABLES.pick(knobs.pool), 2)
    values = {n: rng.randint(1, min(top, 20)) for n in names}
    lines = [f"{n}={v}" for n, v in values.items()]
    body, chain = [], []
    for _ in range(steps):
        code, clause, shown = _statement(rng, values, top, augmented=knobs.pool == "heldout")
        body.append(code)
        chain.append(clause)
    dead = rng.choice(DEAD_VARIABLES.pick(knobs.pool))
    dead_lines = [f"{dead}={rng.randint(1, 9)}" for _ in range(knobs.n_distractors)]
    program = "\n".join(lines + interleave(rng, body, dead_lines) + [f"print({shown})"])
    return Sample(program, " ".join(chain), str(values[shown]), "numeric", steps, {"program": program})


RECIPES = Pool(
    train=("add {k}", "subtract {k}", "double", "triple"),
    heldout=("increase by {k}", "decrease by {k}", "multiply by 2", "multiply by 3"),
)
SIGNATURES = Pool(train=(("f", "x"),), heldout=(("g", "n"),))


def _apply(expr: str, low_precedence: bool, recipe: int, k: int) -> tuple[str, bool]:
    """Extend ``expr`` with recipe number ``recipe`` (add, subtract, double, triple); minimal parentheses."""
    if recipe == 0:
        return f"{expr}+{k}", True
    if recipe == 1:
        return f"{expr}-{k}", True
    factor = 2 if recipe == 2 else 3
    return f"({expr})*{factor}" if low_precedence else f"{expr}*{factor}", False


def write_fn(rng: random.Random, knobs: Knobs) -> Sample:
    """``Write f(x): add 3, then double.`` -> chain ``x+3. (x+3)*2.``, answer ``def f(x): return (x+3)*2``.

    The answer type is ``"code"``: ``metadata["tests"]`` holds three asserts and ``metadata["entry_point"]``
    the function name. Constants are ``1..max_operand // 10``.
    """
    steps = draw_steps(rng, knobs)
    fname, arg = rng.choice(SIGNATURES.pick(knobs.pool))
    wording = RECIPES.pick(knobs.pool)
    expr, low, chain, words = arg, False, [], []
    for _ in range(steps):
        recipe = rng.randrange(4)
        k = rng.randint(1, max(1, knobs.max_operand // 10))
        words.append(wording[recipe].format(k=k))
        expr, low = _apply(expr, low, recipe, k)
        chain.append(f"{expr}.")
    clauses = [f"Write {fname}({arg}): {', then '.join(words)}."]
    prompt = " ".join(interleave(rng, clauses, distractor_clauses(rng, knobs)))
    answer = f"def {fname}({arg}): return {expr}"
    fn = eval(f"lambda {arg}: {expr}")
    tests = "\n".join(f"assert {fname}({v})=={fn(v)}" for v in (0, 1, 5))
    meta = {"tests": tests, "entry_point": fname, "setup": ""}
    return Sample(prompt, " ".join(chain), answer, "code", steps, meta)
