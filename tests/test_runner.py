"""The headless notebook runner and the ``python -m course_lib`` command line."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_lib import __main__ as cli
from course_lib import runner


def write(folder, name, *cells):
    path = folder / f"{name}.ipynb"
    nbformat.write(new_notebook(cells=list(cells)), path)
    return path


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write(
        folder,
        "00_ok",
        new_markdown_cell("# ok"),
        new_code_cell(
            "import os\nfrom course_lib.runner import report_result\n"
            "report_result('profile', os.environ['COURSE_PROFILE'])\n"
            "report_result('smoke', os.environ['COURSE_SMOKE'])\n"
            "report_result('threads', os.environ.get('OMP_NUM_THREADS', 'unset'))"
        ),
        new_code_cell(
            "block = bytearray(300 * 2**20)  # 300 MiB the memory sampler must see\nimport time; time.sleep(0.5)"
        ),
        new_code_cell("report_result('acc', 2 / 3)"),
    )
    write(
        folder,
        "01_fails",
        new_code_cell("print('RESULT before=1')"),
        new_markdown_cell("text"),
        new_code_cell("raise ValueError('the cell broke')"),
        new_code_cell("print('RESULT after=1')"),
    )
    return folder


def test_run_notebook_collects_results_memory_and_env(notebooks, tmp_path):
    run = runner.run_notebook(
        notebooks / "00_ok.ipynb", profile="hub", smoke=True, threads=1, out_dir=tmp_path / "out"
    )
    assert run.ok and run.error is None and run.name == "00_ok"
    assert run.results == {"profile": "hub", "smoke": "1", "threads": "1", "acc": "0.6667"}
    assert 300 < run.peak_rss_mb < 2000
    assert 0 < run.wall_s < 120
    executed = nbformat.read(run.output, 4)
    assert executed.cells[1].execution_count == 1 and executed.cells[1].outputs


def test_failing_cell_is_named_and_later_cells_skipped(notebooks, tmp_path):
    run = runner.run_notebook(notebooks / "01_fails.ipynb", out_dir=tmp_path / "out")
    assert run.status == "failed" and not run.ok
    assert (run.error.cell_index, run.error.ename, run.error.evalue) == (2, "ValueError", "the cell broke")
    assert run.results == {"before": "1"}
    assert (
        nbformat.read(run.output, 4).cells[2].outputs[-1].output_type == "error"
    )  # the copy is written anyway


def test_timeout_covers_the_whole_notebook(tmp_path):
    path = write(
        tmp_path, "slow", new_code_cell("import time; time.sleep(1)"), new_code_cell("time.sleep(60)")
    )
    run = runner.run_notebook(path, timeout_s=6, out_dir=tmp_path / "out")
    assert run.status == "timeout" and run.error.cell_index == 1
    assert run.wall_s < 30


def test_cli_runs_chosen_notebooks_and_exits_1_on_failure(notebooks, tmp_path, capsys):
    out = tmp_path / "build"
    status = cli.main(
        ["run-notebooks", "00", "01_fails", "--notebooks", str(notebooks), "--out", str(out), "--smoke"]
    )
    assert status == 1
    captured = capsys.readouterr()
    assert "FAILED 01_fails.ipynb cell 2: ValueError: the cell broke" in captured.err
    table = captured.out.splitlines()
    assert any(line.startswith("00_ok") and " ok " in line and "acc=0.6667" in line for line in table)
    assert any(line.startswith("total") and "1/2 ok" in line for line in table)
    summary = json.loads((out / "summary.json").read_text())
    assert [s["status"] for s in summary] == ["ok", "failed"] and summary[1]["error"]["cell_index"] == 2


def test_cli_unknown_notebook_lists_available(notebooks, capsys):
    assert cli.main(["run-notebooks", "99", "--notebooks", str(notebooks)]) == 2
    assert "available: 00_ok, 01_fails" in capsys.readouterr().err


def test_find_notebooks_by_name_stem_prefix_and_path(notebooks):
    everything = runner.find_notebooks([], notebooks)
    assert [p.name for p in everything] == ["00_ok.ipynb", "01_fails.ipynb"]
    for name in ("00", "00_ok", "00_ok.ipynb", str(notebooks / "00_ok.ipynb")):
        assert runner.find_notebooks([name], notebooks)[0].name == "00_ok.ipynb"
    with pytest.raises(ValueError, match="2 notebooks"):
        runner.find_notebooks(["0"], notebooks)


def test_run_notebook_rejects_bad_arguments(notebooks, tmp_path):
    with pytest.raises(FileNotFoundError):
        runner.run_notebook(tmp_path / "missing.ipynb")
    with pytest.raises(ValueError, match="valid profiles are: hub, lab"):
        runner.run_notebook(notebooks / "00_ok.ipynb", profile="gpu")
    with pytest.raises(ValueError, match="timeout_s"):
        runner.run_notebook(notebooks / "00_ok.ipynb", timeout_s=0)


def test_parse_results_reads_stdout_only_and_later_wins():
    cell = new_code_cell("")
    cell.outputs = [
        new_output("stream", name="stdout", text="RESULT a=1\nnoise\nRESULT b = x y\n"),
        new_output("stream", name="stderr", text="RESULT c=3\n"),
        new_output("stream", name="stdout", text="RESULT a=2\nRESULTX d=4\n"),
    ]
    assert runner.parse_results(new_notebook(cells=[cell])) == {"a": "2", "b": "x y"}


@pytest.mark.parametrize("name,value", [("two words", 1), ("a=b", 1), ("", 1), ("ok", "line\nbreak")])
def test_report_result_rejects_ambiguous_lines(name, value):
    with pytest.raises(ValueError):
        runner.report_result(name, value)


def test_format_table_has_total_row():
    runs = [
        runner.NotebookRun("00_a", "ok", 1.25, 100.0, {"x": "1"}),
        runner.NotebookRun("01_b", "failed", 2.0, 300.4, error=runner.CellError(3, "E", "msg")),
    ]
    lines = runner.format_table(runs).splitlines()
    assert lines[0].split() == ["notebook", "status", "time", "s", "peak", "MiB", "results"]
    assert lines[2].split() == ["00_a", "ok", "1.2", "100", "x=1"]
    assert lines[-1].split() == ["total", "1/2", "ok", "3.2", "300"]
