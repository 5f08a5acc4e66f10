"""Evaluation throughput of the lab student on 1,000 problems, and the share of time spent checking answers.

Baseline: generation alone (``course_lib.models.generate`` on the same problems, same settings). We time
``evaluate_reasoning_quality`` end to end (no teacher, no embedding model), then again with every
generation served from its cache (scoring and summarising only), and, on the same completions, the
answer checker alone (``course_lib.rewards.answers.check_answer``, once per completion),
then print problems/s and each part's share of the end-to-end time.

    python bench/eval_throughput.py                      # shipped chain-distilled student, 1 thread
    python bench/eval_throughput.py --student random     # an untrained tiny-1m (writes no answers)
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from course_lib.data.tasks import lab_suite
from course_lib.eval.suite import evaluate_reasoning_quality
from course_lib.models.generate import generate
from course_lib.models.tiny import build_tiny_model
from course_lib.profiles import use_profile
from course_lib.rewards.answers import check_answer


def load_student(kind: str):
    from course_lib.models.lab import load_lab_student, load_lab_teacher

    if kind == "random":
        return build_tiny_model("tiny-1m", seed=0)
    return load_lab_teacher() if kind == "teacher" else load_lab_student(kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--student", default="chain", help="lab student kind (chain, answer, grpo, base), teacher, or random"
    )
    parser.add_argument("--n", type=int, default=1000, help="number of problems")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    profile = use_profile("lab", smoke=False)
    n_tasks = len(lab_suite(1, seed=0))
    problems = lab_suite(-(-args.n // n_tasks), seed=7, split="test")[: args.n]
    model, tok = load_student(args.student)
    settings = {"max_new_tokens": profile.max_new_tokens, "batch_size": args.batch_size}

    t0 = time.perf_counter()
    gens = generate(model, tok, problems, progress=True, **settings)
    t_gen = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        kw = {"embedder": False, "progress": True, "cache_path": Path(tmp) / "gens.json", **settings}
        t0 = time.perf_counter()
        report = evaluate_reasoning_quality((model, tok), None, problems, **kw)
        t_eval = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate_reasoning_quality((model, tok), None, problems, **kw)
        t_cached = time.perf_counter() - t0

    t0 = time.perf_counter()
    for p, g in zip(problems, gens):
        check_answer(p, g[0].text)
    t_check = time.perf_counter() - t0

    acc = report.metrics["in_distribution"]["overall"]["student"]["accuracy"]
    tokens = sum(n for r in report.records for n in r.student.num_tokens)
    print(
        f"machine: {platform.processor() or platform.machine()}, torch threads: {torch.get_num_threads()}, "
        f"student: {args.student}, problems: {len(problems)}, batch size: {args.batch_size}, "
        f"max_new_tokens: {profile.max_new_tokens}, generated tokens: {tokens}"
    )
    print(f"student accuracy: {acc['value']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}]")
    print(f"{'part':<38}{'seconds':>9}{'problems/s':>12}{'share of eval':>15}")
    rows = [
        ("generation alone (baseline)", t_gen),
        ("evaluate_reasoning_quality, end to end", t_eval),
        ("evaluate again, generations from cache", t_cached),
        ("answer checking (check_answer)", t_check),
    ]
    for name, t in rows:
        print(f"{name:<38}{t:>9.2f}{len(problems) / t:>12.1f}{t / t_eval:>15.1%}")
    print(f"evaluation overhead over generation alone: x{t_eval / t_gen:.2f}")


if __name__ == "__main__":
    main()
