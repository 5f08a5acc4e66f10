"""PTQ vs QAD across bit widths: the experiment's rows, table and plot on tiny stand-ins."""

import pytest

from course_lib.quant.experiment import FULL_PRECISION, ptq_vs_qad


def scorer(problem, text):
    return text.startswith("<think>") and f"<answer>{problem.answer}</answer>" in text, None


@pytest.fixture(scope="module")
def experiment(teacher_and_tokenizer, problems):
    import copy

    teacher, tok = teacher_and_tokenizer
    evals = {"in-distribution": problems["test"][:6], "OOD": problems["test"][6:10]}
    return ptq_vs_qad(teacher, copy.deepcopy(teacher), tok, problems["train"], evals, bits=(4, 2), scorer=scorer,
                      max_new_tokens=24, steps=8, lr={4: 1e-4, 2: 1e-3}, batch_size=16, progress=False)


def test_rows_cover_every_method_and_bit_width(experiment):
    assert [(r["method"], r["bits"]) for r in experiment.rows] == [
        ("fp32", FULL_PRECISION), ("PTQ", 4), ("QAD", 4), ("PTQ", 2), ("QAD", 2)]
    assert experiment.splits == ["in-distribution", "OOD"]
    assert experiment.row("fp32", FULL_PRECISION)["kl"] < 1e-9  # the student is the teacher's copy
    assert experiment.row("PTQ", 2)["kl"] > experiment.row("PTQ", 4)["kl"] > 0
    assert experiment.row("QAD", 2)["kl"] < experiment.row("PTQ", 2)["kl"]
    assert set(experiment.records) == {4, 2} and experiment.records[2].config["steps"] == 8
    assert experiment.records[4].config["lr"] == 1e-4 and experiment.records[2].config["lr"] == 1e-3
    assert experiment.config["eval_sizes"] == {"in-distribution": 6, "OOD": 4}
    assert set(experiment.accuracy_curve("OOD", "PTQ")) == {FULL_PRECISION, 4, 2}
    with pytest.raises(KeyError, match="no split 'test'"):
        experiment.accuracy_curve("test")


def test_table_and_plot_show_the_measured_numbers(experiment):
    table = experiment.table()
    assert len(table.splitlines()) == 6 and "acc OOD" in table and "fp32" in table
    assert f"{experiment.row('PTQ', 2)['kl']:.4f}" in table
    fig = experiment.plot()
    assert len(fig.axes) == 3 and fig.axes[-1].get_yscale() == "log"
    assert len(fig.axes[0].lines) == 3


def test_bad_bit_widths_fail_before_any_training(teacher_and_tokenizer, problems):
    teacher, tok = teacher_and_tokenizer
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 8; got 1"):
        ptq_vs_qad(teacher, teacher, tok, problems["train"], {"x": problems["test"]}, bits=(4, 1))
    with pytest.raises(ValueError, match="lr has no entry for 2 bits"):
        ptq_vs_qad(teacher, teacher, tok, problems["train"], {"x": problems["test"]}, bits=(4, 2), lr={4: 1e-4})
    with pytest.raises(ValueError, match="eval_sets must name"):
        ptq_vs_qad(teacher, teacher, tok, problems["train"], {})
