"""Execute notebooks headless under a profile and report status, wall time, peak memory and key results.

``python -m course_lib run-notebooks [names...]`` runs each notebook in a fresh ``python3`` kernel with
``COURSE_PROFILE`` / ``COURSE_SMOKE`` set, writes the executed copy to a build folder (also when it
fails) and prints one row per notebook. The first failing cell fails the notebook; any failed
notebook makes the command exit with status 1, naming the notebook, the cell index and the error.

Key results: a notebook prints lines ``RESULT <name>=<value>`` (use :func:`report_result`); the
runner collects them from the cells' standard output and shows them in the table.
nbformat and nbclient are imported only when a notebook runs (importing nbformat costs seconds), so
notebooks can import :func:`report_result` cheaply.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from course_lib.profiles import PROFILES, get_profile

RESULT_PREFIX = "RESULT "
NOTEBOOK_DIR = Path("notebooks")
BUILD_DIR = Path("build/notebooks")
DEFAULT_TIMEOUT_S = 600.0


def report_result(name: str, value) -> str:
    """Print a key result as ``RESULT name=value`` for the runner's table; returns the line.

    Floats are written with 4 significant digits. ``name`` must be one word without ``=``.
    """
    if not name or any(c.isspace() for c in name) or "=" in name:
        raise ValueError(f"result name must be one word without '='; got {name!r}")
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    if "\n" in text:
        raise ValueError(f"result value must fit on one line; got {text!r} for {name!r}")
    line = f"{RESULT_PREFIX}{name}={text}"
    print(line)
    return line


def parse_results(nb) -> dict[str, str]:
    """Collect ``RESULT name=value`` lines from the stdout of every code cell, in order (later wins)."""
    results: dict[str, str] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stdout":
                continue
            for line in output.get("text", "").splitlines():
                if line.startswith(RESULT_PREFIX) and "=" in line:
                    name, value = line[len(RESULT_PREFIX) :].split("=", 1)
                    results[name.strip()] = value.strip()
    return results


@dataclass
class CellError:
    """Where and why a notebook stopped: code-cell position in the notebook (0-based over all cells)."""

    cell_index: int
    ename: str
    evalue: str

    def __str__(self) -> str:
        return f"cell {self.cell_index}: {self.ename}: {self.evalue}"


@dataclass
class NotebookRun:
    """The outcome of executing one notebook.

    Attributes:
        name: notebook file stem, e.g. ``"00_setup_and_tour"``.
        status: ``"ok"``, ``"failed"`` (a cell raised or the kernel died) or ``"timeout"``.
        wall_s: seconds from kernel start to the end of the last cell.
        peak_rss_mb: peak resident memory of the kernel's process tree, MiB (sampled every 0.1 s).
        results: ``RESULT`` lines printed by the notebook, name → value text.
        output: path of the executed copy.
        profile: the profile it ran under; smoke: whether ``COURSE_SMOKE`` was set.
        error: the failing cell, or None.
    """

    name: str
    status: str
    wall_s: float
    peak_rss_mb: float
    results: dict[str, str] = field(default_factory=dict)
    output: str = ""
    profile: str = "lab"
    smoke: bool = False
    error: CellError | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class PeakMemory:
    """Samples the summed RSS of this process's descendants (the kernel and its children) in a thread."""

    def __init__(self, interval_s: float = 0.1):
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _tree_rss(self) -> int:
        total = 0
        for child in psutil.Process(os.getpid()).children(recursive=True):
            try:
                total += child.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._tree_rss())
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def kernel_env(profile: str, smoke: bool, threads: int | None) -> dict[str, str]:
    """The environment a notebook kernel starts with: ours plus the profile, smoke switch and threads."""
    env = dict(os.environ)
    env["COURSE_PROFILE"] = profile
    env["COURSE_SMOKE"] = "1" if smoke else "0"
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def run_notebook(
    path: str | Path,
    *,
    profile: str = "lab",
    smoke: bool = False,
    out_dir: str | Path = BUILD_DIR,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    threads: int | None = None,
    kernel_name: str = "python3",
) -> NotebookRun:
    """Execute one notebook in a fresh kernel (working directory: the notebook's folder).

    Args:
        path: the ``.ipynb`` file.
        profile: ``"lab"`` or ``"hub"``, passed to the kernel as ``COURSE_PROFILE``.
        smoke: set ``COURSE_SMOKE=1`` for the kernel (shrunk budgets).
        out_dir: where the executed copy is written (``<out_dir>/<name>.ipynb``).
        timeout_s: budget for the whole notebook in seconds; each cell may use what is left of it.
        threads: torch/OpenMP threads for the kernel (``OMP_NUM_THREADS``); None keeps ours.
        kernel_name: Jupyter kernel to start.

    Returns:
        A :class:`NotebookRun`; failures are reported in it, not raised.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive; got {timeout_s}")
    get_profile(profile, smoke)  # unknown names fail here, listing the valid ones
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + timeout_s
    current = {"index": -1}
    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        resources={"metadata": {"path": str(path.parent.resolve())}},
        on_cell_start=lambda cell, cell_index: current.update(index=cell_index),
    )
    status, error = "ok", None
    start = time.perf_counter()
    with PeakMemory() as memory:
        try:
            client.execute(env=kernel_env(profile, smoke, threads))
        except CellTimeoutError as exc:
            status, error = "timeout", CellError(current["index"], "CellTimeoutError", _first_line(exc))
        except CellExecutionError as exc:
            status, error = "failed", CellError(current["index"], exc.ename, _first_line(exc.evalue))
        except DeadKernelError as exc:
            status, error = "failed", CellError(current["index"], "DeadKernelError", _first_line(exc))
    wall = time.perf_counter() - start
    out = Path(out_dir) / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return NotebookRun(
        name=path.stem,
        status=status,
        wall_s=wall,
        peak_rss_mb=memory.peak_mb,
        results=parse_results(nb),
        output=str(out),
        profile=profile,
        smoke=smoke,
        error=error,
    )


def _first_line(value) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""


def find_notebooks(names: list[str] | None = None, folder: str | Path = NOTEBOOK_DIR) -> list[Path]:
    """Resolve notebook names to files in ``folder``: all of them (sorted) when ``names`` is empty.

    A name may be a path, a file name, a stem (``00_setup_and_tour``) or a unique prefix (``00``).
    """
    folder = Path(folder)
    available = sorted(folder.glob("*.ipynb"))
    if not names:
        return available
    chosen = []
    for name in names:
        if Path(name).is_file():
            chosen.append(Path(name))
            continue
        matches = [p for p in available if p.name == name or p.stem == name or p.stem.startswith(name)]
        if len(matches) != 1:
            what = "no notebook" if not matches else f"{len(matches)} notebooks"
            raise ValueError(
                f"{what} in {folder} match {name!r}; available: {', '.join(p.stem for p in available) or 'none'}"
            )
        chosen.append(matches[0])
    return chosen


def format_table(runs: list[NotebookRun]) -> str:
    """A fixed-width table: notebook, status, wall time (s), peak RSS (MiB), key results; then a total row."""
    rows = [("notebook", "status", "time s", "peak MiB", "results")]
    for run in runs:
        results = " ".join(f"{k}={v}" for k, v in run.results.items())
        rows.append((run.name, run.status, f"{run.wall_s:.1f}", f"{run.peak_rss_mb:.0f}", results))
    if runs:
        n_ok = sum(r.ok for r in runs)
        total = sum(r.wall_s for r in runs)
        peak = max(r.peak_rss_mb for r in runs)
        rows.append(("total", f"{n_ok}/{len(runs)} ok", f"{total:.1f}", f"{peak:.0f}", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(line.rstrip() for line in lines)


def run_notebooks(
    paths: list[Path],
    *,
    out_dir: str | Path = BUILD_DIR,
    progress=sys.stderr,
    **kwargs,
) -> list[NotebookRun]:
    """Run each notebook (see :func:`run_notebook` for ``kwargs``), announcing each on ``progress``."""
    runs = []
    for path in paths:
        print(f"running {path.name} ...", file=progress, flush=True)
        run = run_notebook(path, out_dir=out_dir, **kwargs)
        print(
            f"  {run.status} in {run.wall_s:.1f} s" + (f" ({run.error})" if run.error else ""), file=progress
        )
        runs.append(run)
    summary = Path(out_dir) / "summary.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps([asdict(r) for r in runs], indent=2))
    return runs


def add_subcommand(subparsers) -> None:
    """Register ``run-notebooks`` on the ``python -m course_lib`` command line."""
    p = subparsers.add_parser("run-notebooks", help="execute notebooks headless and print a results table")
    p.add_argument(
        "names", nargs="*", help="notebooks to run (stem, file name or prefix like 00); default: all"
    )
    p.add_argument("--profile", default="lab", choices=sorted(PROFILES), help="profile (default: lab)")
    p.add_argument("--smoke", action="store_true", help="set COURSE_SMOKE=1 (CI budgets)")
    p.add_argument("--notebooks", default=str(NOTEBOOK_DIR), help="folder of notebooks (default: notebooks)")
    p.add_argument(
        "--out", default=str(BUILD_DIR), help="folder for executed copies (default: build/notebooks)"
    )
    p.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per notebook (default 600)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads in the kernel (OMP_NUM_THREADS)")
    p.set_defaults(handler=_cli)


def _cli(args: argparse.Namespace) -> int:
    try:
        paths = find_notebooks(args.names, args.notebooks)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not paths:
        print(f"error: no notebooks in {args.notebooks}", file=sys.stderr)
        return 2
    runs = run_notebooks(
        paths,
        out_dir=args.out,
        profile=args.profile,
        smoke=args.smoke,
        timeout_s=args.timeout,
        threads=args.threads,
    )
    mode = f"profile {args.profile}" + (", smoke" if args.smoke else "")
    print(f"\nWorkbook ({mode}); executed copies in {args.out}/\n")
    print(format_table(runs))
    failed = [r for r in runs if not r.ok]
    for run in failed:
        print(f"FAILED {run.name}.ipynb {run.error} (see {run.output})", file=sys.stderr)
    return 1 if failed else 0
