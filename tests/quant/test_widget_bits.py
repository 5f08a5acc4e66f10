"""The bit-width widget draws what the quantizer functions compute, and takes bad settings gracefully."""

import pytest

from course_lib.quant.quantizers import QuantSpec, grid_levels, quant_error
from course_lib.widgets.bits import bits_widget, layer_weight, render_bits

LAYER = "model.layers.1.mlp.down_proj"


def test_render_bits_reports_the_quantizer_error_and_draws_its_levels(teacher_and_tokenizer):
    model, _ = teacher_and_tokenizer
    w = layer_weight(model, LAYER)
    spec = QuantSpec(3, "asymmetric", "group", 32)
    fig, err = render_bits(w, spec, layer=LAYER, group=5)
    assert err == quant_error(w, spec)
    assert len(fig.axes) == 3
    drawn = sorted(line.get_xdata()[0] for line in fig.axes[1].lines)
    assert drawn == pytest.approx(sorted(grid_levels(w, spec, 5).tolist()))
    sqnr_line = fig.axes[2].lines[0]
    assert list(sqnr_line.get_xdata()) == list(range(2, 9))
    assert sqnr_line.get_ydata()[1] == pytest.approx(err.sqnr_db)
    assert f"SQNR={err.sqnr_db:.1f} dB" in fig._suptitle.get_text()


def test_accuracy_curves_get_their_own_panel(teacher_and_tokenizer):
    w = layer_weight(teacher_and_tokenizer[0], LAYER)
    curves = {"PTQ": {32: 0.9, 8: 0.9, 4: 0.6, 2: 0.0}, "QAD": {32: 0.9, 8: 0.9, 4: 0.8, 2: 0.3}}
    fig, _ = render_bits(w, QuantSpec(4, "nf", "channel"), accuracy_curves=curves)
    assert len(fig.axes) == 4
    ptq_line = fig.axes[3].lines[0]
    assert list(ptq_line.get_xdata()) == [2, 4, 8] and list(ptq_line.get_ydata()) == [0.0, 0.6, 0.9]


def test_widget_redraws_and_prints_errors(teacher_and_tokenizer, capsys):
    model, _ = teacher_and_tokenizer
    box = bits_widget(model, layer=LAYER)
    layer, bits, scheme = box.children[0].children
    _granularity, group_size = box.children[1].children
    bits.value = 2
    scheme.value = "nf"
    group_size.value = 128  # down_proj has 256 inputs: fine
    layer.value = "model.layers.0.self_attn.q_proj"  # 64 inputs: 128 does not divide them
    # outside a kernel the Output widget passes prints through to stdout
    printed = capsys.readouterr().out
    assert printed.count("Figure(") == 4
    assert "group_size 128 does not divide the last dimension 64" in printed
    with pytest.raises(ValueError, match="no linear layer named 'nope'"):
        layer_weight(model, "nope")
