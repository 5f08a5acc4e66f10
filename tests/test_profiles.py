"""Profiles: one place for both scales, the smoke switch, clear errors."""

import pytest

from course_lib import profiles


def test_unknown_profile_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown profile 'gpu'; valid profiles are: hub, lab"):
        profiles.get_profile("gpu")


def test_default_is_lab(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    assert profiles.get_profile(smoke=False).name == "lab"
    monkeypatch.setenv(profiles.PROFILE_ENV, " HUB ")
    assert profiles.get_profile(smoke=False).name == "hub"


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_smoke_shrinks_every_budget(name):
    full = profiles.get_profile(name, smoke=False)
    smoke = profiles.get_profile(name, smoke=True)
    assert smoke.smoke and not full.smoke
    assert smoke.steps.keys() == full.steps.keys()
    assert all(2 <= smoke.steps[k] <= max(2, full.steps[k]) for k in full.steps)
    assert sum(smoke.steps.values()) * 10 <= max(sum(full.steps.values()), 10 * 2 * len(full.steps))
    assert smoke.n_eval <= 16 < full.n_eval
    assert 2 <= smoke.num_generations <= full.num_generations
    assert (smoke.teacher, smoke.student) == (full.teacher, full.student)


@pytest.mark.parametrize(
    "value,expected", [("1", True), ("true", True), ("0", False), ("", False), ("off", False)]
)
def test_smoke_switch_reads_environment(monkeypatch, value, expected):
    monkeypatch.setenv(profiles.SMOKE_ENV, value)
    assert profiles.is_smoke() is expected
    assert profiles.get_profile("lab").smoke is expected


def test_use_profile_sets_active(monkeypatch):
    monkeypatch.setattr(profiles, "_active", None)
    assert profiles.use_profile("hub", smoke=True) is profiles.active_profile()
    assert profiles.active_profile().name == "hub"


def test_hub_profile_is_4bit_lora_on_auto_device():
    hub = profiles.get_profile("hub", smoke=False)
    assert hub.load_in_4bit and hub.use_lora and hub.device == "auto"
    assert "R1-Distill-Qwen" in hub.teacher and "Qwen2.5" in hub.student


def test_resolve_device_and_bf16_on_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.resolve_device("auto") == "cpu"
    assert profiles.resolve_device("cuda") == "cuda"
    assert profiles.bf16_supported() is False


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(profiles.CACHE_ENV, str(tmp_path / "cache"))
    assert profiles.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv(profiles.CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert profiles.cache_dir() == tmp_path / ".cache" / "course_lib"
