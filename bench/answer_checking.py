"""Answer-checking throughput: checks per second on a mixed batch of numeric, multiple-choice and math answers.

The batch mimics what GRPO scores every step: R1-formatted and untagged completions, right and wrong, in
GSM8K style (``#### 1,234``, ``$1,234``, units), ARC/LogiQA style (letters, ``(B)``, choice text, digit
labels) and MATH style (``\\frac{1}{2}`` vs ``0.5``, radicals, intervals, polynomials, tuples: these go
through math-verify; random coefficients, so few pairs repeat and the parse cache helps little). One
thread, the main one (math-verify's timeouts use ``signal.alarm``). A warm-up pass (imports,
math-verify's first parse) is excluded and reported separately.

    python bench/answer_checking.py --n 600
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time

from course_lib.data.schema import format_completion
from course_lib.rewards.answers import check_answer_raw

ARC_META = {"choices": ["dry palms", "wet palms", "oily palms", "lotion"], "labels": ["A", "B", "C", "D"],
            "original_labels": ["1", "2", "3", "4"]}


def numeric_item(rng: random.Random) -> tuple[str, str, str, dict]:
    gold = rng.randint(1, 99_999)
    shown = gold if rng.random() < 0.7 else gold + rng.choice([-1, 1, 10])
    text = rng.choice([f"Work...\n#### {shown:,}", format_completion("a=b+c.", f"${shown:,}"),
                       f"So the answer is {shown} dollars.", format_completion("steps", str(shown))])
    return "numeric", str(gold), text, {}


def choice_item(rng: random.Random) -> tuple[str, str, str, dict]:
    gold = rng.choice("ABCD")
    said = gold if rng.random() < 0.7 else rng.choice("ABCD")
    index = "ABCD".index(said)
    text = rng.choice([format_completion("c", said), f"The answer is ({said}).", format_completion("c", str(index + 1)),
                       format_completion("c", ARC_META["choices"][index])])
    return "multiple_choice", gold, text, ARC_META


def math_pair(rng: random.Random) -> tuple[str, str]:
    """A random (gold, answer) pair: equivalent forms most of the time, a wrong value otherwise."""
    a, b, q = rng.randint(1, 9), rng.randint(10, 30), rng.choice([2, 4, 5, 8])
    off = 0 if rng.random() < 0.7 else 1
    return rng.choice([
        (f"\\frac{{{a}}}{{{q}}}", f"{(a + off) / q:g}"),
        (f"\\frac{{{a}}}{{{q}}}", f"\\dfrac{{{a * 2 + off}}}{{{q * 2}}}"),
        (f"x^2+{2 * a}x+{a * a}", f"(x+{a + off})^2"),
        (f"{a}\\sqrt{{{q + 1}}}", f"\\sqrt{{{a * a * (q + 1) + off}}}"),
        (f"[{a},{b})", f"[{a}, {b + off})"),
        (f"({a}, \\frac{{\\pi}}{{{q}}})", f"\\left({a + off}, \\frac{{\\pi}}{{{q}}}\\right)"),
    ])


def math_item(rng: random.Random) -> tuple[str, str, str, dict]:
    gold, said = math_pair(rng)
    text = rng.choice([format_completion("algebra", said), f"Hence $\\boxed{{{said}}}$."])
    return "math", gold, text, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=600, help="items in the batch (a third of each kind)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    makers = (numeric_item, choice_item, math_item)
    batch = [makers[i % 3](rng) for i in range(args.n)]
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.2f}; one thread (the main one); {len(batch)} items")
    start = time.perf_counter()
    for kind, gold, text, meta in (makers[i](random.Random(i)) for i in range(3)):
        check_answer_raw(kind, gold, text, meta)
    print(f"warm-up (imports, first math-verify parse): {time.perf_counter() - start:.2f} s")
    per_kind: dict[str, list[float]] = {}
    correct: dict[str, int] = {}
    start = time.perf_counter()
    for kind, gold, text, meta in batch:
        t = time.perf_counter()
        correct[kind] = correct.get(kind, 0) + check_answer_raw(kind, gold, text, meta).correct
        per_kind.setdefault(kind, []).append(time.perf_counter() - t)
    total = time.perf_counter() - start
    print(f"{'answer type':<16} {'items':>6} {'correct':>8} {'checks/s':>10} {'mean ms':>8}")
    for kind, times in per_kind.items():
        print(f"{kind:<16} {len(times):>6} {correct[kind]:>8} {len(times) / sum(times):>10.0f} "
              f"{1000 * sum(times) / len(times):>8.3f}")
    print(f"{'mixed batch':<16} {len(batch):>6} {sum(correct.values()):>8} {len(batch) / total:>10.0f} "
          f"{1000 * total / len(batch):>8.3f}")


if __name__ == "__main__":
    main()
