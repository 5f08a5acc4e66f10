"""Reference solution of the exercise in notebook 06 (cheapest threshold meeting an accuracy target)."""


def cheapest_threshold(points, target_accuracy):
    """The threshold of the lowest-cost point whose accuracy reaches the target, or None if none does."""
    good = [p for p in points if p.accuracy >= target_accuracy]
    if not good:
        return None
    return min(good, key=lambda p: p.cost).threshold


if __name__ == "__main__":
    from course_lib.exercises.deploy import check_cheapest_threshold

    assert check_cheapest_threshold(cheapest_threshold)
