"""Logic lab tasks: ordering with multiple choice (ARC/LogiQA-like) and deduction over made-up categories."""

from __future__ import annotations

import itertools
import random

from course_lib.data.tasks.base import (
    PEOPLE,
    Knobs,
    Pool,
    Sample,
    distractor_clauses,
    draw_steps,
    interleave,
)

LABELS = "ABCD"
BEAT = Pool(train=("beat",), heldout=("outran", "passed"))
ORDER_QUESTIONS = Pool(
    train=(("Who won?", 0), ("Who was last?", -1)),
    heldout=(("Who came first?", 0), ("Who came last?", -1)),
)


def order(rng: random.Random, knobs: Knobs) -> Sample:
    """A race told as shuffled pairwise results; pick the winner or the last runner (labels A-D).

    ``Cal beat Ann. Ann beat Bob. Who was last? A:Bob B:Cal C:Ann`` -> chain ``Cal>Ann. Ann>Bob. So Bob is A.``,
    answer ``A``. One step per relation; ``metadata["choices"]``/``["labels"]`` hold the options.
    """
    steps = draw_steps(rng, knobs)
    people = PEOPLE.pick(knobs.pool)
    if steps + 1 > len(people):
        raise ValueError(f"order: n_steps={steps} needs {steps + 1} names; the {knobs.pool!r} pool has {len(people)}")
    ranking = rng.sample(people, steps + 1)
    pairs = list(itertools.pairwise(ranking))
    verb = rng.choice(BEAT.pick(knobs.pool))
    facts = [f"{a} {verb} {b}." for a, b in rng.sample(pairs, len(pairs))]
    question, position = rng.choice(ORDER_QUESTIONS.pick(knobs.pool))
    gold = ranking[position]
    others = rng.sample([p for p in ranking if p != gold], min(len(LABELS) - 1, len(ranking) - 1))
    choices = rng.sample([gold, *others], len(others) + 1)
    labels = list(LABELS[: len(choices)])
    label = labels[choices.index(gold)]
    options = " ".join(f"{lab}:{c}" for lab, c in zip(labels, choices))
    clauses = interleave(rng, facts, distractor_clauses(rng, knobs))
    prompt = " ".join(clauses + [question, options])
    chain = " ".join(f"{a}>{b}." for a, b in pairs) + f" So {gold} is {label}."
    return Sample(prompt, chain, label, "multiple_choice", steps, {"choices": choices, "labels": labels})


CATEGORIES = Pool(
    train=("wug", "fep", "dap", "zib", "tam", "lop", "mib", "pon", "rif", "sol", "kip", "bem"),
    heldout=("bok", "gup", "kel", "nox", "vad", "yim", "hox"),
)
RULES = Pool(
    train=(("{A}s are {b}s.", "{A}s are not {b}s."),),
    heldout=(("All {a}s are {b}s.", "No {a}s are {b}s."),),
)
DEDUCE_QUESTIONS = Pool(train=("Is {n} a {c}?",), heldout=("Must {n} be a {c}?",))


def deduce(rng: random.Random, knobs: Knobs) -> Sample:
    """Follow a chain of category rules to a yes/no answer.

    ``Wugs are feps. Zibs are not tams. Feps are tams. Rex is a wug. Is Rex a tam?`` -> chain
    ``wug->fep. fep->tam. yes.``. Every prompt holds exactly one negative rule and one rule off the path,
    both about the asked category, so neither the word "not" nor the asked category gives the answer away.
    """
    steps = draw_steps(rng, knobs)
    words = CATEGORIES.pick(knobs.pool)
    if steps + 2 > len(words):
        raise ValueError(f"deduce: n_steps={steps} needs {steps + 2} categories; the pool has {len(words)}")
    cats = rng.sample(words, steps + 2)
    path, off = cats[: steps + 1], cats[-1]
    positive, negative = rng.choice(RULES.pick(knobs.pool))
    yes = rng.random() < 0.5

    def rule(template: str, a: str, b: str) -> str:
        return template.format(A=a.capitalize(), a=a, b=b)

    rules = [rule(positive, a, b) for a, b in itertools.pairwise(path[:-1])]
    chain = [f"{a}->{b}." for a, b in itertools.pairwise(path[:-1])]
    last, goal = path[-2], path[-1]
    if yes:
        rules += [rule(positive, last, goal), rule(negative, off, goal)]
        chain += [f"{last}->{goal}.", "yes."]
    else:
        rules += [rule(negative, last, goal), rule(positive, off, goal)]
        chain += [f"{last}->not {goal}.", "no."]
    name = rng.choice(PEOPLE.pick(knobs.pool))
    facts = rng.sample(rules, len(rules)) + [f"{name} is a {path[0]}."]
    clauses = interleave(rng, facts, distractor_clauses(rng, knobs))
    prompt = " ".join(clauses + [rng.choice(DEDUCE_QUESTIONS.pick(knobs.pool)).format(n=name, c=goal)])
    return Sample(prompt, " ".join(chain), "yes" if yes else "no", "exact", steps)
