"""General lab tasks in the style of BIG-Bench Hard: boolean expressions, Dyck languages, word sorting,
date arithmetic and object counting, each with a short step-by-step chain."""

from __future__ import annotations

import random

from course_lib.data.tasks.base import Knobs, Pool, Sample, distractor_clauses, draw_steps, interleave

BOOL_WORDING = Pool(train=("{e} is",), heldout=("What is {e}?", "Value of {e}?"))


def _bool_tree(rng: random.Random, n_ops: int) -> tuple:
    """A random expression tree with exactly ``n_ops`` operators: ``bool``, ``("not", t)`` or ``(op, l, r)``."""
    if n_ops == 0:
        return rng.random() < 0.5
    if rng.random() < 0.3:
        child = _bool_tree(rng, n_ops - 1)
        if not (isinstance(child, tuple) and child[0] == "not"):
            return ("not", child)
    left = rng.randint(0, n_ops - 1)
    return (rng.choice(("and", "or")), _bool_tree(rng, left), _bool_tree(rng, n_ops - 1 - left))


def _render(tree, top: bool = True) -> str:
    if isinstance(tree, bool):
        return str(tree)
    if tree[0] == "not":
        return f"not {_render(tree[1], top=False)}"
    text = f"{_render(tree[1], top=False)} {tree[0]} {_render(tree[2], top=False)}"
    return text if top else f"({text})"


def _evaluate(tree, steps: list[str]) -> bool:
    """Evaluate innermost first, appending one clause per operator to ``steps`` (T/F shorthand)."""
    if isinstance(tree, bool):
        return tree
    short = {True: "T", False: "F"}
    if tree[0] == "not":
        value = _evaluate(tree[1], steps)
        steps.append(f"not {short[value]}={short[not value]}.")
        return not value
    left, right = _evaluate(tree[1], steps), _evaluate(tree[2], steps)
    value = (left and right) if tree[0] == "and" else (left or right)
    steps.append(f"{short[left]} {tree[0]} {short[right]}={short[value]}.")
    return value


def boolean(rng: random.Random, knobs: Knobs) -> Sample:
    """``not (True and False) or False is`` -> chain ``T and F=F. not F=T. T or F=T.``, answer ``True``."""
    steps = draw_steps(rng, knobs)
    tree = _bool_tree(rng, steps)
    chain: list[str] = []
    value = _evaluate(tree, chain)
    question = rng.choice(BOOL_WORDING.pick(knobs.pool)).format(e=_render(tree))
    prompt = " ".join(distractor_clauses(rng, knobs) + [question])
    return Sample(prompt, " ".join(chain), str(value), "exact", steps)


BRACKETS = {"train": ("()", "[]", "<>"), "heldout": ("()", "[]", "<>", "{}")}
DYCK_WORDING = Pool(train=("Close: {s}",), heldout=("Finish the brackets: {s}",))


def dyck(rng: random.Random, knobs: Knobs) -> Sample:
    """``Close: ( [ ] < [`` -> chain ``open ( < [. close ] > ).``, answer ``] > )`` (BBH's spacing).

    ``n_steps`` brackets stay open; zero to two matched pairs are mixed in. The held-out pool adds ``{}``.
    """
    steps = draw_steps(rng, knobs)
    kinds = BRACKETS[knobs.pool]
    stack = [rng.choice(kinds) for _ in range(steps)]
    tokens = [pair[0] for pair in stack]
    for _ in range(rng.randint(0, 2)):
        pair = rng.choice(kinds)
        at = rng.randint(1, len(tokens))
        tokens[at:at] = [pair[0], pair[1]]
    closing = " ".join(pair[1] for pair in reversed(stack))
    chain = f"open {' '.join(pair[0] for pair in stack)}. close {closing}."
    question = rng.choice(DYCK_WORDING.pick(knobs.pool)).format(s=" ".join(tokens))
    prompt = " ".join(distractor_clauses(rng, knobs) + [question])
    return Sample(prompt, chain, closing, "exact", steps)


WORDS = Pool(
    train=("ant", "bee", "cod", "dog", "elk", "fig", "gum", "hat", "ink", "jam", "kit", "log", "map",
           "nut", "oak", "pea", "rug", "sun", "tea", "urn", "van", "web", "yak", "zip", "bus", "cup",
           "den", "egg", "fan", "gem", "hen", "ice", "jar", "key", "lid", "mud", "net", "owl", "pen"),
    heldout=("arm", "bay", "cow", "dew", "eel", "fox", "gap", "hop", "ivy", "jet", "kin", "lap", "mop",
             "nap", "orb", "pit", "ram", "sap", "toy", "vet", "wax", "yam", "zoo"),
)
SORT_WORDING = Pool(train=("Sort: {w}",), heldout=("Put in order: {w}",))


def sort_words(rng: random.Random, knobs: Knobs) -> Sample:
    """``Sort: pea fig kit`` -> chain ``f fig. k kit. p pea.``, answer ``fig kit pea``.

    ``n_steps`` words with distinct first letters, so each step compares one letter.
    """
    steps = draw_steps(rng, knobs)
    by_letter: dict[str, list[str]] = {}
    for word in WORDS.pick(knobs.pool):
        by_letter.setdefault(word[0], []).append(word)
    if steps > len(by_letter):
        raise ValueError(f"sort_words: n_steps={steps} exceeds the {len(by_letter)} first letters in the pool")
    words = [rng.choice(by_letter[letter]) for letter in rng.sample(sorted(by_letter), steps)]
    ordered = sorted(words)
    chain = " ".join(f"{w[0]} {w}." for w in ordered)
    question = rng.choice(SORT_WORDING.pick(knobs.pool)).format(w=" ".join(words))
    prompt = " ".join(distractor_clauses(rng, knobs) + [question])
    return Sample(prompt, chain, " ".join(ordered), "exact", steps)


MAX_DAYS = 20
MONTHS = (("Jan", 31), ("Feb", 28), ("Mar", 31), ("Apr", 30), ("May", 31), ("Jun", 30),
          ("Jul", 31), ("Aug", 31), ("Sep", 30), ("Oct", 31), ("Nov", 30), ("Dec", 31))
DATE_WORDING = Pool(
    train=(("It is {d}.", "Add {k} days.", "What date?"),),
    heldout=(("Today is {d}.", "Wait {k} days.", "Which day is it?"),),
)


def dates(rng: random.Random, knobs: Knobs) -> Sample:
    """``It is Mar 28. Add 9 days. What date?`` -> chain ``Mar 28+9=Mar 37=Apr 6.``, answer ``Apr 6``.

    Each step adds ``1..MAX_DAYS`` days, so a step overflows at most one month (``=Apr 6``). No leap years.
    """
    steps = draw_steps(rng, knobs)
    month = rng.randrange(12)
    day = rng.randint(1, MONTHS[month][1])
    start, add, ask = DATE_WORDING.pick(knobs.pool)[0]
    clauses = [start.format(d=f"{MONTHS[month][0]} {day}")]
    chain = []
    for _ in range(steps):
        k = rng.randint(1, MAX_DAYS)
        clauses.append(add.format(k=k))
        parts = [f"{MONTHS[month][0]} {day}+{k}"]
        day += k
        while True:
            parts.append(f"{MONTHS[month][0]} {day}")
            if day <= MONTHS[month][1]:
                break
            day -= MONTHS[month][1]
            month = (month + 1) % 12
        chain.append("=".join(parts) + ".")
    clauses = interleave(rng, clauses, distractor_clauses(rng, knobs))
    prompt = " ".join(clauses + [ask])
    return Sample(prompt, " ".join(chain), f"{MONTHS[month][0]} {day}", "exact", steps)


TARGETS = {
    "fruits": Pool(train=("figs", "plums", "pears", "limes", "kiwis"), heldout=("grapes", "melons", "mangos")),
    "animals": Pool(train=("cats", "dogs", "cows", "pigs", "hens"), heldout=("goats", "ducks", "owls")),
}
OTHERS = Pool(train=("pens", "cups", "hats", "rugs", "keys"), heldout=("bowls", "lamps", "vases"))
COUNT_WORDING = Pool(train=("How many {c}?",), heldout=("Count the {c}.",))


def count_objects(rng: random.Random, knobs: Knobs) -> Sample:
    """``I have 2 figs, 3 pens and 4 plums. How many fruits?`` -> chain ``figs 2. plums 2+4=6.``, answer ``6``.

    ``n_steps`` items of the asked category (counts ``2..max_operand``) plus one or two other items.
    """
    steps = draw_steps(rng, knobs)
    category = rng.choice(sorted(TARGETS))
    targets = TARGETS[category].pick(knobs.pool)
    if steps > len(targets):
        raise ValueError(f"count_objects: n_steps={steps} exceeds the {len(targets)} {category} in the pool")
    pool_others = OTHERS.pick(knobs.pool)
    items = [(t, True) for t in rng.sample(targets, steps)]
    items += [(o, False) for o in rng.sample(pool_others, rng.randint(1, 2))]
    items = rng.sample(items, len(items))
    counts = [rng.randint(2, knobs.max_operand) for _ in items]
    listed = [f"{c} {name}" for c, (name, _) in zip(counts, items)]
    chain, total = [], 0
    for c, (name, hit) in zip(counts, items):
        if hit:
            chain.append(f"{name} {c}." if not chain else f"{name} {total}+{c}={total + c}.")
            total += c
    clauses = [f"I have {', '.join(listed[:-1])} and {listed[-1]}."]
    clauses = interleave(rng, clauses, distractor_clauses(rng, knobs))
    prompt = " ".join(clauses + [rng.choice(COUNT_WORDING.pick(knobs.pool)).format(c=category)])
    return Sample(prompt, " ".join(chain), str(total), "numeric", steps)
