"""lowbit_ref.widgets.kernels: lesson 06's roofline, time-per-token bars and bandwidth plot."""

import doctest
import re

import ipywidgets as W
import matplotlib.pyplot as plt
import pytest
from IPython.display import HTML
from matplotlib.figure import Figure

from lowbit_ref.errors import LowbitError
from lowbit_ref.widgets import kernels as roofline
from lowbit_ref.widgets.kernels import bandwidth_plot, roofline_plot, token_time_explorer, token_time_html

FORMATS = {"fp16": 2.0, "int4": 0.5, "2-bit": 0.25, "base-3": 0.2}


def test_docstring_examples_run():
    result = doctest.testmod(roofline, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0


def test_roofline_puts_each_format_at_two_flops_per_weight_under_the_memory_roof():
    before = plt.get_fignums()
    fig = roofline_plot(FORMATS, peak_flops=1000e12, bandwidth=4e12, device="test GPU")
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    points = {line.get_label().split(":")[0]: (line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines() if line.get_marker() == "o"}
    # intensity = 2 / bytes per weight; attainable = intensity * bandwidth (all far left of the ridge)
    assert points == {"fp16": (1.0, 4.0), "int4": (4.0, 16.0), "2-bit": (8.0, 32.0), "base-3": (10.0, 40.0)}
    roof = ax.get_lines()[0]
    xs, ys = roof.get_xdata(), roof.get_ydata()
    assert max(ys) == pytest.approx(1000.0) and min(xs) <= 0.25 and max(xs) >= 8 * 250
    assert any(line.get_xdata()[0] == pytest.approx(250.0) for line in ax.get_lines()[1:2])  # the ridge
    assert any("ridge: 250 flop/byte" in t.get_text() for t in ax.texts)
    assert "test GPU: 4 TB/s, 1,000 TFLOP/s" in ax.get_title()
    assert "2-bit: 8 flop/B -> 32.0 TFLOP/s" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_roofline_caps_a_point_past_the_ridge_at_the_peak():
    fig = roofline_plot({"dense": 0.001}, peak_flops=100e12, bandwidth=1e12)  # 2000 flop/B > ridge 100
    (point,) = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    assert point.get_xdata()[0] == pytest.approx(2000.0) and point.get_ydata()[0] == pytest.approx(100.0)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({}, "bytes_per_weight must be a non-empty dict"),
        ({"fp16": 0}, r"bytes_per_weight\['fp16'\] must be a positive number, got 0"),
        ({"x": -1.0}, "must be a positive number, got -1.0"),
        ({"x": "2"}, "must be a positive number, got '2'"),
        ({"x": float("nan")}, "must be a positive number, got nan"),
        ([("fp16", 2)], "non-empty dict"),
    ],
)
def test_formats_are_checked(bad, match):
    with pytest.raises(LowbitError, match=match):
        roofline_plot(bad)
    with pytest.raises(LowbitError, match=match):
        token_time_html(bad, 7e9, 3.35e12)


def test_roofline_checks_peak_and_bandwidth():
    with pytest.raises(LowbitError, match="bandwidth must be a positive number, got 0"):
        roofline_plot(FORMATS, bandwidth=0)
    with pytest.raises(LowbitError, match="peak_flops must be a positive number, got True"):
        roofline_plot(FORMATS, peak_flops=True)


def test_token_time_is_bytes_over_bandwidth():
    page = token_time_html(FORMATS, 7e9, 3.35e12)
    # 7e9 weights x 2 B = 14 GB at 3.35 TB/s: 4.18 ms per token, at most 239 tokens/s
    assert "14.00 GB, <b>4.18 ms</b> per token, &le; 239 tokens/s" in page
    assert "0.25 B/weight, 1.75 GB, <b>0.52 ms</b> per token, &le; 1,914 tokens/s" in page
    assert "0.2 B/weight, 1.40 GB, <b>0.42 ms</b> per token" in page
    widths = [float(w) for w in re.findall(r"width:([\d.]+)%", page)]
    assert widths == [100.0, 25.0, 12.5, 10.0]  # bars in proportion to the bytes
    assert "7 billion weights read once per token at 3.35 TB/s" in page


def test_token_time_escapes_labels_and_checks_sizes():
    assert "a&lt;b" in token_time_html({"a<b": 1.0}, 1e9, 1e12)
    with pytest.raises(LowbitError, match="n_weights must be a positive number, got 0"):
        token_time_html(FORMATS, 0, 1e12)
    with pytest.raises(LowbitError, match="bandwidth must be a positive number, got -1"):
        token_time_html(FORMATS, 1e9, -1)


def test_token_time_explorer_redraws_on_both_controls():
    box = token_time_explorer(FORMATS, n_weights=7e9, bandwidth=3.35e12)
    assert isinstance(box, W.VBox)
    (size, memory), out = box.children[0].children, box.children[1]
    assert size.value == 7.0 and memory.value == 3.35e12 and memory.label == "H100 SXM (3.35 TB/s)"
    assert "<b>4.18 ms</b>" in out.value and "7 billion" in out.value
    size.value = 70.0
    assert "<b>41.79 ms</b>" in out.value and "70 billion" in out.value
    memory.label = "laptop, DDR5 (0.1 TB/s)"  # 70e9 * 2 B / 0.1 TB/s = 1.4 s
    assert "<b>1,400.00 ms</b>" in out.value and "at 0.1 TB/s" in out.value


def test_token_time_explorer_offers_the_sizes_it_was_given():
    box = token_time_explorer(FORMATS, n_weights=2.5e9, bandwidth=0.25e12)
    (size, memory), out = box.children[0].children, box.children[1]
    assert size.value == 2.5 and size.label == "2.5" and memory.label == "0.25 TB/s"
    assert "2.5 billion weights read once per token at 0.25 TB/s" in out.value


def test_token_time_explorer_is_static_while_nbgrader_executes(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    view = token_time_explorer(FORMATS)
    assert isinstance(view, HTML) and not isinstance(view, W.Widget)
    assert "<b>4.18 ms</b>" in view.data


def test_bandwidth_plot_draws_gb_per_s_and_the_spec_line():
    before = plt.get_fignums()
    fig = bandwidth_plot(
        {"copy": ([1e6, 1e9], [1e-5, 5e-4]), "kernel": ([2e6], [1e-4])}, bandwidth=3.35e12, bandwidth_label="spec", title="T"
    )
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["copy", "kernel", "spec: 3.35 TB/s"]
    assert list(lines[0].get_ydata()) == pytest.approx([100.0, 2000.0])
    assert list(lines[1].get_ydata()) == pytest.approx([20.0])
    assert list(lines[2].get_ydata()) == pytest.approx([3350.0, 3350.0])
    assert ax.get_xscale() == "log" and ax.get_title() == "T" and ax.get_ylim()[0] == 0


def test_bandwidth_plot_without_a_spec_line():
    ax = bandwidth_plot({"copy": ([1e6], [1e-5])}).axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["copy"]


@pytest.mark.parametrize(
    "series, match",
    [
        ({}, "series must be a non-empty dict"),
        ({"copy": ([1, 2], [1.0])}, "series 'copy': 2 sizes but 1 timings"),
        ({"copy": ([], [])}, "series 'copy': 0 sizes but 0 timings"),
        ({"copy": ([1e6], [0.0])}, "series 'copy': seconds must be a positive number, got 0.0"),
        ({"copy": ([-5], [1.0])}, "series 'copy': bytes_moved must be a positive number, got -5"),
    ],
)
def test_bandwidth_plot_checks_its_series(series, match):
    with pytest.raises(LowbitError, match=match):
        bandwidth_plot(series)


def test_device_peaks_knows_a_few_gpus_and_says_none_otherwise():
    from lowbit_ref.widgets.kernels import device_peaks

    assert device_peaks("NVIDIA H200")["bandwidth"] == 4.8e12
    assert device_peaks("NVIDIA H100 80GB HBM3")["label"] == "H100 SXM"
    assert device_peaks("NVIDIA H100 PCIe")["label"] == "H100 PCIe"  # the longer fragment wins
    assert device_peaks("NVIDIA A100-SXM4-80GB")["fp32_flops"] == 19.5e12
    assert device_peaks("Imaginary GPU 9000") is None
    with pytest.raises(LowbitError, match="name must be a device name"):
        device_peaks(None)


def test_roofline_draws_the_cuda_core_roof_and_caps_points_by_it():
    fig = roofline_plot({"dense": 0.001}, peak_flops=100e12, bandwidth=1e12, core_flops=10e12)
    ax = fig.axes[0]
    (point,) = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert point.get_ydata()[0] == pytest.approx(10.0)  # a matvec runs on the CUDA cores
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and max(dashed[0].get_ydata()) == pytest.approx(10.0)
    assert any("CUDA-core ridge: 10 flop/byte" in t.get_text() for t in ax.texts)
    assert "100 TFLOP/s tensor, 10 FP32" in ax.get_title()
