"""Reference solution of the exercise in notebook 07 (label seven student errors by the rule)."""

LABELS = {
    "a": ("capacity", "arithmetic"),  # in distribution, the teacher solves it; 11+3=15 is false
    "b": ("distribution_mismatch", "too_few_steps"),  # counterpart solved (85%), teacher fails; 3 of 4 steps
    "c": ("both", "copying"),  # counterpart solved and teacher solves; 21 is not in the prompt
    "d": ("unclear", "truncated"),  # in distribution, teacher fails; the budget ran out before an answer
    "e": ("capacity", "wrong_final_step"),  # counterpart NOT solved (30%), teacher solves; 5 is a distractor
    "f": ("capacity", "other"),  # boolean steps hold no numeric equation to check
    "g": ("capacity", "format"),  # no explicit answer; the checker fell back to the last number, 6
}


if __name__ == "__main__":
    from course_lib.exercises.failure import check_failure_labels

    assert check_failure_labels(LABELS)
