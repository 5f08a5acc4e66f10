"""Reference solution of the exercise in notebook 03 (mixture weights for target shares at temperature T)."""


def weights_for(target_shares, temperature):
    """The sampler uses p_i ∝ w_i^(1/T), so w_i = p_i^T gives back p_i (zero stays zero)."""
    return {group: share**temperature for group, share in target_shares.items()}


if __name__ == "__main__":
    from course_lib.exercises.data import check_weights_for

    assert check_weights_for(weights_for)
