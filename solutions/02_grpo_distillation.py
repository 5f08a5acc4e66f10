"""Reference solution of the exercise in notebook 02 (group-relative advantages, as trl.GRPOTrainer computes them)."""

import torch


def group_advantages(rewards, num_generations):
    """Each reward minus its group's mean, over the group's Bessel-corrected std + 1e-4."""
    groups = torch.tensor(rewards, dtype=torch.float64).view(-1, num_generations)  # (prompts, G)
    mean = groups.mean(dim=1, keepdim=True)
    std = groups.std(dim=1, keepdim=True)  # unbiased: divides by G - 1
    return ((groups - mean) / (std + 1e-4)).flatten().tolist()


if __name__ == "__main__":
    from course_lib.exercises.grpo import check_group_advantages

    assert check_group_advantages(group_advantages)
