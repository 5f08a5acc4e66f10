"""Math lab tasks: multi-step word problems (GSM8K-like) and linear equations solved step by step (MATH-like)."""

from __future__ import annotations

import random

from course_lib.data.tasks.base import (
    PEOPLE,
    PRONOUNS,
    Knobs,
    Pool,
    Sample,
    distractor_clauses,
    draw_steps,
    interleave,
)

OBJECTS = Pool(
    train=("pens", "cards", "eggs", "coins", "books", "shells", "beads", "apples"),
    heldout=("stamps", "marbles", "cups", "keys", "socks"),
)
GAINS = Pool(train=("gets {k}", "buys {k}", "finds {k}"), heldout=("wins {k}", "is given {k}"))
LOSSES = Pool(train=("gives away {k}", "loses {k}", "sells {k}"), heldout=("drops {k}", "trades {k}"))
QUESTIONS = Pool(train=("How many now?",), heldout=("How many are left?", "What is the count?"))


def arith(rng: random.Random, knobs: Knobs) -> Sample:
    """``Ann has 53 pens. She gives away 42. She gets 3. How many now?`` -> chain ``53-42=11. 11+3=14.``

    Every value along the way stays in ``0..max_operand``; one step is one ``+`` or ``-``.
    """
    top = knobs.max_operand
    steps = draw_steps(rng, knobs)
    name = rng.choice(PEOPLE.pick(knobs.pool))
    pronoun = PRONOUNS[name]
    value = rng.randint(1, top)
    clauses = [f"{name} has {value} {rng.choice(OBJECTS.pick(knobs.pool))}."]
    equations = []
    for _ in range(steps):
        add = value == 0 or (value < top and rng.random() < 0.5)
        k = rng.randint(1, top - value) if add else rng.randint(1, value)
        verb = rng.choice((GAINS if add else LOSSES).pick(knobs.pool)).format(k=k)
        clauses.append(f"{pronoun} {verb}.")
        new = value + k if add else value - k
        equations.append(f"{value}{'+' if add else '-'}{k}={new}.")
        value = new
    clauses = interleave(rng, clauses, distractor_clauses(rng, knobs))
    prompt = " ".join(clauses + [rng.choice(QUESTIONS.pick(knobs.pool))])
    return Sample(prompt, " ".join(equations), str(value), "numeric", steps)


VARIABLES = Pool(train=("x", "y", "n"), heldout=("t", "k", "m"))
EQUATION_WORDING = Pool(train=("Solve {eq}.",), heldout=("Find {v} if {eq}.", "What {v} gives {eq}?"))


def _linear_terms(rng: random.Random, n_terms: int, top: int) -> tuple[list[int], int, int, int]:
    """Coefficients, solution, signed constant and right-hand side with every number in ``0..top``."""
    if 2 * n_terms >= top:
        raise ValueError(f"linear: {n_terms} x-terms need max_operand > {2 * n_terms}; got {top}")
    while True:
        coefs = [1] if n_terms == 0 else [rng.randint(2, 9) for _ in range(n_terms)]
        total = sum(coefs)
        if total < top:
            break
    x = rng.randint(0, (top - 1) // total)
    ax = total * x
    b = rng.randint(1, top - ax) if ax == 0 or rng.random() < 0.5 else -rng.randint(1, ax)
    return coefs, x, b, ax + b


def linear(rng: random.Random, knobs: Knobs) -> Sample:
    """``Solve 2x+3x+4=29.`` -> chain ``2x+3x=5x. 5x=29-4=25. x=25/5=5.``

    ``n_steps = 1`` is ``x+b=c`` (one subtraction); each further step adds an x-term to combine, and any
    coefficient other than 1 costs a division step.
    """
    steps = draw_steps(rng, knobs)
    v = rng.choice(VARIABLES.pick(knobs.pool))
    coefs, x, b, c = _linear_terms(rng, steps - 1, knobs.max_operand)
    lhs = "+".join(f"{a}{v}" if a != 1 else v for a in coefs)
    sign = "+" if b > 0 else "-"
    equation = f"{lhs}{sign}{abs(b)}={c}"
    chain = []
    total = coefs[0]
    for a in coefs[1:]:
        chain.append(f"{total}{v}+{a}{v}={total + a}{v}.")
        total += a
    ax = c - b
    undo = "-" if b > 0 else "+"
    head = v if total == 1 else f"{total}{v}"
    chain.append(f"{head}={c}{undo}{abs(b)}={ax}.")
    if total != 1:
        chain.append(f"{v}={ax}/{total}={x}.")
    clauses = [rng.choice(EQUATION_WORDING.pick(knobs.pool)).format(eq=equation, v=v)]
    prompt = " ".join(interleave(rng, clauses, distractor_clauses(rng, knobs)))
    return Sample(prompt, " ".join(chain), str(x), "numeric", len(chain), {"variable": v})
