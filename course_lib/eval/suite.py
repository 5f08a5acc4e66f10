"""``evaluate_reasoning_quality``: judge a distilled student against its teacher on one set of problems.

Stage 1 (generate): both models answer every problem, in batches, ``k`` samples each; generations are
cached in a JSON file keyed by model fingerprint, generation settings and problem, so a notebook
re-run costs nothing.
Stage 2 (score): every sample's final answer is checked against the gold answer with
``course_lib.rewards.answers.check_answer`` (the one checker of the project); answers are compared
with each other through the same checker, so ``0.5`` and ``1/2`` count as the same answer.
Stage 3 (summarise): accuracy with bootstrap intervals, pass@k and majority vote, teacher–student
agreement, chain similarity, calibration, OOD drops and accuracy by number of reasoning steps,
overall and per domain, in an :class:`EvalReport` that round-trips through JSON.

Definitions used throughout:

* *accuracy* of a model on a problem is its pass rate ``c / k`` (``k = 1``: right or wrong); a set's
  accuracy is the mean over problems, with a percentile-bootstrap 95% interval over problems;
* a model's *prediction* is its majority answer over the k samples (:func:`~course_lib.eval.calibration.majority_vote`);
  with ``k = 1`` it is the single answer. Agreement and "teacher right / wrong" use predictions;
  a model that gives no answer agrees with nobody;
* chain similarity compares the first sample's chain with the teacher's first chain (or with the
  problem's reference chain when no teacher is given);
* calibration: answer-token probability is scored per sample; self-consistency (``k > 1``) per problem,
  the vote share against the prediction's correctness.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_lib.data.ood import families_for, ood_problems
from course_lib.data.schema import Problem
from course_lib.eval import calibration as cal
from course_lib.eval.chains import Embedder, chain_similarity, default_embedder, extract_chain
from course_lib.models.generate import generate
from course_lib.models.tiny import model_fingerprint
from course_lib.profiles import active_profile
from course_lib.rewards.answers import check_answer
from course_lib.stats import bootstrap_ci, pass_at_k

IN_DISTRIBUTION = "in_distribution"
OOD = "ood"
"""Pseudo-split naming every OOD family pooled (for :meth:`EvalReport.select` and friends)."""
STEP_FAMILIES = ("longer_chains",)
"""OOD families that change only the number of reasoning steps; they extend the accuracy-vs-steps curve."""
CONFIDENCE_METHODS = ("answer_prob", "answer_prob_mean", "self_consistency")
CACHE_VERSION = 1


# ----------------------------------------------------------------------------------------------- records
@dataclass
class ModelOutput:
    """One model's k samples on one problem, scored.

    Attributes:
        texts: the k completions.
        answers: the extracted final answer of each sample (None: no answer found).
        correct: whether each sample's answer matches the gold answer.
        answer_prob: probability of each sample's answer tokens (product), 0 when there is no answer.
        answer_prob_mean: mean per-token probability of each sample's answer tokens.
        num_tokens: generated tokens per sample.
        prediction: the majority answer (equivalence-aware), None when no sample answered.
        prediction_correct: whether the prediction matches the gold answer.
        vote_share: share of the k samples that gave the prediction (self-consistency confidence).
    """

    texts: list[str]
    answers: list[str | None]
    correct: list[bool]
    answer_prob: list[float]
    answer_prob_mean: list[float]
    num_tokens: list[int]
    prediction: str | None
    prediction_correct: bool
    vote_share: float

    @property
    def pass_rate(self) -> float:
        """Fraction of samples that are correct (the problem's pass@1 estimate)."""
        return sum(self.correct) / len(self.correct)

    def confidence(self, method: str) -> list[float]:
        """Confidences under a method of :data:`CONFIDENCE_METHODS` (one per sample, or one for the vote)."""
        if method == "self_consistency":
            return [self.vote_share]
        if method in ("answer_prob", "answer_prob_mean"):
            return list(getattr(self, method))
        raise ValueError(f"confidence method must be one of {CONFIDENCE_METHODS}; got {method!r}")

    def outcomes(self, method: str) -> list[bool]:
        """The correctness that :meth:`confidence` under ``method`` predicts."""
        return [self.prediction_correct] if method == "self_consistency" else list(self.correct)


@dataclass
class ProblemRecord:
    """Everything measured on one problem.

    Attributes:
        id, source, domain, difficulty: copied from the :class:`Problem` (difficulty = reasoning steps in lab).
        split: ``"in_distribution"`` or the OOD family name.
        student: the student's scored samples.
        teacher: the teacher's scored samples (None when evaluated without a teacher).
        agree: student and teacher predictions are the same answer (None without a teacher).
        rouge_l, step_alignment, embedding_cosine: chain similarity of the first samples (None when
            there is nothing to compare to, or no embedder was used).
    """

    id: str
    source: str
    domain: str
    difficulty: int
    split: str
    student: ModelOutput
    teacher: ModelOutput | None = None
    agree: bool | None = None
    rouge_l: float | None = None
    step_alignment: float | None = None
    embedding_cosine: float | None = None

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> ProblemRecord:
        row = dict(row)
        row["student"] = ModelOutput(**row["student"])
        row["teacher"] = ModelOutput(**row["teacher"]) if row["teacher"] is not None else None
        return cls(**row)


# ------------------------------------------------------------------------------------------------ report
@dataclass
class EvalReport:
    """The result of :func:`evaluate_reasoning_quality`.

    Attributes:
        config: settings and model names the numbers were measured with.
        records: one :class:`ProblemRecord` per evaluated problem (in-distribution and OOD).
        metrics: the summary computed from ``records`` by :func:`summarize` (see there for its layout).
    """

    config: dict[str, Any]
    records: list[ProblemRecord]
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """Serialise to a JSON string; also write it to ``path`` when given."""
        text = json.dumps(dataclasses.asdict(self), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike) -> EvalReport:
        """Inverse of :meth:`to_json`: a JSON string, or a path to a file written by it."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            text = Path(source).read_text()
        raw = json.loads(text)
        return cls(
            config=raw["config"],
            records=[ProblemRecord.from_dict(r) for r in raw["records"]],
            metrics=raw["metrics"],
        )

    def select(self, split: str | None = IN_DISTRIBUTION, domain: str | None = None) -> list[ProblemRecord]:
        """Records of one split (``"ood"``: every OOD family pooled; None: all) and optionally one domain."""

        def in_split(r: ProblemRecord) -> bool:
            return split is None or r.split == split or (split == OOD and r.split != IN_DISTRIBUTION)

        return [r for r in self.records if in_split(r) and (domain is None or r.domain == domain)]

    @property
    def splits(self) -> list[str]:
        """``"in_distribution"`` followed by the OOD families present, in order of first appearance."""
        return list(dict.fromkeys([IN_DISTRIBUTION] + [r.split for r in self.records]))

    def calibration_data(
        self, split: str | None = IN_DISTRIBUTION, method: str = "answer_prob", model: str = "student"
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(confidences, correct)`` arrays for a split, a confidence method and ``"student"``/``"teacher"``."""
        outputs = [getattr(r, model) for r in self.select(split)]
        if any(o is None for o in outputs):
            raise ValueError(
                f"no {model} outputs in this report; model must be 'student' or 'teacher' (if evaluated)"
            )
        conf = [c for o in outputs for c in o.confidence(method)]
        correct = [y for o in outputs for y in o.outcomes(method)]
        return np.asarray(conf, dtype=float), np.asarray(correct, dtype=bool)

    def reliability(
        self,
        split: str | None = IN_DISTRIBUTION,
        method: str = "answer_prob",
        model: str = "student",
        n_bins: int = 10,
        strategy: str = "uniform",
    ) -> cal.ReliabilityDiagram:
        """Reliability-diagram data for one split, confidence method and model."""
        conf, correct = self.calibration_data(split, method, model)
        return cal.reliability_diagram(conf, correct, n_bins=n_bins, strategy=strategy)

    def summary_table(self) -> str:
        """The measured numbers as plain-text tables (accuracy, chains and calibration, OOD, steps)."""
        return format_summary(self.metrics, self.config)

    def __str__(self) -> str:
        return self.summary_table()


# --------------------------------------------------------------------------------------- summarising
def _est(values: Sequence[float], n_boot: int, seed: int) -> dict | None:
    return bootstrap_ci(values, n_boot=n_boot, seed=seed).to_dict() if len(values) else None


def _calibration_metrics(outputs: Sequence[ModelOutput], method: str, n_bins: int) -> dict[str, float]:
    conf = [c for o in outputs for c in o.confidence(method)]
    correct = [y for o in outputs for y in o.outcomes(method)]
    return {
        "ece": cal.expected_calibration_error(conf, correct, n_bins=n_bins, strategy="uniform"),
        "ece_quantile": cal.expected_calibration_error(conf, correct, n_bins=n_bins, strategy="quantile"),
        "brier": cal.brier_score(conf, correct),
        "n": len(conf),
    }


def model_metrics(
    outputs: Sequence[ModelOutput], *, n_boot: int = 1000, seed: int = 0, n_bins: int = 10
) -> dict:
    """Accuracy (pass@1, bootstrap CI), pass@k and maj@k (k > 1) and calibration of one model's outputs."""
    k = len(outputs[0].correct)
    out: dict[str, Any] = {"accuracy": _est([o.pass_rate for o in outputs], n_boot, seed)}
    methods = ["answer_prob", "answer_prob_mean"]
    if k > 1:
        out[f"pass@{k}"] = _est([pass_at_k(k, sum(o.correct), k) for o in outputs], n_boot, seed)
        out[f"maj@{k}"] = _est([float(o.prediction_correct) for o in outputs], n_boot, seed)
        methods.append("self_consistency")
    out["calibration"] = {m: _calibration_metrics(outputs, m, n_bins) for m in methods}
    return out


def group_metrics(
    records: Sequence[ProblemRecord], *, n_boot: int = 1000, seed: int = 0, n_bins: int = 10
) -> dict:
    """Metrics of one group of records (a split, a domain): per model, agreement, chain similarity.

    Layout: ``{"n", "student": model_metrics, "teacher": model_metrics | None, "agreement",
    "student_accuracy_teacher_right", "student_accuracy_teacher_wrong" (estimates or None),
    "chain": {measure: mean | None}}``.
    """
    if not records:
        raise ValueError("group_metrics needs at least one record; got none")
    kw = {"n_boot": n_boot, "seed": seed, "n_bins": n_bins}
    has_teacher = records[0].teacher is not None
    out: dict[str, Any] = {
        "n": len(records),
        "student": model_metrics([r.student for r in records], **kw),
        "teacher": model_metrics([r.teacher for r in records], **kw) if has_teacher else None,
        "agreement": _est([float(r.agree) for r in records], n_boot, seed) if has_teacher else None,
        "student_accuracy_teacher_right": None,
        "student_accuracy_teacher_wrong": None,
    }
    if has_teacher:
        right = [r.student.pass_rate for r in records if r.teacher.prediction_correct]
        wrong = [r.student.pass_rate for r in records if not r.teacher.prediction_correct]
        out["student_accuracy_teacher_right"] = _est(right, n_boot, seed)
        out["student_accuracy_teacher_wrong"] = _est(wrong, n_boot, seed)
    chain = {}
    for measure in ("rouge_l", "step_alignment", "embedding_cosine"):
        values = [getattr(r, measure) for r in records if getattr(r, measure) is not None]
        chain[measure] = float(np.mean(values)) if values else None
    out["chain"] = chain
    return out


def _accuracy(group: dict, model: str) -> float | None:
    return group[model]["accuracy"]["value"] if group.get(model) else None


def steps_curve(records: Sequence[ProblemRecord], *, n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """Accuracy by number of reasoning steps (``difficulty``), student and teacher side by side.

    Returns one row per step count, ascending: ``{"steps", "n", "student": estimate, "teacher": estimate | None}``.
    """
    rows = []
    for steps in sorted({r.difficulty for r in records}):
        group = [r for r in records if r.difficulty == steps]
        teacher = [r.teacher.pass_rate for r in group if r.teacher is not None]
        rows.append(
            {
                "steps": int(steps),
                "n": len(group),
                "student": _est([r.student.pass_rate for r in group], n_boot, seed),
                "teacher": _est(teacher, n_boot, seed),
            }
        )
    return rows


def _ood_group(shifted: Sequence[ProblemRecord], ind: Sequence[ProblemRecord], **kw) -> dict:
    """Group metrics of OOD records plus the same-source in-distribution baseline and the drop from it."""
    sources = {r.source for r in shifted}
    base = [r for r in ind if r.source in sources] or ind
    group, base_group = group_metrics(shifted, **kw), group_metrics(base, **kw)
    baseline = {m: _accuracy(base_group, m) for m in ("student", "teacher")}
    group["baseline"] = baseline
    group["drop"] = {
        m: (baseline[m] - _accuracy(group, m) if baseline[m] is not None else None)
        for m in ("student", "teacher")
    }
    return group


def summarize(
    records: Sequence[ProblemRecord], *, n_boot: int = 1000, seed: int = 0, n_bins: int = 10
) -> dict:
    """All report metrics from records.

    Layout::

        {"in_distribution": {"overall": group, "by_domain": {domain: group}},
         "ood": {family: {**group, "baseline": {"student": acc, "teacher": acc},
                          "drop": {"student": pts, "teacher": pts}}},
         "ood_overall": the same for all OOD records pooled (None without OOD),
         "by_steps": [row, ...]}

    ``group`` is :func:`group_metrics`. An OOD family's *baseline* is the in-distribution accuracy on the
    problems from the same sources (tasks) as that family's problems (all in-distribution problems when
    none share a source); *drop* = baseline − OOD accuracy. ``by_steps`` (:func:`steps_curve`) covers the
    in-distribution problems and the families in :data:`STEP_FAMILIES`.
    """
    kw = {"n_boot": n_boot, "seed": seed, "n_bins": n_bins}
    ind = [r for r in records if r.split == IN_DISTRIBUTION]
    if not ind:
        raise ValueError("summarize needs in-distribution records; got only OOD splits")
    domains = list(dict.fromkeys(r.domain for r in ind))
    out: dict[str, Any] = {
        IN_DISTRIBUTION: {
            "overall": group_metrics(ind, **kw),
            "by_domain": {d: group_metrics([r for r in ind if r.domain == d], **kw) for d in domains},
        },
        "ood": {},
    }
    for family in dict.fromkeys(r.split for r in records if r.split != IN_DISTRIBUTION):
        out["ood"][family] = _ood_group([r for r in records if r.split == family], ind, **kw)
    ood = [r for r in records if r.split != IN_DISTRIBUTION]
    out["ood_overall"] = _ood_group(ood, ind, **kw) if ood else None
    out["by_steps"] = steps_curve(
        [r for r in records if r.split in (IN_DISTRIBUTION, *STEP_FAMILIES)], n_boot=n_boot, seed=seed
    )
    return out


# ------------------------------------------------------------------------------------------ formatting
def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _ci(est: dict | None) -> str | None:
    return None if est is None else f"{est['value']:.3f} [{est['low']:.3f}, {est['high']:.3f}]"


def _num(x: float | None, digits: int = 3) -> str | None:
    return None if x is None else f"{x:.{digits}f}"


def _ece(group: dict, model: str = "student", method: str = "answer_prob") -> str | None:
    m = group.get(model)
    return _num(m["calibration"][method]["ece"]) if m and method in m["calibration"] else None


def format_summary(metrics: dict, config: dict) -> str:
    """Plain-text tables of a :func:`summarize` result (what :meth:`EvalReport.summary_table` prints)."""
    ind = metrics[IN_DISTRIBUTION]
    groups = [("overall", ind["overall"])] + list(ind["by_domain"].items())
    k = config.get("k", 1)
    acc_rows, chain_rows = [], []
    for name, g in groups:
        s, t = g["student"], g["teacher"]
        acc_rows.append(
            [
                name,
                g["n"],
                _ci(s["accuracy"]),
                _ci(t["accuracy"]) if t else None,
                _ci(s.get(f"pass@{k}")) if k > 1 else None,
                _ci(g["agreement"]),
                _ci(g["student_accuracy_teacher_right"]),
                _ci(g["student_accuracy_teacher_wrong"]),
            ]
        )
        ch = g["chain"]
        cal_s = s["calibration"]["answer_prob"]
        chain_rows.append(
            [
                name,
                _num(ch["rouge_l"]),
                _num(ch["embedding_cosine"]),
                _num(ch["step_alignment"]),
                _num(cal_s["ece"]),
                _num(cal_s["ece_quantile"]),
                _num(cal_s["brier"]),
                _ece(g, "student", "self_consistency"),
                _ece(g, "teacher"),
            ]
        )
    parts = [
        (
            f"Evaluation of {config.get('student', 'student')} against {config.get('teacher', 'no teacher')}"
            f" (k={k}, temperature={config.get('temperature')})"
        ),
        "",
        "Accuracy (in distribution; 95% bootstrap CI)",
        _table(
            [
                "group",
                "n",
                "student",
                "teacher",
                f"student pass@{k}",
                "agreement",
                "S | T right",
                "S | T wrong",
            ],
            acc_rows,
        ),
        "",
        "Chain similarity and calibration (student; answer-token probability unless noted)",
        _table(
            [
                "group",
                "ROUGE-L",
                "cosine",
                "step align",
                "ECE",
                "ECE (mass)",
                "Brier",
                "ECE (self-cons.)",
                "teacher ECE",
            ],
            chain_rows,
        ),
    ]
    if metrics["ood"]:
        ood_rows = [
            [
                IN_DISTRIBUTION,
                ind["overall"]["n"],
                _ci(ind["overall"]["student"]["accuracy"]),
                None,
                _ci((ind["overall"]["teacher"] or {}).get("accuracy")),
                None,
                _ece(ind["overall"]),
            ]
        ]
        for fam, g in [*metrics["ood"].items(), ("all OOD", metrics["ood_overall"])]:
            ood_rows.append(
                [
                    fam,
                    g["n"],
                    _ci(g["student"]["accuracy"]),
                    _num(g["drop"]["student"]),
                    _ci(g["teacher"]["accuracy"]) if g["teacher"] else None,
                    _num(g["drop"]["teacher"]),
                    _ece(g),
                ]
            )
        parts += [
            "",
            "Out of distribution (drop = same-task in-distribution accuracy - OOD accuracy)",
            _table(["split", "n", "student", "drop", "teacher", "teacher drop", "student ECE"], ood_rows),
        ]
    step_rows = [[r["steps"], r["n"], _ci(r["student"]), _ci(r["teacher"])] for r in metrics["by_steps"]]
    parts += ["", "Accuracy by reasoning steps", _table(["steps", "n", "student", "teacher"], step_rows)]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------- generation
def problem_key(problem: Problem) -> str:
    """Cache key of a problem: its id and a hash of its prompt (a changed prompt is a new problem)."""
    return f"{problem.id}#{hashlib.sha1(problem.prompt.encode()).hexdigest()[:10]}"


def _load_cache(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {"version": CACHE_VERSION, "entries": {}}
    raw = json.loads(path.read_text())
    if raw.get("version") != CACHE_VERSION:
        raise ValueError(
            f"cache {path} has version {raw.get('version')!r}; expected {CACHE_VERSION} (delete it)"
        )
    return raw


def _save_cache(path: Path, cache: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(cache))
    tmp.replace(path)


def cached_generate(
    model,
    tokenizer,
    problems: Sequence[Problem],
    *,
    cache: dict,
    settings: dict,
    batch_size: int,
    progress: bool,
) -> tuple[list[list[dict]], bool]:
    """Generations for each problem (``{"text", "token_ids", "logprobs"}`` per sample), generating only
    what ``cache`` lacks under this model and these settings. Returns ``(generations, cache_changed)``."""
    key = model_fingerprint(model) + "|" + json.dumps(settings, sort_keys=True)
    entry = cache["entries"].setdefault(key, {})
    missing = list({problem_key(p): p for p in problems if problem_key(p) not in entry}.values())
    if missing:
        outs = generate(
            model,
            tokenizer,
            missing,
            num_samples=settings["k"],
            temperature=settings["temperature"],
            top_p=settings["top_p"],
            max_new_tokens=settings["max_new_tokens"],
            batch_size=batch_size,
            chat=settings["chat"],
            seed=settings["seed"],
            progress=progress,
        )
        for p, gens in zip(missing, outs):
            entry[problem_key(p)] = [
                {"text": g.text, "token_ids": g.token_ids, "logprobs": g.logprobs} for g in gens
            ]
    return [entry[problem_key(p)] for p in problems], bool(missing)


# -------------------------------------------------------------------------------------------- scoring
def _normalise_code(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def same_answer(problem: Problem, a: str, b: str) -> bool:
    """Whether two extracted answers to ``problem`` are the same answer.

    Uses the project's checker with ``a`` in the role of the gold answer, so equivalent forms agree
    (``0.5`` and ``\\frac{1}{2}``); code answers are compared as text with whitespace collapsed
    (running two programs against each other has no single right meaning).
    """
    if a == b:
        return True
    if problem.answer_type == "code":
        return _normalise_code(a) == _normalise_code(b)
    return bool(check_answer(dataclasses.replace(problem, answer=a), f"<answer>{b}</answer>").correct)


def score_samples(problem: Problem, samples: Sequence[dict], tokenizer) -> ModelOutput:
    """Check each sample against the gold answer, measure answer confidence and take the majority vote."""
    checks = [check_answer(problem, s["text"]) for s in samples]
    answers = [c.extracted for c in checks]
    vote, share = cal.majority_vote(answers, lambda a, b: same_answer(problem, a, b))

    def confidence(sample: dict, extracted: str | None, reduce: str) -> float:
        return cal.answer_confidence(
            sample["text"], sample["token_ids"], sample["logprobs"], tokenizer, reduce, answer=extracted
        )

    if vote is None:
        vote_correct = False
    else:
        winner = next(
            c for c in checks if c.extracted is not None and same_answer(problem, vote, c.extracted)
        )
        vote_correct = bool(winner.correct)
    return ModelOutput(
        texts=[s["text"] for s in samples],
        answers=answers,
        correct=[bool(c.correct) for c in checks],
        answer_prob=[confidence(s, c.extracted, "prod") for s, c in zip(samples, checks)],
        answer_prob_mean=[confidence(s, c.extracted, "mean") for s, c in zip(samples, checks)],
        num_tokens=[len(s["token_ids"]) for s in samples],
        prediction=vote,
        prediction_correct=vote_correct,
        vote_share=share,
    )


def _ood_sets(ood, problems: Sequence[Problem], seed: int) -> dict[str, list[Problem]]:
    """OOD problems by family: a given mapping, or generated per lab task (as many as in-distribution)."""
    if ood is None:
        return {}
    if isinstance(ood, Mapping):
        return {str(f): list(ps) for f, ps in ood.items() if len(ps)}
    if isinstance(ood, str):
        raise TypeError(
            f"ood must be a mapping family -> problems or a list of lab task names; got the string {ood!r}"
        )
    sets: dict[str, list[Problem]] = {}
    for task in ood:
        n = sum(p.source == f"lab/{task}" for p in problems)
        if n == 0:
            raise ValueError(
                f"OOD task {task!r} has no in-distribution problems (source 'lab/{task}') to compare with"
            )
        for family in families_for(task):
            sets.setdefault(family, []).extend(ood_problems(task, family, n, seed))
    return sets


def _model_name(model) -> str:
    """A Hub id as is, a local folder by its last part (``lab-teacher``), else the class name."""
    name = str(getattr(model.config, "name_or_path", "") or type(model).__name__)
    return Path(name).name if os.path.isabs(name) else name


def _unpack(pair, role: str):
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise ValueError(f"{role} must be a (model, tokenizer) tuple; got {type(pair).__name__}")
    return pair


def evaluate_reasoning_quality(
    student,
    teacher,
    problems: Sequence[Problem],
    *,
    ood: Mapping[str, Sequence[Problem]] | Sequence[str] | None = None,
    k: int = 1,
    temperature: float | None = None,
    top_p: float = 1.0,
    max_new_tokens: int | None = None,
    batch_size: int = 32,
    chat: bool | None = None,
    cache_path: str | os.PathLike | None = None,
    embedder: Embedder | bool | None = None,
    n_boot: int = 1000,
    n_bins: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> EvalReport:
    """Evaluate a student (and its teacher) on problems and their OOD variants.

    Args:
        student: ``(model, tokenizer)`` of the model under test (lab or hub).
        teacher: ``(model, tokenizer)`` of the teacher, or None (chains are then compared with the
            problems' reference chains, and agreement is not measured).
        problems: in-distribution problems.
        ood: OOD problems by perturbation family, or lab task names (e.g. ``["arith"]``) to generate every
            OOD family that applies to each (``course_lib.data.ood.families_for``), as many per task as ``problems`` has.
        k: samples per problem (k > 1 adds pass@k, majority vote and self-consistency calibration).
        temperature: sampling temperature; default 0 (greedy) for k = 1 and 0.8 for k > 1.
        top_p: nucleus mass when sampling.
        max_new_tokens: generation budget; default the active profile's.
        batch_size: sequences per forward pass.
        chat: render prompts with the chat template; default True under the hub profile.
        cache_path: JSON file of generations to reuse and extend (keyed by model fingerprint, settings, problem).
        embedder: sentence embedder for chain cosine; None loads the shipped MiniLM, False skips the measure.
        n_boot: bootstrap resamples per interval.
        n_bins: calibration bins.
        seed: generation and bootstrap seed.
        progress: show progress bars.

    Returns:
        :class:`EvalReport` (``print(report)`` shows the tables).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    if not problems:
        raise ValueError("problems is empty; pass at least one in-distribution Problem")
    profile = active_profile()
    temperature = (0.0 if k == 1 else 0.8) if temperature is None else float(temperature)
    if k > 1 and temperature == 0:
        raise ValueError("k > 1 with temperature 0 gives k identical greedy samples; set temperature > 0")
    settings = {
        "k": k,
        "temperature": temperature,
        "top_p": top_p,
        "seed": seed,
        "max_new_tokens": int(max_new_tokens or profile.max_new_tokens),
        "chat": bool(profile.name == "hub" if chat is None else chat),
    }
    s_model, s_tok = _unpack(student, "student")
    t_model, t_tok = _unpack(teacher, "teacher") if teacher is not None else (None, None)

    splits = {IN_DISTRIBUTION: list(problems), **_ood_sets(ood, problems, seed)}
    flat = [(split, p) for split, ps in splits.items() for p in ps]
    all_problems = [p for _, p in flat]

    path = Path(cache_path) if cache_path is not None else None
    cache = _load_cache(path)
    s_gens, changed = cached_generate(
        s_model, s_tok, all_problems, cache=cache, settings=settings, batch_size=batch_size, progress=progress
    )
    t_gens = [None] * len(flat)
    if t_model is not None:
        t_gens, t_changed = cached_generate(
            t_model,
            t_tok,
            all_problems,
            cache=cache,
            settings=settings,
            batch_size=batch_size,
            progress=progress,
        )
        changed = changed or t_changed
    if path is not None and changed:
        _save_cache(path, cache)

    records = []
    for (split, p), sg, tg in zip(flat, s_gens, t_gens):
        s_out = score_samples(p, sg, s_tok)
        t_out = score_samples(p, tg, t_tok) if tg is not None else None
        agree = None
        if t_out is not None:
            agree = (
                s_out.prediction is not None
                and t_out.prediction is not None
                and same_answer(p, t_out.prediction, s_out.prediction)
            )
        records.append(
            ProblemRecord(
                id=p.id,
                source=p.source,
                domain=p.domain,
                difficulty=int(p.difficulty),
                split=split,
                student=s_out,
                teacher=t_out,
                agree=agree,
            )
        )

    reference = [
        extract_chain(r.teacher.texts[0]) if r.teacher else p.chain for r, (_, p) in zip(records, flat)
    ]
    pairs = [
        (i, extract_chain(r.student.texts[0]), ref)
        for i, (r, ref) in enumerate(zip(records, reference))
        if ref is not None
    ]
    if pairs:
        emb = None if embedder is False else (default_embedder() if embedder in (None, True) else embedder)
        sims = chain_similarity([s for _, s, _ in pairs], [t for _, _, t in pairs], embedder=emb)
        for j, (i, _, _) in enumerate(pairs):
            for measure, values in sims.items():
                setattr(records[i], measure, values[j])

    config = {
        **settings,
        "student": _model_name(s_model),
        "teacher": _model_name(t_model) if t_model is not None else None,
        "chain_reference": "teacher" if t_model is not None else "reference chain",
        "profile": profile.name,
        "n_boot": n_boot,
        "n_bins": n_bins,
        "splits": {s: len(ps) for s, ps in splits.items()},
    }
    metrics = summarize(records, n_boot=n_boot, seed=seed, n_bins=n_bins)
    return EvalReport(config=config, records=records, metrics=metrics)
