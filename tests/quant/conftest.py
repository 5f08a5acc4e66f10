"""Shared stand-ins for the quant tests: a tiny random teacher and its copy as the student, and small
arithmetic problems with reference chains (independent of the data helper's generators)."""

import copy
import random

import pytest

from course_lib.data.schema import Problem
from course_lib.models.tiny import build_tiny_model


def arithmetic_problems(n: int, seed: int) -> list[Problem]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(10, 99), rng.randint(0, 9)
        out.append(
            Problem(
                id=f"stand-in/{seed}/{i}",
                source="lab/stand-in",
                domain="math",
                prompt=f"Ann has {a} pens. She gives away {b}. How many now?",
                answer=str(a - b),
                answer_type="numeric",
                chain=f"{a}-{b}={a - b}.",
                difficulty=1,
            )
        )
    return out


@pytest.fixture(scope="session")
def teacher_and_tokenizer():
    return build_tiny_model("tiny-250k", seed=0)


@pytest.fixture()
def student(teacher_and_tokenizer):
    return copy.deepcopy(teacher_and_tokenizer[0])


@pytest.fixture(scope="session")
def problems():
    return {"train": arithmetic_problems(48, 0), "test": arithmetic_problems(32, 1)}
