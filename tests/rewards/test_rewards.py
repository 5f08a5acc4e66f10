"""Reward functions in TRL's contract, down to a real ``trl.GRPOTrainer`` step on a tiny model."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data.schema import Problem, format_completion, to_trl_rows
from course_lib.rewards.rewards import (
    accuracy_reward,
    completion_text,
    format_reward,
    format_score,
    make_composite_reward,
)

ROWS = {
    "answer": ["7", "B", None, "def f(x): return x*2"],
    "answer_type": ["numeric", "multiple_choice", None, "code"],
    "metadata": [json.dumps({}), json.dumps({"choices": ["Ann", "Bob"], "labels": ["A", "B"]}), "{}",
                 json.dumps({"tests": "assert f(2) == 4", "entry_point": "f"})],
}


def test_accuracy_reward_mixes_sources_and_returns_none_where_not_applicable():
    completions = [format_completion("3+4=7", "7"), "The answer is (B).", "anything",
                   "<think>double</think><answer>def f(x): return x*2</answer>"]
    assert accuracy_reward(completions, **ROWS) == [1.0, 1.0, None, 1.0]
    wrong = ["<answer>8</answer>", "<answer>A</answer>", "x", "<answer>def f(x): return x</answer>"]
    assert accuracy_reward(wrong, **ROWS) == [0.0, 0.0, None, 0.0]


def test_accuracy_reward_on_conversational_completions():
    completions = [[{"role": "assistant", "content": format_completion("c", "7")}]] * 2
    assert accuracy_reward(completions, answer=["7", "8"], answer_type=["numeric"] * 2, metadata=["{}"] * 2) == [
        1.0, 0.0]
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert completion_text(None) == ""


def test_accuracy_reward_without_answer_columns_is_all_none_and_misaligned_columns_fail():
    assert accuracy_reward(["<answer>1</answer>"] * 2) == [None, None]
    with pytest.raises(ValueError, match="3 values for 2 completions"):
        accuracy_reward(["a", "b"], answer=["1", "2", "3"], answer_type=["numeric"] * 3)


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("<think>a</think><answer>7</answer>", 1.0),
        ("  <think>a</think>\n<answer>7</answer>\n", 1.0),
        ("<think>a</think> so <answer>7</answer>", 0.75),
        ("<answer>7</answer><think>a</think>", 0.5),
        ("<think>a</think><answer></answer>", 0.25),
        ("<answer>7</answer>", 0.25),
        ("<think>a</think>7", 0.25),
        ("<think>a<think>b</think><answer>7</answer>", 0.25),
        ("plain text 7", 0.0),
    ],
)
def test_format_partial_credit(text, score):
    assert format_score(text) == score
    assert format_reward([text]) == [score]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=80), st.sampled_from(["<think>", "</think>", "<answer>", "</answer>"])),
                max_size=12).map("".join))
def test_fuzz_rewards_never_raise(text):
    assert format_score(text) in (0.0, 0.25, 0.5, 0.75, 1.0)
    (value,) = accuracy_reward([text], answer=["12"], answer_type=["numeric"], metadata=["{}"])
    assert value in (0.0, 1.0)


def test_composite_reward_weights_names_and_none():
    composite = make_composite_reward({"accuracy": 1.0, "format_reward": 0.5})
    assert composite.__name__ == "composite(accuracy_reward=1,format_reward=0.5)"
    completions = [format_completion("c", "7"), "The answer is (A).", "whatever", "<answer>def f(x): return 0</answer>"]
    assert composite(completions=completions, **ROWS) == [1.5, 0.0, 0.0, 0.125]
    only_accuracy = make_composite_reward({accuracy_reward: 2.0})
    assert only_accuracy(completions=completions, **ROWS) == [2.0, 0.0, None, 0.0]


@pytest.mark.parametrize(
    ("weights", "message"),
    [({}, "at least one"), ({"length": 1.0}, "unknown reward 'length'"), ({"format": math.inf}, "finite"),
     ({"format": "1"}, "finite")],
)
def test_composite_reward_rejects_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        make_composite_reward(weights)


@pytest.mark.slow
def test_grpo_trainer_step_calls_our_rewards_with_dataset_columns(tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from course_lib.models.tiny import build_tiny_model, save_model
    from course_lib.profiles import bf16_supported

    model, tokenizer = build_tiny_model("tiny-250k", seed=0)
    save_model(model, tokenizer, tmp_path / "model")
    problem = Problem("t/1", "lab/order", "logic", "Who won? A:Ann B:Bob", "A", "multiple_choice",
                      metadata={"choices": ["Ann", "Bob"], "labels": ["A", "B"]})
    (row,) = to_trl_rows([problem], style="prompt_only")
    # two prompts x two generations = one batch holding a verifiable row and one without a gold answer
    rows = [row, {**row, "prompt": "Say hi.\n", "answer": None, "answer_type": None, "source": "chat"}]
    calls = []

    def recording_accuracy(completions, **kwargs):
        rewards = accuracy_reward(completions, **kwargs)
        calls.append({"columns": {k: kwargs[k] for k in ("answer", "answer_type", "metadata", "source", "domain")},
                      "n": len(completions), "rewards": rewards})
        return rewards

    config = GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=2, max_completion_length=8,
        max_steps=1, learning_rate=1e-4, bf16=bf16_supported(), gradient_checkpointing=False, report_to=[],
        logging_steps=1, save_strategy="no", seed=0,
    )
    trainer = GRPOTrainer(model=str(tmp_path / "model"), reward_funcs=[recording_accuracy, format_reward],
                          args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    trainer.train()
    assert calls, "GRPOTrainer never called the reward function"
    columns, rewards = calls[0]["columns"], calls[0]["rewards"]
    assert calls[0]["n"] == 4 and sorted(columns["source"]) == ["chat", "chat", "lab/order", "lab/order"]
    assert [value is None for value in rewards] == [source == "chat" for source in columns["source"]]
    assert all(value in (0.0, 1.0) for value in rewards if value is not None)
    labelled = [json.loads(m) for m, source in zip(columns["metadata"], columns["source"]) if source != "chat"]
    assert all(meta["labels"] == ["A", "B"] for meta in labelled)
    logged = {key for entry in trainer.state.log_history for key in entry}
    assert {"rewards/recording_accuracy/mean", "rewards/format_reward/mean"} <= logged
