"""Every notebook is committed stripped, is on the chapter map, and executes headless in smoke mode.

The execution test is what makes the notebooks' own asserts count in CI: it runs each notebook in
``notebooks/`` (found by glob, so new notebooks are picked up) through the workbook runner with
``COURSE_SMOKE=1`` and one torch thread, and fails with the notebook, cell and error.
"""

from pathlib import Path

import nbformat
import pytest

from course_lib.chapter_map import CHAPTER_MAP
from course_lib.runner import run_notebook
from course_lib.setup import setup_cell_source

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 300


def test_notebook_00_exists():
    assert ROOT / "notebooks" / "00_setup_and_tour.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"
    )
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state in the notebook metadata"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_starts_with_the_standard_setup_cell(path):
    """One place names the repository and tag (course_lib.setup); every notebook's first cell follows it."""
    first_code = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert first_code.source == setup_cell_source(), (
        f"{path.name}: the first code cell must be course_lib.setup.setup_cell_source() verbatim"
    )


def test_every_notebook_is_on_the_chapter_map_and_in_the_readme():
    mapped = {entry.notebook for entry in CHAPTER_MAP}
    assert {p.stem for p in NOTEBOOKS} <= mapped, "rename the notebook or add it to course_lib.chapter_map"
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in sorted(mapped) if name not in readme]
    assert not missing, f"README's chapter map lacks {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_executes_headless_in_smoke_mode(path, tmp_path):
    run = run_notebook(path, smoke=True, threads=1, timeout_s=TIMEOUT_S, out_dir=tmp_path)
    assert run.ok, f"{path.name} {run.status} at {run.error} (executed copy: {run.output})"
