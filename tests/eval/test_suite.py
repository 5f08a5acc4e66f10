"""evaluate_reasoning_quality end to end: tiny random models for the plumbing, scripted generations for the numbers."""

import types

import numpy as np
import pytest

from course_lib.data.schema import Problem, format_completion
from course_lib.eval import suite
from course_lib.eval.suite import EvalReport, evaluate_reasoning_quality
from course_lib.models.generate import Generation
from course_lib.models.tiny import build_tiny_model


class StubEmbedder:
    def encode(self, sentences):
        return np.array([[len(s) + 1.0, s.count("=") + 1.0] for s in sentences])


def make_problems(n=6, domain="math", source="lab/arith", prefix="p"):
    out = []
    for i in range(n):
        a, b = 10 + i, i + 1
        steps = 1 + i % 3
        out.append(
            Problem(
                id=f"{prefix}{i}",
                source=source,
                domain=domain,
                prompt=f"{a}+{b}=? ({prefix})",
                answer=str(a + b),
                answer_type="numeric",
                chain=f"{a}+{b}={a + b}.",
                difficulty=steps,
            )
        )
    return out


def test_end_to_end_on_tiny_random_models(tmp_path):
    student = build_tiny_model("tiny-250k", seed=0)
    teacher = build_tiny_model("tiny-250k", seed=1)
    problems = make_problems(4) + make_problems(2, domain="logic", source="lab/order", prefix="q")
    ood = {"bigger_numbers": make_problems(3, prefix="big")}
    cache = tmp_path / "gens.json"
    kw = {
        "ood": ood,
        "max_new_tokens": 8,
        "batch_size": 4,
        "cache_path": cache,
        "embedder": StubEmbedder(),
        "n_boot": 200,
        "progress": False,
    }
    report = evaluate_reasoning_quality(student, teacher, problems, **kw)
    assert len(report.records) == 9 and report.splits == ["in_distribution", "bigger_numbers"]
    overall = report.metrics["in_distribution"]["overall"]
    assert overall["n"] == 6 and set(report.metrics["in_distribution"]["by_domain"]) == {"math", "logic"}
    acc = overall["student"]["accuracy"]
    assert acc["low"] <= acc["value"] <= acc["high"]
    assert all(0 <= r.rouge_l <= 1 and 0 <= r.step_alignment <= 1 for r in report.records)
    assert all(n <= 8 for r in report.records for n in r.student.num_tokens + r.teacher.num_tokens)
    assert cache.exists()
    # second run: everything comes from the cache (generation would fail if called)
    original = suite.generate
    suite.generate = lambda *a, **k: pytest.fail("generation should have been served from the cache")
    try:
        again = evaluate_reasoning_quality(student, teacher, problems, **kw)
    finally:
        suite.generate = original
    assert [r.student.texts for r in again.records] == [r.student.texts for r in report.records]
    assert EvalReport.from_json(report.to_json()) == report
    path = tmp_path / "report.json"
    report.to_json(path)
    assert EvalReport.from_json(path) == report
    assert "Accuracy (in distribution" in report.summary_table()


def scripted_generate(outputs):
    """A stand-in for models.generate that returns given completions per prompt (chars as tokens)."""

    def fake(model, tok, problems, *, num_samples, **kw):
        res = []
        for p in problems:
            texts = outputs[(model, p.id)]
            assert len(texts) == num_samples
            res.append(
                [
                    Generation(
                        prompt=p.prompt,
                        text=t,
                        token_ids=list(range(len(t))),
                        logprobs=[np.log(0.9)] * len(t),
                    )
                    for t in texts
                ]
            )
        return res

    return fake


class CharTok:
    def decode(self, ids, skip_special_tokens=True):
        return "x" * len(ids)


def test_metrics_from_scripted_generations(monkeypatch):
    problems = make_problems(4)
    s_model, t_model = types.SimpleNamespace(name="s"), types.SimpleNamespace(name="t")
    gold = {p.id: p.answer for p in problems}
    right = lambda p: format_completion(p.chain, gold[p.id])
    wrong = lambda p: format_completion("1+1=3.", "999")
    outputs = {}
    for i, p in enumerate(problems):
        # student: right, right, wrong x2 on the first two problems (vote right), all wrong on the others
        outputs[("s", p.id)] = [right(p), right(p), wrong(p)] if i < 2 else [wrong(p)] * 3
        # teacher: always right (identical chains to the student's right answers)
        outputs[("t", p.id)] = [right(p)] * 3
    monkeypatch.setattr(suite, "generate", lambda m, *a, **k: scripted_generate(outputs)(m.name, *a, **k))
    monkeypatch.setattr(suite, "model_fingerprint", lambda m: m.name)
    monkeypatch.setattr(suite, "_model_name", lambda m: m.name)
    report = evaluate_reasoning_quality(
        (s_model, CharTok()),
        (t_model, CharTok()),
        problems,
        k=3,
        temperature=1.0,
        embedder=False,
        n_boot=200,
        progress=False,
    )
    g = report.metrics["in_distribution"]["overall"]
    assert g["student"]["accuracy"]["value"] == pytest.approx((2 / 3 + 2 / 3) / 4)
    assert g["student"]["maj@3"]["value"] == pytest.approx(0.5)
    assert g["student"]["pass@3"]["value"] == pytest.approx(0.5)
    assert g["teacher"]["accuracy"]["value"] == 1.0
    assert g["agreement"]["value"] == pytest.approx(0.5)
    assert g["student_accuracy_teacher_right"]["value"] == pytest.approx(1 / 3)
    assert g["student_accuracy_teacher_wrong"] is None
    assert [r.rouge_l for r in report.records][:2] == [1.0, 1.0]
    assert report.records[0].embedding_cosine is None
    # self-consistency: vote shares 2/3, 2/3, 1, 1 against correctness 1, 1, 0, 0
    conf, correct = report.calibration_data(method="self_consistency")
    assert conf.tolist() == pytest.approx([2 / 3, 2 / 3, 1, 1]) and correct.tolist() == [
        True,
        True,
        False,
        False,
    ]
    sc = g["student"]["calibration"]["self_consistency"]
    assert sc["brier"] == pytest.approx((2 * (1 / 3) ** 2 + 2 * 1.0) / 4)
    # answer-token confidence: every answer token has p = 0.9; answers have 2 or 3 chars
    conf, correct = report.calibration_data(method="answer_prob")
    assert sorted(set(np.round(conf, 6))) == pytest.approx([0.9**3, 0.9**2])
    by_steps = report.metrics["by_steps"]
    assert [row["steps"] for row in by_steps] == [1, 2, 3] and by_steps[0]["n"] == 2


def test_bad_arguments_raise():
    problems = make_problems(1)
    model = build_tiny_model("tiny-250k")
    with pytest.raises(ValueError, match="tuple"):
        evaluate_reasoning_quality(model[0], None, problems, progress=False)
    with pytest.raises(ValueError, match="temperature"):
        evaluate_reasoning_quality(model, None, problems, k=2, temperature=0, progress=False)
    with pytest.raises(ValueError, match="empty"):
        evaluate_reasoning_quality(model, None, [], progress=False)


def test_ood_sets_generated_from_lab_tasks():
    from course_lib.data.ood import families_for
    from course_lib.data.tasks import make_problems

    problems = make_problems("arith", 2, seed=0, split="test") + make_problems(
        "order", 1, seed=0, split="test"
    )
    report = evaluate_reasoning_quality(
        build_tiny_model("tiny-250k"),
        None,
        problems,
        ood=["arith", "order"],
        max_new_tokens=4,
        embedder=False,
        n_boot=50,
        progress=False,
    )
    sizes = report.config["splits"]
    assert sizes["in_distribution"] == 3
    for family in families_for("arith"):
        assert sizes[family] == 2 + (family in families_for("order"))
    assert "bigger_numbers" not in families_for("order") and sizes["bigger_numbers"] == 2
    assert report.metrics["ood"]["bigger_numbers"]["baseline"]["teacher"] is None
    assert report.config["chain_reference"] == "reference chain" and report.records[0].rouge_l is not None
    with pytest.raises(ValueError, match="no in-distribution problems"):
        evaluate_reasoning_quality(
            build_tiny_model("tiny-250k"), None, problems, ood=["linear"], progress=False
        )


def test_chat_template_follows_the_hub_profile(monkeypatch):
    from course_lib import profiles

    seen = {}

    def spy(model, tok, problems, **kw):
        seen["chat"] = kw["chat"]
        return original(model, tok, problems, **kw)

    original = suite.generate
    monkeypatch.setattr(suite, "generate", spy)
    model = build_tiny_model("tiny-250k")
    monkeypatch.setattr(profiles, "_active", profiles.get_profile("hub", smoke=True))
    report = evaluate_reasoning_quality(
        model, None, make_problems(1), max_new_tokens=4, embedder=False, progress=False
    )
    assert seen["chat"] is True and report.config["chat"] is True and report.config["profile"] == "hub"
    monkeypatch.setattr(profiles, "_active", profiles.get_profile("lab", smoke=True))
    report = evaluate_reasoning_quality(model, None, make_problems(1), progress=False, embedder=False)
    assert seen["chat"] is False and report.config["chat"] is False
    assert report.config["max_new_tokens"] == profiles.get_profile("lab").max_new_tokens
