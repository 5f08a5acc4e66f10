"""Time the lab workbook: wall time and peak RSS per notebook, against the workbook's budgets.

Baselines (issue 8, "The chapter notebooks"): in the full lab profile each notebook must run in at most
3 minutes and the whole workbook in at most 15 minutes on a 2-core CPU; in smoke mode (CI) each notebook
must run well under a minute. The bench prints measured / budget for each, so a ratio above 1 is a
budget broken.

    python bench/workbook.py                      # smoke, then full, every notebook, 1 torch thread
    python bench/workbook.py --mode full 00 03    # some notebooks, full lab profile only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from course_lib.profiles import CACHE_ENV
from course_lib.runner import NOTEBOOK_DIR, find_notebooks, format_table, run_notebooks

# mode -> (per notebook, whole workbook) in seconds. Smoke: "well under a minute" per notebook, so at most
# 60 s each, times the 8 notebooks of the chapter map.
BUDGETS_S = {
    "full": (180.0, 900.0),
    "smoke": (60.0, 8 * 60.0),
}


def ratio_table(runs, mode: str) -> str:
    """Measured wall time / budget per notebook and for the total."""
    per_notebook, workbook = BUDGETS_S[mode]
    lines = [f"{'notebook':<40} {'time s':>8} {'budget s':>9} {'ratio':>6}"]
    for run in runs:
        flag = "" if run.ok else f"  ({run.status})"
        lines.append(
            f"{run.name:<40} {run.wall_s:>8.1f} {per_notebook:>9.0f} {run.wall_s / per_notebook:>6.2f}{flag}"
        )
    total = sum(r.wall_s for r in runs)
    lines.append(f"{'workbook total':<40} {total:>8.1f} {workbook:>9.0f} {total / workbook:>6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks (stem or prefix); default: all")
    parser.add_argument("--mode", choices=("smoke", "full", "both"), default="both")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each kernel (default 1)")
    parser.add_argument("--notebooks", default=str(NOTEBOOK_DIR))
    parser.add_argument("--out", default="build/bench", help="executed copies and results.json go here")
    parser.add_argument("--warm", action="store_true",
                        help="reuse the notebooks' cache (course_lib.profiles.cache_dir()); default: a fresh, empty "
                             "cache per mode, i.e. a learner's first run")
    args = parser.parse_args(argv)
    paths = find_notebooks(args.names, args.notebooks)
    modes = ("smoke", "full") if args.mode == "both" else (args.mode,)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"torch threads per kernel: {args.threads}; profile: lab; cache: {'warm' if args.warm else 'cold'}"
    )
    results, failed = {}, False
    for mode in modes:
        out = Path(args.out) / mode
        if not args.warm:
            cold = Path(tempfile.mkdtemp(prefix=f"course-cache-{mode}-"))
            os.environ[CACHE_ENV] = str(cold)  # kernels inherit this process's environment
        runs = run_notebooks(paths, out_dir=out, profile="lab", smoke=mode == "smoke", threads=args.threads)
        if not args.warm:
            shutil.rmtree(cold, ignore_errors=True)
        print(f"\n== {mode} ==\n{format_table(runs)}\n\n{ratio_table(runs, mode)}")
        results[mode] = [
            {
                "name": r.name,
                "status": r.status,
                "wall_s": round(r.wall_s, 1),
                "peak_rss_mb": round(r.peak_rss_mb),
            }
            for r in runs
        ]
        failed |= not all(r.ok for r in runs)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(
        json.dumps({"threads": args.threads, "cache": "warm" if args.warm else "cold", "budgets_s": BUDGETS_S,
                    "runs": results}, indent=2)
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
