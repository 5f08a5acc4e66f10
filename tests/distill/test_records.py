"""Run records: JSON round trip, curves, clear errors."""

import json

import pytest

from course_lib.distill.records import RunRecord, latest_checkpoint


def test_record_round_trips_through_json(tmp_path):
    record = RunRecord(name="sft-chain", config={"lr": 1e-3, "targets": ["chain"]}, seed=7)
    record.log(1, loss=2.5, learning_rate=1e-4)
    record.log(2, loss=1.25)
    record.wall_time_s = 3.5
    record.metrics = {"accuracy": {"all": 0.5}}
    path = record.save(tmp_path)
    assert path.name == "record.json"
    loaded = RunRecord.load(tmp_path)
    assert loaded == record
    assert loaded.curve("loss") == ([1, 2], [2.5, 1.25])
    assert json.loads(path.read_text())["seed"] == 7


def test_truncate_drops_later_points():
    record = RunRecord(name="x")
    for step in range(1, 6):
        record.log(step, loss=float(step))
    record.truncate(3)
    assert record.curve("loss")[0] == [1, 2, 3]


def test_bad_records_fail_clearly(tmp_path):
    with pytest.raises(KeyError, match="curves"):
        RunRecord(name="x").curve("reward")
    with pytest.raises(ValueError, match="name"):
        RunRecord.from_dict({"seed": 1})
    with pytest.raises(ValueError, match="unknown run record fields"):
        RunRecord.from_dict({"name": "x", "colour": "red"})
    with pytest.raises(FileNotFoundError):
        RunRecord.load(tmp_path / "missing.json")
    assert latest_checkpoint(tmp_path / "nowhere") is None
