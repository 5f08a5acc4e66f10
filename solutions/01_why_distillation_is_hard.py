"""Reference solution of the exercise in notebook 01 (the best-of-K rule for one problem's K chains)."""


def pick_chain(chains):
    """The correct chain with a think block and the highest mean token log-probability, or None."""
    usable = [c for c in chains if c.correct and c.chain is not None]
    if not usable:
        return None
    return max(usable, key=lambda c: c.mean_logprob)


if __name__ == "__main__":
    from course_lib.exercises.distill import check_pick_chain

    assert check_pick_chain(pick_chain)
