"""What a routed request costs: a relative price per model call and per generated token.

Units are relative ("one student call with no tokens costs ``student_call``"), so a learner can
plug in their own prices (dollars, GPU-seconds, joules) as long as all four share one unit.
A decoder's compute per generated token is roughly proportional to its parameter count
(about 2·N FLOPs per token), which :meth:`CostModel.from_param_counts` uses as a default price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _check_price(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (a relative price); got {value!r}")


@dataclass(frozen=True)
class CostModel:
    """Relative prices of the two models in a cascade.

    Attributes:
        student_call: fixed cost of one student call (prompt processing, request overhead).
        student_token: cost of one token the student generates.
        teacher_call: fixed cost of one teacher call.
        teacher_token: cost of one token the teacher generates.

    The defaults price the teacher at 10× the student per call and per token.
    """

    student_call: float = 1.0
    student_token: float = 0.01
    teacher_call: float = 10.0
    teacher_token: float = 0.1

    def __post_init__(self) -> None:
        for name in ("student_call", "student_token", "teacher_call", "teacher_token"):
            _check_price(name, getattr(self, name))

    @classmethod
    def from_param_counts(
        cls, student_params: int, teacher_params: int, call_overhead_tokens: float = 100.0
    ) -> CostModel:
        """Prices proportional to parameter count, normalised so that one student token costs 1.

        A call's fixed cost is ``call_overhead_tokens`` tokens' worth of compute (prompt processing).
        Example: a 1.5B teacher and a 0.5B student give a teacher 3× the student per token.
        """
        for name, n in (("student_params", student_params), ("teacher_params", teacher_params)):
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                raise ValueError(f"{name} must be a positive integer parameter count; got {n!r}")
        _check_price("call_overhead_tokens", call_overhead_tokens)
        ratio = teacher_params / student_params
        return cls(
            student_call=call_overhead_tokens,
            student_token=1.0,
            teacher_call=call_overhead_tokens * ratio,
            teacher_token=ratio,
        )

    def student_cost(self, tokens: float) -> float:
        """Cost of one student call that generated ``tokens`` tokens."""
        return self.student_call + self.student_token * tokens

    def teacher_cost(self, tokens: float) -> float:
        """Cost of one teacher call that generated ``tokens`` tokens."""
        return self.teacher_call + self.teacher_token * tokens
