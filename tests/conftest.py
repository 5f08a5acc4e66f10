"""Test-wide settings: one torch thread (two collapse on a shared 2-core machine), no network, smoke budgets."""

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("COURSE_SMOKE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Notebooks cache generations; tests start from an empty cache of their own, as CI does.
os.environ.setdefault("COURSE_CACHE_DIR", tempfile.mkdtemp(prefix="course-test-cache-"))

import torch  # noqa: E402

torch.set_num_threads(1)

from hypothesis import settings  # noqa: E402

# Same examples on every run (a property failure reproduces), no per-example deadline on a loaded CPU.
settings.register_profile("workbook", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("workbook")
