"""lowbit_ref.widgets.checkpoint: lesson 05's two plots and the width explorer (save_model and load_model,
which the explorer calls, are tested in test_checkpoint.py)."""

import ipywidgets as W
import matplotlib.pyplot as plt
import pytest
import torch
from IPython.display import HTML
from matplotlib.figure import Figure
from torch import nn

from lowbit_ref import LowbitError, checkpoint
from lowbit_ref.widgets.checkpoint import (
    WIDTH_COLOURS,
    accuracy_by_bits,
    accuracy_size_plot,
    bits_accuracy_view,
    layer_sizes_plot,
    plan_explorer,
)


def small_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))


def test_layer_sizes_plot_draws_float32_outlines_stored_bars_and_the_header(tmp_path):
    net = small_net()
    path = tmp_path / "net.safetensors"
    checkpoint.save_model(net, {"0.weight": 4, "2.weight": "ternary"}, path)
    report = checkpoint.size_report(path)
    before = plt.get_fignums()
    fig = layer_sizes_plot(report)
    assert isinstance(fig, Figure) and plt.get_fignums() == before  # closed: shown once, by display
    (ax,) = fig.axes
    widths = [round(p.get_width()) for p in ax.patches]
    rows = report.rows
    header = report.file_bytes - report.stored_bytes
    # float32 outlines, then the stored bars, then the header
    assert widths == [r.fp32_bytes for r in rows] + [r.stored_bytes for r in rows] + [header]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.weight", "0.bias", "2.weight", "2.bias", "header"]
    stored = ax.patches[len(rows): 2 * len(rows)]
    assert stored[0].get_facecolor() == plt.matplotlib.colors.to_rgba(WIDTH_COLOURS[4])
    assert stored[2].get_facecolor() == plt.matplotlib.colors.to_rgba(WIDTH_COLOURS[1.6])  # base-3 trits
    assert f"{report.compression:.2f}x smaller" in ax.get_title()
    texts = [t.get_text() for t in ax.texts]
    assert "4-bit: 72 B (float32 384 B)" in texts  # 8 rows x 6 bytes of codes + 8 x (2 + 1): float16 scale, zero point
    assert f"names, layout, checksums: {header:,} B" in texts
    with pytest.raises(LowbitError, match="report must be a SizeReport"):
        layer_sizes_plot({"w": torch.zeros(2)})


def test_layer_sizes_plot_of_a_state_dict_has_no_header_bar():
    report = checkpoint.size_report({"w": checkpoint.quantize_uint(torch.ones(4, 8), 2, group_size=8)})
    fig = layer_sizes_plot(report, title="just codes")
    (ax,) = fig.axes
    assert len(ax.patches) == 2 and ax.get_title() == "just codes"


def test_accuracy_size_plot_places_every_plan_and_the_baseline():
    results = [("8 bits", 21_458, 0.975), ("2 bits", 8_682, 0.9)]
    before = plt.get_fignums()
    fig = accuracy_size_plot(results, baseline=(70_552, 0.975))
    assert plt.get_fignums() == before
    (ax,) = fig.axes
    points = [tuple(c.get_offsets()[0]) for c in ax.collections]
    assert points == [(70.552, 97.5), (21.458, 97.5), (8.682, 90.0)]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["float32: 70.6 kB, 97.5 %", "8 bits: 21.5 kB, 97.5 %", "2 bits: 8.7 kB, 90.0 %"]
    assert ax.get_xscale() == "log" and ax.get_lines()[0].get_ydata()[0] == 97.5
    with pytest.raises(LowbitError, match="results must be a non-empty list"):
        accuracy_size_plot([], baseline=(1, 1.0))
    with pytest.raises(LowbitError, match="baseline must be"):
        accuracy_size_plot(results, baseline=(1,))


def data(net, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g)
    with torch.no_grad():
        return x, net(x).argmax(dim=1)  # labels the float model gets all right


def test_plan_explorer_redraws_size_and_accuracy_for_each_width():
    net = small_net()
    x, y = data(net)
    box = plan_explorer(net, x, y, plan={"0.weight": 8})
    pickers, image, out = box.children[0].children, box.children[1], box.children[2]
    assert [p.description for p in pickers] == ["0.weight", "2.weight"]
    assert [p.value for p in pickers] == [8, 4]  # weights the plan leaves out start at 4 bits
    assert "(float32: 100.0 %)" in out.value and image.value[:4] == b"\x89PNG"
    first = out.value
    pickers[1].value = "fp32"
    assert out.value != first and "2.weight: fp32" in out.value
    pickers[0].value = 1
    assert "0.weight: 1" in out.value
    assert list(net.state_dict()["0.weight"].shape) == [8, 12]  # the explorer works on copies


def test_plan_explorer_is_static_while_nbgrader_executes(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    net = small_net()
    x, y = data(net)
    view = plan_explorer(net, x, y)
    assert isinstance(view, HTML) and not isinstance(view, W.Widget)
    assert "data:image/png;base64," in view.data and "0.weight: 4, 2.weight: 4" in view.data


def test_plan_explorer_refuses_models_and_plans_it_cannot_show():
    net = small_net()
    x, y = data(net)
    with pytest.raises(LowbitError, match="bits_per_layer names"):
        plan_explorer(net, x, y, plan={"3.weight": 4})
    with pytest.raises(LowbitError, match=r"bits_per_layer\['0.weight'\] must be one of"):
        plan_explorer(net, x, y, plan={"0.weight": 9})
    with pytest.raises(LowbitError, match="plan must be a dict"):
        plan_explorer(net, x, y, plan=[4, 4])
    with pytest.raises(LowbitError, match="at least one 2-D weight matrix"):
        plan_explorer(nn.ReLU(), x, y)


def test_every_width_the_explorer_offers_is_drawn_and_stored_at_that_width(tmp_path, monkeypatch):
    """Pick each width the dropdown offers: the explorer redraws without an error, and the file it
    measured holds the weight at that width (codes at `bits`, base-3 trits, or float32)."""
    net = small_net()
    x, y = data(net)
    saved = []
    real_size_report = checkpoint.size_report

    def spy(path):  # the explorer's file, read back the way a user would
        saved.append(checkpoint.load(path)["0.weight"])
        return real_size_report(path)

    import lowbit_ref.widgets.checkpoint as explorer

    monkeypatch.setattr(explorer, "size_report", spy)
    box = plan_explorer(net, x, y, plan={"0.weight": 8})
    picker, out = box.children[0].children[0], box.children[2]
    offered = list(picker.options)
    assert set(offered) >= {8, 4, 2, 1, "ternary", "fp32"}
    for width in offered:
        if width == picker.value:
            continue
        picker.value = width
        assert f"0.weight: {width}" in out.value
        stored = saved[-1]
        if width == "fp32":
            assert isinstance(stored, torch.Tensor) and stored.dtype == torch.float32
        elif width == "ternary":
            assert stored.packed.scheme == "base3"
        else:
            assert (stored.packed.scheme, stored.packed.bits) == ("uint", width)


def test_accuracy_by_bits_is_the_accuracy_of_the_dequantized_model():
    net = small_net()
    x, y = data(net)
    curves = accuracy_by_bits(net, x, y)
    assert list(curves) == ["per tensor", "per output row", "groups of 16"]
    assert all(len(c) == 8 for c in curves.values())
    # by hand: 3 bits per output row
    w0, w2 = net[0].weight.detach(), net[2].weight.detach()
    hand = small_net()
    with torch.no_grad():
        hand[0].weight.copy_(checkpoint.dequantize(checkpoint.quantize_uint(w0, 3, group_size=12)))
        hand[2].weight.copy_(checkpoint.dequantize(checkpoint.quantize_uint(w2, 3, group_size=8)))
        want = (hand(x).argmax(1) == y).float().mean().item()
    assert curves["per output row"][2] == pytest.approx(want)
    assert curves["per tensor"][7] == pytest.approx(1.0)  # 8 bits keeps the labels the float net gives
    sym = accuracy_by_bits(net, x, y, symmetric=True)
    assert sym["per tensor"][0] != sym["per tensor"][0]  # NaN: no symmetric 1-bit code


def test_bits_accuracy_view_redraws_and_is_static_while_grading(monkeypatch):
    net = small_net()
    x, y = data(net)
    box = bits_accuracy_view(net, x, y, bits=4)
    slider, choice = box.children[0].children
    out = box.children[2]
    assert "4 bits" in out.value and "per output row" in out.value
    slider.value = 2
    assert "2 bits" in out.value
    choice.value = "per tensor"
    assert "per tensor" in out.value
    with pytest.raises(LowbitError, match=r"bits must be an int in 1\.\.8, got 9"):
        bits_accuracy_view(net, x, y, bits=9)
    with pytest.raises(LowbitError, match=r"granularity must be one of"):
        bits_accuracy_view(net, x, y, granularity="per byte")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    view = bits_accuracy_view(net, x, y)
    assert isinstance(view, HTML) and "data:image/png;base64," in view.data
