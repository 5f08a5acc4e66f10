"""Reference solution of the exercise in notebook 00 (parameters of the token-embedding matrix)."""


def embedding_parameters(spec, vocab_size):
    """One row of ``hidden_size`` numbers per token; tied with the output layer, so counted once."""
    return vocab_size * spec.hidden_size


if __name__ == "__main__":
    from course_lib.exercises.setup import check_embedding_parameters

    assert check_embedding_parameters(embedding_parameters)
