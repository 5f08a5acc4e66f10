"""Is this model output right? Answer extraction and checking per answer type, a sandbox for model-written
code, and reward functions in TRL's contract (see each module's docstring)."""

from course_lib.rewards.answers import (
    CheckResult,
    Extraction,
    check_answer,
    check_answer_raw,
    extract_answer,
    math_equal,
    parse_number,
    resolve_label,
)
from course_lib.rewards.rewards import (
    REWARD_FUNCS,
    accuracy_reward,
    completion_text,
    format_reward,
    format_score,
    make_composite_reward,
)
from course_lib.rewards.sandbox import SandboxResult, run_code, run_many

__all__ = [
    "REWARD_FUNCS",
    "CheckResult",
    "Extraction",
    "SandboxResult",
    "accuracy_reward",
    "check_answer",
    "check_answer_raw",
    "completion_text",
    "extract_answer",
    "format_reward",
    "format_score",
    "make_composite_reward",
    "math_equal",
    "parse_number",
    "resolve_label",
    "run_code",
    "run_many",
]
